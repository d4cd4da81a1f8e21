//! Helpers shared by core's integration tests.

#![allow(dead_code, clippy::unwrap_used)]

use portplan_core::{
    Finding, FindingCode, FirewallState, FirewalldState, IptablesState, NftState, Observation,
    Phase, Plan, PlanError, Report, Severity, UfwState,
};
use serde_json::{Value, json};

pub fn plan(value: Value) -> Plan {
    portplan_core::parse_plan(&value.to_string())
        .unwrap_or_else(|e| panic!("test plan rejected: {e}"))
}

pub fn report(value: Value) -> Report {
    portplan_core::validate_plan(&plan(value)).unwrap_or_else(|e| panic!("test plan rejected: {e}"))
}

pub fn rejected(value: Value) -> PlanError {
    let text = value.to_string();
    match portplan_core::parse_plan(&text).and_then(|p| portplan_core::validate_plan(&p)) {
        Ok(_) => panic!("plan was accepted: {text}"),
        Err(e) => e,
    }
}

pub fn check(value: Value, host: &str, phase: Phase, observation: Value) -> Report {
    let observation: Observation = serde_json::from_value(observation).unwrap();
    portplan_core::check_host(&plan(value), host, phase, &observation).unwrap()
}

pub fn with_code(report: &Report, code: FindingCode) -> Vec<&Finding> {
    report.findings.iter().filter(|f| f.code == code).collect()
}

pub fn one(report: &Report, code: FindingCode, severity: Severity) -> &Finding {
    let found = with_code(report, code);
    assert_eq!(found.len(), 1, "expected one {code:?}, got {found:#?}");
    assert_eq!(found[0].severity, severity, "{:#?}", found[0]);
    found[0]
}

pub fn none(report: &Report, code: FindingCode) {
    let found = with_code(report, code);
    assert!(found.is_empty(), "expected no {code:?}, got {found:#?}");
}

/// A one-host OCP-CE plan (metadb + ocp-server), with extra top-level fields.
pub fn ocp_ce(extra: Value) -> Value {
    let mut plan = json!({
        "name": "t",
        "profiles": ["ocp-ce"],
        "hosts": [{ "name": "h1", "address": "198.18.0.1", "components": ["metadb", "ocp-server"] }],
        "networks": [{ "name": "ocp-console", "cidrs": ["198.18.200.0/24"] }]
    });
    merge(&mut plan, extra);
    plan
}

/// A one-host FineDataLink single plan.
pub fn fdl_single(extra: Value) -> Value {
    let mut plan = json!({
        "name": "t",
        "profiles": ["finedatalink-single"],
        "hosts": [{ "name": "h1", "address": "198.18.0.1",
                    "components": ["finedatalink", "fanruan-gateway", "mysql", "elasticsearch", "kafka", "ops-agent"] }],
        "networks": [{ "name": "admin", "cidrs": ["198.18.100.0/24"] }]
    });
    merge(&mut plan, extra);
    plan
}

pub fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(base), Value::Object(extra)) = (base, extra) {
        base.extend(extra);
    }
}

/// The nftables state inside `state`; any other backend fails the test.
pub fn nft(state: &FirewallState) -> &NftState {
    match state {
        FirewallState::Nftables(s) => s,
        other => panic!("expected an nftables state, got {:?}", other.backend()),
    }
}

/// The iptables state inside `state`; any other backend fails the test.
pub fn ipt(state: &FirewallState) -> &IptablesState {
    match state {
        FirewallState::Iptables(s) => s,
        other => panic!("expected an iptables state, got {:?}", other.backend()),
    }
}

/// The firewalld state inside `state`; any other backend fails the test.
pub fn firewalld(state: &FirewallState) -> &FirewalldState {
    match state {
        FirewallState::Firewalld(s) => s,
        other => panic!("expected a firewalld state, got {:?}", other.backend()),
    }
}

/// The ufw state inside `state`; any other backend fails the test.
pub fn ufw(state: &FirewallState) -> &UfwState {
    match state {
        FirewallState::Ufw(s) => s,
        other => panic!("expected a ufw state, got {:?}", other.backend()),
    }
}
