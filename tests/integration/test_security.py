"""test_security.py -- the endpoint key, the community allowlist, the events limit, dropping root, Redis ACL users."""
import json
import os
import pwd
import socket
import subprocess
import unittest
from urllib.parse import quote

import harness

FIXTURE = harness.FIXTURES / "ticket_status_change.json"
COMMUNITY = json.loads(FIXTURE.read_bytes())["CommunityName"]   # the one community allowed below
KEY = "k3y-4b9e1f0c7d2a6e8f"
OTHER_KEY = "rotated-key-0123456789"


class EndpointKey(harness.StackTest):
    stack_options = {"handler_env": {"BOARDHOOK_ENDPOINT_KEY": f"{KEY},{OTHER_KEY}",
                                     "BOARDHOOK_COMMUNITIES": COMMUNITY,
                                     "BOARDHOOK_MAX_EVENTS": "1"}}

    def post(self, query, body=None):
        return self.stack.request("POST", f"/webhooks{query}", body=body or FIXTURE.read_bytes(),
                                  headers={"Content-Type": "application/json"})

    def queued(self):
        return self.stack.redis_cmd("LLEN", self.stack.queue_key("ticket_status_change"))

    def rejected_reasons(self):
        return [json.loads(r)["reason"] for r in self.stack.redis_cmd("LRANGE", "boardhook:rejected", 0, -1)]

    def test_a_post_without_the_right_key_is_refused_and_kept(self):
        before = self.queued()
        self.assertJsonError(self.post(""), 403, "missing_endpoint_key")
        self.assertJsonError(self.post("?key=" + KEY[:-1] + "x"), 403, "invalid_endpoint_key")
        self.assertJsonError(self.post(f"?key={KEY}&key={KEY}"), 400, "duplicate_parameter")
        self.assertEqual(self.queued(), before, "a forged POST was queued")
        self.assertIn("invalid_endpoint_key", self.rejected_reasons())
        for key in (KEY, OTHER_KEY):   # either key of a rotation
            r = self.post(f"?other=1&key={key}")
            self.assertEqual(r.status, 200, self.why(r))
        self.assertEqual(self.queued(), before + 2)
        self.assertNotIn(KEY, self.stack.handler_log())
        self.assertNotIn(OTHER_KEY, self.stack.handler_log())

    def test_verification_needs_no_key(self):
        r = self.stack.verify("77")
        self.assertEqual((r.status, r.body), (200, b"77"), self.why(r))

    def test_a_community_not_on_the_list_is_refused(self):
        body = FIXTURE.read_bytes().replace(json.dumps(COMMUNITY).encode(), b'"someone-else"', 1)
        self.assertNotEqual(body, FIXTURE.read_bytes())
        before = self.queued()
        self.assertJsonError(self.post(f"?key={KEY}", body), 403, "community_not_allowed")
        self.assertEqual(self.queued(), before)
        self.assertIn("community_not_allowed", self.rejected_reasons())

    def test_nginx_logs_neither_the_key_nor_the_token_while_the_handler_is_down(self):
        # nginx puts the request line, query included, in each error line of a location; the
        # webhook location logs only crit and worse, and the access log keeps the path alone.
        self.stack.handler.stop(10)
        try:
            r = self.post(f"?key={KEY}")
            self.assertJsonError(r, 503, "handler_unavailable")
            v = self.stack.verify("4242")
            self.assertEqual(v.status, 503, self.why(v))
        finally:
            self.stack.start_handler()
        nginx_dir = self.stack.dir / "nginx"
        logs = {path.name: path.read_text(errors="replace")
                for path in [*nginx_dir.glob("*.log"), self.stack.dir / "nginx.stderr"] if path.exists()}
        self.assertIn("access.log", logs)
        for name, text in logs.items():
            with self.subTest(log=name):
                self.assertNotIn(KEY, text, f"the endpoint key is in nginx's {name}")
                self.assertNotIn(self.stack.token, text, f"the verify token is in nginx's {name}")
        line = self.stack.access_log_line(r.request_id)
        self.assertIsNotNone(line, "the failed POST is not in the access log")
        self.assertIn('"POST /webhooks"', line)
        self.assertRegex(line, r" 503 .* ustatus=50[24]", "the access log does not show the handler unreachable")

    def test_more_events_than_the_limit_are_refused(self):
        body = (harness.FIXTURES / "variants/ticket_status_change.two_events.json").read_bytes()
        self.assertJsonError(self.post(f"?key={KEY}", body), 400, "too_many_events")


# A password with every character a URL gives a meaning to.
ACL_USER, ACL_PASSWORD = "boardhook", "p@ss/w:rd%2F?#"


