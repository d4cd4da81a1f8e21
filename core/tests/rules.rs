//! Every rule, shown firing and not firing.

#![allow(clippy::unwrap_used)]
// Tests sort with std: the one-sort rule (core/clippy.toml) is for the plugins' code.
#![allow(clippy::disallowed_methods)]

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

/// Issue 14 item 4: OCP-Agent's own 62888 lies in its 62881-63881 pool, so a
/// second fixed port there leaves 999, not 1000.
#[test]
fn every_fixed_port_of_the_host_counts_against_a_pool() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "h1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "h2", "address": "198.18.0.2", "components": ["observer", "ocp-agent", "backup-agent"],
              "overrides": [{ "spec": "backup-agent.backup", "ports": 63000 }] }
        ]
    }));
    let f = one(&r, Code::PortConflict, Severity::Warning);
    assert_eq!(f.spec.as_deref(), Some("backup-agent.backup"));
    assert!(
        f.message.contains("999 of 1001 pool ports remain"),
        "{}",
        f.message
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

/// A loopback spec with accessors is refused naming the list as the plan
/// wrote it.
#[test]
fn a_loopback_spec_with_accessors_is_named_as_written() {
    let e = rejected(json!({
        "name": "t", "profiles": ["dns"],
        "custom-profiles": [{
            "name": "dns", "title": "DNS",
            "components": [{ "name": "dns", "title": "DNS" }],
            "specs": [
                { "id": "dns.local", "component": "dns", "ports": 5353, "transport": "tcp", "allocation": "fixed",
                  "exposure": "loopback", "modifiable": "not-supported", "purpose": "p", "source": "s",
                  "accessed-by": [{ "component": "dns" }] }
            ]
        }],
        "hosts": [{ "name": "h1", "address": "198.18.0.1", "components": ["dns"] }]
    }));
    let problem = e
        .problems
        .iter()
        .find(|p| p.path == "custom-profiles[0].specs[0].accessed-by")
        .unwrap_or_else(|| panic!("{e}"));
    assert_eq!(problem.value, r#"[{"component":"dns"}]"#);
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

/// A rule that admits every port (a management network's accept, an
/// interface) is a trust policy: a warning while the local-only port
/// listens on loopback only, an error once it listens beyond (an
/// adversarial review of the wide reading: `ip saddr 10.0.0.0/8 accept`
/// stopped every task).
#[test]
fn a_rule_admitting_every_port_is_a_warning_until_the_port_listens_beyond_loopback() {
    let every = json!({ "backend": "nftables", "open": [
        { "transport": "tcp", "ports": { "first": 1, "last": 65535 }, "sources": ["10.0.0.0/8"] }
    ] });
    let with = |listener: &str| {
        check(
            backup_host(),
            "obs1",
            Phase::Postinstall,
            json!({
                "listeners": [{ "transport": "tcp", "address": listener, "port": 2911 }],
                "firewall": every
            }),
        )
    };
    let quiet = with("127.0.0.1");
    let f = with_code(&quiet, Code::LoopbackExposed);
    assert!(
        !f.is_empty() && f.iter().all(|f| f.severity == Severity::Warning),
        "{f:#?}"
    );
    assert!(
        f[0].message.contains("by a rule that admits every port"),
        "{}",
        f[0].message
    );
    let exposed = with("0.0.0.0");
    let f = with_code(&exposed, Code::LoopbackExposed);
    assert!(
        f.iter()
            .any(|f| f.severity == Severity::Error
                && f.spec.as_deref() == Some("backup-agent.backup")),
        "{f:#?}"
    );
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

// ---- overexposed (the audit's warning) ----

/// A rule portplan did not write that admits a planned port wider than the
/// plan is said (an adversarial review: `ip saddr 10.0.0.0/8 tcp dport 2881
/// accept` left the audit green); what the plan admits, and portplan's own
/// rules (the live audit's `firewall-drift`), are not.
#[test]
fn a_foreign_rule_admitting_a_planned_port_wider_than_the_plan_warns() {
    let observed = |open: serde_json::Value| {
        check(
            backup_host(),
            "obs1",
            Phase::Postinstall,
            json!({ "firewall": { "backend": "nftables", "open": open } }),
        )
    };
    let r = observed(json!([
        { "transport": "tcp", "ports": 2881, "sources": ["10.0.0.0/8"] }
    ]));
    let f = one(&r, Code::Overexposed, Severity::Warning);
    assert_eq!(f.spec.as_deref(), Some("observer.sql"));
    assert!(
        f.message.contains("port 2881 from 10.0.0.0/8"),
        "{}",
        f.message
    );
    let r = observed(
        json!([{ "transport": "tcp", "ports": { "first": 1, "last": 65535 }, "sources": [] }]),
    );
    let wide = with_code(&r, Code::Overexposed);
    assert!(
        wide.iter().any(|f| f.message.contains("from anywhere")),
        "{wide:#?}"
    );
    assert!(wide.iter().all(|f| f.severity == Severity::Warning));
    for fine in [
        json!([{ "transport": "tcp", "ports": 2881, "sources": ["198.18.0.1/32"] }]),
        json!([{ "transport": "tcp", "ports": 2881, "sources": [], "tag": "portplan:observer.sql" }]),
        json!([{ "transport": "udp", "ports": 2881, "sources": [] }]),
    ] {
        none(&observed(fine.clone()), Code::Overexposed);
    }
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

/// Seed 000: "ensure the port ... is not in use"; seed 002: "Make sure that
/// the ports are not occupied by other programs": any holder is an error.
#[test]
fn a_v6only_listener_on_an_ipv4_host_is_an_error_before_install() {
    let r = check(
        ocp_ce(json!({})),
        "h1",
        Phase::Preinstall,
        json!({ "listeners": [{ "transport": "tcp", "address": "::", "port": 8080, "v6only": true }] }),
    );
    let f = one(&r, Code::PortInUse, Severity::Error);
    assert!(
        f.message.contains("in the other address family only"),
        "{}",
        f.message
    );
}

#[test]
fn an_ipv4_only_listener_on_an_ipv6_host_is_an_error_before_install() {
    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["address"] = json!("2001:db8::1");
    let r = check(
        plan,
        "h1",
        Phase::Preinstall,
        json!({ "listeners": [{ "transport": "tcp", "address": "0.0.0.0", "port": 8080 }] }),
    );
    one(&r, Code::PortInUse, Severity::Error);
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
    // metadb.sql is OCP's MetaDB: OCP-Server reaches it, no client network.
    assert_eq!(specs, ["ocp-server.http"], "{found:#?}");
    assert!(found.iter().all(|f| f.severity == Severity::Info));
    assert!(found[0].fix.contains("\"ocp-console\""), "{}", found[0].fix);

    none(&report(ocp_ce(json!({}))), Code::NoAllowedSources);
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
    let rules = portplan_core::firewall_rules(&r, None).unwrap();
    assert!(rules.iter().all(|rule| rule.host == "obs1"));
    assert!(
        r.findings
            .iter()
            .all(|f| f.host.as_deref().is_none_or(|h| h == "obs1"))
    );
}

// ---- readings of the seeds (ARCHITECTURE.md; issue 14) ----

fn rules(r: &portplan_core::Report) -> Vec<portplan_core::FirewallRule> {
    portplan_core::firewall_rules(r, None).unwrap()
}

fn rule_sources(r: &portplan_core::Report, host: &str, spec: &str) -> Vec<String> {
    rules(r)
        .iter()
        .find(|rule| rule.host == host && rule.spec == spec)
        .map(|rule| rule.sources.to_vec())
        .unwrap_or_default()
}

/// 000's extranet table opens only "Nginx of O&M projects" to "O&M personnel
/// (unlimited IP address)": MinIO stays inside the project unless the plan
/// defines network `minio-clients`.
#[test]
fn minio_is_project_internal_unless_the_plan_opts_in() {
    let mut plan = cluster(json!([]));
    plan["networks"] = json!([{ "name": "admin", "cidrs": ["0.0.0.0/0"] }]);
    let r = report(plan.clone());
    assert_eq!(
        rule_sources(&r, "comp1", "fanruan-gateway.http"),
        ["0.0.0.0/0"]
    );
    for spec in ["minio.api", "minio.console"] {
        assert_eq!(
            // The project's hosts, comp1 (198.18.0.3) itself included.
            rule_sources(&r, "comp1", spec),
            ["198.18.0.1/32", "198.18.0.2/31"],
            "{spec}"
        );
    }
    plan["networks"] = json!([
        { "name": "admin", "cidrs": ["0.0.0.0/0"] },
        { "name": "minio-clients", "cidrs": ["198.18.77.0/24"] }
    ]);
    let r = report(plan);
    assert_eq!(
        rule_sources(&r, "comp1", "minio.api"),
        ["198.18.0.1/32", "198.18.0.2/31", "198.18.77.0/24"]
    );
}

/// 002's OceanBase database holds OCP's MetaDB and MonitorDB: applications do
/// not reach it, so OCP-CE knows no `application` network.
#[test]
fn ocp_ce_metadb_is_reached_by_ocp_server_and_the_other_metadb_nodes() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp-ce"],
        "hosts": [
            { "name": "ocp", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "db1", "address": "198.18.0.11", "components": ["metadb"] },
            { "name": "db2", "address": "198.18.0.12", "components": ["metadb"] }
        ],
        "networks": [{ "name": "ocp-console", "cidrs": ["198.18.200.0/24"] }]
    }));
    assert_eq!(rule_sources(&r, "db1", "metadb.sql"), ["198.18.0.1/32"]);
    // The MetaDB nodes, db1 itself included.
    assert_eq!(
        rule_sources(&r, "db1", "metadb.rpc"),
        ["198.18.0.11/32", "198.18.0.12/32"]
    );
    let mut plan = ocp_ce(json!({}));
    plan["networks"] = json!([{ "name": "application", "cidrs": ["198.18.201.0/24"] }]);
    let e = rejected(plan);
    assert_eq!(e.problems[0].path, "networks[0].name", "{e:#?}");
}

/// 000, FineOps and O&M Project, read literally: "Basic O&M | FineOps Nginx |
/// <- Access | Each application node of the project: 8068" and "... FineOps
/// Nginx | <- Access | OPS Agent on every server of this project": every
/// project server reaches FineOps Nginx, whose port the seed does not name.
#[test]
fn every_project_server_reaches_fineops_nginx_and_the_plan_names_its_port() {
    let plan = |overrides: serde_json::Value| {
        json!({
            "name": "t", "profiles": ["finedatalink-single", "fineops"],
            "hosts": [
                { "name": "fdl1", "address": "198.18.0.10",
                  "components": ["finedatalink", "fanruan-gateway", "mysql", "elasticsearch", "kafka", "ops-agent"] },
                { "name": "fineops1", "address": "198.18.0.100",
                  "components": ["fineops-nginx", "skywalking-oap", "fineops-registry"], "overrides": overrides }
            ],
            "networks": [{ "name": "fineops-users", "cidrs": ["198.18.100.0/24"] }]
        })
    };
    let r = report(plan(json!([])));
    assert_eq!(
        rule_sources(&r, "fineops1", "fineops-nginx.http"),
        ["198.18.0.10/32", "198.18.100.0/24"]
    );
    let f = one(&r, Code::InvalidPlan, Severity::Warning);
    assert_eq!(f.spec.as_deref(), Some("fineops-nginx.http"));
    assert!(f.message.contains("assumes 80"), "{}", f.message);
    // Stating the port, even the default, answers it.
    none(
        &report(plan(json!([{ "spec": "fineops-nginx.http", "ports": 80 }]))),
        Code::InvalidPlan,
    );
    // Browser-facing: 000's Chrome list is about "accessing FineOps".
    let r = report(plan(
        json!([{ "spec": "fineops-nginx.http", "ports": 6000 }]),
    ));
    let f = one(&r, Code::BrowserBlockedPort, Severity::Error);
    assert_eq!(f.spec.as_deref(), Some("fineops-nginx.http"));
}

/// 001: OCP-Agent is "Agents deployed on the hosts that are managed by OCP".
#[test]
fn a_host_with_observer_or_obproxy_needs_an_ocp_agent() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"] },
            { "name": "obs2", "address": "198.18.0.12", "components": ["observer"] },
            { "name": "px1", "address": "198.18.0.20", "components": ["obproxy", "ocp-agent"] }
        ]
    }));
    let f = one(&r, Code::InvalidPlan, Severity::Error);
    assert_eq!(f.host.as_deref(), Some("obs2"));
    assert_eq!(f.component.as_deref(), Some("ocp-agent"));
    assert!(f.fix.contains("\"ocp-agent\""), "{}", f.fix);
}

