//! One run at a time per host: an exclusive `flock` on a file under
//! `/run/lock`, held for the whole run (read, decide, change, verify,
//! persist). A second run waits, like `iptables -w`, and gives up after the
//! timeout naming the holder, so two runs never interleave their reads and
//! writes. The lock is the kernel's: it goes with the process, SIGKILL
//! included, so a crashed run never leaves it taken.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
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
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
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
        let second = acquire(&path, Duration::ZERO, "pid 2 (second)").expect("released");
        drop(second);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
