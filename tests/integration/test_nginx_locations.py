"""test_nginx_locations.py -- nginx/boardhook-location.conf: /healthz and /metrics for the local host only; rate limits never touch webhook POSTs.

Linux routes all of 127.0.0.0/8 to the loopback device, so a client bound to 127.0.0.2 is "another
host" to nginx (which allows 127.0.0.1 and ::1 only) without leaving the machine. Each flood comes
from an address of its own, so the limits it fills do not spill into the other tests.
"""
import http.client
import re
import socket
import time

import harness


class FromAddress(http.client.HTTPSConnection):
    """HTTPS to nginx on 127.0.0.1 from the local address `source`, checking the name localhost."""

    def __init__(self, port, context, source):
        super().__init__("localhost", port, context=context, timeout=15)
        self.tls_context, self.source = context, source

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout, (self.source, 0))
        self.sock = self.tls_context.wrap_socket(sock, server_hostname="localhost")


class Locations(harness.StackTest):

    def request(self, source, method, target, body=None, headers=None):
        conn = FromAddress(self.stack.https_port, self.stack.tls_context(), source)
        started = time.monotonic()
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.headers, r.read(), time.monotonic() - started)
        finally:
            conn.close()

    def upstream_of(self, r):
        """The access log's `upstream=` for the request: "-" when nginx answered alone."""
        line = self.stack.access_log_line(r.request_id)
        self.assertIsNotNone(line, f"no access-log line for {r.request_id}")
        return re.search(r" upstream=(\S+)", line).group(1)

    def test_healthz_and_metrics_reach_the_handler_from_the_local_host(self):
        for path in ("/healthz", "/metrics"):
            with self.subTest(path=path):
                r = self.request("127.0.0.1", "GET", path)
                self.assertNotEqual(self.upstream_of(r), "-", self.why(r))
                self.assertNotEqual(r.body, self.forbidden_body(), self.why(r))

    def test_healthz_and_metrics_are_refused_to_other_hosts_and_methods(self):
        for source, method, path in (("127.0.0.2", "GET", "/healthz"), ("127.0.0.2", "GET", "/metrics"),
                                     ("127.0.0.1", "POST", "/healthz"), ("127.0.0.1", "POST", "/metrics")):
            with self.subTest(source=source, method=method, path=path):
                r = self.request(source, method, path, body=b"{}" if method == "POST" else None)
                self.assertJsonError(r, 403, "forbidden")
                self.assertEqual(self.upstream_of(r), "-", "the handler saw a refused request")
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:*"), [], "a refused request touched Redis")

    def forbidden_body(self):
        return b'{"error":"forbidden","detail":"this path is served to the local host only, for GET"}'

    def test_repeated_non_post_requests_get_a_json_429_but_webhook_posts_never_do(self):
        source = "127.0.0.3"
        statuses = []
        for n in range(45):
            r = self.request(source, "GET", f"/webhooks?challenge={n}&verifyToken={self.stack.token}")
            statuses.append(r.status)
            if r.status == 429:
                self.assertJsonError(r, 429, "too_many_requests")
                self.assertEqual(r.header("Retry-After"), "1", self.why(r))
                self.assertEqual(self.upstream_of(r), "-", "a limited request reached the handler")
            else:
                self.assertEqual((r.status, r.body), (200, str(n).encode()), self.why(r))
        self.assertEqual(statuses[:20], [200] * 20, "the burst of 20 was limited")
        self.assertIn(429, statuses, "45 GETs in a row were never limited")

        # The same address, its limit exhausted: every POST is still taken.
        raw = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        queue = self.stack.queue_key("ticket_status_change")
        before = self.stack.redis_cmd("LLEN", queue)
        for _ in range(60):
            r = self.request(source, "POST", "/webhooks", raw, {"Content-Type": "application/json"})
            self.assertEqual((r.status, r.json()), (200, {"stored": 1}), self.why(r))
        self.assertEqual(self.stack.redis_cmd("LLEN", queue) - before, 60)

    def test_probing_other_paths_is_limited_too(self):
        source = "127.0.0.4"
        statuses = [self.request(source, "GET", f"/probe-{n}").status for n in range(45)]
        self.assertEqual(set(statuses[:20]), {404}, statuses)
        self.assertIn(429, statuses, "45 probes in a row were never limited")
        r = self.request(source, "POST", "/webhook", b"{}")   # a POST, but not to the webhook
        self.assertJsonError(r, 429, "too_many_requests")


if __name__ == "__main__":
    harness.main()
