#!/usr/bin/python3
"""test_prometheus.py -- the shipped alert rules and Grafana dashboard, against a real Prometheus.

promtool checks deploy/prometheus/boardhook-rules.yml and a configuration rendered from
prometheus.yml.example. Then a real Prometheus (Debian's) runs that rendered configuration in a
temporary folder on a free loopback port: it scrapes the handler's /metrics and /metrics/queues
through the stack's nginx, over HTTPS checked against the test CA, every second, and evaluates
a copy of the rules whose `for:` durations are cut to 1 s (the thresholds are the shipped ones).
The stack (harness.Stack with a spool: nginx, handler, Redis) gets real workers and real
webhooks, and the test waits for exactly the alerts each situation should raise:

1. events piling up in a type no worker serves, with an old oldest event, a served type with a
   backlog, a command that fails into the dead letters: no-worker, oldest-age and dead-letter
   alerts, for the right types only;
2. every expression of every panel of deploy/grafana/boardhook.json, and its variables' queries,
   evaluated by that Prometheus over the test's time range: no error, and data for every panel;
3. Redis stopped: webhooks answered 200 from the spool, then 503 once the spool is full: the
   spool, Redis-unreachable and 503 alerts;
4. the handler stopped: nginx cannot reach it, the scrape fails, the handler-unreachable alert.

Grafana itself is not in Debian: the dashboard's JSON is checked for what an import needs (a
Prometheus datasource variable that every panel and query uses, unique panel ids), and its
queries by the Prometheus above, with Grafana's variables replaced as Grafana would for "All".
"""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import harness
from harness import REPO, FIXTURES, Process, find_program, free_port, make_envelope, rfc3339_ms, wait_for

RULES = REPO / "deploy/prometheus/boardhook-rules.yml"
EXAMPLE_CONFIG = REPO / "deploy/prometheus/prometheus.yml.example"
DASHBOARD = REPO / "deploy/grafana/boardhook.json"

JOBS = {"boardhook": "/metrics", "boardhook-queues": "/metrics/queues"}   # what the rules read, by name
STUCK = "prometheus_stuck"        # queued, with an event two hours old, and no worker serves it
GATED = "ticket_status_change"    # served by a worker whose command waits for a file: a backlog, served
FAILING = "note_deletion"         # served by a command that always fails, one attempt: dead letters
# How Grafana would fill its variables: $__rate_interval is at least 4 scrape intervals (1 s here).
GRAFANA_VARIABLES = {"$__rate_interval": "4s", "$__interval": "1s", "$__range": "1m",
                     "$instance": ".*", "$type": ".*"}


def yaml_module():
    try:
        import yaml   # python3-yaml: scripts/test installs it
    except ImportError:
        raise unittest.SkipTest("python3-yaml missing; scripts/test installs it")
    return yaml


def promtool(*args):
    return subprocess.run([find_program("promtool"), *args], capture_output=True, text=True, timeout=60)


def rules_with_short_for(text):
    """The rules file with every `for:` cut to 1 s, and how many it cut."""
    return re.subn(r"(?m)^(\s+for:\s*)\S+\s*$", r"\g<1>1s", text)


def render_config(yaml, rules_path, port=None, ca_file=None):
    """prometheus.yml.example with the rules at `rules_path`, evaluated and scraped every second;
    with `port` and `ca_file`, scraping the test's nginx with the test CA. Nothing else changes."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules_path)]
    for job in config["scrape_configs"] if port else ():
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        job["tls_config"].update(ca_file=str(ca_file), server_name="localhost")
    return yaml.safe_dump(config, sort_keys=False)


def dashboard_panels(dashboard):
    """Every panel, those inside collapsed rows too."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def grafana_expr(expr):
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a Grafana variable the test does not know in {expr!r}"
    return expr


def fixture_as(event_type, name):
    """A fixture's body with its EventType changed: a valid notification of `event_type`."""
    body = json.loads((FIXTURES / name).read_bytes())
    body["EventType"] = event_type
    return json.dumps(body).encode()


