"""test_bulk_requeue.py -- boardhook-queues requeue TYPE with filters, after real deliveries failed
for different reasons: --dry-run changes nothing and prints the count and a sample; --yes moves
exactly the dead letters selected by --http-status, --error, --since/--until and --exit-code back
to the consuming end of their queue (the others stay, byte for byte), and workers deliver them again.
Run: /usr/bin/python3 test_bulk_requeue.py --handler H --worker W --queues Q  (KEEP=1 keeps the folder).
"""
import json
import time

import harness
import webapp
from webapp import numbered_envelope

# The application's answer for event n (by its Seq): four causes of a dead letter.
CAUSES = [(404, b"no such hook"), (410, b"this endpoint is gone"), (500, b"database is down"),
          (422, b"validation failed: missing field Status")]


class BulkRequeue(webapp.DeliveryTest):
    HTTP, COMMAND = "bulk_http", "bulk_cmd"
    PER_BATCH = 12

    def answer_by_seq(self, request):
        code, text = CAUSES[request.json()["event"]["Seq"] % len(CAUSES)]
        return webapp.status(code, text)

    def dead_ids(self, event_type):
        return [json.loads(harness.member_bytes(raw, "envelope"))["id"] for raw, _ in self.dead_records(event_type)]

    def queued(self, event_type):
        return self.redis("LRANGE", self.stack.queue_key(event_type), 0, -1)

    def requeue(self, *args, code=0):
        r = self.queues("requeue", *args)
        self.assertEqual(r.returncode, code, f"requeue {args}: {r.stdout}{r.stderr}")
        return r.stdout

    def test_dry_run_changes_nothing_and_yes_requeues_exactly_the_selected_dead_letters(self):
        self.app.answer(f"/hooks/{self.HTTP}", self.answer_by_seq)
        command = 'if [ $((BOARDHOOK_TICKET_ID % 2)) = 0 ]; then echo "bad input" >&2; exit 3; else exit 4; fi'
        worker = self.start_worker("--type", f"{self.HTTP}={self.site.url('/hooks/' + self.HTTP)}",
                                   "--type", f"{self.COMMAND}={command}", "--max-attempts", "1")
        events = [numbered_envelope(self.HTTP, n) for n in range(2 * self.PER_BATCH)]
        commands = [numbered_envelope(self.COMMAND, n) for n in range(8)]
        by_id = {event_id: raw for raw, event_id in events + commands}

        # Two batches of failures, a second apart: --since/--until tell them apart.
        self.push(self.HTTP, [raw for raw, _ in events[:self.PER_BATCH]])
        self.push(self.COMMAND, [raw for raw, _ in commands])
        self.until(lambda: len(self.dead_records(self.HTTP)) == self.PER_BATCH
                   and len(self.dead_records(self.COMMAND)) == len(commands), "the first batch dead")
        time.sleep(0.3)
        boundary = harness.rfc3339_ms(time.time())
        time.sleep(0.3)
        self.push(self.HTTP, [raw for raw, _ in events[self.PER_BATCH:]])
        self.until(lambda: len(self.dead_records(self.HTTP)) == 2 * self.PER_BATCH, "the second batch dead")
        self.assertEqual(worker.stop(), 0)
        first_batch = {event_id for _, event_id in events[:self.PER_BATCH]}

        def ids_where(status=None, batch=None):
            return {event_id for n, (_, event_id) in enumerate(events)
                    if (status is None or CAUSES[n % len(CAUSES)][0] == status)
                    and (batch is None or (event_id in first_batch) == (batch == 1))}
        records = {json.loads(harness.member_bytes(raw, "envelope"))["id"]: record
                   for raw, record in self.dead_records(self.HTTP)}
        for event_id, record in records.items():
            n = json.loads(by_id[event_id])["event"]["Seq"]
            self.assertEqual(record["http_status"], CAUSES[n % len(CAUSES)][0])
            self.assertIn(CAUSES[n % len(CAUSES)][1].decode(), record["stderr_tail"])

        # Neither --dry-run nor --yes: refused (exit 4), nothing moved.
        snapshot = self.redis("LRANGE", self.key("dead", self.HTTP), 0, -1)
        self.requeue(self.HTTP, "--http-status", "404", code=4)

        # --dry-run: the count and a sample, and nothing changes.
        out = self.requeue(self.HTTP, "--http-status", "404", "--dry-run")
        self.assertIn(f"would requeue {len(ids_where(404))} dead letter(s) of {self.HTTP}", out)
        sample_lines = [line for line in out.splitlines() if line.startswith("  ")]
        self.assertEqual(len(sample_lines), min(5, len(ids_where(404))), out)
        self.assertTrue(all(line.split()[1] in ids_where(404) and "HTTP 404" in line for line in sample_lines), out)
        dry = json.loads(self.queues("--json", "requeue", self.HTTP, "--http-status", "404", "--dry-run").stdout)
        self.assertEqual(dry["would_requeue"], len(ids_where(404)))
        self.assertTrue(all(record["http_status"] == 404 for record in dry["sample"]), dry)
        self.assertEqual(self.redis("LRANGE", self.key("dead", self.HTTP), 0, -1), snapshot, "--dry-run changed the dead letters")
        self.assertEqual(self.queued(self.HTTP), [], "--dry-run queued something")

        # --yes, one filter at a time: exactly the selected ones move, the rest stay byte for byte.
        steps = [(("--http-status", "404"), ids_where(404)),
                 (("--error", "database is down"), ids_where(500)),
                 (("--http-status", "410", "--since", boundary), ids_where(410, batch=2)),
                 (("--since", boundary), ids_where(422, batch=2)),
                 (("--until", boundary), ids_where(410, batch=1) | ids_where(422, batch=1))]
        moved = set()
        for filters, expected in steps:
            with self.subTest(filters=filters):
                before = self.redis("LRANGE", self.key("dead", self.HTTP), 0, -1)
                dry = json.loads(self.queues("--json", "requeue", self.HTTP, *filters, "--dry-run").stdout)
                self.assertEqual(dry["would_requeue"], len(expected))
                out = self.requeue(self.HTTP, *filters, "--yes")
                self.assertIn(f"requeued {len(expected)} dead letter(s)", out)
                moved |= expected
                self.assertEqual(sorted(self.queued(self.HTTP)), sorted(by_id[i] for i in moved),
                                 "the queue does not hold exactly the requeued envelopes")
                left = [raw for raw in before
                        if json.loads(harness.member_bytes(raw, "envelope"))["id"] not in expected]
                self.assertEqual(self.redis("LRANGE", self.key("dead", self.HTTP), 0, -1), left)
        self.assertEqual(self.dead_records(self.HTTP), [])
        self.requeue(self.HTTP, "--http-status", "404", "--yes", code=1)   # nothing left to match

        # Commands: by exit status.
        exit_3 = {event_id for raw, event_id in commands if json.loads(raw)["ticket_id"] % 2 == 0}
        self.assertIn(f"would requeue {len(exit_3)} ", self.requeue(self.COMMAND, "--exit-code", "3", "--dry-run"))
        self.requeue(self.COMMAND, "--exit-code", "3", "--yes")
        self.assertEqual(sorted(self.queued(self.COMMAND)), sorted(by_id[i] for i in exit_3))
        self.assertEqual(set(self.dead_ids(self.COMMAND)), {i for _, i in commands} - exit_3)

        # Requeued events are work again: a fixed application gets each once, as attempt 1.
        self.app.answer(f"/hooks/{self.HTTP}", webapp.ok())
        answered_before = len(self.app.requests_for(f"/hooks/{self.HTTP}"))
        self.start_worker("--type", f"{self.HTTP}={self.site.url('/hooks/' + self.HTTP)}", "--type", f"{self.COMMAND}=true")
        self.until(lambda: self.counter(f"done:{self.HTTP}") == len(events)
                   and self.counter(f"done:{self.COMMAND}") == len(exit_3), "the requeued events delivered")
        again = self.app.requests_for(f"/hooks/{self.HTTP}")[answered_before:]
        self.assertEqual(sorted(r.header("webhook-id") for r in again), sorted(i for _, i in events))
        self.assertEqual({r.header("boardhook-attempt") for r in again}, {"1"})
        self.report(f"{len(events)} HTTP dead letters (404, 410, 500, 422 in two batches) and {len(commands)} of a "
                    f"command (exit 3, 4): requeued by status, error text, time range and exit code, "
                    f"{len(steps)} steps; all delivered again")


if __name__ == "__main__":
    harness.main()
