//! Every rule, shown firing and not firing.

#![allow(clippy::unwrap_used)]

mod support;

use portplan_core::shell::BROWSER_BAD_PORTS;
use portplan_core::{FindingCode as Code, Phase, Severity};
use serde_json::json;
use support::*;

// ---- port-conflict ----

#[test]
fn fixed_ports_of_two_components_on_one_host_conflict() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp", "finedatalink-cluster"],
        "hosts": [
            { "name": "h1", "address": "198.18.0.1", "components": ["ocp-server", "finedatalink", "ops-agent"] },
            { "name": "h2", "address": "198.18.0.2", "components": ["observer"] }
        ]
    }));
    let f = one(&r, Code::PortConflict, Severity::Error);
    assert_eq!(f.host.as_deref(), Some("h1"));
    assert!(
        f.message
            .contains("finedatalink.http and ocp-server.http both claim tcp port 8080"),
        "{}",
        f.message
    );
}

#[test]
fn same_ports_on_different_hosts_do_not_conflict() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp", "finedatalink-cluster"],
        "hosts": [
            { "name": "h1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "h2", "address": "198.18.0.2", "components": ["finedatalink", "ops-agent", "observer"] }
        ]
    }));
    none(&r, Code::PortConflict);
}

#[test]
fn fixed_port_inside_another_components_pool_warns_with_remaining_count() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [{ "name": "h1", "address": "198.18.0.1", "components": ["ocp-server", "ocp-agent", "observer"] }]
    }));
    let conflicts = with_code(&r, Code::PortConflict);
    assert_eq!(conflicts.len(), 2, "{conflicts:#?}");
    let fixed = conflicts
        .iter()
        .find(|f| f.spec.as_deref() == Some("ocp-agent.rpc"))
        .unwrap();
    assert_eq!(fixed.severity, Severity::Warning);
    assert!(
        fixed.message.contains("1000 of 1001 pool ports remain"),
        "{}",
        fixed.message
    );
    let pools = conflicts
        .iter()
        .find(|f| f.message.starts_with("pools"))
        .unwrap();
    assert_eq!(pools.severity, Severity::Warning);
    assert!(
        pools.message.contains("share 1001 tcp ports"),
        "{}",
        pools.message
    );
}

#[test]
fn a_components_own_fixed_port_inside_its_own_pool_is_by_design() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "h1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "h2", "address": "198.18.0.2", "components": ["observer", "ocp-agent"] }
        ]
    }));
    none(&r, Code::PortConflict);
}

#[test]
fn different_transports_do_not_conflict() {
    let r = report(json!({
        "name": "t", "profiles": ["dns"],
        "custom-profiles": [{
            "name": "dns", "title": "DNS",
            "components": [{ "name": "dns", "title": "DNS" }],
            "specs": [
                { "id": "dns.tcp", "component": "dns", "ports": 5353, "transport": "tcp", "allocation": "fixed",
                  "exposure": "peers", "modifiable": "not-supported", "purpose": "p", "source": "s" },
                { "id": "dns.udp", "component": "dns", "ports": 5353, "transport": "udp", "allocation": "fixed",
                  "exposure": "peers", "modifiable": "not-supported", "purpose": "p", "source": "s" }
            ]
        }],
        "hosts": [{ "name": "h1", "address": "198.18.0.1", "components": ["dns"] }]
    }));
    none(&r, Code::PortConflict);
}

// ---- privileged-port ----

#[test]
fn non_root_gateway_on_80_is_privileged() {
    let r = report(fdl_single(json!({ "deploy-user": "non-root" })));
    let f = one(&r, Code::PrivilegedPort, Severity::Error);
    assert_eq!(f.spec.as_deref(), Some("fanruan-gateway.http"));
    assert!(
        f.message
            .contains("below ip_unprivileged_port_start 1024 (kernel default)"),
        "{}",
        f.message
    );
}

#[test]
fn root_may_bind_low_ports() {
    none(
        &report(fdl_single(json!({ "deploy-user": "root" }))),
        Code::PrivilegedPort,
    );
    none(&report(fdl_single(json!({}))), Code::PrivilegedPort);
}

#[test]
fn host_deploy_user_overrides_the_plans() {
    let mut plan = fdl_single(json!({ "deploy-user": "non-root" }));
    plan["hosts"][0]["deploy-user"] = json!("root");
    none(&report(plan), Code::PrivilegedPort);
}

