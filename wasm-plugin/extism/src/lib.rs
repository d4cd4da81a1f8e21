//! portplan as an Extism plugin: every function of the WIT world
//! `portplan`, exported under the WIT's own name (`validate-plan`, ...);
//! built with only the feature `plans`, `firewalls` or `reach`, the
//! functions of that world alone.
//!
//! Input is a JSON object of the function's WIT parameters by name
//! (`{"plan": {...}, "host": "h1", "phase": "preinstall", "observation": {...}}`);
//! output is the JSON of the WIT result's ok value. A rejected input is an
//! Extism error whose message is the plan-error as JSON, rendered exactly as
//! `render-plan-error` renders it. Each function is portplan-calls' (shared
//! with the component): input parsed by core's strict parser, so an error
//! names the JSON path and the value of every problem, with core's one
//! convention for paths.
//!
//! What it is not: it uses no host function, no WASI, no config and no vars.
//! Built only for wasm32; on other targets the crate is empty.

#![cfg(target_family = "wasm")]

use portplan_calls::Answer;
use portplan_core::{PlanError, ReportFormat};

// `input` and `answer` hold what every export does alike, out of line:
// inlined into each of the 15 exports they would cost a copy each.

/// The input as text; a function without parameters takes none at all.
#[inline(never)]
fn input() -> String {
    let text = String::from_utf8(extism_pdk::input_bytes())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if text.trim().is_empty() {
        "{}".to_string()
    } else {
        text
    }
}

/// The output as the function's result, or its error (a rejected input as
/// `render-plan-error` renders it).
#[inline(never)]
fn answer(output: Result<Answer, PlanError>) -> i32 {
    let output = output.map(|answer| match answer {
        Answer::Json(json) => json,
        // A string result is written as its JSON, as every other result.
        Answer::Text(text) => portplan_core::shell::compact_json(&text),
    });
    match output {
        Ok(text) => match extism_pdk::output(text) {
            Ok(()) => 0,
            Err(e) => fail(&e.to_string()),
        },
        Err(error) => fail(&portplan_core::render_plan_error(
            &error,
            ReportFormat::Json,
        )),
    }
}

/// Sets the Extism error message and returns the failure code.
fn fail(message: &str) -> i32 {
    // Without memory for the message the host still sees the failure code.
    if let Ok(memory) = extism_pdk::Memory::from_bytes(message) {
        // SAFETY: `error_set` takes the offset of a block this plugin just
        // allocated in Extism memory and still owns, as `plugin_fn` does.
        #[allow(unsafe_code)]
        unsafe {
            extism_pdk::extism::error_set(memory.offset())
        }
    }
    1
}

/// Exports the WIT function `$name` as `$rust`.
macro_rules! export {
    ($($name:literal $rust:ident),* $(,)?) => {$(
        #[doc = concat!("The WIT function `", $name, "`.")]
        #[allow(unsafe_code)]
        #[unsafe(export_name = $name)]
        pub extern "C" fn $rust() -> i32 {
            answer(portplan_calls::$rust(&input()))
        }
    )*};
}

// Each WIT world's functions behind the crate feature of its name (all by
// default: the world `portplan`). One world or all three, as the component
// (its build.rs): any other set is no WIT world.
#[cfg(not(any(
    all(feature = "plans", feature = "firewalls", feature = "reach"),
    all(feature = "plans", not(feature = "firewalls"), not(feature = "reach")),
    all(feature = "firewalls", not(feature = "plans"), not(feature = "reach")),
    all(feature = "reach", not(feature = "plans"), not(feature = "firewalls")),
)))]
compile_error!(
    "portplan-extism: the features plans, firewalls and reach: one of them, or all three"
);

#[cfg(feature = "plans")]
export!(
    "catalog" catalog,
    "get-profile" get_profile,
    "parse-plan" parse_plan,
    "validate-plan" validate_plan,
    "check-host" check_host,
    "firewall-rules" firewall_rules,
    "render-report" render_report,
    "render-plan-error" render_plan_error,
);

#[cfg(feature = "firewalls")]
export!(
    "read-firewall" read_firewall,
    "plan-firewall" plan_firewall,
    "empty-firewall" empty_firewall,
    "plan-restore" plan_restore,
);

#[cfg(feature = "reach")]
export!(
    "probe-plan" probe_plan,
    "reach-report" reach_report,
    "render-truth-table" render_truth_table,
);
