"""test_handler_hosts.py -- two handler hosts behind one nginx upstream: one dies under load, nothing acknowledged is lost.

Four hosts made of network namespaces (netns.py, hosts.py): `redis` (redis-server with
redis/boardhook.conf), `handlera` and `handlerb` (a boardhook-handler each, FastCGI on the host's
address, a spool of its own), and `edge` (nginx from the shipped files, its upstream rendered with
one `server` line per handler, and the load client). Four clients send POSTs one after another,
each with events whose envelope ids they compute; mid-load every process on handlera is
SIGKILLed. Afterwards every event answered 200 must be in Redis's queues, counted one by one,
and the requests sent after the kill must have been passed to handlerb and answered 200.
Prints sent, 200, 503, stored, missing and duplicated.

Needs root (network namespaces, iptables); exits 77 (CTest's SKIP_RETURN_CODE) otherwise.
KEEP=1 keeps the folder (logs, rendered nginx.conf, Redis data).
Run: sudo /usr/bin/python3 tests/integration/test_handler_hosts.py --handler build/test/boardhook-handler
"""
import collections
import os
import shutil
import sys
import tempfile
import time
import unittest
from pathlib import Path

import harness
import hosts
import loadgen
import netns

# Requests sent this long after the kill must all be answered 200 by the other handler. nginx
# drops its kept connections to the dead handler when the kernel closes them, at once; the
# margin covers a busy two-core machine.
SETTLE_SECONDS = 0.5


def say(text):
    print(f"handler_hosts: {text}", file=sys.stderr, flush=True)


class HandlerHosts(unittest.TestCase):
    behind_nginx = ("handlera", "handlerb")   # the handler hosts nginx's upstream names
    clients = 4
    requests_before_kill = 300
    seconds_after_kill = 3

    def setUp(self):
        started = time.monotonic()
        self.folder = Path(tempfile.mkdtemp(prefix=f"boardhook-{self._testMethodName}-"))
        self.addCleanup(self.remove_folder)
        self.net = netns.Network(self._testMethodName)
        self.addCleanup(self.net.close)   # also on failure; a second close() is a no-op
        self.net.start()
        self.redis = hosts.RedisServer(self.net.add_host("redis"), self.folder).start()
        # 500 ms: a handler that cannot reach Redis spools quickly instead of holding the request.
        self.handlers = {name: hosts.Handler(self.net.add_host(name), self.folder, self.redis.url(),
                                             env={"BOARDHOOK_REDIS_TIMEOUT_MS": "500"}).start()
                         for name in ("handlera", "handlerb")}
        self.edge = hosts.Edge(self.net.add_host("edge"), self.folder,
                               [self.handlers[name].address for name in self.behind_nginx]).start()
        say(f"redis, 2 handlers and nginx on 4 hosts up in {time.monotonic() - started:.1f} s")

    def remove_folder(self):
        if harness.KEEP:
            say(f"KEEP=1: {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

    def test_killing_one_handler_host_loses_nothing_acknowledged(self):
        a, b = self.handlers["handlera"], self.handlers["handlerb"]
        # A POST from the edge reaches Redis through the upstream: the path works before the load.
        raw, sent = loadgen.LoadGenerator(self.edge, tag="probe").body(99, 0)
        r = self.edge.post(raw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.redis.command("LLEN", self.redis.queue_key(sent.event_type)), len(sent.ids))
        self.redis.command("DEL", self.redis.queue_key(sent.event_type))

        load = loadgen.LoadGenerator(self.edge, clients=self.clients, host=self.edge.host, nodelay=True).start()
        try:
            load.wait_for_requests(self.requests_before_kill)
            killed = a.kill_host()
            killed_at = time.monotonic()
            sent_at_kill = len(load.sent)
            time.sleep(self.seconds_after_kill)
        finally:
            load.stop()
        load_seconds = time.monotonic() - killed_at

        # What the dead host had spooled, its next start (or an operator) delivers: do that here.
        self.assertTrue(b.wait_until_spool_empty(), "handlerb's spool never drained")
        left_in_a_spool = a.spool_status()["records"]
        drained = a.drain_spool()
        self.assertEqual(drained.returncode, 0, f"handlera's spool: {drained.stderr}")
        counts, missing = load.reckon(loadgen.queued_ids(self.redis.command))

        after = [s for s in load.sent if s.started is not None and s.started >= killed_at + SETTLE_SECONDS]
        after_statuses = collections.Counter(s.status or "no answer" for s in after)
        failed = sorted(s.started - killed_at for s in load.sent if s.status != 200 and s.started is not None)
        failed_when = f" (sent {failed[0]:+.2f} to {failed[-1]:+.2f} s from the kill)" if failed else ""
        # Which handler answered each request, from nginx's access log (by request id).
        access = {e.request_id: e for e in self.edge.access_log()}
        passed_on = [e for e in access.values() if len(e.upstreams) > 1]

        def served(requests):
            return dict(collections.Counter(access[s.request_id].upstreams[-1] for s in requests
                                            if s.status == 200 and s.request_id in access))
        served_before = served(s for s in load.sent if s.started < killed_at)
        served_after = served(s for s in load.sent if s.started >= killed_at)
        say(f"{self._testMethodName}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        say(f"SIGKILL of {len(killed)} process(es) on handlera after {sent_at_kill} requests, "
            f"{len(load.sent) - sent_at_kill} more in the {load_seconds:.1f} s after; 200s per handler for "
            f"requests sent before the kill {served_before}, after it {served_after}; {len(passed_on)} "
            f"request(s) passed on by nginx from one handler to the other; {len(failed)} answer(s) not 200"
            f"{failed_when}; sent {SETTLE_SECONDS} s or more after the kill: {dict(after_statuses)}; "
            f"records left in handlera's spool: {left_in_a_spool}")

        self.assertTrue(set(load.statuses()) <= {200, 503}, f"unexpected answers {load.statuses()}")
        self.assertGreater(counts["200"], self.requests_before_kill / 2)
        self.assertEqual(counts["missing"], 0, f"acknowledged but not in Redis: {missing[:5]}")
        self.assertEqual(counts["duplicated"], 0, "an event queued twice: nginx repeated a POST?")
        self.assertEqual(counts["out of order"], 0, "events of one client stored out of order")
        # nginx passes new requests to the live handler: all answered 200, and there were many.
        self.assertGreaterEqual(len(after), 100, "too few requests after the kill to tell")
        self.assertEqual(after_statuses, {200: len(after)},
                         f"requests sent after the kill not all 200: {dict(after_statuses)}")
        self.assertNotIn(a.address, served_after, "handlera answered a request sent after its kill")
        self.assertEqual(set(served_before), {a.address, b.address}, "both handlers served before the kill")

        left = hosts.close_and_check(self.net)
        self.assertEqual(left, [], "left behind by the test")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("handler_hosts: SKIPPED: needs root, to make network namespaces (CI runs as root)", file=sys.stderr)
        sys.exit(77)
    harness.main()
