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
    let read = |added: &str| ufw("active", added);
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

/// The nftables state of an input chain (policy drop) holding `rules`, each
/// a rule's `expr` items, in order, at handles 4, 5, ...
fn nft_chain(rules: &[&str]) -> FirewallState {
    let mut items = vec![
        r#"{"table":{"family":"inet","name":"filter","handle":1}}"#.to_string(),
        r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#.to_string(),
    ];
    for (i, expr) in rules.iter().enumerate() {
        items.push(format!(
            r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":{},"expr":[{expr}]}}}}"#,
            i + 4
        ));
    }
    let json = format!(r#"{{"nftables":[{}]}}"#, items.join(","));
    read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, "")).unwrap()
}

const SADDR_16: &str = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"198.18.0.0","len":16}}}}"#;
const DPORT_2881: &str =
    r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":2881}}"#;
const IIFNAME: &str = r#"{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth1"}}"#;
const CT_NEW: &str = r#"{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"new"}}"#;
const SADDR_OTHER: &str = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.0.0.0","len":8}}}}"#;
const SADDR_ONE: &str = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.99"}}"#;

/// The notes `plan_firewall` gives for portplan's 2881 rule from
/// 198.18.2.10 (or, with `from`, those sources) on `state`; the run is never
/// refused for a deny that is not on the same tuple.
fn notes(state: &FirewallState, from: &[&str]) -> Vec<String> {
    let from = if from.is_empty() {
        &["198.18.2.10/32"][..]
    } else {
        from
    };
    let change = plan_firewall(&[rule_2881("observer.sql", from)], state, false).unwrap();
    assert!(!change.commands.is_empty());
    change.notes
}

/// An earlier, broader deny on nftables and iptables: portplan's accept goes
/// before the catch-all, after it, and never sees that traffic. Like ufw's
/// (issue 15), it is a note naming the rule, read narrow: only a deny on
/// nothing but family, protocol, ports and source, before the catch-all
/// (or in another input chain), that covers a planned source and port.
#[test]
fn nftables_notes_an_earlier_deny_that_covers_a_planned_rule() {
    for verdict in ["drop", "reject"] {
        for expr in [
            format!(r#"{SADDR_16},{{"{verdict}":null}}"#),
            format!(r#"{SADDR_16},{DPORT_2881},{{"{verdict}":null}}"#),
            format!(r#"{DPORT_2881},{{"{verdict}":null}}"#),
        ] {
            let state = nft_chain(&[&expr]);
            let notes = notes(&state, &[]);
            assert_eq!(notes.len(), 1, "{expr}: {notes:?}");
            assert!(
                notes[0].starts_with("the nftables rule `inet filter input handle 4: ")
                    && notes[0].contains(&format!(
                        "comes before portplan's rules and {verdict}s 198.18.2.10/32 on tcp 2881 \
                         (portplan:observer.sql)"
                    )),
                "{notes:?}"
            );
        }
    }
    // Not ahead, or not covering: no note.
    let drop = r#"{"drop":null}"#;
    for rules in [
        // Another source, a narrower one, another port.
        vec![format!("{SADDR_OTHER},{drop}")],
        vec![format!("{SADDR_ONE},{drop}")],
        vec![format!(
            r#"{SADDR_16},{{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":22}}}},{drop}"#
        )],
        // An interface, a state: it may not be what the planned traffic meets.
        vec![format!("{IIFNAME},{SADDR_16},{drop}")],
        vec![format!("{CT_NEW},{SADDR_16},{drop}")],
        // After the catch-all: never asked.
        vec![drop.to_string(), format!("{SADDR_16},{drop}")],
        // An accept.
        vec![format!(r#"{SADDR_16},{{"accept":null}}"#)],
    ] {
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        assert_eq!(
            notes(&nft_chain(&rules), &[]),
            Vec::<String>::new(),
            "{rules:?}"
        );
    }
    // Partly covered: only the covered sources' rules are named.
    let notes = notes(
        &nft_chain(&[&format!("{SADDR_16},{drop}")]),
        &["198.18.2.10/32", "10.1.1.1/32"],
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("drops 198.18.2.10/32 on tcp 2881"),
        "{notes:?}"
    );
}

#[test]
fn iptables_notes_an_earlier_deny_that_covers_a_planned_rule() {
    let read = |rules: &str| {
        let saved = format!("*filter\n:INPUT DROP [0:0]\n{rules}COMMIT\n");
        read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap()
    };
    for target in ["DROP", "REJECT"] {
        for rule in [
            format!("-A INPUT -s 198.18.0.0/16 -j {target}\n"),
            format!("-A INPUT -s 198.18.0.0/16 -p tcp -j {target}\n"),
            format!("-A INPUT -p tcp -m tcp --dport 2881 -j {target}\n"),
            format!("-A INPUT -s 198.18.0.0/16 -p tcp -m tcp --dport 2000:3000 -j {target}\n"),
        ] {
            let notes = notes(&read(&rule), &[]);
            assert_eq!(notes.len(), 1, "{rule}: {notes:?}");
            let verb = target.to_ascii_lowercase();
            assert!(
                notes[0].starts_with(&format!("the iptables rule `{}`", rule.trim()))
                    && notes[0].contains(&format!(
                        "comes before portplan's rules and {verb}s 198.18.2.10/32 on tcp 2881"
                    )),
                "{notes:?}"
            );
        }
    }
    for rules in [
        "-A INPUT -s 10.0.0.0/8 -j DROP\n",
        "-A INPUT -s 198.18.2.99/32 -j DROP\n",
        "-A INPUT -s 198.18.0.0/16 -p udp -j DROP\n",
        "-A INPUT -s 198.18.0.0/16 -p tcp -m tcp --dport 22 -j DROP\n",
        "-A INPUT -i eth1 -s 198.18.0.0/16 -j DROP\n",
        "-A INPUT -s 198.18.0.0/16 -m conntrack --ctstate NEW -j DROP\n",
        "-A INPUT -j DROP\n-A INPUT -s 198.18.0.0/16 -j DROP\n",
        "-A INPUT -s 198.18.0.0/16 -j ACCEPT\n",
    ] {
        assert_eq!(notes(&read(rules), &[]), Vec::<String>::new(), "{rules}");
    }
}

/// Read narrow (a review's findings): what may decide the traffic before a
/// deny leaves it unjudged, as does a deny with a match not read, one that
/// admits nothing yet (an inactive ufw), and a family no chain drops. One
/// rule read as several entries is one note.
#[test]
fn an_earlier_deny_is_named_only_where_it_surely_decides() {
    let drop = r#"{"drop":null}"#;
    let deny = format!("{SADDR_16},{drop}");
    let accept_24 = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"198.18.2.0","len":24}}}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":2881}},{"accept":null}"#;
    let ssh = r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}"#;
    let established = r#"{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}"#;
    // An accept of another port, or of established traffic only, takes
    // none of it: still named.
    assert_eq!(notes(&nft_chain(&[established, ssh, &deny]), &[]).len(), 1);
    for before in [
        // An accept that admits some of it, portplan's own included.
        accept_24.to_string(),
        // A jump to a chain that may accept, a verdict map, a queue.
        r#"{"jump":{"target":"allow"}}"#.to_string(),
        r#"{"vmap":{"key":{"payload":{"protocol":"tcp","field":"dport"}},"data":{"set":[[2881,{"accept":null}]]}}}"#.to_string(),
        r#"{"queue":{"num":0}}"#.to_string(),
    ] {
        let state = nft_chain(&[&before, &deny]);
        assert_eq!(notes(&state, &[]), Vec::<String>::new(), "{before}");
    }
    let mut portplan = nft_chain(&[]);
    if let FirewallState::Nftables(s) = &mut portplan {
        s.foreign.clear();
    }
    let tagged = r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":4,"comment":"portplan:observer.sql","expr":[
        {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.10"}},
        {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":2881}},{"accept":null}]}}"#;
    let deny_after = format!(
        r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":5,"expr":[{deny}]}}}}"#
    );
    let chain = r#"{"table":{"family":"inet","name":"filter","handle":1}},{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#;
    let state = support::nft_items(&[chain, tagged, &deny_after]);
    assert_eq!(
        notes_kept(&state),
        Vec::<String>::new(),
        "portplan's rule came first"
    );

    // A family no chain drops: only the note that ports are open already.
    let accepting = support::nft_items(&[
        r#"{"table":{"family":"inet","name":"filter","handle":1}}"#,
        r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#,
        &format!(
            r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":4,"expr":[{deny}]}}}}"#
        ),
    ]);
    let notes_open = notes_kept(&accepting);
    assert_eq!(notes_open.len(), 1, "{notes_open:?}");
    assert!(
        notes_open[0].starts_with("no input chain drops IPv4"),
        "{notes_open:?}"
    );

    // One rule on a set of sources, read per source and transport: one note.
    let set = r#"{"set":{"family":"inet","name":"bl","table":"filter","type":"ipv4_addr","handle":2,"elem":["198.18.2.10","198.18.2.11","198.18.2.12"]}}"#;
    let on_set = r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":4,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@bl"}},{"drop":null}]}}"#;
    let state = support::nft_items(&[chain, set, on_set]);
    let three = notes(
        &state,
        &["198.18.2.10/32", "198.18.2.11/32", "198.18.2.12/32"],
    );
    assert_eq!(three.len(), 1, "{three:?}");
    assert!(
        three[0].contains("(portplan:observer.sql, and 2 more)"),
        "{three:?}"
    );
}

