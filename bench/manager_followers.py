#!/usr/bin/env python3
"""sluice server with many live log followers (docs/benchmarks.md, "Job manager: live followers").

Starts a daemon on loopback, runs a job that writes a line every 0.1 s, and measures the latency of other
requests (GET /healthz, GET /v1/jobs/{id}, POST /v1/jobs) with no follower and then with N followers
(`GET /v1/jobs/{id}/logs?follow=1`, read continuously on their own sockets), plus the daemon's RSS and
thread count, and how far behind the job's output each follower is (bytes written vs received).

usage: bench/manager_followers.py SLUICE_BINARY [--followers 100] [--requests 300]
"""
import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time


def pct(v, p):
    v = sorted(v)
    return v[max(0, min(len(v) - 1, int(-(-p / 100 * len(v) // 1)) - 1))]


def proc_status(pid):
    st = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1)) / 1024
    threads = int(re.search(r"Threads:\s+(\d+)", st).group(1))
    return rss, threads


def timed_requests(host, port, job, n):
    lat = {"GET /healthz": [], "GET /v1/jobs/{id}": [], "POST /v1/jobs": []}
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps({"command": ["true"], "resources": {"cpus": 0}})
    for i in range(n):
        for name, method, path, data in (("GET /healthz", "GET", "/healthz", None), ("GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job}", None),
                                         ("POST /v1/jobs", "POST", "/v1/jobs", body)):
            if name == "POST /v1/jobs" and i % 10:
                continue  # one submit per 10 rounds: submits fsync and would dominate
            t = time.perf_counter()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            lat[name].append(time.perf_counter() - t)
            assert r.status in (200, 201), (name, r.status)
    conn.close()
    return lat


def follower(host, port, job, counts, i, stop):
    s = socket.create_connection((host, port), timeout=60)
    s.sendall(f"GET /v1/jobs/{job}/logs?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    while not stop.is_set():
        data = s.recv(65536)
        if not data:
            break
        counts[i] += data.count(b"event: log")
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sluice")
    ap.add_argument("--followers", type=int, default=100)
    ap.add_argument("--requests", type=int, default=300)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-followers-")
    srv = subprocess.Popen([a.sluice, "server", "--listen", "127.0.0.1:0", "--data-dir", work + "/data", "--cpus", "4"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = srv.stdout.readline()
    host, port = re.search(r"listening on ([\d.]+):(\d+)", line).groups()
    port = int(port)
    job = None
    try:
        c = http.client.HTTPConnection(host, port)
        c.request("POST", "/v1/jobs", body=json.dumps({"command": ["sh", "-c", "i=0; while [ $i -lt 100000 ]; do echo line $i; i=$((i+1)); sleep 0.1; done"]}))
        job = json.loads(c.getresponse().read())["id"]
        while True:
            c.request("GET", f"/v1/jobs/{job}")
            if json.loads(c.getresponse().read())["state"] == "RUNNING":
                break
            time.sleep(0.05)
        rss0, th0 = proc_status(srv.pid)
        base = timed_requests(host, port, job, a.requests)
        counts = [0] * a.followers
        stop = threading.Event()
        ts = [threading.Thread(target=follower, args=(host, port, job, counts, i, stop), daemon=True) for i in range(a.followers)]
        for t in ts:
            t.start()
        time.sleep(3)
        rss1, th1 = proc_status(srv.pid)
        t0 = time.time()
        loaded = timed_requests(host, port, job, a.requests)
        took = time.time() - t0
        time.sleep(1)
        rss2, th2 = proc_status(srv.pid)
        live = sum(1 for x in counts if x > 0)
        print(f"followers: {a.followers} ({live} receiving log messages; messages per follower min {min(counts)} max {max(counts)})")
        print(f"daemon RSS: {rss0:.1f} MiB, threads {th0} before; {rss1:.1f} MiB, threads {th1} with followers; {rss2:.1f} MiB after the requests")
        for name in base:
            b, l = base[name], loaded[name]
            print(f"{name:20s} n={len(l):4d}  no followers p50 {pct(b, 50)*1e3:.2f} ms p99 {pct(b, 99)*1e3:.2f} ms   "
                  f"{a.followers} followers p50 {pct(l, 50)*1e3:.2f} ms p99 {pct(l, 99)*1e3:.2f} ms")
        print(f"(loaded round took {took:.1f} s)")
        stop.set()
    finally:
        if job:  # jobs outlive the daemon by design: end this one first
            c = http.client.HTTPConnection(host, port)
            c.request("POST", f"/v1/jobs/{job}/cancel", body="")
            c.getresponse().read()
            time.sleep(0.5)
        srv.terminate()
        srv.wait(timeout=30)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
