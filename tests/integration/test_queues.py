"""test_queues.py -- boardhook-queues read against a Redis the test filled itself: stats (table and
--json), peek, dead, rejected, requeue's and purge-dead's --yes, replay-rejected, and the exit codes.

One Stack (redis-server, handler, nginx) per class, so refused POSTs reach <prefix>:rejected the real
way; everything else is written straight into Redis in the README's data model. The prefix is not the
default, so the tool must honour BOARDHOOK_QUEUE_PREFIX.
Run: /usr/bin/python3 test_queues.py --handler PATH --worker PATH --queues PATH.
"""
import base64
import json
import os
import select
import socket
import subprocess
import time

import harness

PREFIX = "bh-q"
A, B, C, D = "ticket_status_change", "note_deletion", "only.processing", "empty_type"


def numbered(event_type, n, received_at=None):
    return harness.make_envelope(event_type, b'{"Seq": %d}' % n, ticket_id=700 + n, delivery="%032x" % (0xd000 + n),
                         received_at=received_at)


def dead_record(envelope, attempts, error, failed_at):
    """A dead letter as the worker writes it (envelope embedded raw)."""
    head = json.dumps({"failed_at": harness.rfc3339_ms(failed_at), "worker": "host-z:42:0", "attempts": attempts,
                       "exit_code": 3, "signal": None, "timed_out": False, "error": error,
                       "stderr_tail": "boom\n"}, separators=(",", ":"))
    return head[:-1].encode() + b',"envelope":' + envelope + b"}"


