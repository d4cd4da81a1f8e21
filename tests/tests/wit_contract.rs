//! The WIT is the contract: core's JSON must be the WIT records written out.
//!
//! Full sample values (every field, every case where it matters) are serialised
//! by core and walked alongside the WIT types: record fields by name and in
//! order, enum and variant cases by name, options, lists and integers by shape.
//! A field added on one side only fails here.

use std::path::Path;

use serde_json::{Value, json};
use wit_parser::{Resolve, Type, TypeDefKind, TypeId, TypeOwner};

struct Wit {
    resolve: Resolve,
}

impl Wit {
    fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/portplan.wit");
        let text = std::fs::read_to_string(&path).expect("wit is readable");
        let mut resolve = Resolve::default();
        resolve.push_str(&path, &text).expect("wit parses");
        Wit { resolve }
    }

    /// The type of this name defined in the `types` interface.
    fn named(&self, name: &str) -> TypeId {
        self.resolve
            .types
            .iter()
            .find(|(_, t)| {
                t.name.as_deref() == Some(name)
                    && matches!(t.owner, TypeOwner::Interface(i) if self.resolve.interfaces[i].name.as_deref() == Some("types"))
            })
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("WIT has no type {name}"))
    }

    fn check(&self, ty: &Type, value: &Value, at: &str) {
        match ty {
            Type::Bool => assert!(value.is_boolean(), "{at}: expected bool, got {value}"),
            Type::U16 => assert!(
                value.as_u64().is_some_and(|n| n <= u16::MAX.into()),
                "{at}: expected u16, got {value}"
            ),
            Type::U32 => assert!(
                value.as_u64().is_some_and(|n| n <= u32::MAX.into()),
                "{at}: expected u32, got {value}"
            ),
            Type::U64 => assert!(value.as_u64().is_some(), "{at}: expected u64, got {value}"),
            Type::String => assert!(value.is_string(), "{at}: expected string, got {value}"),
            Type::Id(id) => self.check_def(*id, value, at),
            other => panic!("{at}: the contract uses no {other:?}"),
        }
    }

    fn check_def(&self, id: TypeId, value: &Value, at: &str) {
        let def = &self.resolve.types[id];
        match &def.kind {
            TypeDefKind::Type(alias) => self.check(alias, value, at),
            TypeDefKind::Record(record) => {
                let object = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{at}: expected record, got {value}"));
                let wit: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
                let json: Vec<&str> = object.keys().map(String::as_str).collect();
                assert_eq!(json, wit, "{at}: fields of {:?}", def.name);
                for field in &record.fields {
                    self.check(
                        &field.ty,
                        &object[&field.name],
                        &format!("{at}.{}", field.name),
                    );
                }
            }
            TypeDefKind::Enum(e) => {
                let case = value
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: expected enum, got {value}"));
                assert!(
                    e.cases.iter().any(|c| c.name == case),
                    "{at}: {case} is not a case of {:?}",
                    def.name
                );
            }
            TypeDefKind::Variant(v) => {
                let (case, payload) = match value {
                    Value::String(case) => (case.as_str(), None),
                    Value::Object(object) if object.len() == 1 => {
                        let (case, payload) = object.iter().next().expect("one entry");
                        (case.as_str(), Some(payload))
                    }
                    other => panic!("{at}: expected variant, got {other}"),
                };
                let wit = v
                    .cases
                    .iter()
                    .find(|c| c.name == case)
                    .unwrap_or_else(|| panic!("{at}: {case} is not a case of {:?}", def.name));
                match (&wit.ty, payload) {
                    (None, None) => {}
                    (Some(ty), Some(payload)) => self.check(ty, payload, &format!("{at}.{case}")),
                    _ => panic!("{at}: payload of case {case} does not match the WIT"),
                }
            }
            TypeDefKind::Option(inner) => {
                if !value.is_null() {
                    self.check(inner, value, at);
                }
            }
            TypeDefKind::List(inner) => {
                let items = value
                    .as_array()
                    .unwrap_or_else(|| panic!("{at}: expected list, got {value}"));
                for (i, item) in items.iter().enumerate() {
                    self.check(inner, item, &format!("{at}[{i}]"));
                }
            }
            other => panic!("{at}: the contract uses no {other:?}"),
        }
    }

    fn check_named<T: serde::Serialize>(&self, name: &str, value: &T) {
        let value = serde_json::to_value(value).expect("serialises");
        self.check_def(self.named(name), &value, name);
    }
}

