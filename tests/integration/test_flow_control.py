"""test_flow_control.py -- flow control shared by every worker process through Redis: pause and
resume (boardhook-queues pause TYPE / resume TYPE) hold a type within a second while the handler
goes on queueing; a rate limit of 50/s across 3 processes stays within 10 % over 5 s; an in-flight
limit of 3 across 2 processes x 4 consumers is never exceeded. The application counts what arrives
(per second) and how many requests it serves at once.
Run: /usr/bin/python3 test_flow_control.py --handler H --worker W --queues Q  (KEEP=1 keeps the folder).
"""
import json
import re
import threading
import time

import harness
import webapp
from webapp import numbered_envelope


class PauseResume(webapp.DeliveryTest):
    TYPE = "flow_paused"

    def post_event(self, n):
        body = json.dumps({"CommunityName": "flow-test", "EventType": self.TYPE, "TicketId": n,
                           "Events": [{"Seq": n}]}).encode()
        r = self.stack.post(body)
        self.assertEqual(r.status, 200, self.stack.why(r))

    def test_pause_holds_the_type_on_every_worker_within_a_second_and_resume_restarts_it(self):
        path = f"/hooks/{self.TYPE}"
        workers = [self.start_worker("--type", f"{self.TYPE}={self.site.url(path)}", "--concurrency", "2")
                   for _ in range(2)]
        # The handler keeps receiving events the whole time: 20 POSTs a second through nginx.
        posted, stop_feeding = [], threading.Event()

        def feed():
            n = 0
            while not stop_feeding.is_set():
                self.post_event(n)
                posted.append(time.monotonic())
                n += 1
                time.sleep(0.05)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        self.addCleanup(stop_feeding.set)
        self.until(lambda: len(self.app.requests_for(path)) >= 20, "deliveries flowing")

        r = self.queues("pause", self.TYPE)
        paused_at = time.monotonic()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("paused", r.stdout)
        time.sleep(1.0)
        depth_1s = self.redis("LLEN", self.stack.queue_key(self.TYPE))
        time.sleep(2.0)
        depth_3s = self.redis("LLEN", self.stack.queue_key(self.TYPE))
        stats = self.queues("--json", "stats")
        resumed = self.queues("resume", self.TYPE)
        resumed_at = time.monotonic()
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        arrivals = [r.arrived for r in self.app.requests_for(path)]
        during = [a for a in arrivals if paused_at < a < resumed_at]
        late = [round(a - paused_at, 3) for a in during if a > paused_at + 1.0]
        self.assertEqual(late, [], self.why("deliveries started more than 1 s after pause returned"))
        queued_while_paused = sum(1 for p in posted if paused_at + 1.0 < p < resumed_at)
        self.assertGreater(depth_3s, depth_1s, "events stopped queueing during the pause")
        self.assertGreaterEqual(depth_3s - depth_1s, queued_while_paused - 45)   # ~2 s of POSTs at <= 20/s
        self.assertEqual([t["paused"] for t in json.loads(stats.stdout)["types"] if t["type"] == self.TYPE], [True])
        for worker in workers:
            self.assertIn(f"type {self.TYPE} paused", worker.log.read_text())

        self.until(lambda: any(a > resumed_at for a in (r.arrived for r in self.app.requests_for(path))),
                   "a delivery after resume", timeout=5, interval=0.01)
        first_after = min(a for a in (r.arrived for r in self.app.requests_for(path)) if a > resumed_at) - resumed_at
        self.assertLess(first_after, 1.0, "resume took effect after more than a second")
        stop_feeding.set()
        feeder.join()
        self.until(lambda: self.counter(f"done:{self.TYPE}") == len(posted), "every posted event delivered",
                   timeout=20)
        self.assertEqual(len({r.header("webhook-id") for r in self.app.requests_for(path)}), len(posted))
        last_during = max(during, default=paused_at) - paused_at
        self.report(f"2 workers: last delivery {last_during * 1000:.0f} ms after pause returned; queue "
                    f"{depth_1s} -> {depth_3s} while paused; first delivery {first_after * 1000:.0f} ms after "
                    f"resume; {len(posted)} events posted, all delivered")


