"""``mdtool serve``: the JSON API on a free loopback port, its schema, safety limits and bad input.

Each server runs as a child process (``mdtool serve --port 0``) with its own working folder and
TMPDIR, so the tests also prove it writes nowhere but its work folder.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from conftest import REPO  # noqa: E402
from runtime_support import STARTER, quaternion_gap, runtime, write_song_file  # noqa: E402
from service_support import start_service  # noqa: E402

from mdruntime import PoseTrack, parse_timeline, timeline_key  # noqa: E402
from mdruntime.openapi import openapi_schema  # noqa: E402


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_song_file(tmp_path_factory.mktemp("song"))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    made = {name: root / name for name in ("work", "cwd", "tmp")}
    for path in made.values():
        path.mkdir()
    return made


@pytest.fixture(scope="module")
def server(folders):
    served = start_service(
        "--library", STARTER, "--max-upload-mb", 2, "--body-timeout", 2, "--workers", 2,
        "--no-record-edits",  # the shipped library stays as it is (recording: test_curation)
        work_dir=folders["work"], cwd=folders["cwd"], env={"TMPDIR": str(folders["tmp"])},
    )  # fmt: skip
    yield served
    served.stop()
    assert served.process.returncode is not None


@pytest.fixture(scope="module")
def served_timeline(server, song) -> dict:
    status, body = server.json(
        "POST", f"/v1/choreograph?seed=4&name={song}", song.read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )  # fmt: skip
    assert status == 200, body
    return body


def test_health_version_and_schema(server):
    assert server.json("GET", "/v1/health") == (200, {"status": "ok"})
    status, info = server.json("GET", "/v1/version")
    assert status == 200
    assert info["api"] == 1 and info["timeline"] == {"schema": "mdtool.timeline", "version": 1}
    assert info["library"]["phrases"] > 100 and info["scorer"] == "feature"
    # started in an empty folder: no bundles/default there, so the feature scorer, and why
    assert info["scorer_note"] == "no bundle at bundles/default; scoring with the features"
    assert info["limits"]["max_upload_bytes"] == 2 * 1024 * 1024 and "token" not in info["limits"]
    status, schema = server.json("GET", "/openapi.json")
    assert status == 200 and schema == openapi_schema()
    published = json.loads((REPO / "docs" / "runtime-openapi.json").read_text())
    assert published == schema, "docs/runtime-openapi.json is stale: mdtool serve --write-openapi"
    from mdruntime.service import create_app

    app_routes = create_app(runtime()).routes
    http = [r for r in app_routes if getattr(r, "methods", None)]
    # a path converter ("{path:path}", the studio's assets) is written "{path}" in OpenAPI
    routes = {(r.path.replace(":path}", "}"), m) for r in http for m in r.methods if m != "HEAD"}
    documented = {(p, m.upper()) for p, item in schema["paths"].items() for m in item}
    assert routes == documented
    # OpenAPI has no WebSockets: those are documented in docs/runtime.md
    sockets = [r.path for r in app_routes if r not in http]
    guide = (REPO / "docs" / "runtime.md").read_text()
    assert sockets == ["/v1/live"] and all(f"`WS {p}" in guide for p in sockets)


def test_choreograph_gives_the_runtime_timeline(server, song, served_timeline):
    expected = runtime().choreograph_file(song, seed=4).to_json()  # == mdtool choreograph
    expected["song"]["path"] = song.name  # a client-given name is reduced to its base name
    assert served_timeline["timeline"] == expected
    assert served_timeline["key"] == timeline_key(parse_timeline(expected))
    assert served_timeline["scorer"] == "feature"
    status, other = server.json(
        "POST", "/v1/choreograph?seed=4&style=waltz&fps=60&decoder=greedy&reuse_sections=false",
        song.read_bytes(),
    )  # fmt: skip
    assert status == 200 and other["timeline"]["style"] == "waltz"
    assert other["timeline"]["fps"] == 60.0 and other["timeline"]["song"]["path"] is None


def test_edit_bake_pose_and_glb(server, served_timeline):
    timeline = served_timeline["timeline"]
    status, ranked = server.json("POST", "/v1/alternatives", {"timeline": timeline, "slot": 1})
    assert status == 200 and ranked["slot"] == 1 and len(ranked["alternatives"]) == 10
    parsed = parse_timeline(timeline)
    assert ranked["alternatives"] == json.loads(json.dumps(runtime().alternatives(parsed, 1)))
    choice = next(r["phrase_id"] for r in ranked["alternatives"] if not r["current"])
    status, edited = server.json(
        "POST", "/v1/replace", {"timeline": timeline, "slot": 1, "phrase_id": choice}
    )
    assert status == 200 and edited["timeline"]["slots"][1]["phrase_id"] == choice
    assert edited["timeline"] == runtime().replace(parsed, 1, choice).to_json()
    status, headers, data = server.request("POST", "/v1/bake", {"timeline": edited["timeline"]})
    assert status == 200 and headers["content-type"] == "application/x-mdtool-posetrack"
    track = PoseTrack.from_bytes(data)
    assert headers["x-timeline-key"] == edited["key"] == track.timeline_key
    times = [0.0, 1.01, 7.5, 12.25, 29.0]
    status, poses = server.json("POST", "/v1/pose", {"timeline": edited["timeline"],
                                                     "times_s": times})  # fmt: skip
    assert status == 200 and len(poses["rotations"]) == 5 and poses["joints"][0] == "Hips"
    local = runtime().sample(parse_timeline(edited["timeline"]), times)
    assert quaternion_gap(np.array(poses["rotations"]), local.rotations) <= 1e-5
    assert np.allclose(poses["root_positions_m"], local.root_positions_m, atol=1e-5)
    status, headers, glb = server.request("POST", "/v1/render.glb", {"timeline": timeline})
    assert status == 200 and headers["content-type"] == "model/gltf-binary"
    assert glb[:4] == b"glTF" and len(glb) > 10_000
    status, listed = server.json("GET", "/v1/phrases?style=house")
    assert status == 200 and {p["style"] for p in listed["phrases"]} == {"house"}


def _bad_requests(timeline: dict, audio: bytes) -> list[tuple[str, str, object, int, str]]:
    foreign = copy.deepcopy(timeline)
    foreign["slots"][0]["phrase_id"] = "someone-elses-phrase"
    broken_times = copy.deepcopy(timeline)
    broken_times["slots"][1]["beat_times_s"] = [5.0, 4.0]
    old = copy.deepcopy(timeline)
    old["version"] = 0
    return [
        ("POST", "/v1/alternatives", b"{not json", 400, "not valid JSON"),
        ("POST", "/v1/alternatives", b"[1, 2]", 400, "must be a JSON object"),
        ("POST", "/v1/alternatives", {"slot": 1}, 400, "missing field 'timeline'"),
        ("POST", "/v1/alternatives", {"timeline": timeline, "slot": "1"}, 400, "integer"),
        ("POST", "/v1/alternatives", {"timeline": timeline, "slot": True}, 400, "integer"),
        ("POST", "/v1/alternatives", {"timeline": timeline, "slot": 1, "top_k": 0}, 400, "top_k"),
        ("POST", "/v1/alternatives", {"timeline": timeline, "slot": 999}, 422, "slot 999 does"),
        ("POST", "/v1/replace", {"timeline": timeline, "slot": 0, "phrase_id": "zzz"}, 422,
         "no phrase with id 'zzz'"),
        ("POST", "/v1/replace", {"timeline": timeline, "slot": -3, "phrase_id": "x"}, 422,
         "slot -3 does not exist"),
        ("POST", "/v1/bake", {"timeline": foreign}, 422, "this library does not have"),
        ("POST", "/v1/bake", {"timeline": broken_times}, 422, "slot 1 has inconsistent times"),
        ("POST", "/v1/bake", {"timeline": old}, 422, "version 0 is not supported"),
        ("POST", "/v1/render.glb", {"timeline": {"schema": "nope"}}, 422, "not an mdtool"),
        ("POST", "/v1/pose", {"timeline": timeline, "times_s": []}, 400, "times_s needs"),
        ("POST", "/v1/pose", {"timeline": timeline, "times_s": ["a"]}, 400, "finite numbers"),
        ("POST", "/v1/pose", b'{"timeline": {}, "times_s": [NaN]}', 400, "not valid JSON"),
        ("POST", "/v1/choreograph", b"", 400, "body is empty"),
        ("POST", "/v1/choreograph", b"<html>a web page</html>", 422, "unrecognised audio"),
        ("POST", "/v1/choreograph", b"RIFF\x10\x00\x00\x00WAVEfmt garbage!", 422,
         "cannot decode the wav upload"),
        ("POST", "/v1/choreograph?seed=-1", b"RIFF", 400, "query parameter seed"),
        ("POST", "/v1/choreograph?fps=1000", b"RIFF", 400, "query parameter fps"),
        ("POST", "/v1/choreograph?decoder=magic", b"RIFF", 400, "query parameter decoder"),
        ("POST", "/v1/choreograph?format=exe", b"RIFF", 400, "query parameter format"),
        ("POST", "/v1/choreograph?style=tango", audio, 422, "no phrases of style 'tango'"),
        ("GET", "/v1/nothing", None, 404, "no such endpoint"),
        ("GET", "/v1/choreograph", None, 405, "not allowed"),
    ]  # fmt: skip


def test_bad_input_gets_clear_4xx_and_the_service_keeps_serving(
    server, served_timeline, folders, song
):
    cases = _bad_requests(served_timeline["timeline"], song.read_bytes())
    for method, path, body, status, message in cases:
        got, _, data = server.request(method, path, body)
        error = json.loads(data)["error"]
        assert (got, error["status"]) == (status, status), (path, body, data)
        assert message in error["message"], (path, error)
        assert str(folders["work"]) not in error["message"]  # staging paths stay private
        assert str(folders["tmp"]) not in error["message"]
    assert server.json("GET", "/v1/health") == (200, {"status": "ok"})


def test_oversized_uploads_and_slow_clients(server):
    status, body = server.json("POST", "/v1/choreograph", b"\0" * (3 * 1024 * 1024))
    assert status == 413 and "limit" in body["error"]["message"]
    # a chunked upload with no length announced is cut off at the limit too
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/choreograph HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"RIFF" + b"\0" * (256 * 1024 - 4)
        try:
            for _ in range(16):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass  # the server may close the connection before the upload ends
        assert b" 413 " in _read_head(sock)
    # a client that announces a body and stalls gets 408 after the body time limit (2 s)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/choreograph HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nRIFF"
        )
        head = _read_head(sock)
    assert b" 408 " in head and 1.5 < time.monotonic() - start < 20
    assert server.json("GET", "/v1/health")[0] == 200


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n" not in data:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    return data


def test_many_clients_at_once(server, served_timeline):
    timeline = served_timeline["timeline"]

    def call(k: int) -> int:
        if k % 3 == 0:
            body = {"timeline": timeline, "slot": k % 5}
            return server.request("POST", "/v1/alternatives", body)[0]
        if k % 3 == 1:
            body = {"timeline": timeline, "times_s": list(np.linspace(0, 20, 60))}
            return server.request("POST", "/v1/pose", body)[0]
        return server.request("GET", "/v1/version")[0]

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(call, range(120)))
    assert statuses == [200] * 120


def test_writes_nowhere_but_its_work_folder(server, folders, served_timeline):
    server.request("POST", "/v1/render.glb", {"timeline": served_timeline["timeline"]})
    assert list(folders["work"].iterdir()) == []  # staged files are removed at once
    assert list(folders["cwd"].iterdir()) == []
    assert list(folders["tmp"].iterdir()) == []


def test_token_time_limit_and_refusals(song, tmp_path):
    served = start_service(
        "--library", STARTER, "--request-timeout", 0.01, "--no-preload",
        env={"MDTOOL_SERVE_TOKEN": "s3cret"},
    )  # fmt: skip
    try:
        served.token = None
        assert served.json("GET", "/v1/health")[0] == 200  # liveness needs no token
        status, body = served.json("GET", "/v1/version")
        assert status == 401 and "token" in body["error"]["message"]
        status, _ = served.json("GET", "/v1/version", headers={"Authorization": "Bearer nope"})
        assert status == 401
        served.token = "s3cret"
        assert served.json("GET", "/v1/version")[0] == 200
        status, body = served.json("POST", "/v1/choreograph", song.read_bytes())
        assert status == 504 and "time limit" in body["error"]["message"]
        assert served.json("GET", "/v1/health")[0] == 200
    finally:
        served.stop()
    result = subprocess.run(
        [sys.executable, "-m", "mdtool.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 1 and "needs" not in result.stdout
    assert "give a token" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "mdtool.cli", "serve", "--library", tmp_path / "none"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "no phrase library here" in result.stderr


def test_full_job_queue_answers_503():
    import threading

    import anyio

    from mdruntime.service import ServiceError, _Jobs

    release = threading.Event()
    jobs = _Jobs(workers=1, queue_limit=1, timeout_s=30)
    outcomes: list[object] = []

    async def submit(fn):
        try:
            outcomes.append(await jobs.run(fn))
        except ServiceError as error:
            outcomes.append(error.status)

    async def main():
        async with anyio.create_task_group() as group:
            group.start_soon(submit, lambda: release.wait(10) and "first")
            group.start_soon(submit, lambda: "second")  # waits for the worker
            await anyio.sleep(0.2)
            await submit(lambda: "third")  # no room: 503 at once
            release.set()

    anyio.run(main)
    assert outcomes[0] == 503 and sorted(map(str, outcomes[1:])) == ["first", "second"]
