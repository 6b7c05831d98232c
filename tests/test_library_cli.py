"""``mdtool library ...`` run as a user runs it: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from conftest import SHARED_BVH
from library_support import mdtool, mdtool_process, one_line_error, read_only

from musicdance.library import open_library


@pytest.fixture(scope="module")
def waltz_library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "lib"
    result = mdtool("library", "build-starter", "--library", folder, "--style", "waltz", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["phrases"] == 72 and report["styles"] == {"waltz": 72}
    return folder


def copy_of(folder, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def test_help_lists_every_library_command():
    result = mdtool("library", "--help")
    assert result.returncode == 0
    for command in ("build-starter", "import", "list", "show", "tag", "untag", "set-status",
                    "remove", "stats", "validate", "preview", "transitions", "export"):  # fmt: skip
        assert command in result.stdout


def test_list_show_and_stats_as_json(waltz_library):
    listed = json.loads(mdtool("library", "list", "--library", waltz_library, "--json").stdout)
    assert len(listed) == 72 and {p["num_counts"] for p in listed} == {6}
    shown = mdtool("library", "show", "waltz-box-full", "--library", waltz_library, "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["meter"] == 3 and len(info["count_frames"]) == 6
    assert info["quality"]["foot_skating_mps"] < 0.01
    stats = json.loads(mdtool("library", "stats", "--library", waltz_library, "--json").stdout)
    assert stats["phrases"] == 72 and stats["meter"] == {"3": 72}
    table = mdtool("library", "list", "--library", waltz_library, "--tag", "box")
    assert table.returncode == 0 and "waltz-box-calm" in table.stdout


def test_curation_round_trip(waltz_library, tmp_path):
    lib = copy_of(waltz_library, tmp_path)
    assert (
        mdtool("library", "tag", "waltz-box-calm", "intro", "soft", "--library", lib).returncode
        == 0
    )
    assert mdtool("library", "untag", "waltz-box-calm", "soft", "--library", lib).returncode == 0
    done = mdtool("library", "set-status", "rejected", "waltz-box-calm", "--library", lib)
    assert done.returncode == 0, done.stderr
    info = open_library(lib).info("waltz-box-calm")
    assert "intro" in info.tags and "soft" not in info.tags and info.status == "rejected"
    assert mdtool("library", "remove", "waltz-box-calm", "--library", lib).returncode == 0
    assert "waltz-box-calm" not in open_library(lib).ids()
    exported = mdtool("library", "export", tmp_path / "bundle", "--library", lib,
                      "--tag", "balance", "--status", "approved", "--json")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["phrases"] == 6
    assert len(open_library(tmp_path / "bundle")) == 6


def test_validate_passes_the_starter_and_fails_on_errors(waltz_library, tmp_path):
    ok = mdtool("library", "validate", "--library", waltz_library, "--json")
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout)["errors"] == 0
    lib = copy_of(waltz_library, tmp_path)
    motion = lib / open_library(lib).motion_files()["waltz-box-calm"]
    motion.write_bytes(b"not a motion file")
    with sqlite3.connect(lib / "library.sqlite") as connection:
        connection.execute("UPDATE phrases SET count_frames = '[0, 5, 3]' WHERE id = ?",
                           ("waltz-box-full",))  # fmt: skip
    bad = mdtool("library", "validate", "--library", lib, "--json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    checks = {(f["phrase"], f["check"]) for f in report["findings"] if f["level"] == "error"}
    assert ("waltz-box-calm", "motion-file") in checks
    assert ("waltz-box-full", "annotations") in checks


def test_preview_png_and_gif(waltz_library, tmp_path):
    png, gif = tmp_path / "sheet.png", tmp_path / "anim.gif"
    for path in (png, gif):
        result = mdtool("library", "preview", "waltz-box-full", "-o", path, "--library",
                        waltz_library)  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and gif.read_bytes()[:6] == b"GIF89a"
    turning = tmp_path / "turntable.gif"
    result = mdtool("library", "preview", "waltz-twinkle-full", "-o", turning, "--turntable",
                    "360", "--library", waltz_library)  # fmt: skip
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(turning) as image:  # the camera moves: first and middle frames differ
        first = np.asarray(image.convert("L")).copy()
        image.seek(image.n_frames // 2)
        middle = np.asarray(image.convert("L"))
    assert image.n_frames > 10 and np.abs(first.astype(int) - middle).sum() > 0
    line = one_line_error(
        mdtool(
            "library",
            "preview",
            "waltz-box-full",
            "-o",
            tmp_path / "x.mp4",
            "--library",
            waltz_library,
        )  # fmt: skip
    )
    assert "preview must be .png or .gif" in line


def test_transitions_prior(waltz_library, tmp_path):
    result = mdtool("library", "transitions", "--library", waltz_library, "--json",
                    "-o", tmp_path / "prior.npz")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    prior = np.array(data["prior"])
    assert prior.shape == (72, 72) and np.allclose(prior.sum(axis=1), 1.0, atol=1e-4)
    with np.load(tmp_path / "prior.npz") as saved:
        assert list(saved["ids"]) == data["ids"] and saved["cost"].shape == (72, 72)


def test_import_with_report_and_near_duplicates(tmp_path):
    take = next(p for p in SHARED_BVH if p.stem == "animdraw_fair1_dab")
    lib = tmp_path / "mocap"
    first = mdtool("library", "import", take, "--style", "urban", "--library", lib, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)["files"][0]
    assert report["convention"] == "mixamo" and report["phrases"]
    again = mdtool("library", "import", take, "--style", "urban", "--prefix", "again",
                   "--library", lib)  # fmt: skip
    assert again.returncode == 0 and "near-duplicate" in again.stderr
    # a real process: exit code 1 and one line
    line = one_line_error(
        mdtool_process("library", "import", take, "--style", "urban", "--library", lib)
    )
    assert "already in the library" in line and "nothing was added" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (("library", "list", "--library", "{tmp}/none"), "no phrase library here"),
        (("library", "show", "nope", "--library", "{lib}"), "no phrase with id 'nope'"),
        (("library", "remove", "nope", "--library", "{lib}"), "nothing was changed"),
        (("library", "set-status", "maybe", "waltz-box-calm", "--library", "{lib}"),
         "unknown status"),
        (("library", "build-starter", "--library", "{lib}"), "not empty"),
        (("library", "transitions", "--style", "tango", "--library", "{lib}"), "no phrases"),
        (("library", "import", "{tmp}/missing.bvh", "--style", "x", "--library", "{tmp}/new"),
         "no such file"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(args, message, waltz_library, tmp_path):
    filled = [a.format(tmp=tmp_path, lib=waltz_library) for a in args]
    assert message in one_line_error(mdtool(*filled))


def test_damaged_database_is_one_line_and_untouched(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "library.sqlite").write_bytes(b"\x00garbage" * 64)
    for command in (("list",), ("stats",), ("validate",), ("tag", "x", "y")):
        line = one_line_error(mdtool("library", *command, "--library", folder))
        assert "damaged" in line
    assert (folder / "library.sqlite").read_bytes() == b"\x00garbage" * 64


def test_read_only_library_is_one_line(waltz_library, tmp_path):
    lib = copy_of(waltz_library, tmp_path)
    with read_only(lib):
        assert mdtool("library", "list", "--library", lib, "--json").returncode == 0
        line = one_line_error(mdtool("library", "tag", "waltz-box-calm", "x", "--library", lib))
        assert "read-only" in line
    assert "x" not in open_library(lib).info("waltz-box-calm").tags


def test_empty_library(tmp_path):
    lib = tmp_path / "empty"
    open_library(lib, create=True)
    assert "no phrases" in mdtool("library", "list", "--library", lib).stdout
    assert json.loads(mdtool("library", "stats", "--library", lib, "--json").stdout)["phrases"] == 0
    assert mdtool("library", "validate", "--library", lib).returncode == 0
    assert "empty" in one_line_error(mdtool("library", "transitions", "--library", lib))
    assert "no phrase matches" in one_line_error(
        mdtool("library", "export", tmp_path / "out", "--library", lib)
    )


def test_import_with_music_cuts_phrases_on_the_music_beats(tmp_path):
    from conftest import EXAMPLES

    from musicdance.audio.synth import synth_song, write_song

    song, truth = synth_song("pop", bpm=100.0, seed=1, duration_s=30.0)
    music = write_song(tmp_path / "take_music.wav", song, sr_hz=22050)
    lib = tmp_path / "with-music"
    result = mdtool("library", "import", EXAMPLES / "demo_dance.bvh", "--style", "pop",
                    "--music", music, "--library", lib, "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["files"][0]
    assert report["tempo_source"] == "music"
    assert report["tempo_bpm"] == pytest.approx(100.0, rel=0.03)
    library = open_library(lib)
    for phrase_id in report["phrases"]:
        spacing = np.diff(library.get(phrase_id).info.count_frames)
        np.testing.assert_allclose(spacing, 30 * 60 / 100.0, atol=1.5)  # 18 frames a beat
    both = mdtool("library", "import", EXAMPLES / "demo_dance.bvh", "--style", "pop",
                  "--bpm", "100", "--music", music, "--library", lib)  # fmt: skip
    assert both.returncode == 2 and "--bpm or --music" in both.stderr  # a usage error
