//! Report assembly: a resolved deployment and its findings into the
//! [`Report`] the WIT's `validate-plan` and `check-host` return.

use crate::list::List;
use crate::table::Map;
use std::cell::RefCell;
use std::sync::Arc;

use serde_json::Value;

use crate::decode::{self, quote};
use crate::deployment::{Deployment, HostId, Placed};
use crate::model::{
    Exposure, Finding, FirewallRule, HostObservation, HostPorts, Observation, Phase, Plan,
    PlanError, PortEntry, Report, Severity, SourceGroup, Summary,
};
use crate::sources::{self, GroupId, Sources, by_group};
use crate::{limits, resolve, rules};

/// Run every rule over a plan and its pasted observations.
pub(crate) fn validate_plan(plan: &Plan) -> Result<Report, PlanError> {
    let deployment = checked(plan)?;
    let ids: Vec<HostId> = deployment.ids().list();
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
/// rules or building the report: the Ansible module's up-front check. The
/// answer keeps the plan resolved, so the run's [`CheckedPlan::check_host`]
/// calls do not resolve it again.
pub fn check_plan(plan: &Plan) -> Result<CheckedPlan, PlanError> {
    checked(plan).map(|deployment| CheckedPlan {
        deployment: RefCell::new(deployment),
    })
}

/// A plan from a JSON value a shell has already read (the Ansible module's
/// args file holds the plan as a member): `parse-plan` of the value's text,
/// with the same input limits, paths and problems, without writing the text
/// and reading it again. Repeated keys cannot be noted (the value no longer
/// holds them).
pub fn parse_plan_value(value: &Value) -> Result<Plan, PlanError> {
    let (bytes, depth) = decode::json_size(value);
    if bytes > limits::PLAN_BYTES || depth > limits::DEPTH {
        // Past a limit: the text's own check names it, exactly as for text.
        limits::check_text(&value.to_string())?;
    }
    let plan = decode::parse_value(value)?;
    limits::check_plan(&plan)?;
    Ok(plan)
}

/// A plan within the input limits, resolved once ([`check_plan`]): each
/// [`CheckedPlan::check_host`] replaces one host's observation in the
/// resolved deployment instead of resolving the whole plan again, so a run
/// on one host of a large plan resolves it once however often it checks the
/// host (the module: the run, `reserve_ports`, each `wait_timeout` re-read).
#[derive(Debug)]
pub struct CheckedPlan {
    /// Interior: a check sets the checked host's observation.
    deployment: RefCell<Deployment>,
}

impl CheckedPlan {
    /// `check-host` of the plan this was checked from: the same report, and
    /// the same problems in the same order, as [`crate::check_host`].
    pub fn check_host(
        &self,
        host: &str,
        phase: Phase,
        observation: &Observation,
    ) -> Result<Report, PlanError> {
        let mut deployment = self.deployment.borrow_mut();
        let Some(id) = deployment.host_id(host) else {
            let names = deployment.hosts.iter().map(|h| h.name.as_str());
            return Err(not_a_host(host, "plan", names, deployment.hosts.len()));
        };
        resolve::check_observation_error(observation)?;
        // The one limit an observation can pass: every host's listeners.
        let others = |h: &&crate::deployment::DeployedHost| h.name != host;
        let listeners: usize = deployment
            .hosts
            .iter()
            .filter(others)
            .filter_map(|h| h.observation.as_ref())
            .map(|o| o.observation.listeners.len())
            .sum();
        let replaced = HostObservation {
            host: host.to_string(),
            phase,
            observation: observation.clone(),
        };
        if listeners + observation.listeners.len() > limits::LISTENERS {
            // The plan's own check names the limit and the count.
            let mut observations: Vec<HostObservation> = deployment
                .hosts
                .iter()
                .filter(others)
                .filter_map(|h| h.observation.as_deref().cloned())
                .list();
            observations.push(replaced.clone());
            limits::check_plan(&Plan {
                name: deployment.name.clone(),
                profiles: Vec::new(),
                deploy_user: None,
                hosts: Vec::new(),
                networks: Vec::new(),
                overrides: Vec::new(),
                enable: Vec::new(),
                custom_profiles: Vec::new(),
                observations,
            })?;
        }
        // The plan's own observation of the host comes back afterwards, so
        // every check starts from the plan as it was checked.
        let planned = deployment.hosts[id.index()]
            .observation
            .replace(Box::new(replaced));
        let report = host_report(&deployment, &[id], host);
        deployment.hosts[id.index()].observation = planned;
        report
    }
}

/// The report on the hosts `ids` of `deployment`, with the plan-wide findings.
fn report(deployment: &Deployment, ids: &[HostId]) -> Result<Report, PlanError> {
    let placed = |&id: &HostId| deployment.host(id).placed.iter().map(move |p| (id, p));
    let sources = Sources::new(deployment, ids.iter().flat_map(placed).map(|(_, p)| p));
    // The report's size is known before it is built: refuse, do not exhaust memory.
    let mut listed: Vec<Option<usize>> = Vec::new();
    for (id, p) in ids.iter().flat_map(placed) {
        if let Some(group) = sources.group_of(id, p) {
            by_group(&mut listed, group).get_or_insert_with(|| sources.count(p));
        }
    }
    limits::check_report(listed.iter().flatten().sum())?;
    let findings = rules::check(deployment, &sources, ids);
    let mut named = Named::default();
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
                    .map(|placed| port_entry(&sources, &mut named, id, placed))
                    .list(),
            }
        })
        .list();
    Ok(Report {
        plan: deployment.name.clone(),
        summary: summarize(&findings),
        findings,
        hosts,
        source_groups: named.groups,
    })
}

