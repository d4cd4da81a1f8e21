"""How the action plugin picks the binary for the target's architecture,
under real ansible-playbook.

A play that gathered facts knows the target's `uname -s` and `uname -m`
(facts `system` and `machine`): no portplan task asks the target. A play
without facts asks once per host (`uname -sm`) and remembers the answer in
the host fact `portplan_uname`, so its next portplan task does not ask
again. A remembered answer portplan has no binary for is not trusted: the
target is asked. The controller's PATH holds a `uname` that logs its
arguments before running the real one; the test host is a network namespace
sharing the controller's files, so the target's shell finds it too.

Run as root after scripts/build-collection:
`.venv/bin/python -m unittest tests/ansible/test_arch.py -v`.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from hosts import REPO, Lan, controller_env

PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")

TASK = """    - portplan.ports.portplan:
        plan_file: {plan}
        state: checked
        firewall: none
"""


def playbook(gather, before=""):
    return (f"- hosts: arch\n  gather_facts: {gather}\n  tasks:\n{before}"
            + TASK.format(plan=PLAN) * 2)


class Architecture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-arch-")
        cls.env = controller_env(cls.work)
        fake = os.path.join(cls.work, "fake-bin")
        os.makedirs(fake)
        cls.log = os.path.join(cls.work, "uname.log")
        real = shutil.which("uname")
        with open(os.path.join(fake, "uname"), "w") as f:
            f.write(f'#!/bin/sh\necho "uname $*" >> {cls.log}\nexec {real} "$@"\n')
        os.chmod(os.path.join(fake, "uname"), 0o755)
        cls.env["PATH"] = fake + os.pathsep + cls.env["PATH"]
        cls.lan = Lan("arch")
        # A host of the plan, so the module's run succeeds.
        cls.host = cls.lan.host("obs1", "198.18.2.11")

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def play(self, text):
        """Run a play on the host: each `uname -sm` the target was asked,
        and the last portplan task's result."""
        if os.path.exists(self.log):
            os.remove(self.log)
        shutil.rmtree(self.env["PORTPLAN_RESULTS_DIR"], ignore_errors=True)
        inventory = os.path.join(self.work, "inventory.ini")
        with open(inventory, "w") as f:
            f.write(f"[arch]\n{self.host.name} ansible_connection=local "
                    f"ansible_shell_executable={self.host.shell} "
                    f"ansible_python_interpreter={sys.executable}\n")
        path = os.path.join(self.work, "play.yml")
        with open(path, "w") as f:
            f.write(text)
        done = subprocess.run(["ansible-playbook", "-i", inventory, path], env=self.env,
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        asked = []
        if os.path.exists(self.log):
            with open(self.log) as f:
                # Interpreter discovery runs a bare `uname`; only the plugin asks `-sm`.
                asked = [line.strip() for line in f if line.split()[1:] == ["-sm"]]
        with open(os.path.join(self.env["PORTPLAN_RESULTS_DIR"], self.host.name)) as f:
            result = json.load(f)
        self.assertEqual(result["_outcome"], "ok", result)
        return asked, result

    def test_gathered_facts_ask_nothing(self):
        asked, result = self.play(playbook("true"))
        self.assertEqual(asked, [])
        self.assertNotIn("ansible_facts", result)

    def test_without_facts_the_target_is_asked_once_per_play(self):
        asked, result = self.play(playbook("false"))
        self.assertEqual(asked, ["uname -sm"])
        # The second task found the fact the first one set.
        self.assertNotIn("ansible_facts", result)

    def test_a_remembered_answer_without_a_binary_is_not_trusted(self):
        wrong = "    - ansible.builtin.set_fact:\n        portplan_uname: Linux armv7l\n"
        asked, result = self.play(playbook("false", before=wrong))
        self.assertEqual(asked, ["uname -sm"])
        self.assertEqual(result["ports"][0]["spec"], "observer.sql")


if __name__ == "__main__":
    unittest.main()
