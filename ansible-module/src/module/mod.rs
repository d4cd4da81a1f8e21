//! The Ansible binary-module protocol: `portplan ARGS_FILE` reads the task's
//! options from the JSON file Ansible wrote, checks the host and opens its
//! ports, and prints exactly one JSON result on stdout.
//!
//! Order matters for "nothing changes on bad input": options, facts, the
//! firewall's state and core's verdict all come before the first command that
//! changes anything, and a failing finding stops the run there.

mod args;
mod facts;
mod firewall;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use portplan_core::model::{
    Command, Finding, FirewallBackend, FirewallRule, FirewallState, IpFamily, Observation,
    ObservedFirewall, PlanError, PortEntry, Problem, Severity, TaggedRule,
};
use serde::Serialize;
use serde_json::Value;

use args::{Params, State};

/// One module result. Core's types serialize in the WIT's kebab-case; the
/// result's keys are turned to snake_case as Ansible users expect.
#[derive(Serialize, Default)]
struct ModuleResult {
    changed: bool,
    failed: bool,
    msg: String,
    findings: Vec<Finding>,
    ports: Vec<PortEntry>,
    rules: Vec<FirewallRule>,
    actions: Vec<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firewall: Option<FirewallUsed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<Observation>,
    persisted: Vec<String>,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<Diff>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<Problem>,
    /// The options as given, as Ansible's own modules report them; left out
    /// under `no_log`.
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation: Option<Value>,
}

#[derive(Serialize)]
struct FirewallUsed {
    backend: FirewallBackend,
    reason: String,
}

#[derive(Serialize)]
struct Diff {
    before_header: String,
    after_header: String,
    before: String,
    after: String,
}

/// The panic message and place, kept by the hook so the result can carry it
/// instead of a bare stack trace on stderr.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Run the module on an args file; print the result; exit 0, or 1 when failed.
pub fn main(args_path: &Path) -> std::process::ExitCode {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut slot) = PANIC.lock() {
            *slot = Some(info.to_string());
        }
    }));
    let result = std::panic::catch_unwind(|| run(args_path)).unwrap_or_else(|_| {
        let detail = PANIC
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or_else(|| "unknown panic".into());
        failure(format!(
            "portplan internal error (please report it): {detail}"
        ))
    });
    let mut value = serde_json::to_value(&result).unwrap_or_else(
        |e| serde_json::json!({"failed": true, "msg": format!("cannot encode the result: {e}")}),
    );
    snake_case_keys(&mut value);
    println!("{value}");
    if result.failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn failure(msg: String) -> ModuleResult {
    ModuleResult {
        failed: true,
        msg,
        ..ModuleResult::default()
    }
}

fn rejected(error: PlanError) -> ModuleResult {
    ModuleResult {
        msg: format!("invalid arguments: {}", error.to_string().trim_end()),
        problems: error.problems,
        ..failure(String::new())
    }
}

fn run(args_path: &Path) -> ModuleResult {
    let text = match std::fs::read_to_string(args_path) {
        Ok(text) => text,
        Err(e) => {
            return failure(format!(
                "cannot read the args file {}: {e}",
                args_path.display()
            ));
        }
    };
    let params = match args::parse(&text) {
        Ok(params) => params,
        Err(error) => return rejected(error),
    };
    let mut result = ModuleResult {
        invocation: (!params.no_log).then(|| serde_json::json!({"module_args": &params.given})),
        ..ModuleResult::default()
    };
    match run_task(&params, &mut result) {
        Ok(()) => result,
        Err(msg) => ModuleResult {
            failed: true,
            msg,
            ..result
        },
    }
}

