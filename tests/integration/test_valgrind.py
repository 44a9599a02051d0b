"""test_valgrind.py -- the handler under valgrind through a short mixed run: no definite leak, no memory error.

Verification GETs (good and bad), good and bad POSTs, a method it refuses, a body over its own limit,
concurrent POSTs, SIGHUP, /healthz and /metrics, then Redis stopped (events spooled) and started
again (the spool drained). The handler then gets SIGTERM and leaves through _exit() with threads still parked on
kept connections, which skips destructors: blocks still reachable or "possibly lost" then are
expected; only "definitely lost" and real errors (invalid reads, uninitialised values...) count.
Registered for the normal build only: a sanitized binary cannot run under valgrind.
"""
import concurrent.futures
import re
import shutil
import signal

import harness

GOOD = [harness.FIXTURES / "ticket_status_change.json", harness.FIXTURES / "note_deletion.json",
        *sorted((harness.FIXTURES / "variants").glob("*.json"))]
BAD = sorted((harness.FIXTURES / "bad").glob("*.json"))
MAX_BODY = 65536   # the handler's own limit; nginx lets more through, so the handler's 413 runs too

VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--error-exitcode=99", "--num-callers=40", "--track-origins=yes"]


class UnderValgrind(harness.StackTest):
    stack_options = {"spool": True, "max_body_bytes": MAX_BODY, "nginx_max_body_bytes": 4 * MAX_BODY,
                     "handler_wrapper": [shutil.which("valgrind") or "valgrind", *VALGRIND[1:]],
                     "handler_env": {"BOARDHOOK_REDIS_TIMEOUT_MS": "1000"}}

    def mixed_requests(self, round_no):
        """Every kind of request once; returns how many events were answered 200."""
        stack, stored = self.stack, 0
        for challenge, token, status in ((f"{round_no}4071937265", None, 200), ("1", "wrong-token", 403),
                                         ("x" * 300, None, 400), ("a\r\nb", None, 400)):
            r = stack.verify(challenge, token)
            self.assertEqual(r.status, status, self.why(r))
        r = stack.request("GET", f"/webhooks?verifyToken={stack.token}&challenge=1&challenge=2")
        self.assertEqual(r.status, 400, self.why(r))
        for path in GOOD:
            r = stack.post(path.read_bytes())
            self.assertEqual(r.status, 200, self.why(r))
            stored += r.json()["stored"]
        for path in BAD:
            self.assertEqual(stack.post(path.read_bytes()).status, 400, path.name)
        r = stack.post(b'{"CommunityName":"c","EventType":"t","Events":[{"m":"' + b"A" * MAX_BODY + b'"}]}')
        self.assertEqual(r.status, 413, self.why(r))
        self.assertEqual(stack.request("PUT", "/webhooks", body=b"{}").status, 405)
        # Several at once: the FastCGI threads, and with Redis away the spool's shared fdatasync.
        body = GOOD[0].read_bytes()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: stack.post(body).status, range(24)))
        self.assertEqual(statuses, [200] * 24)
        return stored + 24

    def test_a_mixed_run_leaks_nothing_definitely_and_has_no_memory_errors(self):
        stack = self.stack
        stored = self.mixed_requests(1)
        for path in ("/healthz", "/metrics"):
            stack.request("GET", path)
        stack.handler.signal(signal.SIGHUP)   # re-reads the token file

        # Redis away: events go to the spool; back: the drainer moves them into Redis.
        self.assertEqual(stack.redis.stop(), 0)
        stored += self.mixed_requests(2)
        stack.start_redis()
        self.assertTrue(stack.wait_until_spool_empty(60), self.why())
        stored += self.mixed_requests(3)
        queued = sum(stack.redis_cmd("LLEN", key) for key in stack.keys(f"{stack.prefix}:queue:*"))
        self.assertEqual(queued, stored, "events answered 200 are missing from Redis")

        code = stack.handler.stop(timeout=120)
        log = stack.handler_log()
        summary = "\n".join(line for line in log.splitlines() if line.startswith("==")) or log[-3000:]
        self.assertNotEqual(code, 99, f"valgrind found errors or definite leaks:\n{summary}")
        self.assertEqual(code, 0, f"the handler did not exit 0 on SIGTERM under valgrind:\n{summary}")
        self.assertIn("ERROR SUMMARY: 0 errors", log, summary)
        lost = re.search(r"definitely lost: ([\d,]+) bytes", log)
        self.assertTrue(lost is None or lost.group(1) == "0", summary)


if __name__ == "__main__":
    harness.main()
