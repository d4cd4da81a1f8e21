//! Executing: the module's hands on the host. Run the argv core rendered,
//! roll back on failure, and persist. What to run is decided in core and
//! `portplan_run`; this file only executes and reports.
//!
//! Every command runs as an argv, never through a shell.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use portplan_core::{Command, FirewallBackend, FirewallOutput, FirewallState};

use super::gather::read_state;

/// Where programs live on the distributions portplan serves; Ansible's
/// non-login shell often lacks the sbin directories in `PATH`.
const PROGRAM_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// Find a program by name, first in the system directories, then in `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    PROGRAM_DIRS
        .iter()
        .map(PathBuf::from)
        .chain(path_dirs)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// What happened when the commands ran.
pub struct Applied {
    /// Commands that succeeded, in order.
    pub ran: usize,
    /// The failure that stopped the run, with what the rollback did.
    pub failure: Option<String>,
}

/// Run `commands` in order; on the first failure restore `before` (taken with
/// [`restore_state`]) so the run leaves the firewall as it found it.
pub fn apply(backend: FirewallBackend, commands: &[Command], before: &RestorePoint) -> Applied {
    for (index, command) in commands.iter().enumerate() {
        if let Err(error) = run(command) {
            let rollback = if index == 0 && backend == FirewallBackend::Nftables {
                // One `nft -f` transaction: a failed one applied nothing.
                "nothing was applied (one nft transaction)".to_string()
            } else {
                match restore(before) {
                    Ok(()) => format!("rolled back the {index} command(s) applied before it"),
                    Err(e) => format!("ROLLBACK FAILED, the firewall may be partly changed: {e}"),
                }
            };
            return Applied {
                ran: index,
                failure: Some(format!(
                    "command {} of {} failed: {error}; {rollback}",
                    index + 1,
                    commands.len()
                )),
            };
        }
    }
    Applied {
        ran: commands.len(),
        failure: None,
    }
}

/// The state a rollback returns to: the backend's own save format where it
/// has one (nftables, iptables), else portplan's own rules as they were.
pub struct RestorePoint {
    backend: FirewallBackend,
    /// nft's text ruleset, or iptables-save's output.
    ipv4: String,
    ipv6: String,
    /// firewalld and ufw: the state before, and the zone it was read for.
    before: FirewallState,
    zone: Option<String>,
}

/// Take a restore point before changing anything.
pub fn restore_point(
    backend: FirewallBackend,
    output: &FirewallOutput,
    state: &FirewallState,
) -> Result<RestorePoint, String> {
    let (ipv4, ipv6) = match backend {
        FirewallBackend::Nftables => (run_argv(&["nft", "list", "ruleset"])?, String::new()),
        FirewallBackend::Iptables => (output.main.clone(), output.extra.clone()),
        _ => (String::new(), String::new()),
    };
    Ok(RestorePoint {
        backend,
        ipv4,
        ipv6,
        before: state.clone(),
        zone: output.zone.clone(),
    })
}

/// Put the firewall back as it was: the whole ruleset, atomically per tool,
/// where the backend can save one; else portplan's rules as they were, by
/// undoing portplan's changes and nobody else's.
pub fn restore(point: &RestorePoint) -> Result<(), String> {
    let commands = match point.backend {
        FirewallBackend::Nftables => vec![Command {
            argv: vec!["nft".into(), "-f".into(), "-".into()],
            stdin: Some(format!("flush ruleset\n{}", point.ipv4)),
        }],
        FirewallBackend::Iptables => {
            let mut commands = vec![Command {
                argv: vec!["iptables-restore".into(), "-w".into()],
                stdin: Some(point.ipv4.clone()),
            }];
            if !point.ipv6.is_empty() {
                commands.push(Command {
                    argv: vec!["ip6tables-restore".into(), "-w".into()],
                    stdin: Some(point.ipv6.clone()),
                });
            }
            commands
        }
        FirewallBackend::Firewalld | FirewallBackend::Ufw => {
            let (_, now) =
                read_state(point.backend, point.zone.as_deref()).map_err(|e| e.to_string())?;
            portplan_core::plan_restore(&point.before, &now).map_err(|e| e.to_string())?
        }
        FirewallBackend::None => Vec::new(),
    };
    commands
        .iter()
        .try_for_each(|command| run(command).map(drop))
}

