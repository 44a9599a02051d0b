"""test_order.py -- --order-by ticket under load: each ticket's events complete in the order the
handler queued them, across two worker processes of four consumers each, with failures retried
and one worker SIGKILLed mid-run; and the same run without --order-by does invert some tickets,
so the test can tell the difference.

200 tickets x 5 consecutive status changes are POSTed through nginx and the handler, one
notification per change, a ticket's five one after the other, so they sit adjacent in the queue.
The command (a bash script) sleeps a random 0-20 ms and appends "ticket event-id worker-pid" to a
file in one write; one event in ten fails (exit 1) the first time it runs. The queue's bytes are
kept, and the run without --order-by starts from exactly the same queue.
"""
import json
import os
import signal
import subprocess
import time

import harness

FIXTURE = harness.FIXTURES / "ticket_status_change.json"
TYPE = "ticket_status_change"
TICKETS, PER_TICKET = 200, 5
STATUSES = ["new", "open", "pending", "on-hold", "solved", "closed"]
FAIL_EVERY = 10          # one event in ten fails once
KILL_AFTER = 250         # completions before one worker is SIGKILLed
RUN_BOUND = 45           # seconds a run may take, the 3 s heartbeat reclaim included

JOB = """#!/bin/bash
# One job of test_order.py: fail once if a marker says so, else sleep 0-20 ms and record the run.
# $PPID is the worker (the command is exec'ed by its shell); a record is one write (O_APPEND).
id=$BOARDHOOK_EVENT_ID
if [ -e "{dir}/fail/$id" ]; then
  rm -f "{dir}/fail/$id"
  echo "$BOARDHOOK_TICKET_ID $id $PPID" >> "{dir}/failed.log"
  exit 1
fi
printf -v pause '0.%03d' $((RANDOM % 21))
sleep "$pause"
echo "$BOARDHOOK_TICKET_ID $id $PPID" >> "{dir}/done.log"
"""


def notification(fixture, ticket, seq):
    """The fixture as ticket `ticket`'s status change number `seq` (its item carries Seq)."""
    body = json.loads(json.dumps(fixture))
    body["TicketId"] = ticket
    event = body["Events"][0]
    event["Seq"] = seq
    event["PreviousTicketStatus"] = STATUSES[seq]
    event["Ticket"]["Id"] = ticket
    event["Ticket"]["Status"] = STATUSES[seq + 1]
    return json.dumps(body).encode()


