//! ufw on captured real output (ufw 0.36.2): portplan's commented rules
//! found, the exact `ufw` calls, and foreign rules never touched or taken
//! over.

#![allow(clippy::unwrap_used)]

mod support;

use portplan_core::{
    FirewallBackend, FirewallOutput, FirewallRule, FirewallState, PortRange, Transport,
};
use portplan_core::{plan_firewall, read_firewall};
use support::ufw;

const STATUS: &str = include_str!("captured/ufw-0.36-status-verbose.txt");
const ADDED: &str = include_str!("captured/ufw-0.36-show-added.txt");

fn read(status: &str, added: &str) -> FirewallState {
    read_firewall(FirewallBackend::Ufw, &FirewallOutput::new(status, added)).unwrap()
}

fn rule(spec: &str, transport: Transport, first: u16, last: u16, sources: &[&str]) -> FirewallRule {
    FirewallRule {
        host: "obs2".into(),
        spec: spec.into(),
        tag: format!("portplan:{spec}"),
        transport,
        ports: PortRange { first, last },
        sources: sources.iter().map(|s| s.to_string()).collect(),
        purpose: String::new(),
    }
}

/// portplan's observer.sql rule: tcp 2881 from 198.18.2.10.
fn sql_2881() -> FirewallRule {
    rule(
        "observer.sql",
        Transport::Tcp,
        2881,
        2881,
        &["198.18.2.10/32"],
    )
}

fn argvs(state: &FirewallState, rules: &[FirewallRule], remove_all: bool) -> Vec<String> {
    plan_firewall(rules, state, remove_all)
        .unwrap()
        .commands
        .iter()
        .map(|c| c.argv.join(" "))
        .collect()
}

#[test]
fn commented_rules_are_portplans_and_the_rest_is_read_only() {
    let read = read(STATUS, ADDED);
    let state = ufw(&read);
    assert!(state.active && state.drops);
    let found: Vec<String> = state
        .found
        .iter()
        .map(|f| {
            format!(
                "{} {:?} {} {}",
                f.rule.tag, f.rule.transport, f.rule.ports, f.rule.source
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "portplan:observer.sql Tcp 2881 198.18.2.10/32",
            "portplan:x Udp 8000-8010 2001:db8::1/128",
        ]
    );
    // `allow 22/tcp` is open from anywhere; `allow from 198.18.0.0/16`
    // names no port, so it admits every port (read wide, as the audit must).
    let open: Vec<String> = state
        .open
        .iter()
        .map(|o| format!("{:?} {} {:?} {:?}", o.transport, o.ports, o.sources, o.tag))
        .collect();
    assert_eq!(
        open,
        [
            "Tcp 2881 [\"198.18.2.10/32\"] Some(\"portplan:observer.sql\")",
            "Tcp 22 [] None",
            "Tcp 1-65535 [\"198.18.0.0/16\"] None",
            "Udp 1-65535 [\"198.18.0.0/16\"] None",
            "Udp 8000-8010 [\"2001:db8::1/128\"] Some(\"portplan:x\")",
        ]
    );
}

#[test]
fn adds_and_deletes_with_the_comment_so_only_portplans_rule_matches() {
    let state = read(STATUS, ADDED);
    let desired = [rule(
        "observer.sql",
        Transport::Tcp,
        2881,
        2881,
        &["198.18.2.10/32", "198.18.2.20/32"],
    )];
    assert_eq!(
        argvs(&state, &desired, false),
        [
            "ufw delete allow from 2001:db8::1 to any port 8000:8010 proto udp comment portplan:x",
            "ufw allow from 198.18.2.20 to any port 2881 proto tcp comment portplan:observer.sql",
        ]
    );
    let all = argvs(&state, &[], true);
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .all(|c| c.starts_with("ufw delete allow from") && c.contains("comment portplan:"))
    );
    // The same rules again: nothing to run, so ufw never reports a change.
    let same = [
        sql_2881(),
        rule("x", Transport::Udp, 8000, 8010, &["2001:db8::1/128"]),
    ];
    assert!(argvs(&state, &same, false).is_empty());
}

#[test]
fn an_inactive_ufw_still_takes_rules_and_a_foreign_tuple_is_never_taken_over() {
    let state = read("Status: inactive\n", ADDED);
    assert!(!ufw(&state).active);
    assert!(
        ufw(&state).drops,
        "rules must be in place before ufw is enabled"
    );
    // ufw keeps one rule per tuple: adding portplan's allow would "update" a
    // foreign rule of any action into portplan's (a deny would become an allow).
    for action in ["allow", "deny", "reject", "limit"] {
        let foreign = format!(
            "Added user rules (see 'ufw status' for running firewall):\n\
             ufw {action} from 198.18.2.10 to any port 2881 proto tcp comment 'blocked host'\n"
        );
        let state = read(STATUS, &foreign);
        let e = plan_firewall(&[sql_2881()], &state, false).unwrap_err();
        assert_eq!(e.problems[0].path, "state.ufw.foreign[0]", "{e}");
        assert!(
            e.problems[0]
                .value
                .contains(&format!("ufw {action} from 198.18.2.10")),
            "{e}"
        );
        assert!(
            e.problems[0]
                .message
                .contains(&format!("did not write ({action})")),
            "{e}"
        );
    }
    let allow_all = STATUS.replace("deny (incoming)", "allow (incoming)");
    assert!(!ufw(&read(&allow_all, ADDED)).drops);
}

