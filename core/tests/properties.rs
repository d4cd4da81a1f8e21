//! Properties over generated input: no input makes the core panic, and
//! reports keep their invariants on any plan.
//!
//! Every function of the WIT world is fed arbitrary well-typed records (with
//! [`Ranges::Any`] also the port ranges only a typed record can hold: port 0,
//! `first > last`) and arbitrary JSON: it answers with a result or an error
//! that says what is wrong and where, never a panic. The plugins get the same
//! records in `tests/tests/plugin_properties.rs`.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::Ipv4Addr;

use portplan_core::{
    Command, FirewallBackend, FirewallChange, FirewallOutput, FirewallRule, FirewallState,
    HostObservation, Observation, Plan, PlanError, ProbeSource, Profile, Report, ReportFormat,
    Severity, TruthTable,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::arb::{self, Ranges};

/// Any JSON value, nested a few levels, with keys the plan uses so that the
/// generator reaches past the first unknown-field error.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("name".to_string()),
        Just("profiles".to_string()),
        Just("hosts".to_string()),
        Just("address".to_string()),
        Just("components".to_string()),
        Just("ports".to_string()),
        Just("first".to_string()),
        Just("last".to_string()),
        Just("spec".to_string()),
        Just("overrides".to_string()),
        "[a-z-]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u16>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("ocp".to_string()),
            Just("ocp-server".to_string()),
            Just("198.18.0.1".to_string()),
            ".{0,12}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const COMPONENTS: [&str; 5] = [
    "ocp-server",
    "ocp-agent",
    "observer",
    "obproxy",
    "backup-agent",
];
const SPECS: [&str; 6] = [
    "ocp-server.http",
    "observer.sql",
    "observer.rpc",
    "obproxy.sql",
    "ocp-agent.rpc",
    "backup-agent.backup",
];

