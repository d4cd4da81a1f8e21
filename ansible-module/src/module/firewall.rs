//! The module's hands on the firewall: pick the backend, read its state, run
//! the commands core rendered, roll back on failure, and persist.
//!
//! Every command runs as an argv, never through a shell. What to run is
//! decided in core (`plan_firewall`); this file only executes and reports.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use portplan_core::model::{Command, FirewallBackend, FirewallOutput, FirewallState};

use super::args::FirewallChoice;
use super::facts::Facts;

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

/// The backend chosen and the reason, as the result reports them.
#[derive(Debug, Clone)]
pub struct Choice {
    pub backend: FirewallBackend,
    pub reason: String,
}

/// Decide which backend to drive. `auto` follows what is actually active:
/// firewalld when its daemon answers, then ufw when enabled (or when
/// `ufw_enable` asks for it), then a native nftables or iptables ruleset.
pub fn choose(choice: FirewallChoice, facts: &Facts, ufw_enable: bool) -> Result<Choice, String> {
    let pick = |backend, reason: &str| Choice {
        backend,
        reason: reason.to_string(),
    };
    let ufw_installed = find_program("ufw").is_some();
    match choice {
        FirewallChoice::None => return Ok(pick(FirewallBackend::None, "firewall: none")),
        FirewallChoice::Nftables => {
            return Ok(pick(FirewallBackend::Nftables, "firewall: nftables"));
        }
        FirewallChoice::Iptables => {
            return Ok(pick(FirewallBackend::Iptables, "firewall: iptables"));
        }
        FirewallChoice::Firewalld => {
            let state = firewalld_state()
                .map_err(|e| format!("firewall: firewalld, but firewalld does not answer: {e}"))?;
            return Ok(pick(
                FirewallBackend::Firewalld,
                &format!("firewall: firewalld (firewall-cmd --state: {state})"),
            ));
        }
        FirewallChoice::Ufw if ufw_installed => {
            return Ok(pick(FirewallBackend::Ufw, "firewall: ufw"));
        }
        FirewallChoice::Ufw => return Err("firewall: ufw, but ufw is not installed".into()),
        FirewallChoice::Auto => {}
    }
    if let Some(pid) = facts.firewalld_pid {
        let state = firewalld_state().map_err(|e| {
            format!(
                "firewalld runs in this network namespace (pid {pid}) but does not answer: {e}; \
                 changing nftables under it would be undone at its next reload. Fix firewalld, \
                 or use firewall: none to check ports only"
            )
        })?;
        return Ok(pick(
            FirewallBackend::Firewalld,
            &format!("firewalld (pid {pid}) answers: firewall-cmd --state says {state}"),
        ));
    }
    if ufw_installed && facts.ufw_enabled {
        return Ok(pick(
            FirewallBackend::Ufw,
            "ufw is enabled (/etc/ufw/ufw.conf: ENABLED=yes)",
        ));
    }
    if ufw_installed && ufw_enable {
        return Ok(pick(
            FirewallBackend::Ufw,
            "ufw is installed but not enabled, and ufw_enable: true asks to enable it",
        ));
    }
    let beside_ufw = |reason: String| {
        if ufw_installed {
            format!("{reason}; ufw is installed but not enabled (ufw_enable: true would use it)")
        } else {
            reason
        }
    };
    let nft = find_program("nft");
    if nft.is_some() {
        let ruleset = run_read(&["nft", "-j", "list", "ruleset"])?;
        if let Some(table) = native_nft_input_table(&ruleset) {
            return Ok(Choice {
                backend: FirewallBackend::Nftables,
                reason: beside_ufw(format!("nftables table {table} filters input")),
            });
        }
    }
    if find_program("iptables-save").is_some() {
        let saved = run_read(&["iptables-save"])?;
        if iptables_filters_input(&saved) {
            return Ok(Choice {
                backend: FirewallBackend::Iptables,
                reason: beside_ufw(
                    "iptables' filter table INPUT chain has rules or a non-ACCEPT policy".into(),
                ),
            });
        }
    }
    let (backend, reason) = match (nft, find_program("iptables")) {
        (Some(_), _) => (
            FirewallBackend::Nftables,
            "no firewall filters input; nftables is installed",
        ),
        (None, Some(_)) => (
            FirewallBackend::Iptables,
            "no firewall filters input; iptables is installed",
        ),
        (None, None) => (
            FirewallBackend::None,
            "neither nft nor iptables is installed: nothing filters input",
        ),
    };
    Ok(Choice {
        backend,
        reason: beside_ufw(reason.into()),
    })
}

