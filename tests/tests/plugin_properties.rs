//! No input makes either plugin trap. Every export of the WIT world gets
//! arbitrary well-typed records and arbitrary JSON through the Extism plugin,
//! and typed WIT records through the component: it answers with a result or
//! a plan-error, never a trap, and the answer is core's on the same input
//! read back from JSON (which is what both plugins do with their input).
//!
//! The records come from core's strategies (`core/tests/support/mod.rs`,
//! included by path). Each plugin is compiled once per run; every test
//! instantiates it afresh, and again after a trap, so one trap does not hide
//! the next. Needs `cargo run -p portplan-wasm-build` first (scripts/test runs it).

#![allow(clippy::unwrap_used)]

#[path = "../../core/tests/support/mod.rs"]
mod support;

use std::cell::RefCell;
use std::fmt::Debug;

use portplan_core::shell::parse_json;
use portplan_core::{self as model, PlanError};
use portplan_tests::component::{ComponentHost, Portplan, types as wit};
use portplan_tests::extism_plugin::ExtismHost;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::arb::{self, Ranges};
use wasmtime::Store;

/// Cases per property: every case is a call into a plugin.
const CASES: u32 = 64;

/// Runs `test` on `CASES` values of `strategy`, shrinking a failure to a
/// minimal input.
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

/// `value` written as JSON and read back as core reads every input: this is
/// what the Extism plugin does with its input and the component with its
/// typed records (it writes them as the contract's JSON).
fn reread<T: Serialize + DeserializeOwned + portplan_core::Decode>(
    value: &T,
) -> Result<T, PlanError> {
    parse_json(&serde_json::to_string(value).unwrap())
}

/// Core's rejection of parameter `name` with the paths both plugins write: a
/// plan's start at the plan (as `reread` gives them), any other parameter's
/// with its WIT name (`observation.listeners[0].port`, `rules[0].ports`).
fn at<T>(name: &str, answer: Result<T, PlanError>) -> Result<T, PlanError> {
    answer.map_err(|mut error| {
        for problem in &mut error.problems {
            problem.path = match problem.path.as_str() {
                "." => name.to_string(),
                inside if inside.starts_with('[') => format!("{name}{inside}"),
                inside => format!("{name}.{inside}"),
            };
        }
        error
    })
}

// The Extism plugin.

fn extism() -> ExtismHost {
    portplan_tests::built_extism()
}

/// Calls `function` with `input`. An answer must be JSON and a rejection
/// plan-error JSON with a problem; anything else (a trap) fails the case, and
/// the instance is replaced.
fn call_extism(
    host: &RefCell<ExtismHost>,
    function: &str,
    input: &str,
) -> Result<Result<String, PlanError>, TestCaseError> {
    let answer = host.borrow_mut().call(function, input);
    match answer {
        Ok(output) => match serde_json::from_str::<Value>(&output) {
            Ok(_) => Ok(Ok(output)),
            Err(e) => Err(TestCaseError::fail(format!(
                "{function} answered with something not JSON ({e}): {output}"
            ))),
        },
        Err(message) => match serde_json::from_str::<PlanError>(&message) {
            Ok(error) if !error.problems.is_empty() => Ok(Err(error)),
            _ => {
                *host.borrow_mut() = extism();
                Err(TestCaseError::fail(format!(
                    "{function} failed without a plan-error: {message}"
                )))
            }
        },
    }
}

/// Core's answer as the Extism plugin writes it.
fn written<T: Serialize>(answer: Result<T, PlanError>) -> Result<String, PlanError> {
    answer.map(|value| serde_json::to_string(&value).unwrap())
}

/// Said when a plugin answers otherwise than core: the likeliest cause.
const STALE: &str = "(is dist/wasm built from this source? `cargo run -p portplan-wasm-build`)";

/// The plugin's answer and core's are the same answer, or both rejections.
fn agree(
    function: &str,
    plugin: Result<String, PlanError>,
    native: Result<String, PlanError>,
) -> Result<(), TestCaseError> {
    match (&plugin, &native) {
        (Ok(p), Ok(n)) => {
            prop_assert_eq!(p, n, "{} answers otherwise than core {}", function, STALE)
        }
        // The first problem is core's, path included (the plugin may name
        // more: it reads every parameter before core stops at the first).
        (Err(p), Err(n)) => prop_assert_eq!(
            p.problems.first(),
            n.problems.first(),
            "{} rejects otherwise than core {}",
            function,
            STALE
        ),
        _ => prop_assert!(
            false,
            "{function}: plugin {plugin:?}, core {native:?} {STALE}"
        ),
    }
    Ok(())
}

