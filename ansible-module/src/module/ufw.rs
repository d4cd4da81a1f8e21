//! ufw's change set in one batch: core's `ufw allow ...`/`ufw delete ...`
//! argvs carried out the way ufw applies a rule itself (its `set_rule`):
//! the user rules files rewritten, then the user chains loaded from them
//! with `iptables-restore -n` / `ip6tables-restore -n` (ufw's
//! `_reload_user_rules`; the files declare every user chain, so a restore
//! flushes and refills exactly those). Each `ufw` run costs ~125 ms of
//! Python start-up and capability probing; the batch costs one restore per
//! family changed (and one `--version` of its tool, [`Layout::waits`]).
//!
//! Never `ufw reload` (or disable/enable): it takes the whole firewall down
//! for a moment. Where anything is not as ufw 0.36 leaves it (ufw inactive,
//! another version, the install or files not found, a file not laid out as
//! ufw writes it, an argv without a batch form, not root), the run drives
//! `ufw` per rule as before and `firewall.reason` says why.
//!
//! Under ufw's own lock (`lockf` on `/run/ufw.lock`, which every `ufw`
//! command holds for its whole run), first a check that the user chains
//! (`ufw-user-input` and the like) of each family changed run the rules
//! its file loads into them (a rule added, deleted or replaced there with
//! `iptables` directly would be undone by the reload: the run stops,
//! naming the chain; [`unfiled`]), then per family: the file written
//! atomically (temporary file, fsync, rename, mode and owner kept), then its
//! chains restored. A failed step puts back the files written and reloads
//! the chains restored, so the run leaves both as they were. A run killed
//! between steps leaves each file as before or as planned (renames are
//! atomic) but may leave chains behind their file; the marker written
//! before the first step says so, and the next run that may change the
//! firewall reloads the chains from the files first ([`recover`]), as
//! `ufw reload` or a reboot would, then converges from there.

use std::cell::OnceCell;
use std::fs;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portplan_core::{Command, IpFamily};
use portplan_run::UfwLists;
use portplan_run::ufw::{Done, Edit, RulesFile, rules_file, translate, tuple_lines, unfiled};

use super::execute::{find_program, run, run_argv};
use super::persist;

/// Where ufw's Python package may live; the first with `ufw/common.py`.
const PYTHON_LIBS: &[&str] = &["/usr/lib", "/usr/lib64", "/usr/local/lib"];

/// The ufw releases whose files the batch writes as ufw does (checked
/// against ufw 0.36.2's own output by the tests).
const KNOWN_VERSION: &str = "0.36";

/// How long to wait for ufw's lock, and a restore for the xtables lock: a
/// `ufw` or `iptables` command usually holds them well under a second (a
/// legacy restore of a large ruleset, seconds); longer is a stuck process,
/// and the run must not hang.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// The marker of a batch under way: the chains may not match the files.
/// Under /run, so a reboot (which loads the chains from the files) clears it.
const PENDING: &str = "/run/portplan-ufw.pending";

/// Set to `ufw`, the run drives `ufw` per rule even where the batch would
/// do: the way back should the batch misbehave on a host, and how the tests
/// compare the two paths on one ufw. `batch` (or unset) is the default.
pub const TRANSPORT_ENV: &str = "PORTPLAN_UFW";

/// Where ufw keeps its files and tools on this host.
#[derive(Clone)]
pub struct Layout {
    /// `{config_dir}/ufw`.
    dir: PathBuf,
    /// `{iptables_dir}`: ufw runs `iptables-restore` from there.
    tools: PathBuf,
    /// Whether ufw uses IPv6 (`IPV6=yes` and the kernel has it).
    ipv6: bool,
    /// ufw's version, for the reason.
    pub version: String,
    /// Per family (IPv4, IPv6), whether its restore is told to wait for
    /// the xtables lock ([`Layout::waits`]): asked only where a run
    /// restores, so a run with nothing to change runs no probe.
    waits: [OnceCell<bool>; 2],
}

