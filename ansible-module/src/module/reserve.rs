//! `reserve_ports`' hands: read the running reservation and portplan's
//! sysctl.d drop-in, let `portplan_run::reserve` decide, then write the
//! running value through `/proc/sys` and the drop-in as persisting writes
//! files (temporary file and rename, backup on request). What to write is
//! decided in `portplan_run`; this file only reads, writes and reports.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use portplan_run::{DropIn, RESERVED_PORTS_KEY, Reservation, SYSCTL_DROPIN};

use super::persist;

/// The running sysctl, under the `/proc` root.
const PROC_SYSCTL: &str = "sys/net/ipv4/ip_local_reserved_ports";

/// sysctl.d files are read by systemd-sysctl as root, and by anyone
/// running `sysctl --system` to see what boot sets.
const DROPIN_MODE: u32 = 0o644;

/// What a `reserve_ports` step did (or, in check mode, would do).
#[derive(Debug)]
pub struct Reserved {
    pub changed: bool,
    /// The drop-in's path.
    pub file: PathBuf,
    /// The running value after the step, in the kernel's list syntax.
    pub runtime: String,
    /// The copy of the drop-in replaced or removed, with `backup`.
    pub backup: Option<PathBuf>,
    /// Diff mode's views: (what, before, after), per thing that changes.
    pub diffs: Vec<(String, String, String)>,
    /// One clause for the result's message.
    pub note: String,
}

/// Reserve `planned` (`present`: `remove` false) or remove portplan's
/// drop-in (`absent`), under the `etc` and `proc` roots; nothing is written
/// in check mode.
pub fn apply(
    planned: &BTreeSet<u16>,
    remove: bool,
    roots: (&Path, &Path),
    check_mode: bool,
    backup: bool,
) -> Result<Reserved, Failed> {
    let (etc, proc_root) = roots;
    let sysctl = proc_root.join(PROC_SYSCTL);
    let running = fs::read_to_string(&sysctl)
        .map_err(|e| format!("reserve_ports: cannot read {}: {e}", sysctl.display()))?;
    let file = etc.join(SYSCTL_DROPIN);
    let old = match fs::read_to_string(&file) {
        Ok(text) => Some(text),
        // A path that cannot exist (a file where sysctl.d should be) holds
        // no drop-in; writing one there fails, and says so.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            None
        }
        Err(e) => {
            return Err(Failed::from(format!(
                "reserve_ports: cannot read {}: {e}",
                file.display()
            )));
        }
    };
    let shown = file.display().to_string();
    let decision = if remove {
        portplan_run::unreserve(&running, old.as_deref(), &shown)?
    } else {
        portplan_run::reserve(planned, &running, old.as_deref(), &shown)?
    };
    let mut reserved = Reserved {
        changed: decision.changes(),
        runtime: decision
            .runtime
            .clone()
            .unwrap_or_else(|| decision.runtime_before.clone()),
        diffs: diffs(&decision, &shown, old.as_deref()),
        note: note(&decision, &shown, remove, check_mode),
        file,
        backup: None,
    };
    if check_mode {
        return Ok(reserved);
    }
    // The running value first: when it cannot be set (not root), the drop-in
    // is not written either, and nothing changed.
    if let Some(value) = &decision.runtime {
        write_sysctl(&sysctl, value)?;
    }
    if let Err(e) = write_dropin(&decision, &mut reserved, backup) {
        return Err(put_back_running(&sysctl, &decision, e));
    }
    Ok(reserved)
}

/// After the drop-in failed: the running value back as it was, so a failed
/// step changes nothing; when that fails too, the step changed the host.
fn put_back_running(sysctl: &Path, decision: &Reservation, error: String) -> Failed {
    let Some(value) = &decision.runtime else {
        return Failed::from(error);
    };
    let before = &decision.runtime_before;
    match write_sysctl(sysctl, before) {
        Ok(()) => Failed::from(format!(
            "{error}; the running {RESERVED_PORTS_KEY} was put back from {value} to {before}, \
             nothing was changed"
        )),
        Err(back) => Failed {
            message: format!(
                "{error}; PUTTING BACK FAILED, the running {RESERVED_PORTS_KEY} stays {value}: {back}"
            ),
            changed: true,
        },
    }
}