/// One export of the Extism plugin: the strategy of its arguments, its input
/// object, and core's answer on those arguments.
struct Export<V> {
    function: &'static str,
    args: BoxedStrategy<V>,
    input: fn(&V) -> Value,
    native: fn(&V) -> Result<String, PlanError>,
}

impl<V: Debug + Clone + 'static> Export<V> {
    /// Well-typed arguments: no trap, and core's answer.
    fn answers_as_core(self) {
        let host = RefCell::new(extism());
        check(self.args, |args| {
            let answer = call_extism(&host, self.function, &(self.input)(&args).to_string())?;
            agree(self.function, answer, (self.native)(&args))
        });
    }

    /// Any JSON text, and the input object edited: no trap.
    fn takes_any_json(self) {
        let host = RefCell::new(extism());
        let input = self.input;
        let text = prop_oneof![
            arb::json_text(),
            self.args
                .prop_flat_map(move |args| arb::edited_json(input(&args)))
                .prop_map(|value| value.to_string()),
        ];
        check(text, |text| {
            let _answer = call_extism(&host, self.function, &text)?;
            Ok(())
        });
    }
}

fn catalog_export() -> Export<()> {
    Export {
        function: "catalog",
        args: Just(()).boxed(),
        input: |()| json!({}),
        native: |()| written(Ok::<_, PlanError>(model::catalog())),
    }
}

fn get_profile_export() -> Export<String> {
    Export {
        function: "get-profile",
        args: arb::profile_name(),
        input: |name| json!({ "name": name }),
        native: |name| written(model::get_profile(name)),
    }
}

fn parse_plan_export() -> Export<String> {
    Export {
        function: "parse-plan",
        args: arb::json_text(),
        input: |text| json!({ "text": text }),
        native: |text| written(model::parse_plan(text)),
    }
}

fn validate_plan_export() -> Export<model::Plan> {
    Export {
        function: "validate-plan",
        args: arb::plan(Ranges::Any),
        input: |plan| json!({ "plan": plan }),
        native: |plan| written(reread(plan).and_then(|p| model::validate_plan(&p))),
    }
}

type CheckHostArgs = ((model::Plan, String), model::Phase, model::Observation);

fn check_host_export() -> Export<CheckHostArgs> {
    Export {
        function: "check-host",
        args: (
            arb::plan_and_host(Ranges::Any),
            arb::phase(),
            arb::observation(Ranges::Any),
        )
            .boxed(),
        input: |((plan, host), phase, observation)| json!({ "plan": plan, "host": host, "phase": phase, "observation": observation }),
        native: |((plan, host), phase, observation)| {
            written(reread(plan).and_then(|plan| {
                model::check_host(
                    &plan,
                    host,
                    *phase,
                    &at("observation", reread(observation))?,
                )
            }))
        },
    }
}

fn render_report_export() -> Export<(model::Report, model::ReportFormat)> {
    Export {
        function: "render-report",
        args: (arb::report(Ranges::Any), arb::report_format()).boxed(),
        input: |(report, format)| json!({ "report": report, "format": format }),
        native: |(report, format)| {
            written(at("report", reread(report)).map(|r| model::render_report(&r, *format)))
        },
    }
}

/// A report and a host: mostly one of its own, sometimes none or a stranger.
fn report_and_host() -> BoxedStrategy<(model::Report, Option<String>)> {
    (
        arb::report(Ranges::Any),
        any::<prop::sample::Index>(),
        0..4u8,
    )
        .prop_map(|(report, pick, how)| {
            let host = match (how, report.hosts.is_empty()) {
                (0, _) => None,
                (1, _) | (_, true) => Some("nobody".to_string()),
                _ => Some(report.hosts[pick.index(report.hosts.len())].host.clone()),
            };
            (report, host)
        })
        .boxed()
}

