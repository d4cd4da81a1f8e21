# -*- coding: utf-8 -*-
# Copyright: portplan contributors
# SPDX-License-Identifier: Apache-2.0
#
# Documentation only. The portplan.ports.portplan action plugin runs the
# static binary module built for the target's architecture
# (portplan_linux_x86_64 or portplan_linux_aarch64 in this directory).

DOCUMENTATION = r"""
---
module: portplan
short_description: Check and open the ports of a portplan deployment plan on a Linux host
version_added: 0.1.0
description:
  - Checks this host's part of a portplan deployment plan against what the host really has, and makes the host's
    firewall admit each planned port from exactly the hosts and client networks that
    need it, and from nobody else.
  - Before install (O(phase=preinstall)) every planned port must be free and legal for the deploying user; after
    install (O(phase=postinstall)) every planned fixed port must be listening at the host's address.
  - The checks are portplan's rules, the same as C(portplan validate) gives for the whole plan, run with what was
    observed on this host. That is the listening TCP and bound UDP sockets with their owning processes (read from
    C(/proc)), the C(net.ipv4.ip_local_port_range), C(ip_local_reserved_ports) and C(ip_unprivileged_port_start)
    sysctls, the effective uid, and the active firewall's rules.
  - Each finding has a severity (C(error), C(warning) or C(info)), a message and a one-line fix. The task fails when a
    finding is at least as severe as O(fail_on); the findings are in the result either way.
  - The module is a static binary; the target needs no Python. The action plugin runs uname on the target to choose
    the binary for its architecture, copies it to the target with the options, and runs it.
  - Every firewall rule portplan adds carries the comment C(portplan:<spec-id>). portplan changes and removes only
    rules with such a comment and leaves every other rule alone. Before adding a rule it refuses, naming it, any rule
    it did not write on the same source, port and protocol, whatever that rule does (an accept, a drop, ufw's deny or
    limit), since ufw would otherwise turn a foreign deny into portplan's allow. It deletes only the nft sets and firewalld
    ipsets it created.
  - A portplan rule counts as in place only when it is exactly what portplan writes (accept, its own source and
    ports, no negation or other match, before the catch-all drop); a hand-edited one is replaced.
  - portplan writes only accepts, so a rule carrying its comment that drops, rejects, jumps to another chain (ufw
    deny, reject or limit) is someone's deny and never portplan's. It is never removed, and a run that would add
    portplan's allow on its source, port and protocol fails naming it, so no run turns a deny into an allow.
  - One owner per netfilter table. portplan never writes native nftables rules into iptables-nft's tables (a boot's
    C(iptables-nft-save | iptables-nft-restore) would drop their sources and open the port to everyone); with
    O(firewall=auto) it drives the tool that owns the chain that drops, and an explicit O(firewall=nftables) on such
    a host fails with the reason.
  - One run at a time per host (see O(lock_timeout)). A run that fails after its first change, reading the result
    back included, undoes exactly what it did. On iptables and ufw each applied command's inverse, in reverse (a
    deleted rule goes back at its old place); on nftables (one transaction) and firewalld core's restore plan, which
    puts portplan's rules back and touches no other rule. Rules others added meanwhile stay. It reports
    C(changed=false) when the rollback succeeded.
author:
  - portplan developers
options:
  plan:
    description:
      - The deployment plan inline, as a mapping. It is the same JSON document that C(portplan validate) reads (see
        C(examples/plans/) in the portplan repository), with its keys in kebab-case, for example C(deploy-user).
      - Its keys are C(name) and C(profiles) (required), C(deploy-user) (V(root) or V(non-root)), C(hosts) (required;
        each with C(name), C(address), C(components) and optionally C(deploy-user) and C(overrides)), C(networks)
        (client networks with C(name), C(cidrs) and C(description)), C(overrides) (C(spec) and C(ports)), C(enable)
        (optional spec ids to turn on), C(custom-profiles) and C(observations).
      - The plan is parsed strictly. Unknown keys and bad values make the task fail with a message naming the JSON path
        and the value, for example C(hosts[1].address).
      - The plan's JSON text as a string is accepted too.
      - Exactly one of O(plan) and O(plan_file) is required.
      - With O(hosts_from_inventory=true) the plan must have no C(hosts); the inventory gives them.
    type: dict
  plan_file:
    description:
      - Path of a file holding the plan, as JSON or YAML, the same file C(portplan validate) reads.
      - Read on the controller by the action plugin, never on the target. A relative path is searched for the way
        M(ansible.builtin.copy) searches for its O(ansible.builtin.copy#module:src), in the C(files/) directory of the
        role and of the playbook, and next to them. A vault-encrypted file is decrypted.
      - The action plugin does not parse the file. Its text goes to the module, which reads it exactly as
        C(portplan validate) reads the file, so the task and the command line can never disagree on a plan.
        A C(.yaml) or C(.yml) file is YAML 1.2, a C(.json) file JSON, and any other file JSON when it starts with
        C({) or C([), else YAML. In YAML 1.2 an unquoted C(yes) is the string V(yes) and C(010) is ten, unlike
        YAML 1.1 (PyYAML). Duplicate keys, merge keys and custom tags are refused, and each problem names its path,
        its value and its line.
      - Exactly one of O(plan) and O(plan_file) is required.
    type: path
  plan_yaml:
    description:
      - The plan as YAML 1.2 text. The action plugin passes a YAML O(plan_file) this way; a task has no reason to.
      - Mutually exclusive with O(plan).
    type: str
  plan_hosts:
    description:
      - The plan's hosts as a list, each with C(name), C(address), C(components) and optionally C(overrides) and
        C(deploy-user). The action plugin fills it from the inventory with O(hosts_from_inventory=true); a task
        has no reason to give it.
      - The plan must then have no C(hosts) of its own. A plan that has them fails the task, naming C(plan.hosts).
    type: list
    elements: dict
  hosts_from_inventory:
    description:
      - Build the plan's hosts from the inventory, so that the plan (O(plan) or O(plan_file)) holds only profiles,
        networks, overrides and the other plan-wide keys, and has no C(hosts).
      - B(Which hosts.) Every host of group C(all), or of O(hosts_group) when given, that has at least one component.
        Never only the play's hosts. A C(--limit) run or a host that failed earlier in the play would otherwise
        shrink the plan, and with it the sources every firewall rule admits. Hosts without a component (a bastion,
        the controller) are left out. The plan lists the hosts in inventory order.
      - B(Components.) A host in group C(portplan_<component>) runs that component. Ansible group names cannot hold
        C(-), so C(_) in the group name stands for C(-). Group C(portplan_ocp_server) means component C(ocp-server).
        A host var (or group var) C(portplan_components), a list of component names, adds more, and is the way to
        name a component whose name holds C(_).
      - B(Name and address.) The plan host's name is the C(inventory_hostname). Its address is the host var
        C(portplan_address), else C(ansible_host), else the inventory name when that is an IP address. It must be an
        IPv4 or IPv6 address, never a DNS name. Addresses are not resolved, since the firewall rules admit
        addresses and every host must build the same plan. Set C(portplan_address) where C(ansible_host) is a name.
      - B(Per host.) C(portplan_overrides) (a list of C(spec) and C(ports) mappings) becomes the host's
        C(overrides), and C(portplan_deploy_user) (V(root) or V(non-root)) its C(deploy-user).
      - A bad value fails the task before anything changes, naming the host, the variable and the value. A problem
        found in a host that came from the inventory (an unknown component, say) names the inventory host and
        the variable it came from.
      - The target must be one of the hosts built. The plan every host builds is the same, since all of them read
        the same inventory.
      - Each task reads every candidate's variables through Ansible's C(hostvars), about 0.45 ms per inventory host
        (measured with 2,000 hosts on a 2-core machine, 0.9 s per task), so O(hosts_group) keeps a large inventory's
        cost to the deployment's hosts.
    type: bool
    default: false
  hosts_group:
    description:
      - With O(hosts_from_inventory=true), take the plan's hosts from this inventory group instead of C(all), for an
        inventory that holds more than one deployment.
      - Only its hosts with a component are plan hosts, as with C(all).
    type: str
  host:
    description:
      - The name of this target among the plan's C(hosts).
      - Defaults to the target's C(inventory_hostname), filled in by the action plugin.
      - The task fails when the plan has no host of that name.
    type: str
  phase:
    description:
      - When the host is checked.
      - V(preinstall) is before the software is installed. Every planned port must be free on the host, and legal
        for the deploying user.
      - V(postinstall) is after it is installed. Every planned fixed port must be listening at the host's address.
    type: str
    choices: [preinstall, postinstall]
    default: preinstall
  state:
    description:
      - What to do to the host's firewall.
      - V(present) checks the host and makes the firewall admit each planned port from exactly the hosts and networks
        that need it. portplan's rules that are no longer planned, or whose sources changed, are replaced or removed.
      - V(absent) removes every rule portplan added (rules tagged C(portplan:<spec-id>) in their comment), and nothing
        else.
      - V(checked) is an audit and changes nothing. Besides the port checks it compares the firewall with the plan;
        every portplan rule that is missing, not planned, or edited by hand is a C(firewall-drift) error finding
        naming the rule, so the task fails per O(fail_on) over a drifted firewall after install
        (O(phase=postinstall)). Before install the firewall is yet to be opened (or re-opened for a changed plan), so
        the same findings are C(info), saying what V(present) will do. C(portplan check) treats drift as an error in
        either phase. Diff mode shows the firewall's
        portplan rules now and as V(present) would leave them.
    type: str
    choices: [present, absent, checked]
    default: present
  firewall:
    description:
      - Which firewall to read and change.
      - V(auto) uses firewalld when its daemon runs in the host's network namespace and answers C(firewall-cmd --state);
        else ufw when it is enabled (C(ENABLED=yes) in C(/etc/ufw/ufw.conf)), or installed and O(ufw_enable=true);
        else nftables when a native nftables table filters input, else iptables when its INPUT chain filters, else
        whichever of the two is installed. The result's RV(firewall) says which was used and why. An nftables
        ruleset that C(nft -j list ruleset) prints but portplan cannot read fails the task rather than be passed over.
      - V(firewalld) adds rich rules to the zone that serves the interface carrying the host's address (the default
        zone when that interface is bound to none; O(zone) picks another), in the runtime and the permanent configuration alike, so no
        reload is needed and a restart keeps them. Each is
        C(rule family="ipv4" source address="..." port port="..." protocol="tcp" log prefix="portplan:<spec-id>"
        level="info" limit value="1/h" accept). The rate-limited log prefix is portplan's tag, since rich rules have
        no comment; it logs at most one line an hour per rule. More than three sources go into an ipset
        C(portplan-<spec-id>-v4) (or C(-v6)), created in the permanent configuration; until firewalld next reloads,
        the runtime gets one rule per source instead. portplan never uses C(--add-port), so firewalld never merges
        its ranges with anyone else's, and zone ports, services and other rich rules are left alone. The module talks to
        firewalld over its D-Bus API (firewalld 0.9 and later; the target needs no C(firewall-cmd)), carrying out the
        C(firewall-cmd) commands RV(actions) lists call for call; with older firewalld, or
        C(PORTPLAN_FIREWALLD=firewall-cmd) in the task's environment, it runs C(firewall-cmd).
      - V(ufw) adds C(ufw allow from SOURCE to any port PORTS proto tcp comment 'portplan:<spec-id>') per source and
        removes its own rules with C(ufw delete). An inactive ufw is reported in RV(warnings), never enabled unless
        O(ufw_enable=true). On an enabled ufw 0.36 the module carries out the C(ufw) commands RV(actions) lists in one
        batch, as ufw applies a rule itself (the lines C(ufw) would write, in C(/etc/ufw/user.rules) and
        C(user6.rules), then one C(iptables-restore -n) per family, never C(ufw reload)); otherwise, or with
        C(PORTPLAN_UFW=ufw) in the task's environment, it runs C(ufw) per rule. RV(firewall.reason) says which.
      - V(nftables) uses C(nft), V(iptables) uses C(iptables) and C(ip6tables).
      - V(none) checks the ports only. The firewall is neither read nor changed.
    type: str
    choices: [auto, firewalld, ufw, nftables, iptables, none]
    default: auto
  zone:
    description:
      - With firewalld, the zone that gets portplan's rich rules, as C(ansible.posix.firewalld)'s O(zone) names it,
        instead of the zone serving the interface that carries the host's address (or the default zone).
      - A zone firewalld does not know (C(firewall-cmd --get-zones)) fails the task before anything changes, naming
        the zone and listing the zones there are.
      - Given with another backend (also when O(firewall=auto) picks nftables, iptables or ufw) it fails the task
        before anything changes, naming the option and the backend.
      - RV(firewall.reason) always says which zone was used and why, chosen by this option, bound to the interface,
        or the default zone.
      - With O(state=absent) portplan's rules are removed from whichever zones hold them, whatever this says.
      - The rules go into a zone's filter only for traffic that zone receives; a zone bound to no interface or
        source admits nothing.
    type: str
  reserve_ports:
    description:
      - Apply the fix of the C(ephemeral-collision) finding for good, so an outgoing connection can never take a
        planned fixed port before its service binds it.
      - With O(state=present) every planned fixed port of this host inside C(net.ipv4.ip_local_port_range) is added
        to C(net.ipv4.ip_local_reserved_ports) in the running kernel (C(/proc/sys)) and in the drop-in
        C(/etc/sysctl.d/99-portplan.conf), which systemd-sysctl loads at boot. Both hold the planned ports merged
        with the whole running value, so no port that others reserved is dropped; the last file that sets the key
        wins at boot, hence C(99-). Ports reserved only by a one-off C(sysctl -w) get into the drop-in too.
      - Idempotent, and nothing is written in check mode; diff mode shows the running value and the drop-in before
        and after. With O(backup=true) a replaced drop-in is copied first. The drop-in is written to a temporary
        file and renamed over, mode 0644 when new. RV(reserved_ports) says what was done.
      - With O(state=absent) the drop-in is removed (copied first with O(backup=true)). The running reservation is
        left as it is, because the running list cannot tell portplan's ports from ports others reserved and a
        reserved port only keeps outgoing connections off it; the next boot no longer reserves them.
      - portplan only ever writes and removes its own drop-in. A file at that path that portplan did not write (its
        first line is not portplan's header) fails the task before anything changes.
      - It is applied before the firewall is changed; the verdict of O(fail_on) comes first, so with
        O(fail_on=warning) an C(ephemeral-collision) warning fails the task before it can be fixed.
      - With O(state=checked) it does nothing (a warning says so).
    type: bool
    default: false
  fail_on:
    description:
      - The least severe finding that fails the task.
      - With V(error), only error findings fail the task. With V(warning), warnings fail it too.
      - Info findings never fail the task.
    type: str
    choices: [error, warning]
    default: error
  persist:
    description:
      - After changing the running ruleset, save it where the distribution loads it from at boot, so that the
        change survives a reboot.
      - For nftables, the file is C(/etc/nftables.conf). For iptables, it is C(/etc/iptables/rules.v4) and
        C(/etc/iptables/rules.v6) (Debian, Ubuntu), or C(/etc/sysconfig/iptables) and C(/etc/sysconfig/ip6tables)
        (RHEL and related).
      - firewalld and ufw save their rules themselves (the permanent configuration, C(/etc/ufw/user.rules)); for them
        RV(persisted) lists those files and V(false) has no effect (a warning says so).
      - A hand-written C(/etc/nftables.conf) (one with comments, C(define)s or C(include)s) is never overwritten; the
        task fails before changing anything and says so; use V(false) and keep the rules in your conf yourself. A
        distribution's stock conf (tables only) or one portplan wrote is replaced by the stateless running ruleset
        (C(nft -s list ruleset)), which loads at boot to exactly the running ruleset.
      - That text is checked with C(nft -c -f) before it replaces the file. Rules iptables-nft wrote with a match nft
        cannot translate (Docker and fail2ban hosts) list as C(xt match), which C(nft -f) refuses, and a conf that
        fails loads nothing at boot; the task then fails naming the line and rolls back. Use V(false) and leave
        saving those rules to the tools that wrote them.
      - Files keep their mode and owner; a symlinked file is written at its target, so the link stays. Each file is
        written to a temporary file beside it and renamed over it; when the second file of a pair (C(rules.v6))
        cannot be written, the first is put back and the running firewall is rolled back, so the saved and running
        configurations never disagree.
      - The result's RV(persisted) lists the files that hold the rules for the next boot. A file is written only
        when it differs from the running ruleset (ignoring dates and counters), so an unchanged host writes nothing,
        and a host whose saved files fell behind (an interrupted run) catches up on the next run. Nothing is written
        in check mode.
    type: bool
    default: true
  backup:
    description:
      - Before persisting replaces a file, keep a copy beside it named C(FILE.PID.YYYY-MM-DD@HH:MM:SS~) (UTC), as
        Ansible's own modules do; RV(backup_file) names it.
      - The same for the sysctl.d drop-in of O(reserve_ports) when it is replaced or removed.
    type: bool
    default: false
  ufw_enable:
    description:
      - Enable an inactive ufw (C(ufw --force enable)) once portplan's rules are in place, so enabling it never cuts
        the planned ports off. Only with O(state=present).
      - Enabling applies ufw's default policy to every port; make sure rules for everything else the host serves
        (SSH above all) exist first.
      - Without it an inactive ufw still receives portplan's rules, which take effect once ufw is enabled, and
        RV(warnings) says that ufw is inactive.
    type: bool
    default: false
  wait_timeout:
    description:
      - With O(phase=postinstall), seconds to wait for every planned port to listen, re-reading the host's sockets
        until none is C(not-listening) or the time is up, as C(ansible.builtin.wait_for) users expect, since OCP-Server and
        OBServer take minutes to start. RV(warnings) names each port that was late and after how long, and each that
        never came up. V(0) checks once.
    type: int
    default: 0
  lock_timeout:
    description:
      - Seconds to wait for another portplan run on the same host to finish. Every run holds an exclusive lock
        (C(flock) on C(/run/lock/portplan.lock)) from its first read of the firewall to its last write, so two runs
        at once never interleave; the second waits, like C(iptables -w), and fails after this long naming the
        holder, having changed nothing. The kernel releases the lock when a run ends, even when it is killed.
    type: int
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details: The action plugin reads O(plan_file), fills in O(host) and chooses the binary for the target's architecture.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: In check mode nothing is changed; RV(actions) lists the commands that would run.
  diff_mode:
    support: full
    details: The diff has the host's portplan-relevant firewall ruleset as text, before and after.
  platform:
    platforms: linux
    support: full
    details: Binaries for x86_64 and aarch64 (arm64) Linux.
notes:
  - The targets need no Python. The module is a static binary; its builds for x86_64 and aarch64 Linux ship in the
    collection.
  - Run it as root (with C(become)) so that it can see which processes own the
    sockets and can change the firewall. Without root, the owners are unknown and changing the firewall fails.
  - Rules are only added to input chains that already filter traffic. If no input chain drops a family's traffic,
    the ports are already open to everyone; portplan says so instead of adding rules that would restrict nothing.
"""