/// How a run carries out ufw's change, decided once per run.
pub fn layout() -> Result<Layout, String> {
    match std::env::var(TRANSPORT_ENV).as_deref() {
        Ok("batch") | Err(_) => {}
        Ok(other) => {
            return Err(format!(
                "{TRANSPORT_ENV}={}",
                portplan_core::shell::quote(other)
            ));
        }
    }
    if !rustix::process::geteuid().is_root() || std::env::var_os("TESTSTATE").is_some() {
        return Err("not root: ufw's lock is elsewhere".into());
    }
    find_program("ufw").ok_or("ufw is not installed")?;
    let (site, common) = python_package()?;
    let version = version(&site).ok_or("ufw's version was not found")?;
    if version.split('.').take(2).collect::<Vec<_>>().join(".") != KNOWN_VERSION {
        return Err(format!("ufw {version}, not {KNOWN_VERSION}.x"));
    }
    let config = setting(&common, "config_dir")?;
    if !says_yes(&config.join("ufw/ufw.conf"), "enabled")? {
        return Err("ufw is inactive (ENABLED is not yes in ufw.conf)".into());
    }
    let ipv6 =
        says_yes(&config.join("default/ufw"), "ipv6")? && Path::new("/proc/sys/net/ipv6").exists();
    let layout = Layout {
        dir: config.join("ufw"),
        tools: setting(&common, "iptables_dir")?,
        ipv6,
        version,
        waits: Default::default(),
    };
    for family in layout.families() {
        layout.read(family)?;
        for tool in [layout.restore_tool(family), layout.save_tool(family)] {
            if !tool.is_file() {
                return Err(format!("{} is missing", tool.display()));
            }
        }
    }
    Ok(layout)
}

/// Whether `restore` can be told to wait for the xtables lock
/// (`--wait=SECS`): every release from 1.6.2, when the option came.
/// iptables-legacy changes a table by reading it and writing it back whole,
/// under that lock, which every legacy `iptables` command of another tool
/// (docker, fail2ban, kube-proxy) holds while it does the same. Told
/// nothing, `iptables-restore` gives up at once when the lock is held
/// ("Another app is currently holding the xtables lock") in 1.6.2 to 1.8.7
/// and from 1.8.11, and waits without a bound in 1.8.8 to 1.8.10 (this
/// machine's 1.8.9), until the holder lets go or the run's deadline kills
/// it; told, each waits as long as ufw's lock may take. The nf_tables
/// variant has no such lock (the kernel orders its transactions) and
/// ignores the option. A release too old for it (`--version` came in the
/// same release), or one whose version does not read, restores as ufw
/// does, without it.
fn can_wait_for_lock(restore: &Path) -> bool {
    let path = restore.to_string_lossy();
    run_argv(&[&path, "--version"]).is_ok_and(|out| restore_version(&out) >= Some((1, 6, 2)))
}

/// The release `iptables-restore --version` names (`iptables-restore v1.8.9
/// (legacy)`).
fn restore_version(out: &str) -> Option<(u32, u32, u32)> {
    let word = out.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = word.split('.').map(str::parse::<u32>);
    let mut next = || parts.next().and_then(Result::ok);
    Some((next()?, next()?, next().unwrap_or(0)))
}

/// ufw as it runs, read where a run enables an inactive ufw: whether it
/// started (a failed `ufw --force enable` may have, and the rollback, which
/// compares portplan's rules only, cannot see it), and the built-in filter
/// policies that `ufw --force disable` resets to ACCEPT, to put back.
#[derive(Debug, Default)]
pub struct Running {
    /// `ENABLED=yes` in ufw.conf.
    pub enabled: bool,
    /// ufw's user chains loaded, either family: a start that failed half
    /// way leaves them, and ufw writes `ENABLED=no` back.
    pub chains: bool,
    /// `(tool, chain, policy)` of INPUT, FORWARD and OUTPUT in each
    /// family's filter table.
    policies: Vec<(PathBuf, String, String)>,
}

