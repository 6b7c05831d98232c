"""Live choreography: dance to music that is still playing.

A :class:`LiveSession` takes PCM chunks as they arrive and returns the poses for every output
frame up to the audio received plus a look-ahead. It runs the same pieces as the offline path,
one eight at a time:

- analysis: :class:`musicdance.audio.online.OnlineAnalyzer` (streaming onset strength, causal
  tempo, beat phase, meter and bar starts, lock);
- choice: when an eight starts, the phrase for the *next* eight is chosen with the same scorer
  (``FeatureScorer`` on slots built from what has been heard: tempo, meter, loudness and onset
  density of the last eight), the library's transition graph with the repeat and mirror factors
  (the second eight of each sixteen counts as the same music phrase, so its mirror twin is
  favoured) and ``vary_step`` (no move again within ``MOVE_WINDOW`` eights), with the seeded
  jitter of the offline decoder; music that repeats what was heard before (two eights matching
  two earlier ones by their chroma and spectral shape) gets the phrases danced to it then;
- motion: a beat clock ``B`` (beats, continuous) advances at the tracked tempo and is pulled
  towards the tracked phase (``CLOCK_GAIN``); a phrase maps ``B`` to its own frames through its
  counts, so a tempo or phase change re-warps the phrase from where it is instead of cutting
  it; each new phrase is placed on the floor where the dancer stands and joined with
  inertialization (the offset decays as a critically damped spring, as ``inertialize``), its
  blend made longer, or the cut moved later, when the join would be sharper than the phrases.

Before the pulse is locked (and the meter known: two bars) the dancer grooves on the calmest
groove of the style, on the clock of the tracker's tentative tempo (100 BPM until there is
one). A chosen phrase is decoded on a background thread while the eight before it plays.
Memory is bounded unless the session records what it produced (``record=True``, for files):
the buffers are capped and the phrases kept are at most the style's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from musicdance.audio.model_input import phrase_model_input
from musicdance.audio.online import BeatState, OnlineAnalyzer
from musicdance.audio.phrases import onset_peaks
from musicdance.choreo.choreographer import (
    JITTER,
    MOVE_WINDOW,
    _transition_row,
    best_style_of,
    candidate_rows,
    library_graph,
    move_of,
    sparse_steps,
    twin_index,
    vary_step,
)
from musicdance.choreo.onnx_scorer import mix_with_features
from musicdance.choreo.render import JOIN_HALFLIFE_S, join_halflife_s, source_count_frames
from musicdance.choreo.scoring import FeatureScorer, score_table
from musicdance.choreo.slots import Slot
from musicdance.defaults import DEFAULT_FEATURE_WEIGHT
from musicdance.errors import MusicDanceError
from musicdance.library.phrase import pose_features
from musicdance.library.table import table_of
from musicdance.library.transitions import pose_velocity_cost
from musicdance.motion.motion import Motion
from musicdance.motion.quat import (
    quat_from_rotvec,
    quat_inv,
    quat_mul,
    quat_normalize,
    quat_slerp,
    quat_to_rotvec,
    quat_unroll,
)
from musicdance.motion.skeleton import forward_kinematics
from musicdance.synthesis.blend import align_root, decay_spring, heading

__all__ = [
    "LIVE_EXTRA",
    "LiveChoice",
    "LiveChoreographer",
    "LiveFrames",
    "LiveSession",
    "live_outputs",
    "write_live",
]

#: Phase correction of the beat clock, in beats per second per beat of error (at most
#: ``CLOCK_MAX_RATE`` beats per second), so a phase jump is absorbed within about half a second.
CLOCK_GAIN = 3.0
CLOCK_MAX_RATE = 0.6
IDLE_BPM = 100.0
#: Cut delays tried at each join (beats after the new phrase's count 1), the simulated window
#: after the cut, and the cost factor per beat of delay (ties keep the cut on count 1).
CUT_DELAYS_BEATS = (0.0, 0.5, 1.0)
#: longer blends tried on count 1 before cutting later (times the join's own halflife)
CUT_HALFLIFE_SCALES = (1.0, 1.5, 2.0, 3.0)
CUT_WINDOW_S = 0.4
CUT_DELAY_COST = 0.5
#: A cut on count 1 whose peak stays under this share of the sharpest moment inside the two
#: phrases is kept without trying later ones.
CUT_KEEP_SHARE = 0.9
#: Past eights kept to normalise loudness and onset density as the offline scorer does.
HISTORY_SLOTS = 32
#: Repeated music is danced with the phrases danced to it before (offline, the repeated
#: sections of ``choreograph(reuse_sections=True)``): an eight that matches an eight at least
#: ``REPEAT_MIN_GAP`` eights earlier, with the eight before each matching too (similarity of
#: chroma and spectral shape >= ``REPEAT_SIMILARITY``), continues that passage's phrases.
REPEAT_SIMILARITY = 0.9
REPEAT_MIN_GAP = 4
#: Eights remembered for repeats (about three to five minutes of music).
REPEAT_MEMORY = 64


@dataclass
class LiveChoice:
    """A phrase the live session chose: for eight ``eight`` (count 1 at ``start_s``, predicted
    when chosen), chosen at ``decided_at_s`` of audio received."""

    eight: int
    phrase_id: str
    start_s: float
    decided_at_s: float
    tempo_bpm: float
    meter: int
    beat_times_s: list[float]
    idle: bool = False
    repeat_of: int | None = None  # the earlier eight whose phrase this repeats, if any

    def to_json(self) -> dict:
        return {
            "eight": self.eight,
            "phrase_id": self.phrase_id,
            "start_s": round(self.start_s, 4),
            "decided_at_s": round(self.decided_at_s, 4),
            "tempo_bpm": round(self.tempo_bpm, 2),
            "meter": self.meter,
            "beat_times_s": [round(t, 4) for t in self.beat_times_s],
            "idle": self.idle,
            "repeat_of": self.repeat_of,
        }


class _RepeatMemory:
    """What each past eight sounded like and which phrase it got, to dance repeated music
    with repeated phrases. ``REPEAT_MEMORY`` eights at most."""

    def __init__(self) -> None:
        self.spans: deque[tuple[int, float, float]] = deque()  # eights not yet heard to the end
        self.prints: dict[int, np.ndarray] = {}
        self.phrases: dict[int, str] = {}

    def add(self, eight: int, start_s: float, end_s: float, phrase_id: str) -> None:
        self.spans.append((eight, start_s, end_s))
        self.phrases[eight] = phrase_id
        for old in [e for e in self.phrases if e <= eight - REPEAT_MEMORY]:
            self.phrases.pop(old)
            self.prints.pop(old, None)

    def listen(self, analyzer: OnlineAnalyzer) -> None:
        """Fingerprint every eight whose audio has arrived (while it is still in the rings)."""
        newest = analyzer.frames - 1
        while self.spans and self.spans[0][2] * analyzer.fps <= newest:
            eight, start_s, end_s = self.spans.popleft()
            ago = newest - np.array([start_s, end_s]) * analyzer.fps
            chroma, shape = analyzer.chroma.last(), analyzer.shape_db.last()
            a, b = (max(0, len(chroma) - int(round(x))) for x in ago)
            if b - a >= 16:
                self.prints[eight] = eight_print(chroma[a:b], shape[a:b])

    def repeat(self, eight: int) -> tuple[int, str] | None:
        """``(earlier eight, its phrase)`` for ``eight`` when the newest fingerprinted eight and
        the one before it repeat an earlier passage, else None."""
        if not self.prints:
            return None
        k = max(self.prints)
        if k - 1 not in self.prints:
            return None
        best, best_score = None, 2 * REPEAT_SIMILARITY
        for m in self.prints:
            if m > k - REPEAT_MIN_GAP or m - 1 not in self.prints:
                continue
            score = float(self.prints[m] @ self.prints[k] + self.prints[m - 1] @ self.prints[k - 1])
            here = min(self.prints[m] @ self.prints[k], self.prints[m - 1] @ self.prints[k - 1])
            if here >= REPEAT_SIMILARITY and score > best_score:
                best, best_score = m, score
        if best is None:
            return None
        target = best + (eight - k)
        if target >= eight or target not in self.phrases:
            return None
        return target, self.phrases[target]


def eight_print(chroma: np.ndarray, shape_db: np.ndarray, parts: int = 4) -> np.ndarray:
    """Fingerprint of a stretch of music from per-frame chroma ``[n, 12]`` and spectral shape
    ``[n, B]``: in each of ``parts`` equal parts (half bars of an eight in 4/4, so the order of
    the chords counts), the mean chroma and the mean shape, each centred and scaled to unit
    length; all side by side and scaled so that the dot product of two prints is the mean of
    their ``2 * parts`` cosines."""
    pieces = []
    for rows in np.array_split(np.arange(len(chroma)), parts):
        for x in (chroma[rows].mean(axis=0), shape_db[rows].mean(axis=0)):
            x = x - x.mean()
            pieces.append(x / max(float(np.linalg.norm(x)), 1e-9))
    return np.concatenate(pieces) / np.sqrt(len(pieces))


@dataclass
class _Choosing:
    """A choice prepared from what was heard at ``heard_s`` (s of audio), to be picked: the
    slot, the slot before it, the feature scores ``features [n]`` of the candidates, the
    model's probabilities being computed (None without a bundle), the repeat found
    ``(eight, phrase)`` or None."""

    slot: Slot
    previous: Slot
    features: np.ndarray
    model: Future | None
    repeat: tuple[int, str] | None
    heard_s: float


@dataclass
class LiveFrames:
    """Output frames: ``times_s [n]``, ``root_positions_m [n, 3]``, ``rotations [n, J, 4]``
    (local, xyzw), and ``beats_s``: the beats the tracker declared in this push (each once, at
    most ``lookahead_s`` ahead of the audio received; for beat events in a game)."""

    times_s: np.ndarray
    root_positions_m: np.ndarray
    rotations: np.ndarray
    beats_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.times_s)


@dataclass
class _Segment:
    """One phrase being danced: its motion placed on the floor, its counts (source frames, the
    end appended) and the clock value ``b0`` of its count 1."""

    phrase_id: str
    motion: Motion
    knots: np.ndarray
    b0: float
    counts: int
    join_s: float = 0.0
    rot_offset: np.ndarray | None = None
    rot_velocity: np.ndarray | None = None
    root_offset: np.ndarray | None = None
    root_velocity: np.ndarray | None = None
    halflife_s: float = JOIN_HALFLIFE_S
    unrolled: np.ndarray | None = None  # rotations [T, J, 4] made continuous for slerp

    def poses(self, clocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Root positions ``[n, 3]`` and local rotations ``[n, J, 4]`` at clock values
        ``clocks [n]``."""
        if self.unrolled is None:
            self.unrolled = quat_unroll(self.motion.rotations, axis=0)
        position = self.source_s(clocks) * self.motion.fps
        lo = position.astype(np.int64)
        hi = np.minimum(lo + 1, self.motion.num_frames - 1)
        alpha = (position - lo)[:, None]
        rotations = quat_slerp(self.unrolled[lo], self.unrolled[hi], alpha)
        roots = self.motion.root_positions_m
        return roots[lo] * (1 - alpha) + roots[hi] * alpha, rotations

    def source_s(self, clocks: np.ndarray) -> np.ndarray:
        """Phrase times (s) at clock values ``clocks [n]``: counts on beats, extrapolated at
        the phrase's first and last count's pace outside them, held within its frames."""
        c = np.asarray(clocks, dtype=float) - self.b0
        k = self.knots
        frame = np.interp(c, np.arange(len(k)), k)
        frame = np.where(c >= len(k) - 1, k[-1] + (c - len(k) + 1) * (k[-1] - k[-2]), frame)
        frame = np.where(c <= 0, k[0] + c * (k[1] - k[0]), frame)
        return np.clip(frame, 0.0, self.motion.num_frames - 1) / self.motion.fps


