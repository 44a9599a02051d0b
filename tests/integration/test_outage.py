"""test_outage.py -- Redis slow, down and back; the handler down and back: never a 200 for an unstored event."""
import json
import signal
import time

import harness

FIXTURE = harness.FIXTURES / "note_deletion.json"
TIMEOUT_MS = 500   # BOARDHOOK_REDIS_TIMEOUT_MS here, so a hung Redis costs little test time


class RedisOutage(harness.StackTest):
    stack_options = {"handler_env": {"BOARDHOOK_REDIS_TIMEOUT_MS": str(TIMEOUT_MS)}}

    def assertUnavailable(self, r, seconds):
        self.assertJsonError(r, 503, "storage_unavailable")
        self.assertRegex(r.header("Retry-After") or "", r"^[1-9][0-9]*$", self.why(r))
        self.assertLess(r.elapsed, seconds, "answer took too long")

    def assertStored(self, r):
        self.assertEqual((r.status, r.json()), (200, {"stored": 1}), self.why(r))

    def deliveries(self):
        queue = self.stack.queue_key("note_deletion")
        return [json.loads(e)["delivery"] for e in self.stack.redis_cmd("LRANGE", queue, 0, -1)]

    def test_redis_slow_down_and_back(self):
        raw = FIXTURE.read_bytes()
        before = self.stack.post(raw)
        self.assertStored(before)
        handler_pid = self.stack.handler.pid

        # Slow: Redis stops answering (SIGSTOP). The handler must give up in time.
        self.stack.redis.signal(signal.SIGSTOP)
        try:
            self.assertUnavailable(self.stack.post(raw), 3 * TIMEOUT_MS / 1000 + 2)
            self.assertEqual(self.stack.verify("1001").body, b"1001")
        finally:
            self.stack.redis.signal(signal.SIGCONT)
        for _ in range(5):   # the context that timed out must not be reused out of step
            self.assertStored(self.stack.post(raw))

        # Down: Redis stopped.
        self.assertEqual(self.stack.redis.stop(), 0)
        for _ in range(5):
            self.assertUnavailable(self.stack.post(raw), 5)
        r = self.stack.verify("1002")
        self.assertEqual((r.status, r.body), (200, b"1002"), self.why(r))

        # Back: same port and data folder; the handler reconnects by itself.
        self.stack.start_redis()
        self.assertIn(before.request_id, self.deliveries(), "the event acknowledged before is lost")
        count = len(self.deliveries())
        for i in range(20):
            with self.subTest(after_restart=i):
                self.assertStored(self.stack.post(raw))
        self.assertEqual(len(self.deliveries()), count + 20)
        self.assertTrue(self.stack.handler.alive())
        self.assertEqual(self.stack.handler.pid, handler_pid)

    def test_handler_starts_while_redis_is_down(self):
        raw = FIXTURE.read_bytes()
        self.assertEqual(self.stack.handler.stop(), 0, "handler did not exit 0 on SIGTERM")
        self.assertEqual(self.stack.redis.stop(), 0)
        self.stack.start_handler()
        r = self.stack.verify("2001")
        self.assertEqual((r.status, r.body), (200, b"2001"), self.why(r))
        self.assertUnavailable(self.stack.post(raw), 5)
        self.stack.start_redis()
        self.assertStored(self.stack.post(raw))


class HandlerOutage(harness.StackTest):

    def test_handler_down_is_a_json_503_from_nginx_and_back(self):
        raw = FIXTURE.read_bytes()
        self.assertEqual(self.stack.post(raw).status, 200)
        self.assertEqual(self.stack.handler.stop(), 0, "handler did not exit 0 on SIGTERM")
        for r in (self.stack.post(raw), self.stack.verify("3001")):
            self.assertJsonError(r, 503, "handler_unavailable")
            self.assertEqual(r.header("Retry-After"), "5", self.why(r))
        self.stack.start_handler()
        r = self.stack.post(raw)
        self.assertEqual((r.status, r.json()), (200, {"stored": 1}), self.why(r))


class SpooledOutage(harness.StackTest):
    """With BOARDHOOK_SPOOL_DIR, an event Redis cannot take is fsync'd to disk, answered 200, and
    delivered once Redis is back, even by a later handler process."""
    stack_options = {"spool": True, "handler_env": {"BOARDHOOK_REDIS_TIMEOUT_MS": str(TIMEOUT_MS)}}

    def test_events_taken_while_redis_is_down_reach_the_queue_in_order(self):
        items, sent = [], []
        self.assertEqual(self.stack.redis.stop(), 0)
        for n in range(4):
            item = b'{"NoteId": %d}' % (700 + n)
            r = self.stack.post(b'{"CommunityName":"c","EventType":"note_deletion","TicketId":7,'
                                b'"Events":[%s]}' % item)
            self.assertEqual((r.status, r.json()), (200, {"stored": 1}), self.why(r))
            items.append(item)
            sent.append(r.request_id)
            if n == 1:   # a crash with a backlog: the next process must deliver it
                self.stack.handler.signal(signal.SIGKILL)
                self.stack.handler.stop()
                self.stack.start_handler()
        self.stack.start_redis()
        queue = self.stack.queue_key("note_deletion")
        deadline = time.monotonic() + 15
        while self.stack.redis_cmd("LLEN", queue) < len(items) and time.monotonic() < deadline:
            time.sleep(0.1)
        stored = self.stack.redis_cmd("LRANGE", queue, 0, -1)[::-1]   # oldest first
        self.assertEqual([json.loads(e)["delivery"] for e in stored], sent, self.why())
        self.assertEqual([harness.member_bytes(e, "event") for e in stored], items)


if __name__ == "__main__":
    harness.main()