class OrderUnderLoad(harness.StackTest):
    stack_options = {"prefix": "bho"}

    def key(self, *parts):
        return ":".join((self.stack.prefix,) + parts)

    def leftovers(self):
        """Every key that would mean an event still waits somewhere (or a hold never released)."""
        found = {}
        for pattern in ("queue:*", "processing:*", "retry:*", "held:*", "held-tickets:*", "ticket:*", "dead:*"):
            for k in self.stack.keys(self.key(pattern)):
                found[k] = self.stack.redis_cmd("TYPE", k)
        return found

    def post_all(self):
        """POST every ticket's five changes in order on one keep-alive connection; returns the
        queue's bytes, oldest first."""
        fixture = json.loads(FIXTURE.read_bytes())
        conn = harness.LoopbackHTTPS(self.stack.https_port, self.stack.tls_context(), nodelay=True)
        try:
            for n in range(TICKETS):
                for seq in range(PER_TICKET):
                    conn.request("POST", "/webhooks", body=notification(fixture, 5100000 + n, seq),
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    body = r.read()
                    self.assertEqual(r.status, 200, (body, self.why()))
        finally:
            conn.close()
        queued = self.stack.redis_cmd("LRANGE", self.stack.queue_key(TYPE), 0, -1)
        return list(reversed(queued))   # LPUSH: the oldest is at the right

    def run_workers(self, name, queued, ordered, kill):
        """Fill the queue with `queued` (oldest first), run two workers x 4 consumers until every
        event has run; returns {ticket: [seq of each successful run, in completion order]}, the
        number of failed runs, the killed worker's pid and the seconds it took."""
        self.stack.redis_cmd("FLUSHALL")
        folder = self.stack.dir / name
        (folder / "fail").mkdir(parents=True)
        seq_of, tickets = {}, {}
        for i, raw in enumerate(queued):
            envelope = json.loads(raw)
            seq_of[envelope["id"]] = envelope["event"]["Seq"]
            tickets.setdefault(str(envelope["ticket_id"]), []).append(envelope["event"]["Seq"])
            if i % FAIL_EVERY == FAIL_EVERY // 2:
                (folder / "fail" / envelope["id"]).touch()
        self.assertEqual(len(seq_of), TICKETS * PER_TICKET, "two events with one id")
        failing = len(os.listdir(folder / "fail"))
        # The queue as the handler left it: the ticket's events adjacent, in order.
        for ticket, seqs in tickets.items():
            self.assertEqual(seqs, list(range(PER_TICKET)), f"ticket {ticket} not queued in order")
        for i in range(0, len(queued), 500):
            self.stack.redis_cmd("LPUSH", self.stack.queue_key(TYPE), *queued[i:i + 500])

        job = folder / "job.sh"
        job.write_text(JOB.format(dir=folder))
        args = ["--type", f"{TYPE}=exec /bin/bash {job}", "--concurrency", "4", "--heartbeat-timeout", "3",
                "--backoff", "0.2", "--backoff-max", "0.5", "--max-attempts", "5", "--timeout", "10"]
        if ordered:
            args += ["--order-by", f"{TYPE}=ticket"]
        env = self.stack.handler_environment()
        started = time.monotonic()
        workers = []
        for w in range(2):
            worker = harness.Process(f"{name}-worker-{w}", [harness.WORKER, *args], folder / f"worker-{w}.log", env)
            self.addCleanup(worker.stop)
            workers.append(worker)
        done = folder / "done.log"

        def completions():
            return len(done.read_bytes().splitlines()) if done.exists() else 0
        killed = None
        deadline = started + RUN_BOUND
        while time.monotonic() < deadline:
            if kill and killed is None and completions() >= KILL_AFTER:
                killed = workers[0].pid
                workers[0].signal(signal.SIGKILL)
                workers[0].popen.wait()
            if completions() >= len(queued) and not self.leftovers():
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        for w, worker in enumerate(workers):
            if worker.pid != killed:
                self.assertEqual(worker.stop(), 0, (folder / f"worker-{w}.log").read_text()[-3000:])
        self.assertFalse(self.leftovers(), f"{name}: left in Redis after {elapsed:.1f} s")
        self.assertLess(elapsed, RUN_BOUND, f"{name}: not done in {RUN_BOUND} s")
        self.assertEqual(os.listdir(folder / "fail"), [], f"{name}: an event meant to fail once never ran")

        runs, pids = {}, set()
        for line in done.read_text().splitlines():
            ticket, event_id, pid = line.split()
            runs.setdefault(ticket, []).append(seq_of[event_id])
            pids.add(int(pid))
        failed = len((folder / "failed.log").read_text().splitlines())
        self.assertEqual(failed, failing, f"{name}: failed runs")
        self.assertEqual(set(runs), set(tickets), f"{name}: a ticket never ran")
        # Both workers did work. A command of the SIGKILLed worker that finished after it died
        # was the child of init by then.
        self.assertEqual(pids - ({1} if killed else set()), {w.pid for w in workers}, f"{name}: records from other processes")
        return runs, failed, killed, elapsed

    @staticmethod
    def completion_order(seqs):
        """A ticket's completion order, a run repeated back to back counted once: the SIGKILLed
        worker's commands finish after it died (they are not its children's group), and their
        events run again when they are reclaimed, right after."""
        order = []
        for seq in seqs:
            if not order or order[-1] != seq:
                order.append(seq)
        return order

    def test_each_tickets_events_complete_in_queue_order_and_not_without_order_by(self):
        posting = time.monotonic()
        queued = self.post_all()
        self.assertEqual(len(queued), TICKETS * PER_TICKET)
        print(f"\n{len(queued)} POSTs in {time.monotonic() - posting:.1f} s", flush=True)

        runs, failed, killed, elapsed = self.run_workers("ordered", queued, ordered=True, kill=True)
        out_of_order = {t: s for t, s in runs.items() if self.completion_order(s) != list(range(PER_TICKET))}
        repeated = sum(len(s) - PER_TICKET for s in runs.values())
        print(f"--order-by ticket: {len(out_of_order)} of {TICKETS} tickets out of order, {failed} failed once, "
              f"{repeated} runs repeated after the SIGKILL of worker {killed}, {elapsed:.1f} s", flush=True)
        self.assertIsNotNone(killed, "the run ended before the kill")
        self.assertEqual(out_of_order, {}, "tickets whose events completed out of queue order")
        # Only what the killed worker was running may have run twice: four consumers.
        self.assertLessEqual(repeated, 4)

        runs, failed, _, elapsed = self.run_workers("unordered", queued, ordered=False, kill=True)
        inverted = [t for t, s in runs.items() if sorted(set(s)) == list(range(PER_TICKET))
                    and self.completion_order(s) != list(range(PER_TICKET))]
        print(f"without --order-by: {len(inverted)} of {TICKETS} tickets out of order, {failed} failed once, "
              f"{elapsed:.1f} s", flush=True)
        self.assertGreater(len(inverted), 0, "without --order-by nothing was inverted: the test cannot tell")

    def test_an_event_without_a_ticket_naming_a_ticket_id_in_its_content_holds_back_nothing(self):
        """The ticket is the envelope's own "ticket_id" (null here), not the first text of that
        name: read from the event's content, the ticketless event took ticket 5200000's hold, and
        the worker (which reads the envelope's null) never released it; the ticket's events then
        waited for the hold to expire, over a minute."""
        self.stack.redis_cmd("FLUSHALL")
        ticket = 5200000
        queued = [harness.make_envelope(TYPE, b'{"Note":"merged","Custom":{"ticket_id":%d}}' % ticket)[0]]
        queued += [harness.make_envelope(TYPE, b'{"Seq":%d}' % seq, ticket_id=ticket)[0] for seq in range(3)]
        self.stack.redis_cmd("LPUSH", self.stack.queue_key(TYPE), *queued)
        record = self.stack.dir / "ticketless.log"
        worker = harness.Process("ticketless-worker", [
            harness.WORKER, "--type", f'{TYPE}=echo "$BOARDHOOK_EVENT_ID" >> {record}', "--concurrency", "2",
            "--order-by", f"{TYPE}=ticket", "--heartbeat-timeout", "3", "--backoff-max", "1", "--timeout", "5"],
            self.stack.dir / "ticketless-worker.log", self.stack.handler_environment())
        self.addCleanup(worker.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not record.exists() or len(record.read_text().split()) < 4):
            time.sleep(0.05)
        ran = record.read_text().split() if record.exists() else []
        self.assertEqual(sorted(ran), sorted(json.loads(e)["id"] for e in queued),
                         f"not every event ran within 10 s; holds: {self.stack.keys(self.key('ticket:*'))}")
        ticket_ids = [json.loads(e)["id"] for e in queued[1:]]
        self.assertEqual([i for i in ran if i in ticket_ids], ticket_ids, "the ticket's events out of order")
        self.assertEqual(worker.stop(), 0)
        self.assertFalse(self.leftovers())

    def test_a_failed_event_keeps_its_place_and_stats_shows_its_ticket_held(self):
        """Ticket A's first event fails once: while it waits 3 s for its retry, A's two later
        events wait (held, as `stats` shows), ticket B's event runs; then A's run 0, 1, 2."""
        self.stack.redis_cmd("FLUSHALL")
        a, b = 5300000, 5300001
        queued = [harness.make_envelope(TYPE, b'{"Seq":%d}' % seq, ticket_id=a)[0] for seq in range(3)]
        queued.append(harness.make_envelope(TYPE, b'{"Seq":0}', ticket_id=b)[0])
        ids = [json.loads(e)["id"] for e in queued]
        self.stack.redis_cmd("SADD", self.key("event-types"), TYPE)
        self.stack.redis_cmd("LPUSH", self.stack.queue_key(TYPE), *queued)
        folder = self.stack.dir / "kept-place"
        (folder / "fail").mkdir(parents=True)
        (folder / "fail" / ids[0]).touch()
        job = folder / "job.sh"
        job.write_text(JOB.format(dir=folder))
        worker = harness.Process("kept-place-worker", [
            harness.WORKER, "--type", f"{TYPE}=exec /bin/bash {job}", "--concurrency", "3", "--backoff", "3",
            "--backoff-max", "3", "--order-by", f"{TYPE}=ticket"], folder / "worker.log", self.stack.handler_environment())
        self.addCleanup(worker.stop)
        done = folder / "done.log"

        def ran():
            return [line.split()[1] for line in done.read_text().splitlines()] if done.exists() else []
        harness.wait_for(lambda: ran() == [ids[3]] and (folder / "failed.log").exists(), "B's event run, A's failed",
                         worker, timeout=5)
        stats = subprocess.run([harness.QUEUES, "stats", "--json"], env=self.stack.handler_environment(),
                               capture_output=True, timeout=30)
        self.assertEqual(stats.returncode, 0, stats)
        row = next(t for t in json.loads(stats.stdout)["types"] if t["type"] == TYPE)
        self.assertEqual((row["held_tickets"], row["held_events"], row["retry"], row["queued"]), (1, 2, 1, 0), row)
        time.sleep(1)
        self.assertEqual(ran(), [ids[3]], "A's later events ran while its first waited for its retry")
        harness.wait_for(lambda: len(ran()) == 4, "every event run", worker, timeout=10)
        self.assertEqual(ran(), [ids[3], ids[0], ids[1], ids[2]])
        self.assertEqual(worker.stop(), 0)
        self.assertFalse(self.leftovers())


if __name__ == "__main__":
    harness.main()
