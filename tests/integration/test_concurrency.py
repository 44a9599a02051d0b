"""test_concurrency.py -- 100 simultaneous POSTs store exactly 100 distinct events; SIGTERM then stops cleanly."""
import json
import threading

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


if __name__ == "__main__":
    harness.main()