EXAMPLES = r"""
# Check every host first, then open: any_errors_fatal stops the play when one
# host fails the check, before a single firewall changes (examples/playbooks
# in the portplan repository do the same).
- name: Before installing OCP, check the ports on every host, then open them
  hosts: ocp
  become: true
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: Planned ports are free and legal for the deploy user on every host (changes nothing)
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        phase: preinstall
        state: checked

    - name: Planned ports are open to exactly the hosts that need them
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        phase: preinstall
        state: present

# The hosts come from the inventory: groups portplan_<component> (an
# underscore for each hyphen), or a portplan_components var, and ansible_host.
#   [portplan_ocp_server]
#   ocp1 ansible_host=198.18.2.10
#   [portplan_observer]
#   obs1 ansible_host=198.18.2.11
#   [ocp:children]
#   portplan_ocp_server
#   portplan_observer
# The plan file then holds no hosts, only name, profiles, networks, overrides.
- name: OCP with the plan's hosts taken from the inventory
  hosts: ocp
  become: true
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: Check every host
      portplan.ports.portplan:
        plan_file: ocp-without-hosts.yml
        hosts_from_inventory: true
        hosts_group: ocp
        state: checked

    - name: Open the planned ports
      portplan.ports.portplan:
        plan_file: ocp-without-hosts.yml
        hosts_from_inventory: true
        hosts_group: ocp

- name: FineDataLink cluster with FineOps, plan given inline
  hosts: fdl
  become: true
  tasks:
    - name: Open the FineDataLink ports; fail on warnings too
      portplan.ports.portplan:
        fail_on: warning
        plan:
          name: fdl-cluster
          profiles: [finedatalink-cluster, fineops]
          deploy-user: non-root
          hosts:
            - {name: app1, address: 198.18.1.11, components: [finedatalink, ops-agent]}
            - {name: app2, address: 198.18.1.12, components: [finedatalink, ops-agent]}
            - name: comp1
              address: 198.18.1.21
              components: [fanruan-gateway, elasticsearch, mysql, redis, minio, kafka, nacos, nacos-mysql, ops-agent]
              overrides:
                - {spec: fanruan-gateway.http, ports: 8443}
            - {name: fineops1, address: 198.18.1.100, components: [fineops-nginx, skywalking-oap, fineops-registry]}
          networks:
            - {name: admin, cidrs: [198.18.100.0/24], description: O&M personnel}

- name: After installing, verify that every planned port listens; change nothing
  hosts: ocp
  become: true
  tasks:
    - name: Verify the installation
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        phase: postinstall
        state: checked
      register: ports

    - name: Show the findings
      ansible.builtin.debug:
        msg: "{{ item.severity }}: {{ item.message }} Fix: {{ item.fix }}"
      loop: "{{ ports.findings }}"

- name: Remove every firewall rule portplan added, and nothing else
  hosts: ocp
  become: true
  tasks:
    - name: Remove portplan's rules
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        state: absent

- name: RHEL-family hosts with firewalld (Rocky, CentOS, Kylin)
  hosts: ocp
  become: true
  tasks:
    - name: Rich rules in the zone serving each host's interface, runtime and permanent, no reload
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        firewall: firewalld  # what auto picks when firewalld answers; explicit fails if it does not
      register: opened

    - name: Which zone got the rules, and why
      ansible.builtin.debug:
        var: opened.firewall.reason

- name: Rules in a chosen firewalld zone, and the planned ports kept out of the ephemeral range for good
  hosts: ocp
  become: true
  tasks:
    - name: The internal zone gets the rules; the reserved ports go to /etc/sysctl.d/99-portplan.conf too
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        firewall: firewalld
        zone: internal
        reserve_ports: true
        backup: true

- name: Ubuntu hosts with ufw that is not enabled yet
  hosts: fdl
  become: true
  tasks:
    - name: Add portplan's rules first, then enable ufw, so the planned ports are never cut off
      portplan.ports.portplan:
        plan_file: finedatalink-cluster.json
        firewall: ufw
        ufw_enable: true

- name: Show what would change, without changing it
  hosts: ocp
  become: true
  tasks:
    - name: Dry run with a diff of the firewall rules
      portplan.ports.portplan:
        plan_file: ocp-cluster.json
        firewall: nftables
        persist: false
      check_mode: true
      diff: true
      register: dry_run

    - name: The commands that would run
      ansible.builtin.debug:
        var: dry_run.actions
"""

