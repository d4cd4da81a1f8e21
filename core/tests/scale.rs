//! Issue 16's semantics, pinned where the fast paths could drift from the
//! plain reading: who a rule admits (against a per-host reference that
//! rescans every host and aggregates without the host itself), `check-host`
//! against the whole plan's report, grouped port conflicts, input limits.

#![allow(clippy::unwrap_used)]
// Tests sort with std: the one-sort rule (core/clippy.toml) is for the plugins' code.
#![allow(clippy::disallowed_methods)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use portplan_core::{
    Accessor, FindingCode, Observation, Phase, Plan, PortSpec, Report, ReportFormat, Severity,
    shell,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const PROFILES: [&str; 3] = ["finedatalink-single", "fineops", "ocp"];

/// Every component and client network of [`PROFILES`].
fn catalog_names() -> (Vec<String>, Vec<String>) {
    let profiles: Vec<_> = PROFILES
        .iter()
        .map(|p| portplan_core::get_profile(p).unwrap())
        .collect();
    let components = profiles
        .iter()
        .flat_map(|p| &p.components)
        .map(|c| c.name.clone())
        .collect();
    let networks = profiles
        .iter()
        .flat_map(|p| &p.networks)
        .map(|n| n.name.clone())
        .collect();
    (components, networks)
}

/// An address among few, IPv4 or IPv6, so that hosts merge into CIDRs,
/// networks cover hosts, and both families mix.
fn address(n: u8) -> String {
    if n < 48 {
        format!("10.0.0.{n}")
    } else {
        format!("fd00::{:x}", n - 48)
    }
}

/// Valid plans over three profiles: random components per host on close
/// addresses, random client networks (sometimes exclusive) over the same
/// addresses.
fn plans() -> impl Strategy<Value = Value> {
    let (components, networks) = catalog_names();
    let host = (prop::sample::subsequence(components, 1..=4), 0u8..64);
    let network = (
        prop::sample::select(networks),
        prop::collection::vec((0u8..64, 0u8..=8), 1..3),
        any::<bool>(),
    );
    (
        prop::collection::vec(host, 1..14),
        prop::collection::vec(network, 0..4),
    )
        .prop_map(|(hosts, networks)| {
            let mut seen = BTreeSet::new();
            let hosts: Vec<Value> = hosts
                .into_iter()
                .filter(|(_, n)| seen.insert(*n))
                .enumerate()
                .map(|(i, (components, n))| {
                    json!({ "name": format!("h{i}"), "address": address(n), "components": components })
                })
                .collect();
            let mut seen = BTreeSet::new();
            let networks: Vec<Value> = networks
                .into_iter()
                .filter(|(name, _, _)| seen.insert(name.clone()))
                .map(|(name, cidrs, exclusive)| {
                    let cidrs: Vec<String> = cidrs
                        .into_iter()
                        .map(|(n, wide)| {
                            let (at, max) = if n < 48 { (address(n), 32) } else { (address(n), 128) };
                            format!("{at}/{}", max - wide)
                        })
                        .collect();
                    json!({ "name": name, "cidrs": cidrs, "exclusive": exclusive })
                })
                .collect();
            json!({ "name": "p", "profiles": PROFILES, "hosts": hosts, "networks": networks })
        })
}

fn parsed(plan: &Value) -> Plan {
    portplan_core::parse_plan(&plan.to_string()).unwrap()
}

/// What one port table row should say, worked out the slow, obvious way.
#[derive(Debug, PartialEq)]
struct Expected {
    sources: Vec<String>,
    hosts: Vec<String>,
    networks: Vec<String>,
}

