"""test_hostile.py -- hostile input through real nginx: bad bodies, limits, slow and chunked bodies,
deep nesting, control characters in the challenge, odd methods, long query strings, duplicate
parameters, and the handler's memory after 11,000 such requests.

Every case checks the status (and JSON reason) it gets, that no queue gains what it should not,
and that each POST the handler refuses is kept in <prefix>:rejected. Where nginx answers by
itself, the test pins down exactly what nginx sends today; the test_nginx_own_* tests state what
the README promises ("error bodies are always {"error","detail"}") as expected failures.

nginx limits every request that is not a POST to 5 a second per client address (burst 20), so
each raw request here comes from a fresh address in 127.77.0.0/16 (Linux routes all of
127.0.0.0/8 to the loopback device); the rate limit itself is test_nginx_locations' business.
"""
import datetime
import email.parser
import http.client
import itertools
import json
import re
import socket
import threading
import time
import urllib.parse

import harness

LIMIT = 65536                  # BOARDHOOK_MAX_BODY_BYTES (and client_max_body_size) in these tests
KEPT = 65536                   # the most of a body a rejected record keeps (README)
REJECTED_KEEP = 1000           # BOARDHOOK_REJECTED_KEEP's default
SLOW_TYPE = "hostile_slow"     # the one event type the background slow client may store
CLIENT_BODY_TIMEOUT = 10       # nginx/boardhook.conf.in's client_body_timeout, in seconds

_addresses = itertools.count(1)
_addresses_lock = threading.Lock()


def fresh_source():
    """A loopback address no earlier request used, so that nginx's per-address limit never counts
    two test requests together."""
    with _addresses_lock:
        n = next(_addresses)
    return f"127.77.{n // 250}.{n % 250 + 1}"


def connect_tls(stack, source, timeout):
    plain = socket.create_connection(("127.0.0.1", stack.https_port), timeout, (source, 0))
    try:
        return stack.tls_context().wrap_socket(plain, server_hostname="localhost")
    except BaseException:
        plain.close()
        raise


def request_bytes(method, target, body=None, headers=(), content_length=None):
    """An HTTP/1.1 request that asks nginx to close the connection after answering. It declares
    Content-Length (of `body`, or `content_length`) unless `headers` already frame the body."""
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close", *headers]
    framed = any(h.lower().startswith(("transfer-encoding:", "content-length:")) for h in headers)
    if content_length is not None or (body is not None and not framed):
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def chunked(raw, sizes=(1, 2, 3, 5, 8, 13, 100, 1000)):
    """`raw` as a chunked body, in chunks of the given sizes (cycled), one with an extension."""
    out, i = [], 0
    for n, size in enumerate(itertools.cycle(sizes)):
        if i >= len(raw):
            break
        piece = raw[i:i + size]
        extension = b";hostile=1" if n == 3 else b""
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), extension, piece))
        i += size
    return b"".join(out) + b"0\r\n\r\n"


class RawAnswer(harness.Response):
    """What came back on one connection: the status, the header block as sent, the body.
    header(), request_id and json() are harness.Response's."""

    def __init__(self, data, elapsed, source, send_error=None, read_error=None):
        self.data, self.elapsed, self.source = data, elapsed, source
        self.send_error, self.read_error = send_error, read_error
        head, separator, body = data.partition(b"\r\n\r\n")
        self.head = head if separator else b""
        self.body = body if separator else b""
        match = re.match(rb"HTTP/1\.1 (\d{3}) ", self.head)
        self.status = int(match.group(1)) if match else None
        header_lines = self.head.split(b"\r\n", 1)[1] if b"\r\n" in self.head else b""
        self.headers = email.parser.BytesParser(_class=http.client.HTTPMessage).parsebytes(
            header_lines + b"\r\n\r\n", headersonly=True)

    def __str__(self):
        return (f"from {self.source} in {self.elapsed:.2f} s: {len(self.data)} bytes "
                f"(send error {self.send_error!r}, read error {self.read_error!r}):\n"
                f"{self.head.decode('latin-1')}\n\n{self.body[:300]!r}")


def exchange(stack, head, parts=(), source=None, timeout=30, head_only=False):
    """Send `head`, then each of `parts`, then read the answer: up to the
    end of its Content-Length (of its headers only when `head_only`), or until nginx closes.
    nginx may answer and close before everything is sent (a 413, a 414): the error is kept."""
    source = source or fresh_source()
    send_error = read_error = None
    data = b""
    started = time.monotonic()
    with connect_tls(stack, source, timeout) as tls:
        try:
            tls.sendall(head)
            for part in parts:
                tls.sendall(part)
        except OSError as error:
            send_error = error
        try:
            while not answer_complete(data, head_only):
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as error:   # a reset after (or instead of) the answer
            read_error = error
    return RawAnswer(data, time.monotonic() - started, source, send_error, read_error)


