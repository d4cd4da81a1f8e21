//! Executing: the module's hands on the host. Run the argv core rendered,
//! roll back on failure, and persist. What to run is decided in core and
//! `portplan_run`; this file only executes and reports.
//!
//! Every command runs as an argv, never through a shell; firewalld's run
//! over D-Bus where firewalld answers there (`firewalld.rs`).

use std::io::{Read, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portplan_core::{Command, FirewallBackend, FirewallOutput, FirewallState};

use super::gather::read_state;
use super::ufw;

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

/// What happened when the commands ran (how many succeeded is
/// [`RestorePoint::ran`], counted as they do, so that a panic cannot lose it).
pub struct Applied {
    /// Whether the firewall is now other than before (a failure rolled back
    /// whole leaves it as it was).
    pub changed: bool,
    /// The failure that stopped the run, with what the rollback did.
    pub failure: Option<String>,
}

/// Run `commands` in order; on the first failure restore `before` (taken with
/// [`restore_point`]) so the run leaves the firewall as it found it. ufw's
/// change goes as one batch where the restore point holds one
/// (`ufw.rs`), else per rule, the reason then in [`RestorePoint::per_rule`].
pub fn apply(backend: FirewallBackend, commands: &[Command], before: &mut RestorePoint) -> Applied {
    if let Some(applied) = apply_batch(commands.len(), before) {
        return applied;
    }
    for (index, command) in commands.iter().enumerate() {
        panic_point("command", index + 1);
        if let Err(error) = run(command) {
            let failure = format!(
                "command {} of {} failed: {error}",
                index + 1,
                commands.len()
            );
            // Marked before it starts: a panic inside the rollback must not
            // start another (`RestorePoint::owns_rollback`).
            before.owns_rollback = Some(failure.clone());
            // Even a command that failed may have changed something (ufw
            // writes its rules file before it updates its chains), so the
            // rollback always ends by reading the firewall back.
            let (rollback, changed) = match restore(before, index) {
                Ok(Restored::Untouched) if index == 0 && backend == FirewallBackend::Nftables => (
                    "nothing was applied (one nft transaction)".to_string(),
                    false,
                ),
                Ok(restored) => (restored.describe(index), false),
                Err(e) => (
                    format!("ROLLBACK FAILED, the firewall may be partly changed: {e}"),
                    true,
                ),
            };
            return Applied {
                changed,
                failure: Some(format!("{failure}; {rollback}")),
            };
        }
        // It took effect, but is not yet counted as run.
        panic_point("ran", index + 1);
        before.ran = index + 1;
    }
    Applied {
        changed: true,
        failure: None,
    }
}

/// ufw's change as one batch, when the restore point has one: `None` when
/// the run goes per rule instead (the reason in [`RestorePoint::per_rule`]).
fn apply_batch(count: usize, point: &mut RestorePoint) -> Option<Applied> {
    let (layout, edits) = point.batch.as_ref()?.as_ref().ok()?;
    // A panic inside the batch leaves each rules file as before or as
    // planned (renames), and the pending marker makes the next run reload
    // the chains from them; the batch's own undo is not run twice.
    point.owns_rollback = Some(format!(
        "the batch of {count} ufw rule change(s) stopped (ufw's rules files are each as \
         before or as planned; the next run reloads the chains from them)"
    ));
    let outcome = ufw::apply(layout, edits);
    point.owns_rollback = None;
    let failed = |failure: String, changed| Applied {
        changed,
        failure: Some(failure),
    };
    match outcome {
        ufw::Outcome::Done(done) => {
            point.batch_done = Some(done);
            point.ran = count;
            Some(Applied {
                changed: true,
                failure: None,
            })
        }
        // The files changed since the run read them (or ufw's lock is
        // held): not a case for ufw per rule, which would "update" a rule
        // someone added on the same tuple meanwhile.
        ufw::Outcome::NotApplied(why) => Some(failed(
            format!("ufw's rules cannot be changed as read: {why}; nothing was changed"),
            false,
        )),
        ufw::Outcome::Failed(why, rolled_back) => Some(failed(
            format!("the batch of {count} ufw rule change(s) failed: {why}"),
            !rolled_back,
        )),
    }
}

/// The state a rollback returns to: portplan's rules as they were.
pub struct RestorePoint {
    backend: FirewallBackend,
    before: FirewallState,
    /// firewalld: the zone the state was read for.
    zone: Option<String>,
    /// The inverse of each command of the run, where every one has one
    /// (iptables, ufw): a rollback runs those of the applied ones, in reverse.
    undo: Option<Vec<Command>>,
    /// ufw: its two rule lists as its rules files held them before the
    /// run, where they could be read: a rollback puts every rule back in
    /// its place among them ([`in_their_places`]).
    ufw_lists: Option<portplan_run::UfwLists>,
    /// ufw where the batch could be used: the layout and the change as
    /// edits of its rules files, or why this change has no batch form.
    batch: Option<Result<(ufw::Layout, Vec<portplan_run::ufw::Edit>), String>>,
    /// What the batch did, once it went through.
    batch_done: Option<ufw::Applied>,
    /// How many of the run's commands have succeeded so far, kept as they
    /// do: the run's `actions`, and what a rollback after a panic in the
    /// middle of [`apply`] undoes.
    ran: usize,
    /// What [`apply`] is in the middle of that rolls itself back: the
    /// rollback of a failed command, or ufw's batch (whose failed step puts
    /// back what it did). A panic inside either must not be followed by a
    /// second rollback: not every inverse can run twice (iptables' inverse
    /// of a delete is an insert), and the batch's undo is its own.
    owns_rollback: Option<String>,
    /// When the run ends by enabling an inactive ufw: ufw as it ran
    /// before, so that a failed enable is undone only where it started ufw,
    /// and the policies its disable resets are put back.
    enabling_ufw: Option<Result<ufw::Running, String>>,
}

impl RestorePoint {
    /// How many of the run's commands have succeeded so far.
    pub fn ran(&self) -> usize {
        self.ran
    }

    /// What [`apply`] was in the middle of that rolls itself back, if it was.
    pub fn owns_rollback(&self) -> Option<&str> {
        self.owns_rollback.as_deref()
    }

    /// One more command succeeded (tests stand in for [`apply`]).
    #[cfg(test)]
    pub fn succeeded(&mut self) {
        self.ran += 1;
    }

    /// The rollback of `failure` started (tests stand in for [`apply`]).
    #[cfg(test)]
    pub fn rolling_back_from(&mut self, failure: &str) {
        self.owns_rollback = Some(failure.to_string());
    }

    /// Why ufw's change ran per rule where the batch could otherwise be
    /// used (`firewall.reason` already says why it could not).
    pub fn per_rule(&self) -> Option<&str> {
        match &self.batch {
            Some(Err(why)) => Some(why),
            _ => None,
        }
    }
}

/// Take a restore point before changing anything.
pub fn restore_point(
    backend: FirewallBackend,
    (output, state): (&FirewallOutput, &FirewallState),
    commands: &[Command],
    ufw_layout: Option<&Result<ufw::Layout, String>>,
) -> RestorePoint {
    // ufw's inverse inserts at a rule's place: its number in ufw's lists,
    // read from its rules files where they can be, else from `ufw show
    // added` (where IPv6 rules are numbered after the twins of both-family
    // rules, which may be wrong).
    let (listed, lists) = if backend == FirewallBackend::Ufw {
        (output.extra.as_str(), ufw::rule_lists().ok())
    } else {
        ("", None)
    };
    RestorePoint {
        backend,
        before: state.clone(),
        zone: output.zone.clone(),
        undo: portplan_run::undo(state, listed, lists.as_ref(), commands),
        ufw_lists: lists,
        batch: ufw_layout
            .and_then(|layout| layout.as_ref().ok())
            .map(|layout| ufw::plan(layout, commands).map(|edits| (layout.clone(), edits))),
        batch_done: None,
        ran: 0,
        owns_rollback: None,
        enabling_ufw: commands
            .last()
            .filter(|c| is_ufw_enable(c))
            .map(|_| ufw::running()),
    }
}

/// `ufw --force enable`, the last command of a run that enables ufw.
fn is_ufw_enable(command: &Command) -> bool {
    command.argv == ["ufw", "--force", "enable"]
}

/// What a rollback found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// portplan's rules read back as they were before the run: nothing to
    /// undo.
    Untouched,
    /// The applied commands' inverses ran, and the rules read back as
    /// before.
    Undone,
    /// What was read back still differed after the inverses (a command
    /// that failed after it had changed something, or a backend without
    /// inverses), and was put back from it.
    Repaired,
}

