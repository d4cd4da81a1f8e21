//! The `portplan.ports.reach` module: `reach: serve|probe|report|stop` in the
//! args file Ansible wrote, one JSON result on stdout, as the main module.
//!
//! It never changes the host: `serve` starts a responder that exits by
//! itself after `seconds` (the play's probes run meanwhile), `probe` measures
//! and returns the results, `report` takes every host's results (as the
//! tasks registered them) and fails with the truth table when anything
//! differs from the plan.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use portplan_core::{
    Phase, Plan, PlanError, ProbeResults, ProbeSource, Problem, ReportFormat, ServeStatus,
};
use serde_json::{Map, Value, json};

use super::probe::{Refused, measure};

const OPTIONS: [&str; 12] = [
    "reach",
    "plan",
    "plan_yaml",
    "plan_hosts",
    "host",
    "seconds",
    "timeout_ms",
    "phase",
    "network",
    "outsider",
    "results",
    "pid",
];

/// The result of a reach call, or `None` when the args file is not one (no
/// `reach` key): then it is the main module's.
pub fn answer(text: &str) -> Option<Value> {
    let Ok(Value::Object(args)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let action = args.get("reach")?.clone();
    let result = std::panic::catch_unwind(|| run(&action, &args)).unwrap_or_else(|_| {
        failed(
            "portplan internal error in reach (please report it)".into(),
            Vec::new(),
        )
    });
    Some(result)
}

fn run(action: &Value, args: &Map<String, Value>) -> Value {
    let mut problems: Vec<Problem> = crate::module::unsupported(args, &OPTIONS)
        .1
        .into_iter()
        .collect();
    let plan = crate::module::plan_option(args, &mut problems);
    let (Some(plan), true) = (plan, problems.is_empty()) else {
        return rejected(PlanError { problems });
    };
    let outcome = match action.as_str() {
        Some("serve") => serve(&plan, args),
        Some("probe") => probe(&plan, args),
        Some("report") => report(&plan, args),
        Some("stop") => stop(args),
        _ => Err(PlanError {
            problems: vec![problem(
                "reach",
                &action.to_string(),
                "must be serve, probe, report or stop",
            )],
        }),
    };
    outcome.unwrap_or_else(rejected)
}

fn problem(path: &str, value: &str, message: &str) -> Problem {
    Problem {
        path: path.into(),
        value: portplan_core::shell::quote(value),
        message: message.into(),
    }
}

fn failed(msg: String, problems: Vec<Problem>) -> Value {
    json!({ "changed": false, "failed": true, "msg": msg, "problems": problems })
}

fn rejected(error: PlanError) -> Value {
    failed(error.to_string(), error.problems)
}

fn text(args: &Map<String, Value>, key: &str) -> Result<Option<String>, PlanError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(PlanError {
            problems: vec![problem(key, &other.to_string(), "must be a string")],
        }),
    }
}

fn number(args: &Map<String, Value>, key: &str, default: u64, most: u64) -> Result<u64, PlanError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| PlanError {
                problems: vec![problem(
                    key,
                    &value.to_string(),
                    &format!("must be a whole number from 1 to {most}"),
                )],
            }),
    }
}

fn host(args: &Map<String, Value>) -> Result<String, PlanError> {
    text(args, "host")?.ok_or_else(|| PlanError {
        problems: vec![problem(
            "host",
            "",
            "is required: the plan host this target is (the action plugin fills it from inventory_hostname)",
        )],
    })
}