/// A ufw of `status` (`active`, `inactive`) holding the rules `added` lists.
fn ufw(status: &str, added: &str) -> FirewallState {
    read_firewall(
        FirewallBackend::Ufw,
        &FirewallOutput::new(
            format!("Status: {status}\nDefault: deny (incoming), allow (outgoing)\n"),
            added,
        ),
    )
    .unwrap()
}

/// `plan_firewall`'s notes for portplan's 2881 rule from 198.18.2.10 on
/// `state`, whether or not it adds anything.
fn notes_kept(state: &FirewallState) -> Vec<String> {
    plan_firewall(
        &[rule_2881("observer.sql", &["198.18.2.10/32"])],
        state,
        false,
    )
    .unwrap()
    .notes
}

#[test]
fn iptables_and_ufw_name_an_earlier_deny_only_where_it_surely_decides() {
    let read = |rules: &str| {
        let saved = format!("*filter\n:INPUT DROP [0:0]\n{rules}COMMIT\n");
        read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap()
    };
    let deny = "-A INPUT -s 198.18.0.0/16 -j DROP\n";
    let ssh = "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n";
    assert_eq!(notes(&read(&format!("{ssh}{deny}")), &[]).len(), 1);
    for before in [
        "-A INPUT -s 198.18.2.0/24 -p tcp -m tcp --dport 2881 -j ACCEPT\n",
        "-A INPUT -j cali-INPUT\n",
        "-A INPUT -p tcp -j KUBE-NODEPORTS\n",
        "-A INPUT -s 198.18.0.0/16 -j RETURN\n",
        "-A INPUT -j NFQUEUE --queue-num 0\n",
        "-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -j ACCEPT\n",
    ] {
        assert_eq!(
            notes_kept(&read(&format!("{before}{deny}"))),
            Vec::<String>::new(),
            "{before}"
        );
    }

    assert_eq!(
        notes_kept(&ufw("active", "ufw deny from 198.18.0.0/16\n")).len(),
        1
    );
    for (status, added) in [
        ("inactive", "ufw deny from 198.18.0.0/16\n"),
        (
            "active",
            "ufw allow from 198.18.2.10 to any port 2881 proto tcp comment 'portplan:observer.sql'\nufw deny from 198.18.0.0/16\n",
        ),
        (
            "active",
            "ufw allow from 198.18.2.0/24\nufw deny from 198.18.0.0/16\n",
        ),
        ("active", "ufw deny out from 198.18.0.0/16\n"),
        ("active", "ufw deny in on eth1 from 198.18.0.0/16\n"),
    ] {
        let notes = notes_kept(&ufw(status, added));
        assert!(
            !notes
                .iter()
                .any(|n| n.contains("comes before portplan's rules")),
            "{status} {added}: {notes:?}"
        );
    }
}

