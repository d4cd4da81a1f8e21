//! Helpers shared by core's integration tests.

#![allow(dead_code, clippy::unwrap_used)]
// Tests sort with std: the one-sort rule (core/clippy.toml) is for the plugins' code.
#![allow(clippy::disallowed_methods)]

use portplan_core::{
    Finding, FindingCode, FirewallBackend, FirewallOutput, FirewallRule, FirewallState,
    FirewalldState, IptablesState, NftState, Observation, Phase, Plan, PlanError, PortRange,
    Report, Severity, Transport, UfwState,
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

/// The source group each row of `spec` names, host by host (rows naming none left out).
pub fn groups_of<'r>(report: &'r Report, spec: &str) -> Vec<&'r str> {
    report
        .hosts
        .iter()
        .flat_map(|h| &h.ports)
        .filter(|p| p.spec == spec)
        .filter_map(|p| p.group.as_deref())
        .collect()
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
/// obs1's desired rule for `spec` on 2881/tcp, admitting `sources`.
pub fn rule_2881(spec: &str, sources: &[&str]) -> FirewallRule {
    FirewallRule {
        host: "obs1".into(),
        spec: spec.into(),
        tag: format!("portplan:{spec}"),
        transport: Transport::Tcp,
        ports: PortRange::single(2881),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        purpose: String::new(),
    }
}

