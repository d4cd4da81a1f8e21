"""The part of the playbook tests every scenario shares: an inventory of
test hosts and one ansible-playbook run with each host's last task result."""

import json
import os
import shutil
import subprocess
import unittest

from hosts import PLAYBOOKS


class PlaybookCase(unittest.TestCase):
    """A scenario class sets `work`, `env` (from hosts.controller_env) and
    `targets` (host -> the `portplan_firewall` it runs with)."""

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