/// The source groups a report's rows have named so far, each listed once.
#[derive(Default)]
struct Named {
    /// By group: whether it is in `groups`.
    seen: Vec<bool>,
    groups: Vec<SourceGroup>,
}

/// One row of a host's port table, with who reaches it; the group it names
/// joins `named` the first time.
fn port_entry(sources: &Sources, named: &mut Named, id: HostId, placed: &Placed) -> PortEntry {
    let purpose = purpose(placed, sources.fronted(id, placed).as_ref());
    let group = sources.group_of(id, placed);
    let first = |g: &GroupId| !std::mem::replace(by_group(&mut named.seen, *g), true);
    if let Some(group) = group.filter(first) {
        named.groups.extend(sources.source_group(placed));
        debug_assert_eq!(named.groups.last().map(|g| &g.name), Some(&group.name()));
    }
    PortEntry {
        spec: placed.spec.id.clone(),
        component: placed.spec.component.clone(),
        ports: placed.ports,
        transport: placed.spec.transport,
        protocol: placed.spec.protocol.clone(),
        allocation: placed.spec.allocation,
        exposure: placed.spec.exposure,
        group: group.map(GroupId::name),
        purpose,
        overridden: placed.overridden,
    }
}

/// The spec's purpose; when an exclusive network fronts the port, the sheet
/// also says whom it stands in for, so the network team sees why the
/// accessors are missing.
fn purpose(placed: &Placed, fronted: Option<&sources::Reach>) -> String {
    let Some(reach) = fronted.filter(|r| !r.fronted.is_empty()) else {
        return placed.spec.purpose.clone();
    };
    format!(
        "{} Admitted only through network {}, instead of {}.",
        placed.spec.purpose,
        reach.networks.join(", "),
        reach.fronted.join(", ")
    )
}

/// The rules the firewall of `host` should hold (of every host of the
/// report, in its order, when `None`): each port table row that names a
/// source group, admitting exactly the group's sources. A group named twice,
/// a row naming a group the report does not list or one without sources, a
/// loopback row naming a group, an unknown host, or more sources in all than
/// [`limits::LISTED_SOURCES`] is an error naming where: never a rule that
/// admits nobody (or, to a tool that reads it so, everybody).
pub(crate) fn firewall_rules<'r>(
    report: &'r Report,
    host: Option<&str>,
) -> Result<Vec<FirewallRule>, PlanError> {
    let groups = groups_by_name(report)?;
    if let Some(host) = host.filter(|h| !report.hosts.iter().any(|p| p.host == *h)) {
        let names = report.hosts.iter().map(|h| h.host.as_str());
        return Err(not_a_host(host, "report", names, report.hosts.len()));
    }
    let mut named = Vec::new();
    for (i, ports) in report.hosts.iter().enumerate() {
        if host.is_some_and(|h| h != ports.host) {
            continue;
        }
        for (j, entry) in ports.ports.iter().enumerate() {
            if let Some(group) = named_group(&groups, entry, (i, j))? {
                named.push((&ports.host, entry, group));
            }
        }
    }
    limits::check_listed(named.iter().map(|(_, _, g)| g.sources.len()).sum())?;
    // One copy of each group's sources, shared by the rules admitting it.
    let mut shared: Map<&str, Arc<[String]>> = Map::new();
    let mut rule = |(host, entry, group): (&String, &PortEntry, &'r SourceGroup)| FirewallRule {
        host: host.clone(),
        spec: entry.spec.clone(),
        tag: sources::tag(&entry.spec),
        transport: entry.transport,
        ports: entry.ports,
        sources: shared
            .get_or_insert_with(group.name.as_str(), || group.sources.as_slice().into())
            .clone(),
        purpose: entry.purpose.clone(),
    };
    Ok(named.into_iter().map(&mut rule).list())
}

/// A report's source groups by name; a name listed twice is an error.
fn groups_by_name(report: &Report) -> Result<Map<&str, &SourceGroup>, PlanError> {
    let mut groups = Map::new();
    for (i, group) in report.source_groups.iter().enumerate() {
        if groups.insert(group.name.as_str(), group).is_some() {
            let at = format!("report.source-groups[{i}].name");
            return Err(PlanError::single(at, quote(&group.name), "listed twice"));
        }
    }
    Ok(groups)
}

