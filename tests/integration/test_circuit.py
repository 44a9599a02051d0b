"""test_circuit.py -- the hour-long outage, compressed: a destination down for much longer than
--max-attempts x back-off allows loses nothing and dead-letters nothing, because its circuit opens
(no event taken, no attempt spent), probes with one event as its cool-down grows, and closes when
the destination answers again; boardhook-queues stats (text and --json) and /metrics/queues show
the open circuit meanwhile, and the worker logs each change.

Three routes of one worker go down together: an HTTPS application behind nginx (nginx answers 502
while the application is stopped), the same application over plain HTTP (connections refused), and
a command that exits 75 (EX_TEMPFAIL: "what I deliver to is down").
Run: /usr/bin/python3 test_circuit.py --handler H --worker W --queues Q  (KEEP=1 keeps the folder).
"""
import json
import re
import time

import harness
import webapp
from webapp import numbered_envelope

SECRET = webapp.new_secret()
OUTAGE_SECONDS = 7.0
MAX_ATTEMPTS, BACKOFF, BACKOFF_MAX = 3, 0.2, 0.4
BEFORE, DURING = 5, 20   # events per type queued before the outage, and during it


class Outage(webapp.DeliveryTest):
    SECRETS = (SECRET,)

    def test_a_destination_down_for_longer_than_the_retries_allow_loses_nothing_and_dead_letters_nothing(self):
        flag = self.dir / "destination-down"
        out = self.dir / "command-out"
        routes = {
            "via_nginx": self.site.url("/hooks/via_nginx"),
            "direct": f"http://127.0.0.1:{self.app.port}/hooks/direct",
            "command": f'[ -e {flag} ] && exit 75; echo "$BOARDHOOK_EVENT_ID $BOARDHOOK_ATTEMPT" >> {out}',
        }
        worker = self.start_worker(*[a for t, d in routes.items() for a in ("--type", f"{t}={d}")],
                                   "--concurrency", "2", "--timeout", "5", "--max-attempts", str(MAX_ATTEMPTS),
                                   "--backoff", str(BACKOFF), "--backoff-max", str(BACKOFF_MAX),
                                   "--circuit-failures", "3", "--circuit-cooldown", "0.5", "--circuit-cooldown-max", "2")
        events = {t: [numbered_envelope(t, n) for n in range(BEFORE + DURING)] for t in routes}
        for t in routes:
            self.push(t, [raw for raw, _ in events[t][:BEFORE]])
        self.until(lambda: all(self.counter(f"done:{t}") == BEFORE for t in routes), "the first events delivered")

        # The outage: the application stops (its port refuses; nginx answers 502), the command's
        # destination too. Events keep coming: half at once, half in the middle of it.
        self.app.down()
        flag.touch()
        down_at = time.monotonic()
        for t in routes:
            self.push(t, [raw for raw, _ in events[t][BEFORE:BEFORE + DURING // 2]])
        seen = {"stats": set(), "json": set(), "metrics": set()}
        pushed_rest = False
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            if not pushed_rest and time.monotonic() - down_at > OUTAGE_SECONDS / 2:
                for t in routes:
                    self.push(t, [raw for raw, _ in events[t][BEFORE + DURING // 2:]])
                pushed_rest = True
            self.observe_circuits(seen)
            time.sleep(0.2)
        dead_during = {t: len(self.dead_records(t)) for t in routes}
        self.app.up()
        flag.unlink()
        up_at = time.monotonic()
        self.until(lambda: all(self.counter(f"done:{t}") == BEFORE + DURING for t in routes),
                   "every event delivered after the outage", timeout=30, interval=0.05)
        recovered = time.monotonic() - up_at
        time.sleep(0.5)   # a duplicate or a late dead letter would show by now

        # Nothing dead, nothing left, every event delivered exactly once.
        for t in routes:
            with self.subTest(route=t):
                self.assertEqual(dead_during[t], 0, "dead-lettered during the outage")
                self.assertEqual(self.dead_records(t), [], self.why("dead letters after the outage"))
                self.assertEqual(self.counter(f"dead:{t}"), 0)
                self.assertEqual(self.redis("LLEN", self.stack.queue_key(t)), 0)
                self.assertEqual(self.redis("ZCARD", self.key("retry", t)), 0)
                self.assertEqual(self.redis("HLEN", self.key("attempts", t)), 0, "attempt counts left")
        delivered = {
            "via_nginx": [(r.header("webhook-id"), int(r.header("boardhook-attempt")))
                          for r in self.app.requests_for("/hooks/via_nginx") if r.answered],
            "direct": [(r.header("webhook-id"), int(r.header("boardhook-attempt")))
                       for r in self.app.requests_for("/hooks/direct") if r.answered],
            "command": [(i, int(a)) for i, a in (line.split() for line in out.read_text().splitlines())],
        }
        for t in routes:
            with self.subTest(route=t):
                ids = [i for i, _ in delivered[t]]
                self.assertEqual(sorted(ids), sorted(i for _, i in events[t]), "not every event exactly once")
                self.assertLessEqual(max(a for _, a in delivered[t]), MAX_ATTEMPTS)

        # Seen open from outside while it was.
        for where in seen:
            self.assertEqual(seen[where], set(routes), f"circuits seen open in {where}: {seen[where]}")

        # Logged: opened, and closed once the destination answered.
        log = worker.log.read_text()
        opened = {t: len(re.findall(rf"circuit of {t} open after", log)) for t in routes}
        closed = {t: len(re.findall(rf"circuit of {t} closed", log)) for t in routes}
        for t in routes:
            self.assertGreaterEqual(opened[t], 1, self.why(f"{t}: no 'open' line"))
            self.assertEqual(closed[t], 1, self.why(f"{t}: 'closed' lines"))
            # The cool-down starts at --circuit-cooldown and doubles at each failed probe, up to the max.
            cooldowns = [float(s) for s in re.findall(rf"circuit of {t} open after .*?; no event taken for ([0-9.]+) s",
                                                      log, re.DOTALL)]   # the last error may hold newlines
            self.assertEqual(cooldowns, [min(0.5 * 2 ** k, 2.0) for k in range(len(cooldowns))], t)
        self.assertIn("Couldn't connect to server", log)   # curl: the port refused the connection
        self.assertIn("HTTP 502", log)
        self.assertIn("exit code 75", log)
        self.assertEqual(self.circuits_in_stats(), {}, "a circuit still open after the recovery")

        # Every HTTP delivery, failed or not, signed; checked by npm's standardwebhooks.
        requests = [r for r in self.app.requests]
        results = webapp.verify_signatures(requests, [SECRET])
        self.assertEqual([ok for (ok, _), in results], [True] * len(requests))

        failures_502 = sum(1 for line in self.site.access_log() if '"POST /hooks/via_nginx" 502' in line)
        self.report(f"outage {OUTAGE_SECONDS:.1f} s (retries alone give up after ~{MAX_ATTEMPTS} x "
                    f"{BACKOFF_MAX} s); {BEFORE + DURING} events per route, all delivered "
                    f"{recovered:.2f} s after the destination came back, 0 dead; circuit openings (first + "
                    f"failed probes) {opened}; nginx 502s seen by the worker {failures_502}; highest attempt "
                    f"delivered {max(a for t in routes for _, a in delivered[t])}")

    def observe_circuits(self, seen):
        """Which routes' circuits stats, stats --json and /metrics/queues show open right now."""
        r = self.queues("stats")
        seen["stats"].update(re.findall(r"^circuit of (\S+) at \S+: (?:open|half-open)", r.stdout, re.MULTILINE))
        seen["json"].update(self.circuits_in_stats())
        metrics = self.stack.request("GET", "/metrics/queues").body.decode()
        seen["metrics"].update(t for t, n in re.findall(r'^boardhook_circuit_open\{type="([^"]+)"\} (\d+)$', metrics,
                                                        re.MULTILINE) if int(n) > 0)

    def circuits_in_stats(self):
        r = self.queues("--json", "stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        circuits = {}
        for worker in json.loads(r.stdout)["workers"]:
            circuits.update(worker.get("circuits", {}))
        return circuits


if __name__ == "__main__":
    harness.main()
