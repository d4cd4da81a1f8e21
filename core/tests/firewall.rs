//! Desired firewall rules: exactly the accessors' addresses, aggregated, never widened.

#![allow(clippy::unwrap_used)]
// Tests sort with std: the one-sort rule (core/clippy.toml) is for the plugins' code.
#![allow(clippy::disallowed_methods)]

mod support;

use serde_json::json;
use support::*;

fn ocp(hosts: serde_json::Value, networks: serde_json::Value) -> portplan_core::Report {
    report(json!({ "name": "t", "profiles": ["ocp"], "hosts": hosts, "networks": networks }))
}

fn rules(r: &portplan_core::Report) -> Vec<portplan_core::FirewallRule> {
    portplan_core::firewall_rules(r, None).unwrap()
}

fn sources(r: &portplan_core::Report, host: &str, spec: &str) -> Vec<String> {
    rules(r)
        .into_iter()
        .find(|rule| rule.host == host && rule.spec == spec)
        .map(|rule| rule.sources.to_vec())
        .unwrap_or_default()
}

#[test]
fn rules_admit_exactly_the_hosts_running_an_accessor() {
    let r = ocp(
        json!([
            { "name": "ocp1", "address": "198.18.0.5", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"] },
            { "name": "obs2", "address": "198.18.0.13", "components": ["observer", "ocp-agent"] },
            { "name": "px1", "address": "198.18.0.20", "components": ["obproxy"] }
        ]),
        json!([{ "name": "application", "cidrs": ["198.18.64.0/24"] }]),
    );
    // OBServer SQL: OBProxy, OCP-Server and the application network.
    assert_eq!(
        sources(&r, "obs1", "observer.sql"),
        ["198.18.0.5/32", "198.18.0.20/32", "198.18.64.0/24"]
    );
    // OBServer RPC: the OBServers, the host itself included (one set for
    // every OBServer, named once: sources.rs says why that admits no one else).
    let rpc = ["198.18.0.11/32", "198.18.0.13/32"];
    assert_eq!(sources(&r, "obs1", "observer.rpc"), rpc);
    assert_eq!(sources(&r, "obs2", "observer.rpc"), rpc);
    // OCP-Agent: OCP-Server only.
    assert_eq!(sources(&r, "obs2", "ocp-agent.rpc"), ["198.18.0.5/32"]);
    let all = rules(&r);
    let rule = all
        .iter()
        .find(|rule| rule.spec == "ocp-agent.rpc")
        .unwrap();
    assert_eq!(rule.tag, "portplan:ocp-agent.rpc");
}

#[test]
fn adjacent_addresses_merge_but_never_widen() {
    let r = ocp(
        json!([
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.12", "components": ["observer"] },
            { "name": "obs2", "address": "198.18.0.13", "components": ["observer"] },
            { "name": "obs3", "address": "198.18.0.14", "components": ["observer"] },
            { "name": "obs4", "address": "198.18.0.15", "components": ["observer"] },
            { "name": "obs5", "address": "198.18.0.17", "components": ["observer"] }
        ]),
        json!([]),
    );
    // .12-.15 is exactly a /30; .17 stays alone (a /27 would add .0-.11, .16 and .18-.31).
    assert_eq!(
        sources(&r, "ocp1", "ocp-server.http"),
        ["198.18.0.12/30", "198.18.0.17/32"]
    );
    // With obs1 itself: .12-.15 a /30 again, the same set on every OBServer.
    for obs in ["obs1", "obs2", "obs5"] {
        let rpc = sources(&r, obs, "observer.rpc");
        assert_eq!(rpc, ["198.18.0.12/30", "198.18.0.17/32"], "{obs}");
    }
}

#[test]
fn ipv4_comes_before_ipv6_and_client_cidrs_are_kept() {
    let r = ocp(
        json!([
            { "name": "ocp1", "address": "2001:db8::1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer"] }
        ]),
        json!([
            { "name": "application", "cidrs": ["2001:db8:1::/48", "198.18.64.7"] }
        ]),
    );
    assert_eq!(
        sources(&r, "obs1", "observer.sql"),
        ["198.18.64.7/32", "2001:db8::1/128", "2001:db8:1::/48"]
    );
}

#[test]
fn loopback_specs_get_no_rule_and_nothing_is_open_to_everyone_by_default() {
    for path in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plans")).unwrap()
    {
        let text = std::fs::read_to_string(path.unwrap().path()).unwrap();
        let Ok(r) = portplan_core::parse_plan(&text).and_then(|p| portplan_core::validate_plan(&p))
        else {
            continue;
        };
        for rule in &rules(&r) {
            assert!(
                !rule.spec.starts_with("backup-agent."),
                "loopback spec opened: {rule:?}"
            );
            assert!(!rule.sources.is_empty());
            assert!(
                rule.sources.iter().all(|s| !s.ends_with("/0")),
                "open to everyone: {rule:?}"
            );
        }
    }
}

#[test]
fn everyone_only_when_a_network_says_so() {
    let r = ocp(
        json!([
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.2", "components": ["observer"] }
        ]),
        json!([{ "name": "ocp-console", "cidrs": ["0.0.0.0/0"] }]),
    );
    assert_eq!(sources(&r, "ocp1", "ocp-server.http"), ["0.0.0.0/0"]);
}

