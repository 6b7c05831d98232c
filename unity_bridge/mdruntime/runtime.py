"""The in-game calls: choreograph a song, list alternatives, replace a slot, sample poses.

:class:`Runtime` loads a phrase library (and optionally a trained bundle) once and serves any
number of songs and timelines; it is thread-safe. It runs the same functions as
``mdtool choreograph`` / ``mdtool edit`` (``musicdance.audio.analysis.analyze``,
``musicdance.choreo.choreographer.choreograph``, ``alternatives``, ``replace_phrase``,
``musicdance.choreo.render.render_dance``), so the same song, library, bundle and seed give
the same timeline. Rendered dances are cached per timeline (keyed by the sha256 of its JSON) as
:class:`~mdruntime.pose.PoseTrack` s with their samplers. A timeline made by :meth:`Runtime.replace`
is rendered incrementally (``musicdance.choreo.render.rerender``: only the replaced slots and
their neighbours are rendered again) when the timeline it was edited from was rendered recently.

:class:`Session` is one song being edited in a game: its analysis (so a bundle can re-score
alternatives), the current timeline, an undo history and the current pose sampler.

Nothing here imports torch, training code or librosa: the analysis path is numpy, soundfile and
soxr; a bundle runs through onnxruntime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mdruntime.audio_input import AUDIO_FORMATS, sniff_audio_format
from mdruntime.library_cache import CachedLibrary, LRUCache
from mdruntime.pose import POSE_TRACK_VERSION, GroupSampler, Pose, PoseSampler, PoseTrack
from musicdance import __version__ as MDTOOL_VERSION
from musicdance.audio.analysis import Analysis, analyze, analyze_signal
from musicdance.bundle import choose_bundle
from musicdance.choreo import choreographer
from musicdance.choreo.curation import agreement, replace_phrases
from musicdance.choreo.export import export_dance, export_group
from musicdance.choreo.group import GROUP_SCHEMA, GROUP_VERSION, GroupTimeline, choreograph_group
from musicdance.choreo.group_render import GroupRendered, MemoLibrary, render_group
from musicdance.choreo.live import LiveChoreographer, LiveSession
from musicdance.choreo.onnx_scorer import scorer_for
from musicdance.choreo.render import Rendered, frame_at, render_dance, source_count_frames
from musicdance.choreo.rerender import rerender
from musicdance.choreo.timeline import (
    MAX_FPS,
    MAX_SLOTS,
    MAX_SONG_S,
    TIMELINE_SCHEMA,
    TIMELINE_VERSION,
    Timeline,
    parse_timeline,
)
from musicdance.defaults import DEFAULT_BUNDLE, DEFAULT_FEATURE_WEIGHT
from musicdance.errors import MusicDanceError
from musicdance.library import open_library
from musicdance.library.edits import list_edits, record_edits
from musicdance.motion.motion import Motion
from musicdance.recognize.features import canonical_positions, resample_positions
from musicdance.recognize.recognizer import Recognizer, SongProfile, catalog_profiles, rank_songs

__all__ = [
    "MAX_FPS",
    "MAX_SLOTS",
    "MAX_SONG_S",
    "RUNTIME_API_VERSION",
    "Runtime",
    "Session",
    "group_key",
    "parse_timeline",
    "safe_song_name",
    "timeline_key",
]

RUNTIME_API_VERSION = 1
_log = logging.getLogger("mdruntime")
# MAX_SONG_S (the longest timeline rendered; a longer one is refused before any work), MAX_FPS
# and MAX_SLOTS are the limits of ``Timeline.validate`` (``musicdance.choreo.timeline``).


def _upload_format(data: bytes, audio_format: str | None) -> str:
    """The upload's audio format (given, or from its magic bytes), one of ``AUDIO_FORMATS``."""
    fmt = audio_format or sniff_audio_format(data)
    if fmt not in AUDIO_FORMATS:
        raise MusicDanceError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}")
    return fmt


def timeline_key(timeline: Timeline) -> str:
    """sha256 of the timeline's canonical JSON: equal timelines, equal keys."""
    text = json.dumps(timeline.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def safe_song_name(name: str | None) -> str | None:
    """A client-given song name reduced to a safe base name: no folders (``/`` or ``\\``),
    no leading dots, no control characters, at most 128 characters; None stays None and a
    name with nothing left becomes ``"upload"``."""
    if name is None:
        return None
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".").strip()
    return base[:128] or "upload"


