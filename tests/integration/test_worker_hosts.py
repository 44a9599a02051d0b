"""test_worker_hosts.py -- workers on two hosts: one is cut off mid-job, the other runs its jobs after the heartbeat timeout.

Three hosts made of network namespaces (netns.py, hosts.py): `redis` (redis-server with
redis/boardhook.conf) and `workera`, `workerb` (a boardhook-worker each, --heartbeat-timeout 3).
The queue holds N events; each worker's command takes a few seconds and then writes the event's
id to a file on its own host (a cut host cannot reach Redis, so the record stays local and is
read at the end). While workera holds jobs, its host is cut off from every other host. Then:
workerb moves workera's jobs back to the queue once workera's heartbeat has expired and runs
them; every event has run at least once (the union of both hosts' records), only the jobs
workera held can have run twice, and no queue, processing list, retry set, dead letter or
attempts counter is left. Healed, workera's late acknowledgement of what it finished finds its
jobs gone (LREM removes nothing), and SIGTERM stops it cleanly. Prints events, run once, run twice.

Needs root (network namespaces, iptables); exits 77 (CTest's SKIP_RETURN_CODE) otherwise.
KEEP=1 keeps the folder (logs, each host's record).
Run: sudo /usr/bin/python3 tests/integration/test_worker_hosts.py --worker build/test/boardhook-worker
"""
import collections
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
from pathlib import Path

import harness
import hosts
import netns
from redis_cluster import wait_until

EVENT_TYPE = "ticket_status_change"


def say(text):
    print(f"worker_hosts: {text}", file=sys.stderr, flush=True)