#[test]
fn rules_are_in_plan_host_order_then_port_order() {
    let r = ocp(
        json!([
            { "name": "z-first", "address": "198.18.0.9", "components": ["observer", "obproxy"] },
            { "name": "a-second", "address": "198.18.0.1", "components": ["ocp-server"] }
        ]),
        json!([{ "name": "application", "cidrs": ["198.18.64.0/24"] }]),
    );
    let all = rules(&r);
    let order: Vec<(&str, u16)> = all
        .iter()
        .map(|rule| (rule.host.as_str(), rule.ports.first))
        .collect();
    assert_eq!(
        order,
        [
            ("z-first", 2881),
            ("z-first", 2883),
            ("z-first", 2884),
            ("a-second", 8080)
        ]
    );
}

/// Sources by reference (issue 16): every OBServer's RPC row names the one
/// group of all OBServers, listed once; a host that is its group's only
/// member names none and gets no rule.
#[test]
fn a_group_is_listed_once_and_named_by_every_row_that_admits_it() {
    let observers: Vec<serde_json::Value> = (0..6)
        .map(|i| json!({ "name": format!("obs{i}"), "address": format!("198.18.1.{}", 2 * i + 1), "components": ["observer"] }))
        .collect();
    let r = ocp(serde_json::Value::Array(observers), json!([]));
    let names: Vec<&str> = r.source_groups.iter().map(|g| g.name.as_str()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    let rpc = groups_of(&r, "observer.rpc");
    assert_eq!(rpc.len(), 6);
    assert!(rpc.iter().all(|g| *g == rpc[0]));
    let group = r.source_groups.iter().find(|g| g.name == rpc[0]).unwrap();
    assert_eq!(
        group.hosts,
        ["obs0", "obs1", "obs2", "obs3", "obs4", "obs5"]
    );
    assert_eq!(group.sources.len(), 6);
    // Every group listed is named by a row.
    for g in &r.source_groups {
        let named = r.hosts.iter().flat_map(|h| &h.ports);
        assert!(
            named
                .filter_map(|p| p.group.as_deref())
                .any(|n| n == g.name)
        );
    }

    let alone = ocp(
        json!([{ "name": "obs1", "address": "198.18.0.2", "components": ["observer"] }]),
        json!([]),
    );
    let rpc = alone.hosts[0]
        .ports
        .iter()
        .find(|p| p.spec == "observer.rpc");
    assert_eq!(rpc.unwrap().group, None);
    assert!(sources(&alone, "obs1", "observer.rpc").is_empty());
}

/// `check-host` names a group as `validate-plan` does: the name is the
/// plan's, not the report's.
#[test]
fn a_hosts_report_names_its_groups_as_the_plans_report_does() {
    let plan =
        portplan_core::parse_plan(include_str!("../../examples/plans/ocp-cluster.json")).unwrap();
    let whole = portplan_core::validate_plan(&plan).unwrap();
    for host in &plan.hosts {
        let one = portplan_core::check_host(
            &plan,
            &host.name,
            portplan_core::Phase::Preinstall,
            &Default::default(),
        )
        .unwrap();
        for group in &one.source_groups {
            assert!(
                whole.source_groups.contains(group),
                "{}: {group:?}",
                host.name
            );
        }
        assert_eq!(
            portplan_core::firewall_rules(&one, Some(&host.name)).unwrap(),
            portplan_core::firewall_rules(&whole, Some(&host.name)).unwrap()
        );
    }
}

/// A report's rules are read through its groups: an unknown host or group
/// is an error naming where, never an empty (open-to-all) rule.
#[test]
fn firewall_rules_refuse_an_unknown_host_or_group() {
    let plan =
        portplan_core::parse_plan(include_str!("../../examples/plans/ocp-cluster.json")).unwrap();
    let mut r = portplan_core::validate_plan(&plan).unwrap();
    let error = portplan_core::firewall_rules(&r, Some("nobody")).unwrap_err();
    assert_eq!(error.problems[0].path, "host");
    let (i, j) = r
        .hosts
        .iter()
        .enumerate()
        .find_map(|(i, h)| {
            h.ports
                .iter()
                .position(|p| p.group.is_some())
                .map(|j| (i, j))
        })
        .unwrap();
    r.hosts[i].ports[j].group = Some("g999".into());
    let error = portplan_core::firewall_rules(&r, None).unwrap_err();
    assert_eq!(
        error.problems[0].path,
        format!("report.hosts[{i}].ports[{j}].group")
    );
    assert_eq!(error.problems[0].value, "g999");
    // A listed group without sources would be a rule admitting nobody (or,
    // to a tool that reads an empty list so, everybody): refused.
    let mut empty = portplan_core::validate_plan(&plan).unwrap();
    let name = empty.hosts[i].ports[j].group.clone().unwrap();
    let group = empty
        .source_groups
        .iter_mut()
        .find(|g| g.name == name)
        .unwrap();
    group.sources.clear();
    let error = portplan_core::firewall_rules(&empty, None).unwrap_err();
    assert!(
        error.problems[0].message.contains("lists no source"),
        "{error}"
    );
    // A loopback port never names a group.
    let mut loopback = portplan_core::validate_plan(&plan).unwrap();
    let row = loopback
        .hosts
        .iter_mut()
        .flat_map(|h| &mut h.ports)
        .find(|p| p.exposure == portplan_core::Exposure::Loopback)
        .unwrap();
    row.group = Some(name);
    let error = portplan_core::firewall_rules(&loopback, None).unwrap_err();
    assert!(error.problems[0].message.contains("loopback"), "{error}");
    let mut twice = portplan_core::validate_plan(&plan).unwrap();
    let first = twice.source_groups[0].clone();
    twice.source_groups.push(first);
    let error = portplan_core::firewall_rules(&twice, None).unwrap_err();
    assert!(error.problems[0].path.ends_with("].name"), "{error:?}");
}
