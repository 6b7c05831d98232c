"""Fuzz the service (issue 14): ``mdtool serve`` on loopback gets mutated timelines, damaged
JSON, hostile query strings and audio, and malformed HTTP; prints the counts.

Each request must be answered within 20 s with a 2xx (well-formed: JSON, ``glTF`` or ``MDPT``
bytes, song names reduced to base names) or a 4xx carrying the JSON error envelope; a 5xx,
a missing envelope or no answer counts as uncaught. At the end the server's log must hold no
traceback, its work folder must be empty, and its peak memory (VmHWM) is reported.

    python benchmarks/fuzz_service.py --seconds 600 [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))
sys.path.insert(0, str(REPO / "tests"))

from service_support import start_service  # noqa: E402
from svc_fuzzing import HANG_S, Tally, dumps_any, mutate_json, mutate_text  # noqa: E402

STARTER = REPO / "phrase_library"
ENDPOINTS = ("/v1/bake", "/v1/pose", "/v1/alternatives", "/v1/replace", "/v1/render.glb")


def _song_bytes(seconds: float) -> bytes:
    import soundfile as sf

    from musicdance.audio.synth import synth_song

    y, _ = synth_song("pop", bpm=120.0, seed=5, duration_s=seconds)
    buffer = io.BytesIO()
    sf.write(buffer, y, 22050, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def send(port: int, data: bytes) -> tuple[int | None, dict, bytes, float]:
    """Send raw bytes; (status, headers, body, seconds); status None when nothing came back."""
    started = time.perf_counter()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_S) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass
        while True:
            try:
                more = sock.recv(65536)
            except TimeoutError:
                return None, {}, b"timeout", time.perf_counter() - started
            except OSError:
                break
            if not more:
                break
            answer += more
            head, _, body = answer.partition(b"\r\n\r\n")
            length = [
                line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            ]
            if length and len(body) >= int(length[0].split(b":")[1]):
                break
    seconds = time.perf_counter() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        return None, {}, answer[:200], seconds
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower().decode()] = value.strip().decode(errors="replace")
    return int(lines[0].split(b" ")[1]), headers, body, seconds


def request(method: str, path: str, body: bytes = b"", content_type: str = "application/json"):
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


def judge(status, headers, body, seconds, path: str, tally: Tally, what: str) -> None:
    if status is None:
        tally.add("hang" if body == b"timeout" else "uncaught", f"{what}: no answer {body[:80]!r}",
                  seconds)  # fmt: skip
        return
    if seconds > HANG_S:
        tally.add("hang", what, seconds)
        return
    if status >= 500:
        tally.add("uncaught", f"{what}: {status} {body[:200]!r}", seconds)
        return
    if status >= 400:
        try:
            error = json.loads(body)["error"]
            assert error["status"] == status and isinstance(error["message"], str)
        except Exception:  # noqa: BLE001
            tally.add("uncaught", f"{what}: {status} without the envelope {body[:120]!r}", seconds)
            return
        tally.add("refused", "", seconds)
        return
    if path.endswith(".glb") and not body.startswith(b"glTF"):
        tally.add("partial", f"{what}: not a glb", seconds)
    elif path == "/v1/bake" and not body.startswith(b"MDPT"):
        tally.add("partial", f"{what}: not a pose track", seconds)
    elif path.startswith("/v1/choreograph"):
        song = json.loads(body)["timeline"]["song"]["path"]
        if song is not None and ("/" in song or "\\" in song or song.startswith(".")):
            tally.add("partial", f"{what}: unsafe song name {song!r}", seconds)
        else:
            tally.add("ok", "", seconds)
    else:
        tally.add("ok", "", seconds)


_QUERY_VALUES = ["", "0", "-1", "1e999", "nan", "30", "240", "241", "waltz",
                 "../../etc/passwd", "/etc/shadow", "%00", "x" * 300, "true", "viterbi",
                 "greedy", "wav", "m4a"]  # fmt: skip


def audio_case(rng: random.Random, song: bytes) -> tuple[str, bytes]:
    query = "&".join(
        f"{rng.choice(('fps', 'seed', 'style', 'name', 'decoder', 'format', 'reuse_sections'))}="
        f"{rng.choice(_QUERY_VALUES)}"
        for _ in range(rng.randrange(4))
    )
    data = bytearray(song)
    op = rng.randrange(6)
    if op == 0:
        for _ in range(rng.choice((1, 3, 8))):
            data[rng.randrange(44)] = rng.randrange(256)  # the header
    elif op == 1:
        data = data[: rng.randrange(len(data))]
    elif op == 2:
        data[24:28] = rng.choice((1, 4000, 2**31 - 1, 0)).to_bytes(4, "little")  # sample rate
    elif op == 3:
        data[40:44] = (2**32 - 1).to_bytes(4, "little")  # data size
    elif op == 4:
        data = bytearray(rng.randbytes(rng.randrange(1, 5000)))
    return f"/v1/choreograph?{query}", bytes(data)


def raw_case(rng: random.Random) -> bytes:
    return rng.choice([
        b"GARBAGE\r\n\r\n",
        b"POST /v1/bake HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/bake HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999\r\n\r\n",
        b"POST /v1/bake HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /v1/health HTTP/1.1\r\n" + b"X: y\r\n" * rng.choice((1, 200)) + b"\r\n",
        b"GET /v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        b"DELETE /v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        rng.randbytes(rng.randrange(1, 300)) + b"\r\n\r\n",
        b"POST /v1/pose HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]",
        b"GET /v1/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x00\xff\r\n\r\n",
    ])


def make_request(rng: random.Random, timeline: dict, phrase_ids: list[str], short: bytes):
    """One fuzzed request: ``(kind, path, raw HTTP bytes)``."""
    roll = rng.random()
    if roll < 0.5:
        kind, path = "timeline", rng.choice(ENDPOINTS)
        mutated = rng.random() < 0.9
        body = {"timeline": mutate_json(timeline, rng) if mutated
                else timeline, "slot": rng.choice((0, 1, -1, 10**9, "1", None)),
                "phrase_id": rng.choice([*phrase_ids[:5], "../x", "", 3]),
                "top_k": rng.choice((1, 10, 0, 501, 2**70)),
                "times_s": rng.choice(([0.5, 1.0], [], [1e308], ["x"],
                                       list(range(200))))}  # fmt: skip
        if not mutated and rng.random() < 0.5:
            body = mutate_json(body, rng)
        data = request("POST", path, dumps_any(body).encode())
    elif roll < 0.65:
        kind, path = "json-text", rng.choice(ENDPOINTS)
        text = mutate_text(json.dumps({"timeline": timeline, "slot": 1,
                                       "times_s": [1.0]}), rng)  # fmt: skip
        data = request("POST", path, text.encode("utf-8", "surrogatepass"))
    elif roll < 0.75:
        kind = "audio"
        path, audio = audio_case(rng, short)
        data = request("POST", path, audio, "application/octet-stream")
    elif roll < 0.95:
        kind, path = "raw-http", "/"
        data = raw_case(rng)
    else:
        kind, path = "deep-json", rng.choice(ENDPOINTS)
        depth = rng.choice((40, 1000, 100_000))
        deep = b'{"timeline": ' + b"[" * depth + b"]" * depth + b"}"
        data = request("POST", path, deep)
    return kind, path, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-requests", type=int, default=10**9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally = Tally()
    kinds: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-service-") as tmp:
        work = Path(tmp) / "work"
        served = start_service("--library", STARTER, "--workers", 2, "--body-timeout", 2,
                               "--idle-timeout", 3, "--max-frames", 60_000, "--max-song-min", 5,
                               "--no-record-edits", work_dir=work)  # fmt: skip
        try:
            song = _song_bytes(16.0)
            short = _song_bytes(4.0)
            status, body = served.json("POST", "/v1/choreograph?seed=1", song)
            assert status == 200, body
            timeline = body["timeline"]
            phrase_ids = [p["id"] for p in served.json("GET", "/v1/phrases")[1]["phrases"]]
            deadline = time.monotonic() + args.seconds
            count = 0
            while time.monotonic() < deadline and count < args.max_requests:
                kind, path, data = make_request(rng, timeline, phrase_ids, short)
                kinds[kind] = kinds.get(kind, 0) + 1
                judge(*send(served.port, data), path, tally, f"{kind} {path}")
                count += 1
            health = served.json("GET", "/v1/health")
            log = served.log_text()
            peak_kb = _peak_kb(served.process.pid)
        finally:
            served.stop()
        # onnxruntime keeps a session id ($TMPDIR/.ses) and a telemetry database
        # ($XDG_CACHE_HOME/Microsoft), both pointed at the work folder: its own files, not leaks
        leftovers = sorted(
            f"{p.name} ({p.stat().st_size} bytes: {p.read_bytes()[:40]!r})" if p.is_file()
            else f"{p.name}/" for p in work.iterdir() if p.name not in (".ses", "Microsoft")
        ) if work.exists() else []  # fmt: skip
    summary = tally.summary()
    report = {"seed": args.seed, "seconds": args.seconds, "requests": summary, "kinds": kinds,
              "health_after": health[0], "tracebacks_in_log": log.count("Traceback"),
              "work_folder_leftovers": leftovers,
              "server_peak_rss_mb": round(peak_kb / 1024, 1) if peak_kb else None}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{summary['inputs']} requests ({kinds}): {summary['ok']} ok, {summary['refused']} "
              f"refused with the envelope, {summary['uncaught']} uncaught, {summary['hang']} "
              f"hangs, {summary['partial']} malformed answers; slowest {summary['slowest_s']} s")
        print(f"health after: {health[0]}; tracebacks in the server log: "
              f"{report['tracebacks_in_log']}; work folder leftovers: {leftovers}; server peak "
              f"RSS {report['server_peak_rss_mb']} MB")
        for outcome, examples in summary["examples"].items():
            for example in examples:
                print(f"  {outcome}: {example}")
    bad = tally.bad or report["tracebacks_in_log"] or leftovers or health[0] != 200
    sys.exit(1 if bad else 0)


def _peak_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


if __name__ == "__main__":
    main()
