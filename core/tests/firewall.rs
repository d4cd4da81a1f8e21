//! Desired firewall rules: exactly the accessors' addresses, aggregated, never widened.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::*;

fn ocp(hosts: serde_json::Value, networks: serde_json::Value) -> portplan_core::Report {
    report(json!({ "name": "t", "profiles": ["ocp"], "hosts": hosts, "networks": networks }))
}

fn sources<'r>(r: &'r portplan_core::Report, host: &str, spec: &str) -> Vec<&'r str> {
    r.rules
        .iter()
        .find(|rule| rule.host == host && rule.spec == spec)
        .map(|rule| rule.sources.iter().map(String::as_str).collect())
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
    // OBServer RPC: the other OBServers only, never the host itself.
    assert_eq!(sources(&r, "obs1", "observer.rpc"), ["198.18.0.13/32"]);
    assert_eq!(sources(&r, "obs2", "observer.rpc"), ["198.18.0.11/32"]);
    // OCP-Agent: OCP-Server only.
    assert_eq!(sources(&r, "obs2", "ocp-agent.rpc"), ["198.18.0.5/32"]);
    let rule = r
        .rules
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
    // Without obs1 itself: .13 alone (unaligned), .14-.15 a /31.
    assert_eq!(
        sources(&r, "obs1", "observer.rpc"),
        ["198.18.0.13/32", "198.18.0.14/31", "198.18.0.17/32"]
    );
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
        for rule in &r.rules {
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
    let order: Vec<(&str, u16)> = r
        .rules
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