/// ufw's [`Running`] state now. An IPv6 table that cannot be read (a
/// kernel without IPv6) counts as without ufw's chains; IPv4 must read.
pub fn running() -> Result<Running, String> {
    let (_, common) = python_package()?;
    let mut running = Running {
        enabled: says_yes(
            &setting(&common, "config_dir")?.join("ufw/ufw.conf"),
            "enabled",
        )?,
        ..Running::default()
    };
    let tools = setting(&common, "iptables_dir")?;
    for family in ["iptables", "ip6tables"] {
        let save = tools.join(format!("{family}-save"));
        let listed = run_argv(&[&save.to_string_lossy(), "-t", "filter"]);
        let listed = match (family, listed) {
            (_, Ok(listed)) => listed,
            ("iptables", Err(e)) => return Err(e),
            _ => continue,
        };
        running.chains |= user_chains_loaded(&listed);
        running
            .policies
            .extend(builtin_policies(&listed).map(|(chain, policy)| {
                (tools.join(family), chain.to_string(), policy.to_string())
            }));
    }
    Ok(running)
}

/// ufw's two rule lists as its rules files hold them (their tuple lines, in
/// order), for the numbers of a per-rule rollback's `ufw insert`
/// ([`UfwLists`]). Read wherever ufw keeps them, whatever else the files
/// hold: the per-rule path runs where the batch's [`layout`] is refused.
/// No `user6.rules` is an empty IPv6 list.
pub fn rule_lists() -> Result<UfwLists, String> {
    let (_, common) = python_package()?;
    let dir = setting(&common, "config_dir")?.join("ufw");
    let read = |family| {
        let path = dir.join(rules_file(family));
        match fs::read_to_string(&path) {
            Ok(text) => Ok(tuple_lines(&text)),
            Err(e) if family == IpFamily::Ipv6 && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Vec::new())
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    };
    Ok(UfwLists {
        ipv4: read(IpFamily::Ipv4)?,
        ipv6: read(IpFamily::Ipv6)?,
    })
}

/// Whether `iptables-save` output of a filter table declares ufw's user
/// input chain, of either family: ufw loaded its chains there.
fn user_chains_loaded(listed: &str) -> bool {
    listed
        .lines()
        .any(|line| line.starts_with(":ufw-user-input ") || line.starts_with(":ufw6-user-input "))
}

/// The policies of the built-in filter chains in `iptables-save` output
/// (`:INPUT DROP [0:0]`).
fn builtin_policies(listed: &str) -> impl Iterator<Item = (&str, &str)> {
    listed.lines().filter_map(|line| {
        let mut words = line.strip_prefix(':')?.split_whitespace();
        let (chain, policy) = (words.next()?, words.next()?);
        ["INPUT", "FORWARD", "OUTPUT"]
            .contains(&chain)
            .then_some((chain, policy))
    })
}

/// Put back the built-in policies `before` read: `ufw --force disable`
/// sets them all to ACCEPT (ufw-init's force-stop), which on a host that
/// had FORWARD at DROP (Docker's) would open forwarding.
pub fn put_back_policies(before: &Running) -> Result<(), String> {
    before
        .policies
        .iter()
        .try_for_each(|(tool, chain, policy)| {
            run_argv(&[&tool.to_string_lossy(), "-w", "-P", chain, policy]).map(drop)
        })
}

/// A directory ufw's `common.py` sets (`config_dir`, `iptables_dir`).
fn setting(common: &str, name: &str) -> Result<PathBuf, String> {
    assigned(common, name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("ufw's common.py sets no {name}"))
}

/// Whether a ufw settings file sets `key` (lowercase) to yes, as ufw reads
/// it.
fn says_yes(path: &Path, key: &str) -> Result<bool, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(ufw_settings(&text)
        .iter()
        .any(|(k, v)| k == key && v == "yes"))
}

/// `name = "value"` at the start of a line of Python.
fn assigned(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.trim_start().strip_prefix('=')?;
        let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
        Some(value.to_string())
    })
}