def answer_complete(data, head_only):
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    if head_only:
        return True
    length = re.search(rb"\r\nContent-Length: *(\d+)", head, re.IGNORECASE)
    return bool(length) and len(body) >= int(length.group(1))


def body_of_size(size, event_type="hostile_limit"):
    """The README's huge-string case at exactly `size` bytes: Events[0].Ticket.Message pads it."""
    head = ('{"CommunityName":"hostile","EventType":"%s","TicketId":1,"Events":[{"Ticket":'
            '{"Id":1,"Message":"' % event_type).encode()
    tail = b'"}}]}'
    raw = head + b"A" * (size - len(head) - len(tail)) + tail
    assert len(raw) == size and json.loads(raw)
    return raw


DEEP_ARRAYS = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECTS = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
DEEP_EVENT = (b'{"CommunityName":"hostile","EventType":"hostile_deep","Events":[' + DEEP_ARRAYS + b"]}")
DEEP_UNCLOSED = b"[" * 10_000


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    return int(re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE).group(1))


def is_sanitized(program):
    """Whether `program` was built with AddressSanitizer (scripts/test's build/asan)."""
    with open(program, "rb") as f:
        return b"__asan_init" in f.read()


class HostileTest(harness.StackTest):

    # ---- requests ---------------------------------------------------------------------------
    def raw(self, method, target, body=None, headers=(), **kw):
        return exchange(self.stack, request_bytes(method, target, body, headers),
                        head_only=method == "HEAD", **kw)

    def post(self, body, headers=("Content-Type: application/json",)):
        return self.raw("POST", "/webhooks", body, headers)

    def get(self, query):
        return self.raw("GET", f"/webhooks?{query}")

    def query(self, challenge, token=None, encode=True):
        challenge = urllib.parse.quote(challenge, safe="") if encode else challenge
        return f"challenge={challenge}&verifyToken={urllib.parse.quote(token or self.stack.token)}"

    # ---- what nginx and Redis saw -----------------------------------------------------------
    def access_line(self, answer):
        """nginx's access-log line for `answer`: by request id, or by its unique source address."""
        if answer.request_id:
            line = self.stack.access_log_line(answer.request_id)
        else:
            line, deadline = None, time.monotonic() + 3
            while line is None and time.monotonic() < deadline:
                lines = harness.tail(self.stack.dir / "nginx/access.log", 100_000).splitlines()
                line = next((x for x in lines if x.startswith(answer.source + " ")), None)
                time.sleep(0.05)
        self.assertIsNotNone(line, f"no access-log line for {answer}")
        return line

    def upstream_of(self, answer):
        """The `upstream=` field of the access-log line: "-" when nginx answered alone."""
        return re.search(r" upstream=(\S+)", self.access_line(answer)).group(1)

    def state(self):
        """Every queue's length, the event-type set and the rejected list's length; the slow
        background client's queue is left out, since it may land at any moment."""
        prefix = self.stack.prefix
        queues = {key: self.stack.redis_cmd("LLEN", key) for key in self.stack.keys(f"{prefix}:queue:*")
                  if key != self.stack.queue_key(SLOW_TYPE)}
        types = sorted(t.decode() for t in self.stack.redis_cmd("SMEMBERS", f"{prefix}:event-types")
                       if t != SLOW_TYPE.encode())
        return {"queues": queues, "event_types": types,
                "rejected": self.stack.redis_cmd("LLEN", f"{prefix}:rejected")}

    def assertQueued(self, before, added=None):
        """Since `before`, exactly `added` ({event type: n}) were queued, and nothing else."""
        expected = dict(before["queues"])
        types = set(before["event_types"])
        for event_type, n in (added or {}).items():
            key = self.stack.queue_key(event_type)
            expected[key] = expected.get(key, 0) + n
            types.add(event_type)
        now = self.state()
        self.assertEqual(now["queues"], expected, "queues changed unexpectedly")
        self.assertEqual(now["event_types"], sorted(types), "event-types changed unexpectedly")

    def assertRejectedUnchanged(self, before):
        self.assertEqual(self.state()["rejected"], before["rejected"], "a record was kept in rejected")

    def assertKept(self, before, answer, raw, status, code):
        """The refused POST is the newest record of <prefix>:rejected, with its body."""
        rejected = f"{self.stack.prefix}:rejected"
        self.assertEqual(self.stack.redis_cmd("LLEN", rejected), min(before["rejected"] + 1, REJECTED_KEEP),
                         f"not kept in {rejected}")
        record = json.loads(self.stack.redis_cmd("LINDEX", rejected, 0))
        self.assertEqual(record["request_id"], answer.request_id, "the newest record is another request's")
        self.assertEqual((record["status"], record["reason"], record["body_bytes"]), (status, code, len(raw)))
        kept = harness.decode_record_body(record)
        self.assertIs(record["body_truncated"], len(raw) > KEPT)
        if len(raw) <= KEPT:
            self.assertEqual(kept, raw, "the kept body differs from what was sent")
        else:
            self.assertTrue(KEPT - 3 <= len(kept) <= KEPT and kept == raw[:len(kept)])

    def assertRefusedAndKept(self, raw, status, codes, answer=None, before=None):
        before = before or self.state()
        answer = answer or self.post(raw)
        body = self.assertJsonError(answer, status, codes)
        self.assertNotEqual(self.upstream_of(answer), "-", "nginx answered, not the handler")
        self.assertKept(before, answer, raw, status, body["error"])
        self.assertQueued(before)
        return body

    def assertHandlerAlive(self, pid):
        self.assertTrue(self.stack.handler.alive(), self.why())
        self.assertEqual(self.stack.handler.pid, pid)
        raw = (harness.FIXTURES / "note_deletion.json").read_bytes()
        before = self.state()
        r = self.post(raw)
        self.assertEqual((r.status, r.body), (200, b'{"stored":1}'), self.why(r))
        self.assertQueued(before, {"note_deletion": 1})

    def assertNginxPage(self, answer, status, common_headers=True):
        """nginx's own answer, made without the handler: JSON in the handler's shape (the
        error_page locations of nginx/), with X-Request-Id, Cache-Control and nosniff."""
        self.assertEqual(answer.status, status, self.why(answer))
        self.assertTrue((answer.header("Content-Type") or "").startswith("application/json"), self.why(answer))
        self.assertEqual(set(answer.json()), {"error", "detail"}, self.why(answer))
        self.assertCommonHeaders(answer)
        self.assertEqual(self.upstream_of(answer), "-")


