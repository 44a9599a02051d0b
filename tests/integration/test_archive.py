"""test_archive.py -- the archive (BOARDHOOK_ARCHIVE_SECONDS): every event the handler queues is also in
the stream <prefix>:archive, in the same script; boardhook-queues lists it by ticket, type and time,
exports it byte for byte, and replays a selection back into the queues.

Everything goes through nginx and the handler, as Socialboards would send it; the envelopes the
archive must hold are read back from the queues (LRANGE), never built by the test.
"""
import json
import os
import re
import subprocess
import time

import harness

FIXTURE = harness.FIXTURES / "ticket_status_change.json"
UNICODE = harness.FIXTURES / "variants/ticket_status_change.unicode.json"
TWO = harness.FIXTURES / "variants/ticket_status_change.two_events.json"
NOTE = harness.FIXTURES / "note_deletion.json"
STATUS, NOTE_TYPE = "ticket_status_change", "note_deletion"


def with_ticket(path, ticket, marker=None):
    """The fixture's bytes, pretty-printed as sent, for another ticket (and a distinct marker)."""
    raw = path.read_bytes()
    body = json.loads(raw)
    old = str(body["TicketId"]).encode()
    raw = raw.replace(old, str(ticket).encode())
    if marker is not None:   # in the first event itself: the event's bytes decide its id
        raw = re.sub(rb'("Events": \[\s*\{)', rb'\1"Marker": "%s", ' % marker.encode(), raw, count=1)
    return raw


class ArchiveTest(harness.StackTest):
    def setUp(self):
        if not harness.QUEUES or not os.access(harness.QUEUES, os.X_OK):
            self.fail(f"queues binary {harness.QUEUES!r} missing: pass --queues or BOARDHOOK_QUEUES")
        self.stack.redis_cmd("FLUSHALL")

    def tool(self, *args, code=0):
        """boardhook-queues with the handler's own settings; asserts its exit code."""
        r = subprocess.run([harness.QUEUES, *args], env=self.stack.handler_environment(), capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, code, f"boardhook-queues {' '.join(args)}: {r}")
        return r

    def archived(self, *filters):
        """(stream ids, envelopes) of `archive [filters] --json`, oldest first."""
        r = self.tool("archive", *filters, "--limit", "100000", "--json")
        listed = json.loads(r.stdout)
        for entry in listed:
            self.assertEqual(set(entry), {"archive_id", "archived_at", "type", "ticket", "envelope"}, entry)
        return listed

    def post(self, body):
        """POST one notification; returns its envelopes as queued (the newest of their queue)."""
        event_type = json.loads(body)["EventType"]
        r = self.stack.post(body)
        self.assertEqual(r.status, 200, self.why(r))
        stored = r.json()["stored"]
        return list(reversed(self.stack.redis_cmd("LRANGE", self.stack.queue_key(event_type), 0, stored - 1)))

    def key(self, *parts):
        return ":".join((self.stack.prefix,) + parts)

    def xlen(self):
        return self.stack.redis_cmd("XLEN", self.key("archive"))

    def snapshot(self):
        """Every key and what it holds (the archive included), to compare before and after."""
        state = {}
        for k in self.stack.keys():
            kind = self.stack.redis_cmd("TYPE", k)
            if kind == "list":
                state[k] = self.stack.redis_cmd("LRANGE", k, 0, -1)
            elif kind == "stream":
                state[k] = self.stack.redis_cmd("XRANGE", k, "-", "+")
            elif kind == "hash":
                state[k] = sorted(self.stack.redis_cmd("HGETALL", k))
            elif kind == "set":
                state[k] = sorted(self.stack.redis_cmd("SMEMBERS", k))
            else:
                state[k] = (kind, self.stack.redis_cmd("DUMP", k))
        return state


