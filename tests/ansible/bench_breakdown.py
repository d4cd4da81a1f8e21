"""Where the time of the portplan task goes (tests/ansible/bench.py).

Two views, per firewall, on the FineDataLink main server app1 (18 rules; the
single-host test host of bench.py, reset before every first run):

1. The task under ansible-playbook. A callback stamps the play's events and
   the host's shell (ansible_shell_executable) is a wrapper that stamps every
   command Ansible runs on the target, so the whole run splits into:
   ansible-playbook's start-up, the action plugin up to its first command,
   the `uname -sm` round trip (if the action plugin still makes it), the
   temporary directory, the binary's transfer (the gap between creating the
   directory and the chmod: Ansible copies the binary and the args file
   there), the module's run, the clean-up and the end of the play.
2. The module binary run directly in the test host with an args file (as
   test_safety.py's run_module does), once plainly (wall time) and once
   under `strace -f -ttt -e trace=execve,clone,clone3,fork,vfork,exit_group`:
   every firewall tool invocation the module makes, how long each takes,
   and, for the tools that are programs in their own right (ufw, a Python
   program that runs iptables), what they run in turn and how long their
   Python start takes (their exec to their first child's exec).
"""

import gzip
import json
import os
import re
import statistics
import subprocess
import time

from hosts import VENV_BIN

CALLBACK = '''
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events = []

    def _event(self, what):
        self.events.append((time.time(), what))

    def v2_playbook_on_start(self, playbook):
        self._event("playbook start")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._event("task start")

    def v2_runner_on_start(self, host, task):
        self._event("runner start")

    def v2_runner_on_ok(self, result):
        self._event("task result")

    def v2_playbook_on_stats(self, stats):
        self._event("stats")
        with open(os.environ["BENCH_TIMING"], "w") as f:
            json.dump(self.events, f)
'''

WRAPPER = """#!/bin/sh
printf '%s start %s\\n' "$(date +%s.%N)" "$*" >> {log}
nsenter -t {pid} -m -n -- /bin/sh "$@"
rc=$?
printf '%s end %s\\n' "$(date +%s.%N)" "$rc" >> {log}
exit $rc
"""


def classify(command):
    if "uname" in command:
        return "`uname -sm`"
    if "mkdir" in command:
        return "temporary directory (mkdir)"
    if "chmod" in command:
        return "chmod of the binary and args"
    if "portplan_linux" in command or "AnsiballZ" in command:
        return "module run (through nsenter and sh)"
    if "rm -f -r" in command or "rm -rf" in command:
        return "clean-up (rm -rf of the directory)"
    if "echo ~" in command:
        return "home directory (echo ~)"
    return command[:40]


