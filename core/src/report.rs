//! Report assembly: a resolved deployment and its findings into the
//! [`Report`] the WIT's `validate-plan` and `check-host` return.

use crate::decode::quote;
use crate::deployment::{Deployment, HostId, Placed};
use crate::model::{
    Finding, FirewallRule, HostObservation, HostPorts, Observation, Phase, Plan, PlanError,
    PortEntry, Report, Severity, Summary,
};
use crate::sources::{self, Sources};
use crate::{limits, resolve, rules};

/// Run every rule over a plan and its pasted observations.
pub(crate) fn validate_plan(plan: &Plan) -> Result<Report, PlanError> {
    let deployment = checked(plan)?;
    let ids: Vec<HostId> = deployment.ids().collect();
    report(&deployment, &ids)
}

/// A plan within the input limits, resolved: what `validate-plan` and
/// `check-host` start from, and all a shell needs to know that a plan is
/// valid ([`check_plan`]).
fn checked(plan: &Plan) -> Result<Deployment, PlanError> {
    limits::check_plan(plan)?;
    resolve::resolve(plan)
}

/// Whether `plan` would be accepted by `validate-plan`, without running the
/// rules or building the report: the Ansible module's up-front check, so a
/// run resolves the plan without validating every host's port table twice.
pub fn check_plan(plan: &Plan) -> Result<(), PlanError> {
    checked(plan).map(|_| ())
}

/// The report on the hosts `ids` of `deployment`, with the plan-wide findings.
fn report(deployment: &Deployment, ids: &[HostId]) -> Result<Report, PlanError> {
    let placed = |&id: &HostId| deployment.host(id).placed.iter().map(move |p| (id, p));
    let sources = Sources::new(deployment, ids.iter().flat_map(placed).map(|(_, p)| p));
    // The report's size is known before it is built: refuse, do not exhaust memory.
    limits::check_report(
        ids.iter()
            .flat_map(placed)
            .map(|(id, p)| sources.count(id, p))
            .sum(),
    )?;
    let findings = rules::check(deployment, &sources, ids);
    let hosts: Vec<HostPorts> = ids
        .iter()
        .map(|&id| {
            let host = deployment.host(id);
            HostPorts {
                host: host.name.clone(),
                address: host.address_text.clone(),
                ports: host
                    .placed
                    .iter()
                    .map(|placed| port_entry(&sources, id, placed))
                    .collect(),
            }
        })
        .collect();
    let rules = desired_rules(&hosts);
    Ok(Report {
        plan: deployment.name.clone(),
        summary: summarize(&findings),
        findings,
        hosts,
        rules,
    })
}

/// One row of a host's port table, with who reaches it.
fn port_entry(sources: &Sources, id: HostId, placed: &Placed) -> PortEntry {
    let reach = sources.reach(id, placed);
    let purpose = purpose(placed, &reach);
    PortEntry {
        spec: placed.spec.id.clone(),
        component: placed.spec.component.clone(),
        ports: placed.ports,
        transport: placed.spec.transport,
        protocol: placed.spec.protocol.clone(),
        allocation: placed.spec.allocation,
        exposure: placed.spec.exposure,
        sources: sources.texts(id, placed),
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
    let deployment = checked(&plan)?;
    // Only this host's rows and rules are built, so a run on one host costs
    // the resolution of the plan, not every host's port table.
    let ids: Vec<HostId> = deployment.host_id(host).into_iter().collect();
    let mut report = report(&deployment, &ids)?;
    report
        .findings
        .retain(|f| f.host.as_deref().is_none_or(|h| h == host));
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