fn firewall_rules_export() -> Export<(model::Report, Option<String>)> {
    Export {
        function: "firewall-rules",
        args: report_and_host(),
        input: |(report, host)| json!({ "report": report, "host": host }),
        native: |(report, host)| {
            written(
                at("report", reread(report))
                    .and_then(|r| model::firewall_rules(&r, host.as_deref())),
            )
        },
    }
}

fn render_plan_error_export() -> Export<(PlanError, model::ReportFormat)> {
    Export {
        function: "render-plan-error",
        args: (arb::plan_error(), arb::report_format()).boxed(),
        input: |(error, format)| json!({ "error": error, "format": format }),
        native: |(error, format)| {
            written(at("error", reread(error)).map(|e| model::render_plan_error(&e, *format)))
        },
    }
}

fn read_firewall_export() -> Export<(model::FirewallBackend, model::FirewallOutput)> {
    Export {
        function: "read-firewall",
        args: arb::firewall_input(),
        input: |(backend, output)| json!({ "backend": backend, "output": output }),
        native: |(backend, output)| written(model::read_firewall(*backend, output)),
    }
}

fn empty_firewall_export() -> Export<model::FirewallBackend> {
    Export {
        function: "empty-firewall",
        args: arb::backend(),
        input: |backend| json!({ "backend": backend }),
        native: |backend| written(model::empty_firewall(*backend)),
    }
}

type PlanFirewallArgs = (Vec<model::FirewallRule>, model::FirewallState, bool);

fn plan_firewall_export() -> Export<PlanFirewallArgs> {
    Export {
        function: "plan-firewall",
        args: (
            arb::firewall_rules(Ranges::Any),
            arb::firewall_state(Ranges::Any),
            any::<bool>(),
        )
            .boxed(),
        input: |(rules, state, remove_all)| json!({ "rules": rules, "state": state, "remove-all": remove_all }),
        native: |(rules, state, remove_all)| {
            written(at("rules", reread(rules)).and_then(|rules| {
                model::plan_firewall(&rules, &at("state", reread(state))?, *remove_all)
            }))
        },
    }
}

fn plan_restore_export() -> Export<(model::FirewallState, model::FirewallState)> {
    Export {
        function: "plan-restore",
        args: arb::state_pair(Ranges::Any),
        input: |(before, now)| json!({ "before": before, "now": now }),
        native: |(before, now)| {
            written(
                at("before", reread(before))
                    .and_then(|before| model::plan_restore(&before, &at("now", reread(now))?)),
            )
        },
    }
}

type ProbePlanArgs = (
    (model::Plan, String),
    model::ProbeSource,
    model::Phase,
    bool,
);

fn probe_plan_export() -> Export<ProbePlanArgs> {
    Export {
        function: "probe-plan",
        args: (
            arb::plan_and_host(Ranges::Any),
            arb::reach::probe_source(),
            arb::phase(),
            any::<bool>(),
        )
            .boxed(),
        input: |((plan, host), source, phase, as_host)| {
            let source = if *as_host {
                model::ProbeSource::Host(host.clone())
            } else {
                source.clone()
            };
            json!({ "plan": plan, "source": source, "phase": phase })
        },
        native: |((plan, host), source, phase, as_host)| {
            let source = if *as_host {
                model::ProbeSource::Host(host.clone())
            } else {
                source.clone()
            };
            written(reread(plan).and_then(|plan| model::probe_plan(&plan, &source, *phase)))
        },
    }
}

type ReachArgs = (
    model::Plan,
    Vec<model::ServeStatus>,
    Vec<model::ProbeResults>,
);

fn reach_report_export() -> Export<ReachArgs> {
    Export {
        function: "reach-report",
        args: arb::reach::reach_input(Ranges::Any),
        input: |(plan, served, probed)| json!({ "plan": plan, "served": served, "probed": probed }),
        native: |(plan, served, probed)| {
            written(reread(plan).and_then(|plan| {
                model::reach_report(
                    &plan,
                    &at("served", reread(served))?,
                    &at("probed", reread(probed))?,
                )
            }))
        },
    }
}

