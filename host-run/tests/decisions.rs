//! The run's decisions without a host: backend choice for each combination
//! of detected firewalls, the verdict against `fail_on`, the steps and the
//! rules they must leave, and verification of a read-back state.

#![allow(clippy::unwrap_used)]

use portplan_core::{
    Command, FindingCode, FirewallBackend, FirewallOutput, FirewallRule, FirewallState, PortRange,
    Severity, Transport,
};
use portplan_run::{
    Detected, FirewallChoice, RunError, Task, choose, host_warnings, steps, verdict, verify,
};

const NFT_DROP: &str = include_str!("../../core/tests/captured/nft-debian-drop.json");
const NFT_EMPTY: &str = r#"{"nftables":[{"metainfo":{"version":"1.0.6"}}]}"#;
/// iptables-nft's own table only: `ip filter INPUT`.
const NFT_IPTABLES_ONLY: &str = r#"{"nftables":[{"table":{"family":"ip","name":"filter","handle":1}},
 {"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}]}"#;
const IPT_DROP: &str =
    "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
const IPT_OPEN: &str =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

fn backend(choice: FirewallChoice, detected: &Detected) -> Result<FirewallBackend, RunError> {
    choose(choice, detected, false, Task::Present).map(|(c, _)| c.backend)
}

fn with_tools() -> Detected {
    Detected {
        nft: Some(Ok(NFT_EMPTY.into())),
        iptables_save: Some(Ok(IPT_OPEN.into())),
        iptables_installed: true,
        ..Detected::default()
    }
}

#[test]
fn auto_prefers_an_answering_firewalld_then_an_enabled_ufw() {
    let mut detected = with_tools();
    detected.firewalld_pid = Some(42);
    detected.firewalld_state = Some(Ok("running".into()));
    detected.ufw_installed = true;
    detected.ufw_enabled = true;
    assert_eq!(
        backend(FirewallChoice::Auto, &detected).unwrap(),
        FirewallBackend::Firewalld
    );
    detected.firewalld_pid = None;
    assert_eq!(
        backend(FirewallChoice::Auto, &detected).unwrap(),
        FirewallBackend::Ufw
    );
}

#[test]
fn auto_fails_when_firewalld_runs_but_does_not_answer() {
    let mut detected = with_tools();
    detected.firewalld_pid = Some(42);
    detected.firewalld_state = Some(Err("dbus is gone".into()));
    let error = backend(FirewallChoice::Auto, &detected).unwrap_err();
    assert!(error.to_string().contains("pid 42"), "{error}");
    assert!(error.to_string().contains("dbus is gone"), "{error}");
    // Checking ports needs no firewall: a warning and backend none.
    let (chosen, warning) = choose(FirewallChoice::Auto, &detected, false, Task::Checked).unwrap();
    assert_eq!(chosen.backend, FirewallBackend::None);
    assert!(warning.unwrap().contains("does not answer"));
}

#[test]
fn auto_uses_an_installed_ufw_only_when_asked_to_enable_it() {
    let mut detected = with_tools();
    detected.ufw_installed = true;
    assert_eq!(
        backend(FirewallChoice::Auto, &detected).unwrap(),
        FirewallBackend::Nftables
    );
    let (chosen, _) = choose(FirewallChoice::Auto, &detected, true, Task::Present).unwrap();
    assert_eq!(chosen.backend, FirewallBackend::Ufw);
    assert!(chosen.reason.contains("ufw_enable"), "{}", chosen.reason);
}

#[test]
fn auto_follows_the_tool_whose_table_filters_input() {
    let mut detected = with_tools();
    detected.nft = Some(Ok(NFT_DROP.into()));
    let (chosen, _) = choose(FirewallChoice::Auto, &detected, false, Task::Present).unwrap();
    assert_eq!(chosen.backend, FirewallBackend::Nftables);
    assert_eq!(chosen.reason, "nftables table inet filter filters input");

    // iptables-nft's `ip filter INPUT` is not a native nftables table.
    detected.nft = Some(Ok(NFT_IPTABLES_ONLY.into()));
    detected.iptables_save = Some(Ok(IPT_DROP.into()));
    assert_eq!(
        backend(FirewallChoice::Auto, &detected).unwrap(),
        FirewallBackend::Iptables
    );
}

#[test]
fn auto_stops_at_an_nft_ruleset_it_cannot_read() {
    // iptables filters input, and what nft printed cannot be read: a native
    // table could drop what iptables would open, so auto does not guess.
    let mut detected = with_tools();
    detected.iptables_save = Some(Ok(IPT_DROP.into()));
    for (unreadable, why) in [
        (
            "nft: JSON support not compiled-in",
            "expected ident at line 1 column 2",
        ),
        (r#"{"tables":[]}"#, "no `nftables` array"),
        (
            r#"{"nftables":[{"chain":{"policy":"drop","policy":"accept"}}]}"#,
            "the key `policy` is repeated",
        ),
    ] {
        detected.nft = Some(Ok(unreadable.into()));
        let error = backend(FirewallChoice::Auto, &detected).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "firewall: auto cannot tell which tool filters input: not `nft -j list \
                 ruleset` output: {why}; set firewall: to the tool that does"
            ),
            "{unreadable}"
        );
    }
    // Chosen explicitly, iptables is driven; nft's text is not its concern.
    assert_eq!(
        backend(FirewallChoice::Iptables, &detected).unwrap(),
        FirewallBackend::Iptables
    );
}

#[test]
fn auto_with_nothing_filtering_picks_the_installed_tool_or_none() {
    let detected = with_tools();
    assert_eq!(
        backend(FirewallChoice::Auto, &detected).unwrap(),
        FirewallBackend::Nftables
    );
    let iptables_only = Detected {
        nft: None,
        ..with_tools()
    };
    assert_eq!(
        backend(FirewallChoice::Auto, &iptables_only).unwrap(),
        FirewallBackend::Iptables
    );
    assert_eq!(
        backend(FirewallChoice::Auto, &Detected::default()).unwrap(),
        FirewallBackend::None
    );
}

