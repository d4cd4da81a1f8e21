# -*- coding: utf-8 -*-
# Copyright: portplan contributors
# SPDX-License-Identifier: Apache-2.0
#
# Documentation only. The portplan.ports.reach action plugin runs the same
# static binary module as portplan.ports.portplan.

DOCUMENTATION = r"""
---
module: reach
short_description: Measure who can reach whom among the hosts of a portplan deployment plan
version_added: 0.1.0
description:
  - Proves the plan's access matrix with real connections, instead of assuming that firewall rules on the hosts are
    enough. A network firewall, a cloud security group or ACL, a firewalld source zone, an earlier deny or a REJECT
    between the hosts cuts a planned connection; a broad rule opens a port to hosts the plan never named.
  - O(step=serve) starts a responder on each of this host's planned ports that is free (a token naming plan, host and
    port) and returns once it is ready; the responder exits by itself after O(seconds). It binds only planned ports on
    the host's plan address and never touches the firewall. Ports another process holds are reported as held.
  - O(step=probe) tries, from this host (or, with O(network) or O(outsider), from a machine standing for a client
    network or for a stranger), every port the plan admits it to (expected allow) and, for one plan host per port,
    a port it must not reach (expected deny), concurrently, and returns how each attempt ended.
  - O(step=report) takes every host's serve and probe results and returns the truth table, expected against actual.
    The task fails when anything differs, with the table as its message.
  - O(step=stop) stops the responder O(step=serve) started (its O(pid)) before O(seconds) run out, so the ports are
    free when the task returns. It signals only a process that is a portplan responder.
  - The module never changes the host; it reports C(changed=false).
author:
  - portplan developers
options:
  step:
    description:
      - Which step to run.
    type: str
    required: true
    choices: [serve, probe, report, stop]
  plan:
    description:
      - The deployment plan inline, as for M(portplan.ports.portplan).
      - Exactly one of O(plan) and O(plan_file) is required.
    type: dict
  plan_file:
    description:
      - Path of a file holding the plan (JSON or YAML), read on the controller, as for M(portplan.ports.portplan).
    type: path
  hosts_from_inventory:
    description:
      - Build the plan's hosts from the inventory, as for M(portplan.ports.portplan).
    type: bool
    default: false
  hosts_group:
    description:
      - With O(hosts_from_inventory=true), the inventory group whose hosts are candidates.
    type: str
  host:
    description:
      - The plan host this target is. Defaults to C(inventory_hostname).
      - Ignored with O(network), O(outsider) and O(step=report).
    type: str
  seconds:
    description:
      - With O(step=serve), how long the responder answers before it exits.
    type: int
    default: 120
  timeout_ms:
    description:
      - With O(step=probe), how long one attempt may take, in milliseconds.
    type: int
    default: 1000
  phase:
    description:
      - With O(step=probe), V(preinstall) (responders answer, their token is checked) or V(postinstall) (the
        installed services answer; no responders needed).
    type: str
    choices: [preinstall, postinstall]
    default: preinstall
  network:
    description:
      - With O(step=probe), probe as a machine of this client network of the plan, for example the controller
        standing for V(application).
    type: str
  outsider:
    description:
      - With O(step=probe), probe as a stranger that no rule admits.
    type: bool
    default: false
  pid:
    description:
      - With O(step=stop), the responder's process id, as O(step=serve) returned it.
    type: int
  results:
    description:
      - With O(step=report), the registered results of the serve and probe tasks (or the records as
        C(portplan reach) prints them). A skipped or failed task's result is left out; its rows are unknown.
    type: list
    elements: dict
notes:
  - Probes bind to the host's plan address, so the destination sees the address the plan and its rules name.
  - Pools are probed at a sample (first, last and three ports inside), which the probe plan states.
  - The same steps run without Ansible as C(portplan reach serve|probe|report).
seealso:
  - module: portplan.ports.portplan
"""

EXAMPLES = r"""
# In short; examples/playbooks/reach.yml in the portplan repository also stops
# the responders (step: stop) in an always block and keeps the report's
# failure for the end of the play.
- name: Measure the plan's access matrix before install
  hosts: ocp
  become: true
  gather_facts: false
  tasks:
    - name: Answer on every planned port for two minutes
      portplan.ports.reach:
        step: serve
        plan_file: ocp-cluster.json
        seconds: 120

    - name: Try every port this host must and must not reach
      portplan.ports.reach:
        step: probe
        plan_file: ocp-cluster.json
      register: probed

    - name: Try the application network's ports from the controller
      portplan.ports.reach:
        step: probe
        plan_file: ocp-cluster.json
        network: application
      delegate_to: localhost
      run_once: true
      register: from_clients

    - name: Expected against actual; fails with the table when they differ
      portplan.ports.reach:
        step: report
        plan_file: ocp-cluster.json
        results: "{{ ansible_play_hosts_all | map('extract', hostvars, 'probed') | list + [from_clients] }}"
      delegate_to: localhost
      run_once: true
"""

RETURN = r"""
msg:
  description: What was done; for O(step=report) the truth table as text (a matrix, then every row that differs).
  returned: always
  type: str
serving:
  description: With O(step=serve), the ports the responder answers on and those held by another process.
  returned: when O(step=serve)
  type: dict
  contains:
    plan:
      description: The plan's name.
      type: str
    host:
      description: The plan host.
      type: str
    listening:
      description: The ports bound, each with C(spec), C(port) and C(transport).
      type: list
      elements: dict
    held:
      description: The planned ports another process holds, not bound.
      type: list
      elements: dict
pid:
  description: With O(step=serve), the responder's process id.
  returned: when O(step=serve)
  type: int
probed:
  description: With O(step=probe), every attempt.
  returned: when O(step=probe)
  type: dict
  contains:
    source:
      description: Who probed, as a mapping with key C(host) or C(network) and the name, or the string V(outsider).
      type: raw
    phase:
      description: V(preinstall) or V(postinstall).
      type: str
    results:
      description:
        - One per target, with C(destination), C(spec), C(port), C(transport), C(outcome), C(detail) and
          C(elapsed_ms).
        - C(outcome) is V(connected), V(wrong-responder) (another service or host answered), V(timeout) (dropped on the
          path or by the destination's firewall), V(refused) (nothing answering, or a REJECT), V(unreachable) (ICMP host
          or network unreachable or prohibited) or V(error) (the source could not try).
      type: list
      elements: dict
truth_table:
  description: With O(step=report), expected against actual for every (source, destination, port).
  returned: when O(step=report)
  type: dict
  contains:
    summary:
      description: Counts of rows, as expected, mismatches and unknown.
      type: dict
    rows:
      description: Every row with C(source), C(destination), C(spec), C(port), C(transport), C(expect), C(outcome),
        C(verdict) (V(as-expected), V(mismatch), V(unknown)) and C(detail).
      type: list
      elements: dict
    findings:
      description: One C(unreachable) or C(overexposed) finding per mismatch, with its meaning and a fix.
      type: list
      elements: dict
"""