fn render_truth_table_export() -> Export<(model::TruthTable, model::ReportFormat)> {
    Export {
        function: "render-truth-table",
        args: (arb::reach::truth_table(Ranges::Any), arb::report_format()).boxed(),
        input: |(table, format)| json!({ "table": table, "format": format }),
        native: |(table, format)| {
            written(at("table", reread(table)).map(|t| model::render_truth_table(&t, *format)))
        },
    }
}

#[test]
fn extism_probe_plan_answers_as_core() {
    probe_plan_export().answers_as_core();
}

#[test]
fn extism_probe_plan_takes_any_json() {
    probe_plan_export().takes_any_json();
}

#[test]
fn extism_reach_report_answers_as_core() {
    reach_report_export().answers_as_core();
}

#[test]
fn extism_reach_report_takes_any_json() {
    reach_report_export().takes_any_json();
}

#[test]
fn extism_render_truth_table_answers_as_core() {
    render_truth_table_export().answers_as_core();
}

#[test]
fn extism_render_truth_table_takes_any_json() {
    render_truth_table_export().takes_any_json();
}

#[test]
fn extism_catalog_answers_as_core() {
    catalog_export().answers_as_core();
    // A function without parameters also takes no input at all.
    let host = RefCell::new(extism());
    for input in ["", " ", "{}"] {
        let answer = call_extism(&host, "catalog", input).unwrap();
        assert_eq!(answer, written(Ok::<_, PlanError>(model::catalog())));
    }
}

#[test]
fn extism_catalog_takes_any_json() {
    catalog_export().takes_any_json();
}

#[test]
fn extism_get_profile_answers_as_core() {
    get_profile_export().answers_as_core();
}

#[test]
fn extism_get_profile_takes_any_json() {
    get_profile_export().takes_any_json();
}

#[test]
fn extism_parse_plan_answers_as_core() {
    parse_plan_export().answers_as_core();
}

#[test]
fn extism_parse_plan_takes_any_json() {
    parse_plan_export().takes_any_json();
}

#[test]
fn extism_validate_plan_answers_as_core() {
    validate_plan_export().answers_as_core();
}

#[test]
fn extism_validate_plan_takes_any_json() {
    validate_plan_export().takes_any_json();
}

#[test]
fn extism_check_host_answers_as_core() {
    check_host_export().answers_as_core();
}

#[test]
fn extism_check_host_takes_any_json() {
    check_host_export().takes_any_json();
}

#[test]
fn extism_render_report_answers_as_core() {
    render_report_export().answers_as_core();
}

#[test]
fn extism_render_report_takes_any_json() {
    render_report_export().takes_any_json();
}

#[test]
fn extism_firewall_rules_answers_as_core() {
    firewall_rules_export().answers_as_core();
}

#[test]
fn extism_firewall_rules_takes_any_json() {
    firewall_rules_export().takes_any_json();
}

#[test]
fn extism_render_plan_error_answers_as_core() {
    render_plan_error_export().answers_as_core();
}

#[test]
fn extism_render_plan_error_takes_any_json() {
    render_plan_error_export().takes_any_json();
}

#[test]
fn extism_read_firewall_answers_as_core() {
    read_firewall_export().answers_as_core();
}

#[test]
fn extism_read_firewall_takes_any_json() {
    read_firewall_export().takes_any_json();
}

#[test]
fn extism_empty_firewall_answers_as_core() {
    empty_firewall_export().answers_as_core();
}

#[test]
fn extism_empty_firewall_takes_any_json() {
    empty_firewall_export().takes_any_json();
}

#[test]
fn extism_plan_firewall_answers_as_core() {
    plan_firewall_export().answers_as_core();
}

#[test]
fn extism_plan_firewall_takes_any_json() {
    plan_firewall_export().takes_any_json();
}

#[test]
fn extism_plan_restore_answers_as_core() {
    plan_restore_export().answers_as_core();
}

#[test]
fn extism_plan_restore_takes_any_json() {
    plan_restore_export().takes_any_json();
}

// The component.

fn component() -> ComponentHost {
    portplan_tests::built_component()
}

/// Calls into the component; a trap fails the case, and the instance is replaced.
fn call_component<T>(
    host: &RefCell<ComponentHost>,
    function: &str,
    call: impl FnOnce(&Portplan, &mut Store<()>) -> wasmtime::Result<T>,
) -> Result<T, TestCaseError> {
    let answer = {
        let mut host = host.borrow_mut();
        let (portplan, store) = host.exports();
        call(portplan, store)
    };
    answer.map_err(|trap| {
        *host.borrow_mut() = component();
        TestCaseError::fail(format!("{function} trapped: {trap:?}"))
    })
}