/// ufw's version: its package metadata beside the package
/// (`ufw-0.36.2.egg-info`), else the `version = "..."` of the `ufw` script.
fn version(site: &Path) -> Option<String> {
    let metadata = fs::read_dir(site).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rest = name.strip_prefix("ufw-")?;
        let version = rest
            .strip_suffix(".egg-info")
            .or_else(|| rest.strip_suffix(".dist-info"))?;
        Some(version.to_string())
    });
    metadata.or_else(|| {
        let script = fs::read_to_string(find_program("ufw")?).ok()?;
        assigned(&script, "version")
    })
}

/// ufw's `common.py`, where the install says where its files are, and the
/// directory that holds the package.
fn python_package() -> Result<(PathBuf, String), String> {
    let candidates = PYTHON_LIBS.iter().flat_map(|lib| {
        let mut dirs: Vec<PathBuf> = fs::read_dir(lib)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
            })
            .collect();
        dirs.sort();
        dirs.into_iter()
            .flat_map(|d| ["dist-packages", "site-packages"].map(|s| d.join(s)))
    });
    candidates
        .into_iter()
        .find_map(|site| {
            Some((
                site.clone(),
                fs::read_to_string(site.join("ufw/common.py")).ok()?,
            ))
        })
        .ok_or_else(|| "ufw's Python package (ufw/common.py) was not found".into())
}

/// `KEY=value` settings as ufw reads them (`_get_defaults`): keys and values
/// lower-cased, quotes dropped.
fn ufw_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(key, _)| !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .map(|(key, value)| {
            let value = value.split('=').next().unwrap_or_default();
            (
                key.to_lowercase(),
                value.to_lowercase().trim_matches(['"', '\'']).to_string(),
            )
        })
        .collect()
}

impl Layout {
    fn families(&self) -> Vec<IpFamily> {
        if self.ipv6 {
            vec![IpFamily::Ipv4, IpFamily::Ipv6]
        } else {
            vec![IpFamily::Ipv4]
        }
    }

    fn path(&self, family: IpFamily) -> PathBuf {
        self.dir.join(rules_file(family))
    }

    /// Each of the family's user chains that does not run as `text`, the
    /// family's rules file as read, loads it ([`unfiled`]), described.
    fn unfiled(&self, family: IpFamily, text: &str) -> Result<Vec<String>, String> {
        Ok(self.described(family, text, &self.saved(family)?))
    }

    fn described(&self, family: IpFamily, text: &str, saved: &str) -> Vec<String> {
        let file = self.path(family).display().to_string();
        unfiled(text, saved)
            .iter()
            .map(|unfiled| unfiled.describe(&file))
            .collect()
    }

    /// The family's filter table as `iptables-save` prints it.
    fn saved(&self, family: IpFamily) -> Result<String, String> {
        let save = self.save_tool(family);
        run_argv(&[&save.to_string_lossy(), "-t", "filter"])
    }

    /// What an audit adds to ufw's own listing, which is read from the
    /// files: each user chain, of a family whose chains are loaded (ufw
    /// running), that does not run as its file loads it ([`unfiled`]): a
    /// rule added, deleted or replaced with `iptables` directly filters
    /// traffic all the same. Under ufw's lock, as ufw writes a file before
    /// it changes the chains.
    pub fn drift(&self) -> Result<Vec<String>, String> {
        let _lock = UfwLock::take()?;
        let mut differ = Vec::new();
        for family in self.families() {
            let saved = self.saved(family)?;
            if user_chains_loaded(&saved) {
                let (text, _) = self.read(family)?;
                differ.extend(self.described(family, &text, &saved));
            }
        }
        Ok(differ)
    }

    fn save_tool(&self, family: IpFamily) -> PathBuf {
        self.tools.join(match family {
            IpFamily::Ipv4 => "iptables-save",
            IpFamily::Ipv6 => "ip6tables-save",
        })
    }

    fn restore_tool(&self, family: IpFamily) -> PathBuf {
        self.tools.join(match family {
            IpFamily::Ipv4 => "iptables-restore",
            IpFamily::Ipv6 => "ip6tables-restore",
        })
    }

