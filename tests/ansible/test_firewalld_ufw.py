"""The collection under real ansible-playbook, on real firewalld and ufw.

obs1 runs firewalld (with its own `dbus-daemon --system`), which the module
drives over D-Bus: every firewalld result must say so, and a wrapper in place
of firewall-cmd logs who runs it, so a module run of firewall-cmd would show.
obs2 runs ufw. Each
in a test host whose /etc, /run and /var are private overlays (hosts.py), so
no firewalld or ufw configuration reaches the machine. Both hold foreign
ports, services and rules first. obs1 uses `firewall: auto`, which must pick
firewalld; obs2's ufw starts inactive, is driven with `firewall: ufw` and is
enabled only when the play asks (`ufw_enable`), after which `auto` picks it.

Run as root after scripts/build-collection (scripts/test does both).
"""

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from hosts import PORTPLAN, REPO, Lan, Listener, controller_env, reachable, run_binary
from runner import PlaybookCase

FOREIGN_RICH_RULE = ('rule family="ipv4" source address="198.18.3.0/24" '
                     'port port="9090" protocol="tcp" accept')
FIREWALLD_FOREIGN = ["--add-port=8080/tcp", "--add-port=8000-8010/tcp", "--add-service=http",
                     f"--add-rich-rule={FOREIGN_RICH_RULE}"]
UFW_FOREIGN = [["allow", "22/tcp"],
               ["allow", "from", "198.18.0.0/16", "to", "any", "port", "9999", "proto", "tcp"]]
TAG = "portplan:observer.sql"


def firewall_state(host):
    """Everything the host's firewall holds, as its own tools list it:
    firewalld's runtime and permanent zones and ipsets; ufw's user rules."""
    if host.name == "obs1":
        return "".join(host.run("firewall-cmd", *side, what)
                       for side in ([], ["--permanent"])
                       for what in ("--list-all-zones", "--get-ipsets"))
    return host.run("ufw", "show", "added")