/// The component's answer is core's, lowered to WIT; or both are rejections.
fn same<W: Debug, T: ToWit<W> + Debug>(
    function: &str,
    component: Result<W, wit::PlanError>,
    native: Result<T, PlanError>,
) -> Result<(), TestCaseError> {
    match (&component, &native) {
        (Ok(c), Ok(n)) => prop_assert_eq!(
            format!("{c:?}"),
            format!("{:?}", n.to_wit()),
            "{} answers otherwise than core {}",
            function,
            STALE
        ),
        // The first problem is core's, path included (the component may
        // name more: it reads every parameter before core stops at the first).
        (Err(e), Err(n)) => {
            let first = |path: &str, value: &str, message: &str| {
                (path.to_string(), value.to_string(), message.to_string())
            };
            prop_assert_eq!(
                e.problems
                    .first()
                    .map(|p| first(&p.path, &p.value, &p.message)),
                n.problems
                    .first()
                    .map(|p| first(&p.path, &p.value, &p.message)),
                "{} rejects otherwise than core {}",
                function,
                STALE
            )
        }
        _ => prop_assert!(
            false,
            "{function}: component {component:?}, core {native:?}"
        ),
    }
    Ok(())
}

#[test]
fn component_catalog_answers_as_core() {
    let host = RefCell::new(component());
    check(Just(()), |()| {
        let profiles = call_component(&host, "catalog", |p, s| p.call_catalog(s))?;
        same(
            "catalog",
            Ok(profiles),
            Ok::<_, PlanError>(model::catalog()),
        )
    });
}

#[test]
fn component_get_profile_answers_as_core() {
    let host = RefCell::new(component());
    check(arb::profile_name(), |name| {
        let answer = call_component(&host, "get-profile", |p, s| p.call_get_profile(s, &name))?;
        same("get-profile", answer, model::get_profile(&name))
    });
}

#[test]
fn component_parse_plan_answers_as_core() {
    let host = RefCell::new(component());
    check(arb::json_text(), |text| {
        let answer = call_component(&host, "parse-plan", |p, s| p.call_parse_plan(s, &text))?;
        same("parse-plan", answer, model::parse_plan(&text))
    });
}

#[test]
fn component_validate_plan_answers_as_core() {
    let host = RefCell::new(component());
    check(arb::plan(Ranges::Any), |plan| {
        let typed = plan.to_wit();
        let answer = call_component(&host, "validate-plan", |p, s| {
            p.call_validate_plan(s, &typed)
        })?;
        same(
            "validate-plan",
            answer,
            reread(&plan).and_then(|p| model::validate_plan(&p)),
        )
    });
}

#[test]
fn component_check_host_answers_as_core() {
    let host = RefCell::new(component());
    let args = (
        arb::plan_and_host(Ranges::Any),
        arb::phase(),
        arb::observation(Ranges::Any),
    );
    check(args, |((plan, name), phase, observation)| {
        let (typed, typed_observation) = (plan.to_wit(), observation.to_wit());
        let answer = call_component(&host, "check-host", |p, s| {
            p.call_check_host(s, &typed, &name, phase.to_wit(), &typed_observation)
        })?;
        let native = reread(&plan).and_then(|plan| {
            model::check_host(
                &plan,
                &name,
                phase,
                &at("observation", reread(&observation))?,
            )
        });
        same("check-host", answer, native)
    });
}

#[test]
fn component_render_report_answers_as_core() {
    let host = RefCell::new(component());
    check(
        (arb::report(Ranges::Any), arb::report_format()),
        |(report, format)| {
            let typed = report.to_wit();
            let text = call_component(&host, "render-report", |p, s| {
                p.call_render_report(s, &typed, format.to_wit())
            })?;
            // A report no JSON input could carry renders as its rejection.
            let native = match at("report", reread(&report)) {
                Ok(report) => model::render_report(&report, format),
                Err(error) => model::render_plan_error(&error, format),
            };
            prop_assert_eq!(text, native, "{}", STALE);
            Ok(())
        },
    );
}

