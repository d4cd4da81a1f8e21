//! The typed firewall state at the boundary: a rule that points at a chain or
//! zone side the state does not hold is rejected with its path, never indexed;
//! an empty state per backend comes from core; reports say who reaches a port.

#![allow(clippy::unwrap_used)]

mod support;

use portplan_core::{
    ChainId, FirewallBackend, FirewallOutput, FirewallRule, FirewallState, FirewalldRule,
    FirewalldSide, FirewalldState, FirewalldZone, IpFamily, IptablesChain, IptablesRule,
    IptablesState, NftChain, NftFamily, NftRule, NftState, OpenPort, PlanError, PortRange,
    TaggedRule, Transport, UfwRule, UfwState,
};
use portplan_core::{
    catalog, empty_firewall, get_profile, parse_plan, plan_firewall, plan_restore, read_firewall,
    validate_plan,
};
use proptest::prelude::*;
use support::{nft, rule_2881};

const BACKENDS: [FirewallBackend; 4] = [
    FirewallBackend::Nftables,
    FirewallBackend::Iptables,
    FirewallBackend::Firewalld,
    FirewallBackend::Ufw,
];

fn tagged(source: &str) -> TaggedRule {
    TaggedRule {
        tag: "portplan:observer.sql".into(),
        family: if source.contains(':') {
            IpFamily::Ipv6
        } else {
            IpFamily::Ipv4
        },
        transport: Transport::Tcp,
        ports: PortRange::single(2881),
        source: source.into(),
    }
}

/// `(path, value)` of every problem.
fn problems(e: &PlanError) -> Vec<(&str, &str)> {
    e.problems
        .iter()
        .map(|p| (p.path.as_str(), p.value.as_str()))
        .collect()
}

fn input_chain() -> NftChain {
    NftChain {
        family: NftFamily::Inet,
        table: "filter".into(),
        name: "input".into(),
        drops: true,
        insert_before: None,
        managed_by: None,
    }
}

fn nft_with(chain: ChainId) -> FirewallState {
    FirewallState::Nftables(NftState {
        chains: vec![input_chain()],
        found: vec![NftRule {
            chain,
            rule: tagged("198.18.2.10/32"),
            handle: 4,
            set: None,
            intact: true,
        }],
        open: Vec::new(),
        foreign: Vec::new(),
    })
}

fn iptables_with(chain: ChainId) -> FirewallState {
    FirewallState::Iptables(IptablesState {
        chains: vec![IptablesChain {
            family: IpFamily::Ipv4,
            drops: true,
            insert_before: None,
        }],
        found: vec![IptablesRule {
            chain,
            rule: tagged("198.18.2.10/32"),
            number: 1,
            saved: "-s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -j ACCEPT"
                .split(' ')
                .map(String::from)
                .collect(),
                intact: true,
        }],
        open: Vec::new(),
        foreign: Vec::new(),
    })
}

fn firewalld_with(zone: ChainId) -> FirewallState {
    FirewallState::Firewalld(FirewalldState {
        zones: vec![FirewalldZone {
            name: "public".into(),
            side: FirewalldSide::Runtime,
            drops: true,
        }],
        found: vec![FirewalldRule {
            zone,
            rule: tagged("198.18.2.10/32"),
            rich_rule: "rule family=\"ipv4\" source address=\"198.18.2.10\" port port=\"2881\" protocol=\"tcp\" log prefix=\"portplan:observer.sql\" level=\"info\" limit value=\"1/h\" accept".into(),
            ipset: None,
            intact: true,
        }],
        open: Vec::new(),
        foreign: Vec::new(),
    })
}