class AclStack(harness.Stack):
    """Redis with an ACL user; the handler logs in as that user, its password percent-encoded."""

    def __init__(self, name, **kw):
        super().__init__(name, redis_args=["--user", ACL_USER, "on", f">{ACL_PASSWORD}", "~*", "&*", "+@all"], **kw)

    def handler_environment(self):
        env = super().handler_environment()
        env["BOARDHOOK_REDIS_URL"] = f"redis://{ACL_USER}:{quote(ACL_PASSWORD, safe='')}@127.0.0.1:{self.redis_port}/0"
        return env


class RedisAclUser(harness.StackTest):
    @classmethod
    def setUpClass(cls):
        cls.stack = AclStack(cls.__name__)
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()
    def test_the_handler_logs_in_as_the_acl_user_with_a_percent_encoded_password(self):
        queue = self.stack.queue_key("ticket_status_change")
        before = self.stack.redis_cmd("LLEN", queue)
        r = self.stack.post(FIXTURE.read_bytes())
        self.assertEqual(r.status, 200, self.why(r))
        self.assertEqual(self.stack.redis_cmd("LLEN", queue), before + 1)
        clients = self.stack.redis_cmd("CLIENT", "LIST")
        self.assertIn(f" user={ACL_USER} ".encode(), clients, "no connection of the handler as the ACL user")
        self.assertNotIn(ACL_PASSWORD, self.stack.handler_log())

    def test_a_bad_url_stops_the_handler_showing_it_with_only_the_password_masked(self):
        env = self.stack.handler_environment()
        port = self.stack.redis_port
        for url, shown in ((f"redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{port}/0",   # not percent-encoded
                            f"redis://{ACL_USER}:***@127.0.0.1:{port}/0"),
                           (f"redis://{ACL_USER}:{quote(ACL_PASSWORD, safe='')}@127.0.0.1:{port}/x",
                            f"redis://{ACL_USER}:***@127.0.0.1:{port}/x"),
                           (f"redis://127.0.0.1:{port}/x", f"redis://127.0.0.1:{port}/x")):
            with self.subTest(url=url):
                r = subprocess.run([harness.HANDLER], env={**env, "BOARDHOOK_REDIS_URL": url},
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(f'BOARDHOOK_REDIS_URL="{shown}": ', r.stderr)
                for part in ("p@ss", "rd%2F", "w%3Ard"):
                    self.assertNotIn(part, r.stderr)


@unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
class DroppedPrivileges(unittest.TestCase):
    def test_started_as_root_it_runs_as_the_user_and_still_spools(self):
        stack = harness.Stack("DroppedPrivileges", spool=True,
                              handler_env={"BOARDHOOK_USER": "nobody", "BOARDHOOK_REDIS_TIMEOUT_MS": "500"})
        self.addCleanup(stack.stop)
        stack.start()
        nobody = pwd.getpwnam("nobody")
        with open(f"/proc/{stack.handler.pid}/status") as proc_status:
            status = proc_status.read()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        self.assertEqual(uids, [str(nobody.pw_uid)] * 4, "real, effective, saved and fs uid must all be nobody's")
        self.assertEqual(os.stat(stack.dir / "spool").st_uid, nobody.pw_uid)
        self.assertEqual(stack.post(FIXTURE.read_bytes()).status, 200)
        stack.redis.stop()   # the spool must be writable by the user it became
        r = stack.post(FIXTURE.read_bytes())
        self.assertEqual(r.status, 200, stack.why(r))
        self.assertIn("spooled to disk", stack.handler_log())
        stack.start_redis()
        self.assertTrue(stack.wait_until_spool_empty())


@unittest.skipUnless(os.geteuid() == 0, "changing a socket's group needs root")
class SocketGroup(unittest.TestCase):
    def test_the_unix_socket_is_for_the_group_only(self):
        import grp
        import tempfile
        folder = tempfile.mkdtemp(prefix="boardhook-socket-")
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "handler.sock")
        env = {"BOARDHOOK_VERIFY_TOKEN": "t0ken-for-the-socket-test", "BOARDHOOK_LISTEN": f"unix:{path}",
               "BOARDHOOK_SOCKET_GROUP": "nogroup", "BOARDHOOK_USER": "nobody",
               "BOARDHOOK_REDIS_URL": "redis://127.0.0.1:1/0", "PATH": os.environ.get("PATH", "")}
        handler = harness.Process("handler", [harness.HANDLER], os.path.join(folder, "handler.log"), env)
        self.addCleanup(handler.stop)
        harness.wait_for(lambda: os.path.exists(path), "the socket", handler)
        info = os.stat(path)
        self.assertEqual(info.st_gid, grp.getgrnam("nogroup").gr_gid)
        self.assertEqual(info.st_mode & 0o777, 0o660)
        connection = socket.socket(socket.AF_UNIX)
        connection.connect(path)   # root may; nginx's group may
        connection.close()


if __name__ == "__main__":
    harness.main()
