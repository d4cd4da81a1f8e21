//! portplan as a WebAssembly component: the WIT world `portplan`, exported
//! over portplan-core.
//!
//! What it is: each export's arguments lifted from the canonical ABI as the
//! contract's JSON, parsed by core's strict parser, and core's answer
//! lowered back (`abi`, walking a table of the WIT's types that `build.rs`
//! writes); every answer is core's. What it is not: it imports nothing (no
//! WASI), so a host gives it nothing and it can do no IO.
//!
//! Built only for wasm32 (`wasm-plugin/build` makes the component, adding
//! the WIT world it exports); on other targets the crate is empty.

#![cfg(target_family = "wasm")]

#[macro_use]
mod abi;

use abi::{Answer, Arg};
use portplan_core as model;
use portplan_core::Encode;
use portplan_core::shell::compact_json;

/// Inbound records go through JSON and core's strict parser: a `port-range`
/// of 0 or a reversed one is rejected with its path, exactly as the other
/// artifacts reject it. A plan's paths start at the plan (`hosts[0].address`),
/// as core's own problems about a plan do.
fn lift<T: serde::de::DeserializeOwned + model::Decode>(arg: &Arg) -> Result<T, model::PlanError> {
    portplan_core::shell::parse_json(arg.text())
}

/// [`lift`] for any other parameter: problem paths start with its WIT name
/// (`observation.listeners[0].port`, `before.nftables.found[0].rule.ports`,
/// `rules[0].ports`), as in the Extism plugin's input and core's own problems.
fn lift_at<T: serde::de::DeserializeOwned + model::Decode>(
    at: &str,
    arg: &Arg,
) -> Result<T, model::PlanError> {
    lift(arg).map_err(|error| under(at, error))
}

/// `error`'s paths as paths under the parameter `at` (out of line: one copy
/// for every parameter type).
#[inline(never)]
fn under(at: &str, mut error: model::PlanError) -> model::PlanError {
    for problem in &mut error.problems {
        problem.path = match problem.path.as_str() {
            "." => at.to_string(),
            inside if inside.starts_with('[') => format!("{at}{inside}"),
            inside => format!("{at}.{inside}"),
        };
    }
    error
}

/// Two parameters, or every problem of both in the parameters' order: the
/// Extism plugin parses its parameters as one object and names them all.
fn both<A, B>(
    a: Result<A, model::PlanError>,
    b: Result<B, model::PlanError>,
) -> Result<(A, B), model::PlanError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(model::PlanError {
            problems: (a.err().into_iter().chain(b.err()))
                .flat_map(|error| error.problems)
                .collect(),
        }),
    }
}

/// A `result`'s answer.
fn answer<T: Encode>(result: Result<T, model::PlanError>) -> Answer {
    match result {
        Ok(value) => Answer::Ok(compact_json(&value)),
        Err(error) => Answer::Err(compact_json(&error)),
    }
}

/// A rendering's format; one the parser refuses cannot come through the
/// WIT's enum.
fn format(arg: &Arg) -> model::ReportFormat {
    lift(arg).unwrap_or(model::ReportFormat::Json)
}

