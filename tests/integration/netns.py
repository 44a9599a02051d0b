"""netns.py -- test "hosts" made of Linux network namespaces on a private bridge; cut and heal the links between them.

A Network is one isolated Ethernet segment. The bridge lives in a namespace of its own and each
host is a namespace joined to it by a veth pair, created inside the namespaces themselves: no link,
address, route or firewall rule is ever added to the machine's own (root) namespace, so no test
traffic can leave the machine and nothing the rest of the machine runs is touched. A host has its
loopback up, one address 10.231.<n>.<10+i>/24 on `eth0`, no default route and no IPv6 address on
eth0: it can reach the other hosts of its Network and its own loopback, nothing else.

    with netns.Network("topology") as net:
        redis1, client = net.add_host("redis1"), net.add_host("client")
        server = redis1.popen(["redis-server", "--bind", redis1.ip], folder / "redis1.log")
        sock = client.create_connection((redis1.ip, 6379))   # a socket in client's namespace
        net.cut(redis1, client)                                # packets dropped both ways
        net.heal_all()
    # on exit: every process started in the hosts stopped, every namespace removed

Cuts drop every packet (iptables in each host's INPUT chain, no connection-state match), so
established connections stall as they would behind a failed switch: nothing is refused, nothing
is reset, the peer just goes silent.

Names: every namespace is `bhn-<pid>-<seq>-<host>` (<pid> of the Python process that made it,
<seq> counting its Networks), so concurrent runs never share one, and a run that died without
cleaning up (SIGKILL) is recognised by its dead pid: Network() removes such leftovers first, and
`python3 netns.py --remove-leftovers` does it by hand. Links live only inside these namespaces
(`br0`, `p-<host>` beside the bridge, `eth0` in a host), so their names cannot collide with
anything else's and IFNAMSIZ (15) is only a limit on host names (12 characters).
The subnet's third octet is derived from the pid too. Two runs could share it without harm (their
bridges are separate segments), but distinct numbers keep two runs' logs apart.

Needs root, iproute2 (`ip`) and iptables (scripts/lib/common.sh installs both), and a kernel
with network namespaces, veth, bridge and nf_tables (or iptables-legacy's ip_tables).
Standard library only.
"""
import atexit
import ctypes
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import harness

NETNS_DIR = Path("/run/netns")            # where `ip netns add` keeps its named namespaces
PREFIX = "bhn-"                           # every namespace this module makes starts with it
_NAME = re.compile(r"bhn-(\d+)-(\d+)-(.+)")
HOST_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")   # "p-" + name must fit IFNAMSIZ-1 = 15
CLONE_NEWNET = 0x40000000
MAX_HOSTS = 200                           # 10.231.n.10 .. 10.231.n.209

_sequence = itertools.count(1)
_open_networks = []                       # closed at exit, whatever the test did
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    pass


def ip(*args, check=True):
    """Run `ip ARGS`; raise NetnsError with its stderr when it fails."""
    done = subprocess.run(["ip", *map(str, args)], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(map(str, args))}: {done.stderr.strip()}")
    return done


def is_root():
    return os.geteuid() == 0


def namespace_inode(name):
    """(device, inode) of the named namespace, or None when it is gone."""
    try:
        st = os.stat(NETNS_DIR / name)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def pids_in_namespace(name):
    """PIDs of the processes (other than this one) whose network namespace is `name`."""
    inode = namespace_inode(name)
    if inode is None:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:   # exited meanwhile, or a kernel thread
            continue
        if (st.st_dev, st.st_ino) == inode:
            pids.append(int(entry))
    return pids


def _kill_all_in(name, timeout=5):
    """SIGKILL everything in namespace `name` and wait until it is gone. Returns the PIDs killed."""
    pids = pids_in_namespace(name)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids_in_namespace(name) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pids


