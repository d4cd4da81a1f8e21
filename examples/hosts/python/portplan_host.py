"""Load the portplan Extism plugin with the Python extism SDK.

    portplan_host.py PLUGIN.wasm PLAN.json       print the plan's report JSON (or rejection)
    portplan_host.py PLUGIN.wasm --corpus DIR    check every DIR/*.plan.json against its
                                                 *.report.json, byte for byte

The plugin gets no WASI and no host functions. Each function takes a JSON
object of its WIT parameters and returns JSON; a rejected plan is an
extism.Error whose message is the plan-error JSON.

Exit status: 0 the report, 2 the plan was rejected (the plan-error JSON on
stdout, as the CLI's exit 2), 1 the plugin crashed (its message on stderr,
nothing on stdout). The SDK raises extism.Error for a trap too; only a
message that is plan-error JSON is a rejection, anything else is a crash.
"""

import json
import sys
from pathlib import Path

import extism


class Crash(Exception):
    """The plugin failed without answering: a trap, or an error that is no plan-error."""


def is_rejection(message: str) -> bool:
    """Whether an extism.Error message is the plugin's plan-error JSON."""
    try:
        error = json.loads(message)
    except ValueError:
        return False
    return isinstance(error, dict) and isinstance(error.get("problems"), list) and bool(error["problems"])


def answer(plugin: extism.Plugin, plan_text: str) -> tuple[str, bool]:
    """parse-plan, validate-plan, render-report: (the report, False) or
    (the plan-error JSON, True). Raises Crash when the plugin crashed."""
    try:
        plan = plugin.call("parse-plan", json.dumps({"text": plan_text}))
        report = plugin.call("validate-plan", b'{"plan":' + plan + b"}")
        rendered = plugin.call("render-report", b'{"report":' + report + b',"format":"json"}')
        return json.loads(rendered), False
    except extism.Error as error:
        message = str(error)
        if is_rejection(message):
            return message, True
        raise Crash(message) from error


def check_corpus(plugin: extism.Plugin, corpus: Path) -> int:
    passed, failed = 0, 0
    for plan in sorted(corpus.glob("*.plan.json")):
        expected = plan.with_name(plan.name.replace(".plan.json", ".report.json")).read_text()
        if answer(plugin, plan.read_text())[0] == expected:
            passed += 1
        else:
            failed += 1
            print(f"DIFFERS {plan.name}", file=sys.stderr)
    print(f"python-extism: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def main(argv: list[str]) -> int:
    if not (len(argv) == 2 or (len(argv) == 3 and argv[1] == "--corpus")):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with extism.Plugin(str(Path(argv[0]).resolve()), wasi=False) as plugin:
            if len(argv) == 3:
                return check_corpus(plugin, Path(argv[2]))
            text, rejected = answer(plugin, Path(argv[1]).read_text())
            sys.stdout.write(text)
            return 2 if rejected else 0
    except (Crash, extism.Error) as crash:
        print(f"portplan_host.py: the plugin crashed: {crash}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