#[test]
fn explicit_choices_need_their_tool() {
    let none = Detected::default();
    assert!(backend(FirewallChoice::Ufw, &none).is_err());
    assert!(backend(FirewallChoice::Firewalld, &none).is_err());
    assert_eq!(
        backend(FirewallChoice::Nftables, &none).unwrap(),
        FirewallBackend::Nftables
    );
    assert_eq!(
        backend(FirewallChoice::Iptables, &none).unwrap(),
        FirewallBackend::Iptables
    );
    assert_eq!(
        backend(FirewallChoice::None, &none).unwrap(),
        FirewallBackend::None
    );
}

#[test]
fn host_warnings_name_the_other_manager_root_and_persist() {
    let detected = Detected {
        ufw_enabled: true,
        ..Detected::default()
    };
    let warnings = host_warnings(&detected, FirewallBackend::Nftables, Some(0), true);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("ufw is active"));
    let warnings = host_warnings(
        &Detected::default(),
        FirewallBackend::Ufw,
        Some(1000),
        false,
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("not running as root"));
    assert!(warnings[1].starts_with("persist: false has no effect on ufw"));
}

fn plan_report(observation: serde_json::Value) -> portplan_core::Report {
    let plan = portplan_core::parse_plan(
        &serde_json::json!({
            "name": "t", "profiles": ["ocp"],
            "hosts": [
                {"name": "ocp1", "address": "198.18.2.10", "components": ["ocp-server"]},
                {"name": "obs1", "address": "198.18.2.11", "components": ["observer", "ocp-agent"]}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let observation = serde_json::from_value(observation).unwrap();
    portplan_core::check_host(
        &plan,
        "obs1",
        portplan_core::Phase::Preinstall,
        &observation,
    )
    .unwrap()
}

#[test]
fn verdict_follows_fail_on() {
    // 2881 held by someone else before install: an error finding.
    let held = plan_report(serde_json::json!({"listeners": [
        {"transport": "tcp", "address": "0.0.0.0", "port": 2881, "v6only": false, "pid": 7, "command": "nc"}
    ]}));
    let (_, go_on) = verdict(&held, "obs1", Severity::Error);
    let Err(RunError::Findings { failing, .. }) = go_on else {
        panic!("an error finding must fail");
    };
    assert!(failing.iter().any(|f| f.code == FindingCode::PortInUse));

    // The kernel-default ephemeral range holds the agent's pool: warnings only.
    let warned = plan_report(serde_json::json!({"ip-local-port-range": "32768-65000"}));
    assert!(
        warned.summary.errors == 0 && warned.summary.warnings > 0,
        "{:?}",
        warned.summary
    );
    let (warnings, go_on) = verdict(&warned, "obs1", Severity::Error);
    assert!(go_on.is_ok());
    assert_eq!(warnings.len() as u32, warned.summary.warnings);
    let (warnings, go_on) = verdict(&warned, "obs1", Severity::Warning);
    assert!(warnings.is_empty());
    let error = go_on.unwrap_err().to_string();
    assert!(
        error.contains("fail the task (fail_on: warning); nothing was changed"),
        "{error}"
    );
}

fn rule(spec: &str, port: u16, sources: &[&str]) -> FirewallRule {
    FirewallRule {
        host: "obs1".into(),
        spec: spec.into(),
        tag: format!("portplan:{spec}"),
        transport: Transport::Tcp,
        ports: PortRange::single(port),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        purpose: String::new(),
    }
}

fn nft(json: &str) -> FirewallState {
    portplan_core::read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, "")).unwrap()
}

#[test]
fn steps_expect_before_less_removed_plus_added() {
    let state = nft(NFT_DROP);
    let before = portplan_run::tagged(&state);
    assert!(
        !before.is_empty(),
        "the captured ruleset holds portplan rules"
    );
    let rules = vec![rule(
        "observer.sql",
        2881,
        &["198.18.2.10/32", "198.18.2.30/32"],
    )];
    let planned = steps(&rules, &state, Task::Present, false).unwrap();
    assert!(!planned.commands.is_empty());
    let expected: Vec<String> = planned.expected.iter().map(|r| r.source.clone()).collect();
    assert_eq!(expected, ["198.18.2.10/32", "198.18.2.30/32"]);
    assert_eq!(planned.before, before);

    let absent = steps(&rules, &state, Task::Absent, false).unwrap();
    assert!(absent.expected.is_empty());
    assert_eq!(absent.change.remove.len(), before.len());
}

#[test]
fn an_inactive_ufw_is_enabled_last_only_when_asked() {
    let state = portplan_core::read_firewall(
        FirewallBackend::Ufw,
        &FirewallOutput::new("Status: inactive\n", ""),
    )
    .unwrap();
    let rules = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    let quiet = steps(&rules, &state, Task::Present, false).unwrap();
    assert!(!quiet.enable_ufw);
    assert!(quiet.warnings[0].starts_with("ufw is inactive"));
    let enable = steps(&rules, &state, Task::Present, true).unwrap();
    assert!(enable.enable_ufw);
    assert_eq!(
        enable.commands.last().unwrap().argv,
        ["ufw", "--force", "enable"]
    );
    assert!(
        !steps(&rules, &state, Task::Absent, true)
            .unwrap()
            .enable_ufw
    );
}

#[test]
fn verify_accepts_exactly_the_expected_rules_and_names_the_rest() {
    let state = nft(NFT_DROP);
    let rules = vec![rule(
        "observer.sql",
        2881,
        &["198.18.2.10/32", "198.18.2.30/32"],
    )];
    let planned = steps(&rules, &state, Task::Present, false).unwrap();
    // The read-back still shows the old state: the change did not happen.
    let error = verify(&rules, &state, Task::Present, &planned.expected).unwrap_err();
    let RunError::NotAsPlanned {
        to_add, unexpected, ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(*to_add, 1);
    assert!(
        unexpected
            .iter()
            .any(|u| u
                .starts_with("-portplan:observer.sql ipv4 tcp dport 2881 saddr 198.18.2.30/32")),
        "{unexpected:?}"
    );

    // A state holding exactly the rules passes.
    let empty = portplan_core::empty_firewall(FirewallBackend::Nftables).unwrap();
    let only = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    let planned = steps(&only, &empty, Task::Present, false).unwrap();
    assert!(verify(&only, &empty, Task::Present, &planned.expected).is_err());
    let none = steps(&only, &empty, Task::Absent, false).unwrap();
    assert!(
        verify(&only, &empty, Task::Absent, &none.expected)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn auto_drives_the_tool_that_owns_the_dropping_chain() {
    // A native table that accepts beside iptables-nft's dropping INPUT (Docker hosts).
    let native_accept = r#"{"nftables":[{"table":{"family":"inet","name":"filter","handle":2}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}},
 {"table":{"family":"ip","name":"filter","handle":1}},
 {"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}]}"#;
    let detected = Detected {
        nft: Some(Ok(native_accept.into())),
        iptables_save: Some(Ok(IPT_DROP.into())),
        iptables_installed: true,
        ..Detected::default()
    };
    assert_eq!(
        backend(FirewallChoice::Auto, &detected).unwrap(),
        FirewallBackend::Iptables
    );
}

#[test]
fn the_audit_names_missing_extra_and_altered_rules() {
    // portplan:observer.sql moved after the catch-all reject.
    let edited = r#"{"nftables":[{"table":{"family":"inet","name":"filter","handle":1}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}},
 {"rule":{"family":"inet","table":"filter","chain":"input","handle":3,"expr":[{"reject":null}]}},
 {"rule":{"family":"inet","table":"filter","chain":"input","handle":4,"comment":"portplan:observer.sql","expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.10"}},
   {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":2881}},{"counter":null},{"accept":null}]}},
 {"rule":{"family":"inet","table":"filter","chain":"input","handle":5,"comment":"portplan:old.spec","expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.99"}},
   {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":9999}},{"accept":null}]}}]}"#;
    let state = nft(edited);
    let rules = vec![
        rule("observer.sql", 2881, &["198.18.2.10/32"]),
        rule("observer.rpc", 2882, &["198.18.2.12/32"]),
    ];
    let findings = portplan_run::drift(&rules, &state, "obs1", true).unwrap();
    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(findings.len(), 3, "{messages:#?}");
    assert!(
        findings
            .iter()
            .all(|f| f.code == FindingCode::FirewallDrift && f.severity == Severity::Error)
    );
    assert!(
        messages
            .iter()
            .any(|m| m
                .contains("portplan:observer.sql admitting 198.18.2.10/32 to 2881/tcp is altered")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m
                .contains("portplan:observer.rpc admitting 198.18.2.12/32 to 2882/tcp is missing")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m
            .contains("portplan:old.spec admitting 198.18.2.99/32 to 9999/tcp is not in the plan")),
        "{messages:#?}"
    );
    // Made to drop, it is someone's deny: the audit reports present's
    // refusal, naming it, as an error whatever the phase, rather than call
    // it something present replaces (or fail without a report).
    let state = nft(&edited.replace(r#"{"counter":null},{"accept":null}"#, r#"{"drop":null}"#));
    for strict in [true, false] {
        let findings = portplan_run::drift(&rules, &state, "obs1", strict).unwrap();
        assert!(
            !findings.is_empty()
                && findings.iter().all(|f| f.severity == Severity::Error
                    && f.code == FindingCode::FirewallDrift
                    && f.message
                        .starts_with("nftables: state: present would be refused over `")
                    && f.message.contains("a rule portplan did not write (drop)")),
            "{findings:#?}"
        );
    }
    // A firewall as planned has no drift.
    let empty = portplan_core::empty_firewall(FirewallBackend::Nftables).unwrap();
    assert!(
        portplan_run::drift(&[], &empty, "obs1", true)
            .unwrap()
            .is_empty()
    );
    // Before install the firewall is yet to be opened: what present will do.
    let fresh = portplan_run::drift(&rules, &empty, "obs1", false).unwrap();
    assert_eq!(fresh.len(), 2);
    assert!(
        fresh
            .iter()
            .all(|f| f.severity == Severity::Info
                && f.message.ends_with("is not in the firewall yet"))
    );
    let after_install = portplan_run::drift(&rules, &empty, "obs1", true).unwrap();
    assert!(after_install.iter().all(|f| f.severity == Severity::Error));
}

/// With nothing dropping input (policy accept, no catch-all), present
/// takes portplan's rules out: the audit says a planned one is planned and
/// why it goes, and still calls a stray one not in the plan.
#[test]
fn the_audit_tells_a_planned_rule_on_an_open_firewall_from_a_stray_one() {
    let accepting = r#"{"nftables":[{"table":{"family":"inet","name":"filter","handle":1}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}},
 {"rule":{"family":"inet","table":"filter","chain":"input","handle":4,"comment":"portplan:observer.sql","expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.10"}},
   {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":2881}},{"accept":null}]}},
 {"rule":{"family":"inet","table":"filter","chain":"input","handle":5,"comment":"portplan:old.spec","expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.18.2.99"}},
   {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":9999}},{"accept":null}]}}]}"#;
    let state = nft(accepting);
    let rules = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    let findings = portplan_run::drift(&rules, &state, "obs1", true).unwrap();
    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(findings.len(), 2, "{messages:#?}");
    let planned = findings
        .iter()
        .find(|f| f.spec.as_deref() == Some("observer.sql"))
        .expect("a finding for the planned rule");
    assert!(
        planned.message.contains(
            "portplan:observer.sql admitting 198.18.2.10/32 to 2881/tcp is planned, but no input \
             chain drops IPv4 traffic"
        ) && !planned.message.contains("not in the plan"),
        "{messages:#?}"
    );
    assert!(planned.fix.contains("drop by default"), "{}", planned.fix);
    let stray = findings
        .iter()
        .find(|f| f.spec.as_deref() == Some("old.spec"))
        .expect("a finding for the stray rule");
    assert!(
        stray.message.ends_with("is not in the plan"),
        "{messages:#?}"
    );
}

/// A firewall that drops nothing of a planned family, with no portplan rule
/// left in it (`nft flush ruleset`, `iptables -P INPUT ACCEPT; iptables -F
/// INPUT`, or IPv6 left unfiltered beside a filtering IPv4): every planned
/// port of that family is open to everyone, and the audit was green (an
/// adversarial review). Each such rule is named: an error after install,
/// info before it, as a held rule there already was.
#[test]
fn the_audit_names_a_planned_rule_where_nothing_drops_its_family() {
    let rules = vec![
        rule("observer.sql", 2881, &["198.18.2.10/32"]),
        rule("observer.rpc", 2882, &["2001:db8::11/128"]),
    ];
    let flushed_iptables = portplan_core::read_firewall(
        FirewallBackend::Iptables,
        &FirewallOutput::new(
            "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
            "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
        ),
    )
    .unwrap();
    let ipv4_only = nft(
        r#"{"nftables":[{"table":{"family":"ip","name":"mine","handle":1}},
 {"chain":{"family":"ip","table":"mine","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}]}"#,
    );
    for (label, state, open) in [
        (
            "flushed nft",
            nft(NFT_EMPTY),
            &["observer.rpc", "observer.sql"][..],
        ),
        (
            "flushed iptables",
            flushed_iptables,
            &["observer.rpc", "observer.sql"],
        ),
        ("IPv4 only", ipv4_only.clone(), &["observer.rpc"]),
    ] {
        for (strict, severity) in [(true, Severity::Error), (false, Severity::Info)] {
            let findings = portplan_run::drift(&rules, &state, "obs1", strict).unwrap();
            let named: Vec<&str> = (findings.iter())
                .filter(|f| f.message.contains("so the port is open to everyone"))
                .filter(|f| f.severity == severity && f.code == FindingCode::FirewallDrift)
                .filter_map(|f| f.spec.as_deref())
                .collect();
            assert_eq!(named, open, "{label}: {findings:#?}");
        }
    }
    // A dormant table's chain drops nothing (the kernel asks none of its
    // chains), with portplan's rule in it: as nft 1.0.6 prints its lone
    // flag (from freed memory), as later ones do, and beside another flag.
    let held = |flags: &str| {
        nft(&format!(
            r#"{{"nftables":[{{"table":{{"family":"inet","name":"filter","handle":1{flags}}}}},
 {{"chain":{{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}}},
 {{"rule":{{"family":"inet","table":"filter","chain":"input","handle":4,"comment":"portplan:observer.sql","expr":[
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"ip","field":"saddr"}}}},"right":"198.18.2.10"}}}},
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":2881}}}},{{"accept":null}}]}}}}]}}"#
        ))
    };
    for flags in [r#","flags":"dormant""#, r#","flags":["dormant","owner"]"#] {
        let findings = portplan_run::drift(&rules[..1], &held(flags), "obs1", true).unwrap();
        assert_eq!(findings.len(), 1, "{flags}: {findings:#?}");
        assert!(
            findings[0]
                .message
                .ends_with("so the port is open to everyone")
        );
    }
    // As nft 1.0.6 to 1.0.9 print a lone flag (from freed memory: a
    // wrong string, or the JSON cut there, as in the Ansible test hosts):
    // not read, and the error says why, naming the table.
    let cut = include_str!("../../core/tests/captured/nft-1.0.6-dormant-cut.json");
    let garbled = r#"{"nftables":[{"table":{"family":"inet","name":"filter","handle":1,"flags":"Lester Gooch #5"}},
 {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}]}"#;
    for (json, says) in [
        (cut, "it stops at a table's `flags` (nft 1.0.6"),
        (
            garbled,
            "table inet filter: its one flag reads `Lester Gooch #5`",
        ),
    ] {
        let e =
            portplan_core::read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(json, ""));
        let e = e.unwrap_err();
        assert!(e.problems[0].message.contains(says), "{e}");
    }
    // A table without an input chain: its flag decides nothing read.
    let nat = garbled.replace(r#""hook":"input""#, r#""hook":"prerouting""#);
    let read =
        portplan_core::read_firewall(FirewallBackend::Nftables, &FirewallOutput::new(nat, ""));
    assert!(read.is_ok(), "{read:?}");
    for flags in ["", r#","flags":["owner","persist"]"#] {
        let findings = portplan_run::drift(&rules[..1], &held(flags), "obs1", true).unwrap();
        assert_eq!(findings, [], "{flags}");
    }
    // An inactive ufw keeps portplan's rules and filters nothing; a group
    // of many sources is one finding; one planned from everywhere is named
    // too (else a plan of public ports alone was green over it).
    let ufw = portplan_core::read_firewall(
        FirewallBackend::Ufw,
        &FirewallOutput::new(
            "Status: inactive\n",
            "Added user rules (see 'ufw status' for running firewall):\n\
             ufw allow from 198.18.2.10 to any port 2881 proto tcp comment 'portplan:observer.sql'\n",
        ),
    )
    .unwrap();
    let many = vec![
        rule(
            "observer.sql",
            2881,
            &["198.18.2.10/32", "198.18.2.12/32", "198.18.3.0/24"],
        ),
        rule("observer.rpc", 2882, &["0.0.0.0/0"]),
    ];
    for (label, state, wanted) in [
        ("inactive ufw", &ufw, "ufw is inactive"),
        ("flushed nft", &nft(NFT_EMPTY), "no input chain drops IPv4"),
    ] {
        let findings = portplan_run::drift(&many, state, "obs1", true).unwrap();
        let open: Vec<&str> = (findings.iter())
            .filter(|f| f.message.ends_with("so the port is open to everyone"))
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(open.len(), 2, "{label}: {findings:#?}");
        assert!(
            open.iter().all(|m| m.contains(wanted))
                && open[0].contains("portplan:observer.rpc admitting 0.0.0.0/0")
                && open[1].contains("(and 2 more sources)"),
            "{label}: {open:?}"
        );
    }
    // Where the family drops, nothing of the kind.
    let findings = portplan_run::drift(&rules[..1], &ipv4_only, "obs1", true).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].message.ends_with("is missing"), "{findings:#?}");
}

/// A planned rule held twice, once in a chain that drops and once in one
/// that drops nothing: the stray copy goes, and the audit says so, not
/// that the firewall drops nothing.
#[test]
fn the_audit_names_a_stray_copy_of_a_planned_rule() {
    let chain = |table: &str, policy: &str| {
        format!(
            r#"{{"table":{{"family":"inet","name":"{table}","handle":1}}}},
 {{"chain":{{"family":"inet","table":"{table}","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"{policy}"}}}},
 {{"rule":{{"family":"inet","table":"{table}","chain":"input","handle":4,"comment":"portplan:observer.sql","expr":[
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"ip","field":"saddr"}}}},"right":"198.18.2.10"}}}},
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":2881}}}},{{"accept":null}}]}}}}"#
        )
    };
    let state = nft(&format!(
        r#"{{"nftables":[{},{}]}}"#,
        chain("filter", "drop"),
        chain("old", "accept")
    ));
    let rules = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    let findings = portplan_run::drift(&rules, &state, "obs1", true).unwrap();
    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(findings.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("is held once more than planned")
            && !messages[0].contains("no input chain drops"),
        "{messages:#?}"
    );
}

/// A firewalld deny of a positive priority put in after portplan's rule:
/// firewalld asks it after the rule, which admits what it denies. Nothing
/// said so (an adversarial review); the audit names it as drift, as
/// `present` does in a note, and leaves portplan's rule.
#[test]
fn the_audit_names_a_later_deny_that_portplan_s_rule_overrides() {
    let mine = r#"rule family="ipv4" source address="198.18.2.10" port port="2881" protocol="tcp" log prefix="portplan:observer.sql" level="info" limit value="1/h" accept"#;
    let deny = r#"rule priority="5" family="ipv4" source address="198.18.0.0/16" drop"#;
    let dump = serde_json::json!({"default-zone": "public", "ipsets": [], "policies": "",
        "zones": [{"name": "public", "target": "default", "sources": [], "ports": [],
                   "rich-rules": [mine, deny]}]})
    .to_string();
    let output = FirewallOutput {
        main: dump.clone(),
        extra: dump,
        zone: Some("public".into()),
    };
    let state = portplan_core::read_firewall(FirewallBackend::Firewalld, &output).unwrap();
    let rules = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    let change = portplan_core::plan_firewall(&rules, &state, false).unwrap();
    assert!(change.commands.is_empty(), "{:?}", change.commands);
    assert_eq!(change.notes.len(), 1, "{:?}", change.notes);
    let findings = portplan_run::drift(&rules, &state, "obs1", true).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Error);
    assert_eq!(
        findings[0].message,
        format!(
            "firewalld: the firewalld rule `{deny}` is asked after portplan's rule for \
             portplan:observer.sql: 198.18.2.10/32 on tcp 2881, and may match that traffic (read \
             wide), which portplan's rule then admits (the deny came after it; portplan leaves \
             its own rule in place): narrow the deny, or move it before portplan's rules \
             (firewalld: a priority of 0 or below in the zone, a negative one for a policy), or \
             take the port out of the plan"
        )
    );
}

/// portplan's rule in place behind an earlier drop of its source: the rule
/// is as planned, the traffic dropped. The audit is not green over it: an
/// error where the firewall is meant to be as planned, a warning before
/// install; a drop of another source, or one with an interface match, is
/// no finding (read narrow: the probe measures what rules cannot say).
#[test]
fn the_audit_names_an_earlier_drop_of_a_planned_source() {
    let ruleset = |deny: &str| {
        nft(&format!(
            r#"{{"nftables":[{{"table":{{"family":"inet","name":"filter","handle":1}}}},
 {{"chain":{{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}}},
 {{"rule":{{"family":"inet","table":"filter","chain":"input","handle":3,"expr":[{deny}
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"ip","field":"saddr"}}}},"right":{{"prefix":{{"addr":"198.18.0.0","len":16}}}}}}}},{{"drop":null}}]}}}},
 {{"rule":{{"family":"inet","table":"filter","chain":"input","handle":4,"comment":"portplan:observer.sql","expr":[
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"ip","field":"saddr"}}}},"right":"198.18.2.10"}}}},
   {{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":2881}}}},{{"accept":null}}]}}}}]}}"#
        ))
    };
    let rules = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    for (strict, severity) in [(true, Severity::Error), (false, Severity::Warning)] {
        let findings = portplan_run::drift(&rules, &ruleset(""), "obs1", strict).unwrap();
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(findings.len(), 1, "{messages:#?}");
        assert_eq!(findings[0].severity, severity);
        assert!(
            messages[0].starts_with(
                "nftables: the nftables rule `inet filter input handle 3: ipv4 saddr \
                 198.18.0.0/16 drop` comes before portplan's rules and drops 198.18.2.10/32 on \
                 tcp 2881 (portplan:observer.sql)"
            ),
            "{messages:#?}"
        );
        assert!(findings[0].fix.contains("remove, narrow or move that rule"));
    }
    let iif = r#"{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth1"}},"#;
    let findings = portplan_run::drift(&rules, &ruleset(iif), "obs1", true).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    // Where no chain drops IPv4, the audit says the port is open to
    // everyone, not also that a drop keeps it shut.
    let mut accepting = ruleset("");
    if let FirewallState::Nftables(state) = &mut accepting {
        state.chains[0].drops = false;
    }
    let findings = portplan_run::drift(&rules, &accepting, "obs1", true).unwrap();
    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("comes before portplan's rules"))
            && messages
                .iter()
                .any(|m| m.contains("no input chain drops IPv4")),
        "{messages:#?}"
    );
}

