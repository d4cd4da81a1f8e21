//! Shared helpers of the cross-artifact tests: where the corpus and the built
//! plugins live, the reference (native) output of a corpus plan, and the two
//! Rust hosts that load the plugins.
//!
//! Not a library for users; every artifact must reproduce what `reference_output`
//! produces. wasmtime and the extism host crate live here and nowhere else.

pub mod component;
pub mod extism_plugin;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The functions the WIT world `portplan` exports, in its order, read from
/// `wit/`.
pub fn wit_functions() -> Vec<String> {
    world_functions("portplan")
}

/// The WIT world `world`'s functions, in its order: `portplan`'s, or those
/// of one world it joins (`plans`, `firewalls`, `reach`), built alone into
/// `dist/wasm/portplan-<world>-{component,extism}.wasm`.
pub fn world_functions(world: &str) -> Vec<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(repo_root().join("wit"))
        .expect("wit/ parses");
    let world = resolve
        .select_world(&[package], Some(world))
        .unwrap_or_else(|e| panic!("world {world}: {e:#}"));
    resolve.worlds[world]
        .exports
        .values()
        .filter_map(|item| match item {
            wit_parser::WorldItem::Function(f) => Some(f.name.clone()),
            _ => None,
        })
        .collect()
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

/// A fresh instance of the built component (`dist/wasm/portplan-component.wasm`),
/// compiled once per test process: compiling takes seconds in a debug build
/// (wasmtime's cranelift unoptimised), instantiating does not. Each test gets
/// its own store, so a trap in one cannot leave another's instance broken.
pub fn built_component() -> component::ComponentHost {
    static LOADED: OnceLock<Mutex<component::ComponentHost>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            Mutex::new(
                component::ComponentHost::load(&built_plugin("portplan-component.wasm"))
                    .expect("component instantiates with an empty linker"),
            )
        })
        .lock()
        .expect("no test panicked while instantiating")
        .reinstantiate()
        .expect("component instantiates again")
}

/// A fresh instance of the built Extism plugin (`dist/wasm/portplan-extism.wasm`),
/// compiled once per test process, as [`built_component`].
pub fn built_extism() -> extism_plugin::ExtismHost {
    static COMPILED: OnceLock<Mutex<extism::CompiledPlugin>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        Mutex::new(
            extism_plugin::ExtismHost::compile(&built_plugin("portplan-extism.wasm"))
                .expect("plugin compiles"),
        )
    });
    extism_plugin::ExtismHost::instantiate(
        &compiled
            .lock()
            .expect("no test panicked while instantiating"),
    )
    .expect("plugin instantiates without WASI")
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

/// The reach corpus: `tests/corpus/reach/NAME.input.json` (a plan, what the
/// responders reported, what every source measured) with its expected
/// `NAME.truth.txt` (the truth table in every format) and `NAME.probes.json`
/// (every source's probe plan).
pub fn reach_cases() -> Vec<(String, PathBuf)> {
    let dir = corpus_dir().join("reach");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("reach corpus directory is readable")
        .filter_map(|entry| {
            let path = entry.expect("reach corpus entry").path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".input.json")?
                .to_string();
            Some((name, path))
        })
        .collect();
    cases.sort();
    cases
}

/// The formats a truth table is rendered in, in the order of `*.truth.txt`.
pub const TRUTH_FORMATS: [&str; 4] = ["json", "table", "markdown", "csv"];

/// `*.truth.txt` from one rendering per format: each under a `==> FORMAT` line.
pub fn truth_sections(
    mut render: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    for format in TRUTH_FORMATS {
        out.push_str(&format!("==> {format}\n"));
        out.push_str(&render(format)?);
    }
    Ok(out)
}

/// A reach case's input, split: the plan's JSON text, the `served` and
/// `probed` arrays, and each source with its phase.
pub struct ReachInput {
    /// The plan, as JSON text.
    pub plan: String,
    /// What the responders reported.
    pub served: serde_json::Value,
    /// What every source measured.
    pub probed: serde_json::Value,
}

impl ReachInput {
    /// Splits an `*.input.json`.
    pub fn parse(text: &str) -> Self {
        let value: serde_json::Value = serde_json::from_str(text).expect("reach input is JSON");
        ReachInput {
            plan: value["plan"].to_string(),
            served: value["served"].clone(),
            probed: value["probed"].clone(),
        }
    }

    /// `(source, phase)` of every entry of `probed`, as JSON values.
    pub fn sources(&self) -> Vec<(serde_json::Value, serde_json::Value)> {
        self.probed
            .as_array()
            .expect("probed is an array")
            .iter()
            .map(|p| (p["source"].clone(), p["phase"].clone()))
            .collect()
    }
}

/// The native answer of a reach case: the truth table in every format, and
/// the probe plan of every source (a JSON array).
pub fn reach_reference(input_text: &str) -> (String, serde_json::Value) {
    use portplan_core::shell::parse_json;
    let input = ReachInput::parse(input_text);
    let plan = portplan_core::parse_plan(&input.plan).expect("reach corpus plan parses");
    let probes: Vec<serde_json::Value> = input
        .sources()
        .into_iter()
        .map(|(source, phase)| {
            let source: portplan_core::ProbeSource =
                parse_json(&source.to_string()).expect("a probe source");
            let phase: portplan_core::Phase = parse_json(&phase.to_string()).expect("a phase");
            match portplan_core::probe_plan(&plan, &source, phase) {
                Ok(p) => serde_json::to_value(&p).expect("plain data"),
                Err(e) => serde_json::to_value(&e).expect("plain data"),
            }
        })
        .collect();
    let served: Vec<portplan_core::ServeStatus> =
        parse_json(&input.served.to_string()).expect("served parses");
    let probed: Vec<portplan_core::ProbeResults> =
        parse_json(&input.probed.to_string()).expect("probed parses");
    let truth = truth_sections(|format| {
        let format: portplan_core::ReportFormat =
            parse_json(&format!("\"{format}\"")).map_err(|e| e.to_string())?;
        Ok(match portplan_core::reach_report(&plan, &served, &probed) {
            Ok(table) => portplan_core::render_truth_table(&table, format),
            Err(error) => portplan_core::render_plan_error(&error, format),
        })
    })
    .expect("native rendering cannot fail");
    (truth, serde_json::Value::Array(probes))
}

/// Runs `answer` over every reach case and returns the names whose truth
/// table text or probe plans differ from the golden files.
pub fn reach_mismatches(
    mut answer: impl FnMut(&str) -> Result<(String, serde_json::Value), String>,
) -> Vec<String> {
    let cases = reach_cases();
    assert!(cases.len() >= 3, "reach corpus is missing: {cases:?}");
    cases
        .into_iter()
        .filter_map(|(name, input)| {
            let text = std::fs::read_to_string(&input).expect("input is readable");
            let truth = std::fs::read_to_string(input.with_file_name(format!("{name}.truth.txt")))
                .expect("truth is readable");
            let probes: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(input.with_file_name(format!("{name}.probes.json")))
                    .expect("probes are readable"),
            )
            .expect("probes are JSON");
            match answer(&text) {
                Ok((t, p)) if t == truth && p == probes => None,
                Ok((t, _)) if t != truth => Some(format!("{name}: truth table differs")),
                Ok(_) => Some(format!("{name}: probe plans differ")),
                Err(e) => Some(format!("{name}: {e}")),
            }
        })
        .collect()
}