/// The second review's findings: what an earlier accept takes is left out
/// of where a deny is ahead, not split out of the deny itself, so a rule on
/// the deny's own tuple is still refused (ufw would otherwise turn the deny
/// into portplan's allow); a ufw `limit` or application allow may admit
/// too; a match iptables-nft hides may admit anything; and the note quotes
/// the entry that covers the planned rule.
#[test]
fn an_earlier_accept_narrows_where_a_deny_is_ahead_not_the_deny() {
    let ufw = |added: &str| ufw("active", added);
    let deny = "ufw allow 8080/tcp\nufw deny from 10.0.0.0/8 to any port 8000:8100 proto tcp\n";
    let mut on_tuple = rule_2881("web", &["10.0.0.0/8"]);
    on_tuple.ports = portplan_core::PortRange {
        first: 8000,
        last: 8100,
    };
    let refused = plan_firewall(&[on_tuple], &ufw(deny), false).unwrap_err();
    assert!(
        refused.problems[0].message.contains("did not write (deny)"),
        "{refused}"
    );
    let mut on_8080 = rule_2881("web", &["10.0.0.0/8"]);
    on_8080.ports = portplan_core::PortRange::single(8080);
    assert!(plan_firewall(&[on_8080], &ufw(deny), false).is_ok());

    for before in [
        "ufw limit 2881/tcp\n",
        "ufw allow OpenSSH\n",
        "ufw limit OpenSSH\n",
        "ufw allow 2000,2881/tcp\n",
        "ufw allow from 198.18.2.0/24\n",
    ] {
        let state = ufw(&format!("{before}ufw deny from 198.18.0.0/16\n"));
        let notes = notes_kept(&state);
        assert!(
            !notes
                .iter()
                .any(|n| n.contains("comes before portplan's rules")),
            "{before}: {notes:?}"
        );
    }

    // One ufw rule read for both families is one note, whatever the plan's
    // families.
    let mut v6 = rule_2881("observer.sql", &["2001:db8::10/128"]);
    v6.tag = "portplan:observer.sql".into();
    let both = [rule_2881("observer.sql", &["198.18.2.10/32"]), v6];
    let change = plan_firewall(&both, &ufw("ufw deny 2881/tcp\n"), false).unwrap();
    let named: Vec<&String> = (change.notes.iter())
        .filter(|n| n.contains("comes before portplan's rules"))
        .collect();
    assert_eq!(named.len(), 1, "{:?}", change.notes);

    let hidden = r#"{"xt":{"type":"match","name":"set"}},{"accept":null}"#;
    let deny = format!("{SADDR_16},{{\"drop\":null}}");
    assert_eq!(
        notes(&nft_chain(&[hidden, &deny]), &[]),
        Vec::<String>::new()
    );

    let chain = r#"{"table":{"family":"inet","name":"filter","handle":1}},{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#;
    let set = r#"{"set":{"family":"inet","name":"bl","table":"filter","type":"ipv4_addr","handle":2,"elem":["198.18.2.10","198.18.2.11","198.18.2.12"]}}"#;
    let on_set = r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":4,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@bl"}},{"drop":null}]}}"#;
    let one = notes(
        &support::nft_items(&[chain, set, on_set]),
        &["198.18.2.12/32"],
    );
    assert_eq!(one.len(), 1, "{one:?}");
    assert!(one[0].contains("saddr 198.18.2.12/32 drop`"), "{one:?}");
}

/// Zone public serving the host with `rich` as its rich rules, as the
/// binary's D-Bus dump gives it, with the runtime's `policies` (as
/// `--list-all-policies` prints them; `None`: not known) and no direct rule.
fn firewalld(rich: &[&str], policies: Option<&str>) -> FirewallState {
    firewalld_dump(rich, policies, &[], &[])
}

/// [`firewalld`] with `direct` rules and `ipsets` (name, entries).
fn firewalld_dump(
    rich: &[&str],
    policies: Option<&str>,
    direct: &[&str],
    ipsets: &[(&str, &[&str])],
) -> FirewallState {
    let ipsets: Vec<serde_json::Value> = (ipsets.iter())
        .map(|(name, entries)| serde_json::json!({"name": name, "entries": entries}))
        .collect();
    let dump = |policies: Option<&str>| {
        let mut dump = serde_json::json!({
            "default-zone": "public",
            "zones": [{"name": "public", "target": "default", "sources": [], "ports": [],
                       "rich-rules": rich}],
            "ipsets": ipsets,
        });
        if let Some(policies) = policies {
            dump["policies"] = policies.into();
            dump["direct"] = direct.into();
        }
        dump.to_string()
    };
    let output = FirewallOutput {
        main: dump(policies),
        extra: dump(None),
        zone: Some("public".into()),
    };
    read_firewall(FirewallBackend::Firewalld, &output).unwrap()
}