#[test]
fn observed_unprivileged_port_start_is_used() {
    let plan = fdl_single(json!({ "deploy-user": "non-root" }));
    let lowered = check(
        plan.clone(),
        "h1",
        Phase::Preinstall,
        json!({ "ip-unprivileged-port-start": 80 }),
    );
    none(&lowered, Code::PrivilegedPort);
    let raised = check(
        plan,
        "h1",
        Phase::Preinstall,
        json!({ "ip-unprivileged-port-start": 4000 }),
    );
    let found = with_code(&raised, Code::PrivilegedPort);
    let specs: Vec<_> = found.iter().filter_map(|f| f.spec.as_deref()).collect();
    assert_eq!(specs, ["fanruan-gateway.http", "mysql.mysql"], "{found:#?}");
    assert!(found[0].message.contains("4000 (observed)"));
}

// ---- browser-blocked-port ----

#[test]
fn the_bad_port_list_is_the_vendor_list_plus_four() {
    // The list in the FineDataLink document (seed 000), verbatim.
    let vendor = [
        1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
        102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389,
        465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989,
        990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 5060, 5061, 6000, 6566, 6665, 6666,
        6667, 6668, 6669, 6697, 10080,
    ];
    let mut expected: Vec<u16> = vendor.into_iter().chain([0, 427, 4190, 6679]).collect();
    expected.sort_unstable();
    assert_eq!(BROWSER_BAD_PORTS, expected.as_slice());
}

#[test]
fn browser_port_on_a_bad_port_is_an_error() {
    let r = report(fdl_single(
        json!({ "overrides": [{ "spec": "fanruan-gateway.http", "ports": 6000 }] }),
    ));
    let f = one(&r, Code::BrowserBlockedPort, Severity::Error);
    assert!(
        f.message.contains("browsers block port 6000"),
        "{}",
        f.message
    );
    assert!(
        !f.message.contains("vendor"),
        "6000 is on the vendor's list: {}",
        f.message
    );
}

#[test]
fn bad_ports_the_vendor_list_misses_are_called_out() {
    let r = report(fdl_single(
        json!({ "overrides": [{ "spec": "fanruan-gateway.http", "ports": 4190 }] }),
    ));
    let f = one(&r, Code::BrowserBlockedPort, Severity::Error);
    assert!(
        f.message.contains("the vendor document's list misses 4190"),
        "{}",
        f.message
    );
}

#[test]
fn non_browser_ports_and_allowed_ports_are_not_blocked() {
    none(&report(fdl_single(json!({}))), Code::BrowserBlockedPort);
    // 6000 on a peers port (MySQL) is not reached by browsers.
    let r = report(fdl_single(
        json!({ "overrides": [{ "spec": "mysql.mysql", "ports": 6000 }] }),
    ));
    none(&r, Code::BrowserBlockedPort);
}

// ---- ephemeral-collision ----

#[test]
fn fixed_port_in_default_ephemeral_range_collides() {
    let r = report(ocp_ce(
        json!({ "overrides": [{ "spec": "ocp-server.http", "ports": 40080 }] }),
    ));
    let f = one(&r, Code::EphemeralCollision, Severity::Warning);
    assert!(
        f.message.contains("32768-60999 (kernel default)"),
        "{}",
        f.message
    );
    assert_eq!(f.fix, "sysctl -w net.ipv4.ip_local_reserved_ports=40080");
}

#[test]
fn the_fix_merges_with_what_is_already_reserved() {
    let plan = ocp_ce(json!({}));
    let r = check(
        plan,
        "h1",
        Phase::Preinstall,
        json!({ "ip-local-port-range": { "first": 2000, "last": 9000 }, "ip-local-reserved-ports": [2882, { "first": 5000, "last": 5002 }] }),
    );
    let found = with_code(&r, Code::EphemeralCollision);
    let specs: Vec<_> = found.iter().filter_map(|f| f.spec.as_deref()).collect();
    assert_eq!(
        specs,
        ["metadb.sql", "ocp-server.http"],
        "2882 is reserved: {found:#?}"
    );
    assert!(found.iter().all(|f| f.fix == "sysctl -w net.ipv4.ip_local_reserved_ports=2881-2882,5000-5002,8080"));
}

#[test]
fn ports_outside_the_range_or_reserved_do_not_collide() {
    none(&report(ocp_ce(json!({}))), Code::EphemeralCollision);
    let r = check(
        ocp_ce(json!({ "overrides": [{ "spec": "ocp-server.http", "ports": 40080 }] })),
        "h1",
        Phase::Preinstall,
        json!({ "ip-local-reserved-ports": [40080] }),
    );
    none(&r, Code::EphemeralCollision);
}

// ---- fixed-port-override ----

#[test]
fn overriding_an_unmodifiable_port_is_an_error() {
    let r = report(ocp_ce(
        json!({ "overrides": [{ "spec": "metadb.sql", "ports": 3881 }] }),
    ));
    let f = one(&r, Code::FixedPortOverride, Severity::Error);
    assert!(f.message.contains("cannot be changed"), "{}", f.message);
}

