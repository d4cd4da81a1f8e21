"""What a plugin of only some WIT functions would weigh: the Extism plugin
with every other export removed, its dead code dropped and shrunk again, as
a plugin per concern (plans, firewalls, reachability) would ship.

    cargo run -p portplan-wasm-build
    python3 wasm-plugin/bench/floor.py [dist/wasm/portplan-extism.wasm]
    python3 wasm-plugin/bench/floor.py --logic
    python3 wasm-plugin/bench/floor.py --build

For each group below: binaryen's `wasm-metadce` keeps the group's exports
(and `memory`) as the only roots, then `wasm-opt -Oz` shrinks what is left,
as `portplan-wasm-build` does. Both come from the repo's package.json
(`node_modules/.bin`). The figures are an upper bound of a separate build
of the same functions: LLVM inlined with every export present, and the data
section (the catalog, messages) is kept whole.

`--logic` weighs core's own work instead: a scratch crate (written to a
temporary directory, built as the plugins are: opt-level z, fat LTO,
panic=abort, wasm32-unknown-unknown, then `wasm-opt -Oz`) whose exports, one
per WIT function under its WIT name, take their typed arguments as opaque
pointers from an imported function and hand their typed results to another.
No JSON is read or written at the boundary and no Extism is linked; what
core does inside stays (the catalog's parse, `parse-plan`'s decoding, the
JSON rendering of `render-report` and `render-plan-error`). It is the size
no rewrite of the records' decoding and encoding alone can go below.

`--build` weighs any group of functions built alone, both kinds: for each
group, a git worktree of HEAD (committed work only) whose WIT worlds
(`wit/portplan.wit`, every world's exports) and Extism export list
(`wasm-plugin/extism/src/lib.rs`) keep only the group's functions, built by
`portplan-wasm-build -- portplan` into `target/concerns` (a few minutes the
first time, ~30 s a group after). Unlike the cut above, LLVM and wasm-opt
see only the group's exports; the component keeps `portplan`'s `use`d
types, so it is a little larger than the world of the same functions that
`portplan-wasm-build` ships.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "node_modules", ".bin")

# What rustc's wasm32-unknown-unknown emits (wasm-plugin/build/src/main.rs).
FEATURES = [
    "--enable-bulk-memory", "--enable-multivalue", "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int", "--enable-reference-types", "--enable-sign-ext",
]

# What wasm-build tells wasm-opt it may assume (wasm-plugin/build/src/main.rs).
ASSUMPTIONS = ["--low-memory-unused"]

# The Extism host functions the plugin may import (extism-pdk).
IMPORTS = ["error_set", "input_length", "input_load_u64", "input_load_u8", "output_set",
           "alloc", "store_u64", "store_u8"]

PLANS = ["catalog", "get-profile", "parse-plan", "validate-plan", "check-host",
         "render-report", "firewall-rules", "render-plan-error"]
FIREWALLS = ["read-firewall", "plan-firewall", "empty-firewall", "plan-restore"]
REACH = ["probe-plan", "reach-report", "render-truth-table"]

GROUPS = [
    ("validate-plan", ["validate-plan"]),
    ("check-host", ["check-host"]),
    ("plans", PLANS),
    ("firewalls", FIREWALLS),
    ("reachability", REACH),
    # What a host driving one job calls: a plan read and validated, then
    # its firewall's or its probes' functions.
    ("a firewall host (a plan's rules, then firewalls)",
     ["parse-plan", "validate-plan", "check-host", "firewall-rules"] + FIREWALLS),
    ("a probe host (a plan, then reachability)",
     ["parse-plan", "validate-plan", "render-plan-error"] + REACH),
    ("every function", PLANS + FIREWALLS + REACH),
]


# `--logic`'s scratch crate: each WIT function of core, arguments in and
# result out as opaque pointers, so that nothing at the boundary is decoded
# or encoded and nothing core does is optimised away.
LOGIC_IMPORTS = ("env", ["arg", "sink"])
LOGIC_LIB = r'''
#![allow(unsafe_code)]
use portplan_core::*;
unsafe extern "C" {
    fn arg(which: u32) -> *const u8;
    fn sink(result: *const u8);
}
fn get<T>(which: u32) -> &'static T {
    // SAFETY: never run; the host that would call these does not exist.
    unsafe { &*arg(which).cast::<T>() }
}
fn out<T>(result: T) {
    // SAFETY: as above.
    unsafe { sink((&raw const result).cast()) };
    std::mem::forget(result);
}
macro_rules! export {
    ($name:literal, $rust:ident, $body:expr) => {
        #[unsafe(export_name = $name)]
        pub extern "C" fn $rust() {
            out($body)
        }
    };
}
export!("catalog", a, catalog());
export!("get-profile", b, get_profile(get::<String>(0)));
export!("parse-plan", c, parse_plan(get::<String>(1)));
export!("validate-plan", d, validate_plan(get(2)));
export!("check-host", e, check_host(get(2), get::<String>(0), *get(3), get(4)));
export!("firewall-rules", f, firewall_rules(get(5), get::<Option<String>>(6).as_deref()));
export!("render-report", g, render_report(get(5), *get(7)));
export!("render-plan-error", h, render_plan_error(get(8), *get(7)));
export!("read-firewall", i, read_firewall(*get(9), get(10)));
export!("empty-firewall", j, empty_firewall(*get(9)));
export!("plan-firewall", k, plan_firewall(get::<Vec<FirewallRule>>(11), get(12), *get(13)));
export!("plan-restore", l, plan_restore(get(12), get(14)));
export!("probe-plan", m, probe_plan(get(2), get(15), *get(3)));
export!("reach-report", n, reach_report(get(2), get::<Vec<ServeStatus>>(16), get::<Vec<ProbeResults>>(17)));
export!("render-truth-table", o, render_truth_table(get(18), *get(7)));
'''
LOGIC_TOML = """
[package]
name = "portplan-logic-floor"
version = "0.0.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]
path = "lib.rs"

