//! Shared helpers of the cross-artifact tests: where the corpus lives and how
//! a case is run through the reference (native) core.
//!
//! Not a library for users; every artifact must reproduce what this produces.

use std::path::{Path, PathBuf};

/// The golden corpus directory.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every `*.plan.json` of the corpus with its expected `*.report.json`, by name.
pub fn corpus_cases() -> Vec<(String, PathBuf, PathBuf)> {
    let mut cases: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory is readable")
        .filter_map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".plan.json")?
                .to_string();
            let report = path.with_file_name(format!("{name}.report.json"));
            Some((name, path, report))
        })
        .collect();
    cases.sort();
    cases
}

/// The reference output of a corpus plan: the report JSON, or the plan-error JSON.
pub fn reference_output(plan_text: &str) -> String {
    match portplan_core::parse_plan(plan_text).and_then(|plan| portplan_core::validate_plan(&plan))
    {
        Ok(report) => {
            portplan_core::render_report(&report, portplan_core::model::ReportFormat::Json)
        }
        Err(error) => portplan_core::render::json(&error),
    }
}
