# -*- coding: utf-8 -*-
# Copyright: portplan contributors
# SPDX-License-Identifier: Apache-2.0
"""Action plugin of portplan.ports.portplan.

Reads ``plan_file`` on the controller, fills ``host`` from
``inventory_hostname``, picks the static binary module for the target's
architecture with ``uname -sm`` (no facts, no Python on the target) and runs
it. Every other option reaches the binary unchanged: the binary validates its
options and names any unknown one.
"""

from __future__ import annotations

import json

import yaml

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

COLLECTION = 'portplan.ports'

# `uname -sm` output -> the binary module built for it.
BINARIES = {
    'Linux x86_64': 'portplan_linux_x86_64',
    'Linux aarch64': 'portplan_linux_aarch64',
    'Linux arm64': 'portplan_linux_aarch64',
}


class ActionModule(ActionBase):
    """Run the portplan binary module built for the target's architecture."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}

        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        try:
            module_args = self._module_args(task_vars)
            binary = self._binary()
            result = merge_hash(result, self._execute_module(
                module_name='%s.%s' % (COLLECTION, binary),
                module_args=module_args,
                task_vars=task_vars,
            ))
        except _TaskFailed as failure:
            result['failed'] = True
            result['msg'] = failure.msg
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        return result

    def _module_args(self, task_vars):
        """The options for the binary: the task's, with plan_file read into plan and host filled in."""
        args = dict(self._task.args)
        plan = args.pop('plan', None)
        plan_file = args.pop('plan_file', None)

        if plan is None and plan_file is None:
            raise _TaskFailed('one of the following is required: plan, plan_file')
        if plan is not None and plan_file is not None:
            raise _TaskFailed('parameters are mutually exclusive: plan|plan_file')

        if plan_file is not None:
            plan = self._read_plan_file(plan_file)
        args['plan'] = plan

        if args.get('host') is None:
            args['host'] = task_vars.get('inventory_hostname')

        return args

    def _read_plan_file(self, plan_file):
        """Find plan_file like copy's src, decrypt it if vaulted, and load it as YAML (JSON is YAML)."""
        name = to_text(plan_file)
        try:
            path = self._find_needle('files', name)
        except AnsibleError as ex:
            raise _TaskFailed('plan_file %s: not found: %s' % (name, to_native(ex))) from None

        real_path = None
        try:
            real_path = self._loader.get_real_file(path, decrypt=True)
            with open(real_path, 'rb') as stream:
                plan = yaml.safe_load(stream)
        except (AnsibleError, OSError, yaml.YAMLError) as ex:
            raise _TaskFailed('plan_file %s: cannot read it: %s' % (path, to_native(ex))) from None
        finally:
            if real_path is not None:
                self._loader.cleanup_tmp_file(real_path)

        if not isinstance(plan, dict):
            raise _TaskFailed('plan_file %s: must hold a mapping (the plan), not %s'
                              % (path, 'nothing' if plan is None else type(plan).__name__))
        try:
            json.dumps(plan)
        except (TypeError, ValueError) as ex:
            raise _TaskFailed('plan_file %s: holds a value JSON cannot represent (quote dates and times): %s'
                              % (path, to_native(ex))) from None
        return plan

    def _binary(self):
        """The binary module for the target, from `uname -sm`."""
        res = self._low_level_execute_command('uname -sm', sudoable=False)
        uname = to_text(res.get('stdout', '')).strip()
        if res.get('rc') != 0:
            raise _TaskFailed('cannot tell the target\'s architecture: `uname -sm` failed (rc=%s): %s'
                              % (res.get('rc'), to_text(res.get('stderr', '')).strip() or uname))
        binary = BINARIES.get(' '.join(uname.split()))
        if binary is None:
            raise _TaskFailed('unsupported target: `uname -sm` says %r; portplan runs on %s'
                              % (uname, ', '.join(sorted(BINARIES))))
        return binary


class _TaskFailed(Exception):
    """Fails the task with msg, before the module runs."""

    def __init__(self, msg):
        super(_TaskFailed, self).__init__(msg)
        self.msg = msg