/// A plan with every optional part present, round-tripped through core.
fn full_plan() -> portplan_core::Plan {
    let text = json!({
        "name": "full", "profiles": ["ocp", "site"], "deploy-user": "non-root",
        "hosts": [
            { "name": "h1", "address": "198.18.0.1", "components": ["ocp-server", "web"], "deploy-user": "root",
              "overrides": [{ "spec": "ocp-server.http", "ports": 8090 }] },
            { "name": "h2", "address": "198.18.0.2", "components": ["observer", "ocp-agent", "backup-agent"] }
        ],
        "networks": [{ "name": "ocp-console", "cidrs": ["198.18.9.0/24"], "description": "DBAs" }],
        "overrides": [{ "spec": "observer.sql", "ports": 2881 }],
        "custom-profiles": [{
            "name": "site", "title": "Site", "description": "d", "source": "s",
            "components": [{ "name": "web", "title": "Web", "description": "d", "required": true }],
            "networks": [{ "name": "people", "description": "d" }],
            "specs": [{ "id": "web.http", "component": "web", "ports": { "first": 7000, "last": 7001 }, "transport": "udp",
                        "protocol": "quic", "allocation": "pool", "exposure": "browser",
                        "accessed-by": [{ "network": "people" }, { "component": "observer" }, { "profile": "ocp" }],
                        "modifiable": { "configurable": "web.conf" }, "same-on-all-hosts": true, "optional": false,
                        "purpose": "p", "source": "s" }]
        }],
        "observations": [{ "host": "h2", "phase": "postinstall", "observation": {
            "listeners": [{ "transport": "tcp", "address": "0.0.0.0", "port": 2911, "v6only": false, "pid": 1, "command": "x" }],
            "ip-local-port-range": { "first": 2000, "last": 60999 }, "ip-local-reserved-ports": [2881],
            "ip-unprivileged-port-start": 1024, "effective-uid": 0,
            "firewall": { "backend": "nftables", "open": [{ "transport": "tcp", "ports": 2911, "sources": ["198.18.0.0/16"], "tag": "portplan:x" }] }
        } }]
    });
    portplan_core::parse_plan(&text.to_string()).expect("full plan parses")
}