fn run_task(params: &Params, result: &mut ModuleResult) -> Result<(), String> {
    let facts = facts::gather(Path::new("/proc"), Path::new("/etc"))?;
    let choice = match firewall::choose(params.firewall, &facts, params.ufw_enable) {
        Ok(choice) => choice,
        // Checking ports needs no firewall: report why it is not read.
        Err(reason) if params.state == State::Checked => {
            result.warnings.push(reason.clone());
            firewall::Choice {
                backend: FirewallBackend::None,
                reason,
            }
        }
        Err(reason) => return Err(reason),
    };
    let backend = choice.backend;
    let managed_by = match (facts.firewalld_pid, facts.ufw_enabled) {
        (Some(_), _) => Some("firewalld"),
        (None, true) => Some("ufw"),
        (None, false) => None,
    };
    if let (Some(manager), FirewallBackend::Nftables | FirewallBackend::Iptables) =
        (managed_by, backend)
    {
        result.warnings.push(format!(
            "{manager} is active on this host: rules portplan adds directly may be removed when \
             {manager} reloads"
        ));
    }
    result.firewall = Some(FirewallUsed {
        backend,
        reason: choice.reason,
    });
    let mut observation = facts.observation;
    if observation.effective_uid != Some(0) {
        result.warnings.push(
            "not running as root: the owners of listening sockets are unknown and the \
             firewall cannot be changed (use become: true)"
                .into(),
        );
    }
    let zone = if backend == FirewallBackend::Firewalld {
        let device = params
            .plan
            .hosts
            .iter()
            .find(|h| h.name == params.host)
            .and_then(|h| h.address.parse().ok())
            .and_then(|address| facts::device_of(Path::new("/proc"), address));
        let (zone, why) = firewall::firewalld_zone(device.as_deref())?;
        if let Some(used) = result.firewall.as_mut() {
            used.reason = format!("{}; {why}", used.reason);
        }
        Some(zone)
    } else {
        None
    };
    let saves_itself = match backend {
        FirewallBackend::Firewalld => Some(
            "firewalld: portplan changes its runtime and permanent configuration alike, \
             so the two never disagree",
        ),
        FirewallBackend::Ufw => Some("ufw, which saves every rule itself"),
        _ => None,
    };
    if let (Some(why), false) = (saves_itself, params.persist) {
        result
            .warnings
            .push(format!("persist: false has no effect on {why}"));
    }
    let current = if backend == FirewallBackend::None {
        None
    } else {
        let (snapshot, state) = firewall::read_state(backend, zone.as_deref())?;
        observation.firewall = Some(ObservedFirewall {
            backend,
            open: state.open.clone(),
        });
        Some((snapshot, state))
    };
    result.facts = Some(observation.clone());

    let report = portplan_core::check_host(&params.plan, &params.host, params.phase, &observation)
        .map_err(|e| {
            format!(
                "the plan does not fit this host: {}",
                e.to_string().trim_end()
            )
        })?;
    result.ports = report
        .hosts
        .first()
        .map(|h| h.ports.clone())
        .unwrap_or_default();
    result.rules = report.rules.clone();
    result.findings = report.findings.clone();
    let failing: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| fails(f.severity, params.fail_on))
        .collect();
    result.warnings.extend(
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning && !fails(f.severity, params.fail_on))
            .map(|f| format!("{}: {}", code_text(f), f.message)),
    );
    if !failing.is_empty() {
        let listed: Vec<String> = failing
            .iter()
            .map(|f| format!("{}: {} Fix: {}", code_text(f), f.message, f.fix))
            .collect();
        return Err(format!(
            "{} finding(s) on host {} fail the task (fail_on: {}); nothing was changed. {}",
            failing.len(),
            params.host,
            json_text(params.fail_on),
            listed.join(" | ")
        ));
    }

    let summary = format!(
        "host {}: {} error(s), {} warning(s), {} info(s)",
        params.host, report.summary.errors, report.summary.warnings, report.summary.infos
    );
    let Some((snapshot, state)) = current.filter(|_| params.state != State::Checked) else {
        result.msg = format!(
            "{summary}; firewall not changed (state: {})",
            params.state.name()
        );
        return Ok(());
    };
    // An inactive ufw takes rules but applies none until it is enabled.
    let ufw_inactive = backend == FirewallBackend::Ufw
        && portplan_core::backends::ufw_is_active(&snapshot.main) == Some(false);
    if ufw_inactive && !params.ufw_enable {
        result.warnings.push(
            "ufw is inactive: nothing is filtered, and portplan's rules take effect only once \
             ufw is enabled (ufw_enable: true enables it after the rules are in place)"
                .into(),
        );
    }
    let enable_ufw = ufw_inactive && params.ufw_enable && params.state == State::Present;
    let remove_all = params.state == State::Absent;
    let change = portplan_core::plan_firewall(&report.rules, &state, remove_all).map_err(|e| {
        format!(
            "cannot plan the firewall change: {}",
            e.to_string().trim_end()
        )
    })?;
    result.warnings.extend(change.notes.iter().cloned());
    let before = tagged(&state);
    let predicted: BTreeSet<TaggedRule> = before
        .difference(&change.remove.iter().cloned().collect())
        .cloned()
        .chain(change.add.iter().cloned())
        .collect();
    let mut after = predicted;
    let counts = format!(
        "{} rule(s) to add, {} to remove",
        change.add.len(),
        change.remove.len()
    );
    let mut commands = change.commands.clone();
    if enable_ufw {
        commands.push(firewall::ufw_enable_command());
    }
    if commands.is_empty() {
        result.msg = format!(
            "{summary}; {} already holds the desired rules",
            name(backend)
        );
    } else if params.check_mode {
        result.changed = true;
        result.actions = commands;
        result.msg = format!("{summary}; check mode: {counts}");
    } else {
        let point = firewall::restore_point(backend, &snapshot, &state)?;
        let applied = firewall::apply(backend, &commands, &point);
        result.actions = commands[..applied.ran].to_vec();
        if let Some(failure) = applied.failure {
            return Err(failure);
        }
        result.changed = true;
        let (_, now) = firewall::read_state(backend, zone.as_deref())?;
        let left = portplan_core::plan_firewall(&report.rules, &now, remove_all)
            .map_err(|e| e.to_string())?;
        if !left.commands.is_empty() {
            let rollback = firewall::restore(&point)
                .err()
                .unwrap_or_else(|| "rolled back".into());
            return Err(format!(
                "the firewall does not hold the desired rules after applying them \
                 ({} still to add, {} to remove); {rollback}",
                left.add.len(),
                left.remove.len()
            ));
        }
        after = tagged(&now);
        if params.persist {
            match firewall::persist(backend, Path::new("/etc"), &now) {
                Ok(Some(paths)) => {
                    result.persisted = paths.iter().map(|p| p.display().to_string()).collect();
                }
                Ok(None) => result.warnings.push(format!(
                    "the {} rules are not persisted: this host has no {} to load at boot",
                    name(backend),
                    match backend {
                        FirewallBackend::Nftables => "/etc/nftables.conf or /etc/sysconfig/nftables.conf",
                        _ => "/etc/iptables/ (iptables-persistent) or /etc/sysconfig/iptables (iptables-services)",
                    }
                )),
                Err(error) => {
                    let rollback = match firewall::restore(&point) {
                        Ok(()) => "the running firewall was rolled back".to_string(),
                        Err(e) => format!("ROLLBACK FAILED: {e}"),
                    };
                    return Err(format!("cannot persist the rules: {error}; {rollback}"));
                }
            }
        }
        result.msg = format!(
            "{summary}; {}: {counts} done{}",
            name(backend),
            if enable_ufw { "; ufw enabled" } else { "" }
        );
    }
    if params.diff {
        let header = format!(
            "{} rules tagged portplan: on {}",
            name(backend),
            params.host
        );
        result.diff = Some(Diff {
            before_header: header.clone(),
            after_header: header,
            before: describe(&before),
            after: describe(&after),
        });
    }
    Ok(())
}

