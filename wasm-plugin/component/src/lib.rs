//! portplan as a WebAssembly component: the WIT world `portplan`, exported by a
//! wit-bindgen guest over portplan-core.
//!
//! What it is: type conversions between the generated WIT types and core's,
//! and nothing else; every answer is core's. What it is not: it imports
//! nothing (no WASI), so a host gives it nothing and it can do no IO.
//!
//! Built only for wasm32 (`wasm-plugin/build` makes the component); on other
//! targets the crate is empty.

#![cfg(target_family = "wasm")]

#[allow(unsafe_code, missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "portplan" });
}

mod convert;

use bindings::portplan::ports::types as wit;
use convert::Lower;
use portplan_core as model;

struct Portplan;

/// Inbound records skip serde, so they go through JSON and core's strict
/// parser: a `port-range` of 0 or a reversed one is rejected with its path,
/// exactly as the other artifacts reject it. A plan's paths start at the plan
/// (`hosts[0].address`), as core's own problems about a plan do.
fn lift<T: serde::de::DeserializeOwned + model::Decode>(
    value: &impl model::Encode,
) -> Result<T, model::PlanError> {
    portplan_core::shell::parse_json(&portplan_core::shell::compact_json(value))
}

/// [`lift`] for any other parameter: problem paths start with its WIT name
/// (`observation.listeners[0].port`, `before.nftables.found[0].rule.ports`,
/// `rules[0].ports`), as in the Extism plugin's input and core's own problems.
fn lift_at<T: serde::de::DeserializeOwned + model::Decode>(
    at: &str,
    value: &impl model::Encode,
) -> Result<T, model::PlanError> {
    lift(value).map_err(|error| under(at, error))
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

impl bindings::Guest for Portplan {
    fn catalog() -> Vec<wit::Profile> {
        portplan_core::catalog().lower()
    }

    fn get_profile(name: String) -> Result<wit::Profile, wit::PlanError> {
        portplan_core::get_profile(&name).lower()
    }

    fn parse_plan(text: String) -> Result<wit::Plan, wit::PlanError> {
        portplan_core::parse_plan(&text).lower()
    }

    fn validate_plan(plan: wit::Plan) -> Result<wit::Report, wit::PlanError> {
        lift(&plan)
            .and_then(|plan| portplan_core::validate_plan(&plan))
            .lower()
    }

    fn check_host(
        plan: wit::Plan,
        host: String,
        phase: wit::Phase,
        observation: wit::Observation,
    ) -> Result<wit::Report, wit::PlanError> {
        let plan: Result<model::Plan, _> = lift(&plan);
        let observation: Result<model::Observation, _> = lift_at("observation", &observation);
        let phase: Result<model::Phase, _> = lift_at("phase", &phase);
        plan.and_then(|plan| portplan_core::check_host(&plan, &host, phase?, &observation?))
            .lower()
    }

    fn render_report(report: wit::Report, format: wit::ReportFormat) -> String {
        let format = lift(&format).unwrap_or(model::ReportFormat::Json);
        match lift_at::<model::Report>("report", &report) {
            Ok(report) => portplan_core::render_report(&report, format),
            Err(error) => portplan_core::render_plan_error(&error, format),
        }
    }

    fn firewall_rules(
        report: wit::Report,
        host: Option<String>,
    ) -> Result<Vec<wit::FirewallRule>, wit::PlanError> {
        lift_at::<model::Report>("report", &report)
            .and_then(|report| portplan_core::firewall_rules(&report, host.as_deref()))
            .lower()
    }

    fn read_firewall(
        backend: wit::FirewallBackend,
        output: wit::FirewallOutput,
    ) -> Result<wit::FirewallState, wit::PlanError> {
        let output: Result<model::FirewallOutput, _> = lift_at("output", &output);
        lift_at("backend", &backend)
            .and_then(|backend| portplan_core::read_firewall(backend, &output?))
            .lower()
    }

    fn plan_firewall(
        rules: Vec<wit::FirewallRule>,
        state: wit::FirewallState,
        remove_all: bool,
    ) -> Result<wit::FirewallChange, wit::PlanError> {
        let rules: Result<Vec<model::FirewallRule>, _> = lift_at("rules", &rules);
        let state: Result<model::FirewallState, _> = lift_at("state", &state);
        rules
            .and_then(|rules| portplan_core::plan_firewall(&rules, &state?, remove_all))
            .lower()
    }

    fn empty_firewall(backend: wit::FirewallBackend) -> Result<wit::FirewallState, wit::PlanError> {
        lift_at("backend", &backend)
            .and_then(portplan_core::empty_firewall)
            .lower()
    }

    fn plan_restore(
        before: wit::FirewallState,
        now: wit::FirewallState,
    ) -> Result<Vec<wit::Command>, wit::PlanError> {
        let before: Result<model::FirewallState, _> = lift_at("before", &before);
        let now: Result<model::FirewallState, _> = lift_at("now", &now);
        before
            .and_then(|before| portplan_core::plan_restore(&before, &now?))
            .lower()
    }

    fn probe_plan(
        plan: wit::Plan,
        source: wit::ProbeSource,
        phase: wit::Phase,
    ) -> Result<wit::ProbePlan, wit::PlanError> {
        let source: Result<model::ProbeSource, _> = lift_at("source", &source);
        let phase: Result<model::Phase, _> = lift_at("phase", &phase);
        lift(&plan)
            .and_then(|plan| portplan_core::probe_plan(&plan, &source?, phase?))
            .lower()
    }

    fn reach_report(
        plan: wit::Plan,
        served: Vec<wit::ServeStatus>,
        probed: Vec<wit::ProbeResults>,
    ) -> Result<wit::TruthTable, wit::PlanError> {
        let served: Result<Vec<model::ServeStatus>, _> = lift_at("served", &served);
        let probed: Result<Vec<model::ProbeResults>, _> = lift_at("probed", &probed);
        lift(&plan)
            .and_then(|plan| portplan_core::reach_report(&plan, &served?, &probed?))
            .lower()
    }

    fn render_truth_table(table: wit::TruthTable, format: wit::ReportFormat) -> String {
        let format = lift(&format).unwrap_or(model::ReportFormat::Json);
        match lift_at::<model::TruthTable>("table", &table) {
            Ok(table) => portplan_core::render_truth_table(&table, format),
            Err(error) => portplan_core::render_plan_error(&error, format),
        }
    }

    fn render_plan_error(error: wit::PlanError, format: wit::ReportFormat) -> String {
        let format = lift(&format).unwrap_or(model::ReportFormat::Json);
        let error = lift_at("error", &error).unwrap_or_else(|e| e);
        portplan_core::render_plan_error(&error, format)
    }
}

/// wit-bindgen's export glue is `unsafe` (`export_name` functions); it is the
/// one place this crate allows it.
#[allow(unsafe_code)]
mod exports {
    use super::Portplan;
    crate::bindings::export!(Portplan with_types_in crate::bindings);
}
