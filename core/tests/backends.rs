//! Firewall backends on captured real output (nftables 1.0.6, iptables 1.8.9):
//! reading, the diff, and the exact commands. Foreign rules are never touched.

#![allow(clippy::unwrap_used)]

mod support;

use portplan_core::{
    ChainId, FirewallBackend, FirewallOutput, FirewallRule, FirewallState, IpFamily, NftFamily,
    PortRange, Transport,
};
use portplan_core::{plan_firewall, read_firewall};
use support::{ipt, nft as nft_state};

const NFT: &str = include_str!("captured/nft-debian-drop.json");
const IPT4: &str = include_str!("captured/iptables-save-v4.txt");
const IPT6: &str = include_str!("captured/iptables-save-v6.txt");

fn rule(spec: &str, ports: PortRange, sources: &[&str]) -> FirewallRule {
    FirewallRule {
        host: "obs1".into(),
        spec: spec.into(),
        tag: format!("portplan:{spec}"),
        transport: Transport::Tcp,
        ports,
        sources: sources.iter().map(|s| s.to_string()).collect(),
        purpose: String::new(),
    }
}

fn p(first: u16, last: u16) -> PortRange {
    PortRange { first, last }
}

/// The rules the captured rulesets already hold, as desired rules.
fn as_captured() -> Vec<FirewallRule> {
    vec![
        rule("observer.sql", p(2881, 2881), &["198.18.2.10/32"]),
        rule(
            "observer.rpc",
            p(2882, 2882),
            &["198.18.2.12/31", "198.18.2.20/32"],
        ),
        rule("ocp-agent.metrics", p(62881, 63881), &["2001:db8::/64"]),
    ]
}

fn nft() -> FirewallState {
    read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(NFT, "")).unwrap()
}

#[test]
fn nftables_state_is_read_from_nft_json() {
    let state = nft();
    let state = nft_state(&state);
    assert_eq!(
        state.chains.len(),
        1,
        "only the input hook chain filters input: {:?}",
        state.chains
    );
    let chain = &state.chains[0];
    assert_eq!(
        (chain.family, chain.table.as_str(), chain.name.as_str()),
        (NftFamily::Inet, "filter", "input")
    );
    assert!(chain.drops);
    assert_eq!(
        chain.insert_before,
        Some(10),
        "the catch-all reject's handle"
    );
    let found: Vec<(ChainId, &str, &str, u64, Option<&str>)> = state
        .found
        .iter()
        .map(|f| {
            (
                f.chain,
                f.rule.tag.as_str(),
                f.rule.source.as_str(),
                f.handle,
                f.set.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                ChainId(0),
                "portplan:observer.sql",
                "198.18.2.10/32",
                7,
                None
            ),
            (
                ChainId(0),
                "portplan:observer.rpc",
                "198.18.2.12/31",
                8,
                Some("portplan_observer_rpc_v4")
            ),
            (
                ChainId(0),
                "portplan:observer.rpc",
                "198.18.2.20/32",
                8,
                Some("portplan_observer_rpc_v4")
            ),
            (
                ChainId(0),
                "portplan:ocp-agent.metrics",
                "2001:db8::/64",
                9,
                None
            ),
        ]
    );
    assert_eq!(state.found[3].rule.family, IpFamily::Ipv6);
    assert_eq!(state.found[3].rule.ports, p(62881, 63881));
    // ssh is open to everyone; portplan's rules are open to their sources.
    let ssh = state.open.iter().find(|o| o.ports == p(22, 22)).unwrap();
    assert!(ssh.sources.is_empty() && ssh.tag.is_none());
}