/// Runs the export `name` on its lifted arguments, in the WIT's order.
fn run(name: &str, args: &[Arg]) -> Answer {
    let text = |i: usize| args[i].text();
    match name {
        "catalog" => Answer::Json(compact_json(&portplan_core::catalog())),
        "get-profile" => answer(portplan_core::get_profile(text(0))),
        "parse-plan" => answer(portplan_core::parse_plan(text(0))),
        "validate-plan" => {
            answer(lift(&args[0]).and_then(|plan| portplan_core::validate_plan(&plan)))
        }
        "check-host" => {
            let plan: Result<model::Plan, _> = lift(&args[0]);
            let phase: Result<model::Phase, _> = lift_at("phase", &args[2]);
            let observation: Result<model::Observation, _> = lift_at("observation", &args[3]);
            answer(
                both(plan, both(phase, observation)).and_then(|(plan, (phase, observation))| {
                    portplan_core::check_host(&plan, text(1), phase, &observation)
                }),
            )
        }
        "render-report" => Answer::Text(match lift_at::<model::Report>("report", &args[0]) {
            Ok(report) => portplan_core::render_report(&report, format(&args[1])),
            Err(error) => portplan_core::render_plan_error(&error, format(&args[1])),
        }),
        "firewall-rules" => {
            let report: Result<model::Report, _> = lift_at("report", &args[0]);
            let host: Result<Option<String>, _> = lift_at("host", &args[1]);
            answer(
                both(report, host).and_then(|(report, host)| {
                    portplan_core::firewall_rules(&report, host.as_deref())
                }),
            )
        }
        "render-plan-error" => {
            let error = lift_at("error", &args[0]).unwrap_or_else(|e| e);
            Answer::Text(portplan_core::render_plan_error(&error, format(&args[1])))
        }
        "read-firewall" => {
            let backend: Result<model::FirewallBackend, _> = lift_at("backend", &args[0]);
            let output: Result<model::FirewallOutput, _> = lift_at("output", &args[1]);
            answer(
                both(backend, output)
                    .and_then(|(backend, output)| portplan_core::read_firewall(backend, &output)),
            )
        }
        "empty-firewall" => {
            answer(lift_at("backend", &args[0]).and_then(portplan_core::empty_firewall))
        }
        "plan-firewall" => {
            let rules: Result<Vec<model::FirewallRule>, _> = lift_at("rules", &args[0]);
            let state: Result<model::FirewallState, _> = lift_at("state", &args[1]);
            let remove_all: Result<bool, _> = lift_at("remove-all", &args[2]);
            answer(
                both(rules, both(state, remove_all)).and_then(|(rules, (state, all))| {
                    portplan_core::plan_firewall(&rules, &state, all)
                }),
            )
        }
        "plan-restore" => {
            let before: Result<model::FirewallState, _> = lift_at("before", &args[0]);
            let now: Result<model::FirewallState, _> = lift_at("now", &args[1]);
            answer(
                both(before, now)
                    .and_then(|(before, now)| portplan_core::plan_restore(&before, &now)),
            )
        }
        "probe-plan" => {
            let plan: Result<model::Plan, _> = lift(&args[0]);
            let source: Result<model::ProbeSource, _> = lift_at("source", &args[1]);
            let phase: Result<model::Phase, _> = lift_at("phase", &args[2]);
            answer(
                both(plan, both(source, phase)).and_then(|(plan, (source, phase))| {
                    portplan_core::probe_plan(&plan, &source, phase)
                }),
            )
        }
        "reach-report" => {
            let plan: Result<model::Plan, _> = lift(&args[0]);
            let served: Result<Vec<model::ServeStatus>, _> = lift_at("served", &args[1]);
            let probed: Result<Vec<model::ProbeResults>, _> = lift_at("probed", &args[2]);
            answer(
                both(plan, both(served, probed)).and_then(|(plan, (served, probed))| {
                    portplan_core::reach_report(&plan, &served, &probed)
                }),
            )
        }
        "render-truth-table" => {
            Answer::Text(match lift_at::<model::TruthTable>("table", &args[0]) {
                Ok(table) => portplan_core::render_truth_table(&table, format(&args[1])),
                Err(error) => portplan_core::render_plan_error(&error, format(&args[1])),
            })
        }
        other => unreachable!("the WIT has no export `{other}`"),
    }
}

fn call(index: usize, flat: &[i64]) -> *mut u8 {
    abi::call(index, flat, run)
}

/// The exports under their WIT names (`export_name` functions: the one
/// place this crate needs `unsafe` outside `abi`).
#[allow(unsafe_code)]
mod exports {
    use super::{abi::post, call};
    exports!(call, post);
}
