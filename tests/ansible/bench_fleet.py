"""Benchmark: is the per-host cost of the portplan task independent of the
fleet size?

One target host, `h1`, an OBServer (observer, ocp-agent, backup-agent) in a
network namespace (hosts.py) with a native nftables firewall (an `inet
filter` input chain that drops), gets the real `ansible-playbook` running
`portplan.ports.portplan` with `plan_file` (the action plugin's path: it reads
the file on the controller and sends its text to the module), `firewall:
nftables`. The plans are scripts/bench's `plan(n)` (40% FineDataLink +
FineOps, 60% OCP, no two addresses mergeable) of 50 and 5,000 hosts (or
--sizes), every address moved into 198.18.0.0/15, where no namespace but
h1's holds one, and h1 made the OBServer at the namespace's address. Its
OBServer rules admit the cluster's every OBServer: the fleet-dependent part.

Each round, the plan sizes taking turns (which goes first rotates per
round), times for each size:

- the play's first run (`state: present`, the firewall and
  /etc/nftables.conf reset to their original state first, not timed), its
  second run (nothing to do) and a `state: checked` run: the whole
  `ansible-playbook` wall time, and the task's own time (a callback stamps
  the task's start and its result, bench_breakdown.py's);
- inside the task, from the stamps of a shell wrapper that every command
  Ansible runs on the target goes through (bench_breakdown.py's), where the
  time goes: the module's run in the play, the transfer of the binary and
  the args file, the other commands and the controller's own work;
- the module binary run directly in the namespace on the args Ansible sent
  (kept once per size with ANSIBLE_KEEP_REMOTE_FILES, untimed), state set per
  run, the firewall reset before the first: its wall time and the bytes of
  its result (what Ansible reads back and parses).

Every run must succeed, the first change and the second and the check change
nothing; in the end the firewall must admit exactly what `portplan
validate` plans for h1 (as sets of source, ports, transport), and every size
must end with the same portplan rules (tags, ports, transports: the sources
differ by design). Otherwise the script exits 1. Medians of the rounds and
the ratios to the smallest size are printed as markdown.

Usage (root, after scripts/build-collection):
    .venv/bin/python tests/ansible/bench_fleet.py [ROUNDS] [--sizes 50,5000]
        [--no-checked] [--collection TARBALL] [--keep-work]
From a git worktree, which has no .venv, target/ or dist/ of its own
(hosts.py takes them from PORTPLAN_BUILD_ROOT):
    PORTPLAN_BUILD_ROOT=/work/main /work/main/.venv/bin/python \\
        tests/ansible/bench_fleet.py 5
"""

import argparse
import glob
import importlib.machinery
import importlib.util
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench import bench_env, collection_binary, playbook, report_rules
from bench_breakdown import CALLBACK, WRAPPER, classify
from bench_firewalls import Firewall, admitted, expected
from bench_reach import DEFAULT_DROP
from hosts import REPO, VENV_BIN, Lan

TARGET = "h1"
# Every plan address is in 198.18.0.0/15 (the test hosts' link); only the
# target's is held by a namespace, and nothing connects to any of them.
TEST_NET = ipaddress.ip_network("198.18.0.0/15")
# The client networks, in the upper half of the /15, clear of the hosts (up
# to 20,000 of them, portplan's limit, take 198.18.0.1-198.18.156.63).
NETWORKS = ["198.19.10.0/24", "198.19.20.0/24", "198.19.30.0/24", "198.19.40.0/24",
            "198.19.50.0/24"]
OBSERVER = ["observer", "ocp-agent", "backup-agent"]
# The target's Python: unused by the binary module, named so that Ansible
# never runs interpreter discovery.
TARGET_PYTHON = "/usr/bin/python3"

STATES = {"first": "present", "second": "present", "checked": "checked"}