#[test]
fn iptables_state_is_read_from_iptables_save() {
    let read = read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(IPT4, IPT6)).unwrap();
    let state = ipt(&read);
    let chains: Vec<(IpFamily, bool, Option<u32>)> = state
        .chains
        .iter()
        .map(|c| (c.family, c.drops, c.insert_before))
        .collect();
    assert_eq!(
        chains,
        [
            (IpFamily::Ipv4, true, Some(6)),
            (IpFamily::Ipv6, false, None)
        ]
    );
    let found: Vec<(ChainId, &str, &str, u32)> = state
        .found
        .iter()
        .map(|f| {
            (
                f.chain,
                f.rule.tag.as_str(),
                f.rule.source.as_str(),
                f.number,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (ChainId(0), "portplan:observer.sql", "198.18.2.10/32", 4),
            (
                ChainId(0),
                "portplan:ocp-agent.metrics",
                "198.18.2.10/32",
                5
            ),
            (ChainId(1), "portplan:ocp-agent.metrics", "2001:db8::/64", 1),
        ]
    );
    assert_eq!(
        state.found[0].saved.join(" "),
        "-s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -m comment --comment portplan:observer.sql -j ACCEPT"
    );
}

#[test]
fn an_unchanged_host_needs_no_command() {
    let change = plan_firewall(&as_captured(), &nft(), false).unwrap();
    assert!(
        change.add.is_empty() && change.remove.is_empty(),
        "{change:#?}"
    );
    assert!(change.commands.is_empty());
}

#[test]
fn nftables_changes_are_one_transaction_touching_only_tagged_rules() {
    let mut desired = as_captured();
    desired[0].sources = vec!["198.18.2.10/32".into(), "198.18.2.11/32".into()].into();
    desired.remove(1);
    desired.push(rule(
        "ocp-server.http",
        p(8080, 8080),
        &[
            "198.18.2.11/32",
            "198.18.2.12/32",
            "198.18.2.13/32",
            "198.18.60.0/24",
        ],
    ));
    let change = plan_firewall(&desired, &nft(), false).unwrap();
    assert_eq!(change.commands.len(), 1);
    assert_eq!(change.commands[0].argv, ["nft", "-f", "-"]);
    assert_eq!(
        change.commands[0].stdin.as_deref().unwrap(),
        "delete rule inet filter input handle 7\n\
         delete rule inet filter input handle 8\n\
         delete set inet filter portplan_observer_rpc_v4\n\
         insert rule inet filter input position 10 ip saddr { 198.18.2.10, 198.18.2.11 } tcp dport 2881 accept comment \"portplan:observer.sql\"\n\
         create set inet filter portplan_ocp_server_http_f06784b7_v4 { type ipv4_addr; flags interval; comment \"portplan:ocp-server.http\"; }\n\
         add element inet filter portplan_ocp_server_http_f06784b7_v4 { 198.18.2.11, 198.18.2.12, 198.18.2.13, 198.18.60.0/24 }\n\
         insert rule inet filter input position 10 ip saddr @portplan_ocp_server_http_f06784b7_v4 tcp dport 8080 accept comment \"portplan:ocp-server.http\"\n"
    );
    assert_eq!(
        change.remove.len(),
        2,
        "the two rpc sources: {:#?}",
        change.remove
    );
    assert_eq!(change.add.len(), 5);
}

#[test]
fn iptables_inserts_before_the_reject_and_deletes_by_saved_spec() {
    let state = read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(IPT4, IPT6)).unwrap();
    let desired = vec![
        rule("observer.sql", p(2881, 2881), &["198.18.2.10/32"]),
        rule(
            "ocp-server.http",
            p(8080, 8080),
            &["198.18.2.11/32", "2001:db8::5/128"],
        ),
    ];
    let change = plan_firewall(&desired, &state, false).unwrap();
    let commands: Vec<String> = change.commands.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(
        commands,
        [
            "iptables -w -D INPUT -s 198.18.2.10/32 -p tcp -m multiport --dports 62881:63881 -m comment --comment portplan:ocp-agent.metrics -j ACCEPT",
            "ip6tables -w -D INPUT -s 2001:db8::/64 -p tcp -m tcp --dport 62881:63881 -m comment --comment portplan:ocp-agent.metrics -j ACCEPT",
            // Rule 5 went, so the reject moved from 6 to 5.
            "iptables -w -I INPUT 5 -s 198.18.2.11/32 -p tcp -m tcp --dport 8080 -m comment --comment portplan:ocp-server.http -j ACCEPT",
        ]
    );
    // ip6tables' INPUT accepts everything: no IPv6 rule, and a note saying why.
    assert_eq!(change.notes.len(), 1);
    assert!(change.notes[0].contains("IPv6"), "{:?}", change.notes);
}