/// The reference: every host (but `except`) is scanned for an accessor, the
/// admitted addresses are aggregated for this row alone.
fn expected(plan: &Plan, except: Option<&str>, spec: &PortSpec) -> Expected {
    let host = except.unwrap_or_default();
    let profile_of = |component: &str| {
        PROFILES.iter().find(|p| {
            portplan_core::get_profile(p)
                .unwrap()
                .components
                .iter()
                .any(|c| c.name == component)
        })
    };
    let defined: BTreeMap<&str, (&[String], bool)> = plan
        .networks
        .iter()
        .map(|n| (n.name.as_str(), (n.cidrs.as_slice(), n.exclusive)))
        .collect();
    let mut hosts = Vec::new();
    let mut networks = BTreeSet::new();
    for accessor in &spec.accessed_by {
        match accessor {
            Accessor::Network(n) if defined.contains_key(n.as_str()) => {
                networks.insert(n.clone());
            }
            Accessor::Network(_) => {}
            Accessor::Component(c) => hosts.extend(
                plan.hosts
                    .iter()
                    .filter(|h| except.is_none_or(|_| h.name != host) && h.components.contains(c))
                    .map(|h| h.name.clone()),
            ),
            Accessor::Profile(p) => hosts.extend(
                plan.hosts
                    .iter()
                    .filter(|h| {
                        except.is_none_or(|_| h.name != host)
                            && h.components
                                .iter()
                                .any(|c| profile_of(c) == Some(&p.as_str()))
                    })
                    .map(|h| h.name.clone()),
            ),
        }
    }
    let order: Vec<&str> = plan.hosts.iter().map(|h| h.name.as_str()).collect();
    hosts.sort_by_key(|h| order.iter().position(|o| o == h));
    hosts.dedup();
    if networks.iter().any(|n| defined[n.as_str()].1) {
        networks.retain(|n| defined[n.as_str()].1);
        hosts.clear();
    }
    let mut nets: Vec<IpNet> = hosts
        .iter()
        .map(|h| {
            let address = &plan.hosts.iter().find(|p| &p.name == h).unwrap().address;
            IpNet::from(address.parse::<IpAddr>().unwrap())
        })
        .collect();
    for n in &networks {
        nets.extend(
            defined[n.as_str()]
                .0
                .iter()
                .map(|c| c.parse::<IpNet>().unwrap().trunc()),
        );
    }
    Expected {
        sources: IpNet::aggregate(&nets)
            .iter()
            .map(ToString::to_string)
            .collect(),
        hosts,
        networks: networks.into_iter().collect(),
    }
}

fn spec(id: &str) -> PortSpec {
    PROFILES
        .iter()
        .flat_map(|p| portplan_core::get_profile(p).unwrap().specs)
        .find(|s| s.id == id)
        .unwrap()
}

/// A copy of `plan` with an empty preinstall observation of `host`, as
/// `check-host` sees it.
fn observed(plan: &Plan, host: &str) -> Plan {
    let mut plan = plan.clone();
    plan.observations.push(portplan_core::HostObservation {
        host: host.to_string(),
        phase: Phase::Preinstall,
        observation: Observation::default(),
    });
    plan
}

fn only_host(mut report: Report, host: &str) -> Report {
    report
        .findings
        .retain(|f| f.host.as_deref().is_none_or(|h| h == host));
    report.hosts.retain(|h| h.host == host);
    // The groups its rows name, in the order they first name them.
    let mut named: Vec<String> = Vec::new();
    for group in report
        .hosts
        .iter()
        .flat_map(|h| &h.ports)
        .filter_map(|p| p.group.clone())
    {
        if !named.contains(&group) {
            named.push(group);
        }
    }
    let listed = std::mem::take(&mut report.source_groups);
    report.source_groups = named
        .iter()
        .map(|n| listed.iter().find(|g| &g.name == n).unwrap().clone())
        .collect();
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count() as u32;
    report.summary.errors = count(Severity::Error);
    report.summary.warnings = count(Severity::Warning);
    report.summary.infos = count(Severity::Info);
    report
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_row_admits_what_the_reference_admits(plan in plans()) {
        let plan = parsed(&plan);
        let report = portplan_core::validate_plan(&plan).unwrap();
        for host in &report.hosts {
            for entry in &host.ports {
                let group = entry.group.as_ref().map(|name| {
                    report.source_groups.iter().find(|g| &g.name == name).unwrap()
                });
                let got = group.map(|g| Expected {
                    sources: g.sources.clone(),
                    hosts: g.hosts.clone(),
                    networks: g.networks.clone(),
                });
                // A row names a group when it admits anyone but its host;
                // the group admits every accessor, its host included.
                let spec = spec(&entry.spec);
                let others = expected(&plan, Some(&host.host), &spec);
                let want = (entry.exposure != portplan_core::Exposure::Loopback
                    && !others.sources.is_empty())
                .then(|| expected(&plan, None, &spec));
                prop_assert_eq!(got, want, "{} on {}", entry.spec, host.host);
            }
        }
    }

    #[test]
    fn check_host_is_the_plans_report_on_that_host(plan in plans(), pick in any::<prop::sample::Index>()) {
        let plan = parsed(&plan);
        let host = plan.hosts[pick.index(plan.hosts.len())].name.clone();
        let one = portplan_core::check_host(&plan, &host, Phase::Preinstall, &Observation::default()).unwrap();
        let all = portplan_core::validate_plan(&observed(&plan, &host)).unwrap();
        prop_assert_eq!(one, only_host(all, &host));
    }

    #[test]
    fn every_colliding_pair_shares_a_finding(ports in prop::collection::vec((1u16..40, 0u16..6, any::<bool>()), 2..7)) {
        let specs: Vec<Value> = ports
            .iter()
            .enumerate()
            .map(|(i, &(first, width, pool))| custom_spec(i, first, first + width, pool))
            .collect();
        let report = support::report(custom(specs));
        let conflicts = support::with_code(&report, FindingCode::PortConflict);
        for (i, a) in ports.iter().enumerate() {
            for (j, b) in ports.iter().enumerate().skip(i + 1) {
                let overlap = a.0.max(b.0) <= (a.0 + a.1).min(b.0 + b.1);
                let (a_id, b_id) = (format!("\"c.s{i}\""), format!("\"c.s{j}\""));
                let named = |text: &str, id: &str| text.contains(id.trim_matches('"'));
                let together = conflicts
                    .iter()
                    .any(|f| named(&f.message, &a_id) && named(&f.message, &b_id));
                // Fixed with fixed and pool with pool always share a finding;
                // a fixed port in a pool is its own finding at the fixed spec.
                if overlap && a.2 == b.2 {
                    prop_assert!(together, "c.s{i} and c.s{j}: {conflicts:#?}");
                }
                if !overlap {
                    prop_assert!(
                        !conflicts.iter().any(|f| f.message.contains(&format!("c.s{i} and c.s{j} ")) ),
                        "{conflicts:#?}"
                    );
                }
            }
        }
    }
}

