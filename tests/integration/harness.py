"""harness.py -- runs redis-server, boardhook-handler and nginx on free loopback ports for one test.

In the manner of nginx-tests: each test module gets a temporary folder (kept when KEEP=1), its own
processes started from the repository's own config files, real HTTPS that verifies the server
certificate against a test CA, and a stop by PID at the end, also when the test fails.
Standard library only; run with /usr/bin/python3 FILE.py --handler PATH (or BOARDHOOK_HANDLER),
and --worker PATH / --queues PATH (or BOARDHOOK_WORKER / BOARDHOOK_QUEUES) for the tests of those.
"""
import argparse
import atexit
import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"   # part of the repository: a clone has all it needs
KEEP = os.environ.get("KEEP") == "1"
HANDLER = os.environ.get("BOARDHOOK_HANDLER")   # set by main() from --handler
WORKER = os.environ.get("BOARDHOOK_WORKER")     # set by main() from --worker
QUEUES = os.environ.get("BOARDHOOK_QUEUES")     # set by main() from --queues

_running = []   # every Process not yet stopped; atexit stops what a crash left behind


def find_program(name):
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"{name} not found; scripts/test installs it")


def type_key_part(event_type):
    """An event type as it appears in key names (README, Redis data model): the bytes
    A-Z a-z 0-9 _ - . as they are, every other byte of its UTF-8 as %XX."""
    safe = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
    return "".join(chr(b) if b in safe else "%%%02X" % b for b in event_type.encode())


def fixture_verify_token():
    """The Verify Token the fixtures are written for, as verification.txt states it."""
    text = (FIXTURES / "verification.txt").read_text()
    return re.search(r"Verify Token is:\s*\n#\s*(\S+)", text).group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_and_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (pebble-challtestsrv serves DNS on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no port free for both UDP and TCP")


def tail(path, lines=15):
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return f"({path}: missing)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path}: empty)"


class StartError(RuntimeError):
    pass


# What ASan, LSan and UBSan print when they find something. scripts/test also runs every test
# against a sanitized build; a report in any process's log fails the test that ran the process,
# even when the process carried on (UBSan) or its crash went unnoticed (a restarted handler).
SANITIZER_REPORT = re.compile(rb"ERROR: (?:Address|Leak|Memory|Thread)Sanitizer|runtime error:|"
                              rb"SUMMARY: UndefinedBehaviorSanitizer")


class SanitizerReport(AssertionError):
    pass


def sanitizer_report(path, lines=40):
    """The first sanitizer report in the file at `path` (up to `lines` lines of it), or None."""
    try:
        text = Path(path).read_bytes()
    except OSError:
        return None
    found = SANITIZER_REPORT.search(text)
    if not found:
        return None
    start = text.rfind(b"\n", 0, found.start()) + 1
    return "\n".join(text[start:].decode("utf-8", "replace").splitlines()[:lines])


class Process:
    """One child process, its output appended to `log`; stopped by its own PID."""

    def __init__(self, name, argv, log, env=None, stdin=None):
        """`stdin`: a file or socket for the child's fd 0 (a listening socket, as spawn-fcgi
        hands it over); none by default."""
        self.name, self.argv, self.log = name, argv, log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT, env=env)
        _running.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=10):
        """SIGTERM, wait; SIGKILL if still running after `timeout`. Returns the exit code, or
        None when it had to be killed. Raises SanitizerReport, once stopped, if its log holds one."""
        if self in _running:
            _running.remove(self)
        code = self._terminate(timeout)
        report = sanitizer_report(self.log)
        if report:
            raise SanitizerReport(f"{self.name} (pid {self.pid}): sanitizer report in {self.log}:\n{report}")
        return code

    def _terminate(self, timeout):
        if not self.alive():
            return self.popen.returncode
        self.popen.send_signal(signal.SIGCONT)   # a stopped process cannot act on SIGTERM
        self.popen.terminate()
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return None


@atexit.register
def _stop_leftovers():
    reports = []
    for process in list(_running):
        try:
            process.stop(timeout=5)
        except SanitizerReport as report:
            reports.append(str(report))
    if reports:   # too late for unittest to count it: fail the whole run instead
        print("\n\n".join(reports), file=sys.stderr)
        os._exit(1)


