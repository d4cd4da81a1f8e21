"""Issue 13's acceptance: the `portplan` binary as an operator's tool on the
host (`portplan check|open|close`), the drift audit of `state: checked`, the
postinstall wait, and the published binaries.

Every command runs inside a test host (hosts.py: a network namespace with a
private mount namespace whose /etc is an overlay), as an operator would run
the copied binary on the machine. Hosts without their own /run (no daemons)
get a private /run/lock, so the host lock is per test host as it is per
machine. Addresses are 198.18.0.0/15 only.

- Drift (`Drift`): on nftables, iptables, firewalld and ufw, each with foreign
  rules, `portplan open` opens; one portplan rule is deleted by hand with the
  firewall's own tool; the module (`state: checked` under ansible-playbook)
  and `portplan check` both fail naming it (`firewall-drift`); `portplan open`
  repairs it; `check` passes; `close` gives back the original ruleset byte
  for byte.
- `HostChecks`: a stray listener named by pid and command (the module's
  finding); the postinstall wait; the busybox chroot.
- `CommandLine`: typos are usage errors (exit 2), never module JSON.
- `PublishedBinaries`: dist/bin/SHA256SUMS, and the aarch64 binary under
  qemu-aarch64-static prints what the x86_64 one prints.

Run as root after scripts/build-collection (scripts/test does both).
"""

import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from hosts import PORTPLAN, REPO, Lan, Listener, controller_env, sh
from runner import PlaybookCase
from test_firewalld_ufw import FIREWALLD_FOREIGN, UFW_FOREIGN
from test_playbooks import IPTABLES_FOREIGN, NFT_FOREIGN, ruleset

EXAMPLE_PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")
DIST_BIN = os.path.join(REPO, "dist", "bin")
TAG = "portplan:observer.sql"
# The rule deleted by hand on every backend, as the drift finding names it.
DELETED = f"the rule {TAG} admitting 198.18.2.10/32 to 2881/tcp is missing"
# The same rule as a line of the module's diff.
DELETED_LINE = f"{TAG} ipv4 tcp dport 2881 saddr 198.18.2.10/32"

AUDIT_PLAYBOOK = """- name: Audit the firewall against the plan
  hosts: ocp
  gather_facts: false
  tasks:
    - name: The firewall admits exactly the planned sources
      portplan.ports.portplan:
        plan_file: "{{ portplan_plan_file }}"
        phase: postinstall
        state: checked
        firewall: "{{ portplan_firewall }}"
"""

# A listener that binds only after a delay: a service still starting.
LATE_LISTEN = r"""
import socket, sys, time
time.sleep(float(sys.argv[1]))
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(16)
time.sleep(3600)
"""

WAIT_PORT = 7300
# One host, one fixed port: the postinstall wait waits for exactly this one.
WAIT_PLAN = {
    "name": "late-listener",
    "profiles": ["app"],
    "custom-profiles": [{
        "name": "app", "title": "One service",
        "components": [{"name": "svc", "title": "Service", "required": True}],
        "networks": [{"name": "clients", "description": "Its clients"}],
        "specs": [{
            "id": "svc.api", "component": "svc", "ports": WAIT_PORT, "transport": "tcp",
            "allocation": "fixed", "exposure": "peers", "accessed-by": [{"network": "clients"}],
            "modifiable": "not-supported", "purpose": "API", "source": "test",
        }],
    }],
    "deploy-user": "root",
    "hosts": [{"name": "svc1", "address": "198.18.7.11", "components": ["svc"]}],
    "networks": [{"name": "clients", "cidrs": ["198.18.7.0/24"]}],
}


def drift_plan():
    """The example plan with a fourth OBServer, so nftables, iptables,
    firewalld and ufw each get a host (obs1-obs4) with the same rules."""
    with open(EXAMPLE_PLAN) as f:
        plan = json.load(f)
    at = next(i for i, h in enumerate(plan["hosts"]) if h["name"] == "obs3") + 1
    plan["hosts"].insert(at, {"name": "obs4", "address": "198.18.2.14",
                              "components": ["observer", "ocp-agent", "backup-agent"]})
    return plan


