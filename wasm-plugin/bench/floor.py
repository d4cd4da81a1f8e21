"""What a plugin of only some WIT functions would weigh: the Extism plugin
with every other export removed, its dead code dropped and shrunk again, as
a plugin per concern (plans, firewalls, reachability) would ship.

    cargo run -p portplan-wasm-build
    python3 wasm-plugin/bench/floor.py [dist/wasm/portplan-extism.wasm]

For each group below: binaryen's `wasm-metadce` keeps the group's exports
(and `memory`) as the only roots, then `wasm-opt -Oz` shrinks what is left,
as `portplan-wasm-build` does. Both come from the repo's package.json
(`node_modules/.bin`). The figures are an upper bound of a separate build
of the same functions: LLVM inlined with every export present, and the data
section (the catalog, messages) is kept whole.
"""

import json
import os
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
    ("plans (the page's functions)", PLANS),
    ("firewalls", FIREWALLS),
    ("reachability", REACH),
    ("every function", PLANS + FIREWALLS + REACH),
]


def graph(exports: list[str]) -> list[dict]:
    """wasm-metadce's reachability graph: one root reaching `exports`."""
    roots = exports + ["memory"]
    nodes = [{"name": "root", "root": True, "reaches": [f"export:{e}" for e in roots]}]
    nodes += [{"name": f"export:{e}", "export": e} for e in roots]
    nodes += [{"name": f"import:{i}", "import": ["extism:host/env", i]} for i in IMPORTS]
    return nodes


def weigh(plugin: str, exports: list[str], work: str) -> int:
    graph_file = os.path.join(work, "graph.json")
    with open(graph_file, "w") as out:
        json.dump(graph(exports), out)
    kept = os.path.join(work, "kept.wasm")
    shrunk = os.path.join(work, "shrunk.wasm")
    subprocess.run([os.path.join(BIN, "wasm-metadce"), *FEATURES, plugin, "-f", graph_file,
                    "-o", kept], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(BIN, "wasm-opt"), "-Oz", *FEATURES, kept, "-o", shrunk],
                   check=True)
    return os.path.getsize(shrunk)


def main(argv: list[str]) -> int:
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
