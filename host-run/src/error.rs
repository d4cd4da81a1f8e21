//! Why a run stops: one typed error whose text is what the operator reads.

use std::fmt;

use portplan_core::{Finding, PlanError, Severity};

/// Why a run on a host did not finish as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The firewall asked for (or detected) cannot be driven.
    Firewall(String),
    /// Core rejected the plan for this host.
    Plan(PlanError),
    /// Findings fail the task under `fail_on`; nothing was changed.
    Findings {
        /// The plan host.
        host: String,
        /// The task's `fail_on`.
        fail_on: Severity,
        /// The failing findings, in report order.
        failing: Vec<Finding>,
    },
    /// Core could not plan the change (e.g. a foreign rule in the way).
    Change(PlanError),
    /// Read back after applying, the firewall is not as planned.
    NotAsPlanned {
        /// Rules still to add.
        to_add: usize,
        /// Rules still to remove.
        to_remove: usize,
        /// portplan rules that differ from the prediction, one per line.
        unexpected: Vec<String>,
    },
    /// Reading or changing the host failed (the shell's IO), as it said.
    Host(String),
    /// A failure after the first change, and what the rollback did.
    RolledBack {
        /// What failed.
        cause: Box<RunError>,
        /// What the rollback did, e.g. `rolled back`.
        rollback: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Firewall(reason) | RunError::Host(reason) => f.write_str(reason),
            RunError::Plan(error) => write!(
                f,
                "the plan does not fit this host: {}",
                error.to_string().trim_end()
            ),
            RunError::Findings {
                host,
                fail_on,
                failing,
            } => {
                let listed: Vec<String> = failing
                    .iter()
                    .map(|f| format!("{}: {} Fix: {}", f.code.as_str(), f.message, f.fix))
                    .collect();
                write!(
                    f,
                    "{} finding(s) on host {host} fail the task (fail_on: {}); nothing was changed. {}",
                    failing.len(),
                    fail_on.as_str(),
                    listed.join(" | ")
                )
            }
            RunError::Change(error) => write!(
                f,
                "cannot plan the firewall change: {}",
                error.to_string().trim_end()
            ),
            RunError::NotAsPlanned {
                to_add,
                to_remove,
                unexpected,
            } => {
                write!(
                    f,
                    "the firewall does not hold the desired rules after applying them \
                     ({to_add} still to add, {to_remove} to remove)"
                )?;
                if !unexpected.is_empty() {
                    write!(f, "; unexpected: {}", unexpected.join(", "))?;
                }
                Ok(())
            }
            RunError::RolledBack { cause, rollback } => write!(f, "{cause}; {rollback}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<String> for RunError {
    fn from(reason: String) -> Self {
        RunError::Host(reason)
    }
}
