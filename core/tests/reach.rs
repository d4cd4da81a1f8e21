//! The reachability probe's pure half: the expected access matrix of a plan
//! per source, and the truth table from results (issue: "prove who can reach
//! whom"). The IO half is tested between network namespaces in
//! tests/ansible/test_reach.py.

#![allow(clippy::unwrap_used)]
// Tests sort with std: the one-sort rule (core/clippy.toml) is for the plugins' code.
#![allow(clippy::disallowed_methods)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use portplan_core::{
    Expectation, FindingCode, Phase, Plan, ProbeOutcome, ProbePlan, ProbeResult, ProbeResults,
    ProbeSource, ReportFormat, ServeStatus, TruthTable, Verdict,
};
use serde_json::json;
use support::*;

fn ocp() -> Plan {
    plan(json!({
        "name": "reach", "profiles": ["ocp"],
        "hosts": [
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"] },
            { "name": "obs2", "address": "198.18.0.12", "components": ["observer", "ocp-agent"] },
            { "name": "proxy1", "address": "198.18.0.20", "components": ["obproxy", "ocp-agent"] }
        ],
        "networks": [
            { "name": "application", "cidrs": ["198.18.50.0/24"] },
            { "name": "ocp-console", "cidrs": ["198.18.60.0/24"] }
        ]
    }))
}

fn host(name: &str) -> ProbeSource {
    ProbeSource::Host(name.into())
}

fn probes(plan: &Plan, source: &ProbeSource) -> ProbePlan {
    portplan_core::probe_plan(plan, source, Phase::Preinstall).unwrap()
}

/// Every result as the plan expects: allow connects, deny times out.
fn as_planned(probes: &ProbePlan) -> ProbeResults {
    results(probes, |t| match t.expect {
        Expectation::Allow => ProbeOutcome::Connected,
        Expectation::Deny => ProbeOutcome::Timeout,
    })
}

fn results(
    probes: &ProbePlan,
    outcome: impl Fn(&portplan_core::ProbeTarget) -> ProbeOutcome,
) -> ProbeResults {
    ProbeResults {
        plan: probes.plan.clone(),
        source: probes.source.clone(),
        phase: probes.phase,
        results: probes
            .targets
            .iter()
            .map(|t| ProbeResult {
                destination: t.destination.clone(),
                spec: t.spec.clone(),
                port: t.port,
                transport: t.transport,
                outcome: outcome(t),
                detail: String::new(),
                elapsed_ms: 1,
            })
            .collect(),
    }
}

/// As-planned results from every source of the plan: its hosts, its client
/// networks, an outsider.
fn every_source(plan: &Plan) -> Vec<ProbeResults> {
    plan.hosts
        .iter()
        .map(|h| host(&h.name))
        .chain(
            plan.networks
                .iter()
                .map(|n| ProbeSource::Network(n.name.clone())),
        )
        .chain([ProbeSource::Outsider])
        .map(|source| as_planned(&probes(plan, &source)))
        .collect()
}

fn table(plan: &Plan, probed: &[ProbeResults]) -> TruthTable {
    portplan_core::reach_report(plan, &[], probed).unwrap()
}

