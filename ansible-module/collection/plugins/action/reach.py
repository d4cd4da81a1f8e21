# -*- coding: utf-8 -*-
# Copyright: portplan contributors
# SPDX-License-Identifier: Apache-2.0
"""Action plugin of portplan.ports.reach.

The same as portplan.ports.portplan's: the plan file is read on the
controller and sent as text, the plan's hosts may come from the inventory,
``host`` defaults to ``inventory_hostname``, and the static binary for the
target's architecture runs the step. Only ``step`` is renamed, to the
``reach`` key by which the binary tells this module's calls from the main
module's.
"""

from __future__ import annotations

from ansible_collections.portplan.ports.plugins.action.portplan import (
    ActionModule as PortplanAction,
    _TaskFailed,
)

STEPS = ('serve', 'probe', 'report', 'stop')


class ActionModule(PortplanAction):
    """Run one reachability step with the portplan binary."""

    _supports_check_mode = True

    def _module_args(self, task_vars):
        args, inventory, plan_path = super(ActionModule, self)._module_args(task_vars)
        step = args.pop('step', None)
        if step not in STEPS:
            raise _TaskFailed('step: must be one of %s, not %r' % (', '.join(STEPS), step))
        args['reach'] = step
        return args, inventory, plan_path
