"""Style recognition and song recommendation from a dance, through the shipped ONNX companion
``dance-music`` (onnxruntime only; no torch).

A dance (joint positions ``[T, 22, 3]`` on the canonical skeleton, resampled to 30 fps) is cut
into segments, each classified (MCLEMCD: 25-frame windows, late fusion of the joints and limbs
models; BiLSTM-BiGRU: 8-s summaries), and the segments vote. A song is profiled once (cached):
its MFCC windows go through MCLEMCD's music encoders and the shared classifier (eq. 3's space)
to a style distribution, and its tempo comes from ``audio.analysis``. Songs are ranked by the
cosine of the dance's and the song's style distributions, times a tempo match (the dance's
kinematic tempo against the song's, octaves allowed at a discount).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicdance.companions import Companion, file_sha256, require_companion
from musicdance.defaults import DEFAULT_BUNDLE
from musicdance.errors import MusicDanceError
from musicdance.recognize import features as F

__all__ = [
    "COMPANION",
    "METHODS",
    "DanceStyle",
    "Recognizer",
    "Recommendation",
    "SongProfile",
    "catalog_profiles",
    "dance_positions",
    "rank_songs",
    "tempo_match",
]

COMPANION = "dance-music"
METHODS = ("mclemcd", "bilstm")
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac")
CACHE_NAME = ".mdtool-catalog.json"
CACHE_FORMAT = "mdtool-catalog/1"
#: Width of the tempo match (a Gaussian on log2 of the tempo ratio): 0.05 octave ~ 3.5 %.
TEMPO_SIGMA_OCTAVES = 0.05
#: Weight of a tempo that matches only at double or half speed.
OCTAVE_DISCOUNT = 0.8
#: Windows per onnxruntime call: 16 MCLEMCD windows per call took half the CPU time per
#: window of 288 in one call (the activations stay in cache), and memory stays bounded.
BATCH = 16


@dataclass
class DanceStyle:
    """A dance's style: per-segment probabilities ``[S, K]`` (segment start times in s), the
    votes per style, the winner, its confidence (mean probability of the winning style over
    the segments) and the dance's kinematic tempo (nan when it has no clear pulse)."""

    method: str
    labels: list[str]
    segment_times_s: np.ndarray
    probabilities: np.ndarray
    tempo_bpm: float = float("nan")

    @property
    def votes(self) -> dict[str, int]:
        counts = np.bincount(self.probabilities.argmax(1), minlength=len(self.labels))
        return {label: int(c) for label, c in zip(self.labels, counts, strict=True) if c}

    @property
    def style(self) -> str:
        counts = np.bincount(self.probabilities.argmax(1), minlength=len(self.labels))
        best = np.flatnonzero(counts == counts.max())
        mean = self.probabilities.mean(0)
        return self.labels[int(best[np.argmax(mean[best])])]

    @property
    def confidence(self) -> float:
        return float(self.probabilities[:, self.labels.index(self.style)].mean())

    @property
    def distribution(self) -> np.ndarray:
        """Mean probability per style, ``[K]``."""
        return self.probabilities.mean(0)

    def to_json(self, segments: bool = True) -> dict:
        data = {
            "method": self.method,
            "style": self.style,
            "confidence": round(self.confidence, 4),
            "votes": self.votes,
            "distribution": {
                k: round(float(v), 4) for k, v in zip(self.labels, self.distribution, strict=True)
            },
            "tempo_bpm": None if not np.isfinite(self.tempo_bpm) else round(self.tempo_bpm, 2),
            "num_segments": int(len(self.probabilities)),
        }
        if segments:
            data["segments"] = [
                {
                    "start_s": round(float(t), 3),
                    "style": self.labels[int(p.argmax())],
                    "probability": round(float(p.max()), 4),
                }
                for t, p in zip(self.segment_times_s, self.probabilities, strict=True)
            ]
        return data


@dataclass
class SongProfile:
    """A catalogue song: style distribution ``[K]`` from its music, tempo, duration."""

    path: str
    distribution: np.ndarray
    tempo_bpm: float
    duration_s: float
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "distribution": [round(float(v), 6) for v in self.distribution],
            "tempo_bpm": round(float(self.tempo_bpm), 3),
            "duration_s": round(float(self.duration_s), 3),
        }


@dataclass
class Recommendation:
    """One ranked song: score = style cosine x tempo match."""

    song: str
    score: float
    style_similarity: float
    tempo_match: float
    song_tempo_bpm: float
    song_style: str

    def to_json(self) -> dict:
        return {
            "song": self.song,
            "score": round(self.score, 4),
            "style_similarity": round(self.style_similarity, 4),
            "tempo_match": round(self.tempo_match, 4),
            "song_tempo_bpm": round(self.song_tempo_bpm, 2),
            "song_style": self.song_style,
        }


