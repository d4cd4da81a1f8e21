//! YAML plans through the `portplan` binary: a YAML plan gives byte-identical
//! reports to its JSON twin, and a YAML error names its path and line.
//!
//! The twins: every plan of the golden corpus (the examples included) is
//! written as YAML at test time by the small block-style writer below (plain
//! scalars where YAML 1.2 reads them back as the same string, so addresses,
//! names and CIDRs are unquoted and `"8080"` is quoted), and the hand-written
//! twins in `examples/plans-yaml/` (comments, flow lists, an anchor) are
//! compared with their JSON originals.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use portplan_tests::{corpus_cases, repo_root};
use serde_json::Value;

fn portplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portplan"))
        .args(args)
        .output()
        .expect("portplan runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

/// A fresh directory for one test's files, removed when it is dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("portplan-yaml-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}

fn write(dir: &Scratch, name: &str, content: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, content).expect("write plan");
    path.to_str().expect("utf-8 path").to_string()
}

// --- A small YAML writer: block style, two-space indent. -------------------

/// Whether YAML 1.2 reads `s` as a plain scalar back as this very string.
fn plain_ok(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_alphanumeric()
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_alphanumeric() || " ._/()&,+-'".contains(c))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "null" | "true" | "false" | "inf" | "nan"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with("0o")
        && !s.starts_with("0x")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) if plain_ok(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Object(map) if map.is_empty() => "{}".into(),
        // JSON's text of a string, number, boolean or null is YAML too.
        other => other.to_string(),
    }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => false,
    }
}