def task_segments(env, work, case, host, rounds):
    """Median seconds of each segment of the portplan play, first and second run."""
    from bench import playbook, write_inventory, write_plays, TARGET_PYTHON

    callbacks = os.path.join(work, "timing-callback")
    os.makedirs(callbacks, exist_ok=True)
    with open(os.path.join(callbacks, "bench_timing.py"), "w") as f:
        f.write(CALLBACK)
    log = os.path.join(work, f"shell-{case.firewall.name}.log")
    wrapper = os.path.join(work, f"shell-{case.firewall.name}")
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(log=log, pid=host.holder.pid))
    os.chmod(wrapper, 0o755)
    timing = os.path.join(work, "timing.json")
    env = dict(env, ANSIBLE_CALLBACK_PLUGINS=callbacks, ANSIBLE_CALLBACKS_ENABLED="bench_timing",
               BENCH_TIMING=timing)
    inventory = os.path.join(work, f"breakdown-{case.firewall.name}.json")
    shell, host.shell = host.shell, wrapper
    try:
        write_inventory(inventory, case, TARGET_PYTHON)
    finally:
        host.shell = shell
    plays = write_plays(work, case, f"breakdown-{case.firewall.name}")
    empty = os.path.join(work, "empty-play.yml")
    with open(empty, "w") as f:
        f.write("- hosts: bench\n  gather_facts: false\n  tasks: []\n")

    runs = {"opens": [], "again": []}
    baseline = []
    for _ in range(rounds):
        start = time.time()
        subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, empty],
                       env=env, check=True, capture_output=True)
        baseline.append(time.time() - start)
        case.firewall.reset(host)
        for run in ("opens", "again"):
            if os.path.exists(log):
                os.unlink(log)
            start = time.time()
            playbook(env, inventory, plays["portplan"])
            end = time.time()
            with open(timing) as f:
                events = json.load(f)
            with open(log) as f:
                commands = [line.rstrip("\n").split(" ", 2) for line in f]
            segments = []
            last, last_label = start, "start"
            marks = dict((what, t) for t, what in events)
            points = [(marks["playbook start"], "ansible-playbook start-up (Python, imports, "
                       "inventory, collection)"),
                      (marks["task start"], "play set-up until the task starts")]
            for stamp, label in points:
                segments.append((label, stamp - last))
                last = stamp
            previous = "action plugin until its first command (reads the plan file, builds the "
            previous += "args, forks the worker)"
            for i in range(0, len(commands) - 1, 2):
                t0, _, text = commands[i]
                t1 = float(commands[i + 1][0])
                label = classify(text)
                segments.append((previous, float(t0) - last))
                segments.append((label, t1 - float(t0)))
                last = t1
                previous = {"temporary directory (mkdir)": "transfer: binary and args file "
                            "copied in (put_file)"}.get(label, f"controller between commands "
                                                          f"(after {label})")
            segments.append(("result back to the controller, callbacks", marks["task result"]
                             - last))
            segments.append(("end of the play: recap, exit", end - marks["task result"]))
            runs[run].append(segments)
    medians = {}
    for run, lists in runs.items():
        labels = [label for label, _ in lists[0]]
        if any([label for label, _ in segments] != labels for segments in lists):
            raise RuntimeError(f"the portplan play ran different commands in different rounds: "
                               f"{[[label for label, _ in s] for s in lists]}")
        medians[run] = [(label, statistics.median(s[i][1] for s in lists))
                        for i, label in enumerate(labels)]
        medians[run + " total"] = statistics.median(sum(v for _, v in s) for s in lists)
    medians["empty play"] = statistics.median(baseline)
    return medians


STRACE_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')


class Proc:
    def __init__(self, pid, parent, thread=False):
        self.pid, self.parent, self.thread = pid, parent, thread
        self.exec_at = None
        self.argv = None
        self.exit_at = None
        self.children = []  # Procs that exec'd, nearest below this one


def parse_strace(path):
    """The processes of an `strace -f -ttt` log: {pid: Proc}, and the root pid."""
    procs = {}
    pending = {}  # pid -> (ts, argv) of an unfinished execve
    root = None
    with open(path) as f:
        for line in f:
            match = STRACE_LINE.match(line)
            if not match:
                continue
            pid, ts, rest = int(match.group(1)), float(match.group(2)), match.group(3)
            if root is None:
                root = pid
            proc = procs.setdefault(pid, Proc(pid, None))
            if rest.startswith("execve("):
                argv = [m.group(1) for m in QUOTED.finditer(rest.split("], ", 1)[0])][1:]
                if rest.endswith("<unfinished ...>"):
                    pending[pid] = (ts, argv)
                elif rest.endswith("= 0"):
                    proc.exec_at, proc.argv = ts, argv
            elif rest.startswith("<... execve resumed>"):
                if rest.endswith("= 0") and pid in pending:
                    proc.exec_at, proc.argv = pending[pid]
                pending.pop(pid, None)
            elif re.match(r"(<\.\.\. )?(clone3?|v?fork)", rest):
                child = re.search(r"= (\d+)$", rest)
                if child:
                    thread = "CLONE_THREAD" in rest
                    procs[int(child.group(1))] = procs.get(int(child.group(1))) or Proc(
                        int(child.group(1)), pid, thread)
                    procs[int(child.group(1))].parent = pid
                    procs[int(child.group(1))].thread = thread
            elif rest.startswith("+++ exited") or rest.startswith("+++ killed"):
                proc.exit_at = ts
            elif rest.startswith("sendmsg("):
                proc.sendmsg = getattr(proc, "sendmsg", 0) + 1
            elif rest.startswith("connect("):
                proc.connects = getattr(proc, "connects", 0) + 1
    # A clone's "resumed" line can come after the child's first lines: fix threads' flags.
    return procs, root


def invocations(procs, root):
    """The tree of programs run (a process that exec'd), under the root."""
    def caller(proc):
        parent = procs.get(proc.parent)
        while parent is not None and parent.pid != root and parent.argv is None:
            parent = procs.get(parent.parent)
        return parent

    for proc in procs.values():
        if proc.pid != root and proc.argv is not None:
            up = caller(proc)
            if up is not None:
                up.children.append(proc)
    for proc in procs.values():
        proc.children.sort(key=lambda p: p.exec_at)
    return procs[root]


