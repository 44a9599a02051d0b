"""bench.py -- boardhook side by side with nginx's own limit, a FastCGI no-op and a Node.js peer, in one run.

Run through scripts/bench, which installs what it needs and builds Release first. One TLS nginx
(the shipped nginx.conf and location snippet, rendered by scripts/lib/render-nginx) serves
four targets on loopback:

    /limit      `return 200` in nginx itself: TLS and HTTP alone
    /noop       nginx -> FastCGI -> boardhook-bench-fcgi-noop (answers at once): the protocol alone
    /webhooks   nginx -> FastCGI -> boardhook-handler -> its own redis-server (the shipped config)
    /node       nginx -> HTTP -> bench/node-peer/server.js (node:http + ioredis) -> its own redis-server

/noop is the shipped /webhooks location with another upstream, and /node has the same body
limit, timeouts and rate-limit zone, so nginx does the same work for all but /limit. For each
request kind (verification GET, POST of the fixture) and connection count, the four run back to
back (a warm-up, then the measured run) so that their ratios come from the same minute of a
shared, noisy machine. Each run records wrk's latency percentiles, the CPU time of every
process (utime + stime from /proc, before and after), the RSS of the receivers, and for the
POSTs that every event answered 200 is in Redis. Then, with --soak N, the handler's memory over N
seconds of POSTs; and the spool path (Redis stopped) beside a fresh normal run and a run during
which Redis comes back.

Writes results.md, results.json, chart.png (and the chart's data) and spool.md to --out.
Exit status: 0, or 1 when a count check failed.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests/integration"))
import harness  # noqa: E402  (fixtures, the verify token, free ports, RESP, program lookup)

FIXTURE = harness.FIXTURES / "ticket_status_change.json"
CHALLENGE = "4071937265"
EVENT_TYPE = "ticket_status_change"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Every target: its path on the one nginx, the process groups that do its work, and the Redis
# (and queue prefix) it stores into. "limit" and "noop" store nothing.
TARGETS = {
    "limit": {"label": "limit (nginx return 200)", "path": "/limit", "app": None, "redis": None},
    "noop": {"label": "FastCGI no-op", "path": "/noop", "app": "noop", "redis": None},
    "boardhook": {"label": "boardhook", "path": None, "app": "handler", "redis": "redis"},   # path from the snippet
    "node": {"label": "Node.js peer", "path": "/node", "app": "node", "redis": "redis-node"},
}
PREFIXES = {"redis": "boardhook", "redis-node": "peer"}
# The key of the webhook location's rate limit (5 GET/s per client address in production; POSTs
# have an empty key, which nginx does not count). The benchmark's verification GETs come by the
# thousand from one address and would be refused 429, so the bench gives GETs the empty key as
# well: limit_req stays in every location and is evaluated as for a POST.
LIMIT_KEY_MAP = "$boardhook_limit_key"


def say(text):
    print(text, file=sys.stderr, flush=True)


# ---- processes and /proc ----------------------------------------------------------------------

# One child process, output appended to its log, stopped by PID: the test harness's Process.
Service = harness.Process


def read_stat(pid):
    """(ppid, (utime, stime) in clock ticks) of `pid`, or None when it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]), int(fields[12]))


def process_table():
    """{pid: (ppid, (utime, stime))} of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat:
                table[int(entry)] = stat
    return table


def tree(root, table):
    """`root` and all its descendants in `table`."""
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def host_cpu():
    """(busy, steal, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total - idle - iowait - steal, steal, total


class RssSampler(threading.Thread):
    """Samples VmRSS of the given pids every `interval` s until stopped; keeps max and the timeline."""

    def __init__(self, pids, interval=0.25):
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.max = {pid: 0 for pid in pids}
        self.timeline = []   # (seconds since start, {pid: kib})
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self):
        while not self._halt.is_set():
            sample = {pid: rss_kib(pid) for pid in self.pids}
            self.timeline.append((time.monotonic() - self._t0, sample))
            for pid, kib in sample.items():
                if kib is not None:
                    self.max[pid] = max(self.max[pid], kib)
            self._halt.wait(self.interval)

    def finish(self):
        self._halt.set()
        self.join()
        return self


# ---- the stack ----------------------------------------------------------------------------------

