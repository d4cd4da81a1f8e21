//! The Ansible binary-module protocol: `portplan ARGS_FILE` reads the task's
//! options from the JSON file Ansible wrote, checks the host and opens its
//! ports, and prints exactly one JSON result on stdout.
//!
//! Order matters for "nothing changes on bad input": options, facts, the
//! firewall's state and core's verdict all come before the first command that
//! changes anything, and a failing finding stops the run there.

mod args;
pub mod cli;
mod execute;
mod facts;
mod firewalld;
mod gather;
mod lock;
mod persist;
mod reserve;
mod ufw;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use portplan_core::shell::CheckedPlan;
use portplan_core::{
    Command, Finding, FindingCode, FirewallBackend, FirewallRule, FirewallState, Observation,
    ObservedFirewall, Phase, PlanError, PortEntry, Problem, Report, SourceGroup, TaggedRule,
};
use portplan_run::{RunError, Steps};
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use args::{Params, State};
pub(crate) use args::{plan_option, unsupported};
use gather::Gathered;

/// One module result. Core's types serialize in the WIT's kebab-case; the
/// result's keys are turned to snake_case as Ansible users expect.
#[derive(Serialize, Default)]
struct ModuleResult {
    changed: bool,
    failed: bool,
    msg: String,
    findings: Vec<Finding>,
    ports: Vec<PortEntry>,
    /// The source groups `ports` name.
    source_groups: Vec<SourceGroup>,
    rules: Vec<FirewallRule>,
    actions: Vec<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firewall: Option<FirewallUsed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<Observation>,
    persisted: Vec<String>,
    /// The copy of the (first) file persisting replaced, as Ansible's
    /// `backup: true` reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_file: Option<String>,
    /// Every such copy (iptables writes two files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    backup_files: Vec<String>,
    warnings: Vec<String>,
    /// What `reserve_ports` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    reserved_ports: Option<ReservedPorts>,
    /// One view, or a list of them when `reserve_ports` changes too (as
    /// Ansible takes several files' diffs).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_list")]
    diff: Vec<Diff>,
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
struct ReservedPorts {
    /// The sysctl.d drop-in.
    file: String,
    /// The running `net.ipv4.ip_local_reserved_ports` after the task.
    runtime: String,
    changed: bool,
}

/// A single diff as Ansible's usual dict; several as its list form.
fn one_or_list<S: serde::Serializer>(diffs: &[Diff], serializer: S) -> Result<S::Ok, S::Error> {
    match diffs {
        [one] => one.serialize(serializer),
        many => many.serialize(serializer),
    }
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

/// Set once the run may change the host (a sysctl, a firewall command): a
/// panic past that point answers `changed: true`.
static TOUCHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The run may change the host from here on.
fn touching() {
    TOUCHED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// A panic in the words of a failure: the hook's text (message and place)
/// where it ran, else the payload's message.
fn internal_error(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = PANIC
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("portplan internal error (please report it): {detail}")
}

/// `body`, with a panic turned into a failure like any other, so that the
/// caller can roll back what ran before it.
fn guarded<T>(body: impl FnOnce() -> Result<T, RunError>) -> Result<T, RunError> {
    caught(body).unwrap_or_else(|panic| Err(RunError::Host(panic)))
}

/// `body`'s value, or the panic that stopped it in words.
fn caught<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
        .map_err(|panic| internal_error(panic.as_ref()))
}

/// An args file Ansible handed the binary, read once: its text (which the
/// reach module reads itself) and its JSON (the plan with it: 0.5 MB with
/// 5,000 hosts).
pub struct ArgsFile {
    text: String,
    /// Its JSON, or why it is none (a lone surrogate, a number out of range):
    /// still module args, answered with that error in JSON.
    value: Result<Value, PlanError>,
}

/// Run the module on an args file; print the result; exit 0, or 1 when failed.
pub fn main(args: ArgsFile) -> std::process::ExitCode {
    // `portplan.ports.reach` runs the same binary with `reach` in its args.
    if args.value.as_ref().is_ok_and(|v| v.get("reach").is_some())
        && let Some(result) = crate::reach::module::answer(&args.text)
    {
        println!("{result}");
        return if result["failed"] == true {
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        };
    }
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut slot) = PANIC.lock() {
            *slot = Some(info.to_string());
        }
    }));
    // Freed now: the run's allocations reuse its memory.
    let ArgsFile { value, .. } = args;
    let result = std::panic::catch_unwind(|| run(value)).unwrap_or_else(|panic| {
        // A panic this far out cannot know what ran: where the host may
        // have changed, the answer says so rather than `changed: false`.
        let touched = TOUCHED.load(std::sync::atomic::Ordering::SeqCst);
        ModuleResult {
            changed: touched,
            ..failure(format!(
                "{}{}",
                internal_error(panic.as_ref()),
                if touched {
                    "; the host may have been changed by this run"
                } else {
                    ""
                }
            ))
        }
    });
    let failed = result.failed;
    // One write of the whole answer (0.9 MB with a 5,000-host plan), not a
    // line-buffered stream of formatter pieces.
    let mut answer = result_text(&result);
    answer.push(b'\n');
    let written = std::io::Write::write_all(&mut std::io::stdout().lock(), &answer);
    // The process ends here: the answer is left to the exit rather than
    // freed one allocation at a time (nothing would reuse the memory).
    std::mem::forget((result, answer));
    if failed || written.is_err() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// The result as Ansible reads it: JSON with snake_case keys.