[dependencies]
portplan-core = {{ path = "{core}" }}

# The workspace's `wasm` profile, spelled out: this crate is a workspace
# of its own, so its `release` is cargo's default, not the workspace's.
[profile.logic-floor]
inherits = "release"
opt-level = "z"
lto = true
panic = "abort"
codegen-units = 1
strip = "symbols"

[workspace]
"""


def logic_plugin(work: str) -> str:
    """Builds `--logic`'s crate in `work` with the workspace's lock file
    (offline: every crate it needs is one core already uses), shrunk."""
    crate = os.path.join(work, "crate")
    os.makedirs(crate)
    with open(os.path.join(crate, "Cargo.toml"), "w") as out:
        out.write(LOGIC_TOML.format(core=os.path.join(ROOT, "core")))
    with open(os.path.join(crate, "lib.rs"), "w") as out:
        out.write(LOGIC_LIB)
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), crate)
    target = os.path.join(ROOT, "target")
    subprocess.run(["cargo", "build", "--offline", "--quiet", "--profile", "logic-floor",
                    "--target", "wasm32-unknown-unknown", "--target-dir", target],
                   cwd=crate, check=True)
    built = os.path.join(target, "wasm32-unknown-unknown", "logic-floor",
                         "portplan_logic_floor.wasm")
    shrunk = os.path.join(work, "logic.wasm")
    subprocess.run([os.path.join(BIN, "wasm-opt"), "-Oz", *FEATURES, *ASSUMPTIONS,
                    "--strip-debug", built, "-o", shrunk], check=True)
    return shrunk


def graph(exports: list[str], imports: tuple[str, list[str]]) -> list[dict]:
    """wasm-metadce's reachability graph: one root reaching `exports`."""
    roots = exports + ["memory"]
    module, names = imports
    nodes = [{"name": "root", "root": True, "reaches": [f"export:{e}" for e in roots]}]
    nodes += [{"name": f"export:{e}", "export": e} for e in roots]
    nodes += [{"name": f"import:{i}", "import": [module, i]} for i in names]
    return nodes


