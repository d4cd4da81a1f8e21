//! The WebAssembly plugin set: both plugins reproduce the golden corpus, their
//! exports are exactly the WIT world's functions, the component imports
//! nothing a host must provide, and both validate their typed input as
//! strictly as the native core.
//!
//! Needs `cargo run -p portplan-wasm-build` first (scripts/test runs it).

use std::collections::BTreeSet;
use std::path::Path;

use portplan_tests::component::{ComponentHost, types};
use portplan_tests::extism_plugin::ExtismHost;
use portplan_tests::{built_plugin, corpus_mismatches, repo_root};
use wasmtime::component::types::ComponentItem;

/// The functions the WIT world exports, read from `wit/portplan.wit`.
fn wit_functions() -> BTreeSet<String> {
    portplan_tests::wit_functions().into_iter().collect()
}

fn component() -> ComponentHost {
    portplan_tests::built_component()
}

fn extism() -> ExtismHost {
    portplan_tests::built_extism()
}

#[test]
fn the_component_in_wasmtime_reproduces_the_corpus() {
    let mut host = component();
    let mismatches = corpus_mismatches(|plan| {
        host.validate(plan, types::ReportFormat::Json)
            .map_err(|e| e.to_string())
    });
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn the_extism_plugin_in_the_rust_sdk_reproduces_the_corpus() {
    let mut host = extism();
    let mismatches = corpus_mismatches(|plan| host.validate(plan));
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn the_component_exports_exactly_the_wit_functions() {
    let host = component();
    let ty = host.component.component_type();
    let exports: BTreeSet<String> = ty
        .exports(&host.engine)
        .filter(|(_, item)| matches!(item, ComponentItem::ComponentFunc(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(exports, wit_functions());
}

#[test]
fn the_component_imports_only_the_wits_types() {
    let host = component();
    let ty = host.component.component_type();
    let imports: Vec<(String, Vec<String>)> = ty
        .imports(&host.engine)
        .map(|(name, item)| {
            let ComponentItem::ComponentInstance(instance) = item else {
                panic!("import {name} is not an instance: {item:?}");
            };
            // Everything the instance provides: types are fine, a function would be a real import.
            let functions = instance
                .exports(&host.engine)
                .filter(|(_, export)| !matches!(export, ComponentItem::Type(_)))
                .map(|(export, _)| export.to_string())
                .collect();
            (name.to_string(), functions)
        })
        .collect();
    assert_eq!(
        imports,
        [("portplan:ports/types@0.4.0".to_string(), vec![])]
    );
    assert!(imports.iter().all(|(name, _)| !name.starts_with("wasi:")));
}

#[test]
fn the_extism_plugin_exports_exactly_the_wit_functions() {
    let bytes = std::fs::read(built_plugin("portplan-extism.wasm")).expect("plugin is readable");
    let mut exports = BTreeSet::new();
    let mut imports = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.expect("plugin parses") {
            wasmparser::Payload::ExportSection(section) => {
                for export in section {
                    let export = export.expect("export parses");
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.insert(export.name.to_string());
                    }
                }
            }
            wasmparser::Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    imports.insert(import.expect("import parses").module.to_string());
                }
            }
            _ => {}
        }
    }
    assert_eq!(exports, wit_functions());
    // The Extism kernel only: no WASI, no host functions of ours.
    assert_eq!(imports, BTreeSet::from(["extism:host/env".to_string()]));
    let host = extism();
    assert!(wit_functions().iter().all(|f| host.has(f)));
}

/// A plan whose override has a port-range no JSON input could carry.
fn plan_with_port_zero(host: &mut ComponentHost) -> types::Plan {
    let text = std::fs::read_to_string(repo_root().join("examples/plans/ocp-ce-single.json"))
        .expect("plan");
    let (portplan, store) = host.exports();
    let mut plan = portplan
        .call_parse_plan(store, &text)
        .expect("call")
        .expect("parses");
    plan.overrides.push(types::PortOverride {
        spec: "ocp-server.http".into(),
        ports: types::PortRange { first: 0, last: 0 },
    });
    plan
}

#[test]
fn the_component_rejects_typed_input_the_parser_would() {
    let mut host = component();
    let plan = plan_with_port_zero(&mut host);
    let (portplan, store) = host.exports();
    let error = portplan
        .call_validate_plan(store, &plan)
        .expect("call")
        .expect_err("port 0 is rejected");
    assert_eq!(error.problems.len(), 1);
    assert_eq!(error.problems[0].path, "overrides[0].ports");
    assert_eq!(error.problems[0].message, "port 0 is outside 1-65535");
}

#[test]
fn the_extism_plugin_names_the_path_and_value_of_every_problem() {
    let mut host = extism();
    let plan = r#"{"name": "x", "profiles": ["ocp"], "hosts": [{"name": "h", "address": 5, "components": "observer", "port": 1}]}"#;
    let error = host
        .call("validate-plan", &format!(r#"{{"plan": {plan}}}"#))
        .expect_err("rejected");
    let error: portplan_core::PlanError =
        serde_json::from_str(&error).expect("the error is plan-error JSON");
    // Every problem, with the plan's own paths: those of the CLI, the corpus
    // and core's semantic problems (`profiles[1]`), not `plan.hosts[0]...`.
    let native = portplan_core::parse_plan(plan).expect_err("rejected natively");
    assert_eq!(error, native);
    let paths: Vec<(&str, &str)> = error
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("hosts[0].address", "5"),
            ("hosts[0].components", "\"observer\""),
            ("hosts[0].port", "1")
        ]
    );
    let error = host
        .call("get-profile", r#"{"name": "ocp", "extra": 1}"#)
        .expect_err("rejected");
    assert!(error.contains("unknown field `extra`"), "{error}");
}

/// The plan's problems start at the plan, type errors and semantic problems
/// alike; every other parameter's start with the parameter's WIT name.
#[test]
fn type_and_semantic_problems_share_one_path_convention_in_both_plugins() {
    let ok_host =
        r#"{"name": "h", "address": "198.18.0.1", "components": ["metadb", "ocp-server"]}"#;
    let mut plugin = extism();
    let rejected = |plugin: &mut ExtismHost, function: &str, input: String| {
        let error = plugin.call(function, &input).expect_err("rejected");
        let error: portplan_core::PlanError = serde_json::from_str(&error).expect("plan-error");
        error
            .problems
            .into_iter()
            .map(|p| p.path)
            .collect::<Vec<_>>()
    };
    // A type error and a semantic problem of the plan.
    let typed = rejected(
        &mut plugin,
        "validate-plan",
        format!(
            r#"{{"plan": {{"name": "t", "profiles": ["ocp-ce"], "hosts": [{ok_host}], "overrides": [{{"spec": "ocp-server.http", "ports": 0}}]}}}}"#
        ),
    );
    let semantic = rejected(
        &mut plugin,
        "validate-plan",
        format!(
            r#"{{"plan": {{"name": "t", "profiles": ["ocp-ce", "nope"], "hosts": [{ok_host}]}}}}"#
        ),
    );
    assert_eq!(typed, ["overrides[0].ports"]);
    assert_eq!(semantic, ["profiles[1]"]);
    // Another parameter: its name first, for a type error and a semantic one.
    let plan = format!(r#"{{"name": "t", "profiles": ["ocp-ce"], "hosts": [{ok_host}]}}"#);
    let typed = rejected(
        &mut plugin,
        "check-host",
        format!(
            r#"{{"plan": {plan}, "host": "h", "phase": "preinstall", "observation": {{"listeners": [{{"transport": "tcp", "address": "::", "port": "x"}}]}}}}"#
        ),
    );
    let semantic = rejected(
        &mut plugin,
        "check-host",
        format!(
            r#"{{"plan": {plan}, "host": "h", "phase": "preinstall", "observation": {{"listeners": [{{"transport": "tcp", "address": "::", "port": 0}}]}}}}"#
        ),
    );
    assert_eq!(typed, ["observation.listeners[0].port"]);
    assert_eq!(semantic, ["observation.listeners[0].port"]);

    // The component: a typed record can still hold what the parser rejects.
    let mut host = component();
    let (portplan, store) = host.exports();
    let plan = portplan
        .call_parse_plan(&mut *store, &plan)
        .expect("call")
        .expect("parses");
    let observation = |listener_port: u16, range_first: u16| types::Observation {
        listeners: vec![types::Listener {
            transport: types::Transport::Tcp,
            address: "::".into(),
            port: listener_port,
            v6only: false,
            pid: None,
            command: None,
        }],
        ip_local_port_range: Some(types::PortRange {
            first: range_first,
            last: 60999,
        }),
        ip_local_reserved_ports: vec![],
        ip_unprivileged_port_start: None,
        effective_uid: None,
        firewall: None,
    };
    let paths = |error: types::PlanError| -> Vec<String> {
        error.problems.into_iter().map(|p| p.path).collect()
    };
    let typed = portplan
        .call_check_host(
            &mut *store,
            &plan,
            "h",
            types::Phase::Preinstall,
            &observation(22, 0),
        )
        .expect("no trap")
        .expect_err("rejected");
    assert_eq!(paths(typed), ["observation.ip-local-port-range"]);
    let semantic = portplan
        .call_check_host(
            &mut *store,
            &plan,
            "h",
            types::Phase::Preinstall,
            &observation(0, 1024),
        )
        .expect("no trap")
        .expect_err("rejected");
    assert_eq!(paths(semantic), ["observation.listeners[0].port"]);
}

/// A module whose `parse-plan` executes `unreachable`: the smallest crash.
fn trapping_plugin() -> std::path::PathBuf {
    #[rustfmt::skip]
    let mut bytes = vec![
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,       // type: () -> i32
        0x03, 0x02, 0x01, 0x00,                         // one function of that type
        0x07, 0x0e, 0x01, 0x0a,                         // one export, a 10-byte name:
    ];
    bytes.extend_from_slice(b"parse-plan");
    #[rustfmt::skip]
    bytes.extend_from_slice(&[
        0x00, 0x00,                                     // function 0
        0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b,       // body: unreachable, end
    ]);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trap.wasm");
    std::fs::write(&path, bytes).expect("writes the trapping module");
    path
}

/// An example host binary, built (or found up to date) by cargo first: the
/// examples are part of what is tested here.
fn example(name: &str) -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(std::process::Command::new(cargo)
        .current_dir(repo_root())
        .args(["build", "-q", "-p", "portplan-tests", "--example", name]));
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    dir.join("examples").join(name)
}

#[test]
fn every_host_exits_non_zero_with_the_message_when_the_plugin_traps() {
    let trap = trapping_plugin();
    let plan = repo_root().join("examples/plans/ocp-cluster.json");
    let root = repo_root();
    for (label, mut command, says) in [
        (
            "rust-extism",
            std::process::Command::new(example("extism-host")),
            "unreachable",
        ),
        (
            "python-extism",
            std::process::Command::new(root.join(".venv/bin/python")),
            "wasm backtrace",
        ),
        (
            "node-extism",
            std::process::Command::new("node"),
            "unreachable",
        ),
    ] {
        match label {
            "python-extism" => command.arg(root.join("examples/hosts/python/portplan_host.py")),
            "node-extism" => command
                .arg("--disable-warning=ExperimentalWarning")
                .arg(root.join("examples/hosts/node/extism_host.mjs")),
            _ => &mut command,
        };
        let output = command.arg(&trap).arg(&plan).output().expect("host starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{label}: {stderr}");
        assert!(output.stdout.is_empty(), "{label} printed an answer");
        assert!(
            stderr.contains("crashed: ") && stderr.contains(says),
            "{label}: {stderr}"
        );
    }
    // The library the Rust host is built on tells the two apart too.
    let mut host = ExtismHost::load(&trap).expect("loads");
    let crash = host.answer("{}").expect_err("a crash, not an answer");
    assert!(crash.contains("unreachable"), "{crash}");
}

/// The real plugin out of memory mid-call (capped by its host): the call
/// fails, and the host reports a crash, never the plan's rejection.
#[test]
fn the_real_plugin_out_of_memory_is_a_crash_not_a_rejection() {
    // ~50 KB of plan whose report repeats 20 purposes of 1,000 characters
    // in 300 hosts' rows (6 MB).
    let plan = wide_report(300, 20, 1000);
    let plugin = built_plugin("portplan-extism.wasm");
    // Room to start and to take the plan in (4 MiB), none for its report.
    let mut host = ExtismHost::load_with_memory_max(&plugin, 64).expect("loads");
    let crash = host.answer(&plan).expect_err("a crash, not an answer");
    assert!(
        !portplan_tests::extism_plugin::is_rejection(&crash),
        "{crash}"
    );
    // Its own message: an allocation failed (Extism's allocator says "oom";
    // Rust's, aborting, traps at an `unreachable`).
    assert!(
        crash.contains("oom") || crash.contains("unreachable"),
        "{crash}"
    );
    // The same plugin with its memory answers the same plan.
    assert!(extism().answer(&plan).expect("no crash").is_ok());
}

#[test]
fn every_host_exits_2_with_the_plan_error_on_a_rejection() {
    let plan = repo_root().join("tests/corpus/error-many-problems.plan.json");
    let expected =
        std::fs::read_to_string(repo_root().join("tests/corpus/error-many-problems.report.json"))
            .expect("report");
    let root = repo_root();
    let extism_plugin = built_plugin("portplan-extism.wasm");
    let component = built_plugin("portplan-component.wasm");
    for (label, mut command) in [
        (
            "rust-extism",
            std::process::Command::new(example("extism-host")),
        ),
        (
            "rust-wasmtime",
            std::process::Command::new(example("wasmtime-host")),
        ),
        (
            "python-extism",
            std::process::Command::new(root.join(".venv/bin/python")),
        ),
        ("node-extism", std::process::Command::new("node")),
    ] {
        match label {
            "python-extism" => command
                .arg(root.join("examples/hosts/python/portplan_host.py"))
                .arg(&extism_plugin),
            "node-extism" => command
                .arg("--disable-warning=ExperimentalWarning")
                .arg(root.join("examples/hosts/node/extism_host.mjs"))
                .arg(&extism_plugin),
            "rust-wasmtime" => command.arg(&component),
            _ => command.arg(&extism_plugin),
        };
        let output = command.arg(&plan).output().expect("host starts");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{label}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // One error shape in every host: the plan-error JSON, no SDK prefix.
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected, "{label}");
    }
}

#[test]
fn check_host_gives_the_same_report_in_every_artifact() {
    let plan =
        std::fs::read_to_string(repo_root().join("examples/plans/ocp-cluster.json")).expect("plan");
    let observation = r#"{"listeners": [{"transport": "tcp", "address": "::", "port": 2881, "pid": 7, "command": "mysqld"}],
        "ip-local-port-range": {"first": 1024, "last": 65000}}"#;
    let native = portplan_core::check_host(
        &portplan_core::parse_plan(&plan).expect("plan"),
        "obs1",
        portplan_core::Phase::Preinstall,
        &portplan_core::shell::parse_json(observation).expect("observation"),
    )
    .expect("checks");
    let native = portplan_core::render_report(&native, portplan_core::ReportFormat::Json);
    assert!(native.contains("pid 7 (mysqld)"));

    let mut plugin = extism();
    let plan_json = plugin
        .call(
            "parse-plan",
            &serde_json::json!({ "text": plan }).to_string(),
        )
        .expect("parses");
    let report = plugin
        .call("check-host", &format!(r#"{{"plan":{plan_json},"host":"obs1","phase":"preinstall","observation":{observation}}}"#))
        .expect("checks");
    let rendered = plugin
        .call(
            "render-report",
            &format!(r#"{{"report":{report},"format":"json"}}"#),
        )
        .expect("renders");
    assert_eq!(
        serde_json::from_str::<String>(&rendered).expect("a JSON string"),
        native
    );

    let mut host = component();
    let (portplan, store) = host.exports();
    let plan = portplan
        .call_parse_plan(&mut *store, &plan)
        .expect("call")
        .expect("parses");
    let observation = types::Observation {
        listeners: vec![types::Listener {
            transport: types::Transport::Tcp,
            address: "::".into(),
            port: 2881,
            v6only: false,
            pid: Some(7),
            command: Some("mysqld".into()),
        }],
        ip_local_port_range: Some(types::PortRange {
            first: 1024,
            last: 65000,
        }),
        ip_local_reserved_ports: vec![],
        ip_unprivileged_port_start: None,
        effective_uid: None,
        firewall: None,
    };
    let report = portplan
        .call_check_host(
            &mut *store,
            &plan,
            "obs1",
            types::Phase::Preinstall,
            &observation,
        )
        .expect("call")
        .expect("checks");
    let rendered = portplan
        .call_render_report(store, &report, types::ReportFormat::Json)
        .expect("call");
    assert_eq!(rendered, native);
}

#[test]
fn the_sdk_hosts_reproduce_the_corpus() {
    let root = repo_root();
    let corpus = root.join("tests/corpus");
    let python = root.join(".venv/bin/python");
    let node_modules = root.join("node_modules/.bin");
    assert!(
        python.is_file() && node_modules.is_dir(),
        "run scripts/setup first: it makes .venv and node_modules"
    );
    let jco_out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jco");
    run(std::process::Command::new(node_modules.join("jco"))
        .args(["transpile", "--no-wasi-shim", "-q", "-o"])
        .arg(&jco_out)
        .arg(built_plugin("portplan-component.wasm")));
    let extism_plugin = built_plugin("portplan-extism.wasm");
    for (label, mut command) in [
        ("python-extism", std::process::Command::new(&python)),
        ("node-extism", std::process::Command::new("node")),
        ("node-jco", std::process::Command::new("node")),
    ] {
        match label {
            "python-extism" => command
                .arg(root.join("examples/hosts/python/portplan_host.py"))
                .arg(&extism_plugin),
            "node-extism" => command
                .arg("--disable-warning=ExperimentalWarning")
                .arg(root.join("examples/hosts/node/extism_host.mjs"))
                .arg(&extism_plugin),
            _ => command
                .arg(root.join("examples/hosts/node/jco_host.mjs"))
                .arg(&jco_out),
        };
        let stdout = run(command.arg("--corpus").arg(&corpus));
        let cases = portplan_tests::corpus_cases().len();
        let reach = portplan_tests::reach_cases().len();
        assert_eq!(
            stdout.trim(),
            format!("{label}: {cases} passed, 0 failed\n{label} reach: {reach} passed, 0 failed")
        );
    }
}

fn run(command: &mut std::process::Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[test]
fn firewall_planning_gives_the_native_answer_in_both_plugins() {
    use portplan_core::FirewallBackend;
    let nft = std::fs::read_to_string(repo_root().join("core/tests/captured/nft-debian-drop.json"))
        .expect("capture");
    let plan = portplan_core::parse_plan(
        &std::fs::read_to_string(repo_root().join("examples/plans/ocp-cluster.json"))
            .expect("plan"),
    )
    .expect("plan");
    let report = portplan_core::validate_plan(&plan).expect("validates");
    let rules = portplan_core::firewall_rules(&report, Some("obs1")).expect("rules");
    let state = portplan_core::read_firewall(
        FirewallBackend::Nftables,
        &portplan_core::FirewallOutput::new(&nft, ""),
    )
    .expect("reads");
    let native = portplan_core::plan_firewall(&rules, &state, false).expect("plans");
    assert!(!native.commands.is_empty());

    let mut plugin = extism();
    let state_json = plugin
        .call(
            "read-firewall",
            &serde_json::json!({ "backend": "nftables", "output": { "main": nft, "extra": "" } })
                .to_string(),
        )
        .expect("reads");
    assert_eq!(state_json, serde_json::to_string(&state).expect("json"));
    let rules_json = serde_json::to_string(&rules).expect("json");
    let change = plugin
        .call(
            "plan-firewall",
            &format!(r#"{{"rules":{rules_json},"state":{state_json},"remove-all":false}}"#),
        )
        .expect("plans");
    assert_eq!(change, serde_json::to_string(&native).expect("json"));

    let mut host = component();
    let (portplan, store) = host.exports();
    let state = portplan
        .call_read_firewall(
            &mut *store,
            types::FirewallBackend::Nftables,
            &types::FirewallOutput {
                main: nft.clone(),
                extra: String::new(),
                zone: None,
            },
        )
        .expect("call")
        .expect("reads");
    let plan = portplan
        .call_parse_plan(
            &mut *store,
            &std::fs::read_to_string(repo_root().join("examples/plans/ocp-cluster.json"))
                .expect("plan"),
        )
        .expect("call")
        .expect("parses");
    let report = portplan
        .call_validate_plan(&mut *store, &plan)
        .expect("call")
        .expect("validates");
    let rules = portplan
        .call_firewall_rules(&mut *store, &report, Some("obs1"))
        .expect("call")
        .expect("rules");
    let change = portplan
        .call_plan_firewall(store, &rules, &state, false)
        .expect("call")
        .expect("plans");
    let commands: Vec<(Vec<String>, Option<String>)> = change
        .commands
        .into_iter()
        .map(|c| (c.argv, c.stdin))
        .collect();
    let expected: Vec<(Vec<String>, Option<String>)> = native
        .commands
        .into_iter()
        .map(|c| (c.argv, c.stdin))
        .collect();
    assert_eq!(commands, expected);
    assert_eq!(change.add.len(), native.add.len());
    assert_eq!(change.remove.len(), native.remove.len());
}

#[test]
fn a_dangling_chain_id_is_an_error_naming_its_path_in_both_plugins() {
    use portplan_core::{ChainId, FirewallBackend, FirewallState};
    let nft = std::fs::read_to_string(repo_root().join("core/tests/captured/nft-debian-drop.json"))
        .expect("capture");
    let mut state = portplan_core::read_firewall(
        FirewallBackend::Nftables,
        &portplan_core::FirewallOutput::new(&nft, ""),
    )
    .expect("reads");
    let FirewallState::Nftables(inner) = &mut state else {
        panic!("nftables")
    };
    inner.found[0].chain = ChainId(9);
    let native = portplan_core::plan_firewall(&[], &state, true).expect_err("rejected");
    assert_eq!(native.problems[0].path, "state.nftables.found[0].chain");
    assert_eq!(native.problems[0].value, "9");

    let state_json = serde_json::to_string(&state).expect("json");
    let error = extism()
        .call(
            "plan-firewall",
            &format!(r#"{{"rules":[],"state":{state_json},"remove-all":true}}"#),
        )
        .expect_err("rejected");
    let error: portplan_core::PlanError = serde_json::from_str(&error).expect("plan-error JSON");
    assert_eq!(error, native);
    let error = extism()
        .call(
            "plan-restore",
            &format!(r#"{{"before":{state_json},"now":{state_json}}}"#),
        )
        .expect_err("rejected");
    assert!(error.contains("before.nftables.found[0].chain"), "{error}");

    let mut host = component();
    let (portplan, store) = host.exports();
    let typed = portplan
        .call_read_firewall(
            &mut *store,
            types::FirewallBackend::Nftables,
            &types::FirewallOutput {
                main: nft,
                extra: String::new(),
                zone: None,
            },
        )
        .expect("call")
        .expect("reads");
    let types::FirewallState::Nftables(mut inner) = typed else {
        panic!("nftables")
    };
    inner.found[0].chain = 9;
    let typed = types::FirewallState::Nftables(inner);
    let error = portplan
        .call_plan_firewall(&mut *store, &[], &typed, true)
        .expect("no trap")
        .expect_err("rejected");
    assert_eq!(error.problems[0].path, "state.nftables.found[0].chain");
    let error = portplan
        .call_plan_restore(store, &typed, &typed)
        .expect("no trap")
        .expect_err("rejected");
    assert_eq!(error.problems[0].path, "before.nftables.found[0].chain");
}

#[test]
fn both_plugins_reproduce_the_reach_corpus() {
    let mut host = component();
    let mismatches = portplan_tests::reach_mismatches(|input| host.reach(input));
    assert!(mismatches.is_empty(), "component: {mismatches:#?}");
    let mut host = extism();
    let mismatches = portplan_tests::reach_mismatches(|input| host.reach(input));
    assert!(mismatches.is_empty(), "extism: {mismatches:#?}");
}

/// A plan of `hosts` hosts running custom component `c`, whose `specs`
/// specs each have a purpose of `purpose` characters: a plan of a few dozen
/// KB whose report, which repeats a spec's purpose in each host's row, is
/// about `hosts * specs * purpose` bytes (issue 16 made the sources O(n);
/// the rows still grow with hosts times specs, within the input limits).
fn wide_report(hosts: usize, specs: usize, purpose: usize) -> String {
    let hosts: Vec<serde_json::Value> = (0..hosts)
        .map(|i| {
            serde_json::json!({
                "name": format!("h{i}"),
                "address": format!("10.{}.{}.1", i / 256, i % 256),
                "components": ["c"],
            })
        })
        .collect();
    let specs: Vec<serde_json::Value> = (0..specs)
        .map(|i| {
            serde_json::json!({
                "id": format!("c.s{i}"), "component": "c", "ports": 20000 + i, "transport": "tcp",
                "allocation": "fixed", "exposure": "peers", "accessed-by": [{ "component": "c" }],
                "modifiable": "not-supported", "purpose": "p".repeat(purpose), "source": "test",
            })
        })
        .collect();
    serde_json::json!({
        "name": "big", "profiles": ["wide"], "hosts": hosts,
        "custom-profiles": [{
            "name": "wide", "title": "wide",
            "components": [{ "name": "c", "title": "C", "required": true }],
            "networks": [], "specs": specs,
        }],
    })
    .to_string()
}

/// Bytes of text a report's strings hand to the host, each string also
/// costing its (pointer, length) pair: less than what wasmtime charges
/// against the hostcall fuel for lowering the report.
fn report_bytes(report: &types::Report) -> usize {
    let string = |s: &String| s.len() + 8;
    let strings = |list: &[String]| list.iter().map(string).sum::<usize>();
    let rows: usize = report
        .hosts
        .iter()
        .flat_map(|host| &host.ports)
        .map(|row| string(&row.spec) + string(&row.component) + string(&row.purpose))
        .sum();
    rows + report
        .source_groups
        .iter()
        .map(|g| strings(&g.sources) + strings(&g.hosts))
        .sum::<usize>()
}

/// Issue 16: the report of a plan the input limits admit can be larger than
/// wasmtime's default hostcall fuel (128 MiB), which failed such calls; the
/// host's fuel lets it through whole.
#[test]
fn a_report_past_the_default_hostcall_fuel_comes_back_from_the_component() {
    let plan = wide_report(2000, 40, 2000);
    let mut host = component();
    let (portplan, store) = host.exports();
    assert!(store.hostcall_fuel() >= portplan_tests::component::HOSTCALL_FUEL);
    let plan = portplan
        .call_parse_plan(&mut *store, &plan)
        .expect("no trap")
        .expect("parses");
    let report = portplan
        .call_validate_plan(store, &plan)
        .expect("no trap: the fuel admits the whole report")
        .expect("validates");
    assert_eq!(report.hosts.len(), 2000);
    assert!(
        report_bytes(&report) > 128 << 20,
        "the report must pass the default fuel to test anything: {} bytes",
        report_bytes(&report)
    );
}
