"""Benchmark: one portplan task against a loop of the peer module opening the
same rules, for each firewall, side by side in one run.

Firewalls and their peers: iptables (`ansible.builtin.iptables`), ufw
(`community.general.ufw`, one item per rule) and firewalld
(`ansible.posix.firewalld`, one rich rule per item, permanent and immediate,
in the zone portplan uses: the test host's default zone, `public`). Hosts, each a network
namespace (hosts.py; ufw and firewalld with private /etc, /run, /var and
firewalld with its own dbus-daemon):

- `app1`: a FineDataLink main server of examples/plans/finedatalink-cluster.json
  (FineDataLink cluster with FineOps), 18 rules;
- `zone1-obs1`: an OBServer of a 3-zone OCP (three OCP-Servers, one OBServer
  per zone in its own subnet, two OBProxies; the plan is made here), 14 rules;
- `obs1`: OBServer obs1 of examples/plans/ocp-cluster.json, 6 rules (the
  original benchmark's host);
- `5 hosts`: the five hosts of examples/plans/ocp-cluster.json in one play
  (31 rules).

Each round times, for every host set and firewall: the firewall reset to its
original state (bench_firewalls.py; not timed), the play's first run (opens)
and its second run (nothing to do), portplan's play and the loop's play
taking turns (which one goes first alternates per round). Both plays must end
with the rules the plan admits, compared as sets of (source, ports,
transport): the script exits 1 if they do not. Then the breakdown of
portplan's task (bench_breakdown.py). Medians and ratios are printed as
markdown; the figures in BENCHMARKS.md come from this script.

Usage (root, after scripts/build-collection):
    .venv/bin/python tests/ansible/bench.py [ROUNDS] [--only iptables,ufw,firewalld]
        [--hosts 1,5] [--no-breakdown | --breakdown-only] [--collection TARBALL]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench_firewalls import BY_NAME, FIREWALLS, expected
from hosts import REPO, VENV_BIN, Lan, controller_env, sh

PLANS = os.path.join(REPO, "examples", "plans")
# The target's Python for the peer modules: the system's, which has
# firewalld's client library (python3-firewall) as a real host would.
TARGET_PYTHON = "/usr/bin/python3"

# An OCP whose OceanBase cluster spans three zones, one OBServer per zone in
# the zone's own subnet, three OCP-Servers (OCP's own high availability) and
# two OBProxies: zone1-obs1's rules admit 14 sources.
OCP_3ZONE = {
    "name": "ocp-3zone",
    "profiles": ["ocp"],
    "deploy-user": "root",
    "hosts": [
        {"name": "ocp1", "address": "198.18.2.10", "components": ["ocp-server"]},
        {"name": "ocp2", "address": "198.18.3.10", "components": ["ocp-server"]},
        {"name": "ocp3", "address": "198.18.4.10", "components": ["ocp-server"]},
        {"name": "zone1-obs1", "address": "198.18.2.11",
         "components": ["observer", "ocp-agent", "backup-agent"]},
        {"name": "zone2-obs1", "address": "198.18.3.11",
         "components": ["observer", "ocp-agent", "backup-agent"]},
        {"name": "zone3-obs1", "address": "198.18.4.11",
         "components": ["observer", "ocp-agent", "backup-agent"]},
        {"name": "proxy1", "address": "198.18.2.20", "components": ["obproxy", "ocp-agent"]},
        {"name": "proxy2", "address": "198.18.3.20", "components": ["obproxy", "ocp-agent"]},
    ],
    "networks": [
        {"name": "application", "cidrs": ["198.18.50.0/24"]},
        {"name": "ocp-console", "cidrs": ["198.18.60.0/24"]},
        {"name": "ocp-slb", "cidrs": ["198.18.2.5"]},
    ],
}


def report_rules(report):
    """Every host's desired rules: each port table row that names a source
    group, admitting the group's sources (core's `firewall-rules`)."""
    groups = {g["name"]: g for g in report["source-groups"]}
    return [{"host": host["host"], "spec": row["spec"], "tag": "portplan:" + row["spec"],
             "transport": row["transport"], "ports": row["ports"],
             "sources": groups[row["group"]]["sources"], "purpose": row["purpose"]}
            for host in report["hosts"] for row in host["ports"] if row.get("group")]


class Case:
    """One set of plan hosts (one or five) on one firewall."""

    def __init__(self, label, plan, hostnames, firewall, binary):
        self.label, self.plan, self.hostnames = label, plan, hostnames
        self.firewall = BY_NAME[firewall]
        self.rules = report_rules(json.loads(sh(binary, "validate", "--format", "json", plan)))
        self.want = {name: expected(self.rules, name) for name in hostnames}
        self.count = sum(len(want) for want in self.want.values())
        self.hosts = {}  # plan host name -> test host

    def items(self, hostname):
        return [self.firewall.item(rule, source) for rule in self.rules
                if rule["host"] == hostname for source in rule["sources"]]


def scenarios(work, host_counts):
    """(label, plan file, plan host names) of the host sets to measure."""
    ocp3 = os.path.join(work, "ocp-3zone.json")
    with open(ocp3, "w") as f:
        json.dump(OCP_3ZONE, f, indent=1)
    cluster = os.path.join(PLANS, "ocp-cluster.json")
    sets = []
    if 1 in host_counts:
        sets += [("FineDataLink main server app1", os.path.join(PLANS, "finedatalink-cluster.json"),
                  ["app1"]),
                 ("3-zone OCP OBServer zone1-obs1", ocp3, ["zone1-obs1"]),
                 ("OCP obs1", cluster, ["obs1"])]
    if 5 in host_counts:
        sets.append(("OCP, 5 hosts in one play", cluster,
                     ["ocp1", "obs1", "obs2", "obs3", "proxy1"]))
    return sets


def write_inventory(path, case, python):
    """A YAML (JSON) inventory: group `bench`, one entry per plan host, its
    loop items in `bench_items`."""
    hosts = {}
    for name in case.hostnames:
        host = case.hosts[name]
        hosts[name] = {"ansible_connection": "local", "ansible_shell_executable": host.shell,
                       "ansible_python_interpreter": python, "bench_items": case.items(name)}
    with open(path, "w") as f:
        json.dump({"bench": {"hosts": hosts}}, f, indent=1)


def write_plays(work, case, key):
    plays = {}
    portplan = f"""- hosts: bench
  gather_facts: false
  tasks:
    - portplan.ports.portplan:
        plan_file: {case.plan}
        firewall: {case.firewall.name}
{"        persist: false" + chr(10) if case.firewall.name == "iptables" else ""}"""
    zones = {getattr(host, "bench_zone", "public") for host in case.hosts.values()}
    if len(zones) != 1:
        raise RuntimeError(f"the test hosts' default zones differ: {zones}")
    loop = "- hosts: bench\n  gather_facts: false\n  tasks:\n" + case.firewall.loop_task(
        zones.pop())
    # The play's fixed cost (ansible-playbook's start, inventory, the play
    # itself), measured beside the others to tell the tasks' own time.
    empty = "- hosts: bench\n  gather_facts: false\n  tasks: []\n"
    for name, text in (("portplan", portplan), ("loop", loop), ("empty", empty)):
        path = os.path.join(work, f"{key}-{name}.yml")
        with open(path, "w") as f:
            f.write(text)
        plays[name] = path
    return plays


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.M)


def playbook(env, inventory, play, empty=False):
    """Run one play; (wall seconds, {host: changed count}). An `empty` play
    lists no host in its recap."""
    start = time.perf_counter()
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, play],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    recap = {m.group(1): (int(m.group(3)), int(m.group(4)) + int(m.group(5)))
             for m in RECAP.finditer(done.stdout)}
    if done.returncode != 0 or not (recap or empty) or any(bad for _, bad in recap.values()):
        raise RuntimeError(f"{play} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                           f"{done.stderr[-2000:]}")
    return wall, {host: changed for host, (changed, _) in recap.items()}


def bench_env(work, tarball=None):
    """controller_env without the test callback: plain ansible-playbook. With
    `tarball`, that collection tarball (e.g. a copy kept from an older build)
    instead of dist/collection's."""
    if tarball:
        collections = os.path.join(work, "collections")
        subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install",
                        "--force", "-p", collections, tarball], check=True, capture_output=True)
        env = controller_env(os.path.join(work, "unused"))
        env["ANSIBLE_COLLECTIONS_PATH"] = collections
    else:
        env = controller_env(work)
    for key in ("ANSIBLE_CALLBACK_PLUGINS", "ANSIBLE_CALLBACKS_ENABLED"):
        env.pop(key, None)
    return env


