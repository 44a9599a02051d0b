"""hosts.py -- boardhook's programs on netns hosts: a Redis, handlers, an nginx edge in front of them, workers.

    with netns.Network("handlers") as net:
        redis = hosts.RedisServer(net.add_host("redis"), folder).start()
        a = hosts.Handler(net.add_host("handlera"), folder, redis.url()).start()
        b = hosts.Handler(net.add_host("handlerb"), folder, redis.url()).start()
        edge = hosts.Edge(net.add_host("edge"), folder, [a.address, b.address]).start()
        load = loadgen.LoadGenerator(edge, host=edge.host).start()   # HTTPS from inside the edge host
        a.kill_host()                                                # SIGKILL all that runs on handlera
        ...
        loadgen.queued_ids(redis.command)                            # what the queues hold

Each program runs from the repository's own files, as harness.Stack runs them on loopback:
redis-server with redis/boardhook.conf, the handler and worker under test (harness.HANDLER,
harness.WORKER), nginx from nginx/boardhook.conf.in and the two shipped snippets rendered by
scripts/lib/render-nginx, its certificate from scripts/lib/make-dev-ca. Every process is started
with Host.popen, so the Network stops it by PID when it closes, also when the test fails;
close_and_check() closes a Network and says what, if anything, survived it.

Files: each host has a folder <folder>/<host name>/ with its logs (redis.log, handler.log,
worker.log, nginx/error.log and access.log), its spool, its data. The handler's and the worker's
environment is the caller's choice: ours without BOARDHOOK_*, then the defaults each class
names, then the caller's `env` (where a value of None removes a variable), so a test can point
BOARDHOOK_REDIS_URL at Sentinels or set any other setting. Standard library only; needs root
(see netns.py).
"""
import collections
import json
import os
import re
import secrets
import ssl
import subprocess
import time
import types
from pathlib import Path

import harness
import netns
import redis_cluster

PREFIX = "boardhook"   # the default BOARDHOOK_QUEUE_PREFIX


def base_environment(defaults, overrides):
    """Ours without BOARDHOOK_*, then `defaults`, then `overrides` (None removes a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
    env.update(defaults)
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def host_folder(folder, host):
    """<folder>/<host name>, made searchable (0711): nginx's workers run as nobody."""
    path = Path(folder) / host.name
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o711)
    return path


class RedisServer(redis_cluster.RedisNode):
    """redis-server with redis/boardhook.conf on `host`, on its address and its loopback, with a
    password made per server (requirepass in an included file, never on a command line, and
    protected mode stays on). command(), connect(), info(), role(), kill(), pause(), resume() as
    a redis_cluster node: over the host's own loopback by default, from another host with via=."""

    def __init__(self, host, folder, password=None, port=redis_cluster.REDIS_PORT, args=()):
        super().__init__(types.SimpleNamespace(folder=Path(folder)), host, port, password or secrets.token_hex(16))
        self.log = self.folder / "redis.log"
        self.args = list(args)   # more redis-server options, e.g. ["--appendfsync", "always"]

    def start(self):
        folder = host_folder(self.folder.parent, self.host)
        (folder / "data").mkdir(exist_ok=True)
        auth = folder / "auth.conf"
        auth.write_text(f"requirepass {self.password}\n")
        auth.chmod(0o600)
        self.argv = [harness.find_program("redis-server"), harness.REPO / "redis/boardhook.conf",
                     "--include", auth, "--bind", self.ip, "127.0.0.1", "--port", self.port,
                     "--dir", folder / "data", *self.args]
        return super().start()

    def url(self, db=0):
        """The BOARDHOOK_REDIS_URL that reaches this server from the other hosts."""
        return f"redis://:{self.password}@{self.ip}:{self.port}/{db}"

    def queue_key(self, event_type, prefix=PREFIX):
        return f"{prefix}:queue:{harness.type_key_part(event_type)}"

    def keys(self, pattern):
        return sorted(k.decode() for k in self.command("KEYS", pattern))