fn result_json(result: &ModuleResult) -> Value {
    let mut value = serde_json::to_value(result).unwrap_or_else(
        |e| serde_json::json!({"failed": true, "msg": format!("cannot encode the result: {e}")}),
    );
    // The options as given stay as given (the plan's own keys are kebab-case).
    let invocation = value.as_object_mut().and_then(|v| v.remove("invocation"));
    snake_case_keys(&mut value);
    if let (Some(object), Some(invocation)) = (value.as_object_mut(), invocation) {
        object.insert("invocation".into(), invocation);
    }
    value
}

/// [`result_json`]'s text, written straight from the result: no copy of
/// it as a `Value` (its port table alone is 0.5 MB with a 5,000-host plan),
/// and no second pass over the text. The kebab-case keys come out
/// snake_case as they are written ([`SnakeKeys`]), up to `invocation`, the
/// last member, which keeps the options as given.
fn result_text(result: &ModuleResult) -> Vec<u8> {
    let mut text = Vec::new();
    let mut writer = serde_json::Serializer::with_formatter(&mut text, SnakeKeys::default());
    match result.serialize(&mut writer) {
        Ok(()) => text,
        Err(_) => serde_json::to_vec(&result_json(result)).unwrap_or_default(),
    }
}

/// serde_json's compact output with every object key's `-` written as `_`,
/// until the answer's own `invocation` key. (serde_json calls the formatter
/// for each key's text apart from its values, which is all this needs.)
#[derive(Default)]
struct SnakeKeys {
    depth: usize,
    in_key: bool,
    /// From `invocation` on, keys are written as they are.
    as_given: bool,
}

impl serde_json::ser::Formatter for SnakeKeys {
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.in_key = true;
        if first {
            Ok(())
        } else {
            writer.write_all(b",")
        }
    }

    fn end_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        _writer: &mut W,
    ) -> std::io::Result<()> {
        self.in_key = false;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if !self.in_key || self.as_given || !fragment.contains('-') {
            self.as_given |= self.in_key && self.depth == 1 && fragment == "invocation";
            return writer.write_all(fragment.as_bytes());
        }
        writer.write_all(fragment.replace('-', "_").as_bytes())
    }
}

/// `path` read as the args file Ansible hands a binary module: an existing
/// file holding a JSON object with Ansible's keys (`_ansible_*`, the wrapped
/// `ANSIBLE_MODULE_ARGS`, or the module's own `plan` and `host`); `None` for
/// anything else, which `portplan` reads as a command line, so a typo gets a
/// usage error, never module JSON. Read and parsed once, for the run too.
pub fn args_file(path: &Path) -> Option<ArgsFile> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = args::read(&text);
    let is_args = match &value {
        Ok(value) => value
            .as_object()
            .is_some_and(|args| ansible_keys(args.keys())),
        // JSON whose values a `Value` cannot hold (a lone surrogate, a number
        // out of range) is still an args file when its keys say so; its
        // values are then only checked as syntax, and the run answers the
        // error in JSON.
        Err(_) => serde_json::from_str::<BTreeMap<String, IgnoredAny>>(&text)
            .is_ok_and(|args| ansible_keys(args.keys())),
    };
    is_args.then_some(ArgsFile { text, value })
}