def program(proc):
    return os.path.basename(proc.argv[0]) if proc.argv else "?"


def descendants(proc):
    for child in proc.children:
        yield child
        yield from descendants(child)


def describe(proc):
    """A tool invocation in a few words: the program and its first options."""
    words = [program(proc)]
    for word in proc.argv[1:]:
        if len(" ".join(words)) > 60:
            words.append("...")
            break
        words.append(word if len(word) < 40 else word[:37] + "...")
    return " ".join(words)


def module_args(case):
    with open(case.plan) as f:
        plan = f.read()
    args = {"_ansible_check_mode": False, "plan": plan, "host": case.hostnames[0],
            "firewall": case.firewall.name}
    if case.firewall.name == "iptables":
        args["persist"] = False
    return args


def run_direct(host, binary, args, strace=None, calls=""):
    """The module binary in the host on an args file; (wall seconds, result)."""
    path = os.path.join(host.dir, "bench-args.json")
    with open(path, "w") as f:
        json.dump(args, f)
    argv = [*host.enter()]
    if strace:
        argv += ["strace", "-f", "-ttt", "-s", "100", "--seccomp-bpf",
                 "-e", "trace=execve,clone,clone3,fork,vfork,exit_group" + calls, "-o", strace]
    argv += [binary, path]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    result = json.loads(done.stdout)
    if result.get("failed"):
        raise RuntimeError(f"module failed: {result.get('msg')}")
    return wall, result


def tool_report(case, host, binary, rounds, work):
    """Direct module runs: wall medians, and the traced runs' tool invocations."""
    args = module_args(case)
    walls = {"opens": [], "again": []}
    for _ in range(rounds):
        case.firewall.reset(host)
        for run in ("opens", "again"):
            walls[run].append(run_direct(host, binary, args)[0])
    traced = {}
    case.firewall.reset(host)
    for run in ("opens", "again"):
        log = os.path.join(work, f"strace-{case.firewall.name}-{case.hostnames[0]}-{run}.txt")
        # firewalld over D-Bus: the module's own messages (sendmsg) on its connection.
        calls = ",connect,sendmsg" if case.firewall.name == "firewalld" else ""
        wall, result = run_direct(host, binary, args, strace=log, calls=calls)
        procs, root = parse_strace(log)
        top = invocations(procs, root)
        # The module's own threads and the root: every process that ran no program.
        own = [p for p in procs.values() if p.pid == root or p.argv is None]
        top.connects = sum(getattr(p, "connects", 0) for p in own)
        top.sendmsg = sum(getattr(p, "sendmsg", 0) for p in own)
        traced[run] = (wall, top, result)
    return {run: statistics.median(v) for run, v in walls.items()}, traced


def fmt_ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def tools_markdown(name, walls, traced):
    lines = []
    for run in ("opens", "again"):
        wall, top, result = traced[run]
        tools = top.children
        total = top.exit_at - top.exec_at
        in_tools = sum(t.exit_at - t.exec_at for t in tools)
        by_program = {}
        for t in tools:
            key = describe_kind(t)
            by_program.setdefault(key, []).append(t)
        what = "first run (opens)" if run == "opens" else "second run (nothing to do)"
        lines.append(f"- **{name}, {what}**: the module takes {fmt_ms(walls[run])} "
                     f"(median, untraced); traced {fmt_ms(total)}, of which "
                     f"{len(tools)} tool invocations take {fmt_ms(in_tools)} and portplan "
                     f"itself {fmt_ms(total - in_tools)}; "
                     f"{len(result.get('actions', []))} change action(s) in the result"
                     + (f"; the module itself opens {top.connects} socket connection(s) and "
                        f"sends {getattr(top, 'sendmsg', 0)} messages (sendmsg) on them"
                        if getattr(top, "connects", 0) else "") + ".")
        for key, group in by_program.items():
            times = [t.exit_at - t.exec_at for t in group]
            nested = [d for t in group for d in descendants(t)]
            text = (f"  - {len(group)} x `{key}`: {fmt_ms(sum(times))} in all, "
                    f"{fmt_ms(statistics.median(times))} each (median)")
            if nested:
                counts = {}
                for d in nested:
                    counts[program(d)] = counts.get(program(d), 0) + 1
                nested_time = sum(d.exit_at - d.exec_at for t in group for d in t.children)
                starts = [t.children[0].exec_at - t.exec_at for t in group if t.children]
                text += (f"; each runs " + ", ".join(
                    f"{n / len(group):.1f} {p}" for p, n in sorted(counts.items()))
                    + f" ({fmt_ms(nested_time / len(group))} per invocation in them); "
                    f"{fmt_ms(statistics.median(starts))} from its exec to its first "
                    f"child (the Python interpreter's start and imports), "
                    f"{fmt_ms((sum(times) - nested_time) / len(group) - statistics.median(starts))}"
                    f" in its own Python work besides")
                first = group[0]
                kinds = {}
                for child in first.children:
                    kinds[describe_kind(child)] = kinds.get(describe_kind(child), 0) + 1
                text += ("; the first one runs " + ", ".join(
                    f"{n} x `{k}`" for k, n in kinds.items()))
            lines.append(text)
    return lines