class ArchiveSelection(ArchiveTest):
    """Deduplication on, as a production handler would run: it must not skip a replay."""
    stack_options = {"prefix": "bha", "handler_env": {"BOARDHOOK_ARCHIVE_SECONDS": "3600",
                                                      "BOARDHOOK_DEDUP_SECONDS": "600"}}

    def post_over_time(self):
        """Three rounds a second and more apart, each of distinct tickets and both types; returns
        [(first POST time, last POST time, [envelope bytes])] per round."""
        rounds = []
        for n in range(3):
            started = time.time()
            envelopes = []
            envelopes += self.post(with_ticket(FIXTURE, 8100000 + n, f"round {n} a"))
            envelopes += self.post(with_ticket(UNICODE, 8200000 + n, f"round {n} b"))
            envelopes += self.post(with_ticket(NOTE, 8300000 + n))
            envelopes += self.post(with_ticket(FIXTURE, 8100000 + n, f"round {n} c"))   # a ticket's second event
            rounds.append((started, time.time(), envelopes))
            time.sleep(1.2)
        # A ticketless event whose own content names a "ticket_id" of one of them: not that ticket's.
        body = json.loads(NOTE.read_bytes())
        del body["TicketId"]
        body["Events"][0]["Custom"] = {"ticket_id": 8100001}
        no_ticket = self.post(json.dumps(body, separators=(",", ":")).encode())
        self.assertIsNone(json.loads(no_ticket[0])["ticket_id"])
        return rounds, no_ticket

    def test_archive_lists_exactly_what_was_queued_by_ticket_type_and_time(self):
        rounds, no_ticket = self.post_over_time()
        everything = [e for _, _, envelopes in rounds for e in envelopes] + no_ticket
        self.assertEqual(self.xlen(), len(everything))

        listed = self.archived()
        self.assertEqual([e["envelope"] for e in listed], [json.loads(e) for e in everything],
                         "the archive is not every queued envelope, in the order queued")
        self.assertEqual([e["ticket"] for e in listed], [json.loads(e)["ticket_id"] for e in everything])

        def ids(envelopes):
            return [json.loads(e)["id"] for e in envelopes]

        def listed_ids(*filters):
            return [e["envelope"]["id"] for e in self.archived(*filters)]

        ticket = [e for e in everything if json.loads(e)["ticket_id"] == 8100001]
        self.assertEqual(len(ticket), 2)
        self.assertEqual(listed_ids("--ticket", "8100001"), ids(ticket), "by ticket")
        notes = [e for e in everything if json.loads(e)["event_type"] == NOTE_TYPE]
        self.assertEqual(listed_ids("--type", NOTE_TYPE), ids(notes), "by type")
        self.assertEqual(listed_ids("--type", NOTE_TYPE, "--ticket", "8300002"), ids(notes[2:3]), "by type and ticket")
        started, ended, middle = rounds[1]
        self.assertEqual(listed_ids("--since", harness.rfc3339_ms(started), "--until", harness.rfc3339_ms(ended + 0.001)),
                         ids(middle), "by time range")
        self.assertEqual(listed_ids("--since", harness.rfc3339_ms(rounds[2][0])), ids(rounds[2][2] + no_ticket), "since")
        self.assertEqual(listed_ids("--until", harness.rfc3339_ms(rounds[0][1] + 0.001)), ids(rounds[0][2]), "until")
        self.assertEqual(listed_ids("--type", STATUS, "--since", harness.rfc3339_ms(started),
                                    "--until", harness.rfc3339_ms(ended + 0.001)),
                         ids([e for e in middle if json.loads(e)["event_type"] == STATUS]), "type and time")
        # Nothing selected: exit 1 and an empty list.
        self.assertEqual(json.loads(self.tool("archive", "--ticket", "999", "--json", code=1).stdout), [])

        # Lines: one per event, newest first with --newest, --limit honoured.
        lines = self.tool("archive", "--ticket", "8100001").stdout.decode().splitlines()
        self.assertEqual(len(lines), 2, lines)
        for line, envelope in zip(lines, ticket):
            self.assertIn(json.loads(envelope)["id"][:16], line)
            self.assertIn("ticket 8100001", line)
        newest = self.tool("archive", "--newest", "--limit", "1", "--json").stdout
        self.assertEqual([e["envelope"]["id"] for e in json.loads(newest)], ids(no_ticket))

    def test_export_round_trips_every_envelope_byte_for_byte(self):
        envelopes = []
        for n, path in enumerate([FIXTURE, UNICODE, NOTE, TWO, FIXTURE]):
            envelopes += self.post(with_ticket(path, 8400000 + n, f"export {n}"))
        out = self.stack.dir / "export.jsonl"
        r = self.tool("archive", "export", "--output", str(out))
        self.assertIn(b"exported 6 event(s)", r.stderr)
        raw = out.read_bytes()
        self.assertFalse((self.stack.dir / "export.jsonl.partial").exists())
        lines = raw.split(b"\n")
        self.assertEqual(lines[-1], b"", "the file does not end with a newline")
        exported = [json.loads(line) for line in lines[:-1]]
        self.assertEqual(len(exported), len(envelopes))
        for line, queued in zip(exported, envelopes):
            # The envelope as a JSON string: decoded, its UTF-8 bytes are the queued bytes.
            self.assertIsInstance(line["envelope"], str)
            self.assertEqual(line["envelope"].encode("utf-8"), queued, "not byte for byte")
            self.assertEqual(line["type"], json.loads(queued)["event_type"])
        self.assertIn(b"\n", envelopes[1], "the unicode fixture is no longer pretty-printed: the test lost its edge")
        self.assertIn("\u00fc".encode(), envelopes[1])
        # To stdout: the same bytes; with a filter: only those.
        self.assertEqual(self.tool("archive", "export").stdout, raw)
        by_ticket = self.tool("archive", "export", "--ticket", "8400003").stdout.splitlines()
        self.assertEqual([json.loads(l)["envelope"].encode() for l in by_ticket], envelopes[3:5])

    def test_replay_dry_run_changes_nothing_and_yes_queues_exactly_the_selection(self):
        envelopes = []
        for n in range(4):
            envelopes += self.post(with_ticket(FIXTURE, 8500000 + n % 2, f"replay {n}"))
        envelopes += self.post(with_ticket(NOTE, 8500000))
        queue = self.stack.queue_key(STATUS)
        # The workers took them: the queues are empty, the archive (and the seen keys) stay.
        self.stack.redis_cmd("DEL", queue, self.stack.queue_key(NOTE_TYPE))
        self.assertTrue(self.stack.keys(self.key("seen:*")), "deduplication is not on")
        before = self.snapshot()

        r = self.tool("replay", "--from-archive", "--ticket", "8500000", "--type", STATUS, "--dry-run")
        out = r.stdout.decode()
        self.assertIn("would replay 2 archived event(s)", out)
        for envelope in (envelopes[0], envelopes[2]):
            self.assertIn(json.loads(envelope)["id"][:16], out)
        r = self.tool("replay", "--from-archive", "--ticket", "8500000", "--dry-run", "--json")
        dry = json.loads(r.stdout)
        self.assertEqual(dry["would_replay"], 3)
        self.assertEqual([s["envelope"]["id"] for s in dry["sample"]],
                         [json.loads(e)["id"] for e in (envelopes[0], envelopes[2], envelopes[4])])
        self.assertEqual(self.snapshot(), before, "--dry-run changed Redis")
        self.tool("replay", "--from-archive", "--ticket", "8500000", code=4)   # neither --dry-run nor --yes
        self.assertEqual(self.snapshot(), before)

        r = self.tool("replay", "--from-archive", "--ticket", "8500000", "--type", STATUS, "--yes")
        self.assertIn(b"replayed 2 archived event(s)", r.stdout)
        # Exactly the selection, byte for byte, oldest at the consuming end; not archived again.
        self.assertEqual(list(reversed(self.stack.redis_cmd("LRANGE", queue, 0, -1))), [envelopes[0], envelopes[2]])
        self.assertEqual(self.stack.redis_cmd("LLEN", self.stack.queue_key(NOTE_TYPE)), 0)
        self.assertEqual(self.xlen(), len(envelopes), "a replay was archived again")
        # Twice: two more copies (the deduplication window does not skip replays).
        self.tool("replay", "--from-archive", "--ticket", "8500000", "--type", STATUS, "--yes")
        self.assertEqual(self.stack.redis_cmd("LLEN", queue), 4)
        self.assertEqual(self.xlen(), len(envelopes))


