//! Idempotence on meaning: a tagged rule counts only if it is exactly what
//! portplan writes (accept, no negation or other match, its own source,
//! before the catch-all, its own set); a hand-edited one is replaced. Names
//! never merge two specs, and a set portplan did not create is never deleted.

#![allow(clippy::unwrap_used)]

mod support;

use support::{nft_items, rule_2881};

use portplan_core::{
    FirewallBackend, FirewallOutput, FirewallRule, FirewallState, plan_firewall, read_firewall,
};

fn desired() -> Vec<FirewallRule> {
    vec![rule_2881("observer.sql", &["198.18.2.10/32"])]
}

const TABLE: &str = r#"{"table":{"family":"inet","name":"filter","handle":1}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#;
const REJECT: &str = r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":9,"expr":[{"reject":null}]}}"#;

fn nft_rule(handle: u64, op: &str, right: &str, verdict: &str) -> String {
    format!(
        r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":{handle},"comment":"portplan:observer.sql","expr":[
   {{"match":{{"op":"{op}","left":{{"payload":{{"protocol":"ip","field":"saddr"}}}},"right":{right}}}}},
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":2881}}}},
   {{"{verdict}":null}}]}}}}"#
    )
}

fn script(state: &FirewallState, remove_all: bool) -> String {
    support::commands_text(&desired(), state, remove_all)
}

