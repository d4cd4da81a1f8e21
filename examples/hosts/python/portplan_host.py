"""Load the portplan Extism plugin with the Python extism SDK.

    portplan_host.py PLUGIN.wasm PLAN.json       print the plan's report JSON (or rejection)
    portplan_host.py PLUGIN.wasm --corpus DIR    check every DIR/*.plan.json against its
                                                 *.report.json, byte for byte, and every
                                                 DIR/reach/*.input.json against its truth
                                                 table and probe plans

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


TRUTH_FORMATS = ["json", "table", "markdown", "csv"]


def call(plugin: extism.Plugin, name: str, args: dict) -> tuple[bool, str]:
    """(True, output) or (False, the plan-error JSON of a rejection); raises
    Crash when the plugin crashed."""
    try:
        return True, plugin.call(name, json.dumps(args)).decode()
    except extism.Error as error:
        message = str(error)
        if is_rejection(message):
            return False, message
        raise Crash(message) from error


def reach(plugin: extism.Plugin, input_text: str) -> tuple[str, list]:
    """A probe plan per source, then the truth table in every format."""
    case = json.loads(input_text)
    probes = [json.loads(call(plugin, "probe-plan", {"plan": case["plan"], "source": p["source"],
                                                     "phase": p["phase"]})[1])
              for p in case["probed"]]
    ok, table = call(plugin, "reach-report",
                     {"plan": case["plan"], "served": case["served"], "probed": case["probed"]})
    truth = ""
    for fmt in TRUTH_FORMATS:
        name, args = (("render-truth-table", {"table": json.loads(table), "format": fmt}) if ok
                      else ("render-plan-error", {"error": json.loads(table), "format": fmt}))
        truth += f"==> {fmt}\n" + json.loads(call(plugin, name, args)[1])
    return truth, probes


def check_reach_corpus(plugin: extism.Plugin, corpus: Path) -> int:
    """Every reach/*.input.json against its *.truth.txt and *.probes.json."""
    passed, failed = 0, 0
    for case in sorted((corpus / "reach").glob("*.input.json")):
        stem = case.name.replace(".input.json", "")
        truth, probes = reach(plugin, case.read_text())
        if (truth == case.with_name(f"{stem}.truth.txt").read_text()
                and probes == json.loads(case.with_name(f"{stem}.probes.json").read_text())):
            passed += 1
        else:
            failed += 1
            print(f"DIFFERS reach/{case.name}", file=sys.stderr)
    print(f"python-extism reach: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def main(argv: list[str]) -> int:
    if not (len(argv) == 2 or (len(argv) == 3 and argv[1] == "--corpus")):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with extism.Plugin(str(Path(argv[0]).resolve()), wasi=False) as plugin:
            if len(argv) == 3:
                return max(check_corpus(plugin, Path(argv[2])),
                           check_reach_corpus(plugin, Path(argv[2])))
            text, rejected = answer(plugin, Path(argv[1]).read_text())
            sys.stdout.write(text)
            return 2 if rejected else 0
    except (Crash, extism.Error) as crash:
        print(f"portplan_host.py: the plugin crashed: {crash}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
