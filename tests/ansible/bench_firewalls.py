"""The benchmark's test hosts and firewalls (tests/ansible/bench.py).

For each firewall, what the benchmark needs of a test host: how to set it up
once, how to put it back to the same original state before every measured
first run (fast and exact, checked against the state saved at setup), which
rules it admits in the end as a set of (source, ports, transport), whatever
text the rules have, and the play item that the peer module's loop opens.
"""

import ipaddress
import re

# iptables: a default-drop INPUT chain, as the original benchmark.
IPTABLES_ORIGINAL = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -j REJECT
COMMIT
"""

FIREWALLS = ("iptables", "ufw", "firewalld")


def source_text(source):
    """A rule's source as ufw and firewalld write it: a host without /32."""
    network = ipaddress.ip_network(source, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def admitted(source, first, last, transport):
    """One admitted (source, ports, transport), normalised."""
    return (str(ipaddress.ip_network(source, strict=False)), (int(first), int(last)), transport)


def ports_of(text):
    """'2881', '62881:63881' or '62881-63881' -> (first, last)."""
    parts = re.split(r"[:-]", text)
    return int(parts[0]), int(parts[-1])


def iptables_admitted(save, chains=None):
    """(source, ports, transport) of every ACCEPT rule with a source and a
    destination port in `iptables-save` output (in `chains` only, if given)."""
    found = set()
    for line in save.splitlines():
        if not line.startswith("-A "):
            continue
        words = line.split()
        if chains is not None and words[1] not in chains:
            continue
        opts = {}
        for i, word in enumerate(words[:-1]):
            if word in ("-s", "-p", "--dport", "--dports", "-j"):
                opts[word] = words[i + 1]
        port = opts.get("--dport") or opts.get("--dports")
        if opts.get("-j") == "ACCEPT" and "-s" in opts and port:
            found.add(admitted(opts["-s"], *ports_of(port), opts.get("-p", "all")))
    return found


RICH = re.compile(r'source (address|ipset)="([^"]+)".*?port port="([^"]+)" protocol="([^"]+)"'
                  r'.*\baccept\b')


def rich_admitted(rules, ipset_entries):
    """(source, ports, transport) of firewalld rich rules; a `source ipset`
    stands for each of the ipset's entries (`ipset_entries(name)`)."""
    found = set()
    for line in rules.splitlines():
        match = RICH.search(line)
        if match:
            kind, source, port, transport = match.groups()
            for one in ipset_entries(source) if kind == "ipset" else [source]:
                found.add(admitted(one, *ports_of(port), transport))
    return found


def without_counters(save):
    """`iptables-save` output without its comments and packet counters."""
    return "\n".join(re.sub(r"\[\d+:\d+\]", "", line) for line in save.splitlines()
                     if not line.startswith("#"))


class Firewall:
    """One firewall on a set of test hosts."""

    name = None
    python_module = None  # the peer module

    def setup(self, host):
        """Once per host; then `save` records the original state."""

    def save(self, host):
        host.bench_original = self.state(host)

    def reset(self, host):
        raise NotImplementedError

    def check_reset(self, host):
        state = self.state(host)
        if state != host.bench_original:
            raise RuntimeError(f"{self.name} on {host.name}: reset did not restore the original "
                               f"state:\n{state}\n---- original:\n{host.bench_original}")

    def state(self, host):
        raise NotImplementedError

    def admitted(self, host):
        raise NotImplementedError

    def loop_task(self, zone):
        """The peer module's task, looped over `bench_items`."""
        raise NotImplementedError

    def item(self, rule, source):
        """The loop item of one source of one portplan rule."""
        raise NotImplementedError


class Iptables(Firewall):
    name = "iptables"
    python_module = "ansible.builtin.iptables"

    def setup(self, host):
        host.run("iptables-restore", stdin=IPTABLES_ORIGINAL)

    def reset(self, host):
        host.run("iptables-restore", stdin=IPTABLES_ORIGINAL)

    def state(self, host):
        return without_counters(host.run("iptables-save"))

    def admitted(self, host):
        return iptables_admitted(host.run("iptables-save"))

    def loop_task(self, zone):
        return """    - ansible.builtin.iptables:
        chain: INPUT
        action: insert
        protocol: "{{ item.protocol }}"
        destination_port: "{{ item.port }}"
        source: "{{ item.source }}"
        jump: ACCEPT
        comment: "{{ item.tag }}"
      loop: "{{ bench_items }}"
"""

    def item(self, rule, source):
        first, last = rule["ports"]["first"], rule["ports"]["last"]
        port = str(first) if first == last else f"{first}:{last}"
        return {"protocol": rule["transport"], "port": port, "source": source, "tag": rule["tag"]}


class Ufw(Firewall):
    """ufw as test_firewalld_ufw.py sets it up, then enabled (default: deny
    incoming). A reset writes back the original user rules and reloads."""

    name = "ufw"
    python_module = "community.general.ufw"
    RULES = ("/etc/ufw/user.rules", "/etc/ufw/user6.rules")

    def setup(self, host):
        host.run("sed", "-i", "s/^IPT_SYSCTL=.*/IPT_SYSCTL=/", "/etc/default/ufw")
        host.run("ufw", "--force", "enable")
        # The state every reset gives: `ufw enable` leaves ip6tables' user
        # limit chain without its last two rules until the first reload.
        host.run("ufw", "reload")
        if not host.run("ufw", "status", "verbose").count("deny (incoming)"):
            raise RuntimeError(f"ufw on {host.name} does not deny incoming")
        host.bench_rules = {path: host.run("cat", path) for path in self.RULES}

    def reset(self, host):
        for path, text in host.bench_rules.items():
            host.run("sh", "-c", f"cat > {path}", stdin=text)
        host.run("ufw", "reload")

    def state(self, host):
        return (host.run("ufw", "show", "added") + without_counters(host.run("iptables-save"))
                + without_counters(host.run("ip6tables-save")))

    def admitted(self, host):
        # What the running firewall admits (ufw's user input chains), not the file.
        chains = ("ufw-user-input", "ufw6-user-input")
        return (iptables_admitted(host.run("iptables-save"), chains)
                | iptables_admitted(host.run("ip6tables-save"), chains))

    def loop_task(self, zone):
        return """    - community.general.ufw:
        rule: allow
        from_ip: "{{ item.from_ip }}"
        to_port: "{{ item.to_port }}"
        proto: "{{ item.proto }}"
        comment: "{{ item.comment }}"
      loop: "{{ bench_items }}"
"""

    def item(self, rule, source):
        first, last = rule["ports"]["first"], rule["ports"]["last"]
        port = str(first) if first == last else f"{first}:{last}"
        return {"from_ip": source_text(source), "to_port": port, "proto": rule["transport"],
                "comment": rule["tag"]}


class Firewalld(Firewall):
    """firewalld with its own system bus in the host. A reset removes the
    permanent zone and ipset files portplan or the loop wrote and reloads, so
    the runtime is the original permanent configuration again."""

    name = "firewalld"
    python_module = "ansible.posix.firewalld"

    def setup(self, host):
        host.start_firewalld()
        # The zone portplan uses: eth0 is bound to no zone, so the default one.
        host.bench_zone = host.run("firewall-cmd", "--get-default-zone").strip()
        host.bench_files = set(host.run("sh", "-c", "ls /etc/firewalld/zones /etc/firewalld/ipsets"
                                        " 2>/dev/null || true").split())

    def reset(self, host):
        listing = host.run("sh", "-c", "cd /etc/firewalld && ls -d zones/* ipsets/* 2>/dev/null "
                           "|| true").split()
        extra = [f"/etc/firewalld/{path}" for path in listing
                 if path.split("/", 1)[1] not in host.bench_files]
        if extra:
            host.run("rm", "-f", *extra)
        host.run("firewall-cmd", "--reload")

    def state(self, host):
        return "".join(host.run("firewall-cmd", *side, what)
                       for side in ([], ["--permanent"])
                       for what in ("--list-all-zones", "--get-ipsets"))

    def admitted(self, host):
        zone = host.run("firewall-cmd", "--get-default-zone").strip()
        sides = {}
        for side in ([], ["--permanent"]):
            def entries(name, side=side):
                info = host.run("firewall-cmd", *side, f"--info-ipset={name}")
                return next(line.split(":", 1)[1].split() for line in info.splitlines()
                            if line.strip().startswith("entries:"))
            sides[bool(side)] = rich_admitted(
                host.run("firewall-cmd", *side, f"--zone={zone}", "--list-rich-rules"), entries)
        runtime, permanent = sides[False], sides[True]
        if runtime != permanent:
            # Reported as a difference: the runtime is what admits.
            return {("runtime != permanent", tuple(sorted(runtime ^ permanent)), "")}
        return runtime

    def loop_task(self, zone):
        return f"""    - ansible.posix.firewalld:
        rich_rule: "{{{{ item }}}}"
        zone: {zone}
        permanent: true
        immediate: true
        state: enabled
      loop: "{{{{ bench_items }}}}"
"""

    def item(self, rule, source):
        # The rich rule portplan writes, character for character.
        first, last = rule["ports"]["first"], rule["ports"]["last"]
        port = str(first) if first == last else f"{first}-{last}"
        family = "ipv6" if ":" in source else "ipv4"
        return (f'rule family="{family}" source address="{source_text(source)}" port port="{port}" '
                f'protocol="{rule["transport"]}" log prefix="{rule["tag"]}" level="info" '
                f'limit value="1/h" accept')


BY_NAME = {"iptables": Iptables(), "ufw": Ufw(), "firewalld": Firewalld()}


def expected(rules, hostname):
    """The (source, ports, transport) a plan host's rules admit."""
    return {admitted(source, rule["ports"]["first"], rule["ports"]["last"], rule["transport"])
            for rule in rules if rule["host"] == hostname for source in rule["sources"]}
