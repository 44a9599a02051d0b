"""webapp.py -- the web application workers deliver to in the tests, behind the test's own nginx.

An HTTP destination is a user's application: here a small threaded HTTP/1.1 server (the standard
library's http.server) on a loopback port, behind the test's nginx with TLS from the test CA
(a server block of its own in nginx's sites-enabled/, the shipped files untouched), so a worker
talks HTTPS to nginx exactly as it would to a real application, and verifies the certificate with
--ca-bundle. The test decides each answer (200, 500, 429 with Retry-After, 404, a hang) per path,
or per request with a function; the app records every request (headers, body, arrival time) and
counts the requests in flight, per path and at most.

    app = webapp.App().start()
    site = webapp.Site(stack, app).start()   # https://127.0.0.1:<site.port>/..., certificate of the test CA
    app.answer("/hooks/a", webapp.status(404, b"no such hook"))
    app.down() ... app.up()                  # the application stopped (nginx answers 502), and back

`DeliveryTest` puts a Stack (Redis, handler, nginx), an App and its Site together with the helpers
the worker tests share; `verify_signatures` checks recorded requests with npm's standardwebhooks.
Standard library only (and Node.js with the npm package, for the signatures).
"""
import base64
import collections
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import harness

HOST = socket.gethostname()


# ---- answers ------------------------------------------------------------------------------------

class Answer:
    """What the app answers: a status, headers and body, after `delay` seconds; `hang` holds the
    request until the app stops (or `release()`), as a stuck application does."""

    def __init__(self, status=200, body=b"", headers=None, delay=0.0, hang=False, close=False):
        self.status, self.body, self.headers = status, body, dict(headers or {})
        self.delay, self.hang, self.close = delay, hang, close


def ok(body=b'{"ok":true}', delay=0.0):
    return Answer(200, body, {"Content-Type": "application/json"}, delay)


def status(code, body=b"", headers=None):
    return Answer(code, body, {"Content-Type": "text/plain", **(headers or {})})


def hang():
    return Answer(hang=True)


class Request:
    """One request as the app received it (from nginx)."""

    def __init__(self, path, headers, body, arrived, arrived_wall):
        self.path, self.headers, self.body = path, headers, body
        self.arrived, self.arrived_wall = arrived, arrived_wall   # time.monotonic(), time.time()
        self.answered = None   # monotonic time the answer was sent, None if never

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


# ---- the application -----------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True      # up() binds the same port again at once
    request_queue_size = 256

    def __init__(self, address, app):
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        pass   # a connection reset by a client that gave up, or cut by down(): expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as nginx's upstream keepalive expects
    # http.server writes the headers and the body separately: without TCP_NODELAY the body waits
    # for nginx's delayed ACK, 40 ms an answer.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.server.app._opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.app._closed(self.connection)

    def log_message(self, *args):
        pass

    def do_POST(self):
        self._serve()

    def do_GET(self):
        self._serve()

    def _serve(self):
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.path, headers, body, time.monotonic(), time.time())
        path = self.path.split("?", 1)[0]
        answer = app._begin(path, request)
        try:
            if answer.hang:
                app._release.wait(120)
            elif answer.delay:
                time.sleep(answer.delay)
        finally:
            # No longer in flight once it starts answering: the client cannot have the answer (and
            # start another request in its place) before this count went down.
            app._end(path)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            if answer.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
            request.answered = time.monotonic()
        except OSError:
            self.close_connection = True   # the client (nginx) gave up: a worker's timeout