/// A custom spec `c.s{i}` of component `c` on `first..=last`, TCP.
fn custom_spec(i: usize, first: u16, last: u16, pool: bool) -> Value {
    json!({
        "id": format!("c.s{i}"), "component": "c", "ports": { "first": 9000 + first, "last": 9000 + last },
        "transport": "tcp", "protocol": "tcp", "allocation": if pool { "pool" } else { "fixed" },
        "exposure": "peers", "modifiable": "not-supported", "optional": false,
        "same-on-all-hosts": false, "accessed-by": [], "purpose": "test", "source": "test"
    })
}

/// One host running custom component `c` with `specs`.
fn custom(specs: Vec<Value>) -> Value {
    json!({
        "name": "p", "profiles": ["many"],
        "hosts": [{ "name": "h0", "address": "10.0.0.1", "components": ["c"] }],
        "custom-profiles": [{
            "name": "many", "title": "many", "description": "", "source": "test",
            "components": [{ "name": "c", "title": "C", "required": true }],
            "networks": [], "specs": specs
        }]
    })
}

#[test]
fn two_thousand_specs_on_one_port_are_one_finding() {
    let specs = (0..2000).map(|i| custom_spec(i, 0, 0, false)).collect();
    let report = support::report(custom(specs));
    let conflict = support::one(&report, FindingCode::PortConflict, Severity::Error);
    assert!(
        conflict
            .message
            .starts_with("2000 specs claim tcp port 9000 on h0: c.s0, c.s1,"),
        "{}",
        conflict.message
    );
    assert!(
        conflict.message.ends_with("... and 1992 more"),
        "{}",
        conflict.message
    );
    assert_eq!(conflict.spec.as_deref(), Some("c.s0"));
    let json = portplan_core::render_report(&report, ReportFormat::Json);
    assert!(json.len() < 1_000_000, "{} bytes", json.len());
}

#[test]
fn specs_sharing_part_of_a_range_get_a_finding_per_shared_range() {
    // s0 9000-9010, s1 9005-9015, s2 9008: 9005-9007 {s0, s1}, 9008 all
    // three, 9009-9010 {s0, s1}.
    let specs = vec![
        custom_spec(0, 0, 10, false),
        custom_spec(1, 5, 15, false),
        custom_spec(2, 8, 8, false),
    ];
    let report = support::report(custom(specs));
    let messages: Vec<&str> = support::with_code(&report, FindingCode::PortConflict)
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        messages,
        // All at c.s0, the first claimant, so ordered by message.
        [
            "3 specs claim tcp port 9008 on h0: c.s0, c.s1 and c.s2",
            "c.s0 and c.s1 both claim tcp port 9005-9007 on h0",
            "c.s0 and c.s1 both claim tcp port 9009-9010 on h0",
        ]
    );
}

