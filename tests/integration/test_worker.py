"""test_worker.py -- boardhook-worker against a real redis-server: every event run exactly once when
nothing fails, a SIGKILLed worker's job run again by a peer, retries through the delay set and dead
letters with the error, SIGTERM draining the running jobs, timeouts.

Each test starts its own redis-server (redis/boardhook.conf) on a free loopback port in a temporary
folder, fills the queues with envelopes built the way the handler builds them (README "Redis data
model"), runs boardhook-worker processes whose commands write what they saw to files in that folder,
and stops every process by PID. KEEP=1 keeps the folder (Redis data, worker logs, command output).
Run: /usr/bin/python3 test_worker.py --worker PATH --queues PATH (or BOARDHOOK_WORKER / BOARDHOOK_QUEUES).
"""
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import harness

PREFIX = "bhw"                 # a non-default prefix, so every key name must honour it
HOST = socket.gethostname()    # workers name themselves <host>:<pid>:<nonce of this start>
DEAD_RECORD_FIELDS = {"failed_at", "worker", "attempts", "exit_code", "signal", "timed_out", "error",
                      "http_status", "stderr_tail", "envelope"}


def key(*parts):
    return ":".join((PREFIX,) + parts)


def numbered_envelope(event_type, n):
    """A small distinct event: envelope bytes and id."""
    item = b'{"Seq": %d, "Text": "event \\u00e6 %d"}' % (n, n)
    return harness.make_envelope(event_type, item, ticket_id=100000 + n, delivery="%032x" % n)


