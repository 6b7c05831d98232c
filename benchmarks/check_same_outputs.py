"""Record what mdtool produces for fixed songs and seeds, or check that it still produces it.

For restructurings that must not change outputs (issue 13): run ``record`` before, ``check``
after each commit. Covers, for the demo song and the songs in ``../shared/data/music``: the
analysis (tempo, meter, beats, log-mel), the runtime's timelines (default scorer, seeds 0 and
7; greedy; the feature scorer without section reuse), the rendered motion, poses sampled at
37 times, alternatives, a replace with its incremental re-render, the .glb bytes, and the
files ``mdtool choreograph`` writes for the demo song (in a process).

    python benchmarks/check_same_outputs.py record /tmp/before.json
    python benchmarks/check_same_outputs.py check /tmp/before.json   # prints EQUAL or DIFFER
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SONGS = ["examples/demo_song.mp3"] + sorted(
    str(p) for p in Path("../shared/data/music").glob("*") if p.suffix in (".mp3", ".ogg")
)


def digest(value) -> str:
    """Short sha256 of bytes, an array (with dtype and shape) or JSON-ready data."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        data = array.tobytes() + str(array.dtype).encode() + str(array.shape).encode()
    else:
        data = json.dumps(value, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def motion_digest(motion) -> str:
    parts = []
    for name in sorted(vars(motion)):
        value = getattr(motion, name)
        if isinstance(value, np.ndarray):
            parts.append(f"{name}:{digest(value)}")
        elif isinstance(value, int | float | str):
            parts.append(f"{name}:{value}")
    return digest(parts)


def record() -> dict:
    from mdruntime import Runtime

    runtime = Runtime("phrase_library")
    features = Runtime("phrase_library", default_bundle=False)
    out: dict = {"scorer_note": runtime.scorer_note, "bundle": runtime.bundle is not None}
    for song in SONGS:
        analysis = runtime.analyze_file(song)
        rec = {
            "analysis": digest([float(analysis.tempo_bpm), int(analysis.meter),
                                digest(np.asarray(analysis.beat_times_s)),
                                digest(analysis.log_mel_db)]),
        }  # fmt: skip
        for seed in (0, 7):
            timeline = runtime.choreograph(analysis, seed=seed)
            rec[f"tl{seed}"] = digest(timeline.to_json())
            rec[f"motion{seed}"] = motion_digest(runtime.render(timeline))
            pose = runtime.sample(timeline, np.linspace(0, timeline.duration_s, 37))
            arrays = [v for _, v in sorted(vars(pose).items()) if isinstance(v, np.ndarray)]
            rec[f"pose{seed}"] = digest([digest(np.asarray(a)) for a in arrays])
        greedy = runtime.choreograph(analysis, seed=3, decoder="greedy")
        rec["greedy"] = digest(greedy.to_json())
        rec["greedy_motion"] = motion_digest(runtime.render(greedy))
        timeline = runtime.choreograph(analysis, seed=0)
        ranked = runtime.alternatives(timeline, 1, top_k=5)
        rec["alts"] = digest(ranked)
        other = next(row["phrase_id"] for row in ranked if not row["current"])
        edited = runtime.replace(timeline, 1, other)
        rec["edited"] = digest(edited.to_json())
        rec["edited_motion"] = motion_digest(runtime.render(edited))
        rec["glb"] = digest(runtime.glb_bytes(timeline))
        plain = features.choreograph(analysis, seed=5, reuse_sections=False)
        rec["feature"] = digest(plain.to_json())
        rec["feature_motion"] = motion_digest(features.render(plain))
        out[song] = rec
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "mdtool.cli", "choreograph", SONGS[0], "-o", folder,
             "--seed", "11", "--json"], check=True, capture_output=True,
        )  # fmt: skip
        for name in sorted(os.listdir(folder)):
            out[f"cli/{name}"] = digest(Path(folder, name).read_bytes())
    return out


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    result = record()
    if mode == "record":
        path.write_text(json.dumps(result, indent=1, sort_keys=True))
        print(f"recorded {path}")
        return
    base = json.loads(path.read_text())
    differ = []
    for key, value in base.items():
        if isinstance(value, dict):
            differ += [f"{key}/{k}" for k in value if value[k] != result.get(key, {}).get(k)]
        elif value != result.get(key):
            differ.append(key)
    print("EQUAL" if not differ else "DIFFER: " + ", ".join(differ))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
