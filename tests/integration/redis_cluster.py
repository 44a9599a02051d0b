"""redis_cluster.py -- a Redis primary, its replicas and three Sentinels, each on its own netns host, run from the shipped redis/ files.

    with netns.Network("failover") as net:
        cluster = RedisCluster(net, folder).start()      # hosts redis1..3, sentinel1..3
        client = net.add_host("client")
        cluster.primary.command("SET", "k", "v", via=client)   # over the network, from client
        cluster.primary.kill()                                  # SIGKILL
        new, seconds = cluster.wait_for_failover(old)

Every node runs Debian's redis-server or redis-sentinel, started the way redis/boardhook-replication.conf
and redis/sentinel.conf tell an operator to, from copies of those files in the node's folder
(Redis and Sentinel rewrite their own files; the repository's copies are never touched):

    <folder>/auth.conf                         requirepass and masterauth, a password made per cluster
    <folder>/redisN/boardhook.conf             redis/boardhook.conf, plus `replicaof` on a replica
    <folder>/redisN/boardhook-replication.conf redis/boardhook-replication.conf
    <folder>/redisN/data/                      its --dir (append-only file)
    <folder>/sentinelN/sentinel.conf           redis/sentinel.conf, the primary's address in its
                                               `sentinel monitor` line, bind/dir/passwords appended
    <folder>/<host>.log                        the process's output

A node's command() goes, by default, to 127.0.0.1 inside the node's own host, like an operator's
shell on that machine: it works whatever the cuts. With via=<Host> it goes over the test network
from that host, and so obeys the cuts. Standard library only; needs root (see netns.py).
"""
import re
import secrets
import shutil
import signal
import time

import harness

MASTER_NAME = "boardhook"      # the name redis/sentinel.conf monitors
REDIS_PORT = 6379
SENTINEL_PORT = 26379
MONITOR_LINE = re.compile(rf"^sentinel monitor {MASTER_NAME} (\S+) (\d+) (\d+)$", re.MULTILINE)


class ClusterError(AssertionError):
    pass


def parse_info(text):
    """INFO's text as {field: value}; `slaveN` values as {key: value} dicts."""
    if isinstance(text, bytes):
        text = text.decode()
    fields = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if re.fullmatch(r"slave\d+", key):
            value = dict(part.split("=", 1) for part in value.split(","))
        fields[key] = value
    return fields


def pairs_to_dict(reply):
    """A flat [k1, v1, k2, v2...] reply (SENTINEL MASTER) as {str: str}."""
    items = [x.decode() if isinstance(x, bytes) else str(x) for x in reply]
    return dict(zip(items[::2], items[1::2]))


def wait_until(check, what, timeout, nodes=()):
    """Call check() every 50 ms until it returns something truthy, and return that. OSError and
    RedisError count as "not yet". Fails at once if one of `nodes` has exited, and at `timeout`
    with the last error and the tails of the nodes' logs."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        for node in nodes:
            if node.expected_alive and not node.alive():
                raise ClusterError(f"{node.name} exited with {node.process.popen.returncode} while waiting "
                                   f"for {what}:\n{harness.tail(node.log)}")
        try:
            result = check()
            if result:
                return result
        except (OSError, harness.RedisError) as error:
            last = error
        if time.monotonic() >= deadline:
            logs = "\n".join(f"--- {node.name} ---\n{harness.tail(node.log)}" for node in nodes)
            raise ClusterError(f"{what}: not after {timeout} s (last error: {last!r})\n{logs}")
        time.sleep(0.05)


class Node:
    """One redis-server or redis-sentinel on its own host."""

    def __init__(self, cluster, host, port, password):
        self.cluster, self.host, self.port, self.password = cluster, host, port, password
        self.folder = cluster.folder / host.name
        self.log = cluster.folder / f"{host.name}.log"
        self.argv = None
        self.process = None
        self.expected_alive = False   # False once the test kills or stops it on purpose

    name = property(lambda self: self.host.name)
    ip = property(lambda self: self.host.ip)

    def __repr__(self):
        return f"{type(self).__name__}({self.name} {self.ip}:{self.port})"

    def start(self):
        """Start (or start again) the process, with the same command line."""
        self.process = self.host.popen(self.argv, self.log, name=self.name)
        self.expected_alive = True
        wait_until(lambda: self.command("PING") == "PONG", f"{self.name} PING", 15, [self])
        return self

    def alive(self):
        return self.process is not None and self.process.alive()

    def connect(self, via=None, timeout=5):
        """An authenticated harness.RedisConnection: from `via` (a Host) over the network, or by
        default over loopback inside this node's own host."""
        if via is None:
            sock = self.host.create_connection(("127.0.0.1", self.port), timeout)
        else:
            sock = via.create_connection((self.ip, self.port), timeout)
        return harness.RedisConnection(sock, self.password)

    def command(self, *args, via=None, timeout=5):
        """One command on a new connection (see connect); the decoded reply, RedisError on an
        error reply, OSError (TimeoutError) when unreachable."""
        with self.connect(via, timeout) as conn:
            return conn.command(*args)

    def info(self, section="replication"):
        return parse_info(self.command("INFO", section))

    # ---- failures ----------------------------------------------------------------------------
    def kill(self, sig=signal.SIGKILL):
        """Send `sig`; SIGKILL and SIGTERM also wait for the process to be gone."""
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.expected_alive = False
        self.process.signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.process.popen.wait(15)

    def pause(self):
        """SIGSTOP: the process holds its connections but answers nothing, like a hung host."""
        self.process.signal(signal.SIGSTOP)

    def resume(self):
        self.process.signal(signal.SIGCONT)