/// The zone firewalld filters the host's traffic in, and why: the zone bound
/// to the interface that carries the host's address, else the default zone.
pub fn firewalld_zone(device: Option<&str>) -> Result<(String, String), String> {
    if let Some(device) = device {
        // Exit status 2 and `no zone` when the interface is bound to none.
        if let Ok(zone) = run_read(&["firewall-cmd", &format!("--get-zone-of-interface={device}")])
        {
            let zone = zone.trim().to_string();
            let why = format!("zone {zone} is bound to {device}, which carries the host's address");
            return Ok((zone, why));
        }
    }
    let zone = run_read(&["firewall-cmd", "--get-default-zone"])?
        .trim()
        .to_string();
    let why = match device {
        Some(device) => format!(
            "{device} carries the host's address and is bound to no zone, so the default zone {zone} serves it"
        ),
        None => format!(
            "no interface here carries the host's address, so the default zone {zone} is used"
        ),
    };
    Ok((zone, why))
}

/// `firewall-cmd --state`: `running` when the daemon answers on D-Bus.
fn firewalld_state() -> Result<String, String> {
    Ok(run_read(&["firewall-cmd", "--state"])?.trim().to_string())
}

/// The first nftables table of portplan's own kind (not iptables-nft's
/// compatibility tables) with a chain on the input hook, as `family name`.
fn native_nft_input_table(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value
        .get("nftables")?
        .as_array()?
        .iter()
        .filter_map(|item| item.get("chain"))
        .filter(|chain| chain.get("hook").and_then(|h| h.as_str()) == Some("input"))
        .filter_map(|chain| {
            let family = chain.get("family")?.as_str()?;
            let table = chain.get("table")?.as_str()?;
            let name = chain.get("name")?.as_str()?;
            // iptables-nft keeps its rules in ip/ip6 `filter` with upper-case chains.
            let iptables_nft =
                matches!(family, "ip" | "ip6") && table == "filter" && name == "INPUT";
            (!iptables_nft).then(|| format!("{family} {table}"))
        })
        .next()
}

fn iptables_filters_input(saved: &str) -> bool {
    let mut in_filter = false;
    for line in saved.lines() {
        if let Some(table) = line.strip_prefix('*') {
            in_filter = table == "filter";
        } else if in_filter
            && (line.starts_with("-A INPUT ")
                || (line.starts_with(":INPUT ") && !line.starts_with(":INPUT ACCEPT")))
        {
            return true;
        }
    }
    false
}

/// Read what `read_firewall` parses from the backend's own tools; `zone` is
/// the firewalld zone that serves the host.
pub fn snapshot(backend: FirewallBackend, zone: Option<&str>) -> Result<FirewallOutput, String> {
    match backend {
        FirewallBackend::Nftables => Ok(FirewallOutput::new(
            run_read(&["nft", "-j", "list", "ruleset"])?,
            "",
        )),
        FirewallBackend::Iptables => Ok(FirewallOutput::new(
            run_read(&["iptables-save"])?,
            // A host with IPv6 disabled has no ip6tables state to read.
            if find_program("ip6tables-save").is_some() {
                run_read(&["ip6tables-save"])?
            } else {
                String::new()
            },
        )),
        FirewallBackend::Firewalld => Ok(FirewallOutput {
            main: firewalld_dump(&[])?,
            extra: firewalld_dump(&["--permanent"])?,
            zone: zone.map(str::to_string),
        }),
        FirewallBackend::Ufw => Ok(FirewallOutput::new(
            run_read(&["ufw", "status", "verbose"])?,
            run_read(&["ufw", "show", "added"])?,
        )),
        FirewallBackend::None => Ok(FirewallOutput::default()),
    }
}