impl Restored {
    /// The rollback in the words of a failure message; `applied` commands
    /// had succeeded before the failure.
    pub fn describe(self, applied: usize) -> String {
        match self {
            Restored::Untouched | Restored::Undone => {
                format!("rolled back the {applied} command(s) applied before it")
            }
            Restored::Repaired => format!(
                "rolled back the {applied} command(s) applied before it, and what the failed \
                 command had changed"
            ),
        }
    }
}

/// Put the firewall back as it was. Where every command has an inverse, run
/// those of the applied commands in reverse: exactly what this run did is
/// undone, each rule back at its place (ufw's batch: its own undo). Then,
/// for every backend, read the firewall back and compare portplan's rules,
/// hand-edited ones included, with the state before: what still differs (a
/// failed command's partial change, or everything where there are no
/// inverses) is put back by core's `plan-restore`, and read back again; a
/// rollback that cannot reach the state before is an error, as is, on ufw,
/// a rule back but out of its place ([`in_their_places`]). Either way
/// every other rule, including one someone added meanwhile, stays as it is.
/// `applied` is how many of the run's commands ran.
pub fn restore(point: &RestorePoint, applied: usize) -> Result<Restored, String> {
    panic_point("rollback", 1);
    if point.backend == FirewallBackend::None {
        return Ok(Restored::Untouched);
    }
    let before = tagged_lines(&point.before)?;
    let restored = undo_applied(point, applied, &before)?;
    let now = read_now(point)?;
    if tagged_lines(&now)? == before {
        in_their_places(point)?;
        return Ok(restored);
    }
    let commands = portplan_core::plan_restore(&point.before, &now).map_err(|e| e.to_string())?;
    commands
        .iter()
        .try_for_each(|command| run(command).map(drop))?;
    let after = tagged_lines(&read_now(point)?)?;
    if after != before {
        return Err(format!(
            "portplan's rules read back other than before the run: {}",
            difference(&before, &after)
        ));
    }
    in_their_places(point)?;
    let by_plan_restore = point.undo.is_none() && point.batch_done.is_none() && applied > 0;
    Ok(if by_plan_restore {
        Restored::Undone
    } else {
        Restored::Repaired
    })
}

