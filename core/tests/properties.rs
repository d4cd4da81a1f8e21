//! Properties over generated input: no input makes the core panic, and
//! reports keep their invariants on any plan.

#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use portplan_core::{ReportFormat, Severity};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, nested a few levels, with keys the plan uses so that the
/// generator reaches past the first unknown-field error.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("name".to_string()),
        Just("profiles".to_string()),
        Just("hosts".to_string()),
        Just("address".to_string()),
        Just("components".to_string()),
        Just("ports".to_string()),
        Just("first".to_string()),
        Just("last".to_string()),
        Just("spec".to_string()),
        Just("overrides".to_string()),
        "[a-z-]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u16>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("ocp".to_string()),
            Just("ocp-server".to_string()),
            Just("198.18.0.1".to_string()),
            ".{0,12}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const COMPONENTS: [&str; 5] = [
    "ocp-server",
    "ocp-agent",
    "observer",
    "obproxy",
    "backup-agent",
];
const SPECS: [&str; 6] = [
    "ocp-server.http",
    "observer.sql",
    "observer.rpc",
    "obproxy.sql",
    "ocp-agent.rpc",
    "backup-agent.backup",
];

/// Well-formed OCP plans with random placement, overrides and networks.
fn ocp_plan() -> impl Strategy<Value = Value> {
    let host = (
        prop::sample::subsequence(COMPONENTS.to_vec(), 1..=5),
        1u8..=254,
    );
    let overrides =
        prop::collection::vec((prop::sample::select(SPECS.to_vec()), 1u16..=65535), 0..3);
    (
        prop::collection::vec(host, 1..6),
        overrides,
        any::<bool>(),
        prop::option::of((any::<[u8; 4]>(), 0u8..=32)),
    )
        .prop_map(|(hosts, overrides, non_root, network)| {
            let mut seen = std::collections::BTreeSet::new();
            let hosts: Vec<Value> = hosts
                .into_iter()
                .enumerate()
                .filter(|(_, (_, last))| seen.insert(*last))
                .map(|(i, (components, last))| {
                    json!({ "name": format!("h{i}"), "address": Ipv4Addr::new(198, 18, 0, last).to_string(), "components": components })
                })
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            let overrides: Vec<Value> = overrides
                .into_iter()
                .filter(|(spec, _)| seen.insert(*spec))
                .map(|(spec, port)| json!({ "spec": spec, "ports": port }))
                .collect();
            let networks: Vec<Value> = network
                .map(|(octets, prefix)| json!({ "name": "application", "cidrs": [format!("{}/{prefix}", Ipv4Addr::from(octets))] }))
                .into_iter()
                .collect();
            json!({
                "name": "generated", "profiles": ["ocp"], "hosts": hosts, "overrides": overrides, "networks": networks,
                "deploy-user": if non_root { "non-root" } else { "root" }
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_json_makes_the_core_panic(value in any_json()) {
        if let Ok(plan) = portplan_core::parse_plan(&value.to_string())
            && let Ok(report) = portplan_core::validate_plan(&plan)
        {
            for format in [ReportFormat::Json, ReportFormat::Table, ReportFormat::Markdown, ReportFormat::Csv] {
                portplan_core::render_report(&report, format);
            }
        }
    }

    #[test]
    fn no_text_makes_the_parser_panic(text in ".{0,64}") {
        let _ = portplan_core::parse_plan(&text);
    }

    #[test]
    fn rejected_plans_name_a_path(value in any_json()) {
        if let Err(error) = portplan_core::parse_plan(&value.to_string()).and_then(|p| portplan_core::validate_plan(&p)) {
            prop_assert!(!error.problems.is_empty());
            prop_assert!(error.problems.iter().all(|p| !p.path.is_empty() && !p.message.is_empty()));
        }
    }

    #[test]
    fn reports_keep_their_invariants(plan in ocp_plan()) {
        let text = plan.to_string();
        let parsed = portplan_core::parse_plan(&text).unwrap();
        let report = match portplan_core::validate_plan(&parsed) {
            Ok(report) => report,
            // Only an override whose shape differs from the spec's may be rejected.
            Err(error) => {
                prop_assert!(error.problems.iter().all(|p| p.path.starts_with("overrides[")), "{error}");
                return Ok(());
            }
        };
        // Deterministic, byte for byte.
        let again = portplan_core::validate_plan(&portplan_core::parse_plan(&text).unwrap()).unwrap();
        prop_assert_eq!(
            portplan_core::render_report(&report, ReportFormat::Json),
            portplan_core::render_report(&again, ReportFormat::Json)
        );
        // A host never admits itself, and nothing is open to everyone unless a network says so.
        for rule in &report.rules {
            let host = report.hosts.iter().find(|h| h.host == rule.host).unwrap();
            prop_assert!(!rule.sources.contains(&format!("{}/32", host.address)), "{rule:?}");
            prop_assert!(!rule.sources.is_empty());
            if rule.sources.iter().any(|s| s == "0.0.0.0/0") {
                prop_assert!(text.contains("/0\""));
            }
            prop_assert!(!rule.spec.starts_with("backup-agent."), "loopback spec opened");
        }
        // Findings come errors first, and the summary counts them.
        let errors = report.findings.iter().filter(|f| f.severity == Severity::Error).count() as u32;
        prop_assert_eq!(report.summary.errors, errors);
        prop_assert!(report.findings.windows(2).all(|w| w[0].severity <= w[1].severity));
    }
}
