//! Shared helpers of the cross-artifact tests: where the corpus and the built
//! plugins live, the reference (native) output of a corpus plan, and the two
//! Rust hosts that load the plugins.
//!
//! Not a library for users; every artifact must reproduce what `reference_output`
//! produces. wasmtime and the extism host crate live here and nowhere else.

pub mod component;
pub mod extism_plugin;

use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The golden corpus directory.
pub fn corpus_dir() -> PathBuf {
    repo_root().join("tests/corpus")
}

/// Where `cargo run -p portplan-wasm-build` writes a plugin, checked to exist.
pub fn built_plugin(name: &str) -> PathBuf {
    let path = repo_root().join("dist/wasm").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo run -p portplan-wasm-build` first (scripts/test does)",
        path.display()
    );
    path
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
    use portplan_core::ReportFormat::Json;
    match portplan_core::parse_plan(plan_text).and_then(|plan| portplan_core::validate_plan(&plan))
    {
        Ok(report) => portplan_core::render_report(&report, Json),
        Err(error) => portplan_core::render_plan_error(&error, Json),
    }
}

/// Runs `output` over every corpus case and returns the names whose output
/// differs from the golden report, with a short reason.
pub fn corpus_mismatches(mut output: impl FnMut(&str) -> Result<String, String>) -> Vec<String> {
    let cases = corpus_cases();
    assert!(cases.len() >= 10, "corpus is missing: {cases:?}");
    cases
        .into_iter()
        .filter_map(|(name, plan, expected)| {
            let plan = std::fs::read_to_string(plan).expect("plan is readable");
            let expected = std::fs::read_to_string(expected).expect("report is readable");
            match output(&plan) {
                Ok(actual) if actual == expected => None,
                Ok(_) => Some(format!("{name}: output differs")),
                Err(e) => Some(format!("{name}: {e}")),
            }
        })
        .collect()
}
