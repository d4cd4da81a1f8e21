//! Foreign rules are never changed: before adding, a rule portplan did not
//! write on the same source, ports and transport, whatever its action, is a
//! clear failure naming it, on every backend.

#![allow(clippy::unwrap_used)]

mod support;

use support::rule_2881;

use portplan_core::{FirewallBackend, FirewallOutput, FirewallState, plan_firewall, read_firewall};

fn refused(state: &FirewallState, backend: &str, action: &str) {
    let e = plan_firewall(
        &[rule_2881("observer.sql", &["198.18.2.10/32"])],
        state,
        false,
    )
    .unwrap_err();
    assert!(
        e.problems[0]
            .path
            .starts_with(&format!("state.{backend}.foreign[")),
        "{e}"
    );
    assert!(
        e.problems[0]
            .message
            .contains(&format!("did not write ({action})")),
        "{e}"
    );
    // Another source on the same port is not the same tuple.
    let change = plan_firewall(
        &[rule_2881("observer.sql", &["198.18.2.11/32"])],
        state,
        false,
    )
    .unwrap();
    assert!(!change.commands.is_empty());
    // Removing portplan's rules never touches the foreign one.
    let change = plan_firewall(&[], state, true).unwrap();
    assert!(change.commands.is_empty(), "{:?}", change.commands);
}

fn nft(verdict: &str) -> FirewallState {
    let json = format!(
        r#"{{"nftables":[
 {{"table":{{"family":"inet","name":"filter","handle":1}}}},
 {{"chain":{{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}}},
 {{"rule":{{"family":"inet","table":"filter","chain":"input","handle":4,"comment":"blocked host","expr":[
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"ip","field":"saddr"}}}},"right":"198.18.2.10"}}}},
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":2881}}}},
   {{"{verdict}":null}}]}}}}]}}"#
    );
    read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, "")).unwrap()
}

#[test]
fn nftables_refuses_a_foreign_rule_of_any_verdict() {
    for verdict in ["accept", "drop", "reject"] {
        refused(&nft(verdict), "nftables", verdict);
    }
}

#[test]
fn iptables_refuses_a_foreign_rule_of_any_target() {
    for target in ["ACCEPT", "DROP", "REJECT"] {
        let saved = format!(
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -j {target}\nCOMMIT\n"
        );
        let state =
            read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap();
        refused(&state, "iptables", target);
    }
}

#[test]
fn firewalld_refuses_a_foreign_rich_rule_of_any_action() {
    for action in ["accept", "drop", "reject"] {
        let zone = format!(
            "public (default, active)\n  target: default\n  interfaces: eth0\n  ports: \n  rich rules: \n\
             \trule family=\"ipv4\" source address=\"198.18.2.10\" port port=\"2881\" protocol=\"tcp\" {action}\n"
        );
        let state = read_firewall(
            FirewallBackend::Firewalld,
            &FirewallOutput {
                main: zone.clone(),
                extra: zone,
                zone: Some("public".into()),
            },
        )
        .unwrap();
        refused(&state, "firewalld", action);
    }
}
