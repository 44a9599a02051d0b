"""test_http_delivery.py -- boardhook-worker delivering to a real HTTPS application: the envelope
byte for byte with the Standard Webhooks headers, signatures checked by npm's standardwebhooks
with both secrets of a rotation, the answers' outcomes (2xx, 500, 429 with Retry-After, 404), a
hanging destination cut by --timeout while another type goes on, TLS verified by default.

Each test starts its own Redis, handler and nginx (harness.Stack) and the application of
webapp.py behind that nginx with the test CA's certificate; workers verify it with --ca-bundle.
Run: /usr/bin/python3 test_http_delivery.py --handler H --worker W --queues Q  (KEEP=1 keeps the folder).
"""
import json
import re
import time

import harness
import webapp
from webapp import numbered_envelope

OLD_SECRET, NEW_SECRET, OTHER_SECRET = webapp.new_secret(), webapp.new_secret(), webapp.new_secret()
FIXTURES = ["ticket_status_change.json", "note_deletion.json", "variants/ticket_status_change.two_events.json",
            "variants/ticket_status_change.unicode.json", "variants/ticket_status_change.legacy_no_ticketid.json",
            "variants/unknown_event_type.json"]


class Signatures(webapp.DeliveryTest):
    SECRETS = (OLD_SECRET, NEW_SECRET)   # a rotation: the file holds both, one per line

    def test_each_delivery_is_the_queued_envelope_byte_for_byte_and_verifies_with_both_secrets(self):
        # Socialboards -> nginx -> handler -> Redis: the events to deliver, as a user's would be.
        for name in FIXTURES:
            r = self.stack.post((harness.FIXTURES / name).read_bytes())
            self.assertEqual(r.status, 200, self.stack.why(r))
        types = sorted(t.decode() for t in self.redis("SMEMBERS", self.key("event-types")))
        queued = {}   # envelope id -> (type, envelope bytes as stored)
        for event_type in types:
            for raw in self.redis("LRANGE", self.stack.queue_key(event_type), 0, -1):
                queued[json.loads(raw)["id"]] = (event_type, raw)
        self.assertEqual(len(queued), 7, "the fixtures hold 7 distinct events")

        self.start_worker(*[a for t in types for a in ("--type", f"{t}={self.site.url('/hooks/' + t)}")],
                          "--concurrency", "2")
        self.until(lambda: sum(self.counter(f"done:{t}") for t in types) == len(queued), "every event acknowledged")
        requests = self.app.requests
        self.assertEqual(len(requests), len(queued), self.why("one request per event, none repeated"))

        for request in requests:
            event_id = request.header("webhook-id")
            with self.subTest(event=event_id):
                self.assertIn(event_id, queued, "webhook-id is not the id of a queued envelope")
                event_type, raw = queued[event_id]
                self.assertEqual(request.body, raw, "the body is not the envelope as it was in Redis")
                self.assertEqual(request.path, f"/hooks/{event_type}")
                self.assertEqual(request.header("content-type"), "application/json")
                self.assertEqual(request.header("boardhook-attempt"), "1")
                self.assertEqual(request.header("boardhook-event-type"), event_type)
                self.assertEqual(request.header("boardhook-delivery"), json.loads(raw)["delivery"])
                self.assertLess(abs(int(request.header("webhook-timestamp")) - request.arrived_wall), 5)
                signatures = request.header("webhook-signature").split(" ")
                self.assertEqual(len(signatures), 2, "one signature per secret of the rotation")
                self.assertTrue(all(re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", s) for s in signatures), signatures)
        self.assertEqual({r.header("webhook-id") for r in requests}, set(queued))

        # npm's standardwebhooks, as the application would check them: each secret of the rotation
        # on its own verifies every delivery; a secret not in the rotation verifies none.
        results = webapp.verify_signatures(requests, [OLD_SECRET, NEW_SECRET, OTHER_SECRET])
        for request, per_secret in zip(requests, results):
            self.assertEqual([ok for ok, _ in per_secret], [True, True, False],
                             f"{request.header('webhook-id')}: {per_secret}")
        # The check can fail: one byte of the body changed, and no secret verifies it.
        tampered = [r.body.replace(b'"event":', b'"event" :', 1) for r in requests]
        self.assertTrue(all(t != r.body for t, r in zip(tampered, requests)))
        results = webapp.verify_signatures(requests, [OLD_SECRET, NEW_SECRET], bodies=tampered)
        self.assertEqual([[ok for ok, _ in per_secret] for per_secret in results], [[False, False]] * len(requests))
        self.assertIn("No matching signature", results[0][0][1])
        self.report(f"{len(requests)} deliveries of {len(types)} types: bodies byte for byte, both secrets verify "
                    f"each (standardwebhooks), another secret and a changed body do not")


class Unsigned(webapp.DeliveryTest):
    def test_without_a_signing_secret_nothing_is_signed_but_the_id_and_timestamp_are_sent(self):
        raw, event_id = numbered_envelope("note_deletion", 1)
        self.push("note_deletion", [raw])
        self.start_worker("--type", f"note_deletion={self.site.url('/hooks/unsigned')}")
        self.until(lambda: self.counter("done:note_deletion") == 1, "the event acknowledged")
        request, = self.app.requests
        self.assertEqual((request.header("webhook-id"), request.header("webhook-signature")), (event_id, None))
        self.assertIsNotNone(request.header("webhook-timestamp"))
        self.assertEqual(request.body, raw)


class Outcomes(webapp.DeliveryTest):
    SECRETS = (NEW_SECRET,)

    def test_2xx_acknowledges_500_and_429_retry_honouring_retry_after_404_is_dead_at_once(self):
        flaky_calls, throttled_calls = [], []

        def flaky(request):   # the first attempt fails with 500, the second succeeds
            flaky_calls.append(request)
            return webapp.status(500, b"upstream database timeout") if len(flaky_calls) == 1 else webapp.ok()

        def throttled(request):   # the first attempt is told to come back in 2 s
            throttled_calls.append(request)
            if len(throttled_calls) == 1:
                return webapp.status(429, b"slow down", {"Retry-After": "2"})
            return webapp.ok()
        self.app.answer("/hooks/accepted", webapp.Answer(202, b""))
        self.app.answer("/hooks/flaky", flaky)
        self.app.answer("/hooks/throttled", throttled)
        self.app.answer("/hooks/gone", webapp.status(404, b"no hook here: /hooks/gone\n" + b"x" * 2000))
        types = ("accepted", "flaky", "throttled", "gone")
        envelopes = {t: numbered_envelope(t, n) for n, t in enumerate(types)}
        for t in types:
            self.push(t, [envelopes[t][0]])
        # The back-off alone would retry within 0.1 s: a 2 s wait can only be Retry-After's.
        worker = self.start_worker(*[a for t in types for a in ("--type", f"{t}={self.site.url('/hooks/' + t)}")],
                                   "--max-attempts", "3", "--backoff", "0.1", "--backoff-max", "0.1",
                                   "--circuit-failures", "100")
        self.until(lambda: all(self.counter(f"done:{t}") == 1 for t in ("accepted", "flaky", "throttled"))
                   and len(self.dead_records("gone")) == 1, "three events done and one dead", timeout=15)
        time.sleep(0.5)   # nothing more may arrive

        by_path = {t: self.app.requests_for(f"/hooks/{t}") for t in types}
        attempts = {t: [r.header("boardhook-attempt") for r in by_path[t]] for t in types}
        self.assertEqual(attempts, {"accepted": ["1"], "flaky": ["1", "2"], "throttled": ["1", "2"], "gone": ["1"]},
                         self.why())
        for t in types:
            self.assertTrue(all(r.body == envelopes[t][0] for r in by_path[t]), t)
        gap_500 = by_path["flaky"][1].arrived - by_path["flaky"][0].arrived
        gap_429 = by_path["throttled"][1].arrived - by_path["throttled"][0].arrived
        self.assertLess(gap_500, 1.5, "a 500 is retried after the back-off")
        self.assertGreaterEqual(gap_429, 2.0, "Retry-After: 2 not honoured")
        self.assertLess(gap_429, 3.5, "retried much later than Retry-After asked")
        self.assertEqual([self.counter(f"retried:{t}") for t in types], [0, 1, 1, 0])

        (raw_record, record), = self.dead_records("gone")
        self.assertEqual(harness.member_bytes(raw_record, "envelope"), envelopes["gone"][0])
        self.assertEqual((record["http_status"], record["attempts"], record["exit_code"], record["timed_out"]),
                         (404, 1, None, False))
        self.assertTrue(record["error"].startswith("HTTP 404: no hook here"), record["error"])
        self.assertTrue(record["stderr_tail"].startswith("no hook here: /hooks/gone\nxxx"), record["stderr_tail"][:80])
        self.assertLess(len(record["stderr_tail"]), 2000, "the whole answer was kept, not its first bytes")
        for t in types:
            self.assertEqual(self.redis("HLEN", self.key("attempts", t)), 0, t)
            self.assertEqual(self.redis("ZCARD", self.key("retry", t)), 0, t)
        log = worker.log.read_text()
        self.assertIn("failed for good (HTTP 404", log)
        self.report(f"202 acknowledged; 500 retried after {gap_500:.2f} s; 429 Retry-After: 2 retried after "
                    f"{gap_429:.2f} s; 404 dead at once with http_status 404 and {len(record['stderr_tail'])} bytes "
                    f"of the answer")

    def test_a_hanging_destination_is_cut_by_timeout_and_other_types_go_on(self):
        self.app.answer("/hooks/stuck", webapp.hang())
        stuck = [numbered_envelope("stuck", n) for n in range(2)]
        steady = [numbered_envelope("steady", n) for n in range(40)]
        self.push("stuck", [raw for raw, _ in stuck])
        worker = self.start_worker("--type", f"stuck={self.site.url('/hooks/stuck')}",
                                   "--type", f"steady={self.site.url('/hooks/steady')}",
                                   "--timeout", "2", "--max-attempts", "1")
        self.until(lambda: self.app.requests_for("/hooks/stuck"), "the stuck destination reached")
        hung_at = self.app.requests_for("/hooks/stuck")[0].arrived
        self.push("steady", [raw for raw, _ in steady])
        self.until(lambda: self.counter("done:steady") == len(steady), "every steady event done", timeout=15)
        steady_done = time.monotonic() - hung_at
        self.assertLess(steady_done, 1.9, "the other type waited for the hanging destination's timeout")
        self.assertEqual(self.dead_records("stuck"), [], "the hanging delivery ended before --timeout")

        self.until(lambda: len(self.dead_records("stuck")) == 2, "both stuck events cut off", timeout=15)
        arrivals = [r.arrived for r in self.app.requests_for("/hooks/stuck")]
        self.assertEqual(len(arrivals), 2)
        self.assertGreater(arrivals[1] - arrivals[0], 1.9, "the next stuck event was taken before the timeout")
        self.assertLess(arrivals[1] - arrivals[0], 3.5, "--timeout did not bound the exchange")
        for raw_record, record in self.dead_records("stuck"):
            self.assertIs(record["timed_out"], True)
            self.assertIsNone(record["http_status"])
            self.assertIn("timed out", record["error"].lower())
        self.assertEqual(sorted(harness.member_bytes(raw, "envelope") for raw, _ in self.dead_records("stuck")),
                         sorted(raw for raw, _ in stuck))
        self.assertEqual(len(self.app.requests_for("/hooks/steady")), len(steady))
        self.report(f"{len(steady)} steady events done {steady_done:.2f} s after the stuck one hung; stuck deliveries "
                    f"cut after {arrivals[1] - arrivals[0]:.2f} s (--timeout 2)")
        self.assertEqual(worker.stop(), 0)

    def test_tls_is_verified_against_the_system_store_without_ca_bundle(self):
        raw, _ = numbered_envelope("untrusted", 1)
        self.push("untrusted", [raw])
        self.start_worker("--type", f"untrusted={self.site.url('/hooks/untrusted')}", "--max-attempts", "1",
                          ca_bundle=False)
        self.until(lambda: len(self.dead_records("untrusted")) == 1, "the event dead")
        (_, record), = self.dead_records("untrusted")
        self.assertIn("certificate", record["error"], record)
        self.assertIsNone(record["http_status"])
        self.assertEqual(self.app.requests_for("/hooks/untrusted"), [], "a request got through an unverified TLS")


if __name__ == "__main__":
    harness.main()
