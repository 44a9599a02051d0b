"""test_rejects.py -- every bad fixture is refused with its README's code and kept in <prefix>:rejected."""
import json
import time

import harness

KEEP = 8   # BOARDHOOK_REJECTED_KEEP for this test, small enough to see the cap


class Rejects(harness.StackTest):
    stack_options = {"handler_env": {"BOARDHOOK_REJECTED_KEEP": str(KEEP)}}

    def rejected_key(self):
        return f"{self.stack.prefix}:rejected"

    def post_rejected(self, raw, status, codes):
        """POST `raw`, expect an error answer; return it and the newest rejected record."""
        started = time.time()
        r = self.stack.post(raw)
        answer = self.assertJsonError(r, status, codes)
        record = json.loads(self.stack.redis_cmd("LINDEX", self.rejected_key(), 0))
        self.assertEqual(set(record), {"at", "request_id", "status", "reason", "detail", "body_bytes",
                                       "body_encoding", "body_truncated", "body"}, self.why(r))
        self.assertEqual(record["request_id"], r.request_id, "newest record is not this request's")
        self.assertEqual((record["status"], record["reason"]), (status, answer["error"]))
        self.assertEqual(record["body_bytes"], len(raw))
        self.assertRfc3339Millis(record["at"], not_before=started)
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:*"), [self.rejected_key()],
                         "a rejected POST created other keys")
        return answer, record

    def test_the_readme_table_covers_every_bad_fixture(self):
        files = {p.name for p in (harness.FIXTURES / "bad").glob("*.json")}
        self.assertEqual(set(harness.bad_fixture_cases()), files)

    def test_every_bad_fixture_is_refused_and_kept_byte_for_byte(self):
        for name, (status, codes, field) in sorted(harness.bad_fixture_cases().items()):
            with self.subTest(fixture=name):
                raw = (harness.FIXTURES / "bad" / name).read_bytes()
                answer, record = self.post_rejected(raw, status, codes)
                if field:
                    self.assertIn(field, answer["detail"], "detail does not name the field")
                try:
                    raw.decode("utf-8")
                    self.assertEqual(record["body_encoding"], "utf-8")
                except UnicodeDecodeError:
                    self.assertEqual(record["body_encoding"], "base64")
                self.assertEqual(harness.decode_record_body(record), raw)
                self.assertIs(record["body_truncated"], False)

    def test_a_long_body_is_kept_cut_at_64_kib(self):
        # Invalid JSON of 100 KiB whose 64 KiB mark falls inside a two-byte character.
        head = b'{"CommunityName":"'
        raw = head + b"x" * (65535 - len(head)) + "æ".encode() * 20000 + b'"'
        self.assertEqual(raw[65535:65537], "æ".encode())
        answer, record = self.post_rejected(raw, 400, "invalid_json")
        self.assertIs(record["body_truncated"], True)
        kept = harness.decode_record_body(record)
        self.assertTrue(65536 - 3 <= len(kept) <= 65536, f"kept {len(kept)} bytes")
        self.assertEqual(kept, raw[:len(kept)])

    def test_the_rejected_list_is_capped(self):
        for i in range(KEEP + 3):
            self.stack.post(b'{"truncated": ' + str(i).encode())
        self.assertEqual(self.stack.redis_cmd("LLEN", self.rejected_key()), KEEP)
        newest = json.loads(self.stack.redis_cmd("LINDEX", self.rejected_key(), 0))
        self.assertEqual(harness.decode_record_body(newest), b'{"truncated": ' + str(KEEP + 2).encode())


if __name__ == "__main__":
    harness.main()
