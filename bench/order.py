"""order.py -- what --order-by ticket and the archive cost; `scripts/bench --order`.

One Redis (redis/boardhook.conf), the handler and one TLS nginx (harness.Stack).

Workers: a queue of N envelopes (the fixture's event, each made distinct) is pushed at once to an
idle boardhook-worker (--concurrency 4, command `true`) and timed until the last is acknowledged
(the done counter), with and without --order-by T=ticket, for many tickets (N events over N/2
tickets, a ticket's two events adjacent) and for one hot ticket (every event the same ticket: with
the order, one at a time). The worker's CPU per event is its own plus its commands'.

Handler: wrk POSTs the fixture for --seconds through nginx, the handler restarted with
BOARDHOOK_ARCHIVE_SECONDS=86400 and without (the queue and archive emptied between runs); requests
per second, and CPU per request of the handler and of Redis.

Memory: MEMORY USAGE of the archive stream after the archive-on runs, per entry, and the
used_memory delta of 10,000 entries written through the handler; a day at --day-rate events/s.

Every cell runs --rounds times, interleaved; the median is reported, with every round's value.
Writes order.md and order.json to --out (build/bench/). Exit status 1 when a run lost events.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests/integration"))
import harness  # noqa: E402
from bench import host_cpu, machine  # noqa: E402
from workers import cpu_ticks  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PREFIX = "bench"
FIXTURE = harness.FIXTURES / "ticket_status_change.json"
ITEM = harness.array_items(harness.member_bytes(FIXTURE.read_bytes(), "Events"))[0]


def say(text):
    print(text, file=sys.stderr, flush=True)


def median(values):
    ranked = sorted(values)
    return ranked[(len(ranked) - 1) // 2]


class OrderBench:
    def __init__(self, args):
        self.args = args
        self.stack = harness.Stack("bench-order", prefix=PREFIX, worker_processes=2,
                                   handler_env={"BOARDHOOK_LOG_LEVEL": "info"})
        self.run_number = 0

    def start(self):
        self.stack.start()

    def stop(self):
        if self.args.keep:
            os.environ["KEEP"] = "1"
            harness.KEEP = True
        self.stack.stop()

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.stack.redis_port}/0", BOARDHOOK_QUEUE_PREFIX=PREFIX,
                   BOARDHOOK_LOG_LEVEL="info")
        return env

    def redis(self, *args):
        return self.stack.redis_cmd(*args)

    # ---- workers ----------------------------------------------------------------------------------
    def envelopes(self, event_type, events, tickets):
        """`events` distinct envelopes over `tickets` tickets, a ticket's events adjacent."""
        per_ticket = max(1, events // tickets)
        out = []
        for n in range(events):
            item = ITEM.replace(b'"PreviousTicketStatus"', b'"Seq": %d, "PreviousTicketStatus"' % n, 1)
            out.append(harness.make_envelope(event_type, item, ticket_id=7000000 + n // per_ticket,
                                             delivery="%032x" % n)[0])
        return out

    def run_worker(self, shape, ordered):
        args = self.args
        events = args.events
        tickets = 1 if shape == "hot" else max(1, events // 2)
        self.run_number += 1
        event_type = f"order_{shape}_{'on' if ordered else 'off'}_{self.run_number}"
        name = f"worker-{self.run_number}"
        argv = [args.worker, "--type", f"{event_type}=true", "--concurrency", str(args.concurrency), "--timeout", "30"]
        if ordered:
            argv += ["--order-by", f"{event_type}=ticket"]
        worker = harness.Process(name, argv, self.stack.dir / f"{name}.log", self.environment())
        try:
            harness.wait_for(lambda: self.redis("HLEN", f"{PREFIX}:workers") > 0, "worker registered", worker)
            time.sleep(0.3)   # every consumer waiting
            envelopes = self.envelopes(event_type, events, tickets)
            own0, children0 = cpu_ticks(worker.pid)
            redis0, host0 = sum(cpu_ticks(self.stack.redis.pid)), host_cpu()
            started = time.monotonic()
            key = f"{PREFIX}:queue:{event_type}"
            for i in range(0, events, 1000):
                self.redis("LPUSH", key, *envelopes[i:i + 1000])
            deadline = started + args.run_timeout
            while self.done(event_type) < events and time.monotonic() < deadline:
                time.sleep(0.002)
            elapsed = time.monotonic() - started
            delivered = self.done(event_type)
            own1, children1 = cpu_ticks(worker.pid)
            redis1, host1 = sum(cpu_ticks(self.stack.redis.pid)), host_cpu()
        finally:
            worker.stop()
        self.redis("HDEL", f"{PREFIX}:workers", *(self.redis("HKEYS", f"{PREFIX}:workers") or [b"-"]))
        left = [k for k in self.stack.keys(f"{PREFIX}:*") if event_type in k and ":queue:" not in k
                and not k.startswith(f"{PREFIX}:counters")]
        us = 1e6 / CLOCK_TICKS / max(1, delivered)
        return {"kind": "worker", "shape": shape, "ordered": ordered, "events": events, "tickets": tickets,
                "delivered": delivered, "seconds": elapsed, "events_per_s": delivered / elapsed,
                "worker_cpu_us": (own1 - own0) * us, "commands_cpu_us": (children1 - children0) * us,
                "redis_cpu_us": (redis1 - redis0) * us,
                "machine_busy": (host1[0] - host0[0]) / max(1, host1[2] - host0[2]),
                "check": "ok" if delivered == events and not left else f"MISSING {events - delivered}, left {left}"}

    def done(self, event_type):
        return int(self.redis("HGET", f"{PREFIX}:counters", f"done:{event_type}") or 0)

    # ---- the handler ------------------------------------------------------------------------------
    def restart_handler(self, archive):
        self.stack.handler.stop()
        if archive:
            self.stack.handler_env["BOARDHOOK_ARCHIVE_SECONDS"] = "86400"
        else:
            self.stack.handler_env.pop("BOARDHOOK_ARCHIVE_SECONDS", None)
        self.stack.start_handler()

    def run_handler(self, archive):
        args = self.args
        self.restart_handler(archive)
        queue, stream = self.stack.queue_key("ticket_status_change"), f"{PREFIX}:archive"
        self.redis("DEL", queue, stream)
        env = dict(os.environ, BENCH_METHOD="POST", BENCH_BODY=str(FIXTURE))
        url = f"https://127.0.0.1:{self.stack.https_port}/webhooks"
        subprocess.run(["wrk", "-t2", f"-c{args.connections}", "-d2s", "-s", str(BENCH / "wrk-bench.lua"), url],
                       env=env, capture_output=True, check=True)   # warm-up
        time.sleep(0.5)   # wrk leaves requests in flight: let the handler store them before the count starts
        self.redis("DEL", queue, stream)
        used0 = self.used_memory()
        handler0, redis0 = sum(cpu_ticks(self.stack.handler.pid)), sum(cpu_ticks(self.stack.redis.pid))
        host0 = host_cpu()
        out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "20s",
                              "-s", str(BENCH / "wrk-bench.lua"), url], env=env, capture_output=True, text=True,
                             check=True).stdout
        handler1, redis1 = sum(cpu_ticks(self.stack.handler.pid)), sum(cpu_ticks(self.stack.redis.pid))
        host1 = host_cpu()
        result = json.loads(re.search(r"^RESULT (\{.*\})$", out, re.M).group(1))
        time.sleep(0.3)
        requests = result["requests"]
        queued = self.redis("LLEN", queue)
        archived = self.redis("XLEN", stream)
        row = {"kind": "handler", "archive": archive, "requests": requests,
               "status_errors": result["status_errors"], "rps": requests / (result["duration_us"] / 1e6),
               "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
               "handler_cpu_us": (handler1 - handler0) * 1e6 / CLOCK_TICKS / max(1, requests),
               "redis_cpu_us": (redis1 - redis0) * 1e6 / CLOCK_TICKS / max(1, requests),
               "machine_busy": (host1[0] - host0[0]) / max(1, host1[2] - host0[2]),
               "queued": queued, "archived": archived}
        accepted = requests - result["status_errors"]
        # wrk stops with requests in flight: one may be stored without its 200 counted.
        ok = accepted <= queued <= accepted + args.connections and archived == (queued if archive else 0)
        row["check"] = "ok" if ok else f"MISMATCH queued {queued} archived {archived} accepted {accepted}"
        if archive and archived:
            usage = self.redis("MEMORY", "USAGE", stream, "SAMPLES", "0")
            row["stream_bytes_per_event"] = usage / archived
            row["used_memory_bytes_per_event"] = (self.used_memory() - used0 - self.redis("MEMORY", "USAGE", queue, "SAMPLES", "0")) / archived
        self.redis("DEL", queue, stream)
        return row

    def used_memory(self):
        return int(re.search(rb"used_memory:(\d+)", self.redis("INFO", "memory")).group(1))

    def archive_memory(self, events=10_000):
        """used_memory delta and MEMORY USAGE of `events` archive entries written through the
        handler's own script (POSTs of the fixture), the queue emptied."""
        self.restart_handler(True)
        queue, stream = self.stack.queue_key("ticket_status_change"), f"{PREFIX}:archive"
        self.redis("DEL", queue, stream)
        used0 = self.used_memory()
        env = dict(os.environ, BENCH_METHOD="POST", BENCH_BODY=str(FIXTURE))
        url = f"https://127.0.0.1:{self.stack.https_port}/webhooks"
        while self.redis("XLEN", stream) < events:
            subprocess.run(["wrk", "-t1", "-c4", "-d1s", "-s", str(BENCH / "wrk-bench.lua"), url], env=env,
                           capture_output=True, check=True)
        self.redis("DEL", queue)
        archived = self.redis("XLEN", stream)
        used1 = self.used_memory()
        usage = self.redis("MEMORY", "USAGE", stream, "SAMPLES", "0")
        envelope = self.redis("XRANGE", stream, "-", "+", "COUNT", "1")[0][1]
        envelope_bytes = len(dict(zip(envelope[::2], envelope[1::2]))[b"envelope"])
        self.redis("DEL", stream)
        per_event = usage / archived
        return {"events": archived, "envelope_bytes": envelope_bytes, "stream_bytes": usage,
                "stream_bytes_per_event": per_event, "used_memory_delta_per_event": (used1 - used0) / archived,
                "per_10000_mib": per_event * 10_000 / 2**20,
                "day_events": self.args.day_rate * 86400,
                "day_gib": per_event * self.args.day_rate * 86400 / 2**30}