def describe_kind(proc):
    """Invocations grouped: program plus its verb or first option."""
    argv = proc.argv
    name = program(proc)
    if name == "ufw":
        return "ufw " + (argv[1] if len(argv) > 1 else "")
    if name == "firewall-cmd":
        opts = [a.split("=")[0] for a in argv[1:] if a.startswith("--")]
        verb = [o for o in opts if o not in ("--zone", "--permanent")]
        side = " --permanent" if "--permanent" in opts else ""
        return f"firewall-cmd{side} {verb[0] if verb else ''}" + (
            f" (x{len(verb)})" if len(verb) > 1 and len(set(verb)) == 1 else "")
    return " ".join([name] + [a for a in argv[1:3] if a.startswith("-")])


# What starting each firewall's tool costs by itself.
STARTS = {
    "iptables": [["true"], ["iptables", "-V"], ["iptables", "-n", "-L", "INPUT"]],
    "ufw": [["true"], ["/usr/bin/python3", "-c", "pass"], ["ufw", "version"],
            ["ufw", "status"]],
    "firewalld": [["true"], ["/usr/bin/python3", "-c", "pass"],
                  ["/usr/bin/python3", "-c", "import firewall.client"],
                  ["firewall-cmd", "--version"], ["firewall-cmd", "--state"]],
}


def run(cases, env, work, rounds):
    from bench import collection_binary

    binary = collection_binary(env)
    size = os.path.getsize(binary)
    with open(binary, "rb") as f:
        packed = len(gzip.compress(f.read(), 6))
    out = ["## Breakdown of the portplan task", "",
           f"Module binary (x86_64, the collection's): {size:,} bytes, {packed:,} bytes gzipped "
           f"(level 6). Medians of {rounds} runs.", ""]
    singles = [c for c in cases if len(c.hostnames) == 1]
    for case in (c for c in singles if c.hostnames == ["app1"]):
        host = case.hosts["app1"]
        segments = task_segments(env, work, case, host, rounds)
        out.append(f"### {case.firewall.name}: the play on app1 ({case.count} rules)")
        out.append("")
        out.append(f"An empty play (no task) takes {segments['empty play']:.2f} s.")
        out.append("")
        out.append("| segment | first run | second run |")
        out.append("|---|---:|---:|")
        for (label, first), (_, second) in zip(segments["opens"], segments["again"]):
            out.append(f"| {label} | {fmt_ms(first)} | {fmt_ms(second)} |")
        out.append(f"| **whole play** | {segments['opens total']:.2f} s | "
                   f"{segments['again total']:.2f} s |")
        out.append("")
        costs = []
        for argv in STARTS[case.firewall.name]:
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                host.run(*argv)
                times.append(time.perf_counter() - start)
            costs.append(f"`{' '.join(argv)}` {fmt_ms(statistics.median(times))}")
        out.append("One invocation, alone in the host (through nsenter, median): "
                   + ", ".join(costs) + ".")
        out.append("")
    out.append("### The module run directly, its firewall tool invocations")
    out.append("")
    for case in singles:
        host = case.hosts[case.hostnames[0]]
        walls, traced = tool_report(case, host, binary, rounds, work)
        out.extend(tools_markdown(f"{case.firewall.name} on {case.hostnames[0]} "
                                  f"({case.count} rules)", walls, traced))
    return "\n".join(out)