class RedisServer:
    """A redis-server with the repository's configuration in its own temporary folder."""

    def __init__(self, name):
        self.name, self.dir, self.process = name, None, None

    def start(self, attempts=3):
        for attempt in range(attempts):
            self.dir = Path(tempfile.mkdtemp(prefix=f"boardhook-{self.name}-"))
            self.port = harness.free_port()
            (self.dir / "redis").mkdir()
            try:
                self.process = harness.Process("redis-server", [
                    harness.find_program("redis-server"), str(harness.REPO / "redis/boardhook.conf"),
                    "--port", str(self.port), "--dir", str(self.dir / "redis")], self.dir / "redis.log")
                harness.wait_for(lambda: self.cmd("PING") == "PONG", "redis PING", self.process)
                return self
            except harness.StartError:
                self.stop()
                if attempt == attempts - 1:
                    raise

    def stop(self):
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.dir and self.dir.exists():
            if harness.KEEP:
                print(f"\nKEEP=1: {self.name} left in {self.dir}", file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def cmd(self, *args):
        return harness.redis_command(self.port, *args)


class WorkerTest(unittest.TestCase):
    """One redis-server per test; workers and their command output in its folder."""

    def setUp(self):
        if not harness.WORKER or not os.access(harness.WORKER, os.X_OK):
            self.fail(f"worker binary {harness.WORKER!r} missing: pass --worker or BOARDHOOK_WORKER")
        self.redis = RedisServer(self.id().split(".")[-1])
        self.addCleanup(self.redis.stop)
        self.redis.start()
        self.dir = self.redis.dir
        self.workers = []

    # ---- helpers --------------------------------------------------------------------------
    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.redis.port}/0", BOARDHOOK_QUEUE_PREFIX=PREFIX,
                   BOARDHOOK_LOG_LEVEL="debug")
        return env

    def start_worker(self, *args):
        """Start boardhook-worker with `args`; returns once it has registered in <prefix>:workers."""
        name = f"worker-{len(self.workers) + 1}"
        worker = harness.Process(name, [harness.WORKER, *args], self.dir / f"{name}.log", self.environment())
        self.workers.append(worker)
        self.addCleanup(worker.stop)
        harness.wait_for(lambda: self.redis.cmd("HEXISTS", key("workers"), self.worker_id(worker)) == 1,
                         f"{name} registered", worker)
        return worker

    def watch_job_group(self, pgid):
        """Returns a function that SIGKILLs the process group of a command (its own, as the worker
        starts it), at most once; also called at cleanup, before the workers are stopped."""
        pending = [pgid]

        def kill():
            while pending:
                try:
                    os.killpg(pending.pop(), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.addCleanup(kill)
        return kill

    def worker_id(self, worker):
        """The id `worker` registered under (its nonce is only known from the registry)."""
        if getattr(worker, "registered_id", None):
            return worker.registered_id
        for field in self.redis.cmd("HKEYS", key("workers")):
            if field.decode().startswith(f"{HOST}:{worker.pid}:"):
                worker.registered_id = field.decode()
                return worker.registered_id
        return f"{HOST}:{worker.pid}:?"

    def stop_worker(self, worker, timeout=15):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        return worker.stop(timeout=timeout)

    def queues(self, *args):
        """Run boardhook-queues against this Redis; returns the CompletedProcess (bytes)."""
        if not harness.QUEUES or not os.access(harness.QUEUES, os.X_OK):
            self.fail(f"queues binary {harness.QUEUES!r} missing: pass --queues or BOARDHOOK_QUEUES")
        return subprocess.run([harness.QUEUES, *args], env=self.environment(), capture_output=True, timeout=30)

    def push(self, event_type, envelopes):
        """LPUSH like the handler: the first of `envelopes` is the oldest."""
        for i in range(0, len(envelopes), 200):
            self.redis.cmd("LPUSH", key("queue", harness.type_key_part(event_type)), *envelopes[i:i + 200])
        self.redis.cmd("SADD", key("event-types"), event_type)

    def counter(self, field):
        return int(self.redis.cmd("HGET", key("counters"), field) or 0)

    def lines(self, name):
        path = self.dir / name
        return path.read_text().splitlines() if path.exists() else []

    def processing_keys(self):
        return sorted(k.decode() for k in self.redis.cmd("KEYS", key("processing", "*")))

    def why(self, extra=""):
        """Failure detail built only when an assertion fails: the tails of the worker logs."""
        test = self

        class Why:
            def __str__(self):
                parts = [extra] if extra else []
                for worker in test.workers:
                    parts.append(f"--- {worker.name} pid {worker.pid} (last lines) ---\n{harness.tail(worker.log, 25)}")
                return "\n".join(parts)
        return Why()

    def until(self, condition, what, timeout=20, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(interval)
        self.fail(f"{what}: not after {timeout} s\n{self.why()}")

    def assertNoWorkLeft(self, *event_types):
        """Queues, processing lists, retry sets and attempt counts of these types are all empty."""
        for event_type in event_types:
            self.assertEqual(self.redis.cmd("LLEN", key("queue", event_type)), 0, f"queue {event_type} not empty")
            self.assertEqual(self.redis.cmd("ZCARD", key("retry", event_type)), 0, f"retry set {event_type} not empty")
            self.assertEqual(self.redis.cmd("HLEN", key("attempts", event_type)), 0,
                             f"attempts of {event_type} left behind")
        self.assertEqual(self.processing_keys(), [], "processing lists not empty")


class ExactlyOnce(WorkerTest):
    TYPES = ("ticket_status_change", "note_deletion")
    PER_TYPE = 1000
    WORKERS = 4
    CONCURRENCY = 2

    def test_2000_events_through_4_workers_each_run_exactly_once(self):
        out = self.dir / "out"
        command = f'echo "$BOARDHOOK_EVENT_ID $BOARDHOOK_EVENT_TYPE $BOARDHOOK_ATTEMPT $PPID" >> {out}'
        workers = [self.start_worker(*[a for t in self.TYPES for a in ("--type", f"{t}={command}")],
                                     "--concurrency", str(self.CONCURRENCY), "--heartbeat-timeout", "5")
                   for _ in range(self.WORKERS)]
        expected = {}
        batches = {t: [numbered_envelope(t, n) for n in range(self.PER_TYPE)] for t in self.TYPES}
        started = time.monotonic()
        # Pushed in slices while the workers run, the two types interleaved.
        for i in range(0, self.PER_TYPE, 100):
            for t in self.TYPES:
                chunk = batches[t][i:i + 100]
                self.push(t, [raw for raw, _ in chunk])
                expected.update({event_id: t for _, event_id in chunk})
        self.assertEqual(len(expected), self.PER_TYPE * len(self.TYPES), "test bug: ids not distinct")

        total = lambda: sum(self.counter(f"done:{t}") for t in self.TYPES)
        self.until(lambda: total() >= len(expected), f"{len(expected)} events done", timeout=90, interval=0.2)
        elapsed = time.monotonic() - started
        time.sleep(0.3)   # anything run twice would show up in the counters meanwhile

        runs = [line.split() for line in self.lines("out")]
        seen = collections.Counter(r[0] for r in runs)
        twice = [i for i, n in seen.items() if n > 1]
        self.assertEqual(twice, [], f"{len(twice)} events run more than once")
        self.assertEqual(set(seen) - set(expected), set(), "ids that were never queued")
        missing = set(expected) - set(seen)
        self.assertEqual(missing, set(), f"{len(missing)} events never run")
        self.assertEqual(len(runs), len(expected))
        self.assertEqual([r for r in runs if expected[r[0]] != r[1]], [], "BOARDHOOK_EVENT_TYPE wrong")
        self.assertEqual([r for r in runs if r[2] != "1"], [], "an attempt other than the first")
        for t in self.TYPES:
            self.assertEqual(self.counter(f"done:{t}"), self.PER_TYPE, t)
            self.assertEqual(self.counter(f"retried:{t}"), 0, t)
            self.assertEqual(self.redis.cmd("LLEN", key("dead", t)), 0, t)
        self.assertNoWorkLeft(*self.TYPES)
        by_worker = collections.Counter(r[3] for r in runs)
        self.assertEqual(set(by_worker), {str(w.pid) for w in workers}, "not every worker took part")
        print(f"\n{len(runs)} events in {elapsed:.1f} s; per worker: {sorted(by_worker.values())}", file=sys.stderr)

        for worker in workers:   # all at once: each takes up to a second (its BLMOVE) to notice
            worker.signal(signal.SIGTERM)
        for worker in workers:
            self.assertEqual(self.stop_worker(worker), 0, self.why(f"{worker.name} did not exit 0 on SIGTERM"))
        self.assertEqual(self.redis.cmd("HLEN", key("workers")), 0, "stopped workers still registered")
        self.assertEqual(self.redis.cmd("KEYS", key("heartbeat", "*")), [], "heartbeats left behind")


class CommandInterface(WorkerTest):
    def test_the_command_gets_the_envelope_on_stdin_and_the_event_in_its_environment(self):
        out = self.dir / "jobs"
        out.mkdir()
        command = (f'cat > {out}/"$BOARDHOOK_EVENT_ID".stdin && '
                   f'env | grep ^BOARDHOOK_ > {out}/"$BOARDHOOK_EVENT_ID".env')
        worker = self.start_worker("--type", f"ticket_status_change={command}", "--type", f"note.v2={command}")
        with_ticket, with_ticket_id = harness.make_envelope("ticket_status_change", b'{"A": [1, 2, {"b": "\\"c\\""}]}',
                                                    ticket_id=9051377, delivery="4f6c" * 8)
        without_ticket, without_ticket_id = harness.make_envelope("note.v2", b'{"NoteId": 7}', ticket_id=None,
                                                          delivery="ab" * 16)
        # A large envelope: more than a pipe buffer, so stdin is written in several pieces.
        big, big_id = harness.make_envelope("ticket_status_change", b'{"Blob": "%s"}' % (b"x" * 300000), ticket_id=5)
        self.push("ticket_status_change", [with_ticket, big])
        self.push("note.v2", [without_ticket])
        self.until(lambda: self.counter("done:ticket_status_change") == 2 and self.counter("done:note.v2") == 1,
                   "3 events done")

        for raw, event_id, event_type, ticket, delivery in (
                (with_ticket, with_ticket_id, "ticket_status_change", "9051377", "4f6c" * 8),
                (big, big_id, "ticket_status_change", "5", "0" * 32),
                (without_ticket, without_ticket_id, "note.v2", "", "ab" * 16)):
            with self.subTest(event_type=event_type, ticket=ticket):
                self.assertEqual((out / f"{event_id}.stdin").read_bytes(), raw, "stdin is not the envelope")
                env = dict(line.split("=", 1) for line in (out / f"{event_id}.env").read_text().splitlines())
                names = ("BOARDHOOK_EVENT_TYPE", "BOARDHOOK_EVENT_ID", "BOARDHOOK_ATTEMPT", "BOARDHOOK_TICKET_ID",
                         "BOARDHOOK_DELIVERY")
                self.assertEqual({k: env.get(k) for k in names},
                                 {"BOARDHOOK_EVENT_TYPE": event_type, "BOARDHOOK_EVENT_ID": event_id,
                                  "BOARDHOOK_ATTEMPT": "1", "BOARDHOOK_TICKET_ID": ticket,
                                  "BOARDHOOK_DELIVERY": delivery})
        self.assertNoWorkLeft("ticket_status_change", "note.v2")
        self.assertEqual(self.stop_worker(worker), 0)

    def test_any_event_type_is_served_written_as_it_is_or_with_its_key_escapes(self):
        out = self.dir / "types"
        out.mkdir()
        command = f'printf "%s\\n" "$BOARDHOOK_EVENT_TYPE" >> {out}/seen'
        types = ("Ticket cr\u00e9\u00e9", "a=b", "50% off")
        # As it is on the command line; with %XX escapes where '=' or '%' would be ambiguous.
        worker = self.start_worker("--type", f"Ticket cr\u00e9\u00e9={command}", "--type", f"a%3Db={command}",
                                   "--type", f"50%25%20off={command}")
        for n, event_type in enumerate(types):
            envelope, _ = harness.make_envelope(event_type, b'{"N": %d}' % n, ticket_id=n)
            self.push(event_type, [envelope])
        self.until(lambda: len(self.lines("types/seen")) == 3, "3 events of odd types done")
        self.assertEqual(sorted(self.lines("types/seen")), sorted(types))
        for event_type in types:
            self.assertEqual(self.counter("done:" + harness.type_key_part(event_type)), 1, event_type)
        self.assertNoWorkLeft(*(harness.type_key_part(t) for t in types))
        self.assertEqual(self.stop_worker(worker), 0)
        r = self.queues("--json", "stats")
        self.assertEqual(r.returncode, 0, r)
        bad = subprocess.run([harness.WORKER, "--type", "50%=true"], env=self.environment(), capture_output=True,
                             timeout=30)
        self.assertEqual(bad.returncode, 2, bad)
        self.assertIn(b"%25", bad.stderr, "the refusal does not say how to write a '%'")


class KilledWorker(WorkerTest):
    HEARTBEAT_TIMEOUT = 2.0

    def test_a_job_of_a_sigkilled_worker_is_run_again_by_a_survivor(self):
        log = self.dir / "log"
        # The held event sleeps on its first attempt only; the rerun and the others finish at once.
        command = (f'echo "start $BOARDHOOK_EVENT_ID $BOARDHOOK_ATTEMPT $PPID $$" >> {log}; '
                   f'if [ "$BOARDHOOK_ATTEMPT" = 1 ] && [ -e {self.dir}/hold-"$BOARDHOOK_EVENT_ID" ]; '
                   'then sleep 60; fi; '
                   f'echo "done $BOARDHOOK_EVENT_ID $BOARDHOOK_ATTEMPT $PPID" >> {log}')
        options = ("--type", f"ticket_status_change={command}", "--heartbeat-timeout", str(self.HEARTBEAT_TIMEOUT))
        doomed = self.start_worker(*options, "--concurrency", "1")
        held, held_id = numbered_envelope("ticket_status_change", 0)
        (self.dir / f"hold-{held_id}").touch()
        self.push("ticket_status_change", [held])
        self.until(lambda: any(line.startswith(f"start {held_id} 1 ") for line in self.lines("log")),
                   "held job started")
        job_group = int(next(line for line in self.lines("log") if line.startswith(f"start {held_id} 1 ")).split()[4])
        kill_job = self.watch_job_group(job_group)

        # Which worker holds it: the processing lists say so.
        holders = [k for k in self.processing_keys() if self.redis.cmd("LRANGE", k, 0, -1) == [held]]
        self.assertEqual(holders, [key("processing", self.worker_id(doomed), "0")], self.processing_keys())

        survivor = self.start_worker(*options, "--concurrency", "2")
        others = [numbered_envelope("ticket_status_change", n) for n in range(1, 6)]
        self.push("ticket_status_change", [raw for raw, _ in others])
        self.until(lambda: self.counter("done:ticket_status_change") == 5, "the 5 other events done")
        self.assertEqual(self.redis.cmd("LRANGE", holders[0], 0, -1), [held],
                         "the held job moved while its worker lived")

        doomed.popen.kill()
        killed_at = time.monotonic()
        doomed.popen.wait()
        # The machine is gone, its job with it: end the orphaned command too.
        kill_job()

        rerun_prefix = f"start {held_id} 2 {survivor.pid} "
        self.until(lambda: any(line.startswith(rerun_prefix) for line in self.lines("log")),
                   "held job started again by the survivor", timeout=self.HEARTBEAT_TIMEOUT + 10, interval=0.02)
        picked_up_after = time.monotonic() - killed_at
        # Not before the heartbeat could have expired (it was at most a third of the timeout old),
        # and within the timeout plus one beat of the survivor and some slack.
        self.assertGreater(picked_up_after, self.HEARTBEAT_TIMEOUT * 2 / 3 - 0.2)
        self.assertLess(picked_up_after, self.HEARTBEAT_TIMEOUT * 4 / 3 + 1.5)
        self.until(lambda: self.counter("done:ticket_status_change") == 6, "held job done")

        done = collections.Counter(line.split()[1] for line in self.lines("log") if line.startswith("done "))
        self.assertEqual(done, {event_id: 1 for event_id in [held_id] + [i for _, i in others]},
                         "every event done exactly once (the killed run never finished)")
        self.assertIn(f"done {held_id} 2 {survivor.pid}", self.lines("log"))
        self.assertNoWorkLeft("ticket_status_change")
        self.assertEqual(self.redis.cmd("HKEYS", key("workers")), [self.worker_id(survivor).encode()],
                         "the dead worker is still registered")
        self.assertIn(f"worker {self.worker_id(doomed)} stopped beating: 1 job(s)", survivor.log.read_text())
        self.assertEqual(self.stop_worker(survivor), 0)


class PoisonJob(WorkerTest):
    MAX_ATTEMPTS = 2

    def test_a_job_that_kills_its_worker_every_time_still_dies_out_after_max_attempts(self):
        # Attempts are counted when they start: once they are used up, the next taker must
        # dead-letter the event instead of running it (and dying) again.
        log = self.dir / "log"
        command = f'echo "$BOARDHOOK_ATTEMPT $PPID" >> {log}; kill -9 $PPID'
        workers = [self.start_worker("--type", f"note_deletion={command}", "--max-attempts", str(self.MAX_ATTEMPTS),
                                     "--heartbeat-timeout", "1", "--backoff", "0.1")
                   for _ in range(self.MAX_ATTEMPTS + 1)]
        raw, event_id = numbered_envelope("note_deletion", 1)
        self.push("note_deletion", [raw])
        self.until(lambda: (self.redis.cmd("LLEN", key("dead", "note_deletion")) == 1
                            or not any(w.alive() for w in workers)),
                   "event dead or every worker killed", timeout=20)
        runs = [line.split() for line in self.lines("log")]
        self.assertEqual([r[0] for r in runs], [str(n) for n in range(1, self.MAX_ATTEMPTS + 1)],
                         self.why("the job ran more often than --max-attempts"))
        self.assertEqual(self.redis.cmd("LLEN", key("dead", "note_deletion")), 1, "not in the dead list")
        raw_record = self.redis.cmd("LINDEX", key("dead", "note_deletion"), 0)
        self.assertEqual(harness.member_bytes(raw_record, "envelope"), raw)
        self.assertGreaterEqual(json.loads(raw_record)["attempts"], self.MAX_ATTEMPTS)
        self.assertEqual(sum(w.alive() for w in workers), 1, "the survivor should be alive")
        self.assertNoWorkLeft("note_deletion")


class FailingCommand(WorkerTest):
    TYPE = "ticket_status_change"

    def test_an_always_failing_event_is_retried_then_dead_with_its_error_and_requeue_brings_it_back(self):
        command = (f'echo "$BOARDHOOK_ATTEMPT $(date +%s.%N)" >> {self.dir}/"$BOARDHOOK_EVENT_ID".attempts; '
                   'echo "a first line" >&2; echo "it broke on attempt $BOARDHOOK_ATTEMPT" >&2; exit 3')
        worker = self.start_worker("--type", f"{self.TYPE}={command}", "--max-attempts", "3",
                                   "--backoff", "0.4", "--backoff-max", "10")
        events = [numbered_envelope(self.TYPE, n) for n in range(2)]
        self.push(self.TYPE, [raw for raw, _ in events])

        # Between attempts the envelope waits in the retry set, scored by its due time.
        retry_seen = []

        def all_dead():
            now = time.time() * 1000
            reply = self.redis.cmd("ZRANGE", key("retry", self.TYPE), 0, -1, "WITHSCORES")
            retry_seen.extend((reply[i], float(reply[i + 1]) - now) for i in range(0, len(reply), 2))
            return self.redis.cmd("LLEN", key("dead", self.TYPE)) == 2
        self.until(all_dead, "both events dead", timeout=30, interval=0.02)

        for raw, event_id in events:
            with self.subTest(event=event_id):
                attempts = [line.split() for line in self.lines(f"{event_id}.attempts")]
                self.assertEqual([a[0] for a in attempts], ["1", "2", "3"], "BOARDHOOK_ATTEMPT did not go 1, 2, 3")
                gaps = [float(b[1]) - float(a[1]) for a, b in zip(attempts, attempts[1:])]
                # Back-off 0.4 s doubling, with equal jitter: [0.2, 0.4] s, then [0.4, 0.8] s.
                self.assertGreater(gaps[0], 0.2 - 0.05, gaps)
                self.assertGreater(gaps[1], 0.4 - 0.05, gaps)
                self.assertLess(max(gaps), 3, gaps)
                waits = [ahead for member, ahead in retry_seen if member == raw]
                self.assertTrue(waits, "never seen in the retry set")
                self.assertTrue(all(-1500 < ahead <= 800 for ahead in waits), waits)   # due within the back-off

        records = self.redis.cmd("LRANGE", key("dead", self.TYPE), 0, -1)
        by_id = {}
        for raw_record in records:
            record = json.loads(raw_record)
            self.assertEqual(set(record), DEAD_RECORD_FIELDS)
            envelope = harness.member_bytes(raw_record, "envelope")
            by_id[json.loads(envelope)["id"]] = (record, envelope)
        self.assertEqual(set(by_id), {event_id for _, event_id in events})
        for raw, event_id in events:
            record, envelope = by_id[event_id]
            self.assertEqual(envelope, raw, "the dead record's envelope is not the queued bytes")
            self.assertEqual((record["attempts"], record["exit_code"], record["signal"], record["timed_out"]),
                             (3, 3, None, False))
            self.assertEqual(record["error"], "exit code 3")
            self.assertIn("it broke on attempt 3", record["stderr_tail"])
            self.assertIn("a first line", record["stderr_tail"])
            self.assertEqual(record["worker"], f"{self.worker_id(worker)}:0")
            self.assertRegex(record["failed_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(self.counter(f"retried:{self.TYPE}"), 4)
        self.assertEqual(self.counter(f"dead:{self.TYPE}"), 2)
        self.assertEqual(self.counter(f"done:{self.TYPE}"), 0)
        self.assertNoWorkLeft(self.TYPE)
        self.assertEqual(self.stop_worker(worker), 0)

        # requeue: refused without --yes, one by --id, then the rest.
        r = self.queues("requeue", self.TYPE)
        self.assertEqual(r.returncode, 4, r)
        self.assertIn(b"--yes", r.stderr)
        self.assertEqual(self.redis.cmd("LLEN", key("dead", self.TYPE)), 2, "requeue without --yes moved something")
        self.assertEqual(self.redis.cmd("LLEN", key("queue", self.TYPE)), 0, "requeue without --yes moved something")

        first, first_id = events[0]
        second, second_id = events[1]
        r = self.queues("--json", "requeue", self.TYPE, "--id", first_id, "--yes")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {"requeued": 1}), r)
        self.assertEqual(self.redis.cmd("LRANGE", key("queue", self.TYPE), 0, -1), [first])
        left = self.redis.cmd("LRANGE", key("dead", self.TYPE), 0, -1)
        self.assertEqual([harness.member_bytes(x, "envelope") for x in left], [second])
        r = self.queues("requeue", self.TYPE, "--id", first_id, "--yes")
        self.assertEqual(r.returncode, 1, r)   # nothing matched any more

        r = self.queues("requeue", self.TYPE, "--yes")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b"requeued 1 dead letter", r.stdout)
        self.assertEqual(sorted(self.redis.cmd("LRANGE", key("queue", self.TYPE), 0, -1)), sorted([first, second]))
        self.assertEqual(self.redis.cmd("LLEN", key("dead", self.TYPE)), 0)

        # Back in the queue they are work like any other, starting again at attempt 1.
        log = self.dir / "after-requeue"
        fixed = self.start_worker("--type", f'{self.TYPE}=echo "$BOARDHOOK_EVENT_ID $BOARDHOOK_ATTEMPT" >> {log}')
        self.until(lambda: self.counter(f"done:{self.TYPE}") == 2, "requeued events done")
        self.assertEqual(sorted(self.lines("after-requeue")), sorted([f"{first_id} 1", f"{second_id} 1"]))
        self.assertNoWorkLeft(self.TYPE)
        self.assertEqual(self.stop_worker(fixed), 0)


class Timeout(WorkerTest):
    TYPE = "note_deletion"

    def test_a_command_that_runs_too_long_is_ended_and_counted_as_a_failure(self):
        pids = self.dir / "sleep.pids"
        command = f'sleep 10 & echo $! >> {pids}; wait'   # a child of the command: it must end too
        worker = self.start_worker("--type", f"{self.TYPE}={command}", "--timeout", "1", "--max-attempts", "2",
                                   "--backoff", "0.1")
        raw, event_id = numbered_envelope(self.TYPE, 1)
        started = time.monotonic()
        self.push(self.TYPE, [raw])
        self.until(lambda: self.redis.cmd("LLEN", key("dead", self.TYPE)) == 1, "event dead after 2 timeouts")
        elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 2 * 1.0 - 0.1, "two runs of a 1 s timeout took less than 2 s")
        self.assertLess(elapsed, 8, "the timeout did not end the command")

        raw_record = self.redis.cmd("LINDEX", key("dead", self.TYPE), 0)
        record = json.loads(raw_record)
        self.assertEqual(set(record), DEAD_RECORD_FIELDS)
        self.assertIs(record["timed_out"], True)
        self.assertEqual((record["attempts"], record["exit_code"]), (2, None))
        self.assertIn("timed out", record["error"])
        self.assertEqual(harness.member_bytes(raw_record, "envelope"), raw)
        self.assertEqual(self.counter(f"retried:{self.TYPE}"), 1)
        self.assertEqual(self.counter(f"dead:{self.TYPE}"), 1)
        self.assertNoWorkLeft(self.TYPE)

        sleepers = [int(p) for p in self.lines("sleep.pids")]
        self.assertEqual(len(sleepers), 2)

        def ended(pid):
            try:
                return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("Z", "X")
            except FileNotFoundError:
                return True
        self.until(lambda: all(ended(p) for p in sleepers), "the commands' children ended", timeout=3)
        self.assertEqual(self.stop_worker(worker), 0)