#[test]
fn component_firewall_rules_answers_as_core() {
    let host = RefCell::new(component());
    check(report_and_host(), |(report, name)| {
        let typed = report.to_wit();
        let answer = call_component(&host, "firewall-rules", |p, s| {
            p.call_firewall_rules(s, &typed, name.as_deref())
        })?;
        let native =
            at("report", reread(&report)).and_then(|r| model::firewall_rules(&r, name.as_deref()));
        same("firewall-rules", answer, native)
    });
}

#[test]
fn component_render_plan_error_answers_as_core() {
    let host = RefCell::new(component());
    check(
        (arb::plan_error(), arb::report_format()),
        |(error, format)| {
            let typed = error.to_wit();
            let text = call_component(&host, "render-plan-error", |p, s| {
                p.call_render_plan_error(s, &typed, format.to_wit())
            })?;
            let native = model::render_plan_error(
                &at("error", reread(&error)).unwrap_or_else(|e| e),
                format,
            );
            prop_assert_eq!(text, native, "{}", STALE);
            Ok(())
        },
    );
}

#[test]
fn component_read_firewall_answers_as_core() {
    let host = RefCell::new(component());
    check(arb::firewall_input(), |(backend, output)| {
        let typed = output.to_wit();
        let answer = call_component(&host, "read-firewall", |p, s| {
            p.call_read_firewall(s, backend.to_wit(), &typed)
        })?;
        same(
            "read-firewall",
            answer,
            model::read_firewall(backend, &output),
        )
    });
}

#[test]
fn component_empty_firewall_answers_as_core() {
    let host = RefCell::new(component());
    check(arb::backend(), |backend| {
        let answer = call_component(&host, "empty-firewall", |p, s| {
            p.call_empty_firewall(s, backend.to_wit())
        })?;
        same("empty-firewall", answer, model::empty_firewall(backend))
    });
}

#[test]
fn component_plan_firewall_answers_as_core() {
    let host = RefCell::new(component());
    let args = (
        arb::firewall_rules(Ranges::Any),
        arb::firewall_state(Ranges::Any),
        any::<bool>(),
    );
    check(args, |(rules, state, remove_all)| {
        let (typed_rules, typed_state) = (rules.to_wit(), state.to_wit());
        let answer = call_component(&host, "plan-firewall", |p, s| {
            p.call_plan_firewall(s, &typed_rules, &typed_state, remove_all)
        })?;
        let native = at("rules", reread(&rules)).and_then(|rules| {
            model::plan_firewall(&rules, &at("state", reread(&state))?, remove_all)
        });
        same("plan-firewall", answer, native)
    });
}

#[test]
fn component_plan_restore_answers_as_core() {
    let host = RefCell::new(component());
    check(arb::state_pair(Ranges::Any), |(before, now)| {
        let (typed_before, typed_now) = (before.to_wit(), now.to_wit());
        let answer = call_component(&host, "plan-restore", |p, s| {
            p.call_plan_restore(s, &typed_before, &typed_now)
        })?;
        let native = at("before", reread(&before))
            .and_then(|before| model::plan_restore(&before, &at("now", reread(&now))?));
        same("plan-restore", answer, native)
    });
}

#[test]
fn component_probe_plan_answers_as_core() {
    let host = RefCell::new(component());
    let args = (
        arb::plan_and_host(Ranges::Any),
        arb::reach::probe_source(),
        arb::phase(),
        any::<bool>(),
    );
    check(args, |((plan, name), source, phase, as_host)| {
        let source = if as_host {
            model::ProbeSource::Host(name)
        } else {
            source
        };
        let typed = plan.to_wit();
        let answer = call_component(&host, "probe-plan", |p, s| {
            p.call_probe_plan(s, &typed, &source.to_wit(), phase.to_wit())
        })?;
        let native = reread(&plan).and_then(|plan| model::probe_plan(&plan, &source, phase));
        same("probe-plan", answer, native)
    });
}