class ArchiveRetention(ArchiveTest):
    stack_options = {"prefix": "bhr", "handler_env": {"BOARDHOOK_ARCHIVE_SECONDS": "2"}}

    def test_entries_older_than_the_window_are_trimmed_by_the_next_write(self):
        old = []
        for n in range(3):
            old += self.post(with_ticket(FIXTURE, 8600000 + n, f"old {n}"))
        self.assertEqual(self.xlen(), 3)
        time.sleep(2.5)
        new = []
        for n in range(2):
            new += self.post(with_ticket(FIXTURE, 8610000 + n, f"new {n}"))
        self.assertEqual(self.xlen(), 2, "the archive kept events older than BOARDHOOK_ARCHIVE_SECONDS")
        self.assertEqual([e["envelope"] for e in self.archived()], [json.loads(e) for e in new])
        # The queue itself is untouched by the archive's trimming.
        self.assertEqual(self.stack.redis_cmd("LLEN", self.stack.queue_key(STATUS)), 5)


class ArchiveOff(ArchiveTest):
    stack_options = {"prefix": "bhx"}

    def test_without_the_setting_nothing_is_archived_and_the_tool_says_so(self):
        self.post(with_ticket(FIXTURE, 8700000))
        self.assertEqual(self.stack.keys(self.key("archive")), [])
        r = self.tool("archive", code=1)
        self.assertIn(b"BOARDHOOK_ARCHIVE_SECONDS", r.stderr)