/// 001: "The OCP Docker contains OCP-Server and OBProxy ... the OBProxy
/// listening port in the OCP Docker does not need to be opened to other
/// hosts": an external OBProxy on the OCP-Server host conflicts with it, and
/// the port gets no firewall rule.
#[test]
fn the_ocp_docker_obproxy_holds_2883_and_2884_on_the_ocp_server_host() {
    let r = report(json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server", "obproxy", "ocp-agent"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"] }
        ]
    }));
    let conflicts: Vec<_> = with_code(&r, Code::PortConflict)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert_eq!(conflicts.len(), 2, "{conflicts:#?}");
    assert!(
        conflicts[0]
            .message
            .contains("obproxy.sql and ocp-server.obproxy-sql both claim tcp port 2883"),
        "{}",
        conflicts[0].message
    );
    assert!(
        !rules(&r)
            .iter()
            .any(|rule| rule.spec.starts_with("ocp-server.obproxy")),
        "{:#?}",
        rules(&r)
    );
    let r = report(json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer", "obproxy", "ocp-agent"] }
        ]
    }));
    none(&r, Code::PortConflict);
}

/// Issue 14, "Also": a forgotten client network name is no longer silent
/// when plan hosts reach the port: a browser-facing port with no plan
/// network reaching it is reported.
#[test]
fn a_browser_port_reached_only_by_plan_hosts_is_reported() {
    let plan = ocp_pair;
    let r = report(plan(
        json!([{ "name": "application", "cidrs": ["198.18.50.0/24"] }]),
    ));
    let f = one(&r, Code::NoAllowedSources, Severity::Info);
    assert_eq!(f.spec.as_deref(), Some("ocp-server.http"));
    assert!(f.message.contains("only plan hosts"), "{}", f.message);
    assert!(f.fix.contains("\"ocp-console\""), "{}", f.fix);
    none(
        &report(plan(json!([
            { "name": "application", "cidrs": ["198.18.50.0/24"] },
            { "name": "ocp-console", "cidrs": ["198.18.60.0/24"] }
        ]))),
        Code::NoAllowedSources,
    );
    // MinIO's network is opt-in: leaving it out is no omission.
    let r = report(cluster(json!([])));
    assert!(
        with_code(&r, Code::NoAllowedSources).iter().all(|f| !f
            .spec
            .as_deref()
            .unwrap_or("")
            .starts_with("minio")),
        "{r:#?}"
    );
}