/// ufw takes the first rule that matches, so the read-back's rules being
/// there is not enough: a rule put back after a deny it preceded stays cut
/// off. Its rules files, read again, must hold every rule they held before
/// (and still hold) in the same order, but for portplan's allows among
/// themselves ([`portplan_run::UfwLists::out_of_place`]). Where they cannot
/// be read, now or before the run, there is nothing to compare, and the
/// read-back stands.
fn in_their_places(point: &RestorePoint) -> Result<(), String> {
    let Some(before) = &point.ufw_lists else {
        return Ok(());
    };
    let Ok(now) = ufw::rule_lists() else {
        return Ok(());
    };
    before.out_of_place(&now).map_or(Ok(()), |what| {
        Err(format!(
            "portplan's rules read back as before the run, but not all in their places: {what}"
        ))
    })
}

/// The inverses of what the run applied, where it has them: ufw's batch
/// undone, or the applied commands' inverses in reverse. Each per-rule
/// command adds or deletes one of portplan's rules, so when the rules read
/// back differ from before by exactly one more than the commands that
/// succeeded, the failed one took effect too, and its inverse runs first,
/// so every rule goes back to its own place. A reading that fails leaves
/// the inverses to run as they are. An enable of ufw changes no rule: its
/// inverse runs when it ran, or failed and took effect all the same, and
/// the built-in policies its disable resets are put back after it.
fn undo_applied(
    point: &RestorePoint,
    applied: usize,
    before: &[String],
) -> Result<Restored, String> {
    if let (Some(done), Some(Ok((layout, _)))) = (&point.batch_done, &point.batch) {
        return ufw::undo(layout, done).map(|()| Restored::Undone);
    }
    let Some(undo) = &point.undo else {
        return Ok(Restored::Untouched);
    };
    // The commands that change one rule each: all but an enable at the end.
    let enabling = point.enabling_ufw.is_some();
    let rules = undo.len().saturating_sub(usize::from(enabling));
    // The enable is the command that failed.
    let disable = enabling && applied == rules && enable_took_effect(point);
    let failed_took_effect = applied < rules
        && read_now(point)
            .and_then(|now| tagged_lines(&now))
            .is_ok_and(|now| differing(before, &now) == applied + 1);
    let undone = (applied + usize::from(failed_took_effect)).min(undo.len());
    // The failed enable's inverse first (it ran last); a disable that fails
    // still lets the rules' inverses run, then fails the rollback.
    let disabled = disable.then(|| run(&undo[rules]).map(drop));
    undo[..undone]
        .iter()
        .rev()
        .try_for_each(|command| run(command).map(drop))?;
    disabled.transpose()?;
    // The enable's inverse ran: the failed one's, or among the undone.
    if disable || (enabling && undone == undo.len()) {
        put_back_policies(point)?;
    }
    Ok(match (failed_took_effect || disable, undone) {
        (true, _) => Restored::Repaired,
        (false, 0) => Restored::Untouched,
        (false, _) => Restored::Undone,
    })
}