def collection_binary(env):
    """The x86_64 module binary of the installed collection (the one the
    plays run, whatever target/ holds by now)."""
    return os.path.join(env["ANSIBLE_COLLECTIONS_PATH"], "ansible_collections", "portplan",
                        "ports", "binaries", "portplan_linux_x86_64")


def make_hosts(cases, firewalls):
    """Test hosts: per firewall, one host holding every single-host case's
    address, and five more for the 5-host case. Returns the Lans."""
    lans = []
    for fw in firewalls:
        daemons = fw != "iptables"
        singles = [c for c in cases if c.firewall.name == fw and len(c.hostnames) == 1]
        if singles:
            lan = Lan(f"b{fw[:2]}1")
            lans.append(lan)
            addresses = []
            for case in singles:
                address = next(h["address"] for h in plan_hosts(case.plan)
                               if h["name"] == case.hostnames[0])
                if address not in addresses:
                    addresses.append(address)
            host = lan.host(f"{fw}-single", addresses[0], daemons=daemons)
            for address in addresses[1:]:
                host.run("ip", "addr", "add", f"{address}/15", "dev", "eth0")
            BY_NAME[fw].setup(host)
            BY_NAME[fw].save(host)
            for case in singles:
                case.hosts[case.hostnames[0]] = host
        for case in (c for c in cases if c.firewall.name == fw and len(c.hostnames) > 1):
            lan = Lan(f"b{fw[:2]}5")
            lans.append(lan)
            addresses = {h["name"]: h["address"] for h in plan_hosts(case.plan)}
            for name in case.hostnames:
                host = lan.host(f"{fw}-{name}", addresses[name], daemons=daemons)
                BY_NAME[fw].setup(host)
                BY_NAME[fw].save(host)
                case.hosts[name] = host
    return lans