/// The group row `j` of host `i` names, if any: it must be listed, admit
/// someone, and belong to a port that leaves the host.
fn named_group<'r>(
    groups: &Map<&str, &'r SourceGroup>,
    entry: &PortEntry,
    (i, j): (usize, usize),
) -> Result<Option<&'r SourceGroup>, PlanError> {
    let Some(name) = &entry.group else {
        return Ok(None);
    };
    let at = format!("report.hosts[{i}].ports[{j}].group");
    let Some(group) = groups.get(name.as_str()).copied() else {
        return Err(PlanError::single(at, quote(name), "no such source group"));
    };
    if group.sources.is_empty() {
        let message = "the group lists no source, and a rule must admit someone";
        return Err(PlanError::single(at, quote(name), message));
    }
    if entry.exposure == Exposure::Loopback {
        let message = "a loopback port is never opened, so it names no group";
        return Err(PlanError::single(at, quote(name), message));
    }
    Ok(Some(group))
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
        let names = plan.hosts.iter().map(|h| h.name.as_str());
        return Err(not_a_host(host, "plan", names, plan.hosts.len()));
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
    let ids: Vec<HostId> = deployment.host_id(host).into_iter().list();
    host_report(&deployment, &ids, host)
}

/// The `host` error of a name that is not a host of the plan (or of the
/// report, `of`), listing the first 20 of its `count` host names.
fn not_a_host<'a>(
    host: &str,
    of: &str,
    names: impl Iterator<Item = &'a str>,
    count: usize,
) -> PlanError {
    // Plan text, so quoted: escaped and capped like every echoed value.
    let known: Vec<String> = names.take(20).map(quote).list();
    let more = count.saturating_sub(known.len());
    let more = if more > 0 {
        format!(" ... ({more} more)")
    } else {
        String::new()
    };
    PlanError::single(
        "host",
        quote(host),
        format!("not a host of the {of}; hosts: {}{more}", known.join(", ")),
    )
}

/// The report on one host of a resolved deployment: its rows and rules,
/// its findings and the plan-wide ones. Only this host's rows and rules are
/// built, so a run on one host costs the resolution of the plan, not every
/// host's port table.
fn host_report(deployment: &Deployment, ids: &[HostId], host: &str) -> Result<Report, PlanError> {
    let mut report = report(deployment, ids)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Listener;

    const PLANS: [&str; 4] = [
        include_str!("../../examples/plans/ocp-cluster.json"),
        include_str!("../../examples/plans/finedatalink-cluster.json"),
        include_str!("../../examples/plans/observed-preinstall.json"),
        include_str!("../../examples/plans/ephemeral-and-missing-component.json"),
    ];

    fn observation(port: u16) -> Observation {
        Observation {
            listeners: vec![Listener {
                transport: crate::model::Transport::Tcp,
                address: "0.0.0.0".into(),
                port,
                v6only: false,
                pid: Some(1),
                command: Some("x".into()),
            }],
            ..Observation::default()
        }
    }

    /// One resolution, any number of checks: the reports and the problems
    /// of `check-host` on the plan each time, in any order of hosts.
    #[test]
    fn a_checked_plan_answers_as_check_host() {
        for text in PLANS {
            let plan: Plan = crate::parse_plan(text).expect("valid");
            let checked = check_plan(&plan).expect("valid");
            for round in 0..2 {
                for host in plan.hosts.iter().rev() {
                    for phase in [Phase::Preinstall, Phase::Postinstall] {
                        for seen in [Observation::default(), observation(2881 + round)] {
                            assert_eq!(
                                checked.check_host(&host.name, phase, &seen),
                                check_host(&plan, &host.name, phase, &seen),
                                "{} {}",
                                plan.name,
                                host.name
                            );
                        }
                    }
                }
            }
            let bad = Observation {
                listeners: vec![Listener {
                    address: "not-an-address".into(),
                    ..observation(1).listeners[0].clone()
                }],
                ..Observation::default()
            };
            for (host, seen) in [
                ("nobody", Observation::default()),
                (&plan.hosts[0].name, bad),
            ] {
                let expected = check_host(&plan, host, Phase::Preinstall, &seen);
                assert!(expected.is_err());
                assert_eq!(checked.check_host(host, Phase::Preinstall, &seen), expected);
            }
        }
    }

    #[test]
    fn too_many_listeners_are_refused_as_check_host_refuses_them() {
        let plan: Plan = crate::parse_plan(PLANS[0]).expect("valid");
        let checked = check_plan(&plan).expect("valid");
        let many = Observation {
            listeners: vec![observation(1).listeners[0].clone(); limits::LISTENERS + 1],
            ..Observation::default()
        };
        let host = &plan.hosts[0].name;
        let expected = check_host(&plan, host, Phase::Preinstall, &many);
        assert!(expected.is_err());
        assert_eq!(checked.check_host(host, Phase::Preinstall, &many), expected);
    }
}