fn fails(severity: Severity, fail_on: Severity) -> bool {
    severity == Severity::Error || (fail_on == Severity::Warning && severity == Severity::Warning)
}

fn tagged(state: &FirewallState) -> BTreeSet<TaggedRule> {
    state.found.iter().map(|f| f.rule.clone()).collect()
}

/// The diff's text: one line per portplan rule, sorted.
fn describe(rules: &BTreeSet<TaggedRule>) -> String {
    rules
        .iter()
        .map(|r| {
            let family = if r.family == IpFamily::Ipv4 {
                "ipv4"
            } else {
                "ipv6"
            };
            format!(
                "{} {family} {} dport {} saddr {}\n",
                r.tag,
                json_text(r.transport),
                r.ports,
                r.source
            )
        })
        .collect()
}

/// A backend's name as the JSON spells it, e.g. `nftables`.
fn name(backend: FirewallBackend) -> String {
    json_text(backend)
}

/// A finding's code as the JSON spells it, e.g. `port-in-use`.
fn code_text(finding: &Finding) -> String {
    json_text(finding.code)
}

/// A unit enum's JSON spelling.
fn json_text(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Ansible results use snake_case keys; core's JSON uses the WIT's kebab-case.
fn snake_case_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (key, mut inner) in entries {
                snake_case_keys(&mut inner);
                map.insert(key.replace('-', "_"), inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(snake_case_keys),
        _ => {}
    }
}