def wait_for(ready, what, process, timeout=15):
    """Poll `ready()` until it is true; fail early, with the log, if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise StartError(f"{process.name} exited with {process.popen.returncode} while "
                             f"waiting for {what}:\n{tail(process.log)}")
        try:
            if ready():
                return
        except (OSError, RedisError):   # not listening yet, or Redis still LOADING its AOF
            pass
        time.sleep(0.05)
    raise StartError(f"{what}: not ready after {timeout} s:\n{tail(process.log)}")


class RedisError(Exception):
    pass


def redis_command(port, *args, timeout=5):
    """Send one command over RESP to 127.0.0.1:port and return the decoded reply: bytes for bulk
    strings, str for status lines, int, list or None; raises RedisError for an error reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(encode_command(*args))
        return _read_reply(sock.makefile("rb"))


def encode_command(*args):
    """One command as RESP bytes (an array of bulk strings); str and int arguments as UTF-8."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += [f"${len(arg)}\r\n".encode(), arg, b"\r\n"]
    return b"".join(parts)


class RedisConnection:
    """A RESP connection over an already connected socket (e.g. one made in a test host's network
    namespace), authenticated with `password` when given. command() returns what redis_command
    does. Closes the socket on close() or at the end of a `with` block."""

    def __init__(self, sock, password=None):
        self.sock, self.reader = sock, sock.makefile("rb")
        if password is not None:
            self.command("AUTH", password)

    def command(self, *args):
        self.sock.sendall(encode_command(*args))
        return _read_reply(self.reader)

    def close(self):
        self.reader.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RedisError(f"unexpected reply {line!r}")


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 (or `address`) that checks the certificate for `server_name` (SNI too),
    `localhost` unless told otherwise: the name make-dev-ca's certificate is for.

    http.client writes a POST's headers and body separately: with Nagle's algorithm on, the body
    waits for nginx's delayed ACK of the headers, about 40 ms a POST. nodelay=True sends it at
    once (TCP_NODELAY), for load that is not paced by that wait."""

    def __init__(self, port, context, timeout=30, server_name="localhost", address="127.0.0.1", nodelay=False):
        super().__init__(server_name, port, context=context, timeout=timeout)
        self.tls_context, self.address, self.nodelay = context, address, nodelay

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        if self.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    def header(self, name):
        return self.headers.get(name)

    @property
    def request_id(self):
        return self.headers.get("X-Request-Id")

    def json(self):
        return json.loads(self.body)

    def __str__(self):
        return (f"HTTP {self.status} in {self.elapsed:.2f} s, "
                f"Content-Type: {self.header('Content-Type')}, X-Request-Id: {self.request_id}, "
                f"body {len(self.body)} bytes: {self.body[:300]!r}")


def metric(text, name, labels=""):
    """The value of one sample in Prometheus text, or 0 when absent."""
    pattern = re.escape(name + (("{" + labels + "}") if labels else "")) + r" ([0-9.e+-]+)\n"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