class App:
    """The application: answers per path, records requests, counts requests in flight."""

    def __init__(self):
        self.port = None
        self.requests = []               # every Request, in arrival order
        self.in_flight = collections.Counter()
        self.max_in_flight = collections.Counter()
        self._answers = {}               # path -> Answer, or a function Request -> Answer
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._connections = set()
        self._server = self._thread = None

    def start(self, port=0):
        self._server = _Server(("127.0.0.1", port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def answer(self, path, answer):
        """Answer requests for `path` with `answer` (an Answer, or a function of the Request
        returning one); anything else gets 200."""
        with self._lock:
            self._answers[path] = answer

    def down(self):
        """The application stops: its port refuses connections and every open connection is cut
        (nginx answers 502 meanwhile)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def up(self):
        """The application is back, on the same port."""
        self.start(self.port)

    def release(self):
        """Ends every hanging request (they answer 200 into connections their clients closed)."""
        self._release.set()

    def stop(self):
        self.release()
        self.down()

    def requests_for(self, path):
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def _begin(self, path, request):
        with self._lock:
            self.requests.append(request)
            self.in_flight[path] += 1
            self.max_in_flight[path] = max(self.max_in_flight[path], self.in_flight[path])
            answer = self._answers.get(path)
        if answer is None:
            return ok()
        return answer(request) if callable(answer) else answer

    def _end(self, path):
        with self._lock:
            self.in_flight[path] -= 1

    def _opened(self, connection):
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection):
        with self._lock:
            self._connections.discard(connection)


# ---- nginx in front of it ------------------------------------------------------------------------

SITE = """\
# app.conf -- written by tests/integration/webapp.py: the test's web application behind nginx.
log_format  boardhook_test_app  '$remote_addr [$time_iso8601] "$request_method $uri" $status '
                                'conn=$connection reqs=$connection_requests rt=$request_time';

upstream boardhook_test_app {{
    # max_fails=0: try the application every time, so it answers again as soon as it is back.
    server     127.0.0.1:{app_port} max_fails=0;
    keepalive  32;
}}

server {{
    listen       127.0.0.1:{port} ssl;
    server_name  localhost;

    ssl_certificate      {cert};
    ssl_certificate_key  {key};
    ssl_protocols        TLSv1.2 TLSv1.3;

    access_log  {state}/app-access.log  boardhook_test_app;
    client_max_body_size  8m;
    keepalive_requests    100000;

    proxy_http_version     1.1;
    proxy_set_header       Connection "";
    proxy_read_timeout     300s;
    proxy_next_upstream    off;

    # The application's answers, whatever they are.
    location / {{
        proxy_pass  http://boardhook_test_app;
    }}

    # The same, but every answer ends its connection (Connection: close): no keep-alive.
    location /close/ {{
        keepalive_timeout  0;
        proxy_pass  http://boardhook_test_app;
    }}

    # 200 at once from nginx itself, with and without keep-alive (the benchmark's destination).
    location = /nginx-ok {{
        return  200;
    }}
    location = /nginx-ok-close {{
        keepalive_timeout  0;
        return  200;
    }}
}}
"""


class Site:
    """A server block of the stack's nginx, HTTPS on a port of its own with the stack's
    certificate (localhost, 127.0.0.1), proxying to `app` (or to `app_port`)."""

    def __init__(self, stack, app=None, app_port=None):
        self.stack, self.app_port = stack, app_port or app.port
        self.port = None

    def start(self):
        state = self.stack.dir / "nginx"
        (state / "sites-enabled").mkdir(exist_ok=True)
        self.port = harness.free_port()
        (state / "sites-enabled" / "app.conf").write_text(SITE.format(
            app_port=self.app_port, port=self.port, state=state, cert=self.stack.dir / "ca/server.pem",
            key=self.stack.dir / "ca/server.key"))
        self.stack.nginx.signal(signal.SIGHUP)   # reload: the site is added, nothing else changes

        def serving():
            conn = harness.LoopbackHTTPS(self.port, self.stack.tls_context(), 2)
            try:
                conn.request("GET", "/nginx-ok")
                return conn.getresponse().status == 200
            finally:
                conn.close()
        harness.wait_for(serving, "the application's nginx site", self.stack.nginx)
        return self

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def access_log(self):
        path = self.stack.dir / "nginx/app-access.log"
        return path.read_text().splitlines() if path.exists() else []


# ---- Standard Webhooks, checked by another implementation ------------------------------------------

SWH_SOURCE = harness.REPO / "tests/integration/standardwebhooks"


def _npm_dir():
    """Where the locked npm packages are installed: BOARDHOOK_NPM_DIR (CTest sets it to a folder of
    the build tree), else beside the worker binary. Never the source tree."""
    return Path(os.environ.get("BOARDHOOK_NPM_DIR") or Path(harness.WORKER).parent / "standardwebhooks")


def install_standardwebhooks():
    """`npm ci` of tests/integration/standardwebhooks/ into the build tree, once per lock file (a
    file lock keeps two tests of one build from installing at the same time). Returns the folder."""
    target = _npm_dir()
    target.mkdir(parents=True, exist_ok=True)
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} not found: scripts/test installs Node.js (Debian's nodejs, npm)")
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock_file = SWH_SOURCE / "package-lock.json"
        installed = target / ".installed-lock.json"
        if not (target / "node_modules/standardwebhooks").is_dir() or not installed.exists() \
                or installed.read_bytes() != lock_file.read_bytes():
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(SWH_SOURCE / name, target / name)
            done = subprocess.run(["npm", "ci", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error"],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"npm ci in {target} failed:\n{done.stdout}\n{done.stderr}")
            shutil.copyfile(lock_file, installed)
    return target


def verify_signatures(requests, secrets, bodies=None):
    """Checks each request's webhook-* headers and body with npm's standardwebhooks, once per
    secret (whsec_...). `bodies` replaces the bodies (to show a changed body fails). Returns, per
    request, a list of (verified, error) per secret."""
    target = install_standardwebhooks()
    lines = []
    for i, request in enumerate(requests):
        body = request.body if bodies is None else bodies[i]
        headers = {name: request.header(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
                   if request.header(name) is not None}
        lines.append(json.dumps({"headers": headers, "body": base64.b64encode(body).decode()}))
    done = subprocess.run(["node", str(SWH_SOURCE / "verify.js"), *secrets], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, NODE_PATH=str(target / "node_modules")))
    if done.returncode != 0:
        raise RuntimeError(f"verify.js failed:\n{done.stderr}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(results) != len(requests):
        raise RuntimeError(f"verify.js answered {len(results)} lines for {len(requests)} requests")
    return [[(r["verified"][k], r["errors"][k]) for k in range(len(secrets))] for r in results]


def new_secret():
    """A Standard Webhooks secret: whsec_ and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


# ---- the tests' base -------------------------------------------------------------------------------

class DeliveryTest(unittest.TestCase):
    """A Stack (Redis, handler, nginx), the App and its Site, per test; workers in the stack's
    folder, stopped by PID at the end (also on failure). KEEP=1 keeps the folder."""
    PREFIX = "boardhook"
    SECRETS = ()   # BOARDHOOK_SIGNING_SECRET_FILE's lines for every worker, when given

    def setUp(self):
        for name, path in (("worker", harness.WORKER), ("queues", harness.QUEUES)):
            if not path or not os.access(path, os.X_OK):
                self.fail(f"{name} binary {path!r} missing: pass --{name}")
        self.stack = harness.Stack(self.id().split(".")[-1], prefix=self.PREFIX)
        self.addCleanup(self.stack.stop)
        self.stack.start()
        self.dir = self.stack.dir
        self.app = App().start()
        self.addCleanup(self.app.stop)
        self.site = Site(self.stack, self.app).start()
        self.workers = []
        if self.SECRETS:
            (self.dir / "signing-secrets").write_text("".join(s + "\n" for s in self.SECRETS))

    # ---- workers and the tool ------------------------------------------------------------------
    def environment(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.stack.redis_port}/0",
                   BOARDHOOK_QUEUE_PREFIX=self.PREFIX, BOARDHOOK_LOG_LEVEL="info")
        if self.SECRETS:
            env["BOARDHOOK_SIGNING_SECRET_FILE"] = str(self.dir / "signing-secrets")
        env.update(extra or {})
        return env

    def start_worker(self, *args, env=None, ca_bundle=True):
        """boardhook-worker with `args` (and --ca-bundle the test CA); returns once registered."""
        name = f"worker-{len(self.workers) + 1}"
        argv = [harness.WORKER, *args] + (["--ca-bundle", str(self.stack.ca)] if ca_bundle else [])
        worker = harness.Process(name, argv, self.dir / f"{name}.log", self.environment(env))
        self.workers.append(worker)
        self.addCleanup(worker.stop)
        harness.wait_for(lambda: self.worker_id(worker) is not None, f"{name} registered", worker)
        return worker

    def worker_id(self, worker):
        for field in self.redis("HKEYS", self.key("workers")):
            if field.decode().startswith(f"{HOST}:{worker.pid}:"):
                return field.decode()
        return None

    def queues(self, *args):
        """boardhook-queues against this stack's Redis; the CompletedProcess (text)."""
        return subprocess.run([harness.QUEUES, *args], env=self.environment(), capture_output=True, text=True,
                              timeout=30)

    # ---- Redis ---------------------------------------------------------------------------------
    def redis(self, *args):
        return self.stack.redis_cmd(*args)

    def key(self, *parts):
        return ":".join((self.PREFIX,) + parts)

    def push(self, event_type, envelopes):
        """LPUSH like the handler: the first of `envelopes` is the oldest."""
        for i in range(0, len(envelopes), 500):
            self.redis("LPUSH", self.key("queue", harness.type_key_part(event_type)), *envelopes[i:i + 500])
        self.redis("SADD", self.key("event-types"), event_type)

    def counter(self, field):
        return int(self.redis("HGET", self.key("counters"), field) or 0)

    def dead_records(self, event_type):
        """The dead letters of a type, newest first, as (raw bytes, parsed)."""
        raws = self.redis("LRANGE", self.key("dead", harness.type_key_part(event_type)), 0, -1)
        return [(raw, json.loads(raw)) for raw in raws]

    # ---- waiting and failing well ----------------------------------------------------------------
    def until(self, condition, what, timeout=20, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(interval)
        self.fail(f"{what}: not after {timeout} s\n{self.why()}")

    def why(self, extra=""):
        """Failure detail built only when an assertion fails: the workers' log tails."""
        test = self

        class Why:
            def __str__(self):
                parts = [str(extra)] if extra else []
                for worker in test.workers:
                    parts.append(f"--- {worker.name} pid {worker.pid} (last lines) ---\n{harness.tail(worker.log, 25)}")
                parts.append("--- the application's nginx access log (last lines) ---\n"
                             + "\n".join(test.site.access_log()[-10:]))
                return "\n".join(parts)
        return Why()

    def report(self, text):
        """A figure of the test, printed for the CTest log."""
        print(f"\n[{self.id().split('.')[-1]}] {text}", file=sys.stderr, flush=True)


def numbered_envelope(event_type, n, size=0):
    """A small distinct event (padded to about `size` bytes): envelope bytes and id."""
    pad = b', "Pad": "%s"' % (b"x" * size) if size else b""
    item = b'{"Seq": %d, "Text": "event \\u00e6 %d"%s}' % (n, n, pad)
    return harness.make_envelope(event_type, item, ticket_id=200000 + n, delivery="%032x" % n)
