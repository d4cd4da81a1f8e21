"""Issue 12's live acceptance tests: portplan on a production firewall never
opens what the plan does not, never loses the operator's config, and stays
correct under faults and concurrency.

Every test host is a network namespace with a private mount namespace
(hosts.py): /etc is an overlay, and each host here also gets its own
/run/lock, so the module's host lock is per test host as it is per machine.
The module binary runs directly in the host with an args file (as Ansible
runs a binary module; see test_binaries.py), which is much faster than
ansible-playbook and lets a test start two runs at once or kill one.

Faults are injected by a wrapper that takes the firewall tool's place inside
the host only (bind-mounted over /usr/sbin/nft, /usr/bin/firewall-cmd and
/usr/sbin/ufw; for iptables the host's /etc/alternatives links are switched,
as test_playbooks.py's test_80 does). The wrapper is transparent except for
module runs started with PORTPLAN_FAULT_COUNTER in their environment: then it
counts every invocation of the tool and, as PORTPLAN_FAULT says, fails the
k-th one (`fail k`), or SIGKILLs the module before (`kill-before k`) or after
(`kill-after k`) running it.

Addresses are 198.18.0.0/15 only: ocp1 (198.18.2.10) is a host the plans
admit, `stranger` (198.18.99.9) one they do not.

Run as root after scripts/build-collection (scripts/test does both).
"""

import fcntl
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from hosts import PORTPLAN, REPO, Lan, Listener, reachable

EXAMPLE_PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")
TAG_SQL = "portplan:observer.sql"

# --------------------------------------------------------------------------
# Running the module


def run_module(host, args, fault=None, counter=None, timeout=300):
    """Run the module binary inside `host` on `args`; (exit code, result or
    None when it printed nothing, e.g. SIGKILLed). `fault` and `counter`
    drive the host's tool wrappers."""
    path = os.path.join(host.dir, f"args-{uuid.uuid4().hex}.json")
    with open(path, "w") as f:
        json.dump(dict({"_ansible_check_mode": False}, **args), f)
    env = dict(os.environ)
    env.pop("PORTPLAN_FAULT", None)
    env.pop("PORTPLAN_FAULT_COUNTER", None)
    if counter:
        env["PORTPLAN_FAULT_COUNTER"] = counter
        env["PORTPLAN_FAULT"] = fault or "count"
    try:
        done = subprocess.run([*host.enter(), PORTPLAN, path], env=env, capture_output=True,
                              text=True, timeout=timeout)
    finally:
        os.unlink(path)
    out = done.stdout.strip()
    return done.returncode, (json.loads(out) if out else None)