def tempo_match(dance_bpm: float, song_bpm: float) -> float:
    """How well a dance's tempo fits a song's, in (0, 1]: a Gaussian on the log2 tempo ratio
    (:data:`TEMPO_SIGMA_OCTAVES`), double and half speed at :data:`OCTAVE_DISCOUNT`; 1 when
    either tempo is unknown."""
    if not (np.isfinite(dance_bpm) and np.isfinite(song_bpm)) or dance_bpm <= 0 or song_bpm <= 0:
        return 1.0
    best = 0.0
    for factor, weight in ((1.0, 1.0), (2.0, OCTAVE_DISCOUNT), (0.5, OCTAVE_DISCOUNT)):
        ratio = np.log2(dance_bpm * factor / song_bpm) / TEMPO_SIGMA_OCTAVES
        best = max(best, weight * float(np.exp(-0.5 * ratio**2)))
    return max(best, 1e-6)


class Recognizer:
    """The ``dance-music`` companion's graphs with their scales and labels."""

    def __init__(self, companion: Companion) -> None:
        self.companion = companion
        manifest = companion.manifest
        self.labels: list[str] = list(manifest["labels"])
        self.scales = manifest["scales"]
        self.fusion = [g.split("_", 1)[1] for g in manifest["graphs"] if g.startswith("motion_")]

    @classmethod
    def load(cls, bundle: str | os.PathLike[str] = DEFAULT_BUNDLE, threads: int = 1):
        """The recognizer of ``bundle``; a clear error when the bundle has no such companion.
        One onnxruntime thread by default: these small graphs took a third of the CPU time of
        onnxruntime's default thread pool (which spins) for the same wall time or less."""
        return cls(require_companion(
            COMPANION, bundle,
            f"the bundle has no {COMPANION} companion (style recognition and song "
            "recommendation); rebuild it with 'python benchmarks/train_recognition.py'",
            threads=threads,
        ))  # fmt: skip

    @property
    def fingerprint(self) -> str:
        return file_sha256(self.companion.path / "manifest.json")

    def _run(self, role: str, name: str, x: np.ndarray) -> list[np.ndarray]:
        session = self.companion.session(role)
        outs = [session.run(None, {name: x[i : i + BATCH]}) for i in range(0, len(x), BATCH)]
        return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]

    def _scaled(self, x: np.ndarray, key: str, axis: int) -> np.ndarray:
        return F.scale_unit(x, self.scales[key]["lo"], self.scales[key]["hi"], axis=axis)

    def classify(self, positions_m: np.ndarray, method: str = "mclemcd") -> DanceStyle:
        """Per-segment style probabilities of a dance (positions at 30 fps, ``[T, 22, 3]``)."""
        from musicdance.motion.analysis import motion_tempo_bpm

        positions = F.canonical_positions(positions_m)
        if method == "mclemcd":
            windows, starts = F.motion_windows(positions, "both")
            if not len(starts):
                raise MusicDanceError(
                    f"the dance is too short: {len(positions)} frames, at least "
                    f"{F.WINDOW_FRAMES} at {F.FPS:g} fps"
                )
            probs = np.zeros((len(starts), len(self.labels)), np.float32)
            for features in self.fusion:
                part = (
                    windows[:, :3]
                    if features == "joints"
                    else (windows[:, 3:] if features == "limbs" else windows)
                )
                probs += self._run(f"motion_{features}", "motion", self._scaled(part, features, 1))[
                    0
                ]
            probs /= len(self.fusion)
        elif method == "bilstm":
            starts = F.segment_starts(len(positions))
            if not len(starts):
                starts = np.zeros(1, np.int64)  # shorter than a segment: one summary of it all
            summary = F.pose_summary(positions, starts)
            mean = np.asarray(self.scales["bilstm"]["mean"], np.float32)
            std = np.asarray(self.scales["bilstm"]["std"], np.float32)
            probs = self._run("bilstm", "summary", ((summary - mean) / std).astype(np.float32))[0]
        else:
            raise MusicDanceError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        tempo = float("nan")
        if len(positions) >= 4 * F.FPS:
            tempo = float(motion_tempo_bpm(positions, F.FPS)[0])
        return DanceStyle(method, self.labels, starts / F.FPS, probs, tempo)

    def song_distribution(self, y: np.ndarray, sr_hz: int) -> np.ndarray:
        """Mean style distribution of a song's MFCC windows (MCLEMCD music encoders, the
        fusion's models averaged), ``[K]``."""
        mfcc = F.mfcc_frames(y, sr_hz)
        starts = F.window_starts(mfcc.shape[1])
        if not len(starts):
            raise MusicDanceError("the song is shorter than one 25-frame window (0.83 s)")
        a = self._scaled(F.mfcc_windows(mfcc, starts), "mfcc", 2)
        probs = [self._run(f"music_{f}", "mfcc", a)[0] for f in self.fusion]
        return np.mean(probs, axis=0).mean(0)

    def profile_song(self, path: str | os.PathLike[str]) -> SongProfile:
        """Analyse one audio file (style distribution, tempo, duration)."""
        from musicdance.audio.analysis import analyze_signal
        from musicdance.audio.load import load_audio

        y, info = load_audio(path, sr_hz=F.SR_HZ)
        analysis = analyze_signal(y, sr_hz=F.SR_HZ, path=str(path), info=info)
        return SongProfile(
            str(path),
            self.song_distribution(y, F.SR_HZ),
            float(analysis.tempo_bpm),
            len(y) / F.SR_HZ,
        )