/// An adversarial review: a tagged rule edited to have no port, or to name
/// an application, was invisible (never replaced, never removed). Both are
/// portplan's, not intact. An application rule portplan did not write opens
/// nothing the audit can judge (its ports are in its profile): `allow
/// OpenSSH` is not every port open.
#[test]
fn tagged_rules_without_a_port_are_replaced_and_applications_open_nothing_known() {
    let header = "Added user rules (see 'ufw status' for running firewall):\n";
    for edited in [
        "ufw allow from 198.18.2.10 comment 'portplan:observer.sql'",
        "ufw allow from 198.18.2.10 to any app RvfSQL comment 'portplan:observer.sql'",
    ] {
        let state = read(STATUS, &format!("{header}{edited}\n"));
        assert!(ufw(&state).found.iter().all(|f| !f.intact), "{edited}");
        let desired = [sql_2881()];
        for (rules, remove_all) in [(&desired[..], false), (&[][..], true)] {
            let commands = argvs(&state, rules, remove_all);
            assert!(
                commands
                    .iter()
                    .any(|c| c.starts_with("ufw delete allow from 198.18.2.10")),
                "{edited}: {commands:#?}"
            );
        }
    }
    let state = read(
        STATUS,
        &format!("{header}ufw allow OpenSSH\nufw allow in on lo\n"),
    );
    assert!(state.open().is_empty(), "{:#?}", state.open());
}

/// A port list (ufw's multiport, `allow 2883,2884/tcp`) opened nothing the
/// audit saw, and a tagged one was unseen, neither kept nor replaced (an
/// adversarial review): each of its ranges is read, and a tagged list is
/// portplan's rule edited (portplan writes one port or range a rule).
#[test]
fn a_port_list_opens_each_of_its_ports_and_a_tagged_one_is_edited() {
    let header = "Added user rules (see 'ufw status' for running firewall):\n";
    let state = read(STATUS, &format!("{header}ufw allow 2883,2884:2886/tcp\n"));
    let open = support::open_lines(&state);
    assert_eq!(open, ["Tcp 2883 []", "Tcp 2884-2886 []"]);
    let listed = "ufw allow from 198.18.2.10 to any port 2881,2883 proto tcp comment 'portplan:observer.sql'";
    let state = read(STATUS, &format!("{header}{listed}\n"));
    let found = &ufw(&state).found;
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().all(|f| !f.intact), "{found:#?}");
    let desired = [sql_2881()];
    assert_eq!(
        argvs(&state, &desired, false),
        [
            "ufw delete allow from 198.18.2.10 to any port 2881,2883 proto tcp comment portplan:observer.sql",
            "ufw allow from 198.18.2.10 to any port 2881 proto tcp comment portplan:observer.sql",
        ],
    );
    // A list's allow covers its own ranges only, for a deny after it: one
    // on 2881 behind `80,443` is still named.
    let deny = "ufw deny from 198.18.0.0/16 to any port 2881 proto tcp";
    let state = read(
        STATUS,
        &format!("{header}ufw allow from 198.18.0.0/16 to any port 80,443 proto tcp\n{deny}\n"),
    );
    let change = plan_firewall(&desired, &state, false).unwrap();
    assert!(
        change.notes.iter().any(|n| n.contains(&deny[4..])),
        "{:?}",
        change.notes
    );
}

/// Outgoing and logging rules as ufw's `get_command` prints them (an
/// adversarial review of the wide reading: each read as every port open in).
#[test]
fn outgoing_rules_admit_nothing_in_and_logging_rules_keep_their_port() {
    let header = "Added user rules (see 'ufw status' for running firewall):\n";
    let outgoing = format!(
        "{header}ufw allow out 53\nufw allow out 443/tcp\nufw allow out on tun0\nufw allow log OpenSSH\n"
    );
    assert!(
        read(STATUS, &outgoing).open().is_empty(),
        "{:#?}",
        read(STATUS, &outgoing).open()
    );
    let logged = read(
        STATUS,
        &format!("{header}ufw allow log 22/tcp\nufw allow log-all 80\n"),
    );
    let open: Vec<String> = logged
        .open()
        .iter()
        .map(|o| format!("{:?} {}", o.transport, o.ports))
        .collect();
    assert_eq!(open, ["Tcp 22", "Tcp 80", "Udp 80"]);
}

/// `port` after `from` is the source's port (ufw's `from ADDR port P to
/// ADDR port P`): such a rule matches that source port on every destination
/// port, so it opens every port (read wide), and a tagged one is not
/// portplan's rule on that port but one widened by hand (an adversarial
/// review: it read as the intact rule, and nothing was replaced).
#[test]
fn a_source_port_is_not_a_destination_port() {
    let header = "Added user rules (see 'ufw status' for running firewall):\n";
    let state = read(
        STATUS,
        &format!(
            "{header}ufw allow from any port 53 proto udp\nufw allow from 198.18.2.10 port 5000 to any port 7001 proto tcp\n"
        ),
    );
    let open = support::open_lines(&state);
    assert_eq!(
        open,
        ["Udp 1-65535 []", "Tcp 7001 [\"198.18.2.10/32\"]"],
        "{:#?}",
        state.open()
    );

    let widened = format!(
        "{header}ufw allow from 198.18.2.10 port 7001 proto tcp comment 'portplan:observer.sql'\n"
    );
    let rules = [rule(
        "observer.sql",
        Transport::Tcp,
        7001,
        7001,
        &["198.18.2.10/32"],
    )];
    let argvs = argvs(&read(STATUS, &widened), &rules, false);
    assert_eq!(
        argvs,
        [
            "ufw delete allow from 198.18.2.10 port 7001 proto tcp comment portplan:observer.sql",
            "ufw allow from 198.18.2.10 to any port 7001 proto tcp comment portplan:observer.sql",
        ],
        "{argvs:#?}"
    );
}