/// 000 cluster note 4: "If you need to deploy a dual-node internal gateway,
/// ensure you have reserved a port for the FanRuan internal gateway on the
/// main application server." The reserved port need not equal the component
/// server's, but it is checked like any port. Notes 2 and 3 make only the
/// component servers' ports and the OPS Agent's match; FineDataLink's own
/// main-server ports may differ.
#[test]
fn the_dual_node_gateway_reservation_is_checked_but_need_not_match() {
    let mut plan = cluster(json!([
        { "spec": "fanruan-gateway.http", "ports": 6000 },
        { "spec": "finedatalink.http", "ports": 8081 }
    ]));
    plan["hosts"][1]["components"] = json!(["finedatalink", "ops-agent", "fanruan-gateway"]);
    let r = report(plan);
    none(&r, Code::InconsistentPort);
    let f = one(&r, Code::BrowserBlockedPort, Severity::Error);
    assert_eq!(f.host.as_deref(), Some("app2"));
    // Two component servers still must agree (note 2).
    let mut plan = cluster(json!([]));
    plan["hosts"][1]["components"] = json!(["finedatalink", "ops-agent"]);
    plan["hosts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "comp2", "address": "198.18.0.4", "components": ["fanruan-gateway", "ops-agent"],
                      "overrides": [{ "spec": "fanruan-gateway.http", "ports": 8443 }] }));
    let r = report(plan);
    let f = one(&r, Code::InconsistentPort, Severity::Error);
    assert_eq!(f.spec.as_deref(), Some("fanruan-gateway.http"));
}