/// firewalld walks a zone's drop rich rules before its accepts: one added
/// after portplan's rule on its source is an error of the audit (and where
/// the active policies are not known, as in a dump without them, nothing
/// is said).
#[test]
fn the_audit_names_an_earlier_firewalld_drop_of_a_planned_source() {
    let zone = |policies: Option<&str>| {
        let dump = |policies: Option<&str>| {
            let mut dump = serde_json::json!({
                "default-zone": "public",
                "zones": [{"name": "public", "target": "default", "sources": [], "ports": [],
                           "rich-rules": [
                    r#"rule family="ipv4" source address="198.18.2.10" port port="2881" protocol="tcp" log prefix="portplan:observer.sql" level="info" limit value="1/h" accept"#,
                    r#"rule family="ipv4" source address="198.18.0.0/16" drop"#]}],
                "ipsets": [],
            });
            if let Some(policies) = policies {
                dump["policies"] = policies.into();
            }
            dump.to_string()
        };
        let output = FirewallOutput {
            main: dump(policies),
            extra: dump(None),
            zone: Some("public".into()),
        };
        portplan_core::read_firewall(FirewallBackend::Firewalld, &output).unwrap()
    };
    let host = "allow-host-ipv6 (active)\n  priority: -15000\n  target: CONTINUE\n  egress-zones: HOST\n  rich rules: \n";
    let rules = vec![rule("observer.sql", 2881, &["198.18.2.10/32"])];
    let findings = portplan_run::drift(&rules, &zone(Some(host)), "obs1", true).unwrap();
    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(findings.len(), 1, "{messages:#?}");
    assert_eq!(findings[0].severity, Severity::Error);
    assert!(
        messages[0].starts_with(
            "firewalld: the firewalld rule `rule family=\"ipv4\" source address=\"198.18.0.0/16\" \
             drop` comes before portplan's rules and drops 198.18.2.10/32 on tcp 2881"
        ),
        "{messages:#?}"
    );
    let findings = portplan_run::drift(&rules, &zone(None), "obs1", true).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn iptables_and_ufw_changes_have_exact_inverses() {
    let tagged = |source: &str, port: u16, spec: &str| {
        format!(
            "-A INPUT -s {source} -p tcp -m tcp --dport {port} -m comment --comment portplan:{spec} -j ACCEPT\n"
        )
    };
    let saved = format!(
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 198.18.3.0/24 -p tcp -m tcp --dport 9090 -j ACCEPT\n{}{}{}-A INPUT -j REJECT\nCOMMIT\n",
        tagged("198.18.2.10/32", 7001, "app.a"),
        tagged("198.18.2.20/32", 7001, "app.a"),
        tagged("198.18.60.0/24", 7002, "app.b"),
    );
    let state =
        portplan_core::read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, ""))
            .unwrap();
    let planned = steps(&[], &state, Task::Absent, false).unwrap();
    let undo = portplan_run::undo(&state, "", None, &planned.commands).unwrap();
    let shown: Vec<String> = undo.iter().map(|c| c.argv[..5].join(" ")).collect();
    // Each deleted rule goes back at its old number, counted after the
    // deletes before it (undone in reverse: 4, then 3, then 2).
    assert_eq!(
        shown,
        [
            "iptables -w -I INPUT 2",
            "iptables -w -I INPUT 2",
            "iptables -w -I INPUT 2"
        ]
    );

    let added = "ufw allow 22/tcp\nufw allow from 198.18.2.10 to any port 7001 proto tcp comment 'portplan:app.a'\nufw deny from 198.18.9.9\n";
    let (_, undo) = ufw_absent_undone(added, None);
    assert_eq!(
        undo[0].argv,
        [
            "ufw",
            "insert",
            "2",
            "allow",
            "from",
            "198.18.2.10",
            "to",
            "any",
            "port",
            "7001",
            "proto",
            "tcp",
            "comment",
            "portplan:app.a"
        ]
    );
}

/// ufw numbers its IPv4 list (both-family rules included) first, then its
/// IPv6 list, and `ufw insert N` puts a rule only before one of its own
/// list: the inverse of deleting the last IPv4 rule is an append, not
/// `insert` at the number the next (IPv6) rule has, which ufw refuses
/// ("Invalid position '3'", seen on real ufw: the rollback failed and left
/// the rules deleted). Here from `ufw show added` alone.
#[test]
fn ufw_inverses_number_each_family_as_ufw_does() {
    let added = "ufw allow 22/tcp\n\
                 ufw allow from 198.18.3.0/24 to any port 9090 proto tcp\n\
                 ufw allow from 198.18.2.10 to any port 7001 proto tcp comment 'portplan:app.a'\n\
                 ufw allow from 198.18.2.20 to any port 7001 proto tcp comment 'portplan:app.a'\n\
                 ufw allow from 198.18.60.0/24 to any port 7002 proto tcp comment 'portplan:app.b'\n\
                 ufw allow 9091/tcp comment '2001:db8::1'\n\
                 ufw allow from 2001:db8:60::/64 to any port 7002 proto tcp comment 'portplan:app.b'\n";
    let shown = ufw_inverses(added, None);
    // IPv4 list: 22, 9090, a.10, a.20, b.60, 9091 (a both-family rule,
    // whatever its comment reads); IPv6 list: the twins of 22 and 9091,
    // then b.v6. Deleted in this order, undone in reverse.
    assert_eq!(
        shown,
        [
            "198.18.2.10 | insert 3",
            "198.18.2.20 | insert 3",
            "198.18.60.0/24 | insert 3",
            "2001:db8:60::/64 | allow from",
        ]
    );
}

/// With ufw's rules files, the IPv6 list is known as it is: here a
/// both-family rule added after the IPv6 ones, whose twin is last. From
/// `ufw show added` alone its twin would be taken as first, and the rule
/// put back after the deny that follows it (`insert 3`): that source would
/// lose the port.
#[test]
fn ufw_inverses_follow_the_rules_files_where_they_are_read() {
    let added = "ufw allow 80/tcp\n\
                 ufw allow from 2001:db8:1::/64 to any port 7001 proto tcp comment 'portplan:app.a'\n\
                 ufw deny from 2001:db8::/32 to any port 7001 proto tcp\n";
    let lists = portplan_run::UfwLists {
        ipv4: vec!["allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in".to_string()],
        ipv6: vec![
            "allow tcp 7001 ::/0 any 2001:db8:1::/64 in comment=706f7274706c616e3a6170702e61"
                .to_string(),
            "deny tcp 7001 ::/0 any 2001:db8::/32 in".to_string(),
            "allow tcp 80 ::/0 any ::/0 in".to_string(),
        ],
    };
    // Number 1 is 80's IPv4 rule; the IPv6 list starts at 2.
    assert_eq!(
        ufw_inverses(added, Some(&lists)),
        ["2001:db8:1::/64 | insert 2"]
    );
    // A rule not in the files (changed by hand since ufw wrote them, say):
    // numbered from the listing instead.
    let other = portplan_run::UfwLists {
        ipv6: lists.ipv6[1..].to_vec(),
        ..lists.clone()
    };
    assert_eq!(ufw_inverses(added, Some(&other)), ufw_inverses(added, None));
    // An application rule is one number but a tuple line per port entry
    // of its profile (CIFS: two): ufw counts the IPv4 list as two rules,
    // so the IPv6 list starts at 3.
    let cifs = |any: &str| {
        [
            format!("allow udp 137,138 {any} any {any} CIFS - in"),
            format!("allow tcp 139,445 {any} any {any} CIFS - in"),
        ]
    };
    let with_app = portplan_run::UfwLists {
        ipv4: cifs("0.0.0.0/0")
            .into_iter()
            .chain(lists.ipv4.clone())
            .collect(),
        ..lists.clone()
    };
    let app_added = format!("ufw allow CIFS\n{added}");
    assert_eq!(
        ufw_inverses(&app_added, Some(&with_app)),
        ["2001:db8:1::/64 | insert 3"]
    );
    // After the application's two lines (one rule to ufw's count): its
    // line number, 3, is past ufw's count of 2, and refused; 2 is not,
    // and ufw, which will not split an application rule's lines, walks on
    // past CIFS's second line and puts the rule before 80's.
    let portplan_v4 =
        "allow tcp 7001 0.0.0.0/0 any 198.18.1.0/24 in comment=706f7274706c616e3a6170702e61";
    let squeezed = portplan_run::UfwLists {
        ipv4: cifs("0.0.0.0/0")
            .into_iter()
            .chain([portplan_v4.to_string(), lists.ipv4[0].clone()])
            .collect(),
        ipv6: cifs("::/0")
            .into_iter()
            .chain(lists.ipv6[2..].to_vec())
            .collect(),
    };
    let squeezed_added = "ufw allow CIFS\n\
        ufw allow from 198.18.1.0/24 to any port 7001 proto tcp comment 'portplan:app.a'\n\
        ufw allow 80/tcp\n";
    assert_eq!(
        ufw_inverses(squeezed_added, Some(&squeezed)),
        ["198.18.1.0/24 | insert 2"]
    );
    // With a rule between the application's lines and portplan's, the
    // place is out of reach: 2 and 3 both land before that rule (22's), 4
    // is past ufw's count. The rule goes last, after its place, not before
    // it, where the listing's number (3) would put it: ahead of 22's rule,
    // which may be a deny (the rollback, reading the files' order back,
    // says where the rule went).
    let out_of_reach = portplan_run::UfwLists {
        ipv4: cifs("0.0.0.0/0")
            .into_iter()
            .chain([
                "allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in".to_string(),
                portplan_v4.to_string(),
                lists.ipv4[0].clone(),
            ])
            .collect(),
        ..squeezed.clone()
    };
    let out_of_reach_added =
        squeezed_added.replace("ufw allow from", "ufw allow 22/tcp\nufw allow from");
    assert_eq!(
        ufw_inverses(&out_of_reach_added, Some(&out_of_reach)),
        ["198.18.1.0/24 | allow from"]
    );
    assert_eq!(
        ufw_inverses(&out_of_reach_added, None),
        ["198.18.1.0/24 | insert 3"]
    );
    // The same rule after the application's lines and before 80's: in
    // reach of ufw's count.
    let after_app = portplan_run::UfwLists {
        ipv4: [lists.ipv4[0].clone(), portplan_v4.to_string()]
            .into_iter()
            .chain(cifs("0.0.0.0/0"))
            .collect(),
        ..squeezed.clone()
    };
    assert_eq!(
        ufw_inverses(squeezed_added, Some(&after_app)),
        ["198.18.1.0/24 | insert 2"]
    );
}

/// Each of `absent`'s deletes on the ufw state `added` lists, with the
/// start of its inverse.
fn ufw_inverses(added: &str, lists: Option<&portplan_run::UfwLists>) -> Vec<String> {
    let (deletes, undo) = ufw_absent_undone(added, lists);
    deletes
        .iter()
        .zip(&undo)
        .map(|(done, undo)| format!("{} | {}", done.argv[4], undo.argv[1..3].join(" ")))
        .collect()
}

/// `absent`'s commands on the active ufw whose `ufw show added` is
/// `added`, and their inverses.
fn ufw_absent_undone(
    added: &str,
    lists: Option<&portplan_run::UfwLists>,
) -> (Vec<Command>, Vec<Command>) {
    let state = portplan_core::read_firewall(
        FirewallBackend::Ufw,
        &FirewallOutput::new("Status: active\nDefault: deny (incoming)\n", added),
    )
    .unwrap();
    let planned = steps(&[], &state, Task::Absent, false).unwrap();
    let undo = portplan_run::undo(&state, added, lists, &planned.commands).unwrap();
    (planned.commands, undo)
}

#[test]
fn ufw_rules_out_of_their_order_are_named_and_others_changes_are_not() {
    let lists = |ipv4: &[&str], ipv6: &[&str]| portplan_run::UfwLists {
        ipv4: ipv4.iter().map(|t| t.to_string()).collect(),
        ipv6: ipv6.iter().map(|t| t.to_string()).collect(),
    };
    let portplan =
        "allow tcp 7001 ::/0 any 2001:db8:1::/64 in comment=706f7274706c616e3a6170702e61";
    let deny = "deny tcp 7001 ::/0 any 2001:db8::/32 in";
    let ssh = "allow tcp 22 ::/0 any ::/0 in";
    let before = lists(
        &["allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"],
        &[portplan, deny, ssh],
    );
    assert_eq!(before.out_of_place(&before.clone()), None);
    // Put back after the deny that covers it: cut off, though it is there.
    let misplaced = lists(
        &before.ipv4.iter().map(String::as_str).collect::<Vec<_>>(),
        &[deny, portplan, ssh],
    );
    assert_eq!(
        before.out_of_place(&misplaced).as_deref(),
        Some(&*format!(
            "in user6.rules, `{deny}` now comes before `{portplan}`, which it followed before \
             the run"
        ))
    );
    // Someone else's rules added or deleted meanwhile, anywhere: in place.
    let others = lists(&[], &["allow tcp 80 ::/0 any ::/0 in", portplan, deny]);
    assert_eq!(before.out_of_place(&others), None);
    // A repeated line counts as often as both sides have it.
    let twice = lists(
        &before.ipv4.iter().map(String::as_str).collect::<Vec<_>>(),
        &[ssh, portplan, deny, ssh],
    );
    assert_eq!(before.out_of_place(&twice), None);
    // portplan's allows in another order among themselves admit what they
    // did; one edited by hand into a deny is fixed like anyone else's.
    let other = "allow tcp 7002 ::/0 any 2001:db8:2::/64 in comment=706f7274706c616e3a6170702e62";
    let two = lists(&[], &[portplan, other, deny, ssh]);
    assert_eq!(
        two.out_of_place(&lists(&[], &[other, portplan, deny, ssh])),
        None
    );
    let edited = other.replacen("allow", "deny", 1);
    let two = lists(&[], &[portplan, &edited, deny, ssh]);
    assert!(
        two.out_of_place(&lists(&[], &[&edited, portplan, deny, ssh]))
            .is_some_and(|what| what.contains(&format!("`{edited}` now comes before `{portplan}`")))
    );
    // A line the run's first ufw command rewrote (an old file's, or one
    // edited by hand) is compared as ufw writes it: the deny is still
    // there, and portplan's rule now after it.
    let p4 = "allow tcp 7001 0.0.0.0/0 any 198.18.1.0/24 in comment=706f7274706c616e3a6170702e61";
    let old = lists(&[p4, "deny  tcp 7001 0.0.0.0/0 any 198.18.1.7/16"], &[]);
    let rewritten = "deny tcp 7001 0.0.0.0/0 any 198.18.0.0/16 in";
    assert_eq!(
        old.out_of_place(&lists(&[rewritten, p4], &[])).as_deref(),
        Some(&*format!(
            "in user.rules, `{rewritten}` now comes before `{p4}`, which it followed before the run"
        ))
    );
    assert_eq!(old.out_of_place(&lists(&[p4, rewritten], &[])), None);
    let moved = lists(&[], &[ssh, portplan, deny]);
    assert!(
        before
            .out_of_place(&moved)
            .is_some_and(|what| what.starts_with(&format!("in user6.rules, `{ssh}` now comes")))
    );
}

/// Tuple lines are read as ufw reads them (`_read_rules`): an old file's
/// application lines have 8 words (no direction), a line with no
/// application on either side (`- -`) is a plain rule, and one of fewer
/// than 6 words or more than 9 is skipped, counted by no number.
#[test]
fn ufw_numbers_read_tuple_lines_as_ufw_does() {
    let added =
        "ufw allow from 198.18.1.0/24 to any port 7001 proto tcp comment 'portplan:app.a'\n";
    let portplan =
        "allow tcp 7001 0.0.0.0/0 any 198.18.1.0/24 in comment=706f7274706c616e3a6170702e61";
    let eighty = "allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in";
    let with = |first: &[&str]| portplan_run::UfwLists {
        ipv4: first
            .iter()
            .chain(&[portplan, eighty])
            .map(|t| t.to_string())
            .collect(),
        ipv6: Vec::new(),
    };
    let inverse = |first: &[&str]| ufw_inverses(added, Some(&with(first)));
    // One rule of two lines: ufw counts 2 rules once portplan's is gone,
    // and 2 walks past the application's second line.
    let old_app = [
        "allow udp 137,138 0.0.0.0/0 any 0.0.0.0/0 CIFS -",
        "allow tcp 139,445 0.0.0.0/0 any 0.0.0.0/0 CIFS -",
    ];
    assert_eq!(inverse(&old_app), ["198.18.1.0/24 | insert 2"]);
    // Two plain rules: 3.
    let plain = [
        "allow udp 137 0.0.0.0/0 any 0.0.0.0/0 - - in",
        "allow tcp 139 0.0.0.0/0 any 0.0.0.0/0 - - in",
    ];
    assert_eq!(inverse(&plain), ["198.18.1.0/24 | insert 3"]);
    // A malformed line is no rule to ufw.
    assert_eq!(inverse(&["allow tcp 22"]), ["198.18.1.0/24 | insert 1"]);
}

/// iptables' INPUT chain as the commands change it: `-D` takes the first
/// rule of that spec, `-I n` inserts at number n (appends past the end),
/// `-A` appends.
fn iptables_apply(chain: &mut Vec<String>, commands: &[Command]) {
    for command in commands {
        let argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
        match argv.as_slice() {
            ["iptables", "-w", "-D", "INPUT", spec @ ..] => {
                let spec = spec.join(" ");
                let at = chain.iter().position(|r| *r == spec).unwrap();
                chain.remove(at);
            }
            ["iptables", "-w", "-I", "INPUT", n, spec @ ..] => {
                let at = (n.parse::<usize>().unwrap() - 1).min(chain.len());
                chain.insert(at, spec.join(" "));
            }
            ["iptables", "-w", "-A", "INPUT", spec @ ..] => chain.push(spec.join(" ")),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn iptables_read(chain: &[String]) -> FirewallState {
    let rules: String = chain.iter().map(|r| format!("-A INPUT {r}\n")).collect();
    let saved = format!("*filter\n:INPUT ACCEPT [0:0]\n{rules}COMMIT\n");
    portplan_core::read_firewall(FirewallBackend::Iptables, &FirewallOutput::new(saved, ""))
        .unwrap()
}

/// A copy of portplan's rule after the catch-all (the same saved spec
/// twice): `-D` by spec deletes the first copy, so deleting the late one
/// alone took the one that stays, run after run. Both go, the rule comes
/// back before the catch-all, the next run finds nothing to do, and the
/// run's inverses put the chain back exactly as it was.
#[test]
fn a_copy_after_the_catch_all_converges_and_is_undone() {
    let spec = "-s 198.18.2.10/32 -p tcp -m tcp --dport 7001 -m comment --comment portplan:app.a -j ACCEPT";
    let other = "-s 198.18.3.0/24 -p tcp -m tcp --dport 9090 -j ACCEPT";
    let before: Vec<String> = [other, spec, "-j REJECT", spec]
        .map(str::to_string)
        .to_vec();
    let rules = [rule("app.a", 7001, &["198.18.2.10/32"])];
    let state = iptables_read(&before);
    let planned = steps(&rules, &state, Task::Present, false).unwrap();
    let undo = portplan_run::undo(&state, "", None, &planned.commands).unwrap();
    let mut chain = before.clone();
    iptables_apply(&mut chain, &planned.commands);
    assert_eq!(chain, [other, spec, "-j REJECT"], "{:?}", planned.commands);
    // The run's own check of what it left: the rule is expected back.
    verify(
        &rules,
        &iptables_read(&chain),
        Task::Present,
        &planned.expected,
    )
    .unwrap();
    let again = steps(&rules, &iptables_read(&chain), Task::Present, false).unwrap();
    assert!(again.commands.is_empty(), "{:?}", again.commands);
    let reversed: Vec<Command> = undo.into_iter().rev().collect();
    iptables_apply(&mut chain, &reversed);
    assert_eq!(chain, before);
}