/// [`firewalld_dump`]'s state from the text the binary reads through
/// `firewall-cmd` instead: `--list-all-zones`, `--info-ipset`s, then, where
/// the dump has them, `--list-all-policies` and the direct rules after
/// core's `FIREWALLD_DIRECT_RULES` line.
fn firewalld_text(
    rich: &[&str],
    policies: Option<&str>,
    direct: &[&str],
    ipsets: &[(&str, &[&str])],
) -> FirewallState {
    let rich: String = rich.iter().map(|r| format!("\t{r}\n")).collect();
    let ipsets: String = (ipsets.iter())
        .map(|(name, entries)| {
            let entries = entries.join(" ");
            format!("{name}\n  type: hash:net\n  options: family=inet\n  entries: {entries}\n\n")
        })
        .collect();
    // The dump's permanent side has no policies but is a dump, so what may
    // name an ipset is known: the section with nothing in it.
    let text = |policies: Option<&str>, direct: &[&str]| {
        let zones = format!(
            "public (default, active)\n  target: default\n  icmp-block-inversion: no\n  \
             interfaces: \n  sources: \n  services: \n  ports: \n  rich rules: \n{rich}\n{ipsets}"
        );
        match policies {
            Some(policies) => {
                let direct: String = direct.iter().map(|d| format!("\t{d}\n")).collect();
                let marker = portplan_core::shell::FIREWALLD_DIRECT_RULES;
                format!("{zones}{policies}\n{marker}\n{direct}")
            }
            None => zones,
        }
    };
    let output = FirewallOutput {
        main: text(policies, direct),
        extra: text(Some(""), &[]),
        zone: Some("public".into()),
    };
    read_firewall(FirewallBackend::Firewalld, &output).unwrap()
}

/// firewalld's own policy, as 1.3 lists it: ICMPv6 only.
const HOST_IPV6: &str = "allow-host-ipv6 (active)\n  priority: -15000\n  target: CONTINUE\n  ingress-zones: ANY\n  egress-zones: HOST\n  services: \n  ports: \n  protocols: \n  masquerade: no\n  forward-ports: \n  source-ports: \n  icmp-blocks: \n  rich rules: \n\trule family=\"ipv6\" icmp-type name=\"neighbour-advertisement\" accept\n";

const DROP_16: &str = r#"rule family="ipv4" source address="198.18.0.0/16" drop"#;

/// A policy to the host with `priority`, `settings` (`key: value` lines)
/// and `rich` rules.
fn policy(priority: i32, settings: &str, rich: &str) -> String {
    format!(
        "{HOST_IPV6}mine (active)\n  priority: {priority}\n  target: CONTINUE\n  ingress-zones: ANY\n  egress-zones: HOST\n{settings}  rich rules: \n{rich}"
    )
}

/// firewalld.richlanguage(5): a zone's drop and reject rich rules of
/// priority 0 are walked before its accepts (portplan's among them), those
/// of a negative priority before both. Such a deny on a planned source is a
/// note naming it, as on the other tools; read narrow: not one asked after
/// the accepts, with another condition, limited, behind an accept of an
/// equal or lower priority or of a policy asked before the zone, or where
/// the policies are not known.
#[test]
fn firewalld_notes_an_earlier_rich_deny_only_where_it_surely_decides() {
    let named = [
        DROP_16,
        r#"rule priority="-3" family="ipv4" source address="198.18.2.0/24" drop"#,
        r#"rule family="ipv4" port port="2881" protocol="tcp" reject"#,
        r#"rule family="ipv4" source address="198.18.2.10" log prefix="blocked" level="warning" limit value="1/m" reject type="icmp-host-prohibited""#,
        r#"rule source address="198.18.2.0/24" drop"#,
    ];
    for deny in named {
        for policies in [HOST_IPV6.to_string(), policy(5, "  ports: 2881/tcp\n", "")] {
            let notes = notes(&firewalld(&[deny], Some(&policies)), &[]);
            assert_eq!(notes.len(), 1, "{deny}: {notes:?}");
            assert!(
                notes[0].contains(&format!(
                    "the firewalld rule `{deny}` comes before portplan's rules and"
                )) && notes[0].contains("198.18.2.10/32 on tcp 2881"),
                "{notes:?}"
            );
        }
    }
    // An accept of another port before it leaves it ahead on this one.
    let other_port = r#"rule priority="-5" family="ipv4" source address="198.18.0.0/16" port port="22" protocol="tcp" accept"#;
    assert_eq!(
        notes(&firewalld(&[other_port, DROP_16], Some(HOST_IPV6)), &[]).len(),
        1
    );

    let no_note = |rich: &[&str], policies: Option<&str>| {
        let notes = notes(&firewalld(rich, policies), &[]);
        assert!(notes.is_empty(), "{rich:?} {policies:?}: {notes:?}");
    };
    // The policies not known (a dump without them, text without their blocks).
    no_note(&[DROP_16], None);
    // (One of a positive priority is asked after the accepts: refused, by
    // `firewalld_refuses_an_accept_that_would_override_a_later_deny`.)
    for deny in [
        r#"rule priority="x" family="ipv4" source address="198.18.0.0/16" drop"#,
        r#"rule family="ipv4" source address="198.18.0.0/16" destination address="198.18.9.9" drop"#,
        r#"rule family="ipv4" source not address="10.0.0.0/8" drop"#,
        r#"rule family="ipv4" source address="198.18.0.0/16" drop limit value="1/s""#,
        r#"rule family="ipv4" source address="198.18.0.0/16" service name="ssh" drop"#,
        r#"rule family="ipv4" source address="198.18.0.0/16" port port="2882" protocol="tcp" drop"#,
        r#"rule family="ipv4" source address="198.18.2.11" drop"#,
        r#"rule family="ipv4" source address="198.18.0.0/16" port port="2881" protocol="udp" drop"#,
        r#"rule family="ipv6" drop"#,
    ] {
        no_note(&[deny], Some(HOST_IPV6));
    }
    // An accept asked first: of a lower priority, or of the same negative one
    // (their order is undefined), on the port, from the source or anywhere.
    for accept in [
        r#"rule priority="-5" family="ipv4" source address="198.18.2.0/24" port port="2800-2900" protocol="tcp" accept"#,
        r#"rule priority="-1" port port="2881" protocol="tcp" accept"#,
        r#"rule priority="-1" family="ipv4" source address="198.18.0.0/16" accept"#,
    ] {
        no_note(&[accept, DROP_16], Some(HOST_IPV6));
    }
    let same = r#"rule priority="-2" family="ipv4" port port="2881" protocol="tcp" accept"#;
    let drop_2 = r#"rule priority="-2" family="ipv4" source address="198.18.0.0/16" drop"#;
    no_note(&[drop_2, same], Some(HOST_IPV6));
    // An accept of priority 0 is walked after the deny: named.
    let zero = r#"rule family="ipv4" source address="198.18.2.0/24" port port="2881" protocol="tcp" accept"#;
    let notes_zero = notes(&firewalld(&[DROP_16, zero], Some(HOST_IPV6)), &[]);
    assert_eq!(notes_zero.len(), 1, "{notes_zero:?}");
    // A policy to the host asked before the zones that may accept it.
    for (settings, rich) in [
        ("  ports: 2881/tcp\n", ""),
        ("  services: ssh\n", ""),
        ("  protocols: tcp\n", ""),
        ("  target: ACCEPT\n", ""),
        (
            "",
            "\trule family=\"ipv4\" source address=\"198.18.2.0/24\" accept\n",
        ),
        (
            "",
            "\trule family=\"ipv4\" source address=\"198.18.2.0/24 accept\n",
        ),
    ] {
        no_note(&[DROP_16], Some(&policy(-10, settings, rich)));
    }
}