#[test]
fn a_rule_on_a_chain_the_state_lacks_is_rejected_with_its_path() {
    let cases = [
        (nft_with(ChainId(7)), "state.nftables.found[0].chain"),
        (iptables_with(ChainId(7)), "state.iptables.found[0].chain"),
        (firewalld_with(ChainId(7)), "state.firewalld.found[0].zone"),
    ];
    for (state, path) in cases {
        for remove_all in [false, true] {
            let e = plan_firewall(
                &[rule_2881("observer.sql", &["198.18.2.10/32"])],
                &state,
                remove_all,
            )
            .unwrap_err();
            assert_eq!(problems(&e), [(path, "7")], "{e}");
        }
    }
    // One past the end is the first id that dangles; the last chain is fine.
    let e = plan_firewall(&[], &nft_with(ChainId(1)), false).unwrap_err();
    assert_eq!(problems(&e), [("state.nftables.found[0].chain", "1")]);
    assert!(plan_firewall(&[], &nft_with(ChainId(0)), false).is_ok());
    // u32::MAX is still just a value, not an index.
    let e = plan_firewall(&[], &iptables_with(ChainId(u32::MAX)), false).unwrap_err();
    assert_eq!(
        problems(&e),
        [("state.iptables.found[0].chain", "4294967295")]
    );
}

#[test]
fn every_dangling_rule_is_named_not_just_the_first() {
    let FirewallState::Nftables(mut state) = nft_with(ChainId(0)) else {
        unreachable!()
    };
    let good = state.found[0].clone();
    state.found = vec![
        good.clone(),
        NftRule {
            chain: ChainId(2),
            ..good.clone()
        },
        good.clone(),
        NftRule {
            chain: ChainId(3),
            ..good
        },
    ];
    let e = plan_firewall(&[], &FirewallState::Nftables(state), false).unwrap_err();
    assert_eq!(
        problems(&e),
        [
            ("state.nftables.found[1].chain", "2"),
            ("state.nftables.found[3].chain", "3")
        ]
    );
}

#[test]
fn plan_restore_names_the_side_whose_rule_dangles() {
    let good = nft_with(ChainId(0));
    let bad = nft_with(ChainId(7));
    let e = plan_restore(&bad, &good).unwrap_err();
    assert_eq!(problems(&e), [("before.nftables.found[0].chain", "7")]);
    let e = plan_restore(&good, &bad).unwrap_err();
    assert_eq!(problems(&e), [("now.nftables.found[0].chain", "7")]);
    let e = plan_restore(&firewalld_with(ChainId(1)), &firewalld_with(ChainId(0))).unwrap_err();
    assert_eq!(problems(&e), [("before.firewalld.found[0].zone", "1")]);
    let e = plan_restore(&iptables_with(ChainId(0)), &iptables_with(ChainId(9))).unwrap_err();
    assert_eq!(problems(&e), [("now.iptables.found[0].chain", "9")]);
}

#[test]
fn plan_restore_across_backends_is_an_error() {
    for before in BACKENDS {
        for now in BACKENDS {
            let result = plan_restore(
                &empty_firewall(before).unwrap(),
                &empty_firewall(now).unwrap(),
            );
            if before == now {
                assert_eq!(result.unwrap(), []);
            } else {
                let e = result.unwrap_err();
                assert_eq!(problems(&e), [("now", now.as_str())], "{e}");
            }
        }
    }
}

#[test]
fn plan_restore_puts_back_exactly_what_was_there() {
    let empty = empty_firewall(FirewallBackend::Nftables).unwrap();
    let after = nft_with(ChainId(0));
    let undo = plan_restore(&empty, &after).unwrap();
    assert_eq!(undo.len(), 1);
    assert_eq!(undo[0].argv, ["nft", "-f", "-"]);
    assert_eq!(
        undo[0].stdin.as_deref(),
        Some("delete rule inet filter input handle 4\n")
    );
    let redo = plan_restore(&after, &empty).unwrap();
    assert_eq!(
        redo[0].stdin.as_deref(),
        Some(
            "add rule inet filter input ip saddr 198.18.2.10 tcp dport 2881 accept comment \"portplan:observer.sql\"\n"
        )
    );
    assert_eq!(plan_restore(&after, &after).unwrap(), []);
}