#[test]
fn every_record_core_writes_is_the_wits() {
    let wit = Wit::load();
    let plan = full_plan();
    wit.check_named("plan", &plan);
    let report = portplan_core::validate_plan(&plan).expect("full plan validates");
    let rules = portplan_core::firewall_rules(&report, None).expect("rules");
    assert!(!report.findings.is_empty() && !rules.is_empty() && !report.source_groups.is_empty());
    wit.check_named("report", &report);
    for profile in portplan_core::catalog() {
        wit.check_named("profile", &profile);
    }
    let error = portplan_core::parse_plan("{}").expect_err("rejected");
    wit.check_named("plan-error", &error);

    // The reach records, from the reach corpus (a plan, what responders
    // reported, what every source measured).
    let case = portplan_tests::ReachInput::parse(
        &std::fs::read_to_string(
            portplan_tests::corpus_dir().join("reach/held-and-overexposed.input.json"),
        )
        .expect("reach corpus is readable"),
    );
    let reach_plan = portplan_core::parse_plan(&case.plan).expect("reach plan parses");
    let served: Vec<portplan_core::ServeStatus> =
        serde_json::from_value(case.served.clone()).expect("served");
    let probed: Vec<portplan_core::ProbeResults> =
        serde_json::from_value(case.probed.clone()).expect("probed");
    for p in &probed {
        wit.check_named("probe-results", p);
        let probes = portplan_core::probe_plan(&reach_plan, &p.source, p.phase).expect("probes");
        assert!(!probes.targets.is_empty());
        wit.check_named("probe-plan", &probes);
    }
    for s in &served {
        wit.check_named("serve-status", s);
    }
    let table = portplan_core::reach_report(&reach_plan, &served, &probed).expect("a table");
    assert!(!table.findings.is_empty() && table.rows.iter().any(|r| r.outcome.is_some()));
    wit.check_named("truth-table", &table);

    let captured = |name: &str| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../core/tests/captured")
                .join(name),
        )
        .expect("captured output is readable")
    };
    let nft = portplan_core::read_firewall(
        portplan_core::FirewallBackend::Nftables,
        &portplan_core::FirewallOutput::new(captured("nft-debian-drop.json"), ""),
    )
    .expect("reads");
    let portplan_core::FirewallState::Nftables(inner) = &nft else {
        panic!("not nftables")
    };
    assert!(!inner.found.is_empty() && inner.found.iter().any(|f| f.set.is_some()));
    wit.check_named("firewall-state", &nft);
    let change = portplan_core::plan_firewall(&rules, &nft, false).expect("plans");
    assert!(!change.commands.is_empty() && !change.remove.is_empty());
    wit.check_named("firewall-change", &change);
    let restore = portplan_core::plan_restore(&nft, &nft).expect("restores");
    wit.check(
        &wit_list_of("command", &wit),
        &serde_json::to_value(&restore).expect("json"),
        "commands",
    );

    let others = [
        (
            portplan_core::FirewallBackend::Iptables,
            portplan_core::FirewallOutput::new(
                captured("iptables-save-v4.txt"),
                captured("iptables-save-v6.txt"),
            ),
        ),
        (
            portplan_core::FirewallBackend::Firewalld,
            portplan_core::FirewallOutput {
                main: captured("firewalld-1.3-list-all-zones.txt"),
                extra: captured("firewalld-1.3-permanent-list-all-zones.txt"),
                zone: Some("public".into()),
            },
        ),
        (
            portplan_core::FirewallBackend::Ufw,
            portplan_core::FirewallOutput::new(
                captured("ufw-0.36-status-verbose.txt"),
                captured("ufw-0.36-show-added.txt"),
            ),
        ),
    ];
    for (backend, output) in others {
        let state = portplan_core::read_firewall(backend, &output).expect("reads");
        assert!(
            !state.tagged().is_empty(),
            "{backend:?}: captured output holds portplan rules"
        );
        wit.check_named("firewall-state", &state);
        let empty = portplan_core::empty_firewall(backend).expect("an empty state");
        wit.check_named("firewall-state", &empty);
    }
}

/// `list<NAME>` as a WIT type, for checking a bare list result.
fn wit_list_of(name: &str, wit: &Wit) -> Type {
    let item = wit.named(name);
    let list = wit
        .resolve
        .types
        .iter()
        .find(|(_, t)| matches!(t.kind, TypeDefKind::List(Type::Id(inner)) if inner == item))
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("WIT has no list<{name}>"));
    Type::Id(list)
}