/// 001: "In general, other components access OCP-Server through SLB or DNS
/// address." A plan names the SLB as network `ocp-slb`; 8080 admits it
/// besides each accessor, and leaving it out is no omission.
#[test]
fn the_slb_in_front_of_ocp_server_is_admitted_when_the_plan_names_it() {
    let plan = ocp_pair;
    let r = report(plan(json!([
        { "name": "ocp-console", "cidrs": ["198.18.60.0/24"] },
        { "name": "ocp-slb", "cidrs": ["198.18.70.5"] }
    ])));
    assert_eq!(
        rule_sources(&r, "ocp1", "ocp-server.http"),
        ["198.18.0.11/32", "198.18.60.0/24", "198.18.70.5/32"]
    );
    let on = |r: &portplan_core::Report, code| {
        with_code(r, code)
            .iter()
            .filter(|f| f.host.as_deref() == Some("ocp1"))
            .count()
    };
    assert_eq!(on(&r, Code::NoAllowedSources), 0);

    // "instead of": every client goes through the SLB, so 8080 admits it alone
    // and the sheet's purpose names whom it stands in for.
    let r = report(plan(json!([
        { "name": "ocp-console", "cidrs": ["198.18.60.0/24"] },
        { "name": "ocp-slb", "cidrs": ["198.18.70.5"], "exclusive": true }
    ])));
    assert_eq!(
        rule_sources(&r, "ocp1", "ocp-server.http"),
        ["198.18.70.5/32"]
    );
    let all = rules(&r);
    let rule = all.iter().find(|x| x.spec == "ocp-server.http").unwrap();
    assert!(
        rule.purpose.ends_with(
            "Admitted only through network ocp-slb, instead of host obs1, network ocp-console."
        ),
        "{}",
        rule.purpose
    );
    assert_eq!(on(&r, Code::NoAllowedSources), 0);
}

