"""replicated_load.py -- handlers on a Sentinel URL under load while the Redis primary fails; a timeline of it and the reckoning on the new primary.

Shared by test_failover.py (the primary SIGKILLed) and test_partition.py (the primary cut off).
The Redis side is redis_cluster.RedisCluster (a primary, 2 replicas, 3 Sentinels, each on its own
host, from the shipped redis/ files). Each Variant is one handler setting under test, on an
`app<name>` host of its own: boardhook-handler with BOARDHOOK_REDIS_URL=redis-sentinel://... and a
spool, nginx in front of it (hosts.Edge) and the load client (loadgen, 4 clients, no Nagle
pacing) inside that host. Variants use their own queue prefix, so several of them go through one
cluster and one fault at the same time, and each is reckoned alone:

    cluster = RedisCluster(net, folder).start()
    apps = [App(net, folder, cluster, Variant("one", min_replicas=1)).start(), ...]
    timeline = Timeline(cluster, apps).start()       # every 100 ms: roles, queue lengths, /metrics
    for app in apps: app.start_load()
    ... the fault ...
    for app in apps: app.stop_load(); app.wait_until_spool_empty()
    counts, missing = app.reckon(new_primary)        # every id answered 200, one by one
    print(counts_text(counts))                       # sent 5210, 200 5210, 503 0, ... missing 0, duplicated 0

ReplicatedLoadTest does the setting up (and the probe of each app) for a unittest.TestCase.

Standard library only; needs root (see netns.py).
"""
import collections
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import harness
import hosts
import loadgen
import netns
import redis_cluster

# Samples of /metrics the timeline keeps, per app.
METRICS = ("boardhook_events_spooled_total", "boardhook_spool_records", "boardhook_events_unreplicated_total",
           "boardhook_duplicates_skipped_total", "boardhook_redis_write_failures_total",
           "boardhook_spool_drained_total")


def sentinel_url(cluster):
    """The BOARDHOOK_REDIS_URL that names the cluster's Sentinels (the data nodes' password in it;
    the Sentinels' own goes in BOARDHOOK_REDIS_SENTINEL_PASSWORD)."""
    sentinels = ",".join(f"{s.ip}:{s.port}" for s in cluster.sentinels)
    return f"redis-sentinel://:{cluster.password}@{sentinels}/0#{redis_cluster.MASTER_NAME}"


class Variant:
    """One handler setting: BOARDHOOK_REDIS_MIN_REPLICAS, BOARDHOOK_DEDUP_SECONDS (0: off)."""

    def __init__(self, name, min_replicas, dedup_seconds=3600):
        self.name, self.min_replicas, self.dedup_seconds = name, min_replicas, dedup_seconds

    def __str__(self):
        dedup = f"dedup {self.dedup_seconds} s" if self.dedup_seconds else "dedup off"
        return f"MIN_REPLICAS={self.min_replicas}, {dedup}"