#[test]
fn three_pools_on_the_same_ports_are_one_warning() {
    let specs = (0..3).map(|i| custom_spec(i, 0, 99, true)).collect();
    let report = support::report(custom(specs));
    let warning = support::one(&report, FindingCode::PortConflict, Severity::Warning);
    assert_eq!(
        warning.message,
        "3 pools share 100 tcp ports (9000-9099) on h0: c.s0, c.s1 and c.s2; the services compete for them at run time"
    );
}

/// A plan of `hosts` OCP hosts, as JSON text.
fn ocp_hosts(hosts: usize) -> String {
    let hosts: Vec<Value> = (0..hosts)
        .map(|i| {
            let a = 0x0a00_0000_u32 + 2 * i as u32 + 1;
            json!({ "name": format!("h{i}"), "address": std::net::Ipv4Addr::from(a).to_string(), "components": ["observer", "ocp-agent"] })
        })
        .collect();
    json!({ "name": "big", "profiles": ["ocp"], "hosts": hosts }).to_string()
}

#[test]
fn a_plan_past_a_limit_is_refused_naming_it() {
    let error = portplan_core::parse_plan(&ocp_hosts(shell::LIMIT_HOSTS + 1)).unwrap_err();
    assert_eq!(error.problems.len(), 1);
    assert_eq!(error.problems[0].path, "hosts");
    assert_eq!(
        error.problems[0].value,
        (shell::LIMIT_HOSTS + 1).to_string()
    );
    assert!(
        error.problems[0]
            .message
            .contains("the limit is 20000 hosts"),
        "{error}"
    );
    // The same for a typed plan, which skips the parser (the component, check-host).
    let mut plan: Plan = serde_json::from_str(&ocp_hosts(3)).unwrap();
    plan.hosts = (0..=shell::LIMIT_HOSTS)
        .map(|_| plan.hosts[0].clone())
        .collect();
    let error = portplan_core::validate_plan(&plan).unwrap_err();
    assert_eq!(error.problems[0].path, "hosts");
    let error = portplan_core::check_host(&plan, "h0", Phase::Preinstall, &Observation::default())
        .unwrap_err();
    assert_eq!(error.problems[0].path, "hosts");
}

#[test]
fn observed_listeners_past_the_limit_are_refused() {
    let listener = json!({ "transport": "tcp", "address": "0.0.0.0", "port": 1 });
    let mut plan: Value = serde_json::from_str(&ocp_hosts(2)).unwrap();
    support::merge(
        &mut plan,
        json!({ "observations": [{ "host": "h0", "phase": "preinstall", "observation": {
            "listeners": vec![listener; shell::LIMIT_LISTENERS + 1] } }] }),
    );
    let error = portplan_core::parse_plan(&plan.to_string()).unwrap_err();
    assert_eq!(error.problems[0].path, "observations");
    assert!(
        error.problems[0].message.contains("observed listeners"),
        "{error}"
    );
}

#[test]
fn a_plan_at_the_host_limit_resolves() {
    let plan = portplan_core::parse_plan(&ocp_hosts(shell::LIMIT_HOSTS)).unwrap();
    // ocp-server is missing: a finding, not a rejection; resolution is what is timed by the bench.
    assert!(shell::check_plan(&plan).is_ok());
}

#[test]
fn port_table_rows_past_the_limit_are_refused_while_placing() {
    let specs: Vec<Value> = (0..shell::LIMIT_SPECS)
        .map(|i| custom_spec(i, (i % 50) as u16, (i % 50) as u16, false))
        .collect();
    let mut plan = custom(specs);
    let hosts = shell::LIMIT_ROWS / shell::LIMIT_SPECS + 1;
    plan["hosts"] = (0..hosts)
        .map(|i| json!({ "name": format!("h{i}"), "address": format!("10.0.{}.{}", i / 250, i % 250 + 1), "components": ["c"] }))
        .collect();
    let error = portplan_core::validate_plan(&parsed(&plan)).unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    assert_eq!(error.problems[0].path, "hosts");
    assert!(
        error.problems[0]
            .message
            .ends_with("port table rows; the limit is 1000000 port table rows (portplan's input limits, BENCHMARKS.md)"),
        "{error}"
    );
}

