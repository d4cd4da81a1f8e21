//! Which firewall backend to drive, and the warnings about the host that
//! follow from what was detected. Pure: the shell reads, this decides.

use portplan_core::FirewallBackend;

use crate::{RunError, Task};

/// The `firewall` option: which firewall to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirewallChoice {
    /// Detect the active one.
    Auto,
    /// firewalld, through `firewall-cmd`.
    Firewalld,
    /// ufw.
    Ufw,
    /// nftables, through `nft`.
    Nftables,
    /// iptables and ip6tables.
    Iptables,
    /// Check ports only.
    None,
}

/// What the shell read on the host to choose a backend, each at most once.
/// A tool's output doubles as the state `read-firewall` parses, so a run
/// never reads the same thing twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    /// A firewalld daemon runs in this network namespace (its pid).
    pub firewalld_pid: Option<u32>,
    /// What `firewall-cmd --state` answered, when it was asked.
    pub firewalld_state: Option<Result<String, String>>,
    /// `ufw` is installed.
    pub ufw_installed: bool,
    /// `/etc/ufw/ufw.conf` says `ENABLED=yes`.
    pub ufw_enabled: bool,
    /// `nft -j list ruleset`, when nft is installed and was read.
    pub nft: Option<Result<String, String>>,
    /// `iptables-save`, when it is installed and was read.
    pub iptables_save: Option<Result<String, String>>,
    /// `iptables` is installed.
    pub iptables_installed: bool,
}

/// The backend chosen and the reason, as the result reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The backend to drive.
    pub backend: FirewallBackend,
    /// Why, in words.
    pub reason: String,
}

fn pick(backend: FirewallBackend, reason: impl Into<String>) -> Choice {
    Choice {
        backend,
        reason: reason.into(),
    }
}

/// Decide which backend to drive. `auto` follows what is actually active:
/// firewalld when its daemon answers, then ufw when enabled (or when
/// `ufw_enable` asks for it), then the tool that owns a table filtering
/// input. Checking ports needs no firewall, so for `checked` a firewall that
/// cannot be used is a warning and the backend `none`.
pub fn choose(
    choice: FirewallChoice,
    detected: &Detected,
    ufw_enable: bool,
    task: Task,
) -> Result<(Choice, Option<String>), RunError> {
    match choose_backend(choice, detected, ufw_enable) {
        Ok(chosen) => Ok((chosen, None)),
        Err(RunError::Firewall(reason)) if task == Task::Checked => {
            Ok((pick(FirewallBackend::None, reason.clone()), Some(reason)))
        }
        Err(error) => Err(error),
    }
}

fn choose_backend(
    choice: FirewallChoice,
    detected: &Detected,
    ufw_enable: bool,
) -> Result<Choice, RunError> {
    match choice {
        FirewallChoice::None => Ok(pick(FirewallBackend::None, "firewall: none")),
        FirewallChoice::Nftables => Ok(pick(FirewallBackend::Nftables, "firewall: nftables")),
        FirewallChoice::Iptables => Ok(pick(FirewallBackend::Iptables, "firewall: iptables")),
        FirewallChoice::Firewalld => match &detected.firewalld_state {
            Some(Ok(state)) => Ok(pick(
                FirewallBackend::Firewalld,
                format!("firewall: firewalld (firewall-cmd --state: {state})"),
            )),
            Some(Err(e)) => Err(RunError::Firewall(format!(
                "firewall: firewalld, but firewalld does not answer: {e}"
            ))),
            None => Err(RunError::Firewall(
                "firewall: firewalld, but firewall-cmd is not installed".into(),
            )),
        },
        FirewallChoice::Ufw if detected.ufw_installed => {
            Ok(pick(FirewallBackend::Ufw, "firewall: ufw"))
        }
        FirewallChoice::Ufw => Err(RunError::Firewall(
            "firewall: ufw, but ufw is not installed".into(),
        )),
        FirewallChoice::Auto => auto(detected, ufw_enable),
    }
}

