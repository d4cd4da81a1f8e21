//! portplan as a WebAssembly component: the WIT world `portplan` (every
//! function), or with only the feature `plans`, `firewalls` or `reach` that
//! world alone (build.rs), exported over portplan-core.
//!
//! What it is: each export's canonical-ABI arguments lifted into the JSON
//! object of its parameters, the function run by portplan-calls (as the
//! Extism plugin runs it, so both answer alike), and the answer lowered back
//! (`abi`, walking a table of the WIT's types that `build.rs` writes). What
//! it is not: it imports nothing (no WASI), so a host gives it nothing and
//! it can do no IO.
//!
//! Built only for wasm32 (`wasm-plugin/build` makes the component, adding
//! the WIT world it exports); on other targets the crate is empty.

#![cfg(target_family = "wasm")]

#[macro_use]
mod abi;

use abi::{Answer, Args};
use portplan_calls::Answer::Text;
use portplan_core::ReportFormat;
use portplan_core::shell::{compact_json, parse_json};

/// Runs `function` (one of portplan-calls') on an export's arguments:
/// typed values of the WIT, so only what core's parser checks beyond the
/// types can be refused (a `port-range` of 0, a reversed one), each problem
/// with its path, as in the Extism plugin.
fn run(function: Function, args: Args) -> Answer {
    let mut input = String::from("{");
    for (i, (param, json)) in args.iter().enumerate() {
        if i > 0 {
            input.push(',');
        }
        input.push_str(&compact_json(param));
        input.push(':');
        input.push_str(json);
    }
    input.push('}');
    function(&input).or_else(|error| match args.as_slice() {
        // The renderings (`render-report`, `render-truth-table`,
        // `render-plan-error`) answer a `string`, which cannot fail: the
        // problems of their input are what they render, in the format asked
        // for (an enum of the WIT's, so always one core reads).
        [_, ("format", format)] => {
            let format = parse_json(format).unwrap_or(ReportFormat::Json);
            Ok(Text(portplan_core::render_plan_error(&error, format)))
        }
        _ => Err(error),
    })
}

/// A WIT function of portplan-calls'.
type Function = fn(&str) -> Answer;

fn call(index: usize, flat: &[i64], function: Function) -> *mut u8 {
    abi::call(index, flat, |args| run(function, args))
}

/// The exports under their WIT names (`export_name` functions: the one
/// place this crate needs `unsafe` outside `abi`), each passing its
/// portplan-calls function as a pointer: one copy of `call` and `run`.
#[allow(unsafe_code)]
mod exports {
    use super::{abi::post, call};
    exports!(call, post, portplan_calls);
}