    /// A rules file, its text and its reading.
    fn read(&self, family: IpFamily) -> Result<(String, RulesFile), String> {
        let path = self.path(family);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file = RulesFile::parse(&text, family)?;
        Ok((text, file))
    }

    /// Whether `family`'s restore is told to wait for the xtables lock,
    /// asked of the tool once per run ([`can_wait_for_lock`]). Each step
    /// that restores asks before it writes anything, so a run killed while
    /// it asks has changed nothing.
    fn waits(&self, family: IpFamily) -> bool {
        let index = match family {
            IpFamily::Ipv4 => 0,
            IpFamily::Ipv6 => 1,
        };
        *self.waits[index].get_or_init(|| can_wait_for_lock(&self.restore_tool(family)))
    }

    /// Load a family's user chains from `text`, as ufw does from the file,
    /// waiting for the xtables lock where the tool can ([`Layout::waits`]).
    fn restore(&self, family: IpFamily, text: &str) -> Result<(), String> {
        let mut argv = vec![
            self.restore_tool(family).display().to_string(),
            "-n".to_string(),
        ];
        if self.waits(family) {
            // One word: iptables-nft-restore 1.8.0 ignores `-w` without
            // taking its value, and would read `30` as its input file.
            argv.push(format!("--wait={}", LOCK_TIMEOUT.as_secs()));
        }
        run(&Command {
            argv,
            stdin: Some(text.to_string()),
        })
        .map(drop)
    }

    /// Replace a rules file atomically, its mode and owner kept.
    fn write(&self, family: IpFamily, text: &str) -> Result<(), String> {
        let path = self.path(family);
        let temporary = persist::stage(&path, text.as_bytes(), None)?;
        fs::rename(&temporary, &path).map_err(|e| {
            let _ = fs::remove_file(&temporary);
            format!("cannot write {}: {e}", path.display())
        })?;
        // The rename itself on disk, as ufw's next start reads the file; not
        // an error once renamed, or the file would count as unwritten and be
        // left out when the batch is put back.
        persist::sync_dir(&path);
        Ok(())
    }
}

/// The run's change as edits of the rules files: `Err` says why the run
/// runs `ufw` per rule instead.
pub fn plan(layout: &Layout, commands: &[Command]) -> Result<Vec<Edit>, String> {
    let edits = translate(commands)?;
    if !layout.ipv6 && edits.iter().any(|e| e.family == IpFamily::Ipv6) {
        return Err("ufw does not use IPv6 here (IPV6=no), and a rule is IPv6".into());
    }
    Ok(edits)
}

/// What a batch did, for its undo.
pub struct Applied {
    done: Vec<(IpFamily, Vec<Done>)>,
}

/// How a batch ended.
pub enum Outcome {
    /// Every file written and every chain loaded.
    Done(Applied),
    /// Nothing was changed: the files are not as the run read them (edited
    /// meanwhile), or ufw's lock could not be had.
    NotApplied(String),
    /// A step failed; what the rollback did is in the text, and whether it
    /// put everything back.
    Failed(String, bool),
}

/// Carry out `edits`: under ufw's lock, per family, the file then its
/// chains. A failed step rolls back what the batch did.
pub fn apply(layout: &Layout, edits: &[Edit]) -> Outcome {
    let _lock = match UfwLock::take() {
        Ok(lock) => lock,
        Err(e) => return Outcome::NotApplied(e),
    };
    let planned = match edited(layout, edits) {
        Ok(planned) => planned,
        Err(e) => return Outcome::NotApplied(e),
    };
    if let Err(e) = as_filed(layout, &planned) {
        return Outcome::NotApplied(e);
    }
    for (family, ..) in &planned {
        layout.waits(*family);
    }
    if let Err(e) = fs::write(PENDING, "") {
        return Outcome::NotApplied(format!("cannot write {PENDING}: {e}"));
    }
    // Per family, the file then its chains: what to put back, file and
    // chains, if a later step fails.
    let mut written: Vec<(IpFamily, &str)> = Vec::new();
    for (step, (family, before, after, _)) in planned.iter().enumerate() {
        if let Err(e) = layout.write(*family, after) {
            return failed(layout, e, &written);
        }
        super::execute::panic_point("batch-written", step + 1);
        // A failed iptables-restore commits nothing, as a rule; but one that
        // exits non-zero after its commit (killed, or failing as it ends)
        // would leave the chains changed, so a failure reloads the chains
        // from the file as it was too: the same chains either way.
        written.push((*family, before));
        if let Err(e) = layout.restore(*family, after) {
            return failed(layout, e, &written);
        }
        super::execute::panic_point("batch-restored", step + 1);
    }
    let _ = fs::remove_file(PENDING);
    Outcome::Done(Applied {
        done: planned
            .into_iter()
            .map(|(family, _, _, done)| (family, done))
            .collect(),
    })
}