def start_module(host, args):
    """Start a module run in the background; `finish_module` collects it."""
    path = os.path.join(host.dir, f"args-{uuid.uuid4().hex}.json")
    with open(path, "w") as f:
        json.dump(dict({"_ansible_check_mode": False}, **args), f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTPLAN_FAULT")}
    process = subprocess.Popen([*host.enter(), PORTPLAN, path], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return process, path


def finish_module(started, timeout=300):
    process, path = started
    stdout, _ = process.communicate(timeout=timeout)
    finished = time.monotonic()
    os.unlink(path)
    out = stdout.strip()
    return process.returncode, (json.loads(out) if out else None), finished


def brief(result):
    """A result shortened for an assertion message."""
    if result is None:
        return "no result"
    keys = ("failed", "changed", "msg", "actions", "persisted", "warnings")
    return json.dumps({k: result.get(k) for k in keys}, indent=1)[:3000]


# --------------------------------------------------------------------------
# Plans


def load_example():
    with open(EXAMPLE_PLAN) as f:
        return json.load(f)


def custom_plan(hosts, specs, networks, name="safety"):
    """A plan of one custom profile `svc` with component `app`: `hosts` maps a
    host name to its address, `specs` lists (spec name, port, [network
    names]), `networks` maps a network name to its CIDRs."""
    return {
        "name": name,
        "profiles": ["svc"],
        "custom-profiles": [{
            "name": "svc", "title": "Test service",
            "components": [{"name": "app", "title": "App", "required": True}],
            "networks": [{"name": n, "description": n} for n in networks],
            "specs": [{
                "id": f"app.{spec}", "component": "app", "ports": port, "transport": "tcp",
                "allocation": "fixed", "exposure": "peers",
                "accessed-by": [{"network": n} for n in nets],
                "modifiable": "not-supported", "purpose": spec, "source": "test",
            } for spec, port, nets in specs],
        }],
        "hosts": [{"name": h, "address": a, "components": ["app"]} for h, a in hosts.items()],
        "networks": [{"name": n, "cidrs": c} for n, c in networks.items()],
    }


# --------------------------------------------------------------------------
# Test hosts with one firewall each

NFT_FOREIGN = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\ttcp dport 22 accept comment "ssh, not portplan's"
\t\tip saddr 198.18.3.0/24 tcp dport 9090 accept
\t\tip saddr 198.18.99.9 tcp dport 9091 drop
\t}
}
table ip foreign {
\tchain keep {
\t\ttcp dport 9999 drop
\t}
}
"""

# The same with an explicit catch-all reject at the end of the input chain.
NFT_FOREIGN_REJECT = NFT_FOREIGN.replace(
    "\t\tip saddr 198.18.99.9 tcp dport 9091 drop\n",
    "\t\tip saddr 198.18.99.9 tcp dport 9091 drop\n\t\treject\n")

IPTABLES_FOREIGN = [
    ["-P", "INPUT", "DROP"],
    ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
    ["-A", "INPUT", "-p", "tcp", "--dport", "22", "-m", "comment", "--comment", "ssh", "-j", "ACCEPT"],
    ["-A", "INPUT", "-s", "198.18.3.0/24", "-p", "tcp", "--dport", "9090", "-j", "ACCEPT"],
    ["-A", "INPUT", "-j", "REJECT"],
]

FIREWALLD_FOREIGN = ["--add-port=8080/tcp", "--add-service=http",
                     '--add-rich-rule=rule family="ipv4" source address="198.18.3.0/24" '
                     'port port="9090" protocol="tcp" accept']

UFW_FOREIGN = [["allow", "22/tcp"],
               ["allow", "from", "198.18.3.0/24", "to", "any", "port", "9090", "proto", "tcp"]]

# The wrapper that takes a firewall tool's place in a test host (see the
# module docstring). NAME and REAL are filled in.
WRAPPER = """#!/bin/sh
if [ -n "$PORTPLAN_FAULT_COUNTER" ]; then
    n=$(( $(cat "$PORTPLAN_FAULT_COUNTER" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$PORTPLAN_FAULT_COUNTER"
    echo "$n NAME $*" >> "$PORTPLAN_FAULT_COUNTER.log"
    case "$PORTPLAN_FAULT" in
        "fail $n") echo "injected failure of NAME (invocation $n)" >&2; exit 1;;
        "kill-before $n") kill -9 "$PPID"; exit 137;;
        "kill-after $n") REAL "$@"; status=$?; kill -9 "$PPID"; exit $status;;
    esac
fi
exec REAL "$@"
"""

READ_FILES = r"""
import glob, json, os, sys
out = {}
for pattern in sys.argv[1:]:
    for path in sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]:
        if os.path.lexists(path):
            st = os.stat(path)
            with open(path, errors="replace") as f:
                out[path] = {"text": f.read(), "mode": st.st_mode & 0o7777, "uid": st.st_uid,
                             "gid": st.st_gid, "link": os.path.islink(path)}
        else:
            out[path] = None
print(json.dumps(out))
"""


def files(host, *patterns):
    """{path: {text, mode, uid, gid, link} or None} for paths or globs in `host`."""
    return json.loads(host.run("python3", "-c", READ_FILES, *patterns))


def without_counters(text):
    """iptables-save output without comment lines (dates) and counters."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(re.sub(r"\[\d+:\d+\]", "[0:0]", line) for line in lines)