class Handler:
    """boardhook-handler on `host`, FastCGI on `listen` (default <host ip>:9009; "127.0.0.1:9009"
    for an nginx on the same host only), with a spool in <folder>/<host>/spool unless spool=False.

    Environment (see base_environment): BOARDHOOK_VERIFY_TOKEN_FILE (the fixtures' token),
    BOARDHOOK_REDIS_URL=`redis_url`, BOARDHOOK_QUEUE_PREFIX, BOARDHOOK_LISTEN, BOARDHOOK_SPOOL_DIR,
    BOARDHOOK_LOG_LEVEL=info, then `env`."""
    PORT = 9009

    def __init__(self, host, folder, redis_url, env=None, listen=None, spool=True, args=(), prefix=PREFIX):
        self.host, self.redis_url, self.env, self.args, self.prefix = host, redis_url, dict(env or {}), list(args), prefix
        self.folder = Path(folder) / host.name
        self.listen = listen or f"{host.ip}:{self.PORT}"
        self.spool_dir = self.folder / "spool" if spool else None
        self.log = self.folder / "handler.log"
        self.token = harness.fixture_verify_token()
        self.process = None

    def __repr__(self):
        return f"Handler({self.host.name} {self.listen})"

    @property
    def address(self):
        """Where nginx reaches it (an upstream `server`)."""
        return self.listen

    def environment(self):
        defaults = {"BOARDHOOK_VERIFY_TOKEN_FILE": str(self.folder / "verify-token"),
                    "BOARDHOOK_REDIS_URL": self.redis_url,
                    "BOARDHOOK_QUEUE_PREFIX": self.prefix,
                    "BOARDHOOK_LISTEN": self.listen,
                    "BOARDHOOK_LOG_LEVEL": "info"}
        if self.spool_dir:
            defaults["BOARDHOOK_SPOOL_DIR"] = str(self.spool_dir)
        return base_environment(defaults, self.env)

    def start(self, timeout=15):
        """Start it; return once it accepts connections on its address, from its own host."""
        if not harness.HANDLER or not os.access(harness.HANDLER, os.X_OK):
            raise harness.StartError(f"handler binary {harness.HANDLER!r} missing: pass --handler or BOARDHOOK_HANDLER")
        host_folder(self.folder.parent, self.host)
        token = self.folder / "verify-token"
        token.write_text(self.token)
        token.chmod(0o600)
        self.process = self.host.popen([harness.HANDLER, *self.args], self.log, env=self.environment(),
                                       name=f"{self.host.name}:handler")

        def listening():
            if self.listen.startswith("unix:"):
                return Path(self.listen[5:]).is_socket()
            address, port = self.listen.rsplit(":", 1)
            self.host.create_connection((address.strip("[]"), int(port)), timeout=1).close()
            return True
        harness.wait_for(listening, f"{self} listening", self.process, timeout)
        return self

    def kill_host(self):
        """SIGKILL every process on the handler's host (the handler and anything it started), as
        when that machine dies. Returns their PIDs."""
        pids = self.host.kill_all()
        if self.process is not None:
            self.process.popen.wait(5)
        return pids

    def run_command(self, *args, timeout=60):
        """Run the handler binary once in its host with its environment (--drain-spool...)."""
        return self.host.run([harness.HANDLER, *args], timeout=timeout, check=False, env=self.environment())

    def spool_status(self):
        done = self.run_command("--spool-status")
        if done.returncode != 0:
            raise AssertionError(f"{self}: --spool-status exited {done.returncode}: {done.stderr}")
        return json.loads(done.stdout)

    def drain_spool(self):
        """`boardhook-handler --drain-spool` in its host: what an operator (or the next start) does
        with the segments a dead handler left. Returns the CompletedProcess (0: spool empty)."""
        return self.run_command("--drain-spool")

    def wait_until_spool_empty(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool_status()["records"] == 0:
                return True
            time.sleep(0.2)
        return False

    def log_text(self):
        time.sleep(0.25)   # info lines are written within 100 ms (README, BOARDHOOK_LOG_LEVEL)
        return self.log.read_text(errors="replace")


# nginx's access-log line (nginx/boardhook.conf.in's log_format boardhook) as far as tests need it.
ACCESS_LINE = re.compile(r'"(?P<method>\S+) (?P<uri>\S+)" (?P<status>\d{3}) .* id=(?P<id>\S+) '
                         r'upstream=(?P<upstream>.*?) ustatus=(?P<ustatus>.*?) rt=\S+$')
Access = collections.namedtuple("Access", "method uri status request_id upstreams upstream_statuses")


class Edge:
    """nginx on `host`, from the shipped files, listening for HTTPS on every address of its host
    (port `port`), in front of `handlers` (FastCGI addresses: one upstream `server` each). Its
    certificate (make-dev-ca) is for `localhost` and 127.0.0.1: clients verify it for the name
    `localhost`, over the edge host's loopback or from another host at the edge's address.

    It quacks like a harness.Stack for loadgen (https_port, tls_context()):
    loadgen.LoadGenerator(edge, host=edge.host) sends from inside the edge host."""
    PORT = 8443

    def __init__(self, host, folder, handlers, port=PORT, worker_processes=2, max_body_bytes=4194304):
        if not handlers:
            raise ValueError("an Edge needs at least one handler address")
        self.host, self.handlers, self.https_port = host, list(handlers), port
        self.worker_processes, self.max_body_bytes = worker_processes, max_body_bytes
        self.folder = Path(folder) / host.name
        self.state = self.folder / "nginx"
        self.ca = self.folder / "ca" / "ca.pem"
        self.process = None

    def start(self, timeout=15):
        """Make the CA and certificate, render nginx.conf and the snippets, start nginx; return
        once it answers HTTPS (a 404 it makes itself) from its own host."""
        os.chmod(self.folder.parent, 0o711)   # nginx's workers (nobody) must reach the state folder
        host_folder(self.folder.parent, self.host)
        self.state.mkdir(exist_ok=True)
        os.chmod(self.state, 0o711)
        subprocess.run([harness.REPO / "scripts/lib/make-dev-ca", self.folder / "ca"], check=True)
        render = [harness.REPO / "scripts/lib/render-nginx", "--state-dir", self.state,
                  "--listen", f"0.0.0.0:{self.https_port}",
                  "--cert", self.folder / "ca/server.pem", "--key", self.folder / "ca/server.key",
                  "--max-body-bytes", self.max_body_bytes, "--worker-processes", self.worker_processes,
                  "-o", self.state / "nginx.conf"]
        for address in self.handlers:
            render += ["--handler", address]
        subprocess.run(list(map(str, render)), check=True)
        self.process = self.host.popen([harness.find_program("nginx"), "-p", self.state, "-c", self.state / "nginx.conf",
                                        "-e", self.state / "error.log"], self.folder / "nginx.stderr",
                                       name=f"{self.host.name}:nginx")
        harness.wait_for(lambda: self.request("GET", "/ready-check", timeout=2).status == 404, "nginx HTTPS",
                         self.process, timeout)
        return self

    def tls_context(self):
        return ssl.create_default_context(cafile=str(self.ca))

    def request(self, method, target, body=None, headers=None, via=None, timeout=30):
        """One HTTPS request on a new connection, from `via` (a Host; default the edge host itself,
        over its loopback). Returns a harness.Response."""
        source = via or self.host
        address = "127.0.0.1" if source is self.host else self.host.ip

        def send():
            conn = harness.LoopbackHTTPS(self.https_port, self.tls_context(), timeout, address=address)
            started = time.monotonic()
            try:
                conn.request(method, target, body=body, headers=headers or {})
                r = conn.getresponse()
                return harness.Response(r.status, r.headers, r.read(), time.monotonic() - started)
            finally:
                conn.close()
        return source.call(send)

    def post(self, body, via=None, **kw):
        return self.request("POST", "/webhooks", body=body, headers={"Content-Type": "application/json"}, via=via, **kw)

    def access_log(self):
        """Every access-log line so far, parsed: upstreams and their statuses as lists (nginx
        lists each server it tried, "a, b" when it passed the request on)."""
        entries = []
        for line in harness.tail(self.state / "access.log", 10**9).splitlines():
            m = ACCESS_LINE.search(line)
            if m:
                split = lambda text: [] if text == "-" else [x.strip() for x in text.split(",")]
                entries.append(Access(m["method"], m["uri"], int(m["status"]), m["id"],
                                      split(m["upstream"]), split(m["ustatus"])))
        return entries


class Worker:
    """boardhook-worker on `host`, serving `types` ({event type: shell command}) with its
    command-line `options` (e.g. ["--concurrency", "4", "--heartbeat-timeout", "3"]).

    Environment (see base_environment): BOARDHOOK_REDIS_URL=`redis_url`, BOARDHOOK_QUEUE_PREFIX,
    BOARDHOOK_LOG_LEVEL=debug (a line per job done), then `env`."""

    def __init__(self, host, folder, redis_url, types, options=(), env=None, prefix=PREFIX, name="worker"):
        self.host, self.redis_url, self.types, self.options = host, redis_url, dict(types), list(options)
        self.env, self.prefix, self.name = dict(env or {}), prefix, name
        self.folder = Path(folder) / host.name
        self.log = self.folder / f"{name}.log"
        self.process = None
        self.id = None            # its worker id, once registered (wait_registered)
        self.consumers = None

    def __repr__(self):
        return f"Worker({self.host.name} {self.id or 'unregistered'})"

    def environment(self):
        return base_environment({"BOARDHOOK_REDIS_URL": self.redis_url, "BOARDHOOK_QUEUE_PREFIX": self.prefix,
                                 "BOARDHOOK_LOG_LEVEL": "debug"}, self.env)

    def start(self, redis=None, timeout=15):
        """Start it; with `redis` (a RedisServer or node), return once it has registered there."""
        if not harness.WORKER or not os.access(harness.WORKER, os.X_OK):
            raise harness.StartError(f"worker binary {harness.WORKER!r} missing: pass --worker or BOARDHOOK_WORKER")
        host_folder(self.folder.parent, self.host)
        argv = [harness.WORKER, *self.options]
        for event_type, command in self.types.items():
            argv += ["--type", f"{event_type}={command}"]
        self.process = self.host.popen(argv, self.log, env=self.environment(), name=f"{self.host.name}:{self.name}")
        if redis is not None:
            self.wait_registered(redis, timeout)
        return self

    def wait_registered(self, redis, timeout=15):
        """Wait for its record in <prefix>:workers (found by its PID); sets `id` and `consumers`."""
        def registered():
            reply = redis.command("HGETALL", f"{self.prefix}:workers")
            for worker_id, record in zip(reply[::2], reply[1::2]):
                record = json.loads(record)
                if record["pid"] == self.process.pid:
                    self.id, self.consumers = worker_id.decode(), record["consumers"]
                    return True
            return False
        harness.wait_for(registered, f"{self.name} on {self.host.name} registered", self.process, timeout)

    def processing_keys(self):
        """Its consumers' processing lists (README: <prefix>:processing:<worker id>:<n>)."""
        return [f"{self.prefix}:processing:{self.id}:{n}" for n in range(self.consumers)]

    def held(self, redis):
        """The envelopes its processing lists hold now, read on `redis`."""
        return [e for key in self.processing_keys() for e in redis.command("LRANGE", key, 0, -1)]

    def stop(self, timeout=30):
        """SIGTERM (finish the running jobs, deregister) and wait; returns the exit code."""
        return self.process.stop(timeout)

    def log_text(self):
        return self.log.read_text(errors="replace")


def close_and_check(net):
    """Close `net` (every process stopped by PID, every namespace deleted) and return what
    survived it: a list of sentences, empty when nothing of it is left."""
    pids = [p.pid for p in net.processes]
    inodes = {netns.namespace_inode(name) for name in net.namespaces()} - {None}
    net.close()
    left = [f"namespace {name}" for name in netns.our_namespaces(net.run)]
    left += [f"process {pid}" for pid in pids if os.path.exists(f"/proc/{pid}") and not _is_zombie(pid)]
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:   # gone meanwhile, a zombie, or a kernel thread
            continue
        if (st.st_dev, st.st_ino) in inodes:
            left.append(f"process {entry} in a namespace of the test")
    return left


def _is_zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

