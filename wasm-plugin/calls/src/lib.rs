//! The WIT world's functions over portplan-core, as both plugins export
//! them: each takes its WIT parameters as one JSON object by name
//! (`{"plan": {...}, "host": "h1", "phase": "preinstall", "observation":
//! {...}}`), parsed by core's strict parser, and answers the JSON of its
//! result or the problems of its input.
//!
//! Paths follow core's one convention: inside the plan they start at the
//! plan (`hosts[0].address`, as in a plan file, the CLI and the corpus);
//! every other parameter's start with its WIT name
//! (`observation.listeners[0].port`, `state.nftables.found[0].chain`).
//!
//! What it is not: IO of any kind. The Extism plugin hands it its input;
//! the component lifts its canonical-ABI arguments into the same object.
//! One copy of each function's parsing serves both, so the two answer
//! alike by construction.

/// Both plugins' allocator. std links dlmalloc on wasm32-unknown-unknown;
/// talc, made for WebAssembly, serves them in about a quarter of its code:
/// 6.7 KB off each plugin, which the `firewalls` world needed to stay under
/// its 300,000-byte bound. It costs some speed: `validate-plan` of a
/// 1,000-host plan in Node ~4% slower, the same memory within 1%
/// (BENCHMARKS.md, session 40). It grows the heap in place
/// (`WasmGrowAndExtend`), so a vector grown again and again claims no new
/// heap each time. The plugins run single-threaded (no `atomics` target
/// feature), which its cell requires.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

use portplan_core::{
    Encode, FirewallBackend, FirewallOutput, FirewallRule, FirewallState, Observation, Phase, Plan,
    PlanError, Report, ReportFormat,
};

/// What a function answered.
pub enum Answer {
    /// The compact JSON of its result (of a `result`'s ok value).
    Json(String),
    /// A `string` result itself.
    Text(String),
}

/// Defines each WIT function as a `pub fn` of its input, named as the WIT
/// names it in snake case (the component's exports call them so).
macro_rules! functions {
    ($($name:literal $rust:ident($input:ident: $ty:ty) $how:ident $body:expr;)*) => {
        $(
            #[doc = concat!("The WIT function `", $name, "` on the JSON object of its parameters.")]
            pub fn $rust(input: &str) -> Result<Answer, PlanError> {
                $how(input, |$input: $ty| $body)
            }
        )*
    };
}

functions! {
    "catalog" catalog(_i: NoInput) json Ok(portplan_core::catalog());
    "get-profile" get_profile(i: GetProfile) json portplan_core::get_profile(&i.name);
    "parse-plan" parse_plan(i: ParsePlan) json portplan_core::parse_plan(&i.text);
    "validate-plan" validate_plan(i: ValidatePlan) json portplan_core::validate_plan(&i.plan);
    "check-host" check_host(i: CheckHost) json
        portplan_core::check_host(&i.plan, &i.host, i.phase, &i.observation);
    "firewall-rules" firewall_rules(i: FirewallRules) json
        portplan_core::firewall_rules(&i.report, i.host.as_deref());
    "render-report" render_report(i: RenderReport) text
        portplan_core::render_report(&i.report, i.format);
    "render-plan-error" render_plan_error(i: RenderPlanError) text
        portplan_core::render_plan_error(&i.error, i.format);
    "read-firewall" read_firewall(i: ReadFirewall) json
        portplan_core::read_firewall(i.backend, &i.output);
    "plan-firewall" plan_firewall(i: PlanFirewall) json
        portplan_core::plan_firewall(&i.rules, &i.state, i.remove_all);
    "empty-firewall" empty_firewall(i: EmptyFirewall) json portplan_core::empty_firewall(i.backend);
    "plan-restore" plan_restore(i: PlanRestore) json portplan_core::plan_restore(&i.before, &i.now);
    "probe-plan" probe_plan(i: ProbePlan) json
        portplan_core::probe_plan(&i.plan, &i.source, i.phase);
    "reach-report" reach_report(i: ReachReport) json
        portplan_core::reach_report(&i.plan, &i.served, &i.probed);
    "render-truth-table" render_truth_table(i: RenderTruthTable) text
        portplan_core::render_truth_table(&i.table, i.format);
}

/// A function whose result is JSON.
fn json<I: Input, O: Encode>(
    input: &str,
    run: impl FnOnce(I) -> Result<O, PlanError>,
) -> Result<Answer, PlanError> {
    parse(input)
        .and_then(run)
        .map(|output| Answer::Json(portplan_core::shell::compact_json(&output)))
}

/// A function whose result is a `string`.
fn text<I: Input>(input: &str, run: impl FnOnce(I) -> String) -> Result<Answer, PlanError> {
    parse(input).map(run).map(Answer::Text)
}

trait Input: serde::de::DeserializeOwned + portplan_core::Decode {}

impl<T: serde::de::DeserializeOwned + portplan_core::Decode> Input for T {}

/// The input, its problems' paths inside the plan starting at the plan.
fn parse<I: Input>(input: &str) -> Result<I, PlanError> {
    portplan_core::shell::parse_json(input).map_err(plan_relative)
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
