"""Load + first call of the Extism plugin in Python (the extism SDK): the
Python figures of BENCHMARKS.md ("Plugin load and first call").

    .venv/bin/python wasm-plugin/bench/load.py [ROUNDS] PLUGIN.wasm [PLUGIN.wasm ...]

A round makes a fresh plugin from each file's bytes in turn ("load":
compile and instantiate), then calls validate-plan on
examples/plans/ocp-cluster.json ("first call", which also inflates and
parses the built-in catalog). Prints the median of the rounds per plugin, in
ms. The SDK keeps compiled modules in wasmtime's disk cache by default, so
"load" is a cache hit after the first; EXTISM_CACHE_CONFIG= (empty) turns the
cache off and measures compiling.
"""

import json
import statistics
import sys
import time
from pathlib import Path

import extism

ROOT = Path(__file__).resolve().parents[2]


def measure(wasms: list[bytes], rounds: int) -> list[tuple[float, float]]:
    """(median load, median first call) per plugin; the plugins take turns
    within each round, so a busy machine slows them alike."""
    plan = json.loads((ROOT / "examples/plans/ocp-cluster.json").read_text())
    payload = json.dumps({"plan": plan})
    load = [[] for _ in wasms]
    first = [[] for _ in wasms]
    for _ in range(rounds):
        for i, wasm in enumerate(wasms):
            t0 = time.perf_counter()
            plugin = extism.Plugin(wasm, wasi=False)
            t1 = time.perf_counter()
            out = plugin.call("validate-plan", payload)
            t2 = time.perf_counter()
            if b'"findings"' not in out:
                raise SystemExit("validate-plan gave no report")
            del plugin
            load[i].append((t1 - t0) * 1000)
            first[i].append((t2 - t1) * 1000)
    return [(statistics.median(l), statistics.median(f)) for l, f in zip(load, first)]


def main(argv: list[str]) -> int:
    rounds = int(argv.pop(0)) if argv and argv[0].isdigit() else 15
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print("| plugin | bytes | Python load | Python first call |")
    print("|---|---|---|---|")
    wasms = [Path(path).read_bytes() for path in argv]
    for path, wasm, (load, first) in zip(argv, wasms, measure(wasms, rounds)):
        print(f"| {path} | {len(wasm)} | {load:.1f} ms | {first:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