#[test]
fn an_intact_nft_rule_holds() {
    let state = nft_items(&[
        TABLE,
        &nft_rule(4, "==", r#""198.18.2.10""#, "accept"),
        REJECT,
    ]);
    assert_eq!(script(&state, false), "");
}

#[test]
fn nft_rules_edited_by_hand_are_replaced() {
    let cases = [
        (
            "negated",
            vec![
                TABLE.to_string(),
                nft_rule(4, "!=", r#""198.18.2.10""#, "accept"),
                REJECT.to_string(),
            ],
        ),
        (
            "moved after the catch-all",
            vec![
                TABLE.to_string(),
                REJECT.to_string(),
                nft_rule(4, "==", r#""198.18.2.10""#, "accept"),
            ],
        ),
    ];
    for (what, items) in cases {
        let items: Vec<&str> = items.iter().map(String::as_str).collect();
        let text = script(&nft_items(&items), false);
        assert!(
            text.contains("delete rule inet filter input handle 4"),
            "{what}: {text}"
        );
        assert!(
            text.contains("ip saddr 198.18.2.10 tcp dport 2881 accept"),
            "{what}: {text}"
        );
    }
}

#[test]
fn a_set_portplan_did_not_create_is_never_deleted() {
    let trusted = r#"{"set":{"family":"inet","name":"trusted","table":"filter","type":"ipv4_addr","handle":3,"flags":["interval"],"elem":["198.18.2.10"]}}"#;
    let state = nft_items(&[
        TABLE,
        trusted,
        &nft_rule(4, "==", r#""@trusted""#, "accept"),
        REJECT,
    ]);
    let absent = script(&state, true);
    assert!(
        absent.contains("delete rule inet filter input handle 4"),
        "{absent}"
    );
    assert!(!absent.contains("delete set"), "{absent}");
    // Present replaces the rule with one of portplan's own.
    let present = script(&state, false);
    assert!(!present.contains("delete set"), "{present}");
    assert!(
        present.contains("ip saddr 198.18.2.10 tcp dport 2881 accept"),
        "{present}"
    );
}

#[test]
fn iptables_rules_edited_by_hand_are_replaced() {
    let tagged = "-p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql";
    let cases = [
        (
            "intact",
            format!("-A INPUT -s 198.18.2.10/32 {tagged} -j ACCEPT\n-A INPUT -j REJECT\n"),
            false,
        ),
        (
            "negated",
            format!("-A INPUT ! -s 198.18.2.10/32 {tagged} -j ACCEPT\n-A INPUT -j REJECT\n"),
            true,
        ),
        (
            "after the catch-all",
            format!("-A INPUT -j REJECT\n-A INPUT -s 198.18.2.10/32 {tagged} -j ACCEPT\n"),
            true,
        ),
    ];
    for (what, rules, replaced) in cases {
        let saved = format!("*filter\n:INPUT ACCEPT [0:0]\n{rules}COMMIT\n");
        let state =
            read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap();
        let text = script(&state, false);
        assert_eq!(text.contains("-D INPUT"), replaced, "{what}: {text}");
        assert_eq!(text.contains("-I INPUT"), replaced, "{what}: {text}");
    }
}

#[test]
fn ufw_and_firewalld_rules_edited_by_hand_are_replaced() {
    let added = "ufw allow from 198.18.2.10 to any port 2881 comment 'portplan:observer.sql'\n";
    let state = read_firewall(
        FirewallBackend::Ufw,
        &FirewallOutput::new(
            "Status: active\nDefault: deny (incoming), allow (outgoing)\n",
            added,
        ),
    )
    .unwrap();
    let text = script(&state, false);
    assert!(text.contains("ufw delete allow from 198.18.2.10"), "{text}");
    assert!(
        text.contains("ufw allow from 198.18.2.10 to any port 2881 proto tcp"),
        "{text}"
    );

    let zone = firewalld_zone(
        "log prefix=\"portplan:observer.sql\" level=\"warning\" limit value=\"1/h\" accept",
    );
    let text = script(&firewalld(&zone), false);
    assert!(text.contains("--remove-rich-rule="), "{text}");
    assert!(text.contains("limit value=\"1/h\" accept"), "{text}");
}

fn firewalld_zone(tail: &str) -> String {
    format!(
        "public (default, active)\n  target: default\n  rich rules: \n\
        \trule family=\"ipv4\" source address=\"198.18.2.10\" port port=\"2881\" protocol=\"tcp\" {tail}\n"
    )
}

fn firewalld(zone: &str) -> FirewallState {
    read_firewall(
        FirewallBackend::Firewalld,
        &FirewallOutput {
            main: zone.into(),
            extra: zone.into(),
            zone: Some("public".into()),
        },
    )
    .unwrap()
}

/// A deny carrying portplan's tag, on the planned tuple: on each backend as
/// its listing prints it.
fn tagged_denies() -> Vec<(&'static str, FirewallState)> {
    let tagged = "-p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql";
    let iptables = format!(
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 198.18.2.10/32 {tagged} -j DROP\n-A INPUT -j REJECT\nCOMMIT\n"
    );
    let ufw =
        "ufw deny from 198.18.2.10 to any port 2881 proto tcp comment 'portplan:observer.sql'\n";
    vec![
        (
            "nft drop",
            nft_items(&[
                TABLE,
                &nft_rule(4, "==", r#""198.18.2.10""#, "drop"),
                REJECT,
            ]),
        ),
        (
            "nft reject",
            nft_items(&[
                TABLE,
                &nft_rule(4, "==", r#""198.18.2.10""#, "reject"),
                REJECT,
            ]),
        ),
        (
            "nft return",
            nft_items(&[
                TABLE,
                &nft_rule(4, "==", r#""198.18.2.10""#, "return"),
                REJECT,
            ]),
        ),
        (
            "iptables DROP",
            read_firewall(
                FirewallBackend::Iptables,
                &FirewallOutput::new(iptables, ""),
            )
            .unwrap(),
        ),
        (
            "ufw deny",
            read_firewall(
                FirewallBackend::Ufw,
                &FirewallOutput::new(
                    "Status: active\nDefault: deny (incoming), allow (outgoing)\n",
                    ufw,
                ),
            )
            .unwrap(),
        ),
        (
            "ufw limit",
            read_firewall(
                FirewallBackend::Ufw,
                &FirewallOutput::new(
                    "Status: active\nDefault: deny (incoming), allow (outgoing)\n",
                    ufw.replace("ufw deny", "ufw limit"),
                ),
            )
            .unwrap(),
        ),
        (
            "firewalld drop",
            firewalld(&firewalld_zone(
                "log prefix=\"portplan:observer.sql\" level=\"info\" limit value=\"1/h\" drop",
            )),
        ),
        (
            "firewalld reject",
            firewalld(&firewalld_zone(
                "log prefix=\"portplan:observer.sql\" level=\"info\" limit value=\"1/h\" reject",
            )),
        ),
    ]
}

/// portplan writes only accepts: a tagged deny is someone's decision (an
/// operator who turned portplan's allow into a deny, or a rule of their
/// own in portplan's comment form). `present` refuses rather than turn it
/// back into an allow, and `absent` leaves it.
#[test]
fn a_tagged_deny_is_never_turned_into_an_allow() {
    for (what, state) in tagged_denies() {
        let refused = plan_firewall(&desired(), &state, false).unwrap_err();
        let problem = &refused.problems[0];
        assert!(problem.path.contains(".foreign["), "{what}: {refused:?}");
        assert!(
            problem.message.contains("a rule portplan did not write"),
            "{what}: {refused:?}"
        );
        let absent = script(&state, true);
        assert!(
            !absent.contains("delete") && !absent.contains("-D ") && !absent.contains("remove"),
            "{what}: {absent}"
        );
    }
}

/// A deny in portplan's comment form on ports no plan names
/// (`portplan:blocklist`) stays through `present` and `absent` alike.
#[test]
fn a_deny_in_tag_form_elsewhere_stays() {
    let blocklist = r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":5,"comment":"portplan:blocklist","expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.9.9"}},
   {"drop":null}]}}"#;
    // A verdict map decides by port: a deny too, never removed.
    let vmap = r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":6,"comment":"portplan:observer.sql","expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.10"}},
   {"vmap":{"key":{"payload":{"protocol":"tcp","field":"dport"}},"data":{"set":[[2881,{"drop":null}]]}}}]}}"#;
    let state = nft_items(&[TABLE, blocklist, vmap, REJECT]);
    for remove_all in [false, true] {
        let text = script(&state, remove_all);
        assert!(!text.contains("handle 5"), "{text}");
        assert!(!text.contains("handle 6"), "{text}");
    }
    let saved = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 198.18.9.9/32 -m comment --comment portplan:blocklist -j DROP\n-A INPUT -j REJECT\nCOMMIT\n";
    let state = read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap();
    for remove_all in [false, true] {
        let text = script(&state, remove_all);
        assert!(!text.contains("-D INPUT"), "{text}");
    }
}

#[test]
fn colliding_spec_ids_get_their_own_sets_and_tags() {
    let many = [
        "198.18.2.10/32",
        "198.18.2.20/32",
        "198.18.2.30/32",
        "198.18.2.40/32",
    ];
    let rules = [rule_2881("app.a-b", &many), rule_2881("app.a.b", &many)];
    let empty = portplan_core::empty_firewall(FirewallBackend::Nftables).unwrap();
    let text = plan_firewall(&rules, &empty, false).unwrap().commands[0]
        .stdin
        .clone()
        .unwrap();
    let sets: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("create set inet filter "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(sets.len(), 2, "{text}");
    assert_ne!(sets[0], sets[1], "{text}");

    let firewalld = portplan_core::empty_firewall(FirewallBackend::Firewalld).unwrap();
    let ipsets: Vec<String> = plan_firewall(&rules, &firewalld, false)
        .unwrap()
        .commands
        .iter()
        .filter_map(|c| {
            c.argv
                .iter()
                .find_map(|a| a.strip_prefix("--new-ipset="))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(ipsets.len(), 2, "{ipsets:?}");
    assert_ne!(ipsets[0], ipsets[1]);
    assert!(ipsets.iter().all(|n| n.len() <= 31), "{ipsets:?}");

    // Two spec ids that share their first 55 characters keep distinct tags.
    let head = "x".repeat(55);
    let long = [
        rule_2881(&format!("{head}-one"), &many[..1]),
        rule_2881(&format!("{head}-two"), &many[..1]),
    ];
    let change = plan_firewall(&long, &empty, false).unwrap();
    let tags: std::collections::BTreeSet<&str> =
        change.add.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(tags.iter().all(|t| t.len() <= 64), "{tags:?}");
}

/// An unconditional jump to a chain that drops everything it is handed
/// (`LOGDROP`: log, then drop) is the catch-all: portplan's rule goes before
/// it, not after, where it would never match. A chain that can hand a
/// packet back (`RETURN`), or a jump taken only on one interface, is not.
#[test]
fn a_jump_to_a_dropping_chain_is_the_catch_all() {
    let saved = |logdrop: &str, jump: &str| {
        format!(
            "*filter\n:INPUT ACCEPT [0:0]\n:LOGDROP - [0:0]\n\
             -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT {jump}-j LOGDROP\n\
             {logdrop}COMMIT\n"
        )
    };
    let logdrop =
        "-A LOGDROP -m limit --limit 5/min -j LOG --log-prefix \"dropped: \"\n-A LOGDROP -j DROP\n";
    let read = |text: String| {
        read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(text, "")).unwrap()
    };
    let text = script(&read(saved(logdrop, "")), false);
    assert!(
        text.starts_with("iptables -w -I INPUT 2 -s 198.18.2.10"),
        "{text}"
    );
    for (what, logdrop, jump) in [
        (
            "returns",
            "-A LOGDROP -s 198.18.9.0/24 -j RETURN\n-A LOGDROP -j DROP\n",
            "",
        ),
        ("jumps on one interface", logdrop, "-i eth1 "),
        ("drops only some", "-A LOGDROP -p udp -j DROP\n", ""),
    ] {
        // Policy ACCEPT and no catch-all: the chain drops nothing for sure,
        // so portplan adds nothing (the port is open to everyone already).
        let text = script(&read(saved(logdrop, jump)), false);
        assert_eq!(text, "", "{what}");
    }
}

/// nftables alike: `jump logdrop` to `chain logdrop { log; drop }` is the
/// catch-all, and portplan's rule goes before it; a chain that returns, or a
/// jump on one interface only, is not.
#[test]
fn an_nft_jump_to_a_dropping_chain_is_the_catch_all() {
    let chain = r#"{"chain":{"family":"inet","table":"filter","name":"logdrop","handle":2}}"#;
    let rule = |handle: u64, chain: &str, expr: &str| {
        format!(
            r#"{{"rule":{{"family":"inet","table":"filter","chain":"{chain}","handle":{handle},"expr":[{expr}]}}}}"#
        )
    };
    let established = rule(
        3,
        "input",
        r#"{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}"#,
    );
    let jump = rule(4, "input", r#"{"jump":{"target":"logdrop"}}"#);
    let log = rule(10, "logdrop", r#"{"log":{"prefix":"dropped: "}}"#);
    let drop = rule(
        11,
        "logdrop",
        r#"{"counter":{"packets":0,"bytes":0}},{"drop":null}"#,
    );
    let ret = rule(
        9,
        "logdrop",
        r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.9.9"}},{"return":null}"#,
    );
    let on_eth1 = rule(
        4,
        "input",
        r#"{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth1"}},{"jump":{"target":"logdrop"}}"#,
    );
    let text = script(
        &nft_items(&[TABLE, chain, &established, &jump, &log, &drop]),
        false,
    );
    assert!(
        text.contains("insert rule inet filter input position 4 "),
        "{text}"
    );
    assert!(
        text.contains("ip saddr 198.18.2.10 tcp dport 2881 accept"),
        "{text}"
    );
    let vmap = rule(
        9,
        "logdrop",
        r#"{"vmap":{"key":{"ct":{"key":"state"}},"data":{"set":[["established",{"accept":null}]]}}}"#,
    );
    for (what, items) in [
        ("returns", [TABLE, chain, &established, &jump, &ret, &drop]),
        (
            "accepts by a verdict map",
            [TABLE, chain, &established, &jump, &vmap, &drop],
        ),
        (
            "jumps on one interface",
            [TABLE, chain, &established, &on_eth1, &log, &drop],
        ),
    ] {
        assert_eq!(script(&nft_items(&items), false), "", "{what}");
    }
}

/// A goto to a chain that does not drop everything, before any catch-all,
/// in an input chain that drops: the packet never comes back, so portplan's
/// rule after it would never see what the goto takes, and before it would
/// skip what that chain denies. Refused, naming the goto, with nothing
/// written, wherever the goto may take a planned packet: its conditions are
/// read wide (an interface other than `lo`, a hidden `xt` match, narrow
/// nothing), and so is each goto of a verdict map (inline or named), with
/// its key. Not
/// refused where it surely takes none (`lo`, established only, another
/// protocol, port or source), where the input chain drops
/// nothing (policy accept, no catch-all) or after a catch-all; to a chain
/// that drops everything it is a deny (unconditional: the catch-all).
#[test]
fn a_goto_before_portplans_place_is_refused_where_it_may_take_a_planned_packet() {
    let chain = r#"{"chain":{"family":"inet","table":"filter","name":"services","handle":2}}"#;
    let dropping = TABLE.replace(r#""policy":"accept""#, r#""policy":"drop""#);
    let rule = |handle: u64, chain: &str, expr: &str| {
        format!(
            r#"{{"rule":{{"family":"inet","table":"filter","chain":"{chain}","handle":{handle},"expr":[{expr}]}}}}"#
        )
    };
    let compare = |op: &str, left: &str, right: &str| {
        format!(r#"{{"match":{{"op":"{op}","left":{left},"right":{right}}}}},"#)
    };
    let matching = |left: &str, right: &str| compare("==", left, right);
    let goto_when = |conditions: &str| {
        rule(
            4,
            "input",
            &format!(r#"{conditions}{{"counter":null}},{{"goto":{{"target":"services"}}}}"#),
        )
    };
    let meta = |key: &str| format!(r#"{{"meta":{{"key":"{key}"}}}}"#);
    let payload = |protocol: &str, field: &str| {
        format!(r#"{{"payload":{{"protocol":"{protocol}","field":"{field}"}}}}"#)
    };
    let state = |right: &str| {
        format!(r#"{{"match":{{"op":"in","left":{{"ct":{{"key":"state"}}}},"right":{right}}}}},"#)
    };
    let ssh = rule(
        10,
        "services",
        r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}"#,
    );
    let refused_cases = [
        ("unconditional", String::new()),
        ("on an interface", matching(&meta("iifname"), r#""eth1""#)),
        ("new connections", state(r#""new""#)),
        ("tcp", matching(&meta("l4proto"), r#""tcp""#)),
        (
            "ports around the planned one",
            matching(&payload("tcp", "dport"), r#"{"range":[2000,3000]}"#),
        ),
        (
            "sources around the planned one",
            matching(
                &payload("ip", "saddr"),
                r#"{"prefix":{"addr":"198.18.0.0","len":15}}"#,
            ),
        ),
        (
            "a match the listing hides",
            r#"{"xt":{"type":"match","name":"mark"}},"#.to_string(),
        ),
        (
            "ports from 1024 up",
            compare(">=", &payload("tcp", "dport"), "1024"),
        ),
        ("tcp by its number", matching(&meta("l4proto"), "6")),
        (
            "a named set of protocols",
            matching(&meta("l4proto"), r#""@protocols""#),
        ),
    ];
    for (what, conditions) in refused_cases {
        let goto = goto_when(&conditions);
        let refused = plan_firewall(
            &desired(),
            &nft_items(&[&dropping, chain, &goto, &ssh]),
            false,
        )
        .unwrap_err();
        assert_eq!(refused.problems.len(), 1, "{what}: {refused:?}");
        let problem = &refused.problems[0];
        assert!(
            problem.path.starts_with("state.nftables.foreign[")
                && problem.value == "inet filter input handle 4: goto services"
                && problem
                    .message
                    .contains("sends the packets it matches to chain services for good")
                && problem
                    .message
                    .contains("198.18.2.10/32 on tcp 2881 for portplan:observer.sql"),
            "{what}: {refused:?}"
        );
    }
    let added = "add rule inet filter input ip saddr 198.18.2.10";
    // A verdict map's gotos, each with its key.
    let vmap = |key: &str, value: &str| {
        rule(
            4,
            "input",
            &format!(
                r#"{{"vmap":{{"key":{key},"data":{{"set":[[{value},{{"goto":{{"target":"services"}}}}],[1,{{"jump":{{"target":"services"}}}}]]}}}}}}"#
            ),
        )
    };
    for key in [
        r#""tcp""#,
        r#"{"elem":{"val":"tcp","comment":"x"}}"#,
        r#""*""#,
    ] {
        let on_tcp = vmap(&meta("l4proto"), key);
        let refused = plan_firewall(
            &desired(),
            &nft_items(&[&dropping, chain, &on_tcp, &ssh]),
            false,
        )
        .unwrap_err();
        assert!(
            refused.problems.len() == 1
                && refused.problems[0].value == "inet filter input handle 4: goto services",
            "{key}: {refused:?}"
        );
    }
    // A named verdict map: its elements, read from the ruleset.
    let named = |proto: &str| {
        format!(
            r#"{{"map":{{"family":"inet","table":"filter","name":"protocols","type":"inet_proto","handle":3,"map":"verdict","elem":[["{proto}",{{"goto":{{"target":"services"}}}}]]}}}}"#
        )
    };
    let by_name = rule(
        4,
        "input",
        &format!(
            r#"{{"vmap":{{"key":{},"data":"@protocols"}}}}"#,
            meta("l4proto")
        ),
    );
    let refused = plan_firewall(
        &desired(),
        &nft_items(&[&dropping, chain, &named("tcp"), &by_name, &ssh]),
        false,
    )
    .unwrap_err();
    assert!(
        refused.problems.len() == 1
            && refused.problems[0].value == "inet filter input handle 4: goto services",
        "{refused:?}"
    );
    let text = script(
        &nft_items(&[&dropping, chain, &named("udp"), &by_name, &ssh]),
        false,
    );
    assert!(text.contains(added), "a named map's goto on udp: {text}");
    for (what, map) in [
        ("a map's goto on udp", vmap(&meta("l4proto"), r#""udp""#)),
        (
            "a map's goto on port 22",
            vmap(&payload("tcp", "dport"), "22"),
        ),
        (
            "a map's goto on other sources",
            vmap(
                &payload("ip", "saddr"),
                r#"{"prefix":{"addr":"10.0.0.0","len":8}}"#,
            ),
        ),
    ] {
        let text = script(&nft_items(&[&dropping, chain, &map, &ssh]), false);
        assert!(text.contains(added), "{what}: {text}");
    }
    let taken_none = [
        ("loopback only", matching(&meta("iifname"), r#""lo""#)),
        ("established only", state(r#"["established","related"]"#)),
        ("udp only", matching(&meta("l4proto"), r#""udp""#)),
        ("another port", matching(&payload("tcp", "dport"), "22")),
        (
            "other sources",
            matching(
                &payload("ip", "saddr"),
                r#"{"prefix":{"addr":"10.0.0.0","len":8}}"#,
            ),
        ),
        (
            "IPv6 sources",
            matching(&payload("ip6", "saddr"), r#""::1""#),
        ),
    ];
    for (what, conditions) in taken_none {
        let goto = goto_when(&conditions);
        let text = script(&nft_items(&[&dropping, chain, &goto, &ssh]), false);
        assert!(text.contains(added), "{what}: {text}");
    }
    let goto = goto_when("");
    // portplan's rule already before the goto works: nothing to add, so
    // nothing refused.
    let intact = nft_rule(3, "==", r#""198.18.2.10""#, "accept");
    assert_eq!(
        script(&nft_items(&[&dropping, chain, &intact, &goto, &ssh]), false),
        ""
    );
    // Behind it (a goto put in later), it never sees a packet: not intact,
    // so adding it again is refused.
    let behind = nft_rule(5, "==", r#""198.18.2.10""#, "accept");
    let refused = plan_firewall(
        &desired(),
        &nft_items(&[&dropping, chain, &goto, &behind, &ssh]),
        false,
    )
    .unwrap_err();
    assert!(
        refused.problems[0].value == "inet filter input handle 4: goto services",
        "{refused:?}"
    );
    // Taking the rules out is never refused.
    assert!(
        plan_firewall(
            &desired(),
            &nft_items(&[&dropping, chain, &goto, &ssh]),
            true
        )
        .is_ok()
    );
    // Nothing dropped: no rule is written, nothing to refuse.
    assert_eq!(script(&nft_items(&[TABLE, chain, &goto, &ssh]), false), "");
    // After a catch-all: portplan's rule goes before the catch-all.
    let reject = rule(3, "input", r#"{"reject":null}"#);
    let text = script(&nft_items(&[&dropping, chain, &reject, &goto, &ssh]), false);
    assert!(
        text.contains("insert rule inet filter input position 3 "),
        "{text}"
    );
    // To a chain that drops everything: unconditional, the catch-all; on
    // the planned port, a deny (as `tcp dport 2881 drop` would be).
    let drop = rule(11, "services", r#"{"drop":null}"#);
    let text = script(&nft_items(&[&dropping, chain, &goto, &drop]), false);
    assert!(
        text.contains("insert rule inet filter input position 4 "),
        "{text}"
    );
    let on_port = goto_when(&matching(&payload("tcp", "dport"), "2881"));
    let text = script(&nft_items(&[&dropping, chain, &on_port, &drop]), false);
    assert!(text.contains(added), "{text}");
}

/// iptables alike: a `-g SERVICES` in a dropping INPUT that may take the
/// planned packet is refused, read wide; `-j SERVICES` (which returns), a
/// goto that surely takes none and a goto in an INPUT that drops nothing
/// are not.
#[test]
fn an_iptables_goto_before_portplans_place_is_refused_where_it_may_take_a_planned_packet() {
    let saved = |policy: &str, rule: &str| {
        format!(
            "*filter\n:INPUT {policy} [0:0]\n:SERVICES - [0:0]\n\
             -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT {rule}\n\
             -A SERVICES -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
        )
    };
    let read = |text: String| {
        read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(text, "")).unwrap()
    };
    for rule in [
        "-g SERVICES",
        "-i eth1 -g SERVICES",
        "-m conntrack --ctstate NEW -g SERVICES",
        "-p tcp -m tcp --dport 2000:3000 -g SERVICES",
        "-s 198.18.0.0/15 -g SERVICES",
        "-m mark --mark 0x1 -g SERVICES",
        "-p 6 -g SERVICES",
        "-m conntrack --ctstate DNAT -g SERVICES",
        r#"-m comment --comment "--state" -g SERVICES"#,
    ] {
        let refused = plan_firewall(&desired(), &read(saved("DROP", rule)), false).unwrap_err();
        assert_eq!(refused.problems.len(), 1, "{rule}: {refused:?}");
        assert!(
            refused.problems[0].value == format!("iptables -A INPUT {rule}")
                && refused.problems[0]
                    .message
                    .contains("sends the packets it matches to chain SERVICES for good"),
            "{rule}: {refused:?}"
        );
    }
    for (what, policy, rule) in [
        ("a jump returns", "DROP", "-j SERVICES"),
        ("loopback only", "DROP", "-i lo -g SERVICES"),
        (
            "established only",
            "DROP",
            "-m conntrack --ctstate RELATED,ESTABLISHED -g SERVICES",
        ),
        ("udp only", "DROP", "-p udp -g SERVICES"),
        (
            "another port",
            "DROP",
            "-p tcp -m tcp --dport 22 -g SERVICES",
        ),
        ("other sources", "DROP", "-s 10.0.0.0/8 -g SERVICES"),
    ] {
        let text = script(&read(saved(policy, rule)), false);
        assert!(
            text.starts_with("iptables -w -A INPUT -s 198.18.2.10"),
            "{what}: {text}"
        );
    }
    assert_eq!(script(&read(saved("ACCEPT", "-g SERVICES")), false), "");
    // portplan's rule already before the goto works: nothing refused.
    let intact = "-s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment \
                  portplan:observer.sql -j ACCEPT";
    let before = format!("{intact}\n-A INPUT -g SERVICES");
    assert_eq!(script(&read(saved("DROP", &before)), false), "");
    // Behind it (a goto put in later): not intact, adding it again refused.
    let behind = format!("-g SERVICES\n-A INPUT {intact}");
    let refused = plan_firewall(&desired(), &read(saved("DROP", &behind)), false).unwrap_err();
    assert!(
        refused.problems[0].value == "iptables -A INPUT -g SERVICES",
        "{refused:?}"
    );
}