#[test]
fn remove_all_removes_exactly_portplans_rules() {
    let change = plan_firewall(&as_captured(), &nft(), true).unwrap();
    let script = change.commands[0].stdin.clone().unwrap();
    assert_eq!(
        script,
        "delete rule inet filter input handle 7\ndelete rule inet filter input handle 8\n\
         delete rule inet filter input handle 9\ndelete set inet filter portplan_observer_rpc_v4\n"
    );
    assert!(change.add.is_empty());
    assert_eq!(change.remove.len(), 4);
}

#[test]
fn tags_from_the_plan_cannot_inject_syntax() {
    let mut desired = as_captured();
    desired[0].tag = "portplan:x\" drop; flush ruleset; #".repeat(4);
    let change = plan_firewall(&desired, &nft(), false).unwrap();
    let script = change.commands[0].stdin.clone().unwrap();
    let tag = &change.add[0].tag;
    assert!(
        tag.len() <= 64 && !tag.contains('"') && !tag.contains(';') && !tag.contains(' '),
        "{tag}"
    );
    assert!(!script.contains("flush ruleset;"), "{script}");
}

#[test]
fn a_host_without_filtering_gets_a_note_not_rules() {
    let open = r#"{"nftables": [{"table": {"family": "inet", "name": "t", "handle": 1}},
        {"chain": {"family": "inet", "table": "t", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}]}"#;
    let state = read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(open, "")).unwrap();
    let change = plan_firewall(&as_captured(), &state, false).unwrap();
    assert!(change.commands.is_empty() && change.add.is_empty());
    assert_eq!(change.notes.len(), 2, "{:?}", change.notes);
}

/// nftables `listed` as read, and its open ports, one line each.
fn read_open(listed: &str) -> (FirewallState, Vec<String>) {
    let state = read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(listed, "")).unwrap();
    let open = support::open_lines(&state);
    (state, open)
}

/// A verdict map's accepts (`tcp dport vmap { 22 : accept, 2883 : accept
/// }`, by concatenated key, by source) opened nothing the audit saw (an
/// adversarial review): each accepting element opens what the rule matched
/// so far and its key. As nft 1.0.6 lists them; a drop element opens
/// nothing.
#[test]
fn a_verdict_maps_accepts_are_open() {
    let listed = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3, "expr": [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[22, {"accept": null}], [2883, {"accept": null}], [9999, {"drop": null}]]}}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"vmap": {"key": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "data": {"set": [[{"concat": ["198.18.2.10", 2884]}, {"accept": null}]]}}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"vmap": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "data": {"set": [[{"prefix": {"addr": "198.18.3.0", "len": 24}}, {"accept": null}]]}}}]}}]}"#;
    let (_, open) = read_open(listed);
    assert_eq!(
        open,
        [
            "Tcp 22 []",
            "Tcp 2883 []",
            r#"Tcp 2884 ["198.18.2.10/32"]"#,
            r#"Tcp 1-65535 ["198.18.3.0/24"]"#,
            r#"Udp 1-65535 ["198.18.3.0/24"]"#,
        ]
    );
    // An element with a comment or a counter (`{"elem": {"val": ...}}`), a
    // named map's accepts merged into one entry, and `ct state vmap`
    // (opens nothing new, and no longer hides the deny after it).
    let listed = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"map": {"family": "inet", "name": "admins", "table": "filter", "type": "ipv4_addr", "handle": 2, "map": "verdict", "flags": ["interval"], "elem": [[{"elem": {"val": "198.18.5.1", "counter": {"packets": 0, "bytes": 0}}}, {"accept": null}], [{"elem": {"val": "198.18.5.2", "counter": {"packets": 0, "bytes": 0}}}, {"accept": null}], [{"elem": {"val": {"prefix": {"addr": "198.18.6.0", "len": 24}}, "counter": {"packets": 0, "bytes": 0}}}, {"accept": null}]], "stmt": [{"counter": null}]}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["invalid", {"drop": null}], ["established", {"accept": null}], ["related", {"accept": null}]]}}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"vmap": {"key": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "data": {"set": [[{"elem": {"val": {"concat": ["198.18.2.10", 2884]}, "comment": "admin"}}, {"accept": null}]]}}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"vmap": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "data": "@admins"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "198.18.0.0", "len": 16}}}}, {"drop": null}]}}]}"#;
    let (state, open) = read_open(listed);
    assert_eq!(
        open,
        [
            r#"Tcp 2884 ["198.18.2.10/32"]"#,
            r#"Tcp 22 ["198.18.5.1/32", "198.18.5.2/32", "198.18.6.0/24"]"#,
        ]
    );
    let planned = [rule("observer.sql", p(2881, 2881), &["198.18.2.10/32"])];
    let change = plan_firewall(&planned, &state, false).unwrap();
    assert!(
        change.notes.iter().any(|n| n.contains("198.18.0.0/16")),
        "{:?}",
        change.notes
    );
}

