//! The change a run makes and the state it must leave: the commands core
//! plans, the portplan rules expected afterwards, and the check of what was
//! read back against them.

use std::collections::BTreeSet;

use portplan_core::{Command, FirewallChange, FirewallRule, FirewallState, TaggedRule};

use crate::RunError;

/// What the task asks for (the module's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Open the planned ports to exactly the hosts that need them.
    Present,
    /// Remove every rule portplan added.
    Absent,
    /// Check only; change nothing.
    Checked,
}

/// The change of one run, decided before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps {
    /// Core's plan of the change.
    pub change: FirewallChange,
    /// The commands to run, in order: the change, then `ufw --force enable`
    /// when asked for.
    pub commands: Vec<Command>,
    /// Whether the last command enables an inactive ufw.
    pub enable_ufw: bool,
    /// portplan's rules before.
    pub before: BTreeSet<TaggedRule>,
    /// portplan's rules once the commands ran: `before` less what is
    /// removed, plus what is added.
    pub expected: BTreeSet<TaggedRule>,
    /// What the operator should know (an inactive ufw, nothing filtering).
    pub warnings: Vec<String>,
}

/// portplan's rules in a state, whatever chain or zone side holds them.
pub fn tagged(state: &FirewallState) -> BTreeSet<TaggedRule> {
    state
        .tagged()
        .into_iter()
        .map(|(_, rule)| rule.clone())
        .collect()
}

/// Plan the change that takes `state` to `rules` (`present`) or to no
/// portplan rule at all (`absent`), and the rules it must leave.
pub fn steps(
    rules: &[FirewallRule],
    state: &FirewallState,
    task: Task,
    ufw_enable: bool,
) -> Result<Steps, RunError> {
    let change = portplan_core::plan_firewall(rules, state, task == Task::Absent)
        .map_err(RunError::Change)?;
    let mut warnings = Vec::new();
    // An inactive ufw takes rules but applies none until it is enabled.
    let ufw_inactive = matches!(state, FirewallState::Ufw(ufw) if !ufw.active);
    if ufw_inactive && !ufw_enable {
        warnings.push(
            "ufw is inactive: nothing is filtered, and portplan's rules take effect only once \
             ufw is enabled (ufw_enable: true enables it after the rules are in place)"
                .into(),
        );
    }
    warnings.extend(change.notes.iter().cloned());
    let enable_ufw = ufw_inactive && ufw_enable && task == Task::Present;
    let mut commands = change.commands.clone();
    if enable_ufw {
        commands.push(Command {
            // `--force`: without a terminal ufw would wait for a confirmation.
            argv: ["ufw", "--force", "enable"].map(String::from).to_vec(),
            stdin: None,
        });
    }
    let before = tagged(state);
    let removed: BTreeSet<&TaggedRule> = change.remove.iter().collect();
    let expected = before
        .iter()
        .filter(|rule| !removed.contains(rule))
        .chain(&change.add)
        .cloned()
        .collect();
    Ok(Steps {
        change,
        commands,
        enable_ufw,
        before,
        expected,
        warnings,
    })
}

/// Check the state read back after the commands: core plans nothing more,
/// and portplan's rules are exactly the expected ones. "Changed" then means
/// "now exactly as planned"; anything else fails the run (and the shell
/// rolls back).
pub fn verify(
    rules: &[FirewallRule],
    now: &FirewallState,
    task: Task,
    expected: &BTreeSet<TaggedRule>,
) -> Result<BTreeSet<TaggedRule>, RunError> {
    let left =
        portplan_core::plan_firewall(rules, now, task == Task::Absent).map_err(RunError::Change)?;
    let found = tagged(now);
    let unexpected: Vec<String> = found
        .symmetric_difference(expected)
        .map(|rule| {
            let side = if found.contains(rule) { "+" } else { "-" };
            format!("{side}{rule}")
        })
        .collect();
    if left.commands.is_empty() && unexpected.is_empty() {
        Ok(found)
    } else {
        Err(RunError::NotAsPlanned {
            to_add: left.add.len(),
            to_remove: left.remove.len(),
            unexpected,
        })
    }
}

/// The diff's text: one line per portplan rule, sorted.
pub fn describe(rules: &BTreeSet<TaggedRule>) -> String {
    rules.iter().map(|rule| format!("{rule}\n")).collect()
}
