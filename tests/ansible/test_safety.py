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
/usr/sbin/ufw; for iptables, and for the restores ufw's batch runs, the
host's /etc/alternatives links are switched, as test_playbooks.py's test_80
does). The wrapper is transparent except for
module runs started with PORTPLAN_FAULT_COUNTER in their environment: then it
counts every invocation of the tool and, as PORTPLAN_FAULT says, fails the
k-th one (`fail k`), runs the k-th and then fails it as if it had not
(`half k`: a tool that changed something and still exits non-zero), SIGKILLs the module once the k-th has run
(`kill-after k`) or instead of running it (`kill-before k`), or fails the k-th after running PORTPLAN_FAULT_MEANWHILE,
someone else's change to the firewall made while the module runs
(`meanwhile k`), or runs the k-th while PORTPLAN_FAULT_MEANWHILE is under
way (`during k`: the other command starts first and creates
$PORTPLAN_FAULT_COUNTER.started once it is). The module drives firewalld over D-Bus, not through
firewall-cmd: there a relay on the host's system bus (dbus_fault.py) counts
and faults firewalld's method calls the same way, in the same counter.

Addresses are 198.18.0.0/15 only: ocp1 (198.18.2.10) is a host the plans
admit, `stranger` (198.18.99.9) one they do not.

