"""test_limits.py -- body size limits: nginx's 413 as JSON, the handler's own 413, and bodies at the limit."""
import json
import re
import socket
import time

import harness

LIMIT = 4096


def body_of_size(size, event_type="limit_test"):
    """A valid notification of exactly `size` bytes: one item whose Message pads it out."""
    head = ('{"CommunityName":"limits","EventType":"%s","TicketId":1,"Events":[{"Message":"'
            % event_type).encode()
    tail = b'"}]}'
    raw = head + b"A" * (size - len(head) - len(tail)) + tail
    assert len(raw) == size and json.loads(raw)
    return raw


class LimitTest(harness.StackTest):

    def upstream_of(self, r):
        """The `upstream=` field of the request's access-log line: "-" when nginx answered alone."""
        line = self.stack.access_log_line(r.request_id)
        self.assertIsNotNone(line, f"no access-log line for {r.request_id}")
        return re.search(r" upstream=(\S+)", line).group(1)

    def assertStoredOnce(self, raw):
        r = self.stack.post(raw)
        self.assertEqual((r.status, r.json()), (200, {"stored": 1}), self.why(r))
        element = self.stack.redis_cmd("RPOP", self.stack.queue_key("limit_test"))
        self.assertEqual(harness.member_bytes(element, "event"),
                         harness.array_items(harness.member_bytes(raw, "Events"))[0])

    def raw_exchange(self, head, chunks):
        """Send `head` and then `chunks` over TLS without finishing the body; return the status
        line nginx sends and how long it took. Shows nginx answers before the body ends."""
        context = self.stack.tls_context()
        with socket.create_connection(("127.0.0.1", self.stack.https_port), timeout=10) as plain:
            with context.wrap_socket(plain, server_hostname="localhost") as tls:
                started = time.monotonic()
                tls.sendall(head)
                for chunk in chunks:
                    tls.sendall(chunk)
                answer = tls.recv(4096)
                return answer, time.monotonic() - started


class NginxLimit(LimitTest):
    """nginx and the handler share the limit, so nginx refuses first."""
    stack_options = {"max_body_bytes": LIMIT}

    def test_a_body_over_the_limit_gets_a_json_413_from_nginx(self):
        r = self.stack.post(body_of_size(LIMIT + 1))
        self.assertJsonError(r, 413, "body_too_large")
        self.assertEqual(self.upstream_of(r), "-", "the handler saw a body nginx should refuse")
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:queue:*"), [])

    def test_a_huge_declared_body_is_refused_before_it_is_sent(self):
        head = (b"POST /webhooks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (64 << 20))
        answer, seconds = self.raw_exchange(head, [b"{" + b" " * 1000])
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])
        self.assertIn(b'"error":"body_too_large"', answer)
        self.assertLess(seconds, 5)

    def test_a_chunked_body_is_refused_once_it_passes_the_limit(self):
        head = (b"POST /webhooks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (3000, b" " * 3000)
        answer, _ = self.raw_exchange(head, [chunk, chunk])   # 6000 bytes, no final chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])
        self.assertIn(b'"error":"body_too_large"', answer)

    def test_bodies_just_under_and_at_the_limit_are_stored(self):
        for size in (LIMIT - 1, LIMIT):
            with self.subTest(size=size):
                self.assertStoredOnce(body_of_size(size))


class HandlerLimit(LimitTest):
    """nginx lets more through than the handler takes: the handler's own 413 must hold."""
    stack_options = {"max_body_bytes": LIMIT, "nginx_max_body_bytes": 4 * LIMIT}

    def test_a_body_over_the_handlers_limit_gets_its_own_413(self):
        raw = body_of_size(LIMIT + 1000)
        r = self.stack.post(raw)
        self.assertJsonError(r, 413, "body_too_large")
        self.assertNotEqual(self.upstream_of(r), "-", "nginx answered, not the handler")
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:queue:*"), [])
        record = json.loads(self.stack.redis_cmd("LINDEX", f"{self.stack.prefix}:rejected", 0) or b"{}")
        self.assertEqual(record.get("request_id"), r.request_id, "413 not kept in rejected")
        self.assertEqual((record["status"], record["reason"], record["body_bytes"]),
                         (413, "body_too_large", len(raw)))

    def test_a_body_at_the_handlers_limit_is_stored(self):
        self.assertStoredOnce(body_of_size(LIMIT))


if __name__ == "__main__":
    harness.main()