/// Whether an object with these keys is what Ansible hands a binary module.
fn ansible_keys<'a>(keys: impl Iterator<Item = &'a String>) -> bool {
    let (mut plan, mut host) = (false, false);
    for key in keys {
        if key.starts_with("_ansible_") || key == "ANSIBLE_MODULE_ARGS" {
            return true;
        }
        plan |= key == "plan";
        host |= key == "host";
    }
    plan && host
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

/// The module's run on the args file's JSON.
fn run(value: Result<Value, PlanError>) -> ModuleResult {
    let value = match value {
        Ok(value) => value,
        Err(error) => return rejected(error),
    };
    let (params, plan) = match args::parse_value(value) {
        Ok(parsed) => parsed,
        Err(error) => return rejected(error),
    };
    let result = run_checked(&params, &plan);
    // The process ends with the answer: the plan, as read and as resolved
    // (5,000 hosts: some 200,000 allocations), is left to the exit rather
    // than freed one allocation at a time.
    std::mem::forget((params, plan));
    result
}

/// One run on this host with validated options and the plan checked (and
/// resolved) up front, under the host lock: the module's and the CLI's host
/// commands alike.
fn run_checked(params: &Params, plan: &CheckedPlan) -> ModuleResult {
    let mut result = ModuleResult {
        invocation: (!params.no_log).then(|| serde_json::json!({"module_args": &params.given})),
        ..ModuleResult::default()
    };
    let holder = format!(
        "pid {}, portplan for host {}",
        std::process::id(),
        short_text(&params.host)
    );
    // Held until this function returns: the whole run is one critical section.
    let _lock = match lock::acquire(&lock::lock_path(), params.lock_timeout, &holder) {
        Ok(lock) => lock,
        Err(msg) => {
            return ModuleResult {
                msg,
                ..failure(String::new())
            };
        }
    };
    match run_task(params, plan, &mut result) {
        Ok(()) => result,
        Err(error) => ModuleResult {
            failed: true,
            msg: error.to_string(),
            ..result
        },
    }
}

/// A plan value in a message: at most 40 characters, hidden ones as `?`
/// (the host name recurs in every message; core caps its own quotes).
fn short_text(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(40)
        .map(|c| {
            if portplan_core::shell::is_hidden(c) {
                '?'
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > 40 {
        shown.push_str("...");
    }
    shown
}

/// A run: gather, decide, execute, verify. Every decision is a pure step of
/// `portplan_run` or core; the IO is in `gather`, `execute` and `reserve`.
fn run_task(
    params: &Params,
    plan: &CheckedPlan,
    result: &mut ModuleResult,
) -> Result<(), RunError> {
    let gathered = gather::gather(params)?;
    let observation = observe(params, &gathered, result);
    let mut report = plan
        .check_host(&params.host, params.phase, &observation)
        .map_err(RunError::Plan)?;
    if params.phase == Phase::Postinstall && !params.wait.is_zero() {
        report = wait_for_listeners(params, plan, observation, report, result)?;
    }
    // This host's rules, its source groups' sources listed.
    let rules =
        portplan_core::firewall_rules(&report, Some(&params.host)).map_err(RunError::Plan)?;
    if params.state == State::Checked
        && let Some((_, state)) = &gathered.firewall
    {
        audit(
            params,
            (state, gathered.ufw.as_ref()),
            &rules,
            &mut report,
            result,
        )?;
    }
    if params.state == State::Checked
        && let Some(why) = &gathered.warning
    {
        unread_firewall(params, why, &mut report);
    }
    record_report(result, &mut report);
    let outcome = act(params, plan, &gathered, &report, &rules, result);
    // Into the answer whatever the end: moved, not copied (with a 5,000-host
    // plan each rule of an all-to-all spec lists 2,000 sources).
    result.rules = rules;
    outcome
}

/// The verdict and every decision, then the changes: `reserve_ports`, then
/// the firewall. The firewall's change is decided before the reservation is
/// written, so a refused change (a foreign rule on a planned tuple, a goto
/// before portplan's place) stops the task with nothing changed.
fn act(
    params: &Params,
    plan: &CheckedPlan,
    gathered: &Gathered,
    report: &Report,
    rules: &[FirewallRule],
    result: &mut ModuleResult,
) -> Result<(), RunError> {
    let shown = short_text(&params.host);
    let (warnings, go_on) = portplan_run::verdict(report, &shown, params.fail_on);
    result.warnings.extend(warnings);
    go_on?;

    let steps = firewall_steps(params, gathered, rules)?;
    let reserved = reserve_ports(params, plan, gathered, result)?;
    let outcome = firewall_task(params, gathered, report, rules, steps, result);
    if let Some(reserved) = reserved {
        // The reservation stays whatever the firewall did: a rollback of the
        // firewall does not undo it, so the task changed the host.
        result.changed |= reserved.changed;
        result.msg = format!("{}; {}", result.msg, reserved.note);
        if params.diff {
            result.diff.extend(
                reserved
                    .diffs
                    .into_iter()
                    .map(|(what, before, after)| Diff {
                        before_header: what.clone(),
                        after_header: what,
                        before,
                        after,
                    }),
            );
        }
        if let Some(copy) = reserved.backup {
            let copy = copy.display().to_string();
            result.backup_file.get_or_insert_with(|| copy.clone());
            result.backup_files.push(copy);
        }
        result.reserved_ports = Some(ReservedPorts {
            file: reserved.file.display().to_string(),
            runtime: reserved.runtime,
            changed: reserved.changed,
        });
    }
    outcome
}

/// `reserve_ports`: before the firewall changes, so a drop-in portplan may
/// not replace stops the task with nothing changed. `checked` changes
/// nothing, so it only says the option had no effect.
fn reserve_ports(
    params: &Params,
    plan: &CheckedPlan,
    gathered: &Gathered,
    result: &mut ModuleResult,
) -> Result<Option<reserve::Reserved>, RunError> {
    if !params.reserve_ports {
        return Ok(None);
    }
    if params.state == State::Checked {
        result
            .warnings
            .push("reserve_ports does nothing with state: checked (it applies with present, and absent removes its drop-in)".into());
        return Ok(None);
    }
    // Every planned fixed port in the ephemeral range, whether or not the
    // running value reserves it already: core's finding against no
    // reservation at all names them. A port reserved only by a one-off
    // `sysctl -w` so still gets into the drop-in and survives a reboot.
    let remove = params.state == State::Absent;
    let planned = if remove {
        BTreeSet::new()
    } else {
        let mut bare = gathered.facts.observation.clone();
        bare.ip_local_reserved_ports.clear();
        let all = plan
            .check_host(&params.host, params.phase, &bare)
            .map_err(RunError::Plan)?;
        portplan_run::planned_ports(&all.findings).map_err(RunError::Host)?
    };
    if !params.check_mode {
        touching();
    }
    reserve::apply(
        &planned,
        remove,
        (Path::new("/etc"), Path::new("/proc")),
        params.check_mode,
        params.backup,
    )
    .map(Some)
    .map_err(|failed| {
        result.changed |= failed.changed;
        RunError::Host(failed.message)
    })
}

/// The firewall's change, decided (none with `state: checked` or no
/// firewall): the boot configuration's preflight, then core's plan.
fn firewall_steps(
    params: &Params,
    gathered: &Gathered,
    rules: &[FirewallRule],
) -> Result<Option<Steps>, RunError> {
    let Some((_, state)) = gathered
        .firewall
        .as_ref()
        .filter(|_| params.state != State::Checked)
    else {
        return Ok(None);
    };
    if params.persist {
        persist::preflight(gathered.choice.backend, Path::new("/etc")).map_err(RunError::Host)?;
    }
    portplan_run::steps(rules, state, params.state, params.ufw_enable).map(Some)
}

/// The firewall part of a run, after the verdict: `steps` carried out.
fn firewall_task(
    params: &Params,
    gathered: &Gathered,
    report: &Report,
    rules: &[FirewallRule],
    steps: Option<Steps>,
    result: &mut ModuleResult,
) -> Result<(), RunError> {
    let backend = gathered.choice.backend;
    let shown = short_text(&params.host);
    let summary = format!(
        "host {shown}: {} error(s), {} warning(s), {} info(s)",
        report.summary.errors, report.summary.warnings, report.summary.infos
    );
    let (Some((output, state)), Some(steps)) = (gathered.firewall.as_ref(), steps) else {
        result.msg = format!(
            "{summary}; firewall not changed (state: {})",
            args::state_name(params.state)
        );
        return Ok(());
    };
    result.warnings.extend(steps.warnings.iter().cloned());
    let counts = format!(
        "{} rule(s) to add, {} to remove",
        steps.change.add.len(),
        steps.change.remove.len()
    );
    let after = if steps.commands.is_empty() {
        result.msg = format!(
            "{summary}; {} already holds the desired rules",
            backend.as_str()
        );
        // A run interrupted after its change but before its save (or one
        // with persist: false) left the boot configuration behind: it
        // catches up here.
        let catch_up = params.persist && !params.check_mode;
        if catch_up {
            touching();
        }
        if catch_up && persist(backend, state, params.backup, result, &mut Vec::new())? {
            result.changed = true;
            result
                .msg
                .push_str("; the saved configuration was brought up to date");
        }
        steps.expected.clone()
    } else if params.check_mode {
        result.changed = true;
        result.actions = steps.commands.clone();
        result.msg = format!("{summary}; check mode: {counts}");
        steps.expected.clone()
    } else {
        let after = change(params, gathered, (output, state), rules, &steps, result)?;
        result.msg = format!(
            "{summary}; {}: {counts} done{}",
            backend.as_str(),
            if steps.enable_ufw {
                "; ufw enabled"
            } else {
                ""
            }
        );
        after
    };
    if params.diff {
        let (before, after) = (
            portplan_run::describe(&steps.before),
            portplan_run::describe(&after),
        );
        result.diff.push(diff(backend, &params.host, before, after));
    }
    Ok(())
}

/// What was gathered, into the result (backend, warnings, facts) and into
/// the observation core checks the host against.
fn observe(params: &Params, gathered: &Gathered, result: &mut ModuleResult) -> Observation {
    let backend = gathered.choice.backend;
    result.warnings.extend(gathered.warning.clone());
    result.warnings.extend(gathered.notes.iter().cloned());
    result.warnings.extend(gathered.facts.notes.iter().cloned());
    result.warnings.extend(portplan_run::host_warnings(
        &gathered.detected,
        backend,
        gathered.facts.observation.effective_uid,
        // A check saves nothing, so `persist` means nothing to it.
        params.persist || params.state == State::Checked,
    ));
    result.firewall = Some(FirewallUsed {
        backend,
        reason: gathered.choice.reason.clone(),
    });
    let mut observation = gathered.facts.observation.clone();
    observation.firewall = gathered
        .firewall
        .as_ref()
        .map(|(_, state)| ObservedFirewall {
            backend,
            open: state.open().to_vec(),
        });
    result.facts = Some(observation.clone());
    observation
}

/// After install the services may still be starting: re-read the sockets
/// until no planned port is `not-listening` or `wait` is over, and say which
/// ports were late and by how long.
fn wait_for_listeners(
    params: &Params,
    plan: &CheckedPlan,
    mut observation: Observation,
    mut report: Report,
    result: &mut ModuleResult,
) -> Result<Report, RunError> {
    let start = std::time::Instant::now();
    let silent = |report: &Report| -> BTreeSet<String> {
        report
            .findings
            .iter()
            .filter(|f| f.code == FindingCode::NotListening)
            .map(|f| {
                let ports = f.ports.map(|p| p.to_string()).unwrap_or_default();
                format!("{ports} ({})", f.spec.clone().unwrap_or_default())
            })
            .collect()
    };
    let mut waiting = silent(&report);
    while !waiting.is_empty() && start.elapsed() < params.wait {
        std::thread::sleep(std::time::Duration::from_millis(250));
        observation.listeners = facts::gather(Path::new("/proc"), Path::new("/etc"))?
            .observation
            .listeners;
        report = plan
            .check_host(&params.host, params.phase, &observation)
            .map_err(RunError::Plan)?;
        let now = silent(&report);
        for port in waiting.difference(&now) {
            result.warnings.push(format!(
                "{port} was late: listening after {:.1} s",
                start.elapsed().as_secs_f64()
            ));
        }
        waiting = now;
    }
    for port in &waiting {
        result.warnings.push(format!(
            "{port} is still not listening after waiting {} s (wait_timeout)",
            params.wait.as_secs()
        ));
    }
    result.facts = Some(observation);
    Ok(report)
}

/// An audit whose firewall could not be used (a firewalld that answers
/// FAILED filters nothing; one that does not answer at all) confirms no
/// planned rule: an error when the firewall must be as planned (after
/// install, `portplan check`), else a warning; never a silent green.
fn unread_firewall(params: &Params, why: &str, report: &mut Report) {
    let strict = params.strict_audit || params.phase == Phase::Postinstall;
    let severity = if strict {
        portplan_core::Severity::Error
    } else {
        portplan_core::Severity::Warning
    };
    let finding = Finding {
        code: FindingCode::FirewallDrift,
        severity,
        host: Some(params.host.clone()),
        component: None,
        spec: None,
        ports: None,
        message: format!(
            "the firewall could not be read ({why}): what it admits is not known, and no \
             planned rule is confirmed"
        ),
        fix: "make the firewall answer (for firewalld, `firewall-cmd --state` must say running), \
              then audit again"
            .into(),
    };
    add_findings(report, [finding]);
}

/// Findings the module adds to core's report, counted in its summary.
fn add_findings(report: &mut Report, findings: impl IntoIterator<Item = Finding>) {
    for finding in findings {
        match finding.severity {
            portplan_core::Severity::Error => report.summary.errors += 1,
            portplan_core::Severity::Warning => report.summary.warnings += 1,
            portplan_core::Severity::Info => report.summary.infos += 1,
        }
        report.findings.push(finding);
    }
}

/// `state: checked` is an audit: what `present` would change is drift, an
/// error finding per missing, extra or altered rule, and diff mode shows it.
/// On ufw also where its chains run other than its files say.
fn audit(
    params: &Params,
    (state, ufw): (&FirewallState, Option<&Result<ufw::Layout, String>>),
    rules: &[FirewallRule],
    report: &mut Report,
    result: &mut ModuleResult,
) -> Result<(), RunError> {
    // After install the firewall must be as planned; before, present is yet to run.
    let strict = params.strict_audit || params.phase == Phase::Postinstall;
    let mut drift = portplan_run::drift(rules, state, &params.host, strict)?;
    match ufw {
        Some(Ok(layout)) => drift.extend(unfiled_findings(&params.host, layout.drift())),
        Some(Err(why)) => result.warnings.push(format!(
            "ufw's chains were not compared with its rules files ({why}): a rule changed \
             with iptables directly would not be seen"
        )),
        None => {}
    }
    add_findings(report, drift);
    if params.diff {
        // Per chain or zone side: firewalld's runtime and permanent differ.
        let (now, after) =
            portplan_core::shell::placements(rules, state).map_err(RunError::Change)?;
        let lines = |lines: Vec<String>| lines.iter().map(|line| format!("{line}\n")).collect();
        result.diff.push(diff(
            state.backend(),
            &params.host,
            lines(now),
            lines(after),
        ));
    }
    Ok(())
}

/// Each ufw user chain that runs other than its file says (or why they
/// could not be compared): an error whatever the phase, since ufw's
/// listing, and so the rest of the audit, cannot see what it runs, and
/// `present` refuses to reload it over the change.
fn unfiled_findings(host: &str, unfiled: Result<Vec<String>, String>) -> Vec<Finding> {
    let finding = |message: String, fix: &str| Finding {
        code: FindingCode::FirewallDrift,
        severity: portplan_core::Severity::Error,
        host: Some(host.to_string()),
        component: None,
        spec: None,
        ports: None,
        message,
        fix: fix.to_string(),
    };
    match unfiled {
        Ok(chains) => chains
            .into_iter()
            .map(|what| {
                finding(
                    format!(
                        "ufw: {what}: a rule added, deleted or replaced with iptables directly \
                         (or a file not loaded since it was written), which ufw's own listing, \
                         read from its files, does not show"
                    ),
                    "make the change with ufw, or run `ufw reload` to load the files as they are",
                )
            })
            .collect(),
        Err(e) => vec![finding(
            format!("ufw: its chains could not be compared with its rules files: {e}"),
            "see why, and audit again",
        )],
    }
}

/// The report into the result. The host's port table and source groups are
/// moved, not copied (nothing after reads them): with a large plan they are,
/// with the rules (moved in once the run is over), most of the answer.
fn record_report(result: &mut ModuleResult, report: &mut Report) {
    result.ports = report
        .hosts
        .first_mut()
        .map(|h| std::mem::take(&mut h.ports))
        .unwrap_or_default();
    result.source_groups = std::mem::take(&mut report.source_groups);
    result.findings = report.findings.clone();
}

/// Execute the steps, read back and verify, then persist; any failure after
/// the first command rolls the running firewall back. The rules now held.
fn change(
    params: &Params,
    gathered: &Gathered,
    (output, state): (&portplan_core::FirewallOutput, &FirewallState),
    rules: &[FirewallRule],
    steps: &Steps,
    result: &mut ModuleResult,
) -> Result<BTreeSet<TaggedRule>, RunError> {
    let backend = gathered.choice.backend;
    let mut point = execute::restore_point(
        backend,
        (output, state),
        &steps.commands,
        gathered.ufw.as_ref(),
    );
    touching();
    let applied = applied_or_rolled_back(&mut point, &steps.commands, result, |point| {
        execute::apply(backend, &steps.commands, point)
    });
    if let (Some(why), Some(used)) = (point.per_rule(), result.firewall.as_mut()) {
        used.reason = format!("{}; this change ran ufw per rule ({why})", used.reason);
    }
    let applied = applied?;
    if let Some(failure) = applied.failure {
        result.changed = applied.changed;
        return Err(RunError::Host(failure));
    }
    // Changed until a rollback proves otherwise.
    result.changed = true;
    // Every command ran. A failure from here on, a panic included (parsing
    // what the tools read back, say), is rolled back like any other.
    let ran = steps.commands.len();
    // The saved files the persist replaced, kept out here so that a panic
    // after a rename still leaves them to be put back.
    let mut replaced = Vec::new();
    guarded(|| read_back_and_persist(params, gathered, rules, steps, result, &mut replaced))
        .map_err(|cause| roll_back(&point, ran, cause, result, &replaced))
}

/// What `apply` did, and the commands that succeeded as the result's
/// `actions`; a panic inside it is a failure like any other, so the
/// commands that succeeded before it are rolled back (`changed: false` when
/// that put everything back), not left as they are. A panic inside what
/// rolls itself back (`apply`'s rollback of a failed command, ufw's batch)
/// is not followed by a second rollback: the answer is what it interrupted,
/// `ROLLBACK FAILED`.
fn applied_or_rolled_back(
    point: &mut execute::RestorePoint,
    commands: &[Command],
    result: &mut ModuleResult,
    apply: impl FnOnce(&mut execute::RestorePoint) -> execute::Applied,
) -> Result<execute::Applied, RunError> {
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(point)));
    let ran = point.ran();
    result.actions = commands[..ran].to_vec();
    match applied {
        Ok(applied) => Ok(applied),
        Err(panic) => {
            result.changed = true;
            let cause = RunError::Host(internal_error(panic.as_ref()));
            match point.owns_rollback() {
                Some(failure) => Err(RunError::Host(format!(
                    "{failure}; ROLLBACK FAILED, the firewall may be partly changed: {cause}"
                ))),
                None => Err(roll_back(point, ran, cause, result, &[])),
            }
        }
    }
}

/// After the change: read the firewall back, verify it is as planned, and
/// save it for the next boot (each saved file it replaces noted in
/// `replaced`). The rules now held.
fn read_back_and_persist(
    params: &Params,
    gathered: &Gathered,
    rules: &[FirewallRule],
    steps: &Steps,
    result: &mut ModuleResult,
    replaced: &mut Vec<persist::Replaced>,
) -> Result<BTreeSet<TaggedRule>, RunError> {
    let backend = gathered.choice.backend;
    execute::panic_point("read-back", 1);
    let (_, now) = gather::read_state(backend, gathered.zone.as_deref())?;
    let after = portplan_run::verify(rules, &now, params.state, &steps.expected)?;
    execute::panic_point("persist", 1);
    if params.persist
        && let Err(error) = persist(backend, &now, params.backup, result, replaced)
    {
        return Err(RunError::Host(format!("cannot persist the rules: {error}")));
    }
    Ok(after)
}

/// Undo the run's changes after `cause`: the running firewall, then the
/// saved files the run `replaced` (else the next boot would load what the
/// run undid); a run rolled back whole did not change anything. A panic
/// inside the rollback is a failed rollback, not a panic for the outermost
/// catch: the answer keeps the run's `actions`.
fn roll_back(
    point: &execute::RestorePoint,
    ran: usize,
    cause: RunError,
    result: &mut ModuleResult,
    replaced: &[persist::Replaced],
) -> RunError {
    // Running firewall first, then files: each is put back whether or not
    // the other could be.
    let restored = caught(|| execute::restore(point, ran)).and_then(|restored| restored);
    let rollback = match restored {
        Ok(_) => {
            result.changed = false;
            "rolled back".to_string()
        }
        Err(e) => format!("ROLLBACK FAILED, the firewall may be partly changed: {e}"),
    };
    let rollback = match (replaced.len(), persist::put_back(replaced)) {
        (0, _) => rollback,
        (count, Ok(())) => format!("{rollback}; the {count} saved file(s) it wrote were put back"),
        (_, Err(e)) => {
            result.changed = true;
            format!(
                "{rollback}; PUTTING BACK FAILED, the saved files may not load what runs at the \
                 next boot: {e}"
            )
        }
    };
    RunError::RolledBack {
        cause: Box::new(cause),
        rollback,
    }
}

/// Save the running firewall for the next boot; whether a file was written
/// (each file replaced noted in `replaced`).
fn persist(
    backend: FirewallBackend,
    now: &FirewallState,
    backup: bool,
    result: &mut ModuleResult,
    replaced: &mut Vec<persist::Replaced>,
) -> Result<bool, String> {
    let shown = |paths: &[std::path::PathBuf]| -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    };
    match persist::persist(backend, Path::new("/etc"), now, backup, replaced)? {
        Some(saved) => {
            result.persisted = shown(&saved.files);
            result.backup_files = shown(&saved.backups);
            result.backup_file = result.backup_files.first().cloned();
            return Ok(saved.wrote);
        }
        None => result.warnings.push(format!(
            "the {} rules are not persisted: this host has no {} to load at boot",
            backend.as_str(),
            match backend {
                FirewallBackend::Nftables => "/etc/nftables.conf or /etc/sysconfig/nftables.conf",
                _ => "/etc/iptables/ (iptables-persistent) or /etc/sysconfig/iptables (iptables-services)",
            }
        )),
    }
    Ok(false)
}

/// Diff mode's view: portplan's rules before and after, under one header.
fn diff(backend: FirewallBackend, host: &str, before: String, after: String) -> Diff {
    let header = format!(
        "{} rules tagged portplan: on {}",
        backend.as_str(),
        short_text(host)
    );
    Diff {
        before_header: header.clone(),
        after_header: header,
        before,
        after,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic after the firewall changed must reach the rollback as a
    /// failure, its message kept: `change` rolls back whatever `guarded`
    /// returns as an error.
    #[test]
    fn a_panic_in_a_guarded_step_is_a_failure_naming_it() {
        let failed = guarded::<()>(|| panic!("parser met {}", "the unexpected"));
        match failed {
            Err(RunError::Host(message)) => {
                assert!(message.starts_with("portplan internal error"), "{message}");
                assert!(message.contains("parser met the unexpected"), "{message}");
            }
            other => panic!("not a failure: {:?}", other.err().map(|e| e.to_string())),
        }
        assert_eq!(guarded(|| Ok(7)).ok(), Some(7));
        let refused = guarded::<()>(|| Err(RunError::Host("refused".into())));
        assert!(matches!(refused, Err(RunError::Host(m)) if m == "refused"));
    }

    /// Commands that change nothing (`echo`, `false`), run by
    /// `execute::apply` itself against the backend `none` (whose rollback
    /// has nothing to read; the firewall tests exercise `execute::restore`).
    fn harmless(words: &[&str]) -> (Vec<Command>, execute::RestorePoint) {
        let commands: Vec<Command> = words
            .iter()
            .map(|word| Command {
                argv: vec![(*word).into(), "portplan-test".into()],
                stdin: None,
            })
            .collect();
        let state = FirewallState::Nftables(Default::default());
        let output = portplan_core::FirewallOutput::default();
        let point =
            execute::restore_point(FirewallBackend::None, (&output, &state), &commands, None);
        (commands, point)
    }

    /// The restore point counts the commands that succeeded as they do:
    /// what a rollback after a panic undoes.
    #[test]
    fn apply_counts_the_commands_that_succeeded() {
        let (commands, mut point) = harmless(&["echo", "echo", "false", "echo"]);
        let applied = execute::apply(FirewallBackend::None, &commands, &mut point);
        assert_eq!(point.ran(), 2);
        let failure = applied.failure.expect("the false fails");
        assert!(failure.starts_with("command 3 of 4 failed"), "{failure}");
        assert!(
            point
                .owns_rollback()
                .is_some_and(|f| failure.starts_with(f))
        );
        let (commands, mut point) = harmless(&["echo", "echo"]);
        let applied = execute::apply(FirewallBackend::None, &commands, &mut point);
        assert_eq!((point.ran(), applied.failure), (2, None));
        assert_eq!(point.owns_rollback(), None);
    }

    /// A panic in the middle of applying the commands reaches the rollback
    /// with the commands that succeeded before it, and a run rolled back
    /// whole answers `changed: false`.
    #[test]
    fn a_panic_while_applying_is_rolled_back() {
        let (commands, mut point) = harmless(&["echo", "echo", "echo"]);
        let mut result = ModuleResult::default();
        let failed = applied_or_rolled_back(&mut point, &commands, &mut result, |point| {
            point.succeeded();
            panic!("the second command met {}", "the unexpected");
        });
        let message = match failed {
            Err(error @ RunError::RolledBack { .. }) => error.to_string(),
            other => panic!("not rolled back: {:?}", other.map(|a| a.failure)),
        };
        assert!(message.starts_with("portplan internal error"), "{message}");
        assert!(
            message.contains("the second command met the unexpected"),
            "{message}"
        );
        assert!(message.ends_with("; rolled back"), "{message}");
        assert_eq!(result.actions, commands[..1]);
        assert!(!result.changed);

        // No panic: what `apply` said, untouched, and every command an action.
        let (commands, mut point) = harmless(&["echo", "echo", "echo"]);
        let mut result = ModuleResult::default();
        let applied = applied_or_rolled_back(&mut point, &commands, &mut result, |point| {
            commands.iter().for_each(|_| point.succeeded());
            execute::Applied {
                changed: true,
                failure: Some("kept".into()),
            }
        });
        assert!(matches!(applied, Ok(execute::Applied { failure: Some(f), .. }) if f == "kept"));
        assert_eq!(result.actions, commands);
    }

    /// A panic inside `apply`'s own rollback of a failed command: no second
    /// rollback (an inverse run twice could add a rule that never was), the
    /// failure kept, and the host said to be perhaps changed.
    #[test]
    fn a_panic_inside_the_rollback_is_not_rolled_back_again() {
        let (commands, mut point) = harmless(&["echo", "echo", "echo"]);
        let mut result = ModuleResult::default();
        let failed = applied_or_rolled_back(&mut point, &commands, &mut result, |point| {
            point.succeeded();
            point.rolling_back_from("command 2 of 3 failed: refused");
            panic!("the rollback met {}", "the unexpected");
        });
        let message = match failed {
            Err(RunError::Host(message)) => message,
            other => panic!("not a plain failure: {:?}", other.map(|a| a.failure)),
        };
        assert!(
            message.starts_with(
                "command 2 of 3 failed: refused; ROLLBACK FAILED, the firewall may be partly \
                 changed: portplan internal error"
            ),
            "{message}"
        );
        assert!(
            message.contains("the rollback met the unexpected"),
            "{message}"
        );
        assert!(result.changed);
        assert_eq!(result.actions, commands[..1]);
    }

    /// What `portplan FILE` takes for module args: an object with Ansible's
    /// keys, even when a `Value` cannot hold its values (then answered with
    /// the error, in JSON); anything else is a command line.
    #[test]
    fn an_args_file_is_told_by_its_keys() {
        let dir = std::env::temp_dir().join(format!("portplan-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let cases = [
            (
                r#"{"_ansible_check_mode":false,"plan":{},"host":"h"}"#,
                Some(true),
            ),
            (r#"{"plan":{},"host":"h"}"#, Some(true)),
            (r#"{"ANSIBLE_MODULE_ARGS":{}}"#, Some(true)),
            (r#"{"_ansible_x":1,"plan":"\ud800"}"#, Some(false)),
            // A `plan` mapping is kept as its text: its number is the
            // plan's problem, found when the plan is read.
            (r#"{"_ansible_x":1,"plan":{"x":1e400}}"#, Some(true)),
            (r#"{"plan":{}}"#, None),
            (r#"[1,2]"#, None),
            ("validate", None),
        ];
        for (i, (text, answer)) in cases.into_iter().enumerate() {
            let path = dir.join(format!("{i}.json"));
            std::fs::write(&path, text).expect("write");
            let found = args_file(&path).map(|args| args.value.is_ok());
            assert_eq!(found, answer, "{text}");
        }
        assert!(args_file(&dir.join("missing.json")).is_none());
        let out_of_range = args_file(&dir.join("4.json")).expect("args");
        let result = run(out_of_range.value);
        assert!(result.failed, "{}", result.msg);
        assert_eq!(result.problems[0].path, "plan", "{:?}", result.problems);
        assert!(result.problems[0].message.contains("number out of range"));
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    /// The answer written straight from the result is byte for byte the
    /// text of [`result_json`]: keys snake_case, `invocation` as given, the
    /// same order.
    #[test]
    fn the_answer_text_is_result_json_written() {
        let plan = portplan_core::parse_plan(include_str!(
            "../../../examples/plans/observed-preinstall.json"
        ))
        .expect("valid");
        let observation = plan.observations[0].observation.clone();
        let host = plan.observations[0].host.clone();
        let report = portplan_core::check_host(&plan, &host, Phase::Preinstall, &observation)
            .expect("checked");
        let mut result = ModuleResult {
            msg: "a \"quoted\" msg-with: dashes \\ and \u{1b}".into(),
            facts: Some(observation),
            warnings: vec!["ip-local-port-range\":".into()],
            problems: vec![Problem {
                path: "plan.hosts[0].deploy-user".into(),
                value: "x-y".into(),
                message: "m".into(),
            }],
            // A key of the options as given keeps its `-`.
            invocation: Some(
                serde_json::json!({"module_args": {"host": "a-b", "plan": {"deploy-user": "p"}}}),
            ),
            ..ModuleResult::default()
        };
        let mut report = report;
        let rules = portplan_core::firewall_rules(&report, None).expect("rules");
        record_report(&mut result, &mut report);
        result.rules = rules;
        assert!(!result.ports.is_empty() && !result.findings.is_empty());
        let text = result_text(&result);
        assert_eq!(
            String::from_utf8(text.clone()).expect("utf-8"),
            serde_json::to_string(&result_json(&result)).expect("json")
        );
        assert!(
            String::from_utf8(text)
                .expect("utf-8")
                .contains("ip_local_port_range")
        );
        result.invocation = None;
        assert_eq!(
            result_text(&result),
            serde_json::to_vec(&result_json(&result)).expect("json")
        );
    }
}
