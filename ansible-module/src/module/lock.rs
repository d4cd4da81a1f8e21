//! One run at a time per host: an exclusive `flock` on a file under
//! `/run/lock`, held for the whole run (read, decide, change, verify,
//! persist). A second run waits, like `iptables -w`, and gives up after the
//! timeout naming the holder, so two runs never interleave their reads and
//! writes. The lock is the kernel's: it goes with the process, SIGKILL
//! included, so a crashed run never leaves it taken.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the lock file lives: the first directory of these that exists.
const LOCK_DIRS: &[&str] = &["/run/lock", "/var/lock", "/run", "/tmp"];

/// The lock file's name.
const LOCK_FILE: &str = "portplan.lock";

/// How often a waiting run tries again.
const POLL: Duration = Duration::from_millis(100);

/// A held host lock; dropping it (or the process ending) releases it.
pub struct HostLock {
    _file: File,
}

/// The lock file of this host.
pub fn lock_path() -> PathBuf {
    LOCK_DIRS
        .iter()
        .map(Path::new)
        .find(|dir| dir.is_dir())
        .unwrap_or(Path::new("/tmp"))
        .join(LOCK_FILE)
}

/// Take the host lock, waiting up to `timeout`; on timeout the error names
/// the holder as it wrote itself into the file (pid, what it runs).
pub fn acquire(path: &Path, timeout: Duration, me: &str) -> Result<HostLock, String> {
    let mut file = open(path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => std::thread::sleep(POLL),
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(format!(
                    "another portplan run holds the host lock {} ({}) and did not finish within \
                     {} s (lock_timeout); nothing was changed",
                    path.display(),
                    holder.trim(),
                    timeout.as_secs()
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
    }
    // Say who holds it, for the next run's message.
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = write!(file, "{me}");
    Ok(HostLock { _file: file })
}

/// Open the lock file as only its owner may use it. `/run/lock` is
/// writable by every user, so the file must not be one another user made
/// (they could hold its `flock` and block every run), a symbolic or hard
/// link (root would lock, and truncate, what it points to), or open to
/// others (a read-only descriptor is enough to hold a `flock`).
fn open(path: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| {
            let link = if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                " (a symbolic link, which portplan does not follow here)"
            } else {
                ""
            };
            format!(
                "cannot open the lock file {}{link}: {e}; nothing was changed",
                path.display()
            )
        })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the lock file {}: {e}", path.display()))?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(format!(
            "the lock file {} is not a plain file of its own ({} link(s)): a hard link would \
             make portplan lock, and empty, another file; remove it. Nothing was changed",
            path.display(),
            meta.nlink()
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "the lock file {} belongs to uid {}, not to uid {me} that runs portplan: another \
             user made it, and could hold it to block every run; remove it. Nothing was changed",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot make the lock file {} private: {e}", path.display()))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_names_the_first() {
        let dir = std::env::temp_dir().join(format!("portplan-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(LOCK_FILE);
        let first = acquire(&path, Duration::ZERO, "pid 1 (first)").expect("free lock");
        let error = acquire(&path, Duration::from_millis(300), "pid 2 (second)")
            .err()
            .expect("held");
        assert!(error.contains("pid 1 (first)"), "{error}");
        assert!(error.contains("nothing was changed"), "{error}");
        drop(first);
        // Not at once: a child another test spawns at that moment holds the
        // lock's descriptor from its fork until its exec closes it.
        let second = acquire(&path, Duration::from_secs(5), "pid 2 (second)").expect("released");
        drop(second);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("portplan-lock-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn a_symbolic_link_in_the_locks_place_is_refused_and_its_target_kept() {
        let dir = scratch("link");
        let target = dir.join("precious");
        std::fs::write(&target, "keep me").expect("target");
        let path = dir.join(LOCK_FILE);
        std::os::unix::fs::symlink(&target, &path).expect("link");
        let error = acquire(&path, Duration::ZERO, "pid 1")
            .err()
            .expect("refused");
        assert!(error.contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep me");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hard_link_in_the_locks_place_is_refused_and_its_target_kept() {
        let dir = scratch("hard-link");
        let target = dir.join("precious");
        std::fs::write(&target, "keep me").expect("target");
        let path = dir.join(LOCK_FILE);
        std::fs::hard_link(&target, &path).expect("link");
        let error = acquire(&path, Duration::ZERO, "pid 1")
            .err()
            .expect("refused");
        assert!(error.contains("2 link(s)"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep me");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_lock_file_is_private_to_its_owner() {
        let dir = scratch("mode");
        let path = dir.join(LOCK_FILE);
        drop(acquire(&path, Duration::ZERO, "pid 1").expect("free"));
        let mode = |path: &Path| std::fs::metadata(path).expect("lock file").mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        // As an older portplan left it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        drop(acquire(&path, Duration::ZERO, "pid 1").expect("free"));
        assert_eq!(mode(&path), 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_lock_file_another_user_made_is_refused() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can make a file another user's
        }
        let dir = scratch("owner");
        let path = dir.join(LOCK_FILE);
        std::fs::write(&path, "").expect("lock file");
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown");
        let error = acquire(&path, Duration::ZERO, "pid 1")
            .err()
            .expect("refused");
        assert!(error.contains("belongs to uid 65534"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
