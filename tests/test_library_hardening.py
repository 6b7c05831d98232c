"""Damaged libraries (issues 14 and 24): empty or missing databases beside motion files,
damaged SQLite pages, salvage with ``library repair``, writers that wait for each other,
malformed takes. Real SQLite files, real CLI processes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from library_support import mdtool, one_line_error, sample_phrases

from musicdance.errors import MusicDanceError
from musicdance.library import Phrase, create_library, open_library
from musicdance.library.repair import repair_library
from musicdance.library.store import DB_NAME
from musicdance.library.validate import database_integrity


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _many(count: int) -> list[Phrase]:
    base = sample_phrases()
    return [
        Phrase(
            info=dataclasses.replace(base[k % len(base)].info, id=f"take-{k:03d}"),
            motion=base[k % len(base)].motion,
            contacts=base[k % len(base)].contacts,
        )
        for k in range(count)
    ]


@pytest.fixture
def library(tmp_path):
    lib = create_library(tmp_path / "lib")
    lib.add(_many(60))
    return lib


@pytest.mark.parametrize("state", ["empty", "missing"])
def test_a_lost_database_beside_motion_files_is_damage(library, state, tmp_path):
    if state == "empty":
        library.db_path.write_bytes(b"")
    else:
        library.db_path.unlink()
    before = _snapshot(library.path)
    with pytest.raises(MusicDanceError, match="damaged") as caught:
        open_library(library.path, create=True)
    assert "repair" in str(caught.value) and "\n" not in str(caught.value)
    take = tmp_path / "take.bvh"
    take.write_text("not used: the library is refused first")
    for args in (
        ["library", "list"],
        ["library", "validate"],
        ["library", "stats"],
        ["library", "import", take, "--style", "hiphop", "--bpm", "120"],
        ["library", "export", tmp_path / "exported"],
    ):
        line = one_line_error(mdtool(*args, "--library", library.path))
        assert "damaged" in line and "repair" in line, line
        assert _snapshot(library.path) == before, args
    assert not (tmp_path / "exported").exists()
    repaired = mdtool("library", "repair", tmp_path / "new", "--library", library.path)
    assert "nothing could be recovered" in one_line_error(repaired)
    assert _snapshot(library.path) == before


def _damage_a_page(db: Path, page: int) -> None:
    data = bytearray(db.read_bytes())
    size = int.from_bytes(data[16:18], "big") or 65536
    start = size * page
    # seeded: which bytes land decides whether SQLite can still run its check at all
    data[start + 8 : start + size - 8] = random.Random(page).randbytes(size - 16)
    db.write_bytes(bytes(data))


def test_a_damaged_page_is_found_and_the_rest_salvaged(library, tmp_path):
    pages = library.db_path.stat().st_size // 4096
    assert pages >= 4, pages
    sound = library.db_path.read_bytes()
    # a data page from the middle on whose damage SQLite can still check (damage to a page of
    # the schema's own tables stops the check itself: the test above covers that case)
    for page in range(pages // 2, pages):
        _damage_a_page(library.db_path, page)
        try:
            problems = database_integrity(library.db_path)
            break
        except MusicDanceError:
            library.db_path.write_bytes(sound)
    before = _snapshot(library.path)
    assert problems, "the damage went unnoticed"
    result = mdtool("library", "validate", "--library", library.path)
    assert result.returncode == 1
    assert "integrity check failed" in result.stdout and "repair" in result.stdout
    report = repair_library(library.path, tmp_path / "salvaged")
    assert _snapshot(library.path) == before  # the damaged library is only read
    salvaged = open_library(tmp_path / "salvaged")
    assert 0 < len(salvaged) <= 60 and sorted(salvaged.ids()) == sorted(report.recovered)
    assert database_integrity(salvaged.db_path) == []
    for phrase_id in salvaged.ids()[:5]:
        original = next(p for p in _many(60) if p.id == phrase_id)
        assert salvaged.get(phrase_id).motion.num_frames == original.motion.num_frames
    cli = mdtool("library", "repair", tmp_path / "again", "--library", library.path, "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["recovered"] == len(report.recovered)
    assert mdtool("library", "validate", "--library", tmp_path / "again").returncode in (0, 1)
    assert not database_integrity(tmp_path / "again" / DB_NAME)


def test_repair_of_a_sound_library_keeps_everything(library, tmp_path):
    report = repair_library(library.path, tmp_path / "copy")
    assert sorted(report.recovered) == sorted(library.ids()) and not report.lost
    copy = open_library(tmp_path / "copy")
    assert [i.tags for i in copy.infos()] == [i.tags for i in library.infos()]
    with pytest.raises(MusicDanceError, match="new or empty folder"):
        repair_library(library.path, tmp_path / "copy")


_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    connection.execute("COMMIT")
    """
)

_WRITER = textwrap.dedent(
    """
    import dataclasses, sys
    from library_support import sample_phrases
    from musicdance.library import Phrase, open_library
    name, folder = sys.argv[1], sys.argv[2]
    phrase = sample_phrases()[0]
    library = open_library(folder)
    for i in range(5):
        info = dataclasses.replace(phrase.info, id=f"{name}-{i}")
        library.add([Phrase(info=info, motion=phrase.motion, contacts=phrase.contacts)])
    """
)


def test_writers_wait_for_a_held_lock_and_both_land(tmp_path):
    library = create_library(tmp_path / "shared")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), *sys.path])}
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(library.db_path), "3"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, name, str(library.path)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        for name in ("alpha", "beta")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    holder.wait(timeout=60)
    assert time.monotonic() - started > 2.0  # they waited for the lock, and then both landed
    assert sorted(library.ids()) == sorted(f"{n}-{i}" for n in ("alpha", "beta") for i in range(5))
    assert database_integrity(library.db_path) == []


def _bvh(frames: list[str], frame_time: str = "0.0333333", offset: str = "0 10 0") -> str:
    return textwrap.dedent(
        f"""\
        HIERARCHY
        ROOT Hips
        {{
          OFFSET 0 0 0
          CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
          JOINT Spine
          {{
            OFFSET {offset}
            CHANNELS 3 Zrotation Xrotation Yrotation
            End Site
            {{
              OFFSET 0 10 0
            }}
          }}
        }}
        MOTION
        Frames: {len(frames)}
        Frame Time: {frame_time}
        """
    ) + "\n".join(frames) + "\n"


@pytest.mark.parametrize(
    "name,text",
    [
        ("still", _bvh(["0 90 0 0 0 0 0 0 0"] * 300)),
        ("zero bones", _bvh(["0 90 0 0 0 0 0 0 0"] * 300, offset="0 0 0")),
        ("two frames", _bvh(["0 90 0 0 0 0 0 0 0"] * 2)),
        ("tiny frame time", _bvh(["0 90 0 0 0 0 0 0 0"] * 300, frame_time="1e-9")),
        ("far away", _bvh(["1e12 90 0 0 0 0 0 0 0"] * 300)),
    ],
)
def test_malformed_takes_are_one_clear_error(tmp_path, name, text):
    take = tmp_path / "take.bvh"
    take.write_text(text)
    folder = tmp_path / "lib"
    create_library(folder)
    before = _snapshot(folder)
    result = mdtool("library", "import", take, "--style", "hiphop", "--bpm", "120",
                    "--library", folder)  # fmt: skip
    line = one_line_error(result)
    assert "internal error" not in line
    assert _snapshot(folder) == before