class SlowClients:
    """Three connections that run in the background while the other tests of `Hostile` run:
    a Content-Length body and a chunked body that stall after their first bytes for longer than
    client_body_timeout, and a good body dribbled in pieces that arrive 3 s apart (12 s in all)."""

    def __init__(self, stack):
        self.stack = stack
        self.results = {}
        self.dribbled = (b'{"CommunityName":"hostile","EventType":"' + SLOW_TYPE.encode() +
                         b'","TicketId":7,"Events":[{"Note":"sent in five pieces, three seconds apart"}]}')
        self.stall_length = 4321   # a Content-Length no other request uses, to look for in the logs
        self.threads = [threading.Thread(target=self.run, args=(name,), daemon=True)
                        for name in ("stall", "stall_chunked", "dribble")]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join(60)

    def run(self, name):
        try:
            self.results[name] = getattr(self, name)()
        except Exception as error:   # reported by the test that reads the results
            self.results[name] = error

    def stall(self):
        head = request_bytes("POST", "/webhooks", headers=("Content-Type: application/json",),
                             content_length=self.stall_length)
        return self.stalled(head + b'{"CommunityName":"hostile-stall","EventType":"x",')

    def stall_chunked(self):
        head = request_bytes("POST", "/webhooks", headers=("Content-Type: application/json",
                                                           "Transfer-Encoding: chunked"))
        piece = b'{"CommunityName":"hostile-stall",'
        return self.stalled(head + b"%x\r\n%s\r\n" % (len(piece), piece))

    def stalled(self, first_bytes):
        """Send `first_bytes`, then nothing; time how long until nginx answers or closes."""
        source = fresh_source()
        with connect_tls(self.stack, source, 3 * CLIENT_BODY_TIMEOUT) as tls:
            tls.sendall(first_bytes)
            sent = time.monotonic()
            data, error = b"", None
            try:
                while chunk := tls.recv(65536):
                    data += chunk
            except OSError as e:
                error = e
            return RawAnswer(data, time.monotonic() - sent, source, read_error=error)

    def dribble(self):
        head = request_bytes("POST", "/webhooks", headers=("Content-Type: application/json",),
                             content_length=len(self.dribbled))
        size = -(-len(self.dribbled) // 5)
        pieces = [self.dribbled[i:i + size] for i in range(0, len(self.dribbled), size)]
        source = fresh_source()
        started = time.monotonic()
        with connect_tls(self.stack, source, 3 * CLIENT_BODY_TIMEOUT) as tls:
            tls.sendall(head)
            for piece in pieces:
                time.sleep(3)
                last_sent_ms = int(time.time() * 1000)
                tls.sendall(piece)
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
        answer = RawAnswer(data, time.monotonic() - started, source)
        answer.last_sent_ms = last_sent_ms
        return answer


class Hostile(HostileTest):
    """nginx and the handler share a 64 KiB limit."""
    stack_options = {"max_body_bytes": LIMIT}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.slow = SlowClients(cls.stack)
        cls.slow.start()

    # ---- bodies -------------------------------------------------------------------------------
    def test_every_bad_fixture_is_refused_with_its_code_and_kept(self):
        cases = harness.bad_fixture_cases()
        self.assertEqual(set(cases), {p.name for p in (harness.FIXTURES / "bad").glob("*.json")},
                         "fixtures/bad/README.md does not list exactly the files in fixtures/bad/")
        for name, (status, codes, field) in sorted(cases.items()):
            with self.subTest(fixture=name):
                raw = (harness.FIXTURES / "bad" / name).read_bytes()
                body = self.assertRefusedAndKept(raw, status, codes)
                if field:
                    self.assertIn(field, body["detail"], "the detail does not name the field")

    def test_bodies_just_under_and_at_the_limit_are_stored(self):
        for size in (LIMIT - 1, LIMIT):
            with self.subTest(size=size):
                raw = body_of_size(size)
                before = self.state()
                r = self.post(raw)
                self.assertEqual((r.status, r.body), (200, b'{"stored":1}'), self.why(r))
                self.assertQueued(before, {"hostile_limit": 1})
                self.assertRejectedUnchanged(before)
                element = self.stack.redis_cmd("LINDEX", self.stack.queue_key("hostile_limit"), 0)
                self.assertEqual(harness.member_bytes(element, "event"),
                                 harness.array_items(harness.member_bytes(raw, "Events"))[0])

    def test_a_body_just_over_the_limit_is_refused_by_nginx_before_the_handler(self):
        # nginx refuses from Content-Length alone, so the handler never sees the body and cannot
        # keep it in rejected (the README's "every refused POST is kept" does not hold here).
        before = self.state()
        r = self.post(body_of_size(LIMIT + 1))
        self.assertJsonError(r, 413, "body_too_large")
        self.assertEqual(self.upstream_of(r), "-", "the handler saw a body nginx should have refused")
        self.assertQueued(before)
        self.assertRejectedUnchanged(before)

    def test_a_64_mib_body_is_refused_before_it_is_sent(self):
        before = self.state()
        head = request_bytes("POST", "/webhooks", headers=("Content-Type: application/json",),
                             content_length=64 << 20)
        r = exchange(self.stack, head, [body_of_size(LIMIT)[:60000]] * 4)
        self.assertJsonError(r, 413, "body_too_large")
        self.assertLess(r.elapsed, 5, "nginx waited for the body")
        self.assertEqual(self.upstream_of(r), "-")
        self.assertQueued(before)
        self.assertRejectedUnchanged(before)

    def test_a_chunked_good_body_is_stored_byte_for_byte(self):
        raw = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        before = self.state()
        r = self.post(chunked(raw), headers=("Content-Type: application/json", "Transfer-Encoding: chunked"))
        self.assertEqual((r.status, r.body), (200, b'{"stored":1}'), self.why(r))
        self.assertQueued(before, {"ticket_status_change": 1})
        self.assertRejectedUnchanged(before)
        envelope = self.stack.redis_cmd("LINDEX", self.stack.queue_key("ticket_status_change"), 0)
        self.assertEqual(harness.member_bytes(envelope, "event"),
                         harness.array_items(harness.member_bytes(raw, "Events"))[0])
        self.assertEqual(json.loads(envelope)["delivery"], r.request_id)

    def test_a_chunked_bad_body_is_refused_and_kept(self):
        for name, code in (("truncated.json", "invalid_json"), ("non_utf8.json", None)):
            with self.subTest(fixture=name):
                raw = (harness.FIXTURES / "bad" / name).read_bytes()
                before = self.state()
                r = self.post(chunked(raw), headers=("Content-Type: application/json",
                                                     "Transfer-Encoding: chunked"))
                codes = [code] if code else harness.bad_fixture_cases()[name][1]
                self.assertRefusedAndKept(raw, 400, codes, answer=r, before=before)

    def test_broken_framing_is_refused_by_nginx(self):
        # Framing that could smuggle a second request, or that lies about its size, never reaches
        # the handler: nginx answers, in JSON (error_page at server level, and in the location for
        # the errors found while reading the body).
        good = chunked((harness.FIXTURES / "note_deletion.json").read_bytes())
        before = self.state()
        for what, headers, body, status, common_headers in self.FRAMING:
            with self.subTest(what):
                r = self.post(good if body is None else body, headers=("Content-Type: application/json", *headers))
                self.assertNginxPage(r, status, common_headers)
        self.assertQueued(before)
        self.assertRejectedUnchanged(before)

    # (what, headers, body (None: a good chunked body), nginx's status, with the server's headers)
    FRAMING = (
        ("Content-Length and chunked", ("Transfer-Encoding: chunked", "Content-Length: 208"), None, 400, True),
        ("two Content-Lengths", ("Content-Length: 2", "Content-Length: 3"), b"{}", 400, True),
        ("gzip, chunked", ("Transfer-Encoding: gzip, chunked",), None, 501, True),
        ("identity", ("Transfer-Encoding: identity",), None, 501, True),
        ("a chunk longer than its size", ("Transfer-Encoding: chunked",), b"2\r\n{}{}\r\n0\r\n\r\n", 400, False),
        ("a chunk size that is not hex", ("Transfer-Encoding: chunked",), b"zz\r\n{}\r\n0\r\n\r\n", 400, False),
        ("a chunk size of 2^72", ("Transfer-Encoding: chunked",), b"ffffffffffffffffff\r\n{}", 400, False),
    )

    def test_10000_nested_arrays_and_objects_are_invalid_json(self):
        pid = self.stack.handler.pid
        for what, raw in (("arrays", DEEP_ARRAYS), ("objects", DEEP_OBJECTS),
                          ("arrays inside Events", DEEP_EVENT), ("unclosed arrays", DEEP_UNCLOSED)):
            with self.subTest(what=what):
                self.assertLess(len(raw), LIMIT)
                self.assertRefusedAndKept(raw, 400, "invalid_json")
        self.assertHandlerAlive(pid)

    # ---- the challenge ----------------------------------------------------------------------
    def test_control_characters_and_broken_utf8_in_the_challenge_are_refused_and_never_echoed(self):
        marker = "X-Injected%3A%20hostile"
        for challenge in (f"hb%0d%0a{marker}", f"hb%0a{marker}", f"hb%0d{marker}",
                          f"hb%0d%0a%0d%0a%3Chtml%3E{marker}", f"hb%00{marker}", "%00", "%0d%0a",
                          f"hb%09{marker}", f"hb%7f{marker}", f"hb%C2%85{marker}", f"hb%C3{marker}",
                          f"hb%FF{marker}"):
            with self.subTest(challenge=challenge):
                before = self.state()
                r = self.get(self.query(challenge, encode=False))
                self.assertJsonError(r, 400, "invalid_challenge")
                self.assertNotIn(b"X-Injected", r.data, self.why(r))
                self.assertNotIn(b"hostile", r.data, self.why(r))
                self.assertNotIn(b"hb", r.head, "request bytes in a response header")
                self.assertNotEqual(self.upstream_of(r), "-")
                self.assertQueued(before)
                self.assertRejectedUnchanged(before)
        self.assertNotIn("X-Injected", self.stack.handler_log(), "the challenge reached the handler's log")

    def test_a_challenge_of_non_ascii_text_is_echoed_byte_for_byte_as_plain_text(self):
        for challenge in ("caf\u00e9", "\u2713 \U0001F600", "a\u2028b", "\u00a0"):
            with self.subTest(challenge=challenge):
                r = self.get(self.query(challenge))
                self.assertEqual(r.status, 200, self.why(r))
                self.assertEqual(r.body, challenge.encode(), "the challenge was not echoed byte for byte")
                self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_a_challenge_of_256_characters_is_echoed_and_257_refused(self):
        printable = "".join(map(chr, range(0x20, 0x7F)))     # every printable ASCII character
        exactly = (printable * 3)[:256]
        r = self.get(self.query(exactly))
        self.assertEqual((r.status, r.body), (200, exactly.encode()), self.why(r))
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(r.header("Content-Length"), "256")
        self.assertCommonHeaders(r)
        for challenge in ("y" * 257, exactly + "z", "y" * 5000):
            with self.subTest(length=len(challenge)):
                r = self.get(self.query(challenge))
                self.assertJsonError(r, 400, "invalid_challenge")
                self.assertNotIn(b"yyyyyyyy", r.data, self.why(r))
                self.assertNotIn(exactly[:40].encode(), r.data, self.why(r))

    def test_duplicate_parameters_are_refused(self):
        token = urllib.parse.quote(self.stack.token)
        for query, name in ((f"challenge=QzA&verifyToken={token}&verifyToken={token}", "verifyToken"),
                            (f"verifyToken=wrong&challenge=QzA&verifyToken={token}", "verifyToken"),
                            (f"challenge=QzA&challenge=QzB&verifyToken={token}", "challenge"),
                            (f"challenge=QzA&verifyToken={token}&%63hallenge=QzB", "challenge"),
                            (f"challenge=QzA&verifyToken={token}&challenge=", "challenge")):
            with self.subTest(query=query):
                before = self.state()
                r = self.get(query)
                body = self.assertJsonError(r, 400, "duplicate_parameter")
                self.assertIn(name, body["detail"])
                self.assertNotIn(b"Qz", r.data, "a duplicated challenge was echoed")
                self.assertQueued(before)
                self.assertRejectedUnchanged(before)

    def test_long_query_strings(self):
        # A request line must fit in one of nginx's large_client_header_buffers (default 8 KiB).
        # Under it the handler finds its parameters among the padding; over it nginx refuses with
        # its own 414, in JSON through the server's error_page.
        query = self.query("long") + "&pad=" + "p" * 7000
        r = self.get(query)
        self.assertEqual((r.status, r.body), (200, b"long"), self.why(r))
        self.assertNotEqual(self.upstream_of(r), "-")
        for size in (8192, 65536):
            with self.subTest(size=size):
                before = self.state()
                r = self.get(self.query("long") + "&pad=" + "p" * size)
                self.assertNginxPage(r, 414)
                self.assertNotIn(b"pppp", r.data)
                self.assertIn('" 414 ', self.access_line(r))
                self.assertQueued(before)

    # ---- methods ------------------------------------------------------------------------------
    def test_other_methods(self):
        raw = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        before = self.state()
        # nginx passes these to the handler, which answers 405 in JSON with Allow.
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "MKCOL", "FROBNICATE", "X" * 200):
            with self.subTest(method=method[:20]):
                r = self.raw(method, "/webhooks", raw, ("Content-Type: application/json",))
                self.assertJsonError(r, 405, "method_not_allowed")
                self.assertEqual(r.headers.get_all("Allow"), ["GET, POST"], self.why(r))
                self.assertNotEqual(self.upstream_of(r), "-")
        # HEAD: the same answer without its body.
        r = self.raw("HEAD", "/webhooks")
        self.assertEqual((r.status, r.header("Allow"), r.body), (405, "GET, POST", b""), self.why(r))
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        self.assertCommonHeaders(r)
        # nginx refuses TRACE and CONNECT itself (405, with Allow), and a method that is not an
        # upper-case token breaks the request line (400); the handler sees none of them.
        for method, status in (("TRACE", 405), ("CONNECT", 405), ("delete", 400), ("GE T", 400)):
            with self.subTest(method=method):
                r = self.raw(method, "/webhooks", raw, ("Content-Type: application/json",))
                self.assertNginxPage(r, status)
                self.assertEqual(r.header("Allow"), "GET, POST" if status == 405 else None)
        self.assertQueued(before)
        self.assertRejectedUnchanged(before)
        self.assertNotIn("X" * 20, self.stack.handler_log(), "a long method reached the log")

    # ---- nginx's own answers: what the README promises ----------------------------------------
    # "Error bodies are always {"error","detail"}": nginx's own answers too.
    def assertJsonAnswer(self, r, status):
        """An error answer as the README describes them all, whatever its code."""
        self.assertEqual(r.status, status, self.why(r))
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), self.why(r))
        self.assertCommonHeaders(r)
        self.assertEqual(set(r.json()), {"error", "detail"}, self.why(r))

    def test_nginx_own_414_is_json(self):
        self.assertJsonAnswer(self.get(self.query("long") + "&pad=" + "p" * 8192), 414)

    def test_nginx_own_405_for_trace_and_connect_is_json_with_allow(self):
        for method in ("TRACE", "CONNECT"):
            with self.subTest(method=method):
                r = self.raw(method, "/webhooks")
                self.assertJsonAnswer(r, 405)
                self.assertEqual(r.header("Allow"), "GET, POST")

    def test_nginx_own_400_for_a_malformed_request_line_is_json(self):
        self.assertJsonAnswer(self.raw("delete", "/webhooks"), 400)

    def test_nginx_own_pages_for_framing_are_json(self):
        good = chunked((harness.FIXTURES / "note_deletion.json").read_bytes())
        for what, headers, body, status, _ in self.FRAMING:
            with self.subTest(what):
                r = self.post(good if body is None else body, headers=("Content-Type: application/json", *headers))
                self.assertJsonAnswer(r, status)

    # ---- slow bodies (started in setUpClass; named to run last so they overlap the rest) ------
    def test_zz_bodies_sent_slower_than_client_body_timeout(self):
        self.slow.join()
        results = self.slow.results
        for name in ("stall", "stall_chunked"):
            with self.subTest(name):
                r = results.get(name)
                self.assertIsInstance(r, RawAnswer, f"{name}: {r!r}")
                # nginx logs a 408 but sends nothing: it closes the connection.
                self.assertEqual(r.data, b"", f"nginx answered a stalled body: {r}")
                self.assertTrue(CLIENT_BODY_TIMEOUT - 0.5 <= r.elapsed <= CLIENT_BODY_TIMEOUT + 8, str(r))
                line = self.access_line(r)
                self.assertRegex(line, r'"POST /webhooks" 408 0 .* upstream=- ustatus=- ')
        self.assertNotIn(f"{self.slow.stall_length} body bytes", self.stack.handler_log(),
                         "the handler saw the stalled body")
        records = [json.loads(x) for x in
                   self.stack.redis_cmd("LRANGE", f"{self.stack.prefix}:rejected", 0, -1)]
        self.assertFalse([x for x in records if x["body_bytes"] == self.slow.stall_length
                          or b"stall" in harness.decode_record_body(x)], "a stalled body was kept")
        # client_body_timeout bounds each pause, not the whole body: 12 s of dribbling in 3 s
        # steps is accepted, and the handler gets the body only once nginx has all of it.
        r = results.get("dribble")
        self.assertIsInstance(r, RawAnswer, f"dribble: {r!r}")
        self.assertEqual((r.status, r.body), (200, b'{"stored":1}'), self.why(r))
        self.assertGreaterEqual(r.elapsed, 12)
        elements = self.stack.redis_cmd("LRANGE", self.stack.queue_key(SLOW_TYPE), 0, -1)
        self.assertEqual(len(elements), 1)
        envelope = json.loads(elements[0])
        received_ms = round(datetime.datetime.strptime(envelope["received_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
                            .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        self.assertGreaterEqual(received_ms, r.last_sent_ms - 1,
                                "the handler received the body before its last piece was sent")
        self.assertEqual(harness.member_bytes(elements[0], "event"),
                         harness.array_items(harness.member_bytes(self.slow.dribbled, "Events"))[0])


class HandlerLimitAndMemory(HostileTest):
    """nginx lets 256 KiB through, the handler takes 64 KiB: the handler's own 413 must hold,
    and its memory must not grow under a stream of hostile requests."""
    stack_options = {"max_body_bytes": LIMIT, "nginx_max_body_bytes": 4 * LIMIT}

    def test_just_over_and_under_the_handlers_limit(self):
        for size, chunk in ((LIMIT - 1, False), (LIMIT, False), (LIMIT, True)):
            with self.subTest(size=size, chunked=chunk):
                raw = body_of_size(size)
                before = self.state()
                r = (self.post(chunked(raw, (4096,)), headers=("Content-Type: application/json",
                                                             "Transfer-Encoding: chunked"))
                     if chunk else self.post(raw))
                self.assertEqual((r.status, r.body), (200, b'{"stored":1}'), self.why(r))
                self.assertQueued(before, {"hostile_limit": 1})
                self.assertRejectedUnchanged(before)
        for size, chunk in ((LIMIT + 1, False), (LIMIT + 1, True), (3 * LIMIT, False)):
            with self.subTest(size=size, chunked=chunk):
                raw = body_of_size(size)
                before = self.state()
                r = (self.post(chunked(raw, (4096,)), headers=("Content-Type: application/json",
                                                             "Transfer-Encoding: chunked"))
                     if chunk else self.post(raw))
                self.assertRefusedAndKept(raw, 413, "body_too_large", answer=r, before=before)

    def test_handler_memory_does_not_grow_under_hostile_requests(self):
        # Each of the handler's 80 threads (BOARDHOOK_THREADS) has its own malloc cache, body
        # buffer and a 16 KiB read buffer on its stack: the first large body a thread reads costs
        # ~300 KiB of RSS, once. nginx renews an upstream connection every 1,000 requests, so with
        # a few client connections fresh threads keep coming into use for ~25,000 requests. The
        # warm-up therefore runs over more connections than the handler has threads, so that
        # every thread is in use: large bodies first, then the whole mix.
        pid = self.stack.handler.pid
        mix = HostileMix(self.stack, threads=96)
        large = HostileMix(self.stack, threads=96)
        large.kinds = [kind for kind in large.kinds if kind[0] in ("deep", "oversized")]
        warm = [large.run(200), mix.run(800)]
        mix.threads = 8
        rss_before = vm_rss_kib(pid)
        started = time.monotonic()
        main = mix.run(10_000)
        seconds = time.monotonic() - started
        rss_after = vm_rss_kib(pid)
        print(f"\nhandler VmRSS after 1,000 warm-up requests: {rss_before} KiB; after 10,000 more: "
              f"{rss_after} KiB ({rss_after - rss_before:+d} KiB); 10,000 requests in {seconds:.1f} s; "
              f"statuses {dict(sorted(main.statuses.items()))}", flush=True)
        for run in (*warm, main):
            self.assertEqual(run.errors, [], "connections failed")
            self.assertEqual(run.wrong, [], "answers other than expected")
        with self.subTest("RSS"):
            if is_sanitized(harness.HANDLER):
                self.skipTest("an ASan build: its quarantine keeps freed memory, so RSS grows by design")
            self.assertLessEqual(rss_after - rss_before, 2048, "the handler's RSS grew by more than 2 MiB")
        # What was stored: only the good POSTs of the mix, each once.
        good = sum(run.stored for run in (*warm, main))
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:queue:*"),
                         [self.stack.queue_key("hostile_mix")])
        self.assertEqual(self.stack.redis_cmd("LLEN", self.stack.queue_key("hostile_mix")), good)
        self.assertEqual(self.stack.redis_cmd("LLEN", f"{self.stack.prefix}:rejected"), REJECTED_KEEP,
                         "the rejected list is not at BOARDHOOK_REJECTED_KEEP")
        self.assertHandlerAlive(pid)


class MixRun:
    """What one run of the mix got: {status: count}, wrong answers, failed connections, and how
    many good POSTs were answered 200."""

    def __init__(self):
        self.statuses, self.wrong, self.errors, self.stored = {}, [], [], 0
        self.lock = threading.Lock()


class FromAddress(http.client.HTTPSConnection):
    """A kept HTTPS connection to nginx from a loopback address of its own."""

    def __init__(self, stack):
        super().__init__("localhost", stack.https_port, context=stack.tls_context(), timeout=30)
        self.source = fresh_source()

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout, (self.source, 0))
        # http.client writes the headers and the body separately: without this, Nagle's algorithm
        # and nginx's delayed ACK hold every body back by 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname="localhost")


class HostileMix:
    """Mostly small hostile requests over a few kept connections -- bad fixtures, garbage, bad
    challenges, duplicates, made-up methods, a few good POSTs -- and some deep nesting and bodies
    over the handler's limit. Each has the one status it must get."""

    def __init__(self, stack, threads=8):
        self.stack, self.threads = stack, threads
        self.token = urllib.parse.quote(stack.token)
        json_type = {"Content-Type": "application/json"}
        kinds = []   # (label, method, target, body, headers, status); None: made per request
        for name, (status, _, _) in sorted(harness.bad_fixture_cases().items()):
            kinds += [("bad", "POST", "/webhooks", (harness.FIXTURES / "bad" / name).read_bytes(),
                       json_type, status)] * 4
        kinds += [("garbage", "POST", "/webhooks", None, json_type, 400)] * 8
        kinds += [("challenge", "GET", None, None, {}, 400)] * 6
        kinds += [("echo", "GET", None, None, {}, 200)] * 2
        kinds += [("duplicate", "GET", None, None, {}, 400)] * 2
        kinds += [("method", None, "/webhooks", b"{}", json_type, 405)] * 2
        kinds += [("good", "POST", "/webhooks", None, json_type, 200)] * 4
        # Bodies over ~8 KiB take 40-100 ms each from nginx to the handler over FastCGI on TCP
        # (Nagle and delayed ACKs; not over a unix socket): keep them few.
        kinds += [("deep", "POST", "/webhooks", DEEP_ARRAYS, json_type, 400),
                  ("deep", "POST", "/webhooks", DEEP_OBJECTS, json_type, 400),
                  ("oversized", "POST", "/webhooks", body_of_size(LIMIT + 1 + 1000), json_type, 413)]
        self.kinds = kinds
        self.sequence = itertools.count()

    def request(self, n):
        """The n-th request: (label, method, target, body, headers, status)."""
        label, method, target, body, headers, status = self.kinds[n * 7919 % len(self.kinds)]
        tag = "".join(chr(ord("A") + int(d)) for d in str(n))   # letters that differ per request
        if label == "garbage":
            body = b'{"CommunityName":"' + bytes([n % 256, 0xff, 0x22]) * (n % 50 + 1)
        elif label == "challenge":
            bad = ("%0d%0aX-Injected:%20" + tag, "%00" + tag, tag * (257 // len(tag) + 1), "%C2%85" + tag)[n % 4]
            target = f"/webhooks?challenge={bad}&verifyToken={self.token}"
        elif label == "echo":
            target = f"/webhooks?verifyToken={self.token}&challenge={tag}&other={n}"
        elif label == "duplicate":
            target = (f"/webhooks?challenge={tag}&verifyToken={self.token}&verifyToken={self.token}",
                      f"/webhooks?challenge={tag}&challenge={tag}&verifyToken={self.token}")[n % 2]
        elif label == "method":
            method = ("PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "X" + tag)[n % 6]
        elif label == "good":
            body = self.good_body(n)
        return label, method, target, body, headers, status

    def good_body(self, n):
        return (b'{"CommunityName":"hostile","EventType":"hostile_mix","TicketId":%d,'
                b'"Events":[{"Seq":%d}]}' % (n, n))

    def run(self, count):
        run = MixRun()
        work = itertools.islice(self.sequence, count)
        lock = threading.Lock()

        def client():
            conn, non_posts = FromAddress(self.stack), 0
            try:
                while True:
                    with lock:
                        n = next(work, None)
                    if n is None:
                        return
                    label, method, target, body, headers, status = self.request(n)
                    if method != "POST":
                        non_posts += 1
                        if non_posts > 15:   # stay inside nginx's burst for non-POSTs
                            conn.close()
                            conn, non_posts = FromAddress(self.stack), 1
                    try:
                        conn.request(method, target, body=body, headers=headers)
                        response = conn.getresponse()
                        response.read()
                    except (OSError, http.client.HTTPException) as error:
                        with run.lock:
                            run.errors.append(f"{label} {method}: {error!r}")
                        conn.close()
                        conn, non_posts = FromAddress(self.stack), 0
                        continue
                    with run.lock:
                        run.statuses[response.status] = run.statuses.get(response.status, 0) + 1
                        if response.status != status:
                            run.wrong.append(f"{label} {method} {target[:60]}: {response.status}, want {status}")
                        elif label == "good":
                            run.stored += 1
                    if response.will_close:
                        conn.close()
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        run.wrong = run.wrong[:20]
        return run


if __name__ == "__main__":
    harness.main()
