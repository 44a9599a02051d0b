"""test_sentinel_topology.py -- the shipped replicated Redis (redis/boardhook-replication.conf, redis/sentinel.conf) on hosts made of network namespaces.

A primary, two replicas and three Sentinels (Debian's redis-server and redis-sentinel), each on
its own host of a netns.Network, started from copies of the shipped files (redis_cluster.py):
  - they start in six namespaces, talk only over the test network, and replicate;
  - SIGKILL the primary: the Sentinels promote a replica within seconds, the other follows it;
  - cut the primary off from its replicas and from two Sentinels while a client still reaches
    it: it refuses writes (-NOREPLICAS) after min-replicas-max-lag, the majority side promotes a
    replica, and once healed the old primary replicates from the new one, which holds the key
    written on the majority side and not the one the old primary took alone;
  - at the end no namespace, link or process of the test is left.
The measured times are printed. Needs root (network namespaces, iptables); exits 77 (CTest's
SKIP_RETURN_CODE) otherwise. KEEP=1 keeps the folder (configs as rewritten, logs).
Run: sudo /usr/bin/python3 tests/integration/test_sentinel_topology.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import harness
import netns
from redis_cluster import RedisCluster, wait_until


def say(text):
    print(f"sentinel_topology: {text}", file=sys.stderr, flush=True)


def netns_inode(pid):
    st = os.stat(f"/proc/{pid}/ns/net")
    return st.st_dev, st.st_ino


class SentinelTopology(unittest.TestCase):

    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix=f"boardhook-{self._testMethodName}-"))
        self.addCleanup(self.remove_folder)
        self.net = netns.Network(self._testMethodName)
        self.addCleanup(self.net.close)   # also on failure; a second close() is a no-op
        self.net.start()
        started = time.monotonic()
        self.cluster = RedisCluster(self.net, self.folder).start()
        say(f"{self._testMethodName}: primary, 2 replicas and 3 Sentinels up in {time.monotonic() - started:.1f} s")

    def remove_folder(self):
        if harness.KEEP:
            say(f"KEEP=1: {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

    def close_and_check_nothing_left(self):
        """(d) Close the Network and check that none of its namespaces, links and processes remain."""
        pids = [node.process.pid for node in self.cluster.all_nodes()]
        run = self.net.run
        inodes = {netns.namespace_inode(name) for name in self.net.namespaces()}
        self.assertEqual(len(inodes), len(self.net.hosts) + 1, "a namespace per host and the bridge's")
        started = time.monotonic()
        self.net.close()
        say(f"{self._testMethodName}: network removed in {time.monotonic() - started:.1f} s")
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        self.assertNotIn(run, listed)
        self.assertEqual(netns.our_namespaces(run), [])
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
        self.assertNotIn(run, links, "a link in the root namespace still refers to a namespace of the test")
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"process {pid} still there")
        # Redis renames its process title, so look for the test's namespaces, not its command lines.
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    inode = netns_inode(entry)
                except OSError:   # gone meanwhile, or a kernel thread
                    continue
                self.assertNotIn(inode, inodes, f"process {entry} still runs in a namespace of the test")

    # ---- (a) and (b) ---------------------------------------------------------------------------
    def test_failover_after_sigkill(self):
        cluster, net = self.cluster, self.net
        primary, replicas, sentinels = cluster.nodes[0], cluster.nodes[1:], cluster.sentinels

        # (a) Six processes in six namespaces, none in ours; each host reaches only its segment.
        own = netns_inode(os.getpid())
        inodes = {}
        for node in cluster.all_nodes():
            inode = netns_inode(node.process.pid)
            self.assertEqual(inode, netns.namespace_inode(node.host.netns), f"{node.name} runs in its host")
            self.assertNotEqual(inode, own, f"{node.name} runs in the test's own namespace")
            inodes[node.name] = inode
        self.assertEqual(len(set(inodes.values())), 6, inodes)
        for host in net.hosts.values():
            self.assertEqual(host.run(["ip", "route", "show", "default"]).stdout, "", f"{host.name}: a default route")
            self.assertEqual(host.run(["ip", "-6", "route", "show", "default"]).stdout, "")
            addresses = re.findall(r"\binet6? (\S+)", host.run(["ip", "-o", "addr", "show"]).stdout)
            self.assertEqual(sorted(addresses), sorted(["127.0.0.1/8", "::1/128", f"{host.ip}/24"]),
                             f"{host.name}: only loopback and its own address")
        root = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
        self.assertNotIn(f"{net.subnet}.", root, "the test's subnet appears in the root namespace")

        # ... and they replicate: a write over the network, acknowledged by both replicas.
        for sentinel in sentinels:
            self.assertEqual(sentinel.master()["quorum"], "2", "redis/sentinel.conf: a quorum of 2")
        self.assertEqual(primary.online_replicas(), sorted(r.ip for r in replicas))
        client = sentinels[0].host   # any other host: the write crosses the bridge
        with primary.connect(via=client) as conn:
            self.assertEqual(conn.command("SET", "before-kill", "kept"), "OK")
            self.assertEqual(conn.command("WAIT", 2, 2000), 2)
        for replica in replicas:
            self.assertEqual(replica.replica_of(), (primary.ip, primary.port))
            self.assertEqual(replica.command("GET", "before-kill"), b"kept", replica.name)

        # (b) SIGKILL the primary: the Sentinels promote a replica within a few seconds.
        primary.kill()
        new, seconds = cluster.wait_for_failover(primary, timeout=30)
        say(f"SIGKILL of the primary -> {new.name} promoted, named by all 3 Sentinels, after {seconds:.1f} s")
        self.assertIn(new, replicas)
        self.assertLess(seconds, 10, "a failover within a few seconds with redis/sentinel.conf's timings")
        other = next(r for r in replicas if r is not new)
        follow = cluster.wait_until_replica_of(other, new, timeout=15)
        say(f"{other.name} replicating from {new.name} {follow:.1f} s later")
        self.assertEqual(new.command("GET", "before-kill", via=client), b"kept")
        with new.connect(via=client) as conn:
            self.assertEqual(conn.command("SET", "after-kill", "new"), "OK")
            self.assertEqual(conn.command("WAIT", 1, 2000), 1)
        self.assertEqual(other.command("GET", "after-kill"), b"new")

        self.close_and_check_nothing_left()   # (d)

    # ---- (c) -----------------------------------------------------------------------------------
    def test_partition_isolated_primary(self):
        cluster, net = self.cluster, self.net
        old, replicas = cluster.nodes[0], cluster.nodes[1:]
        s1, s2, s3 = cluster.sentinels
        client = net.add_host("client")
        majority = s2.host   # a host on the majority side to write from
        max_lag = int(old.command("CONFIG", "GET", "min-replicas-max-lag")[1])

        with old.connect(via=client) as conn:
            self.assertEqual(conn.command("SET", "before-cut", "both"), "OK")
            self.assertEqual(conn.command("WAIT", 2, 2000), 2)

        # One side: the primary, one Sentinel, the client. The other: both replicas, two Sentinels.
        conn = old.connect(via=client)
        self.addCleanup(conn.close)
        net.partition([old.host, s1.host, client], [r.host for r in replicas] + [s2.host, s3.host])
        cut = time.monotonic()
        self.assertTrue(net.is_cut(old.host, replicas[0].host) and not net.is_cut(old.host, client))
        with self.assertRaises(OSError, msg="a replica still reaches the old primary"):
            old.command("PING", via=replicas[0].host, timeout=1)

        # The old primary still takes writes for up to min-replicas-max-lag, and no replica gets them.
        self.assertEqual(conn.command("SET", "alone", "old-primary-only"), "OK")
        self.assertEqual(conn.command("WAIT", 1, 500), 0, "a replica acknowledged across the cut")
        # Then it refuses them.
        accepted = 0
        while True:
            try:
                conn.command("SET", f"probe{accepted}", "old-primary-only")
                accepted += 1
            except harness.RedisError as error:
                refused_after = time.monotonic() - cut
                self.assertTrue(str(error).startswith("NOREPLICAS"), error)
                break
            self.assertLess(time.monotonic() - cut, max_lag + 5, "the isolated primary still takes writes")
            time.sleep(0.05)
        say(f"partition: the isolated primary refuses writes (NOREPLICAS) {refused_after:.1f} s after the cut "
            f"(min-replicas-max-lag {max_lag}); it took {accepted + 1} writes alone before")
        # Acknowledgements are counted in whole seconds, once a second: refused 3-5 s after the cut.
        self.assertLessEqual(refused_after, max_lag + 3)

        # The majority side promotes a replica; the lone Sentinel neither follows nor fails over.
        new, _ = cluster.wait_for_failover(old, sentinels=[s2, s3], timeout=30)
        promoted_after = time.monotonic() - cut
        say(f"partition: {new.name} promoted by the majority side {promoted_after:.1f} s after the cut")
        self.assertIn(new, replicas)
        self.assertLess(promoted_after, 15)
        self.assertIs(cluster.primary_per(s1), old, "the lone Sentinel cannot see the failover")
        self.assertEqual(old.role(), "master", "nothing could demote the old primary across the cut")

        def majority_write():
            try:
                return new.command("SET", "majority", "new-primary", via=majority) == "OK"
            except harness.RedisError as error:   # NOREPLICAS until the other replica follows it
                if not str(error).startswith("NOREPLICAS"):
                    raise
                return False
        wait_until(majority_write, f"a write on {new.name}", 15, cluster.all_nodes())
        writable_after = time.monotonic() - cut
        self.assertEqual(new.command("WAIT", 1, 2000, via=majority), 1)
        say(f"partition: {new.name} takes writes {writable_after:.1f} s after the cut")
        with self.assertRaises(harness.RedisError) as refused:
            conn.command("SET", "late", "old-primary-only")
        self.assertTrue(str(refused.exception).startswith("NOREPLICAS"), refused.exception)

        # Heal: the old primary rejoins as a replica of the new one and drops what it held alone.
        net.heal_all()
        rejoin = cluster.wait_until_replica_of(old, new, timeout=60)
        say(f"heal: {old.name} replicating from {new.name} {rejoin:.1f} s after the heal")
        self.assertEqual(old.command("GET", "majority"), b"new-primary")
        self.assertEqual(old.command("GET", "before-cut"), b"both")
        self.assertIsNone(old.command("GET", "alone"), "the old primary kept a write it took alone")
        self.assertEqual(old.command("EXISTS", *(f"probe{i}" for i in range(accepted + 1))), 0)
        self.assertIsNone(new.command("GET", "alone"))
        wait_until(lambda: cluster.primary_per(s1) is new, "sentinel1 naming the new primary", 15, cluster.all_nodes())
        wait_until(lambda: len(new.online_replicas()) == 2, f"{new.name} with two replicas", 15, cluster.all_nodes())
        conn.close()

        self.close_and_check_nothing_left()   # (d)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("sentinel_topology: SKIPPED: needs root, to make network namespaces and iptables rules "
              "(CI runs as root)", file=sys.stderr)
        sys.exit(77)
    harness.main()