def weigh(plugin: str, exports: list[str], work: str,
          imports: tuple[str, list[str]] = ("extism:host/env", IMPORTS)) -> int:
    graph_file = os.path.join(work, "graph.json")
    with open(graph_file, "w") as out:
        json.dump(graph(exports, imports), out)
    kept = os.path.join(work, "kept.wasm")
    shrunk = os.path.join(work, "shrunk.wasm")
    subprocess.run([os.path.join(BIN, "wasm-metadce"), *FEATURES, plugin, "-f", graph_file,
                    "-o", kept], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(BIN, "wasm-opt"), "-Oz", *FEATURES, *ASSUMPTIONS, kept,
                    "-o", shrunk], check=True)
    return os.path.getsize(shrunk)


def logic() -> int:
    with tempfile.TemporaryDirectory() as work:
        plugin = logic_plugin(work)
        print(f"{os.path.getsize(plugin):>8}  core's functions, no JSON at the boundary")
        for name, exports in GROUPS + [("every function but parse-plan", PLANS[:2] + PLANS[3:]
                                        + FIREWALLS + REACH)]:
            print(f"{weigh(plugin, exports, work, LOGIC_IMPORTS):>8}  {name}")
    return 0


def keep_only(tree: str, exports: list[str]) -> None:
    """The worktree's WIT worlds and Extism export list cut to `exports`
    (every world's: build.rs holds `portplan` to the others together)."""
    wit = os.path.join(tree, "wit", "portplan.wit")
    with open(wit) as f:
        lines = f.read().split("\n")
    kept, docs = [], []
    for line in lines:
        export = re.match(r"\s*export ([\w-]+):", line)
        if line.strip().startswith("///"):
            docs.append(line)
            continue
        if not export or export.group(1) in exports:
            kept += docs + [line]
        docs = []
    with open(wit, "w") as f:
        f.write("\n".join(kept))
    extism = os.path.join(tree, "wasm-plugin", "extism", "src", "lib.rs")
    with open(extism) as f:
        lib = f.read()
    entry = re.compile(r'\n    "([\w-]+)" \w+,')
    assert len(entry.findall(lib)) == len(PLANS + FIREWALLS + REACH), "the export! list"
    with open(extism, "w") as f:
        f.write(entry.sub(lambda m: m.group(0) if m.group(1) in exports else "", lib))


def separate_builds() -> int:
    target = os.path.join(ROOT, "target", "concerns")
    with tempfile.TemporaryDirectory() as work:
        tree = os.path.join(work, "tree")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--quiet", "--detach", tree,
                        "HEAD"], check=True)
        try:
            os.symlink(os.path.join(ROOT, "node_modules"), os.path.join(tree, "node_modules"))
            print(f"{'component':>9} {'Extism':>8}  (HEAD built per group)")
            for name, exports in GROUPS:
                subprocess.run(["git", "checkout", "--quiet", "--", "wit",
                                "wasm-plugin/extism/src/lib.rs"], cwd=tree, check=True)
                keep_only(tree, exports)
                subprocess.run(["cargo", "run", "--quiet", "--locked", "-p",
                                "portplan-wasm-build", "--", "portplan"], cwd=tree, check=True,
                               stdout=subprocess.DEVNULL,
                               env={**os.environ, "CARGO_TARGET_DIR": target})
                size = [os.path.getsize(os.path.join(tree, "dist", "wasm", f"portplan-{kind}.wasm"))
                        for kind in ("component", "extism")]
                print(f"{size[0]:>9} {size[1]:>8}  {name}")
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree],
                           check=True)
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--logic"]:
        return logic()
    if argv == ["--build"]:
        return separate_builds()
    plugin = argv[0] if argv else os.path.join(ROOT, "dist", "wasm", "portplan-extism.wasm")
    if not os.path.isfile(plugin) or not os.path.isfile(os.path.join(BIN, "wasm-metadce")):
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{os.path.getsize(plugin):>8}  {plugin}")
    with tempfile.TemporaryDirectory() as work:
        for name, exports in GROUPS:
            print(f"{weigh(plugin, exports, work):>8}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