class Leftovers(WorkerTest):
    """An event in a consumer's processing list that the consumer does not hold (a BLMOVE it gave
    up on during a network cut, replayed by the kernel after the heal) goes back to its queue: after
    the consumer's Redis connection failed, and when the worker stops. Otherwise nothing would run
    it, and once the worker deregistered, nobody would reclaim it."""
    TYPE = "ticket_status_change"

    def test_an_unheld_event_goes_back_to_its_queue_after_a_reconnect_and_is_run(self):
        log = self.dir / "ran"
        worker = self.start_worker("--type", f'{self.TYPE}=echo "$BOARDHOOK_EVENT_ID" >> {log}')
        raw, event_id = numbered_envelope(self.TYPE, 7)
        self.redis.cmd("LPUSH", key("processing", self.worker_id(worker) + ":0"), raw)
        self.redis.cmd("CLIENT", "KILL", "TYPE", "normal")   # every connection of the worker fails
        self.until(lambda: self.lines("ran") == [event_id], "the unheld event run")
        self.until(lambda: self.counter(f"done:{self.TYPE}") == 1, "its acknowledgement")
        self.assertNoWorkLeft(self.TYPE)
        self.assertIn("put back in its queue", worker.log.read_text())
        self.assertEqual(self.stop_worker(worker), 0)

    def test_a_stopping_worker_puts_back_what_it_does_not_hold_before_it_deregisters(self):
        worker = self.start_worker("--type", f"{self.TYPE}=true")
        time.sleep(0.3)
        raw, _ = numbered_envelope(self.TYPE, 8)
        self.redis.cmd("LPUSH", key("processing", self.worker_id(worker) + ":0"), raw)
        worker_id = self.worker_id(worker)
        worker.signal(signal.SIGTERM)
        self.assertEqual(worker.popen.wait(15), 0)
        self.assertEqual(self.processing_keys(), [], "left in a processing list nobody reclaims")
        self.assertEqual(self.redis.cmd("LRANGE", key("queue", self.TYPE), 0, -1), [raw])
        self.assertEqual(self.redis.cmd("HEXISTS", key("workers"), worker_id), 0)


