"""Edits become labels (issue 18): every replace is recorded in the library, the CLI and the
service record the same thing, the bundle's graph reads back into torch, and a simulated
curator's edits raise the model's agreement with it on held-out songs."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest
from library_support import mdtool, one_line_error, read_only
from runtime_support import STARTER, write_song_file
from train_support import bundle as tiny_bundle
from train_support import finetuned

from musicdance.library import open_library
from musicdance.library.edits import list_edits


@pytest.fixture()
def library(tmp_path):
    """A copy of the starter library (its edits table starts empty)."""
    target = tmp_path / "lib"
    shutil.copytree(STARTER, target)
    with sqlite3.connect(target / "library.sqlite") as connection:
        connection.execute("DELETE FROM edits")
    return target


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_song_file(tmp_path_factory.mktemp("song"))


def _timeline(song, library, tmp_path):
    from musicdance.choreo.timeline import read_timeline

    out = tmp_path / "dance"
    result = mdtool("choreograph", song, "--library", library, "-o", out, "--no-bundle",
                    "--format", "json", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return read_timeline(out / f"{song.stem}.timeline.json")


def test_edit_replace_is_recorded_with_its_model_input(song, library, tmp_path, monkeypatch):
    from musicdance.audio.analysis import analyze
    from musicdance.audio.model_input import span_inputs

    timeline = _timeline(song, library, tmp_path)
    path = tmp_path / "dance" / f"{song.stem}.timeline.json"
    before, style = timeline.choices[1].phrase_id, timeline.style
    chosen = next(p for p in open_library(library).ids()
                  if p.startswith(style) and p != before and "-full" in p)  # fmt: skip
    monkeypatch.setenv("MDTOOL_USER", "alice")
    result = mdtool("edit", path, "--replace", f"1={chosen}", "--replace",
                    f"2={timeline.choices[2].phrase_id}", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["recorded_edits"]) == 1  # slot 2 did not change
    [edit] = list_edits(open_library(library), with_inputs=True)
    assert (edit.user, edit.slot, edit.style, edit.chosen_id, edit.replaced_id) == (
        "alice", 1, style, chosen, before)
    assert edit.created_at.endswith("Z") and edit.song_name == song.name
    slot = timeline.slots[1]
    assert edit.slot_features == slot.to_json()
    expected = span_inputs(analyze(song), [(slot.start_s, slot.end_s)])[0][0]
    assert edit.model_input.shape == (128, 128)
    assert np.abs(edit.model_input - expected).max() < 1e-3  # float16 storage
    # the slot's place in the song's structure, as slot_context computes it from the analysis
    from musicdance.choreo.context import CONTEXT_NAMES, slot_context

    assert len(edit.slot_context) == len(CONTEXT_NAMES)
    assert np.allclose(edit.slot_context, slot_context(analyze(song), [slot])[0], atol=1e-5)
    # --user beats the environment; --no-record records nothing
    again = mdtool("edit", path, "--replace", f"1={before}", "--user", "bob", "--json")
    assert again.returncode == 0, again.stderr
    assert mdtool("edit", path, "--replace", f"1={chosen}", "--no-record").returncode == 0
    listed = json.loads(mdtool("library", "edits", "--library", library, "--json").stdout)
    assert listed["edits"] == 2 and listed["users"] == {"alice": 1, "bob": 1}
    assert listed["with_model_input"] == 2 and listed["songs"] == 1
    assert listed["with_slot_context"] == 2
    # the audio itself is never stored: the blob is the 128 x 128 float16 input, stored once
    # for both edits of the same slot (addressed by its hash)
    with sqlite3.connect(library / "library.sqlite") as connection:
        sizes = [len(zlib_blob) for (zlib_blob,) in connection.execute(
            "SELECT data FROM edit_inputs")]  # fmt: skip
    assert len(sizes) == 1 and max(sizes) <= 128 * 128 * 2


def test_recording_into_a_read_only_library_is_one_line(song, library, tmp_path):
    timeline = _timeline(song, library, tmp_path)
    path = tmp_path / "dance" / f"{song.stem}.timeline.json"
    other = next(p for p in open_library(library).ids() if p.startswith(timeline.style)
                 and p != timeline.choices[0].phrase_id)  # fmt: skip
    with read_only(library):
        message = one_line_error(mdtool("edit", path, "--replace", f"0={other}"))
    assert "read-only" in message and "nothing was changed" in message


def test_service_records_the_same_edit_and_reports_agreement(song, library, tmp_path,
                                                             tmp_path_factory):  # fmt: skip
    from service_support import start_service

    bundle = tiny_bundle(tmp_path_factory)
    served = start_service("--library", library, "--bundle", bundle, "--user", "bob",
                           work_dir=tmp_path / "work")  # fmt: skip
    try:
        status, made = served.json("POST", "/v1/choreograph?seed=1", song.read_bytes(),
                                   headers={"Content-Type": "audio/wav"})  # fmt: skip
        assert status == 200, made
        timeline = made["timeline"]
        current = timeline["slots"][0]["phrase_id"]
        other = next(p for p in open_library(library).ids()
                     if p.startswith(timeline["style"]) and p != current)  # fmt: skip
        status, edited = served.json("POST", "/v1/replace", {
            "timeline": timeline, "slot": 0, "phrase_id": other, "user": "carol"})  # fmt: skip
        assert status == 200 and edited["edit_id"] == 1 and edited["record_note"] is None
        status, _ = served.json("POST", "/v1/replace", {
            "timeline": timeline, "slot": 0, "phrase_id": other, "user": ""})  # fmt: skip
        assert status == 400
        status, found = served.json("GET", "/v1/edits/agreement")
        assert status == 200 and found["edits"] == 1 and found["scored"] == 1
        assert found["bundle"] == str(bundle) and found["top1"] in (0.0, 1.0)
        status, none = served.json("GET", "/v1/edits/agreement?user=nobody")
        assert status == 200 and none["edits"] == 0 and none["top1"] is None
    finally:
        served.stop()
    # the CLI records the same slot of the same song identically (one SDK function)
    timeline["song"]["path"] = str(song)
    path = tmp_path / "served.timeline.json"
    path.write_text(json.dumps(timeline))
    result = mdtool("edit", path, "--replace", f"0={other}", "--bundle", bundle)
    assert result.returncode == 0, result.stderr
    served_edit, cli_edit = list_edits(open_library(library))
    assert (served_edit.user, cli_edit.user != "carol") == ("carol", True)
    for field in ("song_id", "input_sha256", "slot_features", "chosen_id", "replaced_id",
                  "bundle_sha256"):  # fmt: skip
        assert getattr(served_edit, field) == getattr(cli_edit, field), field


def test_bundle_graph_reads_back_into_torch(tmp_path_factory):
    import torch

    from musicdance.bundle import open_bundle
    from musicdance.train.bundle_export import check_phrase_inputs
    from musicdance.train.edits import networks_from_bundle

    folder = tiny_bundle(tmp_path_factory)
    networks, transition = networks_from_bundle(folder)
    mel = np.array(check_phrase_inputs())
    with torch.no_grad():
        ours = networks.probability_model().eval()(torch.from_numpy(mel)[:, None]).numpy()
    onnx = open_bundle(folder).probabilities(mel)
    assert np.abs(ours - onnx).max() < 1e-4
    assert np.array_equal(transition, open_bundle(folder).transition.astype(np.float32))


def test_edits_recorded_before_schema_4_read_without_a_context(library):
    """A row without ``slot_context`` (recorded by schema version 3) reads as None, and
    training reads it as a zero context."""
    from musicdance.library.edits import Edit, record_edits
    from musicdance.train.edits import edit_labels

    opened = open_library(library)
    infos = opened.infos()
    base = {"user": "u", "song_id": "song:x", "style": infos[0].style, "chosen_id": infos[0].id,
            "replaced_id": infos[1].id, "slot_features": {"meter": infos[0].meter}}  # fmt: skip
    mel = np.full((128, 128), 0.5, np.float32)
    record_edits(opened, [Edit(slot=0, model_input=mel, **base),
                          Edit(slot=1, model_input=mel, slot_context=[1, 0.5, 1, 0.25, 0.5],
                               **base)])  # fmt: skip
    old, new = list_edits(opened, with_inputs=True)
    assert old.slot_context is None and new.slot_context == [1.0, 0.5, 1.0, 0.25, 0.5]
    data = edit_labels([old, new], infos, opened.ids())
    assert data.context.tolist() == [[0.0] * 5, [1.0, 0.5, 1.0, 0.25, 0.5]]


def test_a_bundle_context_head_offsets_the_log_probabilities(tmp_path, tmp_path_factory):
    """``context_head.npy`` in a bundle: probabilities(mel, context) is the graph's softmax
    shifted by ``context @ head.T``; without a context (the live session, C#) the graph's own;
    a head of the wrong shape is refused in one line."""
    from musicdance.bundle import MANIFEST_NAME, open_bundle, write_manifest
    from musicdance.errors import MusicDanceError
    from musicdance.train.bundle_export import check_phrase_inputs

    folder = tmp_path / "bundle"
    shutil.copytree(tiny_bundle(tmp_path_factory), folder)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    k = manifest["num_classes"]
    head = np.random.default_rng(0).normal(size=(k, 5)).astype(np.float32)
    np.save(folder / "context_head.npy", head)
    manifest["context_head"] = {"file": "context_head.npy", "names": list("abcde")}
    write_manifest(folder, manifest)
    bundle = open_bundle(folder)
    mel = np.array(check_phrase_inputs())[:3]
    context = np.random.default_rng(1).normal(size=(3, 5))
    plain = bundle.probabilities(mel)
    logits = np.log(plain.astype(np.float64)) + context @ head.T
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert np.allclose(bundle.probabilities(mel, context=context), expected, atol=1e-6)
    assert not np.allclose(expected, plain, atol=1e-3)
    np.save(folder / "context_head.npy", head[:, :4])
    write_manifest(folder, manifest)
    with pytest.raises(MusicDanceError, match="context head is"):
        open_bundle(folder)


def test_simulated_curator_edits_raise_agreement_on_held_out_songs(library, tmp_path,
                                                                   tmp_path_factory):  # fmt: skip
    """Edits on 4 generated songs teach the narrow shared model the curator's hidden taste."""
    from musicdance.bundle import open_bundle
    from musicdance.choreo.curation import agreement
    from musicdance.evaluate.curator import SimulatedCurator, curate_song, phrase_travel_m

    opened = open_library(library)
    curator = SimulatedCurator(phrase_travel_m(opened))
    for seed in (100, 101, 102, 105):  # 24-s songs; two of them have a chorus
        curate_song(opened, curator, seed=seed, duration_s=24.0).record(opened, curator)
    recorded = len(list_edits(opened))
    assert recorded >= 15
    held = [curate_song(opened, curator, seed=seed, duration_s=24.0) for seed in (902, 903)]
    slots = [edit for song in held for edit in song.all_slots(curator)]
    assert {"chorus"} < {s for song in held for s in song.sections}  # both tastes are tested
    start = agreement(open_bundle(tiny_bundle(tmp_path_factory)), slots, opened)
    result = mdtool("train", "finetune", "--labels", "edits", "--library", library, "--init",
                    finetuned(tmp_path_factory), "--out", tmp_path / "edits.pt",
                    "--bundle-out", tmp_path / "bundle", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["edits_used"] == recorded and report["edits_skipped"] == 0
    assert report["edits_top1_after"] > report["edits_top1_before"]
    learned = agreement(open_bundle(tmp_path / "bundle", library=opened), slots, opened)
    rules = agreement(open_bundle(tmp_path / "bundle"), slots, opened, feature_weight=1.0)
    assert learned["scored"] == start["scored"] == len(slots)
    assert learned["model_top1"] >= start["model_top1"] + 0.3, (start, learned)
    assert learned["model_top1"] > rules["top1"] + 0.3, (rules, learned)