class Bench:
    """Two redis-servers, the handler, the no-op, the Node peer and nginx in one temporary folder."""

    def __init__(self, args):
        self.args = args
        self.services = {}
        self.dir = Path(tempfile.mkdtemp(prefix="boardhook-bench-"))
        os.chmod(self.dir, 0o711)   # nginx workers run as nobody when we are root
        self.token = harness.fixture_verify_token()
        self.redis_ports = {}
        self.listeners = {}

    # ---- start -----------------------------------------------------------------------------
    def start(self):
        subprocess.run([REPO / "scripts/lib/make-dev-ca", self.dir / "ca"], check=True)
        (self.dir / "verify-token").write_text(self.token)
        for name in ("redis", "redis-node"):
            self.redis_ports[name] = harness.free_port()
            (self.dir / name).mkdir()
            self.start_redis(name)
        self.start_handler()
        self.start_noop()
        self.start_node()
        self.start_nginx()
        self.check_targets()

    def start_redis(self, name):
        service = Service(name, [harness.find_program("redis-server"), str(REPO / "redis/boardhook.conf"),
                                 "--port", str(self.redis_ports[name]), "--dir", str(self.dir / name),
                                 *shlex.split(self.args.redis_args)],
                          self.dir / f"{name}.log")
        self.services[name] = service
        harness.wait_for(lambda: self.redis_cmd(name, "PING") == "PONG", f"{name} PING", service)

    def stop_redis(self, name):
        self.services[name].stop()

    def redis_cmd(self, name, *args):
        return harness.redis_command(self.redis_ports[name], *args)

    def listener(self, name):
        """A listening socket for a FastCGI program, handed over on fd 0 (as spawn-fcgi does);
        returns (socket, the address nginx's `server` line takes)."""
        if self.args.transport == "unix":
            path = self.dir / f"{name}.sock"
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(path))
            os.chmod(path, 0o666)   # nginx's workers run as nobody
            address = f"unix:{path}"
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{sock.getsockname()[1]}"
        sock.listen(1024)   # boardhook-handler's own backlog
        self.listeners[name] = (sock, address)
        return sock, address

    def handler_environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        (self.dir / "spool").mkdir(exist_ok=True)
        # The shipped settings (deploy/boardhook.env.example, the systemd unit) but addresses.
        env.update(BOARDHOOK_VERIFY_TOKEN_FILE=str(self.dir / "verify-token"),
                   BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.redis_ports['redis']}/0",
                   BOARDHOOK_QUEUE_PREFIX=PREFIXES["redis"],
                   BOARDHOOK_THREADS=str(self.args.handler_threads),
                   BOARDHOOK_SPOOL_DIR=str(self.dir / "spool"),
                   BOARDHOOK_LOG_LEVEL=self.args.log_level)
        env.update(setting.split("=", 1) for setting in self.args.handler_env)
        return env

    def start_handler(self):
        sock, _ = self.listener("handler")
        argv = shlex.split(self.args.handler_wrapper) + [self.args.handler]
        if self.args.processes > 0:
            argv += ["--processes", str(self.args.processes)]
        self.services["handler"] = Service("boardhook-handler", argv, self.dir / "handler.log",
                                           self.handler_environment(), stdin=sock.fileno())

    def start_noop(self):
        sock, _ = self.listener("noop")
        self.services["noop"] = Service("boardhook-bench-fcgi-noop", [
            self.args.noop, "--threads", str(self.args.handler_threads),
            "--processes", str(max(self.args.processes, 1))], self.dir / "noop.log", stdin=sock.fileno())

    def start_node(self):
        if self.args.transport == "unix":
            listen = str(self.dir / "node.sock")
            self.node_address = f"unix:{listen}"
        else:
            port = harness.free_port()
            listen = self.node_address = f"127.0.0.1:{port}"
        env = dict(os.environ, PEER_LISTEN=listen, PEER_VERIFY_TOKEN_FILE=str(self.dir / "verify-token"),
                   PEER_REDIS_URL=f"redis://127.0.0.1:{self.redis_ports['redis-node']}/0",
                   PEER_QUEUE_PREFIX=PREFIXES["redis-node"], PEER_PROCESSES=str(self.args.node_processes),
                   NODE_ENV="production")
        service = self.services["node"] = Service("node peer", [self.args.node, str(Path(self.args.node_peer) / "server.js")],
                                                  self.dir / "node.log", env)

        def listening():
            if self.args.transport == "unix":
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(listen)
            else:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        harness.wait_for(listening, "node peer listening", service)

    def start_nginx(self):
        state = self.dir / "nginx"
        state.mkdir()
        os.chmod(state, 0o711)
        self.https_port = harness.free_port()
        subprocess.run([REPO / "scripts/lib/render-nginx",
                        "--state-dir", str(state),
                        "--listen", f"127.0.0.1:{self.https_port}",
                        "--cert", str(self.dir / "ca/server.pem"),
                        "--key", str(self.dir / "ca/server.key"),
                        "--handler", self.listeners["handler"][1],
                        "--worker-processes", str(self.args.nginx_workers),
                        "-o", str(state / "nginx.conf")], check=True)
        TARGETS["boardhook"]["path"] = add_bench_locations(state, self.listeners["noop"][1], self.node_address)
        service = self.services["nginx"] = Service("nginx", [
            harness.find_program("nginx"), "-p", str(state), "-c", str(state / "nginx.conf"),
            "-e", str(state / "error.log")], self.dir / "nginx.stderr")
        harness.wait_for(lambda: self.request("GET", "/limit").status == 200, "nginx HTTPS", service)

    # ---- talking to it ---------------------------------------------------------------------
    def path(self, target, request):
        """The target's path; for GET with the verification query (the fixtures' token)."""
        path = TARGETS[target]["path"]
        return path + f"?challenge={CHALLENGE}&verifyToken={self.token}" if request == "GET" else path

    def url(self, target, request):
        return f"https://127.0.0.1:{self.https_port}{self.path(target, request)}"

    def request(self, method, path, body=None, headers=None):
        conn = harness.LoopbackHTTPS(self.https_port, ssl.create_default_context(cafile=str(self.dir / "ca/ca.pem")), 30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.headers, r.read(), 0)
        finally:
            conn.close()

    def redis_batches(self):
        """boardhook's counts of MULTI/EXEC batches and the requests they carried (/metrics)."""
        text = self.request("GET", "/metrics").body.decode()
        return (harness.metric(text, "boardhook_redis_batches_total"),
                harness.metric(text, "boardhook_redis_batched_requests_total"))

    def stored(self, target):
        redis = TARGETS[target]["redis"]
        return int(self.redis_cmd(redis, "LLEN", f"{PREFIXES[redis]}:queue:{EVENT_TYPE}"))

    def settled_count(self, target, timeout=60):
        """The target's queue length once it has stopped changing for --settle seconds: requests
        that wrk left in flight (a slow receiver's, seconds long) are stored by then."""
        deadline = time.monotonic() + timeout
        count = self.stored(target)
        while time.monotonic() < deadline:
            time.sleep(self.args.settle)
            now = self.stored(target)
            if now == count:
                return count
            count = now
        raise RuntimeError(f"{target}: the queue length is still changing after {timeout} s")

    def check_targets(self):
        """Before any timing: every target answers both request kinds as it should, and the two
        receivers store envelopes of the same shape. Raises when one does not."""
        body = FIXTURE.read_bytes()
        for target in TARGETS:
            path = TARGETS[target]["path"]
            get = self.request("GET", self.path(target, "GET"))
            if get.status != 200 or (TARGETS[target]["redis"] and get.body != CHALLENGE.encode()):
                raise RuntimeError(f"{target}: verification GET answered {get}")
            before = self.stored(target) if TARGETS[target]["redis"] else 0
            post = self.request("POST", path, body, {"Content-Type": "application/json"})
            if post.status != 200:
                raise RuntimeError(f"{target}: POST answered {post}")
            if TARGETS[target]["redis"]:
                if post.json() != {"stored": 1} or self.stored(target) != before + 1:
                    raise RuntimeError(f"{target}: POST answered {post} but stored {self.stored(target) - before}")
        shapes = {}
        for target in ("boardhook", "node"):
            redis = TARGETS[target]["redis"]
            envelope = json.loads(self.redis_cmd(redis, "LINDEX", f"{PREFIXES[redis]}:queue:{EVENT_TYPE}", 0))
            shapes[target] = sorted(envelope)
            if envelope["event"] != json.loads(body)["Events"][0]:
                raise RuntimeError(f"{target}: the stored event differs from the fixture's item")
        if shapes["boardhook"] != shapes["node"]:
            raise RuntimeError(f"envelopes differ: boardhook {shapes['boardhook']}, node {shapes['node']}")

    def spool_records(self):
        out = subprocess.run([self.args.handler, "--spool-status"], env=self.handler_environment(),
                             capture_output=True, text=True, timeout=60).stdout
        return json.loads(out)["records"]

    def wait_until_spool_empty(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool_records() == 0:
                return True
            time.sleep(0.25)
        return False

    # ---- process groups ----------------------------------------------------------------------
    def groups(self, table=None):
        """{group: [pids]}: each service with its children (nginx's workers, the handler's
        processes, cluster workers)."""
        table = table or process_table()
        return {name: tree(service.pid, table) for name, service in self.services.items() if service.alive()}

    def cpu_snapshot(self):
        table = process_table()
        return {name: {pid: table[pid][1] for pid in pids} for name, pids in self.groups(table).items()}

    def stop(self):
        for name in ("nginx", "node", "noop", "handler", "redis", "redis-node"):
            if name in self.services:
                # Under valgrind the handler takes a while to stop and write its profile.
                self.services[name].stop(timeout=120 if name == "handler" and self.args.handler_wrapper else 10)
        for sock, _ in self.listeners.values():
            sock.close()
        if self.args.keep:
            say(f"--keep: everything is left in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def block_at(text, start):
    """The end (exclusive) of the { } block whose header begins at `start`; comments skipped."""
    depth, i = 0, text.index("{", start)
    while i < len(text):
        c = text[i]
        if c == "#":
            i = text.index("\n", i)
            continue
        if c in "'\"":
            i = text.index(c, i + 1) + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise RuntimeError("unbalanced braces")


def replace_once(text, pattern, replacement, what):
    text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise RuntimeError(f"rendered nginx config: want one {what}, found {count}")
    return text


def add_bench_locations(state, noop_address, node_address):
    """Adds /limit, /noop and /node to the nginx.conf render-nginx wrote in `state`, through two
    includes beside boardhook's own; raises the webhook zone's rate. Returns the webhook path."""
    upstream_file = state / "boardhook-upstream.conf"
    upstream = upstream_file.read_text()
    match = re.search(rf"^[ \t]*map\s+\S+\s+{re.escape(LIMIT_KEY_MAP)}\s*\{{", upstream, re.MULTILINE)
    if not match:
        raise RuntimeError(f"boardhook-upstream.conf: no `map ... {LIMIT_KEY_MAP} {{ }}`")
    end = block_at(upstream, match.start())
    keys = replace_once(upstream[match.start():end], r"^([ \t]*default\s+)[^;]+;", r'\g<1>"";', "map default")
    upstream = upstream[:match.start()] + keys + upstream[end:]
    upstream_file.write_text(upstream)

    # The no-op and the Node peer get boardhook's upstream block (keepalive ...) with their address.
    match = re.search(r"^\s*upstream\s+boardhook_handler\s*\{([^}]*)\}", upstream, re.MULTILINE)
    if not match:
        raise RuntimeError("boardhook-upstream.conf: no `upstream boardhook_handler { }`")
    settings = re.sub(r"^[ \t]*server\s+[^;]*;[ \t]*\n?", "", match.group(1), flags=re.MULTILINE)
    settings = "\n".join(line for line in settings.splitlines() if line.strip() and not line.strip().startswith("#"))
    upstreams = (f"# bench-upstreams.conf -- written by bench/bench.py: boardhook_handler's settings, other servers.\n"
                 f"upstream bench_noop {{\n    server  {noop_address};\n{settings}\n}}\n"
                 f"upstream bench_node {{\n    server  {node_address};\n{settings}\n}}\n")
    (state / "bench-upstreams.conf").write_text(upstreams)

    # The webhook location (the one passing BOARDHOOK_ROUTE webhook), copied for the no-op.
    locations = (state / "boardhook-location.conf").read_text()
    webhook = None
    for m in re.finditer(r"^location\s+=\s+(\S+)\s*\{", locations, re.MULTILINE):
        block = locations[m.start():block_at(locations, m.start())]
        if re.search(r"^\s*fastcgi_param\s+BOARDHOOK_ROUTE\s+webhook\s*;", block, re.MULTILINE):
            webhook = (m.group(1), block)
    if webhook is None:
        raise RuntimeError("boardhook-location.conf: no location passing BOARDHOOK_ROUTE webhook")
    path, block = webhook
    noop = replace_once(block, r"^location\s+=\s+\S+", "location = /noop", "location header")
    noop = replace_once(noop, r"^(\s*fastcgi_pass\s+)boardhook_handler(\s*;)", r"\g<1>bench_noop\g<2>", "fastcgi_pass")
    body_limit = re.search(r"^\s*client_max_body_size\s+(\S+)\s*;", block, re.MULTILINE).group(1)
    limit_req = re.search(r"^\s*limit_req\s+[^;]*;", block, re.MULTILINE).group(0).strip()
    node = f"""location = /node {{
    proxy_pass          http://bench_node;
    proxy_http_version  1.1;
    proxy_set_header    Connection    "";
    proxy_set_header    X-Request-Id  $request_id;

    client_max_body_size  {body_limit};
    {limit_req}
    limit_req_status  429;

    proxy_connect_timeout    2s;
    proxy_send_timeout       5s;
    proxy_read_timeout       10s;
    proxy_request_buffering  on;

    add_header  X-Request-Id               $request_id      always;
    add_header  Strict-Transport-Security  $boardhook_hsts  always;
    error_page  502 504   =503 @boardhook_handler_unavailable;
}}
"""
    (state / "bench-locations.conf").write_text(
        "# bench-locations.conf -- written by bench/bench.py: the benchmark's references beside boardhook.\n\n"
        "# TLS and HTTP alone.\nlocation = /limit { return 200; }\n\n"
        f"# boardhook's {path} location, passing to the FastCGI no-op.\n{noop}\n\n"
        f"# The Node.js peer, with the same limits and timeouts.\n{node}")

    conf_file = state / "nginx.conf"
    conf = conf_file.read_text()
    for name, extra in (("boardhook-upstream.conf", "bench-upstreams.conf"), ("boardhook-location.conf", "bench-locations.conf")):
        conf = replace_once(conf, rf"^([ \t]*)include\s+{re.escape(str(state / name))}[ \t]*;[ \t]*$",
                            rf"\g<0>\n\g<1>include  {state / extra};", f"include of {name}")
    conf_file.write_text(conf)
    return path


# ---- one measurement ------------------------------------------------------------------------------

def run_wrk(bench, target, request, connections, seconds):
    """wrk against one target; returns its RESULT and its own CPU seconds."""
    env = dict(os.environ, BENCH_METHOD=request, BENCH_BODY=str(FIXTURE) if request == "POST" else "")
    threads = min(bench.args.wrk_threads, connections)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "20s",
                          "-s", str(BENCH / "wrk-bench.lua"), bench.url(target, request)],
                         env=env, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result = json.loads(match.group(1))
    result["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def run_cell(bench, target, request, connections, seconds, mode="normal", rss_interval=0.25):
    """Warm-up, then a measured run with CPU, RSS and (for a receiver's POST) the count check.
    Whatever the handler spooled is counted once the spool has drained. The modes, for
    boardhook's POSTs:
      "spool"     the handler's Redis is stopped during the warm-up and the measured run (it is
                  started in between to drain the warm-up's events before the count);
      "recovery"  Redis is stopped during the warm-up and started just before the measured run,
                  as after an outage under continuous load; the count covers both runs."""
    args = bench.args
    counts = request == "POST" and TARGETS[target]["redis"] is not None
    spooling = target == "boardhook" and request == "POST"
    if mode == "recovery":
        before = bench.settled_count(target)
    if mode != "normal":
        bench.stop_redis("redis")
    warmup = run_wrk(bench, target, request, connections, args.warmup)
    if mode != "normal":
        bench.start_redis("redis")
    if mode != "recovery":
        if spooling and not bench.wait_until_spool_empty(300):
            raise RuntimeError("the spool did not drain after the warm-up")
        before = bench.settled_count(target) if counts else None
    if mode == "spool":
        bench.stop_redis("redis")

    groups = bench.groups()
    app = TARGETS[target]["app"]
    sampler = RssSampler([pid for name in ("handler", "noop", "node") for pid in groups.get(name, [])], rss_interval)
    sampler.start()
    batches_before = bench.redis_batches() if spooling and mode == "normal" else None
    cpu_before, host_before = bench.cpu_snapshot(), host_cpu()
    result = run_wrk(bench, target, request, connections, seconds)
    cpu_after, host_after = bench.cpu_snapshot(), host_cpu()
    sampler.finish()
    if batches_before:
        batches, requests = (after - before for after, before in zip(bench.redis_batches(), batches_before))
        result["mean_batch"] = requests / batches if batches else 0.0

    # What the handler answered 200 for but had put in its spool (all of it with Redis stopped;
    # with Redis up, whatever a slow or failed MULTI/EXEC sent there) is counted once drained.
    in_spool = bench.spool_records() if spooling else 0
    if mode == "spool":
        bench.start_redis("redis")
    if in_spool and not bench.wait_until_spool_empty(600):
        raise RuntimeError("the spool did not drain")
    elapsed = result["duration_us"] / 1e6
    result.update(target=target, request=request, connections=connections, mode=mode,
                  rps=result["requests"] / elapsed, acknowledged=result["requests"] - result["status_errors"])
    cpu, cpu_sys = {}, {}
    for name, pids in cpu_after.items():
        then = cpu_before.get(name, {})
        user = sum(u - then.get(pid, (0, 0))[0] for pid, (u, _) in pids.items())
        system = sum(k - then.get(pid, (0, 0))[1] for pid, (_, k) in pids.items())
        cpu[name], cpu_sys[name] = (user + system) / CLOCK_TICKS, system / CLOCK_TICKS
    cpu["wrk"] = result.pop("wrk_cpu_s")
    result["cpu_s"], result["cpu_sys_s"] = cpu, cpu_sys
    busy = (host_after[0] - host_before[0]) / CLOCK_TICKS
    result["host_busy_cores"] = busy / elapsed
    result["host_steal_pct"] = 100 * (host_after[1] - host_before[1]) / max(host_after[2] - host_before[2], 1)
    result["ours_cores"] = sum(cpu.values()) / elapsed
    result["rps_by_cpu"] = os.cpu_count() * result["requests"] / max(sum(cpu.values()), 1e-9)
    result["rss_max_kib"] = {str(pid): kib for pid, kib in sampler.max.items() if pid in groups.get(app, [])}
    result["rss_timeline"] = sampler.timeline   # dropped from results.json but for the soak
    result["groups"] = {name: pids for name, pids in groups.items()}

    if counts:
        stored = bench.settled_count(target) - before
        # wrk stops with requests in flight: one may be stored without its 200 counted, never
        # the other way round.
        acknowledged, runs = result["acknowledged"], 1
        if mode == "recovery":
            acknowledged, runs = acknowledged + warmup["requests"] - warmup["status_errors"], 2
        ok = acknowledged <= stored <= acknowledged + runs * connections
        result.update(stored=stored, counted=acknowledged, in_spool_at_end=in_spool, check="ok" if ok else "MISMATCH")
        # Keep the dataset small, as consumers would: the AOF still records every write.
        redis = TARGETS[target]["redis"]
        bench.redis_cmd(redis, "UNLINK", f"{PREFIXES[redis]}:queue:{EVENT_TYPE}")
    return result


# ---- the report -----------------------------------------------------------------------------------

def ms(us):
    return f"{us / 1000:.2f}"


def per_request_us(result, group, with_system=False):
    """CPU µs per request of `group`; with_system: "total (system)"."""
    per = 1e6 / max(result["requests"], 1)
    text = f"{result['cpu_s'].get(group, 0.0) * per:.0f}"
    if with_system and group in result.get("cpu_sys_s", {}):
        text += f" ({result['cpu_sys_s'][group] * per:.0f})"
    return text


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())

    def version(argv, pattern):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            m = re.search(pattern, out.stdout + out.stderr)
            return m.group(1) if m else "?"
        except OSError:
            return "?"
    return {
        "host": platform.node(), "cpu": model, "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "kernel": platform.release(),
        "os": next((line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                    if line.startswith("PRETTY_NAME=")), "?"),
        "nginx": version([harness.find_program("nginx"), "-v"], r"nginx/(\S+)"),
        "redis": version([harness.find_program("redis-server"), "--version"], r"v=(\S+)"),
        "node": version(["node", "--version"], r"v(\S+)"),
        "wrk": version(["wrk", "--version"], r"wrk (\S+)"),
    }


def targets_verdicts(matrix, spool_pair, rss, soak):
    """The goals of issue 7, each with the number reached."""
    def cell(target, request, connections=64):
        return next((r for r in matrix if r["target"] == target and r["request"] == request
                     and r["connections"] == connections), None)
    rows = []

    def add(goal, value, text, met):
        rows.append((goal, text if value is not None else "not measured", "met" if met else "MISSED"))
    bh, node, noop = cell("boardhook", "POST"), cell("node", "POST"), cell("noop", "POST")
    if bh and node:
        add("POST req/s at 64 >= 2x the Node peer", 1,
            f"{bh['rps'] / node['rps']:.2f}x (by CPU {bh['rps_by_cpu'] / node['rps_by_cpu']:.2f}x)", bh["rps"] >= 2 * node["rps"])
        add("POST p99 at 64 <= half the Node peer's", 1, f"{bh['p99_us'] / node['p99_us']:.2f}x",
            bh["p99_us"] <= node["p99_us"] / 2)
    if bh and noop:
        add("POST req/s at 64 >= 90 % of the no-op", 1,
            f"{bh['rps'] / noop['rps']:.0%} (by CPU {bh['rps_by_cpu'] / noop['rps_by_cpu']:.0%})", bh["rps"] >= 0.9 * noop["rps"])
    bh_get, noop_get = cell("boardhook", "GET"), cell("noop", "GET")
    if bh_get and noop_get:
        add("GET req/s at 64 >= 95 % of the no-op", 1,
            f"{bh_get['rps'] / noop_get['rps']:.0%} (by CPU {bh_get['rps_by_cpu'] / noop_get['rps_by_cpu']:.0%})",
            bh_get["rps"] >= 0.95 * noop_get["rps"])
    if rss:
        worst = max(rss["max_kib"].values()) / 1024
        add("handler RSS <= 16 MiB per process under load", 1, f"{worst:.1f} MiB", worst <= 16)
    if soak:
        growth = soak["growth_kib"] / 1024
        add(f"no RSS growth over a {soak['seconds']} s run (<= 1 MiB)", 1, f"{growth:+.2f} MiB", growth <= 1)
    if spool_pair:
        normal, spooled = spool_pair[:2]
        add("spool POST req/s >= 25 % of the normal path", 1, f"{spooled['rps'] / normal['rps']:.0%}",
            spooled["rps"] >= 0.25 * normal["rps"])
    return rows


def report(args, info, matrix, spool_pair, rss, soak, out):
    order = [t for t in TARGETS if t in args.targets]
    when = info["date"]
    lines = [
        f"# boardhook benchmark, {when}",
        "",
        f"{info['host']}: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}, "
        f"kernel {info['kernel']}; nginx {info['nginx']} ({args.nginx_workers} workers), redis {info['redis']} "
        f"(AOF everysec{', then ' + args.redis_args if args.redis_args else ''}), node {info['node']}, wrk {info['wrk']} (-t{args.wrk_threads}) on the same cores.",
        f"boardhook-handler: {args.processes or 1} process(es) x {args.handler_threads} threads, log level "
        f"{args.log_level}, spool configured"
        f"{''.join(', ' + setting for setting in args.handler_env)}; no-op: the same; Node peer: {args.node_processes} process(es). "
        f"Upstreams over {args.transport} sockets. Each run: {args.warmup} s warm-up, {args.seconds} s measured; "
        f"the four targets of a row group run back to back. POST body: `{FIXTURE.name}` ({FIXTURE.stat().st_size} bytes).",
        "",
        "## Throughput and latency",
        "",
        "| request | conns | target | req/s | p50 ms | p99 ms | p99.9 ms | non-200 | socket errors | 200s | stored | check |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    if args.rounds > 1:
        lines[-2:-2] = [f"Each row is the median of {args.rounds} interleaved rounds (by requests/s); "
                        "the rounds' requests/s follow it in brackets.", ""]
    for r in matrix:
        rounds = f" ({', '.join(map(str, r['rounds_rps']))})" if args.rounds > 1 else ""
        lines.append(f"| {r['request']} | {r['connections']} | {TARGETS[r['target']]['label']} | {r['rps']:.0f}{rounds} | "
                     f"{ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['p999_us'])} | {r['status_errors']} | "
                     f"{r['socket_errors']} | {r['acknowledged']} | {r.get('stored', '')} | {r.get('check', '')}"
                     + (f", {r['in_spool_at_end']} were in the spool at the end" if r.get("in_spool_at_end") else "")
                     + (f"; {r['mean_batch']:.1f} POSTs per MULTI/EXEC" if r.get("mean_batch") else "") + " |")
    lines += [
        "",
        "## CPU per request and memory",
        "",
        "CPU time (user + system, from /proc) per request, in µs, of each process group, the system part in",
        "brackets; `cores` is what the benchmark's processes used in all (of 2), `others` what the rest of",
        "the machine used meanwhile (a shared machine: compare rows with little of it). `req/s by CPU` is",
        f"{os.cpu_count()} cores divided by the CPU all of them (wrk too) spent per request: what the run would reach",
        "alone on the machine, and steadier than requests/s when others are busy.",
        "",
        "| request | conns | target | nginx µs | app µs | redis µs | wrk µs | cores | others | req/s by CPU | app RSS MiB (max per process) |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in matrix:
        app, redis = TARGETS[r["target"]]["app"], TARGETS[r["target"]]["redis"]
        rss_text = f"{max(r['rss_max_kib'].values()) / 1024:.1f}" if r["rss_max_kib"] else ""
        lines.append(f"| {r['request']} | {r['connections']} | {TARGETS[r['target']]['label']} | "
                     f"{per_request_us(r, 'nginx', True)} | {per_request_us(r, app, True) if app else ''} | "
                     f"{per_request_us(r, redis) if redis else ''} | {per_request_us(r, 'wrk')} | "
                     f"{r['ours_cores']:.2f} | {max(r['host_busy_cores'] - r['ours_cores'], 0):.2f} | "
                     f"{r['rps_by_cpu']:.0f} | {rss_text} |")

    ratio_targets = [t for t in ("limit", "noop", "node") if t in order]
    if "boardhook" in order and ratio_targets:
        head = " | ".join([f"req/s vs {t}" for t in ratio_targets] + [f"p99 vs {t}" for t in ratio_targets]
                          + [f"by CPU vs {t}" for t in ratio_targets])
        lines += ["", "## boardhook's ratios", "",
                  "boardhook's requests/s divided by each reference's (higher is better), its p99 divided by "
                  "theirs (lower is better), and its `req/s by CPU` divided by theirs.", "",
                  f"| request | conns | {head} |", "| --- | ---: |" + " ---: |" * (3 * len(ratio_targets))]
        for request in args.requests:
            for connections in args.connections:
                row = {r["target"]: r for r in matrix if r["request"] == request and r["connections"] == connections}
                if "boardhook" not in row:
                    continue
                bh = row["boardhook"]
                cells = [f"{bh['rps'] / row[t]['rps']:.2f}" if t in row else "" for t in ratio_targets]
                cells += [f"{bh['p99_us'] / row[t]['p99_us']:.2f}" if t in row else "" for t in ratio_targets]
                cells += [f"{bh['rps_by_cpu'] / row[t]['rps_by_cpu']:.2f}" if t in row else "" for t in ratio_targets]
                lines.append(f"| {request} | {connections} | " + " | ".join(cells) + " |")

    if spool_pair:
        lines += ["", "## Normal path and spool path (Redis stopped)", "",
                  "Back to back: POSTs with Redis up; with Redis stopped (every event fsync'd to the spool); and "
                  "with Redis stopped during the warm-up and started as the measured run begins (the 200s and "
                  "the count of that row cover both). `in spool at the end`: events answered 200 that were still "
                  "in the spool when the run ended, counted as stored once drained.", "",
                  spool_table(args, spool_pair, header=False)]
    if rss:
        lines += ["", "## boardhook-handler memory", "",
                  "VmRSS of each handler process (the supervisor and the processes serving requests), in MiB.", "",
                  "| process | after start | max under load | at the end |", "| --- | ---: | ---: | ---: |"]
        for pid in rss["start_kib"]:
            role = "supervisor" if int(pid) == rss["supervisor"] else "serving"
            lines.append(f"| {pid} ({role}) | {rss['start_kib'][pid] / 1024:.1f} | {rss['max_kib'].get(pid, 0) / 1024:.1f} | "
                         f"{(rss['end_kib'].get(pid) or 0) / 1024:.1f} |")
    if soak:
        lines += ["", f"Soak: POST at {soak['connections']} connections for {soak['seconds']} s, "
                  f"{soak['rps']:.0f} req/s, check {soak['check']}: serving processes' RSS "
                  + ", ".join(f"{a / 1024:.1f} → {b / 1024:.1f} MiB" for a, b in soak["per_process"])
                  + f" (largest growth {soak['growth_kib'] / 1024:+.2f} MiB)"
                  + (f"; {soak['in_spool_at_end']} events were in the spool at the end" if soak["in_spool_at_end"] else "")
                  + "."]
    verdicts = targets_verdicts(matrix, spool_pair, rss, soak)
    if verdicts:
        lines += ["", "## Goals of issue 7", "", "| goal | reached | |", "| --- | ---: | --- |"]
        lines += [f"| {goal} | {value} | {verdict} |" for goal, value, verdict in verdicts]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    return text


def spool_table(args, pair, header=True):
    normal = pair[0]["rps"]
    lines = []
    if header:
        lines += [f"POST of `{FIXTURE.name}` ({FIXTURE.stat().st_size} bytes), {pair[0]['connections']} connections, "
                  f"{args.seconds} s, wrk -t{args.wrk_threads}, {time.strftime('%Y-%m-%d')}, "
                  f"{platform.node()} ({os.cpu_count()} cores)", ""]
    lines += ["| path | requests/s | p50 ms | p99 ms | p99.9 ms | 200s | stored | in spool at the end | check | vs normal |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in pair:
        lines.append(f"| {spool_row_name(r)} | {r['rps']:.0f} | "
                     f"{ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['p999_us'])} | "
                     f"{r['counted']} | {r['stored']} | {r.get('in_spool_at_end', 0)} | {r['check']} | "
                     f"{r['rps'] / normal:.0%} |")
    return "\n".join(lines)


def spool_row_name(result):
    return {"normal": "Redis (normal)", "spool": "spool (Redis down)",
            "recovery": "Redis back after an outage, under load"}[result["mode"]]


def chart(args, info, matrix, out):
    """chart.png through gnuplot (bench/chart.gp), from rps.dat and p99.dat. Every target has
    its column (NaN when not run), so each keeps its colour."""
    order = list(TARGETS)
    for name, key, scale in (("rps", "rps", 1), ("p99", "p99_us", 1e-3)):
        rows = [" ".join(['"cell"'] + [f'"{TARGETS[t]["label"]}"' for t in order])]
        for request in args.requests:
            for connections in args.connections:
                row = {r["target"]: r for r in matrix if r["request"] == request and r["connections"] == connections}
                values = [f"{row[t][key] * scale:.3f}" if t in row else "NaN" for t in order]
                rows.append(" ".join([f'"{request} {connections}"'] + values))
        (out / f"{name}.dat").write_text("\n".join(rows) + "\n")
    heading = (f"boardhook vs nginx return 200, FastCGI no-op, Node.js peer -- {info['date']}, "
               f"{info['host']} ({info['cores']} cores)")
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        say("gnuplot not found: no chart (scripts/bench installs it)")
        return
    columns = " ".join(str(i + 2) for i, t in enumerate(order) if t in args.targets)
    done = subprocess.run([gnuplot, "-e", f"rps='{out / 'rps.dat'}'; p99='{out / 'p99.dat'}'; out='{out / 'chart.png'}'; "
                           f"heading='{heading}'; columns='{columns}'", str(BENCH / "chart.gp")],
                          capture_output=True, text=True)
    if done.returncode != 0:
        say(f"gnuplot failed, no chart:\n{done.stderr}")


def median_runs(runs):
    """One result per (request, connections, target): with several rounds, the run of median
    requests/s (so its latency, CPU and counts belong together), with every round's figure."""
    by_cell = {}
    for r in runs:
        by_cell.setdefault((r["request"], r["connections"], r["target"]), []).append(r)
    chosen = []
    for rounds in by_cell.values():
        ranked = sorted(rounds, key=lambda r: r["rps"])
        median = dict(ranked[(len(ranked) - 1) // 2])
        median["rounds_rps"] = [round(r["rps"]) for r in rounds]
        median["rounds_p99_us"] = [r["p99_us"] for r in rounds]
        # Every round's count must match, not only the median's.
        if any(r.get("check") == "MISMATCH" for r in rounds):
            median["check"] = "MISMATCH"
        chosen.append(median)
    return chosen


def merge_max(into, sample):
    for pid, kib in sample.items():
        into[pid] = max(into.get(pid, 0), kib)


# ---- main -------------------------------------------------------------------------------------------

def csv(kind, allowed=None):
    def parse(text):
        items = [kind(v) for v in text.split(",") if v]
        if allowed is not None and any(i not in allowed for i in items):
            raise argparse.ArgumentTypeError(f'"{text}": each of {", ".join(allowed)}')
        if not items:
            raise argparse.ArgumentTypeError("empty list")
        return items
    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=str(REPO / "build/release"), help="where the Release binaries are")
    p.add_argument("--handler", help="default BUILD/boardhook-handler")
    p.add_argument("--noop", help="default BUILD/boardhook-bench-fcgi-noop")
    p.add_argument("--node-peer", help="folder of server.js with node_modules (default BUILD/node-peer)")
    p.add_argument("--node", default=shutil.which("node") or "node", help="the node binary")
    p.add_argument("--targets", type=csv(str, list(TARGETS)), default=list(TARGETS),
                   help="some of " + ",".join(TARGETS))
    p.add_argument("--requests", type=csv(str, ["GET", "POST"]), default=["GET", "POST"], help="GET,POST or one")
    p.add_argument("--connections", type=csv(int), default=[16, 64, 256], help="e.g. 16,64,256")
    p.add_argument("--warmup", type=int, default=5, help="seconds before each measured run")
    p.add_argument("--seconds", type=int, default=10, help="seconds of each measured run")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the whole matrix this many times, interleaved, and report each cell's median run")
    p.add_argument("--settle", type=float, default=0.5, help="seconds a queue length must hold still before it is counted")
    p.add_argument("--spool-connections", type=int, default=64, help="the spool run's connections; 0: none")
    p.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                   help="then POST to boardhook this long and report the handler's RSS growth")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk -t")
    p.add_argument("--processes", type=int, default=2,
                   help="boardhook-handler --processes (the systemd unit's 2; 0: a single process, no supervisor)")
    p.add_argument("--handler-threads", type=int, default=80, help="BOARDHOOK_THREADS, also the no-op's")
    p.add_argument("--log-level", default="info", help="BOARDHOOK_LOG_LEVEL (the shipped info)")
    p.add_argument("--redis-args", default="", metavar="ARGS",
                   help="more redis-server arguments for both Redis instances, for experiments "
                        "(e.g. '--appendonly no'); the report names them")
    p.add_argument("--handler-env", action="append", default=[], metavar="NAME=VALUE",
                   help="another setting for boardhook-handler, e.g. BOARDHOOK_REDIS_BATCH_WAIT_US=0 (repeatable)")
    p.add_argument("--node-processes", type=int, default=1, help="node:cluster workers of the peer")
    p.add_argument("--nginx-workers", type=int, default=2, help="nginx worker_processes")
    p.add_argument("--transport", choices=["unix", "tcp"], default="unix",
                   help="nginx to the three upstreams (the shipped upstream is a unix socket)")
    p.add_argument("--handler-wrapper", default="", metavar="COMMAND",
                   help="run the handler under this, which must become the handler's process (valgrind does, "
                        "strace does not), e.g. 'valgrind --tool=callgrind' (scripts/bench-core --live)")
    p.add_argument("--out", default=str(REPO / "build/bench"))
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, nginx config)")
    args = p.parse_args(argv)
    args.handler = os.path.abspath(args.handler or os.path.join(args.build, "boardhook-handler"))
    args.noop = os.path.abspath(args.noop or os.path.join(args.build, "boardhook-bench-fcgi-noop"))
    args.node_peer = os.path.abspath(args.node_peer or os.path.join(args.build, "node-peer"))
    return args


def main():
    args = parse_args(sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    matrix, spool_pair, soak = [], None, None
    try:
        bench.start()
        handler_pids = bench.groups()["handler"]
        rss = {"supervisor": bench.services["handler"].pid if args.processes > 0 else -1,
               "start_kib": {str(pid): rss_kib(pid) or 0 for pid in handler_pids}, "max_kib": {}}
        cells = [(request, connections) for request in args.requests for connections in args.connections]
        total = len(cells) * len(args.targets) * args.rounds
        runs = []
        for index, (request, connections) in enumerate(cells * args.rounds):
            # Rotate the order from row group to row group, so no target always runs first.
            order = [t for t in TARGETS if t in args.targets]
            order = order[index % len(order):] + order[:index % len(order)]
            for target in order:
                result = run_cell(bench, target, request, connections, args.seconds)
                runs.append(result)
                if target == "boardhook":
                    merge_max(rss["max_kib"], result["rss_max_kib"])
                say(f"[{len(runs)}/{total}] {request} {connections:>3} {target:<9} {result['rps']:8.0f} req/s  "
                    f"p99 {ms(result['p99_us']):>8} ms  {result.get('check', '')}  ({time.monotonic() - started:.0f} s)")
        matrix = median_runs(runs)
        matrix.sort(key=lambda r: (args.requests.index(r["request"]), r["connections"], list(TARGETS).index(r["target"])))

        if args.soak:
            result = run_cell(bench, "boardhook", "POST", 64, args.soak, rss_interval=1.0)
            serving = [pid for pid in bench.groups()["handler"] if pid != rss["supervisor"]]
            timeline = [sample for _, sample in result["rss_timeline"]]
            per_process = [(timeline[0][pid], timeline[-1][pid]) for pid in serving
                           if timeline[0].get(pid) and timeline[-1].get(pid)]
            soak = {"seconds": args.soak, "connections": 64, "rps": result["rps"], "check": result["check"],
                    "acknowledged": result["acknowledged"], "stored": result["stored"],
                    "in_spool_at_end": result["in_spool_at_end"],
                    "per_process": per_process, "growth_kib": max((b - a for a, b in per_process), default=0),
                    "timeline": result["rss_timeline"]}
            merge_max(rss["max_kib"], result["rss_max_kib"])
            say(f"soak {args.soak} s: {result['rps']:.0f} req/s, RSS growth {soak['growth_kib']} KiB")
        if args.spool_connections and "boardhook" in args.targets:
            normal = run_cell(bench, "boardhook", "POST", args.spool_connections, args.seconds)
            spooled = run_cell(bench, "boardhook", "POST", args.spool_connections, args.seconds, mode="spool")
            # Redis comes back under load: does the handler return to the direct path?
            recovery = run_cell(bench, "boardhook", "POST", args.spool_connections, args.seconds, mode="recovery")
            spool_pair = (normal, spooled, recovery)
            for r in spool_pair:
                say(f"{spool_row_name(r)} POST {args.spool_connections}: {r['rps']:.0f} req/s  "
                    f"p99 {ms(r['p99_us'])} ms  {r['check']}")
            (out / "spool.md").write_text(spool_table(args, spool_pair) + "\n")

        rss["end_kib"] = {pid: rss_kib(int(pid)) for pid in rss["start_kib"]}
    finally:
        bench.stop()

    for r in matrix + list(spool_pair or ()):
        r.pop("rss_timeline", None)
    if soak:
        soak["timeline"] = [(round(t, 1), sample) for t, sample in soak["timeline"]]
    (out / "results.json").write_text(json.dumps({"machine": info, "args": {k: v for k, v in vars(args).items()},
                                                  "matrix": matrix, "spool": spool_pair, "rss": rss, "soak": soak},
                                                 indent=1, default=str) + "\n")
    text = report(args, info, matrix, spool_pair, rss, soak, out)
    chart(args, info, matrix, out)
    print(text)
    say(f"written: {out / 'results.md'}, {out / 'chart.png'}, {out / 'results.json'}"
        + (f", {out / 'spool.md'}" if spool_pair else "") + f" ({time.monotonic() - started:.0f} s)")
    checks = [r.get("check", "ok") for r in matrix + list(spool_pair or ())] + ([soak["check"]] if soak else [])
    return 0 if all(c == "ok" for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