/// Every zone, then portplan's ipsets, of the runtime or (with
/// `--permanent`) the permanent configuration.
fn firewalld_dump(side: &[&str]) -> Result<String, String> {
    let with = |args: &[&str]| -> Vec<String> {
        std::iter::once("firewall-cmd")
            .chain(side.iter().copied())
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect()
    };
    let read = |argv: Vec<String>| run(&Command { argv, stdin: None });
    let mut text = read(with(&["--list-all-zones"]))?;
    for name in read(with(&["--get-ipsets"]))?
        .split_whitespace()
        .filter(|name| name.starts_with(portplan_core::backends::FIREWALLD_IPSET_PREFIX))
    {
        text.push('\n');
        text.push_str(&read(with(&[&format!("--info-ipset={name}")]))?);
    }
    Ok(text)
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
        FirewallBackend::Nftables => (run_read(&["nft", "list", "ruleset"])?, String::new()),
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
            let (_, now) = read_state(point.backend, point.zone.as_deref())?;
            portplan_core::backends::plan_restore(&point.before, &now)
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
            let ruleset = run_read(&["nft", "list", "ruleset"])?;
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
            write_atomically(&v4, &run_read(&["iptables-save"])?)?;
            let mut written = vec![v4];
            if find_program("ip6tables-save").is_some() {
                write_atomically(&v6, &run_read(&["ip6tables-save"])?)?;
                written.push(v6);
            }
            Ok(Some(written))
        }
        // firewall-cmd --permanent and ufw write these themselves.
        FirewallBackend::Firewalld => {
            let mut files: Vec<PathBuf> = state
                .chains
                .iter()
                .filter(|c| c.table == "permanent" && c.drops)
                .map(|c| etc.join(format!("firewalld/zones/{}.xml", c.name)))
                .collect();
            let sets: BTreeSet<&String> =
                state.found.iter().filter_map(|f| f.set.as_ref()).collect();
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

fn run_read(argv: &[&str]) -> Result<String, String> {
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

/// Read the backend's state: before changing it, and back after, when it
/// must hold exactly the desired rules or the run is not idempotent.
pub fn read_state(
    backend: FirewallBackend,
    zone: Option<&str>,
) -> Result<(FirewallOutput, FirewallState), String> {
    let output = snapshot(backend, zone)?;
    let state = portplan_core::read_firewall(backend, &output)
        .map_err(|e| format!("cannot read the {backend:?} state: {e}"))?;
    Ok((output, state))
}

/// The command that turns an inactive ufw on (`--force`: without a
/// terminal ufw would otherwise wait for a confirmation).
pub fn ufw_enable_command() -> Command {
    Command {
        argv: ["ufw", "--force", "enable"].map(String::from).to_vec(),
        stdin: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_nft_tables_are_not_native_nftables() {
        let json = r#"{"nftables":[{"chain":{"family":"ip","table":"filter","name":"INPUT","hook":"input"}},
            {"chain":{"family":"inet","table":"filter","name":"input","hook":"input"}}]}"#;
        assert_eq!(native_nft_input_table(json).as_deref(), Some("inet filter"));
        let only_compat = r#"{"nftables":[{"chain":{"family":"ip","table":"filter","name":"INPUT","hook":"input"}}]}"#;
        assert_eq!(native_nft_input_table(only_compat), None);
    }

    #[test]
    fn iptables_input_filtering() {
        assert!(!iptables_filters_input(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n"
        ));
        assert!(iptables_filters_input(
            "*filter\n:INPUT DROP [0:0]\nCOMMIT\n"
        ));
        assert!(iptables_filters_input(
            "*nat\n-A INPUT -j X\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n"
        ));
        assert!(!iptables_filters_input(
            "*nat\n:INPUT DROP [0:0]\n-A INPUT -j X\nCOMMIT\n"
        ));
    }
}
