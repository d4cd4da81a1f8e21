"""Writes the reach corpus inputs: a plan, what the responders reported and
what every source measured, for three scenarios. The expected targets come
from `portplan reach probe --dry-run`; only the outcomes are chosen here.

    python3 tests/corpus/reach/make.py target/debug/portplan

Then `PORTPLAN_BLESS=1 cargo test -p portplan-tests --test corpus` writes the
`*.out.txt` every artifact must reproduce; review them like code.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

PLAN = {
    "name": "reach-corpus",
    "profiles": ["ocp"],
    "hosts": [
        {"name": "ocp1", "address": "198.18.1.1", "components": ["ocp-server"]},
        {"name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"]},
        {"name": "proxy1", "address": "198.18.0.20", "components": ["obproxy", "ocp-agent"]},
    ],
    "networks": [{"name": "application", "cidrs": ["198.18.1.50"]}],
}
SOURCES = [["--host", "ocp1"], ["--host", "obs1"], ["--host", "proxy1"],
           ["--network", "application"], ["--outsider"]]


def as_planned(source, target):
    return ("connected", "portplan-reach token") if target["expect"] == "allow" else ("timeout", "timed out")


def router_drops_2881(source, target):
    """The network firewall between the subnets drops 2881: ocp1 and the
    application network are across it, proxy1 is not."""
    across = source in ({"host": "ocp1"}, {"network": "application"})
    if target["port"] == 2881 and across:
        return ("timeout", "connection timed out")
    return as_planned(source, target)


def held_and_open(source, target):
    """obs1's 2881 is held by another process before install, and proxy1
    has 2883 open to everyone."""
    if target["destination"] == "obs1" and target["port"] == 2881:
        return ("wrong-responder", "answered: 5.7.25-OceanBase")
    if target["destination"] == "proxy1" and target["port"] == 2883:
        return ("connected", "portplan-reach token")
    return as_planned(source, target)


SCENARIOS = {
    "all-as-planned": (as_planned, []),
    "router-drops-2881": (router_drops_2881, []),
    "held-and-overexposed": (held_and_open, [{"plan": "reach-corpus", "host": "obs1",
                                              "listening": [],
                                              "held": [{"spec": "observer.sql", "port": 2881,
                                                        "transport": "tcp"}]}]),
}


def main(binary):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as plan:
        json.dump(PLAN, plan)
        plan.flush()
        probe_plans = [json.loads(subprocess.run(
            [binary, "reach", "probe", plan.name, *source, "--dry-run"],
            check=True, capture_output=True, text=True).stdout) for source in SOURCES]
    for name, (outcome, served) in SCENARIOS.items():
        probed = []
        for probes in probe_plans:
            results = []
            for t in probes["targets"]:
                kind, detail = outcome(probes["source"], t)
                results.append({"destination": t["destination"], "spec": t["spec"],
                                "port": t["port"], "transport": t["transport"],
                                "outcome": kind, "detail": detail, "elapsed-ms": 1})
            probed.append({"plan": probes["plan"], "source": probes["source"],
                           "phase": "preinstall", "results": results})
        with open(os.path.join(HERE, f"{name}.input.json"), "w") as f:
            json.dump({"plan": PLAN, "served": served, "probed": probed}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
