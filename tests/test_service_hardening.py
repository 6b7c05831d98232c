"""The service under attack (issues 14 and 24): every error in the JSON envelope, work bounded
before it starts, idle and slow connections closed, client names made safe, no file written
outside the work folder (checked under strace).

Real ``mdtool serve`` processes on loopback, real sockets, real audio.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from conftest import REPO  # noqa: E402
from runtime_support import STARTER, write_song_file  # noqa: E402
from service_support import Served, _tail, start_service  # noqa: E402


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_song_file(tmp_path_factory.mktemp("song"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    served = start_service(
        "--library", STARTER, "--idle-timeout", 1.5, "--max-connections", 400,
        "--max-frames", 20_000, "--max-song-min", 2, "--workers", 2, work_dir=work,
    )  # fmt: skip
    yield served
    served.stop()


@pytest.fixture(scope="module")
def timeline(server, song) -> dict:
    status, body = server.json("POST", "/v1/choreograph?seed=2", song.read_bytes())
    assert status == 200, body
    return body["timeline"]


def _raw(served: Served, data: bytes, timeout: float = 20.0) -> tuple[int, dict]:
    """Send raw bytes; the status and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        while True:
            try:
                more = sock.recv(65536)
            except OSError:
                break
            if not more:
                break
            answer += more
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def _envelope(status: int, body: dict) -> str:
    assert 400 <= status < 500, (status, body)
    assert body["error"]["status"] == status, body
    return body["error"]["message"]


def test_errors_before_the_app_get_the_envelope(server):
    cases = [
        b"POST /v1/replace HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/replace HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000,  # a head too long
        b"GET /v1/health HTTP/1.1\r\nBad Header\r\n\r\n",
    ]
    for data in cases:
        message = _envelope(*_raw(server, data))
        assert "malformed" in message
    status, body = _raw(
        server, b"POST /v1/replace HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
    )
    assert "limit" in _envelope(status, body) and status == 413
    assert server.json("GET", "/v1/health") == (200, {"status": "ok"})


def test_json_is_bounded_before_parsing(server, timeline):
    deep = b'{"timeline": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    status, body = server.json("POST", "/v1/bake", deep)
    assert status == 413 and "nested" in _envelope(status, body)
    many = b'{"times_s": [' + b"0," * 999_999 + b"0]}"
    status, body = server.json("POST", "/v1/pose", many)
    assert status == 413 and "values" in _envelope(status, body)
    status, body = server.json("POST", "/v1/bake", b'{"timeline": NaN}')
    assert status == 400 and "NaN" in _envelope(status, body)
    log = server.log_text()
    assert "Traceback" not in log and "RecursionError" not in log


def test_work_is_bounded_before_it_starts(server, timeline):
    long = copy.deepcopy(timeline)
    long["fps"], long["song"]["duration_s"] = 240.0, 7200.0
    started = time.monotonic()
    status, body = server.json("POST", "/v1/bake", {"timeline": long})
    assert status == 422 and "frames" in _envelope(status, body)
    beats = copy.deepcopy(timeline)
    beats["slots"][0]["beat_times_s"] = list(np.linspace(0.0, 1.0, 100_000))
    status, body = server.json("POST", "/v1/pose", {"timeline": beats, "times_s": [0.5]})
    assert status == 422 and "beat_times_s" in _envelope(status, body)
    many = {"timeline": timeline, "times_s": [0.1] * 200_000}
    status, body = server.json("POST", "/v1/pose", many)
    assert status == 400 and "times_s" in _envelope(status, body)
    assert time.monotonic() - started < 20  # refused, not attempted


def _declared_long_wav(path: Path, rate_hz: int, seconds: float) -> Path:
    import soundfile as sf

    sf.write(path, np.zeros(int(rate_hz * seconds), dtype=np.int16), rate_hz, subtype="PCM_16")
    return path


def test_song_caps_apply_before_decoding(server, song, tmp_path):
    # 1 Hz for 4 hours: 28 kB on disk, refused from its header (the cap is 2 minutes here)
    tiny = _declared_long_wav(tmp_path / "slow.wav", 1, 4 * 3600)
    assert tiny.stat().st_size < 40_000
    status, body = server.json("POST", "/v1/choreograph", tiny.read_bytes())
    assert status == 413 and "minutes" in _envelope(status, body)
    # 100 s at 240 fps is 24,000 frames: over the 20,000-frame cap, refused from the header
    long = _declared_long_wav(tmp_path / "long.wav", 8000, 100.0)
    status, body = server.json("POST", "/v1/choreograph?fps=240", long.read_bytes())
    assert status == 422 and "frames" in _envelope(status, body)


def test_client_names_are_reduced_to_a_base_name(server, song):
    for given, expected in (("../../etc/passwd", "passwd"), ("/etc/shadow", "shadow"),
                            ("..\\..\\win.ini", "win.ini"), ("..", "upload")):  # fmt: skip
        status, body = server.json(
            "POST", f"/v1/choreograph?name={given}", song.read_bytes()
        )
        assert status == 200, body
        assert body["timeline"]["song"]["path"] == expected


