//! Persisting: the running firewall into the files the distribution loads
//! at boot, so a reboot gives exactly the running ruleset.
//!
//! - nftables: `/etc/nftables.conf` (Debian) or `/etc/sysconfig/nftables.conf`
//!   (RHEL) becomes the stateless running ruleset, but only when nothing
//!   would be lost: a conf portplan wrote, or one with no comment, `define`
//!   or `include` (a distribution's stock conf). A hand-written conf is
//!   refused before anything changes (`preflight`).
//! - iptables: `/etc/iptables/rules.v4|v6` (iptables-persistent) or
//!   `/etc/sysconfig/iptables|ip6tables` (iptables-services), as
//!   `netfilter-persistent save` writes them.
//! - firewalld and ufw save their own configuration; their files are
//!   reported, never written.
//!
//! Every write is all-or-nothing per run: each file is written to a unique
//! temporary file beside it and renamed over it, keeping its mode and owner
//! and writing through a symlink to its target; when the second file of a
//! pair cannot be written, the first is put back. A file whose saved form
//! already says what runs is left alone, so an unchanged host writes
//! nothing, and a host whose saved files fell behind (an interrupted run)
//! catches up on the next run.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use portplan_core::{FirewallBackend, FirewallState, FirewalldSide};

use super::execute::{find_program, run_argv};

/// What a persist did.
#[derive(Debug, Default)]
pub struct Saved {
    /// The files that hold the rules for the next boot.
    pub files: Vec<PathBuf>,
    /// Copies of the files as they were, when `backup` asked for them.
    pub backups: Vec<PathBuf>,
    /// Whether any file was written.
    pub wrote: bool,
}

/// The nftables conf of this host, if it keeps one.
fn nft_conf_path(etc: &Path) -> Option<PathBuf> {
    ["nftables.conf", "sysconfig/nftables.conf"]
        .iter()
        .map(|p| etc.join(p))
        .find(|p| p.is_file())
}

/// The iptables files of this host, if it keeps them.
fn iptables_paths(etc: &Path) -> Option<(PathBuf, PathBuf)> {
    if etc.join("iptables").is_dir() {
        Some((etc.join("iptables/rules.v4"), etc.join("iptables/rules.v6")))
    } else if etc.join("sysconfig/iptables").is_file() {
        Some((
            etc.join("sysconfig/iptables"),
            etc.join("sysconfig/ip6tables"),
        ))
    } else {
        None
    }
}

/// Refuse, before anything changes, a persist that would flatten a
/// hand-written nftables conf.
pub fn preflight(backend: FirewallBackend, etc: &Path) -> Result<(), String> {
    let Some(path) = nft_conf_path(etc).filter(|_| backend == FirewallBackend::Nftables) else {
        return Ok(());
    };
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    portplan_run::nft_conf_replaceable(&text).map_err(|why| {
        format!(
            "persist: {} {why}. Nothing was changed. Keep your conf and run with persist: false \
             (then add portplan's rules to it yourself, e.g. from `nft -s list ruleset`), or \
             let portplan own the file (remove its comments, defines and includes)",
            path.display()
        )
    })
}

/// Save the running ruleset where the distribution loads it at boot; `None`
/// when this host keeps no such file.
pub fn persist(
    backend: FirewallBackend,
    etc: &Path,
    state: &FirewallState,
    backup: bool,
) -> Result<Option<Saved>, String> {
    match backend {
        FirewallBackend::Nftables => {
            let Some(path) = nft_conf_path(etc) else {
                return Ok(None);
            };
            preflight(backend, etc)?;
            let text = portplan_run::nft_conf(&run_argv(&["nft", "-s", "list", "ruleset"])?);
            write_all(&[(path, text)], backup).map(Some)
        }
        FirewallBackend::Iptables => {
            let Some((v4, v6)) = iptables_paths(etc) else {
                return Ok(None);
            };
            let mut files = vec![(v4, run_argv(&["iptables-save"])?)];
            if find_program("ip6tables-save").is_some() {
                files.push((v6, run_argv(&["ip6tables-save"])?));
            }
            write_all(&files, backup).map(Some)
        }
        FirewallBackend::Firewalld => Ok(Some(Saved {
            files: firewalld_files(etc, state),
            ..Saved::default()
        })),
        FirewallBackend::Ufw => Ok(Some(Saved {
            files: ["ufw/user.rules", "ufw/user6.rules"]
                .iter()
                .map(|p| etc.join(p))
                .filter(|p| p.is_file())
                .collect(),
            ..Saved::default()
        })),
        FirewallBackend::None => Ok(Some(Saved::default())),
    }
}

