"""Test-only callback: writes each host's last portplan task result as JSON.

Used by tests/ansible/test_playbooks.py through ANSIBLE_CALLBACK_PLUGINS; the
file name is the inventory host name, in $PORTPLAN_RESULTS_DIR.
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "portplan_results"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, outcome):
        if "portplan" not in result._task.action:
            return
        directory = os.environ["PORTPLAN_RESULTS_DIR"]
        os.makedirs(directory, exist_ok=True)
        data = dict(result._result, _outcome=outcome)
        with open(os.path.join(directory, result._host.get_name()), "w") as f:
            json.dump(data, f, default=str)

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")
