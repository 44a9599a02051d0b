#!/usr/bin/python3
"""test_deploy_files.py -- the deployment files: systemd units, docker-compose.yml, Dockerfiles and container scripts.

No systemd manager and no Docker engine run here, so the files are checked by the tools that
read them (`systemd-analyze verify` and `security --offline`, `systemd-sysusers --root`,
Debian's `docker-compose config`; the Redis and Sentinel drop-ins on Debian's own units), the
images by what they install and copy, and the scripts the containers run (the handler's health
check, nginx's, certbot's and Redis's entrypoints) are run for real on loopback against the built
handler, Redis, Sentinel, nginx and a real ACME CA (Debian's pebble).
"""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

import harness
from harness import REPO, KEEP, Process, find_program, free_port, free_udp_and_tcp_port, redis_command, wait_for

SYSTEMD = REPO / "deploy" / "systemd"
DOCKER = REPO / "deploy" / "docker"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOMAIN = "hooks.example.test"   # pebble-challtestsrv resolves every name to 127.0.0.1

# What the README's Deploy section names: keep the two in step.
COMPOSE_SERVICES = {"redis", "handler", "nginx", "worker", "certbot"}
COMPOSE_VOLUMES = {"redis-data", "spool", "certs", "acme-webroot"}
# The `replicated` profile's (README, "Replicated Redis"), each with its own volume.
REPLICATED_SERVICES = {"redis-2", "redis-3", "sentinel-1", "sentinel-2", "sentinel-3"}
REPLICATED_VOLUMES = {f"{name}-data" for name in REPLICATED_SERVICES}
HEALTHCHECKED_SERVICES = {"redis", "handler", "nginx", "certbot"} | REPLICATED_SERVICES
# What docker-compose.yml's header tells an operator to put in .env for the profile.
REPLICATED_SETTINGS = ("COMPOSE_PROFILES", "BOARDHOOK_REDIS_REPLICATION", "BOARDHOOK_REDIS_URL",
                       "BOARDHOOK_REDIS_MIN_REPLICAS")

# Hardening every service unit carries (README: "systemd units").
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}
# `systemd-analyze security` exposure, times ten: 20 is 2.0, well inside "OK".
MAX_EXPOSURE = 20

# Present in debian:12-slim itself (apt needs them), so no image installs them.
BASE_IMAGE_LIBRARIES = {"libc6", "libgcc-s1", "libstdc++6"}


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kw)


def read_unit(path):
    """A unit file as a list of (section, key, value), in order: keys may repeat."""
    entries, section, pending = [], None, ""
    for raw in Path(path).read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(entries, key, section="Service"):
    return [v for s, k, v in entries if s == section and k == key]


def unit_value(entries, key, section="Service"):
    values = unit_values(entries, key, section)
    return values[-1] if values else None


def seconds(text):
    """systemd's time span, for the forms used here: 90, 90s, 1min 30s."""
    total = 0
    for number, unit in re.findall(r"(\d+)\s*(min|s|)", text):
        total += int(number) * (60 if unit == "min" else 1)
    return total