/// Whether a failed `ufw --force enable` (the last command) started ufw
/// all the same: ufw enabled, or a start that failed half way, its chains
/// loaded and `ENABLED=no` written back. Either way ufw filters the host by
/// its own default policy, which portplan's rules, compared by the
/// rollback, do not show, so its inverse `ufw --force disable` must run.
/// The gather found `ENABLED=no`; chains count when they were not there
/// before (or before could not be read); a reading that fails now counts
/// as started.
fn enable_took_effect(point: &RestorePoint) -> bool {
    let chains_before = matches!(&point.enabling_ufw, Some(Ok(before)) if before.chains);
    ufw::running().map_or(true, |now| now.enabled || (now.chains && !chains_before))
}

/// After `ufw --force disable` (the undone enable): the built-in policies
/// as they were before the run, which the disable set to ACCEPT.
fn put_back_policies(point: &RestorePoint) -> Result<(), String> {
    match &point.enabling_ufw {
        Some(Ok(before)) => ufw::put_back_policies(before),
        Some(Err(why)) => Err(format!(
            "ufw was disabled again, but the built-in policies it reset could not be \
             put back: they were not read before the run ({why})"
        )),
        None => Ok(()),
    }
}

/// The firewall as it reads now, for the restore point's backend and zone.
fn read_now(point: &RestorePoint) -> Result<FirewallState, String> {
    read_state(point.backend, point.zone.as_deref())
        .map(|(_, now)| now)
        .map_err(|e| e.to_string())
}

/// portplan's rules in `state`, one sorted line each, hand-edited ones
/// marked: what a rollback compares.
fn tagged_lines(state: &FirewallState) -> Result<Vec<String>, String> {
    portplan_core::shell::placements(&[], state)
        .map(|(now, _)| now)
        .map_err(|e| e.to_string())
}

/// How many lines are in one sorted list and not the other, counting
/// repeats (a rule twice is one line more).
fn differing(a: &[String], b: &[String]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => (i, j) = (i + 1, j + 1),
            std::cmp::Ordering::Less => (i, count) = (i + 1, count + 1),
            std::cmp::Ordering::Greater => (j, count) = (j + 1, count + 1),
        }
    }
    count + (a.len() - i) + (b.len() - j)
}

/// The first lines that differ, for an error message.
fn difference(before: &[String], after: &[String]) -> String {
    let gone = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("-{l}"));
    let new = after
        .iter()
        .filter(|l| !before.contains(l))
        .map(|l| format!("+{l}"));
    let lines: Vec<String> = gone.chain(new).take(4).collect();
    if lines.is_empty() {
        "the same rules, some now more than once".into()
    } else {
        lines.join("; ")
    }
}

/// Test builds (`--features panic-points`) panic here when
/// `PORTPLAN_PANIC_AT` names this step and pass (`ran 2`; a list, `ran 2,
/// rollback 1`, names several), so that what the module promises about a
/// panic (rolled back, or `ROLLBACK FAILED` where it hit the rollback) is
/// attacked end to end on real firewalls (`tests/ansible/test_safety.py`,
/// `PanicPoints`). Without the feature, as shipped, it is nothing.
#[cfg(feature = "panic-points")]
pub fn panic_point(step: &str, pass: usize) {
    let here = format!("{step} {pass}");
    if std::env::var("PORTPLAN_PANIC_AT").is_ok_and(|at| at.split(',').any(|p| p.trim() == here)) {
        panic!("injected panic at {here}");
    }
}

