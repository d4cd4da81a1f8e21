"""Benchmark: one portplan task against a loop of ansible.builtin.iptables
tasks opening the same rules, side by side in one run.

A test host (network namespace, iptables with a default-drop INPUT chain) is
reset to its original ruleset before every measured play. Each round times,
in order: portplan opening the rules, portplan again (nothing to do), the
iptables loop opening them, and the loop again. The median of the rounds and
the ratios are printed as a markdown table; the figures in BENCHMARKS.md come
from this script.

Usage (root, after scripts/build-collection): .venv/bin/python tests/ansible/bench.py [ROUNDS]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from hosts import REPO, VENV_BIN, Lan, controller_env, plan_report

ORIGINAL = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -j REJECT
COMMIT
"""

PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")

PORTPLAN_PLAY = f"""- hosts: bench
  gather_facts: false
  tasks:
    - portplan.ports.portplan:
        plan_file: {PLAN}
        host: obs1
        firewall: iptables
        persist: false
"""

LOOP_PLAY = """- hosts: bench
  gather_facts: false
  tasks:
    - ansible.builtin.iptables:
        chain: INPUT
        action: insert
        protocol: "{{ item.protocol }}"
        destination_port: "{{ item.port }}"
        source: "{{ item.source }}"
        jump: ACCEPT
        comment: "{{ item.tag }}"
      loop: %s
"""


def loop_items():
    """The same rules portplan opens on obs1, one item per source."""
    items = []
    for rule in plan_report(PLAN)["rules"]:
        if rule["host"] != "obs1":
            continue
        first, last = rule["ports"]["first"], rule["ports"]["last"]
        port = str(first) if first == last else f"{first}:{last}"
        for source in rule["sources"]:
            items.append({"protocol": rule["transport"], "port": port, "source": source,
                          "tag": rule["tag"]})
    return items


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    work = tempfile.mkdtemp(prefix="portplan-bench-")
    env = controller_env(work)
    lan = Lan("bench")
    try:
        host = lan.host("obs1", "198.18.2.11")
        inventory = os.path.join(work, "inventory.ini")
        with open(inventory, "w") as f:
            f.write(f"[bench]\nobs1 ansible_connection=local ansible_shell_executable={host.shell} "
                    f"ansible_python_interpreter={VENV_BIN}/python\n")
        items = loop_items()
        plays = {"portplan": PORTPLAN_PLAY, "iptables loop": LOOP_PLAY % json.dumps(items)}
        for name, text in plays.items():
            with open(os.path.join(work, name.replace(" ", "-") + ".yml"), "w") as f:
                f.write(text)

        def timed(name):
            start = time.perf_counter()
            subprocess.run(["ansible-playbook", "-i", inventory,
                            os.path.join(work, name.replace(" ", "-") + ".yml")],
                           env=env, check=True, capture_output=True)
            return time.perf_counter() - start

        times = {(name, run): [] for name in plays for run in ("opens", "again")}
        for _ in range(rounds):
            for name in plays:
                host.run("iptables-restore", stdin=ORIGINAL)
                times[(name, "opens")].append(timed(name))
                times[(name, "again")].append(timed(name))
                # Both must end with the same rules, or the comparison is unfair.
                tagged = host.run("iptables-save").count("portplan:")
                assert tagged == len(items), f"{name} left {tagged} rules, not {len(items)}"
        median = {key: statistics.median(values) for key, values in times.items()}
        print(f"{len(items)} iptables rules (one per source) on one host, {rounds} rounds, "
              f"median wall time of ansible-playbook:\n")
        print("| play | first run (opens) | second run (nothing to do) |")
        print("|---|---|---|")
        for name in plays:
            print(f"| {name} | {median[(name, 'opens')]:.2f} s | {median[(name, 'again')]:.2f} s |")
        for run in ("opens", "again"):
            ratio = median[("iptables loop", run)] / median[("portplan", run)]
            print(f"\niptables loop / portplan, {run}: {ratio:.1f}x")
    finally:
        lan.close()


if __name__ == "__main__":
    main()