/// Save the running ruleset where the distribution loads it at boot; the
/// paths written, or `None` when this host keeps no such file. firewalld and
/// ufw save their own configuration: their files are reported, not written.
pub fn persist(
    backend: FirewallBackend,
    etc: &Path,
    state: &FirewallState,
) -> Result<Option<Vec<PathBuf>>, String> {
    match backend {
        FirewallBackend::Nftables => {
            let Some(path) = ["nftables.conf", "sysconfig/nftables.conf"]
                .iter()
                .map(|p| etc.join(p))
                .find(|p| p.is_file())
            else {
                return Ok(None);
            };
            let ruleset = run_argv(&["nft", "list", "ruleset"])?;
            let text = format!(
                "#!/usr/sbin/nft -f\n# Saved by portplan from the running ruleset.\nflush ruleset\n\n{ruleset}"
            );
            write_atomically(&path, &text)?;
            Ok(Some(vec![path]))
        }
        FirewallBackend::Iptables => {
            // Debian/Ubuntu (iptables-persistent), then RHEL (iptables-services).
            let (v4, v6) = if etc.join("iptables").is_dir() {
                (etc.join("iptables/rules.v4"), etc.join("iptables/rules.v6"))
            } else if etc.join("sysconfig/iptables").is_file() {
                (
                    etc.join("sysconfig/iptables"),
                    etc.join("sysconfig/ip6tables"),
                )
            } else {
                return Ok(None);
            };
            write_atomically(&v4, &run_argv(&["iptables-save"])?)?;
            let mut written = vec![v4];
            if find_program("ip6tables-save").is_some() {
                write_atomically(&v6, &run_argv(&["ip6tables-save"])?)?;
                written.push(v6);
            }
            Ok(Some(written))
        }
        // firewall-cmd --permanent and ufw write these themselves.
        FirewallBackend::Firewalld => {
            let FirewallState::Firewalld(state) = state else {
                return Ok(Some(Vec::new()));
            };
            let mut files: Vec<PathBuf> = state
                .zones
                .iter()
                .filter(|z| z.side == portplan_core::FirewalldSide::Permanent && z.drops)
                .map(|z| etc.join(format!("firewalld/zones/{}.xml", z.name)))
                .collect();
            let sets: BTreeSet<&String> = state
                .found
                .iter()
                .filter_map(|f| f.ipset.as_ref())
                .collect();
            files.extend(
                sets.iter()
                    .map(|s| etc.join(format!("firewalld/ipsets/{s}.xml"))),
            );
            Ok(Some(files.into_iter().filter(|f| f.is_file()).collect()))
        }
        FirewallBackend::Ufw => Ok(Some(
            ["ufw/user.rules", "ufw/user6.rules"]
                .iter()
                .map(|p| etc.join(p))
                .filter(|p| p.is_file())
                .collect(),
        )),
        FirewallBackend::None => Ok(Some(Vec::new())),
    }
}

/// Replace a file in one rename, keeping the old file's permissions, so a
/// crash never leaves a half-written ruleset for the next boot.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let temporary = path.with_extension("portplan-tmp");
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    std::fs::write(&temporary, text).map_err(fail)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        std::fs::set_permissions(&temporary, metadata.permissions()).map_err(fail)?;
    }
    std::fs::rename(&temporary, path).map_err(fail)
}

/// Run a read-only argv; its stdout.
pub fn run_argv(argv: &[&str]) -> Result<String, String> {
    run(&Command {
        argv: argv.iter().map(ToString::to_string).collect(),
        stdin: None,
    })
}

/// Run one argv with an optional stdin; its stdout, or an error quoting the
/// command and its stderr.
pub fn run(command: &Command) -> Result<String, String> {
    let Some((name, args)) = command.argv.split_first() else {
        return Err("empty command".into());
    };
    let program = find_program(name).ok_or_else(|| format!("{name} is not installed"))?;
    let shown = command.argv.join(" ");
    let mut child = Process::new(&program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(if command.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{shown}` does not start: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (&command.stdin, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("`{shown}`: cannot write its input: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("`{shown}` did not finish: {e}"))?;
    if output.status.success() {
        String::from_utf8(output.stdout).map_err(|_| format!("`{shown}` printed non-UTF-8 output"))
    } else {
        Err(format!(
            "`{shown}` exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