RETURN = r"""
changed:
  description: Whether a firewall rule was added or removed, or O(reserve_ports) changed the reservation (or, in check
    mode, would).
  returned: always
  type: bool
  sample: true
msg:
  description: One line on the outcome, for example how many findings of each severity and how many rules changed.
  returned: always
  type: str
  sample: "host ocp1: 0 error(s), 0 warning(s), 0 info(s); firewall not changed (state: checked)"
findings:
  description:
    - What portplan found on this host and in the plan as a whole, errors first.
    - Findings about other hosts of the plan are left out.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: Stable code of the rule that fired, for example C(port-in-use) or C(privileged-port).
      type: str
      sample: port-in-use
    severity:
      description: V(error), V(warning) or V(info).
      type: str
      sample: error
    host:
      description: The plan host the finding is about, or null.
      type: str
      sample: ocp1
    component:
      description: The component the finding is about, or null.
      type: str
      sample: ocp-server
    spec:
      description: The spec id the finding is about, or null.
      type: str
      sample: ocp-server.http
    ports:
      description: The ports concerned, or null.
      type: dict
      contains:
        first:
          description: First port of the range.
          type: int
          sample: 8080
        last:
          description: Last port of the range (equal to RV(findings[].ports.first) for a single port).
          type: int
          sample: 8080
    message:
      description: What is wrong.
      type: str
      sample: "port 8080/tcp is already in use on ocp1 (java, pid 4242)"
    fix:
      description: One line that fixes it.
      type: str
      sample: "stop the process or override ocp-server.http to a free port"
ports:
  description: This host's port table, by port.
  returned: always
  type: list
  elements: dict
  contains:
    spec:
      description: Spec id.
      type: str
      sample: ocp-server.http
    component:
      description: Component that listens.
      type: str
      sample: ocp-server
    ports:
      description: The effective ports (after overrides), as C(first) and C(last).
      type: dict
      sample: {first: 8080, last: 8080}
    transport:
      description: V(tcp) or V(udp).
      type: str
      sample: tcp
    protocol:
      description: Application protocol.
      type: str
      sample: http
    allocation:
      description: V(fixed) (listens on exactly these ports) or V(pool) (picks a free port of the range at run time).
      type: str
      sample: fixed
    exposure:
      description: V(loopback) (never opened), V(peers) (opened to the spec's accessors) or V(browser) (people reach it
        with a web browser).
      type: str
      sample: browser
    group:
      description:
        - The source group (in RV(source_groups)) the desired firewall rule admits, or null when no rule is wanted
          (loopback, or no accessor but this host).
      type: str
      sample: g3
    purpose:
      description: What the port is for.
      type: str
      sample: OCP web console and API
    overridden:
      description: Whether an override moved it from the vendor default.
      type: bool
      sample: false
source_groups:
  description:
    - Who this host's ports admit, each set listed once however many ports admit it. A group holds every host running
      one of its accessors, this host included when it is one (its own connections to its address; a forger gains
      nothing from it that forging a peer's address would not give), so every host of an all-to-all spec names the
      same group.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name RV(ports[].group) uses; the same accessors get the same name on every host of the plan.
      type: str
      sample: g3
    sources:
      description: The admitted addresses as the fewest CIDRs, IPv4 first.
      type: list
      elements: str
      sample: [198.18.2.11/32, 198.18.2.12/31]
    hosts:
      description: The plan hosts behind RV(source_groups[].sources), by name, in plan order.
      type: list
      elements: str
      sample: [obs1, obs2, obs3]
    networks:
      description: The client networks behind RV(source_groups[].sources), by name.
      type: list
      elements: str
      sample: [application]
rules:
  description:
    - The firewall rules this host should hold, by port. Each admits one spec's ports from exactly its sources.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Plan host whose firewall holds the rule.
      type: str
      sample: ocp1
    spec:
      description: The spec it opens.
      type: str
      sample: ocp-server.http
    tag:
      description: C(portplan:<spec-id>), written into the rule's comment.
      type: str
      sample: portplan:ocp-server.http
    transport:
      description: V(tcp) or V(udp).
      type: str
      sample: tcp
    ports:
      description: The ports opened, as C(first) and C(last).
      type: dict
      sample: {first: 8080, last: 8080}
    sources:
      description: Exactly the sources admitted, as aggregated CIDRs (the port's source group, this host included when
        it runs an accessor).
      type: list
      elements: str
      sample: [198.18.60.0/24]
    purpose:
      description: What it is for.
      type: str
      sample: OCP web console and API
actions:
  description:
    - The commands run to change the firewall and persist it, in order. In check mode, the commands that would run.
    - Empty when nothing needs to change.
  returned: always
  type: list
  elements: dict
  contains:
    argv:
      description: The command and its arguments.
      type: list
      elements: str
      sample: [nft, -f, "-"]
    stdin:
      description: What is written to the command's standard input, or null.
      type: str
      sample: "add rule inet filter input ip saddr 198.18.60.0/24 tcp dport 8080 accept comment \"portplan:ocp-server.http\""
firewall:
  description: The firewall that was used.
  returned: when the options are valid
  type: dict
  contains:
    backend:
      description: V(nftables), V(iptables), V(firewalld), V(ufw) or V(none).
      type: str
      sample: nftables
    reason:
      description:
        - Why this backend, for example that it was detected or asked for.
        - With firewalld, also which zone got the rules and why, chosen by O(zone), bound to the interface that
          carries the host's address, or the default zone.
      type: str
      sample: "firewall: firewalld (firewall-cmd --state: running); zone internal was chosen by the zone option"
facts:
  description: What was observed on the host, as the checks saw it.
  returned: when the options are valid
  type: dict
  contains:
    listeners:
      description: Listening TCP sockets and bound UDP sockets.
      type: list
      elements: dict
      contains:
        transport:
          description: V(tcp) or V(udp).
          type: str
          sample: tcp
        address:
          description: Local address, for example C(0.0.0.0), C(::) or C(127.0.0.1).
          type: str
          sample: 0.0.0.0
        port:
          description: Local port.
          type: int
          sample: 22
        pid:
          description: Owning process id, or null when unknown (not run as root).
          type: int
          sample: 812
        command:
          description: Owning process's command name, or null when unknown.
          type: str
          sample: sshd
        v6only:
          description: For an IPv6 socket, whether it refuses IPv4 connections.
          type: bool
          sample: false
    ip_local_port_range:
      description: C(net.ipv4.ip_local_port_range) as C(first) and C(last), or null when it could not be read.
      type: dict
      sample: {first: 32768, last: 60999}
    ip_local_reserved_ports:
      description: C(net.ipv4.ip_local_reserved_ports), as ranges with C(first) and C(last).
      type: list
      elements: dict
      sample: []
    ip_unprivileged_port_start:
      description: C(net.ipv4.ip_unprivileged_port_start), or null when it could not be read.
      type: int
      sample: 1024
    effective_uid:
      description: The effective uid the module ran as.
      type: int
      sample: 0
    firewall:
      description:
        - The firewall that was read, or null with O(firewall=none).
        - C(backend) names it; C(open) lists the ports it admits, each with C(transport), C(ports) (C(first) and
          C(last)), C(sources) (empty for anywhere) and C(tag) (C(portplan:<spec-id>) for portplan's own rules, null for others).
      type: dict
      sample: {backend: nftables, open: []}
persisted:
  description: The files that hold the rules for the next boot (see O(persist)). Empty when nothing is saved.
  returned: always
  type: list
  elements: str
  sample: [/etc/nftables.conf]
reserved_ports:
  description: What O(reserve_ports) did (in check mode, would do).
  returned: with O(reserve_ports=true) and O(state=present) or O(state=absent)
  type: dict
  contains:
    file:
      description: The drop-in.
      type: str
      sample: /etc/sysctl.d/99-portplan.conf
    runtime:
      description: C(net.ipv4.ip_local_reserved_ports) after the task, in the kernel's list syntax.
      type: str
      sample: 2881-2883,8080
    changed:
      description: Whether the running value or the drop-in changed.
      type: bool
      sample: true
backup_file:
  description: The copy of the first file persisting (or O(reserve_ports)) replaced, with O(backup=true).
  returned: when a file was replaced with O(backup=true)
  type: str
  sample: /etc/iptables/rules.v4.4242.2026-11-30@04:05:06~
backup_files:
  description: Every copy persisting made, with O(backup=true) (iptables replaces two files).
  returned: when a file was replaced with O(backup=true)
  type: list
  elements: str
warnings:
  description: Warnings for the user, for example that process owners are unknown without root.
  returned: when there are any
  type: list
  elements: str
  sample: ["not running as root: the owners of listening sockets are unknown and the firewall cannot be changed (use become: true)"]
diff:
  description:
    - The host's portplan-relevant firewall ruleset as text, before and after.
    - When O(reserve_ports) changes something, a list instead (Ansible's form for several files), the firewall's view
      first, then the running C(net.ipv4.ip_local_reserved_ports) and the drop-in.
  returned: in diff mode
  type: raw
  contains:
    before:
      description: The ruleset before.
      type: str
    after:
      description: The ruleset after (in check mode, as it would be).
      type: str
"""