/// Read wide, also: an accept asked first that names a service (its ports
/// are not read) or an operator's ipset (its members are not read); a
/// policy that forwards a port (`firewall-cmd` lists each on a line of its
/// own); a direct rule (firewalld's iptables backend asks them first); and
/// the policies not known, as from `firewall-cmd` text. A deny on an empty
/// ipset of portplan's denies nothing; one without a source that is not
/// ahead is not a rule on a planned tuple.
#[test]
fn firewalld_reads_wide_what_may_accept_before_a_deny() {
    let no_note = |state: FirewallState| {
        let notes = notes(&state, &[]);
        assert!(notes.is_empty(), "{notes:?}");
    };
    for accept in [
        r#"rule priority="-1" family="ipv4" source address="198.18.2.0/24" service name="app" accept"#,
        r#"rule priority="-1" family="ipv4" source ipset="office" port port="2881" protocol="tcp" accept"#,
    ] {
        no_note(firewalld(&[accept, DROP_16], Some(HOST_IPV6)));
    }
    let forwards = format!(
        "{HOST_IPV6}mine (active)\n  priority: -1\n  target: CONTINUE\n  ingress-zones: ANY\n  \
         egress-zones: HOST\n  forward-ports: \n\tport=80:proto=tcp:toport=2881:toaddr=\n  rich rules: \n"
    );
    no_note(firewalld(&[DROP_16], Some(&forwards)));
    no_note(firewalld_dump(
        &[DROP_16],
        Some(HOST_IPV6),
        &["ipv4 filter INPUT 0 -p tcp --dport 2881 -j ACCEPT"],
        &[],
    ));
    let text = format!(
        "public (default, active)\n  target: default\n  ports: \n  rich rules: \n\t{DROP_16}\n{HOST_IPV6}"
    );
    let output = FirewallOutput {
        main: text.clone(),
        extra: text,
        zone: Some("public".into()),
    };
    no_note(read_firewall(FirewallBackend::Firewalld, &output).unwrap());
    let on_ipset = r#"rule family="ipv4" source ipset="portplan-empty" drop"#;
    no_note(firewalld_dump(
        &[on_ipset],
        Some(HOST_IPV6),
        &[],
        &[("portplan-empty", &[])],
    ));
    // On a rule for everyone's tuple, ahead: refused as on the other tools,
    // naming it.
    let everyone = [rule_2881("observer.sql", &["0.0.0.0/0"])];
    let ahead = r#"rule family="ipv4" port port="2881" protocol="tcp" drop"#;
    let e = plan_firewall(&everyone, &firewalld(&[ahead], Some(HOST_IPV6)), false).unwrap_err();
    assert!(
        e.problems[0].message.contains("did not write (drop)"),
        "{e}"
    );
}

