"""Service load test: ``mdtool serve`` on a free loopback port, bounded in time and clients.

Measures the service's cold start (process start to the first healthy answer), the latency of
choreographing a 4-minute song (POSTed as wav bytes), then for each endpoint a fixed number of
concurrent clients (keep-alive connections) for a fixed time: requests per second and latency
percentiles, and fails if any request errs. Also the server's resident memory (one process;
jobs run on ``--workers`` threads).

Loopback only: the server binds 127.0.0.1 and the clients connect there.

    python benchmarks/bench_runtime_service.py [--seconds 5] [--clients 8]
    python benchmarks/bench_runtime_service.py --processes 1,2 [--seconds 10]  # scaling
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body and body[:1] == b"{" else {}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def start(workers: int, processes: int = 1) -> tuple[subprocess.Popen, int, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "mdtool.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--library", str(REPO / "phrase_library"), "--workers", str(workers),
         "--processes", str(processes)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    port = int(re.search(r":(\d+)", process.stdout.readline()).group(1))
    while True:
        try:
            if Client(port).call("GET", "/v1/health")[0] == 200:
                return process, port, time.perf_counter() - started
        except OSError:
            time.sleep(0.02)


def load(port: int, name: str, method: str, path: str, body: bytes | None, clients: int,
         seconds: float) -> dict:  # fmt: skip
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker():
        client = Client(port)
        mine = []
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                status, data = client.call(method, path, body)
            except OSError as error:
                status, data = -1, str(error).encode()
                client = Client(port)
            mine.append(time.perf_counter() - start)
            if status != 200:
                with lock:
                    errors.append(f"{status} {data[:200]!r}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ms = np.asarray(latencies) * 1e3
    row = {
        "endpoint": name,
        "clients": clients,
        "requests": len(ms),
        "rps": len(ms) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": len(errors),
    }
    if errors:
        row["first_error"] = errors[0]
    return row


def _worker_pids(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return found


def scaling(counts: list[int], seconds: float, clients: int) -> None:
    """Requests per second of choreograph (a 30-s song) and alternatives against the number
    of worker processes (one job thread each), and the memory of each worker."""
    import soundfile as sf

    from musicdance.audio.synth import synth_song

    y, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=30.0)
    buffer = io.BytesIO()
    sf.write(buffer, y, 22050, format="WAV", subtype="PCM_16")
    song = buffer.getvalue()
    print(f"{'processes':>9} {'endpoint':<22} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6}  RSS per worker")  # fmt: skip
    for count in counts:
        process, port, _ = start(1, count)
        try:
            status, data = Client(port).call("POST", "/v1/choreograph?seed=0", song)
            assert status == 200, data[:300]
            timeline = json.loads(data)["timeline"]
            body = json.dumps({"timeline": timeline, "slot": 3, "top_k": 10}).encode()
            for name, method, path, payload in [
                ("choreograph (30 s)", "POST", "/v1/choreograph?seed=1", song),
                ("alternatives", "POST", "/v1/alternatives", body),
            ]:
                row = load(port, name, method, path, payload, clients, seconds)
                workers = _worker_pids(process.pid) if count > 1 else [process.pid]
                rss = ", ".join(f"{_rss_mb(pid):.0f}" for pid in workers)
                print(f"{count:>9} {name:<22} {row['rps']:>7.2f} {row['p50_ms']:>8.0f} "
                      f"{row['p99_ms']:>8.0f} {row['errors']:>6}  {rss} MB")  # fmt: skip
                if row["errors"]:
                    raise SystemExit(f"errors: {row['first_error']}")
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per endpoint")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--processes", default=None,
        help="comma list (e.g. 1,2): only the scaling test against worker processes",
    )  # fmt: skip
    args = parser.parse_args()
    if args.processes:
        scaling([int(n) for n in args.processes.split(",")], args.seconds, args.clients)
        return
    import soundfile as sf

    from musicdance.audio.synth import synth_song

    y, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=270.0)  # 246 s
    buffer = io.BytesIO()
    sf.write(buffer, y, 22050, format="WAV", subtype="PCM_16")
    song = buffer.getvalue()

    process, port, cold = start(args.workers)
    try:
        idle_mb = _rss_mb(process.pid)
        print(f"cold start (spawn to first healthy answer, phrases preloaded): {cold:.2f} s; "
              f"RSS idle {idle_mb:.0f} MB")  # fmt: skip
        client = Client(port)
        times = []
        for _ in range(3):
            start_t = time.perf_counter()
            status, data = client.call("POST", "/v1/choreograph?seed=0", song)
            times.append(time.perf_counter() - start_t)
            assert status == 200, data[:300]
        timeline = json.loads(data)["timeline"]
        print(f"choreograph a {len(y) / 22050:.0f}-s song ({len(song) / 1e6:.1f} MB wav, "
              f"{len(timeline['slots'])} slots): first {times[0]:.2f} s, then "
              f"{min(times[1:]):.2f} s")  # fmt: skip
        t = json.dumps({"timeline": timeline}).encode()
        cases = [
            ("health", "GET", "/v1/health", None),
            ("alternatives", "POST", "/v1/alternatives",
             json.dumps({"timeline": timeline, "slot": 7, "top_k": 10}).encode()),
            ("pose (1 time)", "POST", "/v1/pose",
             json.dumps({"timeline": timeline, "times_s": [12.5]}).encode()),
            ("pose (60 times)", "POST", "/v1/pose",
             json.dumps({"timeline": timeline,
                         "times_s": list(np.arange(60) / 60 + 30)}).encode()),
            ("bake (pose track)", "POST", "/v1/bake", t),
        ]  # fmt: skip
        print(f"\n{'endpoint':<20} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} "
              f"{'p90 ms':>8} {'p99 ms':>8} {'errors':>6}")  # fmt: skip
        failed = 0
        for name, method, path, body in cases:
            row = load(port, name, method, path, body, args.clients, args.seconds)
            failed += row["errors"]
            print(f"{row['endpoint']:<20} {row['clients']:>7} {row['requests']:>8} "
                  f"{row['rps']:>8.1f} {row['p50_ms']:>8.1f} {row['p90_ms']:>8.1f} "
                  f"{row['p99_ms']:>8.1f} {row['errors']:>6}")  # fmt: skip
            if row["errors"]:
                print(f"  first error: {row['first_error']}")
        row = load(port, "choreograph (song)", "POST", "/v1/choreograph?seed=1", song,
                   min(args.clients, 4), args.seconds)  # fmt: skip
        failed += row["errors"]
        print(f"{row['endpoint']:<20} {row['clients']:>7} {row['requests']:>8} "
              f"{row['rps']:>8.1f} {row['p50_ms']:>8.1f} {row['p90_ms']:>8.1f} "
              f"{row['p99_ms']:>8.1f} {row['errors']:>6}")  # fmt: skip
        print(f"\nserver RSS after the load: {_rss_mb(process.pid):.0f} MB "
              f"(one process, {args.workers} worker threads)")  # fmt: skip
        if failed:
            raise SystemExit(f"{failed} requests failed")
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
