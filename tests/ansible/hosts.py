"""Test hosts for the Ansible tests: network namespaces on one bridge.

Every host is a network namespace with an address from 198.18.0.0/15 on a
veth pair into a bridge namespace, plus a private mount namespace that lays
an overlay over /etc (so the rules portplan persists, and any config a
firewall writes, never reach the machine) and binds an empty directory over
/run/dbus. A long-lived `sleep` holds both namespaces; commands and Ansible
tasks enter them with nsenter. Nothing here touches the machine's own
firewall, and no traffic leaves the namespaces.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

PREFIX = 15  # 198.18.0.0/15: every test address is on one link
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLAYBOOKS = os.path.join(REPO, "examples", "playbooks")
# Where the venv, the x86_64 binary and dist/collection are: this checkout,
# or with PORTPLAN_BUILD_ROOT another one's (a git worktree has none of its own).
BUILD_ROOT = os.environ.get("PORTPLAN_BUILD_ROOT") or REPO
# The controller: .venv's ansible-core (2.19), or with PORTPLAN_ANSIBLE=2.16
# (2.17, 2.18) the venv scripts/setup makes for that version.
ANSIBLE_VERSION = os.environ.get("PORTPLAN_ANSIBLE", "")
VENV = f".venv-ansible-{ANSIBLE_VERSION}" if ANSIBLE_VERSION else ".venv"
VENV_BIN = os.path.join(BUILD_ROOT, VENV, "bin")
# The x86_64 module binary scripts/build-collection builds (also the CLI).
PORTPLAN = os.path.join(BUILD_ROOT, "target", "x86_64-unknown-linux-musl", "release", "portplan")


def sh(*argv, stdin=None, check=True):
    """Run a command; its stdout as text."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