/// A drop or reject rich rule of a positive priority is asked after the
/// zone's allow chain (firewalld.richlanguage(5)), where portplan's accept
/// goes: adding it would turn the deny into an allow for its traffic, so a
/// plan whose traffic it may take is refused naming it (an adversarial
/// review: only a deny on the exact tuple was). Read wide: an operator's
/// ipset, `NOT`, a service, a limit or a destination narrow nothing; either
/// side counts. Not refused: the zone's catch-all in effect (every port from
/// everywhere), another source, port or family, an ICMP deny, one asked
/// before the accepts (a note, above), and a rule already in place.
#[test]
fn firewalld_refuses_an_accept_that_would_override_a_later_deny() {
    let plan = [rule_2881("observer.sql", &["198.18.2.10/32"])];
    let refused = |state: &FirewallState, deny: &str| {
        let e = plan_firewall(&plan, state, false).unwrap_err();
        assert_eq!(e.problems.len(), 1, "{deny}: {e}");
        let problem = &e.problems[0];
        assert!(problem.path.starts_with("state.firewalld.foreign["), "{e}");
        assert_eq!(problem.value, deny);
        assert!(
            problem
                .message
                .contains("so firewalld asks it after the zone's allow rules")
                && problem
                    .message
                    .contains("198.18.2.10/32 on tcp 2881 for portplan:observer.sql"),
            "{e}"
        );
    };
    let later = [
        r#"rule priority="1" family="ipv4" source address="198.18.0.0/16" drop"#,
        r#"rule priority="5" family="ipv4" port port="2881" protocol="tcp" reject"#,
        r#"rule priority="5" port port="2000-3000" protocol="tcp" drop"#,
        r#"rule priority="10" source ipset="blocklist" drop"#,
        r#"rule priority="10" family="ipv4" source not address="10.0.0.0/8" drop"#,
        r#"rule priority="3" family="ipv4" source address="198.18.2.10" service name="ssh" drop"#,
        r#"rule priority="2" family="ipv4" source address="198.18.2.0/24" port port="2800-2900" protocol="tcp" drop limit value="1/s""#,
        r#"rule priority="2" family="ipv4" source address="198.18.2.0/24" destination address="198.18.9.9" reject"#,
        r#"rule priority="7" family="ipv4" source ipset="portplan-mine" drop"#,
        // A protocol by number or alias (firewalld prints it as given).
        r#"rule priority="5" family="ipv4" source address="198.18.2.0/24" protocol value="6" drop"#,
        r#"rule priority="5" family="ipv4" source address="198.18.2.0/24" protocol value="TCP" drop"#,
        // Not the catch-all: a destination or a source port picks traffic.
        r#"rule priority="10" family="ipv4" destination address="198.18.9.9" drop"#,
        r#"rule priority="10" source-port port="53" protocol="tcp" drop"#,
        r#"rule priority="10" family="ipv4" source mac="00:11:22:33:44:55" drop"#,
        // Everything outside 10.0.0.0/8 is 198.18.2.10 too.
        r#"rule priority="10" family="ipv4" source NOT address="10.0.0.0/8" drop"#,
        r#"rule priority="10" source NOT ipset="trusted" drop"#,
    ];
    let ours = [("portplan-mine", &["198.18.2.8/29"][..])];
    for deny in later {
        refused(&firewalld_dump(&[deny], Some(HOST_IPV6), &[], &ours), deny);
        // The same from a dump without the policies, where nothing is
        // ahead, and from firewall-cmd's text.
        refused(&firewalld_dump(&[deny], None, &[], &ours), deny);
        let text = format!(
            "public (default, active)\n  target: default\n  ports: \n  rich rules: \n\t{deny}\n\
             portplan-mine\n  type: hash:net\n  entries: 198.18.2.8/29\n"
        );
        let output = FirewallOutput {
            main: text.clone(),
            extra: text,
            zone: Some("public".into()),
        };
        refused(
            &read_firewall(FirewallBackend::Firewalld, &output).unwrap(),
            deny,
        );
    }
    // On the permanent side only: the runtime after the next reload.
    let zone = |rich: &[&str]| {
        serde_json::json!({"default-zone": "public", "ipsets": [],
            "zones": [{"name": "public", "target": "default", "sources": [], "ports": [],
                       "rich-rules": rich}]})
        .to_string()
    };
    let output = FirewallOutput {
        main: zone(&[]),
        extra: zone(&[later[0]]),
        zone: Some("public".into()),
    };
    refused(
        &read_firewall(FirewallBackend::Firewalld, &output).unwrap(),
        later[0],
    );

    // A policy to the host of a positive priority is asked after every
    // zone's rules (firewall-cmd(1)), whatever its rules' own priority.
    let dropping = r#"rule family="ipv4" source address="198.18.2.0/24" drop"#;
    let rich = format!("\t{dropping}\n");
    let e = plan_firewall(&plan, &firewalld(&[], Some(&policy(10, "", &rich))), false).unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].value, format!("policy mine: {dropping}"));
    assert!(
        e.problems[0]
            .message
            .contains("or its policy's to the host"),
        "{e}"
    );
    // Only in the permanent configuration: the runtime's after a reload.
    let side = |policies: &str| {
        serde_json::json!({"default-zone": "public", "ipsets": [], "policies": policies,
            "zones": [{"name": "public", "target": "default", "sources": [], "ports": [],
                       "rich-rules": []}]})
        .to_string()
    };
    let output = FirewallOutput {
        main: side(HOST_IPV6),
        extra: side(&policy(10, "", &rich).replace(" (active)", "")),
        zone: Some("public".into()),
    };
    let state = read_firewall(FirewallBackend::Firewalld, &output).unwrap();
    let e = plan_firewall(&plan, &state, false).unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].value, format!("policy mine: {dropping}"));

    let added = |state: &FirewallState| {
        let change = plan_firewall(&plan, state, false).unwrap();
        assert!(!change.commands.is_empty());
    };
    // Not one asked before the zones (a note instead), from another zone,
    // to another zone, or the policy's catch-all.
    let from = |ingress: &str, egress: &str| {
        policy(10, "", &rich).replace(
            "ingress-zones: ANY\n  egress-zones: HOST\n  rich",
            &format!("ingress-zones: {ingress}\n  egress-zones: {egress}\n  rich"),
        )
    };
    // Asked before the zone, it stays a deny, and a note names it (a
    // review: a policy's deny was never named); not behind an accept of a
    // policy asked first, nor where a direct rule may accept first.
    let early = firewalld(&[], Some(&policy(-10, "", &rich)));
    let notes = notes(&early, &[]);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(&format!(
            "the firewalld rule `policy mine: {dropping}` comes before portplan's rules"
        )) && notes[0].contains("a policy's to the host of a negative priority"),
        "{notes:?}"
    );
    let accepted =
        format!("\trule family=\"ipv4\" port port=\"2881\" protocol=\"tcp\" accept\n{rich}");
    let direct = ["ipv4 filter INPUT 0 -j ACCEPT"];
    for state in [
        firewalld(&[], Some(&policy(-10, "", &accepted))),
        firewalld_dump(&[], Some(&policy(-10, "", &rich)), &direct, &[]),
        firewalld(
            &[],
            Some(&policy(
                -10,
                "",
                &rich.replace("drop", "drop limit value=\"1/s\""),
            )),
        ),
    ] {
        assert_eq!(notes_kept(&state), Vec::<String>::new());
    }
    for policies in [
        from("internal", "HOST"),
        from("ANY", "internal"),
        from("public", "HOST"),
        policy(10, "  target: DROP\n", "\trule priority=\"1\" reject\n"),
    ] {
        let state = firewalld(&[], Some(&policies));
        if policies.contains("ingress-zones: public") {
            assert!(plan_firewall(&plan, &state, false).is_err(), "{policies}");
        } else {
            added(&state);
        }
    }
    for other in [
        r#"rule priority="32767" reject"#,
        r#"rule priority="32767" family="ipv4" drop"#,
        r#"rule priority="100" family="ipv4" drop limit value="5/m""#,
        r#"rule priority="1" family="ipv4" source address="198.18.3.0/24" drop"#,
        r#"rule priority="1" family="ipv4" source address="198.18.0.0/16" port port="2882" protocol="tcp" drop"#,
        r#"rule priority="1" family="ipv4" source address="198.18.0.0/16" port port="2881" protocol="udp" drop"#,
        r#"rule priority="1" family="ipv6" source address="2001:db8::/32" drop"#,
        r#"rule priority="1" family="ipv4" source address="198.18.0.0/16" icmp-type name="echo-request" drop"#,
        r#"rule priority="1" family="ipv4" source address="198.18.0.0/16" accept"#,
        r#"rule priority="-1" family="ipv4" source address="198.18.3.0/24" drop"#,
        // The catch-all in other words: from everywhere, of one protocol.
        r#"rule priority="10" family="ipv4" source address="0.0.0.0/0" drop"#,
        r#"rule priority="10" family="ipv4" protocol value="tcp" reject"#,
        // 198.18.2.10 is not outside 198.18.0.0/16, nor is any planned
        // source outside ::/0.
        r#"rule priority="10" family="ipv4" source NOT address="198.18.0.0/16" drop"#,
        r#"rule priority="10" family="ipv4" source NOT address="198.18.2.10" drop"#,
        r#"rule priority="10" family="ipv4" protocol value="47" drop"#,
        r#"rule priority="10" family="ipv4" source address="198.18.2.0/24" protocol value="udp" drop"#,
        r#"rule priority="10" family="ipv4" source address="198.18.2.0/24" protocol value="17" drop"#,
    ] {
        added(&firewalld(&[other], Some(HOST_IPV6)));
    }
    // portplan's rule already there, the deny added after it: nothing to
    // add, so nothing refused (the deny was never portplan's doing), but
    // a note names it.
    let mine = r#"rule family="ipv4" source address="198.18.2.10" port port="2881" protocol="tcp" log prefix="portplan:observer.sql" level="info" limit value="1/h" accept"#;
    let state = firewalld(&[mine, later[0]], Some(HOST_IPV6));
    let change = plan_firewall(&plan, &state, false).unwrap();
    assert!(change.commands.is_empty(), "{:?}", change.commands);
    assert_eq!(change.notes.len(), 1, "{:?}", change.notes);
    assert!(
        change.notes[0].contains(later[0])
            && change.notes[0].contains("is asked after portplan's rule")
    );
}