- Regressions: one test per behaviour the issue reports, each failing on the
  old behaviour (foreign rules of any action, iptables-nft hosts, the
  operator's nftables.conf and iptables files, colliding ids, a foreign set,
  hand-edited rules, precise rollback, ufw per rule putting an IPv6 rule
  back at its number in ufw's IPv6 list, counting application rules as
  ufw does and saying so where no number reaches a rule's place), and
  ufw's batch: on iptables-legacy
  waiting for the xtables lock another tool holds, refusing to reload user
  chains changed with iptables directly, and not refusing where ufw itself
  left its generated chains other than its files.
- FaultMatrix: per backend (ufw both as its batch and per rule), every
  invocation of the tool failed in turn
  during `present` from empty, `absent` after present and (nftables,
  iptables) the persist step, every changing one also after it ran (not
  firewalld's D-Bus calls: the relay has no such mode), plus SIGKILLs; for ufw's batch also each
  rules file made unreplaceable, and a SIGKILL between every two of its
  steps; it prints its case count. Where a rollback follows a failed
  invocation (not ufw's batch, which undoes itself), the panic-points
  build also panics inside that rollback at the first and last changing
  invocation: `ROLLBACK FAILED`, the commands before it as `actions`, and
  the next run converges.
- Concurrency: rounds of two runs at once on one host, and the lock timeout.
- PanicPoints: per backend, a test build of the module (`--features
  panic-points`) made to panic before each command, after each took effect,
  before the read-back, before persisting and after each saved file is
  renamed into place (iptables: rules.v4, then rules.v6), each alone and
  (the first command, the read-back, the last point) followed by a panic
  inside the rollback; ufw both per rule and as a batch, and for the batch
  also between its steps; it prints its case count.

The backends run in parallel threads, one test host each; the whole file
takes about 4 minutes on an idle 2-CPU machine, most of it firewalld's and
ufw's Python clients.

Run as root after scripts/build-collection and the panic-points build
(scripts/test does all three).
"""

import difflib
import fcntl
import itertools
import json
import os
import re
import shutil
import shlex
import signal
import subprocess
import threading
import time
import unittest
import uuid

from dbus_fault import CHANGING as DBUS_CHANGING
from dbus_fault import FaultRelay
from hosts import BUILD_ROOT, PORTPLAN, REPO, Lan, Listener, reachable, wait_until

EXAMPLE_PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")
TAG_SQL = "portplan:observer.sql"
# The module built with `--features panic-points` (scripts/test builds it):
# it panics at the steps PORTPLAN_PANIC_AT names (execute::panic_point).
PANICKING = os.path.join(BUILD_ROOT, "target", "debug", "portplan-panic-points")

# --------------------------------------------------------------------------
# Running the module


def run_module(host, args, fault=None, counter=None, timeout=300, meanwhile=None, extra_env=None,
               binary=PORTPLAN):
    """Run the module binary inside `host` on `args`; (exit code, result or
    None when it printed nothing, e.g. SIGKILLed). `fault`, `counter` and
    `meanwhile` drive the host's tool wrappers; `extra_env` is added to the
    module's environment; `binary` is the shipped one unless a test build
    is named (PANICKING)."""
    path = os.path.join(host.dir, f"args-{uuid.uuid4().hex}.json")
    with open(path, "w") as f:
        json.dump(dict({"_ansible_check_mode": False}, **args), f)
    env = dict(os.environ)
    for key in ("PORTPLAN_FAULT", "PORTPLAN_FAULT_COUNTER", "PORTPLAN_FAULT_MEANWHILE",
                "DBUS_SYSTEM_BUS_ADDRESS", "PORTPLAN_UFW", "PORTPLAN_PANIC_AT"):
        env.pop(key, None)
    env.update(extra_env or {})
    relay = None
    if counter:
        env["PORTPLAN_FAULT_COUNTER"] = counter
        env["PORTPLAN_FAULT"] = fault or "count"
        env["PORTPLAN_FAULT_MEANWHILE"] = meanwhile or "true"
        if getattr(host, "dbus", None):
            # firewalld is driven over D-Bus: its faults come from a relay
            # on the bus (dbus_fault.py), counted with the tools' invocations.
            relay = FaultRelay(os.path.join(host.dir, f"bus-{uuid.uuid4().hex[:8]}"),
                               os.path.join(host.dir, "run-dbus", "system_bus_socket"),
                               counter, fault,
                               lambda: host.run("sh", "-c", meanwhile or "true"),
                               daemon_pid=host.firewalld.pid)
            env["DBUS_SYSTEM_BUS_ADDRESS"] = relay.address
    try:
        done = subprocess.run([*host.enter(), binary, path], env=env, capture_output=True,
                              text=True, timeout=timeout)
    finally:
        os.unlink(path)
        if relay:
            relay.close()
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



def pinned_run(target, path, plan, state):
    """Run the module while a copy of `path` is bind-mounted over it, so
    replacing the file (a rename onto a mount point) fails with EBUSY."""
    copy = os.path.join(target.fault_dir, "pinned-" + os.path.basename(path))
    target.host.run("cp", "-a", path, copy)
    target.host.run("mount", "--bind", copy, path)
    try:
        return target.run(plan, state)
    finally:
        target.host.run("umount", path)

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
    ["-A", "INPUT", "-p", "tcp", "--dport", "22", "-m", "comment", "--comment", "ssh",
     "-j", "ACCEPT"],
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
        "kill-after $n") REAL "$@"; status=$?; kill -9 "$PPID"; exit $status;;
        "kill-before $n") kill -9 "$PPID"; exit 1;;
        "half $n")
            REAL "$@"
            echo "injected failure of NAME (invocation $n), after it ran" >&2
            exit 1;;
        "meanwhile $n")
            env -u PORTPLAN_FAULT_COUNTER sh -c "$PORTPLAN_FAULT_MEANWHILE"
            echo "injected failure of NAME (invocation $n), after someone else's change" >&2
            exit 1;;
        "during $n")
            # Someone else's command starts first and is under way (it
            # creates $PORTPLAN_FAULT_COUNTER.started) as NAME runs.
            started="$PORTPLAN_FAULT_COUNTER.started"
            env -u PORTPLAN_FAULT_COUNTER sh -c "$PORTPLAN_FAULT_MEANWHILE" &
            tries=0
            while [ ! -e "$started" ]; do
                if [ $tries -ge 200 ]; then
                    echo "the other command did not start within 10 s (invocation $n)" >&2
                    exit 1
                fi
                sleep 0.05; tries=$((tries + 1))
            done;;
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
    # The system's Python without site packages: it starts in milliseconds.
    return json.loads(host.run("/usr/bin/python3", "-S", "-c", READ_FILES, *patterns))


def rules_sorted(text):
    """A firewalld zone file with its <rule> elements sorted. firewalld
    orders rich rules by priority and action, not by their place in the
    file, and portplan changes the permanent side one rule per call (never
    a list written back, which could drop someone else's rule), so a
    rollback part way through a batch puts rules back at the end: the same
    configuration, in another order."""
    rules = re.findall(r"  <rule\b.*?</rule>\n", text, re.S)
    rest = re.sub(r"  <rule\b.*?</rule>\n", "", text, flags=re.S)
    return rest + "".join(sorted(rules))


def rich_rules_sorted(listing):
    """`--list-all-zones` with each zone's rich rules in a fixed order: the
    runtime lists them in the order they came, which firewalld does not
    heed (see rules_sorted)."""
    out, rules = [], []
    for line in listing.splitlines(keepends=True):
        if line.startswith("\trule "):
            rules.append(line)
            continue
        out.extend(sorted(rules))
        rules = []
        out.append(line)
    return "".join(out + sorted(rules))


def without_counters(text):
    """iptables-save output without comment lines (dates) and counters."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(re.sub(r"\[\d+:\d+\]", "[0:0]", line) for line in lines)


class Target:
    """A test host driven by one backend: foreign rules set up first, a
    private /run/lock, and fault-injecting wrappers around the backend's tool."""

    def __init__(self, lan, name, address, backend, nft_foreign=NFT_FOREIGN, wrap=True,
                 foreign=True, env=None, iptables="nft"):
        self.name, self.address, self.backend = name, address, backend
        self.env = env or {}
        lock_dir = os.path.join(lan.root, f"run-lock-{name}")
        os.makedirs(lock_dir)
        self.lock_file = os.path.join(lock_dir, "portplan.lock")
        self.host = lan.host(name, address, daemons=backend in ("firewalld", "ufw"),
                             binds=[(lock_dir, "/run/lock")])
        self.fault_dir = os.path.join(self.host.dir, "fault")
        os.makedirs(self.fault_dir)
        if backend == "firewalld":
            self.host.start_firewalld()
        if iptables == "legacy":
            # The host's iptables tools are iptables-legacy's, as on Ubuntu
            # before 21.10 (ufw's own distribution).
            for tool in ("iptables", "ip6tables"):
                for suffix in ("", "-save", "-restore"):
                    self.host.run("ln", "-sfn", f"/usr/sbin/{tool}-legacy{suffix}",
                                  f"/etc/alternatives/{tool}{suffix}")
        if foreign:
            self.set_up_foreign(nft_foreign)
        if wrap:
            self.install_wrappers()

    def set_up_foreign(self, nft_foreign):
        """Rules, ports and services portplan did not write, as an operator
        left them."""
        host, backend = self.host, self.backend
        if backend == "nftables":
            host.run("nft", "-f", "-", stdin=nft_foreign)
        elif backend == "iptables":
            for tool in ("iptables", "ip6tables"):
                for rule in IPTABLES_FOREIGN:
                    if tool == "iptables" or "-s" not in rule:
                        host.run(tool, "-w", *rule)
            # Where iptables-persistent keeps the rules.
            host.run("mkdir", "-p", "/etc/iptables")
        elif backend == "firewalld":
            for side in ([], ["--permanent"]):
                for change in FIREWALLD_FOREIGN:
                    host.run("firewall-cmd", *side, change)
        elif backend == "ufw":
            # ufw's own sysctl file would only touch the namespace's net.* keys.
            host.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
            for rule in UFW_FOREIGN:
                host.run("ufw", *rule)
            host.run("ufw", "--force", "enable")

    # -- wrappers

    def _wrapper(self, name, real):
        path = os.path.join(self.fault_dir, f"wrap-{name}")
        with open(path, "w") as f:
            f.write(WRAPPER.replace("NAME", name).replace("REAL", real))
        os.chmod(path, 0o755)
        return path

    def install_wrappers(self):
        host = self.host
        # /usr/sbin/iptables -> /etc/alternatives/iptables -> a multi-call
        # binary: the host's own /etc/alternatives link is switched. ufw's
        # batch (and ufw itself) loads the user chains with the restores.
        tools = {"iptables": ("iptables", "ip6tables", "iptables-save", "ip6tables-save"),
                 "ufw": ("iptables-restore", "ip6tables-restore", "iptables-save",
                         "ip6tables-save")}.get(self.backend, ())
        if self.env.get("PORTPLAN_UFW") == "ufw":
            # Per rule, only ufw's own invocations are counted and faulted.
            tools = ()
        for tool in tools:
            link = f"/etc/alternatives/{tool}"
            real = host.run("readlink", "-f", link).strip()
            host.run("ln", "-sfn", self._wrapper(tool, f"{real} {tool}"), link)
        if self.backend == "iptables":
            return
        program = {"nftables": "/usr/sbin/nft", "firewalld": "/usr/bin/firewall-cmd",
                   "ufw": "/usr/sbin/ufw"}[self.backend]
        name = os.path.basename(program)
        copy = os.path.join(self.fault_dir, f"real-{name}")
        shutil.copy2(program, copy)
        host.run("mount", "--bind", self._wrapper(name, copy), program)

    @property
    def batch(self):
        """Whether the host's ufw changes go as portplan's batch (the
        default), not one `ufw` run per rule (PORTPLAN_UFW=ufw)."""
        return self.backend == "ufw" and self.env.get("PORTPLAN_UFW") != "ufw"

    def counter(self):
        """A fresh invocation counter (a file; its log beside it) for one run."""
        return os.path.join(self.fault_dir, f"count-{uuid.uuid4().hex[:8]}")

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

    def run(self, plan, state="present", fault=None, counter=None, meanwhile=None,
            binary=PORTPLAN, panic_at=None, **extra):
        env = dict(self.env, PORTPLAN_PANIC_AT=panic_at) if panic_at else self.env
        return run_module(self.host, self.args(plan, state, **extra), fault, counter,
                          meanwhile=meanwhile, extra_env=env, binary=binary)

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
            return rich_rules_sorted(text)
        # ufw's own listings read its files; the user chains are what filters.
        return (host.run("ufw", "status", "verbose") + host.run("ufw", "show", "added")
                + ufw_user_chains(host))

    def saved_paths(self):
        return {"nftables": ["/etc/nftables.conf"],
                "iptables": ["/etc/iptables/rules.v4", "/etc/iptables/rules.v6"],
                "firewalld": ["/etc/firewalld/zones/*.xml", "/etc/firewalld/ipsets/*.xml"],
                "ufw": ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"]}[self.backend]

    def saved(self):
        """The saved configuration: {path: text or None}, iptables' files
        without dates and counters, firewalld's zone files with their rich
        rules in a fixed order."""
        found = files(self.host, *self.saved_paths())
        out = {}
        for path, info in found.items():
            text = None if info is None else info["text"]
            if text is not None and self.backend == "iptables":
                text = without_counters(text)
            if text is not None and self.backend == "firewalld":
                text = rules_sorted(text)
            out[path] = text
        return out

    def snapshot(self):
        return {"running": self.running(), "saved": self.saved()}

    def leftovers(self):
        """Temporary files a persist (or ufw's batch) left beside the saved
        configuration."""
        found = files(self.host, "/etc/.nftables.conf.portplan-*", "/etc/iptables/.rules.*",
                      "/etc/ufw/.*.portplan-*")
        return sorted(found)

    def portplan_lines(self):
        """The lines of the running firewall that carry portplan's tag."""
        return sorted(line.strip() for line in self.running().splitlines()
                      if re.search("portplan[:_-]", line))


def tuple_lines(rules_file):
    """ufw's list of one family's rules: its rules file's tuple lines."""
    return [line.split("### tuple ### ", 1)[1] for line in rules_file.splitlines()
            if line.startswith("### tuple ### ")]


def ufw_user_chains(host):
    """The ufw user chains as they run, both families, without counters."""
    text = host.run("iptables-save", "-t", "filter") + host.run("ip6tables-save", "-t", "filter")
    return without_counters("\n".join(line for line in text.splitlines()
                                      if re.search(r"ufw6?-user-", line)))


def parallel(jobs, seconds=None):
    """Run `jobs` (name -> function) in threads, one per test host; the
    exceptions they raised, by name. `seconds` gets each job's duration."""
    errors = {}

    def run(name, job):
        started = time.monotonic()
        try:
            job()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors[name] = f"{type(e).__name__}: {e}"
        if seconds is not None:
            seconds[name] = time.monotonic() - started

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
    if backend == "firewalld" and words[:1] == ["dbus"]:
        return words[1].rsplit(".", 1)[-1] in DBUS_CHANGING
    if backend == "firewalld":
        return any(w.startswith(("--add-", "--remove-", "--new-", "--delete-")) for w in words)
    # ufw's reads; the batch's reads of the chains and probe of
    # iptables-restore's release.
    if words[0].endswith("-save") or words[1:] == ["--version"]:
        return False
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
        # Faulted runs that went on (a fault the module works around).
        self.worked_around = 0

    def fail(self, case, what):
        self.failures.append(f"[{self.target.backend} on {self.target.name}, {case}] {what}")

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
        if current != self.reference[start]:
            # A saved configuration the run did not bring up to date: by way
            # of the other state, whose run rewrites it.
            self.bring("planned" if start == "empty" else "empty")
            self.bring(start)
            current = self.target.snapshot()
        if current != self.reference[start]:
            raise AssertionError(f"{self.target.backend}: cannot bring the host back to {start}:\n"
                                 f"{diff(self.reference[start], current)}")
        return current

    def count(self, state, label, **extra):
        """The counting run of one step: its invocations, in order."""
        counter = self.target.counter()
        code, result = self.target.run(self.plan, state, counter=counter, **extra)
        if code != 0:
            self.fail(f"{label} counting run", brief(result))
        return self.target.invocations(counter), result

    def step(self, state, start, end, label, **extra):
        """Fail each invocation of one step in turn; the step's invocations."""
        self.at(start, self.target.snapshot())
        invocations, counted = self.count(state, label, **extra)
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
        # A changing invocation that fails after it did its work (or part
        # of it: ufw writes its rules file before its chains): the rollback
        # must still find and undo the change.
        for k in range(1, len(invocations) + 1):
            if not changing(self.target.backend, invocations[k - 1]) or \
                    invocations[k - 1].split()[1:2] == ["dbus"]:
                continue
            current = self.at(start, current)
            code, result = self.target.run(self.plan, state, fault=f"half {k}",
                                           counter=self.target.counter(), **extra)
            after = self.target.snapshot()
            case = f"{label}, invocation {k} fails after it ran: {invocations[k - 1]}"
            self.cases.append(case)
            self.check(case, code, result, current, after, end)
            current = after
        if not self.target.batch:
            self.rollback_panics(state, start, end, label, invocations, counted)
        return invocations

    def rollback_panics(self, state, start, end, label, invocations, counted):
        """A changing invocation fails, and the rollback that follows it
        panics (the `panic-points` build): the rollback does not run twice
        (not every inverse can), and the answer is the failure with
        `ROLLBACK FAILED`, changed=true and the commands that ran before it
        as `actions`; the next run converges and the one after changes
        nothing. At the first changing invocation (nothing of the run to
        undo) and the last (the others to undo). ufw's batch undoes itself
        without this rollback (PanicPoints' batch points)."""
        target = self.target
        changes = [k for k, line in enumerate(invocations, 1) if changing(target.backend, line)]
        planned = (counted or {}).get("actions") or []
        for k in dict.fromkeys(changes[:1] + changes[-1:]):
            case = f"{label}, invocation {k} fails and its rollback panics: {invocations[k - 1]}"
            self.cases.append(case)
            self.at(start, target.snapshot())
            code, result = target.run(self.plan, state, fault=f"fail {k}",
                                      counter=target.counter(), binary=PANICKING,
                                      panic_at="rollback 1")
            if result is None or code != 1 or not result.get("failed"):
                self.fail(case, f"expected a failed run (exit {code}): {brief(result)}")
                continue
            msg = result["msg"]
            if not all(words in msg for words in ("injected failure", "ROLLBACK FAILED",
                                                  "injected panic at rollback 1")):
                self.fail(case, f"the message does not say what failed, then that the rollback "
                                f"failed and why: {brief(result)}")
            if not result["changed"]:
                self.fail(case, f"a rollback that did not finish, yet changed=false: "
                                f"{brief(result)}")
            actions = result.get("actions")
            if target.backend != "firewalld":
                # One command per changing invocation.
                right = actions == planned[:changes.index(k)]
            else:
                # firewalld: a command is several D-Bus calls.
                right = isinstance(actions, list) and actions == planned[:len(actions)] and \
                    len(actions) < max(len(planned), 1)
            if not right:
                self.fail(case, f"actions are not the commands before the failed one, of "
                                f"{planned}: {brief(result)}")
            self.converges(case, state, end)

    def converges(self, case, state, end):
        """After a run that left the host partly changed: the next run
        brings it to `end` (running and saved), the one after changes nothing."""
        code, result = self.target.run(self.plan, state)
        if code != 0:
            self.fail(case, f"the next run failed: {brief(result)}")
            return
        after = self.target.snapshot()
        if after != self.reference[end]:
            self.fail(case, f"the next run did not converge (running and saved as planned): "
                            f"{brief(result)}\n{diff(self.reference[end], after)}")
        code, again = self.target.run(self.plan, state)
        if code != 0 or again["changed"]:
            self.fail(case, f"the run after the next one changed something: {brief(again)}")

    def as_before(self, case, result, before, after):
        """A failed run left the host `before`, and nothing beside it."""
        if after != before:
            self.fail(case, f"the failed run changed the host: {brief(result)}\n"
                            f"{diff(before, after)}")
        leftovers = self.target.leftovers()
        if leftovers:
            self.fail(case, f"temporary files left behind: {leftovers}")

    def check(self, case, code, result, before, after, end):
        if result is None:
            self.fail(case, f"no result (exit {code})")
            return
        if not result["failed"]:
            # A fault the module worked around (e.g. firewalld's zone lookup
            # falling back to the default zone): the plan must then hold.
            self.worked_around += 1
            if after != self.reference[end]:
                self.fail(case, f"the run succeeded but left the host other than {end}: "
                                f"{brief(result)}\n{diff(self.reference[end], after)}")
            return
        self.as_before(case, result, before, after)
        if result["changed"]:
            self.fail(case, f"a failed run that left the host as it was reports changed=true: "
                            f"{brief(result)}")
        if "injected failure" not in result["msg"]:
            self.fail(case, f"the message does not quote the failure: {brief(result)}")

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
            self.converges(case, state, end)

    def kill_positions(self, invocations, persist):
        """Where to SIGKILL: after the first changing invocation (firewalld:
        the runtime changed, the permanent configuration not; iptables and
        ufw: one rule of several), after the last one (everything applied,
        nothing read back), and (persisting backends) after the last read,
        just before the file is written."""
        backend = self.target.backend
        changes = [i for i, line in enumerate(invocations, 1) if changing(backend, line)]
        if not changes:
            return []
        positions = [changes[0]]
        if changes[-1] != changes[0]:
            positions.append(changes[-1])
        if persist and len(invocations) > changes[-1] + 1:
            positions.append(len(invocations))
        return [("kill-after", k, invocations[k - 1]) for k in positions]

    def batch_kill_positions(self, invocations):
        """ufw's batch: SIGKILL between every two of its steps. Per family
        the file is written, then its chains restored, so: after the last
        read (nothing written), before and after each restore (the file
        written but not loaded; that family done, the next not begun), the
        last after everything (the run's marker still there)."""
        changes = [i for i, line in enumerate(invocations, 1) if changing("ufw", line)]
        if not changes:
            return []
        positions = [("kill-after", changes[0] - 1)]
        for k in changes:
            positions += [("kill-before", k), ("kill-after", k)]
        return [(mode, k, invocations[k - 1]) for mode, k in positions]

    def ufw_file_faults(self, state, start, end):
        """ufw's batch with each rules file unreplaceable in turn (a file
        bind-mounted over it makes the rename fail, EBUSY): the run fails,
        the files and chains are as before, nothing is left behind."""
        target = self.target
        for path in target.saved_paths():
            case = f"{state} after {start}, {path} cannot be replaced"
            self.cases.append(case)
            before = self.at(start, target.snapshot())
            code, result = pinned_run(target, path, self.plan, state)
            after = target.snapshot()
            if result is None or not result["failed"] or result["changed"]:
                self.fail(case, f"expected a failed run with changed=false: {brief(result)}")
                continue
            if "cannot write" not in result["msg"] or "as they were" not in result["msg"]:
                self.fail(case, f"the message does not say what failed and was put back: "
                                f"{brief(result)}")
            self.as_before(case, result, before, after)

    def run_all(self, parts=("present", "absent")):
        """The matrix, or `parts` of it (slow backends split it over two
        test hosts): `present` from empty, `absent` after present, each with
        its SIGKILL cases; the persist step goes with `present`."""
        target = self.target
        persists = target.backend in ("nftables", "iptables")
        self.bring("planned")
        self.reference["planned"] = target.snapshot()
        self.bring("empty")
        self.reference["empty"] = target.snapshot()
        batch = target.batch
        if "present" in parts:
            present = self.step("present", "empty", "planned", "present from empty")
            if persists:
                self.persist_step()
            if batch:
                self.ufw_file_faults("present", "empty", "planned")
            self.kill("present", "empty", "planned",
                      self.batch_kill_positions(present) if batch
                      else self.kill_positions(present, persists),
                      "present from empty")
        if "absent" in parts:
            absent = self.step("absent", "planned", "empty", "absent after present")
            if batch:
                self.ufw_file_faults("absent", "planned", "empty")
            self.kill("absent", "planned", "empty",
                      self.batch_kill_positions(absent) if batch
                      else self.kill_positions(absent, persists)[:1],
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
        invocations, result = self.count("present", label)
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
                if self.at(start, target.snapshot())["saved"].get(path) is None:
                    self.fail(case, f"{path} does not exist")
                    continue
                # The plans are IPv4 only: a foreign IPv6 rule added since the
                # last save makes rules.v6 differ too, so it is written
                # second, after rules.v4.
                drift = ["-w", "INPUT", "-p", "tcp", "--dport", "9092", "-j", "ACCEPT"]
                if path.endswith("rules.v6"):
                    target.host.run("ip6tables", *drift[:1], "-I", *drift[1:])
                before = target.snapshot()
                code, result = pinned_run(target, path, self.plan, state)
                after = target.snapshot()
                if path.endswith("rules.v6"):
                    target.host.run("ip6tables", *drift[:1], "-D", *drift[1:])
                if result is None or not result["failed"]:
                    self.fail(case, f"the run did not fail: {brief(result)}")
                    continue
                if path.endswith("rules.v6") and "put back" not in result["msg"]:
                    self.fail(case, f"the message does not say rules.v4 was put back: "
                                    f"{brief(result)}")
                self.as_before(case, result, before, after)
                if result["changed"] or "cannot persist" not in result["msg"]:
                    self.fail(case, f"expected changed=false and `cannot persist`: {brief(result)}")


def diff(before, after):
    """What differs between two snapshots, line by line, for a message."""
    out = []
    if before["running"] != after["running"]:
        out.extend(difflib.unified_diff(before["running"].splitlines(),
                                        after["running"].splitlines(),
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


def dual_family_plan(name, address):
    """matrix_plan with an IPv6 network besides: ufw's batch then writes
    and loads both families, each a step of its own, and iptables saves
    both rules.v4 and rules.v6."""
    return custom_plan({name: address},
                       [("a", 7001, ["clients"]), ("b", 7002, ["admins"])],
                       {"clients": ["198.18.2.10/32", "198.18.2.20/32"],
                        "admins": ["198.18.60.0/24", "2001:db8:60::/64"]})


def example_plan(host, address):
    """The example plan with its observer obs1 renamed `host` and moved to
    `address`, so several test hosts of one LAN can each play it."""
    plan = load_example()
    for entry in plan["hosts"]:
        if entry["name"] == "obs1":
            entry["name"], entry["address"] = host, address
    return plan


def edit_by_hand(host, backend, tag):
    """Negate the source of the first rule tagged `tag`, in its place (still
    portplan's, edited: a drop would be the operator's deny, never replaced)."""
    if backend == "iptables":
        rules = [line for line in host.run("iptables-save", "-t", "filter").splitlines()
                 if line.startswith("-A INPUT ")]
        number, line = next((n, l) for n, l in enumerate(rules, 1) if tag in l)
        spec = shlex.split(line)[2:]
        host.run("iptables", "-w", "-R", "INPUT", str(number), "!", *spec)
        return
    listed = host.run("nft", "-a", "list", "chain", "inet", "filter", "input")
    line = next(l.strip() for l in listed.splitlines() if f'comment "{tag}"' in l)
    rule, handle = line.rsplit(" # handle ", 1)
    host.run("nft", "-f", "-", stdin=f"insert rule inet filter input position {handle} "
                                     f"{rule.replace('ip saddr ', 'ip saddr != ', 1)}\n"
                                     f"delete rule inet filter input handle {handle}\n")


def open_to(test, client, server, port, expected, label=""):
    """Assert whether `client` reaches `server`:`port` (a listener runs
    there only for the check: preinstall would see it as port-in-use)."""
    with Listener(server, f"0.0.0.0:{port}"):
        got = reachable(client, server, port, timeout=1.0)
    test.assertEqual(got, expected, f"{label}: {client.name} -> {server.name}:{port} "
                                    f"{'open' if got else 'closed'}")


STOCK_NFT_CONF = """#!/usr/sbin/nft -f

flush ruleset

table inet filter {
\tchain input {
\t\ttype filter hook input priority filter;
\t}
\tchain forward {
\t\ttype filter hook forward priority filter;
\t}
\tchain output {
\t\ttype filter hook output priority filter;
\t}
}
"""

HAND_WRITTEN_NFT_CONF = """#!/usr/sbin/nft -f
# obs3's firewall, written by hand: portplan must keep these comments.
define ssh_port = 22

flush ruleset

table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\ttcp dport $ssh_port accept comment "ssh"
\t}
}

include "/etc/nftables.d/*.nft"
"""

ADM_GID = 4  # Debian's `adm` group


class Regressions(unittest.TestCase):
    """Each test fails on the behaviour issue 12 reports."""

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("safe")
        cls.ocp1 = cls.lan.host("ocp1", "198.18.2.10")
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        cls.addresses = (f"198.18.2.{n}" for n in itertools.count(31))

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def target(self, backend, **kw):
        """A new test host playing the example plan's observer obs1."""
        address = next(self.addresses)
        name = f"obs-{address.rsplit('.', 1)[1]}"
        return Target(self.lan, name, address, backend, wrap=False, **kw), \
            example_plan(name, address)

    def target_with(self, backend, nft_ruleset, ipt_rules):
        """A test host whose nftables ruleset is `nft_ruleset`, or whose
        iptables and ip6tables hold `ipt_rules` (each an iptables argv)."""
        target, plan = self.target(backend, nft_foreign=nft_ruleset,
                                   foreign=backend == "nftables")
        if backend == "iptables":
            for tool in ("iptables", "ip6tables"):
                for rule in ipt_rules:
                    target.host.run(tool, "-w", *rule)
            target.host.run("mkdir", "-p", "/etc/iptables")
        return target, plan

    def assert_ok(self, code, result, changed=None, label=""):
        self.assertEqual(code, 0, f"{label}: {brief(result)}")
        self.assertFalse(result["failed"], f"{label}: {brief(result)}")
        if changed is not None:
            self.assertEqual(result["changed"], changed, f"{label}: {brief(result)}")

    def assert_failed(self, code, result, *needles, label=""):
        self.assertEqual(code, 1, f"{label}: {brief(result)}")
        self.assertTrue(result["failed"], f"{label}: {brief(result)}")
        self.assertFalse(result["changed"], f"{label}: {brief(result)}")
        for needle in needles:
            self.assertIn(needle, result["msg"], label)

    def test_a_jump_to_a_dropping_chain_is_the_catch_all(self):
        """An input chain of policy accept that ends `jump logdrop` (nft) or
        `-j LOGDROP` (iptables), a chain that logs and drops everything:
        that jump is the catch-all. portplan's rules go before it, so the
        accessor connects, the stranger does not (after it, they would
        never match and the port would stay shut while the run said it
        opened it), and the next run has nothing to do."""
        nft_logdrop = ("table inet filter {\n\tchain logdrop {\n\t\tlog prefix \"dropped: \"\n"
                       "\t\tcounter drop\n\t}\n\tchain input {\n"
                       "\t\ttype filter hook input priority filter; policy accept;\n"
                       "\t\tct state established,related accept\n\t\tiif \"lo\" accept\n"
                       "\t\tjump logdrop\n\t}\n}\n")
        ipt_logdrop = [["-N", "LOGDROP"],
                       ["-A", "LOGDROP", "-j", "LOG", "--log-prefix", "dropped: "],
                       ["-A", "LOGDROP", "-j", "DROP"],
                       ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                        "-j", "ACCEPT"],
                       ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
                       ["-A", "INPUT", "-j", "LOGDROP"]]
        for backend in ("nftables", "iptables"):
            with self.subTest(backend=backend):
                target, plan = self.target_with(backend, nft_logdrop, ipt_logdrop)
                host = target.host
                open_to(self, self.ocp1, host, 2881, False, f"{backend}, before")
                self.opens_as_planned(target, plan, backend)

    def test_a_goto_before_portplans_place_is_refused(self):
        """An input chain that drops, with `goto services` (nft) or `-g
        SERVICES` (iptables) before any catch-all, where that chain admits
        only ssh; unconditional, and narrowed to new connections (`ct state
        new`, `--ctstate NEW`), which is every connection portplan opens: a
        packet never comes back from a goto, so portplan's rules after it
        would never see it (the run would say it opened a port that stays
        shut), and before it they would skip whatever that chain denies.
        The run is refused naming the goto, the firewall stays as it was,
        the port stays shut, and `absent` is not refused."""
        forms = (("unconditional", ("", [])),
                 ("new connections", ("ct state new ", ["-m", "conntrack", "--ctstate", "NEW"])))
        for backend in ("nftables", "iptables"):
            for form, when in forms:
                label = f"{backend}, {form}"
                with self.subTest(backend=backend, form=form):
                    target, plan = self.target_with(backend, *services_layout(when))
                    host = target.host
                    before = target.snapshot()
                    code, result = target.run(plan)
                    self.assert_failed(code, result, "sends the packets it matches to chain",
                                       "for good", "Make the goto a jump", label=label)
                    self.assertEqual(target.snapshot(), before, label)
                    open_to(self, self.ocp1, host, 2881, False, label)
                    # `absent` is not refused; it only saves the running
                    # firewall, which the set-up above left unsaved.
                    code, result = target.run(plan, "absent")
                    self.assert_ok(code, result, label=f"{label}, absent")
                    self.assertEqual(target.running(), before["running"], f"{label}, absent")

    def test_a_goto_put_in_before_portplans_rules_is_refused_next_run(self):
        """portplan opens the port in a dropping input chain; then someone
        puts `goto services` (nft) or `-g SERVICES` (iptables) at the top
        of the chain. portplan's rule is still there, but no packet reaches
        it: it is not counted as in place, so the next run is refused
        naming the goto (not "nothing to do"), and changes nothing; the
        audit reports it as an error."""
        goto = {"nftables": ["nft", "insert", "rule", "inet", "filter", "input", "goto",
                             "services"],
                "iptables": ["iptables", "-w", "-I", "INPUT", "1", "-g", "SERVICES"]}
        for backend in ("nftables", "iptables"):
            with self.subTest(backend=backend):
                target, plan = self.target_with(backend, *services_layout())
                host = target.host
                self.opens_as_planned(target, plan, backend)
                host.run(*goto[backend])
                open_to(self, self.ocp1, host, 2881, False, f"{backend}, behind the goto")
                before = target.snapshot()
                code, result = target.run(plan)
                self.assert_failed(code, result, "sends the packets it matches to chain",
                                   "Make the goto a jump", label=backend)
                self.assertEqual(target.snapshot(), before, backend)
                # The audit is not green over it: an error finding naming
                # the goto, the report kept.
                code, result = target.run(plan, "checked")
                self.assertEqual(code, 1, f"{backend}, audit: {brief(result)}")
                self.assertIn(f"firewall-drift: {backend}: state: present would be refused",
                              result["msg"], backend)
                self.assertIn("sends the packets it matches to chain", result["msg"], backend)
                refusals = [f for f in result["findings"] if f["code"] == "firewall-drift"
                            and "would be refused" in f["message"]]
                self.assertEqual([f["severity"] for f in refusals], ["error"], backend)
                self.assertEqual(target.snapshot(), before, f"{backend}, audit")

    def test_ufw_foreign_rule_of_any_action_is_refused_and_kept(self):
        """Item 1: ufw would "update" a foreign deny into portplan's allow."""
        target, plan = self.target("ufw")
        host = target.host
        for action in ("deny", "reject", "limit"):
            rule = [action, "from", "198.18.2.10", "to", "any", "port", "2881", "proto", "tcp",
                    "comment", "blocked host"]
            host.run("ufw", *rule)
            before = host.run("ufw", "show", "added")
            shown = (f"ufw {action} from 198.18.2.10 to any port 2881 proto tcp "
                     "comment 'blocked host'")
            self.assertIn(shown, before)
            code, result = target.run(plan)
            self.assert_failed(code, result, f"a rule portplan did not write ({action})",
                               "198.18.2.10", "blocked host", label=action)
            self.assertEqual(host.run("ufw", "show", "added"), before, action)
            if action != "limit":  # a limit admits the first connections
                open_to(self, self.ocp1, host, 2881, False, action)
            code, result = target.run(plan, "absent")
            self.assert_ok(code, result, changed=False, label=f"{action}, absent")
            self.assertEqual(host.run("ufw", "show", "added"), before, f"{action}, absent")
            host.run("ufw", "delete", *rule)
        # Without the foreign rule the same plan opens the port.
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True)
        open_to(self, self.ocp1, host, 2881, True, "no foreign rule")
        open_to(self, self.stranger, host, 2881, False, "no foreign rule")

    def test_ufw_batch_keeps_rules_added_to_ufws_chains_directly(self):
        """The batch reloads ufw's user chains from its rules files, which
        flushes them first (as `ufw reload` and ufw's own delete do): a rule
        someone added to ufw-user-input with `iptables -I`, deleted from it
        with `iptables -D`, or replaced with `iptables -R` (the chain's count
        unchanged) would be undone without a word. The run that would reload
        such a chain stops, names it, and changes nothing; the audit, whose
        ufw listing reads the files, names it as drift; once the chains run
        as the file says, the same run goes through and the audit passes."""
        address = next(self.addresses)
        name = f"ud-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, "ufw", wrap=False)
        host = target.host
        # An app profile's rule too (ufw's own ufw-webserver profile): its
        # file line and iptables-save quote the comment differently
        # (`'dapp_WWW%20Full'`, `"\'dapp_WWW%20Full\'"`).
        host.run("ufw", "allow", "WWW Full")
        plan = example_plan(name, address)
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label="open")
        code, result = target.run(plan, "checked")
        self.assert_ok(code, result, changed=False, label="audit, the chains as filed")
        added = ["-s", "198.18.77.7/32", "-p", "tcp", "--dport", "7777", "-j", "ACCEPT"]
        first = host.run("iptables-save", "-t", "filter").splitlines()
        # The operator's `ufw allow 22/tcp` (UFW_FOREIGN), deleted behind ufw's back.
        user_input = [line for line in first if line.startswith("-A ufw-user-input ")]
        ssh = next(line for line in user_input if line.endswith(" --dport 22 -j ACCEPT"))
        at = str(user_input.index(ssh) + 1)
        spec = shlex.split(ssh)[2:]
        counted = ("ufw-user-input runs", "/etc/ufw/user.rules holds")
        replaced = ("ufw-user-input runs `", f"as its rule {at} where /etc/ufw/user.rules loads")
        for change, undo, said in ((["-I", "ufw-user-input", "1", *added],
                                    ["-D", "ufw-user-input", *added], counted),
                                   (["-D", "ufw-user-input", *spec],
                                    ["-I", "ufw-user-input", at, *spec], counted),
                                   (["-R", "ufw-user-input", at, *spec[:-1], "DROP"],
                                    ["-R", "ufw-user-input", at, *spec], replaced)):
            label = " ".join(change[:2])
            host.run("iptables", "-w", *change)
            before = target.snapshot()
            code, result = target.run(plan, "absent")
            self.assert_failed(code, result, *said, "with iptables directly",
                               "nothing was changed", label=label)
            self.assertEqual(target.snapshot(), before, label)
            code, result = target.run(plan, "checked")
            self.assertEqual(code, 1, f"{label}, audit: {brief(result)}")
            self.assertIn(f"firewall-drift: ufw: {said[0]}", result["msg"], label)
            host.run("iptables", "-w", *undo)
        code, result = target.run(plan, "checked")
        self.assert_ok(code, result, changed=False, label="audit, the chain as filed")
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="absent, the chain as filed")
        open_to(self, self.ocp1, host, 2881, False, "absent")

    def test_ufw_batch_runs_where_ufw_left_its_own_chains_unloaded(self):
        """ufw itself leaves some chains other than the files say: a plain
        `ufw enable` loads the shipped user6.rules, which has no
        ufw6-user-limit rules, then rewrites the file with them and does
        not reload it; with logging off, `ufw allow log` deletes a RETURN
        from ufw-user-logging-input that the file keeps. Neither is a rule
        someone changed with iptables, and the batch goes through on both
        (only the chains that hold user rules are compared)."""
        address = next(self.addresses)
        name = f"uf-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, "ufw", wrap=False, foreign=False)
        host = target.host
        host.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
        host.run("ufw", "--force", "enable")
        host.run("ufw", "logging", "off")
        host.run("ufw", "allow", "log", "8443/tcp")
        plan = dual_family_plan(name, address)
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label="IPv4 and IPv6 rules")
        self.assertIn("loaded with iptables-restore -n", result["firewall"]["reason"])
        open_to(self, self.ocp1, host, 7001, True, "after a fresh enable")
        open_to(self, self.stranger, host, 7001, False, "after a fresh enable")
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="absent")

    def test_ufw_batch_waits_for_the_xtables_lock_on_iptables_legacy(self):
        """On iptables-legacy every change of a table is read, edited and
        written back whole under the xtables lock. Told nothing,
        iptables-restore gives up at once when another tool holds it (1.6.2
        to 1.8.7, and from 1.8.11) or waits without a bound (1.8.8 to
        1.8.10); the batch's restore is told to wait, 30 s at most.

        Another tool (a stand-in for a legacy `iptables -A` of docker or
        fail2ban, slowed down) holds the lock, has read the filter table and
        writes it back with its rule added while the batch's restore starts:
        the restore waits for it, and both changes stay (a restore that took
        no lock would lose the batch's rules to the stale write-back). Held
        past the bound, the restore gives up, the batch's rollback waits for
        the lock in turn, and the run fails with nothing changed. This
        machine's 1.8.9 would wait without the option too; there the first
        part fails only on the logged argv, the second on the outcome."""
        address = next(self.addresses)
        name = f"ul-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, "ufw", iptables="legacy")
        host = target.host
        plan = example_plan(name, address)
        counter = target.counter()
        code, result = target.run(plan, counter=counter)
        self.assert_ok(code, result, changed=True, label="counting run")
        invocations = target.invocations(counter)
        restores = [k for k, line in enumerate(invocations, 1)
                    if line.split()[1:3] == ["iptables-restore", "-n"]]
        self.assertEqual(len(restores), 1, invocations)
        self.assertIn("--wait=30", invocations[restores[0] - 1].split(), "the restore waits")
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="back to no rule")
        before = ufw_user_chains(host)

        late = ("-A INPUT -s 198.18.77.7/32 -p tcp -m tcp --dport 7777 "
                "-m comment --comment late-foreign -j ACCEPT")
        snap, done = (os.path.join(target.fault_dir, f) for f in ("snap", "done"))
        counter = target.counter()
        # The other tool writes under the lock it holds (its own restore
        # told of another lock file, so as not to wait for itself).
        other = (f"iptables-save -t filter > {snap} && touch {counter}.started && sleep 2 && "
                 f"sed '0,/^COMMIT/s|^COMMIT|{late}\\nCOMMIT|' {snap} | "
                 "XTABLES_LOCKFILE=/run/other.lock iptables-restore -T filter")
        meanwhile = f"flock /run/xtables.lock sh -c \"{other}\"; touch {done}"
        code, result = target.run(plan, fault=f"during {restores[0]}", counter=counter,
                                  meanwhile=meanwhile)
        self.assertTrue(wait_until(lambda: os.path.exists(done), 30), "the other tool finished")
        self.assert_ok(code, result, changed=True, label="a run meeting the lock")
        self.assertIn(late, host.run("iptables-save", "-t", "filter"), "the other tool's rule")
        chains = ufw_user_chains(host)
        self.assertNotEqual(chains, before, "the batch's rules")
        open_to(self, self.ocp1, host, 2881, True, "under the lock")
        open_to(self, self.stranger, host, 2881, False, "under the lock")
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=False, label="next run")
        self.assertEqual(ufw_user_chains(host), chains)

        # Held for 35 s from the restore of `absent` (the same invocation).
        snapshot = target.snapshot()
        os.unlink(done)
        counter = target.counter()
        meanwhile = (f"flock /run/xtables.lock sh -c 'touch {counter}.started; sleep 35'; "
                     f"touch {done}")
        code, result = target.run(plan, "absent", fault=f"during {restores[0]}",
                                  counter=counter, meanwhile=meanwhile)
        self.assertTrue(wait_until(lambda: os.path.exists(done), 30), "the other tool finished")
        self.assertIn("--wait=30", target.invocations(counter)[restores[0] - 1].split())
        self.assert_failed(code, result, "Stopped waiting after 30s",
                           "the rules files and chains are as they were", label="held 35 s")
        self.assertEqual(target.snapshot(), snapshot, brief(result))
        open_to(self, self.ocp1, host, 2881, True, "after the lock was held too long")

    def test_foreign_rule_of_any_action_is_refused_on_every_backend(self):
        """Item 1 on nftables, iptables and firewalld: a foreign drop or
        reject on the tuple portplan would open is named, and kept."""
        foreign = {
            "nftables": ["nft", "insert", "rule", "inet", "filter", "input",
                         "ip", "saddr", "198.18.2.10", "tcp", "dport", "2881", "drop"],
            "iptables": ["iptables", "-w", "-I", "INPUT", "1", "-s", "198.18.2.10/32", "-p", "tcp",
                         "--dport", "2881", "-j", "DROP"],
            "firewalld": ["firewall-cmd", 'rule family="ipv4" source address="198.18.2.10" '
                          'port port="2881" protocol="tcp" reject'],
        }
        action = {"nftables": "drop", "iptables": "DROP", "firewalld": "reject"}
        for backend, command in foreign.items():
            target, plan = self.target(backend)
            host = target.host
            if backend == "firewalld":
                for side in ([], ["--permanent"]):
                    host.run("firewall-cmd", *side, f"--add-rich-rule={command[1]}")
            else:
                host.run(*command)
            before = target.snapshot()
            code, result = target.run(plan)
            self.assert_failed(code, result,
                               f"a rule portplan did not write ({action[backend]})",
                               "198.18.2.10", label=backend)
            self.assertEqual(target.snapshot(), before, backend)
            open_to(self, self.ocp1, host, 2881, False, backend)

    def test_rollback_puts_rules_back_in_their_place(self):
        """A failed run rolls back precisely: portplan's rules go back where
        they were, so a rule someone added after them (here a DROP of the
        accessor's /24) does not come first. A run that reports
        changed=false must not cut the accessor off."""
        for backend, env in (("iptables", None), ("ufw", {"PORTPLAN_UFW": "ufw"}),
                             ("ufw", None)):
            with self.subTest(backend=backend, env=env):
                self.rollback_in_place(backend, env)

    def test_ufw_per_rule_rollback_puts_ipv6_rules_back_in_their_place(self):
        """ufw numbers its IPv4 list, then its IPv6 list, and `ufw show
        added` leaves out the IPv6 twins of both-family rules: a rule put
        back from that listing alone lands after every twin. Here a deny
        and a both-family rule (its twin last) come after portplan's IPv6
        rule, whose delete takes effect and then fails: the rollback must
        put it back before the deny, where it was (the rules files say)."""
        address = next(self.addresses)
        name = f"rb-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, "ufw", env={"PORTPLAN_UFW": "ufw"})
        plan = dual_family_plan(name, address)
        host = target.host
        removals = self.removals(target, plan, "ufw", reason="running ufw per rule")
        self.assertIn("2001:db8:60::/64", removals[-1], "the IPv6 rule goes last")
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label="present again")
        host.run("ufw", "deny", "from", "2001:db8:60::/64", "to", "any", "port", "7003",
                 "proto", "tcp")
        host.run("ufw", "allow", "8080/tcp")
        before = target.snapshot()
        k = int(removals[-1].split()[0])
        code, result = target.run(plan, "absent", fault=f"half {k}", counter=target.counter())
        self.assert_failed(code, result, "injected failure", label=f"half {k}")
        after = target.snapshot()
        self.assertEqual(after, before, "the rolled-back run changed the host:\n"
                                        + diff(before, after))

    def test_ufw_rollback_counts_application_rules_as_ufw_does(self):
        """Where an application rule is in ufw's lists, ufw counts it once
        but writes a tuple line per port entry of its profile (CIFS: two),
        and `ufw insert N` takes both counts (ufw's frontend.py, and
        set_rule in backend_iptables.py: N within the rules as counted, then
        the rule before the N-th line, walking past an application rule's
        lines rather than splitting them). portplan's IPv6 rule is deleted,
        then the delete fails, and the rollback puts it back:
        - CIFS added after portplan's rules: before CIFS's IPv6 twins,
          where it was (the rollback took the listing's number and put it
          last, and said it had worked);
        - CIFS first (an operator's CIFS, then SSH, then portplan): the
          place before portplan's last IPv4 rule is out of reach of every
          number ufw takes (after CIFS's two lines and 22's, 4 is past
          ufw's count). The rule before it goes back after it: portplan's
          allows in another order among themselves, which admit the same,
          and the rollback succeeds;
        - CIFS first and 8080 last: the place right before 8080's rule is
          out of reach too, in both lists. portplan's last rule of each
          list goes back after 8080's, later, never earlier (the listing's
          number put the IPv4 one before the 9090 rule it followed, and the
          ones after it out of place too), the others in their places, and
          the rollback says which rule is out of its place: ufw takes the
          first rule that matches, so that is not the firewall as it was."""
        for layout in ("CIFS after", "CIFS first", "CIFS first, 8080 last"):
            with self.subTest(layout=layout):
                address = next(self.addresses)
                name = f"rb-{address.rsplit('.', 1)[1]}"
                target = Target(self.lan, name, address, "ufw", env={"PORTPLAN_UFW": "ufw"})
                plan = dual_family_plan(name, address)
                host = target.host
                if layout != "CIFS after":
                    host.run("ufw", "insert", "1", "allow", "CIFS")
                removals = self.removals(target, plan, "ufw", reason="running ufw per rule")
                self.assertIn("2001:db8:60::/64", removals[-1], "the IPv6 rule goes last")
                code, result = target.run(plan)
                self.assert_ok(code, result, changed=True, label="present again")
                if layout != "CIFS first":
                    host.run("ufw", "allow", "CIFS" if layout == "CIFS after" else "8080/tcp")
                before = target.snapshot()
                k = int(removals[-1].split()[0])
                code, result = target.run(plan, "absent", fault=f"half {k}",
                                          counter=target.counter())
                if layout == "CIFS after":
                    self.assert_failed(code, result, "injected failure", label=layout)
                    after = target.snapshot()
                    self.assertEqual(after, before, "the rolled-back run changed the host:\n"
                                                    + diff(before, after))
                    continue
                if layout == "CIFS first":
                    self.assert_failed(code, result, "injected failure", label=layout)
                    for path in target.saved_paths():
                        was = tuple_lines(before["saved"][path])
                        now = tuple_lines(target.saved()[path])
                        ours = [line for line in was if "comment=" in line]
                        self.assertEqual(sorted(now), sorted(was), path)
                        self.assertEqual(now[:len(was) - len(ours)], was[:len(was) - len(ours)],
                                         f"{path}: the operator's rules, then portplan's")
                    continue
                self.assertEqual(code, 1, brief(result))
                self.assertTrue(result["failed"] and result["changed"], brief(result))
                for needle in ("injected failure", "not all in their places",
                               "in user.rules, `allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in` now "
                               "comes before `allow tcp 7002 0.0.0.0/0 any 198.18.60.0/24 in "
                               "comment="):
                    self.assertIn(needle, result["msg"])
                for path in target.saved_paths():
                    was = tuple_lines(before["saved"][path])
                    last = max(i for i, line in enumerate(was) if "comment=" in line)
                    self.assertEqual(tuple_lines(target.saved()[path]),
                                     was[:last] + was[last + 1:] + was[last:last + 1], path)
                # The next run does what it was asked.
                code, result = target.run(plan, "absent")
                self.assert_ok(code, result, changed=True, label="absent again")
                self.assertNotIn("portplan:", host.run("ufw", "show", "added"))

    def test_rollback_keeps_changes_made_meanwhile(self):
        """Item 4: a failing run's rollback undoes its own changes only. A
        rule someone adds while the run reads back (then the read-back
        fails) survives it; portplan's rules are gone again."""
        meanwhile = {
            "nftables": "nft add rule inet filter input tcp dport 9093 accept comment meanwhile",
            "iptables": "iptables -w -I INPUT 1 -p tcp --dport 9093 -m comment "
                        "--comment meanwhile -j ACCEPT",
            # Over D-Bus: the relay fails the call and runs this first.
            "firewalld": "firewall-cmd --add-rich-rule='rule family=\"ipv4\" source "
                         "address=\"198.18.77.0/24\" port port=\"9093\" protocol=\"tcp\" "
                         "log prefix=\"meanwhile\" level=\"info\" accept'",
            # The read-back after ufw's batch fails; the batch is undone on
            # the files as they are then.
            "ufw": "ufw allow 9093/tcp comment meanwhile",
        }
        for backend, command in meanwhile.items():
            with self.subTest(backend=backend):
                address = next(self.addresses)
                name = f"mw-{address.rsplit('.', 1)[1]}"
                target = Target(self.lan, name, address, backend)
                plan = matrix_plan(name, address)
                before = target.running()
                counter = target.counter()
                code, result = target.run(plan, counter=counter)
                self.assert_ok(code, result, changed=True, label=backend)
                invocations = target.invocations(counter)
                last_change = max(i for i, line in enumerate(invocations, 1)
                                  if changing(backend, line))
                code, result = target.run(plan, "absent")
                self.assert_ok(code, result, changed=True, label=f"{backend}, absent")
                self.assertEqual(target.running(), before)
                code, result = target.run(plan, fault=f"meanwhile {last_change + 1}",
                                          counter=target.counter(), meanwhile=command)
                self.assert_failed(code, result, "injected failure", "rolled back",
                                   label=f"{backend}, read-back failed")
                after = target.running()
                self.assertIn("meanwhile", after, f"{backend}: someone else's rule is gone")
                # ufw's user chains carry no comment: its rule there is 9093's.
                self.assertEqual([line for line in after.splitlines()
                                  if "meanwhile" not in line and "--dport 9093 " not in line],
                                 before.splitlines(), backend)

    def test_firewalld_stopped_mid_run(self):
        """firewalld stops answering (SIGSTOP) at the first call that changes
        it: the run does not hang, fails naming the unanswered call, and once
        the daemon goes on the next run converges and the one after finds
        nothing to do."""
        address = next(self.addresses)
        name = f"st-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, "firewalld")
        plan = matrix_plan(name, address)
        counter = target.counter()
        code, result = target.run(plan, counter=counter)
        self.assert_ok(code, result, changed=True)
        invocations = target.invocations(counter)
        first_change = min(i for i, line in enumerate(invocations, 1)
                           if changing("firewalld", line))
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="absent")
        started = time.monotonic()
        try:
            code, result = run_module(target.host, target.args(plan),
                                      fault=f"stop {first_change}",
                                      counter=target.counter(), timeout=200)
        finally:
            target.host.firewalld.send_signal(signal.SIGCONT)
        took = time.monotonic() - started
        self.assertEqual(code, 1, brief(result))
        self.assertTrue(result["failed"], brief(result))
        self.assertIn("addRichRule", result["msg"])
        self.assertIn("ROLLBACK FAILED", result["msg"], "a rollback cannot reach the daemon")
        self.assertLess(took, 120, "the run waited too long for a stopped daemon")
        code, result = target.run(plan)
        self.assert_ok(code, result, label="after the daemon went on")
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=False, label="the run after")
        open_to(self, self.ocp1, target.host, 7001, True, "stopped mid-run, then converged")

    def removals(self, target, plan, backend, reason=None):
        """`present`, then `absent`: the invocations of `absent` that
        change the firewall. Each run must change it (and say `reason`
        for the firewall it used, when given)."""
        counter = target.counter()
        for state in ("present", "absent"):
            code, result = target.run(plan, state, counter=counter)
            self.assert_ok(code, result, changed=True, label=f"{backend}, {state}")
            if reason:
                self.assertIn(reason, result["firewall"]["reason"], state)
            if state == "present":
                os.unlink(counter)
                os.unlink(counter + ".log")
        return [line for line in target.invocations(counter) if changing(backend, line)]

    def rollback_in_place(self, backend, env=None):
        address = next(self.addresses)
        name = f"rb-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, backend, env=env)
        plan = matrix_plan(name, address)
        host = target.host
        # `absent` removes the rules one by one: its second removal fails.
        removals = self.removals(target, plan, backend)
        batch = backend == "ufw" and env is None
        if batch:
            # ufw's batch: one restore (the plan is IPv4 only); failing it
            # puts user.rules back and leaves the chains as they were.
            self.assertEqual([line.split()[1] for line in removals], ["iptables-restore"])
            removals = removals * 2
        self.assertGreater(len(removals), 1, removals)
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label=f"{backend}, present again")
        if backend == "iptables":
            rules = host.run("iptables", "-S", "INPUT").splitlines()
            catch_all = rules.index("-A INPUT -j REJECT --reject-with icmp-port-unreachable")
            host.run("iptables", "-w", "-I", "INPUT", str(catch_all), "-s", "198.18.2.0/24",
                     "-p", "tcp", "--dport", "7001", "-j", "DROP")
        else:
            host.run("ufw", "deny", "from", "198.18.2.0/24", "to", "any", "port", "7001",
                     "proto", "tcp")
        open_to(self, self.ocp1, host, 7001, True, f"{backend}, before")
        before = target.snapshot()
        k = int(removals[1].split()[0])
        code, result = target.run(plan, "absent", fault=f"fail {k}",
                                  counter=target.counter())
        self.assert_failed(code, result, "injected failure", label=f"{backend}, fail {k}")
        open_to(self, self.ocp1, host, 7001, True, f"{backend}, after the rolled-back run")
        after = target.snapshot()
        self.assertEqual(after, before, f"{backend}: the rolled-back run changed the host:\n"
                                        + diff(before, after))

    def test_iptables_nft_host_is_driven_through_iptables(self):
        """Item 2: native nft rules in iptables-nft's chain lose their sources
        in a save/restore round trip."""
        target, plan = self.target("iptables", foreign=False)
        host = target.host
        host.run("iptables-nft", "-P", "INPUT", "DROP")
        host.run("mkdir", "-p", "/etc/iptables")
        before = host.run("nft", "list", "ruleset")
        conf = files(host, "/etc/nftables.conf")
        code, result = target.run(plan, firewall="nftables")
        self.assert_failed(code, result, "another tool owns", label="firewall: nftables")
        self.assertEqual(host.run("nft", "list", "ruleset"), before)
        self.assertEqual(files(host, "/etc/nftables.conf"), conf)
        code, result = target.run(plan, firewall="auto")
        self.assert_ok(code, result, changed=True, label="auto")
        self.assertEqual(result["firewall"]["backend"], "iptables", result["firewall"])
        open_to(self, self.ocp1, host, 2881, True, "auto")
        open_to(self, self.stranger, host, 2881, False, "auto")
        # What a boot does with iptables-persistent on an iptables-nft host.
        host.run("sh", "-c", "iptables-nft-save | iptables-nft-restore")
        code, result = target.run(plan, firewall="auto")
        self.assert_ok(code, result, changed=False, label="after the round trip")
        open_to(self, self.ocp1, host, 2881, True, "after the round trip")
        open_to(self, self.stranger, host, 2881, False, "after the round trip")
        code, result = target.run(plan, "absent", firewall="auto")
        self.assert_ok(code, result, changed=True, label="absent")
        self.assertNotIn("portplan:", host.run("nft", "list", "ruleset"))
        self.assertNotIn("portplan:", host.run("iptables-nft-save"))

    def test_native_table_beside_iptables_nft(self):
        """Item 2, Docker hosts: a native `inet filter` table drops input
        beside iptables-nft's tables; portplan's rules go into the native
        table only and survive iptables-nft's round trip."""
        target, plan = self.target("nftables")
        host = target.host
        host.run("iptables-nft", "-P", "FORWARD", "DROP")
        host.run("iptables-nft", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
        code, result = target.run(plan, firewall="auto")
        self.assert_ok(code, result, changed=True, label="auto")
        self.assertEqual(result["firewall"]["backend"], "nftables", result["firewall"])
        self.assertNotIn("portplan:", host.run("iptables-nft-save"))
        host.run("sh", "-c", "iptables-nft-save | iptables-nft-restore")
        open_to(self, self.ocp1, host, 2881, True, "after the round trip")
        open_to(self, self.stranger, host, 2881, False, "after the round trip")
        # The round trip itself rewrites iptables-nft's tables (it adds their
        # empty OUTPUT chain), so the next run may save the ruleset again;
        # portplan's rules are recognised: nothing to add or remove.
        code, result = target.run(plan, firewall="auto")
        self.assert_ok(code, result, label="after the round trip")
        self.assertEqual(result["actions"], [], brief(result))
        code, result = target.run(plan, firewall="auto")
        self.assert_ok(code, result, changed=False, label="the run after it")
        # With iptables-nft's INPUT dropping too, no native rule goes into
        # its chain: the run fails naming the owner, or leaves the port as
        # the plan says.
        host.run("iptables-nft", "-P", "INPUT", "DROP")
        code, result = target.run(plan, firewall="auto")
        chain = host.run("nft", "list", "chain", "ip", "filter", "INPUT")
        self.assertNotIn('comment "portplan:', chain)
        if result["failed"]:
            self.assertIn("another tool owns", result["msg"])
        else:
            open_to(self, self.ocp1, host, 2881, True, "both drop")
        open_to(self, self.stranger, host, 2881, False, "both drop")

    def test_a_saved_ruleset_that_would_not_load_at_boot_is_not_saved(self):
        """Item 3, Docker and fail2ban hosts: iptables-nft rules with a match
        nft cannot translate list as `xt match`, which `nft -f` refuses, and
        a conf that fails loads nothing at boot (its `flush ruleset` is in the
        same transaction). The run fails before the file is replaced, rolls
        back, and leaves no backup or temporary file; persist: false opens
        the port."""
        target, plan = self.target("nftables")
        host = target.host
        host.run("iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22",
                 "-m", "recent", "--name", "ssh", "--set")
        running = host.run("nft", "-s", "list", "ruleset")
        self.assertIn("xt match", running)
        saved = ("/etc/nftables.conf", "/etc/.nftables.conf.portplan-*", "/etc/nftables.conf.*~")
        before = files(host, *saved)
        code, result = target.run(plan, backup=True)
        self.assert_failed(code, result, "would not load at boot", "xt match",
                           "persist: false", "rolled back", label="persist: true")
        self.assertEqual(result["persisted"], [], brief(result))
        self.assertEqual(host.run("nft", "-s", "list", "ruleset"), running)
        self.assertEqual(files(host, *saved), before)
        code, result = target.run(plan, persist=False)
        self.assert_ok(code, result, changed=True, label="persist: false")
        self.assertEqual(files(host, *saved), before)
        open_to(self, self.ocp1, host, 2881, True, "persist: false")
        open_to(self, self.stranger, host, 2881, False, "persist: false")

    def test_hand_written_nftables_conf_is_kept(self):
        """Item 3: a hand-written conf (comments, a define, an include, mode
        0640 root:adm, reached through a symlink) is refused before any
        change, byte for byte; persist: false still works."""
        target, plan = self.target("nftables", foreign=False)
        host = target.host
        host.run("mkdir", "-p", "/etc/nftables.d", "/etc/nft-conf")
        host.run("sh", "-c", "echo 'add rule inet filter input tcp dport 9090 accept' "
                             "> /etc/nftables.d/monitoring.nft")
        host.run("sh", "-c", "cat > /etc/nft-conf/obs3.conf", stdin=HAND_WRITTEN_NFT_CONF)
        host.run("chown", "root:adm", "/etc/nft-conf/obs3.conf")
        host.run("chmod", "0640", "/etc/nft-conf/obs3.conf")
        host.run("ln", "-sfn", "nft-conf/obs3.conf", "/etc/nftables.conf")
        host.run("nft", "-f", "/etc/nftables.conf")
        before = files(host, "/etc/nftables.conf", "/etc/nft-conf/*", "/etc/nftables.d/*")
        running = host.run("nft", "list", "ruleset")
        self.assertIn("tcp dport 9090 accept", running)
        code, result = target.run(plan)
        self.assert_failed(code, result, "portplan leaves it as it is", "Nothing was changed",
                           "define ssh_port", label="persist: true")
        self.assertEqual(host.run("nft", "list", "ruleset"), running)
        after = files(host, "/etc/nftables.conf", "/etc/nft-conf/*", "/etc/nftables.d/*")
        self.assertEqual(after, before)
        self.assertTrue(after["/etc/nftables.conf"]["link"])
        self.assertEqual((after["/etc/nft-conf/obs3.conf"]["mode"],
                          after["/etc/nft-conf/obs3.conf"]["gid"]), (0o640, ADM_GID))
        code, result = target.run(plan, persist=False)
        self.assert_ok(code, result, changed=True, label="persist: false")
        self.assertEqual(files(host, "/etc/nftables.conf", "/etc/nft-conf/*",
                               "/etc/nftables.d/*"), before)
        code, result = target.run(plan, "absent", persist=False)
        self.assert_ok(code, result, changed=True, label="absent, persist: false")
        self.assertEqual(host.run("nft", "list", "ruleset"), running)

    def test_stock_nftables_conf_is_persisted_with_a_backup(self):
        """Item 3: a stock conf (here through a symlink, mode 0640 root:adm)
        is replaced by the running ruleset, with `backup: true` a copy of the
        old one, the link and its target's mode and owner kept; a simulated
        boot gives exactly the running ruleset."""
        target, plan = self.target("nftables")
        host = target.host
        host.run("mkdir", "-p", "/etc/nft-conf")
        host.run("sh", "-c", "cat > /etc/nft-conf/stock.conf", stdin=STOCK_NFT_CONF)
        host.run("chown", "root:adm", "/etc/nft-conf/stock.conf")
        host.run("chmod", "0640", "/etc/nft-conf/stock.conf")
        host.run("ln", "-sfn", "nft-conf/stock.conf", "/etc/nftables.conf")
        code, result = target.run(plan, backup=True)
        self.assert_ok(code, result, changed=True)
        self.assertEqual(result["persisted"], ["/etc/nftables.conf"])
        self.assertTrue(result.get("backup_file"), brief(result))
        saved = files(host, "/etc/nftables.conf", "/etc/nft-conf/stock.conf",
                      result["backup_file"])
        self.assertEqual(saved[result["backup_file"]]["text"], STOCK_NFT_CONF)
        self.assertTrue(saved["/etc/nftables.conf"]["link"])
        conf = saved["/etc/nft-conf/stock.conf"]
        self.assertEqual((conf["mode"], conf["uid"], conf["gid"]), (0o640, 0, ADM_GID))
        self.assertIn(TAG_SQL, conf["text"])
        running = host.run("nft", "-s", "list", "ruleset")
        host.run("nft", "flush", "ruleset")
        host.run("nft", "-f", "/etc/nftables.conf")
        self.assertEqual(host.run("nft", "-s", "list", "ruleset"), running)
        code, result = target.run(plan, backup=True)
        self.assert_ok(code, result, changed=False, label="after the boot")
        self.assertNotIn("backup_file", result)
        open_to(self, self.ocp1, host, 2881, True, "after the boot")
        open_to(self, self.stranger, host, 2881, False, "after the boot")

    def test_iptables_rules_are_persisted_with_a_backup(self):
        """Item 3 for iptables-persistent: rules.v4 replaced with a backup,
        mode and owner kept; iptables-restore after a flush gives exactly
        what iptables-save shows."""
        target, plan = self.target("iptables")
        host = target.host
        for tool, path in (("iptables-save", "rules.v4"), ("ip6tables-save", "rules.v6")):
            host.run("sh", "-c", f"{tool} > /etc/iptables/{path}")
            host.run("chown", "root:adm", f"/etc/iptables/{path}")
            host.run("chmod", "0640", f"/etc/iptables/{path}")
        old = files(host, "/etc/iptables/rules.v4")["/etc/iptables/rules.v4"]["text"]
        code, result = target.run(plan, backup=True)
        self.assert_ok(code, result, changed=True)
        self.assertEqual(result["persisted"], ["/etc/iptables/rules.v4", "/etc/iptables/rules.v6"])
        self.assertTrue(result.get("backup_file"), brief(result))
        saved = files(host, "/etc/iptables/rules.v4", "/etc/iptables/rules.v6",
                      result["backup_file"])
        self.assertEqual(saved[result["backup_file"]]["text"], old)
        for path in ("/etc/iptables/rules.v4", "/etc/iptables/rules.v6"):
            self.assertEqual((saved[path]["mode"], saved[path]["gid"]), (0o640, ADM_GID), path)
        self.assertIn(TAG_SQL, saved["/etc/iptables/rules.v4"]["text"])
        running = target.running()
        host.run("nft", "flush", "ruleset")
        host.run("sh", "-c", "iptables-restore < /etc/iptables/rules.v4 && "
                             "ip6tables-restore < /etc/iptables/rules.v6")
        self.assertEqual(target.running(), running)
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=False, label="after the boot")
        open_to(self, self.ocp1, host, 2881, True, "after the boot")
        open_to(self, self.stranger, host, 2881, False, "after the boot")

    def test_colliding_spec_ids_converge(self):
        """Item 7: `app.a-b` and `app.a.b`, each with more than three
        sources, get sets (nftables) and ipsets (firewalld) of their own."""
        nft_address, fwd_address = next(self.addresses), next(self.addresses)
        plan = custom_plan({"app1": nft_address, "app2": fwd_address},
                           [("a-b", 7001, ["clients"]), ("a.b", 7002, ["clients"])],
                           {"clients": ["198.18.2.10/32", "198.18.40.0/24", "198.18.42.0/24",
                                        "198.18.44.0/24"]})
        nft = Target(self.lan, "app1", nft_address, "nftables", wrap=False)
        fwd = Target(self.lan, "app2", fwd_address, "firewalld", wrap=False)
        for target in (nft, fwd):
            label = target.backend
            code, result = target.run(plan)
            self.assert_ok(code, result, changed=True, label=label)
            code, result = target.run(plan)
            self.assert_ok(code, result, changed=False, label=f"{label}, second run")
            for port in (7001, 7002):
                open_to(self, self.ocp1, target.host, port, True, label)
                open_to(self, self.stranger, target.host, port, False, label)
        sets = re.findall(r"set (portplan_\w+) \{", nft.host.run("nft", "list", "sets"))
        self.assertEqual(len(set(sets)), 2, sets)
        ipsets = fwd.host.run("firewall-cmd", "--permanent", "--get-ipsets").split()
        self.assertEqual(len(set(ipsets)), 2, ipsets)
        for target in (nft, fwd):
            code, result = target.run(plan, "absent")
            self.assert_ok(code, result, changed=True, label=f"{target.backend}, absent")
        self.assertNotIn("portplan:", nft.host.run("nft", "list", "ruleset"))
        self.assertEqual(fwd.host.run("firewall-cmd", "--permanent", "--get-ipsets").split(), [])

    def test_foreign_set_is_never_deleted(self):
        """Item 8: a tagged rule pointing at a foreign set `@trusted` is
        replaced; `trusted` itself stays."""
        target, plan = self.target("nftables")
        host = target.host
        host.run("nft", "add set inet filter trusted "
                        "{ type ipv4_addr; elements = { 198.18.99.9 } }")
        tagged = f'ip saddr @trusted tcp dport 2881 accept comment "{TAG_SQL}"'
        trusted_rule = f"add rule inet filter input {tagged}"
        host.run("sh", "-c", f"nft '{trusted_rule}'")
        open_to(self, self.stranger, host, 2881, True, "the hand-made rule admits trusted")
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="absent")
        self.assertIn("198.18.99.9", host.run("nft", "list", "set", "inet", "filter", "trusted"))
        self.assertNotIn("@trusted", host.run("nft", "list", "ruleset"))
        host.run("sh", "-c", f"nft '{trusted_rule}'")
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label="present")
        for action in result["actions"]:
            self.assertNotIn("trusted", action.get("stdin") or "", "present")
        self.assertIn("198.18.99.9", host.run("nft", "list", "set", "inet", "filter", "trusted"))
        self.assertNotIn("@trusted", host.run("nft", "list", "ruleset"))
        open_to(self, self.ocp1, host, 2881, True, "present")
        open_to(self, self.stranger, host, 2881, False, "present")
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="absent after present")
        self.assertIn("198.18.99.9", host.run("nft", "list", "set", "inet", "filter", "trusted"))

    def test_hand_edited_rules_are_replaced_nftables(self):
        """Item 6: a tagged rule negated, or moved after the catch-all
        reject, is replaced; connectivity is as planned. One made to drop is
        someone's deny: refused, kept, and replaced once removed by hand."""
        target, plan = self.target("nftables", nft_foreign=NFT_FOREIGN_REJECT)
        host = target.host
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True)
        listed = host.run("nft", "-a", "list", "chain", "inet", "filter", "input")
        line = next(l.strip() for l in listed.splitlines() if f'comment "{TAG_SQL}"' in l)
        rule, handle = line.rsplit(" # handle ", 1)
        match = rule.split(" tcp dport")[0]  # ip saddr { ... }
        self.assertTrue(match.startswith("ip saddr {"), rule)
        # nft 1.0.6's `replace rule` fails an assertion on an anonymous
        # interval set, so each edit inserts the edited rule in the
        # original's place and deletes the original.
        edits = {
            "drop": ("insert", rule.replace(" accept ", " drop ")),
            # Negating the interval set trips the same assertion: the
            # accessor's own address is negated.
            "negated": ("insert", rule.replace(match, "ip saddr != 198.18.2.10")),
            "after the catch-all": ("add", rule),
        }
        for label, (verb, edited) in edits.items():
            listed = host.run("nft", "-a", "list", "chain", "inet", "filter", "input")
            line = next(l.strip() for l in listed.splitlines() if f'comment "{TAG_SQL}"' in l)
            handle = line.rsplit(" # handle ", 1)[1]
            place = f"position {handle} " if verb == "insert" else ""
            host.run("nft", "-f", "-", stdin=f"{verb} rule inet filter input {place}{edited}\n"
                                             f"delete rule inet filter input handle {handle}\n")
            if label == "drop":
                self.deny_kept(target, plan, "drop", [
                    ["nft", "delete", "rule", "inet", "filter", "input", "handle",
                     self.tagged_handle(host)]])
            self.edited_then_fixed(target, plan, label)

    def test_hand_edited_rules_are_replaced_iptables(self):
        """Item 6 on iptables: `! -s` and after the catch-all REJECT are
        replaced; a DROP is refused and kept until removed by hand."""
        target, plan = self.target("iptables")
        host = target.host
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True)
        spec = ["-s", "198.18.2.10/32", "-p", "tcp", "-m", "tcp", "--dport", "2881",
                "-m", "comment", "--comment", TAG_SQL]
        edits = {
            "drop": [["-D", "INPUT", *spec, "-j", "ACCEPT"],
                     ["-I", "INPUT", "1", *spec, "-j", "DROP"]],
            "negated": [["-D", "INPUT", *spec, "-j", "ACCEPT"],
                        ["-I", "INPUT", "1", "!", *spec, "-j", "ACCEPT"]],
            "after the catch-all": [["-D", "INPUT", *spec, "-j", "ACCEPT"],
                                    ["-A", "INPUT", *spec, "-j", "ACCEPT"]],
        }
        for label, commands in edits.items():
            for command in commands:
                host.run("iptables", "-w", *command)
            if label == "drop":
                self.deny_kept(target, plan, "DROP",
                               [["iptables", "-w", "-D", "INPUT", *spec, "-j", "DROP"]])
            self.edited_then_fixed(target, plan, label)
        # A copy after the catch-all, the first still in place: `-D` by
        # spec takes the first copy, so deleting the late one alone took
        # the one that stays, every run. One run converges, the next has
        # nothing to do.
        host.run("iptables", "-w", "-A", "INPUT", *spec, "-j", "ACCEPT")
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label="a copy after the catch-all")
        lines = host.run("iptables-save", "-t", "filter").splitlines()
        copies = [i for i, l in enumerate(lines) if "198.18.2.10/32" in l and TAG_SQL in l]
        catch_all = [i for i, l in enumerate(lines) if re.fullmatch(r"-A INPUT -j (DROP|REJECT).*", l)]
        self.assertEqual(len(copies), 1, lines)
        self.assertLess(copies[0], catch_all[0], lines)
        open_to(self, self.ocp1, host, 2881, True, "a copy after the catch-all")
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=False, label="a copy after the catch-all, next run")

    def test_a_failed_run_keeps_a_hand_edited_rule(self):
        """A run replaces a tagged rule edited by hand; a run that fails,
        at any changing invocation and whether or not that invocation took
        effect, leaves it and everything else exactly as it was: the
        rollback compares hand-edited rules too, and reads them back. One
        exception, told as it is: an nft transaction that took effect and
        still failed replaced the edited rule, which plan-restore cannot
        write back (a real `nft -f` that fails applies nothing)."""
        for backend in ("iptables", "nftables"):
            with self.subTest(backend=backend):
                address = next(self.addresses)
                name = f"he-{address.rsplit('.', 1)[1]}"
                target = Target(self.lan, name, address, backend)
                plan = matrix_plan(name, address)

                def edited():
                    code, result = target.run(plan)
                    self.assert_ok(code, result, label=f"{backend}, present")
                    edit_by_hand(target.host, backend, "portplan:app.b")
                    return target.snapshot()

                before = edited()
                counter = target.counter()
                code, result = target.run(plan, counter=counter)
                self.assert_ok(code, result, changed=True, label=f"{backend}, the edit replaced")
                invocations = target.invocations(counter)
                changes = [k for k, line in enumerate(invocations, 1) if changing(backend, line)]
                self.assertTrue(changes, invocations)
                for mode, k in [(m, k) for k in changes for m in ("fail", "half")]:
                    case = f"{backend}, {mode} {k}: {invocations[k - 1]}"
                    current = target.snapshot()
                    if current != before:
                        current = edited()
                    self.assertEqual(current, before, case)
                    code, result = target.run(plan, fault=f"{mode} {k}",
                                              counter=target.counter())
                    after = target.snapshot()
                    if backend == "nftables" and mode == "half":
                        self.assertTrue(result["failed"] and result["changed"], brief(result))
                        self.assertIn("ROLLBACK FAILED", result["msg"])
                        self.assertIn("portplan:app.b", result["msg"])
                        self.assertIn("(edited by hand)", result["msg"])
                        continue
                    self.assert_failed(code, result, "injected failure", label=case)
                    self.assertEqual(after, before, f"{case}: {brief(result)}\n"
                                                    f"{diff(before, after)}")

    def test_a_failed_ufw_enable_leaves_ufw_inactive(self):
        """`ufw_enable: true` on an inactive ufw: the run adds the rules,
        then `ufw --force enable`. A run failed at any invocation, ufw's
        own restores inside the enable included (a start that fails half
        way, its chains loaded and ENABLED=no written back), or an enable
        that took effect and still failed, leaves ufw inactive with its
        rules as they were, and the built-in policies as they were (FORWARD
        at DROP, as Docker leaves it; ufw's disable sets ACCEPT): a
        half-enabled ufw would filter the host by its default policy after
        a failed run. The rollback compares portplan's rules only, so it
        must undo the enable by itself."""
        address = next(self.addresses)
        name = f"ue-{address.rsplit('.', 1)[1]}"
        target = Target(self.lan, name, address, "ufw")
        host = target.host
        plan = matrix_plan(name, address)

        def inactive():
            host.run("ufw", "--force", "disable")
            for tool in ("iptables", "ip6tables"):
                host.run(tool, "-w", "-P", "FORWARD", "DROP")

        def snapshot():
            listed = host.run("iptables-save", "-t", "filter") + \
                host.run("ip6tables-save", "-t", "filter")
            policies = [re.sub(r"\[\d+:\d+\]", "", line) for line in listed.splitlines()
                        if re.match(r":(INPUT|FORWARD|OUTPUT) ", line)]
            return {**target.snapshot(), "policies": policies}

        inactive()
        before = snapshot()
        self.assertIn("Status: inactive", before["running"])
        self.assertIn(":FORWARD DROP ", before["policies"])
        counter = target.counter()
        code, result = target.run(plan, counter=counter, ufw_enable=True)
        self.assert_ok(code, result, changed=True, label="ufw_enable, counting run")
        invocations = target.invocations(counter)
        enable = [k for k, line in enumerate(invocations, 1)
                  if line.split()[1:] == ["ufw", "--force", "enable"]]
        self.assertEqual(len(enable), 1, invocations)
        inside = [line for line in invocations[enable[0]:]
                  if line.split()[1:2] in (["iptables-restore"], ["ip6tables-restore"])]
        self.assertTrue(inside, f"ufw's own restores inside the enable: {invocations}")
        inactive()
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, changed=True, label="back to no rule")
        self.assertEqual(snapshot(), before)
        survived = []
        for mode, k in [(m, k) for k in range(1, len(invocations) + 1) for m in ("fail", "half")]:
            if mode == "half" and not changing("ufw", invocations[k - 1]):
                continue
            case = f"{mode} {k}: {invocations[k - 1]}"
            code, result = target.run(plan, fault=f"{mode} {k}", counter=target.counter(),
                                      ufw_enable=True)
            after = snapshot()
            if not result["failed"]:
                # A fault ufw itself survives: the plan is then in place.
                survived.append(case)
                self.assertIn("Status: active", after["running"], case)
                inactive()
                code, result = target.run(plan, "absent")
                self.assert_ok(code, result, label=f"{case}, back to no rule")
                self.assertEqual(snapshot(), before, case)
                continue
            self.assert_failed(code, result, "injected failure", label=case)
            self.assertEqual(after, before, f"{case}: {brief(result)}\n{diff(before, after)}")
        print(f"\nufw enable: {len(invocations)} invocations ({len(inside)} restores inside "
              f"the enable); faults ufw survived: {survived or 'none'}", flush=True)

    @staticmethod
    def tagged_handle(host):
        listed = host.run("nft", "-a", "list", "chain", "inet", "filter", "input")
        line = next(l.strip() for l in listed.splitlines() if f'comment "{TAG_SQL}"' in l)
        return line.rsplit(" # handle ", 1)[1]

    def deny_kept(self, target, plan, action, remove):
        """portplan writes only accepts: its rule edited into a deny is the
        operator's deny now. `present` refuses, naming it, and changes
        nothing (the accessor stays out); `absent` keeps it; once the
        operator removes it by hand, `present` opens as planned (the
        caller's `edited_then_fixed`)."""
        host = target.host
        before = target.snapshot()
        code, result = target.run(plan)
        self.assert_failed(code, result, f"a rule portplan did not write ({action})",
                           TAG_SQL, label=f"{action}, present")
        self.assertEqual(target.snapshot(), before, diff(before, target.snapshot()))
        open_to(self, self.ocp1, host, 2881, False, f"{action} kept")
        code, result = target.run(plan, "absent")
        self.assert_ok(code, result, label=f"{action}, absent")
        self.assertIn(f"{TAG_SQL}", target.snapshot()["running"], f"{action}, absent")
        open_to(self, self.ocp1, host, 2881, False, f"{action} kept by absent")
        for command in remove:
            host.run(*command)

    def edited_then_fixed(self, target, plan, label):
        host = target.host
        # The edit does what the issue says: the accessor is kept out, or
        # (negated) the stranger let in.
        if label == "negated":
            open_to(self, self.stranger, host, 2881, True, f"{label}, edited by hand")
        else:
            open_to(self, self.ocp1, host, 2881, False, f"{label}, edited by hand")
        self.opens_as_planned(target, plan, label)

    def opens_as_planned(self, target, plan, label):
        """A run changes the firewall, the accessor connects and the
        stranger does not, and the next run has nothing to do."""
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=True, label=label)
        open_to(self, self.ocp1, target.host, 2881, True, label)
        open_to(self, self.stranger, target.host, 2881, False, label)
        code, result = target.run(plan)
        self.assert_ok(code, result, changed=False, label=f"{label}, next run")