#[test]
fn component_reach_report_answers_as_core() {
    let host = RefCell::new(component());
    check(
        arb::reach::reach_input(Ranges::Any),
        |(plan, served, probed)| {
            let (typed, typed_served, typed_probed) =
                (plan.to_wit(), served.to_wit(), probed.to_wit());
            let answer = call_component(&host, "reach-report", |p, s| {
                p.call_reach_report(s, &typed, &typed_served, &typed_probed)
            })?;
            let native = reread(&plan).and_then(|plan| {
                model::reach_report(
                    &plan,
                    &at("served", reread(&served))?,
                    &at("probed", reread(&probed))?,
                )
            });
            same("reach-report", answer, native)
        },
    );
}

#[test]
fn component_render_truth_table_answers_as_core() {
    let host = RefCell::new(component());
    check(
        (arb::reach::truth_table(Ranges::Any), arb::report_format()),
        |(table, format)| {
            let typed = table.to_wit();
            let text = call_component(&host, "render-truth-table", |p, s| {
                p.call_render_truth_table(s, &typed, format.to_wit())
            })?;
            let native = match at("table", reread(&table)) {
                Ok(table) => model::render_truth_table(&table, format),
                Err(error) => model::render_plan_error(&error, format),
            };
            prop_assert_eq!(text, native, "{}", STALE);
            Ok(())
        },
    );
}

// Core values as the component's typed WIT values, field by field: a field
// the WIT gains fails to compile here until it is listed.

/// A core value as the WIT value of the same type.
trait ToWit<W> {
    fn to_wit(&self) -> W;
}

macro_rules! same_type {
    ($($t:ty),*) => {$(
        impl ToWit<$t> for $t {
            fn to_wit(&self) -> $t {
                self.clone()
            }
        }
    )*};
}
same_type!(String, bool, u16, u32, u64);

impl<A: ToWit<B>, B> ToWit<Vec<B>> for Vec<A> {
    fn to_wit(&self) -> Vec<B> {
        self.iter().map(ToWit::to_wit).collect()
    }
}

impl<A: ToWit<B>, B> ToWit<Vec<B>> for std::sync::Arc<[A]> {
    fn to_wit(&self) -> Vec<B> {
        self.iter().map(ToWit::to_wit).collect()
    }
}

impl<A: ToWit<B>, B> ToWit<Option<B>> for Option<A> {
    fn to_wit(&self) -> Option<B> {
        self.as_ref().map(ToWit::to_wit)
    }
}

impl ToWit<u32> for model::ChainId {
    fn to_wit(&self) -> u32 {
        self.0
    }
}

macro_rules! records {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        impl ToWit<wit::$name> for model::$name {
            fn to_wit(&self) -> wit::$name {
                wit::$name { $($field: self.$field.to_wit()),* }
            }
        }
    )*};
}

macro_rules! enums {
    ($($name:ident { $($case:ident),* $(,)? })*) => {$(
        impl ToWit<wit::$name> for model::$name {
            fn to_wit(&self) -> wit::$name {
                match self { $(model::$name::$case => wit::$name::$case),* }
            }
        }
    )*};
}