class SystemdUnits(unittest.TestCase):
    """deploy/systemd: the socket, the handler service and the worker template."""

    @classmethod
    def setUpClass(cls):
        if not harness.HANDLER or not harness.WORKER:
            raise unittest.SkipTest("needs --handler and --worker (the binaries ExecStart names)")
        cls.dir = Path(tempfile.mkdtemp(prefix="boardhook-deploy-units-"))
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        # Copies whose ExecStart names the built binaries, so that verify can resolve them.
        for unit in ("boardhook-handler.socket", "boardhook-handler.service", "boardhook-worker@.service"):
            text = (SYSTEMD / unit).read_text()
            text = text.replace("/usr/local/bin/boardhook-handler", harness.HANDLER)
            text = text.replace("/usr/local/bin/boardhook-worker", harness.WORKER)
            (cls.dir / unit).write_text(text)
        cls.handler = read_unit(SYSTEMD / "boardhook-handler.service")
        cls.socket = read_unit(SYSTEMD / "boardhook-handler.socket")
        cls.worker = read_unit(SYSTEMD / "boardhook-worker@.service")

    def verify(self, paths, ours):
        """systemd-analyze verify: exit 0 and not one line about `ours`."""
        r = run([find_program("systemd-analyze"), "verify", "--man=no", *paths],
                env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
        output = (r.stdout + r.stderr).strip()
        if output:
            print(f"\nsystemd-analyze verify said:\n{output}")
        about_ours = [line for line in output.splitlines() if any(name in line for name in ours)]
        self.assertEqual(about_ours, [], output)
        self.assertEqual(r.returncode, 0, output)

    def test_systemd_analyze_verify_passes_on_the_three_units(self):
        self.verify([self.dir / "boardhook-handler.socket", self.dir / "boardhook-handler.service",
                     self.dir / "boardhook-worker@.service", self.dir / "boardhook-worker@3.service"],
                    ("boardhook-handler", "boardhook-worker"))

    def test_the_redis_drop_in_verifies_on_debians_redis_unit(self):
        debian_unit = Path("/lib/systemd/system/redis-server.service")
        self.assertTrue(debian_unit.exists(), "redis-server is not installed; scripts/test installs it")
        units = self.dir / "redis"
        (units / "redis-server.service.d").mkdir(parents=True)
        shutil.copy(debian_unit, units)
        shutil.copy(SYSTEMD / "redis-server.service.d" / "boardhook.conf", units / "redis-server.service.d")
        self.verify([units / "redis-server.service"], ("redis-server.service",))
        dropin = read_unit(SYSTEMD / "redis-server.service.d" / "boardhook.conf")
        exec_start = unit_values(dropin, "ExecStart")
        self.assertEqual(exec_start[0], "", "the drop-in must clear Debian's ExecStart first")
        self.assertRegex(exec_start[1], r"^/usr/bin/redis-server /etc/redis/boardhook\.conf .*--supervised systemd")

    def debian_unit_with_drop_ins(self, unit, *drop_ins):
        """A folder holding Debian's `unit` and our drop-ins for it (paths under deploy/systemd);
        returns the unit's path there. The package installing `unit` must be installed."""
        debian_unit = Path("/lib/systemd/system") / unit
        self.assertTrue(debian_unit.exists(), f"{unit} is not installed; scripts/test installs its package")
        units = self.dir / f"{unit}-{len(drop_ins)}"
        (units / f"{unit}.d").mkdir(parents=True)
        shutil.copy(debian_unit, units)
        for drop_in in drop_ins:
            shutil.copy(SYSTEMD / drop_in, units / f"{unit}.d")
        return units / unit

    def effective_exec_start(self, unit):
        """The ExecStart systemd runs: the unit's, then each drop-in's in the order of their
        names, an empty assignment clearing what came before (one command: not a oneshot)."""
        commands = []
        for path in [unit] + sorted((unit.parent / f"{unit.name}.d").glob("*.conf")):
            for value in unit_values(read_unit(path), "ExecStart"):
                commands = [] if value == "" else commands + [value]
        self.assertEqual(len(commands), 1, f"{unit.name}: ExecStart {commands}")
        return commands[0].split()

    def test_the_replication_drop_in_verifies_beside_the_redis_one_and_adds_the_set_s_settings(self):
        unit = self.debian_unit_with_drop_ins("redis-server.service", "redis-server.service.d/boardhook.conf",
                                              "redis-server.service.d/replication.conf")
        self.verify([unit], ("redis-server.service",))
        argv = self.effective_exec_start(unit)
        self.assertEqual(argv[:2], ["/usr/bin/redis-server", "/etc/redis/boardhook.conf"])
        includes = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--include"]
        # boardhook-replication.conf holds min-replicas-to-write and min-replicas-max-lag.
        self.assertEqual(includes, ["/etc/redis/boardhook-replication.conf", "/etc/redis/boardhook-auth.conf"])
        replication = (REPO / "redis/boardhook-replication.conf").read_text()
        self.assertRegex(replication, r"(?m)^min-replicas-to-write [1-9]")
        self.assertRegex(replication, r"(?m)^min-replicas-max-lag [1-9]")
        # Sentinel rewrites the file; an argument would override what it wrote.
        self.assertNotIn("--replicaof", argv)
        self.assertNotIn("--slaveof", argv)
        bind = argv[argv.index("--bind") + 1:argv.index("--bind") + 3]
        self.assertEqual(bind, ["$BOARDHOOK_REDIS_BIND", "127.0.0.1"], "this host's address, then loopback")
        self.assertEqual(unit_value(read_unit(unit.parent / "redis-server.service.d/replication.conf"),
                                    "EnvironmentFile"), "/etc/redis/boardhook-node.env")
        self.assertIn("systemd", argv[argv.index("--supervised") + 1])

    def test_the_sentinel_drop_in_verifies_on_debians_sentinel_unit_and_runs_the_shipped_file(self):
        unit = self.debian_unit_with_drop_ins("redis-sentinel.service", "redis-sentinel.service.d/boardhook.conf")
        self.verify([unit], ("redis-sentinel.service",))
        argv = self.effective_exec_start(unit)
        self.assertEqual(argv[:2], ["/usr/bin/redis-sentinel", "/etc/redis/sentinel.conf"])
        self.assertEqual(argv[argv.index("--pidfile") + 1], unit_value(read_unit(unit), "PIDFile"))
        self.assertEqual(argv[argv.index("--supervised") + 1], "systemd")
        # Sentinel rewrites its file: Debian's unit must let it write there.
        self.assertIn("-/etc/redis", unit_values(read_unit(unit), "ReadWriteDirectories"))
        self.assertRegex((REPO / "redis/sentinel.conf").read_text(), r"(?m)^sentinel monitor boardhook \S+ \d+ 2$")

    def test_every_service_carries_the_hardening_options(self):
        for name, unit in (("handler", self.handler), ("worker", self.worker)):
            for key, want in HARDENING.items():
                self.assertEqual(unit_value(unit, key), want, f"{name}: {key}")
            self.assertIn("@system-service", unit_values(unit, "SystemCallFilter"), name)
            user = unit_value(unit, "User")
            self.assertTrue(unit_value(unit, "DynamicUser") == "yes" or user not in (None, "root", "0"),
                            f"{name} runs as root")

    def test_systemd_analyze_security_rates_both_services_ok(self):
        for unit in ("boardhook-handler.service", "boardhook-worker@.service"):
            r = run([find_program("systemd-analyze"), "security", "--offline=yes",
                     f"--threshold={MAX_EXPOSURE}", "--no-pager", self.dir / unit],
                    env={**os.environ, "SYSTEMD_COLORS": "0"})
            overall = [line for line in r.stdout.splitlines() if "Overall exposure" in line]
            print(f"\n{unit}: {overall[-1].strip() if overall else r.stdout[-300:]}")
            self.assertEqual(r.returncode, 0, f"{unit}: exposure above {MAX_EXPOSURE / 10}\n{r.stdout[-3000:]}{r.stderr}")

    def test_the_socket_is_for_nginx_only(self):
        self.assertEqual(unit_value(self.socket, "ListenStream", "Socket"), "/run/boardhook/handler.sock")
        self.assertEqual(unit_value(self.socket, "SocketMode", "Socket"), "0660")
        self.assertEqual(unit_value(self.socket, "SocketGroup", "Socket"), "www-data")

    def test_the_handler_service_takes_the_socket_keeps_its_spool_and_drains_on_stop(self):
        unit = self.handler
        self.assertIn("boardhook-handler.socket", " ".join(unit_values(unit, "Requires", "Unit")))
        self.assertIn("boardhook-handler.socket", " ".join(unit_values(unit, "After", "Unit")))
        self.assertRegex(unit_value(unit, "ExecStart"), r"^/usr/local/bin/boardhook-handler --processes \d+$")
        self.assertEqual(unit_value(unit, "ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertIn("BOARDHOOK_LISTEN", unit_value(unit, "UnsetEnvironment").split())
        self.assertEqual(unit_value(unit, "EnvironmentFile"), "/etc/boardhook/boardhook.env")
        self.assertEqual(unit_value(unit, "StateDirectory"), "boardhook")
        self.assertIn("BOARDHOOK_SPOOL_DIR=/var/lib/boardhook/spool", unit_values(unit, "Environment"))
        self.assertEqual(unit_value(unit, "KillSignal"), "SIGTERM")
        self.assertGreater(seconds(unit_value(unit, "TimeoutStopSec")), 15, "the handler drains for up to 15 s")
        self.assertEqual(unit_value(unit, "Restart"), "on-failure")

    def test_the_worker_template_lets_running_commands_finish(self):
        unit = self.worker
        exec_start = unit_value(unit, "ExecStart")
        self.assertRegex(exec_start, r"^/usr/local/bin/boardhook-worker --config /etc/boardhook/worker\.conf ")
        self.assertEqual(unit_value(unit, "Restart"), "always")
        # SIGTERM to the worker alone: sent to the whole group it would cut the commands off.
        self.assertEqual(unit_value(unit, "KillMode"), "mixed")
        timeout = [v for v in unit_values(unit, "Environment") if v.startswith("WORKER_TIMEOUT=")]
        self.assertEqual(len(timeout), 1, "WORKER_TIMEOUT's default")
        self.assertIn("${WORKER_TIMEOUT}", exec_start)
        job_timeout = int(timeout[0].split("=", 1)[1])
        self.assertGreater(seconds(unit_value(unit, "TimeoutStopSec")), job_timeout + 5,
                           "a stop must outlast a command's timeout and its 5 s SIGKILL grace")
        self.assertIn("BOARDHOOK_VERIFY_TOKEN_FILE", unit_value(unit, "UnsetEnvironment").split())

    def test_sysusers_creates_the_users_the_units_run_as(self):
        root = self.dir / "sysroot"
        (root / "etc").mkdir(parents=True)
        r = run([find_program("systemd-sysusers"), f"--root={root}", SYSTEMD / "boardhook.sysusers"])
        self.assertEqual(r.returncode, 0, r.stderr)
        users = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
        for unit in (self.handler, self.worker):
            user = unit_value(unit, "User")
            self.assertIn(user, users)
            self.assertEqual(users[user][6], "/usr/sbin/nologin")
        self.assertNotEqual(unit_value(self.handler, "User"), unit_value(self.worker, "User"),
                            "the worker's commands must not read the verify token or the spool")


class ExampleFiles(unittest.TestCase):
    """deploy/boardhook.env.example and deploy/worker.conf.example."""

    def test_the_environment_example_sets_only_real_settings(self):
        # The README's settings table (a unit test holds it equal to core/config.cpp's rows).
        configuration = (REPO / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
        known = set(re.findall(r"^\| `(BOARDHOOK_[A-Z_]+)` \|", configuration, re.MULTILINE))
        self.assertIn("BOARDHOOK_REDIS_URL", known)
        seen = []
        for line in (REPO / "deploy/boardhook.env.example").read_text().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            self.assertRegex(line, r"^[A-Z_]+=[^\s'\"]*$", "one VARIABLE=value, no quotes or spaces")
            name = line.split("=", 1)[0]
            self.assertIn(name, known, f"{name} is not a setting in the README's table")
            seen.append(name)
        self.assertEqual(len(seen), len(set(seen)), "a setting given twice")
        self.assertIn("BOARDHOOK_VERIFY_TOKEN_FILE", seen)
        # The commented alternatives (the replicated set's) are real settings too.
        commented = re.findall(r"^#(BOARDHOOK_[A-Z_]+)=", (REPO / "deploy/boardhook.env.example").read_text(),
                               re.MULTILINE)
        self.assertLessEqual(set(commented), known)
        self.assertLessEqual({"BOARDHOOK_REDIS_URL", "BOARDHOOK_REDIS_MIN_REPLICAS"}, set(commented))
        self.assertNotIn("BOARDHOOK_LISTEN", seen, "under systemd the socket comes from the .socket unit")

    def test_the_worker_config_example_has_only_type_equals_command_lines(self):
        types = []
        for line in (REPO / "deploy/worker.conf.example").read_text().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            self.assertRegex(line, r"^[A-Za-z0-9_.-]{1,100} = \S")
            types.append(line.split("=", 1)[0].strip())
        self.assertIn("ticket_status_change", types)


class Compose(unittest.TestCase):
    """docker-compose.yml, as Debian's docker-compose reads it."""

    @classmethod
    def setUpClass(cls):
        try:
            import yaml   # python3-yaml: docker-compose itself depends on it
        except ImportError:
            raise unittest.SkipTest("python3-yaml missing; scripts/test installs it")
        cls.dir = Path(tempfile.mkdtemp(prefix="boardhook-deploy-compose-"))
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        (cls.dir / "verify-token").write_text("not-a-real-token\n")
        (cls.dir / "worker.conf").write_text("ticket_status_change = cat\n")
        cls.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOARDHOOK_", "COMPOSE_"))},
                   "BOARDHOOK_DOMAIN": "hooks.example.test",
                   "BOARDHOOK_ACME_EMAIL": "ops@example.test",
                   "BOARDHOOK_VERIFY_TOKEN_PATH": str(cls.dir / "verify-token"),
                   "BOARDHOOK_WORKER_CONFIG": str(cls.dir / "worker.conf")}
        # docker-compose takes seconds to start: run every invocation the tests need at once.
        cls.replicated_env = {**cls.env, **documented_replicated_settings()}
        runs = {"config": (["config"], cls.env), "quiet": (["config", "-q"], cls.env),
                "replicated": (["config"], cls.replicated_env),
                "replicated-quiet": (["config", "-q"], cls.replicated_env)}
        for missing in ("BOARDHOOK_DOMAIN", "BOARDHOOK_ACME_EMAIL"):
            runs[missing] = (["config", "-q"], {k: v for k, v in cls.env.items() if k != missing})
        compose = find_program("docker-compose")
        started = {name: subprocess.Popen(
                       [compose, "--file", str(COMPOSE_FILE), "--project-directory", str(REPO),
                        "--project-name", "boardhook", *args],
                       env=env, cwd=cls.dir, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for name, (args, env) in runs.items()}
        cls.results = {}
        for name, popen in started.items():
            out, err = popen.communicate(timeout=120)
            cls.results[name] = subprocess.CompletedProcess(popen.args, popen.returncode, out, err)
        r = cls.results["config"]
        if r.returncode != 0:
            raise AssertionError(f"docker-compose config failed:\n{r.stderr}")
        cls.config = yaml.safe_load(r.stdout)
        cls.services = cls.config["services"]
        cls.replicated = yaml.safe_load(cls.results["replicated"].stdout)["services"]

    def test_docker_compose_config_q_accepts_the_file_silently(self):
        r = self.results["quiet"]
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "docker-compose warned")

    def test_the_domain_and_contact_address_are_required(self):
        for missing in ("BOARDHOOK_DOMAIN", "BOARDHOOK_ACME_EMAIL"):
            r = self.results[missing]
            self.assertNotEqual(r.returncode, 0, f"config passed without {missing}")
            self.assertIn(missing, r.stderr)

    def test_the_services_volumes_and_health_checks_of_the_readme_exist(self):
        self.assertEqual(set(self.services), COMPOSE_SERVICES | REPLICATED_SERVICES)
        self.assertEqual({name for name, s in self.services.items() if s.get("profiles")}, REPLICATED_SERVICES)
        self.assertEqual(set(self.config["volumes"]), COMPOSE_VOLUMES | REPLICATED_VOLUMES)
        for name in HEALTHCHECKED_SERVICES:
            test = self.services[name].get("healthcheck", {}).get("test")
            self.assertTrue(test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no health check")
        self.assertIn("healthcheck-handler", " ".join(self.services["handler"]["healthcheck"]["test"]))
        self.assertIn("/healthz", " ".join(self.services["nginx"]["healthcheck"]["test"]))
        self.assertIn("redis-cli", " ".join(self.services["redis"]["healthcheck"]["test"]))

    def mounts(self, service):
        """{target: (source, read_only)} of a service's volumes, short or long syntax."""
        found = {}
        for v in self.services[service].get("volumes", []):
            if isinstance(v, str):
                parts = v.split(":")
                found[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
            else:
                found[v["target"]] = (v["source"], bool(v.get("read_only")))
        return found

    def test_each_volume_is_mounted_where_its_data_lives(self):
        self.assertEqual(self.mounts("redis")["/data"], ("redis-data", False))
        for name in REPLICATED_SERVICES:
            # Its own: the configuration Redis or Sentinel rewrites is kept there.
            self.assertEqual(self.mounts(name), {"/data": (f"{name}-data", False)}, name)
        self.assertEqual(self.mounts("handler")["/var/lib/boardhook"], ("spool", False))
        self.assertEqual(self.services["handler"]["environment"]["BOARDHOOK_SPOOL_DIR"], "/var/lib/boardhook/spool")
        self.assertEqual(self.mounts("certbot")["/etc/letsencrypt"], ("certs", False))
        self.assertEqual(self.mounts("certbot")["/var/www/acme"], ("acme-webroot", False))
        self.assertEqual(self.mounts("nginx")["/etc/letsencrypt"], ("certs", True))
        self.assertEqual(self.mounts("nginx")["/var/www/acme"], ("acme-webroot", True))

    def test_the_worker_scales(self):
        worker = self.services["worker"]
        for key in ("container_name", "ports", "hostname"):
            self.assertNotIn(key, worker, f"worker sets {key}: `--scale worker=N` would clash")
        self.assertIn("--config", worker["command"])

    def test_nginx_alone_publishes_ports_and_redis_is_unreachable_from_outside(self):
        published = {name: s["ports"] for name, s in self.services.items() if s.get("ports")}
        self.assertEqual(set(published), {"nginx"})
        targets = {str(p["target"] if isinstance(p, dict) else p.split(":")[-1]) for p in published["nginx"]}
        self.assertEqual(targets, {"80", "443"})
        self.assertEqual(set(self.services["redis"]["networks"]), {"backend"})
        self.assertTrue(self.config["networks"]["backend"].get("internal"))

    def test_every_container_runs_unprivileged(self):
        for name, service in self.services.items():
            user = str(service.get("user", ""))
            self.assertTrue(user and user.split(":")[0] not in ("root", "0"), f"{name}: user {user!r}")
            self.assertEqual(service.get("cap_drop"), ["ALL"], name)
            self.assertFalse(service.get("privileged"), name)
            self.assertIn("no-new-privileges:true", service.get("security_opt", []), name)

    def test_stops_wait_for_the_drains(self):
        def grace(name):
            return seconds(self.services[name].get("stop_grace_period", "10s").replace("m", "min"))
        self.assertGreater(grace("handler"), 15)
        self.assertGreater(grace("worker"), 60 + 5)
        self.assertEqual(self.services["nginx"].get("stop_signal"), "SIGQUIT")

    def test_without_the_profile_redis_is_the_lone_redis_and_the_handler_uses_it(self):
        self.assertEqual(self.services["redis"]["environment"]["BOARDHOOK_REDIS_REPLICATION"], "off")
        for name in ("handler", "worker"):
            self.assertEqual(self.services[name]["environment"]["BOARDHOOK_REDIS_URL"], "redis://redis:6379/0", name)
        self.assertEqual(str(self.services["handler"]["environment"]["BOARDHOOK_REDIS_MIN_REPLICAS"]), "0")

    def test_the_replicated_profile_points_the_handler_and_workers_at_its_three_sentinels(self):
        for name in ("replicated", "replicated-quiet"):
            self.assertEqual(self.results[name].returncode, 0, self.results[name].stderr)
        self.assertEqual(self.results["replicated-quiet"].stdout + self.results["replicated-quiet"].stderr, "",
                         "docker-compose warned")
        services = self.replicated
        self.assertEqual(services["redis"]["environment"]["BOARDHOOK_REDIS_REPLICATION"], "on")
        url = services["handler"]["environment"]["BOARDHOOK_REDIS_URL"]
        self.assertEqual(services["worker"]["environment"]["BOARDHOOK_REDIS_URL"], url)
        self.assertEqual(str(services["handler"]["environment"]["BOARDHOOK_REDIS_MIN_REPLICAS"]), "1")
        m = re.fullmatch(r"redis-sentinel://([^/#@]+)#boardhook", url)
        self.assertTrue(m, url)
        sentinels = {name for name in REPLICATED_SERVICES if name.startswith("sentinel-")}
        self.assertEqual(set(m.group(1).split(",")), sentinels, "the URL names every Sentinel service")
        # Each node and Sentinel announces its service name (what the others and the handler
        # resolve), and starts from the `redis` service as the first primary.
        for name in REPLICATED_SERVICES:
            command = services[name]["command"]
            role = "sentinel" if name in sentinels else "redis"
            self.assertEqual(command, ["redis-entrypoint", role, name, "redis"], name)
            self.assertEqual(services[name]["image"], self.services["redis"]["image"], name)
            self.assertEqual(set(services[name]["networks"]), {"backend"}, name)
        self.assertEqual(services["redis"]["command"], ["redis-entrypoint", "redis", "redis"])

    def test_the_handler_gets_its_token_from_a_secret(self):
        handler = self.services["handler"]
        self.assertEqual(handler["environment"]["BOARDHOOK_VERIFY_TOKEN_FILE"], "/run/secrets/verify_token")
        self.assertNotIn("BOARDHOOK_VERIFY_TOKEN", handler["environment"])
        self.assertEqual([s["source"] if isinstance(s, dict) else s for s in handler["secrets"]], ["verify_token"])


def documented_replicated_settings():
    """{name: value} of the .env lines docker-compose.yml's header gives for the `replicated`
    profile (the test runs what an operator is told to write)."""
    found = dict(re.findall(r"^#\s+([A-Z_]+)=(\S+)$", COMPOSE_FILE.read_text(), re.MULTILINE))
    settings = {name: found.get(name) for name in REPLICATED_SETTINGS}
    assert all(settings.values()), f"docker-compose.yml's header: {settings}"
    return settings


def dockerfile_stages(path):
    """[(base, name, [instruction lines])] of a Dockerfile, continuation lines joined."""
    stages, logical, pending = [], [], ""
    for raw in Path(path).read_text().splitlines():
        if not pending and raw.lstrip().startswith("#"):
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line:
            logical.append(line)
    for line in logical:
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?$", line, re.IGNORECASE)
        if m:
            stages.append((m.group(1), m.group(2), []))
        elif stages:
            stages[-1][2].append(line)
    return stages


def apt_installs(lines):
    """The package names of every `apt-get install` among `lines`."""
    packages = []
    for line in lines:
        for command in re.split(r"&&|;", line):
            m = re.search(r"apt-get\s+install\s+(.*)", command)
            if m:
                packages += [w for w in m.group(1).split() if not w.startswith("-") and "=" not in w]
    return packages


class Dockerfiles(unittest.TestCase):
    """deploy/docker/*.Dockerfile, as docker-compose.yml builds them."""

    @classmethod
    def setUpClass(cls):
        cls.dockerfiles = sorted(DOCKER.glob("*.Dockerfile"))
        ignore = [l.strip() for l in (REPO / ".dockerignore").read_text().splitlines()
                  if l.strip() and not l.startswith("#")]
        assert ignore[0] == "*", ".dockerignore is an allow list: '*' first, then '!path' lines"
        cls.allowed = [l[1:].rstrip("/") for l in ignore[1:]]

    def in_build_context(self, path):
        return any(path == a or path.startswith(a + "/") for a in self.allowed)

    def test_compose_builds_only_dockerfiles_that_exist_with_their_targets(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("python3-yaml missing; scripts/test installs it")
        services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
        builds = [s["build"] for s in services.values() if "build" in s]
        self.assertTrue(all(b["context"] == "." for b in builds), "every image builds from the top folder")
        # A service without a build of its own runs an image another service builds.
        built = {s["image"] for s in services.values() if "build" in s}
        for name, service in services.items():
            self.assertIn(service["image"], built, f"{name}: nothing builds {service['image']}")
        self.assertEqual({REPO / b["dockerfile"] for b in builds}, set(self.dockerfiles))
        for build in builds:
            if "target" in build:
                stages = {name for _, name, _ in dockerfile_stages(REPO / build["dockerfile"])}
                self.assertIn(build["target"], stages, build["dockerfile"])

    def test_every_image_is_built_on_debian_12(self):
        for path in self.dockerfiles:
            stages = dockerfile_stages(path)
            names = set()
            for base, name, _ in stages:
                self.assertTrue(base in ("debian:12", "debian:12-slim") or base in names,
                                f"{path.name}: FROM {base}")
                names.add(name)

    def test_every_copied_file_exists_and_reaches_the_build_context(self):
        for path in self.dockerfiles:
            for _, _, lines in dockerfile_stages(path):
                for line in lines:
                    m = re.match(r"COPY\s+(?!--from)(.*)$", line)
                    if not m:
                        continue
                    sources = m.group(1).split()[:-1]
                    for source in sources:
                        self.assertTrue((REPO / source).exists(), f"{path.name}: COPY {source}: missing")
                        self.assertTrue(self.in_build_context(source), f"{path.name}: {source} is in .dockerignore")
                        if source.startswith("deploy/docker/") and "." not in Path(source).name:
                            self.assertTrue(os.access(REPO / source, os.X_OK), f"{source} is not executable")

    def test_every_package_the_images_install_is_in_debian_12(self):
        if not any(Path("/var/lib/apt/lists").glob("*_Packages*")):
            self.skipTest("no apt package lists here (apt-get update has not run)")
        packages = sorted({p for f in self.dockerfiles for _, _, lines in dockerfile_stages(f)
                           for p in apt_installs(lines)})
        r = run(["apt-cache", "policy", *packages])
        candidates = dict(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)", r.stdout, re.MULTILINE))
        for package in packages:
            self.assertNotIn(candidates.get(package, "(none)"), ("(none)",), f"{package} is not in apt")

    def test_the_runtime_image_has_every_library_the_binaries_link(self):
        binaries = [b for b in (harness.HANDLER, harness.WORKER, harness.QUEUES) if b]
        if len(binaries) < 3:
            self.skipTest("needs --handler, --worker and --queues")
        stages = {name: lines for _, name, lines in dockerfile_stages(DOCKER / "boardhook.Dockerfile")}
        installed = set(apt_installs(stages["runtime"]))
        libraries = set()
        for binary in binaries:
            libraries |= set(re.findall(r"=>\s+(/\S+)", run(["ldd", binary]).stdout))
        # One dpkg -S for all, under both spellings (usrmerge: dpkg knows one of them).
        spellings = {l: {l, l[4:] if l.startswith("/usr/") else "/usr" + l} for l in libraries}
        owners = {}
        for line in run(["dpkg", "-S", *set().union(*spellings.values())]).stdout.splitlines():
            package, _, path = line.partition(": ")
            owners[path] = package.split(":")[0]
        needed = set()
        for library, names in spellings.items():
            found = [owners[n] for n in names if n in owners]
            self.assertTrue(found, f"no package owns {library}")
            needed.add(found[0])
        missing = needed - installed - BASE_IMAGE_LIBRARIES
        self.assertEqual(missing, set(), f"the runtime stage installs {sorted(installed)}; "
                                         f"the binaries also need {sorted(missing)}")


def write_file(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class ContainerScripts(unittest.TestCase):
    """The scripts inside the images, run here against the built handler, Redis and nginx."""

    @classmethod
    def setUpClass(cls):
        if not harness.HANDLER:
            raise unittest.SkipTest("needs --handler")
        cls.dir = Path(tempfile.mkdtemp(prefix="boardhook-deploy-scripts-"))
        os.chmod(cls.dir, 0o711)   # nginx's workers run as nobody when we are root
        cls.addClassCleanup(cls.cleanup)
        cls.processes = []

    @classmethod
    def cleanup(cls):
        for process in cls.processes:
            process.stop()
        if KEEP:
            print(f"\nKEEP=1: left in {cls.dir}")
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def start(self, name, argv, env=None):
        process = Process(name, [str(a) for a in argv], self.dir / f"{name}.log", env)
        self.processes.append(process)
        return process

    def start_redis_and_handler(self, name, spool=False):
        """A Redis and a handler listening on loopback TCP, as in the handler container."""
        redis_port, handler_port = free_port(), free_port()
        (self.dir / f"{name}-redis").mkdir()
        redis = self.start(f"{name}-redis", [find_program("redis-server"), REPO / "redis/boardhook.conf",
                                             "--port", redis_port, "--dir", self.dir / f"{name}-redis"])
        wait_for(lambda: redis_command(redis_port, "PING") == "PONG", "redis PING", redis)
        (self.dir / "verify-token").write_text(harness.fixture_verify_token())
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_VERIFY_TOKEN_FILE=str(self.dir / "verify-token"),
                   BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                   BOARDHOOK_LISTEN=f"127.0.0.1:{handler_port}",
                   BOARDHOOK_REDIS_TIMEOUT_MS="500")
        if spool:
            env["BOARDHOOK_SPOOL_DIR"] = str(self.dir / f"{name}-spool")
        handler = self.start(f"{name}-handler", [harness.HANDLER], env)
        def listening():
            socket.create_connection(("127.0.0.1", handler_port), timeout=1).close()
            return True
        wait_for(listening, "handler listening", handler)
        return redis, redis_port, handler, handler_port

    def healthcheck(self, address):
        return run([DOCKER / "healthcheck-handler", address])

    def test_shellcheck_finds_nothing_in_the_container_scripts(self):
        scripts = [DOCKER / "healthcheck-handler", DOCKER / "nginx-entrypoint", DOCKER / "certbot-entrypoint",
                   DOCKER / "redis-entrypoint"]
        r = run([find_program("shellcheck"), "--shell=sh", *scripts])
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_the_handler_health_check_passes_with_redis_and_fails_without(self):
        redis, _, handler, port = self.start_redis_and_handler("health")
        r = self.healthcheck(f"127.0.0.1:{port}")
        self.assertEqual(r.returncode, 0, f"healthy handler reported unhealthy: {r.stdout}{r.stderr}\n"
                                          f"{harness.tail(handler.log)}")
        self.assertTrue(r.stdout.strip().startswith("{"), f"no JSON body printed: {r.stdout!r}")
        # No spool: without Redis the handler cannot store events, and must say so.
        redis.stop()
        deadline = time.monotonic() + 15
        while (r := self.healthcheck(f"127.0.0.1:{port}")).returncode == 0 and time.monotonic() < deadline:
            time.sleep(0.3)
        self.assertEqual(r.returncode, 1, f"still healthy 15 s after Redis stopped: {r.stdout}")
        self.assertTrue(handler.alive())

    def start_redis_entrypoint(self, name, args, port_variable, port=None, **env):
        """redis-entrypoint ARGS as in the redis image, with its volume and the image's /etc/redis
        (the shipped redis/ files) moved into our folder, on `port` or a free one. Returns
        (process, port, its data folder); started again with the same name, the same folder."""
        share = self.dir / "redis-share"
        if not share.exists():
            share.mkdir()
            for conf in ("boardhook.conf", "boardhook-replication.conf", "sentinel.conf"):
                (share / conf).symlink_to(REPO / "redis" / conf)
        data, port = self.dir / name, port or free_port()
        data.mkdir(exist_ok=True)
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("BOARDHOOK_", "REDIS_", "SENTINEL_"))}
        environment.update(REDIS_DATA_DIR=str(data), REDIS_SHARE_DIR=str(share), **{port_variable: str(port)}, **env)
        process = self.start(name, [DOCKER / "redis-entrypoint", *args], environment)
        wait_for(lambda: redis_command(port, "PING") == "PONG", f"{name} PING", process)
        return process, port, data

    def test_redis_entrypoint_runs_the_lone_redis_from_the_shipped_file(self):
        _, port, data = self.start_redis_entrypoint("lone-redis", ["redis", "redis"], "REDIS_PORT")
        self.assertEqual(redis_command(port, "CONFIG", "GET", "appendonly"), [b"appendonly", b"yes"])
        self.assertEqual(redis_command(port, "CONFIG", "GET", "min-replicas-to-write"), [b"min-replicas-to-write", b"0"])
        self.assertEqual(list(data.glob("*.conf")), [], "the lone Redis runs the image's file, no copy")

    def test_redis_entrypoint_makes_a_set_that_refuses_writes_alone_and_keeps_what_it_rewrote(self):
        """A primary, a replica and a Sentinel as the `replicated` profile starts them, on
        loopback, with a name (`localhost`) in place of every address."""
        _, primary_port, _ = self.start_redis_entrypoint(
            "set-redis", ["redis", "localhost"], "REDIS_PORT", BOARDHOOK_REDIS_REPLICATION="on")
        replica_args = ["redis", "localhost", f"localhost:{primary_port}"]
        replica, replica_port, replica_data = self.start_redis_entrypoint("set-redis-2", replica_args, "REDIS_PORT")

        def replica_online():
            return b"state=online" in redis_command(primary_port, "INFO", "replication")
        wait_for(replica_online, "the replica online", replica)
        info = redis_command(primary_port, "INFO", "replication").decode()
        self.assertIn(f"slave0:ip=localhost,port={replica_port},", info, "the replica announces its name")
        for port in (primary_port, replica_port):
            self.assertEqual(redis_command(port, "CONFIG", "GET", "min-replicas-to-write")[1], b"1")
        self.assertEqual(redis_command(primary_port, "LPUSH", "k", "v"), 1)
        self.assertIn(f"\nreplicaof localhost {primary_port}\n", (replica_data / "boardhook.conf").read_text())

        sentinel_args = ["sentinel", "localhost", f"localhost:{primary_port}"]
        sentinel, sentinel_port, sentinel_data = self.start_redis_entrypoint("set-sentinel", sentinel_args,
                                                                             "SENTINEL_PORT")
        self.assertEqual(redis_command(sentinel_port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "boardhook"),
                         [b"localhost", str(primary_port).encode()])
        master = redis_command(sentinel_port, "SENTINEL", "MASTER", "boardhook")
        self.assertEqual(dict(zip(master[::2], master[1::2]))[b"quorum"], b"2", "redis/sentinel.conf's quorum")

        def sentinel_ids():
            return re.findall(r"^sentinel myid (\w+)$", (sentinel_data / "sentinel.conf").read_text(), re.MULTILINE)
        myid = sentinel_ids()
        self.assertEqual(len(myid), 1, "Sentinel did not write its id into its copy")

        # Alone, the primary refuses writes, min-replicas-max-lag (3 s) after the replica's last
        # acknowledgement.
        self.assertEqual(replica.stop(), 0)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis_command(primary_port, "LPUSH", "k", "v")
            except harness.RedisError as error:
                self.assertTrue(str(error).startswith("NOREPLICAS"), error)
                break
            self.assertLess(time.monotonic(), deadline, "the primary alone still takes writes after 10 s")
            time.sleep(0.2)

        # Started again, each keeps the file it rewrote: Sentinel its id; the replica its
        # promotion, as a failover leaves it (REPLICAOF NO ONE, then CONFIG REWRITE), where a
        # copy made again would follow the first primary.
        self.assertEqual(sentinel.stop(), 0)
        replica, _, _ = self.start_redis_entrypoint("set-redis-2", replica_args, "REDIS_PORT", port=replica_port)
        self.assertEqual(redis_command(replica_port, "REPLICAOF", "NO", "ONE"), "OK")
        self.assertEqual(redis_command(replica_port, "CONFIG", "REWRITE"), "OK")
        self.assertEqual(replica.stop(), 0)
        self.start_redis_entrypoint("set-redis-2", replica_args, "REDIS_PORT", port=replica_port)
        self.assertEqual(redis_command(replica_port, "ROLE")[0], b"master")
        self.assertEqual(redis_command(replica_port, "CONFIG", "GET", "min-replicas-to-write")[1], b"1")
        self.start_redis_entrypoint("set-sentinel", sentinel_args, "SENTINEL_PORT", port=sentinel_port)
        self.assertEqual(sentinel_ids(), myid, "Sentinel's copy made again: its id changed")

    def edge_environment(self, name, handler_port, http_port, https_port):
        """The nginx and certbot containers' environment, their folders moved into ours."""
        share = self.dir / f"{name}-share"
        for source, target in (("scripts/lib/render-nginx", "scripts/lib/render-nginx"),
                               ("nginx", "nginx"),
                               ("deploy/docker/nginx.conf.in", "docker/nginx.conf.in"),
                               ("deploy/docker/nginx-acme-site.conf.in", "docker/nginx-acme-site.conf.in")):
            (share / target).parent.mkdir(parents=True, exist_ok=True)
            (share / target).symlink_to(REPO / source)
        for folder in ("state", "letsencrypt", "webroot", "certbot-work", "certbot-logs"):
            (self.dir / f"{name}-{folder}").mkdir(mode=0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_DOMAIN=DOMAIN,
                   BOARDHOOK_ACME_EMAIL="ops@example.test",
                   BOARDHOOK_HANDLER_ADDR=f"127.0.0.1:{handler_port}",
                   BOARDHOOK_SHARE=str(share),
                   NGINX_STATE_DIR=str(self.dir / f"{name}-state"),
                   NGINX_HTTP_LISTEN=f"127.0.0.1:{http_port}",
                   NGINX_HTTPS_LISTEN=f"127.0.0.1:{https_port}",
                   NGINX_WATCH_SECONDS="1",
                   CERTS_DIR=str(self.dir / f"{name}-letsencrypt"),
                   ACME_WEBROOT=str(self.dir / f"{name}-webroot"),
                   CERTBOT_WORK_DIR=str(self.dir / f"{name}-certbot-work"),
                   CERTBOT_LOGS_DIR=str(self.dir / f"{name}-certbot-logs"))
        return env

    def start_pebble(self, http_port):
        """Debian's pebble, validating HTTP-01 on `http_port`, every name resolving to 127.0.0.1
        (pebble-challtestsrv). Returns (directory URL, CA file for its API, its root's file)."""
        subprocess.run([REPO / "scripts/lib/make-dev-ca", self.dir / "ca"], check=True)
        dns_port, challtestsrv_port = free_udp_and_tcp_port(), free_port()
        acme_port, management_port = free_port(), free_port()
        challtestsrv = self.start("challtestsrv", [
            find_program("pebble-challtestsrv"), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", f"127.0.0.1:{challtestsrv_port}"])
        config = {"pebble": {"listenAddress": f"127.0.0.1:{acme_port}",
                             "managementListenAddress": f"127.0.0.1:{management_port}",
                             "certificate": str(self.dir / "ca/server.pem"),
                             "privateKey": str(self.dir / "ca/server.key"),
                             "httpPort": http_port, "tlsPort": free_port(),
                             "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        (self.dir / "pebble.json").write_text(json.dumps(config))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        pebble = self.start("pebble", [find_program("pebble"), "-config", self.dir / "pebble.json",
                                       "-dnsserver", f"127.0.0.1:{dns_port}"], env)
        api = ssl.create_default_context(cafile=str(self.dir / "ca/ca.pem"))

        def get(url):
            with urllib.request.urlopen(url, context=api, timeout=5) as r:
                return r.read()
        directory = f"https://127.0.0.1:{acme_port}/dir"
        wait_for(lambda: json.loads(get(directory)).get("newOrder"), "pebble's directory", pebble)

        def challtestsrv_listening():
            socket.create_connection(("127.0.0.1", challtestsrv_port), timeout=1).close()
            return True
        wait_for(challtestsrv_listening, "pebble-challtestsrv", challtestsrv)
        root = self.dir / "pebble-root.pem"   # new at every start of pebble
        root.write_bytes(get(f"https://127.0.0.1:{management_port}/roots/0"))
        return directory, self.dir / "ca/ca.pem", root

    def test_nginx_serves_acme_until_certbot_has_a_certificate_from_a_real_ca_then_the_shipped_site(self):
        _, redis_port, _, handler_port = self.start_redis_and_handler("edge", spool=True)
        http_port, https_port = free_port(), free_port()
        env = self.edge_environment("edge", handler_port, http_port, https_port)

        def http_get(path):
            conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
            try:
                conn.request("GET", path, headers={"Host": DOMAIN})
                r = conn.getresponse()
                return r.status, r.getheader("Location"), r.read()
            finally:
                conn.close()

        # No certificate yet: port 80 only, for ACME; nothing listens on 443.
        nginx = self.start("edge-nginx", [DOCKER / "nginx-entrypoint"], env)
        wait_for(lambda: http_get("/")[0] == 308, "nginx on port 80", nginx)
        self.assertEqual((Path(env["NGINX_STATE_DIR"]) / "site").read_text().strip(), "acme-only")
        self.assertEqual(http_get("/webhooks")[:2], (308, f"https://{DOMAIN}/webhooks"))
        with self.assertRaises(OSError, msg="port 443 open before there is a certificate"):
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()

        # certbot's container script gets one through nginx's webroot; nginx notices by itself.
        directory, api_ca, root = self.start_pebble(http_port)
        certbot = self.start("edge-certbot", [DOCKER / "certbot-entrypoint"],
                             {**env, "BOARDHOOK_ACME_SERVER": directory, "REQUESTS_CA_BUNDLE": str(api_ca)})
        context = ssl.create_default_context(cafile=str(root))   # trusts pebble's root only

        def https(method, path, body=None, headers=None):
            conn = NamedHTTPS(DOMAIN, https_port, context)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                r = conn.getresponse()
                return r.status, r.read()
            finally:
                conn.close()
        wait_for(lambda: https("GET", "/nothing")[0] == 404, "certbot's certificate served over https",
                 certbot, timeout=60)
        self.assertTrue(nginx.alive())
        self.assertEqual((Path(env["NGINX_STATE_DIR"]) / "site").read_text().strip(), "tls")
        # Port 80 is now the shipped site's: still the challenges (renewals), still the redirect.
        write_file(Path(env["ACME_WEBROOT"]) / ".well-known/acme-challenge/t0ken", "t0ken.thumbprint")
        self.assertEqual(http_get("/.well-known/acme-challenge/t0ken"), (200, None, b"t0ken.thumbprint"))
        self.assertEqual(http_get("/webhooks")[0], 308)

        status, body = https("GET", "/healthz")
        self.assertEqual(status, 200, f"nginx's health check path: {body!r}")
        fixture = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        status, body = https("POST", "/webhooks", fixture, {"Content-Type": "application/json"})
        self.assertEqual((status, body), (200, b'{"stored":1}'))
        self.assertEqual(redis_command(redis_port, "LLEN", "boardhook:queue:ticket_status_change"), 1)

        # certbot's health check: the certificate is good for 14 more days.
        cert = Path(env["CERTS_DIR"]) / "live" / DOMAIN / "cert.pem"
        r = run(["openssl", "x509", "-noout", "-checkend", "1209600", "-in", cert])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # Both stop on SIGTERM, leaving nothing behind (nginx's watcher, certbot's sleep).
        self.assertEqual(certbot.stop(), 0)
        self.assertEqual(nginx.stop(), 0)
        deadline = time.monotonic() + 5
        while (left := processes_with_environment("NGINX_STATE_DIR", env["NGINX_STATE_DIR"])) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(left, [], "processes of nginx-entrypoint or certbot-entrypoint outlived them")


class NamedHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port for host `name`: SNI and the certificate check use the name."""

    def __init__(self, name, port, context, timeout=10):
        super().__init__(name, port, context=context, timeout=timeout)
        self.tls_context = context

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


def processes_with_environment(name, value):
    """PIDs of processes whose environment has name=value (only ours can carry our temp path)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


if __name__ == "__main__":
    harness.main()
