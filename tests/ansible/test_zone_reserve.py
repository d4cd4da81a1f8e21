"""The `zone` and `reserve_ports` options under real ansible-playbook.

obs1 runs firewalld with its own `dbus-daemon --system` in a test host whose
/etc, /run and /var are private overlays (hosts.py). Its interface is served
by the default zone, public; the operator bound the zone `internal` to the
source 198.18.2.0/24, so ocp1's traffic is filtered by `internal` and a
stranger's by `public`. With `zone: internal` portplan's rules must land in
`internal` (and only there) and admit ocp1, which is measured by connecting
from ocp1's namespace.

For `reserve_ports`, obs1's namespace has an ip_local_port_range that holds
the observer's fixed ports (2881...) and a reservation someone else made
(9999). /proc/sys/net/ipv4/ip_local_reserved_ports is per network namespace,
so the module's writes stay in obs1's; the drop-in lands in obs1's /etc
overlay (its upper directory), never in the machine's /etc.

Run as root after scripts/build-collection.
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from hosts import PORTPLAN, REPO, Lan, Listener, controller_env, reachable
from runner import PlaybookCase

TAG = "portplan:observer.sql"
DROPIN = "/etc/sysctl.d/99-portplan.conf"
SYSCTL = "/proc/sys/net/ipv4/ip_local_reserved_ports"
PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")
PLAYBOOK = """\
- name: portplan with zone and reserve_ports
  hosts: ocp
  gather_facts: false
  tasks:
    - name: Open the planned ports
      portplan.ports.portplan:
        plan_file: "{{ portplan_plan_file }}"
        state: "{{ portplan_state | default('present') }}"
        firewall: "{{ portplan_firewall | default('auto') }}"
        zone: "{{ portplan_zone | default(omit) }}"
        reserve_ports: "{{ portplan_reserve | default(false) }}"
        backup: "{{ portplan_backup | default(false) }}"
"""


def ports(text):
    """The kernel's list syntax (`2881-2883,9999`) as a set of ports."""
    out = set()
    for part in filter(None, text.strip().split(",")):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def firewall_state(host):
    """Every zone and ipset of firewalld's runtime and permanent configuration."""
    return "".join(host.run("firewall-cmd", *side, what)
                   for side in ([], ["--permanent"])
                   for what in ("--list-all-zones", "--get-ipsets"))