records! {
    PortRange { first, last }
    Component { name, title, description, required }
    NetworkRole { name, description }
    PortSpec {
        id, component, ports, transport, protocol, allocation, exposure, accessed_by, modifiable,
        same_on_all_hosts, optional, purpose, source,
    }
    Profile { name, title, description, source, components, networks, specs }
    ClientNetwork { name, cidrs, description, exclusive }
    PortOverride { spec, ports }
    PlanHost { name, address, components, deploy_user, overrides }
    Listener { transport, address, port, v6only, pid, command }
    OpenPort { transport, ports, sources, tag }
    ObservedFirewall { backend, open }
    Observation {
        listeners, ip_local_port_range, ip_local_reserved_ports, ip_unprivileged_port_start,
        effective_uid, firewall,
    }
    HostObservation { host, phase, observation }
    Plan { name, profiles, deploy_user, hosts, networks, overrides, enable, custom_profiles, observations }
    Finding { code, severity, host, component, spec, ports, message, fix }
    PortEntry {
        spec, component, ports, transport, protocol, allocation, exposure, group, purpose,
        overridden,
    }
    SourceGroup { name, sources, hosts, networks }
    HostPorts { host, address, ports }
    FirewallRule { host, spec, tag, transport, ports, sources, purpose }
    Summary { errors, warnings, infos }
    Report { plan, summary, findings, hosts, source_groups }
    Problem { path, value, message }
    PlanError { problems }
    FirewallOutput { main, extra, zone }
    TaggedRule { tag, family, transport, ports, source }
    ForeignRule { action, family, transport, ports, source, text, ahead }
    NftChain { family, table, name, drops, insert_before, managed_by }
    NftRule { chain, rule, handle, set, intact }
    NftState { chains, found, open, foreign }
    IptablesChain { family, drops, insert_before }
    IptablesRule { chain, rule, number, saved, intact }
    IptablesState { chains, found, open, foreign }
    FirewalldZone { name, side, drops }
    FirewalldRule { zone, rule, rich_rule, ipset, intact }
    FirewalldState { zones, found, open, foreign }
    UfwRule { rule, words, intact }
    UfwState { active, drops, found, open, foreign }
    Command { argv, stdin }
    FirewallChange { backend, add, remove, commands, notes }
    ListenPort { spec, port, transport }
    ProbeTarget { destination, address, spec, port, transport, expect, why }
    ProbePlan { plan, source, phase, listen, targets, sampling }
    ProbeResult { destination, spec, port, transport, outcome, detail, elapsed_ms }
    ProbeResults { plan, source, phase, results }
    ServeStatus { plan, host, listening, held }
    TruthRow { source, destination, spec, port, transport, expect, outcome, verdict, detail }
    TruthSummary { rows, as_expected, mismatches, unknown }
    TruthTable { plan, phase, summary, rows, findings }
}

impl ToWit<wit::ProbeSource> for model::ProbeSource {
    fn to_wit(&self) -> wit::ProbeSource {
        match self {
            model::ProbeSource::Host(h) => wit::ProbeSource::Host(h.clone()),
            model::ProbeSource::Network(n) => wit::ProbeSource::Network(n.clone()),
            model::ProbeSource::Outsider => wit::ProbeSource::Outsider,
        }
    }
}

enums! {
    Transport { Tcp, Udp }
    Allocation { Fixed, Pool }
    Exposure { Loopback, Peers, Browser }
    Severity { Error, Warning, Info }
    DeployUser { Root, NonRoot }
    Phase { Preinstall, Postinstall }
    FirewallBackend { Firewalld, Ufw, Nftables, Iptables, None }
    FindingCode {
        PortConflict, PortInUse, NotListening, PrivilegedPort, BrowserBlockedPort, EphemeralCollision,
        FixedPortOverride, InconsistentPort, LoopbackExposed, InvalidPlan, NoAllowedSources,
        FirewallDrift, Unreachable, Overexposed,
    }
    ReportFormat { Json, Table, Markdown, Csv }
    IpFamily { Ipv4, Ipv6 }
    NftFamily { Inet, Ip, Ip6 }
    FirewalldSide { Runtime, Permanent }
    Expectation { Allow, Deny }
    ProbeOutcome { Connected, WrongResponder, Timeout, Refused, Unreachable, Error }
    Verdict { AsExpected, Mismatch, Unknown }
}

impl ToWit<wit::FirewallState> for model::FirewallState {
    fn to_wit(&self) -> wit::FirewallState {
        match self {
            model::FirewallState::Nftables(s) => wit::FirewallState::Nftables(s.to_wit()),
            model::FirewallState::Iptables(s) => wit::FirewallState::Iptables(s.to_wit()),
            model::FirewallState::Firewalld(s) => wit::FirewallState::Firewalld(s.to_wit()),
            model::FirewallState::Ufw(s) => wit::FirewallState::Ufw(s.to_wit()),
        }
    }
}

impl ToWit<wit::Accessor> for model::Accessor {
    fn to_wit(&self) -> wit::Accessor {
        match self {
            model::Accessor::Component(c) => wit::Accessor::Component(c.clone()),
            model::Accessor::Network(n) => wit::Accessor::Network(n.clone()),
            model::Accessor::Profile(p) => wit::Accessor::Profile(p.clone()),
        }
    }
}

impl ToWit<wit::Modifiable> for model::Modifiable {
    fn to_wit(&self) -> wit::Modifiable {
        match self {
            model::Modifiable::NotSupported => wit::Modifiable::NotSupported,
            model::Modifiable::Configurable(how) => wit::Modifiable::Configurable(how.clone()),
        }
    }
}