/// See the `panic-points` build's version: as shipped, nothing.
#[cfg(not(feature = "panic-points"))]
#[inline(always)]
pub fn panic_point(_step: &str, _pass: usize) {}

/// Run a read-only argv; its stdout.
pub fn run_argv(argv: &[&str]) -> Result<String, String> {
    run(&Command {
        argv: argv.iter().map(ToString::to_string).collect(),
        stdin: None,
    })
}

/// How long one command may take before it is killed. The tools finish in
/// well under a second (an nft set of 20,000 hosts in a few); but
/// `iptables -w` and `ufw` wait for their locks without a bound, and a run
/// must not hang, holding the host lock, behind a stuck process.
const DEADLINE: Duration = Duration::from_secs(120);

/// Run one argv with an optional stdin; its stdout, or an error quoting the
/// command and its stderr.
pub fn run(command: &Command) -> Result<String, String> {
    run_within(command, DEADLINE)
}

/// [`run`], killing the command at `deadline`.
fn run_within(command: &Command, deadline: Duration) -> Result<String, String> {
    let Some((name, args)) = command.argv.split_first() else {
        return Err("empty command".into());
    };
    if name == "firewall-cmd"
        && let Some(done) = super::firewalld::bus()?.and_then(|bus| bus.run(command))
    {
        return done.map_err(|e| format!("`{}` (over D-Bus): {e}", command.argv.join(" ")));
    }
    let program = find_program(name).ok_or_else(|| format!("{name} is not installed"))?;
    let shown = command.argv.join(" ");
    let child = Process::new(&program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(if command.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so a deadline kills what it started too (ufw
        // runs iptables-restore, which could otherwise commit later).
        .process_group(0)
        .spawn()
        .map_err(|e| format!("`{shown}` does not start: {e}"))?;
    let (output, written) =
        finish(child, command.stdin.clone(), deadline).map_err(|e| format!("`{shown}` {e}"))?;
    if !output.status.success() {
        // A tool that refuses its input may exit before reading all of it;
        // the write then fails with a broken pipe, and the tool's own words
        // are the cause worth quoting, not the pipe.
        return Err(format!(
            "`{shown}` exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    written.map_err(|e| format!("`{shown}`: cannot write its input: {e}"))?;
    String::from_utf8(output.stdout).map_err(|_| format!("`{shown}` printed non-UTF-8 output"))
}

/// Write `input` to the child's stdin and read its stdout and stderr, each
/// on a thread of its own, then wait for it; killed at `deadline`. Threads
/// because the pipes must be served at once (a child that answers before
/// it has read all its input would otherwise block on a full stdout while
/// we block on a full stdin), and std has neither a poll-based `output`
/// that takes input nor a wait with a timeout. The threads own what they
/// use, so a killed child's are left to end as its pipes close.
fn finish(
    mut child: Child,
    input: Option<String>,
    deadline: Duration,
) -> Result<(Output, std::io::Result<()>), String> {
    let end = Instant::now() + deadline;
    let (writer, stdout, stderr, finished) = match start_threads(&mut child, input) {
        Ok(served) => served,
        Err(e) => {
            kill_group(&mut child);
            return Err(format!("cannot be served: {e}"));
        }
    };
    // The readers end, dropping their senders, when the child closes its
    // output, which it does as it exits.
    let output_ended = finished.recv_timeout(deadline) != Err(RecvTimeoutError::Timeout);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                kill_group(&mut child);
                return Err(format!(
                    "did not finish within {} s (waiting for a lock another process holds?) \
                     and was killed",
                    deadline.as_secs()
                ));
            }
            Err(e) => return Err(format!("did not finish: {e}")),
        }
    };
    if !output_ended {
        // It exited, but something it started still holds its output.
        kill_group(&mut child);
    }
    let joined = |reader: JoinHandle<std::io::Result<Vec<u8>>>| {
        reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("its reader panicked")))
            .map_err(|e| format!("cannot be read: {e}"))
    };
    let output = Output {
        status,
        stdout: joined(stdout)?,
        stderr: joined(stderr)?,
    };
    let written = writer.map_or(Ok(()), |writer| {
        writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("its writer panicked")))
    });
    Ok((output, written))
}

