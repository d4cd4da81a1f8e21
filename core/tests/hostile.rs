//! Hostile plan text: what a plan says is echoed in errors capped and escaped,
//! rendered without raw control or bidi characters, never evaluated by a
//! spreadsheet; IPv4-mapped addresses are IPv4; names that point nowhere are
//! rejected with their path.

use portplan_core::{
    FindingCode, Observation, Phase, Plan, PlanError, Report, ReportFormat, check_host, parse_plan,
    render_plan_error, render_report, validate_plan,
};
use serde_json::{Value, json};

/// Most characters of a quoted value, then `...`.
const LIMIT: usize = 200 + 3;

/// NUL, ESC, RIGHT-TO-LEFT OVERRIDE, LEFT-TO-RIGHT ISOLATE, DEL, a C1 control.
const HIDDEN: [char; 6] = [
    '\u{0}', '\u{1b}', '\u{202e}', '\u{2066}', '\u{7f}', '\u{85}',
];

fn hostile_name() -> String {
    format!("h\u{0}\u{1b}[2J\u{202e}{}", "n".repeat(10_000))
}

/// A custom profile `app`: `web` (8080, reached by `db` and the `admin`
/// network; 9000 loopback) and `db` (5432, reached by `web`).
fn app_plan() -> Value {
    json!({
        "name": "app",
        "profiles": ["app"],
        "custom-profiles": [{
            "name": "app", "title": "App",
            "components": [{"name": "web", "title": "Web"}, {"name": "db", "title": "DB"}],
            "networks": [{"name": "admin"}],
            "specs": [
                {"id": "web.http", "component": "web", "ports": 8080, "transport": "tcp",
                 "allocation": "fixed", "exposure": "peers",
                 "accessed-by": [{"component": "db"}, {"network": "admin"}],
                 "modifiable": "not-supported", "purpose": "HTTP", "source": "s"},
                {"id": "web.ctl", "component": "web", "ports": 9000, "transport": "tcp",
                 "allocation": "fixed", "exposure": "loopback",
                 "modifiable": "not-supported", "purpose": "control", "source": "s"},
                {"id": "db.sql", "component": "db", "ports": 5432, "transport": "tcp",
                 "allocation": "fixed", "exposure": "peers",
                 "accessed-by": [{"component": "web"}],
                 "modifiable": "not-supported", "purpose": "SQL", "source": "s"}
            ]
        }],
        "hosts": [
            {"name": "w1", "address": "198.18.1.11", "components": ["web"]},
            {"name": "d1", "address": "198.18.1.12", "components": ["db"]}
        ],
        "networks": [{"name": "admin", "cidrs": ["198.18.50.0/24"]}]
    })
}

fn plan(value: &Value) -> Plan {
    parse_plan(&value.to_string()).expect("the plan parses")
}

fn rejected(value: &Value) -> PlanError {
    match parse_plan(&value.to_string()) {
        Ok(plan) => validate_plan(&plan).expect_err("the plan is rejected"),
        Err(error) => error,
    }
}

fn report(value: &Value) -> Report {
    validate_plan(&plan(value)).expect("the plan is valid")
}

fn paths(error: &PlanError) -> Vec<&str> {
    error.problems.iter().map(|p| p.path.as_str()).collect()
}

/// Every field of every problem is bounded and holds no raw hidden character,
/// and so do both renderings of the error.
fn assert_tame(error: &PlanError) {
    for p in &error.problems {
        for field in [&p.path, &p.value] {
            assert!(field.chars().count() <= LIMIT, "{} chars", field.len());
        }
        assert!(p.message.chars().count() <= 1000, "{}", p.message);
    }
    for text in [
        render_plan_error(error, ReportFormat::Table),
        render_plan_error(error, ReportFormat::Json),
    ] {
        assert!(!text.contains(HIDDEN), "raw hidden character in {text}");
        assert!(
            text.len() < 1500 * error.problems.len(),
            "{} bytes",
            text.len()
        );
    }
}