/// `Err` naming each user chain of the families the batch changes that does
/// not run as its file loads it: the batch's reload would undo a rule added,
/// deleted or replaced there with `iptables` directly (or load a file ufw rewrote
/// without reloading it); `ufw reload` loads the files, its own way.
fn as_filed(layout: &Layout, planned: &[Planned]) -> Result<(), String> {
    let mut differ = Vec::new();
    for (family, before, ..) in planned {
        differ.extend(layout.unfiled(*family, before)?);
    }
    if differ.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: the chains differ from the files (a rule added, deleted or replaced with \
         iptables directly, not with ufw, or files not loaded since they were written), and \
         reloading them from the files, as this run, `ufw reload` and ufw's own delete do, \
         would change rules portplan did not write; make the change with ufw, or run `ufw \
         reload` to load the files as they are",
        differ.join("; ")
    ))
}

/// A failed step's outcome, once what the batch did is put back.
fn failed(layout: &Layout, error: String, written: &[(IpFamily, &str)]) -> Outcome {
    match put_back(layout, written) {
        Ok(()) => Outcome::Failed(
            format!("{error}; the rules files and chains are as they were"),
            true,
        ),
        Err(e) => Outcome::Failed(
            format!("{error}; ROLLBACK FAILED, the firewall may be partly changed: {e}"),
            false,
        ),
    }
}

/// Each family the edits touch: its text now, its text edited, and what
/// the edits did; an error where an edit does not apply to the file as it
/// is now (changed since the run read it).
type Planned = (IpFamily, String, String, Vec<Done>);

fn edited(layout: &Layout, edits: &[Edit]) -> Result<Vec<Planned>, String> {
    let mut planned = Vec::new();
    for family in layout.families() {
        let mine: Vec<&Edit> = edits.iter().filter(|e| e.family == family).collect();
        if mine.is_empty() {
            continue;
        }
        let (text, mut file) = layout.read(family)?;
        let done = mine
            .iter()
            .map(|edit| file.apply(edit))
            .collect::<Result<Vec<_>, _>>()?;
        planned.push((family, text, file.text(), done));
    }
    Ok(planned)
}

