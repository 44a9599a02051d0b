"""test_processes.py -- several handler processes, crash restarts, draining stop, token rotation, /healthz, /metrics."""
import os
import re
import signal
import threading
import time
import unittest

import harness

FIXTURE = harness.FIXTURES / "ticket_status_change.json"


class Processes(harness.StackTest):
    stack_options = {"handler_args": ["--processes", "2"], "spool": True}

    def children(self):
        """PIDs of the supervisor's handler processes."""
        supervisor = self.stack.handler.pid
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        if int(stat.read().rsplit(")", 1)[1].split()[1]) == supervisor:
                            found.append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass
        return sorted(found)

    def test_a_killed_process_is_replaced_and_requests_keep_being_stored(self):
        harness.wait_for(lambda: len(self.children()) == 2, "two handler processes", self.stack.handler)
        before = self.children()
        os.kill(before[0], signal.SIGKILL)
        harness.wait_for(lambda: len(self.children()) == 2 and self.children() != before,
                         "a replacement process", self.stack.handler)
        for i in range(20):
            r = self.stack.post(FIXTURE.read_bytes())
            self.assertEqual(r.status, 200, self.why(r))
        self.assertIn("restarting it", self.stack.handler_log())

    def test_one_process_stopping_leaves_the_shared_socket_to_the_others(self):
        harness.wait_for(lambda: len(self.children()) == 2, "two handler processes", self.stack.handler)
        first, second = self.children()
        os.kill(first, signal.SIGTERM)   # as systemd or an operator might stop one instance
        harness.wait_for(lambda: first not in self.children(), "the process to stop", self.stack.handler)
        for i in range(20):
            r = self.stack.post(FIXTURE.read_bytes())
            self.assertEqual(r.status, 200, self.why(r))
        self.assertIn(second, self.children())
        self.assertNotIn("accept failed", self.stack.handler_log())

    def test_metrics_count_across_processes_and_move_with_traffic(self):
        def scrape():
            r = self.stack.request("GET", "/metrics")
            self.assertEqual(r.status, 200, self.why(r))
            self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"), self.why(r))
            return r.body.decode()
        before = scrape()
        for _ in range(6):   # spread over both processes by nginx
            self.assertEqual(self.stack.post(FIXTURE.read_bytes()).status, 200)
        self.assertEqual(self.stack.post(b"{not json").status, 400)
        after = scrape()
        self.assertEqual(harness.metric(after, "boardhook_requests_total", 'method="POST",status="200"')
                         - harness.metric(before, "boardhook_requests_total", 'method="POST",status="200"'), 6)
        self.assertEqual(harness.metric(after, "boardhook_events_stored_total", 'event_type="ticket_status_change"')
                         - harness.metric(before, "boardhook_events_stored_total", 'event_type="ticket_status_change"'), 6)
        self.assertEqual(harness.metric(after, "boardhook_redis_write_seconds_count")
                         - harness.metric(before, "boardhook_redis_write_seconds_count"), 6)
        self.assertEqual(harness.metric(after, "boardhook_rejected_total", 'reason="invalid_json"')
                         - harness.metric(before, "boardhook_rejected_total", 'reason="invalid_json"'), 1)
        # One after the other, each POST's write was a batch of its own.
        self.assertEqual(harness.metric(after, "boardhook_redis_batches_total")
                         - harness.metric(before, "boardhook_redis_batches_total"), 6)
        self.assertEqual(harness.metric(after, "boardhook_redis_batched_requests_total")
                         - harness.metric(before, "boardhook_redis_batched_requests_total"), 6)
        self.assertEqual(harness.metric(after, "boardhook_handler_processes"), 2)
        self.assertGreater(harness.metric(after, "process_start_time_seconds"), time.time() - 3600)
        self.assertIn("boardhook_spool_records 0\n", after)

    def test_healthz_says_which_store_works(self):
        r = self.stack.request("GET", "/healthz")
        self.assertEqual((r.status, r.json()["status"], r.json()["redis"]), (200, "ok", "ok"), self.why(r))
        self.stack.redis.stop()
        try:
            r = self.stack.request("GET", "/healthz")
            body = r.json()
            self.assertEqual((r.status, body["status"], body["spool"]), (200, "degraded", "ok"), self.why(r))
            self.assertNotEqual(body["redis"], "ok")
        finally:
            self.stack.start_redis()

    def test_health_and_metrics_refuse_other_methods(self):
        r = self.stack.request("POST", "/healthz", body=b"{}")
        self.assertIn(r.status, (403, 405), self.why(r))


