"""The runtime with a trained bundle: the bundle's ONNX model scores the slots (same timeline as
the SDK's choreographer with ``OnnxScorer``), alternatives re-score with the song's analysis, no
torch is imported, and a damaged bundle is refused with one clear error.

Building a bundle needs the training extra (torch); the tiny corpus, checkpoint and bundle are
shared with the training tests (tests/train_support.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from library_support import mdtool_process, one_line_error  # noqa: E402
from runtime_support import STARTER, song_signal  # noqa: E402
from train_support import bundle  # noqa: E402

from mdruntime import Runtime  # noqa: E402
from musicdance.audio.analysis import analyze_signal  # noqa: E402
from musicdance.choreo.choreographer import alternatives, choreograph  # noqa: E402
from musicdance.choreo.onnx_scorer import OnnxScorer  # noqa: E402
from musicdance.errors import MusicDanceError  # noqa: E402
from musicdance.library import open_library  # noqa: E402


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return bundle(tmp_path_factory)


def test_bundle_scores_the_runtime_choreography(bundle_dir):
    rt = Runtime(STARTER, bundle=bundle_dir)
    assert rt.info()["scorer"] == "onnx" and rt.info()["bundle"]["num_classes"] > 0
    y, sr = song_signal()
    analysis = analyze_signal(y, sr_hz=sr, path="song")
    library = open_library(STARTER)
    scorer = OnnxScorer(bundle_dir, analysis, library=library)
    expected = choreograph(analysis, library, seed=3, scorer=scorer)
    timeline = rt.choreograph(analysis, seed=3)
    assert timeline.to_json() == expected.to_json()
    assert rt.alternatives_scorer(timeline) == "onnx"
    assert rt.alternatives(timeline, 1, top_k=5) == alternatives(
        timeline, library, 1, top_k=5, scorer=scorer
    )
    session = rt.session(analysis, seed=3)
    assert session.alternatives(2) == alternatives(timeline, library, 2, scorer=scorer)
    # a timeline this runtime did not analyse falls back to the feature scorer, and says so
    other = Runtime(STARTER, bundle=bundle_dir)
    assert other.alternatives_scorer(timeline) == "feature"


def test_bundle_runtime_imports_no_torch(bundle_dir):
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import mdruntime
        from musicdance.audio.synth import synth_song
        rt = mdruntime.Runtime({str(STARTER)!r}, bundle={str(bundle_dir)!r})
        y, _ = synth_song("funk", seed=1, duration_s=20.0)
        tl = rt.choreograph_pcm(y, 22050, seed=1)
        rt.alternatives(tl, 0)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "librosa", "numba")
                     or m.startswith(("musicdance.train", "musicdance.corpus"))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    loaded = eval(result.stdout.strip())  # a printed list of module names
    # the bundle reads its model configuration from the torch-free musicdance.model_config
    assert loaded == [], loaded


def test_eq6_decoder_is_exactly_the_papers_equation(bundle_dir):
    """``decoder="eq6"``: d_t = argmax F(u_t) M(d_{t-1} -> .) with F the bundle's model
    probabilities alone and M the bundle's matrix; no jitter (every seed gives the same path),
    no constraint factors, no section reuse."""
    import numpy as np

    from musicdance.bundle import open_bundle
    from musicdance.choreo.slots import plan_slots

    library = open_library(STARTER)
    y, sr_hz = song_signal()
    analysis = analyze_signal(y, sr_hz=sr_hz, path="song")
    bundle = open_bundle(bundle_dir, library=library)
    scorer = OnnxScorer(bundle, analysis, feature_weight=0.5)  # the mix is not used by eq6
    timeline = choreograph(analysis, library, decoder="eq6", seed=1, scorer=scorer)
    assert timeline.decoder == "eq6"
    again = choreograph(analysis, library, decoder="eq6", seed=99, scorer=scorer)
    assert again.phrase_ids() == timeline.phrase_ids()
    infos = library.infos()
    ids = [info.id for info in infos]
    slots = plan_slots(analysis)
    probabilities = scorer.probabilities(slots)[:, [bundle.column(i) for i in ids]]
    f = probabilities / probabilities.sum(axis=1, keepdims=True)
    m = bundle.transition[np.ix_([bundle.column(i) for i in ids], [bundle.column(i) for i in ids])]
    path = [int(np.argmax(f[0]))]
    for t in range(1, len(slots)):
        path.append(int(np.argmax(f[t] * m[path[-1]])))
    assert timeline.phrase_ids() == [ids[k] for k in path]


def test_damaged_or_foreign_bundles_are_refused(bundle_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["format"] = "mdtool-bundle/99"
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MusicDanceError, match="bundle format"):
        Runtime(STARTER, bundle=broken)
    result = mdtool_process("serve", "--port", 0, "--library", STARTER, "--bundle", broken)
    assert "mdtool-bundle/99" in one_line_error(result)
    with pytest.raises(MusicDanceError, match="not found|no manifest"):
        Runtime(STARTER, bundle=tmp_path / "missing")
