#!/usr/bin/python3
"""test_compose.py -- docker-compose.yml for real: its images built from the repository, the stack run on podman, a certificate from an ACME CA, events to two workers, restarts that lose nothing.

The steps are what an operator runs (README, "With Docker Compose"), with Debian's docker-compose
talking to podman's Docker-compatible API (`podman system service`):

1. scripts/lib/make-debian-image gives podman debian:12 and debian:12-slim (no registry is
   reachable here), then `docker-compose build` builds every image the file names.
2. `docker-compose up -d --scale worker=2`: certbot gets the certificate from pebble (a real ACME
   CA validating HTTP-01 through the stack's own nginx on its port 80), nginx switches to https by
   itself, and every health check the file declares goes healthy.
3. The verification GET and every good fixture POSTed through nginx over TLS, the certificate
   checked against pebble's root alone; the two workers run every event (their commands print
   what they ran).
4. Under load, Redis stopped (the handler spools) and the handler container restarted: the spool
   volume keeps what was spooled, nginx follows the new handler, and once Redis is back every
   event answered 200 is run by a worker.
5. Workers stopped, events queued, `docker-compose down` and `up` again: the Redis volume still
   holds them byte for byte, and two new workers run them.
6. The `replicated` profile, with the settings docker-compose.yml's header gives for .env, on the
   images already built: `redis` turns into the first primary of a set with two replicas and
   three Sentinels (quorum 2), the handler and workers find it through the Sentinels, and the
   handler answers 200 only once a replica has confirmed (BOARDHOOK_REDIS_MIN_REPLICAS=1). Events
   POSTed through nginx are on both replicas, none needed the spool, `boardhook-queues doctor`
   in the handler container says the set keeps the promise (exit 0), and the workers run them.
   Then `redis` is stopped: the Sentinels promote a replica, and events POSTed after it are run
   too (the handler and the workers follow the Sentinels to the new primary).
7. `docker-compose down --volumes --rmi all` (the profile's services and volumes too), then the
   test's own podman storage removed: nothing the test made is left.

What differs from `docker-compose up` on a Docker host, and why (every override is here):
- The engine is podman (Debian has no Docker engine), with its settings in a containers.conf and
  storage.conf of the test's own (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF; no host-wide file is
  read or changed; what every rootful podman shares it shares too: netavark's address allocations
  in /run/containers/networks, which it gives back, and the blob-info cache, a digest map, in
  /var/lib/containers/cache):
  runc, since crun refuses these machines' hybrid cgroup layout; cgroupfs, with no systemd;
  open-files and processes limits of 1024, since raising limits is not permitted here; netavark
  networks; its own storage, locks and network definitions in the test's folder.
- debian:12 and debian:12-slim are made from Debian's packages (scripts/lib/make-debian-image).
- Health checks: podman runs them from systemd timers, and there is no systemd here, so the test
  runs each container's own check (`podman healthcheck run`) every 2 s while it waits for health.
- Settings through the environment, all of them settings of docker-compose.yml, which is used as
  shipped: BOARDHOOK_DOMAIN (hooks.example.test, which pebble-challtestsrv resolves to 127.0.0.1),
  BOARDHOOK_ACME_EMAIL, BOARDHOOK_HTTP_PUBLISH and BOARDHOOK_HTTPS_PUBLISH (free ports on
  127.0.0.1: 80 and 443 may be taken, and nothing here should listen beyond loopback),
  BOARDHOOK_ACME_SERVER (pebble, reached from the certbot container as host.containers.internal),
  BOARDHOOK_ACME_CA_BUNDLE (the test CA that signed pebble's own API certificate),
  BOARDHOOK_VERIFY_TOKEN_PATH (the fixtures' token), BOARDHOOK_WORKER_CONFIG (commands that
  print the events they ran), from step 6 COMPOSE_PROFILES, BOARDHOOK_REDIS_REPLICATION,
  BOARDHOOK_REDIS_URL and BOARDHOOK_REDIS_MIN_REPLICAS (read from docker-compose.yml's header,
  as an operator would copy them), COMPOSE_PROJECT_NAME (one per run), COMPOSE_FILE (the shipped file
  alone: no docker-compose.override.yml), DOCKER_HOST (podman's socket), and `--env-file` an empty
  file (a developer's .env beside docker-compose.yml is not read).
- pebble listens on every address, since the certbot container reaches it through its network's
  gateway.
- Each network's bridge gets a fixed MAC address as soon as it appears (BridgeAddressKeeper):
  netavark 1.4, Debian 12's, leaves it to the kernel, which gives a bridge the lowest address of
  its ports, so it changes whenever a container starts or stops, and the other containers keep
  sending to the old one for up to ~100 s. What they send to the bridge is their DNS (podman's
  aardvark-dns answers on the gateway address): name lookups hang for 5 s and more, and a
  handler reconnecting to Redis then holds its requests past nginx's 10 s timeout. Netavark 1.9
  fixes the bridge's address itself (containers/netavark#833); Docker always has.
The test looks inside containers with `podman exec`, not `docker-compose exec`: podman keeps an
API exec session's monitor process for 5 minutes after the command ends.

BOARDHOOK_COMPOSE_CACHE=DIR keeps podman's storage (the base image and the build's layers) in DIR
between runs, for development; without it (CI) every run starts from nothing and removes it all.
Runs as root only (debootstrap, rootful podman). KEEP=1 keeps the folder with every log.
"""
import functools
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
from pathlib import Path

import harness
import loadgen
from harness import REPO, KEEP, Process, find_program, free_port