/// Start a responder that outlives this module run by `seconds`, and return
/// what it bound once it is ready.
fn serve(plan: &Plan, args: &Map<String, Value>) -> Result<Value, PlanError> {
    let host = host(args)?;
    let seconds = number(args, "seconds", 120, 86_400)?;
    let fail = |message: String| PlanError {
        problems: vec![problem("reach", "serve", &message)],
    };
    let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find myself: {e}")))?;
    let mut child = Command::new(exe)
        .args(["reach", "serve", "-", "--host", &host, "--for"])
        .arg(seconds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: the responder outlives this run, and a
        // signal to the module's group does not cut the probes short.
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot start the responder: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(portplan_core::shell::render_json(plan).as_bytes());
    }
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let status: ServeStatus = match serde_json::from_str(&line) {
        Ok(status) => status,
        Err(_) => {
            let mut why = String::new();
            if let Some(stderr) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut why);
            }
            let _ = child.wait();
            return Err(fail(format!("the responder did not start: {}", why.trim())));
        }
    };
    let msg = format!(
        "host {host}: answering on {} port(s) for {seconds} s; {} held by another process",
        status.listening.len(),
        status.held.len()
    );
    Ok(json!({
        "changed": false,
        "msg": msg,
        "serving": snake(serde_json::to_value(&status).unwrap_or_default()),
        "pid": child.id(),
        "seconds": seconds,
    }))
}

fn probe(plan: &Plan, args: &Map<String, Value>) -> Result<Value, PlanError> {
    let outsider = match args.get("outsider") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(PlanError {
                problems: vec![problem("outsider", &other.to_string(), "must be a boolean")],
            });
        }
    };
    let source = match (text(args, "network")?, outsider) {
        (Some(_), true) => {
            return Err(PlanError {
                problems: vec![problem(
                    "network",
                    "",
                    "and outsider are mutually exclusive: probe as one source",
                )],
            });
        }
        (Some(network), false) => ProbeSource::Network(network),
        (None, true) => ProbeSource::Outsider,
        (None, false) => ProbeSource::Host(host(args)?),
    };
    let phase = match text(args, "phase")?.as_deref() {
        None | Some("preinstall") => Phase::Preinstall,
        Some("postinstall") => Phase::Postinstall,
        Some(other) => {
            return Err(PlanError {
                problems: vec![problem("phase", other, "must be preinstall or postinstall")],
            });
        }
    };
    let timeout = Duration::from_millis(number(args, "timeout_ms", 1000, 600_000)?);
    let results = match measure(plan, source, phase, timeout) {
        Ok(results) => results,
        Err(Refused::Plan(error)) => return Err(error),
        Err(Refused::NotHere(message)) => {
            return Err(PlanError {
                problems: vec![problem("host", "", &message)],
            });
        }
    };
    let mut counts = std::collections::BTreeMap::new();
    for r in &results.results {
        *counts.entry(r.outcome.as_str()).or_insert(0u32) += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Ok(json!({
        "changed": false,
        "msg": format!("{} target(s): {}", results.results.len(), counts.join(", ")),
        "probed": snake(serde_json::to_value(&results).unwrap_or_default()),
    }))
}

/// Every result as the tasks registered it: a module result holding
/// `serving` or `probed`, or the record itself as `portplan reach` prints it.
fn gathered(args: &Map<String, Value>) -> Result<(Vec<ServeStatus>, Vec<ProbeResults>), PlanError> {
    let Some(Value::Array(items)) = args.get("results") else {
        return Err(PlanError {
            problems: vec![problem(
                "results",
                "",
                "is required for report: a list of the serve and probe results",
            )],
        });
    };
    let (mut served, mut probed) = (Vec::new(), Vec::new());
    for (i, item) in items.iter().enumerate() {
        let at = format!("results[{i}]");
        let inner = item
            .get("serving")
            .or_else(|| item.get("probed"))
            .unwrap_or(item);
        let record = kebab(inner.clone());
        let prefixed = |mut e: PlanError| {
            for p in &mut e.problems {
                p.path = format!("{at}.{}", p.path);
            }
            e
        };
        if record.get("results").is_some() {
            probed.push(portplan_core::shell::parse_json(&record.to_string()).map_err(prefixed)?);
        } else if record.get("listening").is_some() {
            served.push(portplan_core::shell::parse_json(&record.to_string()).map_err(prefixed)?);
        } else if item.get("skipped").is_some() || item.get("failed").is_some() {
            // A host whose serve or probe task did not run: its rows are unknown.
            continue;
        } else {
            return Err(PlanError {
                problems: vec![problem(
                    &at,
                    "",
                    "neither a probe's results nor a responder's status",
                )],
            });
        }
    }
    Ok((served, probed))
}

