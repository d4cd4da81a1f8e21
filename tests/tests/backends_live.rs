//! The rendered firewall commands on the real tools, inside a network
//! namespace this test creates (the machine's own firewall is never touched):
//! apply, read back, plan again (nothing to do), remove everything portplan
//! added (the original ruleset comes back byte for byte). Needs root,
//! iproute2, nftables and iptables (scripts/setup installs them).

use std::process::Command;

use portplan_core::{
    FirewallBackend, FirewallOutput, FirewallRule, FirewallState, PortRange, Transport,
};

/// A network namespace that is deleted again when dropped.
struct Netns(String);

impl Netns {
    fn new(label: &str) -> Self {
        let name = format!("portplan-{label}-{}", std::process::id());
        run("ip", &["netns", "add", &name], None);
        Netns(name)
    }

    /// Whether `argv` succeeds in the namespace (its failure is no panic).
    fn succeeds(&self, argv: &[&str], stdin: Option<&str>) -> bool {
        use std::io::Write as _;
        let mut child = Command::new("ip")
            .args(["netns", "exec", self.0.as_str()])
            .args(argv)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ip starts");
        if let Some(text) = stdin {
            (child.stdin.take().expect("stdin"))
                .write_all(text.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait().expect("command ends").success()
    }

    /// The namespace's nftables ruleset as core reads it.
    fn read_nft(&self) -> FirewallState {
        portplan_core::read_firewall(
            FirewallBackend::Nftables,
            &FirewallOutput::new(self.exec(&["nft", "-j", "list", "ruleset"], None), ""),
        )
        .expect("reads")
    }

    fn exec(&self, argv: &[&str], stdin: Option<&str>) -> String {
        let mut full = vec!["netns", "exec", self.0.as_str()];
        full.extend(argv);
        run("ip", &full, stdin)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} does not start ({e}); run scripts/setup as root"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("command ends");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn desired() -> Vec<FirewallRule> {
    let rule = |spec: &str, first: u16, last: u16, sources: &[&str]| FirewallRule {
        host: "h".into(),
        spec: spec.into(),
        tag: format!("portplan:{spec}"),
        transport: Transport::Tcp,
        ports: PortRange { first, last },
        sources: sources.iter().map(|s| s.to_string()).collect(),
        purpose: String::new(),
    };
    vec![
        rule(
            "observer.sql",
            2881,
            2881,
            &["198.18.2.10/32", "198.18.50.0/24"],
        ),
        rule(
            "observer.rpc",
            2882,
            2882,
            &[
                "198.18.2.11/32",
                "198.18.2.12/31",
                "198.18.2.20/32",
                "198.18.2.30/32",
                "2001:db8::7/128",
            ],
        ),
        rule("ocp-agent.metrics", 62881, 63881, &["198.18.2.10/32"]),
    ]
}

/// Apply `change`'s commands in `ns`, each as an argv.
fn apply(ns: &Netns, state: &FirewallState, rules: &[FirewallRule], remove_all: bool) -> usize {
    let change = portplan_core::plan_firewall(rules, state, remove_all).expect("plans");
    for command in &change.commands {
        let argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
        ns.exec(&argv, command.stdin.as_deref());
    }
    change.commands.len()
}

#[test]
fn nftables_round_trip_on_the_real_nft() {
    let ns = Netns::new("nft");
    ns.exec(
        &["nft", "-f", "-"],
        Some(
            "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  iif \"lo\" accept\n  tcp dport 22 accept comment \"ssh\"\n  counter reject\n }\n}\ntable ip other {\n chain input { type filter hook input priority 10; policy accept; tcp dport 2881 drop comment \"foreign\"; }\n}\n",
        ),
    );
    let original = ns.exec(&["nft", "list", "ruleset"], None);

    assert_eq!(
        apply(&ns, &ns.read_nft(), &desired(), false),
        1,
        "one nft -f transaction"
    );
    let applied = ns.exec(&["nft", "list", "ruleset"], None);
    // The set's name carries a hash of the tag (unique per spec).
    assert!(
        applied.contains("ip saddr @portplan_observer_rpc_05a344f6_v4 tcp dport 2882 accept comment \"portplan:observer.rpc\""),
        "{applied}"
    );
    assert!(
        applied.contains("ip6 saddr 2001:db8::7 tcp dport 2882 accept"),
        "{applied}"
    );
    assert!(
        applied.contains("tcp dport 2881 drop comment \"foreign\""),
        "foreign rule kept: {applied}"
    );
    // Accepts go before the catch-all reject.
    assert!(
        applied.find("portplan:observer.sql").expect("added")
            < applied.find("counter packets").expect("reject kept"),
        "{applied}"
    );

    let state = ns.read_nft();
    assert_eq!(state.tagged().len(), 8, "{:#?}", state.tagged());
    assert_eq!(
        apply(&ns, &state, &desired(), false),
        0,
        "second run changes nothing"
    );

    // One more source: the set is deleted and created again, in the one
    // transaction.
    let mut more = desired();
    let mut sources = more[1].sources.to_vec();
    sources.push("198.18.2.40/32".into());
    more[1].sources = sources.into();
    assert_eq!(apply(&ns, &ns.read_nft(), &more, false), 1);
    assert!(
        ns.exec(&["nft", "list", "ruleset"], None)
            .contains("198.18.2.40"),
        "the new set holds the new source"
    );
    assert_eq!(apply(&ns, &ns.read_nft(), &more, false), 0);

    apply(&ns, &ns.read_nft(), &desired(), true);
    assert_eq!(
        ns.exec(&["nft", "list", "ruleset"], None),
        original,
        "remove-all restores the ruleset"
    );
}

/// A set already there under the name portplan would give its own (left
/// behind when its rule was deleted by hand, or someone else's): `create
/// set` fails the whole transaction, and the ruleset is as it was. `add
/// set` merged portplan's sources into it, or its stale members into
/// portplan's rule (an adversarial review).
#[test]
fn a_set_of_portplans_name_already_there_fails_the_whole_transaction() {
    let ns = Netns::new("nftset");
    ns.exec(
        &["nft", "-f", "-"],
        Some(
            "table inet filter {\n set portplan_observer_rpc_05a344f6_v4 { type ipv4_addr; flags interval; elements = { 203.0.113.0/24 } }\n chain input {\n  type filter hook input priority 0; policy drop;\n  counter reject\n }\n}\n",
        ),
    );
    let original = ns.exec(&["nft", "list", "ruleset"], None);
    let state = ns.read_nft();
    let change = portplan_core::plan_firewall(&desired(), &state, false).expect("plans");
    assert_eq!(change.commands.len(), 1, "one nft -f transaction");
    let command = &change.commands[0];
    let argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
    assert!(
        !ns.succeeds(&argv, command.stdin.as_deref()),
        "the transaction fails"
    );
    assert_eq!(ns.exec(&["nft", "list", "ruleset"], None), original);
}

/// portplan's own set (its comment) left behind when its rule was deleted
/// by hand, with a member nobody planned: the next run deletes it and makes
/// it anew in the one transaction (a review: `create set` failed every
/// later run), and a second run changes nothing.
#[test]
fn portplans_set_left_behind_is_made_anew() {
    let ns = Netns::new("nftleft");
    ns.exec(
        &["nft", "-f", "-"],
        Some(
            "table inet filter {\n set portplan_observer_rpc_05a344f6_v4 { type ipv4_addr; flags interval; comment \"portplan:observer.rpc\"; elements = { 203.0.113.0/24 } }\n chain input {\n  type filter hook input priority 0; policy drop;\n  counter reject\n }\n}\n",
        ),
    );
    assert_eq!(apply(&ns, &ns.read_nft(), &desired(), false), 1);
    let applied = ns.exec(&["nft", "list", "ruleset"], None);
    assert!(!applied.contains("203.0.113.0"), "{applied}");
    assert!(applied.contains("198.18.2.30"), "{applied}");
    assert_eq!(apply(&ns, &ns.read_nft(), &desired(), false), 0);
}

/// A dormant table: the kernel asks none of its chains, so its drop
/// policy drops nothing and portplan's rules in it admit nothing more.
/// Read as dropping (the flag was not read at all), the audit was green
/// over a host open to everyone (an adversarial review). nft 1.0.6 to
/// 1.0.9 print a table's one flag from freed memory: a wrong string or
/// JSON cut at `"flags":`; either is refused, naming why, never read as a
/// filtering table. A newer nft prints `dormant`, and no chain of it
/// filters.
#[test]
fn a_dormant_table_is_never_read_as_filtering() {
    let ns = Netns::new("nftdormant");
    ns.exec(
        &["nft", "-f", "-"],
        Some("table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n"),
    );
    apply(&ns, &ns.read_nft(), &desired(), false);
    assert_eq!(
        portplan_core::shell::unfiltered_families(&ns.read_nft()),
        []
    );
    ns.exec(
        &[
            "nft",
            "add",
            "table",
            "inet",
            "filter",
            "{ flags dormant; }",
        ],
        None,
    );
    let listed = ns.exec(&["nft", "-j", "list", "ruleset"], None);
    let read = portplan_core::read_firewall(
        FirewallBackend::Nftables,
        &FirewallOutput::new(listed.as_str(), ""),
    );
    match read {
        Ok(state) => {
            assert!(listed.contains(r#""flags": "dormant""#), "{listed}");
            assert_eq!(portplan_core::shell::unfiltered_families(&state).len(), 2);
        }
        Err(e) => {
            let message = &e.problems[0].message;
            assert!(
                message.contains("its one flag reads") || message.contains("it stops at a table's"),
                "{e}"
            );
        }
    }
}

#[test]
fn iptables_round_trip_on_the_real_iptables() {
    let ns = Netns::new("ipt");
    for rule in [
        "-P INPUT DROP",
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -p tcp --dport 22 -m comment --comment ssh -j ACCEPT",
        "-A INPUT -j REJECT",
    ] {
        let mut argv = vec!["iptables", "-w"];
        argv.extend(rule.split(' '));
        ns.exec(&argv, None);
    }
    ns.exec(&["ip6tables", "-w", "-P", "INPUT", "DROP"], None);
    let save = || {
        (
            ns.exec(&["iptables-save"], None),
            ns.exec(&["ip6tables-save"], None),
        )
    };
    let strip = |text: String| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let read = || {
        let (v4, v6) = save();
        portplan_core::read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(&v4, &v6))
            .expect("reads")
    };
    let original = save();

    assert_eq!(
        apply(&ns, &read(), &desired(), false),
        8,
        "one command per source"
    );
    let (v4, v6) = save();
    let lines: Vec<&str> = v4.lines().filter(|l| l.starts_with("-A INPUT")).collect();
    assert_eq!(
        lines.last().copied(),
        Some("-A INPUT -j REJECT --reject-with icmp-port-unreachable"),
        "{v4}"
    );
    assert!(v6.contains("-A INPUT -s 2001:db8::7/128 -p tcp -m tcp --dport 2882 -m comment --comment \"portplan:observer.rpc\" -j ACCEPT"), "{v6}");

    assert_eq!(
        apply(&ns, &read(), &desired(), false),
        0,
        "second run changes nothing"
    );
    apply(&ns, &read(), &desired(), true);
    let restored = save();
    assert_eq!(
        strip(restored.0),
        strip(original.0),
        "remove-all restores iptables"
    );
    assert_eq!(
        strip(restored.1),
        strip(original.1),
        "remove-all restores ip6tables"
    );
}