#[test]
fn a_10kb_host_name_is_quoted_capped_and_escaped() {
    let name = hostile_name();
    let mut value = app_plan();
    value["hosts"][0]["name"] = json!(name);
    value["hosts"][1]["name"] = json!(name);
    value["hosts"][1]["components"] = json!([name, "db"]);
    value["profiles"] = json!(["app", name]);
    value["networks"][0]["name"] = json!(name);
    let error = rejected(&value);
    assert_eq!(
        paths(&error),
        [
            "profiles[1]",
            "networks[0].name",
            "hosts[1].name",
            "hosts[1].components[0]"
        ]
    );
    assert_tame(&error);
    let duplicate = &error.problems[2];
    assert!(
        duplicate
            .value
            .starts_with("h\\u{0}\\u{1b}[2J\\u{202e}nnnn"),
        "{}",
        duplicate.value
    );
    assert!(duplicate.value.ends_with("n..."));
    // The message names the plan's profiles, each quoted the same way.
    let unknown = &error.problems[3].message;
    assert!(unknown.starts_with("unknown component for profiles app, h\\u{0}"));
    assert!(unknown.ends_with("; known: db, web"), "{unknown}");
}

#[test]
fn findings_quote_plan_names_capped_and_escaped() {
    let name = hostile_name();
    let mut value = app_plan();
    value["deploy-user"] = json!("non-root");
    value["hosts"] = json!([
        {"name": name, "address": "198.18.1.11", "components": ["web", "db"]},
        {"name": "d1", "address": "198.18.1.12", "components": ["db"]}
    ]);
    value["overrides"] = json!([
        {"spec": "web.http", "ports": 80},
        {"spec": "db.sql", "ports": 80}
    ]);
    value["observations"] = json!([{
        "host": name, "phase": "postinstall",
        "observation": {"listeners": [
            {"transport": "tcp", "address": "0.0.0.0", "port": 9000, "pid": 7, "command": name}
        ]}
    }]);
    let report = report(&value);
    let on_host = report
        .findings
        .iter()
        .filter(|f| f.host.as_deref() == Some(name.as_str()))
        .count();
    assert!(on_host >= 6, "{:#?}", report.findings);
    for f in &report.findings {
        for text in [&f.message, &f.fix] {
            assert!(
                text.chars().count() < 1000,
                "{} chars: {}",
                text.len(),
                &text[..300]
            );
            assert!(!text.contains(HIDDEN), "{text}");
        }
    }
    let conflict = report
        .findings
        .iter()
        .find(|f| f.code == FindingCode::PortConflict)
        .expect("a port conflict");
    assert!(
        conflict
            .message
            .contains(" on h\\u{0}\\u{1b}[2J\\u{202e}nnn")
    );
    let exposed = report
        .findings
        .iter()
        .find(|f| f.code == FindingCode::LoopbackExposed)
        .expect("loopback exposed");
    assert!(
        exposed.message.contains("listens on 0.0.0.0:9000"),
        "{}",
        exposed.message
    );
    let table = render_report(&report, ReportFormat::Table);
    assert!(!table.contains(HIDDEN));
    assert!(table.len() < 20_000, "{} bytes", table.len());
}

#[test]
fn lists_of_plan_names_in_a_message_are_bounded() {
    let mut value = app_plan();
    let components: Vec<Value> = (0..200)
        .map(|i| json!({"name": format!("c{i}-{}", "x".repeat(1000)), "title": "t"}))
        .collect();
    value["custom-profiles"][0]["components"] = json!(components);
    value["custom-profiles"][0]["specs"] = json!([]);
    value["hosts"][0]["components"] = json!(["nope"]);
    value["hosts"].as_array_mut().expect("hosts").truncate(1);
    let error = rejected(&value);
    assert_eq!(paths(&error), ["hosts[0].components[0]"]);
    assert_tame(&error);
    let message = &error.problems[0].message;
    assert!(message.contains("c0-xxx"), "{message}");
    assert!(message.ends_with(" more)"), "{message}");
}