/// The "Also" of the vendor-table audit: a client-facing port (OBServer's SQL
/// port, which applications reach: seed 001 "OBServer ... 2881 ... Access
/// source: applications") with no client network of the plan reaching it is
/// worth an info finding even when plan hosts reach it.
#[test]
fn a_client_facing_port_without_its_client_network_is_reported() {
    let plan = ocp_pair;
    let r = report(plan(
        json!([{ "name": "ocp-console", "cidrs": ["198.18.60.0/24"] }]),
    ));
    let sql: Vec<_> = with_code(&r, Code::NoAllowedSources)
        .into_iter()
        .filter(|f| f.spec.as_deref() == Some("observer.sql"))
        .collect();
    assert_eq!(sql.len(), 1, "{sql:?}");
    assert!(sql[0].message.contains("serves clients outside the plan"));
    let r = report(plan(json!([
        { "name": "ocp-console", "cidrs": ["198.18.60.0/24"] },
        { "name": "application", "cidrs": ["198.18.61.0/24"] }
    ])));
    assert!(
        !with_code(&r, Code::NoAllowedSources)
            .iter()
            .any(|f| f.spec.as_deref() == Some("observer.sql"))
    );
}

/// 000 cluster note 2: "If you have prepared multiple component servers,
/// ensure the port configuration of all component servers is consistent and
/// meets the requirements since the components are randomly assigned during
/// installation": every component-server port is checked, and opened, on
/// every component server.
#[test]
fn every_component_server_carries_every_component_servers_ports() {
    let mut plan = cluster(json!([]));
    plan["deploy-user"] = json!("non-root");
    plan["hosts"].as_array_mut().unwrap().push(
        json!({ "name": "comp2", "address": "198.18.0.4", "components": ["redis", "ops-agent"],
                      "overrides": [{ "spec": "redis.redis", "ports": 6380 }] }),
    );
    let r = report(plan);
    let comp2 = r.hosts.iter().find(|h| h.host == "comp2").unwrap();
    // MinIO runs on comp1 only in the plan, but may land on comp2.
    assert!(comp2.ports.iter().any(|p| p.spec == "minio.api"));
    // The gateway's 80 is checked for the non-root user on comp2 too.
    let privileged: Vec<_> = with_code(&r, Code::PrivilegedPort)
        .iter()
        .filter_map(|f| f.host.clone())
        .collect();
    assert_eq!(privileged, ["comp1", "comp2"]);
    // comp2's Redis port differs from comp1's.
    let f = one(&r, Code::InconsistentPort, Severity::Error);
    assert_eq!(f.spec.as_deref(), Some("redis.redis"));
    assert!(!rule_sources(&r, "comp2", "minio.api").is_empty());
    // With one component server nothing is added.
    let r = report(cluster(json!([])));
    let app1 = r.hosts.iter().find(|h| h.host == "app1").unwrap();
    assert!(!app1.ports.iter().any(|p| p.spec == "minio.api"));
}

/// OCP-Server and one OBServer with its agent, and the given client networks.
fn ocp_pair(networks: serde_json::Value) -> serde_json::Value {
    json!({
        "name": "t", "profiles": ["ocp"],
        "hosts": [
            { "name": "ocp1", "address": "198.18.0.1", "components": ["ocp-server"] },
            { "name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"] }
        ],
        "networks": networks
    })
}