def scripts_bench():
    """scripts/bench as a module (it has no .py extension), for its plan()."""
    path = os.path.join(REPO, "scripts", "bench")
    loader = importlib.machinery.SourceFileLoader("scripts_bench", path)
    spec = importlib.util.spec_from_loader("scripts_bench", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_address(i):
    """scripts/bench's address(i) moved into 198.18.0.0/15: every other
    address, so no two hosts merge into one CIDR."""
    address = TEST_NET.network_address + 2 * i + 1
    if address not in TEST_NET:
        raise ValueError(f"host {i} does not fit in {TEST_NET}")
    return str(address)


def fleet_plan(plan, n):
    """scripts/bench's plan of n hosts, every address in TEST_NET, and the
    target an OBServer (it is a FineDataLink server there)."""
    value = plan(n)
    for i, host in enumerate(value["hosts"]):
        host["address"] = test_address(i)
    target = next(h for h in value["hosts"] if h["name"] == TARGET)
    target["components"] = list(OBSERVER)
    if len(value["networks"]) != len(NETWORKS):
        raise RuntimeError(f"scripts/bench's plan has {len(value['networks'])} networks, this "
                           f"script moves {len(NETWORKS)}")
    for network, cidr in zip(value["networks"], NETWORKS):
        network["cidrs"] = [cidr]
    # Nothing outside the test link, ever (the rules name these addresses).
    named = [h["address"] for h in value["hosts"]] + [c for net in value["networks"]
                                                      for c in net["cidrs"]]
    if not all(ipaddress.ip_network(a).subnet_of(TEST_NET) for a in named):
        raise RuntimeError(f"a plan address is outside {TEST_NET}")
    return value


def write_plan(work, plan, n, binary):
    """The plan file of n hosts, checked with `portplan validate` (exit 1
    means findings, 2 a refusal); its path and the validate report."""
    path = os.path.join(work, f"plan-{n}.json")
    with open(path, "w") as f:
        json.dump(fleet_plan(plan, n), f)
    done = subprocess.run([binary, "validate", path, "--format", "json"], capture_output=True,
                          text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"the {n}-host plan is refused ({done.returncode}): {done.stderr}")
    report = json.loads(done.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    if errors:
        raise RuntimeError(f"the {n}-host plan has errors: {errors[:3]}")
    return path, report


# -- the firewall


class Nftables(Firewall):
    """The target's nftables ruleset, originally a native input chain that
    drops (bench_reach.py's, as a stock nftables.conf with a drop policy has
    it), and the nftables.conf portplan persists to (in the host's private
    /etc): set up once, reset before every first run. No peer module."""

    name = "nftables"
    CONF = "/etc/nftables.conf"

    def setup(self, host):
        host.run("nft", "-f", "-", stdin="flush ruleset\n" + DEFAULT_DROP)
        host.bench_conf = host.run("cat", self.CONF)

    def reset(self, host):
        host.run("nft", "-f", "-", stdin="flush ruleset\n" + DEFAULT_DROP)
        host.run("sh", "-c", f"cat > {self.CONF}", stdin=host.bench_conf)

    def state(self, host):
        return host.run("nft", "-s", "list", "ruleset")

    def admitted(self, host):
        """(the portplan rules as (tag, ports, transport), in chain order;
        every (source, ports, transport) they admit)."""
        items = json.loads(host.run("nft", "-j", "list", "ruleset"))["nftables"]
        sets = {(s["family"], s["table"], s["name"]): s.get("elem", [])
                for s in (i["set"] for i in items if "set" in i)}
        rules, found = [], set()
        for rule in (i["rule"] for i in items if "rule" in i):
            if not rule.get("comment", "").startswith("portplan:"):
                continue
            sources, ports, transport = [], None, None
            for expr in rule["expr"]:
                match = expr.get("match")
                if not match or "payload" not in match["left"]:
                    continue
                field, right = match["left"]["payload"]["field"], match["right"]
                if field == "saddr":
                    if isinstance(right, str) and right.startswith("@"):
                        right = sets[(rule["family"], rule["table"], right[1:])]
                    sources = right if isinstance(right, list) else [right]
                elif field == "dport":
                    transport = match["left"]["payload"]["protocol"]
                    ports = tuple(right["range"]) if isinstance(right, dict) else (right, right)
            rules.append((rule["comment"], ports, transport))
            for source in sources:
                for network in networks(source):
                    found.add(admitted(network, *ports, transport))
        return rules, found


def networks(element):
    """An nft address element (an address, a prefix or a range) as CIDRs."""
    if isinstance(element, dict) and "elem" in element:
        element = element["elem"]["val"]
    if isinstance(element, dict) and "prefix" in element:
        return [f"{element['prefix']['addr']}/{element['prefix']['len']}"]
    if isinstance(element, dict) and "range" in element:
        first, last = (ipaddress.ip_address(a) for a in element["range"])
        return [str(n) for n in ipaddress.summarize_address_range(first, last)]
    return [element]


# -- the controller


def timing_env(env, work):
    """The bench env with the timing callback (task start, task result)."""
    callbacks = os.path.join(work, "timing-callback")
    os.makedirs(callbacks, exist_ok=True)
    with open(os.path.join(callbacks, "bench_timing.py"), "w") as f:
        f.write(CALLBACK)
    return dict(env, ANSIBLE_CALLBACK_PLUGINS=callbacks, ANSIBLE_CALLBACKS_ENABLED="bench_timing",
                BENCH_TIMING=os.path.join(work, "timing.json"))


def stamping_shell(work, host):
    """The target's shell: a wrapper that logs every command's start and end."""
    log = os.path.join(work, "shell.log")
    wrapper = os.path.join(work, "shell")
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(log=log, pid=host.holder.pid))
    os.chmod(wrapper, 0o755)
    return wrapper, log


def write_inventory(work, shell):
    path = os.path.join(work, "inventory.json")
    with open(path, "w") as f:
        json.dump({"bench": {"hosts": {TARGET: {
            "ansible_connection": "local", "ansible_shell_executable": shell,
            "ansible_python_interpreter": TARGET_PYTHON}}}}, f, indent=1)
    return path


def write_play(work, n, plan_path, state):
    path = os.path.join(work, f"play-{n}-{state}.yml")
    with open(path, "w") as f:
        f.write(f"""- hosts: bench
  gather_facts: false
  tasks:
    - portplan.ports.portplan:
        plan_file: {plan_path}
        firewall: nftables
        state: {state}
""")
    return path


def timed_play(env, inventory, play, log):
    """One run of the play: wall seconds, changed count, the task's own
    seconds and its segments [(label, seconds)] from the stamps."""
    if os.path.exists(log):
        os.unlink(log)
    wall, changed = playbook(env, inventory, play)
    with open(env["BENCH_TIMING"]) as f:
        marks = {what: t for t, what in json.load(f)}
    with open(log) as f:
        commands = [line.rstrip("\n").split(" ", 2) for line in f]
    task_start, task_end = marks["task start"], marks["task result"]
    segments = []
    last, gap = task_start, "action plugin until its first command (reads the plan file)"
    for i in range(0, len(commands) - 1, 2):
        t0, t1 = float(commands[i][0]), float(commands[i + 1][0])
        label = classify(commands[i][2] if len(commands[i]) > 2 else "")
        segments.append((gap, t0 - last))
        segments.append((label, t1 - t0))
        last = t1
        gap = {"temporary directory (mkdir)": "transfer: binary and args file copied in",
               "module run (through nsenter and sh)": "controller: parses the result"}.get(
                   label, f"controller between commands (after {label})")
    segments.append(("result to the callback (worker to main process)", task_end - last))
    return wall, changed.get(TARGET), task_end - task_start, segments


def kept_args(env, inventory, play, work, n):
    """The args file Ansible sends for this play, kept by one untimed run."""
    remote = os.path.join(work, f"remote-tmp-{n}")
    playbook(dict(env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=remote), inventory, play)
    found = glob.glob(os.path.join(remote, "ansible-tmp-*", "args"))
    if len(found) != 1:
        raise RuntimeError(f"expected one kept args file under {remote}, found {found}")
    with open(found[0]) as f:
        args = json.load(f)
    size = os.path.getsize(found[0])
    shutil.rmtree(remote)
    return args, size


def direct_run(host, binary, args, state):
    """The module binary in the host on the args file: (wall seconds, result
    bytes, result)."""
    path = os.path.join(host.dir, "bench-args.json")
    with open(path, "w") as f:
        json.dump(dict(args, state=state), f)
    start = time.perf_counter()
    done = subprocess.run([*host.enter(), binary, path], capture_output=True)
    wall = time.perf_counter() - start
    result = json.loads(done.stdout)
    if done.returncode != 0 or result.get("failed"):
        raise RuntimeError(f"the module failed directly ({done.returncode}): {result.get('msg')}")
    return wall, len(done.stdout), result


# -- the measurement


class Size:
    """One plan size: its files, its expected rules and what was measured."""

    def __init__(self, n, path, report):
        self.n, self.path = n, path
        self.plan_bytes = os.path.getsize(path)
        self.want = expected(report_rules(report), TARGET)
        self.plays = {}  # state -> play file
        self.args, self.args_bytes = None, 0  # the args Ansible sends (kept_args)
        self.times = {}  # (what, run) -> [seconds per round]
        self.segments = {}  # run -> [the task's segments per round]
        self.result_bytes = {}  # run -> the direct run's stdout bytes
        self.ends = []  # (rules, admitted) after each round's second play run

    def add(self, key, value):
        self.times.setdefault(key, []).append(value)

    def median(self, key):
        return statistics.median(self.times[key])


class Target:
    """The target host, its firewall and the controller that plays on it."""

    def __init__(self, env, work, host, binary, runs):
        self.env, self.host, self.binary, self.runs = env, host, binary, runs
        self.firewall = Nftables()
        self.firewall.setup(host)
        self.firewall.save(host)
        shell, self.log = stamping_shell(work, host)
        self.inventory = write_inventory(work, shell)

    def reset(self):
        self.firewall.reset(self.host)
        self.firewall.check_reset(self.host)

    def round(self, size, problems):
        """The plays, then the module directly; each from a reset firewall."""
        self.reset()
        for run in self.runs:
            wall, changed, task, segments = timed_play(self.env, self.inventory,
                                                       size.plays[STATES[run]], self.log)
            size.add(("play", run), wall)
            size.add(("task", run), task)
            size.segments.setdefault(run, []).append(segments)
            if (changed == 1) != (run == "first"):
                problems.append(f"{size.n} hosts, play {run} run: changed={changed}")
            if run == "second":
                size.ends.append(self.firewall.admitted(self.host))
        self.reset()
        for run in self.runs:
            wall, nbytes, result = direct_run(self.host, self.binary, size.args, STATES[run])
            size.add(("module", run), wall)
            size.result_bytes[run] = nbytes
            if bool(result.get("changed")) != (run == "first"):
                problems.append(f"{size.n} hosts, direct {run} run: "
                                f"changed={result.get('changed')}")


def check_rules(sizes, problems):
    """Each size admits exactly its plan's rules for the target; all sizes
    end with the same portplan rules (tags, ports, transports)."""
    for size in sizes:
        for rules, found in size.ends:
            if found != size.want:
                problems.append(f"{size.n} hosts: the firewall admits {len(found - size.want)} "
                                f"too many and misses {len(size.want - found)}: "
                                f"{sorted(found ^ size.want)[:5]}")
    shapes = {size.n: sorted(size.ends[-1][0]) for size in sizes}
    if len({json.dumps(shape) for shape in shapes.values()}) != 1:
        problems.append(f"the portplan rules differ between plan sizes: {shapes}")


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def tables(sizes, runs, rounds):
    base = sizes[0]
    cols = [("play first", ("play", "first")), ("play second", ("play", "second")),
            ("task first", ("task", "first")), ("task second", ("task", "second")),
            ("module first", ("module", "first")), ("module second", ("module", "second"))]
    if "checked" in runs:
        cols += [("play checked", ("play", "checked")), ("task checked", ("task", "checked")),
                 ("module checked", ("module", "checked"))]
    out = [f"Median of {rounds} rounds. `play`: the whole `ansible-playbook` run; `task`: the "
           "portplan task from its start to its result (callback stamps); `module`: the binary "
           "run directly in the target on the args Ansible sent. `first` opens the rules "
           "(firewall reset before), `second` has nothing to do, `checked` is `state: checked`. "
           "`args`: the args file Ansible sends (the plan text inside); `result`: the module's "
           "stdout, first/second run. `sources`: (source, ports, transport) the target ends up "
           "admitting.", "",
           "| plan hosts | plan bytes | args bytes | " + " | ".join(c for c, _ in cols)
           + " | result bytes | sources |",
           "|" + "---:|" * (len(cols) + 5)]
    for size in sizes:
        cells = [f"{size.median(key):.2f} s" if key[0] == "play" else ms(size.median(key))
                 for _, key in cols]
        out.append(f"| {size.n:,} | {size.plan_bytes:,} | {size.args_bytes:,} | "
                   + " | ".join(cells) + f" | {size.result_bytes['first']:,} / "
                   f"{size.result_bytes['second']:,} | {len(size.want):,} |")
    for size in sizes[1:]:
        cells = [f"{size.median(key) / base.median(key):.2f}x" for _, key in cols]
        out.append(f"| **ratio {size.n:,} / {base.n:,}** "
                   f"| {size.plan_bytes / base.plan_bytes:.0f}x "
                   f"| {size.args_bytes / base.args_bytes:.0f}x | " + " | ".join(cells)
                   + f" | {size.result_bytes['first'] / base.result_bytes['first']:.0f}x / "
                   f"{size.result_bytes['second'] / base.result_bytes['second']:.0f}x "
                   f"| {len(size.want) / len(base.want):.0f}x |")
    out += ["", "Where the task's time goes (median per segment; the shell wrapper's stamps):", "",
            "| segment | " + " | ".join(f"{s.n:,} {run}" for s in sizes for run in runs) + " |",
            "|---|" + "---:|" * (len(sizes) * len(runs))]
    labels = [label for label, _ in base.segments["first"][0]]
    for size in sizes:
        for run in runs:
            for segments in size.segments[run]:
                for label, _ in segments:
                    if label not in labels:
                        labels.append(label)
    for label in labels:
        cells = []
        for size in sizes:
            for run in runs:
                values = [sum(v for l, v in segments if l == label)
                          for segments in size.segments[run]]
                cells.append(ms(statistics.median(values)))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--sizes", default="50,5000",
                        help="plan sizes in hosts, comma-separated; ratios are to the first "
                             "(default 50,5000; e.g. 50,1000,5000,20000)")
    parser.add_argument("--no-checked", action="store_true", help="skip the state: checked runs")
    parser.add_argument("--collection", metavar="TARBALL",
                        help="the collection to measure (default: dist/collection's, under "
                             "PORTPLAN_BUILD_ROOT when set)")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the work directory (plans, plays, logs)")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    if len(args.sizes) < 2 or any(n < 10 for n in args.sizes):
        parser.error("--sizes takes two or more sizes of at least 10 hosts")
    return args