/// The accepts of a chain an input chain jumps or goes to opened nothing
/// the audit saw (a review: `tcp dport 5432 accept` in a chain reached by
/// `meta l4proto vmap { tcp : jump tcp_in }`). Each is read narrowed by
/// what the handing rule matched (`ip saddr @admins jump from_admins`; a
/// rule's own sources are taken whole, read wide): none after the chain's
/// bare `return` or `goto`, none of a chain jumped to after the catch-all.
/// Walked depth first, a chain's last jump first. Real nft 1.0.6 output
/// of `captured/nft-1.0.6-jumps.json`'s ruleset:
///
/// ```text
/// map svc { type inet_service : verdict; elements = { 9100 : jump metrics } }
/// chain metrics { accept }
/// chain tcp_in { tcp dport vmap @svc; tcp dport 5432 accept;
///                ip saddr 198.18.9.0/24 tcp dport 2881 accept;
///                ct state established accept; return; tcp dport 6000 accept }
/// chain from_admins { tcp dport 22 accept; goto deeper; tcp dport 7000 accept }
/// chain deeper { udp dport 53 accept }
/// chain late { tcp dport 8000 accept }
/// chain input { policy drop; meta l4proto vmap { tcp : jump tcp_in };
///               ip saddr @admins jump from_admins;   # { 198.18.5.0/24 }
///               ip saddr 198.18.7.0/24 jump tcp_in; drop; jump late }
/// ```
#[test]
fn the_accepts_of_a_chain_jumped_to_are_open() {
    let (_, open) = read_open(include_str!("captured/nft-1.0.6-jumps.json"));
    assert_eq!(
        open,
        [
            r#"Tcp 5432 ["198.18.7.0/24"]"#,
            // Apart from the jump's 198.18.7.0/24 (so it admits nothing
            // that way), but read whole: wide.
            r#"Tcp 2881 ["198.18.9.0/24"]"#,
            r#"Tcp 9100 ["198.18.7.0/24"]"#,
            r#"Tcp 22 ["198.18.5.0/24"]"#,
            r#"Udp 53 ["198.18.5.0/24"]"#,
            "Tcp 5432 []",
            r#"Tcp 2881 ["198.18.9.0/24"]"#,
            "Tcp 9100 []",
        ]
    );
    // iptables: `-j` and `-g` to user chains, as iptables-save writes them;
    // a conditional `-g` goes on to the rules after it (a review: it ended
    // the chain's reading).
    let saved = "*filter\n:INPUT DROP [0:0]\n:TRUSTED - [0:0]\n:TCP - [0:0]\n\
        -A INPUT -s 198.18.7.0/24 -j TRUSTED\n-A INPUT -p tcp -g TCP\n\
        -A INPUT -j DROP\n-A INPUT -j TRUSTED\n\
        -A TRUSTED -p udp -g UDP\n-A TRUSTED -p tcp -m tcp --dport 5432 -j ACCEPT\n\
        -A TRUSTED -s 198.18.9.0/24 -p tcp -m tcp --dport 2881 -j ACCEPT\n\
        -A TRUSTED -j RETURN\n-A TRUSTED -p tcp -m tcp --dport 6000 -j ACCEPT\n\
        -A TCP -p udp -m udp --dport 53 -j ACCEPT\n-A TCP -p tcp -m tcp --dport 8080 -j ACCEPT\n\
        -A TCP -m conntrack --ctstate ESTABLISHED -j ACCEPT\n\
        -A UDP -p udp -m udp --dport 53 -j ACCEPT\nCOMMIT\n";
    let state = read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, "")).unwrap();
    let open = support::open_lines(&state);
    assert_eq!(
        open,
        [
            "Tcp 8080 []",
            r#"Tcp 5432 ["198.18.7.0/24"]"#,
            r#"Tcp 2881 ["198.18.9.0/24"]"#,
            r#"Udp 53 ["198.18.7.0/24"]"#,
        ]
    );
}