#[test]
fn overriding_a_configurable_port_or_to_the_default_is_fine() {
    none(
        &report(ocp_ce(
            json!({ "overrides": [{ "spec": "ocp-server.http", "ports": 8090 }] }),
        )),
        Code::FixedPortOverride,
    );
    none(
        &report(ocp_ce(
            json!({ "overrides": [{ "spec": "metadb.sql", "ports": 2881 }] }),
        )),
        Code::FixedPortOverride,
    );
}

// ---- inconsistent-port ----

fn cluster(app2_overrides: serde_json::Value) -> serde_json::Value {
    json!({
        "name": "t", "profiles": ["finedatalink-cluster"],
        "hosts": [
            { "name": "app1", "address": "198.18.0.1", "components": ["finedatalink", "ops-agent"] },
            { "name": "app2", "address": "198.18.0.2", "components": ["finedatalink", "ops-agent"], "overrides": app2_overrides },
            { "name": "comp1", "address": "198.18.0.3",
              "components": ["fanruan-gateway", "elasticsearch", "mysql", "redis", "minio", "kafka", "nacos", "nacos-mysql", "ops-agent"] }
        ]
    })
}

#[test]
fn ops_agent_port_must_match_on_every_server() {
    let r = report(cluster(
        json!([{ "spec": "ops-agent.http", "ports": 9071 }]),
    ));
    let f = one(&r, Code::InconsistentPort, Severity::Error);
    assert!(
        f.message.contains("9070 on app1, comp1; 9071 on app2"),
        "{}",
        f.message
    );
    assert_eq!(
        f.fix,
        "Override ops-agent.http to 9070 on every host that runs ops-agent."
    );
}

#[test]
fn consistent_ports_and_plan_wide_overrides_are_fine() {
    none(&report(cluster(json!([]))), Code::InconsistentPort);
    let mut plan = cluster(json!([]));
    plan["overrides"] = json!([{ "spec": "ops-agent.http", "ports": 9071 }]);
    none(&report(plan), Code::InconsistentPort);
}

// ---- loopback-exposed ----

fn backup_host() -> serde_json::Value {
    json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.2", "components": ["observer", "backup-agent"] }
        ]
    })
}

#[test]
fn a_firewall_rule_opening_a_loopback_port_is_an_error() {
    let r = check(
        backup_host(),
        "obs1",
        Phase::Preinstall,
        json!({ "firewall": { "backend": "iptables", "open": [{ "transport": "tcp", "ports": 2911, "sources": [] }] } }),
    );
    let f = one(&r, Code::LoopbackExposed, Severity::Error);
    assert!(f.message.contains("from anywhere"), "{}", f.message);
}

#[test]
fn firewall_rules_for_loopback_sources_or_other_ports_are_fine() {
    let r = check(
        backup_host(),
        "obs1",
        Phase::Postinstall,
        json!({
            "listeners": [{ "transport": "tcp", "address": "0.0.0.0", "port": 2911 }],
            "firewall": { "backend": "nftables", "open": [
                { "transport": "tcp", "ports": 2911, "sources": ["127.0.0.0/8"] },
                { "transport": "udp", "ports": 2912, "sources": [] },
                { "transport": "tcp", "ports": 2881, "sources": [] }
            ] }
        }),
    );
    none(&r, Code::LoopbackExposed);
}

#[test]
fn a_loopback_port_on_the_wildcard_without_firewall_warns() {
    let r = check(
        backup_host(),
        "obs1",
        Phase::Postinstall,
        json!({ "listeners": [
            { "transport": "tcp", "address": "0.0.0.0", "port": 2911 },
            { "transport": "tcp", "address": "::1", "port": 2912 }
        ] }),
    );
    let f = one(&r, Code::LoopbackExposed, Severity::Warning);
    assert_eq!(f.spec.as_deref(), Some("backup-agent.backup"));
}

// ---- port-in-use ----

#[test]
fn a_dual_stack_listener_holds_an_ipv4_hosts_port() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Preinstall,
        json!({ "listeners": [{ "transport": "tcp", "address": "::", "port": 8080, "pid": 31337, "command": "nginx" }] }),
    );
    let f = one(&r, Code::PortInUse, Severity::Error);
    assert!(
        f.message
            .contains("pid 31337 (nginx) listens on tcp [::]:8080"),
        "{}",
        f.message
    );
}

#[test]
fn a_v6only_listener_only_warns_on_an_ipv4_host() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Preinstall,
        json!({ "listeners": [{ "transport": "tcp", "address": "::", "port": 8080, "v6only": true }] }),
    );
    one(&r, Code::PortInUse, Severity::Warning);
}

#[test]
fn a_loopback_listener_still_blocks_the_wildcard_bind() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Preinstall,
        json!({ "listeners": [{ "transport": "tcp", "address": "127.0.0.1", "port": 2881, "pid": 5 }] }),
    );
    one(&r, Code::PortInUse, Severity::Error);
}

