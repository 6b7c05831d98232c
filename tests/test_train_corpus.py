"""Corpora: the builder (process pool, cache, failures), the pairs import format, the reader.

torch-free: a corpus is built and read without the ``train`` extra.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from library_support import mdtool, one_line_error
from train_support import LIBRARY, tiny_corpus

from musicdance.audio.analysis import analyze, analyze_signal
from musicdance.audio.model_input import feature_parameters, span_inputs
from musicdance.audio.synth import synth_song, write_song
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.slots import slot_spans
from musicdance.corpus import build as corpus_build
from musicdance.corpus.build import (
    SongSource,
    audio_sources,
    build_corpus,
    open_corpus,
    pair_sources,
    starter_sources,
)
from musicdance.corpus.pairs import read_pairs
from musicdance.errors import MusicDanceError
from musicdance.library import open_library


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory)


@pytest.fixture(scope="module")
def song_wav(tmp_path_factory):
    """A real 15-s wav file and its analysis."""
    folder = tmp_path_factory.mktemp("songs")
    y, _ = synth_song("house", seed=7, duration_s=15.0)
    path = write_song(folder / "house.wav", y, sr_hz=22050)
    return path, analyze(path)


def test_starter_corpus_layout_and_index(corpus):
    opened = open_corpus(corpus)
    index = json.loads((corpus / "index.json").read_text())
    assert index["format"] == corpus_build.CORPUS_FORMAT
    assert index["features"] == feature_parameters()
    library = open_library(LIBRARY)
    assert index["library"]["phrase_ids"] == library.ids() == opened.phrase_ids
    summary = opened.summary()
    assert summary["songs"] == 4
    assert {k: v["songs"] for k, v in summary.items() if "/" in k} == {
        "train/none": 2,
        "train/rule": 1,
        "test/rule": 1,
    }
    arrays = opened.load()
    assert len(arrays) == summary["samples"] > 10
    assert arrays.mel.dtype == np.float16 and arrays.mel.shape[1:] == (128, 128)
    assert 0.0 <= float(arrays.mel.min()) and float(arrays.mel.max()) <= 1.0
    assert set(np.unique(arrays.rhythm)) <= {0, 1}
    labelled = opened.load(labelled=True)
    assert labelled.labelled.all() and not opened.load(labelled=False).labelled.any()
    indices = labelled.label_indices(opened.phrase_ids)
    assert (indices >= 0).all() and (indices < len(opened.phrase_ids)).all()
    assert len(opened.load(split="test")) + len(opened.load(split="train")) == len(arrays)
    # rows of a song are consecutive and in time order
    for song in np.unique(arrays.song):
        rows = arrays.song == song
        assert (np.diff(arrays.start_s[rows]) > 0).all()
        assert (arrays.position[rows] == np.arange(rows.sum())).all()


def test_rule_labels_and_inputs_are_the_choreographers_and_model_inputs(corpus):
    opened = open_corpus(corpus)
    song_index, song = next(
        (i, s) for i, s in enumerate(opened.songs) if s["source"]["labels"] == "rule"
    )
    source = SongSource.from_json(song["source"])
    y, _ = synth_song(source.genre, seed=source.seed, duration_s=source.duration_s)
    analysis = analyze_signal(y, sr_hz=22050, path=source.name)
    timeline = choreograph(analysis, open_library(LIBRARY), seed=source.seed)
    arrays = opened.load()
    rows = arrays.song == song_index
    assert list(arrays.labels[rows]) == timeline.phrase_ids()
    assert song["style"] == timeline.style
    spans = slot_spans(analysis)
    assert np.allclose(arrays.start_s[rows], [a for a, _ in spans])
    mel, melody, rhythm = span_inputs(analysis, spans)
    assert np.abs(arrays.mel[rows].astype(np.float32) - mel).max() <= 2.5e-4  # float16
    assert np.abs(arrays.melody[rows].astype(np.float32) - melody).max() <= 1e-3
    assert (arrays.rhythm[rows] == (rhythm > 0.5)).all()


def test_cache_is_reused_and_extended(corpus, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(corpus, folder)
    sources = starter_sources(unlabelled=2, labelled=2, duration_s=20.0, test_every=2)
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / "shards").iterdir()}
    again = build_corpus(folder, sources, library=LIBRARY, workers=2)
    assert (again.cached, again.analysed, again.removed_shards) == (4, 0, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "shards").iterdir()} == stamps
    more = build_corpus(folder, sources[:2] + starter_sources(unlabelled=3, labelled=0,
                        duration_s=20.0)[2:], library=LIBRARY, workers=1)  # fmt: skip
    assert (more.cached, more.analysed, more.songs) == (2, 1, 3)
    assert more.removed_shards == 2  # the labelled songs left the corpus
    assert len(list((folder / "shards").iterdir())) == 3


def test_phrases_changed_under_the_same_ids_relabel_the_rule_songs(corpus, tmp_path):
    """The rule labels depend on the phrases, not only their ids: a library re-annotated under
    the same ids (one phrase rejected) re-analyses the rule-labelled songs and keeps the
    unlabelled ones."""
    folder, library = tmp_path / "copy", tmp_path / "library"
    shutil.copytree(corpus, folder)
    shutil.copytree(LIBRARY, library)
    sources = starter_sources(unlabelled=2, labelled=2, duration_s=20.0, test_every=2)
    same = build_corpus(folder, sources, library=library, workers=1)
    assert (same.cached, same.analysed) == (4, 0)  # a copy of the same phrases
    labelled = [str(x) for x in open_corpus(folder).load(labelled=True).labels]
    open_library(library).set_status(labelled[:1], "rejected")
    changed = build_corpus(folder, sources, library=library, workers=1)
    assert (changed.cached, changed.analysed) == (2, 2)


def test_changed_feature_parameters_rebuild_and_are_refused_on_open(corpus, tmp_path, monkeypatch):
    folder = tmp_path / "copy"
    shutil.copytree(corpus, folder)
    index = json.loads((folder / "index.json").read_text())
    index["features"]["hop_length"] = 256
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(MusicDanceError, match="hop_length 256 .this mdtool: 512"):
        open_corpus(folder)
    changed = {**feature_parameters(), "db_range": 70.0}
    monkeypatch.setattr(corpus_build, "feature_parameters", lambda: changed)
    sources = starter_sources(unlabelled=1, labelled=0, duration_s=20.0)
    report = build_corpus(folder, sources, workers=1)
    assert (report.analysed, report.cached, report.removed_shards) == (1, 0, 4)
    assert any("feature parameters changed" in note for note in report.notes)


def test_failed_songs_are_reported_and_left_out(tmp_path, song_wav):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    sources = audio_sources([broken, song_wav[0]])
    report = build_corpus(tmp_path / "c", sources, workers=2)
    assert report.songs == 1 and len(report.failed) == 1
    assert report.failed[0][0].endswith("broken.wav")
    assert len(open_corpus(tmp_path / "c").load()) == len(slot_spans(song_wav[1]))


def test_a_folder_that_is_not_a_corpus_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MusicDanceError, match="not a corpus"):
        build_corpus(tmp_path, starter_sources(unlabelled=1, labelled=0), workers=1)
    with pytest.raises(MusicDanceError, match="not a corpus"):
        open_corpus(tmp_path)
    with pytest.raises(MusicDanceError, match="need a phrase library"):
        build_corpus(tmp_path / "new", starter_sources(unlabelled=0, labelled=1), workers=1)


def test_corrupt_shard_is_a_clear_error(corpus, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(corpus, folder)
    shard = sorted((folder / "shards").iterdir())[0]
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(MusicDanceError, match="missing or corrupt"):
        open_corpus(folder).load()
    # building again notices the broken shard and analyses that song again
    sources = starter_sources(unlabelled=2, labelled=2, duration_s=20.0, test_every=2)
    report = build_corpus(folder, sources, library=LIBRARY, workers=1)
    assert (report.analysed, report.cached) == (1, 3)
    assert len(open_corpus(folder).load()) == len(open_corpus(corpus).load())


# ---------------------------------------------------------------------------------------------
# Labelled pairs


def _pairs_rows(song, analysis, ids):
    spans = slot_spans(analysis)
    return [
        {"song": song.name, "start_s": round(a, 3), "end_s": round(b, 3), "phrase_id": ids[i % 3]}
        for i, (a, b) in enumerate(spans)
    ]


def test_pairs_csv_and_jsonl_import(tmp_path, song_wav):
    song, analysis = song_wav
    shutil.copy(song, tmp_path / song.name)
    ids = open_library(LIBRARY).ids()[:3]
    rows = _pairs_rows(song, analysis, ids)
    csv_path = tmp_path / "pairs.csv"
    lines = ["song,start_s,end_s,phrase_id,split,notes"]
    lines += [f"{r['song']},{r['start_s']},{r['end_s']},{r['phrase_id']},test,x" for r in rows]
    csv_path.write_text("\n".join(lines) + "\n")
    jsonl_path = tmp_path / "pairs.jsonl"
    jsonl_path.write_text("\n".join(json.dumps(r) for r in reversed(rows)) + "\n\n")
    from_csv, from_json = read_pairs(csv_path), read_pairs(jsonl_path)
    assert len(from_csv) == len(from_json) == len(rows)
    assert from_csv[0].song == tmp_path / song.name and from_csv[0].split == "test"
    sources = pair_sources(from_json)
    assert len(sources) == 1 and sources[0].split == "train"  # first song: not the fifth
    assert [s[0] for s in sources[0].spans] == sorted(r["start_s"] for r in rows)
    report = build_corpus(tmp_path / "c", pair_sources(from_csv), library=LIBRARY, workers=1)
    assert report.labelled_samples == len(rows)
    arrays = open_corpus(tmp_path / "c").load(split="test", labelled=True)
    assert list(arrays.labels) == [r["phrase_id"] for r in rows]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("song,start_s,phrase_id\na.wav,1,x\n", "missing: end_s"),
        ("song,start_s,end_s,phrase_id\na.wav,one,2,x\n", "line 2: start_s must be a number"),
        ("song,start_s,end_s,phrase_id\na.wav,3,2,x\n", "line 2: need 0 <= start_s < end_s"),
        ("song,start_s,end_s,phrase_id\na.wav,1,2,\n", "line 2: missing phrase_id"),
        ("song,start_s,end_s,phrase_id,split\na.wav,1,2,x,dev\n", "split must be train or test"),
        ("song,start_s,end_s,phrase_id\na.wav,nan,2,x\n", "must be finite"),
    ],
)
def test_bad_pairs_csv(tmp_path, text, message):
    path = tmp_path / "pairs.csv"
    path.write_text(text)
    with pytest.raises(MusicDanceError, match=message):
        read_pairs(path)


def test_bad_pairs_jsonl_and_files(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"song": "a.wav", "start_s": 0, "end_s": 1, "phrase_id": "x"}\n[1]\n')
    with pytest.raises(MusicDanceError, match="line 2: expected a JSON object"):
        read_pairs(path)
    path.write_text("{oops\n")
    with pytest.raises(MusicDanceError, match="line 1: not JSON"):
        read_pairs(path)
    (tmp_path / "pairs.txt").write_text("song,start_s,end_s,phrase_id\n")
    with pytest.raises(MusicDanceError, match="must be a .csv or .jsonl"):
        read_pairs(tmp_path / "pairs.txt")
    with pytest.raises(MusicDanceError, match="not found"):
        read_pairs(tmp_path / "missing.csv")
    overlapping = tmp_path / "overlap.jsonl"
    rows = [{"song": "a.wav", "start_s": 0, "end_s": 4, "phrase_id": "x"},
            {"song": "a.wav", "start_s": 3, "end_s": 6, "phrase_id": "y"}]  # fmt: skip
    overlapping.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(MusicDanceError, match="overlaps line 1"):
        pair_sources(read_pairs(overlapping))


def test_unknown_phrase_ids_are_refused_before_any_analysis(tmp_path, song_wav):
    path = tmp_path / "pairs.jsonl"
    rows = [{"song": str(song_wav[0]), "start_s": 1, "end_s": 3, "phrase_id": "moonwalk-9"}]
    path.write_text(json.dumps(rows[0]) + "\n")
    result = mdtool("train", "corpus", tmp_path / "c", "--unlabelled", 0, "--labelled", 0,
                    "--pairs", path, "--library", LIBRARY)  # fmt: skip
    assert "not in the library: moonwalk-9" in one_line_error(result)
    assert not (tmp_path / "c").exists()


def test_cli_builds_a_corpus_as_json(tmp_path, song_wav):
    result = mdtool("train", "corpus", tmp_path / "c", "--unlabelled", 1, "--labelled", 0,
                    "--duration", 15, "--audio", song_wav[0], "--workers", 2, "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["songs"] == 2 and report["analysed"] == 2 and report["engine"] == "process"
    info = mdtool("train", "info", "--corpus", tmp_path / "c", "--json")
    assert json.loads(info.stdout)["train/none"]["songs"] == 2


def test_ray_engine_with_a_local_instance(tmp_path):
    pytest.importorskip("ray")
    sources = starter_sources(unlabelled=2, labelled=0, duration_s=10.0)
    report = build_corpus(tmp_path / "c", sources, engine="ray", workers=2)
    assert (report.songs, report.analysed, report.engine) == (2, 2, "ray")
    reference = build_corpus(tmp_path / "p", sources, workers=1)
    ray_arrays, local = open_corpus(tmp_path / "c").load(), open_corpus(tmp_path / "p").load()
    assert reference.samples == report.samples
    assert np.array_equal(ray_arrays.mel, local.mel)


def test_ray_engine_missing_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MusicDanceError, match="--engine ray needs Ray"):
        build_corpus(tmp_path / "c", starter_sources(unlabelled=1, labelled=0), engine="ray")
