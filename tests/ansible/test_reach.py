"""Issue 15's acceptance: who can reach whom, measured with real traffic.

Two subnets joined by a router namespace whose nftables forward chain plays
the network firewall between them:

    subnet A 198.18.0.0/24: obs1, obs2, proxy1, and `out` (an outsider)
    subnet B 198.18.1.0/24: ocp1, and `cli` (the plan's `application` network)

Every plan host's firewall is an nftables default-drop input chain opened by
`portplan open`. Each round starts `portplan reach serve` on every plan host,
probes from every plan host, from `cli` as the `application` network and from
`out` as the outsider, stops the responders, and asks `portplan reach report`
for the truth table. Then one thing at a time is broken — the router drops a
port, a destination REJECTs one, a host is opened wider than the plan, a
port is held before install — and the table must name exactly that.

Run as root after scripts/build-collection (scripts/test does both).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from bench_firewalls import IPTABLES_ORIGINAL
from hosts import (PLAYBOOKS, PORTPLAN, REPO, Lan, Listener, controller_env, reachable,
                   run_binary, sh)
from test_playbooks import NFT_FOREIGN

BINARY = os.environ.get("PORTPLAN_BIN", PORTPLAN)

PLAN = {
    "name": "reach",
    "profiles": ["ocp"],
    "deploy-user": "root",
    "hosts": [
        {"name": "ocp1", "address": "198.18.1.1", "components": ["ocp-server"]},
        {"name": "obs1", "address": "198.18.0.11", "components": ["observer", "ocp-agent"]},
        {"name": "obs2", "address": "198.18.0.12", "components": ["observer", "ocp-agent"]},
        {"name": "proxy1", "address": "198.18.0.20", "components": ["obproxy", "ocp-agent"]},
    ],
    "networks": [{"name": "application", "cidrs": ["198.18.1.50"]}],
}

# Only the default-drop input chain of the shared foreign ruleset: the
# `ip foreign` table there drops 9999, which this plan does not use.
DEFAULT_DROP = NFT_FOREIGN.split("table ip foreign")[0]

ROUTER_RULES = """table inet net {
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t}
}
"""

TIMEOUT_MS = 700


class Router:
    """A namespace with a leg in each subnet's bridge, forwarding between them."""

    def __init__(self, tag, legs):
        self.netns = f"pp-{tag}-rt"
        sh("ip", "netns", "add", self.netns)
        self.exec("ip", "link", "set", "lo", "up")
        for i, (lan, address) in enumerate(legs):
            sh("ip", "link", "add", f"r{i}", "netns", self.netns, "type", "veth",
               "peer", "name", f"rt{i}", "netns", lan.netns)
            lan.exec("ip", "link", "set", f"rt{i}", "master", "br0", "up")
            self.exec("ip", "addr", "add", f"{address}/24", "dev", f"r{i}")
            self.exec("ip", "link", "set", f"r{i}", "up")
        self.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.exec("nft", "-f", "-", stdin=ROUTER_RULES)

    def exec(self, *argv, **kw):
        return sh("ip", "netns", "exec", self.netns, *argv, **kw)

    def close(self):
        sh("ip", "netns", "delete", self.netns, check=False)