class Sigterm(WorkerTest):
    TYPE = "ticket_status_change"

    def test_sigterm_finishes_the_running_jobs_acknowledges_them_and_takes_no_more(self):
        log = self.dir / "log"
        command = f'echo "start $BOARDHOOK_EVENT_ID" >> {log}; sleep 2; echo "done $BOARDHOOK_EVENT_ID" >> {log}'
        worker = self.start_worker("--type", f"{self.TYPE}={command}", "--concurrency", "2")
        events = [numbered_envelope(self.TYPE, n) for n in range(5)]
        self.push(self.TYPE, [raw for raw, _ in events])
        self.until(lambda: len(self.lines("log")) == 2, "two jobs started")
        running = {line.split()[1] for line in self.lines("log")}
        self.assertEqual(running, {events[0][1], events[1][1]}, "the oldest two were not taken first")

        worker.signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            code = worker.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.fail(f"worker still running 15 s after SIGTERM\n{self.why()}")
        took = time.monotonic() - signalled
        self.assertEqual(code, 0, self.why("exit code after SIGTERM"))
        self.assertGreater(took, 1.0, "exited before its running jobs could have finished")

        self.assertEqual(sorted(self.lines("log")),
                         sorted([f"start {i}" for i in running] + [f"done {i}" for i in running]),
                         "a job was cut short, or a new one taken after SIGTERM")
        self.assertEqual(self.counter(f"done:{self.TYPE}"), 2, "the finished jobs were not acknowledged")
        self.assertEqual(self.processing_keys(), [], "processing list not empty after the drain")
        self.assertEqual(self.redis.cmd("LRANGE", key("queue", self.TYPE), 0, -1), [raw for raw, _ in events[2:]][::-1],
                         "the queue does not hold exactly the three untouched events")
        self.assertEqual(self.redis.cmd("HLEN", key("attempts", self.TYPE)), 0)
        self.assertEqual(self.redis.cmd("HEXISTS", key("workers"), self.worker_id(worker)), 0, "still registered")
        self.assertEqual(self.redis.cmd("EXISTS", key("heartbeat", self.worker_id(worker))), 0, "heartbeat left")
        self.assertIn("finishing the running ones", worker.log.read_text())

    def test_an_idle_worker_takes_nothing_queued_after_sigterm(self):
        log = self.dir / "log"
        worker = self.start_worker("--type", f'{self.TYPE}=echo "$BOARDHOOK_EVENT_ID" >> {log}')
        time.sleep(0.3)   # its consumer is now waiting in BLMOVE on the empty queue
        worker.signal(signal.SIGTERM)
        # The worker logs this once the stop is in force: from here on nothing new may be taken.
        harness.wait_for(lambda: "taking no new events" in worker.log.read_text(), "the stop", worker)
        raw, event_id = numbered_envelope(self.TYPE, 1)
        self.push(self.TYPE, [raw])
        self.assertEqual(worker.popen.wait(15), 0)
        self.assertEqual(self.lines("log"), [], "an event queued after SIGTERM was taken and run")
        self.assertEqual(self.redis.cmd("LRANGE", key("queue", self.TYPE), 0, -1), [raw])


if __name__ == "__main__":
    harness.main()
