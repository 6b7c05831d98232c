"""The phrase library on disk: real SQLite files, packed motion files, curation, safety."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from library_support import read_only, sample_phrases

from musicdance.errors import MusicDanceError
from musicdance.library import Phrase, create_library, open_library
from musicdance.library.phrase import check_phrase_id, make_phrase
from musicdance.library.schema import MIGRATIONS, SCHEMA_VERSION
from musicdance.library.store import DB_NAME, decode_motion_file, encode_motion_file


def renamed(phrase: Phrase, new_id: str, **changes) -> Phrase:
    return Phrase(
        info=dataclasses.replace(phrase.info, id=new_id, **changes),
        motion=phrase.motion,
        contacts=phrase.contacts,
    )


@pytest.fixture
def library(tmp_path):
    lib = create_library(tmp_path / "lib")
    lib.add(sample_phrases())
    return lib


def test_round_trip_keeps_motion_annotations_and_metadata(library):
    original = sample_phrases()[0]
    loaded = library.get(original.id)
    a, b = original.motion.global_positions(), loaded.motion.global_positions()
    assert np.abs(a - b).max() < 5e-4  # int16 quaternions: well under a millimetre
    assert np.array_equal(loaded.contacts, original.contacts)
    info, stored = original.info, loaded.info
    for field in ("style", "energy", "tempo_bpm", "meter", "count_frames", "support_start",
                  "support_end", "source", "licence", "status", "tags", "num_frames"):  # fmt: skip
        assert getattr(stored, field) == getattr(info, field), field
    assert np.allclose(stored.start_features, info.start_features)
    assert stored.created_at and stored.updated_at
    assert stored.num_counts == 8 and stored.duration_s == pytest.approx(
        original.motion.num_frames / 30.0
    )


def test_database_is_real_sqlite_with_schema_history(library):
    with sqlite3.connect(library.db_path) as connection:
        versions = [r[0] for r in connection.execute("SELECT version FROM schema_version")]
        columns = {r[1] for r in connection.execute("PRAGMA table_info(phrases)")}
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert versions == [m[0] for m in MIGRATIONS] and versions[-1] == SCHEMA_VERSION
    wanted = {"id", "name", "style", "energy", "tempo_bpm", "meter", "num_counts", "duration_s",
              "skeleton", "source", "licence", "status", "created_at", "updated_at"}  # fmt: skip
    assert wanted <= columns


def test_old_schema_is_migrated_in_place(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    with sqlite3.connect(folder / DB_NAME) as connection:
        connection.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at TEXT NOT NULL)"
        )
        version, description, script = MIGRATIONS[0]
        connection.executescript(script)
        connection.execute("INSERT INTO schema_version VALUES (1, ?, 'then')", (description,))
    library = open_library(folder)
    library.add(sample_phrases()[:1])
    with sqlite3.connect(library.db_path) as connection:
        assert connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == (
            SCHEMA_VERSION
        )
        indexes = {r[1] for r in connection.execute("PRAGMA index_list(phrases)")}
    assert "phrases_status" in indexes


def test_newer_schema_is_refused(library):
    with sqlite3.connect(library.db_path) as connection:
        connection.execute("INSERT INTO schema_version VALUES (999, 'future', 'later')")
    with pytest.raises(MusicDanceError, match="newer than this mdtool"):
        open_library(library.path)


def test_filters_tags_status_and_stats(library):
    ids = library.ids()
    assert len(ids) == 2
    library.tag(ids, ["favourite", "intro"])
    library.untag([ids[0]], ["intro"])
    library.set_status([ids[1]], "rejected")
    assert [i.id for i in library.infos(tags=["intro"])] == [ids[1]]
    assert [i.id for i in library.infos(tags=["favourite", "intro"])] == [ids[1]]
    assert [i.id for i in library.infos(statuses=["approved"])] == [ids[0]]
    assert library.infos(styles=["waltz"]) == []
    stats = library.stats()
    assert stats["phrases"] == 2 and stats["styles"] == {"hiphop": 2}
    assert stats["tags"]["favourite"] == 2 and stats["status"] == {"approved": 1, "rejected": 1}
    assert sum(stats["tempo_bpm"].values()) == 2 and sum(stats["energy"].values()) == 2


def test_export_subset_to_a_new_library(library, tmp_path):
    library.tag([library.ids()[0]], ["bundle"])
    exported = library.export(tmp_path / "bundle", tags=["bundle"])
    assert exported.ids() == [library.ids()[0]]
    assert len(list((tmp_path / "bundle" / "motions").iterdir())) == 1
    phrase = exported.get(exported.ids()[0])
    assert phrase.info.tags == ("bundle", "calm", "down-groove", "procedural", "step-touch")
    with pytest.raises(MusicDanceError, match="new or empty folder"):
        library.export(tmp_path / "bundle")
    with pytest.raises(MusicDanceError, match="no phrase matches"):
        library.export(tmp_path / "none", styles=["waltz"])
    assert not (tmp_path / "none").exists()


def test_remove_deletes_rows_tags_and_motion_files(library):
    victim = library.ids()[0]
    library.tag([victim], ["x"])
    library.remove([victim])
    assert victim not in library.ids()
    assert len(list((library.path / "motions").iterdir())) == 1
    with sqlite3.connect(library.db_path) as connection:
        tags = connection.execute("SELECT tag FROM tags WHERE phrase_id = ?", (victim,))
        assert tags.fetchall() == []


def test_unknown_ids_change_nothing(library):
    before = library.ids()
    for action in (
        lambda: library.remove([before[0], "nope"]),
        lambda: library.tag(["nope"], ["x"]),
        lambda: library.untag(["nope"], ["x"]),
        lambda: library.set_status(["nope"], "approved"),
        lambda: library.get("nope"),
    ):
        with pytest.raises(MusicDanceError, match="no phrase with id 'nope'"):
            action()
    assert library.ids() == before


def test_duplicate_ids_are_refused_and_nothing_is_lost(library):
    phrase = sample_phrases()[0]
    files_before = sorted(os.listdir(library.path / "motions"))
    with pytest.raises(MusicDanceError, match="already in the library"):
        library.add([renamed(phrase, "fresh"), phrase])
    assert "fresh" not in library.ids()
    assert sorted(os.listdir(library.path / "motions")) == files_before
    with pytest.raises(MusicDanceError, match="duplicate phrase ids in one batch"):
        library.add([renamed(phrase, "twin"), renamed(phrase, "twin")])
    # An explicit replace swaps the phrase and its motion file but keeps its creation time.
    created = library.info(phrase.id).created_at
    library.add([renamed(phrase, phrase.id, energy=0.9)], replace_existing=True)
    assert library.info(phrase.id).energy == 0.9 and library.info(phrase.id).created_at == created
    assert len(os.listdir(library.path / "motions")) == len(files_before)


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a/b", "x" * 129, "é"])
def test_invalid_ids(bad):
    with pytest.raises(MusicDanceError, match="invalid phrase id"):
        check_phrase_id(bad)


def test_damaged_database_is_reported_and_left_alone(tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    garbage = b"this is not sqlite" * 100
    (folder / DB_NAME).write_bytes(garbage)
    with pytest.raises(MusicDanceError, match="damaged") as error:
        open_library(folder)
    assert "\n" not in str(error.value)
    assert (folder / DB_NAME).read_bytes() == garbage


def test_truncated_database_is_reported(library):
    data = library.db_path.read_bytes()
    library.db_path.write_bytes(data[: len(data) // 3])
    with pytest.raises(MusicDanceError, match="damaged|database error"):
        open_library(library.path).infos()


def test_damaged_or_missing_motion_file(library):
    phrase_id = library.ids()[0]
    motion_file = library.path / library.motion_files()[phrase_id]
    motion_file.write_bytes(motion_file.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(MusicDanceError, match="checksum mismatch"):
        library.get(phrase_id)
    motion_file.unlink()
    with pytest.raises(MusicDanceError, match="motion file is missing"):
        library.get(phrase_id)


def test_missing_and_empty_libraries(tmp_path):
    with pytest.raises(MusicDanceError, match="no phrase library here"):
        open_library(tmp_path / "nothing")
    empty = open_library(tmp_path / "empty", create=True)
    assert empty.ids() == [] and empty.stats()["phrases"] == 0 and len(empty) == 0
    with pytest.raises(MusicDanceError, match="already exists"):
        create_library(tmp_path / "empty")


def test_read_only_library_reads_but_refuses_writes(library):
    before = sorted(p.name for p in library.path.rglob("*"))
    phrase = sample_phrases()[0]
    with read_only(library.path):
        assert len(library.ids()) == 2
        assert library.get(library.ids()[0]).motion.num_frames == phrase.motion.num_frames
        for action in (
            lambda: library.add([renamed(phrase, "new-one")]),
            lambda: library.tag(library.ids(), ["x"]),
            lambda: library.remove(library.ids()[:1]),
        ):
            with pytest.raises(MusicDanceError, match="read-only") as error:
                action()
            assert "\n" not in str(error.value)
    assert sorted(p.name for p in library.path.rglob("*")) == before
    assert len(open_library(library.path).ids()) == 2


_WRITER = textwrap.dedent(
    """
    import dataclasses, sys
    from library_support import read_only, sample_phrases
    from musicdance.library import Phrase, open_library
    name, folder = sys.argv[1], sys.argv[2]
    phrase = sample_phrases()[0]
    library = open_library(folder)
    for i in range(12):
        info = dataclasses.replace(phrase.info, id=f"{name}-{i}")
        library.add([Phrase(info=info, motion=phrase.motion, contacts=phrase.contacts)])
        library.tag([f"{name}-{i}"], [name])
        library.set_status([f"{name}-{i}"], "approved")
    """
)


def test_two_processes_writing_at_once(tmp_path):
    library = create_library(tmp_path / "shared")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), *sys.path])}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, name, str(library.path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    ids = library.ids()
    assert len(ids) == 24
    assert len(library.infos(tags=["alpha"])) == 12 and len(library.infos(tags=["beta"])) == 12
    assert len(list((library.path / "motions").iterdir())) == 24
    with sqlite3.connect(library.db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert all(library.get(i).motion.num_frames > 0 for i in ids)


def test_motion_file_encoding_is_compact_and_exact_enough():
    phrase = sample_phrases()[0]
    data = encode_motion_file(phrase)
    motion, contacts = decode_motion_file(data, phrase.motion.fps)
    assert len(data) < 20_000  # 147 frames x 22 joints: under 0.8 bytes per value
    assert np.array_equal(contacts, phrase.contacts)
    assert np.abs(motion.root_positions_m - phrase.motion.root_positions_m).max() < 1e-5


def test_make_phrase_rejects_bad_annotations():
    phrase = sample_phrases()[0]
    with pytest.raises(MusicDanceError, match="count frames"):
        make_phrase(phrase.motion, phrase_id="x", style="s", count_frames=[5, 3],
                    tempo_bpm=100, energy=0.5)  # fmt: skip
    with pytest.raises(MusicDanceError, match="unknown status"):
        make_phrase(phrase.motion, phrase_id="x", style="s", count_frames=[0],
                    tempo_bpm=100, energy=0.5, status="maybe")  # fmt: skip