def dance_positions(path: str | os.PathLike[str], library=None) -> np.ndarray:
    """Joint positions ``[T, 22, 3]`` at 30 fps of a dance file: ``.bvh`` or ``.glb``
    (retargeted to the canonical skeleton when it is not on it) or ``.timeline.json`` (rendered
    from ``library``)."""
    from musicdance.motion.motion import resample

    p = Path(path)
    if not p.is_file():
        raise MusicDanceError("no such dance file", p)
    if p.name.endswith(".json"):
        from musicdance.choreo.render import render_timeline
        from musicdance.choreo.timeline import read_timeline
        from musicdance.library import open_library

        timeline = read_timeline(p)
        motion = render_timeline(timeline, library or open_library(timeline.library))
    else:
        from musicdance.io.files import load_motion
        from musicdance.motion.canonical import CANONICAL_JOINTS

        motion = load_motion(p)
        if tuple(motion.skeleton.names) != tuple(CANONICAL_JOINTS):
            from musicdance.motion.retarget import retarget

            motion, _ = retarget(motion)
    if abs(motion.fps - F.FPS) > 1e-6:
        motion = resample(motion, F.FPS)
    return motion.global_positions().astype(np.float32)


def _catalog_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise MusicDanceError("the catalogue is not a folder", folder)
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )
    if not files:
        raise MusicDanceError("the catalogue holds no audio files (wav, mp3, ogg, flac)", folder)
    return files


def catalog_profiles(
    recognizer: Recognizer,
    folder: str | os.PathLike[str],
    *,
    cache: bool = True,
    write_cache: bool = True,
    progress=None,
) -> tuple[list[SongProfile], dict]:
    """Profiles of every audio file in ``folder``, reusing ``folder/.mdtool-catalog.json``
    (keyed by file name, size, modification time and the companion's fingerprint; written
    atomically unless ``write_cache`` is False, skipped when the folder is read-only).
    Returns (profiles, stats)."""
    from musicdance.atomic import atomic_write

    root = Path(folder)
    files = _catalog_files(root)
    path = root / CACHE_NAME
    stored: dict = {}
    if cache and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") == CACHE_FORMAT and data.get("model") == recognizer.fingerprint:
                stored = data.get("songs", {})
        except (OSError, ValueError):
            stored = {}
    profiles, songs, analysed = [], {}, 0
    for file in files:
        stat = file.stat()
        key = f"{stat.st_size}:{stat.st_mtime_ns}"
        entry = stored.get(file.name)
        if entry and entry.get("key") == key:
            profile = SongProfile(
                str(file),
                np.asarray(entry["distribution"], np.float32),
                float(entry["tempo_bpm"]),
                float(entry["duration_s"]),
            )
        else:
            profile = recognizer.profile_song(file)
            analysed += 1
        if progress:
            progress(file.name)
        profiles.append(profile)
        songs[file.name] = {"key": key, **profile.to_json()}
    if cache and write_cache and analysed:
        try:
            with atomic_write(path, "w") as handle:
                json.dump(
                    {"format": CACHE_FORMAT, "model": recognizer.fingerprint, "songs": songs},
                    handle,
                )
        except (OSError, MusicDanceError):
            pass  # a read-only catalogue is analysed again next time
    return profiles, {"songs": len(files), "analysed": analysed, "cached": len(files) - analysed}


def rank_songs(
    dance: DanceStyle, profiles: list[SongProfile], top: int = 5
) -> list[Recommendation]:
    """The ``top`` songs by cosine(dance style distribution, song style distribution) x
    :func:`tempo_match` (ties broken by file name)."""
    d = dance.distribution / max(float(np.linalg.norm(dance.distribution)), 1e-12)
    out = []
    for p in profiles:
        s = p.distribution / max(float(np.linalg.norm(p.distribution)), 1e-12)
        cosine = float(np.clip(d @ s, 0.0, 1.0))
        match = tempo_match(dance.tempo_bpm, p.tempo_bpm)
        out.append(
            Recommendation(
                Path(p.path).name,
                cosine * match,
                cosine,
                match,
                p.tempo_bpm,
                dance.labels[int(p.distribution.argmax())],
            )
        )
    out.sort(key=lambda r: (-r.score, r.song))
    return out[: max(int(top), 0)]