class ArchiveAtomicity(ArchiveTest):
    """Under Redis's maxmemory every POST is in its queue and in the archive, or in neither."""
    stack_options = {"prefix": "bhm", "handler_env": {"BOARDHOOK_ARCHIVE_SECONDS": "3600"}}

    def test_a_queue_push_and_its_archive_entry_are_written_together_or_not_at_all(self):
        used = int(re.search(rb"used_memory:(\d+)", self.stack.redis_cmd("INFO", "memory")).group(1))
        self.stack.redis_cmd("CONFIG", "SET", "maxmemory", str(used + 1_200_000))
        padding = "x" * 30_000
        answers = {}
        try:
            for n in range(40):
                body = json.loads(with_ticket(TWO if n % 3 == 0 else FIXTURE, 8800000 + n, f"oom {n}"))
                body["Events"][0]["Padding"] = padding
                r = self.stack.post(json.dumps(body).encode())
                answers[8800000 + n] = r.status
        finally:
            self.stack.redis_cmd("CONFIG", "SET", "maxmemory", "0")
        accepted = [t for t, status in answers.items() if status == 200]
        refused = [t for t, status in answers.items() if status != 200]
        print(f"\nunder maxmemory: {len(accepted)} POSTs answered 200, {len(refused)} refused "
              f"({sorted(set(answers.values()))})", flush=True)
        self.assertTrue(accepted and refused, f"maxmemory did not cut the run in two: {answers}")
        self.assertEqual(set(answers.values()), {200, 503})   # no spool here: refused is 503
        queued = self.stack.redis_cmd("LRANGE", self.stack.queue_key(STATUS), 0, -1)
        archived = [dict(zip(f[::2], f[1::2]))[b"envelope"]
                    for _, f in self.stack.redis_cmd("XRANGE", self.key("archive"), "-", "+")]
        self.assertEqual(list(reversed(queued)), archived, "queue and archive differ")
        tickets = {json.loads(e)["ticket_id"] for e in queued}
        self.assertEqual(tickets, set(accepted), "a 200 not queued, or a refused POST queued")
        self.assertEqual(len(queued), sum(2 if (t - 8800000) % 3 == 0 else 1 for t in accepted))


class ArchiveBehindSentinel(ArchiveTest):
    """The handler and the tool on a redis-sentinel:// URL (one loopback Sentinel monitoring the
    stack's Redis, from redis/sentinel.conf): the archive is written and read as with redis://."""
    stack_options = {"prefix": "bhs", "handler_env": {"BOARDHOOK_ARCHIVE_SECONDS": "3600"}}

    def test_the_archive_works_unchanged_behind_sentinel(self):
        folder = self.stack.dir / "sentinel"
        folder.mkdir()
        port = harness.free_port()
        text = (harness.REPO / "redis/sentinel.conf").read_text()
        text = re.sub(r"^sentinel monitor boardhook .*$", f"sentinel monitor boardhook 127.0.0.1 {self.stack.redis_port} 1",
                      text, flags=re.MULTILINE)
        text = re.sub(r"^port .*$", f"port {port}", text, flags=re.MULTILINE)
        (folder / "sentinel.conf").write_text(text + f"dir {folder}\n")
        sentinel = harness.Process("redis-sentinel", [harness.find_program("redis-server"), str(folder / "sentinel.conf"),
                                                     "--sentinel"], folder / "sentinel.log")
        self.addCleanup(sentinel.stop)
        harness.wait_for(lambda: harness.redis_command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "boardhook")
                         == [b"127.0.0.1", str(self.stack.redis_port).encode()], "sentinel knows the primary", sentinel)
        self.stack.handler_env["BOARDHOOK_REDIS_URL"] = f"redis-sentinel://127.0.0.1:{port}#boardhook"
        self.stack.handler.stop()
        self.stack.start_handler()
        envelopes = []
        for n in range(3):
            envelopes += self.post(with_ticket(FIXTURE, 8900000 + n, f"sentinel {n}"))
        self.assertIn("sentinel", self.stack.handler_log().lower())
        self.assertEqual([e["envelope"] for e in self.archived("--ticket", "8900001")], [json.loads(envelopes[1])])
        self.stack.redis_cmd("DEL", self.stack.queue_key(STATUS))
        self.tool("replay", "--from-archive", "--yes")
        self.assertEqual(list(reversed(self.stack.redis_cmd("LRANGE", self.stack.queue_key(STATUS), 0, -1))), envelopes)
        self.assertEqual(self.xlen(), 3)


if __name__ == "__main__":
    harness.main()