def plan_hosts(path):
    with open(path) as f:
        return json.load(f)["hosts"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--only", default=",".join(FIREWALLS),
                        help="firewalls, comma-separated (default: all three)")
    parser.add_argument("--hosts", default="1,5", help="host counts: 1, 5 or 1,5 (default)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the breakdown")
    parser.add_argument("--breakdown-only", action="store_true", help="only the breakdown")
    parser.add_argument("--breakdown-rounds", type=int, default=5)
    parser.add_argument("--collection", metavar="TARBALL",
                        help="the collection to measure (default: dist/collection's)")
    args = parser.parse_args(argv)
    args.only = [fw for fw in args.only.split(",") if fw]
    unknown = [fw for fw in args.only if fw not in FIREWALLS]
    if unknown:
        parser.error(f"unknown firewall {unknown}: choose from {', '.join(FIREWALLS)}")
    args.hosts = {int(n) for n in args.hosts.split(",")}
    if not args.hosts <= {1, 5}:
        parser.error("--hosts takes 1, 5 or 1,5")
    if args.breakdown_only:
        args.hosts = {1}
    return args


def measure(cases, env, work, rounds):
    """Time every case's plays; returns the times and the list of mismatches."""
    times = {}
    problems = []
    prepared = []
    for i, case in enumerate(cases):
        inventory = os.path.join(work, f"case{i}-inventory.json")
        write_inventory(inventory, case, TARGET_PYTHON)
        prepared.append((case, inventory, write_plays(work, case, f"case{i}")))
    for r in range(rounds):
        for case, inventory, plays in prepared:
            order = ["portplan", "loop"] if r % 2 == 0 else ["loop", "portplan"]
            times.setdefault((case, "empty"), []).append(
                playbook(env, inventory, plays["empty"], empty=True)[0])
            ends = {}
            for name in order:
                for host in set(case.hosts.values()):
                    case.firewall.reset(host)
                    case.firewall.check_reset(host)
                first, changed1 = playbook(env, inventory, plays[name])
                second, changed2 = playbook(env, inventory, plays[name])
                times.setdefault((case, name, "opens"), []).append(first)
                times.setdefault((case, name, "again"), []).append(second)
                if not all(changed1.get(h) for h in case.hostnames):
                    problems.append(f"{case.label} {case.firewall.name} {name}: first run changed "
                                    f"nothing on some host: {changed1}")
                if any(changed2.get(h) for h in case.hostnames):
                    problems.append(f"{case.label} {case.firewall.name} {name}: second run "
                                    f"changed something: {changed2}")
                ends[name] = {h: case.firewall.admitted(case.hosts[h]) for h in case.hostnames}
            for h in case.hostnames:
                for name in order:
                    if ends[name][h] != case.want[h]:
                        problems.append(
                            f"{case.label} {case.firewall.name} {name} on {h}: admits "
                            f"{sorted(ends[name][h] - case.want[h])} too many and misses "
                            f"{sorted(case.want[h] - ends[name][h])}")
                if ends["portplan"][h] != ends["loop"][h]:
                    problems.append(f"{case.label} {case.firewall.name} on {h}: portplan and "
                                    f"the loop end with different rules")
            print(f"round {r + 1}/{rounds} {case.label} {case.firewall.name}: "
                  + ", ".join(f"{n} {times[(case, n, 'opens')][-1]:.2f}/"
                              f"{times[(case, n, 'again')][-1]:.2f} s" for n in order),
                  file=sys.stderr, flush=True)
    return times, problems


