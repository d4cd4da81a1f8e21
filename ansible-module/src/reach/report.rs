//! `portplan reach report`: the truth table of everything the hosts served
//! and probed.
//!
//! Each results file holds JSON documents as `serve` and `probe` print them
//! (one `serve` line, one `probe` document, or several of either in a row);
//! a document with `results` is a probe's, one with `listening` a
//! responder's. Exit 0 when every row is measured and as expected (a port
//! held before install aside), 1 on a mismatch or a row not measured, 2 on
//! bad input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use portplan_core::{PlanError, ProbeResults, ReportFormat, ServeStatus};
use serde_json::Value;

use super::{load_plan, rejected};

const EXIT_MISMATCH: u8 = 1;

/// Print the truth table of `files` against the plan.
pub fn report(plan_path: &Path, files: &[PathBuf], format: ReportFormat) -> ExitCode {
    let plan = match load_plan(plan_path) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let mut served = Vec::new();
    let mut probed = Vec::new();
    for file in files {
        if let Err(error) = read_results(file, &mut served, &mut probed) {
            return rejected(&error);
        }
    }
    let table = match portplan_core::reach_report(&plan, &served, &probed) {
        Ok(table) => table,
        Err(error) => return rejected(&error),
    };
    print!("{}", portplan_core::render_truth_table(&table, format));
    if let Some(why) = unproven(&table) {
        eprintln!("portplan: {why}");
    }
    if table.proven() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_MISMATCH)
    }
}

/// What a table leaves unproven: rows of probed sources not measured (the
/// table fails), and sources that sent nothing (said, not failed).
pub(super) fn unproven(table: &portplan_core::TruthTable) -> Option<String> {
    let mut lines = Vec::new();
    match table.unmeasured() {
        0 => {}
        n => lines.push(format!(
            "{n} of {} rows were not measured (not probed, or the attempt failed on the \
             source): the plan's matrix is not proven",
            table.summary.rows
        )),
    }
    let unprobed = table.unprobed_sources();
    if !unprobed.is_empty() {
        let names: Vec<String> = unprobed.iter().map(|s| s.label()).collect();
        lines.push(format!(
            "no results from {}: what they may reach is not measured",
            names.join(", ")
        ));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn read_results(
    file: &Path,
    served: &mut Vec<ServeStatus>,
    probed: &mut Vec<ProbeResults>,
) -> Result<(), PlanError> {
    let label = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| PlanError::single(label.clone(), "", e.to_string()))?;
    for (n, document) in serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .enumerate()
    {
        let at = format!("{label}[{n}]");
        let document =
            document.map_err(|e| PlanError::single(at.clone(), "", format!("not JSON: {e}")))?;
        // Each document through core's strict reader, so its problems name
        // the field and value like every other input's.
        let strict = |e: PlanError| prefixed(e, &at);
        if document.get("results").is_some() {
            probed.push(portplan_core::shell::parse_json(&document.to_string()).map_err(strict)?);
        } else if document.get("listening").is_some() {
            served.push(portplan_core::shell::parse_json(&document.to_string()).map_err(strict)?);
        } else {
            return Err(PlanError::single(
                at,
                "",
                "neither a probe's results (`results`) nor a responder's status (`listening`)",
            ));
        }
    }
    Ok(())
}

fn prefixed(mut error: PlanError, at: &str) -> PlanError {
    for p in &mut error.problems {
        p.path = format!("{at}.{}", p.path);
    }
    error
}