/// The expectation is the firewall rule's: a host source is expected through
/// exactly where the report's rule admits its address, and tries a port it
/// must not reach only when it is that port's one chosen negative prober.
#[test]
fn allow_targets_are_exactly_the_rules_sources() {
    for (name, path, _) in corpus() {
        let Ok(plan) = portplan_core::parse_plan(&std::fs::read_to_string(path).unwrap()) else {
            continue;
        };
        let Ok(report) = portplan_core::validate_plan(&plan) else {
            continue;
        };
        let mut deny_probers: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for source in &plan.hosts {
            let me: std::net::IpAddr = source.address.parse().unwrap();
            let probes = probes(&plan, &host(&source.name));
            for t in &probes.targets {
                let entry = report
                    .hosts
                    .iter()
                    .find(|h| h.host == t.destination)
                    .and_then(|h| h.ports.iter().find(|p| p.spec == t.spec))
                    .unwrap();
                let admitted = admits(&report, entry, me);
                assert_eq!(
                    t.expect == Expectation::Allow,
                    admitted,
                    "{name}: {} -> {} {}",
                    source.name,
                    t.destination,
                    t.spec
                );
                assert!(entry.ports.first <= t.port && t.port <= entry.ports.last);
                if t.expect == Expectation::Deny {
                    deny_probers
                        .entry((t.destination.clone(), t.spec.clone()))
                        .or_default()
                        .push(source.name.clone());
                }
            }
            // Every admitted (destination, spec) is tried.
            for h in report.hosts.iter().filter(|h| h.host != source.name) {
                for p in h.ports.iter().filter(|p| admits(&report, p, me)) {
                    assert!(
                        probes
                            .targets
                            .iter()
                            .any(|t| t.destination == h.host && t.spec == p.spec),
                        "{name}: {} never tries {} {}",
                        source.name,
                        h.host,
                        p.spec
                    );
                }
            }
        }
        // One negative prober per port that some other plan host may not reach.
        for h in &report.hosts {
            for p in h
                .ports
                .iter()
                .filter(|p| p.exposure != portplan_core::Exposure::Loopback)
            {
                let outside = plan
                    .hosts
                    .iter()
                    .any(|o| o.name != h.host && !admits(&report, p, o.address.parse().unwrap()));
                let probers: BTreeSet<_> = deny_probers
                    .get(&(h.host.clone(), p.spec.clone()))
                    .into_iter()
                    .flatten()
                    .collect();
                assert_eq!(
                    probers.len(),
                    usize::from(outside),
                    "{name}: {} {}",
                    h.host,
                    p.spec
                );
            }
        }
    }
}

fn corpus() -> Vec<(String, std::path::PathBuf, std::path::PathBuf)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
    let mut cases: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".plan.json")?
                .to_string();
            Some((name, path.clone(), path))
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 10);
    cases
}

/// A pool is probed at its first and last port and three inside, and the
/// probe plan says so; the responder answers on the same ports.
#[test]
fn pools_are_sampled_and_the_sample_is_stated() {
    let plan = ocp();
    let from_ocp = probes(&plan, &host("ocp1"));
    let pool: Vec<u16> = from_ocp
        .targets
        .iter()
        .filter(|t| t.destination == "obs1" && t.spec == "ocp-agent.metrics")
        .map(|t| t.port)
        .collect();
    assert_eq!(pool, [62881, 63131, 63381, 63631, 63881]);
    assert!(
        from_ocp
            .sampling
            .iter()
            .any(|s| s == "ocp-agent.metrics on obs1: 62881-63881 (1001 ports) probed at 62881, 63131, 63381, 63631, 63881"),
        "{:#?}",
        from_ocp.sampling
    );
    let listen: Vec<u16> = probes(&plan, &host("obs1"))
        .listen
        .iter()
        .filter(|l| l.spec == "ocp-agent.metrics")
        .map(|l| l.port)
        .collect();
    assert_eq!(listen, pool);
}

/// Loopback ports are never answered on nor probed; a host never probes itself.
#[test]
fn loopback_ports_and_the_source_itself_are_left_out() {
    let plan = ocp();
    let report = portplan_core::validate_plan(&plan).unwrap();
    let loopback: BTreeSet<&str> = report
        .hosts
        .iter()
        .flat_map(|h| &h.ports)
        .filter(|p| p.exposure == portplan_core::Exposure::Loopback)
        .map(|p| p.spec.as_str())
        .collect();
    for h in &plan.hosts {
        let p = probes(&plan, &host(&h.name));
        assert!(p.targets.iter().all(|t| t.destination != h.name));
        assert!(
            p.targets
                .iter()
                .all(|t| !loopback.contains(t.spec.as_str()))
        );
        assert!(p.listen.iter().all(|l| !loopback.contains(l.spec.as_str())));
    }
}

