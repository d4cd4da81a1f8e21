"""Benchmark: the probe's concurrency. One source tries 30 planned ports of
one destination; the destination's firewall drops 10 of them, so 10 attempts
can only end by timing out. Probed one at a time that would take ten
timeouts; concurrently it takes about one. Prints the median of the rounds
as a markdown table; the figure in BENCHMARKS.md comes from this script.

Usage (root, after scripts/build-collection): .venv/bin/python tests/ansible/bench_reach.py [ROUNDS]
"""

import json
import os
import signal
import statistics
import sys
import tempfile
import time

from hosts import PORTPLAN, Lan

PORTS = list(range(7001, 7031))
DROPPED = PORTS[-10:]
TIMEOUT_MS = 1000

PLAN = {
    "name": "probe-bench",
    "profiles": ["bench"],
    "custom-profiles": [{
        "name": "bench", "title": "Thirty ports",
        "components": [{"name": "svc", "title": "Service", "required": True},
                       {"name": "client", "title": "Client", "required": True}],
        "specs": [{
            "id": f"svc.p{port}", "component": "svc", "ports": port, "transport": "tcp",
            "allocation": "fixed", "exposure": "peers", "accessed-by": [{"component": "client"}],
            "modifiable": "not-supported", "purpose": "bench", "source": "bench",
        } for port in PORTS],
    }],
    "deploy-user": "root",
    "hosts": [{"name": "src", "address": "198.18.8.1", "components": ["client"]},
              {"name": "dst", "address": "198.18.8.2", "components": ["svc"]}],
}

DEFAULT_DROP = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t}
}
"""


def main(rounds):
    work = tempfile.mkdtemp(prefix="portplan-bench-reach-")
    plan = os.path.join(work, "plan.json")
    with open(plan, "w") as f:
        json.dump(PLAN, f)
    lan = Lan("br")
    try:
        src = lan.host("src", "198.18.8.1")
        dst = lan.host("dst", "198.18.8.2")
        dst.run("nft", "-f", "-", stdin=DEFAULT_DROP)
        dst.run(PORTPLAN, "open", plan, "--host", "dst", "--firewall", "nftables")
        for port in DROPPED:
            dst.run("nft", "insert", "rule", "inet", "filter", "input", "tcp", "dport", str(port), "drop")
        serve = dst.spawn(PORTPLAN, "reach", "serve", plan, "--host", "dst", "--for", "600")
        serve.stdout.readline()
        times = []
        for _ in range(rounds):
            started = time.monotonic()
            results = json.loads(src.run(PORTPLAN, "reach", "probe", plan, "--host", "src",
                                         "--timeout", str(TIMEOUT_MS)))
            times.append(time.monotonic() - started)
        outcomes = {}
        for r in results["results"]:
            outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        serve.send_signal(signal.SIGTERM)
        serve.wait()
        serve.stdout.close()
    finally:
        lan.close()
    median = statistics.median(times)
    serial = len(DROPPED) * TIMEOUT_MS / 1000
    print(f"| targets | timed out | timeout per attempt | probe wall time (median of {rounds}) | "
          "ten timeouts one after another |")
    print("|---|---|---|---|---|")
    print(f"| {len(PORTS)} ({outcomes}) | {len(DROPPED)} | {TIMEOUT_MS} ms | {median:.2f} s | "
          f"{serial:.0f} s |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
