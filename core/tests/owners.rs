//! One owner per netfilter table: portplan never writes native nftables rules
//! into iptables-nft's tables, and refuses (naming the chain) when such a
//! chain drops what it must open.

#![allow(clippy::unwrap_used)]

mod support;

use support::{nft_items, rule_2881};

use portplan_core::{FirewallState, plan_firewall};

const IPTABLES_NFT_DROP: &str = r#"{"table":{"family":"ip","name":"filter","handle":1}},
 {"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#;
const NATIVE_DROP: &str = r#"{"table":{"family":"inet","name":"filter","handle":2}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#;

#[test]
fn iptables_nft_chains_are_read_as_owned_by_iptables_nft() {
    let FirewallState::Nftables(nft) = nft_items(&[IPTABLES_NFT_DROP, NATIVE_DROP]) else {
        panic!("nftables")
    };
    let owners: Vec<Option<&str>> = nft.chains.iter().map(|c| c.managed_by.as_deref()).collect();
    assert_eq!(owners, [Some("iptables-nft"), None]);
}

#[test]
fn an_iptables_nft_drop_alone_is_refused_not_written_into() {
    let e = plan_firewall(
        &[rule_2881("observer.sql", &["198.18.2.10/32"])],
        &nft_items(&[IPTABLES_NFT_DROP]),
        false,
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "state.nftables");
    assert_eq!(e.problems[0].value, "iptables-nft's ip filter INPUT");
    assert!(e.problems[0].message.contains("firewall: iptables"), "{e}");
}

#[test]
fn a_docker_host_with_a_native_table_beside_iptables_nft_is_refused_too() {
    // The native accept would not get a packet past iptables-nft's drop.
    let e = plan_firewall(
        &[rule_2881("observer.sql", &["198.18.2.10/32"])],
        &nft_items(&[NATIVE_DROP, IPTABLES_NFT_DROP]),
        false,
    )
    .unwrap_err();
    assert!(e.problems[0].message.contains("another tool owns"), "{e}");
}

#[test]
fn a_native_table_alone_gets_the_rules_and_removal_is_always_allowed() {
    let change = plan_firewall(
        &[rule_2881("observer.sql", &["198.18.2.10/32"])],
        &nft_items(&[NATIVE_DROP]),
        false,
    )
    .unwrap();
    let script = change.commands[0].stdin.as_deref().unwrap();
    assert!(
        script.contains("insert rule inet filter input")
            || script.contains("add rule inet filter input"),
        "{script}"
    );
    assert!(!script.contains("ip filter INPUT"), "{script}");
    // Taking portplan's rules out never needs the other tool's chain.
    assert!(plan_firewall(&[], &nft_items(&[IPTABLES_NFT_DROP]), true).is_ok());
}