/// A client network is expected through where the rule names it; the
/// outsider only where a rule admits everyone of the family.
#[test]
fn networks_and_the_outsider_follow_the_rules() {
    let plan = ocp();
    let app = probes(&plan, &ProbeSource::Network("application".into()));
    let allowed: BTreeSet<&str> = app
        .targets
        .iter()
        .filter(|t| t.expect == Expectation::Allow)
        .map(|t| t.spec.as_str())
        .collect();
    assert_eq!(allowed, BTreeSet::from(["observer.sql", "obproxy.sql"]));
    assert!(app.listen.is_empty());
    let outsider = probes(&plan, &ProbeSource::Outsider);
    assert!(
        outsider
            .targets
            .iter()
            .all(|t| t.expect == Expectation::Deny)
    );
    assert_eq!(
        outsider.targets.len(),
        app.targets.len(),
        "a network and the outsider try every network-facing port"
    );

    let mut open = ocp();
    open.networks[1].cidrs = vec!["0.0.0.0/0".into()];
    let outsider = probes(&open, &ProbeSource::Outsider);
    let allowed: BTreeSet<&str> = outsider
        .targets
        .iter()
        .filter(|t| t.expect == Expectation::Allow)
        .map(|t| t.spec.as_str())
        .collect();
    assert_eq!(allowed, BTreeSet::from(["ocp-server.http"]));
}

/// A client network holding a plan host's own address is expected through
/// that host's ports wherever the host's rule admits it: a rule admits its
/// own host too (issue 16's decision), so the firewall lets the network's
/// machine in, and the probe plan says so (before that decision, the host's
/// own address was cut out and a deny was expected).
#[test]
fn a_network_holding_a_hosts_own_address_is_admitted_as_its_rule_admits_it() {
    let mut plan = ocp();
    plan.networks[0].cidrs = vec!["198.18.0.12/32".into()];
    let app = probes(&plan, &ProbeSource::Network("application".into()));
    let expect = |destination: &str, spec: &str| {
        app.targets
            .iter()
            .find(|t| t.destination == destination && t.spec == spec)
            .map(|t| t.expect)
            .unwrap()
    };
    assert_eq!(expect("obs2", "observer.rpc"), Expectation::Allow);
    assert_eq!(expect("obs1", "observer.rpc"), Expectation::Allow);
    let report = portplan_core::validate_plan(&plan).unwrap();
    let rules = portplan_core::firewall_rules(&report, Some("obs2")).unwrap();
    let rpc = rules.iter().find(|r| r.spec == "observer.rpc").unwrap();
    let own: std::net::IpAddr = "198.18.0.12".parse().unwrap();
    assert!(
        rpc.sources
            .iter()
            .any(|s| s.parse::<ipnet::IpNet>().is_ok_and(|n| n.contains(&own))),
        "{:?}",
        rpc.sources
    );
}

#[test]
fn all_as_planned_is_all_green() {
    let plan = ocp();
    let t = table(&plan, &every_source(&plan));
    assert!(t.summary.rows > 0);
    assert_eq!(t.summary.as_expected, t.summary.rows, "{t:#?}");
    assert!(t.findings.is_empty());
    let text = portplan_core::render_truth_table(&t, ReportFormat::Table);
    assert!(text.contains("0 mismatches"), "{text}");
}

