"""ufw's batch (ansible-module/src/module/ufw.rs) against ufw's own
per-rule path, on real ufw 0.36 in test hosts (hosts.py).

The module carries out core's `ufw allow ...`/`ufw delete ...` argvs by
writing ufw's user rules files and loading the user chains with one
`iptables-restore -n` per family. These tests hold it to what running
`ufw` per rule leaves:

- two hosts, one driven by the batch and one with PORTPLAN_UFW=ufw (per
  rule), take the same plan (IPv4 and IPv6 sources, a single port and a
  range) through open, a second run and absent: `ufw show added`, `ufw
  status verbose`, user.rules/user6.rules and the ufw user chains
  (`iptables-save`/`ip6tables-save`) are identical after each, and the batch
  host's logged invocations hold no `ufw allow`/`ufw delete` (the test
  hosts' ufw is a logging wrapper, as in test_safety.py);
- after a batch run, `ufw reload` and a restart of ufw (`ufw-init stop` and
  `start`, what its service and a boot run) keep the rules: an admitted host
  connects, a host the plan does not admit and a port it does not open are
  refused.

The fault matrix and the concurrency test of the batch are in
test_safety.py. Run as root after scripts/build-collection.
"""

import unittest

from hosts import Lan
from test_safety import (Target, custom_plan, files, open_to, ufw_user_chains)

PLAN_HOSTS = ("ub-b", "ub-r")


def batch_plan(hosts):
    """Both test hosts run `app`; none of their addresses is a source, so
    each host's rules are the same."""
    return custom_plan(hosts,
                       [("a", 7001, ["clients"]), ("b", 7002, ["admins"]),
                        ("c", {"first": 7100, "last": 7110}, ["clients", "admins"])],
                       {"clients": ["198.18.2.10/32", "198.18.2.20/32"],
                        "admins": ["198.18.60.0/24", "2001:db8:60::/64"]})


def ufw_view(target):
    """Everything ufw and the kernel hold of ufw's user rules on `target`."""
    host = target.host
    saved = files(host, "/etc/ufw/user.rules", "/etc/ufw/user6.rules")
    return {
        "show added": host.run("ufw", "show", "added"),
        "status verbose": host.run("ufw", "status", "verbose"),
        "files": {path: (info or {}).get("text") for path, info in saved.items()},
        "modes": {path: (info or {}).get("mode") for path, info in saved.items()},
        "chains": ufw_user_chains(host),
    }


class UfwBatch(unittest.TestCase):
    """One ordered scenario: methods run in name order and share the hosts."""

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan("ufwb")
        cls.batch = Target(cls.lan, PLAN_HOSTS[0], "198.18.2.61", "ufw")
        cls.per_rule = Target(cls.lan, PLAN_HOSTS[1], "198.18.2.62", "ufw",
                              env={"PORTPLAN_UFW": "ufw"})
        cls.ocp1 = cls.lan.host("ocp1", "198.18.2.10")
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        cls.plan = batch_plan({PLAN_HOSTS[0]: "198.18.2.61", PLAN_HOSTS[1]: "198.18.2.62"})

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()

    def run_both(self, state):
        """The plan on both hosts; each one's result and logged invocations."""
        out = {}
        for target in (self.batch, self.per_rule):
            counter = target.counter()
            code, result = target.run(self.plan, state, counter=counter)
            self.assertEqual(code, 0, f"{target.name} {state}: {result}")
            self.assertFalse(result["failed"], result["msg"])
            out[target.name] = (result, target.invocations(counter))
        return out

    def assert_same(self, label):
        batch, per_rule = ufw_view(self.batch), ufw_view(self.per_rule)
        for key in batch:
            self.assertEqual(batch[key], per_rule[key], f"{label}: {key} differs")

    def assert_paths(self, runs, label, changes):
        (batch, batch_calls), (per_rule, per_rule_calls) = (runs[n] for n in PLAN_HOSTS)
        self.assertIn("changes written to ufw's rules files and loaded with iptables-restore -n "
                      "(ufw 0.36", batch["firewall"]["reason"], label)
        self.assertNotIn("per rule", batch["firewall"]["reason"], label)
        self.assertIn("changes made by running ufw per rule (PORTPLAN_UFW=ufw)",
                      per_rule["firewall"]["reason"], label)
        self.assertEqual(batch["changed"], changes, label)
        self.assertEqual(per_rule["changed"], changes, label)
        self.assertEqual(batch["actions"], per_rule["actions"], label)
        # The batch runs ufw only to read; every change is a restore.
        ufw_words = [line.split()[2] for line in batch_calls if line.split()[1] == "ufw"]
        self.assertEqual(sorted(set(ufw_words)), ["show", "status"], batch_calls)
        # (A restore's `--version` is the probe of its release, before the batch writes.)
        restores = [line.split()[1] for line in batch_calls
                    if "restore" in line.split()[1] and "--version" not in line.split()]
        self.assertEqual(restores, ["iptables-restore", "ip6tables-restore"] if changes else [],
                         batch_calls)
        if changes:
            self.assertTrue(any(line.split()[2] in ("allow", "delete")
                                for line in per_rule_calls), per_rule_calls)

    def test_10_open_second_run_absent_leave_what_ufw_leaves(self):
        self.assert_same("before")
        for state, changes in (("present", True), ("present", False), ("absent", True),
                               ("absent", False), ("present", True)):
            label = f"{state}, changes {changes}"
            runs = self.run_both(state)
            self.assert_paths(runs, label, changes)
            self.assert_same(label)
        added = self.batch.host.run("ufw", "show", "added")
        self.assertIn("ufw allow from 2001:db8:60::/64 to any port 7100:7110 proto tcp "
                      "comment 'portplan:app.c'", added)

    def assert_reachable(self, label):
        host = self.batch.host
        open_to(self, self.ocp1, host, 7001, True, label)
        open_to(self, self.ocp1, host, 7105, True, label)
        open_to(self, self.stranger, host, 7001, False, label)
        # 7002 admits the admins' networks only.
        open_to(self, self.ocp1, host, 7002, False, label)

    def test_20_reload_and_restart_keep_the_rules(self):
        before = ufw_view(self.batch)
        self.assertIn("portplan:app.a", before["chains"] + before["show added"])
        self.assert_reachable("after the batch")
        self.batch.host.run("ufw", "reload")
        self.assertEqual(ufw_view(self.batch), before, "ufw reload changed the rules")
        self.assert_reachable("after ufw reload")
        for step in ("stop", "start"):
            self.batch.host.run("/lib/ufw/ufw-init", step)
        self.assertEqual(ufw_view(self.batch), before, "a restart of ufw changed the rules")
        self.assert_reachable("after a restart of ufw")


if __name__ == "__main__":
    unittest.main(verbosity=2)
