"""bench.py -- POST throughput and latency of boardhook, normal path and spool path, side by side.

Run through scripts/bench. Starts one stack (nginx + handler + redis-server, from the test
harness) per mode on loopback, drives it with wrk, and checks afterwards that every POST
answered 200 is in Redis (for the spool mode, after the spool has drained).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests/integration"))
import harness  # noqa: E402

FIXTURE = harness.FIXTURES / "ticket_status_change.json"


def run_wrk(stack, seconds, connections, threads):
    env = dict(os.environ, BENCH_BODY=str(FIXTURE))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "20s",
                          "-s", str(REPO / "scripts/lib/wrk-post.lua"),
                          f"https://127.0.0.1:{stack.https_port}/webhooks"],
                         env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    return json.loads(match.group(1))


def stored_events(stack):
    return int(stack.redis_cmd("LLEN", stack.queue_key("ticket_status_change")))


def bench_mode(mode, args):
    stack = harness.Stack(f"bench-{mode}", spool=True, handler_env={"BOARDHOOK_LOG_LEVEL": "warn"})
    stack.start()
    try:
        if mode == "spool":
            stack.redis.stop()   # every event goes to the disk spool
        run_wrk(stack, args.warmup, args.connections, args.threads)
        if mode == "spool":
            stack.start_redis()
            stack.wait_until_spool_empty(timeout=300)
        before = stored_events(stack)
        if mode == "spool":
            stack.redis.stop()
        result = run_wrk(stack, args.seconds, args.connections, args.threads)
        if mode == "spool":
            stack.start_redis()
            if not stack.wait_until_spool_empty(timeout=600):
                raise RuntimeError("the spool did not drain")
        acknowledged = result["requests"] - result["status_errors"]
        stored = stored_events(stack) - before
        result.update(mode=mode, acknowledged=acknowledged, stored=stored,
                      rps=result["requests"] / (result["duration_us"] / 1e6))
        # wrk stops mid-request at the end: a request may be stored without its 200 counted,
        # never the other way round.
        result["check"] = "ok" if acknowledged <= stored <= acknowledged + args.connections else "MISMATCH"
        return result
    finally:
        stack.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "build/bench"))
    args = parser.parse_args()
    harness.HANDLER = os.path.abspath(args.handler)

    results = [bench_mode(mode, args) for mode in ("redis", "spool")]
    normal = results[0]["rps"]
    lines = [
        f"POST of `{FIXTURE.name}` ({FIXTURE.stat().st_size} bytes), {args.connections} connections, "
        f"{args.seconds} s, wrk -t{args.threads}, {time.strftime('%Y-%m-%d')}, "
        f"{platform.node()} ({os.cpu_count()} cores)",
        "",
        "| path | requests/s | p50 ms | p99 ms | p99.9 ms | 200s | stored | check | vs normal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        lines.append(f"| {'Redis (normal)' if r['mode'] == 'redis' else 'spool (Redis down)'} | {r['rps']:.0f} | "
                     f"{r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} | {r['p999_us'] / 1000:.2f} | "
                     f"{r['acknowledged']} | {r['stored']} | {r['check']} | {r['rps'] / normal:.0%} |")
    table = "\n".join(lines)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "spool.md").write_text(table + "\n")
    print(table)
    return 0 if all(r["check"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
