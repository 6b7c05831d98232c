"""``analyze``: one song in, one ``Analysis`` out (tempo, beats, bars, melody, sections, phrases).

Stages (each timed in ``Analysis.timings_s``): ``decode`` (soundfile/audioread + soxr to 22050 Hz
mono), ``features`` (one blockwise STFT: log-mel, chroma, RMS, centroid, onset envelopes,
melody), ``beats`` (tempo + dynamic programme), ``downbeats`` (meter + bar positions),
``onsets`` (peak picking, rhythm target), ``structure`` (Laplacian segmentation over bars) and
``phrases`` (2-8 bar phrases inside sections, descriptors).

Nothing here imports librosa, scipy, torch or motion code: a cold process pays only for numpy,
soundfile and soxr.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from musicdance.audio import beats as _beats
from musicdance.audio import phrases as _phrases
from musicdance.audio import structure as _structure
from musicdance.audio.features import HOP_LENGTH, Features, compute_features
from musicdance.audio.load import ANALYSIS_SR, AudioInfo, load_audio
from musicdance.audio.phrases import Phrase
from musicdance.errors import MusicDanceError

__all__ = ["Analysis", "Section", "analyze", "analyze_signal", "SCHEMA_VERSION", "STAGES"]

SCHEMA_VERSION = 1
STAGES = ("decode", "features", "beats", "downbeats", "onsets", "structure", "phrases")
#: below this RMS (about -70 dBFS) the whole input counts as silence.
SILENCE_RMS = 3e-4
#: below this pulse clarity the beats are reported but flagged as unreliable.
WEAK_PULSE = 0.15
#: shortest input that gets beat tracking, in seconds.
MIN_BEAT_DURATION_S = 4.0


@dataclass
class Section:
    """A long fragment of the song (intro, verse, chorus...), labelled by repetition.

    Attributes:
        index: 0-based position; start_s, end_s: span in seconds (on downbeats);
        label: letter shared by repeated sections; n_bars: bars in the section.
    """

    index: int
    start_s: float
    end_s: float
    label: str
    n_bars: int


@dataclass
class Analysis:
    """Everything the later stages need to know about a song.

    Per-frame arrays have T frames at ``fps = sr_hz / hop_length`` frames per second; frame t
    is centred at ``t / fps`` seconds. ``log_mel_db`` (128 x T) is kept for the phrase model
    input but not written to JSON.
    """

    path: str | None
    duration_s: float
    sr_hz: int
    hop_length: int
    tempo_bpm: float
    meter: int
    pulse_clarity: float
    beat_times_s: np.ndarray
    beat_positions: np.ndarray
    downbeat_times_s: np.ndarray
    onset_times_s: np.ndarray
    onset_env: np.ndarray
    rhythm: np.ndarray
    melody_hz: np.ndarray
    sections: list[Section] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    source: dict[str, object] = field(default_factory=dict)
    meter_scores: dict[int, float] = field(default_factory=dict)
    log_mel_db: np.ndarray | None = None

    @property
    def fps(self) -> float:
        """Frames per second of the per-frame arrays."""
        return self.sr_hz / self.hop_length

    @property
    def n_frames(self) -> int:
        return int(len(self.onset_env))

    @property
    def time_signature(self) -> str:
        return f"{self.meter}/4"

    # ---------------------------------------------------------------- JSON
    def to_json(self) -> dict:
        """A JSON-ready dict (floats rounded: times to 0.1 ms, curves to 4 digits)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "path": self.path,
            "duration_s": round(float(self.duration_s), 4),
            "sr_hz": int(self.sr_hz),
            "hop_length": int(self.hop_length),
            "fps": round(self.fps, 6),
            "tempo_bpm": round(float(self.tempo_bpm), 3),
            "meter": int(self.meter),
            "time_signature": self.time_signature,
            "pulse_clarity": round(float(self.pulse_clarity), 4),
            "meter_scores": {str(k): round(float(v), 4) for k, v in self.meter_scores.items()},
            "beat_times_s": _round(self.beat_times_s, 4),
            "beat_positions": [int(v) for v in self.beat_positions],
            "downbeat_times_s": _round(self.downbeat_times_s, 4),
            "onset_times_s": _round(self.onset_times_s, 4),
            "onset_env": _round(self.onset_env, 4),
            "rhythm": [int(v) for v in self.rhythm],
            "melody_hz": _round(self.melody_hz, 2),
            "sections": [asdict(s) for s in self.sections],
            "phrases": [asdict(p) for p in self.phrases],
            "warnings": list(self.warnings),
            "timings_s": {k: round(float(v), 4) for k, v in self.timings_s.items()},
            "source": dict(self.source),
        }

    @classmethod
    def from_json(cls, data: dict) -> Analysis:
        """Inverse of ``to_json`` (``log_mel_db`` is None)."""
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise MusicDanceError(f"unsupported analysis schema version {version!r}")
        return cls(
            path=data.get("path"),
            duration_s=float(data["duration_s"]),
            sr_hz=int(data["sr_hz"]),
            hop_length=int(data["hop_length"]),
            tempo_bpm=float(data["tempo_bpm"]),
            meter=int(data["meter"]),
            pulse_clarity=float(data["pulse_clarity"]),
            beat_times_s=np.asarray(data["beat_times_s"], dtype=np.float64),
            beat_positions=np.asarray(data["beat_positions"], dtype=int),
            downbeat_times_s=np.asarray(data["downbeat_times_s"], dtype=np.float64),
            onset_times_s=np.asarray(data["onset_times_s"], dtype=np.float64),
            onset_env=np.asarray(data["onset_env"], dtype=np.float32),
            rhythm=np.asarray(data["rhythm"], dtype=np.uint8),
            melody_hz=np.asarray(data["melody_hz"], dtype=np.float32),
            sections=[Section(**s) for s in data["sections"]],
            phrases=[Phrase(**p) for p in data["phrases"]],
            warnings=list(data.get("warnings", [])),
            timings_s=dict(data.get("timings_s", {})),
            source=dict(data.get("source", {})),
            meter_scores={int(k): float(v) for k, v in data.get("meter_scores", {}).items()},
        )

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_json()`` to ``path`` atomically."""
        from musicdance.atomic import atomic_write

        try:
            with atomic_write(path, "w") as handle:
                json.dump(self.to_json(), handle, separators=(",", ":"))
        except OSError as error:
            raise MusicDanceError(f"cannot write: {error.strerror or error}", path=path) from None
        return Path(path)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> Analysis:
        """Read a file written by ``save_json``."""
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise MusicDanceError(f"cannot read analysis JSON: {error}", path=path) from None
        return cls.from_json(data)


def _round(values, nd: int) -> list[float]:
    return np.round(np.asarray(values, dtype=np.float64), nd).tolist()


def analyze(
    path: str | os.PathLike[str], *, on_stage: Callable[[str], None] | None = None,
    max_duration_s: float | None = None, max_song_s: float | None = None,
) -> Analysis:
    """Decode and analyse an audio file.

    Args:
        path: wav, mp3, ogg, flac (m4a/aac with ffmpeg).
        on_stage: called with each stage name as it starts (progress display).
        max_duration_s: analyse only the first seconds.
        max_song_s: refuse longer songs before decoding (None: ``load.MAX_SONG_S``, 2 hours).

    Returns:
        ``Analysis``.

    Raises:
        MusicDanceError: the file cannot be decoded or is beyond the limits of ``load_audio``.
    """
    if on_stage:
        on_stage("decode")
    t0 = time.perf_counter()
    y, info = load_audio(
        path, sr_hz=ANALYSIS_SR, max_duration_s=max_duration_s, max_song_s=max_song_s
    )
    decode_s = time.perf_counter() - t0
    timings: dict[str, float] = {"decode": decode_s}
    duration_s = len(y) / ANALYSIS_SR
    with _Clock(timings, on_stage)("features"):
        feats = compute_features(y, sr_hz=ANALYSIS_SR, hop_length=HOP_LENGTH)
    del y  # the signal is not needed any more: a 60-minute song frees 318 MB here
    return _analyze_features(feats, duration_s=duration_s, path=str(path), info=info,
                             on_stage=on_stage, timings=timings)


def analyze_signal(
    y: np.ndarray, *, sr_hz: int, path: str | None = None, info: AudioInfo | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Analysis:
    """Analyse a mono signal (resampled to 22050 Hz first if needed).

    Args:
        y: np.ndarray [shape=(n,)] mono audio (a 2-D array is averaged over its last axis).
        sr_hz: its sample rate in Hz.

    Returns:
        ``Analysis``.
    """
    y = np.asarray(y, dtype=np.float32)
    _check_signal(y, sr_hz, path)
    if y.ndim == 2:
        y = y.mean(axis=1)
    if sr_hz != ANALYSIS_SR:
        import soxr

        y = soxr.resample(y, sr_hz, ANALYSIS_SR).astype(np.float32)
        sr_hz = ANALYSIS_SR
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    timings: dict[str, float] = {}
    with _Clock(timings, on_stage)("features"):
        feats = compute_features(y, sr_hz=sr_hz, hop_length=HOP_LENGTH)
    return _analyze_features(feats, duration_s=len(y) / sr_hz, path=path, info=info,
                             on_stage=on_stage, timings=timings)


def _check_signal(y: np.ndarray, sr_hz: int, path: str | None) -> None:
    """The limits ``load_audio`` applies to files, for samples given directly."""
    from musicdance.audio import load as _load

    if not _load.MIN_SAMPLE_RATE_HZ <= sr_hz <= _load.MAX_SAMPLE_RATE_HZ:
        raise MusicDanceError(
            f"sample rate {sr_hz} Hz is outside the {_load.MIN_SAMPLE_RATE_HZ} to "
            f"{_load.MAX_SAMPLE_RATE_HZ} Hz that can be analysed", path=path,
        )
    if len(y) / sr_hz > _load.MAX_SONG_S:
        raise MusicDanceError(
            f"the signal is {len(y) / sr_hz / 60:.1f} minutes long; the limit is "
            f"{_load.MAX_SONG_S / 60:g} minutes", path=path,
        )
    _load._check_block(y, path)


def _analyze_features(
    feats: Features, *, duration_s: float, path: str | None, info: AudioInfo | None,
    on_stage: Callable[[str], None] | None, timings: dict[str, float],
) -> Analysis:
    """Every stage after the features (beats to phrases)."""
    clock = _Clock(timings, on_stage)
    sr_hz = feats.sr_hz
    warnings: list[str] = []
    if info is not None and info.truncated:
        warnings.append(
            f"the file ends early (truncated or damaged); analysed the {duration_s:.1f} s "
            "that decoded"
        )
    fps = feats.fps
    source = {} if info is None else {
        "sr_in_hz": info.sr_in_hz, "channels": info.channels, "decoder": info.decoder
    }
    peak_rms = float(feats.rms.max()) if feats.n_frames else 0.0

    tempo, clarity, beat_frames = 0.0, 0.0, np.zeros(0, dtype=int)
    with clock("beats"):
        if peak_rms < SILENCE_RMS:
            warnings.append("silent input: no beats, no phrases")
        elif duration_s < MIN_BEAT_DURATION_S:
            warnings.append(
                f"too short for beat tracking ({duration_s:.1f} s < {MIN_BEAT_DURATION_S:g} s): "
                "no beats, no phrases"
            )
        else:
            tempo, clarity = _beats.estimate_tempo(feats.onset_env, fps=fps)
            beat_frames = _beats.track_beats(feats.onset_env, fps=fps, tempo_bpm=tempo)
            if len(beat_frames) < 4:
                warnings.append("no steady pulse found: no beats, no phrases")
                beat_frames = np.zeros(0, dtype=int)
                tempo = 0.0
            elif clarity < WEAK_PULSE:
                warnings.append(
                    f"weak pulse (clarity {clarity:.2f} < {WEAK_PULSE}): beats may be unreliable"
                )
        if len(beat_frames) >= 2:
            tempo = 60.0 * fps / _beat_period(beat_frames)

    with clock("downbeats"):
        kw = dict(chroma=feats.chroma, onset_env_low=feats.onset_env_low,
                  chroma_bass=feats.chroma_bass)
        if len(beat_frames) >= 8:
            meter, meter_scores = _beats.estimate_meter(beat_frames, **kw)
            sal = _beats.beat_salience(beat_frames, meter=meter, **kw)
            positions = _beats.track_downbeats(sal, meter=meter)
        else:
            meter, meter_scores = 4, {}
            positions = (np.arange(len(beat_frames)) % 4) + 1

    with clock("onsets"):
        onset_frames = _phrases.onset_peaks(feats.onset_env, fps=fps)
        rhythm = _phrases.rhythm_target(onset_frames, feats.melody_hz, n_frames=feats.n_frames)

    beat_times = beat_frames / fps
    downbeat_frames = beat_frames[positions == 1]
    bar_frames = _bar_frames(downbeat_frames, beat_frames, meter, feats.n_frames)
    breaks = np.zeros(max(len(bar_frames) - 1, 0))
    if len(bar_frames) > 1:
        breaks = _phrases.break_scores(
            bar_frames[:-1], float(np.median(np.diff(beat_frames))), melody_hz=feats.melody_hz,
            onset_env=feats.onset_env,
        )
    phase = _phrases.hypermetric_phase(breaks)
    with clock("structure"):
        sections, seg = _sections(bar_frames, feats, fps, breaks, phase)
    with clock("phrases"):
        prior = breaks + _phrases.grid_bonus(len(breaks), phase)
        phrases = _phrase_list(
            bar_frames, seg, sections, beat_frames, feats, onset_frames, meter, prior
        )
        if not phrases and not any("no phrases" in w for w in warnings):
            warnings.append("fewer than 2 bars found: no phrases")

    return Analysis(
        path=path, duration_s=duration_s, sr_hz=sr_hz, hop_length=HOP_LENGTH,
        tempo_bpm=float(tempo), meter=int(meter), pulse_clarity=float(clarity),
        beat_times_s=beat_times, beat_positions=np.asarray(positions, dtype=int),
        downbeat_times_s=downbeat_frames / fps, onset_times_s=onset_frames / fps,
        onset_env=feats.onset_env, rhythm=rhythm, melody_hz=feats.melody_hz,
        sections=sections, phrases=phrases, warnings=warnings, timings_s=timings,
        source=source, meter_scores=meter_scores, log_mel_db=feats.log_mel_db,
    )


def _beat_period(beat_frames: np.ndarray) -> float:
    """Beat period in frames: least-squares slope of beat frame against beat index.

    Sub-frame precise, unlike the median interval, which is quantised to whole frames (1 % at
    120 BPM); robust to a few odd intervals as long as no beat is missing.
    """
    n = len(beat_frames)
    idx = np.arange(n)
    slope = float(np.polyfit(idx, beat_frames.astype(np.float64), 1)[0]) if n > 2 else 0.0
    median = float(np.median(np.diff(beat_frames)))
    return slope if abs(slope / median - 1) < 0.05 else median


class _Clock:
    """Context manager factory timing named stages into a dict."""

    def __init__(self, timings: dict[str, float], on_stage) -> None:
        self.timings, self.on_stage = timings, on_stage

    def __call__(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self):
                if clock.on_stage:
                    clock.on_stage(name)
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                clock.timings[name] = clock.timings.get(name, 0.0) + time.perf_counter() - self.t0
                return False

        return _Stage()


def _bar_frames(downbeats: np.ndarray, beats: np.ndarray, meter: int, n_frames: int) -> np.ndarray:
    """Bar boundaries in frames: each downbeat, plus the end of the last full bar."""
    if len(downbeats) == 0:
        return np.zeros(0, dtype=int)
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.0
    end = int(round(downbeats[-1] + meter * period))
    if end > n_frames + 0.25 * period:  # the audio stops inside the last bar: drop that bar
        return np.asarray(downbeats, dtype=int)
    return np.concatenate([downbeats, [min(end, n_frames)]]).astype(int)


def _sections(bar_frames: np.ndarray, feats: Features, fps: float, breaks: np.ndarray,
              phase: int):
    n_bars = len(bar_frames) - 1
    if n_bars < 1:
        return [], None
    bf = _structure.bar_features(
        bar_frames, chroma=feats.chroma, chroma_bass=feats.chroma_bass, log_mel_db=feats.log_mel_db
    )
    seg = _structure.segment_bars(bf, min_bars=4, n_stack=2, min_labels=3)
    seg = _structure.refine_boundaries(seg, breaks, radius=1, min_bars=min(4, n_bars),
                                       grid_phase=phase)
    sections = [
        Section(index=i, start_s=round(bar_frames[s] / fps, 4), end_s=round(bar_frames[e] / fps, 4),
                label=lab, n_bars=int(e - s))
        for i, (s, e, lab) in enumerate(zip(seg.starts, seg.stops, seg.labels, strict=True))
    ]
    return sections, seg


def _phrase_list(bar_frames, seg, sections, beat_frames, feats: Features, onset_frames,
                 meter, breaks) -> list[Phrase]:
    if seg is None or len(bar_frames) < 3:
        return []
    fps = feats.fps
    cycle = _phrases.count_cycle(meter)
    out: list[Phrase] = []
    for si, (s, e) in enumerate(zip(seg.starts, seg.stops, strict=True)):
        bar = int(s)
        for length in _phrases.cut_section(int(e - s), breaks[s:e]):
            f0, f1 = int(bar_frames[bar]), int(bar_frames[bar + length])
            in_phrase = beat_frames[(beat_frames >= f0) & (beat_frames < f1)]
            rms = feats.rms[f0:f1].astype(np.float64)
            dur = max((f1 - f0) / fps, 1e-6)
            n_on = int(((onset_frames >= f0) & (onset_frames < f1)).sum())
            centroid = float((feats.centroid_hz[f0:f1] * rms).sum() / max(rms.sum(), 1e-12))
            local = in_phrase
            out.append(Phrase(
                index=len(out), start_s=round(f0 / fps, 4), end_s=round(f1 / fps, 4),
                n_bars=int(length), section=si, section_label=sections[si].label,
                beat_times_s=np.round(in_phrase / fps, 4).tolist(),
                counts=[int(k % cycle) + 1 for k in range(len(in_phrase))],
                loudness_db=round(float(20 * np.log10(max(np.sqrt(np.mean(rms**2)), 1e-6))), 2)
                if rms.size else -120.0,
                onset_density_per_s=round(n_on / dur, 3),
                centroid_hz=round(centroid, 1),
                tempo_bpm=round(60.0 * fps / _beat_period(local), 2) if local.size > 2 else 0.0,
                break_score=round(float(breaks[bar]) if bar > 0 else 0.0, 3),
            ))
            bar += length
    if out:
        loud = np.array([p.loudness_db for p in out])
        span = loud.max() - loud.min()
        for p, v in zip(out, loud, strict=True):
            p.energy = round(float((v - loud.min()) / span) if span > 1e-9 else 1.0, 3)
    return out
