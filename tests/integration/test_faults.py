"""test_faults.py -- fault injection under load: no event answered 200 is ever lost.

Each test drives real nginx, handler and redis-server with loadgen.LoadGenerator, breaks
something (Redis stopped or killed, the handler killed, the spool torn or full, a Redis that
may evict), and then compares every acknowledged event with what Redis holds once the spool
has drained. The counts are printed at the end of each test.
"""
import os
import sys
import time
import unittest

import harness
import loadgen


class FaultTest(unittest.TestCase):
    redis_args = ()
    handler_env = {}

    def setUp(self):
        self.stack = harness.Stack(self.id().split(".")[-1], spool=True, redis_args=self.redis_args,
                                   handler_env={"BOARDHOOK_REDIS_TIMEOUT_MS": "500", **self.handler_env})
        self.addCleanup(self.stack.stop)
        self.stack.start()

    def settle_and_reckon(self, load, allowed_statuses=(200, 503)):
        """Waits for the spool to drain, prints the counts, and asserts nothing acknowledged is
        missing, nothing is out of order, and every answer was an allowed status."""
        self.assertTrue(self.stack.wait_until_spool_empty(), f"spool never drained: {self.stack.why()}")
        counts, missing = load.reckon(loadgen.stored_ids(self.stack))
        print(f"\n{self.id()}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
        statuses = load.statuses()
        self.assertTrue(set(statuses) <= set(allowed_statuses), f"unexpected answers {statuses}")
        self.assertGreater(counts["200"], 0, "no request was acknowledged at all")
        self.assertEqual(counts["missing"], 0, f"acknowledged but not stored: {missing[:5]} {self.stack.why()}")
        self.assertEqual(counts["out of order"], 0, "events of one client stored out of order")
        return counts


class RedisStoppedUnderLoad(FaultTest):
    def test_every_acknowledged_event_arrives_after_redis_returns(self):
        handler_pid = self.stack.handler.pid
        load = loadgen.LoadGenerator(self.stack, clients=4).start()
        try:
            load.wait_for_requests(100)
            self.assertEqual(self.stack.redis.stop(), 0)
            time.sleep(2)
            self.stack.start_redis()
            sent_before = len(load.sent)
            load.wait_for_requests(sent_before + 200)
        finally:
            load.stop()
        counts = self.settle_and_reckon(load)
        self.assertEqual(counts["503"], 0, "the spool should have taken every event while Redis was away")
        self.assertIn("spooled to disk", self.stack.handler_log(), "the outage never reached the spool")
        self.assertEqual(self.stack.handler.pid, handler_pid, "the handler was restarted")


class HandlerKilledUnderLoad(FaultTest):
    def test_sigkill_and_restart_lose_nothing(self):
        load = loadgen.LoadGenerator(self.stack, clients=4).start()
        kills = 0
        try:
            for round_number in range(6):
                time.sleep(0.6)
                if round_number == 2:   # part of the time Redis is away, so a kill hits the spool
                    self.stack.redis.stop()
                if round_number == 4:
                    self.stack.start_redis()
                self.stack.kill_handler()
                kills += 1
                self.stack.start_handler()
            time.sleep(1)
        finally:
            load.stop()
        self.assertEqual(kills, 6)
        counts = self.settle_and_reckon(load)
        self.assertIn("spooled to disk", self.stack.handler_log())


class RedisKilledWithAppendfsyncAlways(FaultTest):
    redis_args = ("--appendfsync", "always")

    def test_sigkill_of_redis_loses_nothing(self):
        load = loadgen.LoadGenerator(self.stack, clients=4).start()
        try:
            load.wait_for_requests(150)
            self.stack.redis.popen.kill()
            self.stack.redis.popen.wait()
            load.wait_for_requests(len(load.sent) + 50)
            self.stack.start_redis()
            load.wait_for_requests(len(load.sent) + 150)
        finally:
            load.stop()
        self.settle_and_reckon(load)


class TornSpoolRecord(FaultTest):
    def test_a_torn_tail_is_reported_and_the_records_before_it_delivered(self):
        self.stack.redis.stop()
        load = loadgen.LoadGenerator(self.stack)
        acknowledged = []
        for seq in range(5):
            raw, sent = load.body(0, seq)
            r = self.stack.post(raw)
            self.assertEqual(r.status, 200, self.stack.why(r))
            acknowledged.append(sent)
        self.assertEqual(self.stack.handler.stop(), 0)
        segments = sorted((self.stack.dir / "spool").glob("seg-*.spool"))
        self.assertEqual(len(segments), 1, segments)
        size = segments[0].stat().st_size
        os.truncate(segments[0], size - 10)   # the last record loses its end, as in a crash

        self.stack.start_redis()
        result = self.stack.run_handler_command("--drain-spool")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stderr, r"torn record at byte \d+")
        stored = loadgen.stored_ids(self.stack)
        expected = {t: [i for s in acknowledged[:4] if s.event_type == t for i in s.ids] for t in loadgen.EVENT_TYPES}
        self.assertEqual(stored, expected)
        self.assertEqual(list((self.stack.dir / "spool").glob("seg-*")), [])


class SpoolFull(FaultTest):
    handler_env = {"BOARDHOOK_SPOOL_MAX_BYTES": "1M"}

    def test_a_full_spool_answers_503_and_keeps_what_it_acknowledged(self):
        self.stack.redis.stop()
        load = loadgen.LoadGenerator(self.stack, padding=60_000)
        statuses = []
        for seq in range(40):
            raw, sent = load.body(0, seq)
            r = self.stack.post(raw)
            sent.status = r.status
            load.sent.append(sent)
            statuses.append(r.status)
            if r.status == 503:
                self.assertEqual(r.json()["error"], "storage_unavailable", self.stack.why(r))
                self.assertTrue(r.header("Retry-After"))
                break
        self.assertIn(503, statuses, "the spool never filled up")
        self.assertGreater(statuses.count(200), 3)
        self.assertIn("the spool is full", self.stack.handler_log())
        self.stack.start_redis()
        self.settle_and_reckon(load)


class RedisThatMayEvict(FaultTest):
    redis_args = ("--maxmemory-policy", "allkeys-lru")

    def test_the_handler_refuses_to_queue_there_and_says_why(self):
        raw, sent = loadgen.LoadGenerator(self.stack).body(0, 0)
        r = self.stack.post(raw)
        self.assertEqual(r.status, 200, self.stack.why(r))   # spooled instead
        self.assertEqual(self.stack.keys(self.stack.queue_key("*")), [])
        self.assertIn('maxmemory-policy is "allkeys-lru", not "noeviction"', self.stack.handler_log())
        self.assertEqual(self.stack.spool_status()["records"], 1)

        self.stack.redis_cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
        self.assertTrue(self.stack.wait_until_spool_empty())
        stored = loadgen.stored_ids(self.stack)
        self.assertEqual(stored[sent.event_type], sent.ids)


if __name__ == "__main__":
    harness.main()