/// Put back the files a failed batch wrote, and reload their chains (a
/// failed load may have committed all the same), from the texts read
/// before it; the marker goes once all is back.
fn put_back(layout: &Layout, undo: &[(IpFamily, &str)]) -> Result<(), String> {
    let mut failed = Vec::new();
    for (family, before) in undo.iter().rev() {
        let back = layout
            .write(*family, before)
            .and_then(|()| layout.restore(*family, before));
        if let Err(e) = back {
            failed.push(e);
        }
    }
    if failed.is_empty() {
        let _ = fs::remove_file(PENDING);
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// Undo a batch that went through, on the files as they are now: its rules
/// taken out and the ones it deleted put back at their places, everything
/// else (someone's rule added meanwhile) kept; then the chains reloaded.
pub fn undo(layout: &Layout, applied: &Applied) -> Result<(), String> {
    let _lock = UfwLock::take()?;
    for (family, _) in &applied.done {
        layout.waits(*family);
    }
    fs::write(PENDING, "").map_err(|e| format!("cannot write {PENDING}: {e}"))?;
    for (family, done) in &applied.done {
        let (text, mut file) = layout.read(*family)?;
        file.undo(done);
        let back = file.text();
        if back != text {
            layout.write(*family, &back)?;
        }
        layout.restore(*family, &back)?;
    }
    let _ = fs::remove_file(PENDING);
    Ok(())
}

/// After a run killed mid-batch: reload every family's chains from its
/// file, as `ufw reload` would without taking the firewall down; what was
/// done, for the run's warnings. Nothing when no batch was interrupted.
pub fn recover(layout: &Layout) -> Result<Option<String>, String> {
    if !Path::new(PENDING).exists() {
        return Ok(None);
    }
    let _lock = UfwLock::take()?;
    for family in layout.families() {
        let (text, _) = layout.read(family)?;
        layout.restore(family, &text)?;
    }
    let _ = fs::remove_file(PENDING);
    Ok(Some(
        "an earlier run was stopped while it changed ufw's rules: the user chains were \
         reloaded from ufw's rules files before this run"
            .into(),
    ))
}

/// ufw's own lock: `lockf` on `/run/ufw.lock`, the record lock every `ufw`
/// command holds while it runs (an OFD lock here, which conflicts with it).
struct UfwLock {
    _file: fs::File,
}

impl UfwLock {
    fn take() -> Result<UfwLock, String> {
        let path = "/run/ufw.lock";
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        let start = Instant::now();
        loop {
            match rustix::fs::fcntl_lock(
                file.as_fd(),
                rustix::fs::FlockOperation::NonBlockingLockExclusive,
            ) {
                Ok(()) => return Ok(UfwLock { _file: file }),
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {
                    if start.elapsed() > LOCK_TIMEOUT {
                        return Err(format!(
                            "ufw's lock {path} is held by another ufw for over {} s",
                            LOCK_TIMEOUT.as_secs()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("cannot lock {path}: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_can_wait_for_the_lock_from_1_6_2() {
        let read = restore_version;
        assert_eq!(read("iptables-restore v1.8.9 (legacy)\n"), Some((1, 8, 9)));
        assert_eq!(
            read("ip6tables-nft-restore v1.8.9 (nf_tables)"),
            Some((1, 8, 9))
        );
        assert!(read("iptables-restore v1.6.2") >= Some((1, 6, 2)));
        assert!(read("iptables-restore v1.6.1") < Some((1, 6, 2)));
        assert!(read("iptables-restore v1.4.21") < Some((1, 6, 2)));
        assert!(read("iptables-restore v1.10") >= Some((1, 6, 2)));
        assert_eq!(read("iptables-restore: unknown option -- -"), None);
        assert_eq!(read(""), None);
        assert_eq!(read("iptables-restore vX.1.2"), None);
    }

    #[test]
    fn settings_are_read_as_ufw_reads_them() {
        let text = "# c\nENABLED=yes\nIPV6=\"Yes\"\nLOGLEVEL=low\n";
        let settings = ufw_settings(text);
        assert!(settings.contains(&("enabled".into(), "yes".into())));
        assert!(settings.contains(&("ipv6".into(), "yes".into())));
        assert_eq!(
            assigned("x = 1\nconfig_dir = \"/etc\"\n", "config_dir").as_deref(),
            Some("/etc")
        );
        assert_eq!(assigned("config_dirx = \"/e\"\n", "config_dir"), None);
    }

    #[test]
    fn built_in_policies_are_read_from_a_listing() {
        let listed = "# Generated\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [3:180]\n\
                      :OUTPUT ACCEPT [0:0]\n:ufw-user-input - [0:0]\n:DOCKER - [0:0]\n\
                      -A INPUT -j ufw-user-input\nCOMMIT\n";
        let policies: Vec<_> = builtin_policies(listed).collect();
        assert_eq!(
            policies,
            [
                ("INPUT", "ACCEPT"),
                ("FORWARD", "DROP"),
                ("OUTPUT", "ACCEPT")
            ]
        );
    }
}