#[test]
fn other_ports_and_other_transports_are_not_in_use() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Preinstall,
        json!({ "listeners": [
            { "transport": "udp", "address": "0.0.0.0", "port": 8080 },
            { "transport": "tcp", "address": "0.0.0.0", "port": 22 }
        ] }),
    );
    none(&r, Code::PortInUse);
}

#[test]
fn listeners_are_ignored_after_install_by_port_in_use() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Postinstall,
        json!({ "listeners": [{ "transport": "tcp", "address": "0.0.0.0", "port": 8080, "command": "java" }] }),
    );
    none(&r, Code::PortInUse);
}

// ---- not-listening ----

#[test]
fn missing_and_loopback_only_listeners_are_not_listening() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Postinstall,
        json!({ "listeners": [
            { "transport": "tcp", "address": "0.0.0.0", "port": 8080 },
            { "transport": "tcp", "address": "127.0.0.1", "port": 2881 }
        ] }),
    );
    let found = with_code(&r, Code::NotListening);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].message.contains("listens only on 127.0.0.1:2881"),
        "{}",
        found[0].message
    );
    assert!(
        found[1]
            .message
            .contains("nothing listens on tcp port 2882"),
        "{}",
        found[1].message
    );
}

#[test]
fn wildcard_dual_stack_and_host_address_listeners_count() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Postinstall,
        json!({ "listeners": [
            { "transport": "tcp", "address": "::", "port": 8080 },
            { "transport": "tcp", "address": "198.18.0.1", "port": 2881 },
            { "transport": "tcp", "address": "::ffff:198.18.0.1", "port": 2882 }
        ] }),
    );
    none(&r, Code::NotListening);
}

#[test]
fn a_v6only_listener_does_not_serve_an_ipv4_host() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Postinstall,
        json!({ "listeners": [
            { "transport": "tcp", "address": "::", "port": 8080, "v6only": true },
            { "transport": "tcp", "address": "0.0.0.0", "port": 2881 },
            { "transport": "tcp", "address": "0.0.0.0", "port": 2882 }
        ] }),
    );
    let f = one(&r, Code::NotListening, Severity::Error);
    assert_eq!(f.spec.as_deref(), Some("ocp-server.http"));
}

// ---- invalid-plan ----

#[test]
fn a_missing_required_component_is_an_invalid_plan() {
    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["components"] = json!(["ocp-server"]);
    let r = report(plan);
    let f = one(&r, Code::InvalidPlan, Severity::Error);
    assert_eq!(f.component.as_deref(), Some("metadb"));
    none(&report(ocp_ce(json!({}))), Code::InvalidPlan);
}

// ---- no-allowed-sources ----

#[test]
fn a_port_meant_for_an_undefined_network_is_reported() {
    let mut plan = ocp_ce(json!({}));
    plan["networks"] = json!([]);
    let r = report(plan);
    let found = with_code(&r, Code::NoAllowedSources);
    let specs: Vec<_> = found.iter().filter_map(|f| f.spec.as_deref()).collect();
    assert_eq!(specs, ["metadb.sql", "ocp-server.http"], "{found:#?}");
    assert!(found.iter().all(|f| f.severity == Severity::Info));
    assert!(found[1].fix.contains("\"ocp-console\""), "{}", found[1].fix);

    let mut plan = ocp_ce(json!({}));
    plan["networks"] = json!([
        { "name": "ocp-console", "cidrs": ["198.18.200.0/24"] },
        { "name": "application", "cidrs": ["198.18.201.0/24"] }
    ]);
    none(&report(plan), Code::NoAllowedSources);
}

// ---- report shape ----

#[test]
fn summary_counts_findings_and_errors_come_first() {
    let r = report(fdl_single(
        json!({ "deploy-user": "non-root", "overrides": [{ "spec": "kafka.broker", "ports": 50000 }] }),
    ));
    let severities: Vec<Severity> = r.findings.iter().map(|f| f.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort();
    assert_eq!(severities, sorted);
    assert_eq!(
        r.summary.errors as usize,
        severities.iter().filter(|s| **s == Severity::Error).count()
    );
    assert_eq!(
        r.summary.warnings as usize,
        severities
            .iter()
            .filter(|s| **s == Severity::Warning)
            .count()
    );
    assert!(r.summary.errors >= 1 && r.summary.warnings >= 1);
}

#[test]
fn check_host_keeps_only_that_host() {
    let r = check(backup_host(), "obs1", Phase::Preinstall, json!({}));
    assert_eq!(r.hosts.len(), 1);
    assert_eq!(r.hosts[0].host, "obs1");
    assert!(r.rules.iter().all(|rule| rule.host == "obs1"));
    assert!(
        r.findings
            .iter()
            .all(|f| f.host.as_deref().is_none_or(|h| h == "obs1"))
    );
}