def test_idle_and_slow_connections_time_out(server):
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    try:
        started = time.monotonic()
        assert server.json("GET", "/v1/health", timeout=10) == (200, {"status": "ok"})
        assert time.monotonic() - started < 5
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        for byte in b"GET /v1/health HTTP/1.1\r\nHost:":  # one byte every 0.1 s
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        answer = slow.recv(4096)
        assert b" 408 " in answer and b'"status": 408' in answer
        slow.close()
        for sock in idle:  # each idle connection was closed by the server
            sock.settimeout(20)
            assert sock.recv(1) == b""
    finally:
        for sock in idle:
            sock.close()
    assert server.json("GET", "/v1/health") == (200, {"status": "ok"})


def test_too_many_connections_get_the_envelope(tmp_path):
    served = start_service("--library", STARTER, "--no-preload", "--max-connections", 20,
                           work_dir=tmp_path)  # fmt: skip
    held = []
    try:
        held = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(20)]
        time.sleep(0.3)
        status, body = _raw(served, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and body["error"]["status"] == 503
        for sock in held:
            sock.close()
        held = []
        time.sleep(0.3)
        assert served.json("GET", "/v1/health") == (200, {"status": "ok"})
    finally:
        for sock in held:
            sock.close()
        served.stop()


_CREATING = re.compile(
    r'^\d+\s+(?:\[pid\s+\d+\]\s+)?(openat|open|creat|mkdir|mkdirat|rename|renameat2?|link|'
    r'symlink|mknod)\((?:AT_FDCWD, )?"([^"]+)"(.*)$'
)


def _created_paths(log: str, cwd: Path) -> set[Path]:
    """Paths the traced processes created (``O_CREAT`` opens, new folders, renames' targets;
    the library is opened read-write by SQLite but never written by the service)."""
    found = set()
    for line in log.splitlines():
        match = _CREATING.match(line)
        if not match or "= -1" in match.group(3):
            continue
        call, path, rest = match.groups()
        if call.startswith("open") and "O_CREAT" not in rest:
            continue
        if call.startswith("rename"):
            target = re.search(r'"([^"]+)"', rest)
            path = target.group(1) if target else path
        found.add(Path(os.path.normpath(cwd / path)))
    return found


def _default_bundle_fits() -> bool:
    """Whether ``bundles/default`` was made for the starter library (then the traced server
    loads it, and onnxruntime with it)."""
    from musicdance.bundle import open_default_bundle
    from musicdance.library import open_library

    bundle, _ = open_default_bundle(open_library(STARTER), REPO / "bundles" / "default")
    return bundle is not None


def _stop_traced(process: subprocess.Popen) -> None:
    """Stop the server strace runs (strace exits with it), then strace itself if need be."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    try:
        pids = [int(p) for p in children.read_text().split()]
    except OSError:
        pids = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.kill()
        process.wait()


def _stamp(path: Path):
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_no_file_is_created_outside_the_work_folder(song, tmp_path):
    work, cwd = tmp_path / "work", tmp_path / "cwd"
    cwd.mkdir()
    trace = tmp_path / "trace.log"
    env = {**os.environ, "TMPDIR": "/tmp"}  # what a user's shell gives: not the work folder
    command = ["strace", "-f", "-qq", "-o", str(trace), "-e",
               "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,symlink",
               sys.executable, "-m", "mdtool.cli", "serve", "--port", "0", "--library",
               str(STARTER), "--work-dir", str(work), "--no-preload"]  # fmt: skip
    if _default_bundle_fits():  # onnxruntime writes $TMPDIR/.ses and ~/.cache files
        command += ["--bundle", str(REPO / "bundles" / "default")]
    before = {p: _stamp(p) for p in STARTER.resolve().rglob("*")}
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, cwd=cwd,
                               env=env)  # fmt: skip
    served = None
    try:
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not found:
            pytest.fail(f"serve did not start under strace: {line!r} {_tail(log)}")
        served = Served(process, int(found.group(1)), work, None, log)
        status, body = served.json("POST", "/v1/choreograph?name=../../x.wav", song.read_bytes(),
                                   timeout=300)  # fmt: skip
        assert status == 200, body
        for path in ("/v1/render.glb", "/v1/bake"):
            answer = served.request("POST", path, {"timeline": body["timeline"]}, timeout=300)
            assert answer[0] == 200
        ogg = tmp_path / "song.ogg"
        import soundfile as sf

        y, sr = sf.read(song)
        sf.write(ogg, y[: sr * 5], sr)
        served.request("POST", "/v1/choreograph?format=ogg", ogg.read_bytes(), timeout=300)
        # an m4a goes to audioread, whose decoder probing runs a compiler (temporary files)
        m4a = b"\0\0\0\x20ftypM4A " + b"\0" * 4096
        status, body = served.json("POST", "/v1/choreograph", m4a, timeout=300)
        assert status == 422, body
    finally:
        _stop_traced(process)  # SIGTERM to strace would detach it and leave the server running
        log.close()
    created = _created_paths(trace.read_text(), cwd)
    assert created, "strace saw nothing: the trace is not working"
    # SQLite opens the library with O_CREAT; it existed before and was not changed
    created = {p for p in created if before.get(p, "gone") != _stamp(p)}
    allowed = (work.resolve(), Path("/dev"), Path("/proc"))
    outside = sorted(
        str(p) for p in created
        if not any(p == a or a in p.parents for a in allowed)
    )  # fmt: skip
    assert outside == [], outside