class RedisNode(Node):
    def role(self):
        """ROLE's first field: "master" or "slave"."""
        return self.command("ROLE")[0].decode()

    def replica_of(self):
        """(host, port) this node replicates from, or None when it is a primary."""
        role = self.command("ROLE")
        return None if role[0] == b"master" else (role[1].decode(), int(role[2]))

    def online_replicas(self):
        """IPs of the replicas this node (as primary) sees online."""
        fields = self.info()
        return sorted(v["ip"] for k, v in fields.items() if k.startswith("slave") and isinstance(v, dict)
                      and v.get("state") == "online")


class SentinelNode(Node):
    def master(self):
        """SENTINEL MASTER boardhook as a dict (ip, port, flags, num-slaves, num-other-sentinels...)."""
        return pairs_to_dict(self.command("SENTINEL", "MASTER", MASTER_NAME))

    def primary_address(self, via=None):
        """(ip, port) SENTINEL GET-MASTER-ADDR-BY-NAME gives."""
        reply = self.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME, via=via)
        return reply[0].decode(), int(reply[1])


class RedisCluster:
    """`replicas`+1 Redis nodes (redis1 the first primary) and `sentinels` Sentinels, each on a
    new host of `net`, their files in `folder`."""

    def __init__(self, net, folder, replicas=2, sentinels=3, password=None, sentinel_password=None):
        """Passwords: the Redis nodes' (requirepass, masterauth) and the Sentinels' own; made
        per cluster unless given (give both the same to test a client that uses one)."""
        self.net, self.folder = net, folder
        self.password = password or secrets.token_hex(16)
        self.sentinel_password = sentinel_password or secrets.token_hex(16)
        self.nodes = [RedisNode(self, net.add_host(f"redis{i + 1}"), REDIS_PORT, self.password)
                      for i in range(replicas + 1)]
        self.sentinels = [SentinelNode(self, net.add_host(f"sentinel{i + 1}"), SENTINEL_PORT, self.sentinel_password)
                          for i in range(sentinels)]
        self.primary = self.nodes[0]   # the first primary; ask the Sentinels for the current one

    def all_nodes(self):
        return self.nodes + self.sentinels

    # ---- starting -------------------------------------------------------------------------
    def start(self, timeout=30):
        """Start the primary, then the replicas, then the Sentinels; return once the replicas
        are online and every Sentinel knows them all and the other Sentinels (CKQUORUM OK)."""
        auth = self.folder / "auth.conf"
        auth.write_text(f"requirepass {self.password}\nmasterauth {self.password}\n")
        auth.chmod(0o600)
        for node in self.nodes:
            self._prepare_redis(node, None if node is self.primary else self.primary)
        self.primary.start()
        for node in self.nodes[1:]:
            node.start()
        wait_until(lambda: len(self.primary.online_replicas()) == len(self.nodes) - 1,
                   "replicas online", timeout, self.nodes)
        for sentinel in self.sentinels:
            self._prepare_sentinel(sentinel)
            sentinel.start()
        for sentinel in self.sentinels:
            wait_until(lambda: self._sentinel_knows_all(sentinel), f"{sentinel.name} sees the whole set",
                       timeout, self.all_nodes())
        return self

    def _prepare_redis(self, node, primary):
        node.folder.mkdir()
        (node.folder / "data").mkdir()
        conf = node.folder / "boardhook.conf"
        shutil.copyfile(harness.REPO / "redis/boardhook.conf", conf)
        shutil.copyfile(harness.REPO / "redis/boardhook-replication.conf", node.folder / "boardhook-replication.conf")
        if primary is not None:
            # In the file, not on the command line: Sentinel rewrites this line on a failover.
            with open(conf, "a") as f:
                f.write(f"\n# Added for this replica by tests/integration/redis_cluster.py\n"
                        f"replicaof {primary.ip} {primary.port}\n")
        node.argv = [harness.find_program("redis-server"), conf,
                     "--include", node.folder / "boardhook-replication.conf",
                     "--include", self.folder / "auth.conf",
                     "--bind", node.ip, "127.0.0.1", "--port", node.port, "--dir", node.folder / "data"]

    def _prepare_sentinel(self, sentinel):
        sentinel.folder.mkdir()
        text = (harness.REPO / "redis/sentinel.conf").read_text()
        monitor = MONITOR_LINE.findall(text)
        if len(monitor) != 1:
            raise ClusterError(f"redis/sentinel.conf: want one `sentinel monitor {MASTER_NAME}` line, found {monitor}")
        quorum = monitor[0][2]
        text = MONITOR_LINE.sub(f"sentinel monitor {MASTER_NAME} {self.primary.ip} {self.primary.port} {quorum}", text)
        text += (f"\n# Added for this host by tests/integration/redis_cluster.py\n"
                 f"bind {sentinel.ip} 127.0.0.1\n"
                 f"dir {sentinel.folder}\n"
                 f"requirepass {self.sentinel_password}\n"
                 f"sentinel auth-pass {MASTER_NAME} {self.password}\n")
        conf = sentinel.folder / "sentinel.conf"
        conf.write_text(text)
        conf.chmod(0o600)
        sentinel.argv = [harness.find_program("redis-sentinel"), conf]

    def _sentinel_knows_all(self, sentinel):
        master = sentinel.master()
        return (int(master["num-slaves"]) == len(self.nodes) - 1
                and int(master["num-other-sentinels"]) == len(self.sentinels) - 1
                and sentinel.command("SENTINEL", "CKQUORUM", MASTER_NAME).startswith("OK"))

    # ---- asking the Sentinels ------------------------------------------------------------------
    def node_at(self, address):
        """The RedisNode at (ip, port), or None."""
        return next((n for n in self.nodes if (n.ip, n.port) == tuple(address)), None)

    def primary_per(self, sentinel):
        """The node `sentinel` names as primary now (None if it names no node of ours)."""
        return self.node_at(sentinel.primary_address())

    def wait_for_failover(self, old, sentinels=None, timeout=30):
        """Wait until every Sentinel of `sentinels` (default: all still alive) names the same
        node other than `old` and that node's ROLE says master. Returns (node, seconds waited)."""
        sentinels = sentinels or [s for s in self.sentinels if s.alive()]
        started = time.monotonic()

        def promoted():
            named = {self.primary_per(s) for s in sentinels}
            if len(named) != 1:
                return None
            node = named.pop()
            return node if node not in (None, old) and node.role() == "master" else None
        node = wait_until(promoted, f"a primary other than {old.name} named by "
                          f"{', '.join(s.name for s in sentinels)}", timeout, self.all_nodes())
        return node, time.monotonic() - started

    def wait_until_replica_of(self, node, primary, timeout=30):
        """Wait until `node` replicates from `primary`, its link up and its copy done. Returns
        the seconds waited."""
        started = time.monotonic()

        def following():
            if node.replica_of() != (primary.ip, primary.port):
                return False
            info = node.info()
            return info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == "0"
        wait_until(following, f"{node.name} replicating from {primary.name}", timeout, self.all_nodes())
        return time.monotonic() - started

    def stop(self):
        """Stop the Sentinels first (so that none fails over while the nodes stop), then the nodes."""
        for node in self.sentinels + self.nodes[::-1]:
            if node.process is not None:
                node.expected_alive = False
                node.process.stop(timeout=10)
