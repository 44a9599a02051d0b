"""test_acme.py -- a real ACME CA (pebble) issues and renews the certificate of the shipped site through scripts/issue-cert.

The operator's whole path on loopback: Debian's pebble and pebble-challtestsrv (DNS: every name is
127.0.0.1), nginx serving nginx/boardhook-site.conf.in for hooks.example.test on free ports,
scripts/issue-cert obtaining the certificate over HTTP-01 through that nginx's port-80 server,
nginx reloaded onto it, and webhook requests over HTTPS from a client that trusts only pebble's
root. Then `certbot renew --force-renewal` runs the deploy hook issue-cert installed, which
reloads nginx: the new certificate is served. No self-signed certificate anywhere: pebble's own
API certificate comes from the test's development CA.
"""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import unittest
import urllib.request
from pathlib import Path

import harness

NAME = "hooks.example.test"
EMAIL = "ops@example.test"


def first_cert_der(pem_path):
    """The DER bytes of the first certificate in a PEM file (the leaf of a fullchain)."""
    text = Path(pem_path).read_text()
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(text[text.index("-----BEGIN CERTIFICATE-----"):end])


def serial_of(pem_path):
    return subprocess.run(["openssl", "x509", "-in", str(pem_path), "-noout", "-serial"],
                          capture_output=True, text=True, check=True).stdout.strip()


class SiteHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port that sends SNI and checks the certificate for NAME."""

    def __init__(self, port, context, timeout=15):
        super().__init__(NAME, port, context=context, timeout=timeout)
        self.tls_context = context

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=NAME)


class Acme(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("Acme", spool=False)
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()
        cls.dir = cls.stack.dir / "acme"
        cls.dir.mkdir()
        cls.http_port, cls.site_port = harness.free_port(), harness.free_port()
        cls.start_pebble()

    # ---- the CA ---------------------------------------------------------------------------
    @classmethod
    def start_pebble(cls):
        d = cls.dir
        dns_port, challsrv_port = harness.free_udp_and_tcp_port(), harness.free_port()
        acme_port, management_port = harness.free_port(), harness.free_port()
        challtestsrv = harness.Process("pebble-challtestsrv", [
            harness.find_program("pebble-challtestsrv"),
            "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", f"127.0.0.1:{challsrv_port}"], d / "challtestsrv.log")
        cls.addClassCleanup(challtestsrv.stop)
        # pebble's own API certificate: the development CA's localhost certificate, so that
        # certbot trusts it through the CA bundle (no self-signed certificate).
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cls.stack.dir / "ca/server.pem"),
            "privateKey": str(cls.stack.dir / "ca/server.key"),
            "httpPort": cls.http_port,          # HTTP-01 goes to the site's port-80 server
            "tlsPort": harness.free_port(),     # TLS-ALPN-01: not used
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False}}
        (d / "pebble.json").write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
        env.update(PEBBLE_VA_NOSLEEP="1",      # no random delay before validating
                   PEBBLE_WFE_NONCEREJECT="0")  # no deliberately refused nonces
        pebble = harness.Process("pebble", [
            harness.find_program("pebble"), "-config", str(d / "pebble.json"),
            "-dnsserver", f"127.0.0.1:{dns_port}"], d / "pebble.log", env)
        cls.addClassCleanup(pebble.stop)
        cls.pebble = pebble
        cls.directory = f"https://127.0.0.1:{acme_port}/dir"
        dev_ca = ssl.create_default_context(cafile=str(cls.stack.ca))

        def get(url):
            with urllib.request.urlopen(url, context=dev_ca, timeout=5) as r:
                return r.read()
        harness.wait_for(lambda: json.loads(get(cls.directory)).get("newOrder"),
                         "pebble's ACME directory", pebble)

        def challtestsrv_listening():
            socket.create_connection(("127.0.0.1", challsrv_port), timeout=1).close()
            return True
        harness.wait_for(challtestsrv_listening, "challtestsrv", challtestsrv)
        # pebble makes new roots at every start: fetch them now. The bundle certbot and
        # issue-cert get trusts pebble's API (development CA) and what pebble issues (its root).
        cls.root = d / "pebble-root.pem"
        cls.root.write_bytes(get(f"https://127.0.0.1:{management_port}/roots/0"))
        cls.bundle = d / "ca-bundle.pem"
        cls.bundle.write_bytes(cls.stack.ca.read_bytes() + cls.root.read_bytes())

    # ---- nginx ----------------------------------------------------------------------------
    def render_site(self, cert, key):
        """Render nginx/boardhook-site.conf.in into nginx's sites-enabled/ and reload nginx."""
        state = self.stack.dir / "nginx"
        (state / "sites-enabled").mkdir(exist_ok=True)
        self.webroot.mkdir(mode=0o755, exist_ok=True)
        subprocess.run([harness.REPO / "scripts/lib/render-nginx", "--site",
                        "--server-name", NAME,
                        "--http-listen", f"127.0.0.1:{self.http_port}",
                        "--listen", f"127.0.0.1:{self.site_port}",
                        "--cert", str(cert), "--key", str(key),
                        "--acme-webroot", str(self.webroot),
                        "--snippets-dir", str(state),
                        "-o", str(state / "sites-enabled/boardhook-site.conf")], check=True)
        self.stack.nginx.signal(signal.SIGHUP)

    def reload_command(self):
        state = self.stack.dir / "nginx"
        return (f"{harness.find_program('nginx')} -p {state} -c {state}/nginx.conf "
                f"-e {state}/error.log -s reload")

    def pebble_context(self):
        """A client that trusts pebble's root and nothing else."""
        return ssl.create_default_context(cafile=str(self.root))

    def served_cert_der(self):
        conn = SiteHTTPS(self.site_port, self.pebble_context(), 5)
        try:
            conn.connect()
            return conn.sock.getpeercert(binary_form=True)
        finally:
            conn.close()

    def wait_until_served(self, pem, timeout=15):
        """Wait until nginx serves the leaf of `pem` on the site's port (reloads are asynchronous)."""
        want, deadline, last = first_cert_der(pem), time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                if self.served_cert_der() == want:
                    return
            except (OSError, ssl.SSLError) as e:
                last = e
            time.sleep(0.1)
        self.fail(f"nginx does not serve {pem} after {timeout} s (last error: {last})\n"
                  f"{harness.tail(self.stack.dir / 'nginx/error.log')}")

    def request(self, method, target, body=None, headers=None):
        conn = SiteHTTPS(self.site_port, self.pebble_context())
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.headers, r.read(), 0)
        finally:
            conn.close()

    def certbot_dirs(self):
        d = self.dir
        return ["--config-dir", str(d / "letsencrypt"), "--work-dir", str(d / "certbot-work"),
                "--logs-dir", str(d / "certbot-logs")]

    # ---- the test -------------------------------------------------------------------------
    def assertWebhookWorks(self, what):
        """A verification GET and a POST of a fixture over the site's HTTPS, trusting pebble only."""
        r = self.request("GET", f"/webhooks?challenge=acme-{what}&verifyToken={self.stack.token}")
        self.assertEqual((r.status, r.body), (200, f"acme-{what}".encode()), self.stack.why(r))
        self.assertEqual(r.header("Strict-Transport-Security"), "max-age=63072000", self.stack.why(r))

        raw = (harness.FIXTURES / "ticket_status_change.json").read_bytes()
        r = self.request("POST", "/webhooks", raw, {"Content-Type": "application/json"})
        self.assertEqual((r.status, r.json()), (200, {"stored": 1}), self.stack.why(r))
        element = self.stack.redis_cmd("RPOP", self.stack.queue_key("ticket_status_change"))
        self.assertIsNotNone(element, "the POST answered 200 but nothing is queued")
        self.assertEqual(harness.member_bytes(element, "event"),
                         harness.array_items(harness.member_bytes(raw, "Events"))[0])
        self.assertEqual(json.loads(element)["delivery"], r.request_id)

    def test_issue_serve_and_renew_a_certificate_from_pebble(self):
        started = time.monotonic()
        self.webroot = self.dir / "webroot"
        # Until the first certificate exists the site's 443 server needs one to load at all:
        # the development CA's (issued for localhost, so a client of the test name refuses it).
        self.render_site(self.stack.dir / "ca/server.pem", self.stack.dir / "ca/server.key")

        def port_80_redirects():
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=2)
            try:
                conn.request("POST", "/webhooks?x=1", body=b"{}", headers={"Host": NAME})
                r = conn.getresponse()
                return r.status == 308 and r.getheader("Location") == f"https://{NAME}/webhooks?x=1"
            finally:
                conn.close()
        harness.wait_for(port_80_redirects, "the site's port-80 server", self.stack.nginx)

        # Issue through the shipped script and the site's port-80 server.
        issue = subprocess.run(
            [harness.REPO / "scripts/issue-cert", NAME, EMAIL, "--server", self.directory,
             "--ca-bundle", str(self.bundle), "--webroot", str(self.webroot),
             *self.certbot_dirs(), "--reload-command", self.reload_command()],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(issue.returncode, 0,
                         f"issue-cert failed:\n{issue.stdout}\n{issue.stderr}\n--- pebble ---\n"
                         f"{harness.tail(self.dir / 'pebble.log', 30)}")
        self.assertIn(f"certificate for {NAME}: OK", issue.stdout)
        live = self.dir / "letsencrypt/live" / NAME
        hook = self.dir / "letsencrypt/renewal-hooks/deploy/boardhook-reload-nginx"
        self.assertTrue(os.access(hook, os.X_OK), f"{hook} missing or not executable")
        first_serial = serial_of(live / "cert.pem")
        print(f"\nissued {first_serial} in {time.monotonic() - started:.1f} s", flush=True)

        # The operator's next step: the site points at certbot's files; reload.
        self.render_site(live / "fullchain.pem", live / "privkey.pem")
        self.wait_until_served(live / "fullchain.pem")
        self.assertWebhookWorks("issued")

        # Renewal: certbot alone; its deploy hook must reload nginx onto the new certificate.
        renew = subprocess.run(
            ["certbot", "renew", "--force-renewal", "--non-interactive", "--no-random-sleep-on-renew",
             *self.certbot_dirs()],
            env={**os.environ, "REQUESTS_CA_BUNDLE": str(self.bundle)},
            capture_output=True, text=True, timeout=120)
        self.assertEqual(renew.returncode, 0, f"certbot renew failed:\n{renew.stdout}\n{renew.stderr}")
        self.assertIn("boardhook-reload-nginx", renew.stdout + renew.stderr,
                      "certbot did not run the deploy hook")
        second_serial = serial_of(live / "cert.pem")
        self.assertNotEqual(first_serial, second_serial, "renewal kept the old certificate")
        self.wait_until_served(live / "fullchain.pem")
        self.assertWebhookWorks("renewed")
        print(f"renewed {first_serial} -> {second_serial}; "
              f"{time.monotonic() - started:.1f} s in all", flush=True)


if __name__ == "__main__":
    harness.main()