# --------------------------------------------------------------------------
# Concurrency


def services_layout(goto_when=None):
    """A dropping input chain that accepts established traffic and loopback,
    and a chain `services` (iptables: SERVICES) that admits only ssh, as an
    nft ruleset and as iptables argvs. With `goto_when` (the nft words and
    the iptables matches that narrow it, either empty), a goto to that chain
    ends the input chain."""
    nft_when, ipt_when = goto_when or ("", [])
    nft_goto = f"\t\t{nft_when}goto services\n" if goto_when else ""
    nft = ("table inet filter {\n\tchain services {\n\t\ttcp dport 22 accept\n\t}\n"
           "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
           "\t\tct state established,related accept\n\t\tiif \"lo\" accept\n"
           f"{nft_goto}\t}}\n}}\n")
    ipt = [["-N", "SERVICES"],
           ["-A", "SERVICES", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
           ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
           ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
           *([["-A", "INPUT", *ipt_when, "-g", "SERVICES"]] if goto_when else []),
           ["-P", "INPUT", "DROP"]]
    return nft, ipt


def concurrency_plans(name, address):
    """Plans A and B for one host: B changes one rule's sources and
    replaces the other's port, so going from one to the other both removes
    and adds rules."""
    networks = {"clients": ["198.18.2.10/32", "198.18.2.20/32"], "admins": ["198.18.60.0/24"]}
    a = custom_plan({name: address}, [("a", 7001, ["clients"]), ("b", 7002, ["admins"])],
                    networks, name="plan-a")
    b = custom_plan({name: address}, [("a", 7001, ["admins"]), ("c", 7003, ["clients"])],
                    networks, name="plan-b")
    return {"A": a, "B": b}


class Rounds:
    """Rounds of two module runs started at once on one host. With the host
    lock the runs serialize: both succeed, the second sees exactly what the
    first left (its diff's `before` is the first's `after`), and the end
    state is the plan of the run that finished last, in the running firewall
    and (nftables, iptables) in the saved configuration alike."""

    def __init__(self, target, rounds):
        self.target, self.rounds = target, rounds
        self.plans = concurrency_plans(target.name, target.address)
        self.failures = []
        self.done = 0

    def fail(self, round_, what):
        self.failures.append(f"[{self.target.backend} round {round_}] {what}")

    def run_all(self):
        target = self.target
        self.expected = {}
        for label, plan in self.plans.items():
            code, result = target.run(plan, _ansible_diff=True)
            if code != 0:
                raise AssertionError(f"{target.backend}: plan {label} alone: {brief(result)}")
            self.expected[label] = (result["diff"]["after"], target.portplan_lines())
        for round_ in range(self.rounds):
            pair = [("A", "A"), ("A", "B"), ("B", "B"), ("B", "A")][round_ % 4]
            self.round(round_, pair)
            self.done += 1

    def round(self, round_, pair):
        target = self.target
        started = [start_module(target.host, target.args(self.plans[p], _ansible_diff=True))
                   for p in pair]
        outcomes = [None, None]

        def wait(i):
            outcomes[i] = finish_module(started[i])

        threads = [threading.Thread(target=wait, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = []
        for label, (code, result, finished), (process, _) in zip(pair, outcomes, started):
            if code != 0 or result is None or result["failed"]:
                self.fail(round_, f"plans {pair}: plan {label}'s run failed: {brief(result)}")
                return
            runs.append((finished, label, result, process.pid))
        # Which run went second: the last to take the host lock, as the lock
        # file names it (`pid N, ...`; nsenter execs the module, so N is the
        # pid started here). Exit times, taken by threads here, only
        # confirm it: scheduling may blur them by some milliseconds.
        with open(target.lock_file) as f:
            holder = re.search(r"pid (\d+)", f.read())
        pids = [run[3] for run in runs]
        if not holder or int(holder.group(1)) not in pids:
            self.fail(round_, f"plans {pair}: the lock file names no run of this round "
                              f"({holder and holder.group(0)}, runs {pids})")
            return
        runs.sort(key=lambda run: run[3] == int(holder.group(1)))
        (first_end, first_plan, first, _), (second_end, second_plan, second, _) = runs
        if first_end - second_end > 0.5:
            self.fail(round_, f"plans {pair}: the run that took the lock last ended "
                              f"{first_end - second_end:.2f} s before the other one")
        final = target.portplan_lines()
        if final not in (self.expected["A"][1], self.expected["B"][1]):
            self.fail(round_, f"plans {pair}: the portplan rules are neither plan A's nor plan "
                              f"B's:\n" + "\n".join(final))
        elif final != self.expected[second_plan][1]:
            self.fail(round_, f"plans {pair}: plan {second_plan}'s run went last and "
                              f"reports success, but plan {first_plan}'s rules are in place")
        for label, result in ((first_plan, first), (second_plan, second)):
            if result["diff"]["after"] != self.expected[label][0]:
                self.fail(round_, f"plans {pair}: plan {label}'s run reports success over "
                                  f"rules it did not leave:\n{result['diff']['after']}")
            if result["changed"] != bool(result["actions"]):
                self.fail(round_, f"changed={result['changed']} with actions "
                                  f"{result['actions']}")
        if second["diff"]["before"] != first["diff"]["after"]:
            self.fail(round_, f"plans {pair}: the second run did not start from what the first "
                              f"left: it found\n{second['diff']['before']}\nthe first left\n"
                              f"{first['diff']['after']}")
        if first_plan == second_plan and second["changed"]:
            self.fail(round_, f"plans {pair}: the second run of the same plan changed "
                              f"something: {brief(second)}")
        self.check_saved(round_)

    def check_saved(self, round_):
        """The saved configuration says what runs, and no temporary file is
        left beside it."""
        target = self.target
        if target.backend == "nftables":
            conf = target.saved()["/etc/nftables.conf"]
            running = target.host.run("nft", "-s", "list", "ruleset")
            if not conf.endswith(running):
                self.fail(round_, f"/etc/nftables.conf is not the running ruleset:\n{conf}")
        elif target.backend == "iptables":
            saved = target.saved()
            for path, tool in (("/etc/iptables/rules.v4", "iptables-save"),
                               ("/etc/iptables/rules.v6", "ip6tables-save")):
                if saved[path] != without_counters(target.host.run(tool)):
                    self.fail(round_, f"{path} is not what {tool} shows:\n{saved[path]}")
        elif target.backend == "firewalld":
            # portplan writes the runtime and the permanent configuration alike.
            sides = [sorted(rule for rule in target.host.run(
                         "firewall-cmd", *side, "--zone=public", "--list-rich-rules").splitlines()
                         if "portplan:" in rule)
                     for side in ([], ["--permanent"])]
            if sides[0] != sides[1]:
                self.fail(round_, "the runtime and the permanent configuration disagree:\n"
                                  + "\n".join(sides[0]) + "\n--\n" + "\n".join(sides[1]))
        leftovers = target.leftovers()
        if leftovers:
            self.fail(round_, f"temporary files left behind: {leftovers}")


class Concurrency(unittest.TestCase):
    # Every backend gets 20 rounds (each pairing of plans five times);
    # firewalld, driven over D-Bus, takes about 2 s a round.
    ROUNDS = {"nftables": 20, "iptables": 20, "ufw": 20, "firewalld": 20}
    ADDRESSES = {"nftables": "198.18.2.41", "iptables": "198.18.2.42", "ufw": "198.18.2.43",
                 "firewalld": "198.18.2.44"}

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("conc")
        cls.targets = {backend: Target(cls.lan, f"{backend[:3]}-c", address, backend, wrap=False)
                       for backend, address in cls.ADDRESSES.items()}

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def test_two_runs_at_once(self):
        rounds = {backend: Rounds(target, self.ROUNDS[backend])
                  for backend, target in self.targets.items()}
        seconds = {}
        errors = parallel({backend: r.run_all for backend, r in rounds.items()}, seconds)
        print("\nconcurrency: " + ", ".join(f"{b} {r.done} rounds ({seconds[b]:.0f} s)"
                                            for b, r in rounds.items()), flush=True)
        failures = [f for r in rounds.values() for f in r.failures]
        failures += [f"[{backend}] {error}" for backend, error in errors.items()]
        if failures:
            self.fail(f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures))

    def test_lock_timeout_names_the_holder(self):
        """A run that cannot take the host lock in time changes nothing and
        names the holder; one that gets it within the timeout goes on."""
        target = self.targets["nftables"]
        plan = concurrency_plans(target.name, target.address)["A"]
        target.run(plan, "absent")
        before = target.snapshot()
        with open(target.lock_file, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.truncate(0)
            lock.write("pid 1, the test holding the lock")
            lock.flush()
            started = time.monotonic()
            code, result = target.run(plan, lock_timeout=1)
            waited = time.monotonic() - started
            self.assertEqual(code, 1, brief(result))
            self.assertIn("pid 1, the test holding the lock", result["msg"])
            self.assertIn("nothing was changed", result["msg"])
            self.assertFalse(result["changed"])
            self.assertLess(waited, 10)
            self.assertEqual(target.snapshot(), before)
            waiting = start_module(target.host, target.args(plan, lock_timeout=30))
            time.sleep(1.5)
            self.assertIsNone(waiting[0].poll(), "the run did not wait for the lock")
            fcntl.flock(lock, fcntl.LOCK_UN)
        code, result, _ = finish_module(waiting)
        self.assertEqual(code, 0, brief(result))
        self.assertTrue(result["changed"], brief(result))


# --------------------------------------------------------------------------


class FaultMatrix(unittest.TestCase):
    # label: (backend, parts, address, environment). firewalld and ufw,
    # whose every command is a Python program, split their matrix over two
    # test hosts that run in parallel. ufw twice: its batch, and per rule
    # (each `ufw` run a command with an inverse, undone by the rollback).
    PER_RULE = {"PORTPLAN_UFW": "ufw"}
    HOSTS = {"nftables": ("nftables", ("present", "absent"), "198.18.2.51", None),
             "iptables": ("iptables", ("present", "absent"), "198.18.2.52", None),
             "ufw present": ("ufw", ("present",), "198.18.2.53", None),
             "ufw absent": ("ufw", ("absent",), "198.18.2.54", None),
             "ufw per rule present": ("ufw", ("present",), "198.18.2.57", PER_RULE),
             "ufw per rule absent": ("ufw", ("absent",), "198.18.2.58", PER_RULE),
             "firewalld present": ("firewalld", ("present",), "198.18.2.55", None),
             "firewalld absent": ("firewalld", ("absent",), "198.18.2.56", None)}

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("fault")
        cls.targets = {label: (Target(cls.lan, f"{backend[:3]}-{address.rsplit('.', 1)[1]}",
                                      address, backend, env=env), parts)
                       for label, (backend, parts, address, env) in cls.HOSTS.items()}
        for target, _ in cls.targets.values():
            if target.backend == "ufw" and not target.batch:
                # An application rule before portplan's: ufw counts it as one
                # rule but writes two lines (CIFS: udp and tcp), and its
                # inserts take both, walking past its lines. (Further
                # before, it puts places at the list's end out of reach of
                # every number: Regressions, counts application rules as ufw
                # does.)
                target.host.run("ufw", "allow", "CIFS")

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def test_fault_matrix(self):
        matrices = {label: Matrix(target, (dual_family_plan if target.backend == "ufw"
                                           else matrix_plan)(target.name, target.address))
                    for label, (target, _) in self.targets.items()}
        seconds = {}
        errors = parallel({label: (lambda m=m, parts=self.targets[label][1]: m.run_all(parts))
                           for label, m in matrices.items()}, seconds)
        cases = sum(len(m.cases) for m in matrices.values())
        print(f"\nfault matrix: {cases} cases ("
              + ", ".join(f"{label} {len(m.cases)} in {seconds[label]:.0f} s"
                          for label, m in matrices.items())
              + f"; {sum(m.worked_around for m in matrices.values())} faulted run(s) went on "
                "and left the plan in place)", flush=True)
        failures = [f for m in matrices.values() for f in m.failures]
        failures += [f"[{label}] {error}" for label, error in errors.items()]
        if failures:
            self.fail(f"{len(failures)} failing case(s):\n\n" + "\n\n".join(failures))


class PanicPoints(unittest.TestCase):
    """What the module promises about a panic, attacked end to end on each
    backend's real firewall with the `panic-points` test build: a panic
    before the k-th command, after the k-th took effect but before it was
    counted, while reading back and verifying, before persisting or once a
    saved file is renamed into place (iptables: each of rules.v4 and
    rules.v6, which its dual-family plan both changes) is a failure like
    any other, rolled
    back: one JSON answer, `changed: false`, the running firewall and the
    saved configuration exactly as before (foreign rules included), nothing
    left behind. A panic inside that rollback too answers `ROLLBACK FAILED`
    with `changed: true` (not the outermost catch), as does one between the
    steps of ufw's batch (which undoes itself, and is not undone twice); the
    next run converges. ufw's batch has no per-command steps; ufw per rule
    has them."""

    # label: (backend, address, environment); one test host each, run in
    # parallel. ufw twice: its batch, and per rule (the way back should the
    # batch misbehave, and where a host's ufw has no batch form).
    HOSTS = {"nftables": ("nftables", "198.18.2.61", None),
             "iptables": ("iptables", "198.18.2.62", None),
             "ufw": ("ufw", "198.18.2.63", None),
             "ufw per rule": ("ufw", "198.18.2.65", {"PORTPLAN_UFW": "ufw"}),
             "firewalld": ("firewalld", "198.18.2.64", None)}

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("panic")
        cls.targets = {label: Target(cls.lan, f"pp{backend[:3]}-{address.rsplit('.', 1)[1]}",
                                     address, backend, wrap=False, env=env)
                       for label, (backend, address, env) in cls.HOSTS.items()}

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def test_a_panic_at_any_step_is_rolled_back(self):
        self.assertTrue(os.access(PANICKING, os.X_OK),
                        f"{PANICKING}: build it with `cargo build -p portplan --features "
                        "panic-points` and copy it there (scripts/test does)")
        plans = {"ufw": dual_family_plan, "iptables": dual_family_plan}
        matrices = {label: Matrix(target, plans.get(target.backend, matrix_plan)(target.name,
                                                                                 target.address))
                    for label, target in self.targets.items()}
        errors = parallel({label: (lambda m=m: panic_cases(m)) for label, m in matrices.items()})
        cases = sum(len(m.cases) for m in matrices.values())
        print(f"\npanic points: {cases} cases ("
              + ", ".join(f"{label} {len(m.cases)}" for label, m in matrices.items()) + ")",
              flush=True)
        failures = [f for m in matrices.values() for f in m.failures]
        failures += [f"[{label}] {error}" for label, error in errors.items()]
        if failures:
            self.fail(f"{len(failures)} failing case(s):\n\n" + "\n\n".join(failures))


def panic_cases(matrix):
    """Every panic point of `present` from empty and `absent` after present
    on one test host (PanicPoints)."""
    target = matrix.target
    matrix.bring("planned")
    matrix.reference["planned"] = target.snapshot()
    matrix.bring("empty")
    matrix.reference["empty"] = target.snapshot()
    for state, start, end in (("present", "empty", "planned"), ("absent", "planned", "empty")):
        label = f"{state} after {start}"
        current = matrix.at(start, target.snapshot())
        code, result = run_module(target.host, target.args(matrix.plan, state),
                                  extra_env=target.env, binary=PANICKING)
        if code != 0 or result is None or not result["changed"]:
            matrix.fail(label, f"the counting run: {brief(result)}")
            continue
        current = target.snapshot()
        actions = result["actions"]
        batch = target.batch
        commands = 0 if batch else len(actions)
        points = [f"{step} {k}" for k in range(1, commands + 1) for step in ("command", "ran")]
        points += ["read-back 1", "persist 1"]
        # After each saved file is renamed into place: nftables' one file;
        # iptables' rules.v4, then rules.v6 (its plan opens both families),
        # the first put back alone, then both.
        points += {"nftables": ["renamed 1"], "iptables": ["renamed 1", "renamed 2"]}.get(
            target.backend, [])
        for point in points:
            current = panicked(matrix, label, state, point, matrix.at(start, current))
        # The commands that ran before each point, as the answer's `actions`.
        ran = {"command 1": [], "read-back 1": actions, "persist 1": actions,
               "renamed 1": actions, "renamed 2": actions}
        for point in dict.fromkeys((points[0], "read-back 1", points[-1])):
            matrix.at(start, current)
            unrolled(matrix, label, state, end, point, then_rollback=ran.get(point, []))
            current = target.snapshot()
        # Inside ufw's batch, which undoes itself: between its steps (per
        # family, the file written, then its chains loaded).
        for point in (["batch-written 1", "batch-restored 1", "batch-written 2",
                       "batch-restored 2"] if batch else []):
            matrix.at(start, current)
            unrolled(matrix, label, state, end, point)
            current = target.snapshot()


def panicked(matrix, label, state, point, before):
    """One panic point: the run is rolled back whole. The host's snapshot
    after it."""
    target = matrix.target
    case = f"{label}, panic at {point}"
    matrix.cases.append(case)
    code, result = run_module(target.host, target.args(matrix.plan, state),
                              extra_env=dict(target.env, PORTPLAN_PANIC_AT=point),
                              binary=PANICKING)
    after = target.snapshot()
    if result is None or code != 1 or not result["failed"]:
        matrix.fail(case, f"expected a failed run (exit {code}): {brief(result)}")
        return after
    if f"injected panic at {point}" not in result["msg"]:
        matrix.fail(case, f"the message does not quote the panic: {brief(result)}")
    if result["changed"]:
        matrix.fail(case, f"rolled back, yet changed=true: {brief(result)}")
    if point.startswith("renamed") and "saved file(s) it wrote were put back" not in result["msg"]:
        matrix.fail(case, f"the message does not say the saved file was put back: "
                          f"{brief(result)}")
    matrix.as_before(case, result, before, after)
    return after


def unrolled(matrix, label, state, end, point, then_rollback=None):
    """A panic at `point` inside what undoes itself (ufw's batch), or
    another inside the rollback of a panic at `point` (`then_rollback`: the
    commands that ran before `point`, which the answer's `actions` lists):
    `ROLLBACK FAILED`, changed=true; the next run converges and the one
    after changes nothing."""
    target = matrix.target
    at = point if then_rollback is None else f"{point},rollback 1"
    case = f"{label}, panic at {at}"
    matrix.cases.append(case)
    code, result = run_module(target.host, target.args(matrix.plan, state),
                              extra_env=dict(target.env, PORTPLAN_PANIC_AT=at),
                              binary=PANICKING)
    if result is None or code != 1 or not result["failed"] or not result["changed"]:
        matrix.fail(case, f"expected a failed run with changed=true (exit {code}): "
                          f"{brief(result)}")
        return
    needles = [f"injected panic at {point}", "ROLLBACK FAILED"]
    if then_rollback is not None:
        needles.append("injected panic at rollback 1")
        # By number: an nft delete names rule handles, new in every round.
        if len(result["actions"]) != len(then_rollback):
            matrix.fail(case, f"the answer's actions are not the {len(then_rollback)} "
                              f"command(s) that ran: {brief(result)}")
    for needle in needles:
        if needle not in result["msg"]:
            matrix.fail(case, f"the message does not say {needle!r}: {brief(result)}")
    code, result = target.run(matrix.plan, state)
    after = target.snapshot()
    if code != 0 or after != matrix.reference[end]:
        matrix.fail(case, f"the next run did not converge: {brief(result)}\n"
                          f"{diff(matrix.reference[end], after)}")
    code, again = target.run(matrix.plan, state)
    if code != 0 or again is None or again["changed"]:
        matrix.fail(case, f"the run after the next one changed something: {brief(again)}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