class Stack:
    """redis-server + boardhook-handler + nginx in one temporary folder."""

    def __init__(self, name, max_body_bytes=4194304, nginx_max_body_bytes=None, prefix="boardhook",
                 handler_env=None, worker_processes=2, spool=False, redis_args=(), handler_args=(),
                 handler_wrapper=()):
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.nginx_max_body_bytes = nginx_max_body_bytes or max_body_bytes
        self.prefix = prefix
        self.handler_env = dict(handler_env or {})
        self.worker_processes = worker_processes
        self.spool = spool   # give the handler BOARDHOOK_SPOOL_DIR=<folder>/spool
        self.redis_args = list(redis_args)   # extra redis-server arguments (override the config file)
        self.handler_args = list(handler_args)   # e.g. ["--processes", "2"]
        self.handler_wrapper = list(handler_wrapper)   # runs the handler, e.g. ["valgrind", ...]
        self.token = fixture_verify_token()
        self.redis = self.handler = self.nginx = None
        self.dir = None

    # ---- start and stop -------------------------------------------------------------------
    def start(self, attempts=3):
        """Start all three; on a start-up failure (a port taken meanwhile) retry on new ports."""
        if not HANDLER or not os.access(HANDLER, os.X_OK):
            raise StartError(f"handler binary {HANDLER!r} missing: pass --handler or BOARDHOOK_HANDLER")
        for attempt in range(attempts):
            self.dir = Path(tempfile.mkdtemp(prefix=f"boardhook-{self.name}-"))
            os.chmod(self.dir, 0o711)   # nginx workers run as nobody when we are root
            try:
                self._start_once()
                return self
            except StartError:
                self.stop()
                if attempt == attempts - 1:
                    raise

    def _start_once(self):
        self.redis_port, self.handler_port, self.https_port = free_port(), free_port(), free_port()
        subprocess.run([REPO / "scripts/lib/make-dev-ca", self.dir / "ca"], check=True)
        self.ca = self.dir / "ca" / "ca.pem"
        (self.dir / "redis").mkdir()
        self.start_redis()
        token_file = self.dir / "verify-token"
        token_file.write_text(self.token)
        self.start_handler()
        self.start_nginx()

    def start_redis(self):
        self.redis = Process("redis-server", [
            find_program("redis-server"), str(REPO / "redis/boardhook.conf"),
            "--port", str(self.redis_port), "--dir", str(self.dir / "redis"), *self.redis_args],
            self.dir / "redis.log")
        wait_for(lambda: self.redis_cmd("PING") == "PONG", "redis PING", self.redis)

    def handler_environment(self):
        """The handler's environment: ours without BOARDHOOK_*, plus this stack's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_VERIFY_TOKEN_FILE=str(self.dir / "verify-token"),
                   BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                   BOARDHOOK_QUEUE_PREFIX=self.prefix,
                   BOARDHOOK_MAX_BODY_BYTES=str(self.max_body_bytes),
                   BOARDHOOK_LISTEN=f"127.0.0.1:{self.handler_port}",
                   BOARDHOOK_LOG_LEVEL="debug",
                   # Most tests post one fixture many times and count every copy; deduplication
                   # has tests of its own (test_dedup.py), which turn it on.
                   BOARDHOOK_DEDUP_SECONDS="0")
        if self.spool:
            (self.dir / "spool").mkdir(exist_ok=True)
            env["BOARDHOOK_SPOOL_DIR"] = str(self.dir / "spool")
        env.update(self.handler_env)
        return env

    def start_handler(self):
        self.handler = Process("boardhook-handler", [*self.handler_wrapper, HANDLER, *self.handler_args],
                               self.dir / "handler.log", self.handler_environment())

        def listening():
            socket.create_connection(("127.0.0.1", self.handler_port), timeout=1).close()
            return True
        # Under a wrapper (valgrind) start-up takes seconds, not milliseconds.
        wait_for(listening, "handler listening", self.handler, timeout=60 if self.handler_wrapper else 15)

    def start_nginx(self):
        state = self.dir / "nginx"
        state.mkdir()
        os.chmod(state, 0o711)
        subprocess.run([REPO / "scripts/lib/render-nginx",
                        "--state-dir", str(state),
                        "--listen", f"127.0.0.1:{self.https_port}",
                        "--cert", str(self.dir / "ca/server.pem"),
                        "--key", str(self.dir / "ca/server.key"),
                        "--handler", f"127.0.0.1:{self.handler_port}",
                        "--max-body-bytes", str(self.nginx_max_body_bytes),
                        "--worker-processes", str(self.worker_processes),
                        "-o", str(state / "nginx.conf")], check=True)
        self.nginx = Process("nginx", [
            find_program("nginx"), "-p", str(state), "-c", str(state / "nginx.conf"),
            "-e", str(state / "error.log")], self.dir / "nginx.stderr")
        # A path nginx answers itself: ready means TLS and routing work, whatever the handler does.
        wait_for(lambda: self.request("GET", "/ready-check").status == 404, "nginx HTTPS", self.nginx)

    def stop(self):
        """Stop nginx, the handler and Redis, in that order; returns {name: exit code}. Raises
        SanitizerReport, after stopping all three, if a log holds one (the folder is then kept)."""
        codes, reports = {}, []
        for attr in ("nginx", "handler", "redis"):
            process = getattr(self, attr)
            if process is not None:
                # valgrind's leak check at exit takes a few seconds of its own
                timeout = 60 if attr == "handler" and self.handler_wrapper else 10
                try:
                    codes[attr] = process.stop(timeout)
                except SanitizerReport as report:
                    reports.append(report)
        if self.dir and self.dir.exists():
            if KEEP or reports:
                print(f"\n{'KEEP=1' if KEEP else 'sanitizer report'}: {self.name} left in {self.dir}",
                      file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise reports[0]
        return codes

    def kill_handler(self):
        """SIGKILL the handler, as a crash would."""
        self.handler.popen.kill()
        self.handler.popen.wait()

    def run_handler_command(self, *args):
        """Run the handler binary once with this stack's environment (e.g. --drain-spool)."""
        return subprocess.run([HANDLER, *args], env=self.handler_environment(),
                              capture_output=True, text=True, timeout=60)

    def spool_status(self):
        return json.loads(self.run_handler_command("--spool-status").stdout)

    def wait_until_spool_empty(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool_status()["records"] == 0:
                return True
            time.sleep(0.2)
        return False

    def handler_log(self):
        # The handler holds info lines up to 100 ms before writing them (warnings and errors
        # at once): wait that out, so that a line is there, and its absence means something.
        time.sleep(0.25)
        return (self.dir / "handler.log").read_text(errors="replace")

    # ---- talking to it --------------------------------------------------------------------
    def tls_context(self):
        return ssl.create_default_context(cafile=str(self.ca))

    def request(self, method, target, body=None, headers=None, timeout=30):
        """One HTTPS request on a new connection; returns a Response."""
        conn = LoopbackHTTPS(self.https_port, self.tls_context(), timeout)
        started = time.monotonic()
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read(), time.monotonic() - started)
        finally:
            conn.close()

    def handshake(self, context):
        """Complete a TLS handshake with `context`; returns (peer certificate, TLS version)."""
        conn = LoopbackHTTPS(self.https_port, context, 10)
        try:
            conn.connect()
            return conn.sock.getpeercert(), conn.sock.version()
        finally:
            conn.close()

    def post(self, body, content_type="application/json", **kw):
        headers = {"Content-Type": content_type} if content_type else {}
        return self.request("POST", "/webhooks", body=body, headers=headers, **kw)

    def verify(self, challenge="4071937265", token=None):
        from urllib.parse import urlencode
        query = urlencode({"challenge": challenge, "verifyToken": token or self.token})
        return self.request("GET", f"/webhooks?{query}")

    def redis_cmd(self, *args):
        return redis_command(self.redis_port, *args)

    def keys(self, pattern="*"):
        return sorted(k.decode() for k in self.redis_cmd("KEYS", pattern))

    def queue_key(self, event_type):
        return f"{self.prefix}:queue:{type_key_part(event_type)}"

    def access_log_line(self, request_id, timeout=3):
        """nginx's access-log line for one request (nginx writes it just after answering)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in tail(self.dir / "nginx/access.log", 10_000).splitlines():
                if f"id={request_id} " in line:
                    return line
            time.sleep(0.05)
        return None

    def why(self, response=None):
        """A failure message built only when an assertion fails: the response and log tails."""
        stack = self

        class Why:
            def __str__(self):
                parts = [str(response)] if response is not None else []
                for title, path in (("handler", stack.dir / "handler.log"),
                                    ("nginx error.log", stack.dir / "nginx/error.log"),
                                    ("redis", stack.dir / "redis.log")):
                    parts.append(f"--- {title} (last lines) ---\n{tail(path)}")
                return "\n".join(parts)
        return Why()


class StackTest(unittest.TestCase):
    """Base class: one Stack per test class, started before its tests, stopped after them."""
    stack_options = {}

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(cls.__name__, **cls.stack_options)
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()

    def why(self, response=None):
        return self.stack.why(response)

    def assertJsonError(self, r, status, codes):
        """`r` is an error answer: this status, JSON {"error","detail"}, error among `codes`."""
        self.assertEqual(r.status, status, self.why(r))
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), self.why(r))
        self.assertCommonHeaders(r)
        body = r.json()
        self.assertEqual(set(body), {"error", "detail"}, self.why(r))
        self.assertIn(body["error"], [codes] if isinstance(codes, str) else codes, self.why(r))
        return body

    def assertCommonHeaders(self, r):
        """Headers every answer carries, whether nginx or the handler made it (README)."""
        self.assertRegex(r.request_id or "", r"^[0-9a-f]{32}$", self.why(r))
        self.assertEqual(r.headers.get_all("Cache-Control"), ["no-store"], self.why(r))
        self.assertEqual(r.headers.get_all("X-Content-Type-Options"), ["nosniff"], self.why(r))

    def assertRfc3339Millis(self, value, not_before=None):
        """`value` is UTC, RFC 3339, milliseconds; if `not_before` (epoch s) is given, it is
        between then and now, give or take a second."""
        self.assertRegex(value, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        if not_before is not None:
            t = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            self.assertTrue(not_before - 1 <= t <= time.time() + 1, f"{value} is not about now")


# ---- JSON byte spans: where a value sits in the raw text ------------------------------------
_WS = b" \t\r\n"


def _skip_ws(raw, i):
    while i < len(raw) and raw[i] in _WS:
        i += 1
    return i


def _skip_string(raw, i):
    i += 1
    while raw[i] != 0x22:
        i += 2 if raw[i] == 0x5C else 1
    return i + 1


def _skip_value(raw, i):
    if raw[i] == 0x22:
        return _skip_string(raw, i)
    if raw[i] in b"{[":
        depth = 0
        while True:
            if raw[i] == 0x22:
                i = _skip_string(raw, i)
                continue
            if raw[i] in b"{[":
                depth += 1
            elif raw[i] in b"}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    while i < len(raw) and raw[i] not in b",]}" + _WS:
        i += 1
    return i


def member_bytes(raw, name):
    """The raw bytes of the value of top-level member `name` in the JSON object `raw`, or None."""
    i = _skip_ws(raw, 0)
    assert raw[i:i + 1] == b"{", "not a JSON object"
    i = _skip_ws(raw, i + 1)
    while raw[i:i + 1] != b"}":
        key_end = _skip_string(raw, i)
        key = json.loads(raw[i:key_end])
        i = _skip_ws(raw, _skip_ws(raw, key_end) + 1)   # past the ':'
        end = _skip_value(raw, i)
        if key == name:
            return raw[i:end]
        i = _skip_ws(raw, end)
        if raw[i:i + 1] == b",":
            i = _skip_ws(raw, i + 1)
    return None


def array_items(raw):
    """The raw bytes of each element of the JSON array `raw`."""
    items, i = [], _skip_ws(raw, 1)
    while raw[i:i + 1] != b"]":
        end = _skip_value(raw, i)
        items.append(raw[i:end])
        i = _skip_ws(raw, end)
        if raw[i:i + 1] == b",":
            i = _skip_ws(raw, i + 1)
    return items


def event_id(event_type, ticket_id, item):
    """The envelope id: hex SHA-256 of len(type) ':' type '|' ticket id or null '|' item bytes."""
    kind = event_type.encode()
    ticket = b"null" if ticket_id is None else str(ticket_id).encode()
    return hashlib.sha256(str(len(kind)).encode() + b":" + kind + b"|" + ticket + b"|" + item).hexdigest()


def rfc3339_ms(t):
    """Epoch seconds as the handler writes times: RFC 3339, UTC, milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def make_envelope(event_type, item, ticket_id=None, delivery="0" * 32, received_at=None, community="test-community",
                  index=0, count=1):
    """(envelope bytes, id) exactly as the handler's make_envelope writes them."""
    received_at = received_at or rfc3339_ms(time.time())
    ticket = b"null" if ticket_id is None else str(ticket_id).encode()
    envelope_id = event_id(event_type, ticket_id, item)
    raw = (b'{"id":"%s","delivery":%s,"received_at":%s,"community":%s,"event_type":%s,"ticket_id":%s,'
           b'"index":%d,"count":%d,"event":%s}') % (
        envelope_id.encode(), json.dumps(delivery).encode(), json.dumps(received_at).encode(),
        json.dumps(community).encode(), json.dumps(event_type).encode(), ticket, index, count, item)
    return raw, envelope_id