#[test]
fn an_empty_firewall_of_each_backend_takes_rules() {
    for backend in BACKENDS {
        let state = empty_firewall(backend).unwrap();
        assert_eq!(state.backend(), backend);
        assert!(state.tagged().is_empty() && state.open().is_empty());
        state.check("state").unwrap();
        let change = plan_firewall(
            &[rule_2881("observer.sql", &["198.18.2.10/32"])],
            &state,
            false,
        )
        .unwrap();
        assert_eq!(change.backend, backend);
        assert_eq!(change.add, [tagged("198.18.2.10/32")], "{backend:?}");
        assert!(
            change.remove.is_empty() && change.notes.is_empty(),
            "{change:#?}"
        );
        assert!(!change.commands.is_empty(), "{backend:?}");
        assert!(
            change.commands.iter().all(|c| {
                c.argv
                    .iter()
                    .chain(&c.stdin)
                    .any(|a| a.contains("198.18.2.10"))
            }),
            "{change:#?}"
        );
        // Nothing to remove from an empty firewall.
        let none = plan_firewall(
            &[rule_2881("observer.sql", &["198.18.2.10/32"])],
            &state,
            true,
        )
        .unwrap();
        assert!(none.commands.is_empty() && none.add.is_empty() && none.remove.is_empty());
    }
}

#[test]
fn an_empty_firewalls_exact_commands() {
    let commands = |backend, sources: &[&str]| {
        plan_firewall(
            &[rule_2881("observer.sql", sources)],
            &empty_firewall(backend).unwrap(),
            false,
        )
        .unwrap()
        .commands
    };
    let script = commands(FirewallBackend::Nftables, &["198.18.2.10/32"]);
    assert_eq!(script.len(), 1);
    assert_eq!(script[0].argv, ["nft", "-f", "-"]);
    assert_eq!(
        script[0].stdin.as_deref(),
        Some(
            "add rule inet filter input ip saddr 198.18.2.10 tcp dport 2881 accept comment \"portplan:observer.sql\"\n"
        )
    );
    let argvs = |backend, sources: &[&str]| -> Vec<String> {
        commands(backend, sources)
            .iter()
            .map(|c| {
                assert_eq!(c.stdin, None);
                c.argv.join(" ")
            })
            .collect()
    };
    // Both families drop: each source goes to its own family's INPUT chain.
    assert_eq!(
        argvs(
            FirewallBackend::Iptables,
            &["198.18.2.10/32", "2001:db8::1/128"]
        ),
        [
            "iptables -w -A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -j ACCEPT",
            "ip6tables -w -A INPUT -s 2001:db8::1/128 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -j ACCEPT",
        ]
    );
    let rich = "--add-rich-rule=rule family=\"ipv4\" source address=\"198.18.2.10\" port port=\"2881\" protocol=\"tcp\" log prefix=\"portplan:observer.sql\" level=\"info\" limit value=\"1/h\" accept";
    assert_eq!(
        argvs(FirewallBackend::Firewalld, &["198.18.2.10/32"]),
        [
            format!("firewall-cmd --zone=public {rich}"),
            format!("firewall-cmd --permanent --zone=public {rich}"),
        ]
    );
    assert_eq!(
        argvs(FirewallBackend::Ufw, &["198.18.2.10/32"]),
        ["ufw allow from 198.18.2.10 to any port 2881 proto tcp comment portplan:observer.sql"]
    );
}

#[test]
fn the_empty_nftables_firewall_is_the_default_drop_input_chain() {
    let state = empty_firewall(FirewallBackend::Nftables).unwrap();
    assert_eq!(nft(&state).chains, [input_chain()]);
}

#[test]
fn backend_none_has_no_state() {
    let e = empty_firewall(FirewallBackend::None).unwrap_err();
    assert_eq!(problems(&e), [("backend", "none")]);
    let e = read_firewall(FirewallBackend::None, &FirewallOutput::default()).unwrap_err();
    assert_eq!(problems(&e), [("backend", "none")]);
}

#[test]
fn ufw_states_have_no_ids_to_dangle() {
    let state = FirewallState::Ufw(UfwState {
        active: true,
        drops: true,
        found: vec![UfwRule {
            rule: tagged("198.18.2.10/32"),
            words:
                "allow from 198.18.2.10 to any port 2881 proto tcp comment portplan:observer.sql"
                    .split(' ')
                    .map(String::from)
                    .collect(),
            intact: true,
        }],
        open: Vec::new(),
        foreign: Vec::new(),
    });
    assert_eq!(state.tagged(), [(ChainId(0), &tagged("198.18.2.10/32"))]);
    let change = plan_firewall(&[], &state, true).unwrap();
    assert_eq!(
        change.commands[0].argv.join(" "),
        "ufw delete allow from 198.18.2.10 to any port 2881 proto tcp comment portplan:observer.sql"
    );
}

