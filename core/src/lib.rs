//! portplan-core: the rules of portplan, as pure functions of their inputs.
//!
//! What it is: the built-in catalog of vendor port tables, the plan model (the
//! Rust side of `wit/portplan.wit`, one type per WIT type), the validation
//! rules, desired firewall rules, the firewall backends' state parsing, diff
//! and exact commands, and renderings of the report. The functions
//! at the crate root are the WIT world's exports, one for one.
//!
//! What it is not: it never reads a file, a socket, a clock, the environment
//! or a random number, and runs no command. Facts about a host come in as an
//! [`model::Observation`]; shells (the `portplan` binary and Ansible module,
//! the WebAssembly plugins, the page) gather them and act on the answer. That
//! is what lets every artifact give byte-identical reports for the same input.

pub mod backends;
pub mod catalog;
pub mod firewall;
pub mod model;
mod plan;
pub mod render;
pub mod rules;

use model::{
    FirewallBackend, FirewallChange, FirewallOutput, FirewallRule, FirewallState, HostObservation,
    Observation, Phase, Plan, PlanError, Profile, Report, ReportFormat, Severity, Summary,
};

pub use plan::{parse_json, parse_plan};

/// Every built-in profile (WIT `catalog`).
pub fn catalog() -> Vec<Profile> {
    catalog::profiles()
}

/// One built-in profile (WIT `get-profile`).
pub fn get_profile(name: &str) -> Result<Profile, PlanError> {
    catalog::profile(name)
}

/// Run every rule over a plan and its pasted observations (WIT `validate-plan`).
pub fn validate_plan(plan: &Plan) -> Result<Report, PlanError> {
    let deployment = plan::resolve(plan)?;
    let findings = rules::check(&deployment);
    let hosts: Vec<model::HostPorts> = deployment
        .hosts
        .iter()
        .map(|host| model::HostPorts {
            host: host.name.clone(),
            address: host.address_text.clone(),
            ports: host
                .placed
                .iter()
                .map(|placed| model::PortEntry {
                    spec: placed.spec.id.clone(),
                    component: placed.spec.component.clone(),
                    ports: placed.ports,
                    transport: placed.spec.transport,
                    protocol: placed.spec.protocol.clone(),
                    allocation: placed.spec.allocation,
                    exposure: placed.spec.exposure,
                    sources: firewall::sources(&deployment, host, placed)
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    purpose: placed.spec.purpose.clone(),
                    overridden: placed.overridden,
                })
                .collect(),
        })
        .collect();
    // A desired rule is a port table row that admits someone: derived, not recomputed.
    let rules = hosts
        .iter()
        .flat_map(|host| {
            host.ports
                .iter()
                .filter(|entry| !entry.sources.is_empty())
                .map(|entry| FirewallRule {
                    host: host.host.clone(),
                    spec: entry.spec.clone(),
                    tag: firewall::tag(&entry.spec),
                    transport: entry.transport,
                    ports: entry.ports,
                    sources: entry.sources.clone(),
                    purpose: entry.purpose.clone(),
                })
        })
        .collect();
    Ok(Report {
        plan: deployment.name,
        summary: summarize(&findings),
        findings,
        hosts,
        rules,
    })
}

/// Check one host of a plan against what was observed on it (WIT `check-host`).
///
/// The report holds that host's findings, port table and rules, and the
/// plan-wide findings (which concern every host).
pub fn check_host(
    plan: &Plan,
    host: &str,
    phase: Phase,
    observation: &Observation,
) -> Result<Report, PlanError> {
    if !plan.hosts.iter().any(|h| h.name == host) {
        let known = plan
            .hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PlanError::single(
            "host",
            host,
            format!("not a host of the plan; hosts: {known}"),
        ));
    }
    plan::check_observation_error(observation)?;
    let mut plan = plan.clone();
    plan.observations.retain(|o| o.host != host);
    plan.observations.push(HostObservation {
        host: host.to_string(),
        phase,
        observation: observation.clone(),
    });
    let mut report = validate_plan(&plan)?;
    report
        .findings
        .retain(|f| f.host.as_deref().is_none_or(|h| h == host));
    report.hosts.retain(|h| h.host == host);
    report.rules.retain(|r| r.host == host);
    report.summary = summarize(&report.findings);
    Ok(report)
}

/// Render a report (WIT `render-report`).
pub fn render_report(report: &Report, format: ReportFormat) -> String {
    render::report(report, format)
}

/// Render a rejection (WIT `render-plan-error`): JSON, or for every text
/// format one `path: message (value: ...)` line per problem.
pub fn render_plan_error(error: &PlanError, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => render::json(error),
        ReportFormat::Table | ReportFormat::Markdown | ReportFormat::Csv => format!("{error}\n"),
    }
}

/// Read a firewall backend's state from its own output (WIT `read-firewall`).
pub fn read_firewall(
    backend: FirewallBackend,
    output: &FirewallOutput,
) -> Result<FirewallState, PlanError> {
    backends::read_firewall(backend, output)
}

/// The change that takes `state` to exactly `rules` (WIT `plan-firewall`).
pub fn plan_firewall(
    rules: &[FirewallRule],
    state: &FirewallState,
    remove_all: bool,
) -> Result<FirewallChange, PlanError> {
    backends::plan_firewall(rules, state, remove_all)
}

fn summarize(findings: &[model::Finding]) -> Summary {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count() as u32;
    Summary {
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        infos: count(Severity::Info),
    }
}