class Reachability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-reach-")
        cls.plan = os.path.join(cls.work, "plan.json")
        with open(cls.plan, "w") as f:
            json.dump(PLAN, f)
        cls.a, cls.b = Lan("ra"), Lan("rb")
        cls.router = Router(cls.a.tag, [(cls.a, "198.18.0.254"), (cls.b, "198.18.1.254")])
        on_a = dict(prefix=24, gateway="198.18.0.254")
        on_b = dict(prefix=24, gateway="198.18.1.254")
        cls.hosts = {
            "ocp1": cls.b.host("ocp1", "198.18.1.1", **on_b),
            "obs1": cls.a.host("obs1", "198.18.0.11", **on_a),
            "obs2": cls.a.host("obs2", "198.18.0.12", **on_a),
            "proxy1": cls.a.host("proxy1", "198.18.0.20", **on_a),
        }
        cls.cli = cls.b.host("cli", "198.18.1.50", **on_b)
        cls.out = cls.a.host("out", "198.18.0.99", **on_a)
        for name, host in cls.hosts.items():
            host.run("nft", "-f", "-", stdin=DEFAULT_DROP)
            host.run(BINARY, "open", cls.plan, "--host", name, "--firewall", "nftables")

    @classmethod
    def tearDownClass(cls):
        for lan in (cls.a, cls.b):
            lan.close()
        cls.router.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    # -- one measuring round ------------------------------------------------

    def serve_all(self):
        """A responder on every plan host; each one's ready line."""
        serving = {}
        for name, host in self.hosts.items():
            process = host.spawn(BINARY, "reach", "serve", self.plan, "--host", name,
                                 "--for", "60")
            line = process.stdout.readline()
            self.assertTrue(line, f"{name}: serve printed nothing")
            serving[name] = (process, json.loads(line))
        return serving

    def stop(self, serving):
        for process, _ in serving.values():
            process.send_signal(signal.SIGTERM)
        for name, (process, _) in serving.items():
            self.assertEqual(process.wait(timeout=10), 0, f"{name}: serve did not stop cleanly")
            process.stdout.close()

    def probe(self, host, *source, phase="preinstall"):
        return host.run(BINARY, "reach", "probe", self.plan, *source, "--phase", phase,
                        "--timeout", str(TIMEOUT_MS))

    def measure(self, phase="preinstall"):
        """One round; the report's exit status, truth table and text."""
        serving = self.serve_all() if phase == "preinstall" else {}
        files = []
        try:
            outputs = {name: self.probe(host, "--host", name, phase=phase)
                       for name, host in self.hosts.items()}
            outputs["cli"] = self.probe(self.cli, "--network", "application", phase=phase)
            outputs["out"] = self.probe(self.out, "--outsider", phase=phase)
        finally:
            self.stop(serving)
        for name, text in outputs.items():
            files.append(self.write(f"probe-{name}.json", text))
        for name, (_, status) in serving.items():
            files.append(self.write(f"serve-{name}.json", json.dumps(status)))
        table = subprocess.run([BINARY, "reach", "report", self.plan, *files, "--format", "json"],
                               capture_output=True, text=True)
        text = subprocess.run([BINARY, "reach", "report", self.plan, *files],
                              capture_output=True, text=True)
        self.assertEqual(table.returncode, text.returncode, text.stderr)
        self.assertIn(table.returncode, (0, 1), table.stderr)
        return table.returncode, json.loads(table.stdout), text.stdout, serving

    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    @staticmethod
    def mismatches(table):
        return [r for r in table["rows"] if r["verdict"] == "mismatch"]

    @staticmethod
    def who(row):
        source = row["source"]
        return source if isinstance(source, str) else next(iter(source.values()))

    # -- the scenarios --------------------------------------------------------

    def test_all_as_planned_is_all_green(self):
        before = {name: host.run("nft", "list", "ruleset") for name, host in self.hosts.items()}
        rc, table, text, serving = self.measure()
        self.assertEqual(rc, 0, text)
        self.assertEqual(table["summary"]["mismatches"], 0, text)
        self.assertEqual(table["summary"]["unknown"], 0, text)
        self.assertGreater(table["summary"]["rows"], 50)
        # Negative tests are part of the round: the outsider and one plan host per port.
        denied = [r for r in table["rows"] if r["expect"] == "deny"]
        self.assertTrue(any(r["source"] == "outsider" for r in denied))
        self.assertTrue(any(isinstance(r["source"], dict) and "host" in r["source"]
                            for r in denied))
        # serve never touched a firewall, and left nothing behind.
        for name, host in self.hosts.items():
            self.assertEqual(host.run("nft", "list", "ruleset"), before[name], name)
            self.assert_nothing_left(host, serving[name][1])

    def test_the_playbook_measures_the_same_and_fails_on_a_drop(self):
        """examples/playbooks/reach.yml under ansible-playbook: every host
        serves and probes, `cli` probes as the application network and `out`
        as the outsider; the report passes, then fails with the table when
        the router drops 2881; the responders are gone afterwards."""
        work = os.path.join(self.work, "ansible")
        os.makedirs(work, exist_ok=True)
        env = controller_env(work)
        lines = ["[ocp]"]
        for name, host in self.hosts.items():
            lines.append(f"{name} ansible_connection=local ansible_shell_executable={host.shell}")
        lines.append("[clients]")
        for host in (self.cli, self.out):
            lines.append(f"{host.name} ansible_connection=local "
                         f"ansible_shell_executable={host.shell}")
        inventory = os.path.join(work, "inventory.ini")
        with open(inventory, "w") as f:
            f.write("\n".join(lines) + "\n")
        play = ["ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, "reach.yml"),
                "-e", f"portplan_plan_file={self.plan}", "-e", "portplan_client_host=cli",
                "-e", "portplan_outsider_host=out", "-e", "portplan_serve_seconds=60"]
        done = subprocess.run(play, env=env, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        for host in self.hosts.values():
            self.assert_no_responder(host)
        self.router.exec("nft", "add", "rule", "inet", "net", "forward", "tcp", "dport", "2881",
                         "drop")
        try:
            done = subprocess.run(play, env=env, capture_output=True, text=True)
        finally:
            self.router.exec("nft", "flush", "chain", "inet", "net", "forward")
        output = done.stdout + done.stderr
        self.assertNotEqual(done.returncode, 0, output)
        self.assertIn("4 mismatches", output)
        self.assertIn("timed out: dropped on the path", output)
        for host in self.hosts.values():
            self.assert_no_responder(host)

    def assert_no_responder(self, host):
        for pid in sh("ip", "netns", "pids", host.netns).split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except FileNotFoundError:
                continue
            self.assertFalse(b"reach" in argv and b"serve" in argv,
                             f"{host.name}: a responder survived the play: {argv}")

    def assert_nothing_left(self, host, status):
        pids = sh("ip", "netns", "pids", host.netns).split()
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except FileNotFoundError:
                continue
            self.assertNotIn(b"reach", argv, f"{host.name}: a responder survived: {argv}")
        ports = {p["port"] for p in status["listening"]}
        listening = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
            for line in host.run("cat", table).splitlines()[1:]:
                fields = line.split()
                # TCP: only listeners (state 0A); the responder's closed
                # connections linger in TIME_WAIT without holding the port.
                if "tcp" in table and fields[3] != "0A":
                    continue
                listening.add(int(fields[1].rsplit(":", 1)[1], 16))
        self.assertFalse(ports & listening, f"{host.name}: still bound: {ports & listening}")

    def test_a_router_drop_is_unreachable_for_exactly_the_sources_across_it(self):
        # observer.sql (2881) is reached by ocp1 and the application network
        # across the router, and by proxy1 on the observers' own subnet.
        self.router.exec("nft", "add", "rule", "inet", "net", "forward", "tcp", "dport", "2881",
                         "drop")
        try:
            rc, table, text, _ = self.measure()
        finally:
            self.router.exec("nft", "flush", "chain", "inet", "net", "forward")
        self.assertEqual(rc, 1, text)
        bad = self.mismatches(table)
        self.assertTrue(bad, text)
        self.assertEqual({r["port"] for r in bad}, {2881}, text)
        self.assertEqual({self.who(r) for r in bad}, {"ocp1", "application"}, text)
        self.assertEqual({r["outcome"] for r in bad}, {"timeout"}, text)
        self.assertEqual({r["destination"] for r in bad}, {"obs1", "obs2"}, text)
        through = [r for r in table["rows"] if r["port"] == 2881 and self.who(r) == "proxy1"]
        self.assertTrue(through and all(r["verdict"] == "as-expected" for r in through), text)
        self.assertTrue(all(f["code"] == "unreachable" and "timed out" in f["message"]
                            for f in table["findings"]), text)

    def test_a_reject_on_the_destination_is_refused(self):
        obs2 = self.hosts["obs2"]
        obs2.run("nft", "insert", "rule", "inet", "filter", "input", "tcp", "dport", "2882",
                 "reject", "with", "tcp", "reset")
        try:
            rc, table, text, _ = self.measure()
        finally:
            handle = re.search(r'tcp dport 2882 reject with tcp reset # handle (\d+)',
                               obs2.run("nft", "-a", "list", "chain", "inet", "filter", "input"))
            obs2.run("nft", "delete", "rule", "inet", "filter", "input", "handle", handle[1])
        self.assertEqual(rc, 1, text)
        bad = self.mismatches(table)
        self.assertTrue(bad, text)
        self.assertEqual({(r["destination"], r["port"], r["outcome"]) for r in bad},
                         {("obs2", 2882, "refused")}, text)
        self.assertIn("obs1", {self.who(r) for r in bad}, text)

    def test_a_host_opened_wider_than_the_plan_is_overexposed(self):
        proxy1 = self.hosts["proxy1"]
        # obproxy.sql (2883) opened to everyone by a hand-written rule.
        proxy1.run("nft", "insert", "rule", "inet", "filter", "input", "tcp", "dport", "2883",
                   "accept")
        try:
            rc, table, text, _ = self.measure()
        finally:
            handle = re.search(r'tcp dport 2883 accept # handle (\d+)',
                               proxy1.run("nft", "-a", "list", "chain", "inet", "filter", "input"))
            proxy1.run("nft", "delete", "rule", "inet", "filter", "input", "handle", handle[1])
        self.assertEqual(rc, 1, text)
        bad = self.mismatches(table)
        self.assertEqual({(r["destination"], r["port"], r["expect"]) for r in bad},
                         {("proxy1", 2883, "deny")}, text)
        sources = {self.who(r) for r in bad}
        self.assertIn("outsider", sources, text)
        self.assertTrue(sources & {"obs1", "obs2"}, f"no plan host non-accessor: {text}")
        self.assertTrue(all(f["code"] == "overexposed" for f in table["findings"]), text)

    def test_a_held_port_is_reported_as_held_then_probed_after_install(self):
        obs1 = self.hosts["obs1"]
        with Listener(obs1, "198.18.0.11:2881"):
            rc, table, text, serving = self.measure()
            self.assertIn(2881, [p["port"] for p in serving["obs1"][1]["held"]])
            rows = [r for r in table["rows"]
                    if r["destination"] == "obs1" and r["port"] == 2881 and r["expect"] == "allow"]
            self.assertTrue(rows, text)
            for r in rows:
                self.assertEqual(r["verdict"], "unknown", text)
                self.assertIn("held by another process", r["detail"])
            self.assertFalse([f for f in table["findings"] if f["spec"] == "observer.sql"
                              and f["host"] == "obs1"], text)
            self.assertEqual(rc, 0, text)
            # After install the real service answers: no responders, no tokens.
            after = json.loads(self.probe(self.hosts["ocp1"], "--host", "ocp1",
                                          phase="postinstall"))
            got = {(r["destination"], r["port"]): r["outcome"] for r in after["results"]}
            self.assertEqual(got[("obs1", 2881)], "connected")
            self.assertEqual(got[("obs2", 2881)], "refused")


ZONES_PLAN = {
    "name": "reach-zones",
    "profiles": ["ocp"],
    "deploy-user": "root",
    "hosts": [
        {"name": "ocp1", "address": "198.18.6.10", "components": ["ocp-server"]},
        {"name": "obs1", "address": "198.18.6.11", "components": ["observer", "ocp-agent"]},
        {"name": "obs2", "address": "198.18.6.12", "components": ["observer", "ocp-agent"]},
    ],
}


class OpenAndProbe:
    """`portplan open` on a host, and ocp1's probe of a host's planned ports
    (the class sets `plan` and `ocp1`)."""

    def open(self, host, backend):
        return subprocess.run([*host.enter(), BINARY, "open", self.plan, "--host", host.name,
                               "--firewall", backend, "--format", "json"],
                              capture_output=True, text=True)

    def from_ocp1(self, destination):
        """ocp1's planned connections to `destination`, with responders there:
        each expected-allow target's outcome."""
        serve = destination.spawn(BINARY, "reach", "serve", self.plan, "--host", destination.name,
                                  "--for", "30")
        try:
            self.assertTrue(serve.stdout.readline(), "serve printed nothing")
            probed = json.loads(self.ocp1.run(BINARY, "reach", "probe", self.plan, "--host",
                                              "ocp1", "--timeout", str(TIMEOUT_MS)))
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait()
            serve.stdout.close()
        plan = json.loads(self.ocp1.run(BINARY, "reach", "probe", self.plan, "--host", "ocp1",
                                        "--dry-run"))
        allowed = {(t["destination"], t["port"]) for t in plan["targets"] if t["expect"] == "allow"}
        return {r["port"]: r["outcome"] for r in probed["results"]
                if r["destination"] == destination.name
                and (r["destination"], r["port"]) in allowed}

    def unshadowed(self, host, backend):
        """The probe connects, and the next `open` succeeds naming no earlier
        deny."""
        self.assertEqual(set(self.from_ocp1(host).values()), {"connected"})
        again = self.open(host, backend)
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        warnings = json.loads(again.stdout)["warnings"]
        self.assertFalse([w for w in warnings if "comes before portplan's rules" in w], warnings)

    def shadowed(self, host, backend, deny, undeny, named):
        """Opened, the probe connects; with `deny` put first, it does not,
        and the next `open` succeeds with a warning naming the rule."""
        opened = self.open(host, backend)
        self.assertEqual(opened.returncode, 0, opened.stdout + opened.stderr)
        before = self.from_ocp1(host)
        self.assertTrue(before)
        self.assertEqual(set(before.values()), {"connected"}, before)
        self.assertFalse([w for w in json.loads(opened.stdout)["warnings"]
                          if "comes before portplan's rules" in w])
        host.run(*deny)
        try:
            after = self.from_ocp1(host)
            self.assertEqual(set(after.values()), {"timeout"}, after)
            again = self.open(host, backend)
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            warnings = json.loads(again.stdout)["warnings"]
            self.assertTrue([w for w in warnings
                             if named in w and "comes before portplan's rules and drops" in w],
                            warnings)
        finally:
            host.run(*undeny)


class WhatHostRulesCannotSee(OpenAndProbe, unittest.TestCase):
    """A firewalld zone bound to a source, an earlier firewalld rich rule
    that drops, and an earlier ufw deny: portplan's rules are in place, yet
    the traffic does not get through. The probe shows it; `portplan open`
    then refuses (firewalld's zone, naming it) or warns (the rules, naming
    them)."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-reach-zones-")
        cls.plan = os.path.join(cls.work, "plan.json")
        with open(cls.plan, "w") as f:
            json.dump(ZONES_PLAN, f)
        cls.lan = Lan("rz")
        cls.ocp1 = cls.lan.host("ocp1", "198.18.6.10")
        cls.firewalld = cls.lan.host("obs1", "198.18.6.11", daemons=True)
        cls.ufw = cls.lan.host("obs2", "198.18.6.12", daemons=True)
        cls.firewalld.start_firewalld()
        cls.ufw.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
        cls.ufw.run("ufw", "--force", "enable")

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_a_source_bound_firewalld_zone_is_seen_and_refused(self):
        opened = self.open(self.firewalld, "firewalld")
        self.assertEqual(opened.returncode, 0, opened.stdout + opened.stderr)
        before = self.from_ocp1(self.firewalld)
        self.assertTrue(before)
        self.assertEqual(set(before.values()), {"connected"}, before)
        # Traffic from ocp1 now goes to zone internal, which opens none of it.
        self.firewalld.run("firewall-cmd", "--zone=internal", "--add-source=198.18.6.10/32")
        try:
            after = self.from_ocp1(self.firewalld)
            self.assertEqual(after.keys(), before.keys())
            self.assertNotIn("connected", after.values(), after)
            again = self.open(self.firewalld, "firewalld")
            self.assertNotEqual(again.returncode, 0, again.stdout)
            self.assertIn("firewalld zone internal is bound to source 198.18.6.10/32",
                          again.stdout + again.stderr)
        finally:
            self.firewalld.run("firewall-cmd", "--zone=internal", "--remove-source=198.18.6.10/32")

    def test_an_earlier_firewalld_rich_drop_is_seen_and_named(self):
        """firewalld walks a zone's drop and reject rich rules before its
        accepts (firewalld.richlanguage(5)), so one added after portplan's
        rules still shuts them; `open` names it, having read the runtime's
        policies (firewalld's own allow-host-ipv6 accepts only ICMPv6)."""
        drop = 'rule family="ipv4" source address="198.18.0.0/16" drop'
        self.shadowed(self.firewalld, "firewalld",
                      ("firewall-cmd", f"--add-rich-rule={drop}"),
                      ("firewall-cmd", f"--remove-rich-rule={drop}"),
                      f"the firewalld rule `{drop}`")

    def test_a_firewalld_drop_walked_after_portplans_rules_is_not_named(self):
        """Read narrow: of a positive priority, the same drop is walked after
        the zone's accepts; and a policy to the host of a negative priority
        that accepts every port decides before the zone. The probe connects,
        and no warning says otherwise."""
        later = 'rule priority="1" family="ipv4" source address="198.18.0.0/16" drop'
        drop = 'rule family="ipv4" source address="198.18.0.0/16" drop'
        opened = self.open(self.firewalld, "firewalld")
        self.assertEqual(opened.returncode, 0, opened.stdout + opened.stderr)
        self.assertTrue(self.from_ocp1(self.firewalld))
        steps = [
            [("firewall-cmd", f"--add-rich-rule={later}")],
            [("firewall-cmd", "--permanent", "--new-policy=ocp-first"),
             ("firewall-cmd", "--permanent", "--policy=ocp-first", "--set-priority=-5"),
             ("firewall-cmd", "--permanent", "--policy=ocp-first", "--add-ingress-zone=ANY"),
             ("firewall-cmd", "--permanent", "--policy=ocp-first", "--add-egress-zone=HOST"),
             *[("firewall-cmd", "--permanent", "--policy=ocp-first", f"--add-port=1-65535/{t}")
               for t in ("tcp", "udp")],
             ("firewall-cmd", "--reload"),
             ("firewall-cmd", f"--add-rich-rule={drop}")],
        ]
        undo = [("firewall-cmd", f"--remove-rich-rule={later}"),
                ("firewall-cmd", f"--remove-rich-rule={drop}"),
                ("firewall-cmd", "--permanent", "--delete-policy=ocp-first"),
                ("firewall-cmd", "--reload")]
        try:
            for step in steps:
                for argv in step:
                    self.firewalld.run(*argv)
                self.unshadowed(self.firewalld, "firewalld")
        finally:
            for argv in undo:
                self.firewalld.run(*argv, check=False)
        self.assertNotIn("198.18.0.0/16", self.firewalld.run("firewall-cmd", "--list-all"))

    def test_an_earlier_ufw_deny_is_seen_and_named(self):
        opened = self.open(self.ufw, "ufw")
        self.assertEqual(opened.returncode, 0, opened.stdout + opened.stderr)
        before = self.from_ocp1(self.ufw)
        self.assertTrue(before)
        self.assertEqual(set(before.values()), {"connected"}, before)
        self.ufw.run("ufw", "insert", "1", "deny", "from", "198.18.0.0/16")
        try:
            after = self.from_ocp1(self.ufw)
            self.assertEqual(set(after.values()), {"timeout"}, after)
            again = self.open(self.ufw, "ufw")
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            warnings = json.loads(again.stdout)["warnings"]
            self.assertTrue([w for w in warnings
                             if "the ufw rule `ufw deny from 198.18.0.0/16` comes before" in w],
                            warnings)
        finally:
            self.ufw.run("ufw", "delete", "deny", "from", "198.18.0.0/16")


DENIES_PLAN = {
    "name": "reach-denies",
    "profiles": ["ocp"],
    "deploy-user": "root",
    "hosts": [
        {"name": "ocp1", "address": "198.18.7.10", "components": ["ocp-server"]},
        {"name": "obs3", "address": "198.18.7.13", "components": ["observer", "ocp-agent"]},
        {"name": "obs4", "address": "198.18.7.14", "components": ["observer", "ocp-agent"]},
    ],
}

# Deletes every `ip saddr 198.18.0.0/16 drop` of inet filter input.
NFT_UNDROP = ("nft -a list chain inet filter input | "
              "sed -n 's/.*ip saddr 198.18.0.0\\/16 drop # handle //p' | "
              "xargs -r -n1 nft delete rule inet filter input handle")


class EarlierDenies(OpenAndProbe, unittest.TestCase):
    """An earlier, broader drop on nftables and iptables: portplan's accepts
    go before the catch-all, after it, and the traffic does not get through.
    The probe shows it; `portplan open` warns naming the rule, as on ufw.
    Found by reading the README's last limit ("ordering against a broader
    foreign drop earlier in a chain is the operator's"): nothing said so."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-reach-denies-")
        cls.plan = os.path.join(cls.work, "plan.json")
        with open(cls.plan, "w") as f:
            json.dump(DENIES_PLAN, f)
        cls.lan = Lan("rd")
        cls.ocp1 = cls.lan.host("ocp1", "198.18.7.10")
        cls.nft = cls.lan.host("obs3", "198.18.7.13")
        cls.iptables = cls.lan.host("obs4", "198.18.7.14")
        cls.nft.run("nft", "-f", "-", stdin=DEFAULT_DROP)
        cls.iptables.run("iptables-restore", stdin=IPTABLES_ORIGINAL)

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_an_earlier_nftables_drop_is_seen_and_named(self):
        self.shadowed(self.nft, "nftables",
                      ("nft", "insert", "rule", "inet", "filter", "input",
                       "ip", "saddr", "198.18.0.0/16", "drop"),
                      ("sh", "-c", NFT_UNDROP),
                      "the nftables rule `inet filter input handle ")
        self.assertNotIn("198.18.0.0/16", self.nft.run("nft", "list", "ruleset"))

    def test_an_earlier_iptables_drop_after_fail2bans_jump_is_named(self):
        """fail2ban's jump (iptables-multiport: a chain of a reject per banned
        source, then a return) before the drop decides nothing the drop
        would: the drop is still named."""
        ban = ("iptables -N f2b-sshd && "
               "iptables -A f2b-sshd -s 198.19.255.5/32 -j REJECT && "
               "iptables -A f2b-sshd -j RETURN && "
               "iptables -I INPUT 1 -p tcp -m multiport --dports 22 -j f2b-sshd && "
               "iptables -I INPUT 2 -s 198.18.0.0/16 -j DROP")
        unban = ("iptables -D INPUT -s 198.18.0.0/16 -j DROP; "
                 "iptables -D INPUT -p tcp -m multiport --dports 22 -j f2b-sshd; "
                 "iptables -F f2b-sshd; iptables -X f2b-sshd")
        self.shadowed(self.iptables, "iptables", ("sh", "-c", ban), ("sh", "-c", unban),
                      "the iptables rule `-A INPUT -s 198.18.0.0/16 -j DROP`")
        self.assertNotIn("f2b-sshd", self.iptables.run("iptables-save"))

    def test_a_drop_after_portplans_rules_is_not_named(self):
        """Read narrow: the same drop appended after portplan's accepts
        decides nothing they admit. The probe connects, and no warning says
        otherwise."""
        opened = self.open(self.nft, "nftables")
        self.assertEqual(opened.returncode, 0, opened.stdout + opened.stderr)
        self.nft.run("nft", "add", "rule", "inet", "filter", "input",
                     "ip", "saddr", "198.18.0.0/16", "drop")
        try:
            self.unshadowed(self.nft, "nftables")
        finally:
            self.nft.run("sh", "-c", NFT_UNDROP)
            self.assertNotIn("198.18.0.0/16", self.nft.run("nft", "list", "ruleset"))

    def test_an_earlier_iptables_drop_is_seen_and_named(self):
        self.shadowed(self.iptables, "iptables",
                      ("iptables", "-I", "INPUT", "1", "-s", "198.18.0.0/16", "-j", "DROP"),
                      ("iptables", "-D", "INPUT", "-s", "198.18.0.0/16", "-j", "DROP"),
                      "the iptables rule `-A INPUT -s 198.18.0.0/16 -j DROP`")


class WhatInputLetsIn(unittest.TestCase):
    """The audit against the wire on an input chain whose policy accepts
    and whose last rule rejects (the usual hand-written ruleset): a return
    in it lets its port in, as does the end of a chain it went to, one
    with rules or none (the audit said green while a stranger connected),
    and an accept appended
    after the reject lets nothing in (the audit named the port open: a
    false alarm), on iptables and nftables alike."""

    IPTABLES = """*filter
:INPUT ACCEPT [0:0]
:WEB - [0:0]
:EMPTY - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp --dport 2882 -j RETURN
-A INPUT -p tcp --dport 62888 -g WEB
-A INPUT -p tcp --dport 62881 -g EMPTY
-A INPUT -j REJECT
-A INPUT -p tcp --dport 2881 -j ACCEPT
-A WEB -s 198.18.2.10 -j REJECT
COMMIT
"""
    NFTABLES = """table inet filter {
  chain web {
    ip saddr 198.18.2.10 reject
  }
  chain empty {
  }
  chain input { type filter hook input priority 0; policy accept;
    iif lo accept
    ct state established,related accept
    tcp dport 2882 return
    tcp dport 62888 goto web
    tcp dport 62881 goto empty
    reject
    tcp dport 2881 accept
  }
}
"""
    EMPTY = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("inp")
        cls.host = cls.lan.host("obs1", "198.18.2.11")
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            cls.plan = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def audit(self, backend):
        """The ports the audit names open beyond the plan."""
        args = {"plan": self.plan, "host": "obs1", "state": "checked", "firewall": backend,
                "_ansible_check_mode": False}
        result = run_binary(self.host, args, binary=BINARY)
        self.assertIn("findings", result, result)
        return {port for port in (2881, 2882, 62881, 62888) for f in result["findings"]
                if f["code"] == "overexposed" and f"port {port} from" in f["message"]}

    def test_a_return_lets_in_and_an_accept_after_the_reject_does_not(self):
        for backend, load in (("iptables", ("iptables-restore",)), ("nftables", ("nft", "-f", "-"))):
            with self.subTest(backend=backend):
                self.host.run(*load, stdin=getattr(self, backend.upper()))
                try:
                    listening = [f"0.0.0.0:{port}" for port in (2881, 2882, 62881, 62888)]
                    with Listener(self.host, *listening):
                        for port in (2882, 62881, 62888):
                            self.assertTrue(reachable(self.stranger, self.host, port), port)
                        self.assertFalse(reachable(self.stranger, self.host, 2881))
                    self.assertEqual(self.audit(backend), {2882, 62881, 62888})
                finally:
                    # iptables-nft's rules are nft tables too.
                    self.host.run("iptables-restore", stdin=self.EMPTY)
                    self.host.run("nft", "flush", "ruleset")


if __name__ == "__main__":
    unittest.main()