/// A row's source group, from the report that lists it.
fn group_of(
    report: &portplan_core::Report,
    entry: &portplan_core::PortEntry,
) -> Option<portplan_core::SourceGroup> {
    let name = entry.group.as_ref()?;
    let found = report.source_groups.iter().find(|g| &g.name == name);
    Some(found.unwrap_or_else(|| panic!("{name} not listed")).clone())
}

#[test]
fn port_rows_name_the_hosts_and_networks_behind_their_sources() {
    let text = include_str!("../../examples/plans/ocp-cluster.json");
    let report = validate_plan(&parse_plan(text).unwrap()).unwrap();
    let row = |host: &str, spec: &str| {
        report
            .hosts
            .iter()
            .find(|h| h.host == host)
            .and_then(|h| h.ports.iter().find(|p| p.spec == spec))
            .unwrap_or_else(|| panic!("no {spec} on {host}"))
            .clone()
    };
    // The console: every OBServer and OBProxy host (plan order), the DBAs
    // and the SLB in front of OCP-Server.
    let http = group_of(&report, &row("ocp1", "ocp-server.http")).unwrap();
    assert_eq!(http.hosts, ["obs1", "obs2", "obs3", "proxy1"]);
    assert_eq!(http.networks, ["ocp-console", "ocp-slb"]);
    assert_eq!(
        http.sources,
        [
            "198.18.2.5/32",
            "198.18.2.11/32",
            "198.18.2.12/31",
            "198.18.2.20/32",
            "198.18.60.0/24"
        ]
    );
    // SQL: OCP-Server and OBProxy, and the application servers.
    let sql = group_of(&report, &row("obs1", "observer.sql")).unwrap();
    assert_eq!(sql.hosts, ["ocp1", "proxy1"]);
    assert_eq!(sql.networks, ["application"]);
    // RPC: the OBServers, the host itself included (one group for all of
    // them); no network.
    let rpc = row("obs2", "observer.rpc");
    assert_eq!(rpc.group, row("obs1", "observer.rpc").group);
    let rpc = group_of(&report, &rpc).unwrap();
    assert_eq!(rpc.hosts, ["obs1", "obs2", "obs3"]);
    assert!(rpc.networks.is_empty());
    // Loopback: nobody.
    assert_eq!(row("obs1", "backup-agent.backup").group, None);
    // Every group: names exactly when there are addresses.
    for group in &report.source_groups {
        assert_eq!(
            group.sources.is_empty(),
            group.hosts.is_empty() && group.networks.is_empty(),
            "{group:#?}"
        );
    }
}

#[test]
fn source_networks_are_sorted_by_name() {
    // The plan lists the networks the other way round.
    let plan = support::plan(serde_json::json!({
        "name": "t",
        "profiles": ["finedatalink-single"],
        "hosts": [{ "name": "h1", "address": "198.18.0.1",
                    "components": ["finedatalink", "fanruan-gateway", "mysql", "elasticsearch", "kafka", "ops-agent"] }],
        "networks": [
            { "name": "business-database", "cidrs": ["198.18.9.0/24"] },
            { "name": "admin", "cidrs": ["198.18.100.0/24"] }
        ]
    }));
    let report = validate_plan(&plan).unwrap();
    let gateway = report.hosts[0]
        .ports
        .iter()
        .find(|p| p.spec == "fanruan-gateway.http")
        .unwrap();
    let gateway = group_of(&report, gateway).unwrap();
    assert_eq!(gateway.networks, ["admin", "business-database"]);
    // h1 itself runs an accessor (FineDataLink), so its address is in the group.
    assert_eq!(
        gateway.sources,
        ["198.18.0.1/32", "198.18.9.0/24", "198.18.100.0/24"]
    );
}