/// The commands `plan_firewall` gives for `rules` on `state`, as text: an
/// nft script's lines, or each argv joined.
pub fn commands_text(rules: &[FirewallRule], state: &FirewallState, remove_all: bool) -> String {
    let change = portplan_core::plan_firewall(rules, state, remove_all).unwrap();
    change
        .commands
        .iter()
        .map(|c| c.stdin.clone().unwrap_or_else(|| c.argv.join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The nftables state of a ruleset given as `nft -j` items.
pub fn nft_items(items: &[&str]) -> FirewallState {
    let json = format!(r#"{{"nftables":[{}]}}"#, items.join(","));
    portplan_core::read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, "")).unwrap()
}

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
/// What `state` reads as open, one line each: `Tcp 2881 ["198.18.2.0/24"]`.
pub fn open_lines(state: &FirewallState) -> Vec<String> {
    (state.open().iter())
        .map(|o| format!("{:?} {} {:?}", o.transport, o.ports, o.sources))
        .collect()
}

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

/// Strategies for arbitrary well-typed records of every WIT type, and for
/// arbitrary and nearly-right JSON, shared by core's property tests
/// (`tests/properties.rs`) and the plugins' (`tests/tests/plugin_properties.rs`
/// includes this file by path).
///
/// Names, addresses and spec ids come mostly from the catalog and the example
/// plans, so that generated plans get past resolution and reach the rules;
/// the rest is any text. Firewall outputs are the captured ones, edited.
pub mod arb {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::OnceLock;

    use portplan_core::{
        Accessor, Allocation, ChainId, ClientNetwork, Component, DeployUser, Exposure, Finding,
        FindingCode, FirewallBackend, FirewallOutput, FirewallRule, FirewallState, FirewalldRule,
        FirewalldSide, FirewalldState, FirewalldZone, ForeignRule, HostObservation, HostPorts,
        IpFamily, IptablesChain, IptablesRule, IptablesState, Listener, Modifiable, NetworkRole,
        NftChain, NftFamily, NftRule, NftState, Observation, ObservedFirewall, OpenPort, Phase,
        Plan, PlanError, PlanHost, PortEntry, PortOverride, PortRange, PortSpec, Problem, Profile,
        Report, ReportFormat, Severity, SourceGroup, Summary, TaggedRule, Transport, UfwRule,
        UfwState,
    };
    use proptest::collection::vec;
    use proptest::option::of;
    use proptest::prelude::*;
    use proptest::sample::{Index, select};
    use serde::Serialize;
    use serde_json::Value;

    /// Which port ranges a strategy makes: only valid ones (all that JSON
    /// decoding lets through), or also port 0 and `first > last` (what a
    /// typed WIT or Rust record can hold).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Ranges {
        /// 1-65535, `first <= last`.
        Valid,
        /// Any two `u16`.
        Any,
    }

    // Seeds: the example plans and the captured firewall outputs.

    /// The example plans, as text.
    pub const PLAN_TEXTS: [&str; 13] = [
        include_str!("../../../examples/plans/conflict-ocp-and-fdl-on-8080.json"),
        include_str!("../../../examples/plans/ephemeral-and-missing-component.json"),
        include_str!("../../../examples/plans/finedatalink-cluster.json"),
        include_str!("../../../examples/plans/finedatalink-single.json"),
        include_str!("../../../examples/plans/fixed-port-override.json"),
        include_str!("../../../examples/plans/gateway-on-6000.json"),
        include_str!("../../../examples/plans/nonroot-gateway-on-80.json"),
        include_str!("../../../examples/plans/observed-postinstall.json"),
        include_str!("../../../examples/plans/observed-preinstall.json"),
        include_str!("../../../examples/plans/ocp-ce-single.json"),
        include_str!("../../../examples/plans/ocp-cluster.json"),
        include_str!("../../../examples/plans/ocp-server-and-agent-pools.json"),
        include_str!("../../../examples/plans/ops-agent-inconsistent.json"),
    ];
    /// `nft -j list ruleset` of a Debian host with a drop policy.
    pub const NFT: &str = include_str!("../captured/nft-debian-drop.json");
    /// `iptables-save`.
    pub const IPT4: &str = include_str!("../captured/iptables-save-v4.txt");
    /// `ip6tables-save`.
    pub const IPT6: &str = include_str!("../captured/iptables-save-v6.txt");
    /// `firewall-cmd --list-all-zones`.
    pub const FIREWALLD: &str = include_str!("../captured/firewalld-1.3-list-all-zones.txt");
    /// `firewall-cmd --permanent --list-all-zones`.
    pub const FIREWALLD_PERMANENT: &str =
        include_str!("../captured/firewalld-1.3-permanent-list-all-zones.txt");
    /// `ufw status verbose`.
    pub const UFW_STATUS: &str = include_str!("../captured/ufw-0.36-status-verbose.txt");
    /// `ufw show added`.
    pub const UFW_ADDED: &str = include_str!("../captured/ufw-0.36-show-added.txt");

    /// What the strategies draw names from, read once from the catalog and the seeds.
    struct Words {
        catalog: Vec<Profile>,
        profiles: Vec<String>,
        components: Vec<String>,
        specs: Vec<String>,
        networks: Vec<String>,
        hosts: Vec<String>,
        plans: Vec<Plan>,
        reports: Vec<Report>,
        rules: Vec<Vec<FirewallRule>>,
        states: Vec<FirewallState>,
    }

    fn words() -> &'static Words {
        static WORDS: OnceLock<Words> = OnceLock::new();
        WORDS.get_or_init(|| {
            let catalog = portplan_core::catalog();
            let sorted = |mut v: Vec<String>| {
                v.sort();
                v.dedup();
                v
            };
            let plans: Vec<Plan> = PLAN_TEXTS
                .iter()
                .filter_map(|t| portplan_core::parse_plan(t).ok())
                .collect();
            let reports: Vec<Report> = plans
                .iter()
                .filter_map(|p| portplan_core::validate_plan(p).ok())
                .collect();
            let mut rules = Vec::new();
            for report in &reports {
                for host in &report.hosts {
                    rules.push(
                        portplan_core::firewall_rules(report, Some(&host.host))
                            .expect("an example report's rules"),
                    );
                }
            }
            let outputs = [
                (FirewallBackend::Nftables, FirewallOutput::new(NFT, "")),
                (FirewallBackend::Iptables, FirewallOutput::new(IPT4, IPT6)),
                (
                    FirewallBackend::Firewalld,
                    FirewallOutput {
                        main: FIREWALLD.into(),
                        extra: FIREWALLD_PERMANENT.into(),
                        zone: Some("public".into()),
                    },
                ),
                (
                    FirewallBackend::Ufw,
                    FirewallOutput::new(UFW_STATUS, UFW_ADDED),
                ),
            ];
            let mut states: Vec<FirewallState> = outputs
                .iter()
                .filter_map(|(b, o)| portplan_core::read_firewall(*b, o).ok())
                .collect();
            states.extend(
                BACKENDS
                    .iter()
                    .filter_map(|b| portplan_core::empty_firewall(*b).ok()),
            );
            let mut hosts: Vec<String> = (0..4).map(|i| format!("h{i}")).collect();
            hosts.extend(
                plans
                    .iter()
                    .flat_map(|p| p.hosts.iter().map(|h| h.name.clone())),
            );
            Words {
                catalog: catalog.clone(),
                profiles: sorted(
                    catalog
                        .iter()
                        .map(|p| p.name.clone())
                        .chain(["custom".to_string()])
                        .collect(),
                ),
                components: sorted(
                    catalog
                        .iter()
                        .flat_map(|p| p.components.iter().map(|c| c.name.clone()))
                        .chain(["c0".to_string(), "c1".to_string()])
                        .collect(),
                ),
                specs: sorted(
                    catalog
                        .iter()
                        .flat_map(|p| p.specs.iter().map(|s| s.id.clone()))
                        .chain(["c0.a".to_string(), "c1.b".to_string()])
                        .collect(),
                ),
                networks: sorted(
                    catalog
                        .iter()
                        .flat_map(|p| p.networks.iter().map(|n| n.name.clone()))
                        .collect(),
                ),
                hosts: sorted(hosts),
                plans,
                reports,
                rules,
                states,
            }
        })
    }

    /// Every backend, `none` included.
    pub const BACKENDS: [FirewallBackend; 5] = [
        FirewallBackend::Nftables,
        FirewallBackend::Iptables,
        FirewallBackend::Firewalld,
        FirewallBackend::Ufw,
        FirewallBackend::None,
    ];

    // Text.

    const ODD_TEXT: &[&str] = &[
        "",
        " ",
        "\n",
        "\t",
        "\r\n",
        "a,b",
        "a|b",
        "\"",
        "'",
        "\\",
        "-",
        "--",
        "#",
        "`",
        "$(x)",
        "a b",
        "0",
        "-1",
        "null",
        "{}",
        "[]",
        "portplan:",
        "portplan:x",
        "\u{0}",
        "é",
        "🙂",
        "line\nbreak",
        "*",
        "%",
        "<b>",
    ];

    /// Any text: short arbitrary Unicode, awkward punctuation, or long.
    pub fn text() -> BoxedStrategy<String> {
        prop_oneof![
            3 => "(?s).{0,16}",
            2 => select(ODD_TEXT).prop_map(String::from),
            1 => (1usize..300).prop_map(|n| "x".repeat(n)),
        ]
        .boxed()
    }

    /// Mostly one of `known`, sometimes any text.
    fn word(known: &'static [String]) -> BoxedStrategy<String> {
        prop_oneof![4 => select(known), 1 => text()].boxed()
    }

    /// A profile name: the catalog's, `custom`, or any text.
    pub fn profile_name() -> BoxedStrategy<String> {
        word(&words().profiles)
    }

    /// A component name of the catalog, `c0`, `c1`, or any text.
    pub fn component_name() -> BoxedStrategy<String> {
        word(&words().components)
    }

    /// A spec id of the catalog, `c0.a`, `c1.b`, or any text.
    pub fn spec_id() -> BoxedStrategy<String> {
        word(&words().specs)
    }

    /// A network role of the catalog, or any text.
    pub fn network_name() -> BoxedStrategy<String> {
        word(&words().networks)
    }

    /// A host name of the example plans, `h0`..`h3`, or any text.
    pub fn host_name() -> BoxedStrategy<String> {
        word(&words().hosts)
    }

    const ADDRESSES: &[&str] = &[
        "198.18.0.1",
        "198.18.0.2",
        "198.18.0.3",
        "198.18.0.4",
        "198.18.2.10",
        "198.18.2.11",
        "2001:db8::1",
        "2001:db8::2",
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "::",
        "198.18.0.0/24",
        "198.18.0.1/32",
        "0.0.0.0/0",
        "::/0",
        "2001:db8::/32",
        "198.18.0.1/33",
        "::/129",
        "fe80::1%eth0",
        "::ffff:198.18.0.1",
        "256.0.0.1",
        "1.2.3",
        "",
        "*",
        "localhost",
        "198.18.0.1/",
        "/24",
        "[::1]",
    ];

    /// An IPv4 or IPv6 address or CIDR, right or wrong.
    pub fn address() -> BoxedStrategy<String> {
        prop_oneof![
            4 => select(ADDRESSES).prop_map(String::from),
            1 => any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
            1 => any::<u128>().prop_map(|b| Ipv6Addr::from(b).to_string()),
            1 => (any::<[u8; 4]>(), 0u8..=40)
                .prop_map(|(o, p)| format!("{}/{p}", Ipv4Addr::from(o))),
            1 => (any::<u128>(), 0u8..=140)
                .prop_map(|(b, p)| format!("{}/{p}", Ipv6Addr::from(b))),
            1 => text(),
        ]
        .boxed()
    }

    const TAGS: &[&str] = &[
        "portplan:observer.sql",
        "portplan:ocp-server.http",
        "portplan:x",
        "portplan:",
        "portplan:a b",
        "portplan:\"q\"",
        "foreign",
        "",
    ];

    /// A rule's tag: portplan's, a foreign one, an empty or an overlong one
    /// (ASCII, or multi-byte characters across any cut).
    pub fn tag() -> BoxedStrategy<String> {
        prop_oneof![
            4 => select(TAGS).prop_map(String::from),
            1 => spec_id().prop_map(|s| format!("portplan:{s}")),
            1 => (1usize..200).prop_map(|n| format!("portplan:{}", "y".repeat(n))),
            1 => (1usize..60).prop_map(|n| format!("portplan:{}", "é🙂".repeat(n))),
            1 => text(),
        ]
        .boxed()
    }

    // Numbers and enums.

    const PORTS: &[u16] = &[
        1, 21, 22, 80, 443, 1023, 1024, 2881, 2882, 6000, 8080, 32768, 60999, 61000, 65535,
    ];

    /// A port number 1-65535, often a well-known one.
    pub fn port() -> BoxedStrategy<u16> {
        prop_oneof![select(PORTS), 1u16..=65535].boxed()
    }

    /// A port range; with [`Ranges::Any`] also port 0 and `first > last`.
    pub fn port_range(ranges: Ranges) -> BoxedStrategy<PortRange> {
        let valid = prop_oneof![
            port().prop_map(PortRange::single),
            (port(), port()).prop_map(|(a, b)| PortRange {
                first: a.min(b),
                last: a.max(b)
            }),
        ];
        match ranges {
            Ranges::Valid => valid.boxed(),
            Ranges::Any => prop_oneof![
                3 => valid,
                1 => (any::<u16>(), any::<u16>()).prop_map(|(first, last)| PortRange { first, last }),
                1 => select(vec![(0u16, 0u16), (0, 80), (80, 0), (65535, 1), (2, 1)])
                    .prop_map(|(first, last)| PortRange { first, last }),
            ]
            .boxed(),
        }
    }

    /// A `u32` that is often a boundary.
    fn number() -> BoxedStrategy<u32> {
        prop_oneof![
            select(vec![0u32, 1, 80, 1023, 1024, 65535, 65536, u32::MAX]),
            any::<u32>()
        ]
        .boxed()
    }

    pub fn transport() -> BoxedStrategy<Transport> {
        select(vec![Transport::Tcp, Transport::Udp]).boxed()
    }
    pub fn allocation() -> BoxedStrategy<Allocation> {
        select(vec![Allocation::Fixed, Allocation::Pool]).boxed()
    }
    pub fn exposure() -> BoxedStrategy<Exposure> {
        select(vec![Exposure::Loopback, Exposure::Peers, Exposure::Browser]).boxed()
    }
    pub fn severity() -> BoxedStrategy<Severity> {
        select(vec![Severity::Error, Severity::Warning, Severity::Info]).boxed()
    }
    pub fn deploy_user() -> BoxedStrategy<DeployUser> {
        select(vec![DeployUser::Root, DeployUser::NonRoot]).boxed()
    }
    pub fn phase() -> BoxedStrategy<Phase> {
        select(vec![Phase::Preinstall, Phase::Postinstall]).boxed()
    }
    pub fn backend() -> BoxedStrategy<FirewallBackend> {
        select(BACKENDS.to_vec()).boxed()
    }
    pub fn report_format() -> BoxedStrategy<ReportFormat> {
        select(vec![
            ReportFormat::Json,
            ReportFormat::Table,
            ReportFormat::Markdown,
            ReportFormat::Csv,
        ])
        .boxed()
    }
    pub fn finding_code() -> BoxedStrategy<FindingCode> {
        select(vec![
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
        ])
        .boxed()
    }
    pub fn ip_family() -> BoxedStrategy<IpFamily> {
        select(vec![IpFamily::Ipv4, IpFamily::Ipv6]).boxed()
    }
    pub fn nft_family() -> BoxedStrategy<NftFamily> {
        select(vec![NftFamily::Inet, NftFamily::Ip, NftFamily::Ip6]).boxed()
    }
    pub fn firewalld_side() -> BoxedStrategy<FirewalldSide> {
        select(vec![FirewalldSide::Runtime, FirewalldSide::Permanent]).boxed()
    }

    // The plan and its parts.

    pub fn accessor() -> BoxedStrategy<Accessor> {
        prop_oneof![
            component_name().prop_map(Accessor::Component),
            network_name().prop_map(Accessor::Network),
            profile_name().prop_map(Accessor::Profile),
        ]
        .boxed()
    }

    pub fn modifiable() -> BoxedStrategy<Modifiable> {
        prop_oneof![
            Just(Modifiable::NotSupported),
            text().prop_map(Modifiable::Configurable),
        ]
        .boxed()
    }

    /// A port spec; its id is mostly `component.something`, as the catalog's are.
    pub fn port_spec(ranges: Ranges) -> BoxedStrategy<PortSpec> {
        (
            (
                component_name(),
                prop_oneof![spec_id(), text()],
                any::<bool>(),
            ),
            port_range(ranges),
            transport(),
            text(),
            allocation(),
            exposure(),
            vec(accessor(), 0..4),
            modifiable(),
            any::<bool>(),
            any::<bool>(),
            text(),
            text(),
        )
            .prop_map(
                |(
                    (component, suffix, prefixed),
                    ports,
                    transport,
                    protocol,
                    allocation,
                    exposure,
                    accessed_by,
                    modifiable,
                    same_on_all_hosts,
                    optional,
                    purpose,
                    source,
                )| PortSpec {
                    id: if prefixed {
                        format!("{component}.{suffix}")
                    } else {
                        suffix
                    },
                    component,
                    ports,
                    transport,
                    protocol,
                    allocation,
                    exposure,
                    accessed_by,
                    modifiable,
                    same_on_all_hosts,
                    optional,
                    purpose,
                    source,
                },
            )
            .boxed()
    }

    pub fn profile(ranges: Ranges) -> BoxedStrategy<Profile> {
        (
            profile_name(),
            text(),
            text(),
            text(),
            vec(
                (component_name(), text(), text(), any::<bool>()).prop_map(
                    |(name, title, description, required)| Component {
                        name,
                        title,
                        description,
                        required,
                    },
                ),
                0..4,
            ),
            vec(
                (network_name(), text())
                    .prop_map(|(name, description)| NetworkRole { name, description }),
                0..3,
            ),
            vec(port_spec(ranges), 0..5),
        )
            .prop_map(
                |(name, title, description, source, components, networks, specs)| Profile {
                    name,
                    title,
                    description,
                    source,
                    components,
                    networks,
                    specs,
                },
            )
            .boxed()
    }

    pub fn client_network() -> BoxedStrategy<ClientNetwork> {
        (network_name(), vec(address(), 0..4), text(), any::<bool>())
            .prop_map(|(name, cidrs, description, exclusive)| ClientNetwork {
                name,
                cidrs,
                description,
                exclusive,
            })
            .boxed()
    }

    pub fn port_override(ranges: Ranges) -> BoxedStrategy<PortOverride> {
        (spec_id(), port_range(ranges))
            .prop_map(|(spec, ports)| PortOverride { spec, ports })
            .boxed()
    }

    pub fn plan_host(ranges: Ranges) -> BoxedStrategy<PlanHost> {
        (
            host_name(),
            address(),
            vec(component_name(), 0..4),
            of(deploy_user()),
            vec(port_override(ranges), 0..2),
        )
            .prop_map(
                |(name, address, components, deploy_user, overrides)| PlanHost {
                    name,
                    address,
                    components,
                    deploy_user,
                    overrides,
                },
            )
            .boxed()
    }

    /// A listening address: the usual wildcards and loopbacks, or any address.
    fn listen_address() -> BoxedStrategy<String> {
        prop_oneof![
            8 => select(vec!["0.0.0.0", "::", "127.0.0.1", "::1", "198.18.0.1", "2001:db8::1"])
                .prop_map(String::from),
            1 => address(),
        ]
        .boxed()
    }

    pub fn listener() -> BoxedStrategy<Listener> {
        listener_on(prop_oneof![port(), any::<u16>()].boxed())
    }

    /// A listener on a port drawn from `ports`.
    fn listener_on(ports: BoxedStrategy<u16>) -> BoxedStrategy<Listener> {
        (
            transport(),
            listen_address(),
            ports,
            any::<bool>(),
            of(any::<u32>()),
            of(text()),
        )
            .prop_map(
                |(transport, address, port, v6only, pid, command)| Listener {
                    transport,
                    address,
                    port,
                    v6only,
                    pid,
                    command,
                },
            )
            .boxed()
    }

    /// An open port: a tagged one (portplan's or foreign) or an untagged one.
    pub fn open_port(ranges: Ranges) -> BoxedStrategy<OpenPort> {
        (
            transport(),
            port_range(ranges),
            vec(address(), 0..3),
            of(tag()),
        )
            .prop_map(|(transport, ports, sources, tag)| OpenPort {
                transport,
                ports,
                sources,
                tag,
            })
            .boxed()
    }

    pub fn observation(ranges: Ranges) -> BoxedStrategy<Observation> {
        observation_with(listener(), ranges)
    }

    /// An observation whose listeners are mostly on `ports` (a plan's).
    fn observation_near(ports: Vec<u16>, ranges: Ranges) -> BoxedStrategy<Observation> {
        if ports.is_empty() {
            return observation(ranges);
        }
        let on = prop_oneof![3 => select(ports), 1 => any::<u16>()].boxed();
        observation_with(listener_on(on), ranges)
    }

    fn observation_with(
        listener: BoxedStrategy<Listener>,
        ranges: Ranges,
    ) -> BoxedStrategy<Observation> {
        (
            vec(listener, 0..8),
            of(port_range(ranges)),
            vec(port_range(ranges), 0..3),
            of(number()),
            of(number()),
            of((backend(), vec(open_port(ranges), 0..4))
                .prop_map(|(backend, open)| ObservedFirewall { backend, open })),
        )
            .prop_map(
                |(
                    listeners,
                    ip_local_port_range,
                    ip_local_reserved_ports,
                    ip_unprivileged_port_start,
                    effective_uid,
                    firewall,
                )| Observation {
                    listeners,
                    ip_local_port_range,
                    ip_local_reserved_ports,
                    ip_unprivileged_port_start,
                    effective_uid,
                    firewall,
                },
            )
            .boxed()
    }

    pub fn host_observation(ranges: Ranges) -> BoxedStrategy<HostObservation> {
        (host_name(), phase(), observation(ranges))
            .prop_map(|(host, phase, observation)| HostObservation {
                host,
                phase,
                observation,
            })
            .boxed()
    }

    /// A plan: mostly one that resolves (catalog profiles placed on hosts,
    /// or an example plan) with a few things changed or added; sometimes one
    /// made up from any names.
    pub fn plan(ranges: Ranges) -> BoxedStrategy<Plan> {
        prop_oneof![
            3 => coherent_plan(ranges),
            2 => seeded_plan(ranges),
            1 => generated_plan(ranges),
        ]
        .boxed()
    }

    /// A plan, and a host to check: mostly one of the plan's, sometimes any name.
    pub fn plan_and_host(ranges: Ranges) -> BoxedStrategy<(Plan, String)> {
        (
            plan(ranges),
            any::<Index>(),
            host_name(),
            prop::bool::weighted(0.8),
        )
            .prop_map(|(plan, at, other, known)| {
                let host = if known && !plan.hosts.is_empty() {
                    plan.hosts[at.index(plan.hosts.len())].name.clone()
                } else {
                    other
                };
                (plan, host)
            })
            .boxed()
    }

    /// What a plan's profiles offer: components, `(spec id, single port)`,
    /// optional spec ids, network roles and every port named.
    struct Offer {
        components: Vec<String>,
        specs: Vec<(String, bool)>,
        optional: Vec<String>,
        networks: Vec<String>,
        ports: Vec<u16>,
    }

    fn offer(profiles: &[Profile]) -> Offer {
        let mut offer = Offer {
            components: Vec::new(),
            specs: Vec::new(),
            optional: Vec::new(),
            networks: Vec::new(),
            ports: Vec::new(),
        };
        for p in profiles {
            offer
                .components
                .extend(p.components.iter().map(|c| c.name.clone()));
            offer
                .networks
                .extend(p.networks.iter().map(|n| n.name.clone()));
            for spec in &p.specs {
                offer.specs.push((spec.id.clone(), spec.ports.is_single()));
                if spec.optional {
                    offer.optional.push(spec.id.clone());
                }
                offer.ports.extend([spec.ports.first, spec.ports.last]);
            }
        }
        for list in [
            &mut offer.components,
            &mut offer.networks,
            &mut offer.optional,
        ] {
            list.sort();
            list.dedup();
        }
        offer
    }

    /// The profiles a plan uses, built-in or its own.
    fn profiles_of(plan: &Plan) -> Vec<Profile> {
        words()
            .catalog
            .iter()
            .chain(&plan.custom_profiles)
            .filter(|p| plan.profiles.contains(&p.name))
            .cloned()
            .collect()
    }

    /// A host address: mostly a distinct-looking IPv4 or IPv6 one.
    fn host_address() -> BoxedStrategy<String> {
        prop_oneof![
            8 => (1u8..=60).prop_map(|n| format!("198.18.0.{n}")),
            2 => (1u16..=60).prop_map(|n| format!("2001:db8::{n:x}")),
            1 => address(),
        ]
        .boxed()
    }

    /// A CIDR that parses, IPv4 or IPv6.
    fn good_cidr() -> BoxedStrategy<String> {
        prop_oneof![
            3 => (any::<[u8; 4]>(), 8u8..=32).prop_map(|(o, p)| format!("{}/{p}", Ipv4Addr::from(o))),
            1 => (any::<u128>(), 16u8..=128).prop_map(|(b, p)| format!("{}/{p}", Ipv6Addr::from(b))),
            1 => Just("0.0.0.0/0".to_string()),
        ]
        .boxed()
    }

    /// An override of one of `specs` in the spec's shape (a port for a port,
    /// a range for a range), so it is mostly accepted; any override otherwise.
    fn shaped_override(specs: Vec<(String, bool)>, ranges: Ranges) -> BoxedStrategy<PortOverride> {
        if specs.is_empty() {
            return port_override(ranges);
        }
        (
            select(specs),
            port(),
            port(),
            port_range(ranges),
            prop::bool::weighted(0.85),
        )
            .prop_map(|((spec, single), a, b, any, shaped)| PortOverride {
                spec,
                ports: if !shaped {
                    any
                } else if single {
                    PortRange::single(a)
                } else {
                    PortRange {
                        first: a.min(b),
                        last: a.max(b),
                    }
                },
            })
            .boxed()
    }

    /// A custom profile that holds together: components `c0` and `c1`, specs
    /// of theirs reached by each other, by catalog components, by profiles or
    /// by its network role `net`.
    pub fn custom_profile(ranges: Ranges) -> BoxedStrategy<Profile> {
        let accessor = prop_oneof![
            select(vec!["c0", "c1"]).prop_map(|c| Accessor::Component(c.into())),
            Just(Accessor::Network("net".into())),
            Just(Accessor::Profile("custom".into())),
            component_name().prop_map(Accessor::Component),
            profile_name().prop_map(Accessor::Profile),
        ];
        let spec = (
            select(vec!["c0", "c1"]),
            "[a-z]{1,6}",
            port_range(ranges),
            (transport(), allocation(), exposure()),
            vec(accessor, 0..3),
            modifiable(),
            any::<bool>(),
            prop::bool::weighted(0.2),
        )
            .prop_map(
                |(
                    component,
                    name,
                    ports,
                    (transport, allocation, exposure),
                    mut accessed_by,
                    modifiable,
                    same_on_all_hosts,
                    optional,
                )| {
                    if exposure == Exposure::Loopback {
                        accessed_by.clear();
                    }
                    PortSpec {
                        id: format!("{component}.{name}"),
                        component: component.into(),
                        ports,
                        transport,
                        protocol: "tcp".into(),
                        allocation,
                        exposure,
                        accessed_by,
                        modifiable,
                        same_on_all_hosts,
                        optional,
                        purpose: "generated".into(),
                        source: "generated".into(),
                    }
                },
            );
        (vec(spec, 1..5), any::<bool>())
            .prop_map(|(mut specs, required)| {
                let mut seen = std::collections::BTreeSet::new();
                specs.retain(|s| seen.insert(s.id.clone()));
                Profile {
                    name: "custom".into(),
                    title: "Custom".into(),
                    description: String::new(),
                    source: String::new(),
                    components: ["c0", "c1"]
                        .map(|c| Component {
                            name: c.into(),
                            title: c.to_uppercase(),
                            description: String::new(),
                            required,
                        })
                        .to_vec(),
                    networks: vec![NetworkRole {
                        name: "net".into(),
                        description: String::new(),
                    }],
                    specs,
                }
            })
            .boxed()
    }

    /// One or two catalog profiles (and sometimes a custom one) placed on up
    /// to four hosts, with their networks, shaped overrides, enabled optional
    /// specs and observations near their ports.
    fn coherent_plan(ranges: Ranges) -> BoxedStrategy<Plan> {
        let count = words().catalog.len();
        (
            prop::sample::subsequence((0..count).collect::<Vec<_>>(), 1..=2),
            prop::option::weighted(0.25, custom_profile(ranges)),
        )
            .prop_flat_map(move |(chosen, custom)| {
                let mut profiles: Vec<Profile> =
                    chosen.iter().map(|&i| words().catalog[i].clone()).collect();
                profiles.extend(custom.clone());
                let names: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
                let offer = offer(&profiles);
                let most = offer.components.len().clamp(1, 4);
                let host = (
                    prop::sample::subsequence(offer.components.clone(), 1..=most),
                    host_address(),
                    prop::option::weighted(0.2, deploy_user()),
                    vec(shaped_override(offer.specs.clone(), ranges), 0..2),
                );
                let roles = if offer.networks.is_empty() {
                    vec!["net".to_string()]
                } else {
                    offer.networks.clone()
                };
                let networks = if offer.networks.is_empty() { 0 } else { 3 };
                let network = (select(roles), vec(good_cidr(), 1..3)).prop_map(|(name, cidrs)| {
                    ClientNetwork {
                        name,
                        cidrs,
                        description: String::new(),
                        exclusive: false,
                    }
                });
                let optional = offer.optional.len();
                (
                    Just((names, custom)),
                    vec(host, 1..5),
                    vec(network, 0..networks.max(1)),
                    vec(shaped_override(offer.specs.clone(), ranges), 0..3),
                    prop::sample::subsequence(offer.optional.clone(), 0..=optional),
                    prop::option::weighted(0.3, deploy_user()),
                    vec(
                        (
                            any::<Index>(),
                            phase(),
                            observation_near(offer.ports.clone(), ranges),
                        ),
                        0..3,
                    ),
                )
            })
            .prop_map(
                |(
                    (profiles, custom),
                    hosts,
                    networks,
                    overrides,
                    enable,
                    deploy_user,
                    observations,
                )| {
                    let hosts: Vec<PlanHost> = hosts
                        .into_iter()
                        .enumerate()
                        .map(
                            |(i, (components, address, deploy_user, overrides))| PlanHost {
                                name: format!("h{i}"),
                                address,
                                components,
                                deploy_user,
                                overrides,
                            },
                        )
                        .collect();
                    let mut seen = std::collections::BTreeSet::new();
                    let networks = networks
                        .into_iter()
                        .filter(|n: &ClientNetwork| seen.insert(n.name.clone()))
                        .collect();
                    let mut seen = std::collections::BTreeSet::new();
                    let overrides = overrides
                        .into_iter()
                        .filter(|o: &PortOverride| seen.insert(o.spec.clone()))
                        .collect();
                    let mut seen = std::collections::BTreeSet::new();
                    let observations = observations
                        .into_iter()
                        .map(|(at, phase, observation)| HostObservation {
                            host: hosts[at.index(hosts.len())].name.clone(),
                            phase,
                            observation,
                        })
                        .filter(|o| seen.insert(o.host.clone()))
                        .collect();
                    Plan {
                        name: "generated".into(),
                        profiles,
                        deploy_user,
                        hosts,
                        networks,
                        overrides,
                        enable,
                        custom_profiles: custom.into_iter().collect(),
                        observations,
                    }
                },
            )
            .boxed()
    }

    /// One change to an example plan.
    #[derive(Debug, Clone)]
    enum Change {
        Address(Index, String),
        Components(Index, Vec<String>),
        Override(PortOverride),
        HostOverride(Index, PortOverride),
        Observe(Index, Phase, Observation),
        AddHost(PlanHost),
        DropHost(Index),
        Custom(Profile),
        Enable(String),
        Network(ClientNetwork),
        DeployUser(Option<DeployUser>),
    }

    fn change(plan: &Plan, ranges: Ranges) -> BoxedStrategy<Change> {
        let offer = offer(&profiles_of(plan));
        let components = if offer.components.is_empty() {
            vec(component_name(), 0..3).boxed()
        } else {
            let most = offer.components.len().min(3);
            prop_oneof![
                3 => prop::sample::subsequence(offer.components.clone(), 1..=most),
                1 => vec(component_name(), 0..3),
            ]
            .boxed()
        };
        let roles = if offer.networks.is_empty() {
            network_name()
        } else {
            prop_oneof![4 => select(offer.networks.clone()), 1 => network_name()].boxed()
        };
        let enable = if offer.optional.is_empty() {
            spec_id()
        } else {
            prop_oneof![4 => select(offer.optional.clone()), 1 => spec_id()].boxed()
        };
        prop_oneof![
            1 => (any::<Index>(), host_address()).prop_map(|(at, a)| Change::Address(at, a)),
            1 => (any::<Index>(), components.clone()).prop_map(|(at, c)| Change::Components(at, c)),
            1 => shaped_override(offer.specs.clone(), ranges).prop_map(Change::Override),
            1 => (any::<Index>(), shaped_override(offer.specs.clone(), ranges))
                .prop_map(|(at, o)| Change::HostOverride(at, o)),
            2 => (any::<Index>(), phase(), observation_near(offer.ports.clone(), ranges))
                .prop_map(|(at, phase, o)| Change::Observe(at, phase, o)),
            1 => (host_name(), host_address(), components, of(deploy_user())).prop_map(
                |(name, address, components, deploy_user)| Change::AddHost(PlanHost {
                    name,
                    address,
                    components,
                    deploy_user,
                    overrides: Vec::new(),
                })
            ),
            1 => any::<Index>().prop_map(Change::DropHost),
            1 => prop_oneof![custom_profile(ranges), profile(ranges)].prop_map(Change::Custom),
            1 => enable.prop_map(Change::Enable),
            1 => (roles, vec(good_cidr(), 1..3)).prop_map(|(name, cidrs)| Change::Network(
                ClientNetwork {
                    name,
                    cidrs,
                    description: String::new(),
                    exclusive: false,
                }
            )),
            1 => of(deploy_user()).prop_map(Change::DeployUser),
        ]
        .boxed()
    }

    fn apply(plan: &mut Plan, change: Change) {
        let host =
            |plan: &Plan, at: Index| (!plan.hosts.is_empty()).then(|| at.index(plan.hosts.len()));
        match change {
            Change::Address(at, address) => {
                if let Some(i) = host(plan, at) {
                    plan.hosts[i].address = address;
                }
            }
            Change::Components(at, components) => {
                if let Some(i) = host(plan, at) {
                    plan.hosts[i].components = components;
                }
            }
            Change::Override(o) => plan.overrides.push(o),
            Change::HostOverride(at, o) => {
                if let Some(i) = host(plan, at) {
                    plan.hosts[i].overrides.push(o);
                }
            }
            Change::Observe(at, phase, observation) => {
                if let Some(i) = host(plan, at) {
                    let name = plan.hosts[i].name.clone();
                    plan.observations.retain(|o| o.host != name);
                    plan.observations.push(HostObservation {
                        host: name,
                        phase,
                        observation,
                    });
                }
            }
            Change::AddHost(h) => plan.hosts.push(h),
            Change::DropHost(at) => {
                if let Some(i) = host(plan, at) {
                    plan.hosts.remove(i);
                }
            }
            Change::Custom(profile) => {
                plan.profiles.push(profile.name.clone());
                plan.custom_profiles.push(profile);
            }
            Change::Enable(spec) => plan.enable.push(spec),
            Change::Network(n) => plan.networks.push(n),
            Change::DeployUser(d) => plan.deploy_user = d,
        }
    }

    /// An example plan with up to three changes.
    fn seeded_plan(ranges: Ranges) -> BoxedStrategy<Plan> {
        select(&words().plans[..])
            .prop_flat_map(move |plan| {
                let changes = vec(change(&plan, ranges), 0..4);
                (Just(plan), changes)
            })
            .prop_map(|(mut plan, changes)| {
                for c in changes {
                    apply(&mut plan, c);
                }
                plan
            })
            .boxed()
    }

    fn generated_plan(ranges: Ranges) -> BoxedStrategy<Plan> {
        (
            text(),
            vec(profile_name(), 0..3),
            of(deploy_user()),
            vec(plan_host(ranges), 0..5),
            vec(client_network(), 0..3),
            vec(port_override(ranges), 0..3),
            vec(spec_id(), 0..3),
            vec(profile(ranges), 0..2),
            vec(host_observation(ranges), 0..3),
        )
            .prop_map(
                |(
                    name,
                    profiles,
                    deploy_user,
                    hosts,
                    networks,
                    overrides,
                    enable,
                    custom_profiles,
                    observations,
                )| Plan {
                    name,
                    profiles,
                    deploy_user,
                    hosts,
                    networks,
                    overrides,
                    enable,
                    custom_profiles,
                    observations,
                },
            )
            .boxed()
    }

    // The report and the plan error.

    pub fn finding(ranges: Ranges) -> BoxedStrategy<Finding> {
        (
            finding_code(),
            severity(),
            of(host_name()),
            of(component_name()),
            of(spec_id()),
            of(port_range(ranges)),
            text(),
            text(),
        )
            .prop_map(
                |(code, severity, host, component, spec, ports, message, fix)| Finding {
                    code,
                    severity,
                    host,
                    component,
                    spec,
                    ports,
                    message,
                    fix,
                },
            )
            .boxed()
    }

    pub fn port_entry(ranges: Ranges) -> BoxedStrategy<PortEntry> {
        (
            spec_id(),
            component_name(),
            port_range(ranges),
            transport(),
            text(),
            allocation(),
            exposure(),
            of(group_name()),
            text(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    spec,
                    component,
                    ports,
                    transport,
                    protocol,
                    allocation,
                    exposure,
                    group,
                    purpose,
                    overridden,
                )| PortEntry {
                    spec,
                    component,
                    ports,
                    transport,
                    protocol,
                    allocation,
                    exposure,
                    group,
                    purpose,
                    overridden,
                },
            )
            .boxed()
    }

    /// A source group's name: mostly one a made-up report's rows name.
    pub fn group_name() -> BoxedStrategy<String> {
        prop_oneof![3 => (1..4u8).prop_map(|n| format!("g{n}")), 1 => text()].boxed()
    }

    /// A source group: any name, any sources (bad ones too).
    pub fn source_group() -> BoxedStrategy<SourceGroup> {
        (
            group_name(),
            vec(address(), 0..4),
            vec(host_name(), 0..3),
            vec(network_name(), 0..3),
        )
            .prop_map(|(name, sources, hosts, networks)| SourceGroup {
                name,
                sources,
                hosts,
                networks,
            })
            .boxed()
    }

    /// A desired rule: any sources (bad ones too), any tag, any ports.
    pub fn firewall_rule(ranges: Ranges) -> BoxedStrategy<FirewallRule> {
        (
            host_name(),
            spec_id(),
            tag(),
            transport(),
            port_range(ranges),
            vec(address(), 0..6),
            text(),
        )
            .prop_map(
                |(host, spec, tag, transport, ports, sources, purpose)| FirewallRule {
                    host,
                    spec,
                    tag,
                    transport,
                    ports,
                    sources: sources.into(),
                    purpose,
                },
            )
            .boxed()
    }

    /// A host's desired rules: made up, an example plan's for one host, or both.
    pub fn firewall_rules(ranges: Ranges) -> BoxedStrategy<Vec<FirewallRule>> {
        prop_oneof![
            vec(firewall_rule(ranges), 0..5),
            select(&words().rules[..]),
            (select(&words().rules[..]), vec(firewall_rule(ranges), 0..3)).prop_map(
                |(mut rules, more)| {
                    rules.extend(more);
                    rules
                }
            ),
        ]
        .boxed()
    }

    /// A report: made up (counts that do not add up, any text), or an example plan's.
    pub fn report(ranges: Ranges) -> BoxedStrategy<Report> {
        let made_up = (
            text(),
            (number(), number(), number()).prop_map(|(errors, warnings, infos)| Summary {
                errors,
                warnings,
                infos,
            }),
            vec(finding(ranges), 0..5),
            vec(
                (host_name(), address(), vec(port_entry(ranges), 0..4)).prop_map(
                    |(host, address, ports)| HostPorts {
                        host,
                        address,
                        ports,
                    },
                ),
                0..3,
            ),
            vec(source_group(), 0..4),
        )
            .prop_map(|(plan, summary, findings, hosts, source_groups)| Report {
                plan,
                summary,
                findings,
                hosts,
                source_groups,
            });
        prop_oneof![3 => made_up, 1 => select(&words().reports[..])].boxed()
    }

    pub fn plan_error() -> BoxedStrategy<PlanError> {
        vec(
            (
                prop_oneof![
                    select(vec![".", "hosts[0].address", "plan.hosts[1]", ""])
                        .prop_map(String::from),
                    text()
                ],
                text(),
                text(),
            )
                .prop_map(|(path, value, message)| Problem {
                    path,
                    value,
                    message,
                }),
            0..4,
        )
        .prop_map(|problems| PlanError { problems })
        .boxed()
    }

    // Firewalls.

    /// A tagged rule as a state holds it: any tag, family, ports and source.
    pub fn tagged_rule(ranges: Ranges) -> BoxedStrategy<TaggedRule> {
        (
            tag(),
            ip_family(),
            transport(),
            port_range(ranges),
            address(),
        )
            .prop_map(|(tag, family, transport, ports, source)| TaggedRule {
                tag,
                family,
                transport,
                ports,
                source,
            })
            .boxed()
    }

    /// A rule portplan did not write: any action, family, ports and source,
    /// ahead of portplan's rules on some ports or none.
    pub fn foreign_rule(ranges: Ranges) -> BoxedStrategy<ForeignRule> {
        (
            prop_oneof![
                select(vec![
                    "accept", "ACCEPT", "DROP", "REJECT", "drop", "deny", "limit"
                ])
                .prop_map(String::from),
                text()
            ],
            ip_family(),
            transport(),
            port_range(ranges),
            address(),
            text(),
            vec(port_range(ranges), 0..3),
        )
            .prop_map(
                |(action, family, transport, ports, source, text, ahead)| ForeignRule {
                    action,
                    family,
                    transport,
                    ports,
                    source,
                    text,
                    ahead,
                },
            )
            .boxed()
    }

    /// A chain or zone-side id: mostly one a small state holds, sometimes not.
    fn chain_id() -> BoxedStrategy<ChainId> {
        prop_oneof![8 => 0u32..2, 2 => 2u32..4, 1 => Just(u32::MAX), 1 => any::<u32>()]
            .prop_map(ChainId)
            .boxed()
    }

    const RULE_WORDS: &[&str] = &[
        "allow",
        "from",
        "198.18.0.1",
        "to",
        "any",
        "port",
        "2881",
        "proto",
        "tcp",
        "comment",
        "portplan:x",
        "-s",
        "-j",
        "ACCEPT",
        "-p",
        "--dport",
        "-m",
        "",
    ];

    fn rule_words() -> BoxedStrategy<Vec<String>> {
        vec(
            prop_oneof![4 => select(RULE_WORDS).prop_map(String::from), 1 => text()],
            0..8,
        )
        .boxed()
    }

    fn set_name() -> BoxedStrategy<String> {
        prop_oneof![
            select(vec!["portplan-x", "pp_1", "portplan_observer_sql", ""]).prop_map(String::from),
            text()
        ]
        .boxed()
    }

    /// A made-up state of any backend: chains and zones with any names,
    /// rules that point anywhere, carry any tag and any words.
    pub fn generated_state(ranges: Ranges) -> BoxedStrategy<FirewallState> {
        let [nft, iptables, firewalld, ufw] = generated_states(ranges);
        prop_oneof![nft, iptables, firewalld, ufw].boxed()
    }

    /// [`generated_state`] of one backend (`none` has no state: any backend).
    pub fn generated_state_of(
        backend: FirewallBackend,
        ranges: Ranges,
    ) -> BoxedStrategy<FirewallState> {
        let [nft, iptables, firewalld, ufw] = generated_states(ranges);
        match backend {
            FirewallBackend::Nftables => nft,
            FirewallBackend::Iptables => iptables,
            FirewallBackend::Firewalld => firewalld,
            FirewallBackend::Ufw => ufw,
            FirewallBackend::None => generated_state(ranges),
        }
    }

    /// Made-up states: nftables, iptables, firewalld, ufw.
    fn generated_states(ranges: Ranges) -> [BoxedStrategy<FirewallState>; 4] {
        let name = || {
            prop_oneof![
                select(vec![
                    "public", "input", "filter", "INPUT", "drop", "", "a b"
                ])
                .prop_map(String::from),
                text()
            ]
        };
        let open = || {
            (
                vec(open_port(ranges), 0..3),
                vec(foreign_rule(ranges), 0..3),
            )
        };
        let nft = (
            vec(
                (
                    nft_family(),
                    name(),
                    name(),
                    any::<bool>(),
                    of(any::<u64>()),
                    of(prop_oneof![Just("iptables-nft".to_string()), text()]),
                )
                    .prop_map(
                        |(family, table, name, drops, insert_before, managed_by)| NftChain {
                            family,
                            table,
                            name,
                            drops,
                            insert_before,
                            managed_by,
                        },
                    ),
                0..3,
            ),
            vec(
                (
                    chain_id(),
                    tagged_rule(ranges),
                    any::<u64>(),
                    of(set_name()),
                    any::<bool>(),
                )
                    .prop_map(|(chain, rule, handle, set, intact)| NftRule {
                        chain,
                        rule,
                        handle,
                        set,
                        intact,
                    }),
                0..5,
            ),
            open(),
        )
            .prop_map(|(chains, found, (open, foreign))| {
                FirewallState::Nftables(NftState {
                    chains,
                    found,
                    open,
                    foreign,
                })
            });
        let iptables = (
            vec(
                (ip_family(), any::<bool>(), of(number())).prop_map(
                    |(family, drops, insert_before)| IptablesChain {
                        family,
                        drops,
                        insert_before,
                    },
                ),
                0..3,
            ),
            vec(
                (
                    chain_id(),
                    tagged_rule(ranges),
                    number(),
                    rule_words(),
                    any::<bool>(),
                )
                    .prop_map(|(chain, rule, number, saved, intact)| {
                        IptablesRule {
                            chain,
                            rule,
                            number,
                            saved,
                            intact,
                        }
                    }),
                0..5,
            ),
            open(),
        )
            .prop_map(|(chains, found, (open, foreign))| {
                FirewallState::Iptables(IptablesState {
                    chains,
                    found,
                    open,
                    foreign,
                })
            });
        let firewalld = (
            vec(
                (name(), firewalld_side(), any::<bool>())
                    .prop_map(|(name, side, drops)| FirewalldZone { name, side, drops }),
                0..4,
            ),
            vec(
                (
                    chain_id(),
                    tagged_rule(ranges),
                    text(),
                    of(set_name()),
                    any::<bool>(),
                )
                    .prop_map(|(zone, rule, rich_rule, ipset, intact)| {
                        FirewalldRule {
                            zone,
                            rule,
                            rich_rule,
                            ipset,
                            intact,
                        }
                    }),
                0..5,
            ),
            open(),
        )
            .prop_map(|(zones, found, (open, foreign))| {
                FirewallState::Firewalld(FirewalldState {
                    zones,
                    found,
                    open,
                    foreign,
                })
            });
        let ufw = (
            any::<bool>(),
            any::<bool>(),
            vec(
                (tagged_rule(ranges), rule_words(), any::<bool>()).prop_map(
                    |(rule, words, intact)| UfwRule {
                        rule,
                        words,
                        intact,
                    },
                ),
                0..5,
            ),
            open(),
        )
            .prop_map(|(active, drops, found, (open, foreign))| {
                FirewallState::Ufw(UfwState {
                    active,
                    drops,
                    found,
                    open,
                    foreign,
                })
            });
        [
            nft.boxed(),
            iptables.boxed(),
            firewalld.boxed(),
            ufw.boxed(),
        ]
    }

    /// Two states for `plan-restore`: mostly of one backend (the second the
    /// first again, with made-up rules added, with a rule dropped, or another
    /// real state of that backend), sometimes any two.
    pub fn state_pair(ranges: Ranges) -> BoxedStrategy<(FirewallState, FirewallState)> {
        let same_backend = firewall_state(ranges).prop_flat_map(move |before| {
            let backend = before.backend();
            let real: Vec<FirewallState> = words()
                .states
                .iter()
                .filter(|s| s.backend() == backend)
                .cloned()
                .collect();
            let now = prop_oneof![
                Just(before.clone()),
                (Just(before.clone()), generated_state_of(backend, ranges))
                    .prop_map(|(b, extra)| graft(b, extra)),
                (Just(before.clone()), any::<Index>()).prop_map(|(b, at)| drop_found(b, at)),
                select(real),
            ];
            (Just(before), now)
        });
        prop_oneof![
            1 => (firewall_state(ranges), firewall_state(ranges)),
            3 => same_backend,
        ]
        .boxed()
    }

    /// `state` without one of portplan's rules.
    fn drop_found(mut state: FirewallState, at: Index) -> FirewallState {
        fn drop<T>(list: &mut Vec<T>, at: Index) {
            if !list.is_empty() {
                list.remove(at.index(list.len()));
            }
        }
        match &mut state {
            FirewallState::Nftables(s) => drop(&mut s.found, at),
            FirewallState::Iptables(s) => drop(&mut s.found, at),
            FirewallState::Firewalld(s) => drop(&mut s.found, at),
            FirewallState::Ufw(s) => drop(&mut s.found, at),
        }
        state
    }

    /// A state: made up, read from a captured output or empty, or such a
    /// real state with made-up rules, chains and open ports added.
    pub fn firewall_state(ranges: Ranges) -> BoxedStrategy<FirewallState> {
        prop_oneof![
            2 => generated_state(ranges),
            1 => select(&words().states[..]),
            2 => (select(&words().states[..]), generated_state(ranges))
                .prop_map(|(real, extra)| graft(real, extra)),
        ]
        .boxed()
    }

    /// `real` with `extra`'s chains, rules and open ports appended when both
    /// are of one backend; else `real` with `extra`'s open ports.
    fn graft(real: FirewallState, extra: FirewallState) -> FirewallState {
        use FirewallState as S;
        match (real, extra) {
            (S::Nftables(mut a), S::Nftables(b)) => {
                a.chains.extend(b.chains);
                a.found.extend(b.found);
                a.open.extend(b.open);
                a.foreign.extend(b.foreign);
                S::Nftables(a)
            }
            (S::Iptables(mut a), S::Iptables(b)) => {
                a.chains.extend(b.chains);
                a.found.extend(b.found);
                a.open.extend(b.open);
                a.foreign.extend(b.foreign);
                S::Iptables(a)
            }
            (S::Firewalld(mut a), S::Firewalld(b)) => {
                a.zones.extend(b.zones);
                a.found.extend(b.found);
                a.open.extend(b.open);
                a.foreign.extend(b.foreign);
                S::Firewalld(a)
            }
            (S::Ufw(mut a), S::Ufw(b)) => {
                a.found.extend(b.found);
                a.open.extend(b.open);
                a.foreign.extend(b.foreign);
                S::Ufw(a)
            }
            (mut real, extra) => {
                let open = extra.open().to_vec();
                match &mut real {
                    S::Nftables(a) => a.open.extend(open),
                    S::Iptables(a) => a.open.extend(open),
                    S::Firewalld(a) => a.open.extend(open),
                    S::Ufw(a) => a.open.extend(open),
                }
                real
            }
        }
    }

    // Firewall outputs.

    const TOKENS: &[&str] = &[
        "0",
        "65535",
        "65536",
        "-1",
        "1:0",
        "2881:2880",
        "0-0",
        "portplan:x",
        "portplan:",
        "\"portplan:x\"",
        "ACCEPT",
        "DROP",
        "REJECT",
        "-A",
        "INPUT",
        "-s",
        "--dport",
        "-m",
        "comment",
        "--comment",
        "::",
        "0.0.0.0/0",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "{",
        "}",
        "rule",
        "family=\"ipv4\"",
        "family=\"ipv6\"",
        "port=\"0\"",
        "port=\"2881-2880\"",
        "accept",
        "drop",
        "ALLOW IN",
        "ALLOW",
        "DENY",
        "Anywhere",
        "(v6)",
        "#",
        "Status: active",
        "Status: inactive",
        "Default: deny (incoming)",
        "ufw allow",
        "portplan-x",
        ":INPUT",
        "*filter",
        "COMMIT",
        "target: DROP",
        "rich rules:",
        "public",
        "ipset=\"portplan-x\"",
        "",
        " ",
        "\t",
    ];

    fn token() -> BoxedStrategy<String> {
        prop_oneof![4 => select(TOKENS).prop_map(String::from), 1 => text()].boxed()
    }

    /// `seed` with up to four line edits: a line dropped, doubled, replaced,
    /// inserted, truncated, or one word of it replaced.
    pub fn edited_text(seed: &'static str) -> BoxedStrategy<String> {
        vec((any::<Index>(), any::<Index>(), 0u8..6, token()), 0..5)
            .prop_map(move |edits| {
                let mut lines: Vec<String> = seed.lines().map(String::from).collect();
                for (at, within, op, token) in edits {
                    if lines.is_empty() {
                        lines.push(token);
                        continue;
                    }
                    let i = at.index(lines.len());
                    match op {
                        0 => {
                            lines.remove(i);
                        }
                        1 => {
                            let line = lines[i].clone();
                            lines.insert(i, line);
                        }
                        2 => lines[i] = token,
                        3 => lines.insert(i, token),
                        4 => {
                            let n = lines[i].chars().count();
                            lines[i] = lines[i].chars().take(within.index(n + 1)).collect();
                        }
                        _ => {
                            let mut words: Vec<&str> = lines[i].split(' ').collect();
                            let j = within.index(words.len());
                            words[j] = &token;
                            lines[i] = words.join(" ");
                        }
                    }
                }
                let mut text = lines.join("\n");
                text.push('\n');
                text
            })
            .boxed()
    }

    /// Text that is no tool's output: arbitrary, or any JSON.
    fn blob() -> BoxedStrategy<String> {
        prop_oneof![
            "(?s).{0,200}",
            json().prop_map(|v| v.to_string()),
            Just(String::new()),
        ]
        .boxed()
    }

    /// A backend and what its tools printed: its captured output edited,
    /// the nftables JSON edited as JSON, or any text for any backend.
    pub fn firewall_input() -> BoxedStrategy<(FirewallBackend, FirewallOutput)> {
        let zone = || {
            prop_oneof![
                6 => Just(Some("public".to_string())),
                1 => of(prop_oneof![
                    select(vec!["public", "drop", "trusted", "nosuch", ""]).prop_map(String::from),
                    text()
                ]),
            ]
        };
        let nft_json: Value = serde_json::from_str(NFT).expect("the nft capture is JSON");
        prop_oneof![
            (
                prop_oneof![
                    1 => edited_text(NFT),
                    3 => edited_json(nft_json).prop_map(|v| v.to_string())
                ],
                blob()
            )
                .prop_map(|(main, extra)| (
                    FirewallBackend::Nftables,
                    FirewallOutput {
                        main,
                        extra,
                        zone: None
                    }
                )),
            (edited_text(IPT4), prop_oneof![edited_text(IPT6), blob()]).prop_map(
                |(main, extra)| (
                    FirewallBackend::Iptables,
                    FirewallOutput {
                        main,
                        extra,
                        zone: None
                    }
                )
            ),
            (
                edited_text(FIREWALLD),
                edited_text(FIREWALLD_PERMANENT),
                zone()
            )
                .prop_map(|(main, extra, zone)| (
                    FirewallBackend::Firewalld,
                    FirewallOutput { main, extra, zone }
                )),
            (
                edited_text(UFW_STATUS),
                prop_oneof![edited_text(UFW_ADDED), blob()]
            )
                .prop_map(|(main, extra)| (
                    FirewallBackend::Ufw,
                    FirewallOutput {
                        main,
                        extra,
                        zone: None
                    }
                )),
            (backend(), blob(), blob(), zone()).prop_map(|(backend, main, extra, zone)| (
                backend,
                FirewallOutput { main, extra, zone }
            )),
        ]
        .boxed()
    }

    // JSON.

    const KEYS: &[&str] = &[
        "name",
        "profiles",
        "deploy-user",
        "hosts",
        "address",
        "components",
        "networks",
        "cidrs",
        "overrides",
        "spec",
        "ports",
        "first",
        "last",
        "enable",
        "custom-profiles",
        "observations",
        "host",
        "phase",
        "observation",
        "listeners",
        "transport",
        "port",
        "v6only",
        "pid",
        "command",
        "ip-local-port-range",
        "ip-local-reserved-ports",
        "ip-unprivileged-port-start",
        "effective-uid",
        "firewall",
        "backend",
        "open",
        "sources",
        "tag",
        "plan",
        "summary",
        "errors",
        "warnings",
        "infos",
        "findings",
        "rules",
        "code",
        "severity",
        "component",
        "message",
        "fix",
        "problems",
        "path",
        "value",
        "main",
        "extra",
        "zone",
        "nftables",
        "iptables",
        "firewalld",
        "ufw",
        "chains",
        "found",
        "chain",
        "rule",
        "handle",
        "set",
        "family",
        "table",
        "drops",
        "insert-before",
        "number",
        "saved",
        "zones",
        "side",
        "rich-rule",
        "ipset",
        "words",
        "active",
        "source",
        "title",
        "description",
        "required",
        "id",
        "protocol",
        "allocation",
        "exposure",
        "accessed-by",
        "modifiable",
        "same-on-all-hosts",
        "optional",
        "purpose",
        "text",
        "format",
        "error",
        "output",
        "state",
        "remove-all",
        "before",
        "now",
        "group",
        "source-groups",
        "overridden",
        "argv",
        "stdin",
        "a.b",
        "x[0]",
    ];

    const LEAVES: &[&str] = &[
        "tcp",
        "udp",
        "fixed",
        "pool",
        "loopback",
        "peers",
        "browser",
        "root",
        "non-root",
        "preinstall",
        "postinstall",
        "nftables",
        "iptables",
        "firewalld",
        "ufw",
        "none",
        "json",
        "table",
        "markdown",
        "csv",
        "ipv4",
        "ipv6",
        "inet",
        "ip",
        "ip6",
        "runtime",
        "permanent",
        "error",
        "warning",
        "info",
        "port-conflict",
        "not-supported",
        "configurable",
        "ocp",
        "ocp-ce",
        "ocp-server",
        "observer",
        "observer.sql",
        "198.18.0.1",
        "2001:db8::1",
        "198.18.0.0/24",
        "8080",
        "8000-8010",
        "0",
        "65536",
        "8010-8000",
        "portplan:x",
        "h0",
    ];

    /// Any JSON value, a few levels deep, with the contract's keys and
    /// spellings so that decoding gets past the first unknown field.
    pub fn json() -> BoxedStrategy<Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<u16>().prop_map(Value::from),
            select(vec![0i64, -1, 1, 65535, 65536, u32::MAX as i64, 1 << 33]).prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            select(LEAVES).prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        let key = prop_oneof![4 => select(KEYS).prop_map(String::from), 1 => "[a-z-]{1,8}"];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(Value::Array),
                vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// How many values `value` holds, itself included.
    fn nodes(value: &Value) -> usize {
        1 + match value {
            Value::Array(a) => a.iter().map(nodes).sum(),
            Value::Object(o) => o.values().map(nodes).sum(),
            _ => 0,
        }
    }

    /// The `n`-th value of `value` in pre-order.
    fn nth<'v>(value: &'v mut Value, n: &mut usize) -> Option<&'v mut Value> {
        if *n == 0 {
            return Some(value);
        }
        *n -= 1;
        match value {
            Value::Array(a) => {
                for v in a.iter_mut() {
                    if let Some(found) = nth(v, n) {
                        return Some(found);
                    }
                }
                None
            }
            Value::Object(o) => {
                for v in o.values_mut() {
                    if let Some(found) = nth(v, n) {
                        return Some(found);
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// `seed` with up to four edits, each at any value of it: replaced by any
    /// JSON, a member or element dropped, one added, or a number or string
    /// nudged to a boundary.
    pub fn edited_json(seed: Value) -> BoxedStrategy<Value> {
        vec(
            (any::<Index>(), any::<Index>(), 0u8..5, json(), select(KEYS)),
            0..5,
        )
        .prop_map(move |edits| {
            let mut root = seed.clone();
            for (at, within, op, new, key) in edits {
                let mut n = at.index(nodes(&root));
                let Some(node) = nth(&mut root, &mut n) else {
                    continue;
                };
                match (op, &mut *node) {
                    (1, Value::Array(a)) if !a.is_empty() => {
                        a.remove(within.index(a.len()));
                    }
                    (1, Value::Object(o)) if !o.is_empty() => {
                        let k = o.keys().nth(within.index(o.len())).cloned();
                        if let Some(k) = k {
                            o.shift_remove(&k);
                        }
                    }
                    (2, Value::Array(a)) => a.push(new),
                    (2, Value::Object(o)) => {
                        o.insert(key.to_string(), new);
                    }
                    (3, Value::Number(_)) => {
                        *node = select_boundary(within);
                    }
                    (3, Value::String(s)) => {
                        let cut = within.index(s.chars().count() + 1);
                        let kept: String = s.chars().take(cut).collect();
                        *s = kept;
                    }
                    (4, _) => *node = Value::from(node.to_string()),
                    _ => *node = new,
                }
            }
            root
        })
        .boxed()
    }

    fn select_boundary(at: Index) -> Value {
        let numbers = [
            Value::from(0),
            Value::from(-1),
            Value::from(65536),
            Value::from(u64::MAX),
            Value::from(i64::MIN),
            Value::from(1.5),
            Value::from(u32::MAX),
            Value::from(u64::from(u32::MAX) + 1),
        ];
        numbers[at.index(numbers.len())].clone()
    }

    /// The JSON of a well-typed value, edited (or not: zero edits).
    pub fn edited<T: Serialize + std::fmt::Debug + 'static>(
        strategy: BoxedStrategy<T>,
    ) -> BoxedStrategy<Value> {
        strategy
            .prop_flat_map(|t| {
                edited_json(serde_json::to_value(&t).expect("every contract type serializes"))
            })
            .boxed()
    }

    /// JSON text of any kind: arbitrary text, any JSON, an example plan
    /// edited as text or as JSON, or a well-typed record edited.
    pub fn json_text() -> BoxedStrategy<String> {
        let plans: Vec<Value> = PLAN_TEXTS
            .iter()
            .map(|t| serde_json::from_str(t).expect("example plans are JSON"))
            .collect();
        prop_oneof![
            "(?s).{0,64}",
            json().prop_map(|v| v.to_string()),
            select(plans)
                .prop_flat_map(edited_json)
                .prop_map(|v| v.to_string()),
            (0..PLAN_TEXTS.len()).prop_flat_map(|i| edited_text(PLAN_TEXTS[i])),
            record_json().prop_map(|v| v.to_string()),
        ]
        .boxed()
    }

    /// The JSON of any well-typed record of the contract, edited (a bad
    /// port range is one edit among others).
    pub fn record_json() -> BoxedStrategy<Value> {
        prop_oneof![
            edited(plan(Ranges::Valid)),
            edited(observation(Ranges::Valid)),
            edited(report(Ranges::Valid)),
            edited(plan_error()),
            edited(firewall_input().prop_map(|(_, o)| o).boxed()),
            edited(firewall_state(Ranges::Valid)),
            edited(firewall_rules(Ranges::Valid)),
            edited(profile(Ranges::Valid)),
        ]
        .boxed()
    }

    /// The reachability probe's records.
    pub mod reach {
        use portplan_core::{
            Expectation, ListenPort, Phase, Plan, ProbeOutcome, ProbeResult, ProbeResults,
            ProbeSource, ServeStatus, TruthRow, TruthSummary, TruthTable, Verdict,
        };
        use proptest::collection::vec;
        use proptest::option::of;
        use proptest::prelude::*;

        use super::{
            Ranges, finding, host_name, network_name, phase, plan_and_host, port, spec_id, text,
            transport,
        };

        pub fn probe_source() -> BoxedStrategy<ProbeSource> {
            prop_oneof![
                host_name().prop_map(ProbeSource::Host),
                network_name().prop_map(ProbeSource::Network),
                Just(ProbeSource::Outsider),
            ]
            .boxed()
        }

        pub fn expectation() -> BoxedStrategy<Expectation> {
            prop_oneof![Just(Expectation::Allow), Just(Expectation::Deny)].boxed()
        }

        pub fn outcome() -> BoxedStrategy<ProbeOutcome> {
            prop_oneof![
                Just(ProbeOutcome::Connected),
                Just(ProbeOutcome::WrongResponder),
                Just(ProbeOutcome::Timeout),
                Just(ProbeOutcome::Refused),
                Just(ProbeOutcome::Unreachable),
                Just(ProbeOutcome::Error),
            ]
            .boxed()
        }

        pub fn verdict() -> BoxedStrategy<Verdict> {
            prop_oneof![
                Just(Verdict::AsExpected),
                Just(Verdict::Mismatch),
                Just(Verdict::Unknown),
            ]
            .boxed()
        }

        pub fn listen_port() -> BoxedStrategy<ListenPort> {
            (spec_id(), port(), transport())
                .prop_map(|(spec, port, transport)| ListenPort {
                    spec,
                    port,
                    transport,
                })
                .boxed()
        }

        pub fn serve_status() -> BoxedStrategy<ServeStatus> {
            (
                text(),
                host_name(),
                vec(listen_port(), 0..3),
                vec(listen_port(), 0..3),
            )
                .prop_map(|(plan, host, listening, held)| ServeStatus {
                    plan,
                    host,
                    listening,
                    held,
                })
                .boxed()
        }

        pub fn probe_result() -> BoxedStrategy<ProbeResult> {
            (
                host_name(),
                spec_id(),
                port(),
                transport(),
                outcome(),
                text(),
                any::<u32>(),
            )
                .prop_map(
                    |(destination, spec, port, transport, outcome, detail, elapsed_ms)| {
                        ProbeResult {
                            destination,
                            spec,
                            port,
                            transport,
                            outcome,
                            detail,
                            elapsed_ms,
                        }
                    },
                )
                .boxed()
        }

        pub fn probe_results() -> BoxedStrategy<ProbeResults> {
            (text(), probe_source(), phase(), vec(probe_result(), 0..4))
                .prop_map(|(plan, source, phase, results)| ProbeResults {
                    plan,
                    source,
                    phase,
                    results,
                })
                .boxed()
        }

        /// A plan with results that fit it, most of the time: the probe
        /// plan of one of its hosts, each target with a random outcome, and
        /// sometimes one target left out or one held port; else arbitrary
        /// results (which must be rejected, never judged).
        pub fn reach_input(
            ranges: Ranges,
        ) -> BoxedStrategy<(Plan, Vec<ServeStatus>, Vec<ProbeResults>)> {
            (
                plan_and_host(ranges),
                vec(outcome(), 64),
                any::<bool>(),
                prop::bool::weighted(0.8),
            )
                .prop_flat_map(|((plan, host), outcomes, drop_one, fitting)| {
                    let source = ProbeSource::Host(host.clone());
                    let fitted = portplan_core::probe_plan(&plan, &source, Phase::Preinstall)
                        .ok()
                        .filter(|_| fitting)
                        .map(|probes| {
                            let mut results: Vec<ProbeResult> = probes
                                .targets
                                .iter()
                                .zip(outcomes.iter().cycle())
                                .map(|(t, o)| ProbeResult {
                                    destination: t.destination.clone(),
                                    spec: t.spec.clone(),
                                    port: t.port,
                                    transport: t.transport,
                                    outcome: *o,
                                    detail: String::new(),
                                    elapsed_ms: 0,
                                })
                                .collect();
                            if drop_one {
                                results.pop();
                            }
                            let served = ServeStatus {
                                plan: plan.name.clone(),
                                host,
                                listening: Vec::new(),
                                held: probes.listen.into_iter().take(1).collect(),
                            };
                            let probed = ProbeResults {
                                plan: plan.name.clone(),
                                source,
                                phase: Phase::Preinstall,
                                results,
                            };
                            (vec![served], vec![probed])
                        });
                    let plan = Just(plan);
                    match fitted {
                        Some((served, probed)) => (plan, Just(served), Just(probed)).boxed(),
                        None => {
                            (plan, vec(serve_status(), 0..2), vec(probe_results(), 0..3)).boxed()
                        }
                    }
                })
                .boxed()
        }

        pub fn truth_row() -> BoxedStrategy<TruthRow> {
            (
                probe_source(),
                host_name(),
                spec_id(),
                port(),
                transport(),
                expectation(),
                of(outcome()),
                verdict(),
                text(),
            )
                .prop_map(
                    |(
                        source,
                        destination,
                        spec,
                        port,
                        transport,
                        expect,
                        outcome,
                        verdict,
                        detail,
                    )| {
                        TruthRow {
                            source,
                            destination,
                            spec,
                            port,
                            transport,
                            expect,
                            outcome,
                            verdict,
                            detail,
                        }
                    },
                )
                .boxed()
        }

        pub fn truth_table(ranges: Ranges) -> BoxedStrategy<TruthTable> {
            (
                text(),
                phase(),
                any::<[u32; 4]>(),
                vec(truth_row(), 0..5),
                vec(finding(ranges), 0..3),
            )
                .prop_map(
                    |(plan, phase, [rows, as_expected, mismatches, unknown], rows_, findings)| {
                        TruthTable {
                            plan,
                            phase,
                            summary: TruthSummary {
                                rows,
                                as_expected,
                                mismatches,
                                unknown,
                            },
                            rows: rows_,
                            findings,
                        }
                    },
                )
                .boxed()
        }
    }
}