class App:
    """A Variant on host app<name>: handler (Sentinel URL, spool), nginx, and its load client."""
    clients = 4

    def __init__(self, net, folder, cluster, variant, log_level="info"):
        self.variant, self.cluster, self.folder = variant, cluster, folder
        self.prefix = f"bh{variant.name}"
        self.host = net.add_host(f"app{variant.name}")
        env = {"BOARDHOOK_REDIS_SENTINEL_PASSWORD": cluster.sentinel_password,
               "BOARDHOOK_REDIS_MIN_REPLICAS": variant.min_replicas,
               "BOARDHOOK_DEDUP_SECONDS": variant.dedup_seconds,
               "BOARDHOOK_LOG_LEVEL": log_level}
        self.handler = hosts.Handler(self.host, folder, sentinel_url(cluster), env=env, prefix=self.prefix)
        self.edge = None
        self.load = None

    name = property(lambda self: self.variant.name)

    def start(self):
        self.handler.start()
        self.edge = hosts.Edge(self.host, self.folder, [self.handler.address]).start()
        return self

    def queue_keys(self):
        return [f"{self.prefix}:queue:{harness.type_key_part(t)}" for t in loadgen.EVENT_TYPES]

    def probe(self, primary):
        """One POST through nginx, the handler and the Sentinels to `primary`'s queue; then the
        queue is emptied, so that the reckoning counts the load only. Returns the answer."""
        raw, sent = loadgen.LoadGenerator(self.edge, tag=f"probe-{self.name}").body(99, 0)
        response = self.edge.post(raw)
        if response.status != 200:
            raise AssertionError(f"{self.name}: probe POST answered {response}\n{harness.tail(self.handler.log)}")
        key = f"{self.prefix}:queue:{harness.type_key_part(sent.event_type)}"
        length = primary.command("LLEN", key)
        if length != len(sent.ids):
            raise AssertionError(f"{self.name}: the probe's events are not on {primary.name} ({length} in {key})")
        primary.command("DEL", key)
        return response

    def start_load(self):
        self.load = loadgen.LoadGenerator(self.edge, clients=self.clients, host=self.host, nodelay=True,
                                          max_requests=10**6, tag=f"load-{self.name}").start()
        return self.load

    def stop_load(self):
        self.load.stop()

    def wait_until_spool_empty(self, timeout=30):
        return self.handler.wait_until_spool_empty(timeout)

    def queued_ids(self, node):
        return loadgen.queued_ids(node.command, self.prefix)

    def queued(self, conn):
        """How many envelopes this app's queues hold, over an open connection."""
        return sum(conn.command("LLEN", key) for key in self.queue_keys())

    def reckon(self, node):
        """Compare every event id answered 200 with `node`'s queues. Returns (counts, missing ids)."""
        return self.load.reckon(self.queued_ids(node))

    def requests(self, since, until=None):
        """The POSTs the load client started in [since, until)."""
        return [s for s in self.load.sent if s.started is not None and s.started >= since
                and (until is None or s.started < until)]

    def lost_when(self, missing, fault_at):
        """'', or when the POSTs whose events are missing were sent (s from the fault)."""
        ids = set(missing)
        lost = sorted(s.started - fault_at for s in self.load.sent if ids.intersection(s.ids))
        return f"; lost: events of {len(lost)} POSTs sent {lost[0]:+.2f} to {lost[-1]:+.2f} s" if lost else ""

    def not_200(self, fault_at):
        """'none', or how many POSTs were not answered 200 and when they were sent (s from the fault)."""
        bad = sorted(s.started - fault_at for s in self.load.sent if s.status != 200 and s.started is not None)
        if not bad:
            return "none"
        statuses = collections.Counter(s.status or "no answer" for s in self.load.sent if s.status != 200)
        return f"{dict(statuses)} sent {bad[0]:+.2f} to {bad[-1]:+.2f} s"