def main(argv):
    args = parse_args(argv)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="portplan-bench-fleet-")
    lan = None
    problems = []
    try:
        env = timing_env(bench_env(work, args.collection), work)
        binary = collection_binary(env)
        plan = scripts_bench().plan
        sizes = [Size(n, *write_plan(work, plan, n, binary)) for n in args.sizes]
        runs = ["first", "second"] + ([] if args.no_checked else ["checked"])

        lan = Lan("fleet")
        # A private /run/lock: the module's lock file stays out of the machine's.
        lock = os.path.join(lan.root, "run-lock")
        os.makedirs(lock)
        host = lan.host(TARGET, test_address(1), binds=[(lock, "/run/lock")])
        target = Target(env, work, host, binary, runs)
        for size in sizes:
            size.plays = {state: write_play(work, size.n, size.path, state)
                          for state in set(STATES.values())}
            # Also the first play of each size: Ansible's caches warm before timing.
            size.args, size.args_bytes = kept_args(env, target.inventory, size.plays["checked"],
                                                   work, size.n)

        version = subprocess.run([os.path.join(VENV_BIN, "ansible"), "--version"],
                                 capture_output=True, text=True).stdout.split("\n")[0]
        print(f"{time.strftime('%Y-%m-%d')}, {version}, {os.cpu_count()} CPUs, module binary "
              f"{binary} ({os.path.getsize(binary):,} bytes), load average "
              f"{os.getloadavg()[0]:.2f} at the start\n")
        for r in range(args.rounds):
            turn = sizes[r % len(sizes):] + sizes[:r % len(sizes)]
            for size in turn:
                target.round(size, problems)
                print(f"round {r + 1}/{args.rounds} {size.n} hosts: play "
                      + ", ".join(f"{run} {size.times[('play', run)][-1]:.2f} s" for run in runs)
                      + "; task " + ", ".join(ms(size.times[('task', run)][-1]) for run in runs)
                      + "; module " + ", ".join(ms(size.times[('module', run)][-1])
                                                for run in runs),
                      file=sys.stderr, flush=True)
        check_rules(sizes, problems)
        print(tables(sizes, runs, args.rounds))
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end; "
              f"{time.monotonic() - started:.0f} s in all")
    finally:
        if lan is not None:
            lan.close()
        if args.keep_work:
            print(f"work directory: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("\nA RUN MISBEHAVED OR THE RULES DIFFER:", *problems, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