/// The `firewall-cmd` path (RHEL 7's firewalld 0.6, or
/// `PORTPLAN_FIREWALLD=firewall-cmd`) read no policies and no direct rules:
/// a policy's later deny there was turned into an allow, and an ipset a
/// killed run left failed every later run. The binary's text now carries
/// both, and reads as the D-Bus dump of the same firewall does, state for
/// state; a policy the runtime lists as not active decides nothing.
#[test]
fn firewalld_text_with_policies_and_direct_rules_reads_as_the_dump() {
    let dropping = "\trule family=\"ipv4\" source address=\"198.18.2.0/24\" drop\n";
    let accepting = "\trule family=\"ipv4\" port port=\"2881\" protocol=\"tcp\" accept\n";
    let mine = r#"rule family="ipv4" source address="198.18.2.10" port port="2881" protocol="tcp" log prefix="portplan:observer.sql" level="info" limit value="1/h" accept"#;
    let ours = [("portplan-mine", &["198.18.2.8/29"][..])];
    let late = policy(10, "", dropping);
    let early = policy(-10, "", dropping);
    let passing = policy(-10, "", accepting);
    let cases: [(&[&str], &str, &[&str]); 8] = [
        (&[], HOST_IPV6, &[]),
        (&[DROP_16], HOST_IPV6, &[]),
        (&[DROP_16], HOST_IPV6, &["ipv4 filter INPUT 0 -j ACCEPT"]),
        (&[mine], &late, &[]),
        (&[], &late, &[]),
        (&[], &early, &[]),
        (&[DROP_16], &passing, &[]),
        (
            &[
                mine,
                r#"rule priority="5" source ipset="portplan-mine" drop"#,
            ],
            HOST_IPV6,
            &["ipv4 passthrough -I INPUT -m set --match-set portplan-mine src -j DROP"],
        ),
    ];
    for (rich, policies, direct) in cases {
        let text = firewalld_text(rich, Some(policies), direct, &ours);
        assert_eq!(
            text,
            firewalld_dump(rich, Some(policies), direct, &ours),
            "{rich:?} {policies} {direct:?}"
        );
    }
    let plan = [rule_2881("observer.sql", &["198.18.2.10/32"])];
    let e = plan_firewall(&plan, &firewalld_text(&[], Some(&late), &[], &[]), false).unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(e.problems[0].value.starts_with("policy mine: "), "{e}");
    assert_eq!(
        notes(&firewalld_text(&[], Some(&early), &[], &[]), &[]).len(),
        1
    );
    // Listed, not active: it matches nothing now (nor after a reload, as
    // the permanent side does not have it).
    let idle = late.replace("mine (active)", "mine");
    let change = plan_firewall(&plan, &firewalld_text(&[], Some(&idle), &[], &[]), false);
    assert!(change.is_ok_and(|c| !c.commands.is_empty()));
}