fn report(plan: &Plan, args: &Map<String, Value>) -> Result<Value, PlanError> {
    let (served, probed) = gathered(args)?;
    let table = portplan_core::reach_report(plan, &served, &probed)?;
    let mut text = portplan_core::render_truth_table(&table, ReportFormat::Table);
    if let Some(why) = super::report::unproven(&table) {
        text.push_str(&why);
        text.push('\n');
    }
    Ok(json!({
        "changed": false,
        "failed": !table.proven(),
        "msg": text,
        "truth_table": snake(serde_json::to_value(&table).unwrap_or_default()),
    }))
}

/// Keys as Ansible users expect them (`elapsed_ms`); values unchanged.
fn snake(value: Value) -> Value {
    rename_keys(value, '-', '_')
}

/// Keys back as the contract spells them.
fn kebab(value: Value) -> Value {
    rename_keys(value, '_', '-')
}

fn rename_keys(value: Value, from: char, to: char) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.replace(from, &to.to_string()), rename_keys(v, from, to)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| rename_keys(v, from, to))
                .collect(),
        ),
        other => other,
    }
}

/// Stop the responder `serve` started (its `pid`), before its `seconds` run
/// out: only a process whose command line is this binary's `reach serve`,
/// so a stale pid never signals another process. Gone already is fine.
fn stop(args: &Map<String, Value>) -> Result<Value, PlanError> {
    let pid = match args.get("pid") {
        None | Some(Value::Null) => {
            return Err(PlanError {
                problems: vec![problem(
                    "pid",
                    "",
                    "is required for stop: the pid serve returned",
                )],
            });
        }
        Some(_) => number(args, "pid", 0, u64::from(u32::MAX))?,
    };
    let bad = |message: &str| PlanError {
        problems: vec![problem("pid", &pid.to_string(), message)],
    };
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Err(bad("is not a process id"));
    };
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.as_raw_nonzero()));
    let is_responder = cmdline.as_ref().is_ok_and(|argv| {
        let words: Vec<&[u8]> = argv.split(|b| *b == 0).collect();
        words
            .windows(2)
            .any(|w| w == [b"reach".as_slice(), b"serve".as_slice()])
    });
    if cmdline.is_err() {
        return Ok(
            json!({ "changed": false, "msg": format!("responder {} has already exited", pid.as_raw_nonzero()) }),
        );
    }
    if !is_responder {
        return Err(bad(
            "is not a portplan responder (`portplan reach serve`); nothing was signalled",
        ));
    }
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .map_err(|e| bad(&format!("cannot signal it: {e}")))?;
    // It stops within a tick of its loop; wait so the ports are free when
    // the task returns.
    if gone(pid) {
        return Ok(
            json!({ "changed": false, "msg": format!("responder {} stopped", pid.as_raw_nonzero()) }),
        );
    }
    // A responder that does not heed SIGTERM (a blocked signal mask it
    // inherited) is killed: it holds nothing the kernel does not release.
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.as_raw_nonzero()))
        .unwrap_or_default();
    let masks: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("SigBlk") || l.starts_with("SigIgn"))
        .collect();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    if !gone(pid) {
        return Err(bad("the responder did not stop, not even on SIGKILL"));
    }
    Ok(json!({
        "changed": false,
        "msg": format!(
            "responder {} stopped with SIGKILL after SIGTERM was not heeded ({})",
            pid.as_raw_nonzero(),
            masks.join(", ")
        ),
    }))
}

/// Whether `pid` exits within two seconds.
fn gone(pid: rustix::process::Pid) -> bool {
    let path = format!("/proc/{}/cmdline", pid.as_raw_nonzero());
    for _ in 0..100 {
        // A zombie's command line is empty: it is gone but for its reaping.
        if std::fs::read(&path).map_or(true, |argv| argv.is_empty()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