class FirewalldAndUfw(PlaybookCase):
    """One ordered scenario: methods run in name order and share the hosts."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-fw-")
        cls.env = controller_env(cls.work)
        cls.lan = Lan("fw")
        cls.firewalld = cls.lan.host("obs1", "198.18.2.11", daemons=True)
        cls.ufw = cls.lan.host("obs2", "198.18.2.12", daemons=True)
        cls.ocp1 = cls.lan.host("ocp1", "198.18.2.10")
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        cls.firewalld.start_firewalld()
        cls.firewall_cmd_log = cls.log_firewall_cmd(cls.firewalld)
        for side in ([], ["--permanent"]):
            for change in FIREWALLD_FOREIGN:
                cls.firewalld.run("firewall-cmd", *side, change)
        # ufw's own sysctl file would only touch the namespace's net.* keys;
        # an empty setting keeps it from touching any.
        cls.ufw.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
        for rule in UFW_FOREIGN:
            cls.ufw.run("ufw", *rule)
        cls.targets = {cls.firewalld: "auto", cls.ufw: "ufw"}
        cls.original = {host: firewall_state(host) for host in cls.targets}

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    @staticmethod
    def log_firewall_cmd(host):
        """Put a wrapper over firewall-cmd in `host` that logs the program
        that ran it; the log's path."""
        log = os.path.join(host.dir, "firewall-cmd.log")
        real = os.path.join(host.dir, "real-firewall-cmd")
        shutil.copy2("/usr/bin/firewall-cmd", real)
        wrapper = os.path.join(host.dir, "wrap-firewall-cmd")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\necho "$(readlink /proc/$PPID/exe) $*" >> {log}\n'
                    f'exec {real} "$@"\n')
        os.chmod(wrapper, 0o755)
        host.run("mount", "--bind", wrapper, "/usr/bin/firewall-cmd")
        return log

    def assert_over_dbus(self, result):
        """The module drove firewalld over D-Bus, and ran no firewall-cmd."""
        self.assertIn("driven over D-Bus (firewalld 1.", result["firewall"]["reason"], result)
        with open(self.firewall_cmd_log) as f:
            # The test's own reads run from Python; a module run would show
            # its binary, which Ansible puts in its remote tmp directory.
            runs = [line for line in f if "python" not in line.split(" ", 1)[0]]
        self.assertEqual(runs, [], "firewall-cmd run by something other than the test")

    def many_sources_plan(self, name):
        """The example OCP plan with three application CIDRs, so that
        observer.sql has more sources than a rule lists (an ipset): its path."""
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            plan = json.load(f)
        application = next(n for n in plan["networks"] if n["name"] == "application")
        application["cidrs"] = ["198.18.50.0/24", "198.18.52.0/24", "198.18.54.0/24"]
        plan_file = os.path.join(self.work, name)
        with open(plan_file, "w") as f:
            json.dump(plan, f)
        return plan_file

    def assert_foreign_untouched(self):
        zones = self.firewalld.run("firewall-cmd", "--list-all") + self.firewalld.run(
            "firewall-cmd", "--permanent", "--list-all")
        for foreign in ("8080/tcp 8000-8010/tcp", "http", FOREIGN_RICH_RULE):
            self.assertEqual(zones.count(foreign), 2, f"{foreign} in runtime and permanent:\n{zones}")
        added = self.ufw.run("ufw", "show", "added")
        for rule in UFW_FOREIGN:
            self.assertIn("ufw " + " ".join(rule), added)

    def test_10_check_diff_changes_nothing_and_shows_the_diff(self):
        output, results = self.play("ocp-preinstall.yml", "--check", "--diff")
        firewalld, ufw = results[self.firewalld], results[self.ufw]
        self.assertEqual(firewalld["firewall"]["backend"], "firewalld", firewalld)
        self.assertIn("answers", firewalld["firewall"]["reason"])
        self.assertIn("default zone public", firewalld["firewall"]["reason"])
        self.assert_over_dbus(firewalld)
        self.assertEqual(ufw["firewall"]["backend"], "ufw", ufw)
        for result in (firewalld, ufw):
            self.assertTrue(result["changed"] and result["actions"], result)
        self.assertIn(f"+{TAG} ipv4 tcp dport 2881 saddr 198.18.2.10/32", output)
        for host in self.targets:
            self.assertEqual(firewall_state(host), self.original[host], host.name)

    def test_20_first_run_opens_and_an_inactive_ufw_is_only_reported(self):
        _, results = self.play("ocp-preinstall.yml")
        for host in self.targets:
            self.assertTrue(results[host]["changed"], results[host])
            self.assertEqual(results[host]["_outcome"], "ok", results[host])
        # firewalld: the runtime and the permanent configuration alike, no reload.
        for side in ([], ["--permanent"]):
            rules = self.firewalld.run("firewall-cmd", *side, "--zone=public", "--list-rich-rules")
            self.assertIn(f'source address="198.18.2.10" port port="2881" protocol="tcp" '
                          f'log prefix="{TAG}"', rules)
        self.assert_over_dbus(results[self.firewalld])
        actions = [" ".join(a["argv"]) for a in results[self.firewalld]["actions"]]
        self.assertFalse([a for a in actions if "--reload" in a or "-port" in a], actions)
        self.assertEqual(results[self.firewalld]["persisted"], ["/etc/firewalld/zones/public.xml"])
        with open(os.path.join(self.firewalld.upper, "firewalld", "zones", "public.xml")) as f:
            self.assertIn(TAG, f.read())
        # ufw: the rules are in place, ufw stays off, and the result says so.
        ufw = results[self.ufw]
        self.assertIn(f"comment '{TAG}'", self.ufw.run("ufw", "show", "added"))
        self.assertTrue(self.ufw.run("ufw", "status").startswith("Status: inactive"))
        self.assertTrue([w for w in ufw["warnings"] if "ufw is inactive" in w], ufw)
        self.assertEqual(ufw["persisted"], ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"])
        self.assert_foreign_untouched()
        # Nothing reached the machine's own configuration.
        for path in ("/etc/firewalld/zones/public.xml", "/etc/ufw/user.rules"):
            if os.path.exists(path):
                with open(path) as f:
                    self.assertNotIn("portplan", f.read())

    def test_25_ufw_is_enabled_on_request_after_its_rules(self):
        _, results = self.play("ocp-preinstall.yml", "-e", "portplan_ufw_enable=true")
        ufw = results[self.ufw]
        self.assertTrue(ufw["changed"], ufw)
        self.assertEqual([a["argv"] for a in ufw["actions"]], [["ufw", "--force", "enable"]])
        self.assertTrue(self.ufw.run("ufw", "status").startswith("Status: active"))
        self.assertFalse(results[self.firewalld]["changed"], results[self.firewalld])

    def test_30_opened_port_reachable_from_allowed_host_only(self):
        self.assert_reachable_from_allowed_host_only()

    def test_40_second_run_changes_nothing(self):
        # Now that ufw is enabled, `auto` finds it.
        hosts = {self.firewalld: "auto", self.ufw: "auto"}
        _, results = self.play("ocp-preinstall.yml", hosts=hosts)
        for host in self.targets:
            self.assertFalse(results[host]["changed"], results[host])
            self.assertEqual(results[host]["actions"], [])
        self.assertEqual(results[self.ufw]["firewall"]["backend"], "ufw")
        self.assertIn("ENABLED=yes", results[self.ufw]["firewall"]["reason"])

    def test_45_dbus_and_firewall_cmd_read_alike(self):
        """The D-Bus read and firewall-cmd's text give core the same state:
        a check of the planned host (rules in place, then one removed by
        hand, then a foreign reject added) reports alike either way."""
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            plan = json.load(f)
        args = {"plan": plan, "host": "obs1", "state": "checked", "firewall": "firewalld",
                "_ansible_diff": True, "_ansible_check_mode": False}
        rule = ('rule family="ipv4" source address="198.18.2.10" port port="2881" '
                f'protocol="tcp" log prefix="{TAG}" level="info" limit value="1/h" accept')
        reject = ('rule family="ipv4" source address="198.18.2.20" port port="2882" '
                  'protocol="tcp" reject')
        steps = [("as planned", []),
                 ("one rule removed by hand", [f"--remove-rich-rule={rule}"]),
                 ("a foreign reject", [f"--add-rich-rule={reject}"])]

        def alike(label):
            results = [run_binary(self.firewalld, args, env) for env in
                       ({}, {"PORTPLAN_FIREWALLD": "firewall-cmd"})]
            for result, path in zip(results, ("driven over D-Bus", "driven through firewall-cmd")):
                self.assertIn("firewall", result, result)
                self.assertIn(path, result["firewall"]["reason"], label)
                result["firewall"]["reason"] = result["firewall"]["reason"].split("; driven")[0]
            self.assertEqual(results[0], results[1], label)
            return results[0]

        for label, change in steps:
            if change:
                self.firewalld.run("firewall-cmd", *change)
            result = alike(label)
            if label != "as planned":
                self.assertTrue(result["failed"] or result["findings"], result)
        self.firewalld.run("firewall-cmd", f"--remove-rich-rule={reject}")
        self.firewalld.run("firewall-cmd", f"--add-rich-rule={rule}")
        # A zone's protocol accepts all of it: read (it was not, either way),
        # every planned port is open wider than planned.
        self.firewalld.run("firewall-cmd", "--add-protocol=tcp")
        try:
            result = alike("a zone's protocol")
            self.assertTrue(any(f["code"] == "overexposed" for f in result["findings"]), result)
        finally:
            self.firewalld.run("firewall-cmd", "--remove-protocol=tcp")
        # A service the zone names opens what its definition lists, and
        # what the services it includes list: read (it was not, either
        # way), the planned port is open wider than planned.
        result = alike("as planned, again")
        self.assertFalse(any(f["code"] == "overexposed" for f in result["findings"]), result)
        for args_ in (["--permanent", "--new-service=pp45"], ["--permanent", "--new-service=pp45b"],
                      ["--permanent", "--service=pp45b", "--add-port=2881/tcp"],
                      ["--permanent", "--service=pp45", "--add-include=pp45b"],
                      ["--reload"], ["--add-service=pp45"]):
            self.firewalld.run("firewall-cmd", *args_)
        try:
            result = alike("a zone's service")
            self.assertTrue(any(f["code"] == "overexposed" and "port 2881" in f["message"]
                                for f in result["findings"]), result)
        finally:
            for args_ in (["--remove-service=pp45"], ["--permanent", "--delete-service=pp45"],
                          ["--permanent", "--delete-service=pp45b"], ["--reload"]):
                self.firewalld.run("firewall-cmd", *args_)
        # A forward port sends to a local port, which firewalld accepts
        # before the zones: the port it sends to is open (it was not read).
        forward = "--add-forward-port=port=15432:proto=tcp:toport=2881"
        self.firewalld.run("firewall-cmd", forward)
        try:
            result = alike("a zone's forward port")
            self.assertTrue(any(f["code"] == "overexposed" and "port 2881" in f["message"]
                                for f in result["findings"]), result)
        finally:
            self.firewalld.run("firewall-cmd", forward.replace("--add-", "--remove-"))
        # A rich rule's forward port, and an accepting rich rule naming a
        # service (its definition read as open to everyone, wide on the
        # rule's source): each opens 2881 (neither was read).
        for args_ in (["--permanent", "--new-service=pp47"],
                      ["--permanent", "--service=pp47", "--add-port=2881/tcp"], ["--reload"]):
            self.firewalld.run("firewall-cmd", *args_)
        try:
            for label, rich in (
                    ("a rich rule's forward port",
                     'rule family="ipv4" forward-port port="15433" protocol="tcp" to-port="2881"'),
                    ("a rich rule's service",
                     'rule family="ipv4" source address="198.18.9.0/24" service name="pp47" accept')):
                self.firewalld.run("firewall-cmd", f"--add-rich-rule={rich}")
                try:
                    result = alike(label)
                    self.assertTrue(any(f["code"] == "overexposed" and "port 2881" in f["message"]
                                        for f in result["findings"]), (label, result))
                finally:
                    self.firewalld.run("firewall-cmd", f"--remove-rich-rule={rich}")
        finally:
            for args_ in (["--permanent", "--delete-service=pp47"], ["--reload"]):
                self.firewalld.run("firewall-cmd", *args_)
        # An active policy to the host from the zone is asked before the
        # zone's target: what it accepts, its ports and its services'
        # definitions, is open (it was not read, either way).
        policy = ["--permanent", "--policy=open45"]
        for args_ in (["--permanent", "--new-service=pp46"],
                      ["--permanent", "--service=pp46", "--add-port=2882/tcp"],
                      ["--permanent", "--new-policy=open45"], [*policy, "--add-ingress-zone=ANY"],
                      [*policy, "--add-egress-zone=HOST"], [*policy, "--add-port=2881/tcp"],
                      [*policy, "--add-service=pp46"], ["--reload"]):
            self.firewalld.run("firewall-cmd", *args_)
        try:
            result = alike("a policy's port and service")
            for port in ("2881", "2882"):
                self.assertTrue(any(f["code"] == "overexposed" and f"port {port}" in f["message"]
                                    for f in result["findings"]), (port, result))
        finally:
            for args_ in (["--permanent", "--delete-policy=open45"],
                          ["--permanent", "--delete-service=pp46"], ["--reload"]):
                self.firewalld.run("firewall-cmd", *args_)
        # An idle policy (its ingress zone has no interface) that would
        # accept before the zone: firewalld before 2.1 lists it `(active)`
        # in `--list-all-policies`, so the firewall-cmd path read the
        # zone's reject as maybe passed, and named nothing (a review).
        idle = ["--permanent", "--policy=idle45"]
        ahead = ('rule family="ipv4" source address="198.18.2.0/24" port port="62888" '
                 'protocol="tcp" reject')
        for args_ in (["--permanent", "--new-policy=idle45"], [*idle, "--add-ingress-zone=internal"],
                      [*idle, "--add-egress-zone=HOST"], [*idle, "--set-priority=-100"],
                      [*idle, "--add-service=ssh"], ["--reload"], [f"--add-rich-rule={ahead}"]):
            self.firewalld.run("firewall-cmd", *args_)
        try:
            result = alike("an idle policy before the zone")
            self.assertTrue(any(ahead in f["message"] and "comes before portplan's rules"
                                in f["message"] for f in result["findings"]), result)
        finally:
            self.firewalld.run("firewall-cmd", "--permanent", "--delete-policy=idle45")
            self.firewalld.run("firewall-cmd", "--reload")
        # A policy's drop asked after portplan's accepts, which the
        # firewall-cmd path did not read (it read no policies): over
        # either path the audit names it, active or only configured.
        drop = 'rule family="ipv4" source address="198.18.2.0/24" drop'
        policy = ["--permanent", "--policy=ops45"]
        for args_ in (["--permanent", "--new-policy=ops45"], [*policy, "--add-ingress-zone=ANY"],
                      [*policy, "--add-egress-zone=HOST"], [*policy, "--set-priority=10"],
                      [*policy, f"--add-rich-rule={drop}"]):
            self.firewalld.run("firewall-cmd", *args_)
        try:
            for label in ("a policy's later drop, configured", "a policy's later drop, active"):
                if label.endswith("active"):
                    self.firewalld.run("firewall-cmd", "--reload")
                result = alike(label)
                self.assertTrue(any(f"policy ops45: {drop}" in finding["message"]
                                    for finding in result["findings"]), result)
        finally:
            self.firewalld.run("firewall-cmd", "--permanent", "--delete-policy=ops45")
            self.firewalld.run("firewall-cmd", "--reload")
        with open(self.firewall_cmd_log) as f:
            ran = f.read()
        self.assertIn(PORTPLAN, ran, "the firewall-cmd path ran no firewall-cmd")
        # The binary's firewall-cmd runs above were asked for; later checks
        # look at what comes after them.
        open(self.firewall_cmd_log, "w").close()

    def test_50_firewalld_restart_keeps_the_rules(self):
        self.firewalld.stop_firewalld()
        self.firewalld.start_firewalld()
        self.assert_reachable_from_allowed_host_only()
        _, results = self.play("ocp-preinstall.yml", hosts={self.firewalld: "firewalld"})
        self.assertFalse(results[self.firewalld]["changed"], results[self.firewalld])
        self.assert_over_dbus(results[self.firewalld])

    def test_60_many_sources_use_an_ipset_that_a_restart_brings_to_the_runtime(self):
        plan_file = self.many_sources_plan("many-sources.json")
        hosts = {self.firewalld: "firewalld"}
        many = ("-e", f"portplan_plan_file={plan_file}")
        _, results = self.play("ocp-preinstall.yml", *many, hosts=hosts)
        self.assertTrue(results[self.firewalld]["changed"], results[self.firewalld])
        self.assert_over_dbus(results[self.firewalld])
        ipset = "portplan-observer_s-feefba95-v4"
        self.assertEqual(self.firewalld.run("firewall-cmd", "--permanent", "--get-ipsets").split(),
                         [ipset])
        entries = self.firewalld.run("firewall-cmd", "--permanent", f"--info-ipset={ipset}")
        self.assertIn("entries: 198.18.2.10 198.18.2.20 198.18.50.0/24", entries)
        # Until a reload the runtime has no such ipset, and one rule per source.
        self.assertEqual(self.firewalld.run("firewall-cmd", "--get-ipsets").split(), [])
        self.assertEqual(self.firewalld.run("firewall-cmd", "--list-rich-rules").count(TAG), 5)
        _, results = self.play("ocp-preinstall.yml", *many, hosts=hosts)
        self.assertFalse(results[self.firewalld]["changed"], results[self.firewalld])
        self.firewalld.stop_firewalld()
        self.firewalld.start_firewalld()
        runtime = self.firewalld.run("firewall-cmd", "--list-rich-rules")
        self.assertIn(f'source ipset="{ipset}"', runtime)
        self.assert_reachable_from_allowed_host_only()
        _, results = self.play("ocp-preinstall.yml", *many, hosts=hosts)
        self.assertFalse(results[self.firewalld]["changed"], results[self.firewalld])
        # Back to the example plan: one rule per source, and the ipset is gone.
        _, results = self.play("ocp-preinstall.yml", hosts=hosts)
        self.assertTrue(results[self.firewalld]["changed"], results[self.firewalld])
        self.assertEqual(self.firewalld.run("firewall-cmd", "--permanent", "--get-ipsets").split(),
                         [])
        self.assert_foreign_untouched()

    def test_65_an_ipset_someone_else_uses_stays_and_firewalld_still_reloads(self):
        """An operator's rule that uses portplan's ipset: deleting the ipset
        under it left the permanent configuration naming a missing ipset, so
        the next reload failed and firewalld filtered nothing (an adversarial
        review). The ipset stays while the rule uses it: a zone's rule, and
        (a second review) an inverted one in a policy that is not active,
        which a reload loads all the same."""
        plan_file = self.many_sources_plan("many-sources-65.json")
        hosts = {self.firewalld: "firewalld"}
        ipset = "portplan-observer_s-feefba95-v4"
        zone_rule = f'rule family="ipv4" source ipset="{ipset}" service name="http" accept'
        policy_rule = f'rule family="ipv4" source NOT ipset="{ipset}" drop'
        users = {
            "a zone's rule": (
                [("--permanent", f"--add-rich-rule={zone_rule}")],
                [("--permanent", f"--remove-rich-rule={zone_rule}")]),
            "an inactive policy's inverted rule": (
                [("--permanent", "--new-policy=ops65"),
                 ("--permanent", "--policy=ops65", f"--add-rich-rule={policy_rule}")],
                [("--permanent", "--delete-policy=ops65")]),
        }
        for what, (add, remove) in users.items():
            with self.subTest(what):
                self.play("ocp-preinstall.yml", "-e", f"portplan_plan_file={plan_file}",
                          hosts=hosts)
                for args in add:
                    self.firewalld.run("firewall-cmd", *args)
                try:
                    _, results = self.play("ocp-preinstall.yml", hosts=hosts)
                    self.assertTrue(results[self.firewalld]["changed"], results[self.firewalld])
                    self.assertEqual(self.firewalld.run(
                        "firewall-cmd", "--permanent", "--get-ipsets").split(), [ipset])
                    self.firewalld.run("firewall-cmd", "--reload")
                    self.assertEqual(
                        self.firewalld.run("firewall-cmd", "--state").strip(), "running")
                    self.assert_reachable_from_allowed_host_only()
                finally:
                    for args in remove:
                        self.firewalld.run("firewall-cmd", *args)
                # An ipset of portplan's that no rule names goes with the
                # next run that changes something (core: `left-ipset`); none
                # does here, so it is removed by hand for the next case and
                # test 70 to start from the original.
                self.firewalld.run("firewall-cmd", "--permanent", f"--delete-ipset={ipset}")
                self.firewalld.run("firewall-cmd", "--reload")
        self.assert_foreign_untouched()

    def test_67_an_ipset_left_behind_is_made_again(self):
        """portplan's ipset left behind with no rule naming it (a run failed
        or was killed right after `--new-ipset`): `--new-ipset` of it again
        failed with NAME_CONFLICT, so every later run failed (an adversarial
        review). The next run deletes it first and fills it anew."""
        plan_file = self.many_sources_plan("many-sources-67.json")
        hosts = {self.firewalld: "firewalld"}
        ipset = "portplan-observer_s-feefba95-v4"
        self.firewalld.run("firewall-cmd", "--permanent", f"--new-ipset={ipset}",
                           "--type=hash:net", "--option=family=inet")
        self.firewalld.run("firewall-cmd", "--permanent", f"--ipset={ipset}",
                           "--add-entry=203.0.113.9")
        _, results = self.play("ocp-preinstall.yml", "-e", f"portplan_plan_file={plan_file}",
                               hosts=hosts)
        self.assertTrue(results[self.firewalld]["changed"], results[self.firewalld])
        entries = self.firewalld.run("firewall-cmd", "--permanent", f"--info-ipset={ipset}")
        self.assertIn("entries: 198.18.2.10 198.18.2.20 198.18.50.0/24", entries)
        self.assertNotIn("203.0.113.9", entries)
        _, results = self.play("ocp-preinstall.yml", "-e", f"portplan_plan_file={plan_file}",
                               hosts=hosts)
        self.assertFalse(results[self.firewalld]["changed"], results[self.firewalld])
        # A range added by hand (firewalld takes one in a hash:net ipset)
        # was skipped when read, so the audit said green over it (an
        # adversarial review): now an error over either path, and the next
        # run takes the entry out by its own text.
        extra = "198.18.60.0-198.18.60.255"
        self.firewalld.run("firewall-cmd", "--permanent", f"--ipset={ipset}",
                           f"--add-entry={extra}")
        with open(plan_file) as f:
            audit = {"plan": json.load(f), "host": "obs1", "state": "checked",
                     "phase": "postinstall", "firewall": "firewalld",
                     "_ansible_check_mode": False}
        for env in ({}, {"PORTPLAN_FIREWALLD": "firewall-cmd"}):
            result = run_binary(self.firewalld, audit, env)
            self.assertTrue(any(extra in f["message"] and f["severity"] == "error"
                                for f in result["findings"]), result)
        open(self.firewall_cmd_log, "w").close()
        _, results = self.play("ocp-preinstall.yml", "-e", f"portplan_plan_file={plan_file}",
                               hosts=hosts)
        self.assertTrue(results[self.firewalld]["changed"], results[self.firewalld])
        entries = self.firewalld.run("firewall-cmd", "--permanent", f"--info-ipset={ipset}")
        self.assertNotIn("198.18.60", entries)
        self.assertIn("entries: 198.18.2.10 198.18.2.20 198.18.50.0/24", entries)
        # Back to the example plan: one rule per source, and the ipset is gone.
        self.play("ocp-preinstall.yml", hosts=hosts)
        self.assertEqual(
            self.firewalld.run("firewall-cmd", "--permanent", "--get-ipsets").split(), [])
        self.assert_foreign_untouched()

    def test_69_through_firewall_cmd_a_left_ipset_goes_and_a_direct_rule_keeps_one(self):
        """The firewall-cmd path (RHEL 7's firewalld 0.6 has no D-Bus
        settings dictionaries) read no direct rules, so it could not tell an
        ipset a killed run left from one a direct rule names: the first
        failed every later run with NAME_CONFLICT. Now it reads them: a left
        ipset is made again, and one a permanent direct rule names stays."""
        env = {"PORTPLAN_FIREWALLD": "firewall-cmd"}
        ipset = "portplan-observer_s-feefba95-v4"
        with open(self.many_sources_plan("many-sources-69.json")) as f:
            many = json.load(f)
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            example = json.load(f)

        def present(plan):
            result = run_binary(self.firewalld, {
                "plan": plan, "host": "obs1", "state": "present", "firewall": "firewalld",
                "_ansible_check_mode": False}, env)
            self.assertFalse(result.get("failed"), result)
            self.assertIn("driven through firewall-cmd", result["firewall"]["reason"], result)
            return result

        def ipsets():
            return self.firewalld.run("firewall-cmd", "--permanent", "--get-ipsets").split()

        self.firewalld.run("firewall-cmd", "--permanent", f"--new-ipset={ipset}",
                           "--type=hash:net", "--option=family=inet")
        self.firewalld.run("firewall-cmd", "--permanent", f"--ipset={ipset}",
                           "--add-entry=203.0.113.9")
        self.assertTrue(present(many)["changed"])
        entries = self.firewalld.run("firewall-cmd", "--permanent", f"--info-ipset={ipset}")
        self.assertIn("entries: 198.18.2.10 198.18.2.20 198.18.50.0/24", entries)
        self.assertFalse(present(many)["changed"])
        direct = ["--permanent", "--direct", "ipv4", "filter", "INPUT", "0", "-m", "set",
                  "--match-set", ipset, "src", "-j", "ACCEPT"]
        self.firewalld.run("firewall-cmd", *direct[:2], "--add-rule", *direct[2:])
        try:
            self.assertTrue(present(example)["changed"])
            self.assertEqual(ipsets(), [ipset])
        finally:
            self.firewalld.run("firewall-cmd", *direct[:2], "--remove-rule", *direct[2:])
        # No rule names it now: it goes with the next run that changes
        # something (none does), so by hand, for the tests after.
        self.firewalld.run("firewall-cmd", "--permanent", f"--delete-ipset={ipset}")
        self.firewalld.run("firewall-cmd", "--reload")
        self.assertFalse(present(example)["changed"])
        self.assert_reachable_from_allowed_host_only()
        self.assert_foreign_untouched()
        # These firewall-cmd runs were asked for; later checks look past them.
        open(self.firewall_cmd_log, "w").close()

    def test_68_a_later_deny_is_not_turned_into_an_allow(self):
        """An operator's drop of a positive priority, which firewalld asks
        after the zone's allow rules: portplan's accept (priority 0) would
        have admitted what it drops (an adversarial review). In the zone, or
        in a policy to the host: the run is refused naming it, the firewall
        is as it was, and the drop still drops."""
        hosts = {self.firewalld: "firewalld"}
        deny = ('rule priority="5" family="ipv4" source address="198.18.2.0/24" '
                'port port="2881" protocol="tcp" drop')
        in_policy = 'rule family="ipv4" source address="198.18.2.0/24" drop'
        policy = ["--permanent", "--policy=ops68"]
        placements = {
            "a zone's rich rule": (
                deny,
                [(f"--add-rich-rule={deny}",), ("--permanent", f"--add-rich-rule={deny}")],
                [(f"--remove-rich-rule={deny}",), ("--permanent", f"--remove-rich-rule={deny}")]),
            "a policy's rich rule": (
                f"policy ops68: {in_policy}",
                [("--permanent", "--new-policy=ops68"),
                 (*policy, "--add-ingress-zone=ANY"), (*policy, "--add-egress-zone=HOST"),
                 (*policy, "--set-priority=10"), (*policy, f"--add-rich-rule={in_policy}"),
                 ("--reload",)],
                [("--permanent", "--delete-policy=ops68"), ("--reload",)]),
            "a policy not yet loaded": (
                f"policy ops68: {in_policy}",
                [("--permanent", "--new-policy=ops68"),
                 (*policy, "--add-ingress-zone=ANY"), (*policy, "--add-egress-zone=HOST"),
                 (*policy, "--set-priority=10"), (*policy, f"--add-rich-rule={in_policy}")],
                [("--permanent", "--delete-policy=ops68")]),
        }
        self.play("remove.yml", hosts=hosts)
        for what, (named, add, remove) in placements.items():
            with self.subTest(what):
                for args in add:
                    self.firewalld.run("firewall-cmd", *args)
                try:
                    before = firewall_state(self.firewalld)
                    _, results = self.play("ocp-preinstall.yml", hosts=hosts, expect_rc=2)
                    # The check task before the change already says so.
                    result = results[self.firewalld]
                    self.assertEqual(result["_outcome"], "failed", result)
                    self.assertIn("so firewalld asks it after the zone's allow rules",
                                  result["msg"])
                    self.assertIn(named, result["msg"])
                    self.assertEqual(result["actions"], [])
                    self.assertEqual(firewall_state(self.firewalld), before)
                    with Listener(self.firewalld, "0.0.0.0:2881"):
                        self.assertFalse(reachable(self.ocp1, self.firewalld, 2881))
                finally:
                    for args in remove:
                        self.firewalld.run("firewall-cmd", *args)
        # Without the drop, the plan goes in again (test 70 takes it out).
        self.play("ocp-preinstall.yml", hosts=hosts)
        self.assert_reachable_from_allowed_host_only()
        self.assert_foreign_untouched()

    def test_66_the_audit_fails_over_a_firewalld_that_filters_nothing(self):
        """firewalld in state FAILED (a permanent rule naming a missing ipset,
        then a reload) leaves no filtering at all; the audit said green."""
        zone = "/etc/firewalld/zones/public.xml"
        saved = self.firewalld.run("cat", zone)
        broken = saved.replace(
            "</zone>", '<rule family="ipv4"><source ipset="nosuch"/><accept/></rule></zone>')
        plan = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")
        try:
            self.firewalld.run("sh", "-c", f"cat > {zone}", stdin=broken)
            self.firewalld.run("firewall-cmd", "--reload", check=False)
            state = subprocess.run([*self.firewalld.enter(), "firewall-cmd", "--state"],
                                   capture_output=True, text=True)
            self.assertEqual((state.stdout + state.stderr).strip(), "failed")
            done = subprocess.run(
                [*self.firewalld.enter(), PORTPLAN, "check", plan, "--host", "obs1",
                 "--firewall", "firewalld"], capture_output=True, text=True, timeout=120)
            self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
            self.assertIn("firewall-drift", done.stdout)
            self.assertIn("the firewall could not be read", done.stdout)
        finally:
            self.firewalld.run("sh", "-c", f"cat > {zone}", stdin=saved)
            self.firewalld.run("firewall-cmd", "--reload")
        self.assertEqual(self.firewalld.run("firewall-cmd", "--state").strip(), "running")

    def test_70_absent_restores_the_original_rules(self):
        _, results = self.play("remove.yml")
        for host in self.targets:
            self.assertTrue(results[host]["changed"], results[host])
        self.assert_over_dbus(results[self.firewalld])
        # The runtime ipset of test 60 stays until firewalld reloads (firewalld
        # deletes ipsets only permanently); a restart shows the original.
        self.firewalld.stop_firewalld()
        self.firewalld.start_firewalld()
        for host in self.targets:
            self.assertEqual(firewall_state(host), self.original[host], host.name)
        _, results = self.play("remove.yml")
        for host in self.targets:
            self.assertFalse(results[host]["changed"], results[host])


class FirewalldDirectRules(unittest.TestCase):
    """A direct rule's accept, under each of firewalld's backends: measured
    on the wire from a host the plan does not admit, and read alike over
    D-Bus and through firewall-cmd. firewalld.direct(5): with the iptables
    backend `INPUT` jumps to `INPUT_direct` before the zones, so the accept
    opens the port; with nftables the packet "is still subject to
    firewalld's nftables ruleset", and the port stays closed."""

    ACCEPT = ["ipv4", "filter", "INPUT", "0", "-p", "tcp", "--dport", "2881", "-j", "ACCEPT"]

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("fwd")
        cls.host = cls.lan.host("obs1", "198.18.2.11", daemons=True)
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            cls.args = {"plan": json.load(f), "host": "obs1", "state": "checked",
                        "firewall": "firewalld", "_ansible_check_mode": False}

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def set_backend(self, backend):
        self.host.run("sed", "-i", f"s/^FirewallBackend=.*/FirewallBackend={backend}/",
                      "/etc/firewalld/firewalld.conf")

    @contextlib.contextmanager
    def nat(self, *rule):
        """`rule` first in the nat table's PREROUTING while the block runs
        (`iptables -t nat`, beside firewalld), deleted after it however it
        ends."""
        self.host.run("iptables", "-t", "nat", "-I", "PREROUTING", *rule)
        try:
            yield
        finally:
            self.host.run("iptables", "-t", "nat", "-D", "PREROUTING", *rule)

    @contextlib.contextmanager
    def nft_nat(self, *rule):
        """`rule`, one of nft's own, in the nat table's PREROUTING while the
        block runs (made as iptables-nft makes them where missing), deleted
        by its handle after it however it ends."""
        self.host.run("nft", "add", "table", "ip", "nat")
        self.host.run("nft", "add", "chain", "ip", "nat", "PREROUTING",
                      "{ type nat hook prerouting priority dstnat; policy accept; }")
        added = self.host.run("nft", "--echo", "--handle", "add", "rule", "ip", "nat",
                              "PREROUTING", *rule)
        handle = added.rsplit("# handle ", 1)[1].split()[0]
        try:
            yield
        finally:
            self.host.run("nft", "delete", "rule", "ip", "nat", "PREROUTING", "handle", handle)

    def overexposed(self, port=2881):
        """Whether the audit says `port` (one of obs1's) is open beyond the
        plan, the same over D-Bus and through firewall-cmd."""
        said = []
        for env in ({}, {"PORTPLAN_FIREWALLD": "firewall-cmd"}):
            result = run_binary(self.host, self.args, env)
            self.assertIn("findings", result, result)
            said.append(any(f["code"] == "overexposed" and f"port {port} from" in f["message"]
                            for f in result["findings"]))
        self.assertEqual(said[0], said[1], "D-Bus and firewall-cmd read differently")
        return said[0]

    def test_a_direct_accept_opens_the_port_under_iptables_only(self):
        for backend, opens in (("iptables", True), ("nftables", False)):
            with self.subTest(backend=backend):
                self.set_backend(backend)
                self.host.start_firewalld()
                try:
                    with Listener(self.host, "0.0.0.0:2881"):
                        self.assertFalse(reachable(self.stranger, self.host, 2881))
                        self.assertFalse(self.overexposed())
                        self.host.run("firewall-cmd", "--direct", "--add-rule", *self.ACCEPT)
                        self.assertEqual(reachable(self.stranger, self.host, 2881), opens)
                        self.assertEqual(self.overexposed(), opens)
                        if backend == "iptables":
                            # Configured for nftables, not yet restarted: the
                            # daemon still runs iptables, the port is open, and
                            # the audit still says so (the setting is trusted
                            # only where firewalld's nftables table exists).
                            self.set_backend("nftables")
                            self.assertTrue(reachable(self.stranger, self.host, 2881))
                            self.assertTrue(self.overexposed())
                finally:
                    self.host.stop_firewalld()

    def test_what_iptables_holds_beside_firewalld_is_read(self):
        """Accepts firewalld keeps no record of, read from the live filter
        tables: `iptables -I INPUT` beside firewalld, a passthrough (which
        `--get-all-passthroughs` does not list), a table flushed whole; and
        one it lists into a zone's chain. Under the iptables backend each opens
        its port to a stranger, and the audit says so; an accept appended
        after firewalld's reject opens nothing, and the audit says nothing.
        Under nftables iptables' accept opens nothing and the audit says
        nothing: also with no `nft` program (the backend not known, the
        tables not firewalld's), and with firewalld.conf switched to
        iptables and no restart (what runs decides, not the setting).
        Under either, a port redirect beside firewalld (`iptables -t nat`)
        opens the port it sends to, which firewalld accepts before its
        zones, and the audit says so, as does a DNAT to the host's own
        address, and nft's own redirect there, which iptables-save cannot
        print (every port); a DNAT to another host opens none here."""
        def accept(port):
            return ["-p", "tcp", "--dport", str(port), "-j", "ACCEPT"]
        for backend in ("iptables", "nftables"):
            opens = backend == "iptables"
            with self.subTest(backend=backend):
                self.set_backend(backend)
                self.host.start_firewalld()
                try:
                    with Listener(self.host, "0.0.0.0:2882"), \
                            Listener(self.host, "0.0.0.0:62888"), \
                            Listener(self.host, "0.0.0.0:62881"), \
                            Listener(self.host, "0.0.0.0:2881"):
                        self.assertFalse(self.overexposed(2882))
                        self.assertFalse(self.overexposed(2881))
                        # A DNAT to another host is forwarded: it reaches no
                        # listener here, and names none.
                        with self.nat("-p", "tcp", "--dport", "8082", "-j", "DNAT",
                                      "--to-destination", "198.18.2.12:2882"):
                            self.assertFalse(reachable(self.stranger, self.host, 8082))
                            self.assertFalse(self.overexposed(2882))
                        # To this host's own address: sent here, as a redirect.
                        with self.nat("-p", "tcp", "--dport", "8083", "-j", "DNAT",
                                      "--to-destination", "198.18.2.11:2882"):
                            self.assertTrue(reachable(self.stranger, self.host, 8083))
                            self.assertTrue(self.overexposed(2882))
                        with self.nft_nat("tcp", "dport", "8084", "redirect", "to", ":2881"):
                            self.assertTrue(reachable(self.stranger, self.host, 8084))
                            self.assertTrue(self.overexposed(2881))
                        with self.nat("-p", "tcp", "--dport", "8081", "-j", "REDIRECT",
                                      "--to-ports", "2881"):
                            self.assertTrue(reachable(self.stranger, self.host, 8081))
                            self.assertTrue(self.overexposed(2881))
                        self.assertFalse(self.overexposed(2881))
                        self.host.run("iptables", "-I", "INPUT", *accept(2882))
                        self.assertEqual(reachable(self.stranger, self.host, 2882), opens)
                        self.assertEqual(self.overexposed(2882), opens)
                        if not opens:
                            # No `nft` (Debian's firewalld does not need one):
                            # /dev/null over it, in this host's mount namespace.
                            self.host.run("mount", "--bind", "/dev/null", "/usr/sbin/nft")
                            try:
                                self.assertFalse(self.overexposed(2882))
                            finally:
                                self.host.run("umount", "/usr/sbin/nft")
                            self.set_backend("iptables")
                            self.assertFalse(reachable(self.stranger, self.host, 2882))
                            self.assertFalse(self.overexposed(2882))
                            continue
                        self.assertFalse(self.overexposed(62888))
                        self.host.run("firewall-cmd", "--direct", "--passthrough", "ipv4",
                                      "-A", "INPUT_direct", *accept(62888))
                        self.assertEqual(self.host.run(
                            "firewall-cmd", "--direct", "--get-all-passthroughs").strip(), "")
                        self.assertTrue(reachable(self.stranger, self.host, 62888))
                        self.assertTrue(self.overexposed(62888))
                        self.host.run("firewall-cmd", "--direct", "--add-passthrough", "ipv4",
                                      "-I", "IN_public_allow", *accept(62881))
                        self.assertTrue(reachable(self.stranger, self.host, 62881))
                        self.assertTrue(self.overexposed(62881))
                        self.host.run("iptables", "-A", "INPUT", *accept(2881))
                        self.assertFalse(reachable(self.stranger, self.host, 2881))
                        self.assertFalse(self.overexposed(2881))
                        # Flushed whole: firewalld's `INPUT_direct` is gone too.
                        self.host.run("iptables", "-F")
                        self.host.run("iptables", "-X")
                        self.assertTrue(reachable(self.stranger, self.host, 2881))
                        self.assertTrue(self.overexposed(2881))
                finally:
                    self.host.stop_firewalld()

if __name__ == "__main__":
    unittest.main(verbosity=2)