/// fail2ban's jump before a deny: the deny went unnamed on every host that
/// runs fail2ban, read as after a jump that may decide. A chain that never
/// accepts (a reject per banned source, then a return) leaves the deny
/// ahead; one that may let the packet go (an accept, a jump on, a queue),
/// or a goto to it, does not.
#[test]
fn a_jump_to_a_chain_that_never_accepts_leaves_a_deny_ahead() {
    let iptables = |jump: &str, f2b: &[&str]| {
        let f2b: String = f2b.iter().map(|r| format!("-A f2b-sshd {r}\n")).collect();
        let saved = format!(
            "*filter\n:INPUT DROP [0:0]\n:f2b-sshd - [0:0]\n\
             -A INPUT -p tcp -m multiport --dports 22 {jump} f2b-sshd\n\
             -A INPUT -s 198.18.0.0/16 -j DROP\n{f2b}COMMIT\n"
        );
        read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap()
    };
    let banned = "-s 203.0.113.5/32 -j REJECT --reject-with icmp-port-unreachable";
    for f2b in [
        &[banned, "-j RETURN"][..],
        &[banned],
        &["-j RETURN"],
        &["-j LOG", "-j DROP"],
    ] {
        let notes = notes(&iptables("-j", f2b), &[]);
        assert_eq!(notes.len(), 1, "{f2b:?}: {notes:?}");
        assert!(notes[0].starts_with("the iptables rule `-A INPUT -s 198.18.0.0/16 -j DROP`"));
    }
    for (jump, f2b) in [
        ("-j", &["-s 10.0.0.1/32 -j ACCEPT", "-j RETURN"][..]),
        ("-j", &[banned, "-j other"]),
        ("-j", &["-j NFQUEUE --queue-num 1"]),
        ("-g", &[banned, "-j RETURN"]),
    ] {
        let notes = notes(&iptables(jump, f2b), &[]);
        assert!(notes.is_empty(), "{jump} {f2b:?}: {notes:?}");
    }

    let nft = |f2b: &[&str]| {
        let rule = |chain: &str, handle: usize, expr: &str| {
            format!(
                r#"{{"rule":{{"family":"inet","table":"filter","chain":"{chain}","handle":{handle},"expr":[{expr}]}}}}"#
            )
        };
        let ssh = r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}}"#;
        let mut items = vec![
            r#"{"table":{"family":"inet","name":"filter","handle":1}}"#.to_string(),
            r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#.to_string(),
            r#"{"chain":{"family":"inet","table":"filter","name":"f2b","handle":2}}"#.to_string(),
            rule("input", 4, &format!(r#"{ssh},{{"jump":{{"target":"f2b"}}}}"#)),
            rule("input", 5, &format!(r#"{SADDR_16},{{"drop":null}}"#)),
        ];
        items.extend(
            f2b.iter()
                .enumerate()
                .map(|(i, expr)| rule("f2b", 6 + i, expr)),
        );
        let json = format!(r#"{{"nftables":[{}]}}"#, items.join(","));
        read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, "")).unwrap()
    };
    let banned = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"203.0.113.5"}},{"reject":null}"#;
    let back = r#"{"return":null}"#;
    // fail2ban's chain as iptables-nft lists it: its REJECT is a target of
    // iptables' own (`xt`), which rejects or goes on.
    let xt_reject = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"203.0.113.5"}},{"xt":{"type":"target","name":"REJECT"}}"#;
    for f2b in [&[banned, back][..], &[banned], &[back], &[xt_reject, back]] {
        assert_eq!(notes(&nft(f2b), &[]).len(), 1, "{f2b:?}");
    }
    let accept = r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.0.0.1"}},{"accept":null}"#;
    let on = r#"{"jump":{"target":"other"}}"#;
    let queue = r#"{"queue":{"num":1}}"#;
    // iptables-nft's NFQUEUE (its verdict may accept), or an older nft's
    // `xt` that says nothing; a rewrite of the source the deny matches.
    let xt_queue = r#"{"xt":{"type":"target","name":"NFQUEUE"}}"#;
    let xt_unknown = r#"{"xt":null}"#;
    let rewrite =
        r#"{"mangle":{"key":{"payload":{"protocol":"ip","field":"saddr"}},"value":"10.0.0.1"}}"#;
    for f2b in [
        &[accept, back][..],
        &[banned, on],
        &[queue],
        &[xt_queue, back],
        &[xt_unknown],
        &[rewrite, back],
    ] {
        let notes = notes(&nft(f2b), &[]);
        assert!(notes.is_empty(), "{f2b:?}: {notes:?}");
    }
}