#[test]
fn all_to_all_is_one_group_however_many_hosts() {
    // OBServer RPC is reached by every OBServer: 4,600 rows name one group
    // of 4,600 sources (before: each row listed its 4,599 peers).
    let plan = portplan_core::parse_plan(&ocp_hosts(4600)).unwrap();
    let report = portplan_core::validate_plan(&plan).unwrap();
    let rpc: BTreeSet<&str> = support::groups_of(&report, "observer.rpc")
        .into_iter()
        .collect();
    assert_eq!(rpc.len(), 1);
    let group = report
        .source_groups
        .iter()
        .find(|g| rpc.contains(g.name.as_str()))
        .unwrap();
    assert_eq!(group.sources.len(), 4600);
    assert!(
        group.sources.contains(&"10.0.0.15/32".to_string()),
        "h7 itself"
    );
    let one =
        portplan_core::check_host(&plan, "h7", Phase::Preinstall, &Observation::default()).unwrap();
    let rules = portplan_core::firewall_rules(&one, Some("h7")).unwrap();
    let rpc = rules.iter().find(|r| r.spec == "observer.rpc").unwrap();
    assert_eq!(*rpc.sources, *group.sources);
    // Every host's rules, each listing the group in full, would be 4,600²
    // sources: refused by name, as are the text table and the sheets that
    // list them so; the JSON names the group once and is written.
    let error = portplan_core::firewall_rules(&report, None).unwrap_err();
    assert_eq!(error.problems[0].path, "report");
    assert!(
        error.problems[0]
            .message
            .contains("sources listed rule by rule"),
        "{error}"
    );
    for format in [
        ReportFormat::Table,
        ReportFormat::Markdown,
        ReportFormat::Csv,
    ] {
        let text = portplan_core::render_report(&report, format);
        assert!(
            text.len() < 1000 && text.contains("the limit is 20000000"),
            "{format:?}: {text:.300}"
        );
    }
    assert!(portplan_core::render_report(&report, ReportFormat::Json).len() > 4600 * 40);
}

#[test]
fn a_report_past_the_source_limit_is_refused() {
    // 1,601 hosts run `c`; h0 also runs `d`, whose 2,500 specs each admit
    // `c` and a network of their own: 2,500 groups of 1,602 sources.
    let (hosts, specs) = (1601usize, 2500usize);
    let mut plan = custom(Vec::new());
    plan["hosts"] = (0..hosts)
        .map(|i| {
            let a = std::net::Ipv4Addr::from(0x0a00_0000_u32 + 2 * i as u32 + 1);
            let components = if i == 0 {
                json!(["c", "d"])
            } else {
                json!(["c"])
            };
            json!({ "name": format!("h{i}"), "address": a.to_string(), "components": components })
        })
        .collect();
    plan["networks"] = (0..specs)
        .map(|i| json!({ "name": format!("n{i}"), "cidrs": [format!("172.16.{}.{}/32", i / 250, i % 250 + 1)] }))
        .collect();
    let profile = &mut plan["custom-profiles"][0];
    profile["components"] = json!([
        { "name": "c", "title": "C", "required": true },
        { "name": "d", "title": "D", "required": false }
    ]);
    profile["networks"] = (0..specs)
        .map(|i| json!({ "name": format!("n{i}"), "description": "" }))
        .collect();
    profile["specs"] = (0..specs)
        .map(|i| {
            let mut spec = custom_spec(i, (i % 60_000) as u16, (i % 60_000) as u16, false);
            spec["component"] = json!("d");
            spec["id"] = json!(format!("d.s{i}"));
            spec["accessed-by"] = json!([{ "component": "c" }, { "network": format!("n{i}") }]);
            spec
        })
        .collect();
    let error = portplan_core::validate_plan(&parsed(&plan)).unwrap_err();
    assert_eq!(error.problems[0].path, "hosts");
    assert_eq!(error.problems[0].value, (specs * (hosts + 1)).to_string());
    assert!(
        error.problems[0].message.contains("admitted sources"),
        "{error}"
    );
}

