//! Loads the portplan component in wasmtime (no WASI, an empty linker) and
//! prints the report of a plan, as the native `portplan validate` would.
//!
//! ```sh
//! cargo run -p portplan-wasm-build
//! cargo run -p portplan-tests --example wasmtime-host -- dist/wasm/portplan-component.wasm examples/plans/ocp-cluster.json table
//! ```
//!
//! Exit status: 0 the report, 2 the plan was rejected (the rendered
//! plan-error on stdout), 1 the component trapped or could not be loaded
//! (the trap's message on stderr). The store's hostcall fuel is sized for the
//! largest report the input limits admit (`ComponentHost::load`).

use std::process::ExitCode;

use portplan_tests::component::{ComponentHost, types::ReportFormat};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [component, plan, rest @ ..] = args.as_slice() else {
        eprintln!("usage: wasmtime-host COMPONENT.wasm PLAN.json [json|table|markdown|csv]");
        return ExitCode::from(2);
    };
    let format = match rest.first().map(String::as_str) {
        None | Some("json") => ReportFormat::Json,
        Some("table") => ReportFormat::Table,
        Some("markdown") => ReportFormat::Markdown,
        Some("csv") => ReportFormat::Csv,
        Some(other) => {
            eprintln!("unknown format {other}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(plan) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("wasmtime-host: {plan}: {e}");
            return ExitCode::from(2);
        }
    };
    let answer =
        ComponentHost::load(component.as_ref()).and_then(|mut host| host.answer(&text, format));
    match answer {
        Ok(Ok(report)) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Ok(Err(rejection)) => {
            print!("{rejection}");
            ExitCode::from(2)
        }
        Err(crash) => {
            eprintln!("wasmtime-host: the component crashed: {crash:#}");
            ExitCode::from(1)
        }
    }
}
