//! The `portplan` binary against the golden corpus and its exit-status contract.

use std::process::{Command, Output};

use portplan_tests::{corpus_cases, corpus_dir};

fn portplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portplan"))
        .args(args)
        .output()
        .expect("portplan runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

#[test]
fn validate_json_reproduces_the_corpus_with_the_right_exit_status() {
    for (name, plan, expected) in corpus_cases() {
        let output = portplan(&[
            "validate",
            "--format",
            "json",
            plan.to_str().expect("utf-8 path"),
        ]);
        let expected = std::fs::read_to_string(expected).expect("report is readable");
        assert_eq!(stdout(&output), expected, "{name}");
        let value: serde_json::Value = serde_json::from_str(&expected).expect("report is JSON");
        let status = if value.get("problems").is_some() {
            2
        } else if value["summary"]["errors"].as_u64() > Some(0) {
            1
        } else {
            0
        };
        assert_eq!(
            output.status.code(),
            Some(status),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn bad_input_names_path_and_value_on_stderr() {
    let plan = corpus_dir().join("error-bad-port.plan.json");
    let output = portplan(&["validate", plan.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "portplan: overrides[0].ports: port 70000 is outside 1-65535 (value: 70000)"
    );

    let output = portplan(&["validate", "/nonexistent/plan.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read /nonexistent/plan.json"));

    let output = portplan(&["validate", "--format", "yaml", "x"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap rejects bad arguments with 2"
    );
}

#[test]
fn the_request_sheet_lists_every_desired_rule() {
    let plan = corpus_dir().join("example-ocp-cluster.plan.json");
    let plan = plan.to_str().expect("utf-8 path");
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&portplan(&["validate", "--format", "json", plan])))
            .expect("json");
    // A desired rule per port table row that names a source group.
    let rules: Vec<&serde_json::Value> = report["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .flat_map(|h| {
            let rows = h["ports"].as_array().expect("ports").iter();
            rows.filter(|p| p["group"].is_string()).map(move |_| h)
        })
        .collect();

    let csv = stdout(&portplan(&["validate", "--format", "csv", plan]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "host,address,port,transport,allowed sources,purpose"
    );
    assert_eq!(lines.len(), rules.len() + 1);
    assert!(
        lines.contains(&"obs1,198.18.2.11,2882,tcp,198.18.2.11/32 198.18.2.12/31,RPC communication port between OBServers. (observer.rpc)"),
        "{csv}"
    );

    let markdown = stdout(&portplan(&["validate", "--format", "markdown", plan]));
    assert!(markdown.starts_with("# Firewall request: ocp-prod\n\n| host | address | port | transport | allowed sources | purpose |\n|---|---|---|---|---|---|\n"));
    assert_eq!(
        markdown.lines().filter(|l| l.starts_with("| obs")).count(),
        rules
            .iter()
            .filter(|h| h["host"].as_str().is_some_and(|h| h.starts_with("obs")))
            .count()
    );
}

#[test]
fn the_table_shows_ports_and_findings() {
    let plan = corpus_dir().join("example-conflict-ocp-and-fdl-on-8080.plan.json");
    let output = portplan(&["validate", plan.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.starts_with("plan shared-8080: 1 error, "), "{text}");
    assert!(text.contains("\nhost mixed1 (198.18.4.10)\n"), "{text}");
    assert!(text.contains("ERROR  port-conflict"), "{text}");
    assert!(
        text.contains("fix: Override finedatalink.http or ocp-server.http"),
        "{text}"
    );
}

#[test]
fn catalog_prints_every_profile_and_rejects_unknown_ones() {
    let all = stdout(&portplan(&["catalog"]));
    for name in [
        "finedatalink-single",
        "finedatalink-cluster",
        "fineops",
        "ocp",
        "ocp-ce",
    ] {
        assert!(
            all.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{all}"
        );
    }
    let ocp = stdout(&portplan(&["catalog", "ocp"]));
    assert!(
        ocp.contains("ocp-agent.metrics           62881-63881  tcp/http  pool"),
        "{ocp}"
    );
    assert!(
        ocp.contains("backup-agent.backup         2911         tcp       fixed  loopback"),
        "{ocp}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&portplan(&["catalog", "ocp", "--format", "json"])))
            .expect("json");
    assert_eq!(json["name"], "ocp");
    let output = portplan(&["catalog", "ocp-ee"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown profile; known profiles:"));
}

#[test]
fn validate_reads_standard_input() {
    let plan = std::fs::read(corpus_dir().join("example-ocp-ce-single.plan.json")).expect("plan");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portplan"))
        .args(["validate", "--format", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("portplan runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &plan).expect("write");
    let output = child.wait_with_output().expect("portplan ends");
    let expected = std::fs::read_to_string(corpus_dir().join("example-ocp-ce-single.report.json"))
        .expect("report");
    assert_eq!(stdout(&output), expected);
}

/// The `portplan.ports.reach` module (an args file with `reach`): bad input
/// is one JSON answer naming the option, and `stop` signals nothing but a
/// portplan responder, whatever pid it is handed.
#[test]
fn the_reach_module_answers_json_and_stops_only_responders() {
    let plan = std::fs::read_to_string(corpus_dir().join("example-ocp-cluster.plan.json"))
        .expect("plan is readable");
    let dir = std::env::temp_dir().join(format!("portplan-reach-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let run = |args: serde_json::Value| {
        let path = dir.join("args");
        std::fs::write(&path, args.to_string()).expect("args file");
        let output = portplan(&[path.to_str().expect("utf-8 path")]);
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("not one JSON answer ({e}): {output:?}"));
        (output.status.code(), answer)
    };
    let base = |extra: serde_json::Value| {
        let mut args =
            serde_json::json!({ "plan": plan, "host": "obs1", "_ansible_check_mode": false });
        for (k, v) in extra.as_object().expect("object") {
            args[k] = v.clone();
        }
        args
    };

    let (code, answer) = run(base(serde_json::json!({ "reach": "serve", "bogus": 1 })));
    assert_eq!(code, Some(1));
    assert_eq!(answer["failed"], true);
    assert_eq!(answer["problems"][0]["path"], "bogus", "{answer}");

    let (_, answer) = run(base(serde_json::json!({ "reach": "nope" })));
    assert_eq!(answer["problems"][0]["path"], "reach", "{answer}");
    assert!(
        answer["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("serve, probe, report or stop")
    );

    let (_, answer) = run(base(
        serde_json::json!({ "reach": "probe", "network": "application", "outsider": true }),
    ));
    assert_eq!(answer["problems"][0]["path"], "network", "{answer}");

    // This test's own pid is no responder: refused, and this process lives on.
    let (_, answer) = run(base(
        serde_json::json!({ "reach": "stop", "pid": std::process::id() }),
    ));
    assert_eq!(answer["failed"], true, "{answer}");
    assert!(
        answer["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("is not a portplan responder"),
        "{answer}"
    );
    let (_, answer) = run(base(serde_json::json!({ "reach": "stop" })));
    assert_eq!(answer["problems"][0]["path"], "pid", "{answer}");

    let (_, answer) = run(base(
        serde_json::json!({ "reach": "report", "results": [{ "x": 1 }] }),
    ));
    assert_eq!(answer["problems"][0]["path"], "results[0]", "{answer}");
    std::fs::remove_dir_all(&dir).ok();
}