#[test]
fn a_spec_over_every_port_meets_sixty_thousand_listeners() {
    let mut plan = custom(vec![custom_spec(0, 0, 0, false)]);
    plan["custom-profiles"][0]["specs"][0]["ports"] = json!("1-65535");
    let listeners: Vec<Value> = (1..=60_000)
        .map(|port| json!({ "transport": "tcp", "address": "0.0.0.0", "port": port }))
        .collect();
    plan["observations"] = json!([{ "host": "h0", "phase": "postinstall",
        "observation": { "listeners": listeners } }]);
    let report = support::report(plan);
    let finding = support::one(&report, FindingCode::NotListening, Severity::Error);
    assert_eq!(
        finding.message,
        "nothing listens on tcp port 60001-65535 of c.s0 on h0"
    );
}

#[test]
fn a_long_reserved_ports_list_is_merged_once() {
    let mut plan = custom(vec![custom_spec(0, 36_000, 36_000, false)]);
    let mut reserved = vec![json!("30000-40000"); 50_000];
    reserved.push(json!(8080));
    plan["observations"] = json!([{ "host": "h0", "phase": "preinstall",
        "observation": { "ip-local-reserved-ports": reserved } }]);
    let report = support::report(plan);
    let finding = support::one(&report, FindingCode::EphemeralCollision, Severity::Warning);
    assert_eq!(
        finding.fix,
        "sysctl -w net.ipv4.ip_local_reserved_ports=8080,30000-40000,45000"
    );
}

#[test]
fn one_holder_of_a_port_shared_by_specs_is_one_finding() {
    let mut plan = custom((0..3).map(|i| custom_spec(i, 0, 0, false)).collect());
    plan["observations"] = json!([{ "host": "h0", "phase": "preinstall", "observation": {
        "listeners": [{ "transport": "tcp", "address": "0.0.0.0", "port": 9000, "pid": 7, "command": "nginx" }] } }]);
    let report = support::report(plan);
    let held = support::one(&report, FindingCode::PortInUse, Severity::Error);
    assert_eq!(
        held.message,
        "pid 7 (nginx) listens on tcp 0.0.0.0:9000 on h0, needed by 3 specs (c.s0, c.s1 and c.s2): the component cannot bind it"
    );
    assert_eq!(
        held.fix,
        "Stop pid 7 (nginx) or override the 3 specs to free ports."
    );
    assert_eq!(held.spec.as_deref(), Some("c.s0"));
}

/// Hosts sharing a set of components share its rows, placed once per set
/// (`resolve`'s placements): listed in any order, with or without overrides
/// of their own, each host's rows are the rows it gets alone in a plan.
#[test]
fn hosts_sharing_components_get_the_rows_they_get_alone() {
    let hosts = [
        json!({"name": "a", "address": "198.18.0.1", "components": ["observer", "ocp-agent"]}),
        json!({"name": "b", "address": "198.18.0.2", "components": ["ocp-agent", "observer"]}),
        json!({"name": "c", "address": "198.18.0.3", "components": ["observer", "ocp-agent"],
               "overrides": [{"spec": "observer.sql", "ports": 3881}]}),
        json!({"name": "d", "address": "198.18.0.4", "components": ["ocp-agent"]}),
        json!({"name": "e", "address": "198.18.0.5", "components": ["ocp-agent", "observer"],
               "overrides": [{"spec": "ocp-agent.rpc", "ports": 62999}]}),
    ];
    let plan = |hosts: &[Value]| {
        parsed(
            &json!({"name": "p", "profiles": ["ocp"], "deploy-user": "root",
                       "overrides": [{"spec": "observer.rpc", "ports": 2883}], "hosts": hosts}),
        )
    };
    let rows = |report: &Report, host: &str| -> Vec<String> {
        let host = report.hosts.iter().find(|h| h.host == host).unwrap();
        host.ports
            .iter()
            .map(|p| format!("{} {:?} {}", p.spec, p.ports, p.overridden))
            .collect()
    };
    let together = portplan_core::validate_plan(&plan(&hosts)).unwrap();
    for host in &hosts {
        let name = host["name"].as_str().unwrap();
        let alone = portplan_core::validate_plan(&plan(std::slice::from_ref(host))).unwrap();
        assert_eq!(rows(&together, name), rows(&alone, name), "host {name}");
    }
    // The overrides reached the rows: neither set is placed once for all.
    assert!(
        rows(&together, "c")
            .iter()
            .any(|r| r.starts_with("observer.sql") && r.ends_with("true"))
    );
    assert!(
        rows(&together, "a")
            .iter()
            .all(|r| !r.starts_with("observer.sql") || r.ends_with("false"))
    );
    assert!(
        rows(&together, "e")
            .iter()
            .any(|r| r.starts_with("ocp-agent.rpc") && r.ends_with("true"))
    );
}