/// Chains that jump to each other, or to one chain twice level after
/// level, are no ruleset a kernel loads, but the text read need not come
/// from one: each chain is walked once per distinct jump (a bounded
/// number of them), and past the walk's bound the firewall reads as open
/// (wide), in two entries.
#[test]
fn chains_that_jump_in_a_loop_are_read_in_bounded_time() {
    let listing = |rules: &[(String, String)]| {
        let rules: String = (rules.iter())
            .map(|(chain, expr)| format!(r#", {{"rule": {{"family": "inet", "table": "t", "chain": "{chain}", "expr": [{expr}]}}}}"#))
            .collect();
        format!(
            r#"{{"nftables": [{{"table": {{"family": "inet", "name": "t"}}}}, {{"chain": {{"family": "inet", "table": "t", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}}}{rules}]}}"#
        )
    };
    let jump = |to: &str| format!(r#"{{"jump": {{"target": "{to}"}}}}"#);
    let not_port = |port: u32| {
        format!(
            r#"{{"match": {{"op": "!=", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}}, "right": {port}}}}}, "#
        )
    };
    // Each level jumps to the next twice, the last back to the first:
    // walked once per chain, the accept read once.
    let mut rules = vec![("input".to_string(), jump("c0"))];
    for level in 0..40 {
        let next = format!("c{}", level + 1);
        rules.push((format!("c{level}"), jump(&next)));
        rules.push((format!("c{level}"), jump(&next)));
    }
    rules.push(("c40".into(), jump("c0")));
    let accept = r#"{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}"#;
    rules.push(("c40".into(), accept.into()));
    assert_eq!(read_open(&listing(&rules)).1, ["Tcp 22 []"]);
    // Twice again, but one of the two jumps leaves a port out: 2^30 ways
    // to reach the last chain, each a distinct jump. Each chain is walked
    // for a bounded number of them, the rest read wide.
    let mut rules = vec![("input".to_string(), jump("c0"))];
    for level in 0..30 {
        let next = format!("c{}", level + 1);
        rules.push((format!("c{level}"), jump(&next)));
        rules.push((format!("c{level}"), not_port(1000 + level) + &jump(&next)));
    }
    rules.push(("c30".into(), accept.into()));
    let (_, open) = read_open(&listing(&rules));
    assert!(open.contains(&"Tcp 22 []".to_string()), "{open:?}");
    assert!(open.len() < 100_000, "{}", open.len());
    // A jump on 32,768 port ranges to a chain of 100 accepts: each accept
    // made as many entries (a review: 10,000 such accepts were 328 million
    // entries before the bound was asked). Past the bound, two entries.
    let odd: Vec<String> = (0..32_768).map(|i| (2 * i + 1).to_string()).collect();
    let odd = format!(
        r#"{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}}, "right": {{"set": [{}]}}}}}}, "#,
        odd.join(", ")
    );
    let mark = r#"{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, {"accept": null}"#;
    let mut rules = vec![("input".to_string(), odd + &jump("c"))];
    rules.extend((0..100).map(|_| ("c".to_string(), mark.to_string())));
    let (_, open) = read_open(&listing(&rules));
    assert_eq!(open, ["Tcp 1-65535 []", "Udp 1-65535 []"]);
}

/// Output that names a key twice in one object is not nft's (it never
/// does), and either value would be a guess: a chain's policy given as
/// `drop`, then `accept`, is refused with the key named, not read as
/// either.
#[test]
fn nft_output_with_a_repeated_key_is_refused() {
    let twice = r#"{"nftables": [{"table": {"family": "inet", "name": "t", "handle": 1}},
        {"chain": {"family": "inet", "table": "t", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop", "policy": "accept"}}]}"#;
    let e = read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(twice, "")).unwrap_err();
    assert_eq!(
        e.problems[0].message, "not `nft -j list ruleset` output: the key `policy` is repeated",
        "{e}"
    );
    let once = twice.replace(r#", "policy": "accept""#, "");
    assert!(read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(&once, "")).is_ok());
}

#[test]
fn bad_backend_output_is_rejected() {
    let e = read_firewall(
        FirewallBackend::Nftables,
        &FirewallOutput::new("table inet filter {", ""),
    )
    .unwrap_err();
    assert!(
        e.problems[0]
            .message
            .starts_with("not `nft -j list ruleset` output"),
        "{e}"
    );
    let e = read_firewall(
        FirewallBackend::Iptables,
        &FirewallOutput::new(
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -m comment --comment \"x -j ACCEPT\n",
            "",
        ),
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "main:3");
    let e = read_firewall(FirewallBackend::Firewalld, &FirewallOutput::new("", "")).unwrap_err();
    assert!(e.problems[0].message.contains("no zones"), "{e}");
    let e = read_firewall(
        FirewallBackend::Ufw,
        &FirewallOutput::new("Firewall loaded", ""),
    )
    .unwrap_err();
    assert!(e.problems[0].message.contains("Status:"), "{e}");
}

/// What both captures of the test below hold besides what is open:
/// nothing open is tagged, portplan's accept moved after the catch-all
/// (`found`, as tag and intactness) is found and not intact, and the drop
/// from 198.18.9.0/24 after the returns read as accepts is still ahead of
/// where portplan's rules go (a return read as an accept is asked as one).
fn assert_read_as_accepts(
    state: &FirewallState,
    found: Vec<(&str, bool)>,
    foreign: &[portplan_core::ForeignRule],
) {
    assert!(
        state.open().iter().all(|o| o.tag.is_none()),
        "{:?}",
        state.open()
    );
    assert_eq!(found, [("portplan:late", false)]);
    let drop = (foreign.iter())
        .find(|f| f.source == "198.18.9.0/24" && f.action.eq_ignore_ascii_case("drop"))
        .unwrap();
    assert!(!drop.ahead.is_empty(), "{drop:?}");
}

/// What an input chain lets in is what its rules before the catch-all
/// accept, and what it hands to an accepting policy: an accept after the
/// catch-all sees no packet (`iptables -A INPUT ... ACCEPT` after the
/// reject, a common mistake, was read as open: a false alarm), and a
/// `return` from INPUT (a rule's, a verdict map element's), or from a
/// chain INPUT went to (`-g`, `goto`: no caller to return to), or the end
/// of such a chain, admits what it matches under an `ACCEPT` policy (read
/// as nothing: a port open while the audit said green). A chain jumped to
/// returns to INPUT; under a `DROP` policy a return drops. A tagged
/// `return` opens its port as nobody's and is not portplan's rule;
/// portplan's accept moved after the catch-all is found, not intact, and
/// opens nothing. Real iptables 1.8.9 and nft 1.0.6 output of these
/// rulesets (each nft one alone: an accept in one base chain is asked of
/// the next at its hook too, which the reader does not follow).
#[test]
fn an_input_chain_lets_in_what_it_accepts_before_its_catch_all_and_returns_to_an_accepting_policy()
{
    let v4 = include_str!("captured/iptables-1.8.9-return-v4.txt");
    let v6 = include_str!("captured/iptables-1.8.9-return-v6.txt");
    let state = read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(v4, v6)).unwrap();
    // v4, policy ACCEPT: 2882 and 2887 by RETURN; 2900 by WEB's RETURN,
    // gone to from G1, gone to; not 2899 (J1, jumped to, goes to WEB: it
    // returns to INPUT), nor by the jump to WEB; 2902 by SSH's accept
    // alone (its jump to LOGDROP drops the rest); 2901 at once (EMPTY has
    // no rule); 2898 at the end of A,
    // gone to (not its jump to JUMPED, whose RETURN is to A); 2893 by
    // FALL's accept and at its end; 2892 by WEB's RETURN; not 2895 (JUMPED
    // returns to INPUT), nor 2883, 2889, 2884, 2896 after the reject. v6,
    // policy DROP: 2885 by ACCEPT; not 2888 (RETURN), 2894 (a goto to a
    // chain that returns), nor 2886 after the jump to LOGDROP, which drops
    // everything.
    assert_eq!(
        support::open_lines(&state),
        [
            "Tcp 2882 []",
            "Tcp 2887 []",
            "Tcp 2900 []",
            r#"Tcp 2902 ["10.0.0.0/8"]"#,
            "Tcp 2901 []",
            "Tcp 2898 []",
            r#"Tcp 2893 ["10.0.0.0/8"]"#,
            "Tcp 2893 []",
            "Tcp 2892 []",
            "Tcp 2885 []",
        ]
    );
    let ipt = ipt(&state);
    let found = (ipt.found.iter()).map(|f| (f.rule.tag.as_str(), f.intact));
    assert_read_as_accepts(&state, found.collect(), &ipt.foreign);

    // Policy accept: 2882 and 2887 by return, 2890 and 2891 by the map's
    // accept and return (the drop after that map is still ahead); 2902,
    // 2901 and 2898 as in iptables (ssh, empty, a); 2903 by web's return
    // (the map's goto), not 2904 (its jump); 2900 by web's return (gone to
    // from g1, gone to); not 2899 (j1, jumped to, goes to web) nor by the
    // jump to web; 2893 by fall's accept and at its end, 2892 by web's
    // return; not 2895 (jumped returns to input), nor 2883, 2889, 2884, the
    // map's 2886 or 2896 after the drop.
    let (state, open) = read_open(include_str!("captured/nft-1.0.6-return.json"));
    assert_eq!(
        open,
        [
            "Tcp 2882 []",
            "Tcp 2887 []",
            "Tcp 2890 []",
            "Tcp 2891 []",
            r#"Tcp 2902 ["10.0.0.0/8"]"#,
            "Tcp 2901 []",
            "Tcp 2898 []",
            "Tcp 2900 []",
            r#"Tcp 2893 ["10.0.0.0/8"]"#,
            "Tcp 2893 []",
            "Tcp 2892 []",
            "Tcp 2903 []",
        ]
    );
    let nft = nft_state(&state);
    let found = (nft.found.iter()).map(|f| (f.rule.tag.as_str(), f.intact));
    assert_read_as_accepts(&state, found.collect(), &nft.foreign);
    // Policy drop: 2885 by accept; not 2888 or the map's 2897 (return), nor
    // 2894 (a goto to a chain that returns).
    let (_, open) = read_open(include_str!("captured/nft-1.0.6-return-drop.json"));
    assert_eq!(open, ["Tcp 2885 []"]);
}
