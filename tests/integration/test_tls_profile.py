"""test_tls_profile.py -- testssl grades the shipped site's TLS: TLS 1.2+ only, Mozilla intermediate ciphers only, HSTS.

nginx serves nginx/boardhook-site.conf.in on a free loopback port with a certificate from the
development CA (scripts/lib/make-dev-ca), and Debian's `testssl` checks protocols, every cipher
per protocol and the HTTP headers, writing its findings with --jsonfile. The test fails on a
protocol below TLS 1.2 offered, a cipher outside Mozilla's intermediate profile offered, or an
HSTS header that is missing or shorter than two years.
"""
import json
import re
import signal
import socket
import subprocess
import time
import unittest

import harness

# The site's test name. The development certificate is for localhost only, but testssl grades the
# configuration, not the name; a name other than localhost gets the HSTS header on every answer
# (boardhook-upstream.conf keeps HSTS off localhost).
NAME = "hooks.example.test"

# Mozilla's "intermediate" profile (server-side TLS guidelines 6.0), by OpenSSL name. Written out
# here, not read from the config under test.
INTERMEDIATE_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
}
INTERMEDIATE_TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
TWO_YEARS = 63072000


class TlsProfile(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("TlsProfile")
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()
        cls.port = harness.free_port()
        state = cls.stack.dir / "nginx"
        (state / "sites-enabled").mkdir()
        subprocess.run([harness.REPO / "scripts/lib/render-nginx", "--site",
                        "--server-name", NAME,
                        "--http-listen", f"127.0.0.1:{harness.free_port()}",
                        "--listen", f"127.0.0.1:{cls.port}",
                        "--cert", str(cls.stack.dir / "ca/server.pem"),
                        "--key", str(cls.stack.dir / "ca/server.key"),
                        "--acme-webroot", str(cls.stack.dir / "webroot"),
                        "--snippets-dir", str(state),
                        "-o", str(state / "sites-enabled/boardhook-site.conf")], check=True)
        cls.stack.nginx.signal(signal.SIGHUP)

        def site_listening():
            socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
            return True
        harness.wait_for(site_listening, "the site's 443 server", cls.stack.nginx)

        started = time.monotonic()
        cls.jsonfile = cls.stack.dir / "testssl.json"
        cls.testssl = subprocess.run(
            [harness.find_program("testssl"), "--quiet", "--color", "0", "--warnings", "batch",
             "--protocols", "--cipher-per-proto", "--headers",
             "--jsonfile", str(cls.jsonfile), "--ip", "127.0.0.1", f"https://{NAME}:{cls.port}/"],
            capture_output=True, text=True, timeout=150)
        print(f"\ntestssl took {time.monotonic() - started:.1f} s", flush=True)
        cls.findings = {}
        if cls.jsonfile.exists():
            for entry in json.loads(cls.jsonfile.read_text()):
                cls.findings.setdefault(entry["id"], []).append(entry["finding"])

    def why(self):
        return (f"testssl exited {self.testssl.returncode}\n{self.testssl.stdout[-3000:]}\n{self.testssl.stderr[-2000:]}"
                f"\nfindings: {json.dumps(self.findings, indent=1)[:3000]}")

    def finding(self, id):
        self.assertIn(id, self.findings, f"testssl reported no {id!r}:\n{self.why()}")
        return self.findings[id][0]

    def test_only_tls_1_2_and_1_3_are_offered(self):
        for protocol in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            with self.subTest(protocol=protocol):
                self.assertTrue(self.finding(protocol).startswith("not offered"), self.why())
        for protocol in ("TLS1_2", "TLS1_3"):
            with self.subTest(protocol=protocol):
                self.assertTrue(self.finding(protocol).startswith("offered"), self.why())

    def test_every_cipher_offered_is_in_mozilla_intermediate(self):
        offered = {"1.2": set(), "1.3": set()}
        for id, findings in self.findings.items():
            if not id.startswith("cipher-"):
                continue
            match = re.match(r"^cipher-tls1_([23])_x[0-9a-f]+$", id)
            self.assertIsNotNone(match, f"a cipher offered outside TLS 1.2/1.3: {id} {findings}")
            # "TLS 1.2   xc02b   ECDHE-ECDSA-AES128-GCM-SHA256   ECDH 253 ..."
            offered["1." + match.group(1)].add(findings[0].split()[3])
        self.assertTrue(offered["1.2"] and offered["1.3"], f"no cipher list from testssl:\n{self.why()}")
        self.assertLessEqual(offered["1.2"], INTERMEDIATE_TLS12, "TLS 1.2 ciphers outside the profile")
        self.assertLessEqual(offered["1.3"], INTERMEDIATE_TLS13, "TLS 1.3 ciphers outside the profile")
        print(f"offered: TLS 1.2 {sorted(offered['1.2'])}, TLS 1.3 {sorted(offered['1.3'])}", flush=True)

    def test_hsts_is_sent_for_at_least_two_years(self):
        self.assertNotIn("not offered", self.findings.get("HSTS", [""])[0], f"HSTS missing:\n{self.why()}")
        seconds = re.search(r"=(\d+) seconds", self.finding("HSTS_time"))
        self.assertIsNotNone(seconds, self.why())
        self.assertGreaterEqual(int(seconds.group(1)), TWO_YEARS, self.why())


if __name__ == "__main__":
    harness.main()
