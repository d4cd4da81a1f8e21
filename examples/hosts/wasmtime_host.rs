//! Loads the portplan component in wasmtime (no WASI, an empty linker) and
//! prints the report of a plan, as the native `portplan validate` would.
//!
//! ```sh
//! cargo run -p portplan-wasm-build
//! cargo run -p portplan-tests --example wasmtime-host -- dist/wasm/portplan-component.wasm examples/plans/ocp-cluster.json table
//! ```

use portplan_tests::component::{ComponentHost, types::ReportFormat};

fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [component, plan, rest @ ..] = args.as_slice() else {
        eprintln!("usage: wasmtime-host COMPONENT.wasm PLAN.json [json|table|markdown|csv]");
        std::process::exit(2);
    };
    let format = match rest.first().map(String::as_str) {
        None | Some("json") => ReportFormat::Json,
        Some("table") => ReportFormat::Table,
        Some("markdown") => ReportFormat::Markdown,
        Some("csv") => ReportFormat::Csv,
        Some(other) => {
            eprintln!("unknown format {other}");
            std::process::exit(2);
        }
    };
    let mut host = ComponentHost::load(component.as_ref())?;
    print!(
        "{}",
        host.validate(&std::fs::read_to_string(plan)?, format)?
    );
    Ok(())
}