/// The catalog is parsed once and a file that fails to parse is dropped, not
/// reported: this is what catches it.
#[test]
fn catalog_parses() {
    let names: Vec<String> = catalog().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "finedatalink-single",
            "finedatalink-cluster",
            "fineops",
            "ocp",
            "ocp-ce"
        ]
    );
    assert_eq!(catalog().len(), 5);
    for name in &names {
        assert_eq!(&get_profile(name).unwrap().name, name);
    }
    assert_eq!(get_profile("nosuch").unwrap_err().problems[0].path, "name");
}

// Arbitrary well-typed states: an error or a result, never a panic.

/// Port ranges: valid ones (what JSON decoding lets through), or any pair of
/// numbers (a WIT record may hold 0 or `first > last`).
fn any_ports(valid: bool) -> BoxedStrategy<PortRange> {
    if valid {
        (1u16..=65535, 1u16..=65535)
            .prop_map(|(a, b)| PortRange {
                first: a.min(b),
                last: a.max(b),
            })
            .boxed()
    } else {
        (any::<u16>(), any::<u16>())
            .prop_map(|(first, last)| PortRange { first, last })
            .boxed()
    }
}

fn any_tagged(valid: bool) -> impl Strategy<Value = TaggedRule> + Clone {
    (
        prop::sample::select(vec![
            "portplan:observer.sql",
            "portplan:x",
            "portplan:",
            "foreign",
            "",
        ]),
        prop::bool::ANY,
        prop::bool::ANY,
        any_ports(valid),
        prop::sample::select(vec![
            "198.18.2.10/32",
            "198.18.2.0/24",
            "2001:db8::1/128",
            "0.0.0.0/0",
            "not an address",
            "",
        ]),
    )
        .prop_map(|(tag, v6, udp, ports, source)| TaggedRule {
            tag: tag.into(),
            family: if v6 { IpFamily::Ipv6 } else { IpFamily::Ipv4 },
            transport: if udp { Transport::Udp } else { Transport::Tcp },
            ports,
            source: source.into(),
        })
}

fn any_open(valid: bool) -> impl Strategy<Value = Vec<OpenPort>> {
    prop::collection::vec(
        (any_tagged(valid), prop::bool::ANY).prop_map(|(r, tagged)| OpenPort {
            transport: r.transport,
            ports: r.ports,
            sources: vec![r.source],
            tag: tagged.then_some(r.tag),
        }),
        0..3,
    )
}

fn any_name() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec!["public", "input", "filter", "", "a b"]).prop_map(String::from)
}

fn any_id() -> impl Strategy<Value = ChainId> {
    (0u32..4).prop_map(ChainId)
}

