#!/usr/bin/env python3
"""Load test of `dossier serve` on loopback: latency and throughput of /v1/search and
/v1/ask under concurrency, as ratios against one client (the reference run, same script).

Starts its own server on a free 127.0.0.1 port over an existing store, sends a bounded
number of requests (every loop is capped in count and time), stops the server, and prints a
Markdown table (or --json). Standard library only.

    bench/serve/load.py --store target/demo-store [--searches 200] [--asks 12]
"""

import argparse
import json
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

SEARCH_QUERIES = [
    "notice period for terminating the agreement",
    "hotel per night in London",
    "how many vacation days",
    "who is liable for data breaches",
    "uptime commitment and service credits",
    "parental leave",
    "expense reports deadline",
    "governing law of the contract",
]
ASK_QUESTIONS = [
    "How much advance notice must the customer give to terminate the Corvane agreement for convenience?",
    "What is the most I can spend per night on a hotel in London?",
    "What is the boiling point of liquid nitrogen in kelvin?",
]


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def request(url, body, timeout):
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        status = 0
    return status, time.perf_counter() - started


def run_load(url, bodies, total, concurrency, timeout, budget_s):
    """`total` requests (cycling through `bodies`) from `concurrency` threads; stops early
    when `budget_s` is spent."""
    jobs = queue.Queue()
    for i in range(total):
        jobs.put(bodies[i % len(bodies)])
    results = []
    lock = threading.Lock()
    deadline = time.monotonic() + budget_s

    def worker():
        while time.monotonic() < deadline:
            try:
                body = jobs.get_nowait()
            except queue.Empty:
                return
            status, seconds = request(url, body, timeout)
            with lock:
                results.append((status, seconds))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ok = [s for status, s in results if status == 200]
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "ok": len(ok),
        "busy_503": sum(1 for status, _ in results if status == 503),
        "errors": sum(1 for status, _ in results if status not in (200, 503)),
        "wall_s": wall,
        "ok_per_s": len(ok) / wall if wall > 0 else 0.0,
        "p50_ms": percentile(ok, 50) * 1000,
        "p99_ms": percentile(ok, 99) * 1000,
        "mean_ms": (statistics.fmean(ok) * 1000) if ok else float("nan"),
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(dossier, store, models, extra):
    port = free_port()
    cmd = [dossier, "--store", store, "--models", models, "serve", "--addr", f"127.0.0.1:{port}",
           "--no-audit", "--rate-limit", "0"] + extra
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        if "listening on" in line:
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return server, f"http://127.0.0.1:{port}"
    server.kill()
    sys.exit(f"dossier serve did not start: {' '.join(cmd)}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/dossier-target"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="an ingested store (e.g. make demo's target/demo-store)")
    parser.add_argument("--models", default=os.environ.get("DOSSIER_MODELS", os.path.join(repo, "models")))
    parser.add_argument("--dossier", default=os.path.join(target, "debug", "dossier"))
    parser.add_argument("--searches", type=int, default=200, help="search requests per concurrency level")
    parser.add_argument("--asks", type=int, default=12, help="ask requests per concurrency level")
    parser.add_argument("--search-concurrency", default="1,2,4,8,16")
    parser.add_argument("--ask-concurrency", default="1,4,16")
    parser.add_argument("--max-queue", type=int, default=8, help="the server's --max-queue")
    parser.add_argument("--budget", type=float, default=240, help="seconds at most per level")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not shutil.which(args.dossier) and not os.path.isfile(args.dossier):
        sys.exit(f"no dossier binary at {args.dossier} (cargo build first)")

    server, base = start_server(args.dossier, args.store, args.models, ["--max-queue", str(args.max_queue)])
    rows = []
    try:
        # Warm up: the first request of each kind loads caches and index files.
        request(f"{base}/v1/search", {"query": SEARCH_QUERIES[0]}, 60)
        request(f"{base}/v1/ask", {"question": ASK_QUESTIONS[0]}, 300)
        for c in [int(x) for x in args.search_concurrency.split(",")]:
            r = run_load(f"{base}/v1/search", [{"query": q, "k": 5} for q in SEARCH_QUERIES],
                         args.searches, c, 60, args.budget)
            rows.append(("search", r))
        for c in [int(x) for x in args.ask_concurrency.split(",")]:
            r = run_load(f"{base}/v1/ask", [{"question": q} for q in ASK_QUESTIONS],
                         args.asks, c, 600, args.budget)
            rows.append(("ask", r))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    reference = {}
    for endpoint, r in rows:
        reference.setdefault(endpoint, r)
        ref = reference[endpoint]
        r["throughput_vs_1_client"] = r["ok_per_s"] / ref["ok_per_s"] if ref["ok_per_s"] else float("nan")
        r["p50_vs_1_client"] = r["p50_ms"] / ref["p50_ms"] if ref["p50_ms"] else float("nan")
    if args.json:
        print(json.dumps([{"endpoint": e, **r} for e, r in rows], indent=2))
        return
    print("| endpoint | clients | requests | ok/s | × 1 client | p50 ms | p99 ms | p50 × 1 client | 503 | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for endpoint, r in rows:
        print(f"| {endpoint} | {r['concurrency']} | {r['requests']} | {r['ok_per_s']:.2f} | "
              f"{r['throughput_vs_1_client']:.2f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
              f"{r['p50_vs_1_client']:.2f} | {r['busy_503']} | {r['errors']} |")


if __name__ == "__main__":
    main()
