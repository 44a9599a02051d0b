"""workers.py -- events per second through boardhook-worker, beside what bounds it; `scripts/bench --workers`.

One Redis (redis/boardhook.conf), the handler and one TLS nginx (harness.Stack), with a server
block of the test application's (tests/integration/webapp.py) whose /nginx-ok answers 200 at once,
kept alive, and /nginx-ok-close the same with Connection: close. For each setup a queue of N
envelopes (the fixture's 2.9 KB event) is pushed at once to idle workers, and timed until the last
is acknowledged (the done counter). Setups:

    ceiling        redis-benchmark LMOVE of the same envelopes, 1 and 4 connections: the bare move
    http           --type T=https://.../nginx-ok, keep-alive (a connection per consumer)
    http-close     the same, every answer closing its connection (a TLS handshake per event)
    curl           the command mode with curl -sSf --data-binary @- to the same HTTPS endpoint
    true           the command mode with `true` (posix_spawn of /bin/sh -c true, the pidfd wait)
    sh-c-true      a bare /bin/sh loop running `/bin/sh -c true` N times: the command mode's floor

Each cell runs --rounds times, interleaved; the median run is reported with the worker's CPU per
event (its own, and its commands' once reaped), nginx's, and how busy the whole machine was.
Writes workers.md and workers.json to --out (build/bench/). Exit status 0, or 1 when a run did not
deliver every event.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests/integration"))
import harness  # noqa: E402
import webapp  # noqa: E402
from bench import host_cpu, machine, process_table, tree  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PREFIX = "bench"
ITEM = harness.array_items(harness.member_bytes((harness.FIXTURES / "ticket_status_change.json").read_bytes(), "Events"))[0]


def say(text):
    print(text, file=sys.stderr, flush=True)


def cpu_ticks(pid):
    """(own utime+stime, reaped children's cutime+cstime) of `pid`, in clock ticks."""
    data = Path(f"/proc/{pid}/stat").read_text()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


class WorkerBench:
    def __init__(self, args):
        self.args = args
        self.stack = harness.Stack("bench-workers", prefix=PREFIX, worker_processes=2)
        self.app = self.site = None
        self.run_number = 0

    def start(self):
        self.stack.start()
        self.app = webapp.App().start()
        self.site = webapp.Site(self.stack, self.app).start()

    def stop(self):
        if self.app:
            self.app.stop()
        if self.args.keep:
            os.environ["KEEP"] = "1"
            harness.KEEP = True
        self.stack.stop()

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(BOARDHOOK_REDIS_URL=f"redis://127.0.0.1:{self.stack.redis_port}/0", BOARDHOOK_QUEUE_PREFIX=PREFIX,
                   BOARDHOOK_LOG_LEVEL="info")
        return env

    def envelopes(self, event_type, count):
        return [harness.make_envelope(event_type, ITEM, ticket_id=n, delivery="%032x" % n)[0] for n in range(count)]

    def push(self, event_type, envelopes):
        key = f"{PREFIX}:queue:{event_type}"
        for i in range(0, len(envelopes), 1000):
            self.stack.redis_cmd("LPUSH", key, *envelopes[i:i + 1000])

    def done(self, event_type):
        return int(self.stack.redis_cmd("HGET", f"{PREFIX}:counters", f"done:{event_type}") or 0)

    def nginx_ticks(self):
        table = process_table()
        return sum(sum(table[pid][1]) for pid in tree(self.stack.nginx.pid, table) if pid in table)

    # ---- the setups -------------------------------------------------------------------------------
    def destination(self, setup):
        ca = self.stack.ca
        return {
            "http": self.site.url("/nginx-ok"),
            "http-close": self.site.url("/nginx-ok-close"),
            "curl": (f"curl -sSf -o /dev/null --cacert {ca} -H 'Content-Type: application/json' "
                     f"--data-binary @- {self.site.url('/nginx-ok')}"),
            "true": "true",
        }[setup]

    def run_worker(self, setup, consumers, events):
        """N events through one worker process with `consumers` consumers; a result dict."""
        self.run_number += 1
        event_type = f"{setup.replace('-', '_')}_{consumers}_{self.run_number}"
        name = f"worker-{self.run_number}"
        worker = harness.Process(name, [self.args.worker, "--type", f"{event_type}={self.destination(setup)}",
                                        "--concurrency", str(consumers), "--ca-bundle", str(self.stack.ca),
                                        "--timeout", "30"], self.stack.dir / f"{name}.log", self.environment())
        try:
            harness.wait_for(lambda: self.stack.redis_cmd("HLEN", f"{PREFIX}:workers") > 0, "worker registered", worker)
            time.sleep(0.3)   # every consumer waiting in BLMOVE
            envelopes = self.envelopes(event_type, events)
            log_before = len(self.site.access_log())
            own0, children0 = cpu_ticks(worker.pid)
            nginx0, host0 = self.nginx_ticks(), host_cpu()
            started = time.monotonic()
            self.push(event_type, envelopes)
            deadline = started + self.args.run_timeout
            while self.done(event_type) < events and time.monotonic() < deadline:
                time.sleep(0.002)
            elapsed = time.monotonic() - started
            delivered = self.done(event_type)
            own1, children1 = cpu_ticks(worker.pid)
            nginx1, host1 = self.nginx_ticks(), host_cpu()
        finally:
            worker.stop()
        self.stack.redis_cmd("HDEL", f"{PREFIX}:workers", *(self.stack.redis_cmd("HKEYS", f"{PREFIX}:workers") or [b"-"]))
        per_connection = [int(line.split("reqs=")[1].split()[0]) for line in self.site.access_log()[log_before:]
                          if "reqs=" in line]
        busy = (host1[0] - host0[0]) / max(1, host1[2] - host0[2])
        us = 1e6 / CLOCK_TICKS / max(1, delivered)
        return {"setup": setup, "consumers": consumers, "events": events, "delivered": delivered,
                "seconds": elapsed, "events_per_s": delivered / elapsed, "ms_per_event": elapsed * 1000 / max(1, delivered),
                "worker_cpu_us": (own1 - own0) * us, "children_cpu_us": (children1 - children0) * us,
                "nginx_cpu_us": (nginx1 - nginx0) * us, "machine_busy": busy,
                "requests_per_connection": max(per_connection) if per_connection else None,
                "check": "ok" if delivered == events else "MISSING"}

    def run_ceiling(self, connections, events):
        """redis-benchmark moving N envelopes with LMOVE over `connections` connections."""
        self.run_number += 1
        source, target = f"{PREFIX}:ceiling:{self.run_number}", f"{PREFIX}:ceiling-done:{self.run_number}"
        envelopes = self.envelopes("ceiling", events)
        for i in range(0, events, 1000):
            self.stack.redis_cmd("LPUSH", source, *envelopes[i:i + 1000])
        host0 = host_cpu()
        started = time.monotonic()
        out = subprocess.run([harness.find_program("redis-benchmark"), "-p", str(self.stack.redis_port),
                              "-n", str(events), "-c", str(connections), "--csv",
                              "LMOVE", source, target, "RIGHT", "LEFT"], capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
        host1 = host_cpu()
        moved = int(self.stack.redis_cmd("LLEN", target))
        self.stack.redis_cmd("DEL", source, target)
        rps = None
        for line in out.stdout.splitlines():
            cells = [c.strip('"') for c in line.split('","')]
            if cells and cells[0].startswith("LMOVE"):
                rps = float(cells[1])
        return {"setup": "ceiling", "consumers": connections, "events": events, "delivered": moved,
                "seconds": events / rps if rps else elapsed, "events_per_s": rps or moved / elapsed,
                "ms_per_event": 1000 / rps if rps else elapsed * 1000 / max(1, moved),
                "machine_busy": (host1[0] - host0[0]) / max(1, host1[2] - host0[2]),
                "check": "ok" if moved == events else "MISSING"}

    def run_shell_loop(self, events):
        """/bin/sh running `/bin/sh -c true` N times, one after the other: a fork and an exec of sh
        per event, which is what the command mode costs at the least."""
        host0 = host_cpu()
        started = time.monotonic()
        subprocess.run(["/bin/sh", "-c", f'i=0; while [ $i -lt {events} ]; do /bin/sh -c true; i=$((i+1)); done'],
                       check=True, timeout=300)
        elapsed = time.monotonic() - started
        host1 = host_cpu()
        return {"setup": "sh-c-true", "consumers": 1, "events": events, "delivered": events, "seconds": elapsed,
                "events_per_s": events / elapsed, "ms_per_event": elapsed * 1000 / events,
                "machine_busy": (host1[0] - host0[0]) / max(1, host1[2] - host0[2]), "check": "ok"}


# ---- the report -----------------------------------------------------------------------------------

LABELS = {
    "ceiling": "bare `LMOVE` (redis-benchmark), {c} connection(s): the ceiling",
    "http": "HTTPS, keep-alive, {c} consumer(s)",
    "http-close": "HTTPS, `Connection: close`, {c} consumer(s)",
    "curl": "command `curl` to the same HTTPS endpoint, {c} consumer(s)",
    "true": "command `true`, {c} consumer(s)",
    "sh-c-true": "bare `/bin/sh -c true` loop (the command mode's floor)",
}


def median(runs):
    ranked = sorted(runs, key=lambda r: r["events_per_s"])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    chosen["rounds"] = [round(r["events_per_s"]) for r in runs]
    if any(r["check"] != "ok" for r in runs):
        chosen["check"] = "MISSING"
    return chosen


def cell(value, fmt):
    return "" if value is None else fmt.format(value)


def report(args, info, results):
    by = {(r["setup"], r["consumers"]): r for r in results}
    lines = [f"# boardhook-worker throughput, {info['date']}", "",
             f"{info['host']}: {info['cpu']}, {info['cores']} cores, kernel {info['kernel']}; one worker process, "
             f"{args.rounds} rounds per cell (median shown, every round's events/s in the last column); "
             f"the fixture's event (envelope {len(harness.make_envelope('x', ITEM)[0])} bytes); Redis with AOF "
             f"everysec; nginx with 2 workers, TLS 1.3; log level info.", "",
             "| setup | events | events/s | ms per event | worker CPU µs/event | its commands' CPU µs/event | "
             "nginx CPU µs/event | requests per connection | machine busy | rounds (events/s) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        lines.append(f"| {LABELS[r['setup']].format(c=r['consumers'])} | {r['delivered']} | {r['events_per_s']:.0f} | "
                     f"{r['ms_per_event']:.2f} | {cell(r.get('worker_cpu_us'), '{:.0f}')} | "
                     f"{cell(r.get('children_cpu_us') or None, '{:.0f}')} | {cell(r.get('nginx_cpu_us'), '{:.0f}')} | "
                     f"{cell(r.get('requests_per_connection'), '{}')} | {r['machine_busy']:.0%} | "
                     f"{', '.join(map(str, r['rounds']))} |" + ("" if r["check"] == "ok" else " **MISSING** |"))
    ratios = []

    def ratio(label, a, b, target=None, invert=False):
        if a in by and b in by:
            value = by[a]["events_per_s"] / by[b]["events_per_s"]
            if invert:
                value = by[b]["events_per_s"] / by[a]["events_per_s"]
            ratios.append((label, value, target(value) if target else ""))
    for c in args.consumers:
        ratio(f"HTTPS keep-alive, {c} consumer(s) / bare LMOVE, {c} connection(s)", ("http", c), ("ceiling", c))
        ratio(f"HTTPS keep-alive / Connection: close, {c} consumer(s)", ("http", c), ("http-close", c))
        ratio(f"HTTPS keep-alive / command curl, {c} consumer(s)", ("http", c), ("curl", c))
    ratio("command `true` (1 consumer) time per event / bare `sh -c true`", ("sh-c-true", 1), ("true", 1),
          target=lambda v: "met (≤ 1.3)" if v <= 1.3 else "missed (> 1.3)")
    lines += ["", "| ratio | value | target |", "| --- | ---: | --- |"]
    lines += [f"| {label} | {value:.2f} × | {verdict} |" for label, value, verdict in ratios]
    text = "\n".join(lines) + "\n"
    return text


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=str(REPO / "build/release"), help="where the Release binaries are")
    p.add_argument("--worker", help="default BUILD/boardhook-worker")
    p.add_argument("--handler", help="default BUILD/boardhook-handler (the stack needs one)")
    p.add_argument("--events", type=int, default=2000, help="events per HTTP and ceiling run")
    p.add_argument("--command-events", type=int, default=600, help="events per command-mode run")
    p.add_argument("--consumers", type=lambda s: [int(v) for v in s.split(",")], default=[1, 4],
                   help="consumers per worker process (and redis-benchmark connections), e.g. 1,4")
    p.add_argument("--setups", type=lambda s: s.split(","), default=list(LABELS), help=",".join(LABELS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--run-timeout", type=float, default=120, help="longest run, seconds")
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
    bench = WorkerBench(args)
    started = time.monotonic()
    cells = []
    for setup in args.setups:
        for consumers in ([1] if setup == "sh-c-true" else args.consumers):
            cells.append((setup, consumers))
    runs = []
    try:
        bench.start()
        for round_number in range(args.rounds):
            for setup, consumers in cells:
                if setup == "ceiling":
                    result = bench.run_ceiling(consumers, args.events)
                elif setup == "sh-c-true":
                    result = bench.run_shell_loop(args.command_events)
                else:
                    events = args.events if setup.startswith("http") else args.command_events
                    result = bench.run_worker(setup, consumers, events)
                runs.append(result)
                say(f"[{len(runs)}/{len(cells) * args.rounds}] {setup:<10} x{consumers}: {result['events_per_s']:8.0f} "
                    f"events/s  {result['ms_per_event']:6.2f} ms/event  machine {result['machine_busy']:.0%}  "
                    f"{result['check']}  ({time.monotonic() - started:.0f} s)")
    finally:
        bench.stop()
    results = [median([r for r in runs if (r["setup"], r["consumers"]) == c]) for c in cells]
    (out / "workers.json").write_text(json.dumps({"machine": info, "args": {k: v for k, v in vars(args).items()},
                                                  "results": results, "runs": runs}, indent=1, default=str) + "\n")
    text = report(args, info, results)
    (out / "workers.md").write_text(text)
    print(text)
    say(f"written: {out / 'workers.md'}, {out / 'workers.json'} ({time.monotonic() - started:.0f} s)")
    return 0 if all(r["check"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