fn any_state(valid: bool) -> impl Strategy<Value = FirewallState> {
    let tagged = any_tagged(valid);
    let words = prop::collection::vec(any_name(), 0..3);
    let nft = (
        prop::collection::vec(
            (
                prop::sample::select(vec![NftFamily::Inet, NftFamily::Ip, NftFamily::Ip6]),
                any_name(),
                any_name(),
                prop::bool::ANY,
                prop::option::of(any::<u64>()),
            )
                .prop_map(|(family, table, name, drops, insert_before)| NftChain {
                    family,
                    table,
                    name,
                    drops,
                    insert_before,
                    managed_by: None,
                }),
            0..3,
        ),
        prop::collection::vec(
            (
                any_id(),
                tagged.clone(),
                any::<u64>(),
                prop::option::of(any_name()),
            )
                .prop_map(|(chain, rule, handle, set)| NftRule {
                    chain,
                    rule,
                    handle,
                    set,
                    intact: true,
                }),
            0..5,
        ),
        any_open(valid),
    )
        .prop_map(|(chains, found, open)| {
            FirewallState::Nftables(NftState {
                chains,
                found,
                open,
                foreign: Vec::new(),
            })
        });
    let iptables = (
        prop::collection::vec(
            (
                prop::bool::ANY,
                prop::bool::ANY,
                prop::option::of(any::<u32>()),
            )
                .prop_map(|(v6, drops, insert_before)| IptablesChain {
                    family: if v6 { IpFamily::Ipv6 } else { IpFamily::Ipv4 },
                    drops,
                    insert_before,
                }),
            0..3,
        ),
        prop::collection::vec(
            (any_id(), tagged.clone(), any::<u32>(), words.clone()).prop_map(
                |(chain, rule, number, saved)| IptablesRule {
                    chain,
                    rule,
                    number,
                    saved,
                    intact: true,
                },
            ),
            0..5,
        ),
        any_open(valid),
    )
        .prop_map(|(chains, found, open)| {
            FirewallState::Iptables(IptablesState {
                chains,
                found,
                open,
                foreign: Vec::new(),
            })
        });
    let firewalld = (
        prop::collection::vec(
            (any_name(), prop::bool::ANY, prop::bool::ANY).prop_map(|(name, permanent, drops)| {
                FirewalldZone {
                    name,
                    side: if permanent {
                        FirewalldSide::Permanent
                    } else {
                        FirewalldSide::Runtime
                    },
                    drops,
                }
            }),
            0..3,
        ),
        prop::collection::vec(
            (
                any_id(),
                tagged.clone(),
                any_name(),
                prop::option::of(any_name()),
            )
                .prop_map(|(zone, rule, rich_rule, ipset)| FirewalldRule {
                    zone,
                    rule,
                    rich_rule,
                    ipset,
                    intact: true,
                }),
            0..5,
        ),
        any_open(valid),
    )
        .prop_map(|(zones, found, open)| {
            FirewallState::Firewalld(FirewalldState {
                zones,
                found,
                open,
                foreign: Vec::new(),
            })
        });
    let ufw = (
        prop::bool::ANY,
        prop::bool::ANY,
        prop::collection::vec(
            (tagged.clone(), words).prop_map(|(rule, words)| UfwRule {
                rule,
                words,
                intact: true,
            }),
            0..5,
        ),
        any_open(valid),
    )
        .prop_map(|(active, drops, found, open)| {
            FirewallState::Ufw(UfwState {
                active,
                drops,
                found,
                open,
                foreign: Vec::new(),
            })
        });
    prop_oneof![nft, iptables, firewalld, ufw]
}

fn any_rules() -> impl Strategy<Value = Vec<FirewallRule>> {
    prop::collection::vec(
        (
            any_tagged(false),
            prop::collection::vec(any_tagged(false), 0..5),
        )
            .prop_map(|(r, more)| FirewallRule {
                host: "h".into(),
                spec: "s".into(),
                tag: r.tag,
                transport: r.transport,
                ports: r.ports,
                sources: more.into_iter().map(|m| m.source).collect(),
                purpose: String::new(),
            }),
        0..4,
    )
}

/// Whether every rule of `state` points at a chain or zone side it holds.
fn ids_hold(state: &FirewallState) -> bool {
    let count = match state {
        FirewallState::Nftables(s) => s.chains.len(),
        FirewallState::Iptables(s) => s.chains.len(),
        FirewallState::Firewalld(s) => s.zones.len(),
        FirewallState::Ufw(_) => return true,
    };
    state.tagged().iter().all(|(id, _)| (id.0 as usize) < count)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_state_makes_plan_firewall_panic(
        state in any_state(false),
        rules in any_rules(),
        remove_all in prop::bool::ANY,
    ) {
        match plan_firewall(&rules, &state, remove_all) {
            Ok(change) => {
                prop_assert!(ids_hold(&state));
                prop_assert_eq!(change.backend, state.backend());
                prop_assert_eq!(change.commands.is_empty(), change.add.is_empty() && change.remove.is_empty());
            }
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                if !ids_hold(&state) {
                    prop_assert!(e.problems.iter().all(|p| p.path.starts_with("state.")), "{}", e);
                }
            }
        }
    }

    #[test]
    fn no_pair_of_states_makes_plan_restore_panic(before in any_state(false), now in any_state(false)) {
        match plan_restore(&before, &now) {
            Ok(_) => prop_assert!(ids_hold(&before) && ids_hold(&now) && before.backend() == now.backend()),
            Err(e) => prop_assert!(!e.problems.is_empty()),
        }
    }

    #[test]
    fn states_survive_json(state in any_state(true)) {
        let text = serde_json::to_string(&state).unwrap();
        let back: FirewallState = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, state);
    }
}
