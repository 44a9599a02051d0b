"""test_verification.py -- the verification GET over real HTTPS: fixtures/verification.txt, decoding, TLS."""
import re
import ssl

import harness


def verification_cases():
    """(query, status, exact body or None) for each case line of fixtures/verification.txt."""
    cases = []
    for line in (harness.FIXTURES / "verification.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        query, expected = (part.strip() for part in line.split("=>", 1))
        body = re.search(r"body exactly: (.*)$", expected)
        cases.append((query, int(expected[:3]), body and body.group(1)))
    return cases


class Verification(harness.StackTest):

    def test_the_fixture_cases_get_the_answers_the_file_gives(self):
        cases = verification_cases()
        self.assertEqual([status for _, status, _ in cases], [200, 403, 400], "verification.txt changed")
        codes = {403: "invalid_verify_token", 400: "missing_challenge"}
        for query, status, body in cases:
            with self.subTest(query=query):
                r = self.stack.request("GET", "/webhooks" + query)
                if status == 200:
                    self.assertEqual(r.status, 200, self.why(r))
                    self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8", self.why(r))
                    self.assertEqual(r.body, body.encode(), self.why(r))
                    self.assertCommonHeaders(r)
                else:
                    self.assertJsonError(r, status, codes[status])
                    challenge = re.search(r"challenge=([^&]*)", query)
                    if challenge:
                        self.assertNotIn(challenge.group(1).encode(), r.body, "challenge echoed")

    def test_the_challenge_is_url_decoded(self):
        encoded = "a+b%2Bc%20d%2F%26x%3Dy~%41"
        r = self.stack.request("GET", f"/webhooks?challenge={encoded}&verifyToken={self.stack.token}")
        self.assertEqual(r.status, 200, self.why(r))
        self.assertEqual(r.body, b"a b+c d/&x=y~A", self.why(r))

    def test_the_parameters_are_found_among_others_in_any_order(self):
        token = self.stack.token
        for query in (f"verifyToken={token}&challenge=31337",
                      f"site=42&challenge=31337&utm_source=x&verifyToken={token}&z=",
                      f"a=1&a=2&verifyToken={token}&b=%20&challenge=31337&c",
                      f"challenge=31337&verifyToken={token}&"):
            with self.subTest(query=query):
                r = self.stack.request("GET", f"/webhooks?{query}")
                self.assertEqual(r.status, 200, self.why(r))
                self.assertEqual(r.body, b"31337", self.why(r))

    def test_a_missing_or_empty_token_is_refused_without_echo(self):
        for query, codes in (("challenge=5550001", "missing_verify_token"),
                             ("challenge=5550001&verifyToken=",
                              ["missing_verify_token", "invalid_verify_token"]),
                             (f"challenge=5550001&verifytoken={self.stack.token}",
                              ["missing_verify_token", "invalid_verify_token"])):
            with self.subTest(query=query):
                r = self.stack.request("GET", f"/webhooks?{query}")
                self.assertJsonError(r, 403, codes)
                self.assertNotIn(b"5550001", r.body)

    def test_an_empty_challenge_is_a_bad_request(self):
        r = self.stack.request("GET", f"/webhooks?challenge=&verifyToken={self.stack.token}")
        self.assertJsonError(r, 400, "missing_challenge")

    def test_the_token_stays_out_of_the_logs(self):
        r = self.stack.verify("77")
        self.assertEqual(r.status, 200, self.why(r))
        self.assertIsNotNone(self.stack.access_log_line(r.request_id), "request not in access.log")
        for log in ("nginx/access.log", "nginx/error.log", "handler.log"):
            text = (self.stack.dir / log).read_text(errors="replace")
            self.assertNotIn(self.stack.token, text, f"the verify token is written to {log}")

    def test_tls_uses_a_ca_signed_localhost_certificate_and_modern_versions(self):
        cert, version = self.stack.handshake(self.stack.tls_context())
        subject, issuer = dict(x[0] for x in cert["subject"]), dict(x[0] for x in cert["issuer"])
        self.assertEqual(subject["commonName"], "localhost")
        self.assertNotEqual(subject, issuer, "the server certificate is self-signed")
        self.assertIn("boardhook development CA", issuer["commonName"])
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

        tls12 = self.stack.tls_context()
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        self.assertEqual(self.stack.handshake(tls12)[1], "TLSv1.2")

        untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies, but trusts no CA
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.stack.handshake(untrusting)


if __name__ == "__main__":
    harness.main()