class ZoneAndReservePorts(PlaybookCase):
    """One ordered scenario: methods run in name order and share the hosts."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-zone-")
        cls.env = controller_env(cls.work)
        cls.playbook = os.path.join(cls.work, "zone-reserve.yml")
        with open(cls.playbook, "w") as f:
            f.write(PLAYBOOK)
        with open(SYSCTL) as f:
            cls.machine_sysctl = f.read()
        cls.machine_dropin = os.path.exists(DROPIN)
        cls.lan = Lan("zr")
        cls.obs1 = cls.lan.host("obs1", "198.18.2.11", daemons=True)
        cls.ocp1 = cls.lan.host("ocp1", "198.18.2.10")
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        cls.obs1.start_firewalld()
        for side in ([], ["--permanent"]):
            cls.obs1.run("firewall-cmd", *side, "--zone=internal", "--add-source=198.18.2.0/24")
        # In obs1's namespace only: the ephemeral range covers the observer's
        # fixed ports, and someone else reserved 9999.
        cls.obs1.run("sh", "-c", "echo '2000 60999' > /proc/sys/net/ipv4/ip_local_port_range"
                     f" && echo 9999 > {SYSCTL}")
        cls.targets = {cls.obs1: "auto"}
        cls.original = firewall_state(cls.obs1)

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def run_play(self, *extra, expect_rc=0):
        _, results = self.play(self.playbook, "-e", f"portplan_plan_file={PLAN}", *extra,
                               expect_rc=expect_rc)
        return results[self.obs1]

    def reserved(self):
        return self.obs1.run("cat", SYSCTL).strip()

    def dropin(self):
        """The drop-in as obs1 sees it, or None."""
        return self.obs1.run("sh", "-c", f"cat {DROPIN} 2>/dev/null || true") or None

    def assert_machine_untouched(self):
        with open(SYSCTL) as f:
            self.assertEqual(f.read(), self.machine_sysctl)
        self.assertEqual(os.path.exists(DROPIN), self.machine_dropin)
        if self.machine_dropin:
            with open(DROPIN) as f:
                self.assertNotIn("portplan", f.read())

    def test_05_before_any_run_internal_admits_nobody_to_2881(self):
        # The scenario can fail: only portplan's rule in `internal` opens it.
        with Listener(self.obs1, "0.0.0.0:2881"):
            self.assertFalse(reachable(self.ocp1, self.obs1, 2881))

    def test_10_an_unknown_zone_fails_naming_it_and_the_zones(self):
        result = self.run_play("-e", "portplan_zone=intrenal", "-e", "portplan_reserve=true",
                               expect_rc=2)
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertIn("zone: intrenal is not a firewalld zone", result["msg"])
        self.assertIn("internal, public", result["msg"])
        self.assertEqual(firewall_state(self.obs1), self.original)
        self.assertEqual((self.reserved(), self.dropin()), ("9999", None))

    def test_12_the_cli_takes_zone_and_refuses_a_bad_one(self):
        def cli(*argv):
            done = subprocess.run([*self.obs1.enter(), PORTPLAN, "open", PLAN, "--host", "obs1",
                                   "--format", "json", *argv], capture_output=True, text=True)
            return done.returncode, done.stdout, done.stderr
        code, _, err = cli("--zone", "my zone")
        self.assertEqual(code, 2, err)
        self.assertIn("--zone my zone: must be a firewalld zone name", err)
        code, out, _ = cli("--zone", "intrenal", "--dry-run")
        self.assertEqual(code, 1, out)
        self.assertIn("zone: intrenal is not a firewalld zone", json.loads(out)["msg"])
        code, out, _ = cli("--zone", "internal", "--dry-run")
        self.assertEqual(code, 0, out)
        result = json.loads(out)
        self.assertIn("zone internal was chosen by the zone option", result["firewall"]["reason"])
        self.assertTrue([a for a in result["actions"] if "--zone=internal" in a["argv"]], result)
        self.assertEqual(firewall_state(self.obs1), self.original)

    def test_15_zone_with_another_backend_fails_naming_option_and_backend(self):
        result = self.run_play("-e", "portplan_zone=internal", "-e", "portplan_firewall=nftables",
                               expect_rc=2)
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertIn("zone: internal is a firewalld option", result["msg"])
        self.assertIn("the firewall backend is nftables", result["msg"])
        self.assertEqual(firewall_state(self.obs1), self.original)

    def test_17_a_refused_firewall_change_leaves_the_reservation_as_it_was(self):
        # Without `zone: internal` the change is refused (ocp1's traffic is
        # internal's, not the interface zone's). The reservation is decided
        # after the firewall's change, so it is not written either: the
        # task fails having changed nothing.
        result = self.run_play("-e", "portplan_reserve=true", expect_rc=2)
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertFalse(result["changed"], result)
        self.assertIn("firewalld zone internal is bound to source 198.18.2.0/24", result["msg"])
        self.assertEqual(firewall_state(self.obs1), self.original)
        self.assertEqual((self.reserved(), self.dropin()), ("9999", None))
        self.assert_machine_untouched()

    def test_20_check_mode_changes_nothing_and_diff_shows_both(self):
        output, results = self.play(
            self.playbook, "-e", f"portplan_plan_file={PLAN}", "-e", "portplan_zone=internal",
            "-e", "portplan_reserve=true", "-e", "portplan_backup=true", "--check", "--diff")
        result = results[self.obs1]
        self.assertTrue(result["changed"], result)
        self.assertTrue(result["reserved_ports"]["changed"], result)
        self.assertIn("would be", result["msg"])
        self.assertIn(f"+++ after: {DROPIN}", output)
        after = [line for line in output.splitlines()
                 if line.startswith("+net.ipv4.ip_local_reserved_ports = ")]
        self.assertEqual(len(after), 2, output)  # the running value, the drop-in
        self.assertTrue({2881, 9999} <= ports(after[0].split(" = ")[1]), after)
        self.assertEqual(firewall_state(self.obs1), self.original)
        self.assertEqual((self.reserved(), self.dropin()), ("9999", None))
        self.assert_machine_untouched()

    def test_30_first_run_puts_rules_in_the_chosen_zone_and_reserves_for_good(self):
        result = self.run_play("-e", "portplan_zone=internal", "-e", "portplan_reserve=true",
                               "-e", "portplan_backup=true")
        self.assertTrue(result["changed"], result)
        self.assertIn("zone internal was chosen by the zone option", result["firewall"]["reason"])
        for side in ([], ["--permanent"]):
            internal = self.obs1.run("firewall-cmd", *side, "--zone=internal", "--list-rich-rules")
            self.assertIn(f'source address="198.18.2.10" port port="2881" protocol="tcp" '
                          f'log prefix="{TAG}"', internal)
            public = self.obs1.run("firewall-cmd", *side, "--zone=public", "--list-rich-rules")
            self.assertNotIn("portplan:", public)
        with Listener(self.obs1, "0.0.0.0:2881"):
            self.assertTrue(reachable(self.ocp1, self.obs1, 2881), "ocp1 -> obs1:2881")
            self.assertFalse(reachable(self.stranger, self.obs1, 2881), "stranger -> obs1:2881")
        # The running value and the drop-in: the planned ports merged with 9999.
        running = self.reserved()
        self.assertTrue({2881, 2882, 9999} <= ports(running), running)
        self.assertEqual(result["reserved_ports"],
                         {"file": DROPIN, "runtime": running, "changed": True})
        upper = os.path.join(self.obs1.upper, "sysctl.d", "99-portplan.conf")
        with open(upper) as f:
            self.assertIn(f"net.ipv4.ip_local_reserved_ports = {running}\n", f.read())
        self.assertEqual(oct(os.stat(upper).st_mode & 0o777), "0o644")
        self.assertNotIn("backup_file", result)  # nothing was replaced
        self.assert_machine_untouched()

    def test_40_second_run_changes_nothing(self):
        before = (self.reserved(), self.dropin(), firewall_state(self.obs1))
        result = self.run_play("-e", "portplan_zone=internal", "-e", "portplan_reserve=true",
                               "-e", "portplan_backup=true")
        self.assertFalse(result["changed"], result)
        self.assertFalse(result["reserved_ports"]["changed"], result)
        self.assertEqual(result["actions"], [])
        self.assertEqual((self.reserved(), self.dropin(), firewall_state(self.obs1)), before)
        self.assertEqual(glob.glob(os.path.join(self.obs1.upper, "sysctl.d", "*~")), [])

    def test_50_a_new_reservation_replaces_the_drop_in_keeping_a_backup(self):
        # Someone reserves 7777 at runtime: the drop-in must keep it too.
        old = self.dropin()
        self.obs1.run("sh", "-c", f"echo {self.reserved()},7777 > {SYSCTL}")
        result = self.run_play("-e", "portplan_zone=internal", "-e", "portplan_reserve=true",
                               "-e", "portplan_backup=true")
        self.assertTrue(result["changed"], result)
        self.assertIn("7777", self.dropin())
        backup = result["backup_file"]
        self.assertTrue(backup.startswith(DROPIN + "."), backup)
        with open(os.path.join(self.obs1.upper, os.path.relpath(backup, "/etc"))) as f:
            self.assertEqual(f.read(), old)
        self.assert_machine_untouched()

    def test_60_absent_removes_rules_from_the_zone_and_only_the_drop_in(self):
        running = self.reserved()
        result = self.run_play("-e", "portplan_state=absent", "-e", "portplan_reserve=true")
        self.assertTrue(result["changed"], result)
        self.assertIsNone(self.dropin())
        # The running reservation stays (documented: it cannot be told apart).
        self.assertEqual(self.reserved(), running)
        self.assertEqual(firewall_state(self.obs1), self.original)
        result = self.run_play("-e", "portplan_state=absent", "-e", "portplan_reserve=true")
        self.assertFalse(result["changed"], result)

    def test_70_a_foreign_file_at_the_drop_ins_path_is_refused_and_kept(self):
        foreign = "net.ipv4.ip_local_reserved_ports = 4444\n"
        self.obs1.run("sh", "-c", f"printf '{foreign}' > {DROPIN}")
        running = self.reserved()
        result = self.run_play("-e", "portplan_zone=internal", "-e", "portplan_reserve=true",
                               expect_rc=2)
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertIn(f"{DROPIN} exists and was not written by portplan", result["msg"])
        self.assertEqual((self.dropin(), self.reserved()), (foreign, running))
        self.assertEqual(firewall_state(self.obs1), self.original)
        self.obs1.run("rm", DROPIN)
        self.assert_machine_untouched()


if __name__ == "__main__":
    unittest.main(verbosity=2)