/// A timeout on one allowed port is `unreachable` naming the kind; a
/// connection where the plan denies is `overexposed`. Nothing else changes.
#[test]
fn mismatches_are_named_by_kind() {
    let plan = ocp();
    let mut probed = every_source(&plan);
    for r in &mut probed {
        for x in &mut r.results {
            if r.source == host("obs1") && x.destination == "ocp1" && x.spec == "ocp-server.http" {
                x.outcome = ProbeOutcome::Timeout;
            }
            if r.source == host("ocp1") && x.destination == "obs2" && x.spec == "observer.sql" {
                x.outcome = ProbeOutcome::Refused;
            }
        }
    }
    let deny = probed
        .iter()
        .flat_map(|r| r.results.iter().map(move |x| (r, x)))
        .find(|(r, x)| {
            let t = probes(&plan, &r.source);
            t.targets.iter().any(|t| {
                t.destination == x.destination && t.port == x.port && t.expect == Expectation::Deny
            })
        })
        .map(|(r, x)| (r.source.clone(), x.destination.clone(), x.port))
        .expect("the plan has a deny probe");
    for r in &mut probed {
        for x in &mut r.results {
            if (r.source.clone(), x.destination.clone(), x.port) == deny {
                x.outcome = ProbeOutcome::Connected;
            }
        }
    }
    let t = table(&plan, &probed);
    assert_eq!(t.summary.mismatches, 3, "{:#?}", t.findings);
    let unreachable: Vec<_> = t
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::Unreachable)
        .collect();
    assert_eq!(unreachable.len(), 2);
    assert!(
        unreachable
            .iter()
            .any(|f| f.message.contains("timed out: dropped on the path"))
    );
    assert!(
        unreachable
            .iter()
            .any(|f| f.message.contains("refused: nothing answers"))
    );
    let over: Vec<_> = t
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::Overexposed)
        .collect();
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].host.as_deref(), Some(deny.1.as_str()));
    let text = portplan_core::render_truth_table(&t, ReportFormat::Table);
    assert!(text.contains("1 bad"), "{text}");
}

/// A port held before install is reported as held: a failed or foreign
/// answer there is unknown, not unreachable.
#[test]
fn a_held_port_is_not_unreachable() {
    let plan = ocp();
    let mut probed = every_source(&plan);
    for r in &mut probed {
        for x in &mut r.results {
            if x.destination == "obs1"
                && x.spec == "observer.sql"
                && x.outcome == ProbeOutcome::Connected
            {
                x.outcome = ProbeOutcome::WrongResponder;
            }
        }
    }
    let served = ServeStatus {
        plan: "reach".into(),
        host: "obs1".into(),
        listening: vec![],
        held: vec![portplan_core::ListenPort {
            spec: "observer.sql".into(),
            port: 2881,
            transport: portplan_core::Transport::Tcp,
        }],
    };
    let t = portplan_core::reach_report(&plan, &[served], &probed).unwrap();
    assert_eq!(t.summary.mismatches, 0, "{:#?}", t.findings);
    let held: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Unknown)
        .collect();
    assert!(!held.is_empty());
    assert!(
        held.iter()
            .all(|r| r.detail.starts_with("held by another process"))
    );
    // Explained, and measured again after install: the round still passes.
    assert!(t.proven());
}

/// Results the plan does not ask for, twice-given sources or targets, or
/// another plan's results are rejected with the path, never judged.
#[test]
fn foreign_results_are_rejected() {
    let plan = ocp();
    let good = as_planned(&probes(&plan, &host("obs1")));

    let mut extra = good.clone();
    let mut x = extra.results[0].clone();
    x.port = 1;
    extra.results.push(x);
    let e = portplan_core::reach_report(&plan, &[], &[extra]).unwrap_err();
    assert_eq!(e.problems[0].path, "probed[0].results");

    // The first result, in input order, that repeats an earlier target is
    // named, whichever target sorts first.
    let n = good.results.len();
    assert!(n > 2);
    for (first, second) in [(n - 1, 0), (0, n - 1)] {
        let mut twice = good.clone();
        twice.results.push(twice.results[first].clone());
        twice.results.push(twice.results[second].clone());
        let e = portplan_core::reach_report(&plan, &[], &[twice]).unwrap_err();
        assert_eq!(e.problems[0].path, format!("probed[0].results[{n}]"), "{e}");
    }

    let e = portplan_core::reach_report(&plan, &[], &[good.clone(), good.clone()]).unwrap_err();
    assert_eq!(e.problems[0].path, "probed[1].source");

    let mut other = good.clone();
    other.plan = "other".into();
    let e = portplan_core::reach_report(&plan, &[], &[other]).unwrap_err();
    assert_eq!(e.problems[0].path, "probed[0].plan");

    let e = portplan_core::probe_plan(&plan, &host("nobody"), Phase::Preinstall).unwrap_err();
    assert_eq!(e.problems[0].path, "source");
    let e = portplan_core::probe_plan(
        &plan,
        &ProbeSource::Network("admin".into()),
        Phase::Preinstall,
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "source");
}

