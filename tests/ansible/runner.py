"""The part of the playbook tests every scenario shares: an inventory of
test hosts and one ansible-playbook run with each host's last task result."""

import json
import os
import shutil
import subprocess
import unittest

from hosts import PLAYBOOKS, Listener, reachable


class PlaybookCase(unittest.TestCase):
    """A scenario class sets `work`, `env` (from hosts.controller_env),
    `targets` (host -> the `portplan_firewall` it runs with), and `ocp1` (a
    host the example plan admits to 2881) and `stranger` (one it does not)."""

    def assert_reachable_from_allowed_host_only(self):
        for host in self.targets:
            with Listener(host, "0.0.0.0:2881"):
                self.assertTrue(reachable(self.ocp1, host, 2881), f"ocp1 -> {host.name}:2881")
                self.assertFalse(reachable(self.stranger, host, 2881),
                                 f"stranger -> {host.name}:2881")
            # A planned port no client of ocp1's kind may reach stays closed to it.
            with Listener(host, "0.0.0.0:2882"):
                self.assertFalse(reachable(self.ocp1, host, 2882), f"ocp1 -> {host.name}:2882")

    def inventory(self, hosts):
        lines = ["[ocp]"]
        for host, backend in hosts.items():
            extra = f" ansible_remote_tmp={host.remote_tmp}" if host.chroot else ""
            lines.append(
                f"{host.name} ansible_connection=local ansible_shell_executable={host.shell} "
                f"portplan_firewall={backend}{extra}")
        path = os.path.join(self.work, "inventory.ini")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def play(self, playbook, *extra, hosts=None, expect_rc=0):
        """Run a playbook; its output and each host's last task result."""
        shutil.rmtree(self.env["PORTPLAN_RESULTS_DIR"], ignore_errors=True)
        inventory = self.inventory(hosts or self.targets)
        done = subprocess.run(
            ["ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, playbook), *extra],
            env=self.env, capture_output=True, text=True)
        output = done.stdout + done.stderr
        self.assertEqual(done.returncode, expect_rc, output)
        results = {}
        for host in hosts or self.targets:
            path = os.path.join(self.env["PORTPLAN_RESULTS_DIR"], host.name)
            with open(path) as f:
                results[host] = json.load(f)
        return output, results