DOMAIN = "hooks.example.test"
EMAIL = "ops@example.test"
CACHE = os.environ.get("BOARDHOOK_COMPOSE_CACHE")
HEALTH_TICK = 2            # seconds between health checks while the test waits for health
WORKERS = 2
RAN = "compose-test ran"   # what the workers' commands print, then the event type and id
BASE_IMAGES = ("docker.io/library/debian:12", "docker.io/library/debian:12-slim")
PROFILE = "replicated"
REPLICAS = ("redis-2", "redis-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")


def documented_replicated_settings():
    """{name: value} of the .env lines docker-compose.yml's header gives for the `replicated`
    profile: what an operator is told to write, run as written."""
    names = ("COMPOSE_PROFILES", "BOARDHOOK_REDIS_REPLICATION", "BOARDHOOK_REDIS_URL", "BOARDHOOK_REDIS_MIN_REPLICAS")
    found = dict(re.findall(r"^#\s+([A-Z_]+)=(\S+)$", (REPO / "docker-compose.yml").read_text(), re.MULTILINE))
    settings = {name: found.get(name) for name in names}
    assert all(settings.values()), f"docker-compose.yml's header: {settings}"
    assert settings["COMPOSE_PROFILES"] == PROFILE, settings
    return settings


def step(method):
    """A step of the one scenario: skipped when an earlier step failed, since it builds on it."""
    @functools.wraps(method)
    def run(self):
        cls = type(self)
        if cls.failed_step:
            self.skipTest(f"{cls.failed_step} failed")
        started = time.monotonic()
        try:
            method(self)
        except unittest.SkipTest:
            raise
        except BaseException:
            cls.failed_step = method.__name__
            raise
        finally:
            cls.timings.append((method.__name__, time.monotonic() - started))
    return run


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.socket_path))


class EngineAPI:
    """The Docker-compatible API of `podman system service`, read-only, over its Unix socket."""

    def __init__(self, path):
        self.path = path

    def get(self, target, **query):
        """(status, decoded JSON or the bytes) of GET target; query values that are not strings go as JSON."""
        if query:
            target += "?" + urllib.parse.urlencode(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in query.items()})
        conn = UnixHTTPConnection(self.path)
        try:
            conn.request("GET", target)
            r = conn.getresponse()
            body = r.read()
            is_json = (r.getheader("Content-Type") or "").startswith("application/json")
            return r.status, json.loads(body) if is_json and body.strip() else body
        finally:
            conn.close()


class BridgeAddressKeeper(threading.Thread):
    """Fixes the MAC address of every bridge of the test's networks as soon as netavark creates
    it (netavark >= 1.9 does so itself; see the module's docstring)."""

    def __init__(self, network_config_dir):
        super().__init__(daemon=True)
        self.config_dir = Path(network_config_dir)
        self.done = threading.Event()
        self.kept = set()

    def bridges(self):
        names = set()
        for path in self.config_dir.glob("*.json"):
            try:
                names.add(json.loads(path.read_text())["network_interface"])
            except (OSError, ValueError, KeyError):
                pass   # being written
        return names

    def run(self):
        while not self.done.wait(0.02):
            for name in self.bridges():
                device = Path("/sys/class/net") / name
                try:
                    # 3: NET_ADDR_SET, an address given by hand, which the kernel then keeps.
                    if (device / "addr_assign_type").read_text().strip() == "3":
                        continue
                    address = (device / "address").read_text().strip()
                except OSError:
                    continue   # no container on that network yet, so no bridge
                subprocess.run(["ip", "link", "set", "dev", name, "address", address], capture_output=True)
                self.kept.add(name)

    def stop(self):
        self.done.set()
        self.join(5)


def expected_ticket_id(envelope, item):
    """TicketId, else the item's Ticket.Id, else None (the contract's rule)."""
    if "TicketId" in envelope:
        return envelope["TicketId"]
    ticket = item.get("Ticket") if isinstance(item, dict) else None
    return ticket.get("Id") if isinstance(ticket, dict) else None


def good_fixtures():
    """[(file name, body, event type, [envelope ids])] of every good fixture."""
    found = []
    for path in sorted(harness.FIXTURES.glob("*.json")) + sorted(harness.FIXTURES.glob("variants/*.json")):
        raw = path.read_bytes()
        envelope = json.loads(raw)
        items = harness.array_items(harness.member_bytes(raw, "Events"))
        ids = [harness.event_id(envelope["EventType"], expected_ticket_id(envelope, json.loads(item)), item)
               for item in items]
        found.append((path.name, raw, envelope["EventType"], ids))
    assert len(found) >= 8, f"only {len(found)} good fixtures in {harness.FIXTURES}"
    return found


