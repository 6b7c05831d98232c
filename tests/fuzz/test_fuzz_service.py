"""Seeded service fuzzing (issue 14): a few hundred hostile requests (mutated timelines, damaged
JSON, hostile queries and audio, malformed HTTP) against a real ``mdtool serve`` on loopback;
every answer is a 2xx or a 4xx with the JSON envelope, within the time limit, and the server
logs no traceback. The long run is ``benchmarks/fuzz_service.py --seconds N``."""

from __future__ import annotations

import random
import sys

import pytest
from conftest import REPO

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sys.path.insert(0, str(REPO / "benchmarks"))

from fuzz_service import _song_bytes, judge, make_request, send  # noqa: E402
from service_support import start_service  # noqa: E402

from fuzz.svc_fuzzing import Tally  # noqa: E402

STARTER = REPO / "phrase_library"


def test_hostile_requests_get_envelopes(tmp_path):
    work = tmp_path / "work"
    served = start_service("--library", STARTER, "--workers", 2, "--body-timeout", 2,
                           "--no-bundle", "--max-song-min", 5, work_dir=work)  # fmt: skip
    try:
        status, body = served.json("POST", "/v1/choreograph?seed=1", _song_bytes(12.0))
        assert status == 200, body
        timeline = body["timeline"]
        phrase_ids = [p["id"] for p in served.json("GET", "/v1/phrases")[1]["phrases"]]
        short = _song_bytes(3.0)
        rng = random.Random(14)
        tally = Tally()
        for _ in range(200):
            kind, path, data = make_request(rng, timeline, phrase_ids, short)
            judge(*send(served.port, data), path, tally, f"{kind} {path}")
        assert tally.bad == 0, tally.summary()
        assert tally.counts["ok"] > 0 and tally.counts["refused"] > 100
        assert served.json("GET", "/v1/health") == (200, {"status": "ok"})
        assert "Traceback" not in served.log_text()
    finally:
        served.stop()
    assert [p.name for p in work.iterdir()] == []
