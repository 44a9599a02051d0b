"""loadgen.py -- a bounded load generator that records every event it got a 200 for.

Each client thread keeps one HTTPS connection and sends POSTs one after another, each with
unique events whose envelope ids it computes itself (the README's formula), so a test can
compare what was acknowledged with what Redis (and the spool) hold at the end.

The target is anything with `https_port` and `tls_context()` (a harness.Stack, a hosts.Edge):
the clients connect to 127.0.0.1:<https_port> and verify the certificate for `localhost`. Given
`host` (a netns.Host), every client thread runs inside that host's network namespace, so its
127.0.0.1 is that host's loopback (an nginx on a test host, hosts.Edge).
"""
import collections
import http.client
import json
import threading
import time

import harness

EVENT_TYPES = ("ticket_status_change", "note_deletion")


class Sent:
    """One POST: what was sent and what came back."""
    __slots__ = ("client", "seq", "event_type", "ids", "status", "error", "started", "request_id")

    def __init__(self, client, seq, event_type, ids):
        self.client, self.seq, self.event_type, self.ids = client, seq, event_type, ids
        self.status, self.error = None, None
        self.started = None   # time.monotonic() when the request was about to be sent
        self.request_id = None   # the answer's X-Request-Id (nginx's $request_id, in its access log)


class LoadGenerator:
    def __init__(self, stack, clients=4, events_per_post=2, padding=0, max_requests=20000, tag="load",
                 connect=None, host=None, nodelay=False):
        """`connect`: makes a new HTTPS connection to the server under load; by default one to
        `stack`, a harness.Stack (which may then be None)."""
        self.stack, self.clients, self.events_per_post = stack, clients, events_per_post
        self.connect = connect or (lambda: harness.LoopbackHTTPS(stack.https_port, stack.tls_context(), 30,
                                                                 nodelay=self.nodelay))
        self.padding, self.max_requests, self.tag = padding, max_requests, tag
        self.host = host   # a netns.Host to send from, or None for this process's own namespace
        # False: each POST waits ~40 ms for nginx's delayed ACK (harness.LoopbackHTTPS), which
        # paces a client at ~20 POSTs/s; True: as fast as the stack answers.
        self.nodelay = nodelay
        self.sent = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def body(self, client, seq):
        event_type = EVENT_TYPES[seq % len(EVENT_TYPES)]
        ticket_id = client * 10_000_000 + seq
        items = [json.dumps({"NoteId": seq, "Part": k, "Client": client, "Tag": self.tag,
                             "Padding": "x" * self.padding}, separators=(",", ":")).encode()
                 for k in range(self.events_per_post)]
        raw = (b'{"CommunityName":"load-test","EventType":"' + event_type.encode() +
               b'","TicketId":' + str(ticket_id).encode() + b',"Events":[' + b",".join(items) + b"]}")
        return raw, Sent(client, seq, event_type, [harness.event_id(event_type, ticket_id, i) for i in items])

    def _run(self, client):
        conn, seq = None, 0
        while not self._stop.is_set():
            with self._lock:
                if len(self.sent) >= self.max_requests:
                    return
            raw, sent = self.body(client, seq)
            seq += 1
            sent.started = time.monotonic()
            try:
                if conn is None:
                    conn = self.connect()
                conn.request("POST", "/webhooks", body=raw, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                sent.status = response.status
                sent.request_id = response.getheader("X-Request-Id")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as error:
                sent.error = repr(error)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
            with self._lock:
                self.sent.append(sent)
        if conn is not None:
            conn.close()

    def start(self):
        for client in range(self.clients):
            # Inside the host: the thread's sockets are made in its namespace (netns.Host.call).
            target, args = (self.host.call, (self._run, client)) if self.host else (self._run, (client,))
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def wait_for_requests(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.sent) >= count:
                    return
            time.sleep(0.02)

    # ---- the reckoning --------------------------------------------------------------------
    def acknowledged(self):
        return [s for s in self.sent if s.status == 200]

    def statuses(self):
        return collections.Counter(s.status if s.status is not None else "no answer" for s in self.sent)

    def reckon(self, stored_by_type):
        """Compares acknowledged events with `stored_by_type` ({type: [ids, oldest first]}).
        Returns a dict of counts and the problems found (missing, out of order)."""
        position = {}
        stored_ids = collections.Counter()
        for event_type, ids in stored_by_type.items():
            for i, event_id in enumerate(ids):
                stored_ids[event_id] += 1
                position.setdefault(event_id, (event_type, i))
        acked = self.acknowledged()
        acked_ids = [i for s in acked for i in s.ids]
        missing = [i for i in acked_ids if i not in stored_ids]
        # Order: for one client (requests one after another), the events it had acknowledged
        # must be stored in the order it sent them, per event type.
        out_of_order = 0
        last = {}
        for s in sorted(acked, key=lambda s: (s.client, s.seq)):
            for event_id in s.ids:
                if event_id not in position:
                    continue
                event_type, index = position[event_id]
                key = (s.client, event_type)
                if key in last and index < last[key]:
                    out_of_order += 1
                last[key] = index
        statuses = self.statuses()
        counts = {
            "sent": len(self.sent), "200": statuses.get(200, 0), "503": statuses.get(503, 0),
            "other": sum(v for k, v in statuses.items() if k not in (200, 503)),
            "acked events": len(acked_ids), "stored": sum(stored_ids.values()),
            "missing": len(missing), "duplicated": sum(c - 1 for c in stored_ids.values() if c > 1),
            "out of order": out_of_order,
        }
        return counts, missing


def stored_ids(stack, event_types=EVENT_TYPES):
    """{event type: [envelope ids, oldest first]} from the queues in the Stack's Redis."""
    return queued_ids(stack.redis_cmd, stack.prefix, event_types)


def queued_ids(command, prefix="boardhook", event_types=EVENT_TYPES):
    """{event type: [envelope ids, oldest first]} from the queues, read with `command(*args)`
    (one Redis command, its reply: a Stack's redis_cmd, a netns node's command)."""
    result = {}
    for event_type in event_types:
        elements = command("LRANGE", f"{prefix}:queue:{harness.type_key_part(event_type)}", 0, -1)
        result[event_type] = [json.loads(e)["id"] for e in reversed(elements)]
    return result
