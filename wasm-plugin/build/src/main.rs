//! `cargo run -p portplan-wasm-build`: builds both plugins for
//! wasm32-unknown-unknown with the `wasm` profile, turns the component crate's
//! module into a WebAssembly component (wit-component, the library behind
//! `wasm-tools component new`), and writes
//!
//! - `dist/wasm/portplan-component.wasm` (the WIT world `portplan`: every
//!   function; no imports but types)
//! - `dist/wasm/portplan-extism.wasm` (the Extism plugin of the same)
//! - `dist/wasm/portplan-{plans,firewalls,reach}-{component,extism}.wasm`:
//!   each of the worlds `portplan` joins, alone (the crates' feature of
//!   its name), for a host that calls one world's functions
//!
//! `cargo run -p portplan-wasm-build -- portplan` (or any of the worlds'
//! names) builds only those. Each world's build relinks both crates (their
//! features differ from the last build's), about a minute for all four.
//!
//! When binaryen's `wasm-opt` is installed (`node_modules/.bin/wasm-opt`, from
//! the repo's package.json), both modules are shrunk with `-Oz` first (and
//! `--low-memory-unused`, see [`ASSUMPTIONS`]); the output says whether they
//! were.
//!
//! This is the one place those files come from: tests, examples and the page
//! use them there.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";

/// What rustc's wasm32-unknown-unknown emits; wasm-opt must accept all of it.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// What wasm-opt may assume of the modules: that nothing reaches the first
/// 1 KiB of memory through an `i32.add` that wraps past 4 GiB. Binaryen
/// then moves an added constant below 1 KiB into a load's or store's
/// `offset`, which does not wrap (`optimize-added-constants`, the flag's
/// only use in `-Oz`; a negative constant is never moved). The two differ
/// only for such a wrapped access: it now traps instead of reading or
/// writing there. rustc links the stack first, at `[0, 1 MiB)`, so that
/// first KiB is the deepest of the stack (which is why emscripten leaves
/// the flag off for stack-first layouts): the change can show only in a
/// frame within 1 KiB of overflowing the stack, that forms an address below
/// zero and adds back to it, and there it fails as a trap, which every host
/// reports, never as a wrong answer. Both plugins ~1% smaller
/// (BENCHMARKS.md, session 27).
const ASSUMPTIONS: [&str; 1] = ["--low-memory-unused"];

fn main() -> ExitCode {
    match build() {
        Ok(written) => {
            for (path, size) in written {
                println!("{:>8} bytes  {}", size, path.display());
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("portplan-wasm-build: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The worlds built: every function, then each world `portplan` joins,
/// alone (`portplan-<world>-*.wasm`).
const WORLDS: [&str; 4] = ["portplan", "plans", "firewalls", "reach"];

fn build() -> Result<Vec<(PathBuf, usize)>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let built = target_dir.join(TARGET).join(PROFILE);
    let wasm_opt = root.join("node_modules/.bin/wasm-opt");
    let wasm_opt = wasm_opt.is_file().then_some(wasm_opt);
    println!(
        "{}",
        if wasm_opt.is_some() {
            "wasm-opt -Oz: yes"
        } else {
            "wasm-opt -Oz: no (npm ci installs it)"
        }
    );
    let read = |name: &str| match &wasm_opt {
        Some(wasm_opt) => optimize(wasm_opt, &built.join(name)),
        None => {
            let path = built.join(name);
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
        }
    };
    let dist = root.join("dist/wasm");
    std::fs::create_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    let asked: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = asked.iter().find(|a| !WORLDS.contains(&a.as_str())) {
        return Err(format!("no world {unknown:?}: the worlds are {WORLDS:?}"));
    }
    let mut written = Vec::new();
    for world in WORLDS {
        if !asked.is_empty() && !asked.iter().any(|a| a == world) {
            continue;
        }
        let prefix = match world {
            "portplan" => world.to_string(),
            alone => format!("portplan-{alone}"),
        };
        cargo_build(&root, world)?;
        let mut module = read("portplan_component.wasm")?;
        embed_world(&root, world, &mut module)?;
        let component = wit_component::ComponentEncoder::default()
            .module(&module)
            .and_then(|encoder| encoder.validate(true).encode())
            .map_err(|e| format!("cannot make the component of {world}: {e:#}"))?;
        let plugin = read("portplan_extism.wasm")?;
        for (kind, bytes) in [("component", component), ("extism", plugin)] {
            let path = dist.join(format!("{prefix}-{kind}.wasm"));
            std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push((path, bytes.len()));
        }
    }
    Ok(written)
}

/// Both crates built for `world`: by default for `portplan`, with only the
/// world's feature for one it joins. (Each build overwrites the last's
/// files in `target/`; `build` reads them before the next.)
fn cargo_build(root: &Path, world: &str) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--locked",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .args(["-p", "portplan-component", "-p", "portplan-extism"]);
    if world != "portplan" {
        command.args([
            "--no-default-features".to_string(),
            "--features".to_string(),
            format!("portplan-component/{world},portplan-extism/{world}"),
        ]);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build of {world} for {TARGET} failed ({status})"
        ));
    }
    Ok(())
}

/// Adds to `module` the WIT world it exports (the `component-type` custom
/// section wit-component reads): the component crate writes its exports
/// from a table of the WIT, not with wit-bindgen, which would embed it.
fn embed_world(root: &Path, name: &str, module: &mut Vec<u8>) -> Result<(), String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(root.join("wit"))
        .map_err(|e| format!("wit/: {e:#}"))?;
    let world = resolve
        .select_world(&[package], Some(name))
        .map_err(|e| format!("wit/: {e:#}"))?;
    wit_component::embed_component_metadata(
        module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| format!("cannot add the WIT world to the module: {e:#}"))
}

/// `wasm-opt -Oz` of `module` under [`ASSUMPTIONS`], keeping its custom
/// sections (the component type information wit-component needs), its
/// passes run again until they shrink it no more (`--converge`: ~330
/// bytes off the `firewalls` component, session 35; all eight plugins
/// build in about 100 s on this machine).
fn optimize(wasm_opt: &Path, module: &Path) -> Result<Vec<u8>, String> {
    let out = module.with_extension("opt.wasm");
    let status = Command::new(wasm_opt)
        .arg("-Oz")
        .arg("--converge")
        .args(WASM_FEATURES)
        .args(ASSUMPTIONS)
        .arg(module)
        .arg("-o")
        .arg(&out)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", wasm_opt.display()))?;
    if !status.success() {
        return Err(format!(
            "wasm-opt failed on {} ({status})",
            module.display()
        ));
    }
    std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))
}
