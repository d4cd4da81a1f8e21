//! The host commands: `portplan check|open|close`, the module's own run
//! (the same gather, decide, execute, verify) without Ansible, for hosts that
//! are air-gapped or managed by hand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use portplan_core::{Phase, Plan, Severity};
use portplan_run::{FirewallChoice, Task};
use serde_json::Map;

use super::args::Params;
use portplan_core::shell::CheckedPlan;

use super::{ModuleResult, facts, result_json, run_checked};

/// What a host command asks for.
pub struct HostArgs {
    /// The plan file.
    pub plan: PathBuf,
    /// The plan host this machine is; found by address when omitted.
    pub host: Option<String>,
    /// Before or after install.
    pub phase: Phase,
    /// Which firewall to read and change.
    pub firewall: FirewallChoice,
    /// Print the result as JSON instead of a table.
    pub json: bool,
    /// Show what would run, change nothing.
    pub dry_run: bool,
    /// Save the firewall for the next boot.
    pub persist: bool,
    /// Keep copies of the files persisting replaces.
    pub backup: bool,
    /// Fail on warnings too.
    pub strict: bool,
    /// Postinstall: seconds to wait for the planned ports to listen.
    pub wait: u64,
    /// firewalld: the zone that gets portplan's rules.
    pub zone: Option<String>,
    /// Reserve the planned ports inside the ephemeral range, for good.
    pub reserve_ports: bool,
}

const EXIT_FAILED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// Run `task` on this host as the module would; exit 0 when it passed, 1
/// when findings, drift or a failure stopped it, 2 on bad input.
pub fn run(task: Task, args: &HostArgs) -> ExitCode {
    let (params, plan) = match params(task, args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("portplan: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let result = run_checked(&params, &plan);
    if args.json {
        println!("{}", result_json(&result));
    } else {
        print!("{}", table(&result, &params));
    }
    if result.failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The run's options, and the plan checked (and resolved) once for the run.
fn params(task: Task, args: &HostArgs) -> Result<(Params, CheckedPlan), String> {
    let text = std::fs::read_to_string(&args.plan)
        .map_err(|e| format!("cannot read {}: {e}", args.plan.display()))?;
    let label = args.plan.display().to_string();
    let plan = crate::plan_input::read_plan_text(&label, &text).map_err(|e| e.to_string())?;
    // Resolved here for the plan's own problems; the rules run in check_host.
    let checked = portplan_core::shell::check_plan(&plan)
        .map_err(|e| crate::plan_input::with_lines(&label, &text, e).to_string())?;
    if let Some(zone) = &args.zone {
        super::args::check_zone(zone)
            .map_err(|why| format!("--zone {}: {why}", portplan_core::shell::quote(zone)))?;
    }
    let host = match &args.host {
        Some(host) => host.clone(),
        None => this_host(&plan)?,
    };
    let params = Params {
        plan,
        host,
        phase: args.phase,
        state: task,
        firewall: args.firewall,
        fail_on: if args.strict {
            Severity::Warning
        } else {
            Severity::Error
        },
        persist: args.persist,
        ufw_enable: false,
        check_mode: args.dry_run,
        diff: true,
        no_log: true,
        backup: args.backup,
        lock_timeout: std::time::Duration::from_secs(60),
        wait: std::time::Duration::from_secs(args.wait),
        zone: args.zone.clone(),
        reserve_ports: args.reserve_ports,
        // `portplan check` is the audit: a firewall not as planned fails it.
        strict_audit: true,
        given: Map::new(),
    };
    Ok((params, checked))
}

/// The one plan host whose address this machine holds.
fn this_host(plan: &Plan) -> Result<String, String> {
    let local = facts::local_addresses(Path::new("/proc"));
    let mine: Vec<&str> = plan
        .hosts
        .iter()
        .filter(|h| h.address.parse().is_ok_and(|a| local.contains(&a)))
        .map(|h| h.name.as_str())
        .collect();
    match mine.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err("no plan host has an address of this machine; name it with --host".into()),
        many => Err(format!(
            "several plan hosts have an address of this machine ({}); name one with --host",
            many.join(", ")
        )),
    }
}

/// The result as a person reads it.
fn table(result: &ModuleResult, params: &Params) -> String {
    let mut out = String::new();
    if let Some(firewall) = &result.firewall {
        out.push_str(&format!(
            "host {} — firewall {}: {}\n",
            params.host,
            firewall.backend.as_str(),
            firewall.reason
        ));
    }
    for f in &result.findings {
        out.push_str(&format!(
            "{:<7}  {:<20}  {}  Fix: {}\n",
            f.severity.as_str().to_ascii_uppercase(),
            f.code.as_str(),
            f.message,
            f.fix
        ));
    }
    if !result.actions.is_empty() {
        out.push_str(if params.check_mode {
            "would run:\n"
        } else {
            "ran:\n"
        });
        for command in &result.actions {
            out.push_str(&format!("  {}\n", command.argv.join(" ")));
            for line in command.stdin.iter().flat_map(|s| s.lines()) {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    for warning in &result.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    if !result.persisted.is_empty() {
        out.push_str(&format!(
            "saved for boot: {}\n",
            result.persisted.join(", ")
        ));
    }
    out.push_str(&format!(
        "{}: {}\n",
        if result.failed { "FAILED" } else { "ok" },
        result.msg
    ));
    out
}