#[test]
fn decoder_problems_quote_capped_and_escaped_values_keys_and_messages() {
    let long = format!("\u{0}\u{202e}{}", "k".repeat(10_000));
    let mut unknown_key = app_plan();
    unknown_key["hosts"][0][long.as_str()] = json!(1);
    let mut bad_port = app_plan();
    bad_port["overrides"] = json!([{"spec": "web.http", "ports": long}]);
    let mut bad_variant = app_plan();
    bad_variant["deploy-user"] = json!(long);
    let mut bad_type = app_plan();
    bad_type["hosts"][0]["name"] = json!([long, long, long]);
    for value in [unknown_key, bad_port, bad_variant, bad_type] {
        let error = parse_plan(&value.to_string()).expect_err("does not parse");
        assert_eq!(error.problems.len(), 1);
        assert_tame(&error);
    }
    // The list of expected fields survives the cut of the key.
    let mut unknown_key = app_plan();
    unknown_key["hosts"][0][long.as_str()] = json!(1);
    let error = parse_plan(&unknown_key.to_string()).expect_err("does not parse");
    let problem = &error.problems[0];
    assert!(problem.path.starts_with("hosts[0].\\u{0}\\u{202e}kkk"));
    assert!(problem.path.ends_with("k..."));
    assert!(
        problem.message.ends_with(
            "...`, expected one of `name`, `address`, `components`, `deploy-user`, `overrides`"
        ),
        "{}",
        problem.message
    );
    assert_eq!(problem.value, "1");
}

#[test]
fn sheet_cells_a_spreadsheet_would_evaluate_are_neutralised() {
    let formula = r#"=HYPERLINK("http://x")"#;
    let mut value = app_plan();
    value["name"] = json!("plan\u{0}\u{202e}");
    value["hosts"][0]["name"] = json!(formula);
    value["hosts"][1]["name"] = json!("@SUM(1+1)\u{202e}");
    value["custom-profiles"][0]["specs"][0]["purpose"] = json!(formula);
    value["custom-profiles"][0]["specs"][2]["purpose"] = json!("\tcmd|' /C calc'!A0\r\n-2+3");
    let report = report(&value);

    let csv = render_report(&report, ReportFormat::Csv);
    assert!(!csv.contains(HIDDEN), "{csv}");
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("a CSV record").iter().map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "evaluated cell {cell:?}"
            );
        }
    }
    // w1's 8080 row: host and purpose were formulas; the rest is untouched.
    let web = rows.iter().find(|r| r[2] == "8080").expect("the 8080 row");
    assert_eq!(web[0], format!("'{formula}"));
    assert_eq!(web[1], "198.18.1.11");
    assert_eq!(web[4], "198.18.1.12/32 198.18.50.0/24");
    assert_eq!(web[5], format!("'{formula} (web.http)"));
    let db = rows.iter().find(|r| r[2] == "5432").expect("the 5432 row");
    assert_eq!(db[0], "'@SUM(1+1)\\u{202e}");
    assert_eq!(db[5], "'\\u{9}cmd|' /C calc'!A0\\u{d}\\u{a}-2+3 (db.sql)");

    let markdown = render_report(&report, ReportFormat::Markdown);
    assert!(!markdown.contains(HIDDEN), "{markdown}");
    assert!(markdown.starts_with("# Firewall request: plan\\u{0}\\u{202e}\n"));
    assert!(markdown.contains(&format!("| '{formula} | 198.18.1.11 | 8080 |")));
    assert!(markdown.contains("| '\\u{9}cmd\\|' /C calc'!A0\\u{d}\\u{a}-2+3 (db.sql) |"));
    assert_eq!(markdown.lines().count(), 6, "{markdown}");

    let table = render_report(&report, ReportFormat::Table);
    assert!(!table.contains(HIDDEN), "{table}");
    assert!(table.starts_with("plan plan\\u{0}\\u{202e}: "));
    assert!(table.contains("host @SUM(1+1)\\u{202e} (198.18.1.12)"));
}