def _remove_namespace(name):
    """Kill what runs in `name`, then delete it (its veth ends go with it)."""
    _kill_all_in(name)
    if (NETNS_DIR / name).exists():
        ip("netns", "delete", name, check=False)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def our_namespaces(prefix=PREFIX):
    """Names of the existing namespaces that start with `prefix` (default: all this module's)."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix) and _NAME.fullmatch(n))
    except FileNotFoundError:
        return []


def remove_leftovers(prefix=None):
    """Remove namespaces (and kill the processes in them) left by runs that are no longer alive,
    or, given `prefix` (e.g. a Network's `run`), every namespace with that prefix whatever its
    owner. Never touches a namespace this module did not name. Returns the names removed."""
    removed = []
    for name in our_namespaces(prefix or PREFIX):
        owner = int(_NAME.fullmatch(name).group(1))
        if prefix is None and (owner == os.getpid() or _pid_alive(owner)):
            continue   # a run in progress (this one or a concurrent one)
        _remove_namespace(name)
        removed.append(name)
    return removed


class Host:
    """One namespace on the Network: `name`, `ip`, `netns` (the namespace's name)."""

    def __init__(self, net, name, ip_address, netns):
        self.net, self.name, self.ip, self.netns = net, name, ip_address, netns

    def __repr__(self):
        return f"Host({self.name} {self.ip})"

    def popen(self, argv, log_path, env=None, name=None):
        """Start `argv` inside this host, its stdout and stderr appended to `log_path`. Returns a
        harness.Process (its `pid` is the program's own: `ip netns exec` execs, it does not fork);
        the Network stops it at close if the test has not."""
        process = harness.Process(name or f"{self.name}:{Path(argv[0]).name}",
                                  ["ip", "netns", "exec", self.netns, *map(str, argv)],
                                  log_path, env=env)
        self.net.processes.append(process)
        return process

    def run(self, argv, timeout=30, check=True, **kwargs):
        """Run a short command inside this host; returns the CompletedProcess (text output)."""
        return subprocess.run(["ip", "netns", "exec", self.netns, *map(str, argv)], capture_output=True,
                              text=True, timeout=timeout, check=check, **kwargs)

    def call(self, function, *args, **kwargs):
        """Call `function` with this thread inside the host's namespace: any socket it creates
        belongs to the host for good (and obeys its cuts). Other threads are not affected."""
        with open(NETNS_DIR / self.netns) as target, open("/proc/thread-self/ns/net") as home:
            _setns(target.fileno())
            try:
                return function(*args, **kwargs)
            finally:
                _setns(home.fileno())

    def create_connection(self, address, timeout=None):
        """socket.create_connection from this host."""
        return self.call(socket.create_connection, address, timeout)

    def pids(self):
        """PIDs of every process in this host, ours or not."""
        return pids_in_namespace(self.netns)

    def kill_all(self):
        """SIGKILL every process in this host, as a power cut would, and wait until they are gone.
        Returns their PIDs. The host stays on the Network (its address, its cuts): only what ran
        there is gone, so a peer connecting to it is refused."""
        return _kill_all_in(self.netns)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Network:
    """An isolated segment of test hosts; a context manager that removes all of it on exit."""

    def __init__(self, label="net"):
        self.label = label
        sequence = next(_sequence)
        self.run = f"{PREFIX}{os.getpid()}-{sequence}-"   # prefix of every namespace here
        self.subnet = f"10.231.{(os.getpid() * 7 + sequence) % 254 + 1}"
        self.bridge_ns = self.run + "br"
        self.hosts = {}          # name -> Host, in the order added
        self.processes = []      # harness.Process started in the hosts, stopped at close
        self._blocked = {}       # host name -> names of the hosts whose packets it drops
        self._started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- making and removing ----------------------------------------------------------------
    def start(self):
        if not is_root():
            raise NetnsError("network namespaces need root")
        _install_signal_handlers()
        remove_leftovers()
        _open_networks.append(self)
        self._started = True
        try:
            ip("netns", "add", self.bridge_ns)
            ip("-n", self.bridge_ns, "link", "set", "lo", "up")
            ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            # The bridge forwards frames only: no address, and no IPv6 of its own.
            ip("-n", self.bridge_ns, "link", "set", "br0", "addrgenmode", "none")
            ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def add_host(self, name):
        """A new host `name` ([a-z][a-z0-9]{0,11}), joined to the bridge, its loopback up."""
        if not self._started:
            raise NetnsError("add_host before start(), or after close()")
        if not HOST_NAME.fullmatch(name) or name == "br":   # "br": the bridge's namespace
            raise ValueError(f"host name {name!r}: want [a-z][a-z0-9]{{0,11}}, not br")
        if name in self.hosts:
            raise ValueError(f"host {name} exists already")
        if len(self.hosts) >= MAX_HOSTS:
            raise ValueError("too many hosts")
        netns = self.run + name
        address = f"{self.subnet}.{10 + len(self.hosts)}"
        port = f"p-{name}"
        ip("netns", "add", netns)
        host = Host(self, name, address, netns)
        self.hosts[name] = host
        # Both ends are made inside the namespaces: nothing appears in the root namespace.
        ip("-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns)
        ip("-n", self.bridge_ns, "link", "set", port, "addrgenmode", "none")
        ip("-n", self.bridge_ns, "link", "set", port, "master", "br0")
        ip("-n", self.bridge_ns, "link", "set", port, "up")
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "link", "set", "eth0", "addrgenmode", "none")   # no IPv6 link-local chatter
        ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")
        return host

    def close(self):
        """Stop the processes started in the hosts (SIGTERM, then SIGKILL), kill any other
        process still in a namespace of this Network, delete the namespaces. Safe to call twice.
        Raises harness.SanitizerReport, after removing everything, if a process's log holds one."""
        if not self._started:
            return
        self._started = False
        reports = []
        # SIGTERM all first, then wait for each: a process that takes its time to stop (a Redis
        # primary waits up to 10 s for replicas cut off from it) delays the others no longer.
        for process in reversed(self.processes):
            process.signal(signal.SIGCONT)
            process.signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.stop(timeout=5)
            except harness.SanitizerReport as report:
                reports.append(report)
        for host in reversed(list(self.hosts.values())):
            _remove_namespace(host.netns)
        _remove_namespace(self.bridge_ns)
        remove_leftovers(self.run)   # anything of this run's left by an error half-way through
        if self in _open_networks:
            _open_networks.remove(self)
        if reports:
            raise reports[0]

    def namespaces(self):
        """The names of this Network's namespaces that exist now."""
        return our_namespaces(self.run)

    # ---- cutting and healing -----------------------------------------------------------------
    def cut(self, a, b):
        """Drop every packet between hosts a and b, both ways, established connections too."""
        self._set_blocked([(a, b)], blocked=True)

    def heal(self, a, b):
        """Undo cut(a, b)."""
        self._set_blocked([(a, b)], blocked=False)

    def partition(self, side_a, side_b):
        """Cut every host of side_a from every host of side_b (hosts on one side still talk)."""
        self._set_blocked([(a, b) for a in side_a for b in side_b], blocked=True)

    def isolate(self, host, except_hosts=()):
        """Cut `host` from every other host now on the Network except `except_hosts`."""
        keep = {self._name(h) for h in except_hosts} | {self._name(host)}
        self._set_blocked([(host, other) for other in self.hosts.values() if other.name not in keep],
                          blocked=True)

    def heal_all(self):
        """Remove every cut."""
        pairs = [(a, b) for a, peers in self._blocked.items() for b in peers]
        self._set_blocked(pairs, blocked=False)

    def is_cut(self, a, b):
        return self._name(b) in self._blocked.get(self._name(a), set())

    def _name(self, host):
        name = host.name if isinstance(host, Host) else host
        if name not in self.hosts:
            raise ValueError(f"no host {name!r} on this network")
        return name

    def _set_blocked(self, pairs, blocked):
        changed = set()
        for a, b in pairs:
            a, b = self._name(a), self._name(b)
            if a == b:
                raise ValueError(f"cannot cut {a} from itself")
            for x, y in ((a, b), (b, a)):
                peers = self._blocked.setdefault(x, set())
                if (y in peers) != blocked:
                    peers.add(y) if blocked else peers.discard(y)
                    changed.add(x)
        for name in changed:
            self._apply_rules(self.hosts[name])

    def _apply_rules(self, host):
        """Replace the host's filter table with one DROP rule per blocked peer, in one
        iptables-restore (atomic). Only INPUT: dropping on receipt at both ends makes each side
        silent to the other without turning the sender's own writes into local errors (an
        OUTPUT DROP would fail send() with EPERM, which no real partition does)."""
        lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        lines += [f"-A INPUT -s {self.hosts[peer].ip}/32 -j DROP"
                  for peer in sorted(self._blocked.get(host.name, ()))]
        lines.append("COMMIT")
        done = subprocess.run(["ip", "netns", "exec", host.netns, "iptables-restore", "-w", "5"],
                              input="\n".join(lines) + "\n", capture_output=True, text=True)
        if done.returncode != 0:
            raise NetnsError(f"iptables-restore in {host.name}: {done.stderr.strip()}")


# ---- cleanup whatever happens ----------------------------------------------------------------
@atexit.register
def _close_open_networks():
    for net in list(_open_networks):
        try:
            net.close()
        except Exception as error:   # noqa: BLE001 -- report, keep removing the others
            print(f"netns: closing {net.run}: {error}", file=sys.stderr)


_handlers_installed = threading.Lock()


def _install_signal_handlers():
    """SIGTERM and SIGHUP (ctest's timeout, a closed terminal) unwind like an exception, so the
    context managers and atexit remove the namespaces. A handler the program set stays."""
    if threading.current_thread() is not threading.main_thread() or not _handlers_installed.acquire(False):
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))


def main():
    """python3 netns.py --remove-leftovers [PREFIX]: remove the namespaces of runs that died."""
    if len(sys.argv) >= 2 and sys.argv[1] == "--remove-leftovers":
        if not is_root():
            sys.exit("netns.py: needs root")
        prefix = sys.argv[2] if len(sys.argv) > 2 else None
        if prefix is not None and not prefix.startswith(PREFIX):
            sys.exit(f"netns.py: a prefix starts with {PREFIX!r}")
        for name in remove_leftovers(prefix):
            print(f"removed {name}")
        return
    sys.exit("usage: netns.py --remove-leftovers [bhn-PID-SEQ-]")


if __name__ == "__main__":
    main()