class _Rendered:
    """One rendered timeline: the motion, its pose track and the sampler (built on demand)."""

    def __init__(self, motion: Motion, track: PoseTrack) -> None:
        self.motion = motion
        self.track = track
        self._sampler: PoseSampler | None = None
        self._lock = threading.Lock()

    @property
    def sampler(self) -> PoseSampler:
        if self._sampler is None:
            with self._lock:
                if self._sampler is None:
                    self._sampler = PoseSampler(self.track)
        return self._sampler


def _analysis_key(duration_s: float, spans) -> tuple:
    return (round(float(duration_s), 4), tuple((round(a, 4), round(b, 4)) for a, b in spans))


class Runtime:
    """A loaded library (and bundle) serving choreography and pose sampling.

    Args:
        library: a phrase-library folder (or an opened ``PhraseLibrary``).
        bundle: trained bundle folder whose ONNX model scores the slots
            (``musicdance.choreo.onnx_scorer.OnnxScorer``); it must pass every check. None:
            the default bundle (``bundles/default`` in the working folder, as for
            ``mdtool choreograph``) if it was made for this library, else the feature scorer
            (:meth:`info` says why in ``scorer_note``).
        default_bundle: False: no default bundle; the feature scorer unless ``bundle`` is
            given.
        feature_weight: with a bundle, weight of the feature scorer in the geometric mix.
        preload: decode every phrase now instead of on first use.
        cache_size: rendered timelines kept (each is a few MB for a 4-minute song).
        edit_cache_size: of those, how many keep what an incremental re-render after
            :meth:`replace` needs (about 17 MB more each for a 4-minute song).
        work_dir: where uploaded audio is staged while it is decoded (default: the system's
            temporary folder). Nothing is written anywhere else, but for ``record_edits``.
        catalog: a folder of songs that :meth:`recommend` ranks for a dance (analysed on first
            use and kept in memory; a cache ``mdtool recommend`` left in the folder is read).
        record_edits: record every :meth:`replace` in the library's ``edits`` table
            (``musicdance.choreo.curation``; ``mdtool serve`` turns it on); off, nothing is
            written to the library.
        user: the curator recorded with each replace when the caller names none
            (``musicdance.choreo.curation.current_user``).
    """

    def __init__(
        self,
        library,
        *,
        bundle: str | os.PathLike[str] | None = None,
        default_bundle: bool = True,
        feature_weight: float = DEFAULT_FEATURE_WEIGHT,
        preload: bool = False,
        cache_size: int = 8,
        edit_cache_size: int = 4,
        work_dir: str | os.PathLike[str] | None = None,
        bundle_threads: int = 0,
        conducting_bundle: str | os.PathLike[str] | None = None,
        catalog: str | os.PathLike[str] | None = None,
        record_edits: bool = False,
        user: str | None = None,
    ) -> None:
        opened = open_library(library) if isinstance(library, str | os.PathLike) else library
        self.library = CachedLibrary(opened)
        if not len(self.library):
            raise MusicDanceError("the phrase library is empty", self.library.path)
        self.bundle, why_not = choose_bundle(
            self.library, bundle, use_default=default_bundle, threads=bundle_threads
        )
        self.scorer_note = None if why_not is None else f"{why_not}; scoring with the features"
        self.feature_weight = float(feature_weight)
        self.work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.gettempdir())
        self._rendered = LRUCache(cache_size)
        self._edit_states = LRUCache(edit_cache_size)  # timeline key -> Rendered with its state
        self._edited_from = LRUCache(256)  # key of a replace's result -> key of its source
        self._analyses = LRUCache(max(cache_size, 4))
        self._glbs = LRUCache(2)  # timeline key -> .glb bytes (asked again by a page reload)
        self._groups = LRUCache(max(cache_size // 2, 2))  # group key -> _RenderedGroup
        self._group_renders = _CacheDict(LRUCache(64))  # one group dancer's anchored dance
        self._group_lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}
        self._live = LRUCache(4)  # (style, fps, look-ahead) -> LiveChoreographer
        self._inflight_lock = threading.Lock()
        self._conducting_bundle = conducting_bundle
        self._conductor = None
        self.catalog = Path(catalog) if catalog is not None else None
        self.record_edits = bool(record_edits)
        self.user = user
        self._recognition_bundle = Path(bundle) if bundle is not None else DEFAULT_BUNDLE
        self._recognizer = None
        self._catalog_profiles = None
        self._recognition_lock = threading.Lock()
        if preload:
            self.library.preload()

    # -- description ---------------------------------------------------------------------------

    def info(self) -> dict:
        """Versions and what is loaded (the service's ``/v1/version``)."""
        bundle = None
        if self.bundle is not None:
            bundle = {
                "path": str(self.bundle.path),
                "format": self.bundle.manifest.get("format"),
                "num_classes": self.bundle.num_classes,
                "library_fingerprint": self.bundle.library_fingerprint,
                "feature_weight": self.feature_weight,
            }
        return {
            "mdtool": MDTOOL_VERSION,
            "runtime_api": RUNTIME_API_VERSION,
            "timeline": {"schema": TIMELINE_SCHEMA, "version": TIMELINE_VERSION},
            "group_timeline": {"schema": GROUP_SCHEMA, "version": GROUP_VERSION},
            "pose_track": {"magic": "MDPT", "version": POSE_TRACK_VERSION},
            "library": {
                "path": str(self.library.path),
                "phrases": len(self.library),
                "styles": self.library.styles(),
            },
            "bundle": bundle,
            "scorer": "onnx" if self.bundle is not None else "feature",
            "scorer_note": self.scorer_note,
        }

    # -- live choreography ---------------------------------------------------------------------

    def live(
        self, *, sr_hz: int = 48_000, style: str | None = None, seed: int = 0,
        fps: float = 30.0, lookahead_s: float = 0.1, record: bool = False,
    ) -> LiveSession:  # fmt: skip
        """A live session: feed PCM chunks of a stream at ``sr_hz`` with ``push`` and get the
        poses up to the audio received plus ``lookahead_s`` (``musicdance.choreo.live``)."""
        key = (style, float(fps), float(lookahead_s))
        with self._inflight_lock:
            owner = self._live.get(key)
            if owner is None:
                owner = LiveChoreographer(self.library, style=style, fps=fps,
                                          lookahead_s=lookahead_s, bundle=self.bundle,
                                          feature_weight=self.feature_weight)  # fmt: skip
                self._live.put(key, owner)
        return owner.session(sr_hz, seed=seed, record=record)

    # -- analysis --------------------------------------------------------------------------------

    def analyze_file(self, path: str | os.PathLike[str], *, max_duration_s=None) -> Analysis:
        return analyze(path, max_duration_s=max_duration_s)

    def analyze_pcm(self, samples, sr_hz: int, *, name: str | None = None) -> Analysis:
        """Mono ``[n]`` or interleaved ``[n, channels]`` samples (float, or int16 scaled)."""
        y = np.asarray(samples)
        if y.dtype == np.int16:
            y = y.astype(np.float32) / 32768.0
        if y.ndim not in (1, 2) or y.size == 0:
            raise MusicDanceError("PCM samples must be a non-empty [n] or [n, channels] array")
        if not (isinstance(sr_hz, int | np.integer) and 1000 <= int(sr_hz) <= 384_000):
            raise MusicDanceError(f"sample rate must be an integer 1000-384000 Hz, got {sr_hz}")
        return analyze_signal(y, sr_hz=int(sr_hz), path=name)

    def analyze_bytes(
        self, data: bytes, *, name: str | None = None, audio_format: str | None = None,
        max_duration_s: float | None = None,
    ) -> Analysis:  # fmt: skip
        """Decode an audio file's bytes (format from its magic bytes unless given), staged as a
        temporary file in ``work_dir`` and removed afterwards. ``name`` becomes the song path."""
        fmt = _upload_format(data, audio_format)
        analysis = self._decode_upload(
            data, fmt, lambda staged: analyze(staged, max_duration_s=max_duration_s)
        )
        analysis.path = name
        return analysis

    def _decode_upload(self, data: bytes, fmt: str, decode):
        """``decode(path)`` of the bytes staged as a temporary file in ``work_dir`` (removed
        afterwards); a decoding error never shows the staging path to clients."""
        handle, staged = tempfile.mkstemp(suffix=AUDIO_FORMATS[fmt], dir=self.work_dir)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            try:
                return decode(staged)
            except MusicDanceError as error:
                message = error.message.replace(staged, "upload").replace(str(self.work_dir), "")
                raise MusicDanceError(f"cannot decode the {fmt} upload: {message}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(staged)

    # -- choreography ----------------------------------------------------------------------------

    def scorer_for(self, analysis: Analysis | None):
        """The emission model for a song: the bundle's (needs the analysis) or the features'."""
        return scorer_for(self.bundle, analysis, feature_weight=self.feature_weight)

    def choreograph(
        self,
        analysis: Analysis,
        *,
        style: str | None = None,
        seed: int = 0,
        fps: float = 30.0,
        decoder: str = "viterbi",
        reuse_sections: bool = True,
        top_k: int = 5,
    ) -> Timeline:
        """The timeline ``mdtool choreograph`` makes for this analysis (same seed, same dance)."""
        if not (1.0 <= float(fps) <= MAX_FPS):
            raise MusicDanceError(f"fps must be between 1 and {MAX_FPS:g}, got {fps}")
        timeline = choreographer.choreograph(
            analysis, self.library, style=style, seed=int(seed), fps=float(fps), decoder=decoder,
            reuse_sections=reuse_sections, top_k=top_k, scorer=self.scorer_for(analysis),
        )  # fmt: skip
        self.remember_analysis(timeline, analysis)
        return timeline

    def remember_analysis(self, timeline: Timeline, analysis: Analysis) -> None:
        """Keep the song's analysis for this timeline, so that a bundle re-scores its
        alternatives as ``mdtool edit --alternatives`` does (``mdtool studio`` opening a
        timeline file) and a recorded edit keeps the slot's model input; nothing is kept
        without a bundle or edit recording."""
        if self.bundle is not None or self.record_edits:
            spans = [(s.start_s, s.end_s) for s in timeline.slots]
            self._analyses.put(_analysis_key(timeline.duration_s, spans), analysis)

    def choreograph_file(self, path: str | os.PathLike[str], **options) -> Timeline:
        return self.choreograph(self.analyze_file(path), **options)

    def choreograph_pcm(self, samples, sr_hz: int, *, name: str | None = None, **options):
        return self.choreograph(self.analyze_pcm(samples, sr_hz, name=name), **options)

    def choreograph_bytes(self, data: bytes, *, name: str | None = None, **options) -> Timeline:
        return self.choreograph(self.analyze_bytes(data, name=name), **options)

    def session(self, song, *, sr_hz: int | None = None, name: str | None = None, **options):
        """A :class:`Session` for a song: a path, bytes, PCM samples (with ``sr_hz``) or an
        ``Analysis``; ``options`` go to :meth:`choreograph`."""
        if isinstance(song, Analysis):
            analysis = song
        elif isinstance(song, bytes | bytearray | memoryview):
            analysis = self.analyze_bytes(bytes(song), name=name)
        elif isinstance(song, str | os.PathLike):
            analysis = self.analyze_file(song)
        else:
            if sr_hz is None:
                raise MusicDanceError("PCM samples need their sample rate (sr_hz)")
            analysis = self.analyze_pcm(song, sr_hz, name=name)
        return Session(self, analysis, self.choreograph(analysis, **options))

    # -- editing ---------------------------------------------------------------------------------

    def check_timeline(self, timeline: Timeline) -> None:
        """Refuse a timeline this runtime cannot render: implausible numbers (times, fps, song
        length) or phrases its library does not have (``Timeline.validate``)."""
        timeline.validate(self.library)

    def alternatives(self, timeline: Timeline, slot: int, *, top_k: int = 10) -> list[dict]:
        """Phrases for ``slot`` ranked with both neighbours (``mdtool edit --alternatives``).

        With a bundle, the model re-scores when this runtime analysed the song (else the
        feature scorer does; :meth:`alternatives_scorer` says which)."""
        self.check_timeline(timeline)
        analysis = self._analysis_of(timeline)
        return choreographer.alternatives(
            timeline, self.library, int(slot), top_k=int(top_k), scorer=self.scorer_for(analysis)
        )

    def alternatives_scorer(self, timeline: Timeline) -> str:
        """``"onnx"`` or ``"feature"``: what :meth:`alternatives` scores this timeline with."""
        return "onnx" if self.bundle is not None and self._analysis_of(timeline) else "feature"

    def _analysis_of(self, timeline: Timeline) -> Analysis | None:
        if self.bundle is None:
            return None
        return self._song_analysis(timeline)

    def _song_analysis(self, timeline: Timeline) -> Analysis | None:
        spans = [(s.start_s, s.end_s) for s in timeline.slots]
        return self._analyses.get(_analysis_key(timeline.duration_s, spans))

    def replace(
        self, timeline: Timeline, slot: int, phrase_id: str, *,
        analysis: Analysis | None = None, user: str | None = None,
    ) -> Timeline:  # fmt: skip
        """A copy of the timeline with ``phrase_id`` in ``slot`` (``mdtool edit --replace``),
        recorded as an edit when ``record_edits`` is on (:meth:`replace_recorded`).

        Its render is derived from ``timeline``'s (``rerender``) when that is still cached."""
        return self.replace_recorded(timeline, slot, phrase_id, analysis=analysis, user=user)[0]

    def replace_recorded(
        self, timeline: Timeline, slot: int, phrase_id: str, *,
        analysis: Analysis | None = None, user: str | None = None,
    ) -> tuple[Timeline, dict]:  # fmt: skip
        """:meth:`replace`, and what was recorded: ``{"edit_id", "record_note"}``. The edit
        (by ``user``, else the runtime's) keeps the slot's model input when the song's analysis
        is given or cached. A recording that fails (a read-only library) does not fail the
        replace: ``edit_id`` is None and ``record_note`` says why."""
        self.check_timeline(timeline)
        if self.record_edits:
            analysis = analysis or self._song_analysis(timeline)
        edited, edits = replace_phrases(
            timeline, self.library, [(int(slot), str(phrase_id))],
            analysis=analysis if self.record_edits else None, user=user or self.user,
            bundle=self.bundle, record=False,
        )  # fmt: skip
        recorded = {"edit_id": None, "record_note": None}
        if self.record_edits and edits:
            try:
                record_edits(self.library.library, edits)
                recorded["edit_id"] = edits[0].id
            except MusicDanceError as error:
                recorded["record_note"] = f"edit not recorded: {error}"
                _log.warning("%s", recorded["record_note"])
        self._edited_from.put(timeline_key(edited), timeline_key(timeline))
        return edited, recorded

    def edits_agreement(self, *, users: list[str] | None = None) -> dict:
        """How often the loaded bundle's first choice is the curators' recorded phrase
        (``musicdance.choreo.curation.agreement``; ``top1`` etc. are null without a bundle)."""
        edits = list_edits(self.library.library, users=users, with_inputs=self.bundle is not None)
        report = {"bundle": None if self.bundle is None else str(self.bundle.path)}
        if self.bundle is None:
            return {**report, "edits": len(edits), "scored": 0, "skipped": len(edits),
                    "feature_weight": self.feature_weight, "top1": None, "top5": None,
                    "model_top1": None, "replaced_top1": None}  # fmt: skip
        found = agreement(self.bundle, edits, self.library, feature_weight=self.feature_weight)
        return {**report, **{k: (None if isinstance(v, float) and v != v else v)
                             for k, v in found.items()}}  # fmt: skip

    # -- rendering and sampling ------------------------------------------------------------------

    def _render(self, timeline: Timeline) -> _Rendered:
        key = timeline_key(timeline)
        found = self._rendered.get(key)
        if found is not None:
            return found
        with self._inflight_lock:  # one render per timeline, however many threads ask at once
            lock = self._inflight.setdefault(key, threading.Lock())
        try:
            with lock:
                found = self._rendered.get(key)
                if found is not None:
                    return found
                self.check_timeline(timeline)
                motion = self._render_motion(timeline, key)
                track = PoseTrack.from_motion(motion, timeline_key=key)
                track = _with_slots(track, timeline, self.library)
                return self._rendered.put(key, _Rendered(motion, track))
        finally:
            with self._inflight_lock:
                self._inflight.pop(key, None)

    def _render_motion(self, timeline: Timeline, key: str) -> Motion:
        """The dance, re-rendered from the render of the timeline it was edited from when that
        is cached (the same motion as a full render, to rounding), else rendered in full."""
        source = self._edited_from.get(key)
        previous: Rendered | None = None if source is None else self._edit_states.get(source)
        if previous is not None:
            rendered = rerender(previous, timeline, self.library)
        else:
            rendered = render_dance(timeline, self.library)
        self._edit_states.put(key, rendered)
        return rendered.motion

    def render(self, timeline: Timeline) -> Motion:
        """The dance ``mdtool choreograph`` exports for this timeline (cached)."""
        return self._render(timeline).motion

    def pose_track(self, timeline: Timeline) -> PoseTrack:
        """The rendered dance as a :class:`PoseTrack` (what engines sample; cached)."""
        return self._render(timeline).track

    def sampler(self, timeline: Timeline) -> PoseSampler:
        """A :class:`PoseSampler` of the rendered dance (cached with it)."""
        return self._render(timeline).sampler

    def sample(self, timeline: Timeline, times_s) -> Pose:
        """Poses at ``times_s`` (any shape: characters x times) on this timeline's dance."""
        return self.sampler(timeline).sample(times_s)

    # -- groups ----------------------------------------------------------------------------------

    def choreograph_group(
        self,
        analysis: Analysis,
        dancers: int,
        *,
        formation="auto",
        lead: int = 0,
        audience_yaw_deg: float = 0.0,
        style: str | None = None,
        seed: int = 0,
        fps: float = 30.0,
        reuse_sections: bool = True,
        top_k: int = 5,
    ) -> GroupTimeline:
        """The group timeline ``mdtool choreograph --dancers N`` makes for this analysis
        (``lead`` counts from 0 here, from 1 on the command line)."""
        if not (1.0 <= float(fps) <= MAX_FPS):
            raise MusicDanceError(f"fps must be between 1 and {MAX_FPS:g}, got {fps}")
        return choreograph_group(
            analysis, self.library, int(dancers), formation=formation, lead=int(lead),
            audience_yaw_deg=float(audience_yaw_deg), style=style, seed=int(seed),
            fps=float(fps), reuse_sections=reuse_sections, top_k=top_k,
            scorer=self.scorer_for(analysis),
        )  # fmt: skip

    def choreograph_group_bytes(self, data: bytes, dancers: int, *, name=None, **options):
        return self.choreograph_group(self.analyze_bytes(data, name=name), dancers, **options)

    def _group(self, group: GroupTimeline) -> _RenderedGroup:
        key = group_key(group)
        found = self._groups.get(key)
        if found is None:
            with self._group_lock:  # one group render at a time (they share the caches)
                found = self._groups.get(key)
                if found is None:
                    group.validate(self.library)
                    rendered = render_group(group, MemoLibrary(self.library),
                                            renders=self._group_renders)  # fmt: skip
                    found = self._groups.put(key, _RenderedGroup(rendered, key))
        return found

    def render_group(self, group: GroupTimeline) -> GroupRendered:
        """The group rendered (cached): spots, closest distances, anchored dances; its
        ``motions()`` are what ``mdtool choreograph --dancers N`` exports."""
        return self._group(group).rendered

    def group_sampler(self, group: GroupTimeline) -> GroupSampler:
        """A :class:`GroupSampler` of every dancer (cached with the render)."""
        return self._group(group).sampler

    def sample_group(self, group: GroupTimeline, times_s) -> Pose:
        """Every dancer's pose at ``times_s`` (``[K]`` or ``[N, K]``): ``[N, K, ...]``."""
        return self.group_sampler(group).sample(times_s)

    def group_bake(self, group: GroupTimeline) -> dict:
        """What an engine needs to play the group: the distinct dances as MDPT pose tracks,
        each dancer's track and its spot path (``float32 [T, 2]``, x and z per frame)."""
        import base64

        found = self._group(group)
        spots = found.rendered.spots_m.astype("<f4")
        return {
            "group_key": group_key(group),
            "fps": float(found.tracks[0].fps),
            "frames": int(spots.shape[1]),
            "tracks": [base64.b64encode(t.to_bytes()).decode("ascii") for t in found.tracks],
            "dancers": [
                {
                    "name": d.name,
                    "track": int(found.track_of[k]),
                    "spots_m": base64.b64encode(spots[k].tobytes()).decode("ascii"),
                }
                for k, d in enumerate(group.dancers)
            ],  # fmt: skip
            "min_distance_m": round(float(found.rendered.closest_m.min()), 4),
        }

    def group_alternatives(self, group: GroupTimeline, dancer: int, slot: int, *,
                           top_k: int = 10) -> list[dict]:  # fmt: skip
        """Phrases for one dancer's ``slot``, ranked on that dancer's own timeline (the group
        devices' alternatives are each section's ``device_scores``)."""
        if not 0 <= int(dancer) < group.num_dancers:
            raise MusicDanceError(f"dancer {dancer} does not exist (the group has "
                                  f"{group.num_dancers})")  # fmt: skip
        return self.alternatives(group.dancer_timeline(int(dancer)), slot, top_k=top_k)

    def group_glb_bytes(self, group: GroupTimeline) -> bytes:
        """The group's ``.glb`` (every dancer, the group timeline embedded), as bytes."""
        motions = self.render_group(group).motions()
        handle, staged = tempfile.mkstemp(suffix=".glb", dir=self.work_dir)
        os.close(handle)
        try:
            name = Path(str(group.base.song.get("path") or "dance")).stem or "dance"
            export_group(group, motions, {"glb": staged}, name=name)
            return Path(staged).read_bytes()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(staged)

    # -- conducting (seed 004) -----------------------------------------------------------------

    def conductor(self):
        """The conducting companion (M2S-GAN's E_music + G as ONNX): of ``conducting_bundle``
        if given, else of the loaded bundle, else of the default bundle; loaded once."""
        with self._inflight_lock:
            if self._conductor is None:
                from musicdance.conduct.generate import load_conductor
                from musicdance.defaults import DEFAULT_BUNDLE

                folder = self._conducting_bundle
                if folder is None:
                    folder = self.bundle.path if self.bundle is not None else DEFAULT_BUNDLE
                self._conductor = load_conductor(folder)
            return self._conductor

    def conduct_bytes(
        self, data: bytes, *, seed: int = 0, method: str = "procedural", name: str | None = None,
        audio_format: str | None = None, max_duration_s: float | None = None,
    ):  # fmt: skip
        """Conduct an uploaded song (``mdtool conduct``'s SDK call,
        ``musicdance.conduct.generate.conduct_signal``): the generator runs through
        onnxruntime with the seeded noise as an input, no torch. Returns the
        ``musicdance.conduct.generate.Conducting`` (motion, keypoints, summary)."""
        from musicdance.audio.load import load_audio
        from musicdance.conduct.generate import MEL_SR_HZ, conduct_signal

        fmt = _upload_format(data, audio_format)
        companion = self.conductor() if method == "gan" else None
        y, _ = self._decode_upload(
            data, fmt,
            lambda staged: load_audio(staged, sr_hz=MEL_SR_HZ, max_duration_s=max_duration_s),
        )  # fmt: skip
        return conduct_signal(y, MEL_SR_HZ, method=method, seed=seed, companion=companion,
                              path=name)  # fmt: skip

    def conduct_track(self, data: bytes, **options) -> tuple[PoseTrack, dict]:
        """:meth:`conduct_bytes` baked as a pose track (what ``DancePlayer`` plays) and the
        summary."""
        result = self.conduct_bytes(data, **options)
        return PoseTrack.from_motion(result.motion), result.summary

    def glb_bytes(self, timeline: Timeline) -> bytes:
        """The ``.glb`` ``mdtool choreograph`` writes (timeline embedded), as bytes; staged in
        ``work_dir`` and removed."""
        key = timeline_key(timeline)
        found = self._glbs.get(key)
        if found is not None:
            return found
        motion = self.render(timeline)
        handle, staged = tempfile.mkstemp(suffix=".glb", dir=self.work_dir)
        os.close(handle)
        try:
            # Named as `mdtool choreograph` names it (the song's stem), not after the temp file.
            name = Path(str(timeline.song.get("path") or "dance")).stem or "dance"
            export_dance(timeline, motion, {"glb": staged}, name=name)
            return self._glbs.put(key, Path(staged).read_bytes())
        finally:
            with contextlib.suppress(OSError):
                os.unlink(staged)

    # -- dance to music ----------------------------------------------------------------------

    def recognizer(self) -> Recognizer:
        """The bundle's ``dance-music`` companion (style recognition; loaded once)."""
        with self._recognition_lock:
            if self._recognizer is None:
                self._recognizer = Recognizer.load(self._recognition_bundle)
            return self._recognizer

    def catalog_profiles(self) -> list[SongProfile]:
        """The catalogue's song profiles (analysed once per runtime, cached on disk)."""
        if self.catalog is None:
            raise MusicDanceError(
                "no song catalogue: start the runtime with catalog=DIR (mdtool serve --catalog)"
            )
        recognizer = self.recognizer()
        with self._recognition_lock:
            if self._catalog_profiles is None:
                # reads the folder's cache but never writes there (the runtime writes only
                # to its work folder)
                self._catalog_profiles, _ = catalog_profiles(
                    recognizer, self.catalog, write_cache=False
                )
            return self._catalog_profiles

    def recommend(
        self,
        *,
        timeline: Timeline | None = None,
        positions_m=None,
        fps: float = 30.0,
        method: str = "mclemcd",
        top: int = 5,
    ) -> dict:
        """Style of a dance and (with a catalogue) the songs that fit it, through ONNX only.

        Give a ``timeline`` (rendered as :meth:`render` does) or a pose stream
        ``positions_m`` ``[T, 22, 3]`` (canonical joints, metres, Y up) at ``fps``.
        """
        if (timeline is None) == (positions_m is None):
            raise MusicDanceError("give either a timeline or a pose stream")
        if timeline is not None:
            motion = self.render(timeline)
            positions, fps = motion.global_positions(), float(motion.fps)
        else:
            positions = np.asarray(positions_m, dtype=np.float32)
        positions = canonical_positions(positions)
        if not (np.isfinite(fps) and 1.0 <= fps <= 240.0):
            raise MusicDanceError(f"fps must lie in [1, 240], got {fps}")
        if abs(fps - 30.0) > 1e-6:
            positions = resample_positions(positions, fps, 30.0)
        style = self.recognizer().classify(positions, method)
        result = {"dance_style": style.to_json(), "songs": None, "catalog": None}
        if self.catalog is not None:
            ranked = rank_songs(style, self.catalog_profiles(), top)
            result["songs"] = [r.to_json() for r in ranked]
            result["catalog"] = str(self.catalog)
        return result


class _CacheDict:
    """The ``in`` / ``[]`` face of an :class:`LRUCache` (what ``render_group`` caches in)."""

    def __init__(self, cache: LRUCache) -> None:
        self.cache = cache

    def __contains__(self, key) -> bool:
        return self.cache.get(key) is not None

    def __getitem__(self, key):
        return self.cache.get(key)

    def __setitem__(self, key, value) -> None:
        self.cache.put(key, value)


class _RenderedGroup:
    """A rendered group, its distinct pose tracks and its sampler (built on demand)."""

    def __init__(self, rendered: GroupRendered, key: str) -> None:
        self.rendered = rendered
        order = list(dict.fromkeys(rendered.keys))
        self.track_of = np.array([order.index(k) for k in rendered.keys], dtype=np.int64)
        self.tracks = [PoseTrack.from_motion(rendered.anchored[k][0], timeline_key=key)
                       for k in order]  # fmt: skip
        self.sampler = GroupSampler(self.tracks, self.track_of, rendered.spots_m,
                                    self.tracks[0].fps)  # fmt: skip


def group_key(group: GroupTimeline) -> str:
    """sha256 of the group timeline's canonical JSON."""
    text = json.dumps(group.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _with_slots(track: PoseTrack, timeline: Timeline, library) -> PoseTrack:
    """The track with, per slot, the time-warp knots engines use to map song time to phrase
    time (``targets_s``: the beats and the slot's end; ``source_s``: the phrase times shown
    there) and the frames the slot covers."""
    fps = timeline.fps
    slots = []
    for slot, phrase_id in zip(timeline.slots, timeline.phrase_ids(), strict=True):
        info = library.info(phrase_id)
        source = source_count_frames(info, slot.num_counts) / info.fps
        slots.append(
            {
                "index": slot.index,
                "phrase_id": phrase_id,
                "start_s": slot.start_s,
                "end_s": slot.end_s,
                "first_frame": frame_at(slot.start_s, fps),
                "stop_frame": frame_at(slot.end_s, fps),
                "targets_s": [*slot.beat_times_s, slot.end_s],
                "source_s": [float(v) for v in source],
            }
        )
    return PoseTrack(**{**track.__dict__, "slots": slots})


class Session:
    """One song being danced and edited: analysis, current timeline, undo history, sampler."""

    def __init__(self, runtime: Runtime, analysis: Analysis, timeline: Timeline) -> None:
        self.runtime = runtime
        self.analysis = analysis
        self.timeline = timeline
        self.history: list[Timeline] = []
        self.listeners: list[Callable[[Timeline], None]] = []

    def alternatives(self, slot: int, *, top_k: int = 10) -> list[dict]:
        """Ranked phrases for ``slot`` (the bundle re-scores with this song's analysis)."""
        self.timeline.check_slot(int(slot))
        return choreographer.alternatives(
            self.timeline, self.runtime.library, int(slot), top_k=int(top_k),
            scorer=self.runtime.scorer_for(self.analysis),
        )  # fmt: skip

    def replace(self, slot: int, phrase_id: str, *, user: str | None = None) -> Timeline:
        """Put ``phrase_id`` in ``slot``; the previous timeline goes on the undo history."""
        updated = self.runtime.replace(self.timeline, slot, phrase_id, analysis=self.analysis,
                                       user=user)  # fmt: skip
        self.history.append(self.timeline)
        self._set(updated)
        return updated

    def undo(self) -> Timeline:
        if not self.history:
            raise MusicDanceError("nothing to undo")
        self._set(self.history.pop())
        return self.timeline

    def _set(self, timeline: Timeline) -> None:
        self.timeline = timeline
        for listener in self.listeners:
            listener(timeline)

    @property
    def sampler(self) -> PoseSampler:
        return self.runtime.sampler(self.timeline)

    def sample(self, times_s) -> Pose:
        return self.sampler.sample(times_s)

    def pose_track(self) -> PoseTrack:
        return self.runtime.pose_track(self.timeline)