/// Write or remove portplan's drop-in as decided; the backup it made.
fn write_dropin(
    decision: &Reservation,
    reserved: &mut Reserved,
    backup: bool,
) -> Result<(), String> {
    match &decision.dropin {
        DropIn::Keep => {}
        DropIn::Write(text) => {
            if let Some(dir) = reserved.file.parent() {
                fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let saved = persist::write_file(&reserved.file, text, backup, DROPIN_MODE)?;
            reserved.backup = saved.backups.into_iter().next();
        }
        DropIn::Remove => {
            reserved.backup = persist::remove_file(&reserved.file, backup)?;
        }
    }
    Ok(())
}

/// A failed `reserve_ports` step: what went wrong, and whether it changed
/// the host all the same.
#[derive(Debug)]
pub struct Failed {
    pub message: String,
    pub changed: bool,
}

impl From<String> for Failed {
    fn from(message: String) -> Self {
        Failed {
            message,
            changed: false,
        }
    }
}

/// Set the running list and read it back: the kernel takes the list whole
/// or refuses it, and what it holds afterwards must be what was written.
fn write_sysctl(sysctl: &Path, value: &str) -> Result<(), String> {
    // /proc/sys takes one write of the whole value; an empty list is "\n".
    fs::write(sysctl, format!("{value}\n")).map_err(|e| {
        format!(
            "reserve_ports: cannot set {RESERVED_PORTS_KEY} to {value} ({}): {e}",
            sysctl.display()
        )
    })?;
    let now = fs::read_to_string(sysctl)
        .map_err(|e| format!("reserve_ports: cannot read {}: {e}", sysctl.display()))?;
    if portplan_run::parse_ports(&now) != portplan_run::parse_ports(value) {
        return Err(format!(
            "reserve_ports: set {RESERVED_PORTS_KEY} to {value}, but it reads back as {}",
            now.trim()
        ));
    }
    Ok(())
}

fn diffs(decision: &Reservation, file: &str, old: Option<&str>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if let Some(value) = &decision.runtime {
        out.push((
            format!("{RESERVED_PORTS_KEY} (running)"),
            format!("{RESERVED_PORTS_KEY} = {}\n", decision.runtime_before),
            format!("{RESERVED_PORTS_KEY} = {value}\n"),
        ));
    }
    let after = match &decision.dropin {
        DropIn::Keep => return out,
        DropIn::Write(text) => text.clone(),
        DropIn::Remove => String::new(),
    };
    out.push((file.to_string(), old.unwrap_or_default().to_string(), after));
    out
}

fn note(decision: &Reservation, file: &str, remove: bool, check_mode: bool) -> String {
    let would = if check_mode { "would be " } else { "" };
    match (&decision.dropin, &decision.runtime, remove) {
        (DropIn::Remove, _, _) => format!(
            "reserve_ports: {file} {would}removed (the running reservation stays until reboot)"
        ),
        (DropIn::Keep, None, true) => format!("reserve_ports: no {file} to remove"),
        (DropIn::Keep, None, false) => {
            format!("reserve_ports: {file} and the running value are up to date")
        }
        (dropin, runtime, _) => {
            let mut done = Vec::new();
            if let Some(value) = runtime {
                done.push(format!("{RESERVED_PORTS_KEY} {would}set to {value}"));
            }
            if dropin != &DropIn::Keep {
                done.push(format!("{file} {would}written"));
            }
            format!("reserve_ports: {}", done.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `/etc` and a `/proc` root in a fresh directory, the sysctl set to `running`.
    fn roots(name: &str, running: &str) -> (PathBuf, PathBuf) {
        let base =
            std::env::temp_dir().join(format!("portplan-reserve-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (etc, proc_root) = (base.join("etc"), base.join("proc"));
        fs::create_dir_all(proc_root.join("sys/net/ipv4")).expect("as the test sets it up");
        fs::create_dir_all(&etc).expect("as the test sets it up");
        fs::write(proc_root.join(PROC_SYSCTL), running).expect("as the test sets it up");
        (etc, proc_root)
    }

    fn ports(list: &[u16]) -> BTreeSet<u16> {
        list.iter().copied().collect()
    }

    #[test]
    fn a_drop_in_that_cannot_be_written_puts_the_running_value_back() {
        let (etc, proc_root) = roots("unwritable", "8080\n");
        // A file where the drop-in's directory must be.
        fs::write(etc.join("sysctl.d"), "").expect("as the test sets it up");
        let failed = apply(&ports(&[2881]), false, (&etc, &proc_root), false, false)
            .expect_err("the drop-in cannot be written");
        assert!(!failed.changed, "{failed:?}");
        assert!(failed.message.contains("nothing was changed"), "{failed:?}");
        assert_eq!(
            fs::read_to_string(proc_root.join(PROC_SYSCTL)).expect("as the test sets it up"),
            "8080\n"
        );
    }

    #[test]
    fn check_mode_writes_nothing_and_a_real_run_writes_once() {
        let (etc, proc_root) = roots("once", "8080\n");
        let planned = ports(&[2881, 2882]);
        let checked = apply(&planned, false, (&etc, &proc_root), true, false)
            .expect("as the test sets it up");
        assert!(
            checked.changed && checked.note.contains("would be"),
            "{checked:?}"
        );
        assert_eq!(checked.diffs.len(), 2, "{checked:?}");
        assert!(!etc.join(SYSCTL_DROPIN).exists());
        assert_eq!(
            fs::read_to_string(proc_root.join(PROC_SYSCTL)).expect("as the test sets it up"),
            "8080\n"
        );

        let done = apply(&planned, false, (&etc, &proc_root), false, true)
            .expect("as the test sets it up");
        assert!(done.changed && done.backup.is_none(), "{done:?}");
        assert_eq!(
            fs::read_to_string(proc_root.join(PROC_SYSCTL)).expect("as the test sets it up"),
            "2881-2882,8080\n"
        );
        let file = etc.join(SYSCTL_DROPIN);
        assert!(
            fs::read_to_string(&file)
                .expect("as the test sets it up")
                .contains("= 2881-2882,8080\n")
        );
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(&file)
                .expect("as the test sets it up")
                .permissions()
                .mode()
                & 0o777,
            0o644
        );

        let again = apply(&planned, false, (&etc, &proc_root), false, true)
            .expect("as the test sets it up");
        assert!(!again.changed && again.diffs.is_empty(), "{again:?}");
    }

    #[test]
    fn a_replaced_or_removed_drop_in_is_backed_up_and_a_foreign_one_left_alone() {
        let (etc, proc_root) = roots("backup", "2881\n");
        apply(&ports(&[2881]), false, (&etc, &proc_root), false, false)
            .expect("as the test sets it up");
        let replaced = apply(
            &ports(&[2881, 3000]),
            false,
            (&etc, &proc_root),
            false,
            true,
        )
        .expect("as the test sets it up");
        let copy = replaced.backup.expect("a copy of the replaced drop-in");
        assert!(
            fs::read_to_string(&copy)
                .expect("as the test sets it up")
                .ends_with("= 2881\n")
        );
        let removed = apply(&ports(&[]), true, (&etc, &proc_root), false, true)
            .expect("as the test sets it up");
        assert!(removed.changed && removed.backup.is_some(), "{removed:?}");
        assert!(!etc.join(SYSCTL_DROPIN).exists());
        // The running reservation stays (see portplan_run::unreserve).
        assert_eq!(
            fs::read_to_string(proc_root.join(PROC_SYSCTL)).expect("as the test sets it up"),
            "2881,3000\n"
        );

        let foreign = "net.ipv4.ip_local_reserved_ports = 9\n";
        fs::write(etc.join(SYSCTL_DROPIN), foreign).expect("as the test sets it up");
        let error =
            apply(&ports(&[4000]), false, (&etc, &proc_root), false, true).expect_err("foreign");
        assert!(
            error.message.contains("not written by portplan"),
            "{error:?}"
        );
        assert_eq!(
            fs::read_to_string(etc.join(SYSCTL_DROPIN)).expect("as the test sets it up"),
            foreign
        );
        assert_eq!(
            fs::read_to_string(proc_root.join(PROC_SYSCTL)).expect("as the test sets it up"),
            "2881,3000\n"
        );
    }
}