class Queues(harness.StackTest):
    stack_options = {"prefix": PREFIX, "spool": True}

    def setUp(self):
        if not harness.QUEUES or not os.access(harness.QUEUES, os.X_OK):
            self.fail(f"queues binary {harness.QUEUES!r} missing: pass --queues or BOARDHOOK_QUEUES")
        self.stack.redis_cmd("FLUSHALL")

    # ---- helpers --------------------------------------------------------------------------
    def environment(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.stack.redis_port}/0", BOARDHOOK_QUEUE_PREFIX=PREFIX)
        env.update(extra)
        return env

    def tool(self, *args, **env):
        """Run boardhook-queues; returns the CompletedProcess (stdout, stderr as bytes)."""
        return subprocess.run([harness.QUEUES, *args], env=self.environment(**env), capture_output=True, timeout=30)

    def ok(self, *args, code=0, **env):
        r = self.tool(*args, **env)
        self.assertEqual(r.returncode, code, f"boardhook-queues {' '.join(args)}: {r}")
        return r

    def r(self, *args):
        return self.stack.redis_cmd(*args)

    def key(self, *parts):
        return ":".join((PREFIX,) + parts)

    def push(self, event_type, envelopes):
        """LPUSH like the handler: the first of `envelopes` is the oldest."""
        self.r("LPUSH", self.key("queue", event_type), *envelopes)
        self.r("SADD", self.key("event-types"), event_type)

    def post_rejected(self, fixture):
        r = self.stack.post((harness.FIXTURES / fixture).read_bytes())
        self.assertEqual(r.status, 400, self.why(r))
        return r.request_id

    @staticmethod
    def table_rows(text, first_words):
        """{first word: the other words} for lines of a table whose first word is in `first_words`."""
        rows = {}
        for line in text.splitlines():
            words = line.split()
            if words and words[0] in first_words:
                rows[words[0]] = words[1:]
        return rows

    # ---- stats ----------------------------------------------------------------------------
    def fill_for_stats(self):
        now = time.time()
        queued_a = [numbered(A, n, harness.rfc3339_ms(now - age))[0] for n, age in enumerate((90, 60, 5))]
        self.push(A, queued_a)
        for n in (10, 11):
            self.r("ZADD", self.key("retry", A), int(now * 1000) + 60000, numbered(A, n)[0])
        self.r("LPUSH", self.key("dead", A), dead_record(numbered(A, 20)[0], 5, "exit code 3", now - 30))
        self.push(B, [numbered(B, 1, harness.rfc3339_ms(now - 2))[0]])
        self.r("LPUSH", self.key("dead", B), dead_record(numbered(B, 21)[0], 5, "exit code 1", now - 20),
               dead_record(numbered(B, 22)[0], 5, "timed out after 60.0 s", now - 10))
        self.r("SADD", self.key("event-types"), D)
        # A live worker with two consumers, each running one job (one of a type queued nowhere),
        # and a dead one (no heartbeat) whose job is still in its processing list.
        beat = int(now * 1000) - 1500
        self.r("HSET", self.key("workers"), "host-x:111", json.dumps(
            {"host": "host-x", "pid": 111, "consumers": 2, "started_at": harness.rfc3339_ms(now - 100), "types": [A, C]}))
        self.r("SET", self.key("heartbeat", "host-x:111"), beat, "PX", 60000)
        self.r("LPUSH", self.key("processing", "host-x:111:0"), numbered(A, 30)[0])
        self.r("LPUSH", self.key("processing", "host-x:111:1"), numbered(C, 31)[0])
        self.r("HSET", self.key("workers"), "host-y:222", json.dumps(
            {"host": "host-y", "pid": 222, "consumers": 1, "started_at": harness.rfc3339_ms(now - 200), "types": [B]}))
        self.r("LPUSH", self.key("processing", "host-y:222:0"), numbered(B, 32)[0])
        self.r("HSET", self.key("counters"), f"queued:{A}", 10, f"done:{A}", 4, f"retried:{A}", 2, f"dead:{A}", 1,
               f"queued:{B}", 3)
        rejected = [self.post_rejected("bad/missing_event_type.json"), self.post_rejected("bad/truncated.json")]
        return now, beat, rejected

    def test_stats_json_counts_what_redis_holds(self):
        now, beat, _ = self.fill_for_stats()
        started = time.time()
        stats = json.loads(self.ok("--json", "stats", BOARDHOOK_SPOOL_DIR=str(self.stack.dir / "spool")).stdout)
        finished = time.time()

        self.assertTrue(started * 1000 - 1000 <= stats["at_ms"] <= finished * 1000 + 1000, stats["at_ms"])
        self.assertRegex(stats["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        rows = {row["type"]: row for row in stats["types"]}
        self.assertEqual([row["type"] for row in stats["types"]], sorted(rows), "types not in order")
        self.assertEqual(set(rows), {A, B, C, D})
        got = {t: (row["queued"], row["processing"], row["retry"], row["dead"]) for t, row in rows.items()}
        self.assertEqual(got, {A: (3, 1, 2, 1), B: (1, 1, 0, 2), C: (0, 1, 0, 0), D: (0, 0, 0, 0)})
        # The oldest queued event of A was received 90 s before the fill.
        oldest = rows[A]["oldest_age_ms"]
        self.assertTrue(90000 <= oldest <= 90000 + (finished - now) * 1000 + 1000, oldest)
        self.assertTrue(2000 <= rows[B]["oldest_age_ms"] <= 2000 + (finished - now) * 1000 + 1000)
        self.assertIsNone(rows[C]["oldest_age_ms"])
        self.assertIsNone(rows[D]["oldest_age_ms"])
        self.assertEqual(rows[A]["totals"], {"queued": 10, "done": 4, "retried": 2, "dead": 1})
        self.assertEqual(rows[B]["totals"], {"queued": 3, "done": 0, "retried": 0, "dead": 0})

        workers = {w["id"]: w for w in stats["workers"]}
        self.assertEqual(set(workers), {"host-x:111", "host-y:222"})
        live, dead = workers["host-x:111"], workers["host-y:222"]
        self.assertEqual((live["alive"], live["last_heartbeat_ms"], live["running"], live["consumers"]),
                         (True, beat, 2, 2))
        self.assertEqual(live["types"], [A, C])
        self.assertEqual((dead["alive"], dead["last_heartbeat_ms"], dead["running"]), (False, None, 1))
        self.assertEqual(stats["rejected"], 2)
        spool = stats["spool"]
        self.assertEqual((spool["dir"], spool["records"]), (str(self.stack.dir / "spool"), 0))

        # Without a spool folder it says so instead of guessing.
        self.assertIsNone(json.loads(self.ok("--json", "stats").stdout)["spool"])

    def test_stats_table_shows_the_same_numbers_in_the_right_rows(self):
        now, beat, _ = self.fill_for_stats()
        out = self.ok("stats").stdout.decode()
        self.assertRegex(out.splitlines()[0], r"^EVENT TYPE\s+QUEUED\s+PROCESSING\s+RETRY\s+DEAD\s+OLDEST\s+HELD\(TICKETS\)\s*$")
        rows = self.table_rows(out, {A, B, C, D})
        self.assertEqual(rows[A][:4], ["3", "1", "2", "1"], out)
        self.assertRegex(rows[A][4], r"^1m3[0-3]s$", out)   # 90 s and the few it took
        self.assertEqual(rows[B][:4], ["1", "1", "0", "2"], out)
        self.assertRegex(rows[B][4], r"^[2-5]s$", out)
        self.assertEqual(rows[C], ["0", "1", "0", "0", "-", "-"], out)
        self.assertEqual(rows[D], ["0", "0", "0", "0", "-", "-"], out)
        workers = self.table_rows(out, {"host-x:111", "host-y:222"})
        self.assertEqual(workers["host-x:111"][:3], ["alive", "2", "2"], out)
        self.assertRegex(" ".join(workers["host-x:111"][3:]), r"^[1-4]s ago$", out)
        self.assertEqual(workers["host-y:222"], ["dead", "1", "1", "expired"], out)
        self.assertIn("rejected requests kept: 2\n", out)
        self.assertIn("spool: not visible from here", out)
        spool_out = self.ok("stats", BOARDHOOK_SPOOL_DIR=str(self.stack.dir / "spool")).stdout.decode()
        self.assertIn(f"spool {self.stack.dir / 'spool'}: 0 record(s)", spool_out)

    def test_stats_shows_a_running_worker_and_forgets_it_when_it_stops(self):
        worker_env = self.environment(BOARDHOOK_LOG_LEVEL="debug")
        worker = harness.Process("boardhook-worker",
                                 [harness.WORKER, "--type", "unused.type=true", "--concurrency", "3"],
                                 self.stack.dir / "worker.log", worker_env)
        self.addCleanup(worker.stop)
        def registered_id():
            ids = [f.decode() for f in self.r("HKEYS", self.key("workers"))
                   if f.decode().startswith(f"{socket.gethostname()}:{worker.pid}:")]
            return ids[0] if ids else None
        harness.wait_for(registered_id, "worker registered", worker)
        worker_id = registered_id()
        before = time.time() * 1000
        stats = json.loads(self.ok("--json", "stats").stdout)
        self.assertEqual(len(stats["workers"]), 1, stats)
        w = stats["workers"][0]
        self.assertEqual((w["id"], w["alive"], w["consumers"], w["running"], w["types"], w["pid"]),
                         (worker_id, True, 3, 0, ["unused.type"], worker.pid))
        self.assertTrue(before - 15000 < w["last_heartbeat_ms"] <= before + 1000, w)
        table = self.ok("stats").stdout.decode()
        self.assertEqual(self.table_rows(table, {worker_id})[worker_id][:3], ["alive", "3", "0"], table)

        self.assertEqual(worker.stop(), 0)
        self.assertEqual(json.loads(self.ok("--json", "stats").stdout)["workers"], [])
        self.assertIn("(no workers registered)", self.ok("stats").stdout.decode())

    def test_stats_watch_prints_snapshots_with_rates(self):
        self.push(A, [numbered(A, 1)[0]])
        with subprocess.Popen([harness.QUEUES, "--json", "stats", "--watch", "--interval", "0.2"],
                              env=self.environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as watch:
            self.addCleanup(lambda: watch.poll() is None and watch.kill())
            snapshots, buffered, counted = [], b"", False
            deadline = time.monotonic() + 10
            while len(snapshots) < 4 and time.monotonic() < deadline:
                if select.select([watch.stdout], [], [], 0.5)[0]:
                    chunk = os.read(watch.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    buffered += chunk
                    *lines, buffered = buffered.split(b"\n")
                    snapshots += [json.loads(line) for line in lines if line]
                if snapshots and not counted:   # 5 events done between two snapshots
                    self.r("HINCRBY", self.key("counters"), f"done:{A}", 5)
                    counted = True
            watch.terminate()   # it runs until stopped
            errors = watch.stderr.read()
        self.assertEqual(watch.returncode, -15)
        self.assertEqual(len(snapshots), 4, errors)
        rows = [next(r for r in snapshot["types"] if r["type"] == A) for snapshot in snapshots]
        self.assertEqual([row["queued"] for row in rows], [1] * 4)
        self.assertEqual([row["totals"]["done"] for row in rows][-1], 5)
        for row in rows:
            self.assertEqual(set(row["per_second"]), {"queued", "done", "retried", "dead"})
        # Each rate is the change since the previous snapshot over the time between them.
        done = sum(row["per_second"]["done"] * (b["at_ms"] - a["at_ms"]) / 1000
                   for row, a, b in zip(rows[1:], snapshots, snapshots[1:]))
        self.assertAlmostEqual(done, 5 - rows[0]["totals"]["done"], places=3)

    # ---- peek, dead, rejected -------------------------------------------------------------
    def test_peek_shows_the_oldest_or_newest_envelopes_byte_for_byte(self):
        events = [numbered(A, n) for n in range(5)]   # events[0] is the oldest
        self.push(A, [raw for raw, _ in events])

        out = self.ok("peek", A, "2").stdout.decode().splitlines()
        self.assertRegex(out[0], r"^ID\s+RECEIVED\s+TICKET\s+DELIVERY\s+EVENT BYTES$")
        self.assertEqual([line.split()[0] for line in out[1:]], [events[0][1], events[1][1]], "not oldest first")
        self.assertEqual(out[1].split()[2:], ["700", "%032x" % 0xd000, str(len(events[0][0]))])
        out = self.ok("peek", A, "2", "--newest").stdout.decode().splitlines()
        self.assertEqual([line.split()[0] for line in out[1:]], [events[4][1], events[3][1]], "not newest first")

        raw = self.ok("--json", "peek", A, "3").stdout
        self.assertEqual(harness.array_items(raw.strip()), [e for e, _ in events[:3]],
                         "not the stored bytes, oldest first")
        raw = self.ok("--json", "peek", A, "--newest").stdout
        self.assertEqual(harness.array_items(raw.strip()), [e for e, _ in events][::-1])
        self.assertEqual(self.r("LLEN", self.key("queue", A)), 5, "peek took something")

        self.ok("peek", "no_such_type", code=1)
        self.ok("peek", A, "0", code=2)
        self.ok("peek", code=2)

    def test_dead_lists_the_newest_dead_letters_and_purge_dead_needs_yes(self):
        now = time.time()
        envelopes = [numbered(A, n) for n in range(3)]
        records = [dead_record(raw, 3 + n, f"exit code {n + 1}", now - 10 + n) for n, (raw, _) in enumerate(envelopes)]
        self.r("LPUSH", self.key("dead", A), *records)   # records[2] is the newest

        out = self.ok("dead", A, "2").stdout.decode().splitlines()
        self.assertRegex(out[0], r"^FAILED AT\s+EVENT ID\s+ATTEMPTS\s+ERROR$")
        self.assertEqual([line.split()[1:5] for line in out[1:]],
                         [[envelopes[2][1], "5", "exit", "code"], [envelopes[1][1], "4", "exit", "code"]])
        self.assertTrue(out[1].endswith("exit code 3"), out)
        self.assertEqual(out[1].split()[0], harness.rfc3339_ms(now - 8))
        raw = self.ok("--json", "dead", A).stdout
        self.assertEqual(harness.array_items(raw.strip()), records[::-1], "not the stored records, newest first")
        self.ok("dead", B, code=1)

        r = self.ok("purge-dead", A, code=4)
        self.assertIn(b"--yes", r.stderr)
        self.assertEqual(self.r("LLEN", self.key("dead", A)), 3, "purge-dead without --yes deleted")
        r = self.ok("--json", "purge-dead", A, "--yes")
        self.assertEqual(json.loads(r.stdout), {"purged": 3})
        self.assertEqual(self.r("EXISTS", self.key("dead", A)), 0)
        self.ok("purge-dead", A, "--yes", code=1)

    def test_rejected_shows_refused_requests_newest_first(self):
        first = self.post_rejected("bad/missing_event_type.json")
        second = self.post_rejected("bad/truncated.json")
        out = self.ok("rejected").stdout.decode().splitlines()
        self.assertRegex(out[0], r"^AT\s+REQUEST ID\s+STATUS\s+REASON\s+BYTES\s+DETAIL$")
        rows = [line.split() for line in out[1:]]
        self.assertEqual([(r[1], r[2], r[3]) for r in rows],
                         [(second, "400", "invalid_json"), (first, "400", "invalid_envelope")])
        self.assertEqual(rows[1][4], str(len((harness.FIXTURES / "bad/missing_event_type.json").read_bytes())))
        self.assertIn("EventType", out[2])
        raw = self.ok("--json", "rejected", "1").stdout
        self.assertEqual(harness.array_items(raw.strip()), [self.r("LINDEX", self.key("rejected"), 0)])
        self.assertEqual(json.loads(raw)[0]["request_id"], second)
        self.r("DEL", self.key("rejected"))
        self.ok("rejected", code=1)

    # ---- replay-rejected ------------------------------------------------------------------
    def crafted_rejected(self, request_id, body, encoding="utf-8", truncated=False, reason="body_too_large", status=413):
        """A rejected record as the handler keeps it, by default for a body refused only by a setting."""
        record = json.dumps({"at": harness.rfc3339_ms(time.time() - 60), "request_id": request_id, "status": status,
                             "reason": reason, "detail": "the body is larger than 1000 bytes",
                             "body_bytes": len(body), "body_encoding": encoding, "body_truncated": truncated,
                             "body": body.decode() if encoding == "utf-8" else base64.b64encode(body).decode()})
        self.r("LPUSH", self.key("rejected"), record)
        return record.encode()

    def assertQueuedFrom(self, body, request_id, not_before):
        """The queue of the body's EventType holds exactly its events, as the handler would store them."""
        notification = json.loads(body)
        event_type = notification["EventType"]
        items = harness.array_items(harness.member_bytes(body, "Events"))
        stored = self.r("LRANGE", self.key("queue", event_type), 0, -1)[::-1]   # oldest first
        self.assertEqual(len(stored), len(items))
        for index, (item, raw) in enumerate(zip(items, stored)):
            envelope = json.loads(raw)
            ticket_id = notification.get("TicketId", (json.loads(item).get("Ticket") or {}).get("Id"))
            self.assertEqual(harness.member_bytes(raw, "event"), item)
            self.assertEqual((envelope["id"], envelope["delivery"], envelope["community"], envelope["ticket_id"],
                              envelope["index"], envelope["count"]),
                             (harness.event_id(event_type, ticket_id, item), request_id, notification["CommunityName"],
                              ticket_id, index, len(items)))
            self.assertRfc3339Millis(envelope["received_at"], not_before=not_before)
        self.assertEqual(self.r("SISMEMBER", self.key("event-types"), event_type), 1)
        self.assertEqual(int(self.r("HGET", self.key("counters"), f"queued:{event_type}") or 0), len(items))

    def test_replay_rejected_queues_a_body_that_is_valid_and_keeps_refusing_one_that_is_not(self):
        bad_id = self.post_rejected("bad/missing_event_type.json")
        bad_record = self.r("LINDEX", self.key("rejected"), 0)
        body = (harness.FIXTURES / "variants/ticket_status_change.two_events.json").read_bytes()
        good_id = "feedc0de" * 4
        self.crafted_rejected(good_id, body)

        r = self.ok("replay-rejected", "--id", bad_id, "--yes", code=1)
        self.assertIn(b"still refused", r.stderr)
        self.assertIn(b"invalid_envelope", r.stderr)
        self.ok("replay-rejected", "--id", good_id, code=4)
        self.ok("replay-rejected", "--yes", code=2)
        self.ok("replay-rejected", "--id", "0" * 32, "--yes", code=1)
        self.assertEqual(self.r("LLEN", self.key("rejected")), 2, "a refused replay changed the rejected list")
        self.assertEqual(self.r("KEYS", self.key("queue", "*")), [], "a refused replay queued something")

        started = time.time()
        r = self.ok("replay-rejected", "--id", good_id, "--yes")
        self.assertIn(f"request {good_id} replayed: 2 event(s)".encode(), r.stdout)
        self.assertQueuedFrom(body, good_id, started)
        self.assertEqual(self.r("LRANGE", self.key("rejected"), 0, -1), [bad_record],
                         "the replayed record is still in the rejected list, or the other one is gone")
        self.ok("replay-rejected", "--id", good_id, "--yes", code=1)   # replayed once, not twice

    def test_replay_rejected_decodes_a_base64_body_and_refuses_a_truncated_one(self):
        body = (harness.FIXTURES / "note_deletion.json").read_bytes()
        kept_id, cut_id = "ba5e64" + "0" * 26, "c07" + "0" * 29
        self.crafted_rejected(kept_id, body, encoding="base64")
        cut = self.crafted_rejected(cut_id, body, truncated=True)
        started = time.time()
        r = self.ok("--json", "replay-rejected", "--id", kept_id, "--yes")
        event_type = json.loads(body)["EventType"]
        self.assertEqual(json.loads(r.stdout), {"stored": len(json.loads(body)["Events"]),
                                                "queue": self.key("queue", event_type)})
        self.assertQueuedFrom(body, kept_id, started)
        r = self.ok("replay-rejected", "--id", cut_id, "--yes", code=1)
        self.assertIn(b"kept only in part", r.stderr)
        self.assertEqual(self.r("LRANGE", self.key("rejected"), 0, -1), [cut])

    def test_replay_judges_the_body_as_posted_with_a_valid_key_even_where_the_tool_shares_the_handlers_settings(self):
        # The systemd units give the tool the handler's settings file, endpoint key included.
        body = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        request_id = "5e771e65" * 4
        self.crafted_rejected(request_id, body)
        started = time.time()
        r = self.ok("replay-rejected", "--id", request_id, "--yes", BOARDHOOK_ENDPOINT_KEY="k" * 24)
        self.assertIn(f"request {request_id} replayed".encode(), r.stdout)
        self.assertQueuedFrom(body, request_id, started)

    def test_a_request_refused_for_an_authentication_reason_is_never_replayed(self):
        body = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        for n, reason in enumerate(("missing_endpoint_key", "invalid_endpoint_key", "community_not_allowed")):
            with self.subTest(reason=reason):
                request_id = "a0" * 15 + "%02d" % n
                record = self.crafted_rejected(request_id, body, reason=reason, status=403)
                r = self.ok("replay-rejected", "--id", request_id, "--yes", code=1)
                self.assertIn(b"never replayed", r.stderr)
                self.assertIn(reason.encode(), r.stderr)
                self.assertIn(record, self.r("LRANGE", self.key("rejected"), 0, -1), "the record was removed")
        self.assertEqual(self.r("KEYS", self.key("queue", "*")), [], "a refused replay queued something")

    def test_list_elements_of_another_shape_do_not_crash_the_tool(self):
        # A worker that reclaims a dead peer's job that is not an envelope puts it, as it is,
        # in <prefix>:dead:unknown; an older or foreign writer may leave odd rejected records.
        self.r("LPUSH", self.key("dead", "unknown"), b'{"not":"a dead record"}')
        self.r("LPUSH", self.key("rejected"), b'{"request_id":"r1"}')
        for args in (("dead", "unknown"), ("--json", "dead", "unknown"), ("rejected",),
                     ("replay-rejected", "--id", "r1", "--yes")):
            with self.subTest(args=args):
                r = self.tool(*args)
                self.assertIn(r.returncode, (0, 1), r)
                self.assertNotIn(b"terminate called", r.stderr)

    # ---- exit codes -----------------------------------------------------------------------
    def test_exit_codes_for_usage_and_an_unreachable_redis(self):
        r = self.ok("frobnicate", code=2)
        self.assertIn(b"unknown command", r.stderr)
        self.ok(code=2)
        self.ok("--bogus", "stats", code=2)
        with socket.socket() as closed:   # a port nothing listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            r = self.ok("stats", code=3, BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{port}/0")
        self.assertIn(b"redis", r.stderr)
        self.ok("--help")


if __name__ == "__main__":
    harness.main()