def bad_fixture_cases():
    """{file name: (status, [accepted codes], field the detail must name or None)}, from the
    table in fixtures/bad/README.md."""
    cases = {}
    for line in (FIXTURES / "bad/README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([\w.]+\.json)`", cells[0])
        if len(cells) < 3 or not name:
            continue
        answer = cells[2]
        field = re.search(r"naming `([^`]+)`", answer)
        codes = [c for c in re.findall(r"`([a-z_]+)`", answer) if not field or c != field.group(1)]
        cases[name.group(1)] = (int(answer[:3]), codes, field and field.group(1))
    return cases


def decode_record_body(record):
    """A rejected-list record's body as bytes."""
    if record["body_encoding"] == "base64":
        return base64.b64decode(record["body"], validate=True)
    assert record["body_encoding"] == "utf-8", record["body_encoding"]
    return record["body"].encode("utf-8")


def main():
    """Take --handler, --worker and --queues, then run the calling module's unittest tests."""
    global HANDLER, WORKER, QUEUES
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--handler", default=HANDLER)
    parser.add_argument("--worker", default=WORKER)
    parser.add_argument("--queues", default=QUEUES)
    args, rest = parser.parse_known_args()
    HANDLER = args.handler and os.path.abspath(args.handler)
    WORKER = args.worker and os.path.abspath(args.worker)
    QUEUES = args.queues and os.path.abspath(args.queues)
    # SIGTERM (ctest's timeout, Ctrl-C in another form) unwinds normally, so cleanups run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)
