//! Loads the portplan Extism plugin with the extism Rust crate and prints the
//! report JSON of a plan (or its rejection), as `portplan validate --format json` would.
//!
//! ```sh
//! cargo run -p portplan-wasm-build
//! cargo run -p portplan-tests --example extism-host -- dist/wasm/portplan-extism.wasm examples/plans/ocp-cluster.json
//! ```
//!
//! Exit status: 0 the report, 2 the plan was rejected (its plan-error JSON on
//! stdout, as the CLI's exit 2), 1 the plugin crashed or could not be loaded
//! (the trap's message on stderr, nothing on stdout). A crash is never
//! printed as a rejection: a rejection is an error whose message is
//! plan-error JSON, which a trap's never is.

use std::process::ExitCode;

use portplan_tests::extism_plugin::ExtismHost;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [plugin, plan] = args.as_slice() else {
        eprintln!("usage: extism-host PLUGIN.wasm PLAN.json");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(plan) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("extism-host: {plan}: {e}");
            return ExitCode::from(2);
        }
    };
    let answer = ExtismHost::load(plugin.as_ref())
        .map_err(|e| format!("{plugin}: {e:#}"))
        .and_then(|mut host| host.answer(&text));
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
            eprintln!("extism-host: the plugin crashed: {crash}");
            ExitCode::from(1)
        }
    }
}