/// Well-formed OCP plans with random placement, overrides and networks.
fn ocp_plan() -> impl Strategy<Value = Value> {
    let host = (
        prop::sample::subsequence(COMPONENTS.to_vec(), 1..=5),
        1u8..=254,
    );
    let overrides =
        prop::collection::vec((prop::sample::select(SPECS.to_vec()), 1u16..=65535), 0..3);
    (
        prop::collection::vec(host, 1..6),
        overrides,
        any::<bool>(),
        prop::option::of((any::<[u8; 4]>(), 0u8..=32)),
    )
        .prop_map(|(hosts, overrides, non_root, network)| {
            let mut seen = std::collections::BTreeSet::new();
            let hosts: Vec<Value> = hosts
                .into_iter()
                .enumerate()
                .filter(|(_, (_, last))| seen.insert(*last))
                .map(|(i, (components, last))| {
                    json!({ "name": format!("h{i}"), "address": Ipv4Addr::new(198, 18, 0, last).to_string(), "components": components })
                })
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            let overrides: Vec<Value> = overrides
                .into_iter()
                .filter(|(spec, _)| seen.insert(*spec))
                .map(|(spec, port)| json!({ "spec": spec, "ports": port }))
                .collect();
            let networks: Vec<Value> = network
                .map(|(octets, prefix)| json!({ "name": "application", "cidrs": [format!("{}/{prefix}", Ipv4Addr::from(octets))] }))
                .into_iter()
                .collect();
            json!({
                "name": "generated", "profiles": ["ocp"], "hosts": hosts, "overrides": overrides, "networks": networks,
                "deploy-user": if non_root { "non-root" } else { "root" }
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_json_makes_the_core_panic(value in any_json()) {
        if let Ok(plan) = portplan_core::parse_plan(&value.to_string())
            && let Ok(report) = portplan_core::validate_plan(&plan)
        {
            for format in [ReportFormat::Json, ReportFormat::Table, ReportFormat::Markdown, ReportFormat::Csv] {
                portplan_core::render_report(&report, format);
            }
        }
    }

    #[test]
    fn no_text_makes_the_parser_panic(text in ".{0,64}") {
        let _ = portplan_core::parse_plan(&text);
    }

    #[test]
    fn rejected_plans_name_a_path(value in any_json()) {
        if let Err(error) = portplan_core::parse_plan(&value.to_string()).and_then(|p| portplan_core::validate_plan(&p)) {
            prop_assert!(!error.problems.is_empty());
            prop_assert!(error.problems.iter().all(|p| !p.path.is_empty() && !p.message.is_empty()));
        }
    }

    #[test]
    fn reports_keep_their_invariants(plan in ocp_plan()) {
        let text = plan.to_string();
        let parsed = portplan_core::parse_plan(&text).unwrap();
        let report = match portplan_core::validate_plan(&parsed) {
            Ok(report) => report,
            // Only an override whose shape differs from the spec's may be rejected.
            Err(error) => {
                prop_assert!(error.problems.iter().all(|p| p.path.starts_with("overrides[")), "{error}");
                return Ok(());
            }
        };
        // Deterministic, byte for byte.
        let again = portplan_core::validate_plan(&portplan_core::parse_plan(&text).unwrap()).unwrap();
        prop_assert_eq!(
            portplan_core::render_report(&report, ReportFormat::Json),
            portplan_core::render_report(&again, ReportFormat::Json)
        );
        // Each group listed once and named by some row; a rule never admits
        // its host alone, and nothing is open to everyone unless a network says so.
        let names: std::collections::BTreeSet<&str> =
            report.source_groups.iter().map(|g| g.name.as_str()).collect();
        prop_assert_eq!(names.len(), report.source_groups.len());
        let named: std::collections::BTreeSet<&str> =
            report.hosts.iter().flat_map(|h| &h.ports).filter_map(|p| p.group.as_deref()).collect();
        prop_assert_eq!(&names, &named);
        for rule in &portplan_core::firewall_rules(&report, None).unwrap() {
            let host = report.hosts.iter().find(|h| h.host == rule.host).unwrap();
            let own = [format!("{}/32", host.address), format!("{}/128", host.address)];
            prop_assert!(!own.contains(&rule.sources.concat()), "{rule:?}");
            prop_assert!(!rule.sources.is_empty());
            if rule.sources.iter().any(|s| s == "0.0.0.0/0") {
                prop_assert!(text.contains("/0\""));
            }
            prop_assert!(!rule.spec.starts_with("backup-agent."), "loopback spec opened");
        }
        // Findings come errors first, and the summary counts them.
        let errors = report.findings.iter().filter(|f| f.severity == Severity::Error).count() as u32;
        prop_assert_eq!(report.summary.errors, errors);
        prop_assert!(report.findings.windows(2).all(|w| w[0].severity <= w[1].severity));
    }
}

// Every WIT function, on arbitrary well-typed records and arbitrary JSON.

const FORMATS: [ReportFormat; 4] = [
    ReportFormat::Json,
    ReportFormat::Table,
    ReportFormat::Markdown,
    ReportFormat::Csv,
];

/// A rejection says what is wrong and where.
fn explained(error: &PlanError) -> Result<(), TestCaseError> {
    prop_assert!(!error.problems.is_empty(), "an error without problems");
    prop_assert!(
        error
            .problems
            .iter()
            .all(|p| !p.path.is_empty() && !p.message.is_empty()),
        "a problem without a path or message: {:?}",
        error
    );
    Ok(())
}

/// The answer, once any error has been checked to explain itself.
fn answer<T>(result: Result<T, PlanError>) -> Result<Option<T>, TestCaseError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) => explained(&error).map(|()| None),
    }
}

/// A report's own invariants, and every rendering of it.
fn report_holds(report: &Report) -> Result<(), TestCaseError> {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count() as u32;
    prop_assert_eq!(report.summary.errors, count(Severity::Error));
    prop_assert_eq!(report.summary.warnings, count(Severity::Warning));
    prop_assert_eq!(report.summary.infos, count(Severity::Info));
    for format in FORMATS {
        portplan_core::render_report(report, format);
    }
    Ok(())
}

/// Whether every port range in `value`'s JSON is one JSON decoding accepts.
fn ranges_valid(value: &impl serde::Serialize) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::Object(o) => {
                if let (Some(Value::Number(f)), Some(Value::Number(l))) =
                    (o.get("first"), o.get("last"))
                {
                    let (f, l) = (f.as_u64().unwrap_or(0), l.as_u64().unwrap_or(0));
                    if f == 0 || f > l {
                        return false;
                    }
                }
                o.values().all(walk)
            }
            Value::Array(a) => a.iter().all(walk),
            _ => true,
        }
    }
    walk(&serde_json::to_value(value).unwrap())
}

