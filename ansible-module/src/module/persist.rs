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
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A saved file a persist replaced, with its bytes before (`None`: there was
/// none): what a rollback after the persist puts back ([`put_back`]).
#[derive(Debug)]
pub struct Replaced {
    target: PathBuf,
    old: Option<Vec<u8>>,
}

/// Save the running ruleset where the distribution loads it at boot; `None`
/// when this host keeps no such file. Each file it replaces is noted in
/// `replaced` as soon as it is renamed into place, so that the caller can
/// still put it back when the run fails later, a panic included (the list
/// outlives the call).
pub fn persist(
    backend: FirewallBackend,
    etc: &Path,
    state: &FirewallState,
    backup: bool,
    replaced: &mut Vec<Replaced>,
) -> Result<Option<Saved>, String> {
    match backend {
        FirewallBackend::Nftables => {
            let Some(path) = nft_conf_path(etc) else {
                return Ok(None);
            };
            preflight(backend, etc)?;
            let text = portplan_run::nft_conf(&run_argv(&["nft", "-s", "list", "ruleset"])?);
            write_all_with(&[(path, text)], backup, None, Some(&nft_loads), replaced).map(Some)
        }
        FirewallBackend::Iptables => {
            let Some((v4, v6)) = iptables_paths(etc) else {
                return Ok(None);
            };
            let mut files = vec![(v4, run_argv(&["iptables-save"])?)];
            if find_program("ip6tables-save").is_some() {
                files.push((v6, run_argv(&["ip6tables-save"])?));
            }
            write_all_with(&files, backup, None, None, replaced).map(Some)
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

/// Whether a staged nftables conf would load at boot (`nft -c -f`: parsed
/// and checked by the kernel, not applied). The running ruleset does not
/// always print as nft can read it back: rules iptables-nft wrote with a
/// match nft cannot translate (`recent`, `hashlimit`, `string`, as Docker
/// and fail2ban hosts have) print as `xt match`, which `nft -f` refuses, and
/// a conf that fails loads nothing at all, its `flush ruleset` included:
/// the host would boot with no rules.
fn nft_loads(staged: &Path) -> Result<(), String> {
    let path = staged.display().to_string();
    run_argv(&["nft", "-c", "-f", &path])
        .map(drop)
        .map_err(|e| {
            format!(
                "the running ruleset, saved, would not load at boot, so it was not saved ({e}). \
             Where nft names a rule it cannot read back (e.g. iptables-nft's `xt match`), run \
             with persist: false and save those rules with the tool that wrote them"
            )
        })
}

/// Write every file that differs, all or none: each to a temporary file
/// first, then renamed in order; a failed rename puts the ones before it
/// back.
#[cfg(test)]
fn write_all(files: &[(PathBuf, String)], backup: bool) -> Result<Saved, String> {
    write_all_with(files, backup, None, None, &mut Vec::new())
}

/// One file written as [`write_all_with`] writes files (temporary file, rename,
/// backup), a new one with `mode` (sysctl.d files are world-readable,
/// whatever the umask Ansible runs under).
pub fn write_file(path: &Path, text: &str, backup: bool, mode: u32) -> Result<Saved, String> {
    write_all_with(
        &[(path.to_path_buf(), text.to_string())],
        backup,
        Some(mode),
        None,
        &mut Vec::new(),
    )
}

/// Remove a file portplan owns, keeping a copy first when `backup` asks;
/// the copy.
pub fn remove_file(path: &Path, backup: bool) -> Result<Option<PathBuf>, String> {
    let copy = match (backup, read_old(path)?) {
        (true, Some(old)) => Some(backup_copy(path, &old)?),
        _ => None,
    };
    fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    Ok(copy)
}

/// Whether a staged file is fit to replace its target: `Err` says why not.
type Check<'a> = &'a dyn Fn(&Path) -> Result<(), String>;

/// A file written beside its target, not yet renamed over it.
struct Staged {
    target: PathBuf,
    /// The target's bytes before, `None` when there was none.
    old: Option<Vec<u8>>,
    temporary: PathBuf,
}

/// The files staged by one write, and how many of them are renamed into
/// place so far. However the write ends (an error, or a panic unwinding
/// through the renames), dropping it removes the temporaries not renamed,
/// so no `.portplan-*` file is left beside a target.
#[derive(Default)]
struct Pending {
    staged: Vec<Staged>,
    renamed: usize,
}

impl Drop for Pending {
    fn drop(&mut self) {
        discard(self.staged.get(self.renamed..).unwrap_or_default());
    }
}

/// `replaced` gets each file renamed into place; a failed rename puts back
/// the files renamed before it and takes them off the list again.
fn write_all_with(
    files: &[(PathBuf, String)],
    backup: bool,
    new_mode: Option<u32>,
    check: Option<Check>,
    replaced: &mut Vec<Replaced>,
) -> Result<Saved, String> {
    let mut saved = Saved {
        files: files.iter().map(|(path, _)| path.clone()).collect(),
        ..Saved::default()
    };
    let mut pending = Pending::default();
    stage_all(
        files,
        (backup, new_mode, check),
        &mut saved,
        &mut pending.staged,
    )?;
    let mark = replaced.len();
    for done in 0..pending.staged.len() {
        let file = &pending.staged[done];
        if let Err(e) = fs::rename(&file.temporary, &file.target) {
            let undone = put_back(&replaced[mark..]);
            // What could not be put back stays listed: the caller's
            // rollback tries again, and says the host changed if it fails.
            if undone.is_ok() {
                replaced.truncate(mark);
            }
            return Err(format!(
                "cannot write {}: {e}; {}",
                file.target.display(),
                said(done, undone)
            ));
        }
        replaced.push(Replaced {
            target: file.target.clone(),
            old: file.old.clone(),
        });
        pending.renamed = done + 1;
        super::execute::panic_point("renamed", done + 1);
    }
    let staged = &pending.staged;
    staged.iter().for_each(|file| sync_dir(&file.target));
    saved.wrote = !staged.is_empty();
    Ok(saved)
}

/// Stage every file whose saved form differs, check it, and back up the
/// file it will replace when asked; `staged` holds what was
/// staged so far, which the caller's [`Pending`] discards on an error.
fn stage_all(
    files: &[(PathBuf, String)],
    (backup, new_mode, check): (bool, Option<u32>, Option<Check>),
    saved: &mut Saved,
    staged: &mut Vec<Staged>,
) -> Result<(), String> {
    for (path, text) in files {
        let target = through_symlink(path);
        let old = read_old(&target)?;
        let same = old
            .as_deref()
            .and_then(|old| std::str::from_utf8(old).ok())
            .map(portplan_run::normalized_saved)
            == Some(portplan_run::normalized_saved(text));
        if same {
            continue;
        }
        let temporary = stage(&target, text.as_bytes(), new_mode)?;
        staged.push(Staged {
            target,
            old,
            temporary,
        });
        let Some(file) = staged.last() else { continue };
        if let Some(check) = check {
            check(&file.temporary)?;
        }
        if backup && let Some(old) = &file.old {
            saved.backups.push(backup_copy(&file.target, old)?);
        }
    }
    Ok(())
}

/// A target's bytes, `None` when it does not exist. Any other error is one:
/// a file that is there but cannot be read (or is not UTF-8) must still be
/// backed up and put back, never taken for absent and removed.
fn read_old(target: &Path) -> Result<Option<Vec<u8>>, String> {
    match fs::read(target) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", target.display())),
    }
}

/// Remove staged files that will not be renamed.
fn discard(staged: &[Staged]) {
    for file in staged {
        let _ = fs::remove_file(&file.temporary);
    }
}

/// Make a rename durable. Best effort: the file is in place whether or not
/// its directory reaches the disk now, and a run that reported it unwritten
/// would misreport what the next boot loads.
pub(super) fn sync_dir(target: &Path) {
    if let Some(dir) = target.parent().and_then(|dir| fs::File::open(dir).ok()) {
        let _ = dir.sync_all();
    }
}

/// Put back the files a persist replaced, each as it was (one that did not
/// exist is removed); `Err` names each that could not be.
pub fn put_back(done: &[Replaced]) -> Result<(), String> {
    let mut failed = Vec::new();
    for file in done {
        let target = &file.target;
        let restored = match &file.old {
            Some(old) => stage(target, old, None).and_then(|t| {
                fs::rename(&t, target).map_err(|e| {
                    let _ = fs::remove_file(&t);
                    format!("{}: {e}", target.display())
                })
            }),
            // Gone already counts: a rollback may try a second time.
            None => match fs::remove_file(target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(format!("{}: {e}", target.display()))
                }
                _ => Ok(()),
            },
        };
        match restored {
            // As durable as the write it undoes.
            Ok(()) => sync_dir(target),
            Err(e) => failed.push(e),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// What putting back `count` files did, in a failed persist's message.
fn said(count: usize, put_back: Result<(), String>) -> String {
    match put_back {
        Ok(()) => format!("the {count} file(s) written before it were put back"),
        Err(e) => format!("PUTTING BACK FAILED, the saved files disagree with each other: {e}"),
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

/// `bytes` in a new file beside `target`, named for this process and call
/// so no two stagings share one, with the target's mode and owner, or `new_mode`
/// when there is no target yet. Nothing is left behind on an error.
pub(super) fn stage(target: &Path, bytes: &[u8], new_mode: Option<u32>) -> Result<PathBuf, String> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Numbered within the run, as a backup is staged beside the file staged
    // to replace it.
    static STAGED: AtomicUsize = AtomicUsize::new(0);
    let n = STAGED.fetch_add(1, Ordering::Relaxed);
    let temporary = target.with_file_name(format!(".{name}.portplan-{}-{n}", std::process::id()));
    remove_leftovers(target, &name);
    let written = write_staged(&temporary, target, bytes, new_mode);
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(format!("cannot write {}: {e}", temporary.display()));
    }
    Ok(temporary)
}

/// Remove what killed runs left beside `target`: files staged under
/// another pid than this run's (or under this pid, when a killed run's pid
/// is reused). Runs hold the host lock while they write, so no live run
/// owns one.
fn remove_leftovers(target: &Path, name: &str) {
    static SWEPT: std::sync::Mutex<BTreeSet<PathBuf>> = std::sync::Mutex::new(BTreeSet::new());
    let Ok(mut swept) = SWEPT.lock() else { return };
    if !swept.insert(target.to_path_buf()) {
        return;
    }
    let (Some(dir), prefix) = (target.parent(), format!(".{name}.portplan-")) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn write_staged(
    temporary: &Path,
    target: &Path,
    bytes: &[u8],
    new_mode: Option<u32>,
) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temporary)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    if let Ok(meta) = fs::metadata(target) {
        fs::set_permissions(temporary, meta.permissions())?;
        std::os::unix::fs::chown(temporary, Some(meta.uid()), Some(meta.gid()))?;
    } else if let Some(mode) = new_mode {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(temporary, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Ansible's backup convention: `FILE.PID.YYYY-MM-DD@HH:MM:SS~` beside it
/// (UTC here), with the file's mode and owner.
fn backup_copy(target: &Path, old: &[u8]) -> Result<PathBuf, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of this test's own.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("portplan-persist-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn names(dir: &Path) -> BTreeSet<String> {
        fs::read_dir(dir)
            .expect("listing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// `-A INPUT -m comment --comment "防火墙"` as a GBK terminal writes it.
    const GBK: &[u8] =
        b"*filter\n-A INPUT -m comment --comment \"\xb7\xc0\xbb\xf0\xc7\xbd\" -j ACCEPT\nCOMMIT\n";

    #[test]
    fn a_file_that_is_not_utf8_is_backed_up_byte_for_byte() {
        let dir = scratch("gbk");
        let path = dir.join("rules.v4");
        fs::write(&path, GBK).expect("old file");
        let saved =
            write_all(&[(path.clone(), "*filter\nCOMMIT\n".into())], true).expect("written");
        assert!(saved.wrote);
        assert_eq!(saved.backups.len(), 1, "{saved:?}");
        assert_eq!(fs::read(&saved.backups[0]).expect("backup"), GBK);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn putting_back_restores_a_file_that_is_not_utf8_and_never_removes_it() {
        let dir = scratch("put-back");
        let path = dir.join("rules.v4");
        fs::write(&path, GBK).expect("old file");
        let old = read_old(&path).expect("readable");
        assert_eq!(old.as_deref(), Some(GBK));
        fs::write(&path, "*filter\nCOMMIT\n").expect("the run's file");
        let replaced = Replaced {
            target: path.clone(),
            old,
        };
        put_back(std::slice::from_ref(&replaced)).expect("put back");
        assert_eq!(fs::read(&path).expect("put back"), GBK);
        assert_eq!(names(&dir), BTreeSet::from(["rules.v4".to_string()]));
        let _ = fs::remove_dir_all(&dir);
    }

    /// What a rollback after the persist needs: each file replaced, with
    /// its bytes before, enough to put every one back (a new one removed).
    #[test]
    fn each_replaced_file_is_noted_and_can_be_put_back() {
        let dir = scratch("replaced");
        let (v4, v6) = (dir.join("rules.v4"), dir.join("rules.v6"));
        fs::write(&v4, "*filter\n-A INPUT -j DROP\nCOMMIT\n").expect("old v4");
        let mut replaced = Vec::new();
        let files = [
            (v4.clone(), "*filter\nCOMMIT\n".to_string()),
            (v6.clone(), "*filter\nCOMMIT\n".to_string()),
        ];
        write_all_with(&files, false, None, None, &mut replaced).expect("written");
        assert_eq!(replaced.len(), 2, "{replaced:?}");
        put_back(&replaced).expect("put back");
        assert_eq!(
            fs::read_to_string(&v4).expect("v4"),
            "*filter\n-A INPUT -j DROP\nCOMMIT\n"
        );
        assert!(!v6.exists(), "a file the persist created is removed");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_killed_runs_leftovers_are_removed_even_under_this_pid() {
        let dir = scratch("leftover");
        let path = dir.join("nftables.conf");
        // The names this process could stage under next, and another pid's.
        fs::write(dir.join(".nftables.conf.portplan-1-0"), "half").expect("leftover");
        for n in 0..64 {
            let leftover = dir.join(format!(
                ".nftables.conf.portplan-{}-{n}",
                std::process::id()
            ));
            fs::write(&leftover, "half a ruleset").expect("leftover");
        }
        write_all(&[(path.clone(), "flush ruleset\n".into())], false).expect("written");
        assert_eq!(fs::read_to_string(&path).expect("conf"), "flush ruleset\n");
        // And every leftover is gone.
        assert_eq!(names(&dir), BTreeSet::from(["nftables.conf".to_string()]));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_staged_file_the_check_refuses_is_removed_and_the_target_kept() {
        let dir = scratch("refused");
        let path = dir.join("nftables.conf");
        fs::write(&path, "table inet filter {}\n").expect("old conf");
        let refuse = |_: &Path| Err("would not load".to_string());
        let error = write_all_with(
            &[(path.clone(), "xt match\n".into())],
            true,
            None,
            Some(&refuse),
            &mut Vec::new(),
        )
        .expect_err("refused");
        assert!(error.contains("would not load"), "{error}");
        assert_eq!(
            fs::read_to_string(&path).expect("kept"),
            "table inet filter {}\n"
        );
        // No backup either: nothing was replaced.
        assert_eq!(names(&dir), BTreeSet::from(["nftables.conf".to_string()]));
        let _ = fs::remove_dir_all(&dir);
    }
}