class Promtool(unittest.TestCase):
    def test_the_shipped_rules_pass_promtool_check_rules(self):
        r = promtool("check", "rules", str(RULES))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_every_rule_says_how_bad_and_what_to_do(self):
        rules = [rule for group in yaml_module().safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
        self.assertGreaterEqual(len(rules), 7)
        for rule in rules:
            with self.subTest(rule["alert"]):
                self.assertIn(rule["labels"]["severity"], ("critical", "warning"))
                self.assertIn("for", rule)
                summary = rule["annotations"]["summary"]
                self.assertRegex(summary, r"`(boardhook-queues|boardhook-handler|systemctl|promtool)[^`]*`",
                                 "the summary names no command to run")
                self.assertGreater(len(rule["annotations"]["description"]), 80)

    def test_the_example_configuration_rendered_passes_promtool_check_config(self):
        yaml = yaml_module()
        with tempfile.TemporaryDirectory(prefix="boardhook-promtool-") as folder:
            rules = Path(folder) / "boardhook-rules.yml"
            rules.write_text(RULES.read_text())
            config = Path(folder) / "prometheus.yml"
            config.write_text(render_config(yaml, rules))
            r = promtool("check", "config", str(config))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("1 rule files found", r.stdout)
        jobs = {job["job_name"]: job for job in yaml.safe_load(EXAMPLE_CONFIG.read_text())["scrape_configs"]}
        self.assertEqual({name: job["metrics_path"] for name, job in jobs.items()}, JOBS)
        for job in jobs.values():
            self.assertEqual(job["scheme"], "https")
            self.assertEqual(job["static_configs"][0]["targets"], ["127.0.0.1:443"],
                             "nginx answers the metrics to 127.0.0.1 only")


class AlertsAndDashboard(harness.StackTest):
    # The spool's smallest size: a 1.1 MB notification cannot go in, so Redis down answers 503.
    stack_options = {"spool": True, "handler_env": {"BOARDHOOK_SPOOL_MAX_BYTES": "1M"}}

    @classmethod
    def setUpClass(cls):
        cls.yaml = yaml_module()
        super().setUpClass()
        cls.started_at = time.time()
        cls.workers = []
        cls.release = cls.stack.dir / "release-gated-jobs"
        cls.start_worker("--type", f"{GATED}=while [ ! -e {cls.release} ]; do sleep 0.1; done; cat >/dev/null",
                         "--concurrency", "1")
        cls.start_worker("--type", f"{FAILING}=cat >/dev/null; echo failing on purpose >&2; exit 3",
                         "--max-attempts", "1")
        cls.start_prometheus()

    # ---- the processes ----------------------------------------------------------------------
    @classmethod
    def start_worker(cls, *args):
        if not harness.WORKER or not os.access(harness.WORKER, os.X_OK):
            raise harness.StartError(f"worker binary {harness.WORKER!r} missing: pass --worker")
        stack = cls.stack
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{stack.redis_port}/0", BOARDHOOK_QUEUE_PREFIX=stack.prefix)
        name = f"worker-{len(cls.workers) + 1}"
        worker = Process(name, [harness.WORKER, *args], stack.dir / f"{name}.log", env)
        cls.workers.append(worker)
        cls.addClassCleanup(cls.stop_worker, worker)
        before = len(stack.redis_cmd("HKEYS", f"{stack.prefix}:workers"))
        wait_for(lambda: len(stack.redis_cmd("HKEYS", f"{stack.prefix}:workers")) > before, f"{name} registered", worker)

    @classmethod
    def stop_worker(cls, worker):
        cls.release.touch()   # a gated job still running finishes at once
        worker.stop()

    @classmethod
    def start_prometheus(cls):
        folder = cls.stack.dir / "prometheus"
        folder.mkdir()
        text, cut = rules_with_short_for(RULES.read_text())
        assert cut == len(re.findall(r"(?m)^\s+- alert:", text)), "a rule without for:, or one the rewrite missed"
        (folder / "boardhook-rules.yml").write_text(text)
        config = folder / "prometheus.yml"
        config.write_text(render_config(cls.yaml, folder / "boardhook-rules.yml", cls.stack.https_port, cls.stack.ca))
        cls.prometheus_port = free_port()
        cls.prometheus = Process("prometheus", [
            find_program("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{cls.prometheus_port}", "--log.level=info"],
            cls.stack.dir / "prometheus.log")
        cls.addClassCleanup(cls.prometheus.stop)
        ready = f"http://127.0.0.1:{cls.prometheus_port}/-/ready"   # 503 while it loads, then 200
        wait_for(lambda: urllib.request.urlopen(ready, timeout=5).status == 200, "prometheus ready",
                 cls.prometheus, timeout=30)
        # Both jobs scraped once: what happens from here on, Prometheus sees happen.
        wait_for(lambda: len(cls.api("/api/v1/query", query="up")["data"]["result"]) == len(JOBS),
                 "first scrapes", cls.prometheus)

    # ---- asking Prometheus ------------------------------------------------------------------
    @classmethod
    def api(cls, path, **params):
        """GET one Prometheus API path; the decoded JSON, errors (HTTP 400/422) included."""
        url = f"http://127.0.0.1:{cls.prometheus_port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as error:
            return json.load(error)

    def alerts(self):
        """{(alertname, type or None): state} of the alerts Prometheus has now."""
        answer = self.api("/api/v1/alerts")
        self.assertEqual(answer["status"], "success", answer)
        return {(a["labels"]["alertname"], a["labels"].get("type")): a["state"] for a in answer["data"]["alerts"]}

    def wait_for_alerts(self, expected, timeout=20):
        """Wait until every (alertname, type) in `expected` is pending or firing; return the alerts."""
        deadline = time.monotonic() + timeout
        while True:
            alerts = self.alerts()
            if all(alerts.get(key) in ("pending", "firing") for key in expected):
                return alerts
            if time.monotonic() > deadline:
                self.fail(f"alerts {sorted(k for k in expected if k not in alerts)} not raised after {timeout} s; "
                          f"active: {alerts}; targets: {self.targets()}\n{self.why()}\n"
                          f"--- prometheus (last lines) ---\n{harness.tail(self.stack.dir / 'prometheus.log')}")
            time.sleep(0.5)

    def targets(self):
        return sorted((t["labels"]["job"], t["health"], t["lastError"])
                      for t in self.api("/api/v1/targets")["data"]["activeTargets"])

    def wait_for_sample(self, query, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.api("/api/v1/query", query=query)
            if answer["status"] == "success" and answer["data"]["result"]:
                return answer["data"]["result"]
            time.sleep(0.5)
        self.fail(f"{query}: no sample after {timeout} s; targets: {self.targets()}")

    # ---- the situations, in order ----------------------------------------------------------
    def test_1_a_type_without_worker_an_old_event_and_dead_letters_raise_their_alerts(self):
        stack = self.stack
        for _ in range(3):   # one runs (and waits for the release file), two wait behind it
            self.assertEqual(stack.post(fixture_as(GATED, "ticket_status_change.json")).status, 200, self.why())
        for _ in range(2):
            self.assertEqual(stack.post(fixture_as(STUCK, "ticket_status_change.json")).status, 200, self.why())
        # The oldest end of STUCK's queue (its right) gets an event received two hours ago.
        old, _ = make_envelope(STUCK, b'{"Ticket":{"Id":1}}', received_at=rfc3339_ms(time.time() - 7200))
        stack.redis_cmd("RPUSH", stack.queue_key(STUCK), old)
        self.assertEqual(stack.post(fixture_as(FAILING, "note_deletion.json")).status, 200, self.why())

        alerts = self.wait_for_alerts({("BoardhookNoWorkerForQueuedType", STUCK),
                                       ("BoardhookQueueOldestEventOld", STUCK),
                                       ("BoardhookDeadLettersRising", FAILING)})
        self.assertEqual(stack.redis_cmd("LLEN", f"{stack.prefix}:dead:{FAILING}"), 1)
        self.assertGreaterEqual(stack.redis_cmd("LLEN", stack.queue_key(GATED)), 1, "the served backlog is gone")
        # GATED has a backlog too, but a live worker serves it; its oldest event is seconds old.
        self.assertEqual(set(alerts), {("BoardhookNoWorkerForQueuedType", STUCK),
                                       ("BoardhookQueueOldestEventOld", STUCK),
                                       ("BoardhookDeadLettersRising", FAILING)})
        self.assertEqual(self.targets(), [("boardhook", "up", ""), ("boardhook-queues", "up", "")])
        self.assertEqual(self.wait_for_sample(f'boardhook_workers_serving{{type="{GATED}"}}')[0]["value"][1], "1")

        # Let the gated jobs finish: the done counters move, for the dashboard's rates.
        self.release.touch()
        wait_for(lambda: stack.redis_cmd("LLEN", stack.queue_key(GATED)) == 0, "gated backlog done", self.workers[0])
        self.wait_for_sample(f'boardhook_events_done_total{{type="{GATED}"}} >= 3')

    def test_2_every_dashboard_query_evaluates_and_has_data(self):
        # Traffic spread over a few scrapes, so that rates over Grafana's $__rate_interval (4
        # scrapes) see counters move, as they would on a dashboard with hours of history.
        for _ in range(6):
            self.assertEqual(self.stack.post(fixture_as(GATED, "ticket_status_change.json")).status, 200, self.why())
            time.sleep(0.5)
        time.sleep(2)
        dashboard = json.loads(DASHBOARD.read_text())
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        panels = list(dashboard_panels(dashboard))
        ids = [p["id"] for p in panels]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        # Variables: label_values(SELECTOR, LABEL) is Grafana's; ask Prometheus the same question.
        for name in ("instance", "type"):
            with self.subTest(variable=name):
                query = variables[name]["query"]["query"]
                self.assertEqual(variables[name]["datasource"]["uid"], "${datasource}")
                selector, label = re.fullmatch(r"label_values\((.+), (\w+)\)", query).groups()
                answer = self.api(f"/api/v1/label/{label}/values", **{"match[]": selector})
                self.assertEqual(answer["status"], "success", answer)
                self.assertTrue(answer["data"], f"{query}: no values")
        # Panels: each query as Grafana sends it, a range query over the test's time so far.
        end = time.time()
        queried = 0
        for panel in panels:
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"]["uid"], "${datasource}", panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                with self.subTest(panel=panel["title"], refId=target["refId"]):
                    self.assertEqual(target["datasource"]["uid"], "${datasource}")
                    expr = grafana_expr(target["expr"])
                    answer = self.api("/api/v1/query_range", query=expr, start=self.started_at, end=end, step=1)
                    self.assertEqual(answer["status"], "success", f"{expr}: {answer}")
                    values = [float(v) for series in answer["data"]["result"] for _, v in series["values"]]
                    self.assertTrue([v for v in values if v == v], f"{expr}: no data ({answer['data']['result']})")
                    queried += 1
        self.assertGreaterEqual(queried, 30)

    def test_3_redis_stopped_raises_spool_redis_and_503_alerts(self):
        stack = self.stack
        stack.redis.stop()
        r = stack.post(fixture_as(GATED, "ticket_status_change.json"))
        self.assertEqual(r.status, 200, self.why(r))   # in the spool
        # Larger than the whole spool may hold (1 MiB): neither Redis nor the spool takes it.
        big = json.dumps({"CommunityName": "c", "EventType": GATED, "Events": [{"Pad": "x" * 1_100_000}]}).encode()
        r = stack.post(big)
        self.assertJsonError(r, 503, "storage_unavailable")
        alerts = self.wait_for_alerts({("BoardhookSpoolNotEmpty", None), ("BoardhookRedisUnreachable", None),
                                       ("BoardhookHandlerAnswering503", None)})
        self.assertNotIn(("BoardhookHandlerUnreachable", None), alerts)

    def test_4_the_handler_stopped_raises_the_unreachable_alert(self):
        self.stack.handler.stop()
        r = self.stack.request("GET", "/metrics")
        self.assertJsonError(r, 503, "handler_unavailable")
        alerts = self.wait_for_alerts({("BoardhookHandlerUnreachable", None)})
        self.assertNotIn(("BoardhookScrapeJobMissing", None), alerts)


if __name__ == "__main__":
    harness.main()