# ---- the report -----------------------------------------------------------------------------------

def report(args, info, workers, handlers, memory):
    lines = [f"# --order-by ticket and the archive, {info['date']}", "",
             f"{info['host']}: {info['cpu']}, {info['cores']} cores, kernel {info['kernel']}; {args.rounds} rounds per "
             f"cell, interleaved (median shown, every round in the last column); Redis with AOF everysec; "
             f"nginx with 2 workers, TLS 1.3; log level info. Command: `scripts/bench --order "
             f"--rounds {args.rounds} --events {args.events} --seconds {args.seconds}`.", "",
             f"## boardhook-worker, `--concurrency {args.concurrency}`, command `true`, {args.events} events", "",
             "| tickets | `--order-by ticket` | events/s | worker CPU µs/event | its commands' µs/event | "
             "Redis CPU µs/event | machine busy | rounds (events/s) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    medians = {}
    for shape in ("many", "hot"):
        for ordered in (False, True):
            runs = [r for r in workers if r["shape"] == shape and r["ordered"] == ordered]
            if not runs:
                continue
            m = sorted(runs, key=lambda r: r["events_per_s"])[(len(runs) - 1) // 2]
            medians[(shape, ordered)] = m
            bad = [r["check"] for r in runs if r["check"] != "ok"]
            tickets = f"{m['tickets']} (2 events each)" if shape == "many" else "1 (every event)"
            lines.append(f"| {tickets} | {'yes' if ordered else 'no'} | {m['events_per_s']:.0f} | "
                         f"{m['worker_cpu_us']:.0f} | {m['commands_cpu_us']:.0f} | {m['redis_cpu_us']:.0f} | "
                         f"{m['machine_busy']:.0%} | {', '.join(str(round(r['events_per_s'])) for r in runs)} |"
                         + (f" **{'; '.join(bad)}** |" if bad else ""))
    lines += ["", f"## boardhook-handler, POST of the fixture, wrk {args.connections} connections, {args.seconds} s", "",
              "| `BOARDHOOK_ARCHIVE_SECONDS` | requests/s | p50 ms | p99 ms | handler CPU µs/request | "
              "Redis CPU µs/request | machine busy | rounds (requests/s) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    hmed = {}
    for archive in (False, True):
        runs = [r for r in handlers if r["archive"] == archive]
        if not runs:
            continue
        m = sorted(runs, key=lambda r: r["rps"])[(len(runs) - 1) // 2]
        hmed[archive] = m
        bad = [r["check"] for r in runs if r["check"] != "ok"]
        lines.append(f"| {'86400' if archive else 'unset (off)'} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                     f"{m['handler_cpu_us']:.0f} | {m['redis_cpu_us']:.0f} | {m['machine_busy']:.0%} | "
                     f"{', '.join(str(round(r['rps'])) for r in runs)} |" + (f" **{'; '.join(bad)}** |" if bad else ""))
    lines += ["", "| ratio | value |", "| --- | ---: |"]

    def ratio(label, value):
        lines.append(f"| {label} | {value:.2f} × |")
    for shape, label in (("many", "many tickets"), ("hot", "one hot ticket")):
        if (shape, True) in medians and (shape, False) in medians:
            on, off = medians[(shape, True)], medians[(shape, False)]
            ratio(f"worker events/s, ordered / not, {label}", on["events_per_s"] / off["events_per_s"])
            ratio(f"worker CPU per event (own), ordered / not, {label}", on["worker_cpu_us"] / max(1e-9, off["worker_cpu_us"]))
            ratio(f"Redis CPU per event, ordered / not, {label}", on["redis_cpu_us"] / max(1e-9, off["redis_cpu_us"]))
    if True in hmed and False in hmed:
        ratio("handler POSTs/s, archive on / off", hmed[True]["rps"] / hmed[False]["rps"])
        ratio("handler CPU per POST, archive on / off", hmed[True]["handler_cpu_us"] / max(1e-9, hmed[False]["handler_cpu_us"]))
        ratio("Redis CPU per POST, archive on / off", hmed[True]["redis_cpu_us"] / max(1e-9, hmed[False]["redis_cpu_us"]))
    if memory:
        lines += ["", "## Archive memory", "",
                  f"{memory['events']} archive entries of the fixture's event (envelope {memory['envelope_bytes']} bytes), "
                  f"written by the handler's script: MEMORY USAGE of the stream {memory['stream_bytes']} bytes, "
                  f"**{memory['stream_bytes_per_event']:.0f} bytes per event, {memory['per_10000_mib']:.1f} MiB per "
                  f"10,000 events** (used_memory grew {memory['used_memory_delta_per_event']:.0f} bytes per event). "
                  f"A day at {args.day_rate} events/s ({memory['day_events']:,} events) with "
                  f"`BOARDHOOK_ARCHIVE_SECONDS=86400`: about **{memory['day_gib']:.2f} GiB**; the AOF holds "
                  f"each entry too, until its rewrite."]
    return "\n".join(lines) + "\n"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=str(REPO / "build/release"), help="where the Release binaries are")
    p.add_argument("--worker", help="default BUILD/boardhook-worker")
    p.add_argument("--handler", help="default BUILD/boardhook-handler")
    p.add_argument("--events", type=int, default=2000, help="events per worker run")
    p.add_argument("--concurrency", type=int, default=4, help="consumers of the worker")
    p.add_argument("--seconds", type=int, default=10, help="seconds of each handler run")
    p.add_argument("--connections", type=int, default=16, help="wrk connections of each handler run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--memory-events", type=int, default=10_000, help="archive entries for the memory measure; 0: skip")
    p.add_argument("--day-rate", type=int, default=10, help="events per second for the cost of a day")
    p.add_argument("--parts", type=lambda s: s.split(","), default=["workers", "handler", "memory"],
                   help="workers,handler,memory")
    p.add_argument("--run-timeout", type=float, default=180, help="longest worker run, seconds")
    p.add_argument("--out", default=str(REPO / "build/bench"))
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, nginx config)")
    args = p.parse_args(argv)
    args.worker = os.path.abspath(args.worker or os.path.join(args.build, "boardhook-worker"))
    args.handler = os.path.abspath(args.handler or os.path.join(args.build, "boardhook-handler"))
    return args


def main():
    args = parse_args(sys.argv[1:])
    harness.HANDLER, harness.WORKER = args.handler, args.worker
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    bench = OrderBench(args)
    started = time.monotonic()
    workers, handlers, memory = [], [], None
    cells = []
    if "workers" in args.parts:
        cells += [("worker", shape, ordered) for shape in ("many", "hot") for ordered in (False, True)]
    if "handler" in args.parts:
        cells += [("handler", None, archive) for archive in (False, True)]
    try:
        bench.start()
        for round_number in range(args.rounds):
            for kind, shape, flag in cells:
                if kind == "worker":
                    r = bench.run_worker(shape, flag)
                    workers.append(r)
                    say(f"[round {round_number + 1}] worker {shape:<4} order {'on ' if flag else 'off'}: "
                        f"{r['events_per_s']:7.0f} events/s  {r['worker_cpu_us']:5.0f} µs/event  {r['check']}  "
                        f"({time.monotonic() - started:.0f} s)")
                else:
                    r = bench.run_handler(flag)
                    handlers.append(r)
                    say(f"[round {round_number + 1}] handler archive {'on ' if flag else 'off'}: {r['rps']:7.0f} POST/s  "
                        f"handler {r['handler_cpu_us']:4.0f} µs, redis {r['redis_cpu_us']:4.0f} µs per request  "
                        f"{r['check']}  ({time.monotonic() - started:.0f} s)")
        if "memory" in args.parts and args.memory_events:
            memory = bench.archive_memory(args.memory_events)
            say(f"archive memory: {memory['stream_bytes_per_event']:.0f} bytes per event")
    finally:
        bench.stop()
    (out / "order.json").write_text(json.dumps({"machine": info, "args": vars(args), "workers": workers,
                                                "handler": handlers, "memory": memory}, indent=1, default=str) + "\n")
    text = report(args, info, workers, handlers, memory)
    (out / "order.md").write_text(text)
    print(text)
    say(f"written: {out / 'order.md'}, {out / 'order.json'} ({time.monotonic() - started:.0f} s)")
    return 0 if all(r["check"] == "ok" for r in workers + handlers) else 1


if __name__ == "__main__":
    sys.exit(main())