class LiveChoreographer:
    """What live sessions share for one library: its phrase table, transition graph, scorer.

    Args:
        library: a ``PhraseLibrary`` (or the runtime's cached library).
        style: dance style; None chooses it from the music at lock.
        fps: output frame rate. lookahead_s: frames are returned up to this far past the audio
            received.
        scorer: the feature emission model (default ``FeatureScorer``).
        bundle: an opened ``Bundle`` made for ``library``, or None. With one, each eight's
            scores are the bundle's probabilities mixed with the features' as offline
            (``OnnxScorer``: ``model^(1 - w) * features^w``, ``w = feature_weight``); the
            model's input is the log-mel of the last eight heard, standing in for the eight
            to be danced, which has not been heard when its phrase is chosen.
    """

    def __init__(
        self, library, *, style: str | None = None, fps: float = 30.0,
        lookahead_s: float = 0.1, scorer=None, bundle=None,
        feature_weight: float = DEFAULT_FEATURE_WEIGHT,
    ) -> None:  # fmt: skip
        self.library = library
        self.table = table_of(library)
        self.rows = candidate_rows(library, self.table, style)
        self.style = style
        self.fps = float(fps)
        self.lookahead_s = float(lookahead_s)
        self.scorer = scorer or FeatureScorer()
        self.bundle = bundle
        self.feature_weight = float(feature_weight)
        if bundle is not None:
            bundle.check_library(library)
        self.graph = library_graph(library, self.table)
        self._phrases: dict[str, object] = {}
        self._peaks: dict[str, float] = {}
        self._loading: dict[str, Future] = {}  # background decodings, by phrase id
        self._lock = threading.Lock()
        self._loader: ThreadPoolExecutor | None = None
        self._runner: ThreadPoolExecutor | None = None  # the model's calls

    def session(self, sr_hz: int, *, seed: int = 0, record: bool = False) -> LiveSession:
        """A new live session for a stream at ``sr_hz``; ``seed`` seeds the choice jitter;
        ``record`` keeps every frame and choice (for files; memory grows with the stream)."""
        return LiveSession(self, sr_hz, seed=seed, record=record)

    def phrase(self, phrase_id: str):
        """The phrase with its motion (decoded once; kept for later sessions). A decoding
        under way in the background is waited for, not repeated."""
        with self._lock:
            known = self._phrases.get(phrase_id)
        if known is None:
            self._wait(phrase_id)
            known = self._decoded(phrase_id)
        return known

    def peak_mps2(self, phrase_id: str) -> float:
        """Largest joint acceleration inside the phrase at its own tempo (m/s^2; computed
        once, with the phrase's decoding when it is prefetched)."""
        with self._lock:
            known = self._peaks.get(phrase_id)
        if known is None:
            self._wait(phrase_id)
            known = self._peak(phrase_id)
        return known

    def prefetch(self, phrase_id: str) -> None:
        """Decode ``phrase_id`` and measure its peak on a background thread (a choice is made
        one eight before it is danced, so this work is off the audio path)."""
        with self._lock:
            if phrase_id in self._peaks or phrase_id in self._loading:
                return
            if self._loader is None:
                self._loader = ThreadPoolExecutor(1, thread_name_prefix="mdtool-live-load")
            self._loading[phrase_id] = self._loader.submit(self._peak, phrase_id)

    def model_probabilities(self, mel: np.ndarray) -> Future:
        """The bundle's probabilities ``[K]`` on the phrase input ``mel [128, 128]``, computed
        on a background thread (the model call is off the audio path; onnxruntime releases
        the GIL while it runs)."""
        with self._lock:
            if self._runner is None:
                self._runner = ThreadPoolExecutor(1, thread_name_prefix="mdtool-live-model")
        return self._runner.submit(lambda: self.bundle.probabilities(mel[None])[0])

    def _wait(self, phrase_id: str) -> None:
        with self._lock:
            loading = self._loading.get(phrase_id)
        if loading is not None:
            loading.result()

    def _decoded(self, phrase_id: str):
        with self._lock:
            known = self._phrases.get(phrase_id)
        if known is None:
            known = self.library.get(phrase_id)
            with self._lock:
                known = self._phrases.setdefault(phrase_id, known)
        return known

    def _peak(self, phrase_id: str) -> float:
        with self._lock:
            known = self._peaks.get(phrase_id)
        if known is None:
            motion = self._decoded(phrase_id).motion
            positions = motion.global_positions()
            known = float(np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1).max()
                          * motion.fps**2) if len(positions) > 2 else 0.0  # fmt: skip
            with self._lock:
                known = self._peaks.setdefault(phrase_id, known)
        return known