#[test]
fn ordinary_sheets_are_unchanged() {
    let report = report(&app_plan());
    let csv = render_report(&report, ReportFormat::Csv);
    assert_eq!(
        csv,
        "host,address,port,transport,allowed sources,purpose\n\
         w1,198.18.1.11,8080,tcp,198.18.1.12/32 198.18.50.0/24,HTTP (web.http)\n\
         d1,198.18.1.12,5432,tcp,198.18.1.11/32,SQL (db.sql)\n"
    );
    let markdown = render_report(&report, ReportFormat::Markdown);
    assert!(markdown.contains(
        "| w1 | 198.18.1.11 | 8080 | tcp | 198.18.1.12/32 198.18.50.0/24 | HTTP (web.http) |"
    ));
}

#[test]
fn an_ipv4_mapped_address_is_a_duplicate_of_its_ipv4_address() {
    let mut value = app_plan();
    value["hosts"][1]["address"] = json!("::ffff:198.18.1.11");
    let error = rejected(&value);
    assert_eq!(paths(&error), ["hosts[1].address"]);
    assert_eq!(error.problems[0].value, "::ffff:198.18.1.11");
    assert_eq!(
        error.problems[0].message,
        "duplicate host address; hosts[0] has it already"
    );
}

#[test]
fn ipv4_mapped_addresses_and_cidrs_never_become_ipv6_sources() {
    let mut value = app_plan();
    value["hosts"][1]["address"] = json!("::ffff:198.18.1.12");
    value["networks"][0]["cidrs"] = json!(["::ffff:198.18.50.0/120", "::FFFF:C612:3301"]);
    let report = report(&value);
    let d1 = report.hosts.iter().find(|h| h.host == "d1").expect("d1");
    assert_eq!(d1.address, "198.18.1.12");
    let rules = portplan_core::firewall_rules(&report, None).expect("rules");
    let sources: Vec<(&str, Vec<&str>)> = rules
        .iter()
        .map(|r| {
            (
                r.spec.as_str(),
                r.sources.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            (
                "web.http",
                vec!["198.18.1.12/32", "198.18.50.0/24", "198.18.51.1/32"]
            ),
            ("db.sql", vec!["198.18.1.11/32"]),
        ]
    );
}

/// A postinstall observation of w1 with a listener on the loopback spec's port.
fn observed(listener: &str, open: Option<&str>) -> Observation {
    let firewall = open.map(|source| {
        json!({"backend": "nftables", "open": [
            {"transport": "tcp", "ports": 9000, "sources": [source]}
        ]})
    });
    serde_json::from_value(json!({
        "listeners": [{"transport": "tcp", "address": listener, "port": 9000}],
        "firewall": firewall,
    }))
    .expect("an observation")
}

fn loopback_exposed(observation: &Observation) -> usize {
    let report = check_host(&plan(&app_plan()), "w1", Phase::Postinstall, observation)
        .expect("a valid observation");
    report
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::LoopbackExposed)
        .count()
}

#[test]
fn ipv4_mapped_listeners_and_observed_sources_are_ipv4() {
    assert_eq!(loopback_exposed(&observed("::ffff:127.0.0.1", None)), 0);
    assert_eq!(loopback_exposed(&observed("::ffff:198.18.1.11", None)), 1);
    let firewalled = |source| observed("127.0.0.1", Some(source));
    assert_eq!(loopback_exposed(&firewalled("::ffff:127.0.0.1/128")), 0);
    assert_eq!(loopback_exposed(&firewalled("127.0.0.1/32")), 0);
    assert_eq!(loopback_exposed(&firewalled("::ffff:198.18.1.20/128")), 1);
}