class HealthWithoutSpool(harness.StackTest):
    def test_healthz_is_503_when_nothing_can_store(self):
        self.stack.redis.stop()
        try:
            r = self.stack.request("GET", "/healthz")
            self.assertEqual(r.status, 503, self.why(r))
            self.assertEqual(r.json()["status"], "unavailable")
            self.assertTrue(r.header("Retry-After"))
        finally:
            self.stack.start_redis()


class DrainingStop(unittest.TestCase):
    def setUp(self):
        self.stack = harness.Stack("DrainingStop", handler_args=["--processes", "2"],
                                   handler_env={"BOARDHOOK_REDIS_TIMEOUT_MS": "6000"})
        self.addCleanup(self.stack.stop)
        self.stack.start()

    def test_sigterm_lets_requests_in_flight_finish_with_200(self):
        raw = FIXTURE.read_bytes()
        self.assertEqual(self.stack.post(raw).status, 200)
        # Hold Redis so that requests are certainly in flight when the handler is told to stop.
        self.stack.redis.signal(signal.SIGSTOP)
        results = []

        def post():
            results.append(self.stack.post(raw, timeout=30))
        threads = [threading.Thread(target=post) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        self.stack.handler.signal(signal.SIGTERM)
        time.sleep(1.0)
        self.stack.redis.signal(signal.SIGCONT)
        for thread in threads:
            thread.join(30)
        self.assertEqual([r.status for r in results], [200] * 6,
                         [str(r) for r in results if r.status != 200] or self.stack.why())
        self.assertEqual(self.stack.handler.popen.wait(20), 0, self.stack.why())
        stored = self.stack.redis_cmd("LLEN", self.stack.queue_key("ticket_status_change"))
        self.assertEqual(stored, 7)
        self.assertIn("stopped", self.stack.handler_log())


class TokenRotation(harness.StackTest):
    def test_sighup_rereads_the_token_file_and_both_tokens_work_during_rotation(self):
        token_file = self.stack.dir / "verify-token"
        old = self.stack.token
        self.assertEqual(self.stack.verify("1", token=old).status, 200)
        token_file.write_text(f"{old},rotated-token-2026\n")
        self.stack.handler.signal(signal.SIGHUP)
        harness.wait_for(lambda: self.stack.verify("2", token="rotated-token-2026").status == 200,
                         "the new token", self.stack.handler)
        self.assertEqual(self.stack.verify("3", token=old).status, 200)
        token_file.write_text("rotated-token-2026\n")
        self.stack.handler.signal(signal.SIGHUP)
        harness.wait_for(lambda: self.stack.verify("4", token=old).status == 403, "the old token refused",
                         self.stack.handler)
        r = self.stack.verify("5", token="rotated-token-2026")
        self.assertEqual((r.status, r.body), (200, b"5"), self.why(r))
        token_file.write_text("")   # a broken file keeps the tokens in force
        self.stack.handler.signal(signal.SIGHUP)
        harness.wait_for(lambda: "keeping the current tokens" in self.stack.handler_log(), "the refusal",
                         self.stack.handler)
        self.assertEqual(self.stack.verify("6", token="rotated-token-2026").status, 200)
        self.assertNotIn("rotated-token-2026", self.stack.handler_log())


if __name__ == "__main__":
    harness.main()
