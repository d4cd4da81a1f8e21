# -*- coding: utf-8 -*-
# Copyright: portplan contributors
# SPDX-License-Identifier: Apache-2.0
"""Action plugin of portplan.ports.portplan.

Reads ``plan_file`` on the controller, builds the plan's hosts from the
inventory when ``hosts_from_inventory`` is on, fills ``host`` from
``inventory_hostname``, picks the static binary module for the target's
architecture and runs it. Every other option reaches the binary unchanged:
the binary validates its options and names any unknown one.

The architecture comes from the gathered facts when the play has them
(``system`` and ``machine``, which are ``uname -s`` and ``uname -m``), else
from what an earlier portplan task on the host learnt (the ``portplan_uname``
fact it sets), else from ``uname -sm`` on the target: one command per host
and play, and targets still need no Python.

The plan is never parsed here. A plan file's text goes to the binary as it
is (``plan`` for JSON, ``plan_yaml`` for YAML), which reads it exactly as
``portplan validate`` reads the file: YAML 1.2, where ``yes`` stays a string
and duplicate keys are an error, and every problem names its path, value and
line. Parsing it in Python would read YAML 1.1 (PyYAML: ``yes`` is true,
``010`` is 8) and cost more per host than the module's whole run on large
plans.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash


COLLECTION = 'portplan.ports'

# `uname -sm` output -> the binary module built for it.
BINARIES = {
    'Linux x86_64': 'portplan_linux_x86_64',
    'Linux aarch64': 'portplan_linux_aarch64',
    'Linux arm64': 'portplan_linux_aarch64',
}

# The host fact that remembers a target's `uname -sm`, set by the first task
# that had to ask, so the next portplan task on the host does not ask again.
UNAME_FACT = 'portplan_uname'

# Options this plugin consumes; the binary never sees them.
PLUGIN_OPTIONS = ('plan_file', 'hosts_from_inventory', 'hosts_group')

# Inventory group names that give their hosts a component: portplan_<component>,
# with `_` standing for `-` since Ansible group names cannot hold `-`.
COMPONENT_GROUP = 'portplan_'

# The inventory variables a plan host is built from, by the plan field they fill.
HOST_VARS = {
    'components': 'portplan_components',
    'overrides': 'portplan_overrides',
    'deploy-user': 'portplan_deploy_user',
}

PROBLEM_PATH = re.compile(r'plan\.hosts\[(\d+)\](?:\.([a-z-]+))?')


class ActionModule(ActionBase):
    """Run the portplan binary module built for the target's architecture."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}

        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        inventory = None
        plan_path = None
        try:
            module_args, inventory, plan_path = self._module_args(task_vars)
            binary, learnt = self._binary(task_vars)
            result = merge_hash(result, self._execute_module(
                module_name='%s.%s' % (COLLECTION, binary),
                module_args=module_args,
                task_vars=task_vars,
            ))
            if learnt is not None:
                result.setdefault('ansible_facts', {})[UNAME_FACT] = learnt
            if result.get('failed'):
                result['msg'] = _explain(to_text(result.get('msg', '')), result.get('problems'),
                                         inventory, plan_path)
        except _TaskFailed as failure:
            result['failed'] = True
            result['msg'] = failure.msg
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        return result

    def _module_args(self, task_vars):
        """The options for the binary, the inventory hosts (or None) and the plan file's path."""
        args = dict(self._task.args)
        plan = args.pop('plan', None)
        plan_file = args.pop('plan_file', None)
        from_inventory = args.pop('hosts_from_inventory', False)
        hosts_group = args.pop('hosts_group', None)

        if plan is None and plan_file is None:
            raise _TaskFailed('one of the following is required: plan, plan_file')
        if plan is not None and plan_file is not None:
            raise _TaskFailed('parameters are mutually exclusive: plan|plan_file')
        try:
            from_inventory = boolean(from_inventory, strict=True)
        except TypeError:
            raise _TaskFailed('hosts_from_inventory: must be a boolean (true/false), not %r'
                              % (from_inventory,)) from None
        if hosts_group is not None and not from_inventory:
            raise _TaskFailed('hosts_group (%s) needs hosts_from_inventory: true' % to_text(hosts_group))

        plan_path = None
        if plan_file is not None:
            plan_path, text, yaml_text = self._read_plan_file(plan_file)
            args['plan_yaml' if yaml_text else 'plan'] = text
        else:
            args['plan'] = plan

        inventory = None
        if from_inventory:
            if args.get('plan_hosts') is not None:
                raise _TaskFailed('plan_hosts and hosts_from_inventory are mutually exclusive: '
                                  'the inventory gives the hosts')
            inventory = inventory_hosts(task_vars, hosts_group)
            args['plan_hosts'] = [host for name, host in inventory]
            if args.get('host') is None:
                me = task_vars.get('inventory_hostname')
                if me not in (name for name, host in inventory):
                    raise _TaskFailed(
                        'host %s is not among the plan hosts built from the inventory (%s): it has no '
                        'component (no %s<component> group, no portplan_components var)%s'
                        % (me, _names([name for name, host in inventory]), COMPONENT_GROUP,
                           '' if hosts_group is None else ' or is not in group %s' % hosts_group))

        if args.get('host') is None:
            args['host'] = task_vars.get('inventory_hostname')

        return args, inventory, plan_path

    def _read_plan_file(self, plan_file):
        """Find plan_file like copy's src and decrypt it if vaulted: its path, text and whether it is YAML."""
        name = to_text(plan_file)
        try:
            path = self._find_needle('files', name)
        except AnsibleError as ex:
            raise _TaskFailed('plan_file %s: not found: %s' % (name, to_native(ex))) from None

        real_path = None
        try:
            real_path = self._loader.get_real_file(path, decrypt=True)
            with open(real_path, 'rb') as stream:
                data = stream.read()
        except (AnsibleError, OSError) as ex:
            raise _TaskFailed('plan_file %s: cannot read it: %s' % (path, to_native(ex))) from None
        finally:
            if real_path is not None:
                self._loader.cleanup_tmp_file(real_path)
        try:
            text = data.decode('utf-8')
        except UnicodeDecodeError as ex:
            raise _TaskFailed('plan_file %s: is not UTF-8 text: %s' % (path, to_native(ex))) from None
        return path, text, is_yaml(path, text)

    def _binary(self, task_vars):
        """The binary module for the target, and the `uname -sm` to remember
        as the host's UNAME_FACT (None when it was known already).

        Known from the gathered facts, or from UNAME_FACT an earlier task set,
        except when the task is delegated: the facts in task_vars are then the
        inventory host's, not the target's. Facts naming a target portplan has
        no binary for are not trusted over the target itself: `uname -sm` is
        asked, and its answer is the error."""
        if self._task.delegate_to is None:
            for known in _known_unames(task_vars):
                if known in BINARIES:
                    return BINARIES[known], None
        res = self._low_level_execute_command('uname -sm', sudoable=False)
        uname = to_text(res.get('stdout', '')).strip()
        if res.get('rc') != 0:
            raise _TaskFailed('cannot tell the target\'s architecture: `uname -sm` failed (rc=%s): %s'
                              % (res.get('rc'), to_text(res.get('stderr', '')).strip() or uname))
        uname = ' '.join(uname.split())
        binary = BINARIES.get(uname)
        if binary is None:
            raise _TaskFailed('unsupported target: `uname -sm` says %r; portplan runs on %s'
                              % (uname, ', '.join(sorted(BINARIES))))
        return binary, (None if self._task.delegate_to is not None else uname)


