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

/// Issue 15: a firewalld zone bound to a source handles that source's
/// traffic before the interface's zone does, so portplan's rich rule in the
/// serving zone would never match. A plan whose source such a zone covers is
/// refused naming the zone; one it does not cover goes ahead.
#[test]
fn firewalld_refuses_sources_a_source_bound_zone_takes() {
    let zones = |sources: &str| {
        format!(
            "internal\n  target: default\n  interfaces: \n  sources: {sources}\n  services: ssh\n  ports: \n  rich rules: \n\
             public (default, active)\n  target: default\n  interfaces: eth0\n  sources: \n  ports: \n  rich rules: \n"
        )
    };
    let read = |sources: &str| {
        read_firewall(
            FirewallBackend::Firewalld,
            &FirewallOutput {
                main: zones(sources),
                extra: zones(sources),
                zone: Some("public".into()),
            },
        )
        .unwrap()
    };
    let rules = [rule_2881("observer.sql", &["198.18.2.10/32"])];
    let e = plan_firewall(&rules, &read("198.18.2.0/24"), false).unwrap_err();
    assert!(
        e.problems[0].path.starts_with("state.firewalld.foreign["),
        "{e}"
    );
    assert!(
        e.problems[0]
            .message
            .contains("firewalld zone internal is bound to source 198.18.2.0/24"),
        "{e}"
    );
    assert!(e.problems[0].message.contains("198.18.2.10/32"), "{e}");
    // A zone bound to other sources, or to an ipset, is no obstacle.
    for other in ["10.0.0.0/8", "ipset:office", ""] {
        let change = plan_firewall(&rules, &read(other), false).unwrap();
        assert!(!change.commands.is_empty(), "{other}");
    }
    // Removing portplan's rules is never refused.
    assert!(plan_firewall(&[], &read("198.18.2.0/24"), true).is_ok());
}

/// Issue 15: ufw takes the first rule that matches, and portplan's rules go
/// after the rules already there. An earlier foreign deny or reject covering
/// a planned source is a note naming it; a deny elsewhere is not; neither is
/// refused (it is not the same rule as portplan's, so ufw keeps both).
#[test]
fn ufw_notes_a_foreign_deny_that_shadows_a_planned_source() {
    let read = |added: &str| {
        read_firewall(
            FirewallBackend::Ufw,
            &FirewallOutput::new(
                "Status: active\nDefault: deny (incoming), allow (outgoing)\n",
                added,
            ),
        )
        .unwrap()
    };
    let rules = [rule_2881("observer.sql", &["198.18.2.10/32"])];
    for action in ["deny", "reject"] {
        let change = plan_firewall(
            &rules,
            &read(&format!("ufw {action} from 198.18.0.0/16\n")),
            false,
        )
        .unwrap();
        assert_eq!(change.notes.len(), 1, "{:?}", change.notes);
        assert!(
            change.notes[0].contains(&format!(
                "the ufw rule `ufw {action} from 198.18.0.0/16` comes before"
            )),
            "{:?}",
            change.notes
        );
        assert!(!change.commands.is_empty());
    }
    for added in [
        "ufw deny from 10.0.0.0/8\n",
        "ufw allow from 198.18.0.0/16\n",
        "ufw deny from 198.18.0.0/16 to any port 22 proto tcp\n",
    ] {
        let change = plan_firewall(&rules, &read(added), false).unwrap();
        assert!(change.notes.is_empty(), "{added}: {:?}", change.notes);
    }
}
