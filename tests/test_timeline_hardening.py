"""Damaged timelines are one clear error; a run's outputs land together or not at all (issue 14).

Real song, real starter library, real CLI processes; the kill test sends a real SIGKILL to a
``mdtool choreograph`` while it writes its files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pygltflib
import pytest
from conftest import REPO
from library_support import mdtool, one_line_error

from musicdance.atomic import STAGING_PREFIX, atomic_outputs, recover_outputs
from musicdance.audio.analysis import analyze
from musicdance.audio.synth import synth_song, write_song
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.timeline import (
    MAX_FRAMES,
    MAX_SLOTS,
    Timeline,
    parse_timeline,
    read_timeline,
    write_timeline,
)
from musicdance.errors import MusicDanceError
from musicdance.library import open_library

STARTER = REPO / "phrase_library"


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    y, _ = synth_song("pop", bpm=120.0, seed=5, duration_s=24.0)
    return write_song(tmp_path_factory.mktemp("song") / "pop120.wav", y, sr_hz=22050)


@pytest.fixture(scope="module")
def timeline_json(song) -> dict:
    return choreograph(analyze(song), open_library(STARTER), seed=1).to_json()


def _mutated(data: dict, edit) -> dict:
    changed = copy.deepcopy(data)
    edit(changed)
    return changed


def _nest(depth: int):
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


MUTATIONS = {
    "fps null": lambda d: d.update(fps=None),
    "fps string": lambda d: d.update(fps="30"),
    "fps huge": lambda d: d.update(fps=1e308),
    "fps zero": lambda d: d.update(fps=0),
    "seed float": lambda d: d.update(seed=1.5),
    "seed bool": lambda d: d.update(seed=True),
    "seed huge": lambda d: d.update(seed=10**30),
    "song list": lambda d: d.update(song=[1, 2]),
    "duration missing": lambda d: d["song"].pop("duration_s"),
    "duration negative": lambda d: d["song"].update(duration_s=-3),
    "duration 2 days": lambda d: d["song"].update(duration_s=172_800.0),
    "frames over the limit": lambda d: (
        d.update(fps=240.0), d["song"].update(duration_s=MAX_FRAMES / 240.0 * 1.5)
    ),
    "slots null": lambda d: d.update(slots=None),
    "slots empty": lambda d: d.update(slots=[]),
    "slot a string": lambda d: d["slots"].__setitem__(0, "slot"),
    "slot missing key": lambda d: d["slots"][0].pop("end_s"),
    "slot index shuffled": lambda d: d["slots"][0].update(index=7),
    "beats reversed": lambda d: d["slots"][0]["beat_times_s"].reverse(),
    "beats one": lambda d: d["slots"][0].update(beat_times_s=[d["slots"][0]["start_s"]]),
    "beats 100000": lambda d: d["slots"][0].update(beat_times_s=list(range(100_000))),
    "beat a dict": lambda d: d["slots"][0]["beat_times_s"].__setitem__(1, {"a": 1}),
    "beat nested deep": lambda d: d["slots"][0]["beat_times_s"].__setitem__(1, _nest(50)),
    "start after end": lambda d: d["slots"][1].update(start_s=1e6),
    "meter 7": lambda d: d["slots"][0].update(meter=7),
    "phrase id null": lambda d: d["slots"][0].update(phrase_id=None),
    "phrase id empty": lambda d: d["slots"][0].update(phrase_id=""),
    "score text": lambda d: d["slots"][0].update(score="high"),
    "alternatives dict": lambda d: d["slots"][0].update(alternatives={"a": 1}),
    "alternative a number": lambda d: d["slots"][0].update(alternatives=[3]),
    "label megabyte": lambda d: d["slots"][0].update(section_label="A" * 1_000_000),
    "schema missing": lambda d: d.pop("schema"),
    "version text": lambda d: d.update(version="1"),
    "many slots": lambda d: d.update(slots=d["slots"] * (MAX_SLOTS // len(d["slots"]) + 1)),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_damage_is_one_clear_error(timeline_json, name):
    data = _mutated(timeline_json, MUTATIONS[name])
    with pytest.raises(MusicDanceError) as caught:
        parse_timeline(data)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    with pytest.raises(MusicDanceError):  # the same from the JSON text
        parse_timeline(json.dumps(data))


def test_json_text_damage(timeline_json):
    text = json.dumps(timeline_json)
    for bad in (
        text.replace('"fps": 30.0', '"fps": NaN'),
        text.replace('"fps": 30.0', '"fps": Infinity'),
        text[: len(text) // 2],
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 50_000 + "0" + "}" * 50_000,
        b"\xff\xfe" + text.encode(),
        "null",
        "",
    ):
        with pytest.raises(MusicDanceError, match="timeline"):
            parse_timeline(bad)
    assert parse_timeline(text).to_json() == timeline_json


def test_the_real_timeline_reads_back(timeline_json, tmp_path):
    path = tmp_path / "song.timeline.json"
    write_timeline(Timeline.from_json(timeline_json), path)
    assert read_timeline(path).to_json() == timeline_json


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def made(song, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("made")
    result = mdtool("choreograph", song, "-o", out, "--seed", 1, "--library", STARTER,
                    "--no-bundle", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_failed_edit_changes_nothing(made, tmp_path, timeline_json):
    folder = tmp_path / "dance"
    folder.mkdir()
    for path in made.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    timeline = folder / "pop120.timeline.json"
    before = _snapshot(folder)
    waltz = open_library(STARTER).infos(styles=["waltz"])[0].id
    first_ok = timeline_json["slots"][0]["alternatives"][1]["phrase_id"]
    for args in (
        ["--replace", f"0={first_ok}", "--replace", "1=no-such-phrase"],
        ["--replace", f"0={first_ok}", "--replace", f"1={waltz}"],
        ["--replace", "9999=x"],
        ["--replace", "nonsense"],
    ):
        result = mdtool("edit", timeline, *args, "--library", STARTER)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert _snapshot(folder) == before, args
    damaged = json.loads(timeline.read_text())
    damaged["slots"][2]["beat_times_s"] = [1.0, "2.0"]
    timeline.write_text(json.dumps(damaged))
    before = _snapshot(folder)
    line = one_line_error(mdtool("edit", timeline, "--replace", f"0={first_ok}"))
    assert "pop120.timeline.json" in line and "beat_times_s" in line
    assert _snapshot(folder) == before


def test_an_output_set_lands_whole_or_not_at_all(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("old a")
    (folder / "b.txt").write_text("old b")
    with pytest.raises(RuntimeError), atomic_outputs(folder) as staged:
        staged.path(folder / "a.txt").write_text("new a")
        raise RuntimeError("the second file failed")
    assert _snapshot(folder) == _snapshot_of({"a.txt": "old a", "b.txt": "old b"}, tmp_path)
    with atomic_outputs(folder) as staged:
        staged.path(folder / "a.txt").write_text("new a")
        staged.path(folder / "b.txt").write_text("new b")
    assert (folder / "a.txt").read_text() == "new a" and (folder / "b.txt").read_text() == "new b"
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt"]
    fresh = tmp_path / "never"
    with pytest.raises(RuntimeError), atomic_outputs(fresh) as staged:
        staged.path(fresh / "a.txt").write_text("x")
        raise RuntimeError("failed")
    assert not fresh.exists()  # a failed run does not even leave its folder


def _snapshot_of(files: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in sorted(files.items())}


def test_a_killed_run_is_finished_or_discarded_by_the_next(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)  # a process that is gone
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("old a")
    (folder / "b.txt").write_text("old b")
    committed = folder / f"{STAGING_PREFIX}{pid}-x1"
    committed.mkdir()
    (committed / "b.txt").write_text("new b")  # a.txt was already moved when it was killed
    (committed / "COMMIT").write_text("a.txt\nb.txt\n")
    (folder / "a.txt").write_text("new a")
    partial = folder / f"{STAGING_PREFIX}{pid}-x2"
    partial.mkdir()
    (partial / "a.txt").write_text("half")
    done = recover_outputs(folder)
    assert len(done) == 2
    assert (folder / "a.txt").read_text() == "new a" and (folder / "b.txt").read_text() == "new b"
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt"]


def _glb_timeline(path: Path) -> dict:
    return pygltflib.GLTF2().load(str(path)).scenes[0].extras["mdtool_timeline"]


def test_kill_9_during_choreograph_leaves_a_whole_set(song, tmp_path):
    out = tmp_path / "out"
    base = ["choreograph", str(song), "-o", str(out), "--library", str(STARTER), "--no-bundle",
            "--fps", "240"]  # fmt: skip
    first = mdtool(*base, "--seed", "1")
    assert first.returncode == 0, first.stderr
    names = ("pop120.glb", "pop120.bvh", "pop120.timeline.json")
    old = {n: (out / n).read_bytes() for n in names}
    caught_staging = 0
    for attempt in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "mdtool.cli", *base, "--seed", str(2 + attempt)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while process.poll() is None:
            staging = [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
            if staging and any(staging[0].iterdir()):
                os.kill(process.pid, signal.SIGKILL)
                caught_staging += 1
                break
            time.sleep(0.0005)
        process.wait()
        visible = {n: (out / n).read_bytes() for n in names}
        timeline = json.loads(visible["pop120.timeline.json"])
        assert _glb_timeline(out / "pop120.glb") == timeline  # one run's glb and json
        if visible["pop120.timeline.json"] == old["pop120.timeline.json"]:
            assert visible == old  # the whole earlier set, untouched
        old = visible
        if caught_staging >= 2:
            break
    assert caught_staging >= 1, "no attempt was killed while writing"
    again = mdtool(*base, "--seed", "9", "--format", "json")
    assert again.returncode == 0, again.stderr
    left = sorted(p.name for p in out.iterdir())
    assert left == sorted(names), left  # the killed runs' staging folders are gone