def private_lock(lan, name):
    """Bind a fresh directory over /run/lock in a host without its own /run."""
    if not os.path.isdir("/run/lock"):
        return ()
    directory = os.path.join(lan.root, f"{name}-run-lock")
    os.makedirs(directory)
    return [(directory, "/run/lock")]


def portplan(host, *args, timeout=120):
    """`portplan ARGS` inside `host`: (exit code, stdout, stderr)."""
    done = subprocess.run([*host.enter(), PORTPLAN, *args], capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def run_module(host, args):
    """The module binary inside `host` on an args file, as Ansible runs it:
    (exit code, result)."""
    path = os.path.join(host.dir, "module-args.json")
    with open(path, "w") as f:
        json.dump(dict({"_ansible_check_mode": False, "_ansible_diff": False}, **args), f)
    done = subprocess.run([*host.enter(), PORTPLAN, path], capture_output=True, text=True,
                          timeout=120)
    return done.returncode, json.loads(done.stdout)


def listing(host, backend):
    """Everything the firewall holds, as its own tools list it (counters and
    dated comments out): the text `close` must give back byte for byte."""
    if backend in ("nftables", "iptables"):
        return ruleset(host, backend)
    if backend == "firewalld":
        return "".join(host.run("firewall-cmd", *side, what)
                       for side in ([], ["--permanent"])
                       for what in ("--list-all-zones", "--get-ipsets"))
    # ufw: its rules, and the iptables chains it builds from them.
    return host.run("ufw", "show", "added") + ruleset(host, "iptables")


def delete_by_hand(host, backend):
    """Delete the rule admitting ocp1 (198.18.2.10) to observer.sql with the
    firewall's own tool, as an operator would; the command run."""
    if backend == "nftables":
        # One nft rule holds every source of the spec (an anonymous set).
        table = chain = None
        for line in host.run("nft", "-a", "list", "ruleset").splitlines():
            words = line.split()
            if words[:1] == ["table"]:
                table = words[1:3]
            elif words[:1] == ["chain"]:
                chain = words[1]
            elif f'comment "{TAG}"' in line and "198.18.2.10" in line:
                argv = ["nft", "delete", "rule", *table, chain, "handle", words[-1]]
                break
        else:
            raise AssertionError("no nftables rule for observer.sql from 198.18.2.10")
    elif backend == "iptables":
        line = next(line for line in host.run("iptables", "-S", "INPUT").splitlines()
                    if TAG in line and "-s 198.18.2.10/32" in line and "--dport 2881" in line)
        words = shlex.split(line)
        argv = ["iptables", "-w", "-D", *words[1:]]
    elif backend == "firewalld":
        # The runtime, which is what filters: `firewall-cmd --remove-rich-rule`.
        rule = next(line for line in host.run("firewall-cmd", "--list-rich-rules").splitlines()
                    if f'prefix="{TAG}"' in line and 'address="198.18.2.10"' in line
                    and 'port="2881"' in line)
        argv = ["firewall-cmd", f"--remove-rich-rule={rule}"]
    else:
        number = next(re.match(r"\[\s*(\d+)\]", line).group(1)
                      for line in host.run("ufw", "status", "numbered").splitlines()
                      if line.startswith("[") and TAG in line and "198.18.2.10 " in line
                      and "2881/tcp" in line)
        argv = ["ufw", "--force", "delete", number]
    host.run(*argv)
    return argv


class Drift(PlaybookCase):
    """open, a rule deleted by hand, the audit fails naming it, open repairs
    it, check passes, close restores: once per firewall."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-hostcli-")
        cls.env = controller_env(cls.work)
        cls.plan = os.path.join(cls.work, "plan.json")
        with open(cls.plan, "w") as f:
            json.dump(drift_plan(), f, indent=1)
        cls.playbook = os.path.join(cls.work, "audit.yml")
        with open(cls.playbook, "w") as f:
            f.write(AUDIT_PLAYBOOK)
        cls.lan = Lan("cli")
        lan = cls.lan
        nft = lan.host("obs1", "198.18.2.11", binds=private_lock(lan, "obs1"))
        ipt = lan.host("obs2", "198.18.2.12", binds=private_lock(lan, "obs2"))
        firewalld = lan.host("obs3", "198.18.2.13", daemons=True)
        ufw = lan.host("obs4", "198.18.2.14", daemons=True)
        nft.run("nft", "-f", "-", stdin=NFT_FOREIGN)
        for tool in ("iptables", "ip6tables"):
            for rule in IPTABLES_FOREIGN:
                ipt.run(tool, "-w", *rule)
        firewalld.start_firewalld()
        for side in ([], ["--permanent"]):
            for change in FIREWALLD_FOREIGN:
                firewalld.run("firewall-cmd", *side, change)
        # As test_firewalld_ufw: ufw touches no sysctl; then it is enabled,
        # as on a host an operator manages with ufw.
        ufw.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
        for rule in UFW_FOREIGN:
            ufw.run("ufw", *rule)
        ufw.run("ufw", "--force", "enable")
        cls.hosts = {"nftables": nft, "iptables": ipt, "firewalld": firewalld, "ufw": ufw}

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def cli(self, host, backend, command, *extra, expect):
        code, out, err = portplan(host, command, self.plan, "--host", host.name,
                                  "--firewall", backend, *extra)
        self.assertEqual(code, expect, f"portplan {command} on {host.name} ({backend}) "
                                       f"exited {code}:\n{out}{err}")
        return out

    def audit(self, host, backend):
        """`state: checked` under ansible-playbook --diff: its result."""
        _, results = self.play(self.playbook, "--diff", "-e",
                                    f"portplan_plan_file={self.plan}",
                                    hosts={host: backend}, expect_rc=2)
        return results[host]

    def scenario(self, backend):
        host = self.hosts[backend]
        original = listing(host, backend)
        self.assertNotIn("portplan:", original)

        out = self.cli(host, backend, "open", expect=0)
        self.assertIn("ran:", out)
        opened = listing(host, backend)
        self.assertIn(TAG, opened)
        self.cli(host, backend, "check", expect=0)

        argv = delete_by_hand(host, backend)
        drifted = listing(host, backend)
        self.assertNotEqual(drifted, opened, f"{argv} deleted nothing")

        # The module: the task fails on the drift, names the rule, changes nothing.
        result = self.audit(host, backend)
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertFalse(result["changed"], result)
        self.assertEqual(result["actions"], [], result)
        self.assertIn(f"firewall-drift: {backend}: {DELETED}", result["msg"])
        module_drift = [f for f in result["findings"] if f["code"] == "firewall-drift"]
        self.assertIn(f"{backend}: {DELETED}", [f["message"] for f in module_drift], result)
        self.assertTrue(all(f["severity"] == "error" for f in module_drift), module_drift)
        # Diff mode: the result's diff has the rule after (what present would
        # do), not before. (ansible-playbook prints the diffs of ok and
        # changed tasks only, so a failed audit's diff is in its result.)
        # (A subtest: the scenario goes on when only the diff is wrong.)
        with self.subTest("the audit's diff shows the deleted rule"):
            diff = result["diff"]
            # One line per chain or zone side ("runtime public portplan:..."):
            # the side the rule was deleted from has it after, not before.
            def holding(text):
                return [line for line in text.splitlines() if line.endswith(DELETED_LINE)]
            self.assertEqual(len(holding(diff["after"])), len(holding(diff["before"])) + 1, diff)

        # portplan check: exit 1, the same finding, in the table and in JSON.
        out = self.cli(host, backend, "check", expect=1)
        self.assertRegex(out, rf"ERROR\s+firewall-drift\s+{re.escape(backend)}: "
                              rf"{re.escape(DELETED)}")
        self.assertIn("FAILED:", out)
        cli_result = json.loads(self.cli(host, backend, "check", "--format", "json", expect=1))
        self.assertTrue(cli_result["failed"])
        cli_drift = [f for f in cli_result["findings"] if f["code"] == "firewall-drift"]
        self.assertEqual(cli_drift, module_drift)
        self.assertEqual(listing(host, backend), drifted, "an audit changed the firewall")

        # open repairs exactly the drift; check passes again.
        out = self.cli(host, backend, "open", expect=0)
        self.assertIn("ran:", out)
        self.assertIn("198.18.2.10", out)
        self.assertIn(TAG, listing(host, backend))
        out = self.cli(host, backend, "check", expect=0)
        self.assertNotIn("firewall-drift", out)
        self.assertIn(f"ok: host {host.name}", out)

        # close gives back the original ruleset, byte for byte.
        self.cli(host, backend, "close", expect=0)
        self.assertEqual(listing(host, backend), original, f"{host.name} ({backend})")

    def test_nftables(self):
        self.scenario("nftables")

    def test_iptables(self):
        self.scenario("iptables")

    def test_firewalld(self):
        self.scenario("firewalld")

    def test_ufw(self):
        self.scenario("ufw")


class HostChecks(unittest.TestCase):
    """`portplan check` on hosts without a firewall (`--firewall none`)."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-hostcheck-")
        cls.lan = Lan("chk")
        cls.obs1 = cls.lan.host("obs1", "198.18.2.11", binds=private_lock(cls.lan, "obs1"))
        cls.svc1 = cls.lan.host("svc1", "198.18.7.11", binds=private_lock(cls.lan, "svc1"))
        cls.wait_plan = os.path.join(cls.work, "late-listener.json")
        with open(cls.wait_plan, "w") as f:
            json.dump(WAIT_PLAN, f)

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_stray_listener_named_by_pid_and_command(self):
        with open(EXAMPLE_PLAN) as f:
            plan = json.load(f)
        with Listener(self.obs1, "0.0.0.0:2881") as stray:
            # No --host: obs1 is the one plan host with an address here.
            code, out, err = portplan(self.obs1, "check", EXAMPLE_PLAN, "--firewall", "none")
            self.assertEqual(code, 1, out + err)
            self.assertIn("host obs1", out)
            self.assertRegex(out, r"ERROR\s+port-in-use\s+.*2881")
            self.assertIn(f"pid {stray.pid} (python3)", out)
            code, out, err = portplan(self.obs1, "check", EXAMPLE_PLAN, "--host", "obs1",
                                      "--firewall", "none", "--format", "json")
            self.assertEqual(code, 1, out + err)
            cli = [f for f in json.loads(out)["findings"] if f["code"] == "port-in-use"]
            code, module = run_module(self.obs1, {"plan": plan, "host": "obs1",
                                                  "state": "checked", "firewall": "none"})
        self.assertEqual(code, 1, module)
        self.assertTrue(module["failed"], module)
        self.assertEqual(len(cli), 1, cli)
        self.assertIn(f"pid {stray.pid} (python3)", cli[0]["message"])
        self.assertEqual(cli, [f for f in module["findings"] if f["code"] == "port-in-use"])

    def late_check(self, wait):
        """`check --phase postinstall --wait WAIT` while a listener on the
        plan's one port comes up 3 s after the check starts: (exit code,
        output, seconds the check took)."""
        late = self.svc1.spawn("python3", "-c", LATE_LISTEN, "3", str(WAIT_PORT))
        try:
            start = time.monotonic()
            code, out, err = portplan(self.svc1, "check", self.wait_plan, "--host", "svc1",
                                      "--firewall", "none", "--phase", "postinstall",
                                      "--wait", str(wait))
            return code, out + err, time.monotonic() - start
        finally:
            late.send_signal(signal.SIGTERM)
            late.wait()
            late.stdout.close()

    def test_postinstall_wait_for_a_late_listener(self):
        code, out, took = self.late_check(10)
        self.assertEqual(code, 0, out)
        late = re.search(rf"warning: {WAIT_PORT} \(svc\.api\) was late: listening after "
                         rf"(\d+\.\d) s", out)
        self.assertTrue(late, out)
        # 3 s after the listener's start, which is a little before the check's.
        self.assertGreaterEqual(float(late.group(1)), 2.5, out)
        self.assertNotIn("not-listening", out)
        self.assertLess(took, 9, out)

        code, out, took = self.late_check(1)
        self.assertEqual(code, 1, out)
        self.assertRegex(out, rf"ERROR\s+not-listening\s+.*{WAIT_PORT}")
        self.assertIn(f"warning: {WAIT_PORT} (svc.api) is still not listening after waiting 1 s",
                      out)
        self.assertLess(took, 3, out)

    def test_busybox_chroot_runs_check(self):
        """No Python, no libc: /bin/sh from busybox, the static binary, a plan."""
        root = os.path.join(self.work, "busybox-root")
        for d in ("bin", "proc", "tmp"):
            os.makedirs(os.path.join(root, d))
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        sh("chroot", root, "/bin/busybox", "--install", "-s", "/bin")
        shutil.copy(PORTPLAN, os.path.join(root, "portplan"))
        shutil.copy(EXAMPLE_PLAN, os.path.join(root, "plan.json"))
        self.assertFalse(glob.glob(os.path.join(root, "**", "python*"), recursive=True))
        self.assertFalse(glob.glob(os.path.join(root, "**", "*.so*"), recursive=True))
        host = self.lan.host("obs3", "198.18.2.13", chroot=root)
        done = subprocess.run([*host.enter(), "chroot", root, "/portplan", "check", "/plan.json",
                               "--host", "obs3", "--firewall", "none"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("host obs3 — firewall none", done.stdout)
        self.assertIn("ok: host obs3: 0 error(s)", done.stdout)


class CommandLine(unittest.TestCase):
    """A mistyped command line is a usage error: exit 2, usage on stderr,
    nothing on stdout (above all no module JSON)."""

    def portplan(self, *args):
        with tempfile.TemporaryDirectory() as cwd:
            return subprocess.run([PORTPLAN, *args], capture_output=True, text=True, cwd=cwd,
                                  timeout=30)

    def assert_usage_error(self, args, *expected):
        done = self.portplan(*args)
        shown = f"portplan {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        self.assertEqual(done.returncode, 2, shown)
        self.assertEqual(done.stdout, "", shown)
        self.assertIn("Usage:", done.stderr, shown)
        self.assertNotIn('"failed"', done.stderr, shown)
        for text in expected:
            self.assertIn(text, done.stderr, shown)

    def test_misspelt_validate(self):
        self.assert_usage_error(["validat", EXAMPLE_PLAN], "unrecognized subcommand 'validat'",
                                "'validate'")

    def test_plan_file_alone(self):
        # An existing file, but a plan, not Ansible's args.
        self.assert_usage_error([EXAMPLE_PLAN], "unrecognized subcommand")

    def test_misspelt_check(self):
        self.assert_usage_error(["chek"], "unrecognized subcommand 'chek'", "'check'")

    def test_open_without_arguments(self):
        self.assert_usage_error(["open"], "required arguments were not provided", "<PLAN>")


class PublishedBinaries(unittest.TestCase):
    """dist/bin as scripts/build-collection writes it."""

    def test_checksums_match(self):
        with open(os.path.join(DIST_BIN, "SHA256SUMS")) as f:
            listed = sorted(line.split()[1].lstrip("*") for line in f if line.strip())
        self.assertEqual(listed, ["portplan-aarch64-linux", "portplan-x86_64-linux"])
        done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=DIST_BIN,
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_aarch64_prints_what_x86_64_prints(self):
        netns = f"pp-dist-{os.getpid()}"
        sh("ip", "netns", "add", netns)
        try:
            for extra in ([], ["--format", "json"]):
                out = {}
                for arch, argv in (("x86_64", [os.path.join(DIST_BIN, "portplan-x86_64-linux")]),
                                   ("aarch64", ["qemu-aarch64-static",
                                                os.path.join(DIST_BIN, "portplan-aarch64-linux")])):
                    done = subprocess.run(["ip", "netns", "exec", netns, *argv, "check",
                                           EXAMPLE_PLAN, "--firewall", "none", "--host", "obs1",
                                           *extra], capture_output=True, text=True, timeout=120)
                    out[arch] = (done.returncode, done.stdout, done.stderr)
                self.assertEqual(out["aarch64"], out["x86_64"])
                code, stdout, _ = out["x86_64"]
                self.assertEqual(code, 0, stdout)
                self.assertIn("obs1", stdout)
        finally:
            sh("ip", "netns", "delete", netns)


if __name__ == "__main__":
    unittest.main(verbosity=2)