/// `value` at `indent`, each line ending in a newline.
fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                out.push_str(&format!("{pad}{}:", scalar(&Value::String(key.clone()))));
                if is_block(item) {
                    out.push('\n');
                    emit(item, indent + 2, out);
                } else {
                    out.push_str(&format!(" {}\n", scalar(item)));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_block(item) {
                    // The item's first line goes after the dash.
                    let mut inner = String::new();
                    emit(item, indent + 2, &mut inner);
                    out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn to_yaml(json_text: &str, name: &str) -> String {
    let value: Value = serde_json::from_str(json_text).expect("corpus plan is JSON");
    let mut out = format!("# {name}, written as YAML by the test\n");
    emit(&value, 0, &mut out);
    out
}

// --- The tests. ------------------------------------------------------------

#[test]
fn the_writer_round_trips_through_a_yaml_1_2_reader() {
    // The writer's own check: what it quotes and what it leaves plain.
    for (s, plain) in [
        ("198.18.0.10", true),
        ("198.18.0.0/24", true),
        ("O&M personnel", true),
        ("8080", false),
        ("1e3", false),
        ("yes", true),
        ("True", false),
        ("null", false),
        ("a: b", false),
        ("-x", false),
        ("", false),
    ] {
        assert_eq!(plain_ok(s), plain, "{s}");
    }
}

#[test]
fn every_corpus_plan_as_yaml_gives_the_json_twins_output() {
    let dir = scratch("corpus");
    let mut compared = 0;
    for (name, plan, _) in corpus_cases() {
        let json_path = plan.to_str().expect("utf-8 path");
        let json_text = std::fs::read_to_string(&plan).expect("plan is readable");
        let yaml_path = write(&dir, &format!("{name}.yaml"), &to_yaml(&json_text, &name));
        for format in ["json", "table", "csv", "markdown"] {
            let from_json = portplan(&["validate", "--format", format, json_path]);
            let from_yaml = portplan(&["validate", "--format", format, &yaml_path]);
            assert_eq!(
                from_yaml.status.code(),
                from_json.status.code(),
                "{name} {format}: {}",
                text(&from_yaml.stderr)
            );
            if from_json.status.code() != Some(2) {
                assert_eq!(
                    text(&from_yaml.stdout),
                    text(&from_json.stdout),
                    "{name} {format}"
                );
                assert_eq!(
                    text(&from_yaml.stderr),
                    text(&from_json.stderr),
                    "{name} {format}"
                );
                continue;
            }
            // Rejected: the same problems, paths and values; each message
            // names the YAML line of its path.
            if format != "json" {
                continue;
            }
            let problems = |output: &Output| -> Vec<Value> {
                let value: Value = serde_json::from_slice(&output.stdout).expect("problems JSON");
                value["problems"].as_array().expect("problems").clone()
            };
            let (yaml, json) = (problems(&from_yaml), problems(&from_json));
            assert_eq!(yaml.len(), json.len(), "{name}");
            for (y, j) in yaml.iter().zip(&json) {
                assert_eq!(y["path"], j["path"], "{name}");
                assert_eq!(y["value"], j["value"], "{name}");
                let (y, j) = (y["message"].as_str(), j["message"].as_str());
                let line = y
                    .zip(j)
                    .and_then(|(y, j)| y.strip_prefix(j))
                    .and_then(|rest| rest.strip_prefix(" (line "))
                    .and_then(|rest| rest.strip_suffix(')'))
                    .and_then(|n| n.parse::<usize>().ok());
                assert!(line.is_some_and(|n| n > 1), "{name}: {y:?} vs {j:?}");
            }
        }
        compared += 1;
    }
    assert!(compared >= 13, "{compared} corpus plans");
}

#[test]
fn the_hand_written_twins_give_the_json_reports() {
    let dir = repo_root().join("examples/plans-yaml");
    let mut twins = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/plans-yaml") {
        let yaml = entry.expect("entry").path();
        let stem = yaml.file_stem().and_then(|s| s.to_str()).expect("name");
        let json = repo_root().join(format!("examples/plans/{stem}.json"));
        assert!(json.is_file(), "{} has no JSON twin", yaml.display());
        for format in ["json", "table", "csv", "markdown"] {
            let from_yaml =
                portplan(&["validate", "--format", format, yaml.to_str().expect("path")]);
            let from_json =
                portplan(&["validate", "--format", format, json.to_str().expect("path")]);
            assert_eq!(from_yaml.status.code(), from_json.status.code(), "{stem}");
            assert_eq!(
                text(&from_yaml.stdout),
                text(&from_json.stdout),
                "{stem} {format}"
            );
        }
        twins += 1;
    }
    assert!(twins >= 2);
}

#[test]
fn standard_input_is_read_as_yaml_when_it_is_not_json() {
    let yaml =
        std::fs::read(repo_root().join("examples/plans-yaml/ocp-cluster.yaml")).expect("twin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portplan"))
        .args(["validate", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("portplan runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &yaml).expect("write");
    let output = child.wait_with_output().expect("portplan ends");
    let plan = repo_root().join("examples/plans/ocp-cluster.json");
    let expected = portplan(&["validate", "--format", "json", plan.to_str().expect("path")]);
    assert_eq!(text(&output.stdout), text(&expected.stdout));
}

const PLAN: &str = "\
# line 1
name: yaml-errors
profiles: [ocp]
hosts:
  - name: ocp1
    address: 198.18.2.10
    components: [ocp-server, ocp-agent]
  - name: ocp2
    address: 198.18.2.300
    components: [ocp-server]
";

#[test]
fn a_bad_value_names_its_path_and_line() {
    let dir = scratch("bad-value");
    // A resolution problem (validate_plan).
    let plan = write(&dir, "plan.yaml", PLAN);
    let output = portplan(&["validate", &plan]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "portplan: hosts[1].address: not an IPv4 or IPv6 address (line 9) (value: 198.18.2.300)\n"
    );
    let output = portplan(&["validate", "--format", "json", &plan]);
    let value: Value = serde_json::from_slice(&output.stdout).expect("problems JSON");
    assert_eq!(value["problems"][0]["path"], "hosts[1].address");
    assert_eq!(value["problems"][0]["value"], "198.18.2.300");
    assert_eq!(
        value["problems"][0]["message"],
        "not an IPv4 or IPv6 address (line 9)"
    );

    // A decoding problem (core's strict parser): a port out of range.
    let plan = write(
        &dir,
        "port.yml",
        &(PLAN.replace("198.18.2.300", "198.18.2.11")
            + "overrides:\n  - spec: ocp-server.http\n    ports: 70000\n"),
    );
    let output = portplan(&["validate", &plan]);
    assert_eq!(
        text(&output.stderr),
        "portplan: overrides[0].ports: port 70000 is outside 1-65535 (line 13) (value: 70000)\n"
    );

    // An unknown field: the line of its key.
    let plan = write(
        &dir,
        "field.yaml",
        &PLAN.replace(
            "    address: 198.18.2.10\n",
            "    address: 198.18.2.10\n    port: 8080\n",
        ),
    );
    let stderr = text(&portplan(&["validate", &plan]).stderr);
    assert!(
        stderr.starts_with("portplan: hosts[0].port: unknown field `port`")
            && stderr.ends_with("(line 7) (value: 8080)\n"),
        "{stderr}"
    );

    // The host commands read plans the same way (and stop before any host access).
    let plan = write(&dir, "check.yaml", PLAN);
    let output = portplan(&["check", &plan, "--host", "ocp1"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "portplan: hosts[1].address: not an IPv4 or IPv6 address (line 9) (value: 198.18.2.300)\n"
    );
}

#[test]
fn a_syntax_error_names_its_line_and_column() {
    let dir = scratch("syntax");
    let plan = write(
        &dir,
        "plan.yaml",
        &PLAN.replace("components: [ocp-server]\n", "components: [ocp-server\n"),
    );
    let output = portplan(&["validate", &plan]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("portplan: .: not valid YAML: "),
        "{stderr}"
    );
    assert!(
        stderr.trim_end().ends_with(" at line 11 column 1"),
        "{stderr}"
    );

    let plan = write(&dir, "tab.yaml", "name: x\nhosts:\n\t- name: a\n");
    let stderr = text(&portplan(&["validate", &plan]).stderr);
    assert!(
        stderr.contains("not valid YAML: ") && stderr.contains("at line 3 column"),
        "{stderr}"
    );

    let plan = write(
        &dir,
        "dup.yaml",
        &PLAN.replace("profiles: [ocp]\n", "profiles: [ocp]\nname: again\n"),
    );
    assert_eq!(
        text(&portplan(&["validate", &plan]).stderr),
        "portplan: name: duplicate key; line 2 has it already (line 4) (value: name)\n"
    );
}

#[test]
fn yes_is_a_string_in_yaml_1_2() {
    let dir = scratch("yes");
    // A string field takes it as the word.
    let plan = write(
        &dir,
        "name.yaml",
        &PLAN
            .replace("yaml-errors", "yes")
            .replace("198.18.2.300", "198.18.2.11"),
    );
    let output = portplan(&["validate", "--format", "json", &plan]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert_eq!(report["plan"], "yes", "{}", text(&output.stderr));

    // A boolean field (a custom component's `required`) refuses it.
    let custom = "\
name: custom
profiles: [dns]
custom-profiles:
  - name: dns
    title: Internal DNS
    components:
      - name: unbound
        title: Unbound
        required: yes
    specs: []
hosts:
  - {name: dns1, address: 198.18.22.53, components: [unbound]}
";
    let plan = write(&dir, "custom.yaml", custom);
    let output = portplan(&["validate", &plan]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(
            "portplan: custom-profiles[0].components[0].required: invalid type: string \"yes\", expected a boolean (line 9)"
        ),
        "{stderr}"
    );
    let plan = write(
        &dir,
        "custom-true.yaml",
        &custom.replace("required: yes", "required: true"),
    );
    let output = portplan(&["validate", &plan]);
    assert_ne!(output.status.code(), Some(2), "{}", text(&output.stderr));
}