/// Reads `text` as every contract type a WIT function takes, and hands
/// whatever reads to that function.
fn read_every_type(text: &str) -> Result<(), TestCaseError> {
    use portplan_core::shell::parse_json;
    if let Some(plan) = answer(portplan_core::parse_plan(text))? {
        prop_assert_eq!(parse_json::<Plan>(text), Ok(plan.clone()));
        if let Some(report) = answer(portplan_core::validate_plan(&plan))? {
            report_holds(&report)?;
        }
        if let Some(host) = plan.hosts.first() {
            let checked = portplan_core::check_host(
                &plan,
                &host.name,
                portplan_core::Phase::Postinstall,
                &Observation::default(),
            );
            if let Some(report) = answer(checked)? {
                report_holds(&report)?;
            }
        }
    }
    if let Some(observation) = answer(parse_json::<Observation>(text))? {
        let plan = portplan_core::parse_plan(arb::PLAN_TEXTS[10]).unwrap();
        for host in &plan.hosts {
            for phase in [
                portplan_core::Phase::Preinstall,
                portplan_core::Phase::Postinstall,
            ] {
                answer(portplan_core::check_host(
                    &plan,
                    &host.name,
                    phase,
                    &observation,
                ))?;
            }
        }
    }
    answer(parse_json::<HostObservation>(text))?;
    if let Some(report) = answer(parse_json::<Report>(text))? {
        for format in FORMATS {
            portplan_core::render_report(&report, format);
        }
    }
    if let Some(error) = answer(parse_json::<PlanError>(text))? {
        for format in FORMATS {
            portplan_core::render_plan_error(&error, format);
        }
    }
    if let Some(output) = answer(parse_json::<FirewallOutput>(text))? {
        for backend in arb::BACKENDS {
            answer(portplan_core::read_firewall(backend, &output))?;
        }
    }
    if let Some(state) = answer(parse_json::<FirewallState>(text))? {
        for remove_all in [false, true] {
            answer(portplan_core::plan_firewall(&[], &state, remove_all))?;
        }
        answer(portplan_core::plan_restore(&state, &state))?;
    }
    if let Some(rules) = answer(parse_json::<Vec<FirewallRule>>(text))? {
        for backend in &arb::BACKENDS[..4] {
            let empty = portplan_core::empty_firewall(*backend).unwrap();
            answer(portplan_core::plan_firewall(&rules, &empty, false))?;
        }
    }
    if let Some(profile) = answer(parse_json::<Profile>(text))? {
        let mut plan = portplan_core::parse_plan(arb::PLAN_TEXTS[10]).unwrap();
        plan.profiles.push(profile.name.clone());
        plan.custom_profiles.push(profile);
        answer(portplan_core::validate_plan(&plan))?;
    }
    answer(parse_json::<FirewallBackend>(text))?;
    answer(parse_json::<ReportFormat>(text))?;
    answer(parse_json::<portplan_core::Phase>(text))?;
    answer(parse_json::<FirewallChange>(text))?;
    answer(parse_json::<Vec<Command>>(text))?;
    Ok(())
}