def is_yaml(path, text):
    """Whether a plan file is YAML, by the rule `portplan validate` follows:
    by its extension, else JSON when it starts with `{` or `[`."""
    extension = os.path.splitext(path)[1].lower()
    if extension in ('.yaml', '.yml'):
        return True
    if extension == '.json':
        return False
    return text.lstrip()[:1] not in ('', '{', '[')


def inventory_hosts(task_vars, hosts_group=None):
    """The plan's hosts from the inventory, as (inventory name, plan host) pairs in inventory order.

    Candidates are the hosts of group ``all`` (or of ``hosts_group``): the whole
    inventory, never only the play's hosts, so that ``--limit`` or a failed
    host cannot shrink the plan and with it the sources of every firewall rule.
    A candidate is a plan host when it has a component, from a
    ``portplan_<component>`` group or its ``portplan_components`` var.
    Every host of the play builds the same list from the same inventory.
    """
    groups = task_vars.get('groups') or {}
    hostvars = task_vars.get('hostvars') or {}
    if hosts_group is None:
        candidates = groups.get('all') or []
    else:
        if not isinstance(hosts_group, str) or hosts_group not in groups:
            raise _TaskFailed('hosts_group: no inventory group %r; groups: %s'
                              % (hosts_group, ', '.join(sorted(groups))))
        candidates = groups[hosts_group]

    from_groups = {}
    for group in sorted(groups):
        if group.startswith(COMPONENT_GROUP) and len(group) > len(COMPONENT_GROUP):
            component = group[len(COMPONENT_GROUP):].replace('_', '-')
            for name in groups[group]:
                from_groups.setdefault(name, []).append((component, group))

    hosts = []
    for name in candidates:
        variables = hostvars.get(name) or {}
        components = []
        listed = variables.get('portplan_components')
        if listed is not None:
            if isinstance(listed, str) or not isinstance(listed, Sequence) \
                    or not all(isinstance(c, str) and c.strip() for c in listed):
                raise _TaskFailed('host %s: portplan_components must be a list of component names, '
                                  'e.g. [observer, ocp-agent]; it is %s' % (name, _shown(listed)))
            components.extend(to_text(c) for c in listed)
        for component, group in from_groups.get(name, ()):
            if component not in components:
                components.append(component)
        if not components:
            continue  # a host without a component is no part of the plan (a bastion, the controller)

        host = {'name': to_text(name), 'address': _address(name, variables), 'components': components}
        overrides = variables.get('portplan_overrides')
        if overrides is not None:
            if isinstance(overrides, str) or not isinstance(overrides, Sequence) \
                    or not all(isinstance(o, Mapping) for o in overrides):
                raise _TaskFailed('host %s: portplan_overrides must be a list of mappings with spec and ports, '
                                  'e.g. [{spec: ocp-server.http, ports: 8081}]; it is %s'
                                  % (name, _shown(overrides)))
            host['overrides'] = [_plain(o) for o in overrides]
        deploy_user = variables.get('portplan_deploy_user')
        if deploy_user is not None:
            if not isinstance(deploy_user, str):
                raise _TaskFailed('host %s: portplan_deploy_user must be root or non-root; it is %s'
                                  % (name, _shown(deploy_user)))
            host['deploy-user'] = to_text(deploy_user)
        hosts.append((to_text(name), host))
    return hosts