fn auto(detected: &Detected, ufw_enable: bool) -> Result<Choice, RunError> {
    if let Some(pid) = detected.firewalld_pid {
        return match &detected.firewalld_state {
            Some(Ok(state)) => Ok(pick(
                FirewallBackend::Firewalld,
                format!("firewalld (pid {pid}) answers: firewall-cmd --state says {state}"),
            )),
            Some(Err(e)) => Err(firewalld_silent(pid, e)),
            None => Err(firewalld_silent(pid, "firewall-cmd is not installed")),
        };
    }
    if detected.ufw_installed && detected.ufw_enabled {
        return Ok(pick(
            FirewallBackend::Ufw,
            "ufw is enabled (/etc/ufw/ufw.conf: ENABLED=yes)",
        ));
    }
    if detected.ufw_installed && ufw_enable {
        return Ok(pick(
            FirewallBackend::Ufw,
            "ufw is installed but not enabled, and ufw_enable: true asks to enable it",
        ));
    }
    let beside_ufw = |reason: String| {
        if detected.ufw_installed {
            format!("{reason}; ufw is installed but not enabled (ufw_enable: true would use it)")
        } else {
            reason
        }
    };
    if let Some(ruleset) = &detected.nft {
        let ruleset = ruleset.as_ref().map_err(|e| RunError::Host(e.clone()))?;
        if let Some(table) = native_nft_input_table(ruleset)? {
            return Ok(pick(
                FirewallBackend::Nftables,
                beside_ufw(format!("nftables table {table} filters input")),
            ));
        }
    }
    if let Some(saved) = &detected.iptables_save {
        let saved = saved.as_ref().map_err(|e| RunError::Host(e.clone()))?;
        if iptables_filters_input(saved) {
            return Ok(pick(
                FirewallBackend::Iptables,
                beside_ufw(
                    "iptables' filter table INPUT chain has rules or a non-ACCEPT policy".into(),
                ),
            ));
        }
    }
    let (backend, reason) = match (detected.nft.is_some(), detected.iptables_installed) {
        (true, _) => (
            FirewallBackend::Nftables,
            "no firewall filters input; nftables is installed",
        ),
        (false, true) => (
            FirewallBackend::Iptables,
            "no firewall filters input; iptables is installed",
        ),
        (false, false) => (
            FirewallBackend::None,
            "neither nft nor iptables is installed: nothing filters input",
        ),
    };
    Ok(pick(backend, beside_ufw(reason.into())))
}

fn firewalld_silent(pid: u32, error: &str) -> RunError {
    RunError::Firewall(format!(
        "firewalld runs in this network namespace (pid {pid}) but does not answer: {error}; \
         changing nftables under it would be undone at its next reload. Fix firewalld, \
         or use firewall: none to check ports only"
    ))
}

/// The first native nftables table (not iptables-nft's compatibility
/// tables) with an input chain that drops, as `family name`: the tool that
/// owns the dropping chain is the one to drive. A ruleset core cannot read
/// stops the choice: passing over it could pick iptables beside a native
/// table that drops what iptables opens.
fn native_nft_input_table(json: &str) -> Result<Option<String>, RunError> {
    let state = portplan_core::read_firewall(
        FirewallBackend::Nftables,
        &portplan_core::FirewallOutput::new(json, ""),
    )
    .map_err(|error| {
        RunError::Firewall(format!(
            "firewall: auto cannot tell which tool filters input: {}; set firewall: to the \
             tool that does",
            error.problems.first().map_or("", |p| p.message.as_str())
        ))
    })?;
    let portplan_core::FirewallState::Nftables(state) = state else {
        return Ok(None);
    };
    Ok(state
        .chains
        .iter()
        // iptables-nft's own chains (`ip filter INPUT`) belong to iptables.
        .find(|c| c.managed_by.is_none() && c.drops)
        .map(|c| format!("{} {}", c.family.as_str(), c.table)))
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

/// Warnings about the host that follow from what was detected: another
/// manager under a direct nftables/iptables run, no root, and `persist:
/// false` where the backend saves itself.
pub fn host_warnings(
    detected: &Detected,
    backend: FirewallBackend,
    effective_uid: Option<u32>,
    persist: bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let managed_by = match (detected.firewalld_pid, detected.ufw_enabled) {
        (Some(_), _) => Some("firewalld"),
        (None, true) => Some("ufw"),
        (None, false) => None,
    };
    if let (Some(manager), FirewallBackend::Nftables | FirewallBackend::Iptables) =
        (managed_by, backend)
    {
        warnings.push(format!(
            "{manager} is active on this host: rules portplan adds directly may be removed when \
             {manager} reloads"
        ));
    }
    if effective_uid != Some(0) {
        warnings.push(
            "not running as root: the owners of listening sockets are unknown and the \
             firewall cannot be changed (use become: true)"
                .into(),
        );
    }
    let saves_itself = match backend {
        FirewallBackend::Firewalld => Some(
            "firewalld: portplan changes its runtime and permanent configuration alike, \
             so the two never disagree",
        ),
        FirewallBackend::Ufw => Some("ufw, which saves every rule itself"),
        _ => None,
    };
    if let (Some(why), false) = (saves_itself, persist) {
        warnings.push(format!("persist: false has no effect on {why}"));
    }
    warnings
}
