//! The verdict: whether the findings let the run go on, under `fail_on`.

use portplan_core::{Report, Severity};

use crate::RunError;

/// Whether a finding of `severity` fails a task with `fail_on`.
fn fails(severity: Severity, fail_on: Severity) -> bool {
    severity == Severity::Error || (fail_on == Severity::Warning && severity == Severity::Warning)
}

/// The warnings to show (warning findings that do not fail the task), and
/// whether the run may go on: the failing findings stop it before any change.
/// Info findings never fail a run and are not warnings.
pub fn verdict(
    report: &Report,
    host: &str,
    fail_on: Severity,
) -> (Vec<String>, Result<(), RunError>) {
    let warnings = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && !fails(f.severity, fail_on))
        .map(|f| format!("{}: {}", f.code.as_str(), f.message))
        .collect();
    let failing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| fails(f.severity, fail_on))
        .cloned()
        .collect();
    let go_on = if failing.is_empty() {
        Ok(())
    } else {
        Err(RunError::Findings {
            host: host.to_string(),
            fail_on,
            failing,
        })
    };
    (warnings, go_on)
}