/// firewall-cmd --permanent writes these itself.
fn firewalld_files(etc: &Path, state: &FirewallState) -> Vec<PathBuf> {
    let FirewallState::Firewalld(state) = state else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = state
        .zones
        .iter()
        .filter(|z| z.side == FirewalldSide::Permanent && z.drops)
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
    files.into_iter().filter(|f| f.is_file()).collect()
}

/// Write every file that differs, all or none: each to a temporary file
/// first, then renamed in order; a failed rename puts the ones before it
/// back.
fn write_all(files: &[(PathBuf, String)], backup: bool) -> Result<Saved, String> {
    write_all_with(files, backup, None)
}

/// One file written as [`write_all`] writes files (temporary file, rename,
/// backup), a new one with `mode` (sysctl.d files are world-readable,
/// whatever the umask Ansible runs under).
pub fn write_file(path: &Path, text: &str, backup: bool, mode: u32) -> Result<Saved, String> {
    write_all_with(
        &[(path.to_path_buf(), text.to_string())],
        backup,
        Some(mode),
    )
}

/// Remove a file portplan owns, keeping a copy first when `backup` asks;
/// the copy.
pub fn remove_file(path: &Path, backup: bool) -> Result<Option<PathBuf>, String> {
    let copy = match (backup, fs::read_to_string(path)) {
        (true, Ok(old)) => Some(backup_copy(path, &old)?),
        _ => None,
    };
    fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    Ok(copy)
}

fn write_all_with(
    files: &[(PathBuf, String)],
    backup: bool,
    new_mode: Option<u32>,
) -> Result<Saved, String> {
    let mut saved = Saved {
        files: files.iter().map(|(path, _)| path.clone()).collect(),
        ..Saved::default()
    };
    let mut staged = Vec::new();
    for (path, text) in files {
        let target = through_symlink(path);
        let old = fs::read_to_string(&target).ok();
        if old.as_deref().map(portplan_run::normalized_saved)
            == Some(portplan_run::normalized_saved(text))
        {
            continue;
        }
        if backup && let Some(old) = &old {
            saved.backups.push(backup_copy(&target, old)?);
        }
        staged.push((target.clone(), old, stage(&target, text, new_mode)?));
    }
    for (done, (target, _, temporary)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(temporary, target) {
            let undone = put_back(&staged[..done]);
            for (_, _, temporary) in &staged[done..] {
                let _ = fs::remove_file(temporary);
            }
            return Err(format!("cannot write {}: {e}; {undone}", target.display()));
        }
    }
    saved.wrote = !staged.is_empty();
    Ok(saved)
}

/// Put back the files a failed persist already replaced.
fn put_back(done: &[(PathBuf, Option<String>, PathBuf)]) -> String {
    let mut failed = Vec::new();
    for (target, old, _) in done {
        let restored = match old {
            Some(old) => stage(target, old, None).and_then(|t| {
                fs::rename(&t, target).map_err(|e| format!("{}: {e}", target.display()))
            }),
            None => fs::remove_file(target).map_err(|e| format!("{}: {e}", target.display())),
        };
        if let Err(e) = restored {
            failed.push(e);
        }
    }
    if failed.is_empty() {
        format!("the {} file(s) written before it were put back", done.len())
    } else {
        format!(
            "PUTTING BACK FAILED, the saved files disagree with each other: {}",
            failed.join("; ")
        )
    }
}

/// A symlinked conf is written at its target, so the link stays a link.
fn through_symlink(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// `text` in a new file beside `target`, named for this process so two runs
/// never share one, with the target's mode and owner, or `new_mode` when
/// there is no target yet.
pub(super) fn stage(target: &Path, text: &str, new_mode: Option<u32>) -> Result<PathBuf, String> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = target.with_file_name(format!(".{name}.portplan-{}", std::process::id()));
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", temporary.display());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(fail)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    if let Ok(meta) = fs::metadata(target) {
        fs::set_permissions(&temporary, meta.permissions()).map_err(fail)?;
        std::os::unix::fs::chown(&temporary, Some(meta.uid()), Some(meta.gid())).map_err(fail)?;
    } else if let Some(mode) = new_mode {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&temporary, fs::Permissions::from_mode(mode)).map_err(fail)?;
    }
    Ok(temporary)
}

/// Ansible's backup convention: `FILE.PID.YYYY-MM-DD@HH:MM:SS~` beside it
/// (UTC here), with the file's mode and owner.
fn backup_copy(target: &Path, old: &str) -> Result<PathBuf, String> {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .trim_end_matches('Z')
        .replacen('T', "@", 1);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = target.with_file_name(format!("{name}.{}.{stamp}~", std::process::id()));
    let temporary = stage(target, old, None)?;
    fs::rename(&temporary, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
