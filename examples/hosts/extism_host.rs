//! Loads the portplan Extism plugin with the extism Rust crate and prints the
//! report JSON of a plan (or its rejection), as `portplan validate --format json` would.
//!
//! ```sh
//! cargo run -p portplan-wasm-build
//! cargo run -p portplan-tests --example extism-host -- dist/wasm/portplan-extism.wasm examples/plans/ocp-cluster.json
//! ```

use portplan_tests::extism_plugin::ExtismHost;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [plugin, plan] = args.as_slice() else {
        eprintln!("usage: extism-host PLUGIN.wasm PLAN.json");
        std::process::exit(2);
    };
    let mut host = ExtismHost::load(plugin.as_ref())?;
    print!("{}", host.validate(&std::fs::read_to_string(plan)?)?);
    Ok(())
}