def _address(name, variables):
    """The host's address: portplan_address, else ansible_host, else the
    inventory name when it is an IP address. Never resolved through DNS: the
    firewall rules admit addresses, and every host must see the same ones."""
    for var in ('portplan_address', 'ansible_host'):
        value = variables.get(var)
        if value is None:
            continue
        try:
            return to_text(ipaddress.ip_address(to_text(value).strip()))
        except ValueError:
            hint = ('' if var == 'portplan_address'
                    else '; set portplan_address to the IP address its firewall rules should admit')
            raise _TaskFailed('host %s: %s is not an IPv4 or IPv6 address (value: %s)%s'
                              % (name, var, _shown(value), hint)) from None
    try:
        return to_text(ipaddress.ip_address(to_text(name)))
    except ValueError:
        raise _TaskFailed('host %s: no address: set ansible_host (or portplan_address) to the IP address '
                          'its firewall rules should admit' % name) from None


def _plain(value):
    """Inventory data as plain JSON types (Ansible may hand lazy or tagged containers)."""
    if isinstance(value, Mapping):
        return dict((to_text(k), _plain(v)) for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return to_text(value)
    return value


def _names(names):
    """Host names as an error lists them: at most ten, then how many more."""
    if not names:
        return 'none'
    more = ' and %d more' % (len(names) - 10) if len(names) > 10 else ''
    return ', '.join(names[:10]) + more


def _shown(value):
    """A value as an error quotes it: its repr, at most 200 characters."""
    text = repr(_plain(value))
    return text if len(text) <= 200 else text[:200] + '...'


def _explain(msg, problems, inventory, plan_path):
    """The module's failure message, saying which inventory host and var a
    plan.hosts[N] problem came from, and which file the plan was read from."""
    notes = []
    if inventory:
        seen = set()
        for problem in problems or ():
            match = PROBLEM_PATH.match(to_text((problem or {}).get('path', '')))
            if not match or int(match.group(1)) >= len(inventory):
                continue
            name = inventory[int(match.group(1))][0]
            field = match.group(2)
            var = {
                'address': 'portplan_address or ansible_host',
                'components': 'portplan_components or its portplan_<component> groups',
                'name': 'inventory_hostname',
            }.get(field, HOST_VARS.get(field, 'its portplan_* vars'))
            note = 'plan.hosts[%s] is inventory host %s (from %s)' % (match.group(1), name, var)
            if note not in seen:
                seen.add(note)
                notes.append(note)
    if plan_path is not None and any(to_text((p or {}).get('path', '')).startswith('plan')
                                     for p in problems or ()):
        notes.append('the plan is plan_file %s' % plan_path)
    return msg if not notes else '%s (%s)' % (msg, '; '.join(notes))


def _known_unames(task_vars):
    """What the host's variables already say `uname -sm` prints, most direct
    first: the gathered platform facts (`system` is `uname -s`; `machine` is
    `uname -m`, and `architecture` the same on Linux), as `ansible_facts` or
    as the injected `ansible_*` variables, then UNAME_FACT."""
    facts = task_vars.get('ansible_facts') or {}
    if not isinstance(facts, Mapping):
        facts = {}

    def fact(name):
        value = facts.get(name)
        if value is None:
            value = task_vars.get('ansible_' + name)
        return to_text(value).strip() if isinstance(value, str) else None

    system = fact('system')
    for machine in (fact('machine'), fact('architecture')):
        if system and machine:
            yield '%s %s' % (system, machine)
    known = facts.get(UNAME_FACT, task_vars.get(UNAME_FACT))
    if isinstance(known, str):
        yield ' '.join(known.split())


class _TaskFailed(Exception):
    """Fails the task with msg, before the module runs."""

    def __init__(self, msg):
        super(_TaskFailed, self).__init__(msg)
        self.msg = msg