class Target:
    """A test host driven by one backend: foreign rules set up first, a
    private /run/lock, and fault-injecting wrappers around the backend's tool."""

    def __init__(self, lan, name, address, backend, nft_foreign=NFT_FOREIGN, wrap=True):
        self.name, self.address, self.backend = name, address, backend
        lock_dir = os.path.join(lan.root, f"{name}-run-lock")
        os.makedirs(lock_dir)
        self.lock_file = os.path.join(lock_dir, "portplan.lock")
        self.host = lan.host(name, address, daemons=backend in ("firewalld", "ufw"),
                             binds=[(lock_dir, "/run/lock")])
        self.fault_dir = os.path.join(self.host.dir, "fault")
        os.makedirs(self.fault_dir)
        host = self.host
        if backend == "nftables":
            host.run("nft", "-f", "-", stdin=nft_foreign)
        elif backend == "iptables":
            for tool in ("iptables", "ip6tables"):
                for rule in IPTABLES_FOREIGN:
                    if tool == "iptables" or "-s" not in rule:
                        host.run(tool, "-w", *rule)
            host.run("mkdir", "-p", "/etc/iptables")
        elif backend == "firewalld":
            host.start_firewalld()
            for side in ([], ["--permanent"]):
                for change in FIREWALLD_FOREIGN:
                    host.run("firewall-cmd", *side, change)
        elif backend == "ufw":
            # ufw's own sysctl file would only touch the namespace's net.* keys.
            host.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
            for rule in UFW_FOREIGN:
                host.run("ufw", *rule)
            host.run("ufw", "--force", "enable")
        if wrap:
            self.install_wrappers()

    # -- wrappers

    def _wrapper(self, name, real):
        path = os.path.join(self.fault_dir, f"wrap-{name}")
        with open(path, "w") as f:
            f.write(WRAPPER.replace("NAME", name).replace("REAL", real))
        os.chmod(path, 0o755)
        return path

    def install_wrappers(self):
        host = self.host
        if self.backend == "iptables":
            # /usr/sbin/iptables -> /etc/alternatives/iptables -> a multi-call
            # binary: the host's own /etc/alternatives link is switched.
            for tool in ("iptables", "ip6tables", "iptables-save", "ip6tables-save"):
                link = f"/etc/alternatives/{tool}"
                real = host.run("readlink", "-f", link).strip()
                host.run("ln", "-sfn", self._wrapper(tool, f"{real} {tool}"), link)
            return
        program = {"nftables": "/usr/sbin/nft", "firewalld": "/usr/bin/firewall-cmd",
                   "ufw": "/usr/sbin/ufw"}[self.backend]
        name = os.path.basename(program)
        copy = os.path.join(self.fault_dir, f"real-{name}")
        shutil.copy2(program, copy)
        host.run("mount", "--bind", self._wrapper(name, copy), program)

    def counter(self):
        """A fresh invocation counter for one faulted run."""
        path = os.path.join(self.fault_dir, f"count-{uuid.uuid4().hex[:8]}")
        return path

    @staticmethod
    def invocations(counter):
        try:
            with open(counter + ".log") as f:
                return [line.rstrip("\n") for line in f]
        except FileNotFoundError:
            return []

    # -- module runs

    def args(self, plan, state="present", **extra):
        args = {"plan": plan, "host": self.name, "state": state, "firewall": self.backend}
        args.update(extra)
        return args

    def run(self, plan, state="present", fault=None, counter=None, **extra):
        return run_module(self.host, self.args(plan, state, **extra), fault, counter)

    # -- what the host holds

    def running(self):
        """The running firewall as its own tools list it: everything,
        foreign rules included."""
        host = self.host
        if self.backend == "nftables":
            return host.run("nft", "-s", "list", "ruleset")
        if self.backend == "iptables":
            return without_counters(host.run("iptables-save") + host.run("ip6tables-save"))
        if self.backend == "firewalld":
            # The runtime; the permanent configuration is what saved() reads
            # (firewall-cmd --permanent writes its files at once).
            text = host.run("firewall-cmd", "--list-all-zones")
            for ipset in host.run("firewall-cmd", "--get-ipsets").split():
                text += host.run("firewall-cmd", f"--info-ipset={ipset}")
            return text
        return host.run("ufw", "status", "verbose") + host.run("ufw", "show", "added")

    def saved_paths(self):
        return {"nftables": ["/etc/nftables.conf"],
                "iptables": ["/etc/iptables/rules.v4", "/etc/iptables/rules.v6"],
                "firewalld": ["/etc/firewalld/zones/*.xml", "/etc/firewalld/ipsets/*.xml"],
                "ufw": ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"]}[self.backend]

    def saved(self):
        """The saved configuration: {path: text or None}, iptables' files
        without dates and counters."""
        found = files(self.host, *self.saved_paths())
        out = {}
        for path, info in found.items():
            text = None if info is None else info["text"]
            if text is not None and self.backend == "iptables":
                text = without_counters(text)
            out[path] = text
        return out

    def snapshot(self):
        return {"running": self.running(), "saved": self.saved()}

    def leftovers(self):
        """Temporary files a persist left beside the saved configuration."""
        found = files(self.host, "/etc/.nftables.conf.portplan-*", "/etc/iptables/.rules.*")
        return sorted(found)

    def portplan_lines(self):
        """The lines of the running firewall that carry portplan's tag."""
        return sorted(line.strip() for line in self.running().splitlines() if "portplan" in line)


def as_planned(test, target, plan, label):
    """The next run after an interruption converges: it succeeds, the
    running firewall and the saved config then hold the plan, and the run
    after it changes nothing."""
    code, result = target.run(plan)
    test.assertEqual(code, 0, f"{label}: the run after it: {brief(result)}")
    code, again = target.run(plan)
    test.assertEqual(code, 0, f"{label}: the second run after it: {brief(again)}")
    test.assertFalse(again["changed"], f"{label}: the second run after it: {brief(again)}")
    return result


def parallel(jobs):
    """Run `jobs` (name -> function) in threads, one per test host; the
    exceptions they raised, by name."""
    errors = {}

    def run(name, job):
        try:
            job()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors[name] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# --------------------------------------------------------------------------
# Fault matrix


def changing(backend, line):
    """Whether a logged invocation changes the firewall."""
    words = line.split()[1:]
    if backend == "nftables":
        return words[:3] == ["nft", "-f", "-"]
    if backend == "iptables":
        return any(w in ("-I", "-D", "-A") for w in words)
    if backend == "firewalld":
        return any(w.startswith(("--add-", "--remove-", "--new-", "--delete-")) for w in words)
    return len(words) > 1 and words[1] not in ("status", "show")


class Matrix:
    """The fault matrix of one backend on one test host. Every faulted run
    must leave the running firewall and the saved configuration exactly as
    they were (foreign rules included), report changed=false and say what
    failed; a run the fault did not stop must leave the plan in place. After
    a SIGKILL the next normal run must converge."""

    def __init__(self, target, plan):
        self.target, self.plan = target, plan
        self.failures = []
        self.cases = []
        self.reference = {}

    def fail(self, case, what):
        self.failures.append(f"[{self.target.backend} {case}] {what}")

    def bring(self, start, persist=True):
        """Bring the host to `empty` (no portplan rule) or `planned`."""
        code, result = self.target.run(self.plan, "absent" if start == "empty" else "present",
                                       persist=persist)
        if code != 0:
            raise AssertionError(f"{self.target.backend}: bringing the host to {start}: "
                                 f"{brief(result)}")

    def at(self, start, current):
        """The host's snapshot, brought to `start` first when it is not there."""
        if current != self.reference[start]:
            self.bring(start)
            current = self.target.snapshot()
        return current

    def count(self, state, start, label, **extra):
        """The counting run of one step: its invocations, in order."""
        counter = self.target.counter()
        code, result = self.target.run(self.plan, state, counter=counter, **extra)
        if code != 0:
            self.fail(f"{label} counting run", brief(result))
        return self.target.invocations(counter), result

    def step(self, state, start, end, label, **extra):
        """Fail each invocation of one step in turn; the step's invocations."""
        self.at(start, self.target.snapshot())
        invocations, _ = self.count(state, start, label, **extra)
        current = self.target.snapshot()
        for k in range(1, len(invocations) + 1):
            current = self.at(start, current)
            counter = self.target.counter()
            code, result = self.target.run(self.plan, state, fault=f"fail {k}", counter=counter,
                                           **extra)
            after = self.target.snapshot()
            case = f"{label}, fail invocation {k} of {len(invocations)}: {invocations[k - 1]}"
            self.cases.append(case)
            self.check(case, code, result, current, after, end)
            current = after
        return invocations

    def check(self, case, code, result, before, after, end):
        if result is None:
            self.fail(case, f"no result (exit {code})")
            return
        if not result["failed"]:
            # A fault the module worked around (e.g. firewalld's zone lookup
            # falling back to the default zone): the plan must then hold.
            if after != self.reference[end]:
                self.fail(case, f"the run succeeded but left the host other than {end}: "
                                f"{brief(result)}\n{diff(self.reference[end], after)}")
            return
        if after != before:
            self.fail(case, f"the failed run changed the host: {brief(result)}\n"
                            f"{diff(before, after)}")
        if result["changed"]:
            self.fail(case, f"a failed run that left the host as it was reports changed=true: "
                            f"{brief(result)}")
        if "injected failure" not in result["msg"]:
            self.fail(case, f"the message does not quote the failure: {brief(result)}")
        leftovers = self.target.leftovers()
        if leftovers:
            self.fail(case, f"temporary files left behind: {leftovers}")

    def kill(self, state, start, end, positions, label):
        """SIGKILL the module at the given (mode, k) positions; the next
        normal run must converge and the one after change nothing."""
        for mode, k, line in positions:
            case = f"{label}, SIGKILL {mode.replace('kill-', '')} invocation {k}: {line}"
            self.cases.append(case)
            self.at(start, self.target.snapshot())
            counter = self.target.counter()
            code, result = self.target.run(self.plan, state, fault=f"{mode} {k}", counter=counter)
            if code != -9 or result is not None:
                self.fail(case, f"the module was not killed (exit {code}): {brief(result)}")
            code, result = self.target.run(self.plan, state)
            if code != 0:
                self.fail(case, f"the next run failed: {brief(result)}")
                continue
            after = self.target.snapshot()
            if after != self.reference[end]:
                self.fail(case, f"the next run did not converge (running and saved as planned): "
                                f"{brief(result)}\n{diff(self.reference[end], after)}")
            code, again = self.target.run(self.plan, state)
            if code != 0 or again["changed"]:
                self.fail(case, f"the run after the next one changed something: {brief(again)}")

    def kill_positions(self, invocations, persist):
        """Where to SIGKILL: after the first and after the last changing
        invocation, before the read-back, and (persisting backends) after
        the last read, just before the file is written."""
        backend = self.target.backend
        changes = [i for i, line in enumerate(invocations, 1) if changing(backend, line)]
        if not changes:
            return []
        positions = [("kill-after", changes[0])]
        if changes[-1] != changes[0]:
            positions.append(("kill-after", changes[-1]))
        if changes[-1] < len(invocations):
            positions.append(("kill-before", changes[-1] + 1))
        if persist and len(invocations) > changes[-1] + 1:
            positions.append(("kill-after", len(invocations)))
        return [(mode, k, invocations[k - 1]) for mode, k in positions]

    def run_all(self):
        target = self.target
        persists = target.backend in ("nftables", "iptables")
        self.bring("planned")
        self.reference["planned"] = target.snapshot()
        self.bring("empty")
        self.reference["empty"] = target.snapshot()
        present = self.step("present", "empty", "planned", "present from empty")
        absent = self.step("absent", "planned", "empty", "absent after present")
        if persists:
            self.persist_step()
        self.kill("present", "empty", "planned", self.kill_positions(present, persists),
                  "present from empty")
        self.kill("absent", "planned", "empty", self.kill_positions(absent, persists)[:1],
                  "absent after present")

    def persist_step(self):
        """The persist step: a run whose only work is bringing a stale saved
        configuration up to date (the running firewall was changed with
        persist: false, or a run was interrupted before it saved), with each
        invocation failed in turn; then each saved file made unwritable."""
        target = self.target
        label = "persist step"
        self.at("empty", target.snapshot())
        self.bring("planned", persist=False)
        stale = target.snapshot()
        invocations, result = self.count("present", "planned", label)
        caught_up = target.snapshot()
        if caught_up != self.reference["planned"] or not result.get("changed") or \
                "the saved configuration was brought up to date" not in result.get("msg", ""):
            self.fail(label, "a run with no rule to change did not bring the stale saved "
                             f"configuration up to date: {brief(result)}\n"
                             f"{diff(self.reference['planned'], caught_up)}")
        current = caught_up
        for k in range(1, len(invocations) + 1):
            if current != stale:
                self.bring("empty")
                self.bring("planned", persist=False)
                current = target.snapshot()
            counter = target.counter()
            code, result = target.run(self.plan, "present", fault=f"fail {k}", counter=counter)
            after = target.snapshot()
            case = f"{label}, fail invocation {k} of {len(invocations)}: {invocations[k - 1]}"
            self.cases.append(case)
            self.check(case, code, result, current, after, "planned")
            current = after
        # A saved file that cannot be replaced: a file bind-mounted over it
        # makes the rename onto it fail (EBUSY), after the files before it
        # were written.
        for path in target.saved_paths():
            for state, start, end in (("present", "empty", "planned"),
                                      ("absent", "planned", "empty")):
                case = f"persist step, {path} cannot be replaced, {state} after {start}"
                self.cases.append(case)
                before = self.at(start, target.snapshot())
                if before["saved"].get(path) is None:
                    self.fail(case, f"{path} does not exist")
                    continue
                copy = os.path.join(target.fault_dir, "pinned-" + os.path.basename(path))
                target.host.run("cp", "-a", path, copy)
                target.host.run("mount", "--bind", copy, path)
                try:
                    code, result = target.run(self.plan, state)
                finally:
                    target.host.run("umount", path)
                after = target.snapshot()
                if result is None or not result["failed"]:
                    self.fail(case, f"the run did not fail: {brief(result)}")
                    continue
                if after != before:
                    self.fail(case, f"the failed run changed the host: {brief(result)}\n"
                                    f"{diff(before, after)}")
                if result["changed"] or "cannot persist" not in result["msg"]:
                    self.fail(case, f"expected changed=false and `cannot persist`: {brief(result)}")
                leftovers = target.leftovers()
                if leftovers:
                    self.fail(case, f"temporary files left behind: {leftovers}")


def diff(before, after):
    """What differs between two snapshots, line by line, for a message."""
    import difflib
    out = []
    for key in ("running",):
        if before[key] != after[key]:
            out.extend(difflib.unified_diff(before[key].splitlines(), after[key].splitlines(),
                                            "expected running", "found running", lineterm="", n=1))
    for path in sorted(set(before["saved"]) | set(after["saved"])):
        a, b = before["saved"].get(path), after["saved"].get(path)
        if a != b:
            out.extend(difflib.unified_diff((a or "<missing>").splitlines(),
                                            (b or "<missing>").splitlines(),
                                            f"expected {path}", f"found {path}", lineterm="", n=1))
    return "\n".join(out[:80])


def matrix_plan(name, address):
    """Three rules on two ports: several commands per run on every backend."""
    return custom_plan({name: address},
                       [("a", 7001, ["clients"]), ("b", 7002, ["admins"])],
                       {"clients": ["198.18.2.10/32", "198.18.2.20/32"],
                        "admins": ["198.18.60.0/24"]})
