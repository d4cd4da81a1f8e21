"""Load the portplan Extism plugin with the Python extism SDK.

    portplan_host.py PLUGIN.wasm PLAN.json       print the plan's report JSON (or rejection)
    portplan_host.py PLUGIN.wasm --corpus DIR    check every DIR/*.plan.json against its
                                                 *.report.json, byte for byte

The plugin gets no WASI and no host functions. Each function takes a JSON
object of its WIT parameters and returns JSON; a rejected plan is an
extism.Error whose message is the plan-error JSON.
"""

import json
import sys
from pathlib import Path

import extism


def validate(plugin: extism.Plugin, plan_text: str) -> str:
    """parse-plan, validate-plan, render-report: the report as portplan renders it."""
    try:
        plan = plugin.call("parse-plan", json.dumps({"text": plan_text}))
        report = plugin.call("validate-plan", b'{"plan":' + plan + b"}")
        rendered = plugin.call("render-report", b'{"report":' + report + b',"format":"json"}')
        return json.loads(rendered)
    except extism.Error as rejection:
        return str(rejection)


def check_corpus(plugin: extism.Plugin, corpus: Path) -> int:
    passed, failed = 0, 0
    for plan in sorted(corpus.glob("*.plan.json")):
        expected = plan.with_name(plan.name.replace(".plan.json", ".report.json")).read_text()
        if validate(plugin, plan.read_text()) == expected:
            passed += 1
        else:
            failed += 1
            print(f"DIFFERS {plan.name}", file=sys.stderr)
    print(f"python-extism: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--corpus":
        with extism.Plugin(str(Path(argv[0]).resolve()), wasi=False) as plugin:
            return check_corpus(plugin, Path(argv[2]))
    if len(argv) == 2:
        with extism.Plugin(str(Path(argv[0]).resolve()), wasi=False) as plugin:
            sys.stdout.write(validate(plugin, Path(argv[1]).read_text()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
