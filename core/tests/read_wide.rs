//! The readers against rules written to slip past them (an adversarial
//! review, 2026-12-02): what an accept admits is read wide, so the audit
//! never says closed over an open port; a tagged rule is seen however it was
//! edited, so `present` replaces it; a comment that only starts with
//! `portplan:` is someone else's; a rule matching one field twice is not
//! intact; set elements with comments are read.

#![allow(clippy::unwrap_used)]

mod support;

use support::{ipt, nft, nft_items, rule_2881};

use portplan_core::{
    FirewallBackend, FirewallOutput, FirewallRule, FirewallState, OpenPort, Transport,
    plan_firewall, read_firewall,
};

const TABLE: &str = r#"{"table":{"family":"inet","name":"filter","handle":1}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#;

/// A rule of `inet filter input`: its statements, and a comment if any.
fn rule(handle: u64, comment: Option<&str>, expr: &str) -> String {
    let comment = comment
        .map(|c| format!(r#""comment":"{c}","#))
        .unwrap_or_default();
    format!(
        r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":{handle},{comment}"expr":[{expr}]}}}}"#
    )
}

fn matching(left: &str, op: &str, right: &str) -> String {
    format!(r#"{{"match":{{"op":"{op}","left":{left},"right":{right}}}}}"#)
}

const SADDR: &str = r#"{"payload":{"protocol":"ip","field":"saddr"}}"#;
const TCP_DPORT: &str = r#"{"payload":{"protocol":"tcp","field":"dport"}}"#;
const ACCEPT: &str = r#"{"accept":null}"#;

/// One admitted range: transport, first and last port, sources.
type Opened = (Transport, u16, u16, Vec<String>);

fn open_of(state: &FirewallState) -> Vec<Opened> {
    state
        .open()
        .iter()
        .map(|o: &OpenPort| (o.transport, o.ports.first, o.ports.last, o.sources.clone()))
        .collect()
}

fn iptables(rules: &str) -> FirewallState {
    let saved = format!("*filter\n:INPUT DROP [0:0]\n{rules}COMMIT\n");
    read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap()
}

fn desired() -> Vec<FirewallRule> {
    vec![rule_2881("observer.sql", &["198.18.2.10/32"])]
}

fn script(state: &FirewallState, remove_all: bool) -> String {
    support::commands_text(&desired(), state, remove_all)
}

#[test]
fn an_nft_accept_admits_what_its_matches_leave_open() {
    let l4proto = r#"{"meta":{"key":"l4proto"}}"#;
    let ct = r#"{"ct":{"key":"state"}}"#;
    let iif = r#"{"meta":{"key":"iif"}}"#;
    let all = |t| (t, 1, 65535, vec![]);
    let cases: Vec<(&str, String, Vec<Opened>)> = vec![
        (
            "accept",
            ACCEPT.into(),
            vec![all(Transport::Tcp), all(Transport::Udp)],
        ),
        (
            "meta l4proto tcp accept",
            format!("{},{ACCEPT}", matching(l4proto, "==", r#""tcp""#)),
            vec![all(Transport::Tcp)],
        ),
        (
            "ct state new tcp dport 2911 accept",
            format!(
                "{},{},{ACCEPT}",
                matching(ct, "in", r#"["new"]"#),
                matching(TCP_DPORT, "==", "2911")
            ),
            vec![(Transport::Tcp, 2911, 2911, vec![])],
        ),
        (
            "tcp dport != 2881 accept",
            format!("{},{ACCEPT}", matching(TCP_DPORT, "!=", "2881")),
            vec![
                (Transport::Tcp, 1, 2880, vec![]),
                (Transport::Tcp, 2882, 65535, vec![]),
            ],
        ),
        (
            "ip saddr 10.0.0.0/8 accept",
            format!(
                "{},{ACCEPT}",
                matching(SADDR, "==", r#"{"prefix":{"addr":"10.0.0.0","len":8}}"#)
            ),
            vec![
                (Transport::Tcp, 1, 65535, vec!["10.0.0.0/8".into()]),
                (Transport::Udp, 1, 65535, vec!["10.0.0.0/8".into()]),
            ],
        ),
        (
            "tcp dport @ports accept (a named set: not read, so every port)",
            format!("{},{ACCEPT}", matching(TCP_DPORT, "==", r#""@ports""#)),
            vec![all(Transport::Tcp)],
        ),
        // What admits no new connection from another host.
        (
            "ct state established,related accept",
            format!(
                "{},{ACCEPT}",
                matching(ct, "in", r#"["established","related"]"#)
            ),
            vec![],
        ),
        (
            "iif lo accept",
            format!("{},{ACCEPT}", matching(iif, "==", r#""lo""#)),
            vec![],
        ),
        (
            "meta l4proto icmp accept",
            format!("{},{ACCEPT}", matching(l4proto, "==", r#""icmp""#)),
            vec![],
        ),
    ];
    for (what, expr, open) in cases {
        let state = nft_items(&[TABLE, &rule(5, None, &expr)]);
        assert_eq!(open_of(&state), open, "{what}");
    }
}

#[test]
fn an_iptables_accept_admits_what_its_matches_leave_open() {
    let all = |t| (t, 1, 65535, vec![]);
    let cases: Vec<(&str, Vec<Opened>)> = vec![
        (
            "-A INPUT -j ACCEPT",
            vec![all(Transport::Tcp), all(Transport::Udp)],
        ),
        ("-A INPUT -p tcp -j ACCEPT", vec![all(Transport::Tcp)]),
        (
            "-A INPUT -p tcp -m tcp ! --dport 2881 -j ACCEPT",
            vec![
                (Transport::Tcp, 1, 2880, vec![]),
                (Transport::Tcp, 2882, 65535, vec![]),
            ],
        ),
        (
            "-A INPUT -p tcp -m multiport --dports 2911,2912 -j ACCEPT",
            vec![(Transport::Tcp, 2911, 2912, vec![])],
        ),
        (
            "-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 2911 -j ACCEPT",
            vec![(Transport::Tcp, 2911, 2911, vec![])],
        ),
        (
            "-A INPUT ! -s 10.0.0.0/8 -p udp -j ACCEPT",
            vec![all(Transport::Udp)],
        ),
        (
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            vec![],
        ),
        ("-A INPUT -i lo -j ACCEPT", vec![]),
        ("-A INPUT -p icmp -j ACCEPT", vec![]),
    ];
    for (line, open) in cases {
        let state = iptables(&format!("{line}\n"));
        assert_eq!(open_of(&state), open, "{line}");
    }
}

#[test]
fn a_comment_that_only_starts_with_the_prefix_is_someone_elses() {
    for comment in ["portplan: admin ssh (keep)", "portplan:", "portplan:a b"] {
        let line = format!(
            "-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment \"{comment}\" -j ACCEPT\n"
        );
        let state = iptables(&line);
        assert!(ipt(&state).found.is_empty(), "{comment}");
        assert!(!script(&state, true).contains("-D INPUT"), "{comment}");
        let expr = format!(
            "{},{},{ACCEPT}",
            matching(SADDR, "==", r#""198.18.2.10""#),
            matching(TCP_DPORT, "==", "2881")
        );
        let state = nft_items(&[TABLE, &rule(5, Some(comment), &expr)]);
        assert!(nft(&state).found.is_empty(), "{comment}");
        assert!(!script(&state, true).contains("delete rule"), "{comment}");
    }
}

#[test]
fn a_tagged_rule_whose_ports_do_not_read_is_replaced_and_removed() {
    let tag = Some("portplan:observer.sql");
    let source = matching(SADDR, "==", r#""198.18.2.10""#);
    let nft_cases = [
        ("no port match", format!("{source},{ACCEPT}")),
        (
            "dport !=",
            format!("{source},{},{ACCEPT}", matching(TCP_DPORT, "!=", "22")),
        ),
        (
            "a named port set",
            format!("{source},{},{ACCEPT}", matching(TCP_DPORT, "==", r#""@p""#)),
        ),
        (
            "saddr twice (admits nothing)",
            format!(
                "{},{source},{},{ACCEPT}",
                matching(SADDR, "==", r#""10.9.9.9""#),
                matching(TCP_DPORT, "==", "2881")
            ),
        ),
    ];
    for (what, expr) in nft_cases {
        let state = nft_items(&[TABLE, &rule(5, tag, &expr)]);
        for remove_all in [false, true] {
            let text = script(&state, remove_all);
            assert!(
                text.contains("delete rule inet filter input handle 5"),
                "{what} (remove all: {remove_all}): {text}"
            );
        }
    }
    let tagged = "-m comment --comment portplan:observer.sql -j ACCEPT";
    let ipt_cases = [
        format!("-A INPUT -s 198.18.2.10/32 -p tcp -m multiport --dports 2881,22 {tagged}"),
        format!("-A INPUT -s 198.18.2.10/32 {tagged}"),
        format!(
            "-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 1 -m multiport --dports 2881 {tagged}"
        ),
    ];
    for line in ipt_cases {
        let state = iptables(&format!("{line}\n-A INPUT -j DROP\n"));
        for remove_all in [false, true] {
            let text = script(&state, remove_all);
            assert!(text.contains("-D INPUT"), "{line}: {text}");
        }
        assert!(script(&state, false).contains("-I INPUT"), "{line}");
    }
}

#[test]
fn set_elements_with_comments_are_read() {
    let set = r#"{"set":{"family":"inet","name":"portplan_observer_sql_v4","table":"filter","type":"ipv4_addr","handle":3,"comment":"portplan:observer.sql","flags":["interval"],"elem":["198.18.2.10",{"elem":{"val":"198.19.100.99","comment":"temp access"}}]}}"#;
    let expr = format!(
        "{},{},{ACCEPT}",
        matching(SADDR, "==", r#""@portplan_observer_sql_v4""#),
        matching(TCP_DPORT, "==", "2881")
    );
    let state = nft_items(&[TABLE, set, &rule(5, Some("portplan:observer.sql"), &expr)]);
    let sources: Vec<&str> = nft(&state)
        .found
        .iter()
        .map(|f| f.rule.source.as_str())
        .collect();
    assert_eq!(sources, ["198.18.2.10/32", "198.19.100.99/32"]);
    // The hand-added source is drift: present takes it out.
    assert!(!script(&state, false).is_empty());
}

#[test]
fn an_nft_jump_on_portplans_traffic_is_someone_elses_rule() {
    let expr = format!(
        r#"{},{},{{"jump":{{"target":"blocked"}}}}"#,
        matching(SADDR, "==", r#""198.18.2.10""#),
        matching(TCP_DPORT, "==", "2881")
    );
    let state = nft_items(&[TABLE, &rule(5, None, &expr)]);
    let refused = plan_firewall(&desired(), &state, false).unwrap_err();
    assert!(
        refused.problems[0].message.contains("(jump)"),
        "{refused:?}"
    );
}

#[test]
fn a_second_comment_does_not_hide_the_tag() {
    let line = "-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -m comment --comment x -j ACCEPT\n-A INPUT -j DROP\n";
    let state = iptables(line);
    assert_eq!(ipt(&state).found.len(), 1);
    assert!(!ipt(&state).found[0].intact);
    assert!(script(&state, true).contains("-D INPUT"));
}

/// A table, chain or set name goes into the `nft -f -` script as it is:
/// one holding a newline and a command (planted with `nft -j -f` or
/// libnftnl) became a line of the script, deleting a foreign drop (an
/// adversarial review). Such a name is refused, with its path and value.
#[test]
fn an_nft_name_that_is_not_one_word_is_refused() {
    let hostile = "t\ndelete rule inet filter input handle 4\n";
    let table = format!(
        r#"{{"table":{{"family":"inet","name":{name},"handle":1}}}},
 {{"chain":{{"family":"inet","table":{name},"name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}}}"#,
        name = serde_json::to_string(hostile).unwrap()
    );
    let json = format!(r#"{{"nftables":[{table}]}}"#);
    let refused =
        read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, "")).unwrap_err();
    assert_eq!(refused.problems[0].path, "main");
    assert_eq!(refused.problems[0].value, hostile);
    // A state given whole (the plugins' callers) is checked as well.
    let mut state = nft_items(&[TABLE]);
    let FirewallState::Nftables(nft) = &mut state else {
        unreachable!()
    };
    nft.chains[0].table = hostile.into();
    let refused = plan_firewall(&desired(), &state, false).unwrap_err();
    assert_eq!(refused.problems[0].path, "state.nftables.chains[0].table");
    assert_eq!(refused.problems[0].value, hostile);
    // nft's own names pass: iptables-nft's, firewalld's, Docker's.
    for name in [
        "filter",
        "INPUT",
        "filter_IN_public",
        "DOCKER-USER",
        "_x.y/z",
    ] {
        let table = table.replace(
            &serde_json::to_string(hostile).unwrap(),
            &format!("{name:?}"),
        );
        assert!(
            plan_firewall(&desired(), &nft_items(&[&table]), false).is_ok(),
            "{name}"
        );
    }
}

/// iptables-save leaves out `-s 0.0.0.0/0`: portplan's rule open to
/// everyone reads back without `-s`, and is intact (an adversarial review:
/// it never was, so every run rewrote it and failed its verify).
#[test]
fn an_iptables_rule_open_to_everyone_reads_back_intact() {
    let line = "-A INPUT -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -j ACCEPT\n-A INPUT -j DROP\n";
    let state = iptables(line);
    assert!(ipt(&state).found[0].intact, "{:#?}", ipt(&state).found);
    let everyone = [rule_2881("observer.sql", &["0.0.0.0/0"])];
    assert_eq!(support::commands_text(&everyone, &state, false), "");
    // Any narrower source replaces it.
    assert!(script(&state, false).contains("-D INPUT"));
}

/// iptables-save writes `'` in a quoted value as `\'` (iptables 1.8.9:
/// `--comment "don\'t \"x\" remove"`); the `-D` of portplan's rule must
/// carry the comment as it is, or it matches nothing and every run fails.
#[test]
fn an_iptables_comment_with_a_quote_is_read_as_iptables_restore_reads_it() {
    let line = r#"-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -m comment --comment "don\'t \"x\" remove" -j ACCEPT
-A INPUT -j DROP
"#;
    let state = iptables(line);
    let found = &ipt(&state).found[0];
    assert!(
        found.saved.iter().any(|w| w == r#"don't "x" remove"#),
        "{:?}",
        found.saved
    );
}

/// A match's value that reads as an option (`! --helper --comment`: a
/// helper of that name, which matches every packet) shifted the reading so
/// that the `-j DROP` went unseen: the tagged DROP was read as portplan's
/// accept edited, deleted, and replaced by an accept (an adversarial
/// review). Any `-j` that is no accept makes the rule someone else's.
#[test]
fn a_tagged_drop_whose_target_a_value_hides_is_not_portplans() {
    let line = "-A INPUT -s 198.18.0.0/24 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -m helper ! --helper --comment -j DROP\n";
    let state = iptables(line);
    assert!(ipt(&state).found.is_empty(), "{:#?}", ipt(&state).found);
    for remove_all in [false, true] {
        let text = script(&state, remove_all);
        assert!(!text.contains("-D INPUT"), "{text}");
    }
}

#[test]
fn an_iptables_goto_on_portplans_traffic_is_someone_elses_rule() {
    let line =
        "-A INPUT -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -g BLOCKED\n-A INPUT -j DROP\n";
    let refused = plan_firewall(&desired(), &iptables(line), false).unwrap_err();
    assert!(
        refused.problems[0].message.contains("(BLOCKED)"),
        "{refused:?}"
    );
}

/// Arch Linux's stock input chain ends with a rate-limited reject, then its
/// drop policy: portplan's rules go before that reject (after it, most
/// packets to the port were rejected while every check said green). A
/// reject narrowed by anything else (`ct state invalid drop`) is no such
/// catch-all.
#[test]
fn a_rate_limited_reject_of_every_packet_is_a_catch_all_for_placement() {
    let pkttype = r#"{"meta":{"key":"pkttype"}}"#;
    let reject = format!(
        r#"{},{{"limit":{{"rate":5,"burst":5,"per":"second"}}}},{{"counter":null}},{{"reject":{{"type":"icmpx","expr":"admin-prohibited"}}}}"#,
        matching(pkttype, "==", r#""host""#)
    );
    let invalid = format!(
        r#"{},{{"drop":null}}"#,
        matching(r#"{"ct":{"key":"state"}}"#, "in", r#"["invalid"]"#)
    );
    let state = nft_items(&[TABLE, &rule(3, None, &invalid), &rule(9, None, &reject)]);
    assert_eq!(nft(&state).chains[0].insert_before, Some(9));
    assert!(script(&state, false).contains("insert rule inet filter input position 9"));
}

/// Arch Linux's rate-limited reject of the packets to the host.
fn arch_reject() -> String {
    format!(
        r#"{},{{"limit":{{"rate":5,"burst":5,"per":"second"}}}},{{"reject":null}}"#,
        matching(r#"{"meta":{"key":"pkttype"}}"#, "==", r#""host""#)
    )
}

/// A rated rule is the catch-all in effect only as Arch has it (an
/// adversarial review): a flood guard (`limit rate over ... drop`) or a
/// `pkttype broadcast drop` before a blocklist made portplan's accept land
/// ahead of the blocklist, the deny turned into an allow. Arch's own rule
/// stays where portplan's rules go, before a plain drop after it too (a
/// second review: moved behind it, they were rejected at under 5 packets a
/// second); a deny after it on their traffic leaves them no place, and the
/// plan is refused naming it.
#[test]
fn a_rated_rule_is_a_catch_all_only_as_arch_has_it() {
    let pkttype = r#"{"meta":{"key":"pkttype"}}"#;
    let arch = arch_reject();
    let flood = r#"{"limit":{"rate":50,"burst":100,"per":"second","inv":true}},{"drop":null}"#;
    let broadcast = format!(
        r#"{},{{"drop":null}}"#,
        matching(pkttype, "==", r#""broadcast""#)
    );
    let blocklist = format!(
        r#"{},{{"drop":null}}"#,
        matching(
            r#"{"payload":{"protocol":"ip","field":"saddr"}}"#,
            "==",
            r#"{"prefix":{"addr":"198.18.2.0","len":24}}"#
        )
    );
    for (what, early) in [("flood guard", flood.to_string()), ("broadcast", broadcast)] {
        let state = nft_items(&[TABLE, &rule(3, None, &early), &rule(4, None, &blocklist)]);
        assert_eq!(nft(&state).chains[0].insert_before, None, "{what}");
        let text = script(&state, false);
        assert!(!text.contains("insert rule"), "{what}: {text}");
        assert!(
            text.contains("add rule inet filter input"),
            "{what}: {text}"
        );
        // Appended after the blocklist, whose deny stays and is named.
        let notes = plan_firewall(&desired(), &state, false).unwrap().notes;
        assert!(
            notes.iter().any(|n| n.contains("198.18.2.0/24")),
            "{what}: {notes:#?}"
        );
    }
    // Arch's rule, then a plain drop: before Arch's rule.
    let drop = r#"{"counter":null},{"drop":null}"#;
    let state = nft_items(&[TABLE, &rule(3, None, &arch), &rule(4, None, drop)]);
    assert_eq!(nft(&state).chains[0].insert_before, Some(3));
    // Arch's rule, then a blocklist on the planned source: refused, named.
    let state = nft_items(&[TABLE, &rule(3, None, &arch), &rule(4, None, &blocklist)]);
    let refused = plan_firewall(&desired(), &state, false).unwrap_err();
    assert!(
        refused.problems[0].value.contains("handle 4"),
        "{refused:#?}"
    );
    assert!(
        refused.problems[0].message.contains("rate-limited reject"),
        "{refused:#?}"
    );
    // One on other traffic leaves the place before Arch's rule as it is.
    let other = blocklist.replace("198.18.2.0", "203.0.113.0");
    let state = nft_items(&[TABLE, &rule(3, None, &arch), &rule(4, None, &other)]);
    assert!(script(&state, false).contains("insert rule inet filter input position 3"));
}

/// portplan's rules in place before Arch's rule, a blocklist of both their
/// sources put in after it: nothing to add, so nothing refused, but the
/// blocklist never drops what portplan's rules admit. Named once for the
/// rule, not once per source or planned rule (a review); found whether
/// the deny is around a placed source or inside it.
#[test]
fn a_deny_after_portplans_rules_in_place_is_named_once() {
    let arch = arch_reject();
    let mine = |handle: u64, source: &str| {
        let expr = format!(
            "{},{},{ACCEPT}",
            matching(SADDR, "==", &format!("\"{source}\"")),
            matching(TCP_DPORT, "==", "2881")
        );
        rule(handle, Some("portplan:observer.sql"), &expr)
    };
    let prefix = |addr: &str, len: u8| format!(r#"{{"prefix":{{"addr":"{addr}","len":{len}}}}}"#);
    let blocklist = |right: String| format!(r#"{},{{"drop":null}}"#, matching(SADDR, "==", &right));
    let both = blocklist(format!(
        r#"{{"set":[{},{}]}}"#,
        prefix("198.18.2.0", 24),
        prefix("198.18.4.0", 24)
    ));
    let inside = blocklist(r#""198.18.2.10""#.to_string());
    let plan = [rule_2881(
        "observer.sql",
        &["198.18.2.0/24", "198.18.4.10/32"],
    )];
    let placed = |deny: &str| {
        nft_items(&[
            TABLE,
            &mine(2, "198.18.2.0/24").replace(r#""198.18.2.0/24""#, &prefix("198.18.2.0", 24)),
            &mine(3, "198.18.4.10"),
            &rule(4, None, &arch),
            &rule(5, None, deny),
        ])
    };
    for (deny, more) in [(both, ", and 1 more"), (inside, "")] {
        let change = plan_firewall(&plan, &placed(&deny), false).unwrap();
        assert!(change.commands.is_empty(), "{:?}", change.commands);
        assert_eq!(change.notes.len(), 1, "{:#?}", change.notes);
        assert!(
            change.notes[0].contains("handle 5")
                && change.notes[0].contains("is asked after portplan's rule"),
            "{:#?}",
            change.notes
        );
        assert!(
            change.notes[0].contains(&format!("198.18.2.0/24 on tcp 2881{more}, and may")),
            "{:#?}",
            change.notes
        );
    }
}

/// What nft itself prints for ICMP, a source port and iptables-nft's compat
/// matches (an adversarial review of the wide reading): a header's field
/// implies its protocol, which `nft -j` leaves out; an `xt` match is read by
/// the iptables backend, not here.
#[test]
fn header_fields_imply_their_protocol_and_compat_matches_open_nothing() {
    let payload = |protocol: &str, field: &str| {
        format!(r#"{{"payload":{{"protocol":"{protocol}","field":"{field}"}}}}"#)
    };
    let cases: Vec<(&str, String, Vec<Opened>)> = vec![
        (
            "icmp type echo-request accept",
            format!(
                "{},{ACCEPT}",
                matching(&payload("icmp", "type"), "==", r#""echo-request""#)
            ),
            vec![],
        ),
        (
            "icmpv6 type nd-neighbor-solicit accept",
            format!(
                "{},{ACCEPT}",
                matching(&payload("icmpv6", "type"), "==", r#""nd-neighbor-solicit""#)
            ),
            vec![],
        ),
        (
            "udp sport 53 accept",
            format!(
                "{},{ACCEPT}",
                matching(&payload("udp", "sport"), "==", "53")
            ),
            vec![(Transport::Udp, 1, 65535, vec![])],
        ),
        (
            "tcp flags syn accept",
            format!(
                "{},{ACCEPT}",
                matching(&payload("tcp", "flags"), "in", r#""syn""#)
            ),
            vec![(Transport::Tcp, 1, 65535, vec![])],
        ),
        (
            "iifname { \"lo\" } accept",
            format!(
                "{},{ACCEPT}",
                matching(r#"{"meta":{"key":"iifname"}}"#, "==", r#"{"set":["lo"]}"#)
            ),
            vec![],
        ),
        (
            "-m state --state RELATED,ESTABLISHED -j ACCEPT, through iptables-nft",
            format!(
                r#"{{"xt":{{"type":"match","name":"conntrack"}}}},{{"counter":null}},{ACCEPT}"#
            ),
            vec![],
        ),
    ];
    for (what, expr, open) in cases {
        let state = nft_items(&[TABLE, &rule(5, None, &expr)]);
        assert_eq!(open_of(&state), open, "{what}");
    }
}