class Compose(unittest.TestCase):
    failed_step = None
    timings = []
    profiles = ()   # the Compose profiles turned on (step 6 turns on PROFILE)

    # ---- the engine, the CA and the files the stack reads ------------------------------------
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: debootstrap and rootful podman (scripts/test runs as root in CI)")
        cls.tools = {name: find_program(name) for name in
                     ("podman", "docker-compose", "debootstrap", "pebble", "pebble-challtestsrv", "openssl")}
        cls.dir = Path(tempfile.mkdtemp(prefix="boardhook-compose-"))
        cls.podman_dir = Path(CACHE).resolve() if CACHE else cls.dir / "podman"
        cls.project = f"bhcompose{os.getpid()}"
        cls.processes = []
        cls.removed = False
        cls.addClassCleanup(cls.remove_everything)
        cls.interfaces_before = network_interfaces()
        cls.firewall_before = firewall_rules()
        cls.write_podman_config()
        cls.bridge_keeper = BridgeAddressKeeper(cls.podman_dir / "networks")
        cls.bridge_keeper.start()
        cls.start_engine()
        cls.start_acme_ca()
        cls.fixtures = good_fixtures()
        cls.write_stack_files()

    @classmethod
    def write_podman_config(cls):
        d = cls.podman_dir
        for sub in ("storage", "run", "tmp", "networks"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        conf, storage = cls.dir / "containers.conf", cls.dir / "storage.conf"
        conf.write_text(f"""\
# The test's podman: its own storage, state, locks and networks (test_compose.py says why each).
[containers]
# Raising a limit is not permitted here; podman's defaults raise open files and processes.
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
# init: true in docker-compose.yml; Debian's catatonit.
init_path = "/usr/bin/catatonit"
log_driver = "k8s-file"

[network]
network_backend = "netavark"
network_config_dir = "{d}/networks"

[engine]
# crun refuses the hybrid cgroup layout of these machines; no systemd to manage cgroups.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{d}/tmp"
lock_type = "file"
# conmon runs `podman container cleanup` (restart policies) when a container exits: same settings.
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "CONTAINERS_CONF={conf}", "CONTAINERS_STORAGE_CONF={storage}"]
""")
        storage.write_text(f"""\
[storage]
driver = "overlay"
graphroot = "{d}/storage"
runroot = "{d}/run"
""")
        cls.podman_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CONTAINERS_", "DOCKER_"))},
                          "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}

    @classmethod
    def podman(cls, *args, timeout=120):
        return subprocess.run([cls.tools["podman"], *map(str, args)], env=cls.podman_env,
                              capture_output=True, text=True, timeout=timeout)

    @classmethod
    def start_engine(cls):
        cls.socket = cls.dir / "podman.sock"
        cls.engine = cls.start("podman-service", [cls.tools["podman"], "system", "service", "--time=0",
                                                  f"unix://{cls.socket}"], cls.podman_env)
        cls.api = EngineAPI(cls.socket)
        harness.wait_for(lambda: cls.api.get("/_ping")[0] == 200, "podman's API", cls.engine)

    @classmethod
    def start(cls, name, argv, env=None):
        process = Process(name, [str(a) for a in argv], cls.dir / f"{name}.log", env)
        cls.processes.append(process)
        return process

    @classmethod
    def start_acme_ca(cls):
        """pebble and pebble-challtestsrv (every name is 127.0.0.1) on the host. pebble's API
        certificate comes from the test CA, for host.containers.internal: podman's name, in every
        container, for the host as seen from the container's network."""
        ca = cls.dir / "ca"
        subprocess.run([REPO / "scripts/lib/make-dev-ca", ca], check=True)
        openssl = cls.tools["openssl"]
        subprocess.run([openssl, "genpkey", "-quiet", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", ca / "api.key"], check=True)
        subprocess.run([openssl, "req", "-new", "-key", ca / "api.key", "-subj", "/CN=host.containers.internal",
                        "-out", ca / "api.csr"], check=True)
        (ca / "api.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                    "extendedKeyUsage=serverAuth\n"
                                    "subjectAltName=DNS:host.containers.internal,IP:127.0.0.1\n")
        subprocess.run([openssl, "x509", "-req", "-in", ca / "api.csr", "-CA", ca / "ca.pem", "-CAkey", ca / "ca.key",
                        "-days", "2", "-extfile", ca / "api.ext", "-out", ca / "api.pem"],
                       check=True, capture_output=True)
        cls.api_ca = ca / "ca.pem"
        cls.http_port, cls.https_port = free_port(), free_port()
        dns_port, challtestsrv_port = harness.free_udp_and_tcp_port(), free_port()
        acme_port, management_port = free_port(), free_port()
        challtestsrv = cls.start("challtestsrv", [
            cls.tools["pebble-challtestsrv"], "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", f"127.0.0.1:{challtestsrv_port}"])
        config = {"pebble": {"listenAddress": f"0.0.0.0:{acme_port}",
                             "managementListenAddress": f"127.0.0.1:{management_port}",
                             "certificate": str(ca / "api.pem"), "privateKey": str(ca / "api.key"),
                             # HTTP-01 goes to the stack's published port 80.
                             "httpPort": cls.http_port, "tlsPort": free_port(),
                             "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        (cls.dir / "pebble.json").write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
        env.update(PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        pebble = cls.start("pebble", [cls.tools["pebble"], "-config", cls.dir / "pebble.json",
                                      "-dnsserver", f"127.0.0.1:{dns_port}"], env)
        api = ssl.create_default_context(cafile=str(cls.api_ca))

        def get(url):
            with urllib.request.urlopen(url, context=api, timeout=5) as r:
                return r.read()
        harness.wait_for(lambda: json.loads(get(f"https://127.0.0.1:{acme_port}/dir")).get("newOrder"),
                         "pebble's directory", pebble)

        def challtestsrv_listening():
            socket.create_connection(("127.0.0.1", challtestsrv_port), timeout=1).close()
            return True
        harness.wait_for(challtestsrv_listening, "pebble-challtestsrv", challtestsrv)
        cls.acme_directory = f"https://host.containers.internal:{acme_port}/dir"
        # The client trusts pebble's root alone (new at every start of pebble).
        cls.root = cls.dir / "pebble-root.pem"
        cls.root.write_bytes(get(f"https://127.0.0.1:{management_port}/roots/0"))
        cls.tls = ssl.create_default_context(cafile=str(cls.root))

    @classmethod
    def write_stack_files(cls):
        """The verify token (the handler's user alone reads it), the workers' commands, and the
        environment docker-compose gets."""
        cls.token = harness.fixture_verify_token()
        token = cls.dir / "verify-token"
        token.write_text(cls.token)
        os.chown(token, 10001, 10001)
        token.chmod(0o400)
        # Each command checks that it got its own envelope on stdin, then says what it ran.
        command = (f'envelope=$(cat) && case "$envelope" in *"\\"id\\":\\"$BOARDHOOK_EVENT_ID\\""*) '
                   f'echo "{RAN} $BOARDHOOK_EVENT_TYPE $BOARDHOOK_EVENT_ID";; *) exit 1;; esac')
        types = sorted({t for _, _, t, _ in cls.fixtures} | set(loadgen.EVENT_TYPES))
        worker_conf = cls.dir / "worker.conf"
        worker_conf.write_text("".join(f"{t} = {command}\n" for t in types))
        worker_conf.chmod(0o644)
        (cls.dir / "empty.env").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOARDHOOK_", "COMPOSE_", "DOCKER_"))}
        env.update(DOCKER_HOST=f"unix://{cls.socket}",
                   COMPOSE_PROJECT_NAME=cls.project,
                   COMPOSE_FILE=str(REPO / "docker-compose.yml"),
                   BOARDHOOK_DOMAIN=DOMAIN,
                   BOARDHOOK_ACME_EMAIL=EMAIL,
                   BOARDHOOK_HTTP_PUBLISH=f"127.0.0.1:{cls.http_port}",
                   BOARDHOOK_HTTPS_PUBLISH=f"127.0.0.1:{cls.https_port}",
                   BOARDHOOK_ACME_SERVER=cls.acme_directory,
                   BOARDHOOK_ACME_CA_BUNDLE=str(cls.api_ca),
                   BOARDHOOK_VERIFY_TOKEN_PATH=str(token),
                   BOARDHOOK_WORKER_CONFIG=str(worker_conf))
        cls.compose_env = env

    # ---- driving the stack -----------------------------------------------------------------
    @classmethod
    def compose(cls, *args, timeout=300):
        """docker-compose ARGS from the repository's top folder; its output goes to compose.log."""
        argv = [cls.tools["docker-compose"], "--env-file", str(cls.dir / "empty.env"), *args]
        r = subprocess.run(argv, cwd=REPO, env=cls.compose_env, capture_output=True, text=True, timeout=timeout)
        with open(cls.dir / "compose.log", "a") as log:
            log.write(f"$ docker-compose {' '.join(args)}  -> {r.returncode}\n{r.stdout}{r.stderr}\n")
        return r

    def compose_ok(self, *args, timeout=300):
        r = self.compose(*args, timeout=timeout)
        self.assertEqual(r.returncode, 0, f"docker-compose {' '.join(args)} failed:\n"
                                          f"{r.stdout[-4000:]}{r.stderr[-4000:]}")
        return r

    @classmethod
    def containers(cls, service=None):
        """The project's containers (API summaries), all states; those of `service` if given."""
        labels = [f"com.docker.compose.project={cls.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        status, found = cls.api.get("/containers/json", all="true", filters={"label": labels})
        assert status == 200, f"GET /containers/json: {status} {found}"
        return found

    def container_id(self, service):
        running = [c["Id"] for c in self.containers(service) if c["State"] == "running"]
        self.assertEqual(len(running), 1, f"{service}: {len(running)} running containers")
        return running[0]

    def exec(self, service, *argv):
        r = self.podman("exec", self.container_id(service), *argv, timeout=60)
        self.assertEqual(r.returncode, 0, f"{service}: {' '.join(argv)}: {r.stdout}{r.stderr}")
        return r.stdout

    def health(self, container):
        status, info = self.api.get(f"/containers/{container}/json")
        return (info or {}).get("State", {}).get("Health") or {}

    @classmethod
    def active_services(cls):
        """The services `docker-compose up` runs with the profiles turned on now."""
        return {name for name, needs in cls.service_profiles.items() if not needs or set(needs) & set(cls.profiles)}

    def wait_healthy(self, timeout=240):
        """Every running service with a health check healthy (running its check as podman's timer
        would); fails with each check's last output when one is not healthy within `timeout` s."""
        deadline = time.monotonic() + timeout
        expected = self.healthchecked & self.active_services()
        while True:
            status = {}
            for c in self.containers():
                service = c["Labels"]["com.docker.compose.service"]
                if service not in expected:
                    continue
                if c["State"] == "running" and self.health(c["Id"]).get("Status") != "healthy":
                    self.podman("healthcheck", "run", c["Id"], timeout=60)
                status[service] = self.health(c["Id"]).get("Status") or c["State"]
            if set(status) == expected and set(status.values()) == {"healthy"}:
                return status
            if time.monotonic() > deadline:
                details = []
                for c in self.containers():
                    log = self.health(c["Id"]).get("Log") or [{}]
                    details.append(f"{c['Names'][0]}: {c['State']}, last check: "
                                   f"exit {log[-1].get('ExitCode')}, {str(log[-1].get('Output'))[-300:]!r}")
                self.fail(f"not healthy after {timeout} s: {status}\n" + "\n".join(details) +
                          "\n" + self.stack_logs(40))
            time.sleep(HEALTH_TICK)

    @classmethod
    def stack_logs(cls, lines, services=None):
        """The last lines of the services' output (not the workers': thousands of "ran" lines)."""
        if services is None:
            services = sorted(cls.active_services() - {"worker"}) if hasattr(cls, "service_profiles") \
                else ("redis", "handler", "nginx", "certbot")
        r = cls.compose("logs", "--no-color", "--timestamps", "--tail", str(lines), *services)
        return f"--- docker-compose logs --tail {lines} {' '.join(services)} ---\n{r.stdout[-12000:]}{r.stderr[-2000:]}"

    def until(self, ready, what, timeout, details=lambda: ""):
        """Poll `ready()` every 0.5 s; fail after `timeout` s with `details()` and the stack's logs."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except (OSError, http.client.HTTPException) as error:
                last = error
            time.sleep(0.5)
        self.fail(f"{what}: not within {timeout} s (last error: {last!r})\n{details()}\n{self.stack_logs(30)}")

    def request(self, method, target, body=None, headers=None):
        """One HTTPS request to the stack's nginx, for DOMAIN, trusting pebble's root alone."""
        conn = harness.LoopbackHTTPS(self.https_port, self.tls, 30, server_name=DOMAIN)
        started = time.monotonic()
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.headers, r.read(), time.monotonic() - started)
        finally:
            conn.close()

    def post(self, body):
        return self.request("POST", "/webhooks", body, {"Content-Type": "application/json"})

    def worker_runs(self):
        """{worker container: {event id}} from what the workers' commands printed."""
        runs = {}
        for c in self.containers("worker"):
            r = self.podman("logs", c["Id"], timeout=60)
            ids = set(re.findall(rf"^{RAN} \S+ ([0-9a-f]{{64}})$", r.stdout, re.MULTILINE))
            runs[c["Names"][0]] = ids
        return runs

    def wait_until_run(self, ids, timeout=120):
        """Every one of `ids` run by a worker; returns worker_runs()."""
        ids = set(ids)
        runs = {}

        def all_run():
            nonlocal runs
            runs = self.worker_runs()
            return ids <= set().union(*runs.values())

        def missing():
            done = set().union(*runs.values()) if runs else set()
            return (f"{len(ids - done)} of {len(ids)} events never run by a worker, e.g. "
                    f"{sorted(ids - done)[:3]}; runs per worker: { {k: len(v) for k, v in runs.items()} }")
        self.until(all_run, "every event run by a worker", timeout, missing)
        return runs

    def spool_records(self):
        return json.loads(self.exec("handler", "boardhook-handler", "--spool-status"))["records"]

    def queued(self, service="redis"):
        """{event type: the Redis list, as redis-cli prints it} for the load generator's types."""
        return {t: self.exec(service, "redis-cli", "--raw", "LRANGE", f"boardhook:queue:{t}", "0", "-1")
                for t in loadgen.EVENT_TYPES}

    def redis_cli(self, service, *argv, port=6379, check=True):
        """redis-cli's --raw output of one command in the service's container; with check=False,
        None when the container is not running or the command fails (for polling)."""
        if check:
            return self.exec(service, "redis-cli", "-p", str(port), "--raw", *argv)
        running = [c["Id"] for c in self.containers(service) if c["State"] == "running"]
        if len(running) != 1:
            return None
        r = self.podman("exec", running[0], "redis-cli", "-p", str(port), "--raw", *argv, timeout=60)
        return r.stdout if r.returncode == 0 and not r.stdout.startswith("ERR") else None

    def replication(self, service, check=True):
        """INFO replication of the service's Redis, as {field: value} (None: see redis_cli)."""
        text = self.redis_cli(service, "INFO", "replication", check=check)
        return text and dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def metrics(self):
        """{name: value} of the handler's /metrics, asked from inside the nginx container: the
        only place nginx serves it to (127.0.0.1)."""
        text = self.exec("nginx", "curl", "--silent", "--show-error", "--fail", "--insecure",
                         "--max-time", "8", "https://127.0.0.1/metrics")
        return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) (\S+)$", text, re.MULTILINE)}

    def load_generator(self, **options):
        return loadgen.LoadGenerator(None, connect=lambda: harness.LoopbackHTTPS(
            self.https_port, self.tls, 30, server_name=DOMAIN), **options)

    # ---- the scenario ----------------------------------------------------------------------
    @step
    def test_1_every_image_builds_from_the_repository_on_debian_12(self):
        started = time.monotonic()
        if any(self.podman("image", "exists", image).returncode != 0 for image in BASE_IMAGES):
            r = subprocess.run([REPO / "scripts/lib/make-debian-image", "podman"], env=self.podman_env,
                               capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, f"make-debian-image: {r.stdout}{r.stderr}")
            print(f"\nbase image made in {time.monotonic() - started:.0f} s")
            started = time.monotonic()
        r = self.compose_ok("config")
        import yaml   # python3-yaml: scripts/test installs it
        config = yaml.safe_load(r.stdout)
        services = config["services"]
        # {service: the profiles it needs, () for none}: `config` lists every service, profiles or not.
        type(self).service_profiles = {name: tuple(s.get("profiles", ())) for name, s in services.items()}
        type(self).healthchecked = {name for name, s in services.items() if "healthcheck" in s}
        type(self).images = {s["image"] for s in services.values()}
        # Every volume the file names: Debian's docker-compose 1.29 makes them all at `up`, the
        # profile's too (they stay empty until it runs).
        type(self).volumes = {f"{self.project}_{name}" for name in config["volumes"]}
        self.assertEqual(self.service_profiles.keys() - self.active_services(), set(REPLICAS + SENTINELS),
                         f"the services of the {PROFILE} profile")

        r = self.compose("build", timeout=3600)
        (self.dir / "build.log").write_text(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, f"docker-compose build failed:\n{(r.stdout + r.stderr)[-6000:]}")
        print(f"\nimages built in {time.monotonic() - started:.0f} s")
        layers = {}
        for image in self.images:
            status, info = self.api.get(f"/images/{image}/json")
            self.assertEqual(status, 200, f"{image} was not built")
            layers[image] = info["RootFS"]["Layers"]
        # The handler and the worker share the build and runtime stages: compiled once.
        _, base = self.api.get(f"/images/{BASE_IMAGES[1]}/json")
        shared = os.path.commonprefix([layers["boardhook-handler"], layers["boardhook-worker"]])
        self.assertGreaterEqual(len(shared), len(base["RootFS"]["Layers"]) + 3,
                                "boardhook-worker does not reuse boardhook-handler's runtime stage")

    @step
    def test_2_the_stack_gets_its_certificate_from_the_acme_ca_and_goes_healthy(self):
        self.compose_ok("up", "-d", "--scale", f"worker={WORKERS}", timeout=600)
        # certbot's first order succeeds through nginx's port 80; nginx then serves https. (A path
        # nginx answers itself: /healthz is for the host itself, and we come through podman's NAT.)
        self.until(lambda: self.request("GET", "/ready-check").status == 404,
                   "nginx serving https with pebble's certificate", 180)
        conn = harness.LoopbackHTTPS(self.https_port, self.tls, 10, server_name=DOMAIN)
        try:
            conn.connect()
            issuer = dict(x[0] for x in conn.sock.getpeercert()["issuer"])
        finally:
            conn.close()
        self.assertIn("Pebble", issuer.get("commonName", ""), f"issuer {issuer}")
        plain = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            plain.request("GET", "/webhooks", headers={"Host": DOMAIN})
            r = plain.getresponse()
            self.assertEqual((r.status, r.getheader("Location")), (308, f"https://{DOMAIN}/webhooks"))
        finally:
            plain.close()
        print(f"\nhealth: {self.wait_healthy()}")
        running = [c for c in self.containers("worker") if c["State"] == "running"]
        self.assertEqual(len(running), WORKERS, "worker containers running")
        # Without the profile: the lone Redis, as before it existed.
        services = {c["Labels"]["com.docker.compose.service"] for c in self.containers()}
        self.assertEqual(services & set(REPLICAS + SENTINELS), set(), "the replicated profile's services started")

    @step
    def test_3_verification_and_every_fixture_through_nginx_reach_the_workers(self):
        r = self.request("GET", "/webhooks?" + urllib.parse.urlencode(
            {"challenge": "4071937265", "verifyToken": self.token}))
        self.assertEqual((r.status, r.body), (200, b"4071937265"), str(r))
        r = self.request("GET", "/webhooks?" + urllib.parse.urlencode(
            {"challenge": "4071937265", "verifyToken": "not-" + self.token}))
        self.assertEqual(r.status, 403, str(r))
        expected = set()
        for name, raw, _, ids in self.fixtures:
            r = self.post(raw)
            self.assertEqual((r.status, r.json()), (200, {"stored": len(ids)}), f"{name}: {r}")
            expected |= set(ids)
        self.assertGreater(len(expected), 0)
        self.wait_until_run(expected)

    @step
    def test_4_a_handler_restart_under_load_with_redis_stopped_loses_no_acknowledged_event(self):
        phases = []
        started = time.monotonic()

        def phase(name):
            nonlocal started
            phases.append(f"{name} {time.monotonic() - started:.1f} s")
            started = time.monotonic()
        load = self.load_generator(clients=4, tag="restart").start()
        try:
            load.wait_for_requests(40)
            self.compose_ok("stop", "redis")
            self.until(lambda: self.spool_records() > 0, "the handler spooling while Redis is stopped", 60)
            phase("redis stopped, spooling")
            time.sleep(1)
            spooled, answered = self.spool_records(), len(load.acknowledged())
            self.compose_ok("restart", "handler", timeout=120)
            phase("handler restarted")
            # A new handler process on the same volume: nothing spooled is gone (Redis is still
            # stopped, so nothing has been drained either).
            self.assertGreaterEqual(self.spool_records(), spooled, "spooled events lost in the restart")
            self.until(lambda: len(load.acknowledged()) >= answered + 40,
                       "events answered 200 through nginx after the handler's restart", 60,
                       lambda: f"statuses so far: {dict(load.statuses())}")
            phase("40 more answered")
        finally:
            load.stop()
        self.compose_ok("start", "redis")
        self.until(lambda: self.spool_records() == 0, "the spool drained into Redis", 90)
        phase("redis started, spool drained")
        acknowledged = [i for s in load.acknowledged() for i in s.ids]
        runs = self.wait_until_run(acknowledged)
        phase("every acknowledged event run")
        print(f"\nload: {dict(load.statuses())}, {len(acknowledged)} events acknowledged, {spooled} spool records at "
              f"the restart; runs per worker: { {name: len(ids) for name, ids in runs.items()} }; "
              f"{', '.join(phases)}")
        self.assertEqual(len(runs), WORKERS)
        for name, ids in runs.items():
            self.assertGreater(len(ids), 0, f"{name} ran no event")

    @step
    def test_5_queued_events_survive_down_and_up_in_the_redis_volume(self):
        self.compose_ok("stop", "worker", timeout=200)
        sender = self.load_generator()
        ids = []
        for seq in range(10):
            raw, sent = sender.body(9, seq)
            r = self.post(raw)
            self.assertEqual((r.status, r.json()), (200, {"stored": len(sent.ids)}), str(r))
            ids += sent.ids
        before = self.queued()
        queued_ids = {json.loads(line)["id"] for text in before.values() for line in text.splitlines() if line}
        self.assertLessEqual(set(ids), queued_ids, "events not queued while the workers are stopped")

        self.compose_ok("down", timeout=300)
        self.assertEqual(self.containers(), [], "containers left after down")
        _, volumes = self.api.get("/volumes", filters={"label": [f"com.docker.compose.project={self.project}"]})
        self.assertEqual({v["Name"] for v in volumes["Volumes"] or []}, self.volumes, "volumes after down")

        self.compose_ok("up", "-d", "--scale", "worker=0", timeout=600)
        print(f"\nhealth after down and up: {self.wait_healthy()}")
        self.assertEqual(self.queued(), before, "the queues changed across down and up")
        self.compose_ok("up", "-d", "--scale", f"worker={WORKERS}", timeout=300)
        self.wait_until_run(ids)

    def replicated_set_ready(self):
        """Both replicas online at `redis`, and every Sentinel knowing them and the other two (what
        a failover needs)."""
        primary = self.replication("redis", check=False) or {}
        online = [k for k, v in primary.items() if k.startswith("slave") and "state=online" in v]
        if len(online) != len(REPLICAS):
            return False
        for sentinel in SENTINELS:
            master = (self.redis_cli(sentinel, "SENTINEL", "MASTER", "boardhook", port=26379, check=False)
                      or "").splitlines()
            master = dict(zip(master[::2], master[1::2]))
            if (master.get("num-slaves"), master.get("num-other-sentinels")) != (str(len(REPLICAS)), str(len(SENTINELS) - 1)):
                return False
        return True

    def primary_per_sentinels(self):
        """The service every Sentinel names as the primary, once its ROLE agrees; else None."""
        named = set()
        for sentinel in SENTINELS:
            reply = self.redis_cli(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "boardhook", port=26379,
                                   check=False)
            named.add(reply.split()[0] if reply and reply.split() else None)
        if len(named) != 1 or None in named:
            return None
        service = named.pop()
        role = (self.redis_cli(service, "ROLE", check=False) or "").splitlines()
        return service if role[:1] == ["master"] else None

    def doctor_findings(self):
        """{check: (status, detail)} of `boardhook-queues doctor` in the handler container, which
        must exit 0 (every event answered 200 kept)."""
        r = self.podman("exec", self.container_id("handler"), "boardhook-queues", "--json", "doctor", timeout=60)
        self.assertEqual(r.returncode, 0, f"boardhook-queues doctor: {r.stdout}{r.stderr}")
        report = json.loads(r.stdout)
        self.assertTrue(report["keeps_the_promise"], report)
        return {f["check"]: (f["status"], f["detail"]) for f in report["findings"]}

    def post_events(self, sender, client, count):
        """`count` POSTs of the load generator's client `client`, each answered 200; their event ids."""
        ids = []
        for seq in range(count):
            raw, sent = sender.body(client, seq)
            r = self.post(raw)
            self.assertEqual((r.status, r.json()), (200, {"stored": len(sent.ids)}), str(r))
            ids += sent.ids
        return ids

    @step
    def test_6_the_replicated_profile_answers_200_once_a_replica_has_the_events_and_fails_over(self):
        phases = []
        started = time.monotonic()

        def phase(name):
            nonlocal started
            phases.append(f"{name} {time.monotonic() - started:.1f} s")
            started = time.monotonic()
        type(self).profiles = (PROFILE,)
        type(self).compose_env.update(documented_replicated_settings())
        # The same images: the profile's services run boardhook-redis, which step 1 built.
        self.compose_ok("up", "-d", "--no-build", "--scale", "worker=0", timeout=600)
        self.until(self.replicated_set_ready, "redis with both replicas online, each Sentinel knowing them "
                   "and the other Sentinels", 60, lambda: f"redis: {self.replication('redis', check=False)}")
        print(f"\nhealth: {self.wait_healthy()}")
        self.assertEqual(self.primary_per_sentinels(), "redis", "the Sentinels name the primary by its service name")
        phase("up and ready")

        sender = self.load_generator(tag="replicated")
        ids = self.post_events(sender, 11, 10)
        on_primary = self.queued("redis")
        queued_ids = {json.loads(line)["id"] for text in on_primary.values() for line in text.splitlines() if line}
        self.assertLessEqual(set(ids), queued_ids, "events answered 200 are not queued on the primary")
        # WAIT confirmed each batch on one replica before its 200; the other follows at once.
        self.until(lambda: all(self.queued(replica) == on_primary for replica in REPLICAS),
                   "both replicas holding the primary's queues", 10,
                   lambda: f"primary {self.replication('redis', check=False)}")
        counters = self.metrics()
        self.assertEqual(counters.get("boardhook_events_unreplicated_total"), 0,
                         "a batch went to the spool too because no replica confirmed it in time")
        self.assertEqual(counters.get("boardhook_events_spooled_total"), 0)
        self.assertEqual(self.spool_records(), 0)
        phase("10 POSTs, on both replicas")

        findings = self.doctor_findings()
        print("doctor: " + "; ".join(f"{check} {status} ({detail})" for check, (status, detail) in findings.items()))
        for check in ("replicas", "min-replicas-to-write", "sentinels", "quorum", "eviction policy", "AOF"):
            self.assertEqual(findings.get(check, ("missing",))[0], "ok", f"doctor's {check}: {findings.get(check)}")
        self.assertIn(f"{len(REPLICAS)} replica(s) online", findings["replicas"][1])
        self.assertIn(f"{len(SENTINELS)} of {len(SENTINELS)} Sentinel(s) answer", findings["sentinels"][1])
        phase("doctor")

        self.compose_ok("up", "-d", "--no-build", "--scale", f"worker={WORKERS}", timeout=300)
        self.wait_until_run(ids)
        phase("run by the workers")

        # A failover: the primary's container stops, the Sentinels promote a replica and point
        # the other one at it, all by name; the handler and the workers follow.
        self.compose_ok("stop", "redis", timeout=120)
        self.until(lambda: self.primary_per_sentinels() in REPLICAS,
                   f"the Sentinels naming {' or '.join(REPLICAS)} the primary", 40)
        promoted = self.primary_per_sentinels()
        phase("failover")
        other = next(r for r in REPLICAS if r != promoted)
        self.until(lambda: (self.replication(other, check=False) or {}).get("master_host") == promoted,
                   f"{other} replicating from {promoted}", 20)
        after = self.post_events(sender, 12, 5)
        self.wait_until_run(after)
        phase(f"5 POSTs after it, run from {promoted}")
        print(f"\nreplicated profile: {len(ids)} events on the primary and {len(REPLICAS)} replicas, "
              f"{len(after)} after the failover to {promoted}; {', '.join(phases)}")

    def test_7_down_and_the_tests_cleanup_leave_nothing_it_made(self):
        problems = type(self).remove_everything()
        self.assertEqual(problems, [], "\n".join(problems))

    # ---- removing everything -----------------------------------------------------------------
    @classmethod
    def remove_everything(cls):
        """docker-compose down --volumes --rmi all, then podman's storage (unless cached), the
        processes, and the folder. Returns what was left behind; runs once."""
        if cls.removed:
            return []
        cls.removed = True
        problems = []
        if hasattr(cls, "compose_env") and cls.engine.alive():
            # With the profile on, so that down removes its containers and volumes too, whether
            # or not step 6 got to start them.
            cls.profiles = (PROFILE,)
            cls.compose_env["COMPOSE_PROFILES"] = PROFILE
            logs = cls.compose("logs", "--no-color", "--timestamps")
            (cls.dir / "stack.log").write_text(logs.stdout + logs.stderr)
            if cls.failed_step:
                print(f"\n{cls.stack_logs(40)}")
            r = cls.compose("down", "--volumes", "--rmi", "all", "--remove-orphans", timeout=600)
            if r.returncode != 0:
                problems.append(f"docker-compose down failed: {r.stderr[-2000:]}")
            label = {"label": [f"com.docker.compose.project={cls.project}"]}
            left = [c["Names"][0] for c in cls.containers()]
            _, volumes = cls.api.get("/volumes", filters=label)
            left += [v["Name"] for v in (volumes or {}).get("Volumes") or []]
            _, networks = cls.api.get("/networks", filters=label)
            left += [n["Name"] for n in networks or []]
            left += [image for image in getattr(cls, "images", ()) if cls.api.get(f"/images/{image}/json")[0] == 200]
            if left:
                problems.append(f"left after docker-compose down: {left}")
            if not CACHE:
                r = cls.podman("rmi", "--all", "--force", timeout=300)
                if r.returncode != 0:
                    problems.append(f"podman rmi --all: {r.stderr[-2000:]}")
        for process in reversed(cls.processes):
            process.stop()
        if hasattr(cls, "bridge_keeper"):
            cls.bridge_keeper.stop()
        if not CACHE:
            for mountpoint in sorted(mounts_under(cls.podman_dir), reverse=True):
                subprocess.run(["umount", mountpoint], capture_output=True)
            shutil.rmtree(cls.podman_dir, ignore_errors=True)
            if cls.podman_dir.exists():
                problems.append(f"{cls.podman_dir} could not be removed")
        if mounts_under(cls.dir):
            problems.append(f"still mounted: {mounts_under(cls.dir)}")
        deadline = time.monotonic() + 10
        while (running := processes_mentioning(cls.dir) + processes_mentioning(cls.podman_dir)) \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        if running:
            problems.append(f"processes still running: {running}")
        added = network_interfaces() - cls.interfaces_before
        if added:
            problems.append(f"network interfaces left: {sorted(added)}")
        if hasattr(cls, "bridge_keeper"):
            remove_netavark_leftovers(cls.bridge_keeper.kept, cls.firewall_before)
        left = [rule for _, rule in firewall_rules() - cls.firewall_before if not NETAVARK_BASE.match(rule)]
        if left:
            problems.append("firewall rules left:\n" + "\n".join(sorted(left)[:10]))
        print("\ntimings: " + ", ".join(f"{'_'.join(name.split('_')[:2])} {seconds:.0f} s"
                                         for name, seconds in cls.timings))
        if KEEP:
            print(f"KEEP=1: left in {cls.dir}")
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)
        return problems


def network_interfaces():
    return set(os.listdir("/sys/class/net"))


# What netavark adds to the firewall once for every network a host will have: left in place,
# since any other podman network uses it too.
NETAVARK_BASE = re.compile(r":NETAVARK(_FORWARD|_ISOLATION_[12]|-HOSTPORT-(DNAT|MASQ|SETMARK)) "
                           r"|-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING) .*-j NETAVARK"
                           r"|-A NETAVARK-HOSTPORT-(MASQ|SETMARK) ")


def firewall_rules():
    """{(table, rule or chain line)} of iptables-save, packet counters left out."""
    rules, table = set(), None
    for line in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith((":", "-A ")):
            rules.add((table, re.sub(r" \[\d+:\d+\]$", "", line)))
    return rules


def remove_netavark_leftovers(bridges, before):
    """Netavark 1.4 leaves behind, when a network goes, the isolation rules of an internal
    network's bridge (naming a bridge that no longer exists, they would cut off a later network
    of the same name) and the empty port-forwarding chain of a network with published ports."""
    for table, rule in sorted(firewall_rules() - before):
        if rule.startswith("-A ") and any(re.search(rf" -[io] {re.escape(b)}( |$)", rule) for b in bridges):
            subprocess.run(["iptables", "-t", table, "-D", *shlex.split(rule[3:])], capture_output=True)
        elif rule.startswith(":NETAVARK-DN-"):
            # -X removes a chain only when it is empty and nothing jumps to it.
            subprocess.run(["iptables", "-t", table, "-X", rule[1:].split()[0]], capture_output=True)


def mounts_under(path):
    prefix = str(path).rstrip("/") + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mountpoint = line.split()[4].replace("\\040", " ")
        if mountpoint.startswith(prefix) or mountpoint == str(path):
            found.append(mountpoint)
    return found


def processes_mentioning(path):
    """PIDs and names of processes whose command line names `path` (conmon, podman, pebble...)."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if needle in cmdline:
                program = cmdline.split(b"\0")[0].decode(errors="replace")
                found.append(f"{entry.name} {program}")
    return found


if __name__ == "__main__":
    harness.main()
