//! portplan as an Extism plugin: every function of the WIT world, exported
//! under the WIT's own name (`validate-plan`, ...).
//!
//! Input is a JSON object of the function's WIT parameters by name
//! (`{"plan": {...}, "host": "h1", "phase": "preinstall", "observation": {...}}`);
//! output is the JSON of the WIT result's ok value. A rejected input is an
//! Extism error whose message is the plan-error as JSON, rendered exactly as
//! `render-plan-error` renders it. Input is parsed by core's strict parser, so
//! an error names the JSON path and the value of every problem.
//!
//! Paths follow core's one convention: inside the plan they start at the
//! plan (`hosts[0].address`, as in a plan file, the CLI and the corpus);
//! every other parameter's start with its WIT name
//! (`observation.listeners[0].port`, `state.nftables.found[0].chain`).
//!
//! What it is not: it uses no host function, no WASI, no config and no vars.
//! Built only for wasm32; on other targets the crate is empty.

#![cfg(target_family = "wasm")]

use portplan_core::{
    FirewallBackend, FirewallOutput, FirewallRule, FirewallState, Observation, Phase, Plan,
    PlanError, Report, ReportFormat,
};
use serde::de::DeserializeOwned;

/// Runs one export: parse the input, call core, set the output or the error.
fn run<I: DeserializeOwned + portplan_core::Decode, O: portplan_core::Encode>(
    call: impl FnOnce(I) -> Result<O, PlanError>,
) -> i32 {
    let output = portplan_core::shell::parse_json(&input())
        .map_err(plan_relative)
        .and_then(call);
    answer(output.map(|output| portplan_core::shell::compact_json(&output)))
}

// `input` and `answer` hold what `run` does alike for every function, out of
// line: inlined into each of the 14 exports they cost a copy each.

/// The input as text; a function without parameters takes none at all.
#[inline(never)]
fn input() -> String {
    let text = String::from_utf8(extism_pdk::input_bytes())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if text.trim().is_empty() {
        "{}".to_string()
    } else {
        text
    }
}

/// The output as the function's result, or its error (a rejected input as
/// `render-plan-error` renders it).
#[inline(never)]
fn answer(output: Result<String, PlanError>) -> i32 {
    match output {
        Ok(text) => match extism_pdk::output(text) {
            Ok(()) => 0,
            Err(e) => fail(&e.to_string()),
        },
        Err(error) => fail(&portplan_core::render_plan_error(
            &error,
            ReportFormat::Json,
        )),
    }
}

/// The input object's `plan` member is the plan itself: its problems' paths
/// start at the plan, as the plan's semantic problems (core's) do.
fn plan_relative(mut error: PlanError) -> PlanError {
    for problem in &mut error.problems {
        if problem.path == "plan" {
            problem.path = ".".into();
        } else if let Some(inside) = problem.path.strip_prefix("plan.") {
            problem.path = inside.to_string();
        }
    }
    error
}

/// Sets the Extism error message and returns the failure code.
fn fail(message: &str) -> i32 {
    // Without memory for the message the host still sees the failure code.
    if let Ok(memory) = extism_pdk::Memory::from_bytes(message) {
        // SAFETY: `error_set` takes the offset of a block this plugin just
        // allocated in Extism memory and still owns, as `plugin_fn` does.
        #[allow(unsafe_code)]
        unsafe {
            extism_pdk::extism::error_set(memory.offset())
        }
    }
    1
}

/// Exports `$name` (a WIT function name) taking `$input` (a struct of its
/// WIT parameters, kebab-case) and returning `$body`'s result.
macro_rules! export {
    ($name:literal, $rust:ident, $input:ident: $ty:ty => $body:expr) => {
        #[doc = concat!("The WIT function `", $name, "`.")]
        #[allow(unsafe_code)]
        #[unsafe(export_name = $name)]
        pub extern "C" fn $rust() -> i32 {
            run(|$input: $ty| $body)
        }
    };
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(deny_unknown_fields)]
struct NoInput {}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct GetProfile {
    name: String,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ParsePlan {
    text: String,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ValidatePlan {
    plan: Plan,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CheckHost {
    plan: Plan,
    host: String,
    phase: Phase,
    observation: Observation,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RenderReport {
    report: Report,
    format: ReportFormat,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FirewallRules {
    report: Report,
    #[serde(default)]
    host: Option<String>,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RenderPlanError {
    error: PlanError,
    format: ReportFormat,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ReadFirewall {
    backend: FirewallBackend,
    output: FirewallOutput,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PlanFirewall {
    rules: Vec<FirewallRule>,
    state: FirewallState,
    remove_all: bool,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct EmptyFirewall {
    backend: FirewallBackend,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PlanRestore {
    before: FirewallState,
    now: FirewallState,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ProbePlan {
    plan: Plan,
    source: portplan_core::ProbeSource,
    phase: Phase,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ReachReport {
    plan: Plan,
    served: Vec<portplan_core::ServeStatus>,
    probed: Vec<portplan_core::ProbeResults>,
}

#[derive(serde::Deserialize, portplan_core::Decode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RenderTruthTable {
    table: portplan_core::TruthTable,
    format: ReportFormat,
}

export!("catalog", catalog, _input: NoInput => Ok(portplan_core::catalog()));
export!("get-profile", get_profile, input: GetProfile => portplan_core::get_profile(&input.name));
export!("parse-plan", parse_plan, input: ParsePlan => portplan_core::parse_plan(&input.text));
export!("validate-plan", validate_plan, input: ValidatePlan => portplan_core::validate_plan(&input.plan));
export!("check-host", check_host, input: CheckHost =>
    portplan_core::check_host(&input.plan, &input.host, input.phase, &input.observation));
export!("firewall-rules", firewall_rules, input: FirewallRules =>
    portplan_core::firewall_rules(&input.report, input.host.as_deref()));
export!("render-report", render_report, input: RenderReport =>
    Ok(portplan_core::render_report(&input.report, input.format)));
export!("render-plan-error", render_plan_error, input: RenderPlanError =>
    Ok(portplan_core::render_plan_error(&input.error, input.format)));
export!("read-firewall", read_firewall, input: ReadFirewall =>
    portplan_core::read_firewall(input.backend, &input.output));
export!("plan-firewall", plan_firewall, input: PlanFirewall =>
    portplan_core::plan_firewall(&input.rules, &input.state, input.remove_all));
export!("empty-firewall", empty_firewall, input: EmptyFirewall =>
    portplan_core::empty_firewall(input.backend));
export!("plan-restore", plan_restore, input: PlanRestore =>
    portplan_core::plan_restore(&input.before, &input.now));
export!("probe-plan", probe_plan, input: ProbePlan =>
    portplan_core::probe_plan(&input.plan, &input.source, input.phase));
export!("reach-report", reach_report, input: ReachReport =>
    portplan_core::reach_report(&input.plan, &input.served, &input.probed));
export!("render-truth-table", render_truth_table, input: RenderTruthTable =>
    Ok(portplan_core::render_truth_table(&input.table, input.format)));