/// An OCP of `observers` OBServers and `servers` OCP-Servers whose clients
/// all come through an exclusive SLB network.
fn slb_fronted(observers: usize, servers: usize) -> Plan {
    let host = |name: String, i: usize, components: &[&str]| {
        let a = 0x0a00_0000_u32 + 2 * i as u32 + 1;
        json!({"name": name, "address": std::net::Ipv4Addr::from(a).to_string(), "components": components})
    };
    let mut hosts: Vec<Value> = (0..servers)
        .map(|i| host(format!("ocp{i}"), i, &["ocp-server"]))
        .collect();
    hosts.extend(
        (0..observers).map(|i| host(format!("obs{i}"), servers + i, &["observer", "ocp-agent"])),
    );
    parsed(
        &json!({"name": "slb", "profiles": ["ocp"], "hosts": hosts, "networks": [
        {"name": "ocp-console", "cidrs": ["198.18.60.0/24"]},
        {"name": "ocp-slb", "cidrs": ["198.18.70.5"], "exclusive": true}]}),
    )
}

/// Seed 001's SLB stands in for every accessor of OCP-Server's ports: each
/// such row names whom it stands in for, 20 hosts and a count, so the report
/// stays linear in the hosts (the full list on every OCP-Server's rows made
/// it grow with their square: 34 MB at 4,000 hosts of a mixed plan).
#[test]
fn an_exclusive_network_names_twenty_fronted_hosts_and_counts_the_rest() {
    // Twice the hosts, about twice the report.
    let bytes = |observers, servers| {
        let report = portplan_core::validate_plan(&slb_fronted(observers, servers)).unwrap();
        portplan_core::render_report(&report, ReportFormat::Json).len()
    };
    let (small, large) = (bytes(500, 50), bytes(1000, 100));
    assert!(large < small * 21 / 10, "{small} -> {large} bytes");

    let purpose = |observers| {
        let report = portplan_core::validate_plan(&slb_fronted(observers, 1)).unwrap();
        let host = report.hosts.iter().find(|h| h.host == "ocp0").unwrap();
        let row = host
            .ports
            .iter()
            .find(|p| p.spec == "ocp-server.http")
            .unwrap();
        row.purpose.clone()
    };
    let named: Vec<String> = (0..20).map(|i| format!("host obs{i}")).collect();
    assert!(
        purpose(20).ends_with(&format!(
            "Admitted only through network ocp-slb, instead of {}, network ocp-console.",
            named.join(", ")
        )),
        "{}",
        purpose(20)
    );
    assert!(
        purpose(1000).ends_with(&format!(
            "Admitted only through network ocp-slb, instead of {}, ... (980 more hosts), network ocp-console.",
            named.join(", ")
        )),
        "{}",
        purpose(1000)
    );
}

/// One source's probe plan grows with the hosts, not their square: each
/// allow's reason names 20 of the hosts the rule admits and counts the rest
/// (every target listed them all: 62 MB for one source of a 2,000-host
/// plan), and each deny's host is looked up, not scanned for.
#[test]
fn a_probe_plan_is_linear_in_the_hosts() {
    let probe = |hosts| {
        let plan = portplan_core::parse_plan(&ocp_hosts(hosts)).unwrap();
        let source = portplan_core::ProbeSource::Host("h0".into());
        portplan_core::probe_plan(&plan, &source, Phase::Preinstall).unwrap()
    };
    let bytes = |hosts| serde_json::to_string(&probe(hosts)).unwrap().len();
    let (small, large) = (bytes(200), bytes(400));
    assert!(large < small * 21 / 10, "{small} -> {large} bytes");

    let plan = probe(100);
    let allow = plan
        .targets
        .iter()
        .find(|t| t.destination == "h1" && t.spec == "observer.rpc")
        .unwrap();
    let named: Vec<String> = (0..21)
        .filter(|&i| i != 1)
        .map(|i| format!("host h{i}"))
        .collect();
    assert_eq!(
        allow.why,
        format!(
            "observer.rpc on h1 admits the source (admits {}, ... (79 more hosts))",
            named.join(", ")
        )
    );
}
