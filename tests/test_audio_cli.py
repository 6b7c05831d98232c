"""``mdtool analyze`` and ``mdtool synth-song`` with a user's arguments (in-process; one real
process checks the exit code and the one-line error)."""

from __future__ import annotations

import json

import pytest
from _audio_songs import bad_files, song_files
from library_support import mdtool, mdtool_process, one_line_error


@pytest.fixture(scope="session")
def songs(tmp_path_factory):
    return song_files(tmp_path_factory.mktemp("audio_songs"))


@pytest.fixture(scope="session")
def bad(tmp_path_factory):
    return bad_files(tmp_path_factory.mktemp("audio_bad"))


def test_analyze_table_json_plot_profile(songs, tmp_path):
    out_json, out_png = tmp_path / "a.json", tmp_path / "a.png"
    run = mdtool("analyze", songs["waltz"].path, "--json", out_json, "--plot", out_png,
                 "--profile")
    assert run.returncode == 0, run.stderr
    assert "3/4" in run.stdout and "phrases" in run.stdout and "sections" in run.stdout
    for stage in ("decode", "features", "beats", "downbeats", "structure", "phrases"):
        assert stage in run.stdout
    assert "peak memory" in run.stdout
    data = json.loads(out_json.read_text())
    assert data["meter"] == 3 and data["phrases"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_analyze_json_to_stdout_is_pure_json(songs):
    run = mdtool("analyze", songs["polka"].path, "--json", "-")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["meter"] == 2 and data["tempo_bpm"] > 0


def test_silence_reports_no_phrases(bad):
    run = mdtool("analyze", bad["silence"])
    assert run.returncode == 0
    assert "silent input: no beats, no phrases" in run.stderr


@pytest.mark.parametrize("key", ["corrupt", "text", "fake_wav", "empty", "m4a"])
def test_bad_files_exit_1_with_one_line(bad, key):
    run = mdtool("analyze", bad[key])
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"error: {bad[key]}: ")
    assert "Traceback" not in run.stderr


def test_missing_file_and_bad_plot_suffix(songs, tmp_path):
    run = mdtool_process("analyze", tmp_path / "missing.mp3")  # a real process: exit 1, one line
    assert run.returncode == 1 and "no such file" in one_line_error(run)
    run = mdtool("analyze", songs["polka"].path, "--plot", tmp_path / "plot.jpg")
    assert run.returncode == 1 and "png" in run.stderr and "Traceback" not in run.stderr


def test_synth_song_writes_audio_and_truth(tmp_path):
    out = tmp_path / "s.mp3"
    run = mdtool("synth-song", out, "--genre", "waltz", "--bpm", "96", "--seed", "3",
                 "--duration", "20", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["meter"] == 3 and report["bpm"] == 96
    truth = json.loads((tmp_path / "s.truth.json").read_text())
    assert truth["genre"] == "waltz" and truth["beat_times_s"]
    assert out.stat().st_size > 10_000


def test_synth_song_rejects_bad_options(tmp_path):
    run = mdtool("synth-song", tmp_path / "x.wav", "--genre", "polka-dot")
    assert run.returncode == 1 and "unknown genre" in run.stderr
    run = mdtool("synth-song", tmp_path / "x.wav", "--bpm", "300")
    assert run.returncode == 1 and "60-180" in run.stderr
    assert not (tmp_path / "x.wav").exists()


def test_unwritable_output_is_a_user_error(songs, tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    run = mdtool("analyze", songs["polka"].path, "--json", blocker / "a.json")
    assert run.returncode == 1
    assert run.stderr.strip().startswith(f"error: {blocker / 'a.json'}: cannot write")
    assert "Traceback" not in run.stderr