#[test]
fn every_enum_case_is_the_wits() {
    use portplan_core::*;
    let wit = Wit::load();
    for code in [
        FindingCode::PortConflict,
        FindingCode::PortInUse,
        FindingCode::NotListening,
        FindingCode::PrivilegedPort,
        FindingCode::BrowserBlockedPort,
        FindingCode::EphemeralCollision,
        FindingCode::FixedPortOverride,
        FindingCode::InconsistentPort,
        FindingCode::LoopbackExposed,
        FindingCode::InvalidPlan,
        FindingCode::NoAllowedSources,
        FindingCode::FirewallDrift,
        FindingCode::Unreachable,
        FindingCode::Overexposed,
    ] {
        wit.check_named("finding-code", &code);
    }
    for backend in [
        FirewallBackend::Firewalld,
        FirewallBackend::Ufw,
        FirewallBackend::Nftables,
        FirewallBackend::Iptables,
        FirewallBackend::None,
    ] {
        wit.check_named("firewall-backend", &backend);
    }
    for format in [
        ReportFormat::Json,
        ReportFormat::Table,
        ReportFormat::Markdown,
        ReportFormat::Csv,
    ] {
        wit.check_named("report-format", &format);
    }
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        wit.check_named("severity", &severity);
    }
    wit.check_named("phase", &Phase::Preinstall);
    wit.check_named("ip-family", &IpFamily::Ipv4);
    wit.check_named("ip-family", &IpFamily::Ipv6);
    wit.check_named("modifiable", &Modifiable::NotSupported);
    for expect in [Expectation::Allow, Expectation::Deny] {
        wit.check_named("expectation", &expect);
    }
    for outcome in [
        ProbeOutcome::Connected,
        ProbeOutcome::WrongResponder,
        ProbeOutcome::Timeout,
        ProbeOutcome::Refused,
        ProbeOutcome::Unreachable,
        ProbeOutcome::Error,
    ] {
        wit.check_named("probe-outcome", &outcome);
    }
    for verdict in [Verdict::AsExpected, Verdict::Mismatch, Verdict::Unknown] {
        wit.check_named("verdict", &verdict);
    }
    for source in [
        ProbeSource::Host("h".into()),
        ProbeSource::Network("n".into()),
        ProbeSource::Outsider,
    ] {
        wit.check_named("probe-source", &source);
    }
    // Every WIT enum has exactly as many cases as core's (the lists above are complete).
    let cases = |name: &str| match &wit.resolve.types[wit.named(name)].kind {
        TypeDefKind::Enum(e) => e.cases.len(),
        _ => panic!("{name} is not an enum"),
    };
    assert_eq!(
        (
            cases("finding-code"),
            cases("firewall-backend"),
            cases("report-format"),
            cases("severity"),
            cases("expectation"),
            cases("probe-outcome"),
            cases("verdict"),
        ),
        (14, 5, 4, 3, 2, 6, 3)
    );
}

#[test]
fn the_world_exports_exactly_cores_functions() {
    let wit = Wit::load();
    let (_, world) = wit
        .resolve
        .worlds
        .iter()
        .find(|(_, w)| w.name == "portplan")
        .expect("world portplan");
    let mut exports: Vec<String> = world
        .exports
        .keys()
        .map(|k| wit.resolve.name_world_key(k))
        .collect();
    exports.sort();
    // One for one with portplan_core's root functions (snake case there); naming
    // them here makes this list fail to compile when one is renamed or removed.
    let _ = (
        portplan_core::catalog,
        portplan_core::check_host,
        portplan_core::empty_firewall,
        portplan_core::get_profile,
        portplan_core::parse_plan,
        portplan_core::plan_firewall,
        portplan_core::plan_restore,
        portplan_core::probe_plan,
        portplan_core::reach_report,
        portplan_core::read_firewall,
        portplan_core::render_plan_error,
        portplan_core::render_report,
        portplan_core::render_truth_table,
        portplan_core::validate_plan,
    );
    // And no other root function: every `pub fn` of core's lib.rs is an export.
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/lib.rs"))
            .expect("core's lib.rs is readable");
    let mut roots: Vec<String> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("pub fn "))
        .filter_map(|rest| rest.split(['(', '<']).next())
        .map(|name| name.replace('_', "-"))
        .collect();
    roots.sort();
    assert_eq!(
        exports, roots,
        "core's root functions are the world's exports"
    );
    assert_eq!(exports.len(), 15);
}