class RateLimit(webapp.DeliveryTest):
    TYPE = "flow_rated"
    RATE, SECONDS, PROCESSES = 50, 5, 3

    def test_a_rate_of_50_per_second_across_3_processes_stays_within_10_percent_over_5_seconds(self):
        path = f"/hooks/{self.TYPE}"
        workers = [self.start_worker("--type", f"{self.TYPE}={self.site.url(path)}", "--concurrency", "2",
                                     "--rate", f"{self.TYPE}={self.RATE}/s", env={"BOARDHOOK_LOG_LEVEL": "debug"})
                   for _ in range(self.PROCESSES)]
        self.push(self.TYPE, [numbered_envelope(self.TYPE, n)[0] for n in range(self.RATE * (self.SECONDS + 3))])
        self.until(lambda: self.app.requests_for(path), "the first delivery")
        first = self.app.requests_for(path)[0].arrived
        time.sleep(self.SECONDS + 0.3)
        arrivals = [r.arrived - first for r in self.app.requests_for(path)]
        windows = [sum(1 for a in arrivals if s <= a < s + 1) for s in range(self.SECONDS)]
        total = sum(windows)
        for worker in workers:
            worker.signal(15)
        shares = []
        for worker in workers:
            self.assertEqual(worker.stop(), 0)
            shares.append(len(re.findall(rf"of type {self.TYPE} done", worker.log.read_text())))
        self.report(f"{self.PROCESSES} processes x 2 consumers, --rate {self.RATE}/s: {total} deliveries in "
                    f"{self.SECONDS} s ({total / self.SECONDS:.1f}/s), per second {windows}, per process {shares}")
        self.assertLessEqual(total, self.RATE * self.SECONDS * 1.10, "over the rate by more than 10 %")
        self.assertGreaterEqual(total, self.RATE * self.SECONDS * 0.90, "well under the rate: the limit starves")
        # The first second also holds the burst (a tenth of a second's worth) and the first TLS
        # handshakes' delay; after it, every second stays within 10 %.
        self.assertTrue(all(n <= self.RATE * 1.10 for n in windows[1:]), windows)
        self.assertTrue(all(share > 0 for share in shares), "not every process took part")


class InFlightLimit(webapp.DeliveryTest):
    LIMITED, UNLIMITED = "flow_limited", "flow_unlimited"
    EVENTS = 30

    def test_at_most_3_in_flight_across_2_processes_of_4_consumers(self):
        for t in (self.LIMITED, self.UNLIMITED):
            self.app.answer(f"/hooks/{t}", webapp.ok(delay=0.3))   # a slow application
        args = [a for t in (self.LIMITED, self.UNLIMITED) for a in ("--type", f"{t}={self.site.url('/hooks/' + t)}")]
        workers = [self.start_worker(*args, "--concurrency", "4", "--max-in-flight", f"{self.LIMITED}=3")
                   for _ in range(2)]
        started = time.monotonic()
        for t in (self.LIMITED, self.UNLIMITED):
            self.push(t, [numbered_envelope(t, n)[0] for n in range(self.EVENTS)])
        self.until(lambda: all(self.counter(f"done:{t}") == self.EVENTS for t in (self.LIMITED, self.UNLIMITED)),
                   "every event delivered", timeout=30)
        elapsed = time.monotonic() - started
        limited = self.app.max_in_flight[f"/hooks/{self.LIMITED}"]
        unlimited = self.app.max_in_flight[f"/hooks/{self.UNLIMITED}"]
        self.report(f"2 processes x 4 consumers, 0.3 s per request, {self.EVENTS} events each: most in flight at the "
                    f"application {limited} with --max-in-flight 3, {unlimited} without; {elapsed:.1f} s")
        self.assertEqual(limited, 3, "the in-flight limit was exceeded (or never reached)")
        self.assertEqual(unlimited, 8, "the application did not see all 8 consumers at once without a limit")
        # Stopped cleanly, the workers hold no slot: a fleet restarted at once has the whole limit.
        for worker in workers:
            worker.signal(15)
        for worker in workers:
            self.assertEqual(worker.stop(), 0)
        self.assertEqual(self.redis("ZCARD", self.key("in-flight", self.LIMITED)), 0, "slots left held after the stop")


if __name__ == "__main__":
    harness.main()
