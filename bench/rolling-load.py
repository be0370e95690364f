#!/usr/bin/python3
"""Steady authenticated reads for bench/rolling-restart.sh (Python standard library only).

Usage: rolling-load.py URL TOKEN RATE STOPFILE OUT.json
Sends GET URL with `Authorization: Bearer TOKEN` at RATE requests per second (open loop: each request
has a scheduled time, and its latency is measured from that time, so a stall is not hidden) until
STOPFILE exists (at most 15 minutes), on keep-alive connections from a pool of worker threads. A request
fails on any status but 200, a connection error or no answer within 10 s. Writes a JSON summary.
"""

import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.parse

url, token, rate, stopfile, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
target = urllib.parse.urlsplit(url)
path = target.path + ("?" + target.query if target.query else "")
WORKERS = 32
TIMEOUT = 10.0
MAX_SECONDS = 900

jobs: "queue.Queue[float | None]" = queue.Queue()
lock = threading.Lock()
results = []  # (scheduled, latency_s, ok, what)


def worker():
    conn = None
    while True:
        scheduled = jobs.get()
        if scheduled is None:
            return
        what = ""
        ok = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=TIMEOUT)
            conn.request("GET", path, headers={"Authorization": "Bearer " + token})
            resp = conn.getresponse()
            body = resp.read()
            ok = resp.status == 200 and body.startswith(b'{"data"')
            # Who answered a failure: HAProxy's own error pages are HTML, Directus answers JSON.
            who = "load balancer" if body.lstrip().startswith(b"<html") else "Directus"
            what = str(resp.status) + " from " + who
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # connection refused / reset / timeout: a failed request
            what = type(e).__name__
            if conn is not None:
                conn.close()
            conn = None
        done = time.monotonic()
        with lock:
            results.append((scheduled, done - scheduled, ok, what))


threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
for t in threads:
    t.start()

start = time.monotonic()
n = 0
while not os.path.exists(stopfile) and time.monotonic() - start < MAX_SECONDS:
    scheduled = start + n / rate
    delay = scheduled - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    jobs.put(scheduled)
    n += 1
for _ in threads:
    jobs.put(None)
for t in threads:
    t.join(TIMEOUT + 5)

with lock:
    done = list(results)
lat = sorted(r[1] for r in done)


def pct(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0.0


failures = {}
for r in done:
    if not r[2]:
        failures[r[3]] = failures.get(r[3], 0) + 1
summary = {
    "sent": n,
    "answered": len(done),
    "failed": sum(1 for r in done if not r[2]) + (n - len(done)),
    "failures": failures,
    "p50_ms": round(pct(0.50), 1),
    "p99_ms": round(pct(0.99), 1),
    "max_ms": round(lat[-1] * 1000, 1) if lat else 0.0,
    "seconds": round(time.monotonic() - start, 1),
}
with open(out, "w") as f:
    json.dump(summary, f)
print(json.dumps(summary))
