"""The default scorer: ``bundles/default`` (shipped, small, float16) scores ``mdtool
choreograph`` and the runtime through onnxruntime when it was made for the library in use, the
feature scorer otherwise (and the summary says why); no torch on that path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO
from library_support import mdtool, one_line_error, sample_phrases
from runtime_support import STARTER, write_song_file

from mdruntime import Runtime
from musicdance.audio.analysis import analyze
from musicdance.bundle import DEFAULT_BUNDLE, open_bundle, open_default_bundle
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.onnx_scorer import OnnxScorer
from musicdance.choreo.timeline import read_timeline
from musicdance.defaults import DEFAULT_FEATURE_WEIGHT
from musicdance.library import open_library

SHIPPED = REPO / DEFAULT_BUNDLE


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_song_file(tmp_path_factory.mktemp("song"))


@pytest.fixture(scope="module")
def other_library(tmp_path_factory):
    """A small library that is not the one the default bundle was made for."""
    library = open_library(tmp_path_factory.mktemp("other") / "library", create=True)
    library.add(sample_phrases())
    return library


def _choreograph(song, out, *args, cwd=REPO) -> dict:
    result = mdtool("choreograph", song, "-o", out, "--seed", 3, "--format", "json", "--json",
                    *args, cwd=cwd)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_shipped_bundle_is_small_exact_and_for_the_shipped_library():
    bundle = open_bundle(SHIPPED, library=open_library(STARTER))
    manifest = bundle.manifest
    files = manifest["files"]
    k = len(open_library(STARTER))
    # "a few MB": the light encoder at width 0.7, float16 (T's last layer grows with K)...
    assert files["probabilities.onnx"]["bytes"] <= 5.0e6 + 512 * k, files
    # ... and the K x K transition matrix, float32
    assert files["transition.npy"]["bytes"] <= 4 * k * k + 256, files
    assert manifest["model"]["encoder"] == "light" and manifest["weights"] == "float16"
    assert manifest["model"]["encoder_width"] == 0.7
    assert manifest["parity"]["max_abs_diff"] <= 1e-4  # against the released (rounded) model
    assert manifest["float16_rounding"]["top1_agreement"] >= 0.9
    assert bundle.num_classes == len(open_library(STARTER))


def test_choreograph_scores_with_the_default_bundle(song, tmp_path):
    """From the repository root, ``mdtool choreograph`` uses bundles/default, and its timeline
    is the SDK's with the bundle's scorer at the default feature weight."""
    summary = _choreograph(song, tmp_path / "cli", "--library", STARTER)
    assert summary["scorer"] == str(DEFAULT_BUNDLE) and "scorer_note" not in summary
    assert summary["feature_weight"] == DEFAULT_FEATURE_WEIGHT
    library = open_library(STARTER)
    analysis = analyze(song)
    scorer = OnnxScorer(SHIPPED, analysis, library=library)
    expected = choreograph(analysis, library, seed=3, scorer=scorer)
    got = read_timeline(summary["outputs"]["json"])
    assert got.phrase_ids() == expected.phrase_ids() == summary["phrases"]
    features = choreograph(analysis, library, seed=3)
    assert got.phrase_ids() != features.phrase_ids()  # the model does change the dance


def test_runtime_and_cli_share_the_default(song, tmp_path, monkeypatch):
    summary = _choreograph(song, tmp_path / "cli", "--library", STARTER)
    monkeypatch.chdir(REPO)
    rt = Runtime(STARTER)
    info = rt.info()
    assert info["scorer"] == "onnx" and info["scorer_note"] is None
    assert info["bundle"]["feature_weight"] == DEFAULT_FEATURE_WEIGHT
    assert rt.choreograph_file(song, seed=3).phrase_ids() == summary["phrases"]
    assert Runtime(STARTER, default_bundle=False).info()["scorer"] == "feature"


def test_without_a_bundle_for_the_library_the_features_score(song, tmp_path, other_library):
    # another working folder: no bundles/default there
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    summary = _choreograph(song, tmp_path / "a", "--library", STARTER, cwd=elsewhere)
    assert summary["scorer"] == "features (no bundle for this library)"
    assert summary["scorer_note"] == "no bundle at bundles/default"
    assert "feature_weight" not in summary
    features = choreograph(analyze(song), open_library(STARTER), seed=3)
    assert summary["phrases"] == features.phrase_ids()
    # the repository root, but a library the bundle was not made for
    summary = _choreograph(song, tmp_path / "b", "--library", other_library.path)
    assert summary["scorer"] == "features (no bundle for this library)"
    assert summary["scorer_note"] == "bundles/default was made for another library"
    assert set(summary["phrases"]) <= set(other_library.ids())
    bundle, why_not = open_default_bundle(other_library, SHIPPED)
    assert bundle is None and why_not.endswith("was made for another library")


def test_no_bundle_and_explicit_bundles(song, tmp_path, other_library):
    summary = _choreograph(song, tmp_path / "a", "--library", STARTER, "--no-bundle")
    assert summary["scorer"] == "features" and "scorer_note" not in summary
    # an explicit bundle that fails its checks is an error, not a quiet fallback
    line = one_line_error(mdtool("choreograph", song, "-o", tmp_path / "b", "--library",
                                 other_library.path, "--bundle", SHIPPED))  # fmt: skip
    assert "made for another library" in line
    assert not (tmp_path / "b").exists()
    both = mdtool("choreograph", song, "-o", tmp_path / "c", "--library", STARTER, "--bundle",
                  SHIPPED, "--no-bundle")  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_broken_default_bundle_is_not_hidden(song, tmp_path):
    """A default bundle made for this library that fails a check is an error (a broken
    install), with the way out (--no-bundle) one flag away."""
    import shutil

    shutil.copytree(SHIPPED, tmp_path / "bundles" / "default")
    transition = tmp_path / "bundles" / "default" / "transition.npy"
    np.save(transition, np.ones((3, 3), np.float32))
    line = one_line_error(mdtool("choreograph", song, "-o", tmp_path / "out", "--library",
                                 STARTER, cwd=tmp_path))  # fmt: skip
    assert "transition.npy does not match its sha256" in line
    summary = _choreograph(song, tmp_path / "out", "--library", STARTER, "--no-bundle",
                           cwd=tmp_path)  # fmt: skip
    assert summary["scorer"] == "features"


def test_choreograph_with_the_default_bundle_needs_no_torch(song, tmp_path):
    """The whole ``mdtool choreograph`` command, default bundle included, in one process that
    never imports torch (onnxruntime only)."""
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import json, sys
        from mdtool.cli import main
        try:
            main(["choreograph", {str(song)!r}, "-o", {str(out)!r}, "--library",
                  {str(STARTER)!r}, "--json"])
        except SystemExit as stop:
            assert not stop.code, stop.code
        assert "onnxruntime" in sys.modules
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "torch")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == [], "torch was imported"
    summary = json.loads("\n".join(lines[:-1]))
    assert summary["scorer"] == str(DEFAULT_BUNDLE)
    assert (out / f"{song.stem}.glb").is_file() and (out / f"{song.stem}.bvh").is_file()
