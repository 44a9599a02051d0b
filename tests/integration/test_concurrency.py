"""test_concurrency.py -- 100 simultaneous POSTs store exactly 100 distinct events; SIGTERM then stops cleanly.
Concurrent writes share one ingest script run (a batch), and a failing queue fails only its own requests."""
import json
import signal
import threading
import time

import harness

CLIENTS = 100


def notification(n):
    """A note_deletion notification whose one item is unique to client `n`."""
    item = b'{"NoteId": %d}' % (900000 + n)
    return item, b'{"CommunityName":"load","EventType":"note_deletion","TicketId":%d,"Events":[%s]}' % (n, item)


class Concurrency(harness.StackTest):

    def test_concurrent_posts_are_each_stored_once(self):
        start = threading.Barrier(CLIENTS)
        answers = [None] * CLIENTS

        def client(n):
            start.wait()
            try:
                answers[n] = self.stack.post(notification(n)[1], timeout=60)
            except Exception as error:   # recorded, reported below
                answers[n] = error

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        failed = [(n, str(a)) for n, a in enumerate(answers)
                  if not isinstance(a, harness.Response) or a.status != 200]
        self.assertEqual(failed, [], self.why())
        stored = [json.loads(e) for e in
                  self.stack.redis_cmd("LRANGE", self.stack.queue_key("note_deletion"), 0, -1)]
        self.assertEqual(len(stored), CLIENTS)
        self.assertEqual({e["delivery"] for e in stored}, {a.request_id for a in answers})
        self.assertEqual({e["id"] for e in stored},
                         {harness.event_id("note_deletion", n, notification(n)[0]) for n in range(CLIENTS)})
        self.assertEqual(sorted(e["ticket_id"] for e in stored), list(range(CLIENTS)))

        # nginx still holds kept connections to the handler: SIGTERM must stop it all the same.
        self.assertEqual(self.stack.handler.stop(timeout=10), 0, "handler did not exit 0 on SIGTERM")


def post_all(stack, bodies):
    """POSTs every body at once, one thread each; returns the answers (or exceptions) in order."""
    answers = [None] * len(bodies)

    def client(n):
        try:
            answers[n] = stack.post(bodies[n], timeout=60)
        except Exception as error:   # recorded, reported by the caller
            answers[n] = error
    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    return threads, answers


def exec_calls(stack):
    """How many batches Redis has run since its start: EVAL of the ingest script (INFO commandstats)."""
    info = stack.redis_cmd("INFO", "commandstats").decode()
    for line in info.splitlines():
        if line.startswith("cmdstat_eval:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


class Batching(harness.StackTest):
    # Redis is held still for a second below; the handler must wait for it, not give up.
    stack_options = {"handler_env": {"BOARDHOOK_REDIS_TIMEOUT_MS": "8000"}}
    REQUESTS = 20

    def hold_redis_while_posting(self, bodies):
        """POSTs `bodies` while Redis is stopped, so that they pile up behind the first write,
        then lets Redis go on; returns the answers."""
        self.stack.redis.signal(signal.SIGSTOP)
        try:
            threads, answers = post_all(self.stack, bodies)
            time.sleep(2)   # every request reaches the handler and waits for the write in progress
        finally:
            self.stack.redis.signal(signal.SIGCONT)
        for t in threads:
            t.join()
        return answers

    def test_concurrent_writes_share_a_transaction(self):
        before = exec_calls(self.stack)
        metrics_before = self.stack.request("GET", "/metrics").body.decode()
        bodies = [notification(1000 + n)[1] for n in range(self.REQUESTS)]
        answers = self.hold_redis_while_posting(bodies)
        self.assertEqual([getattr(a, "status", str(a)) for a in answers], [200] * self.REQUESTS, self.why())
        # One batch was under way when Redis stopped; the 19 or so writes that arrived
        # meanwhile go in the next one (a third if a request came late). One each would be 20.
        self.assertLessEqual(exec_calls(self.stack) - before, 3, "writes were not batched")
        metrics_after = self.stack.request("GET", "/metrics").body.decode()
        batches = (harness.metric(metrics_after, "boardhook_redis_batches_total")
                   - harness.metric(metrics_before, "boardhook_redis_batches_total"))
        self.assertEqual(batches, exec_calls(self.stack) - before, "/metrics counts every transaction")
        self.assertEqual(harness.metric(metrics_after, "boardhook_redis_batched_requests_total")
                         - harness.metric(metrics_before, "boardhook_redis_batched_requests_total"), self.REQUESTS)
        stored = [json.loads(e) for e in
                  self.stack.redis_cmd("LRANGE", self.stack.queue_key("note_deletion"), 0, -1)]
        self.assertEqual(sorted(e["ticket_id"] for e in stored if 1000 <= e["ticket_id"] < 2000),
                         [1000 + n for n in range(self.REQUESTS)])
        self.assertEqual({e["delivery"] for e in stored if 1000 <= e["ticket_id"] < 2000}, {a.request_id for a in answers})

    def test_a_failing_queue_fails_only_its_requests_in_a_shared_batch(self):
        # A key of the wrong type fails that queue's group of the batch (WRONGTYPE), nothing of it written.
        broken_type = "broken_queue"
        self.stack.redis_cmd("SET", self.stack.queue_key(broken_type), "not a list")
        good = [notification(2000 + n)[1] for n in range(8)]
        broken = [b'{"CommunityName":"load","EventType":"%s","TicketId":%d,"Events":[{"n":%d}]}'
                  % (broken_type.encode(), 3000 + n, n) for n in range(8)]
        before = exec_calls(self.stack)
        answers = self.hold_redis_while_posting([b for pair in zip(good, broken) for b in pair])
        self.assertLessEqual(exec_calls(self.stack) - before, 3, "writes were not batched")
        statuses = [getattr(a, "status", str(a)) for a in answers]
        # No spool here: the broken queue's requests are 503, the others in the same batches 200.
        self.assertEqual(statuses[0::2], [200] * 8, self.why())
        self.assertEqual(statuses[1::2], [503] * 8, self.why())
        stored = [json.loads(e) for e in
                  self.stack.redis_cmd("LRANGE", self.stack.queue_key("note_deletion"), 0, -1)]
        self.assertEqual(sorted(e["ticket_id"] for e in stored if 2000 <= e["ticket_id"] < 3000),
                         [2000 + n for n in range(8)])
        self.assertEqual(self.stack.redis_cmd("GET", self.stack.queue_key(broken_type)), b"not a list")
        self.assertIn("WRONGTYPE", self.stack.handler_log())


if __name__ == "__main__":
    harness.main()