class Lan:
    """A bridge in its own namespace that test hosts plug into."""

    def __init__(self, label):
        self.tag = f"{label}{os.getpid() % 100000}"
        self.netns = f"pp-{self.tag}-sw"
        self.root = tempfile.mkdtemp(prefix=f"portplan-{label}-")
        self.hosts = []
        sh("ip", "netns", "add", self.netns)
        self.exec("ip", "link", "add", "br0", "type", "bridge")
        self.exec("ip", "link", "set", "br0", "up")

    def exec(self, *argv, **kw):
        return sh("ip", "netns", "exec", self.netns, *argv, **kw)

    def host(self, name, address, chroot=None, binds=(), daemons=False, prefix=PREFIX,
             gateway=None):
        host = Host(self, name, address, chroot, binds, daemons, prefix, gateway)
        self.hosts.append(host)
        return host

    def close(self):
        for host in reversed(self.hosts):
            host.close()
        sh("ip", "netns", "delete", self.netns, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


class Host:
    """One test host: network and mount namespaces, held by a sleeper."""

    def __init__(self, lan, name, address, chroot=None, binds=(), daemons=False, prefix=PREFIX,
                 gateway=None):
        self.name, self.address, self.chroot = name, address, chroot
        self.netns = f"pp-{lan.tag}-{len(lan.hosts)}"
        self.dir = os.path.join(lan.root, name)
        self.upper = os.path.join(self.dir, "etc-upper")
        work = os.path.join(self.dir, "etc-work")
        dbus = os.path.join(self.dir, "run-dbus")
        for d in (self.upper, work, dbus):
            os.makedirs(d)
        sh("ip", "netns", "add", self.netns)
        port = f"p{len(lan.hosts)}"
        sh("ip", "link", "add", "eth0", "netns", self.netns, "type", "veth",
           "peer", "name", port, "netns", lan.netns)
        lan.exec("ip", "link", "set", port, "master", "br0", "up")
        setup = [["ip", "link", "set", "lo", "up"],
                 ["ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0"],
                 ["ip", "link", "set", "eth0", "up"]]
        if gateway:
            # A subnet behind a router (test_reach.py's topology).
            setup.append(["ip", "route", "add", "default", "via", gateway])
        for argv in setup:
            sh("ip", "netns", "exec", self.netns, *argv)
        mounts = [
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={self.upper},workdir={work} /etc",
        ]
        if daemons:
            # firewalld, dbus-daemon and ufw also write under /run and /var.
            for tree in ("run", "var"):
                upper, scratch = (os.path.join(self.dir, f"{tree}-{d}") for d in ("upper", "work"))
                os.makedirs(upper)
                os.makedirs(scratch)
                mounts.append(f"mount -t overlay overlay -o lowerdir=/{tree},upperdir={upper},"
                              f"workdir={scratch} /{tree}")
            mounts.append("mkdir -p /run/dbus")
        # Never the machine's system bus: the host's own, or none at all.
        mounts.append(f"mount --bind {dbus} /run/dbus" if daemons or os.path.isdir("/run/dbus")
                      else "true")
        if chroot:
            mounts.append(f"mount -t proc proc {chroot}/proc")
        mounts.extend(f"mount --bind {source} {target}" for source, target in binds)
        script = " && ".join(mounts) + " && echo ready && exec sleep infinity"
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--propagation",
             "private", "sh", "-c", script],
            stdout=subprocess.PIPE, text=True)
        if self.holder.stdout.readline().strip() != "ready":
            raise RuntimeError(f"test host {name} did not start")
        self.shell = os.path.join(self.dir, "shell")
        root = f"chroot {chroot} " if chroot else ""
        with open(self.shell, "w") as f:
            f.write(f'#!/bin/sh\nexec nsenter -t {self.holder.pid} -m -n -- {root}/bin/sh "$@"\n')
        os.chmod(self.shell, 0o755)

    def enter(self):
        """The argv prefix that runs a command inside this host."""
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--"]

    def run(self, *argv, stdin=None, check=True):
        return sh(*self.enter(), *argv, stdin=stdin, check=check)

    def spawn(self, *argv):
        """A background process inside the host, e.g. a listener."""
        return subprocess.Popen([*self.enter(), *argv], stdout=subprocess.PIPE, text=True)

    def start_firewalld(self):
        """This host's own system bus (once) and firewalld; returns when
        `firewall-cmd --state` answers `running`."""
        if not getattr(self, "dbus", None):
            self.dbus = subprocess.Popen([*self.enter(), "dbus-daemon", "--system", "--nofork"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # /run/dbus inside is bound from this host's run-dbus directory.
            socket_path = os.path.join(self.dir, "run-dbus", "system_bus_socket")
            if not wait_until(lambda: os.path.exists(socket_path), 10):
                raise RuntimeError(f"dbus-daemon did not start in {self.name}")
        self.firewalld = subprocess.Popen(
            [*self.enter(), "firewalld", "--nofork", "--nopid"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(lambda: self.run("firewall-cmd", "--state", check=False).strip()
                          == "running", 60):
            raise RuntimeError(f"firewalld did not start in {self.name}")

    def stop_firewalld(self):
        """Stop firewalld as its service does (SIGTERM: it removes its rules)."""
        self.firewalld.send_signal(signal.SIGTERM)
        self.firewalld.wait(timeout=60)

    def close(self):
        # Everything started inside: firewalld, dbus-daemon and what dbus activated.
        pids = sh("ip", "netns", "pids", self.netns, check=False).split()
        for pid in pids:
            if int(pid) != self.holder.pid:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for process in (getattr(self, "firewalld", None), getattr(self, "dbus", None)):
            if process:
                process.wait()
        self.holder.kill()
        self.holder.wait()
        self.holder.stdout.close()
        sh("ip", "netns", "delete", self.netns, check=False)


LISTEN = r"""
import socket, sys, time
socks = []
for spec in sys.argv[1:]:
    address, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, int(port)))
    s.listen(16)
    socks.append(s)
print("listening", flush=True)
time.sleep(3600)
"""

CONNECT = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("open")
except OSError as e:
    print("closed", e)
"""


class Listener:
    """TCP listeners inside a host, as `address:port` specs; a context manager."""

    def __init__(self, host, *specs):
        self.process = host.spawn("python3", "-c", LISTEN, *specs)
        if self.process.stdout.readline().strip() != "listening":
            raise RuntimeError(f"listener {specs} did not start in {host.name}")

    @property
    def pid(self):
        # nsenter execs python3 in place: the child's pid is the listener's.
        return self.process.pid

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait()
        self.process.stdout.close()


def reachable(client, server, port, timeout=2.0):
    """Whether `client` can open a TCP connection to `server`'s port."""
    out = client.run("python3", "-c", CONNECT, server.address, str(port), str(timeout))
    return out.startswith("open")


def run_binary(host, args, env=None, binary=PORTPLAN):
    """The module binary (`binary`) run directly in `host` on `args`, as
    Ansible runs a binary module; its result."""
    path = os.path.join(host.dir, "args.json")
    with open(path, "w") as f:
        json.dump(args, f)
    done = subprocess.run([*host.enter(), binary, path], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=120)
    return json.loads(done.stdout)


def wait_until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def plan_report(plan_path):
    """The plan's report as `portplan validate --format json` gives it."""
    return json.loads(sh(PORTPLAN, "validate", "--format", "json", plan_path))


def controller_env(work):
    """Install the collection tarball from scripts/build-collection into
    `work` and return the environment that runs ansible-playbook with it,
    keeping all of Ansible's own files inside `work`."""
    tarballs = sorted(glob.glob(os.path.join(BUILD_ROOT, "dist", "collection",
                                          "portplan-ports-*.tar.gz")))
    if not tarballs:
        raise RuntimeError("no collection tarball in dist/collection: run scripts/build-collection")
    collections = os.path.join(work, "collections")
    sh(os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--force",
       "-p", collections, tarballs[-1])
    return dict(
        os.environ,
        ANSIBLE_HOME=os.path.join(work, "home"),
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="portplan_results",
        PORTPLAN_RESULTS_DIR=os.path.join(work, "results"),
        ANSIBLE_LOCAL_TEMP=os.path.join(work, "local-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PATH=VENV_BIN + os.pathsep + os.environ["PATH"],
    )
