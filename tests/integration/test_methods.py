"""test_methods.py -- methods other than GET and POST get 405 with Allow; other paths get nginx's JSON 404."""
import harness


class Methods(harness.StackTest):

    def test_other_methods_get_405_with_allow_and_store_nothing(self):
        raw = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            with self.subTest(method=method):
                r = self.stack.request(method, "/webhooks", body=raw,
                                       headers={"Content-Type": "application/json"})
                self.assertJsonError(r, 405, "method_not_allowed")
                self.assertEqual(r.header("Allow"), "GET, POST", self.why(r))
        r = self.stack.request("HEAD", "/webhooks")
        self.assertEqual((r.status, r.header("Allow"), r.body), (405, "GET, POST", b""), self.why(r))
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:queue:*"), [], "a 405 stored events")

    def test_every_other_path_is_a_json_404_from_nginx(self):
        raw = (harness.FIXTURES / "note_deletion.json").read_bytes()
        for method, path in (("GET", "/"), ("POST", "/webhook"), ("POST", "/webhooks/"),
                             ("POST", "/webhooks.php"), ("GET", "/WEBHOOKS"),
                             ("GET", f"/other?challenge=1&verifyToken={self.stack.token}")):
            with self.subTest(method=method, path=path):
                r = self.stack.request(method, path, body=raw if method == "POST" else None)
                self.assertJsonError(r, 404, "not_found")
                self.assertNotIn(b"nginx", r.body)
        self.assertEqual(self.stack.keys(f"{self.stack.prefix}:*"), [], "a 404 touched Redis")


if __name__ == "__main__":
    harness.main()