#[test]
fn the_catalog_reads_back() {
    let catalog = portplan_core::catalog();
    assert!(!catalog.is_empty());
    for profile in &catalog {
        let text = serde_json::to_string(profile).unwrap();
        assert_eq!(
            portplan_core::shell::parse_json::<Profile>(&text).as_ref(),
            Ok(profile)
        );
        assert_eq!(
            portplan_core::get_profile(&profile.name).as_ref(),
            Ok(profile)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    // catalog, get-profile

    #[test]
    fn get_profile_takes_any_name(name in arb::profile_name()) {
        let catalog = portplan_core::catalog();
        match portplan_core::get_profile(&name) {
            Ok(profile) => {
                prop_assert_eq!(&profile.name, &name);
                prop_assert!(catalog.contains(&profile));
            }
            Err(error) => {
                explained(&error)?;
                prop_assert!(catalog.iter().all(|p| p.name != name));
            }
        }
    }

    // parse-plan (and shell::parse_json for every type a function takes)

    #[test]
    fn every_reader_takes_any_json_text(text in arb::json_text()) {
        read_every_type(&text)?;
    }

    #[test]
    fn every_reader_takes_edited_records(value in arb::record_json()) {
        read_every_type(&value.to_string())?;
    }

    // validate-plan

    #[test]
    fn validate_plan_takes_any_decodable_plan(plan in arb::plan(Ranges::Valid)) {
        if let Some(report) = answer(portplan_core::validate_plan(&plan))? {
            report_holds(&report)?;
        }
    }

    #[test]
    fn validate_plan_takes_any_typed_plan(plan in arb::plan(Ranges::Any)) {
        if let Some(report) = answer(portplan_core::validate_plan(&plan))? {
            report_holds(&report)?;
        }
    }

    // check-host

    #[test]
    fn check_host_takes_any_decodable_input(
        (plan, host) in arb::plan_and_host(Ranges::Valid),
        phase in arb::phase(),
        observation in arb::observation(Ranges::Valid),
    ) {
        if let Some(report) = answer(portplan_core::check_host(&plan, &host, phase, &observation))? {
            report_holds(&report)?;
            prop_assert!(report.hosts.iter().all(|h| h.host == host));
        }
    }

    #[test]
    fn check_host_takes_any_typed_input(
        (plan, host) in arb::plan_and_host(Ranges::Any),
        phase in arb::phase(),
        observation in arb::observation(Ranges::Any),
    ) {
        if let Some(report) = answer(portplan_core::check_host(&plan, &host, phase, &observation))? {
            report_holds(&report)?;
        }
    }

    // render-report

    #[test]
    fn render_report_takes_any_report(report in arb::report(Ranges::Any), format in arb::report_format()) {
        portplan_core::render_report(&report, format);
    }

    #[test]
    fn rendered_json_reports_read_back(report in arb::report(Ranges::Valid)) {
        let text = portplan_core::render_report(&report, ReportFormat::Json);
        prop_assert_eq!(portplan_core::shell::parse_json::<Report>(&text), Ok(report));
    }

    // render-plan-error

    #[test]
    fn render_plan_error_takes_any_error(error in arb::plan_error(), format in arb::report_format()) {
        let text = portplan_core::render_plan_error(&error, format);
        if format == ReportFormat::Json {
            prop_assert_eq!(portplan_core::shell::parse_json::<PlanError>(&text), Ok(error));
        }
    }

    // read-firewall

    #[test]
    fn read_firewall_takes_any_output((backend, output) in arb::firewall_input()) {
        if let Some(state) = answer(portplan_core::read_firewall(backend, &output))? {
            prop_assert_eq!(state.backend(), backend);
            // What core reads never dangles.
            prop_assert_eq!(state.check("state"), Ok(()));
            for remove_all in [false, true] {
                answer(portplan_core::plan_firewall(&[], &state, remove_all))?;
            }
            answer(portplan_core::plan_restore(&state, &state))?;
        }
    }

    // empty-firewall

    #[test]
    fn empty_firewall_takes_any_backend(backend in arb::backend(), rules in arb::firewall_rules(Ranges::Valid)) {
        match portplan_core::empty_firewall(backend) {
            Ok(state) => {
                prop_assert_eq!(state.backend(), backend);
                prop_assert!(state.tagged().is_empty() && state.open().is_empty());
                let change = portplan_core::plan_firewall(&[], &state, false);
                prop_assert!(change.is_ok_and(|c| c.commands.is_empty()));
                answer(portplan_core::plan_firewall(&rules, &state, false))?;
            }
            Err(error) => {
                explained(&error)?;
                prop_assert_eq!(backend, FirewallBackend::None);
            }
        }
    }

    // plan-firewall

    #[test]
    fn plan_firewall_takes_any_decodable_input(
        rules in arb::firewall_rules(Ranges::Valid),
        state in arb::firewall_state(Ranges::Valid),
        remove_all in any::<bool>(),
    ) {
        if let Some(change) = answer(portplan_core::plan_firewall(&rules, &state, remove_all))? {
            prop_assert_eq!(change.backend, state.backend());
            prop_assert_eq!(state.check("state"), Ok(()));
        }
    }

    #[test]
    fn plan_firewall_takes_any_typed_input(
        rules in arb::firewall_rules(Ranges::Any),
        state in arb::firewall_state(Ranges::Any),
        remove_all in any::<bool>(),
    ) {
        if let Some(change) = answer(portplan_core::plan_firewall(&rules, &state, remove_all))? {
            prop_assert_eq!(change.backend, state.backend());
            prop_assert!(ranges_valid(&rules) || remove_all, "a rule with a bad range was planned");
        }
    }

    // plan-restore

    #[test]
    fn plan_restore_takes_any_decodable_pair((before, now) in arb::state_pair(Ranges::Valid)) {
        answer(portplan_core::plan_restore(&before, &now))?;
    }

    #[test]
    fn plan_restore_takes_any_typed_pair((before, now) in arb::state_pair(Ranges::Any)) {
        answer(portplan_core::plan_restore(&before, &now))?;
    }
    // probe-plan, reach-report, render-truth-table

    #[test]
    fn probe_plan_takes_any_typed_input(
        (plan, host) in arb::plan_and_host(Ranges::Any),
        source in arb::reach::probe_source(),
        phase in arb::phase(),
        as_host in any::<bool>(),
    ) {
        let source = if as_host { ProbeSource::Host(host) } else { source };
        if let Some(probes) = answer(portplan_core::probe_plan(&plan, &source, phase))? {
            prop_assert_eq!(&probes.source, &source);
            // A host never probes itself, and listens only before install.
            if let ProbeSource::Host(name) = &source {
                prop_assert!(probes.targets.iter().all(|t| &t.destination != name));
            } else {
                prop_assert!(probes.listen.is_empty());
            }
        }
    }

    #[test]
    fn reach_report_takes_any_input((plan, served, probed) in arb::reach::reach_input(Ranges::Any)) {
        if let Some(table) = answer(portplan_core::reach_report(&plan, &served, &probed))? {
            let s = table.summary;
            prop_assert_eq!(s.rows as usize, table.rows.len());
            prop_assert_eq!(s.as_expected + s.mismatches + s.unknown, s.rows);
            prop_assert_eq!(s.mismatches as usize, table.findings.len());
            for format in [ReportFormat::Json, ReportFormat::Table, ReportFormat::Markdown, ReportFormat::Csv] {
                portplan_core::render_truth_table(&table, format);
            }
        }
    }

    #[test]
    fn fitting_results_give_a_table((plan, served, probed) in arb::reach::reach_input(Ranges::Valid)) {
        // Results made from the plan's own probe plan are never rejected.
        let fitted = served.len() == 1
            && served[0].plan == plan.name
            && probed.len() == 1
            && probed[0].plan == plan.name;
        if fitted {
            let table = portplan_core::reach_report(&plan, &served, &probed);
            prop_assert!(table.is_ok(), "{:?}", table);
        }
    }

    #[test]
    fn render_truth_table_takes_any_table(table in arb::reach::truth_table(Ranges::Any), format in arb::report_format()) {
        let text = portplan_core::render_truth_table(&table, format);
        if format == ReportFormat::Json {
            let reread = portplan_core::shell::parse_json::<TruthTable>(&text);
            if ranges_valid(&table) {
                prop_assert_eq!(reread, Ok(table));
            }
        }
    }
}

// The contract's JSON writer (`#[derive(Encode)]`, which the plugins answer
// with and `render-*`'s JSON is) against serde_json's, on every type a
// function answers with: the same bytes, compact and pretty.

/// `value` written by core and by serde_json, in both forms.
fn same_json<T: serde::Serialize + portplan_core::Encode>(value: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        portplan_core::shell::compact_json(value),
        serde_json::to_string(value).unwrap()
    );
    prop_assert_eq!(
        portplan_core::shell::render_json(value),
        serde_json::to_string_pretty(value).unwrap() + "\n"
    );
    Ok(())
}

/// The catalog, and every answer of an example plan on each backend: each
/// answered type at least once, whatever the generators below happen to
/// reach.
#[test]
fn core_writes_the_catalog_and_an_examples_answers_as_serde_json_does() {
    same_json(&portplan_core::catalog()).unwrap();
    let plan = portplan_core::parse_plan(arb::PLAN_TEXTS[10]).unwrap();
    let report = portplan_core::validate_plan(&plan).unwrap();
    let rules = portplan_core::firewall_rules(&report, Some(&plan.hosts[0].name)).unwrap();
    for backend in &arb::BACKENDS[..4] {
        let empty = portplan_core::empty_firewall(*backend).unwrap();
        let change = portplan_core::plan_firewall(&rules, &empty, false).unwrap();
        assert!(!change.commands.is_empty(), "{backend:?}");
        same_json(&change).unwrap();
        same_json(&portplan_core::plan_restore(&empty, &empty).unwrap()).unwrap();
    }
    let source = ProbeSource::Host(plan.hosts[0].name.clone());
    let probes =
        portplan_core::probe_plan(&plan, &source, portplan_core::Phase::Postinstall).unwrap();
    same_json(&probes).unwrap();
    same_json(&portplan_core::render_report(&report, ReportFormat::Table)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn core_writes_the_json_serde_json_writes(
        plan in arb::plan(Ranges::Any),
        report in arb::report(Ranges::Any),
        error in arb::plan_error(),
        (state, rules) in (arb::firewall_state(Ranges::Any), arb::firewall_rules(Ranges::Any)),
        profile in arb::custom_profile(Ranges::Any),
        observation in arb::observation(Ranges::Any),
        table in arb::reach::truth_table(Ranges::Any),
        (probed, served) in (arb::reach::probe_results(), arb::reach::serve_status()),
    ) {
        same_json(&plan)?;
        same_json(&report)?;
        same_json(&error)?;
        same_json(&state)?;
        same_json(&rules)?;
        same_json(&profile)?;
        same_json(&observation)?;
        same_json(&table)?;
        same_json(&probed)?;
        same_json(&served)?;
        if let Ok(change) = portplan_core::plan_firewall(&rules, &state, false) {
            same_json(&change)?;
        }
        for source in [ProbeSource::Outsider, ProbeSource::Network("x".into())] {
            if let Ok(probes) = portplan_core::probe_plan(&plan, &source, portplan_core::Phase::Postinstall) {
                same_json(&probes)?;
            }
        }
    }
}