class Timeline(threading.Thread):
    """Every `period` seconds: each Redis node's role and how many envelopes each app's queues
    hold there (over the node's own loopback, so cuts do not hide it; None when it is down), and
    each app's /metrics (over its host's loopback). `samples` is a list of
    (t, {node name: (role, {app name: queued}) or None}, {app name: {metric: value} or None})."""

    def __init__(self, cluster, apps, period=0.1):
        super().__init__(daemon=True)
        self.cluster, self.apps, self.period = cluster, list(apps), period
        self.samples = []
        self._finish = threading.Event()

    def start(self):
        super().start()
        return self

    def stop(self):
        self._finish.set()
        self.join(10)

    def run(self):
        while not self._finish.is_set():
            t = time.monotonic()
            nodes = {node.name: self._node(node) for node in self.cluster.nodes}
            metrics = {app.name: self._metrics(app) for app in self.apps}
            self.samples.append((t, nodes, metrics))
            self._finish.wait(max(0.0, self.period - (time.monotonic() - t)))

    def _node(self, node):
        try:
            with node.connect(timeout=0.5) as conn:
                role = conn.command("ROLE")[0].decode()
                return role, {app.name: app.queued(conn) for app in self.apps}
        except (OSError, harness.RedisError):
            return None

    @staticmethod
    def _metrics(app):
        try:
            text = app.edge.request("GET", "/metrics", timeout=2).body.decode()
        except (OSError, http.client.HTTPException):
            return None
        return {name: harness.metric(text + "\n", name) for name in METRICS}

    def save(self, path, origin):
        """The samples as JSON lines, times in seconds from `origin` (KEEP=1 keeps them)."""
        with open(path, "w") as f:
            for t, nodes, metrics in self.samples:
                f.write(json.dumps({"t": round(t - origin, 3), "nodes": nodes, "metrics": metrics}) + "\n")

    # ---- reading it ----------------------------------------------------------------------------
    def metric_series(self, app, name):
        return [(t, m[app.name][name]) for t, _, m in self.samples if m.get(app.name) is not None]

    def increases(self, app, name, since=None):
        """(first, last, total): when the counter `name` grew, from the samples after `since`."""
        series = self.metric_series(app, name)
        grew = [(t, b - a) for (_, a), (t, b) in zip(series, series[1:]) if b > a and (since is None or t >= since)]
        if not grew:
            return None
        return grew[0][0], grew[-1][0], sum(d for _, d in grew)

    def first_empty_spool(self, app, after):
        """When the app's spool was seen empty again, after `after`."""
        for t, value in self.metric_series(app, "boardhook_spool_records"):
            if t >= after and value == 0:
                return t
        return None

    def describe_spool(self, app, fault_at):
        """How many records the spool held at most, and when it was empty again."""
        series = self.metric_series(app, "boardhook_spool_records")
        peak = max(series, key=lambda sample: sample[1], default=(fault_at, 0))
        empty = self.first_empty_spool(app, peak[0])
        return f"spool peak {int(peak[1])} records at {peak[0] - fault_at:+.1f} s, empty {since(empty, fault_at)}"

    def writes_on(self, node, app, after):
        """When `node`, a primary, first held more of the app's envelopes than when first seen
        as primary after `after`: the handler (or its spool drain) writing there."""
        base = None
        for t, nodes, _ in self.samples:
            seen = nodes.get(node.name)
            if t < after or seen is None or seen[0] != "master":
                continue
            queued = seen[1][app.name]
            if base is None:
                base = queued
            elif queued > base:
                return t
        return None

    def wait_for_writes_on(self, node, app, after, deadline):
        """writes_on, waited for until the time.monotonic() `deadline`; AssertionError after it."""
        while True:
            found = self.writes_on(node, app, after)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(f"{app.name}: no write of its on {node.name} in time\n"
                                     f"{harness.tail(app.handler.log, 30)}")
            time.sleep(self.period)


def describe_window(window, fault_at):
    if window is None:
        return "none"
    first, last, total = window
    return f"{int(total)} events {first - fault_at:+.1f} to {last - fault_at:+.1f} s"


def since(t, origin):
    return "never" if t is None else f"{t - origin:+.1f} s"


def counts_text(counts):
    return ", ".join(f"{k} {v}" for k, v in counts.items())


class ReplicatedLoadTest(unittest.TestCase):
    """setUp: a Network, the cluster, and one App per Variant of `variants`, each probed once.
    HANDLER_LOG_LEVEL=debug in the environment sets the handlers' log level (default info)."""
    label = "replicated"
    variants = ()

    def say(self, text):
        print(f"{self.label}: {text}", file=sys.stderr, flush=True)

    def setUp(self):
        self.test_started = time.monotonic()
        self.folder = Path(tempfile.mkdtemp(prefix=f"boardhook-{self._testMethodName}-"))
        self.addCleanup(self.remove_folder)
        self.net = netns.Network(self._testMethodName)
        self.addCleanup(self.net.close)   # also on failure; a second close() is a no-op
        self.net.start()
        self.cluster = redis_cluster.RedisCluster(self.net, self.folder).start()
        level = os.environ.get("HANDLER_LOG_LEVEL", "info")
        self.apps = [App(self.net, self.folder, self.cluster, variant, level).start() for variant in self.variants]
        for app in self.apps:
            app.probe(self.cluster.primary)
        self.say(f"primary, 2 replicas, 3 Sentinels, {len(self.apps)} handler(s) with nginx, each on its own host, "
                 f"up in {time.monotonic() - self.test_started:.1f} s")

    def remove_folder(self):
        if harness.KEEP:
            self.say(f"KEEP=1: {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

    def close_and_check(self):
        left = hosts.close_and_check(self.net)
        self.assertEqual(left, [], "left behind by the test")
        self.say(f"{self._testMethodName}: {time.monotonic() - self.test_started:.1f} s in all")
