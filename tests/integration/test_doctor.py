"""test_doctor.py -- boardhook-queues doctor against a real Redis (and a real Sentinel): the shipped
configuration passes, and each unsafe setting is a FAIL with exit 1.

The rules themselves are unit-tested (tests/unit/durability_test.cpp); this checks that doctor
reads each fact from Redis and the Sentinels as they really answer.
"""
import json
import os
import subprocess

import harness


class Doctor(harness.StackTest):
    stack_options = {"spool": True}

    def doctor(self, *args, **env):
        base = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        base.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.stack.redis_port}/0",
                    BOARDHOOK_SPOOL_DIR=str(self.stack.dir / "spool"))
        base.update(env)
        r = subprocess.run([harness.QUEUES, "--json", "doctor", *args], env=base, capture_output=True, timeout=30)
        report = json.loads(r.stdout) if r.stdout else None
        return r.returncode, report, r

    def statuses(self, report):
        return {f["check"]: f["status"] for f in report["findings"]}

    def restore(self, name, value):
        self.addCleanup(self.stack.redis_cmd, "CONFIG", "SET", name, value)

    def test_the_shipped_single_redis_keeps_the_promise(self):
        code, report, r = self.doctor()
        self.assertEqual(code, 0, r)
        self.assertTrue(report["keeps_the_promise"])
        statuses = self.statuses(report)
        for check in ("redis version", "eviction policy", "AOF", "spool"):
            self.assertIn(statuses[check], ("ok", "warn"), report)
        self.assertEqual(statuses["eviction policy"], "ok")

    def test_an_eviction_policy_fails(self):
        self.restore("maxmemory-policy", "noeviction")
        self.stack.redis_cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        code, report, r = self.doctor()
        self.assertEqual(code, 1, r)
        self.assertEqual(self.statuses(report)["eviction policy"], "FAIL")
        self.assertFalse(report["keeps_the_promise"])

    def test_aof_off_fails(self):
        self.restore("appendonly", "yes")
        self.stack.redis_cmd("CONFIG", "SET", "appendonly", "no")
        code, report, r = self.doctor()
        self.assertEqual((code, self.statuses(report)["AOF"]), (1, "FAIL"), r)

    def test_appendfsync_no_fails_without_replicas(self):
        self.restore("appendfsync", "everysec")
        self.stack.redis_cmd("CONFIG", "SET", "appendfsync", "no")
        code, report, r = self.doctor()
        self.assertEqual((code, self.statuses(report)["AOF"]), (1, "FAIL"), r)

    def test_replicas_asked_for_but_missing_warn_and_the_table_says_so(self):
        code, report, r = self.doctor(BOARDHOOK_REDIS_MIN_REPLICAS="1")
        self.assertEqual(code, 0, r)
        self.assertEqual(self.statuses(report)["replicas"], "warn")
        table = subprocess.run([harness.QUEUES, "doctor"], capture_output=True, timeout=30,
                               env={**os.environ, "BOARDHOOK_REDIS_URL": f"redis://127.0.0.1:{self.stack.redis_port}/0"})
        self.assertRegex(table.stdout.decode(), r"eviction policy\s+ok\s+noeviction")

    def test_sentinel_without_a_reachable_quorum_and_without_wait_fails(self):
        port = harness.free_port()
        folder = self.stack.dir / "sentinel"
        folder.mkdir()
        conf = (harness.REPO / "redis/sentinel.conf").read_text()
        conf = conf.replace("sentinel monitor boardhook 127.0.0.1 6379 2",
                            f"sentinel monitor boardhook 127.0.0.1 {self.stack.redis_port} 2")
        (folder / "sentinel.conf").write_text(conf + f"\nport {port}\ndir {folder}\n")
        sentinel = harness.Process("redis-sentinel", [harness.find_program("redis-sentinel"), str(folder / "sentinel.conf")],
                                   folder / "sentinel.log")
        self.addCleanup(sentinel.stop)
        harness.wait_for(lambda: harness.redis_command(port, "PING") == "PONG", "sentinel PING", sentinel)
        url = f"redis-sentinel://127.0.0.1:{port}#boardhook"
        code, report, r = self.doctor(BOARDHOOK_REDIS_URL=url)
        statuses = self.statuses(report)
        self.assertEqual(code, 1, r)
        self.assertEqual(statuses["quorum"], "FAIL", report)           # one Sentinel, quorum 2
        self.assertEqual(statuses["acknowledgement"], "FAIL", report)  # MIN_REPLICAS 0 with Sentinel
        self.assertEqual(statuses["min-replicas-to-write"], "FAIL", report)
        self.assertEqual(statuses["sentinels"], "ok", report)


if __name__ == "__main__":
    harness.main()
