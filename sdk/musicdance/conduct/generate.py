"""Conducting a song: the trained M2S-GAN through onnxruntime (no torch), or the procedural
conductor; and writing the result (.glb, .bvh, keypoint JSON) as one atomic set.

The generator ships as the ``conducting`` companion of the default bundle
(``bundles/default/conducting``: ``conductor.onnx`` = E_music + G). Its inputs are the
paper's mel (:func:`musicdance.conduct.features.conducting_mel`) and the noise ``z``, 8-d at
1 Hz, drawn from ``numpy.random.default_rng(seed)``: the same song and seed give the same
conductor. The song is padded with silence to whole seconds and the output cut back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.atomic import atomic_outputs
from musicdance.companions import Companion, require_companion
from musicdance.conduct.features import MEL_SR_HZ, conducting_mel, motion_frames
from musicdance.conduct.keypoints import (
    COCO13,
    KEYPOINT_DIM,
    MOTION_FPS,
    keypoints_from_motion,
    motion_from_keypoints,
)
from musicdance.defaults import DEFAULT_BUNDLE
from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion

__all__ = [
    "COMPANION_NAME",
    "CONDUCT_FORMATS",
    "KEYPOINTS_FORMAT",
    "METHODS",
    "Conducting",
    "conduct_signal",
    "conduct_song",
    "conducting_outputs",
    "generate_keypoints",
    "load_conductor",
    "read_keypoints",
    "write_conducting",
]

COMPANION_NAME = "conducting"
METHODS = ("gan", "procedural")
CONDUCT_FORMATS = ("glb", "bvh", "json")
KEYPOINTS_FORMAT = "mdtool-conducting-keypoints/1"
NOISE_DIM = 8
#: Key of the conducting description in the .glb scene's extras.
CONDUCT_EXTRA = "mdtool_conducting"


@dataclass
class Conducting:
    """A conducted song: the canonical-skeleton ``motion`` (30 fps), its ``keypoints``
    ``[T, 26]`` (the paper's representation), and a summary (method, seed, timings)."""

    motion: Motion
    keypoints: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)


def load_conductor(
    bundle: str | os.PathLike[str] = DEFAULT_BUNDLE, *, threads: int = 0
) -> Companion:
    """The ``conducting`` companion of ``bundle`` (checked); a clear error without one. Its
    sessions do not spin (one run per song: busy-waiting threads only cost CPU time)."""
    companion = require_companion(
        COMPANION_NAME, bundle,
        "the bundle has no conducting model (build it with: python -m "
        "musicdance.train.conducting --out BUNDLE/conducting --register BUNDLE); "
        "or use --method procedural", task="conducting", threads=threads,
    )  # fmt: skip
    return replace(companion, spinning=False)