/// A target a source never measured is unknown, not as expected.
#[test]
fn unprobed_targets_are_unknown() {
    let plan = ocp();
    let mut probed = every_source(&plan);
    assert!(table(&plan, &probed).proven());
    probed[0].results.pop();
    let t = table(&plan, &probed);
    assert_eq!(t.summary.unknown, 1);
    assert_eq!(t.summary.mismatches, 0);
    assert_eq!(t.unmeasured(), 1);
    assert!(!t.proven());
}

/// A round where the probes failed on their source measured nothing: not
/// proven, though nothing mismatched. A source that sent no results at all
/// is listed, its rows unknown.
#[test]
fn what_was_not_measured_is_not_proven() {
    let plan = ocp();
    let mut failed = every_source(&plan);
    for r in failed.iter_mut().flat_map(|p| p.results.iter_mut()) {
        r.outcome = ProbeOutcome::Error;
    }
    let t = table(&plan, &failed);
    assert_eq!((t.summary.mismatches, t.summary.as_expected), (0, 0));
    assert_eq!(t.unmeasured(), t.summary.rows);
    assert!(!t.proven());

    let mut without_outsider = every_source(&plan);
    let outsider = without_outsider.pop().unwrap();
    assert_eq!(outsider.source, ProbeSource::Outsider);
    let t = table(&plan, &without_outsider);
    let missing: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r.source == ProbeSource::Outsider)
        .collect();
    assert_eq!(missing.len(), outsider.results.len());
    assert!(missing.iter().all(|r| r.verdict == Verdict::Unknown
        && r.outcome.is_none()
        && r.detail == "not probed: no results from this source"));
    // Said, not failed: a round may have no outsider or client machine.
    assert_eq!(t.unmeasured(), 0);
    assert_eq!(t.unprobed_sources(), [&ProbeSource::Outsider]);
    assert!(t.proven());
    // Rows stay by source: the missing source's come where it sorts.
    let sources: Vec<_> = t.rows.iter().map(|r| &r.source).collect();
    assert!(sources.windows(2).all(|w| w[0] <= w[1]));
}

/// Same input, same bytes, in every rendering.
#[test]
fn renderings_are_deterministic() {
    let plan = ocp();
    for format in [
        ReportFormat::Json,
        ReportFormat::Table,
        ReportFormat::Markdown,
        ReportFormat::Csv,
    ] {
        let a = portplan_core::render_truth_table(&table(&plan, &every_source(&plan)), format);
        let b = portplan_core::render_truth_table(&table(&plan, &every_source(&plan)), format);
        assert_eq!(a, b);
    }
}

/// Whether the rule of a port table row admits `me`, by its source group.
fn admits(
    report: &portplan_core::Report,
    entry: &portplan_core::PortEntry,
    me: std::net::IpAddr,
) -> bool {
    let Some(name) = &entry.group else {
        return false;
    };
    let group = report
        .source_groups
        .iter()
        .find(|g| &g.name == name)
        .unwrap();
    group
        .sources
        .iter()
        .any(|s| s.parse::<ipnet::IpNet>().unwrap().contains(&me))
}