def table(cases, times, rounds):
    median = {key: statistics.median(values) for key, values in times.items()}
    lines = [f"Wall time of the whole `ansible-playbook` run, median of {rounds} rounds "
             "(first run opens the rules, second run finds nothing to do); `task` is the "
             "play less an empty play's median in the same rounds:", "",
             "| host (rules) | firewall | empty play | portplan first | loop first "
             "| loop / portplan | task ratio | portplan second | loop second | loop / portplan "
             "| task ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        e = median[(case, "empty")]
        p1, l1 = median[(case, "portplan", "opens")], median[(case, "loop", "opens")]
        p2, l2 = median[(case, "portplan", "again")], median[(case, "loop", "again")]

        def task(loop, portplan):
            return f"{(loop - e) / (portplan - e):.1f}x" if portplan > e else "-"

        lines.append(f"| {case.label} ({case.count}) | {case.firewall.name} | {e:.2f} s "
                     f"| {p1:.2f} s | {l1:.2f} s | **{l1 / p1:.1f}x** | {task(l1, p1)} "
                     f"| {p2:.2f} s | {l2:.2f} s | **{l2 / p2:.1f}x** | {task(l2, p2)} |")
    return "\n".join(lines)


def main(argv):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix="portplan-bench-")
    env = bench_env(work, args.collection)
    binary = collection_binary(env)
    cases = [Case(label, plan, names, fw, binary) for fw in args.only
             for label, plan, names in scenarios(work, args.hosts)]
    lans = []
    problems = []
    try:
        started = time.monotonic()
        lans = make_hosts(cases, args.only)
        print(f"hosts ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
        version = subprocess.run([os.path.join(VENV_BIN, "ansible"), "--version"],
                                 capture_output=True, text=True).stdout.split("\n")[0]
        print(f"{time.strftime('%Y-%m-%d')}, {version}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.2f} at the start\n")
        if not args.breakdown_only:
            times, problems = measure(cases, env, work, args.rounds)
            print(table(cases, times, args.rounds))
            print(f"\nload average {os.getloadavg()[0]:.2f} at the end\n")
        if not args.no_breakdown:
            import bench_breakdown
            print(bench_breakdown.run(cases, env, work, args.breakdown_rounds))
    finally:
        for lan in lans:
            lan.close()
    if problems:
        print("\nRULES DIFFER OR A RUN MISBEHAVED:", *problems, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