/// Kill the child's whole process group, then reap the child.
fn kill_group(child: &mut Child) {
    let group = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// The writer (when there is input), the two readers, and the receiver
/// that sees both readers end.
type Served = (
    Option<JoinHandle<std::io::Result<()>>>,
    JoinHandle<std::io::Result<Vec<u8>>>,
    JoinHandle<std::io::Result<Vec<u8>>>,
    Receiver<()>,
);

/// Start the threads that serve a child's pipes. A thread that cannot be
/// started (a pids limit) is an error, not a panic.
fn start_threads(child: &mut Child, input: Option<String>) -> std::io::Result<Served> {
    let writer = match (child.stdin.take(), input) {
        // Dropping the pipe when done closes it: the child sees its end.
        (Some(mut pipe), Some(text)) => {
            Some(std::thread::Builder::new().spawn(move || pipe.write_all(text.as_bytes()))?)
        }
        _ => None,
    };
    let (done, finished) = mpsc::channel();
    let stdout = reader(child.stdout.take(), done.clone())?;
    let stderr = reader(child.stderr.take(), done)?;
    Ok((writer, stdout, stderr, finished))
}

/// Read `pipe` to its end on a thread; `done` is dropped when it ends.
fn reader(
    pipe: Option<impl Read + Send + 'static>,
    done: Sender<()>,
) -> std::io::Result<JoinHandle<std::io::Result<Vec<u8>>>> {
    std::thread::Builder::new().spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_end(&mut bytes)?;
        }
        drop(done);
        Ok(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More than a pipe holds (64 KiB on Linux), so a child that does not
    /// read it all makes the write fail, and one that echoes it fills its
    /// stdout before it has read it all.
    fn big_input() -> String {
        "x".repeat(1 << 20)
    }

    fn shell(script: &str, stdin: Option<String>) -> Command {
        Command {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            stdin,
        }
    }

    #[test]
    fn a_tool_that_refuses_its_input_unread_is_quoted_not_the_broken_pipe() {
        let command = shell("echo 'refused: bad rule' >&2; exit 3", Some(big_input()));
        let error = run(&command).expect_err("the tool failed");
        assert!(error.contains("refused: bad rule"), "{error}");
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(!error.contains("Broken pipe"), "{error}");
    }

    #[test]
    fn a_tool_that_answers_while_it_reads_does_not_deadlock() {
        let input = big_input();
        assert_eq!(
            run(&shell("cat", Some(input.clone()))).expect("cat echoes"),
            input
        );
    }

    #[test]
    fn differing_counts_lines_on_either_side_and_repeats() {
        let lines = |l: &[&str]| l.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(differing(&lines(&["a", "b"]), &lines(&["a", "b"])), 0);
        assert_eq!(differing(&lines(&["a", "b"]), &lines(&["b"])), 1);
        assert_eq!(differing(&lines(&["a", "b"]), &lines(&["a", "b", "b"])), 1);
        assert_eq!(differing(&lines(&["a", "c"]), &lines(&["b", "d"])), 4);
        assert_eq!(differing(&[], &lines(&["x"])), 1);
    }

    #[test]
    fn a_tool_that_hangs_is_killed_at_the_deadline() {
        let started = Instant::now();
        // A grandchild that keeps the pipes open does not hold the run either.
        let hangs = shell("sleep 30 & exec sleep 30", Some(big_input()));
        let error = run_within(&hangs, Duration::from_millis(300)).expect_err("killed");
        assert!(error.contains("did not finish within"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_tool_that_exits_leaving_a_child_on_its_output_is_not_held_for() {
        let started = Instant::now();
        let leaves = shell("sleep 30 & echo done", None);
        let out = run_within(&leaves, Duration::from_millis(300)).expect("it succeeded");
        assert_eq!(out, "done\n");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_tool_that_succeeds_without_reading_its_input_is_a_failure() {
        let error = run(&shell("exit 0", Some(big_input()))).expect_err("its input was not read");
        assert!(error.contains("cannot write its input"), "{error}");
    }
}
