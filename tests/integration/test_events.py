"""test_events.py -- every good fixture POSTed lands in its Redis list, byte for byte, in order."""
import json
import time

import harness


def good_fixtures():
    found = sorted(harness.FIXTURES.glob("*.json")) + sorted(harness.FIXTURES.glob("variants/*.json"))
    assert len(found) >= 8, f"only {len(found)} good fixtures found in {harness.FIXTURES}"
    return found


def expected_ticket_id(envelope, item):
    """TicketId, else the item's Ticket.Id, else None (the contract's rule)."""
    if "TicketId" in envelope:
        return envelope["TicketId"]
    ticket = item.get("Ticket") if isinstance(item, dict) else None
    return ticket.get("Id") if isinstance(ticket, dict) else None


class Events(harness.StackTest):

    def post_and_take(self, raw, content_type="application/json", chunked=False):
        """POST `raw`; return the response, the events it queued (oldest, i.e. RPOP, first) and
        the time it was sent. `chunked` sends it in two chunks, without a Content-Length."""
        envelope = json.loads(raw)
        queue = self.stack.queue_key(envelope["EventType"])
        self.assertEqual(self.stack.redis_cmd("LLEN", queue), 0, "queue not empty before the POST")
        started = time.time()
        r = self.stack.post(iter([raw[:40], raw[40:]]) if chunked else raw, content_type)
        taken = []
        while (element := self.stack.redis_cmd("RPOP", queue)) is not None:
            taken.append(element)
        return r, taken, started

    def check_stored(self, raw, r, taken, started):
        """The answer is 200 {"stored":N} and `taken` holds the N envelopes the contract defines."""
        envelope = json.loads(raw)
        items = harness.array_items(harness.member_bytes(raw, "Events"))
        self.assertEqual(len(items), len(envelope["Events"]), "fixture scanner disagrees with json")
        self.assertEqual(r.status, 200, self.why(r))
        self.assertTrue(r.header("Content-Type").startswith("application/json"), self.why(r))
        self.assertEqual(r.json(), {"stored": len(items)}, self.why(r))
        self.assertCommonHeaders(r)
        self.assertEqual(len(taken), len(items), self.why(r))
        for index, (item, element) in enumerate(zip(items, taken)):
            stored = json.loads(element)
            self.assertEqual(set(stored), {"id", "delivery", "received_at", "community", "event_type",
                                           "ticket_id", "index", "count", "event"})
            self.assertEqual(harness.member_bytes(element, "event"), item,
                             f"event {index} is not the item's bytes as sent")
            self.assertEqual(stored["event"], json.loads(item))
            ticket_id = expected_ticket_id(envelope, stored["event"])
            self.assertEqual(stored["id"], harness.event_id(envelope["EventType"], ticket_id, item))
            self.assertEqual(stored["delivery"], r.request_id)
            self.assertEqual(stored["community"], envelope["CommunityName"])
            self.assertEqual(stored["event_type"], envelope["EventType"])
            self.assertEqual(stored["ticket_id"], ticket_id)
            self.assertEqual((stored["index"], stored["count"]), (index, len(items)))
            self.assertRfc3339Millis(stored["received_at"], not_before=started)

    def test_every_good_fixture_is_stored_byte_for_byte(self):
        types = set()
        for path in good_fixtures():
            with self.subTest(fixture=path.name):
                raw = path.read_bytes()
                self.check_stored(raw, *self.post_and_take(raw))
                if json.loads(raw)["Events"]:
                    types.add(json.loads(raw)["EventType"])
        self.assertGreaterEqual(len(types), 3)
        members = {m.decode() for m in self.stack.redis_cmd("SMEMBERS", f"{self.stack.prefix}:event-types")}
        self.assertLessEqual(types, members, "event-types lacks a type that was queued")
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:queue:*"), [], "unexpected queue left")

    def test_two_events_come_out_in_index_order(self):
        raw = (harness.FIXTURES / "variants/ticket_status_change.two_events.json").read_bytes()
        r, taken, started = self.post_and_take(raw)
        self.check_stored(raw, r, taken, started)
        self.assertEqual([json.loads(e)["index"] for e in taken], [0, 1])
        self.assertEqual([json.loads(e)["event"] for e in taken], json.loads(raw)["Events"])

    def test_empty_events_are_answered_200_and_queue_nothing(self):
        raw = (harness.FIXTURES / "variants/ticket_status_change.empty_events.json").read_bytes()
        queue = self.stack.queue_key("ticket_status_change")
        r = self.stack.post(raw)
        self.assertEqual((r.status, r.json()), (200, {"stored": 0}), self.why(r))
        self.assertEqual(self.stack.redis_cmd("EXISTS", queue), 0, "empty Events created a queue")

    def test_a_redelivered_event_gets_the_same_id_and_a_new_delivery(self):
        raw = (harness.FIXTURES / "note_deletion.json").read_bytes()
        first, second = (json.loads(self.post_and_take(raw)[1][0]) for _ in range(2))
        self.assertEqual(first["id"], second["id"])
        self.assertNotEqual(first["delivery"], second["delivery"])

    def test_content_type_and_chunked_framing_do_not_matter(self):
        raw = (harness.FIXTURES / "note_deletion.json").read_bytes()
        for label, kw in (("no Content-Type", {"content_type": None}),
                          ("text/plain", {"content_type": "text/plain"}),
                          ("chunked, no Content-Length", {"chunked": True})):
            with self.subTest(label):
                self.check_stored(raw, *self.post_and_take(raw, **kw))



    def test_any_utf8_event_type_is_queued_under_its_encoded_key_and_none_collide(self):
        # The protocol asks only for a non-empty string; Socialboards keeps no copy, so a refusal
        # would lose the event. Plain names keep their keys; other bytes are written %XX.
        types = ("Ticket cr\u00e9\u00e9", "a b:c*", "50%", "a%20b", "tab\there", "x" * 200)
        for event_type in types:
            with self.subTest(event_type=event_type):
                raw = json.dumps({"CommunityName": "c", "EventType": event_type, "TicketId": 7,
                                  "Events": [{"Note": event_type}]}).encode()
                r, taken, started = self.post_and_take(raw)
                self.check_stored(raw, r, taken, started)
        self.assertEqual(harness.type_key_part("a b:c*"), "a%20b%3Ac%2A")
        self.assertEqual(len({harness.type_key_part(t) for t in types}), len(types))
        members = {m.decode() for m in self.stack.redis_cmd("SMEMBERS", f"{self.stack.prefix}:event-types")}
        self.assertTrue(set(types) <= members, "the event-types set does not hold the types as sent")
        too_long = json.dumps({"CommunityName": "c", "EventType": "x" * 201, "Events": [{}]}).encode()
        r = self.stack.post(too_long)
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_envelope"), self.why(r))


if __name__ == "__main__":
    harness.main()
