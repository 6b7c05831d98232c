"""Online analysis of music that is still playing: streaming features and a causal beat tracker.

:class:`OnlineAnalyzer` takes PCM chunks of any size (mono ``[n]`` or interleaved channels
``[n, C]``, any sample rate: resampled to 22050 Hz with soxr's streaming resampler) and keeps,
per STFT frame (hop 512, the offline analysis' frames), the same spectral-flux onset strength
as ``musicdance.audio.features`` (mean positive dB rise over 128 mel bands, and over the bands
below 200 Hz for bar starts), the frame loudness, and for recognising repeated music a chroma
(12 pitch classes) and a coarse spectral shape (``SHAPE_BANDS`` mel bands, dB), and the log-mel
itself for a bundle's phrase input. A frame is
computed as soon as the samples under its window have arrived (46 ms after its centre).

Every ``update_s`` the tracker looks at the last ``window_s`` of onset strength:

1. tempo: the offline estimator (autocorrelation scored by the metrical comb, log-normal prior)
   on the window; a new tempo is adopted when it agrees with itself over ``SWITCH_UPDATES``
   updates (and octave jumps of a steady tempo are ignored), so a tempo change is followed
   without flicker;
2. phase: a comb of beats one period apart, weighted towards the present, slid over the
   smoothed onset strength; the beat clock is pulled towards it (a phase-locked loop, gain
   ``PHASE_GAIN`` per update) unless the phase jumped, which is adopted after it repeats;
3. meter and bar starts: the low-band onset strength folded at 3 and 4 beats;
4. lock: tempo stable for ``LOCK_UPDATES`` updates with a clear pulse.

Memory is bounded: only the last ``window_s`` of frame values and the samples of one window are
kept, whatever the stream's length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.audio.beats import _normalise, estimate_tempo
from musicdance.audio.features import (
    HOP_LENGTH,
    LOW_BAND_MAX_HZ,
    N_FFT,
    N_MELS,
    TOP_DB,
    chroma_filterbank,
    hz_to_mel,
    mel_filterbank,
)
from musicdance.audio.load import ANALYSIS_SR
from musicdance.errors import MusicDanceError

__all__ = ["BeatState", "OnlineAnalyzer", "beat_f_measure"]

#: Mel bands pooled into the coarse spectral shape kept per frame (timbre, for repeats).
SHAPE_BANDS = 8
#: Tempo agreement (octaves) under which two estimates are the same tempo.
SAME_TEMPO_OCT = 0.04
#: Consecutive agreeing updates before a different tempo is adopted.
SWITCH_UPDATES = 3
#: Consecutive agreeing updates before a phase jump is adopted while locked (a real jump is
#: rare; an off-beat passage that pulls the comb half a beat away is not).
PHASE_SWITCH_UPDATES = 15
#: Consecutive updates with a steady tempo and a clear pulse before the tracker says locked.
LOCK_UPDATES = 4
#: Fraction of the phase error corrected per update while tracking.
PHASE_GAIN = 0.35
#: Phase error (in beats) above which a new phase is a jump, not a drift.
PHASE_JUMP_BEATS = 0.2
#: Pulse clarity (autocorrelation at the beat lag) needed to lock.
MIN_CLARITY = 0.08
MIN_BPM, MAX_BPM = 60.0, 200.0


@dataclass
class BeatState:
    """The tracker's belief at ``time_s`` (seconds of audio received).

    beat_s: time of a beat (the clock's anchor; beats fall at ``beat_s + k * period_s``).
    downbeat_s: time of a bar start on that grid. confidence: 0-1, how clear the pulse is.
    meter_known: the meter was chosen from at least two bars of both candidate meters.
    """

    time_s: float = 0.0
    tempo_bpm: float = 0.0
    beat_s: float = 0.0
    downbeat_s: float = 0.0
    meter: int = 4
    confidence: float = 0.0
    locked: bool = False
    meter_known: bool = False

    @property
    def period_s(self) -> float:
        return 60.0 / self.tempo_bpm if self.tempo_bpm > 0 else 0.0

    def beats_after(self, after_s: float, count: int) -> np.ndarray:
        """The next ``count`` beat times strictly after ``after_s`` on the current grid."""
        if self.tempo_bpm <= 0:
            return np.zeros(0)
        k0 = np.floor((after_s - self.beat_s) / self.period_s + 1e-9) + 1
        return self.beat_s + (k0 + np.arange(count)) * self.period_s

    def bar_position(self, beat_time_s: float) -> int:
        """0-based position in the bar of the beat at ``beat_time_s`` (0 = downbeat)."""
        if self.tempo_bpm <= 0:
            return 0
        return int(round((beat_time_s - self.downbeat_s) / self.period_s)) % self.meter


class _Ring:
    """The last ``size`` float values (or rows of ``width`` values) of a stream, oldest first on
    read (a buffer of twice the size, shifted back once it is full, so that appending costs
    O(1) per value on average)."""

    def __init__(self, size: int, width: int | None = None, dtype=np.float64) -> None:
        self.size = size
        self.data = np.zeros((2 * size,) if width is None else (2 * size, width), dtype=dtype)
        self.end = 0
        self.count = 0

    def extend(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=self.data.dtype)[-self.size :]
        n = len(values)
        if self.end + n > len(self.data):
            keep = min(self.end, self.size - n)
            self.data[:keep] = self.data[self.end - keep : self.end]
            self.end = keep
        self.data[self.end : self.end + n] = values
        self.end += n
        self.count += n

    def last(self, n: int | None = None) -> np.ndarray:
        n = min(self.count, self.size) if n is None else min(n, self.count, self.size)
        return self.data[self.end - n : self.end]


class OnlineAnalyzer:
    """Features and beats of a stream, chunk by chunk (see the module docs).

    Args:
        sr_hz: the stream's sample rate (Hz). channels: 1, or C for interleaved ``[n, C]``.
        window_s: seconds of onset strength the tracker looks at.
        min_window_s: seconds needed before the first tempo estimate.
        update_s: seconds between tracker updates.
    """

    def __init__(
        self, sr_hz: int, *, window_s: float = 8.0, min_window_s: float = 2.5,
        update_s: float = 0.1,
    ) -> None:  # fmt: skip
        if not (1000 <= int(sr_hz) <= 384_000):
            raise MusicDanceError(f"sample rate {sr_hz} Hz is not a usable audio rate")
        self.sr_in_hz = int(sr_hz)
        self.sr_hz = ANALYSIS_SR
        self.fps = self.sr_hz / HOP_LENGTH
        self._resample = None
        if self.sr_in_hz != self.sr_hz:
            import soxr

            stream = soxr.ResampleStream(self.sr_in_hz, self.sr_hz, 1, dtype="float32")
            self._resample = stream.resample_chunk
        self._mel = mel_filterbank(sr_hz=self.sr_hz)
        centres = np.linspace(0, hz_to_mel(self.sr_hz / 2), N_MELS + 2)[1:-1]
        self._low = hz_to_mel(LOW_BAND_MAX_HZ) > centres
        self._chroma = chroma_filterbank(sr_hz=self.sr_hz, n_fft=N_FFT)
        self._window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
        # samples from absolute index ``_buffer_start`` on; the stream is zero-padded by
        # N_FFT / 2 at its start like the offline STFT (center=True)
        self._buffer = np.zeros(N_FFT // 2, dtype=np.float32)
        self._buffer_start = -(N_FFT // 2)
        self._next_frame = 0
        self._last_db: np.ndarray | None = None
        self._top_db = -np.inf
        size = int(np.ceil(window_s * self.fps))
        self.onset = _Ring(size)
        self.onset_low = _Ring(size)
        self.rms = _Ring(size)
        self.chroma = _Ring(size, 12)  # per frame, each frame's largest pitch class = 1
        self.shape_db = _Ring(size, SHAPE_BANDS)  # per frame, mean dB of each band group
        self.log_mel_db = _Ring(size, N_MELS, np.float32)  # per frame, for the bundle's input
        self.min_frames = int(np.ceil(min_window_s * self.fps))
        self.update_frames = max(1, int(round(update_s * self.fps)))
        self._since_update = 0
        self.state = BeatState()
        self._tempo_votes: list[float] = []
        self._phase_votes: list[float] = []
        self._stable = 0
        self.samples_in = 0

    @property
    def loudest_db(self) -> float:
        """The loudest mel bin so far (dB): the reference of the bundle's input, as the song's
        loudest bin is offline."""
        return self._top_db

    @property
    def frames(self) -> int:
        """STFT frames analysed so far."""
        return self._next_frame

    @property
    def time_s(self) -> float:
        """Seconds of audio received."""
        return self.samples_in / self.sr_in_hz

    def push(self, samples) -> BeatState:
        """Analyse one chunk (``[n]`` mono or ``[n, C]``; float in [-1, 1] or int16) and return
        the tracker's state after it."""
        y = np.asarray(samples)
        if y.dtype == np.int16:
            y = y.astype(np.float32) / 32768.0
        if y.ndim == 2:
            self.samples_in += y.shape[0]
            y = y.mean(axis=1)
        elif y.ndim == 1:
            self.samples_in += y.shape[0]
        else:
            raise MusicDanceError(f"PCM chunks must be [n] or [n, channels], got {y.shape}")
        y = np.nan_to_num(y.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if self._resample is not None:
            y = self._resample(y)
        self._buffer = np.concatenate([self._buffer, y])
        self._analyse_frames()
        return self.state

    def _analyse_frames(self) -> None:
        """Analyse every frame whose window has arrived, in runs that end where the tracker
        updates, so the tracker sees the same frames whatever the chunk size."""
        half = N_FFT // 2
        available = self._buffer_start + len(self._buffer)
        last = (available - half) // HOP_LENGTH  # frame t needs samples up to t * hop + half
        while self._next_frame <= last:
            count = min(last + 1 - self._next_frame, self.update_frames - self._since_update)
            self._analyse_run(self._next_frame, count)
            self._since_update += count
            if self._since_update >= self.update_frames:
                self._since_update = 0
                self._update()
        keep_from = self._next_frame * HOP_LENGTH - half
        self._buffer = self._buffer[keep_from - self._buffer_start :]
        self._buffer_start = keep_from
        self.state.time_s = self.time_s

    def _analyse_run(self, first: int, count: int) -> None:
        """Onset strength and loudness of frames ``first .. first + count - 1``."""
        half = N_FFT // 2
        offset = first * HOP_LENGTH - half - self._buffer_start
        segment = self._buffer[offset : offset + (count - 1) * HOP_LENGTH + N_FFT]
        frames = np.lib.stride_tricks.sliding_window_view(segment, N_FFT)[::HOP_LENGTH][:count]
        power = np.square(np.abs(np.fft.rfft(frames * self._window, axis=1))).astype(np.float32)
        db = 10.0 * np.log10(np.maximum(power @ self._mel.T, 1e-10))  # [n, 128]
        self._top_db = max(self._top_db, float(db.max()))
        db = np.maximum(db, self._top_db - TOP_DB)
        previous = db[:1] if self._last_db is None else self._last_db[None]
        rise = np.maximum(np.diff(np.concatenate([previous, db]), axis=0), 0.0)
        self._last_db = db[-1]
        centre = frames[:, half - HOP_LENGTH : half + HOP_LENGTH]
        self.onset.extend(rise.mean(axis=1))
        self.onset_low.extend(rise[:, self._low].mean(axis=1))
        self.rms.extend(np.sqrt(np.mean(np.square(centre), axis=1)))
        chroma = power @ self._chroma.T
        self.chroma.extend(chroma / np.maximum(chroma.max(axis=1, keepdims=True), 1e-10))
        self.shape_db.extend(db.reshape(len(db), SHAPE_BANDS, -1).mean(axis=2))
        self.log_mel_db.extend(db)
        self._next_frame = first + count

    # -- the tracker ------------------------------------------------------------------------

    def _update(self) -> None:
        env = self.onset.last()
        if len(env) < self.min_frames or not np.any(env > 0):
            return
        now_s = (self._next_frame - 1) / self.fps  # centre time of the newest frame
        tempo, clarity = _window_tempo(env, self.fps)
        state = self.state
        if tempo <= 0:
            self._stable = 0
            state.locked = False
            state.confidence = 0.0
            return
        self._follow_tempo(tempo)
        phase_s, contrast = _comb_phase(env, self.fps, state.tempo_bpm, now_s)
        self._follow_phase(phase_s)
        if state.locked or self._stable >= LOCK_UPDATES - 1:
            self._meter_and_downbeat(now_s)
        state.confidence = float(np.clip(clarity * 2.0, 0.0, 1.0) * np.clip(contrast, 0.0, 1.0))
        steady = clarity >= MIN_CLARITY and contrast >= 0.25
        self._stable = self._stable + 1 if steady else 0
        state.locked = self._stable >= LOCK_UPDATES

    def _follow_tempo(self, tempo: float) -> None:
        state = self.state
        if state.tempo_bpm <= 0:
            state.tempo_bpm = tempo
            return
        gap = np.log2(tempo / state.tempo_bpm)
        if abs(gap) < SAME_TEMPO_OCT:
            state.tempo_bpm = float(2 ** (np.log2(state.tempo_bpm) + 0.2 * gap))
            self._tempo_votes.clear()
            return
        if abs(abs(gap) - 1.0) < SAME_TEMPO_OCT and state.locked:
            return  # the same pulse at the next metrical level: keep counting what we count
        votes = self._tempo_votes
        if votes and abs(np.log2(tempo / votes[-1])) >= SAME_TEMPO_OCT:
            votes.clear()
        votes.append(tempo)
        if len(votes) >= SWITCH_UPDATES:
            state.tempo_bpm = float(np.median(votes))
            votes.clear()
            self._stable = 0
            state.locked = False  # a new tempo: follow the phase freely until locked again

    def _follow_phase(self, phase_s: float) -> None:
        state = self.state
        period = state.period_s
        if state.beat_s == 0.0 and not state.locked and not self._phase_votes:
            state.beat_s = phase_s
            self._phase_votes.append(phase_s)
            return
        error = ((phase_s - state.beat_s) / period + 0.5) % 1.0 - 0.5  # in beats
        if abs(error) <= PHASE_JUMP_BEATS or not state.locked:
            gain = PHASE_GAIN if state.locked else 0.7
            state.beat_s += gain * error * period
            self._phase_votes.clear()
            return
        votes = self._phase_votes
        if votes and abs(((phase_s - votes[-1]) / period + 0.5) % 1.0 - 0.5) > PHASE_JUMP_BEATS:
            votes.clear()
        votes.append(phase_s)
        if len(votes) >= PHASE_SWITCH_UPDATES:
            state.beat_s = phase_s
            votes.clear()

    def _meter_and_downbeat(self, now_s: float) -> None:
        """Fold the low-band onset strength at the beats of the window at 3 and 4 beats."""
        state = self.state
        low = self.onset_low.last()
        times = now_s - (len(low) - 1 - np.arange(len(low))) / self.fps
        beats = state.beat_s + state.period_s * np.arange(
            np.ceil((times[0] - state.beat_s) / state.period_s),
            np.floor((times[-1] - state.beat_s) / state.period_s) + 1,
        )
        if len(beats) < 8:
            return
        state.meter_known = True
        width = max(1, int(round(0.05 * self.fps)))
        frames = np.round((beats - times[0]) * self.fps).astype(int)
        strength = np.array(
            [low[max(f - width, 0) : f + width + 1].max(initial=0.0) for f in frames]
        )
        best = {}
        for meter in (3, 4):
            usable = len(strength) - len(strength) % meter
            if usable < 2 * meter:
                continue
            # index j of the newest usable beats' fold; positions counted from beats[-usable]
            folded = strength[-usable:].reshape(-1, meter).mean(axis=0)
            contrast = (folded.max() - folded.mean()) / max(folded.mean(), 1e-9)
            best[meter] = (contrast, int(np.argmax(folded)), usable)
        if not best:
            return
        # 3/4 must be clearly better than 4/4 (most music is in 4)
        meter = 3 if 3 in best and best[3][0] > 1.3 * best.get(4, (0.0,))[0] else 4
        if meter not in best:
            meter = next(iter(best))
        _, position, usable = best[meter]
        state.meter = meter
        state.downbeat_s = float(beats[-usable + position])


def _window_tempo(env: np.ndarray, fps: float) -> tuple[float, float]:
    """``estimate_tempo`` on a short window: no minimum length, periods up to half of it."""
    return estimate_tempo(env, fps=fps, min_bpm=MIN_BPM, max_bpm=MAX_BPM, min_duration_s=0.0,
                          max_lag_frames=env.size / 2)  # fmt: skip


def _comb_phase(env: np.ndarray, fps: float, tempo_bpm: float, now_s: float) -> tuple[float, float]:
    """Time of the beat at or before ``now_s`` that best explains the recent onset strength,
    and the comb's contrast (0-1: how much better the best phase is than the average one)."""
    env = _normalise(env, fps)
    period = 60.0 * fps / tempo_bpm
    k = np.arange(-int(period), int(period) + 1)
    local = np.convolve(env, np.exp(-0.5 * (k * 16.0 / period) ** 2), mode="same")
    newest = len(local) - 1
    phases = np.arange(0.0, period, 0.5)  # frames back from the newest frame
    back = np.arange(int((len(local) - 1) // period))
    weights = 0.9 ** back
    positions = newest - phases[:, None] - back[None, :] * period
    score = (np.interp(positions, np.arange(len(local)), local, left=0.0) * weights).sum(axis=1)
    best = int(np.argmax(score))
    contrast = (score[best] - score.mean()) / max(score[best], 1e-9)
    return now_s - phases[best] / fps, float(contrast)


def beat_f_measure(
    estimated_s: np.ndarray, reference_s: np.ndarray, tolerance_s: float = 0.07
) -> float:
    """F-measure of beat times within ``tolerance_s`` (MIREX convention, one match per beat)."""
    estimated = np.sort(np.asarray(estimated_s, dtype=float))
    reference = np.sort(np.asarray(reference_s, dtype=float))
    if len(estimated) == 0 or len(reference) == 0:
        return 0.0
    used = np.zeros(len(estimated), dtype=bool)
    hits = 0
    for r in reference:
        i = int(np.searchsorted(estimated, r))
        for j in (i - 1, i):
            if 0 <= j < len(estimated) and not used[j] and abs(estimated[j] - r) <= tolerance_s:
                used[j] = True
                hits += 1
                break
    precision, recall = hits / len(estimated), hits / len(reference)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