#[test]
fn accessors_naming_nothing_are_rejected_with_their_path() {
    let mut value = app_plan();
    value["custom-profiles"][0]["specs"][0]["accessed-by"] = json!([
        {"component": "db"},
        {"component": "nope"},
        {"profile": "nada"},
        {"network": "nowhere"},
        {"component": "ocp-server"},
        {"profile": "ocp"},
        {"profile": "app"},
        {"component": "\u{202e}x"}
    ]);
    let error = rejected(&value);
    assert_eq!(
        paths(&error),
        [
            "custom-profiles[0].specs[0].accessed-by[1]",
            "custom-profiles[0].specs[0].accessed-by[2]",
            "custom-profiles[0].specs[0].accessed-by[3]",
            "custom-profiles[0].specs[0].accessed-by[7]",
        ],
        "{error}"
    );
    let values: Vec<&str> = error.problems.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(values, ["nope", "nada", "nowhere", "\\u{202e}x"]);
    assert!(error.problems[0].message.contains("unknown component"));
    assert!(
        error.problems[1]
            .message
            .starts_with("unknown profile; known profiles: app, ")
    );
    assert!(error.problems[2].message.contains("network not declared"));
    assert_tame(&error);
}

#[test]
fn an_accessor_may_name_another_custom_profile_of_the_plan() {
    let mut value = app_plan();
    let other = json!({
        "name": "tools", "title": "Tools",
        "components": [{"name": "probe", "title": "Probe"}],
        "specs": []
    });
    value["custom-profiles"]
        .as_array_mut()
        .expect("custom profiles")
        .push(other);
    value["custom-profiles"][0]["specs"][0]["accessed-by"] =
        json!([{"component": "probe"}, {"profile": "tools"}]);
    report(&value);
}

#[test]
fn an_observed_listener_on_port_0_is_rejected_with_its_path() {
    let mut value = app_plan();
    value["observations"] = json!([{
        "host": "w1", "phase": "postinstall",
        "observation": {"listeners": [
            {"transport": "tcp", "address": "0.0.0.0", "port": 8080},
            {"transport": "udp", "address": "::", "port": 0}
        ]}
    }]);
    let error = rejected(&value);
    assert_eq!(
        paths(&error),
        ["observations[0].observation.listeners[1].port"]
    );
    assert_eq!(error.problems[0].value, "0");

    let observation: Observation = serde_json::from_value(json!({
        "listeners": [{"transport": "tcp", "address": "127.0.0.1", "port": 0}]
    }))
    .expect("an observation");
    let error = check_host(&plan(&app_plan()), "w1", Phase::Preinstall, &observation)
        .expect_err("port 0 is rejected");
    assert_eq!(paths(&error), ["observation.listeners[0].port"]);
}

/// FNV-1a's low 32 bits, as `sanitize_tag` names a tag it had to change.
fn fnv(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash as u32)
}

/// A spec id written in the form a sanitized tag takes (`web.a_b-HASH`
/// beside `web.a b`) would share that spec's firewall tag: each spec's
/// rules would read as the other's. Refused, naming both.
#[test]
fn spec_ids_that_would_share_a_tag_are_refused() {
    let mut value = app_plan();
    let twin = format!("web.a_b-{}", fnv("portplan:web.a b"));
    let specs = value["custom-profiles"][0]["specs"]
        .as_array_mut()
        .expect("specs");
    for id in ["web.a b", twin.as_str()] {
        let mut spec = specs[0].clone();
        spec["id"] = json!(id);
        spec["ports"] = json!(8100);
        specs.push(spec);
    }
    let error = rejected(&value);
    let problem = error
        .problems
        .iter()
        .find(|p| p.message.contains("firewall tag"))
        .unwrap_or_else(|| panic!("{error:?}"));
    assert_eq!(problem.path, "custom-profiles[0].specs[4].id");
    assert_eq!(problem.value, twin);
    assert!(problem.message.contains("web.a b"), "{}", problem.message);

    // Ids that only look alike keep their own tags.
    let mut value = app_plan();
    let specs = value["custom-profiles"][0]["specs"]
        .as_array_mut()
        .expect("specs");
    for id in ["web.a-b", "web.a.b", "web.a_b"] {
        let mut spec = specs[0].clone();
        spec["id"] = json!(id);
        specs.push(spec);
    }
    report(&value);
}
