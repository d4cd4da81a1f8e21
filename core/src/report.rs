//! Report assembly: a resolved deployment and its findings into the
//! [`Report`] the WIT's `validate-plan` and `check-host` return.

use crate::decode::quote;
use crate::deployment::{DeployedHost, Deployment, Placed};
use crate::model::{
    Finding, FirewallRule, HostObservation, HostPorts, Observation, Phase, Plan, PlanError,
    PortEntry, Report, Severity, Summary,
};
use crate::{resolve, rules, sources};

/// Run every rule over a plan and its pasted observations.
pub(crate) fn validate_plan(plan: &Plan) -> Result<Report, PlanError> {
    let deployment = resolve::resolve(plan)?;
    let findings = rules::check(&deployment);
    let hosts: Vec<HostPorts> = deployment
        .hosts
        .iter()
        .map(|host| HostPorts {
            host: host.name.clone(),
            address: host.address_text.clone(),
            ports: host
                .placed
                .iter()
                .map(|placed| port_entry(&deployment, host, placed))
                .collect(),
        })
        .collect();
    let rules = desired_rules(&hosts);
    Ok(Report {
        plan: deployment.name,
        summary: summarize(&findings),
        findings,
        hosts,
        rules,
    })
}

/// One row of a host's port table, with who reaches it.
fn port_entry(deployment: &Deployment, host: &DeployedHost, placed: &Placed) -> PortEntry {
    let reach = sources::reach(deployment, host, placed);
    let purpose = purpose(placed, &reach);
    PortEntry {
        spec: placed.spec.id.clone(),
        component: placed.spec.component.clone(),
        ports: placed.ports,
        transport: placed.spec.transport,
        protocol: placed.spec.protocol.clone(),
        allocation: placed.spec.allocation,
        exposure: placed.spec.exposure,
        sources: reach.nets.iter().map(ToString::to_string).collect(),
        source_hosts: reach.hosts,
        source_networks: reach.networks,
        purpose,
        overridden: placed.overridden,
    }
}

/// The spec's purpose; when an exclusive network fronts the port, the sheet
/// also says whom it stands in for, so the network team sees why the
/// accessors are missing.
fn purpose(placed: &Placed, reach: &sources::Reach) -> String {
    if reach.fronted.is_empty() {
        return placed.spec.purpose.clone();
    }
    format!(
        "{} Admitted only through network {}, instead of {}.",
        placed.spec.purpose,
        reach.networks.join(", "),
        reach.fronted.join(", ")
    )
}

/// A desired rule is a port table row that admits someone: derived, not recomputed.
fn desired_rules(hosts: &[HostPorts]) -> Vec<FirewallRule> {
    hosts
        .iter()
        .flat_map(|host| {
            host.ports
                .iter()
                .filter(|entry| !entry.sources.is_empty())
                .map(|entry| FirewallRule {
                    host: host.host.clone(),
                    spec: entry.spec.clone(),
                    tag: sources::tag(&entry.spec),
                    transport: entry.transport,
                    ports: entry.ports,
                    sources: entry.sources.clone(),
                    purpose: entry.purpose.clone(),
                })
        })
        .collect()
}

/// Check one host of a plan against what was observed on it.
///
/// The report holds that host's findings, port table and rules, and the
/// plan-wide findings (which concern every host).
pub(crate) fn check_host(
    plan: &Plan,
    host: &str,
    phase: Phase,
    observation: &Observation,
) -> Result<Report, PlanError> {
    if !plan.hosts.iter().any(|h| h.name == host) {
        // Plan text, so quoted: escaped and capped like every echoed value.
        let known: Vec<String> = plan.hosts.iter().take(20).map(|h| quote(&h.name)).collect();
        let more = plan.hosts.len().saturating_sub(known.len());
        let more = if more > 0 {
            format!(" ... ({more} more)")
        } else {
            String::new()
        };
        return Err(PlanError::single(
            "host",
            quote(host),
            format!("not a host of the plan; hosts: {}{more}", known.join(", ")),
        ));
    }
    resolve::check_observation_error(observation)?;
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

fn summarize(findings: &[Finding]) -> Summary {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count() as u32;
    Summary {
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        infos: count(Severity::Info),
    }
}