class WorkerHosts(unittest.TestCase):
    events = 20
    concurrency = 4
    job_seconds = 2.5          # long enough that workera is mid-job when its host is cut off
    heartbeat_timeout = 3
    recording = ("workera", "workerb")   # the hosts whose command records the events it ran

    def setUp(self):
        started = time.monotonic()
        self.folder = Path(tempfile.mkdtemp(prefix=f"boardhook-{self._testMethodName}-"))
        self.addCleanup(self.remove_folder)
        self.net = netns.Network(self._testMethodName)
        self.addCleanup(self.net.close)   # also on failure; a second close() is a no-op
        self.net.start()
        self.redis = hosts.RedisServer(self.net.add_host("redis"), self.folder).start()
        self.worker_hosts = [self.net.add_host(name) for name in ("workera", "workerb")]
        say(f"redis and 2 worker hosts up in {time.monotonic() - started:.1f} s")

    def remove_folder(self):
        if harness.KEEP:
            say(f"KEEP=1: {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

    def record_file(self, host):
        return self.folder / host.name / "ran"

    def worker(self, host):
        """A worker whose command sleeps, then appends the event id to its host's record."""
        record = self.record_file(host)
        command = f"sleep {self.job_seconds}"
        if host.name in self.recording:
            command += f' && echo "$BOARDHOOK_EVENT_ID" >> {record}'
        return hosts.Worker(host, self.folder, self.redis.url(), {EVENT_TYPE: command},
                            ["--concurrency", self.concurrency, "--heartbeat-timeout", self.heartbeat_timeout,
                             "--timeout", 30])

    def ran(self, host):
        path = self.record_file(host)
        return path.read_text().split() if path.exists() else []

    def queue_events(self):
        """N distinct envelopes, as the handler queues them; returns their ids."""
        ids = []
        for n in range(self.events):
            raw, envelope_id = harness.make_envelope(EVENT_TYPE, b'{"Seq":%d}' % n, ticket_id=500000 + n,
                                                     delivery="%032x" % n)
            self.redis.command("LPUSH", self.redis.queue_key(EVENT_TYPE), raw)
            ids.append(envelope_id)
        self.redis.command("SADD", "boardhook:event-types", EVENT_TYPE)
        return ids

    def done_counter(self):
        return int(self.redis.command("HGET", "boardhook:counters", f"done:{EVENT_TYPE}") or 0)

    def leftovers(self):
        """Keys that would mean an event is still waiting, running, failed or half-counted."""
        return [k for pattern in ("queue", "processing", "retry", "dead", "attempts")
                for k in self.redis.keys(f"boardhook:{pattern}:*")]

    def test_a_cut_off_worker_host_has_its_jobs_run_by_the_other(self):
        host_a, host_b = self.worker_hosts
        ids = self.queue_events()
        a = self.worker(host_a).start(self.redis)
        nodes = [self.redis]   # wait_until fails at once if Redis exits
        wait_until(lambda: len(a.held(self.redis)) == self.concurrency, "workera holding a job per consumer", 10, nodes)
        b = self.worker(host_b).start(self.redis)
        wait_until(lambda: len(b.held(self.redis)) > 0, "workerb holding jobs", 10, nodes)

        held = {json.loads(e)["id"] for e in a.held(self.redis)}
        self.assertEqual(self.ran(host_a), [], "workera finished a job before the cut: make the jobs longer")
        self.net.isolate(host_a)
        cut_at = time.monotonic()
        with self.assertRaises(OSError, msg="workera still reaches Redis"):
            self.redis.command("PING", via=host_a, timeout=1)

        # The jobs workera held are moved back to the queue once its heartbeat key has expired:
        # between heartbeat_timeout - 1/3 of it (its last beat just before the cut) and the
        # timeout plus workerb's check interval (a third of the timeout) and some slack.
        wait_until(lambda: a.held(self.redis) == [], "workera's processing lists emptied", 20, nodes)
        reclaimed_after = time.monotonic() - cut_at
        self.assertGreaterEqual(reclaimed_after, self.heartbeat_timeout * 2 / 3 - 0.5, "reclaimed before the timeout")
        self.assertLess(reclaimed_after, self.heartbeat_timeout + 3)
        # Cut off, workera still finishes what it was running, and records it on its own disk.
        wait_until(lambda: set(self.ran(host_a)) >= held, "workera's jobs finished on its host",
                   self.job_seconds + 5, nodes)

        # Done: no queue, processing list, retry or attempts counter left (each is deleted when empty).
        wait_until(lambda: not self.leftovers(), "every event acknowledged by workerb", 60, nodes)
        finished_after = time.monotonic() - cut_at
        time.sleep(0.5)   # a straggler of workerb's would show here
        self.assertEqual(self.leftovers(), [], "an event left waiting, running or failed")
        runs = collections.Counter(self.ran(host_a) + self.ran(host_b))
        never = [i for i in ids if runs[i] == 0]
        twice = {i for i in ids if runs[i] == 2}
        counts = {"events": len(ids), "held by workera at the cut": len(held),
                  "run once": sum(1 for i in ids if runs[i] == 1), "run twice": len(twice),
                  "run more": sum(1 for i in ids if runs[i] > 2), "never run": len(never),
                  "by workera": len(self.ran(host_a)), "by workerb": len(self.ran(host_b))}
        say(f"{self._testMethodName}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        say(f"workera cut off; its {len(held)} jobs moved back {reclaimed_after:.1f} s later "
            f"(--heartbeat-timeout {self.heartbeat_timeout}); everything done {finished_after:.1f} s after the cut")
        self.assertEqual(never, [], "events that never ran")
        self.assertTrue(twice <= held, f"events run twice that workera never held: {twice - held}")
        self.assertEqual(counts["run more"], 0)
        self.assertEqual(set(runs) - set(ids), set(), "records of events never queued")
        self.assertIn(f"worker {a.id} stopped beating: {len(held)} job(s) it was running moved back",
                      b.log_text())

        # Healed: workera's acknowledgements get through at last and remove nothing (its jobs were
        # given back), and it takes events again. The done counter counts what reached Redis: each
        # of workera's acknowledgements once by its retry, and possibly once more, seconds later,
        # from the transaction its kernel kept retransmitting on the connection the worker had
        # given up on during the cut. Neither touches a queue or a processing list.
        done_before = self.done_counter()
        self.net.heal_all()
        healed_at = time.monotonic()
        wait_until(lambda: self.done_counter() >= done_before + len(held), "workera's acknowledgements", 30, nodes)
        back_after = time.monotonic() - healed_at
        # ... and it takes events again (logged after its next BLMOVE, up to a second later).
        wait_until(lambda: "redis reachable again" in a.log_text(), "workera taking events again", 10, nodes)
        self.assertEqual(self.leftovers(), [], "workera's return left something behind")
        self.assertEqual(a.stop(), 0, f"workera after the heal:\n{harness.tail(a.log)}")
        self.assertEqual(b.stop(), 0, f"workerb:\n{harness.tail(b.log)}")
        self.assertEqual(self.leftovers(), [])
        # A heartbeat workera sent during the cut can land after it deregistered, and put its record
        # back (without jobs; the next worker's check removes it). Nothing else may remain.
        registered = {k.decode() for k in self.redis.command("HKEYS", "boardhook:workers")}
        self.assertTrue(registered <= {a.id}, f"workers still registered: {registered}")
        say(f"heal: workera's {len(held)} acknowledgements reached Redis {back_after:.1f} s later, removing nothing "
            f"(the jobs had been given back); done:{EVENT_TYPE} = {self.done_counter()} for {len(ids)} events "
            f"({done_before} before the heal); workera then stopped with exit code 0"
            + ("; its record came back from a late heartbeat" if registered else ""))

        left = hosts.close_and_check(self.net)
        self.assertEqual(left, [], "left behind by the test")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("worker_hosts: SKIPPED: needs root, to make network namespaces (CI runs as root)", file=sys.stderr)
        sys.exit(77)
    harness.main()
