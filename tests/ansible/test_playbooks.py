"""The collection under real ansible-playbook, on real nftables and iptables.

Test hosts are network namespaces (see hosts.py). obs1 runs nftables and obs2
iptables, each with foreign rules set up first; ocp1 (198.18.2.10) is a host
the plan admits and `stranger` (198.18.99.9) one it does not. The example
playbooks in examples/playbooks run unchanged against them.

Run as root after scripts/build-collection: `.venv/bin/python -m unittest
discover -s tests/ansible -v` (scripts/test does both).
"""

import glob
import os
import re
import shutil
import tempfile
import unittest

from hosts import REPO, Lan, Listener, controller_env, plan_report, reachable, sh
from runner import PlaybookCase

NFT_FOREIGN = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\ttcp dport 22 accept comment "ssh, not portplan's"
\t}
}
table ip foreign {
\tchain keep {
\t\ttcp dport 9999 drop
\t}
}
"""

IPTABLES_FOREIGN = [
    ["-P", "INPUT", "DROP"],
    ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
    ["-A", "INPUT", "-p", "tcp", "--dport", "22", "-m", "comment", "--comment", "ssh", "-j", "ACCEPT"],
    ["-A", "INPUT", "-j", "REJECT"],
]

# Fails every iptables call that names port 2882, so a run fails half-way;
# every other call goes to the real iptables (REAL is filled in).
FAILING_IPTABLES = """#!/bin/sh
case "$*" in *2882*) echo "injected failure for the rollback test" >&2; exit 1;; esac
exec REAL iptables "$@"
"""


def ruleset(host, backend):
    """The host's ruleset as text, with iptables' packet counters and dated
    comment lines taken out (traffic changes them, not portplan)."""
    if backend == "nftables":
        return host.run("nft", "list", "ruleset")
    text = host.run("iptables-save") + host.run("ip6tables-save")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return re.sub(r"\[\d+:\d+\]", "[0:0]", text)


def is_subsequence(lines, within):
    it = iter(within)
    return all(any(line == other for other in it) for line in lines)


class Playbooks(PlaybookCase):
    """One ordered scenario: methods run in name order and share the hosts."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-ansible-")
        cls.env = controller_env(cls.work)
        cls.lan = Lan("ans")
        cls.obs1 = cls.lan.host("obs1", "198.18.2.11")
        cls.obs2 = cls.lan.host("obs2", "198.18.2.12")
        cls.ocp1 = cls.lan.host("ocp1", "198.18.2.10")
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        cls.obs1.run("nft", "-f", "-", stdin=NFT_FOREIGN)
        for tool in ("iptables", "ip6tables"):
            for rule in IPTABLES_FOREIGN:
                cls.obs2.run(tool, "-w", *rule)
        # Where each distribution keeps its rules: Debian's nftables package
        # ships /etc/nftables.conf; iptables-persistent's directory is made here.
        cls.obs2.run("mkdir", "-p", "/etc/iptables")
        cls.targets = {cls.obs1: "nftables", cls.obs2: "iptables"}
        cls.original = {host: ruleset(host, backend) for host, backend in cls.targets.items()}

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def assert_original(self):
        for host, backend in self.targets.items():
            self.assertEqual(ruleset(host, backend), self.original[host], f"{host.name} ({backend})")

    def test_10_check_diff_changes_nothing_and_shows_the_diff(self):
        output, results = self.play("ocp-preinstall.yml", "--check", "--diff")
        for host, backend in self.targets.items():
            self.assertTrue(results[host]["changed"], results[host])
            self.assertEqual(results[host]["firewall"]["backend"], backend)
            self.assertTrue(results[host]["actions"], results[host])
        self.assertIn("+portplan:observer.sql ipv4 tcp dport 2881 saddr 198.18.2.10/32", output)
        self.assert_original()

    def test_20_first_run_opens_and_persists(self):
        output, results = self.play("ocp-preinstall.yml")
        for host, backend in self.targets.items():
            result = results[host]
            self.assertTrue(result["changed"], result)
            self.assertEqual(result["_outcome"], "ok", result)
            now = ruleset(host, backend)
            self.assertIn("portplan:observer.sql", now)
            self.assertTrue(is_subsequence(self.original[host].splitlines(), now.splitlines()),
                            f"foreign rules of {host.name} changed:\n{now}")
            self.assertTrue(result["persisted"], result)
            saved = ""
            for path in result["persisted"]:
                with open(os.path.join(host.upper, os.path.relpath(path, "/etc"))) as f:
                    saved += f.read()
            self.assertIn("portplan:observer.sql", saved)
        # The overlay kept every write off the machine's own /etc.
        if os.path.exists("/etc/nftables.conf"):
            with open("/etc/nftables.conf") as f:
                self.assertNotIn("portplan", f.read())
        self.assertFalse(os.path.exists("/etc/iptables/rules.v4"))

    def test_30_opened_port_reachable_from_allowed_host_only(self):
        self.assert_reachable_from_allowed_host_only()

    def test_40_second_run_changes_nothing(self):
        _, results = self.play("ocp-preinstall.yml")
        for host in self.targets:
            self.assertFalse(results[host]["changed"], results[host])
            self.assertEqual(results[host]["actions"], [])

    def test_50_port_in_use_fails_naming_pid_and_command(self):
        before = {host: ruleset(host, backend) for host, backend in self.targets.items()}
        with Listener(self.obs1, "0.0.0.0:2881") as stray:
            output, results = self.play("ocp-preinstall.yml", expect_rc=2)
        result = results[self.obs1]
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertIn("port-in-use", result["msg"])
        self.assertIn(f"pid {stray.pid} (python3)", result["msg"])
        for host, backend in self.targets.items():
            self.assertEqual(ruleset(host, backend), before[host])

    def test_60_postinstall_passes_when_components_listen(self):
        fixed = [entry for entry in self.port_table(self.obs1)
                 if entry["allocation"] == "fixed" and entry["ports"]["first"] == entry["ports"]["last"]]
        specs = [("127.0.0.1" if e["exposure"] == "loopback" else "0.0.0.0") + f":{e['ports']['first']}"
                 for e in fixed if e["transport"] == "tcp"]
        self.assertTrue(specs)
        with Listener(self.obs1, *specs):
            _, results = self.play("postinstall.yml", hosts={self.obs1: "nftables"})
        result = results[self.obs1]
        self.assertEqual(result["_outcome"], "ok", result)
        self.assertFalse(result["changed"])
        self.assertEqual([f for f in result["findings"] if f["severity"] == "error"], [])
        # The table made dormant: the kernel asks none of its chains, so
        # everyone reaches 2881; the audit read the drop policy and
        # portplan's rules, and said green (an adversarial review).
        self.obs1.run("nft", "add", "table", "inet", "filter", "{ flags dormant; }")
        try:
            with Listener(self.obs1, *specs):
                self.assertTrue(reachable(self.stranger, self.obs1, 2881))
                _, results = self.play("postinstall.yml", hosts={self.obs1: "nftables"},
                                       expect_rc=2)
        finally:
            # Re-adding the table without flags wakes it.
            self.obs1.run("nft", "add", "table", "inet", "filter")
        result = results[self.obs1]
        self.assertEqual(result["_outcome"], "failed", result)
        # nft 1.0.6 to 1.0.9 write the lone flag from freed memory: a wrong
        # string, or (as in these hosts) the JSON cut there; either fails
        # the read, saying so. A newer nft prints `dormant`: the audit names
        # each planned rule as open to everyone.
        open_to_all = [f["spec"] for f in result["findings"] if f["severity"] == "error"
                       and f["message"].endswith("so the port is open to everyone")]
        unread = ("it stops at a table's `flags`" in result["msg"]
                  or "its one flag reads" in result["msg"])
        self.assertTrue("observer.sql" in open_to_all or unread, result)
        with Listener(self.obs1, "0.0.0.0:2881"):
            self.assertFalse(reachable(self.stranger, self.obs1, 2881))

    def test_61_postinstall_reads_the_chains_jumped_to(self):
        # An accept in a chain the input chain jumps to opened a local-only
        # port to everyone, and the audit, reading the input chain alone,
        # said green (a review). The stranger reaches it; the audit fails.
        local = next(e["ports"]["first"] for e in self.port_table(self.obs1)
                     if e["exposure"] == "loopback" and e["transport"] == "tcp"
                     and e["allocation"] == "fixed")
        try:
            self.obs1.run("nft", "add", "chain", "inet", "filter", "probe_in")
            self.obs1.run("nft", "add", "rule", "inet", "filter", "probe_in",
                          "tcp", "dport", str(local), "accept")
            self.obs1.run("nft", "insert", "rule", "inet", "filter", "input",
                          "meta", "l4proto", "vmap", "{ tcp : jump probe_in }",
                          "comment", '"probe_in"')
            with Listener(self.obs1, f"0.0.0.0:{local}"):
                self.assertTrue(reachable(self.stranger, self.obs1, local))
                _, results = self.play("postinstall.yml", hosts={self.obs1: "nftables"},
                                       expect_rc=2)
        finally:
            # By the comment, whatever the listing prints before it.
            listed = self.obs1.run("nft", "-a", "list", "chain", "inet", "filter", "input")
            for handle in re.findall(r'comment "probe_in" # handle (\d+)', listed):
                self.obs1.run("nft", "delete", "rule", "inet", "filter", "input",
                              "handle", handle)
            self.obs1.run("nft", "flush", "chain", "inet", "filter", "probe_in", check=False)
            self.obs1.run("nft", "delete", "chain", "inet", "filter", "probe_in", check=False)
        result = results[self.obs1]
        exposed = [f for f in result["findings"] if f["code"] == "loopback-exposed"
                   and f["severity"] == "error"]
        # Named by the port: not a broad rule's warning that was there before.
        self.assertTrue(any(f["message"].endswith(f"port {local} from anywhere")
                            for f in exposed), result["findings"])
        with Listener(self.obs1, f"0.0.0.0:{local}"):
            self.assertFalse(reachable(self.stranger, self.obs1, local))

    def port_table(self, host):
        report = plan_report(os.path.join(REPO, "examples", "plans", "ocp-cluster.json"))
        return next(h["ports"] for h in report["hosts"] if h["host"] == host.name)

    def test_70_absent_restores_the_original_ruleset(self):
        _, results = self.play("remove.yml")
        for host in self.targets:
            self.assertTrue(results[host]["changed"], results[host])
        self.assert_original()
        _, results = self.play("remove.yml")
        for host in self.targets:
            self.assertFalse(results[host]["changed"], results[host])
        self.assert_original()

    def test_80_failed_command_rolls_back(self):
        # /usr/sbin/iptables is a symlink through /etc/alternatives to a
        # multi-call binary (a bind mount would land on the binary itself).
        # The host's /etc is an overlay, so the alternative is switched there.
        alternative = "/etc/alternatives/iptables"
        real = self.obs2.run("readlink", "-f", alternative).strip()
        wrapper = os.path.join(self.obs2.dir, "iptables")
        with open(wrapper, "w") as f:
            f.write(FAILING_IPTABLES.replace("REAL", real))
        os.chmod(wrapper, 0o755)
        self.obs2.run("ln", "-sfn", wrapper, alternative)
        try:
            _, results = self.play("ocp-preinstall.yml", hosts={self.obs2: "iptables"}, expect_rc=2)
        finally:
            self.obs2.run("ln", "-sfn", real, alternative)
        result = results[self.obs2]
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertIn("injected failure", result["msg"])
        self.assertIn("rolled back", result["msg"])
        self.assertEqual(ruleset(self.obs2, "iptables"), self.original[self.obs2])

    def test_90_target_without_python(self):
        """A busybox chroot: no Python, no libc; only /bin/sh and the static binary."""
        root = os.path.join(self.work, "busybox-root")
        remote_tmp = os.path.join(self.work, "chroot-tmp")
        for d in ("bin", "proc", "tmp", remote_tmp.lstrip("/")):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.makedirs(remote_tmp, exist_ok=True)
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        sh("chroot", root, "/bin/busybox", "--install", "-s", "/bin")
        self.assertFalse(glob.glob(os.path.join(root, "**", "python*"), recursive=True))
        host = self.lan.host("obs3", "198.18.2.13", chroot=root,
                             binds=[(remote_tmp, os.path.join(root, remote_tmp.lstrip("/")))])
        host.remote_tmp = remote_tmp
        _, results = self.play("ocp-preinstall.yml", hosts={host: "none"})
        result = results[host]
        self.assertEqual(result["_outcome"], "ok", result)
        self.assertEqual(result["firewall"]["backend"], "none")
        self.assertEqual([h["spec"] for h in result["ports"]][:2], ["observer.sql", "observer.rpc"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