def generate_keypoints(companion: Companion, mel01: np.ndarray, seed: int = 0) -> np.ndarray:
    """Run ``conductor.onnx`` on a mel ``[128, 3 T]``: keypoints ``[T, 26]`` at 30 fps."""
    frames = mel01.shape[1] // 3
    seconds = max(1, -(-frames // int(MOTION_FPS)))
    mel = np.zeros((1, 1, mel01.shape[0], 90 * seconds), dtype=np.float32)
    mel[0, 0, :, : mel01.shape[1]] = mel01
    noise = np.random.default_rng(seed).standard_normal((1, NOISE_DIM, seconds)).astype(np.float32)
    (out,) = companion.session("conductor").run(None, {"mel": mel, "noise": noise})
    keypoints = np.ascontiguousarray(out[0, :, :frames].T, dtype=np.float32)
    if not np.all(np.isfinite(keypoints)):
        raise MusicDanceError("the conducting model produced non-finite keypoints", companion.path)
    return keypoints


def conduct_signal(
    y: np.ndarray,
    sr_hz: int,
    *,
    method: str = "procedural",
    seed: int = 0,
    companion: Companion | None = None,
    bundle: str | os.PathLike[str] = DEFAULT_BUNDLE,
    path: str | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Conducting:
    """Conduct a mono signal at ``sr_hz`` (22050 Hz) with ``method`` ("gan" or "procedural")."""
    if method not in METHODS:
        raise MusicDanceError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if sr_hz != MEL_SR_HZ:
        raise MusicDanceError(f"the conductor reads {MEL_SR_HZ} Hz audio, got {sr_hz} Hz")
    stage = on_stage or (lambda name: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    duration_s = len(y) / sr_hz
    if duration_s < 1.0:
        raise MusicDanceError(f"the song is too short to conduct ({duration_s:.2f} s)", path)
    stage("mel")
    mel = conducting_mel(y, sr_hz, motion_frames(duration_s))
    timings["mel"] = time.perf_counter() - t0
    summary: dict[str, Any] = {"song": path, "method": method, "seed": int(seed),
                               "duration_s": round(duration_s, 3), "fps": MOTION_FPS}  # fmt: skip
    if method == "gan":
        stage("generate")
        t1 = time.perf_counter()
        model = companion if companion is not None else load_conductor(bundle)
        keypoints = generate_keypoints(model, mel, seed)
        timings["generate"] = time.perf_counter() - t1
        stage("lift")
        t1 = time.perf_counter()
        motion = motion_from_keypoints(keypoints)
        timings["lift"] = time.perf_counter() - t1
        summary["model"] = {"companion": str(model.path), "paper": model.manifest.get("paper")}
    else:
        from musicdance.audio.analysis import analyze_signal
        from musicdance.conduct.procedural import conduct_procedural
        from musicdance.conduct.score import score_from_analysis

        stage("analyse")
        t1 = time.perf_counter()
        analysis = analyze_signal(y, sr_hz=sr_hz, path=path)
        timings["analyse"] = time.perf_counter() - t1
        stage("conduct")
        t1 = time.perf_counter()
        score = score_from_analysis(analysis, mel)
        motion = conduct_procedural(score, seed=seed)
        keypoints = keypoints_from_motion(motion)
        timings["conduct"] = time.perf_counter() - t1
        summary.update({"tempo_bpm": round(float(analysis.tempo_bpm), 2), "meter": score.meter,
                        "beats": int(len(score.beat_times_s)),
                        "fermatas": len(score.reading.silences_s)})  # fmt: skip
    summary["frames"] = int(motion.num_frames)
    summary["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    return Conducting(motion, keypoints, summary)


def conduct_song(
    path: str | os.PathLike[str],
    *,
    method: str = "procedural",
    seed: int = 0,
    bundle: str | os.PathLike[str] = DEFAULT_BUNDLE,
    companion: Companion | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Conducting:
    """Decode ``path`` and conduct it (see :func:`conduct_signal`)."""
    from musicdance.audio.load import load_audio

    if method == "gan" and companion is None:
        companion = load_conductor(bundle)  # before decoding: a missing model fails fast
    t0 = time.perf_counter()
    if on_stage:
        on_stage("decode")
    y, _ = load_audio(path, sr_hz=MEL_SR_HZ)
    decode_s = time.perf_counter() - t0
    result = conduct_signal(y, MEL_SR_HZ, method=method, seed=seed, companion=companion,
                            bundle=bundle, path=str(path), on_stage=on_stage)  # fmt: skip
    result.summary["timings_s"] = {"decode": round(decode_s, 4), **result.summary["timings_s"]}
    return result


def conducting_outputs(folder: str | os.PathLike[str], stem: str, formats: Iterable[str]) -> dict:
    """``{format: path}``: ``STEM.glb``, ``STEM.bvh``, ``STEM.keypoints.json``."""
    names = {"glb": f"{stem}.glb", "bvh": f"{stem}.bvh", "json": f"{stem}.keypoints.json"}
    unknown = [f for f in formats if f not in names]
    if unknown:
        raise MusicDanceError(f"unknown format {unknown[0]!r}: use {', '.join(names)}")
    return {fmt: Path(folder) / names[fmt] for fmt in formats}


def keypoints_document(result: Conducting) -> dict[str, Any]:
    """The keypoint JSON: format, fps, joint names, the summary, frames ``[T][26]``."""
    return {
        "format": KEYPOINTS_FORMAT,
        "fps": MOTION_FPS,
        "joints": list(COCO13),
        "layout": "per frame: x0, y0, x1, y1, ... (image units, y down; mean shoulder distance "
        "0.2, mean hip midpoint (0.5, 0.75))",
        "summary": result.summary,
        "keypoints": np.round(result.keypoints.astype(np.float64), 5).tolist(),
    }


def write_conducting(
    result: Conducting,
    outputs: Mapping[str, str | os.PathLike[str]],
    *,
    name: str | None = None,
    mesh: bool = True,
    bvh_unit: str = "cm",
) -> None:
    """Write ``result`` in each format of ``outputs`` as one set (all or nothing)."""
    from musicdance.io.bvh import write_bvh
    from musicdance.io.gltf import write_glb

    folders = {Path(p).parent.resolve() for p in outputs.values()}
    if len(folders) != 1:
        raise MusicDanceError("the files of one conducting must be written to one folder")
    with atomic_outputs(folders.pop()) as staged:
        if "glb" in outputs:
            write_glb(result.motion, staged.path(outputs["glb"]), name=name, mesh=mesh,
                      extras={CONDUCT_EXTRA: result.summary})  # fmt: skip
        if "bvh" in outputs:
            write_bvh(result.motion, staged.path(outputs["bvh"]), unit=bvh_unit)
        if "json" in outputs:
            # json.dumps (the C encoder) and one write: json.dump streams through the Python
            # encoder (0.11 s of CPU against 0.04 s for a 4-minute song)
            text = json.dumps(keypoints_document(result), separators=(",", ":"))
            Path(staged.path(outputs["json"])).write_text(text, encoding="utf-8")


def read_keypoints(path: str | os.PathLike[str]) -> np.ndarray:
    """Keypoints ``[T, 26]`` of a keypoint JSON written by :func:`write_conducting`."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"cannot read keypoint JSON: {error}", path) from None
    if not isinstance(data, dict) or data.get("format") != KEYPOINTS_FORMAT:
        raise MusicDanceError(f"not a {KEYPOINTS_FORMAT} document", path)
    try:
        keypoints = np.asarray(data["keypoints"], dtype=np.float32)
    except (KeyError, ValueError, TypeError):
        raise MusicDanceError("keypoints must be a list of frames of 26 numbers", path) from None
    if keypoints.ndim != 2 or keypoints.shape[1] != KEYPOINT_DIM or len(keypoints) < 2:
        raise MusicDanceError("keypoints must be a list of frames of 26 numbers", path)
    if not np.all(np.isfinite(keypoints)):
        raise MusicDanceError("keypoints hold non-finite values", path)
    return keypoints
