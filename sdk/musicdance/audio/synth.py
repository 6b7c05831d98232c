"""Procedural songs with exact ground truth, rendered with numpy.

Used by the tests, the accuracy benchmark, the demo song and as pre-training data. A song has a
genre (meter, tempo range, drum, bass, chord and lead patterns), a form of labelled sections
(intro, verse, prechorus, chorus, bridge, outro; repeated sections are the same music), phrases
of 2 or 4 bars inside each section (the lead melody rests at the end of each phrase and a drum
fill marks the end of each section), and a key. Every random choice comes from
``np.random.default_rng(seed)``, so ``synth_song(genre, bpm, seed)`` is deterministic.

Ground truth (``SongTruth``) holds beats, downbeats, meter, phrase and section boundaries,
section labels and the lead melody f0 on a 10 ms grid (mir_eval's convention).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from musicdance.defaults import GENERATED_BPM_RANGE
from musicdance.errors import MusicDanceError

__all__ = [
    "GENRES",
    "Genre",
    "SongTruth",
    "synth_song",
    "write_song",
    "write_truth",
    "read_truth",
]


@dataclass(frozen=True)
class Genre:
    """Rhythmic and timbral recipe of a genre.

    Step lists are positions on the bar's grid of sixteenth notes (``4 * meter`` steps), before
    swing. ``swing`` delays every off-beat eighth by that fraction of a beat (1/6 = triplet feel).
    """

    name: str
    meter: int
    bpm_range: tuple[float, float]
    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hat: tuple[int, ...]
    bass: tuple[int, ...]
    chord: tuple[int, ...] | None  # None: sustained pad
    swing: float = 0.0
    lead: str = "square"
    minor_prob: float = 0.4
    ghost: tuple[int, ...] = ()


_E8 = tuple(range(0, 16, 2))
GENRES: dict[str, Genre] = {
    g.name: g
    for g in [
        Genre("hiphop", 4, (85, 105), (0, 7, 10), (4, 12), _E8, (0, 7, 10), None, swing=0.08,
              lead="saw", minor_prob=0.7),
        Genre("house", 4, (118, 130), (0, 4, 8, 12), (4, 12), (2, 6, 10, 14), (2, 6, 10, 14),
              (3, 11), lead="saw", minor_prob=0.5),
        Genre("pop", 4, (100, 130), (0, 8, 10), (4, 12), _E8, (0, 3, 6, 8, 11, 14), None,
              lead="square", minor_prob=0.3),
        Genre("waltz", 3, (84, 150), (0,), (), (4, 8), (0,), (4, 8), lead="sine", minor_prob=0.4),
        Genre("ballad", 4, (60, 80), (0, 10), (4, 12), (0, 4, 8, 12), (0, 8), None, lead="sine",
              minor_prob=0.5),
        Genre("breakbeat", 4, (125, 150), (0, 10), (4, 12), _E8, (0, 10), (0, 6), lead="saw",
              minor_prob=0.7, ghost=(7, 9, 15)),
        Genre("funk", 4, (95, 120), (0, 8, 10), (4, 12), tuple(range(16)), (0, 3, 8, 10, 14),
              (4, 7, 12, 14), lead="square", minor_prob=0.5, ghost=(7, 9, 15)),
        Genre("swing", 4, (120, 180), (0, 8), (4, 12), (0, 4, 6, 8, 12, 14), (0, 4, 8, 12),
              (0, 4, 8, 12), swing=1 / 6, lead="sine", minor_prob=0.3),
        Genre("polka", 2, (100, 140), (0,), (4,), (2, 6), (0,), (4,), lead="square",
              minor_prob=0.2),
    ]
}

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
_PROGRESSIONS = {
    False: [[0, 4, 5, 3], [5, 3, 0, 4], [0, 3, 4, 3], [1, 4, 0, 5], [0, 5, 3, 4], [3, 4, 2, 5]],
    True: [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6], [5, 6, 0, 0], [3, 4, 0, 5], [0, 2, 3, 4]],
}
_FORMS = [
    ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"],
    ["intro", "verse", "prechorus", "chorus", "verse", "prechorus", "chorus", "outro"],
    ["intro", "verse", "verse", "bridge", "verse", "outro"],
    ["intro", "chorus", "verse", "chorus", "bridge", "chorus", "outro"],
]
_SECTION_BARS = {"intro": 4, "verse": 8, "prechorus": 4, "chorus": 8, "bridge": 8, "outro": 4}
_TRUTH_FPS = 100.0


@dataclass
class SongTruth:
    """Exact ground truth of a generated song (times in seconds from the start of the file)."""

    genre: str
    bpm: float
    meter: int
    seed: int
    sr_hz: int
    duration_s: float
    key_midi: int
    minor: bool
    beat_times_s: list[float]
    downbeat_times_s: list[float]
    beat_positions: list[int]
    phrase_starts_s: list[float]
    phrase_bars: list[int]
    section_starts_s: list[float]
    section_ends_s: list[float]
    section_labels: list[str]
    melody_fps: float = _TRUTH_FPS
    melody_hz: list[float] = field(default_factory=list)

    @property
    def melody_times_s(self) -> np.ndarray:
        return np.arange(len(self.melody_hz)) / self.melody_fps


def _midi_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


class _Mixer:
    """Accumulates rendered notes into one buffer."""

    def __init__(self, n: int, sr: int) -> None:
        self.y = np.zeros(n, dtype=np.float64)
        self.sr = sr

    def add(self, start_s: float, sig: np.ndarray, gain: float) -> None:
        i0 = int(round(start_s * self.sr))
        if i0 >= len(self.y) or len(sig) == 0:
            return
        i1 = min(len(self.y), i0 + len(sig))
        self.y[i0:i1] += gain * sig[: i1 - i0]


def _env(n: int, sr: int, attack_s: float, decay_s: float, sustain: float = 0.0,
         release_s: float = 0.02) -> np.ndarray:
    t = np.arange(n) / sr
    att = np.minimum(t / max(attack_s, 1e-4), 1.0)
    dec = sustain + (1 - sustain) * np.exp(-np.maximum(t - attack_s, 0) / max(decay_s, 1e-4))
    rel = np.clip((n / sr - t) / max(release_s, 1e-4), 0, 1)
    return att * dec * rel


def _tone(freq_hz: float, n: int, sr: int, kind: str, rng: np.random.Generator,
          vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(n) / sr
    phase = 2 * np.pi * freq_hz * t
    if vibrato:
        phase += vibrato * np.sin(2 * np.pi * 5.5 * t) * np.minimum(t / 0.3, 1)
    nyq = sr / 2
    if kind == "sine":
        return np.sin(phase) + 0.25 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)
    hs = np.arange(1, 13)
    hs = hs[hs * freq_hz < nyq * 0.9]
    if kind == "square":
        hs = hs[hs % 2 == 1]
        amps = 1.0 / hs
    elif kind == "saw":
        amps = 1.0 / hs
    elif kind == "pad":
        amps = 1.0 / hs**1.5
    else:  # "bass"
        amps = 1.0 / hs**2
    return (amps[:, None] * np.sin(hs[:, None] * phase[None, :])).sum(axis=0) / amps.sum() * 1.5


def _drum(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "kick":
        n = int(0.35 * sr)
        t = np.arange(n) / sr
        freq = 45 + 90 * np.exp(-t / 0.04)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        return np.sin(phase) * np.exp(-t / 0.12) + 0.3 * np.exp(-t / 0.004) * rng.standard_normal(n)
    if kind == "snare":
        n = int(0.25 * sr)
        t = np.arange(n) / sr
        noise = np.diff(rng.standard_normal(n + 1)) * 0.6
        return noise * np.exp(-t / 0.07) + 0.6 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    if kind == "hat":
        n = int(0.08 * sr)
        t = np.arange(n) / sr
        noise = np.diff(rng.standard_normal(n + 2), n=2) * 0.35
        return noise * np.exp(-t / 0.02)
    raise ValueError(kind)


def _plan_form(rng: np.random.Generator, genre: Genre, bpm: float,
               duration_s: float | None) -> list[tuple[str, int]]:
    form = list(_FORMS[int(rng.integers(len(_FORMS)))])
    bar_s = genre.meter * 60.0 / bpm
    sections = [(name, _SECTION_BARS[name]) for name in form]
    if duration_s is not None:
        total = sum(b for _, b in sections) * bar_s
        if total > duration_s * 1.25:  # short song: halve the long sections
            sections = [(n, max(4, b // 2)) for n, b in sections]
            total = sum(b for _, b in sections) * bar_s
            while total > duration_s * 1.25 and len(sections) > 3:
                sections.pop(-2)
                total = sum(b for _, b in sections) * bar_s
        while total < duration_s * 0.8:  # long song: repeat verse-chorus before the outro
            sections[-1:-1] = [("verse", 8), ("chorus", 8)]
            total = sum(b for _, b in sections) * bar_s
    if rng.random() < 0.3 and sections[0][0] == "intro":  # a short 2-bar intro now and then
        sections[0] = ("intro", 2)
    return sections


def synth_song(
    genre: str = "pop", *, bpm: float | None = None, seed: int = 0, sr_hz: int = 22050,
    duration_s: float | None = None,
) -> tuple[np.ndarray, SongTruth]:
    """Render a song of ``genre`` and return it with its ground truth.

    Args:
        genre: one of ``GENRES`` (hiphop, house, pop, waltz, ballad, breakbeat, funk, swing,
            polka).
        bpm: tempo in beats per minute, in ``GENERATED_BPM_RANGE`` (60-180); None draws one
            from the genre's range.
        seed: seed of every random choice.
        sr_hz: sample rate of the rendered signal.
        duration_s: approximate length; None gives the genre's full form (1.5-4 minutes).

    Returns:
        y: np.ndarray [shape=(n,), float32], mono signal peaking at 0.9.
        truth: ``SongTruth``.
    """
    if genre not in GENRES:
        raise MusicDanceError(f"unknown genre {genre!r}; choose one of {', '.join(GENRES)}")
    g = GENRES[genre]
    rng = np.random.default_rng(seed)
    if bpm is None:
        bpm = float(rng.uniform(*g.bpm_range))
    bpm = float(bpm)
    low, high = GENERATED_BPM_RANGE
    if not low <= bpm <= high:
        raise MusicDanceError(f"bpm must be in {low:g}-{high:g}, got {bpm:g}")
    if duration_s is not None and duration_s <= 0:
        raise MusicDanceError(f"duration must be positive, got {duration_s:g} s")
    beat_s = 60.0 / bpm
    meter = g.meter
    bar_s = meter * beat_s
    step_s = beat_s / 4
    sections = _plan_form(rng, g, bpm, duration_s)
    n_bars = sum(b for _, b in sections)
    lead_in_s = 0.5
    song_s = lead_in_s + n_bars * bar_s + 1.5
    n = int(song_s * sr_hz)
    mix = _Mixer(n, sr_hz)
    key = int(rng.integers(45, 57))
    minor = bool(rng.random() < g.minor_prob)
    scale = _MINOR if minor else _MAJOR
    progs = _PROGRESSIONS[minor]
    prog_of = {}
    for name in ("intro", "verse", "prechorus", "chorus", "bridge", "outro"):
        prog_of[name] = progs[int(rng.integers(len(progs)))]
    prog_of["outro"] = prog_of["intro"]
    # melodies per section name: one per phrase slot so repeats are identical
    melody_cache: dict[tuple[str, int, int], list[tuple[float, float, int]]] = {}
    kick, snare, hat = (_drum(k, sr_hz, rng) for k in ("kick", "snare", "hat"))
    energy = {"intro": 0.6, "verse": 0.8, "prechorus": 0.85, "chorus": 1.0, "bridge": 0.75,
              "outro": 0.6}

    def swung(step: int) -> float:
        """Offset of a sixteenth step from the bar start, in seconds, with swing."""
        t = step * step_s
        if step % 4 == 2:
            t += g.swing * beat_s
        return t

    truth_beats, truth_pos, downbeats, phrase_starts, phrase_bars = [], [], [], [], []
    sec_starts, sec_ends, sec_labels = [], [], []
    melody_track = np.zeros(int(song_s * _TRUTH_FPS) + 1)
    bar_index = 0
    for name, bars in sections:
        sec_t0 = lead_in_s + bar_index * bar_s
        sec_starts.append(sec_t0)
        sec_ends.append(sec_t0 + bars * bar_s)
        sec_labels.append(name)
        phrase_len = 2 if bars == 2 else 4
        prog = prog_of[name]
        e = energy[name]
        for b in range(bars):
            t_bar = lead_in_s + (bar_index + b) * bar_s
            downbeats.append(t_bar)
            for k in range(meter):
                truth_beats.append(t_bar + k * beat_s)
                truth_pos.append(k + 1)
            if b % phrase_len == 0:
                phrase_starts.append(t_bar)
                phrase_bars.append(min(phrase_len, bars - b))
            degree = prog[b % len(prog)]
            chord = [key + scale[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
            last_bar = b == bars - 1
            # drums (a fill on the last beat of the section)
            fill = last_bar and name != "outro"
            n_steps = 4 * meter
            for s in g.kick:
                mix.add(t_bar + swung(s), kick, 0.9 * e)
            for s in g.snare:
                if not (fill and s >= n_steps - 4):
                    mix.add(t_bar + swung(s), snare, 0.55 * e)
            for s in g.ghost:
                mix.add(t_bar + swung(s), snare, 0.12 * e)
            if name != "intro" or b >= bars // 2:
                for s in g.hat:
                    mix.add(t_bar + swung(s), hat, 0.35 * e)
            if fill:
                for s in range(n_steps - 4, n_steps):
                    mix.add(t_bar + swung(s), snare, (0.25 + 0.1 * (s % 4)) * e)
            # bass
            bass_root = chord[0] - 12 if chord[0] - 12 >= 33 else chord[0]
            hits = list(g.bass)
            for i, s in enumerate(hits):
                nxt = hits[i + 1] if i + 1 < len(hits) else n_steps
                dur = max(1, nxt - s) * step_s * 0.9
                pitch = bass_root + (12 if (genre == "funk" and i % 2 == 1) else 0)
                sig = _tone(_midi_hz(pitch), int(dur * sr_hz), sr_hz, "bass", rng)
                mix.add(t_bar + swung(s), sig * _env(len(sig), sr_hz, 0.005, 0.25, 0.5), 0.55)
            # chords
            if g.chord is None:
                dur = bar_s * 0.98
                sig = sum(_tone(_midi_hz(p + 12), int(dur * sr_hz), sr_hz, "pad", rng)
                          for p in chord)
                mix.add(t_bar, sig * _env(len(sig), sr_hz, 0.04, 1.0, 0.6, 0.1), 0.12 * e)
            else:
                for s in g.chord:
                    dur = min(beat_s * 0.8, 0.4)
                    sig = sum(_tone(_midi_hz(p + 12), int(dur * sr_hz), sr_hz, "pad", rng)
                              for p in chord)
                    sig = sig * _env(len(sig), sr_hz, 0.005, 0.15, 0.3)
                    mix.add(t_bar + swung(s), sig, 0.16 * e)
        # lead melody, one phrase at a time
        if name not in ("intro", "outro"):
            for p0 in range(0, bars, phrase_len):
                key_m = (name, p0 % 8, phrase_len)
                if key_m not in melody_cache:
                    melody_cache[key_m] = _compose_phrase(
                        rng, phrase_len, meter, [prog[(p0 + i) % len(prog)] for i in
                                                 range(phrase_len)], key, scale)
                t_phrase = lead_in_s + (bar_index + p0) * bar_s
                for onset_beats, dur_beats, pitch in melody_cache[key_m]:
                    t0 = t_phrase + onset_beats * beat_s
                    if onset_beats % 1 == 0.5:
                        t0 += g.swing * beat_s
                    dur = dur_beats * beat_s * 0.92
                    f = float(_midi_hz(pitch))
                    sig = _tone(f, int(dur * sr_hz), sr_hz, g.lead, rng, vibrato=0.0)
                    mix.add(t0, sig * _env(len(sig), sr_hz, 0.01, 0.6, 0.7, 0.03), 0.32)
                    i0, i1 = int(np.ceil(t0 * _TRUTH_FPS)), int(np.floor((t0 + dur) * _TRUTH_FPS))
                    melody_track[i0 : i1 + 1] = f
        bar_index += bars
    # final downbeat: a last kick and chord so the song ends on "1"
    t_end = lead_in_s + n_bars * bar_s
    mix.add(t_end, kick, 0.6)
    y = mix.y
    peak = np.abs(y).max()
    y = (0.9 * y / peak).astype(np.float32) if peak > 0 else y.astype(np.float32)
    truth = SongTruth(
        genre=genre, bpm=bpm, meter=meter, seed=int(seed), sr_hz=int(sr_hz),
        duration_s=len(y) / sr_hz, key_midi=key, minor=minor,
        beat_times_s=_r(truth_beats), downbeat_times_s=_r(downbeats), beat_positions=truth_pos,
        phrase_starts_s=_r(phrase_starts), phrase_bars=phrase_bars,
        section_starts_s=_r(sec_starts), section_ends_s=_r(sec_ends), section_labels=sec_labels,
        melody_hz=_r(melody_track, 2),
    )
    return y, truth


def _r(values, nd: int = 5) -> list[float]:
    return [round(float(v), nd) for v in values]


def _compose_phrase(rng: np.random.Generator, bars: int, meter: int, degrees: list[int],
                    key: int, scale: np.ndarray) -> list[tuple[float, float, int]]:
    """A phrase of (onset in beats, duration in beats, MIDI pitch); it rests before its end."""
    cells = {2: [[1, 1], [0.5, 0.5, 1], [1, 0.5, 0.5], [2]],
             3: [[1, 1, 1], [2, 1], [1, 0.5, 0.5, 1], [0.5, 0.5, 1, 1]],
             4: [[1, 1, 1, 1], [0.5, 0.5, 1, 2], [1, 0.5, 0.5, 1, 1], [2, 1, 1], [1.5, 0.5, 2]]}
    notes = []
    pos_deg = int(rng.integers(7, 11))  # scale index around the 5th octave
    for b in range(bars):
        chord_tones = {(degrees[b] + i) % 7 for i in (0, 2, 4)}
        if b == bars - 1:  # cadence: one long note on beat 1, then a rest
            durs = [max(1.0, meter - 1.0)]
        else:
            durs = list(cells[meter][int(rng.integers(len(cells[meter])))])
        t = 0.0
        for j, d in enumerate(durs):
            step = int(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3]))
            pos_deg = int(np.clip(pos_deg + step, 5, 14))
            if j == 0:  # strong beat: land on a chord tone
                direction = 1 if pos_deg < 10 else -1
                while pos_deg % 7 not in chord_tones:
                    pos_deg += direction
            # MIDI 57-85: above the chords, inside a singer's or a lead synth's range
            pitch = 60 + key % 12 + int(scale[pos_deg % 7]) + 12 * (pos_deg // 7 - 1)
            notes.append((b * meter + t, float(d), pitch))
            t += d
    return notes


def write_song(path: str | os.PathLike[str], y: np.ndarray, *, sr_hz: int) -> Path:
    """Write ``y`` as wav, flac, ogg or mp3 (by suffix), atomically.

    Returns:
        The path written.
    """
    import soundfile as sf

    from musicdance.atomic import atomic_write

    p = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}.get(p.suffix.lower())
    if fmt is None:
        raise MusicDanceError("output must end in .wav, .flac, .ogg or .mp3", path=p)
    kwargs = {"subtype": "PCM_16"} if fmt in ("WAV", "FLAC") else {}
    if fmt == "MP3":
        kwargs = {"subtype": "MPEG_LAYER_III", "compression_level": 0.6}
    try:
        with atomic_write(p, "wb") as handle:
            sf.write(handle, np.asarray(y, dtype=np.float32), sr_hz, format=fmt, **kwargs)
    except OSError as error:
        raise MusicDanceError(f"cannot write: {error.strerror or error}", path=p) from None
    return p


def write_truth(path: str | os.PathLike[str], truth: SongTruth) -> Path:
    """Write the ground truth as JSON (atomically)."""
    from musicdance.atomic import atomic_write

    try:
        with atomic_write(path, "w") as handle:
            json.dump(asdict(truth), handle)
    except OSError as error:
        raise MusicDanceError(f"cannot write: {error.strerror or error}", path=path) from None
    return Path(path)


def read_truth(path: str | os.PathLike[str]) -> SongTruth:
    """Read a ground truth JSON written by ``write_truth``."""
    with open(path, encoding="utf-8") as handle:
        return SongTruth(**json.load(handle))