def idle_index(moves: np.ndarray, energy: np.ndarray) -> int:
    """The idle groove among phrases of moves ``moves [n]`` and energies ``energy [n]``: the
    calmest groove (a move named "...groove"), else the calmest phrase that is not a fill."""
    groove = np.array(["groove" in m for m in moves])
    fill = np.array(["fill" in m for m in moves])
    return int(np.argmin(energy + np.where(groove, 0.0, 2.0) + np.where(fill, 4.0, 0.0)))


class LiveSession:
    """One stream being danced to (see the module docs). Not thread-safe: one feeder."""

    def __init__(
        self, owner: LiveChoreographer, sr_hz: int, *, seed: int = 0, record: bool = False
    ) -> None:
        self.owner = owner
        self.analyzer = OnlineAnalyzer(sr_hz)
        self.fps = owner.fps
        self.record = record
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.style = owner.style
        self.rows = owner.rows
        self.ids: list[str] = owner.table.ids[self.rows].tolist()
        self.choices: deque[LiveChoice] = deque(maxlen=None if record else 64)
        self._choice_count = 0
        # seconds per push: wall clock, and CPU time of this thread (what the work costs when
        # other processes share the cores)
        self.latencies_s: deque[float] = deque(maxlen=None if record else 4096)
        self.cpu_latencies_s: deque[float] = deque(maxlen=None if record else 4096)
        self.locked_at_s: float | None = None
        self.declared_beats_s: deque[float] = deque(maxlen=None if record else 1024)
        self._declared_until = 0.0
        self._frames: list[LiveFrames] = []
        self._next_frame = 0
        self._clock = 0.0  # beat clock B
        self._segment: _Segment | None = None
        self._next_segment_b: float | None = None
        self._pending: tuple[int, LiveChoice] | None = None
        self._cut_at: float | None = None  # clock of the cut to the pending phrase, once chosen
        self._cut_halflife_scale = 1.0  # the blend of that cut, times its own halflife
        self._cut_segment: _Segment | None = None  # that cut's join, when made by the search
        self._busy = False  # whether this push ran a join search or prepared a choice
        self._choosing: _Choosing | None = None  # a choice prepared, its model call to come
        #: simulated-join batches run so far (each: one call of forward kinematics)
        self.join_batches = 0
        self._eight = 0
        self._history: deque[Slot] = deque(maxlen=HISTORY_SLOTS)
        self._loudness_db: deque[float] = deque(maxlen=HISTORY_SLOTS)
        self._path: list[int] = []
        self._uses: dict[str, int] = {}
        self._repeats = _RepeatMemory()
        self._previous = deque(maxlen=2)  # last two output poses (root [3], rotations [J, 4])
        self._setup_candidates()

    # -- public ------------------------------------------------------------------------------

    @property
    def state(self) -> BeatState:
        return self.analyzer.state

    @property
    def skeleton(self):
        """The skeleton of the output frames (the library's canonical skeleton)."""
        return self._skeleton

    @property
    def choice_count(self) -> int:
        """Phrases chosen so far, idle grooves included (``choices`` keeps only the last 64
        unless the session records)."""
        return self._choice_count

    def push(self, samples) -> LiveFrames:
        """Feed one PCM chunk; returns the new output frames (up to the audio received plus
        the look-ahead). The time it took is added to ``latencies_s``."""
        started, started_cpu = time.perf_counter(), time.thread_time()
        self._busy = False
        state = self.analyzer.push(samples)
        self._repeats.listen(self.analyzer)
        if state.locked and self.locked_at_s is None:
            self.locked_at_s = state.time_s
        until = state.time_s + self.owner.lookahead_s
        frames = self._produce(until)
        frames.beats_s = self._declare_beats(until)
        self.latencies_s.append(time.perf_counter() - started)
        self.cpu_latencies_s.append(time.thread_time() - started_cpu)
        if self.record and len(frames):
            self._frames.append(frames)
        return frames

    def _declare_beats(self, until_s: float) -> np.ndarray:
        """Beats of the current grid up to ``until_s`` not declared yet (none before the
        tracker has a tempo; never two closer than half a beat)."""
        state = self.state
        since, self._declared_until = self._declared_until, until_s
        if state.tempo_bpm <= 0:
            return np.zeros(0)
        last = self.declared_beats_s[-1] if self.declared_beats_s else -np.inf
        beats = state.beats_after(max(last + 0.5 * state.period_s, since), 8)
        beats = beats[beats <= until_s]
        self.declared_beats_s.extend(beats.tolist())
        return beats

    def motion(self) -> Motion:
        """Everything produced so far as one ``Motion`` (``record=True`` sessions)."""
        if not self.record:
            raise MusicDanceError("this live session does not record its frames")
        skeleton = self._skeleton
        if not self._frames:
            raise MusicDanceError("the live session has produced no frames yet")
        return Motion(
            skeleton,
            self.fps,
            np.concatenate([f.root_positions_m for f in self._frames]),
            np.concatenate([f.rotations for f in self._frames]),
        )

    def timeline(self) -> dict:
        """The phrases chosen, when and for when, with the tracker's figures and the latency of
        ``push`` in milliseconds (wall clock and CPU time)."""
        lat = np.array(self.latencies_s) * 1000 if self.latencies_s else np.zeros(1)
        cpu = np.array(self.cpu_latencies_s) * 1000 if self.cpu_latencies_s else np.zeros(1)
        return {
            "format": "mdtool-live/1",
            "style": self.style,
            "fps": self.fps,
            "seed": self.seed,
            "library": str(getattr(self.owner.library, "path", "")),
            "locked_at_s": self.locked_at_s,
            "tempo_bpm": round(self.state.tempo_bpm, 2),
            "meter": self.state.meter,
            "latency_ms": {
                "p50": round(float(np.percentile(lat, 50)), 3),
                "p99": round(float(np.percentile(lat, 99)), 3),
                "max": round(float(lat.max()), 3),
                "chunks": len(self.latencies_s),
                "cpu_p50": round(float(np.percentile(cpu, 50)), 3),
                "cpu_p99": round(float(np.percentile(cpu, 99)), 3),
                "cpu_max": round(float(cpu.max()), 3),
            },
            "choices": [c.to_json() for c in self.choices],
        }

    # -- choosing phrases ---------------------------------------------------------------------

    def _setup_candidates(self) -> None:
        table = self.owner.table.take(self.rows)
        self._table = table
        self._moves = np.array([move_of(i) for i in self.ids])
        self._twins = twin_index(self.ids)
        self._id_index = {phrase_id: i for i, phrase_id in enumerate(self.ids)}
        self._graph = self.owner.graph.subgraph(self.rows)
        energy = np.asarray(table.energy, dtype=float)
        self._idle_id = self.ids[idle_index(self._moves, energy)]
        self._skeleton = self.owner.phrase(self._idle_id).motion.skeleton
        if self.style is None:
            # the style is chosen at lock, with the first choice (a model call): its idle
            # groove is decoded in the background now rather than on the audio thread then
            for style in np.unique(table.style):
                rows = np.flatnonzero(table.style == style)
                self.owner.prefetch(self.ids[rows[idle_index(self._moves[rows], energy[rows])]])

    def _slot_now(self, beats_s: np.ndarray, state: BeatState) -> Slot:
        """A slot for the next eight from what was heard over the last eight."""
        analyzer = self.analyzer
        span_frames = int(round(len(beats_s) * state.period_s * analyzer.fps))
        rms = analyzer.rms.last(span_frames)
        loud = 20 * np.log10(max(float(np.sqrt(np.mean(rms**2))) if len(rms) else 0.0, 1e-6))
        self._loudness_db.append(loud)
        low, high = min(self._loudness_db), max(self._loudness_db)
        energy = (loud - low) / (high - low) if high - low > 3.0 else 0.6
        env = analyzer.onset.last(span_frames)
        density = len(onset_peaks(env, fps=analyzer.fps)) / max(len(env) / analyzer.fps, 1e-6)
        eight = self._eight
        return Slot(
            index=eight,
            start_s=float(beats_s[0]),
            end_s=float(beats_s[-1] + state.period_s),
            beat_times_s=[float(t) for t in beats_s],
            meter=state.meter,
            music_phrase=eight // 2,
            section_label="live",
            position_in_section=eight,
            position_in_phrase=eight % 2,
            tempo_bpm=state.tempo_bpm,
            energy=float(energy),
            onset_density_per_s=float(density),
        )

    def _prepare(self, slot: Slot) -> _Choosing:
        """What the choice for ``slot`` takes from what has been heard now: the feature scores
        over the recent slots (for the same normalisation as offline), the style (at the
        first choice), the model's input and the repeat of earlier music, if any."""
        self._history.append(slot)
        emission = score_table(
            self.owner.scorer, list(self._history), self._table, self.owner.library
        )
        row = emission[-1]
        if self.style is None:
            # the style from the features (tempo and meter fit) of the one eight heard at lock;
            # offline, the bundle's mix chooses it over the whole song's slots
            self.style = best_style_of(row[None], self._table)
            keep = np.flatnonzero(self._table.style == self.style)
            self.rows = self.rows[keep]
            self.ids = [self.ids[k] for k in keep]
            self._setup_candidates()
            row = row[keep]
        mel = self._model_input(slot) if self.owner.bundle is not None else None
        model = None if mel is None else self.owner.model_probabilities(mel)
        previous = self._history[-2] if len(self._history) > 1 else slot
        return _Choosing(
            slot, previous, row, model, self._repeats.repeat(slot.index), self.state.time_s
        )

    def _pick(self, choosing: _Choosing) -> tuple[str, int | None]:
        """The phrase for the prepared slot and the earlier eight it repeats (None when it does
        not): the phrase danced to the same music before, else the scores (mixed with the
        model's, with a bundle), the transition prior from the last phrase, variety."""
        slot, row, repeat = choosing.slot, choosing.features, choosing.repeat
        if choosing.model is not None:
            # computed in the background since the choice was prepared (a push or more ago)
            row = self._mix_model(row, choosing.model.result())
        score = row * np.exp(JITTER * self.rng.standard_normal(len(row)))
        if self._path:
            steps = sparse_steps([choosing.previous, slot], self._graph)
            score = score * _transition_row(steps, 1, self._path[-1], len(self.ids))
        if repeat is not None and repeat[1] in self._id_index:
            choice = self._id_index[repeat[1]]
        else:
            repeat = None
            choice = vary_step(
                score, self._moves, self._twins,
                np.array(self._path[-MOVE_WINDOW:], dtype=np.int64), self._uses,
                same_phrase=slot.position_in_phrase == 1 and bool(self._path),
            )  # fmt: skip
            if choice < 0:
                choice = int(np.argmax(score))
        self._path.append(choice)
        if len(self._path) > 4 * MOVE_WINDOW:
            del self._path[: -MOVE_WINDOW]
        move = self._moves[choice]
        self._uses[move] = self._uses.get(move, 0) + 1
        self._repeats.add(slot.index, slot.start_s, slot.end_s, self.ids[choice])
        return self.ids[choice], None if repeat is None else repeat[0]

    def _model_input(self, slot: Slot) -> np.ndarray | None:
        """The model's input for ``slot``: the log-mel of the last eight heard (``slot``'s
        length of audio) as a phrase input ``[128, 128]``; None before two frames are heard."""
        analyzer = self.analyzer
        frames = int(round((slot.end_s - slot.start_s) * analyzer.fps))
        log_mel = analyzer.log_mel_db.last(frames).T  # [128, n]
        if log_mel.shape[1] < 2:
            return None
        return phrase_model_input(
            log_mel, np.zeros(log_mel.shape[1]), np.zeros(log_mel.shape[1]), start_frame=0,
            end_frame=log_mel.shape[1], ref_db=analyzer.loudest_db,
        ).mel  # fmt: skip

    def _mix_model(
        self, features: np.ndarray, probabilities: np.ndarray, floor: float = 1e-6
    ) -> np.ndarray:
        """The bundle's ``probabilities [K]`` for the candidates (renormalised over them)
        mixed with the features' scores ``features`` as ``OnnxScorer`` does."""
        bundle = self.owner.bundle
        model = probabilities[[bundle.column(p) for p in self.ids]]
        return mix_with_features(model, features, self.owner.feature_weight, floor)

    # -- the clock and the frames ------------------------------------------------------------

    def _cycle(self) -> int:
        return 6 if self.state.meter == 3 else 8

    def _advance_clock(self, t: float, dt: float) -> None:
        """Move the beat clock to frame time ``t``: one frame at the tracked tempo, then part of
        the remaining phase error (so that, locked, ``B(t)`` equals the beat grid at ``t``)."""
        state = self.state
        if state.tempo_bpm <= 0:
            self._clock += dt * IDLE_BPM / 60.0
            return
        predicted = self._clock + dt * state.tempo_bpm / 60.0
        grid = (t - state.beat_s) / state.period_s
        error = (grid - predicted + 0.5) % 1.0 - 0.5
        self._clock = predicted + dt * float(
            np.clip(CLOCK_GAIN * error, -CLOCK_MAX_RATE, CLOCK_MAX_RATE)
        )

    def _maybe_schedule(self, t: float) -> None:
        """Groove on the idle phrase when no phrase is playing; once locked, choose the phrase
        for the next eight as soon as the previous choice has started (one eight ahead)."""
        state = self.state
        segment = self._segment
        starting = self._pending is not None and self._clock >= self._pending[0]
        if not starting and (segment is None or self._clock >= segment.b0 + segment.counts):
            start = self._clock if segment is None else segment.b0 + segment.counts
            self._start(self._idle_id, start, t, idle=True)
        if not (state.locked and state.meter_known) or self._pending is not None:
            return
        if self._choosing is None:
            if self._next_segment_b is None:
                # the first phrase starts on a bar start at least one beat ahead
                ahead = ((state.downbeat_s - t) / state.period_s) % state.meter
                ahead = ahead if ahead >= 1.0 else ahead + state.meter
                self._next_segment_b = round(self._clock + ahead)
            first = t + (self._next_segment_b - self._clock - 0.5) * state.period_s
            beats = state.beats_after(first, self._cycle())
            self._choosing = self._prepare(self._slot_now(beats, state))
            self._busy = True
        if self._busy:
            # a join search or this preparation ran in this push: the model call and the pick
            # wait for a later push (on what was heard now), so that no push does two of them
            return
        choosing, self._choosing = self._choosing, None
        phrase_id, repeat_of = self._pick(choosing)
        slot, beats = choosing.slot, choosing.slot.beat_times_s
        choice = LiveChoice(
            eight=slot.index, phrase_id=phrase_id, start_s=beats[0],
            decided_at_s=choosing.heard_s, tempo_bpm=slot.tempo_bpm, meter=slot.meter,
            beat_times_s=list(beats), repeat_of=repeat_of,
        )  # fmt: skip
        self.owner.prefetch(choice.phrase_id)
        self._pending = (int(self._next_segment_b), choice)
        self._eight += 1

    def _start(
        self, phrase_id: str, b0: float, t: float, *, idle: bool = False,
        segment: _Segment | None = None,
    ) -> None:  # fmt: skip
        """Start ``phrase_id`` (count 1 at clock ``b0``) at frame time ``t``, joined to the
        output so far (``segment``: that join made already, by the join search)."""
        self._segment = segment or self._joined_segment(
            phrase_id, b0, t, list(self._previous), self._clock
        )
        if idle:
            self.choices.append(LiveChoice(
                eight=-1, phrase_id=phrase_id, start_s=t, decided_at_s=self.state.time_s,
                tempo_bpm=self.state.tempo_bpm, meter=self.state.meter, beat_times_s=[],
                idle=True,
            ))  # fmt: skip
            self._choice_count += 1

    def _joined_segment(
        self, phrase_id: str, b0: float, t: float, previous: list, clock: float
    ) -> _Segment:
        """``phrase_id`` with count 1 at clock ``b0``, placed on the floor where the output
        frames ``previous`` (the last two, oldest first) left the dancer and joined to them at
        frame time ``t``, clock ``clock``."""
        phrase = self.owner.phrase(phrase_id)
        counts = self._cycle()
        knots = source_count_frames(phrase.info, counts)
        segment = _Segment(phrase_id, phrase.motion, knots, float(b0), counts, join_s=t)
        if previous:
            root, rotations = previous[-1]
            frame = int(round(float(segment.source_s(clock)) * phrase.motion.fps))
            segment.motion = align_root(
                phrase.motion, root, float(heading(rotations[0])), frame=frame
            )
            self._join(segment, previous, clock)
        return segment

    def _join(self, segment: _Segment, previous: list, clock: float) -> None:
        """Inertialization offsets that continue the output frames ``previous`` into
        ``segment`` at clock ``clock``."""
        dt = 1.0 / self.fps
        (root_a, rot_a), (root_b, rot_b) = previous[-2:] if len(previous) > 1 else previous * 2
        prev_rot_velocity = quat_to_rotvec(quat_mul(rot_b, quat_inv(rot_a))) / dt
        prev_root_velocity = (root_b - root_a) / dt
        roots, rots = segment.poses(np.array([clock, clock + self._rate() * dt]))
        (new_root, next_root), (new_rot, next_rot) = roots, rots
        # where the output would be at this frame had it gone on at its velocity
        prev_next_rot = quat_mul(quat_from_rotvec(prev_rot_velocity * dt), rot_b)
        prev_next_root = root_b + prev_root_velocity * dt
        segment.rot_offset = quat_to_rotvec(quat_mul(prev_next_rot, quat_inv(new_rot)))
        segment.rot_velocity = prev_rot_velocity - quat_to_rotvec(
            quat_mul(next_rot, quat_inv(new_rot))
        ) / dt
        segment.root_offset = prev_next_root - new_root
        segment.root_velocity = prev_root_velocity - (next_root - new_root) / dt
        segment.halflife_s = self._halflife(
            (root_a, rot_a), (root_b, rot_b), (new_root, new_rot), (next_root, next_rot)
        )

    def _halflife(self, a, b, c, d) -> float:
        """``join_halflife_s`` of the pose-and-velocity gap between the last output frames and
        the new phrase's first two frames (the offline render's rule)."""
        motion = Motion(
            self._skeleton, self.fps,
            np.stack([a[0], b[0], c[0], d[0]]), np.stack([a[1], b[1], c[1], d[1]]),
        )  # fmt: skip
        positions, rotations = motion.global_transforms()
        before = pose_features(positions[:2], rotations[:2, 0], self.fps, np.array([1]))
        after = pose_features(positions[2:], rotations[2:, 0], self.fps, np.array([0]))
        return join_halflife_s(float(pose_velocity_cost(before[0], after[0])))

    def _rate(self) -> float:
        """Beats per second of the clock (the tracked tempo, or the idle tempo)."""
        return (self.state.tempo_bpm if self.state.tempo_bpm > 0 else IDLE_BPM) / 60.0

    def _cut_plan(
        self, phrase_id: str, b0: float, t: float
    ) -> tuple[float, float, _Segment | None]:
        """How to join ``phrase_id`` (count 1 at clock ``b0``): ``(delay_beats,
        halflife_scale, segment)``, ``segment`` the joined phrase when the cut is on count 1.

        A join is simulated at the current tempo and its peak joint acceleration (from the
        frame before the cut to ``CUT_WINDOW_S`` after) compared with the sharpest moment inside
        the two phrases (the offline render's rule that a join is never the sharpest moment).
        The candidates, in order: cut on count 1 with the blend of ``join_halflife_s``, then
        with that blend ``CUT_HALFLIFE_SCALES`` times longer (the counts stay on the beats),
        then ``CUT_DELAYS_BEATS`` later (the current phrase danced on, the new one still
        anchored at ``b0``). The first under ``CUT_KEEP_SHARE`` of the sharpest moment is
        taken; when none is, the one of lowest peak, each later beat costing
        ``CUT_DELAY_COST`` of it (forward only: the phrase playing now cannot be cut earlier).

        The candidates are simulated in two batches (the blends on count 1, then the later
        cuts), each posed over all its frames at once and forward-kinematised in one call:
        ``join_batches`` counts the batches."""
        rate = self._rate()
        # the sharpest moment inside either phrase at this tempo (time-warping by a factor k
        # scales accelerations by k^2)
        sharpest = max(
            self.owner.peak_mps2(pid) * (rate * 60.0 / self.owner.phrase(pid).info.tempo_bpm) ** 2
            for pid in (self._segment.phrase_id, phrase_id)
        )
        on_count = [(0.0, scale) for scale in CUT_HALFLIFE_SCALES]
        later = [(delay, 1.0) for delay in CUT_DELAYS_BEATS if delay > 0]
        best, best_cost, segment = (0.0, 1.0, None), np.inf, None
        for batch in (on_count, later):
            peaks, joined = self._join_peaks(phrase_id, b0, t, batch)
            if segment is None:
                segment = joined[0.0]
            for (delay, scale), peak in zip(batch, peaks, strict=True):
                plan = (delay, scale, segment if delay == 0 else None)
                if peak <= CUT_KEEP_SHARE * sharpest:
                    return plan
                cost = peak * (1.0 + CUT_DELAY_COST * delay)
                if cost < best_cost:
                    best, best_cost = plan, cost
        return best

    def _join_peaks(
        self, phrase_id: str, b0: float, t: float, trials: list[tuple[float, float]]
    ) -> tuple[np.ndarray, dict[float, _Segment]]:
        """Peak joint acceleration (m/s^2) of each simulated join ``(delay_beats,
        halflife_scale)`` in ``trials``, and the joined segment of each delay (its blend
        the join's own).

        Per delay, the playing segment is posed over the frames before the cut, the new phrase
        placed and joined after them, and posed over ``CUT_WINDOW_S`` once; each blend length
        only decays the join's offset differently. All trials' frames (the two before the cut
        and the window after) go through forward kinematics together."""
        dt, rate = 1.0 / self.fps, self._rate()
        window = np.arange(int(round(CUT_WINDOW_S * self.fps)))
        roots, rotations, joined = [], [], {}
        for delay in dict.fromkeys(d for d, _ in trials):  # in order, once each
            segment, (before_roots, before_rots), clock = self._delayed_join(
                phrase_id, b0, t, delay
            )
            joined[delay] = segment
            scales = np.array([scale for d, scale in trials if d == delay])
            after_roots, after_rots = self._with_offsets(
                segment, *segment.poses(clock + window * rate * dt), t + window * dt,
                segment.halflife_s * scales,
            )  # fmt: skip
            for k in range(len(scales)):
                roots.append(np.concatenate([before_roots, after_roots[k]]))
                rotations.append(np.concatenate([before_rots, after_rots[k]]))
        self.join_batches += 1
        positions, _ = forward_kinematics(
            self._skeleton, np.concatenate(rotations), np.concatenate(roots)
        )
        positions = positions.reshape(len(trials), -1, self._skeleton.num_joints, 3)
        accel = np.linalg.norm(np.diff(positions, 2, axis=1), axis=-1)
        peaks = accel.reshape(len(trials), -1).max(axis=1) * self.fps**2
        return peaks, joined

    def _delayed_join(self, phrase_id: str, b0: float, t: float, delay: float):
        """The cut ``delay`` beats after now: ``(segment, (roots [2, 3], rotations [2, J, 4])
        of the two frames before it, clock at the cut)``, the playing segment danced on
        until then (its offset decayed as at ``t``) and ``phrase_id`` joined to it there."""
        dt, rate = 1.0 / self.fps, self._rate()
        steps = int(round(delay / rate / dt))
        # the clock of each frame to the cut, summed frame by frame as the frames advance it
        clocks = np.cumsum(np.r_[self._clock, np.full(steps, rate * dt)])
        before = list(self._previous)
        if steps:
            roots, rotations = self._segment_poses(self._segment, clocks[:-1], np.full(steps, t))
            before += list(zip(roots, rotations, strict=True))
        segment = self._joined_segment(phrase_id, b0, t, before[-2:], float(clocks[-1]))
        last = before[-2:]
        frames = (np.array([f[0] for f in last]), np.array([f[1] for f in last]))
        return segment, frames, float(clocks[-1])

    def _produce(self, until_s: float) -> LiveFrames:
        times, roots, rotations = [], [], []
        dt = 1.0 / self.fps
        while self._next_frame / self.fps <= until_s:
            t = self._next_frame / self.fps
            if self._next_frame > 0:
                self._advance_clock(t, dt)
            self._maybe_schedule(t)
            if self._pending is not None and self._clock >= self._pending[0]:
                b0, choice = self._pending
                if self._cut_at is None:  # the phrase's count 1: where and how to cut
                    delay, self._cut_halflife_scale, self._cut_segment = self._cut_plan(
                        choice.phrase_id, b0, t
                    )
                    self._busy = True
                    self._cut_at = b0 + delay
                    playing = self._segment
                    playing.counts = max(playing.counts, int(np.ceil(self._cut_at - playing.b0)))
            if self._pending is not None and self._cut_at is not None and (
                self._clock >= self._cut_at - 1e-9
            ):
                b0, choice = self._pending
                self._pending, self._cut_at = None, None
                self.choices.append(replace(choice, start_s=t))
                self._choice_count += 1
                # a cut on count 1 is the join the search made (same frames, same clock)
                self._start(choice.phrase_id, b0, t, segment=self._cut_segment)
                self._cut_segment = None
                self._segment.halflife_s *= self._cut_halflife_scale
                self._next_segment_b = b0 + self._cycle()
            root, rot = self._pose_at(t)
            self._previous.append((root, rot))
            times.append(t)
            roots.append(root)
            rotations.append(rot)
            self._next_frame += 1
        if not times:
            joints = self._skeleton.num_joints
            return LiveFrames(np.zeros(0), np.zeros((0, 3)), np.zeros((0, joints, 4)))
        return LiveFrames(np.array(times), np.array(roots), np.array(rotations))

    def _pose_at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        segment = self._segment
        if segment.rot_offset is not None and t - segment.join_s > 8 * segment.halflife_s:
            segment.rot_offset = None
        roots, rotations = self._segment_poses(segment, np.array([self._clock]), np.array([t]))
        return roots[0], rotations[0]

    def _segment_poses(
        self, segment: _Segment, clocks: np.ndarray, times_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The segment's poses at clock values ``clocks [n]`` with its join offset decayed to
        times ``times_s [n]`` (s): root positions ``[n, 3]``, local rotations ``[n, J, 4]``."""
        roots, rotations = self._with_offsets(
            segment, *segment.poses(clocks), times_s, np.array([segment.halflife_s])
        )
        return roots[0], rotations[0]

    @staticmethod
    def _with_offsets(
        segment: _Segment, roots: np.ndarray, rotations: np.ndarray, times_s: np.ndarray,
        halflives_s: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The segment's poses ``roots [n, 3]``, ``rotations [n, J, 4]`` with its join offset
        decayed to times ``times_s [n]`` (s) with each halflife of ``halflives_s [m]`` (s):
        ``[m, n, 3]`` and ``[m, n, J, 4]`` (the offset is 0 past 8 halflives)."""
        roots = np.repeat(roots[None], len(halflives_s), axis=0)
        rotations = np.repeat(rotations[None], len(halflives_s), axis=0)
        if segment.rot_offset is None:
            return roots, rotations
        elapsed = np.asarray(times_s, dtype=float) - segment.join_s
        on = elapsed[None] <= 8 * halflives_s[:, None]  # [m, n]
        if on.any():
            rot_offset, root_offset = (
                np.concatenate([
                    decay_spring(offset, velocity, halflife_s, elapsed[row])
                    for halflife_s, row in zip(halflives_s, on, strict=True)
                ])
                for offset, velocity in (
                    (segment.rot_offset, segment.rot_velocity),
                    (segment.root_offset, segment.root_velocity),
                )
            )  # fmt: skip
            turn = quat_from_rotvec(rot_offset)
            rotations[on] = quat_normalize(quat_mul(turn, rotations[on]))
            roots[on] = roots[on] + root_offset
        return roots, rotations


#: Key of the live session's record (``LiveSession.timeline``) in the ``.glb`` scene's extras.
LIVE_EXTRA = "mdtool_live"
LIVE_FORMATS = ("glb", "bvh", "json")


def live_outputs(folder, stem: str, formats) -> dict:
    """``{format: path}`` of a live run: ``STEM.glb``, ``STEM.bvh``, ``STEM.live.json``."""
    from pathlib import Path

    names = {"glb": f"{stem}.glb", "bvh": f"{stem}.bvh", "json": f"{stem}.live.json"}
    unknown = [f for f in formats if f not in names]
    if unknown:
        raise MusicDanceError(f"unknown live format {unknown[0]!r}: use {', '.join(names)}")
    return {fmt: Path(folder) / names[fmt] for fmt in formats}


def write_live(session: LiveSession, outputs: dict, *, report: dict | None = None) -> None:
    """Write what a recording session produced as one atomic set (``atomic_outputs``): the
    motion as .glb (the record in its scene extras) and .bvh, and the record as JSON
    (``report`` entries are added to it)."""
    import json
    from pathlib import Path

    from musicdance.atomic import atomic_outputs

    motion = session.motion()
    record = {**session.timeline(), **(report or {})}
    folders = {Path(path).parent.resolve() for path in outputs.values()}
    if len(folders) != 1:
        raise MusicDanceError("the files of one live run must be written to one folder")
    with atomic_outputs(folders.pop()) as staged:
        if "glb" in outputs:
            from musicdance.io.gltf import write_glb

            write_glb(motion, staged.path(outputs["glb"]), extras={LIVE_EXTRA: record},
                      name=Path(outputs["glb"]).stem)  # fmt: skip
        if "bvh" in outputs:
            from musicdance.io.bvh import write_bvh

            write_bvh(motion, staged.path(outputs["bvh"]))
        if "json" in outputs:
            with open(staged.path(outputs["json"]), "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=1)
                handle.write("\n")
