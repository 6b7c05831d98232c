"""Choosing phrases: emission scores, the Markov prior and choreography constraints, decoded.

Constraints (``DANCE-NOTES.md``):
- style coherence: one style for the song (the requested one, or the style whose phrases suit
  the music best);
- meter: 3/4 music takes 3/4 phrases while the library has any;
- no phrase twice in a row unless the music repeats itself there, and a new music phrase
  prefers a new move (variety); after decoding, no move comes back within ``MOVE_WINDOW``
  slots (eights) except by the structure rules below, and a move already danced is taken
  again only when it fits clearly better (``REUSE_PENALTY`` per earlier use);
- inside one music phrase, the second eight prefers the mirror of the first (symmetry);
- repeated sections reuse the dance of their first occurrence, slot by slot (switchable);
- energy follows the music: the emission model compares intensity and phrase energy.
Randomness (only a small seeded jitter on the emission) makes different seeds give different
but equally valid dances; the same seed always gives the same timeline.

Decoders (``DECODERS``): ``"viterbi"`` (the default) is the global Viterbi path through the
scorer's emission (for a bundle: its mix with the feature scorer), jittered, times the library's
transition prior with the constraint factors above; ``"greedy"`` decodes the same scores slot by
slot. Neither is the paper's eq. 6. ``"eq6"`` is eq. 6 exactly: slot by slot,
``d_t = argmax_k F(u_t)[k] M(d_{t-1} -> k)`` with F the model's probabilities alone (no feature
mix; the feature scorer's scores when there is no bundle), M the bundle's co-ascent matrix (the
library prior when there is no bundle), no jitter, no constraint factors, no style choice (a
requested ``style`` still filters the phrases) and no section reuse.
"""

from __future__ import annotations

import numpy as np

from musicdance.audio.analysis import Analysis
from musicdance.choreo.scoring import EmissionModel, FeatureScorer, score_table
from musicdance.choreo.slots import Slot, plan_slots, repeats_of
from musicdance.choreo.timeline import Choice, Timeline
from musicdance.decode import (
    SparseSteps,
    greedy_decode,
    sparse_greedy_decode,
    sparse_viterbi_decode,
    viterbi_decode,
)
from musicdance.errors import MusicDanceError
from musicdance.library.phrase import PhraseInfo
from musicdance.library.store import PhraseLibrary
from musicdance.library.table import PhraseTable, table_of
from musicdance.library.transition_graph import DEFAULT_K, TransitionGraph, graph_for
from musicdance.library.transition_graph import move_of as _move_of
from musicdance.library.transitions import transition_prior

REPEAT_PENALTY = 0.05
SAME_MOVE_PENALTY = 0.3
MIRROR_BONUS = 4.0
_VARIANT_SUFFIXES = ("-mirror", "-calm", "-medium", "-full")
JITTER = 0.15
#: A move is not danced again within this many slots (eights), structure rules aside.
MOVE_WINDOW = 3
#: Score factor per earlier use of a move in the song (variety across the whole dance).
REUSE_PENALTY = 0.6
DECODERS = ("viterbi", "greedy", "eq6")
TRANSITIONS = ("sparse", "dense")
#: States pushed along their listed edges per Viterbi step (all of a style up to this many).
DEFAULT_BEAM = 512
#: Above this many phrases, the alternatives per slot are ranked by partial sorting.
_FULL_SORT_MAX = 4096
#: Music more than this many times faster than its style's phrases is danced in half time
#: (DANCE-NOTES: dancers move on every other beat at fast tempos; a hip-hop phrase built for
#: 95 BPM is not danced 1.7x fast to a 163-BPM song). For the starter styles (84-132 BPM)
#: hip-hop goes half time above about 138 BPM, house above about 176.
HALF_TIME_RATIO = 1.45


def mirror_index(infos: list[PhraseInfo]) -> np.ndarray:
    """For each phrase, the index of its mirrored twin (``ID`` <-> ``ID-mirror``), or -1."""
    index = {info.id: k for k, info in enumerate(infos)}
    twins = np.full(len(infos), -1, dtype=np.int64)
    for k, info in enumerate(infos):
        twin = info.id[: -len("-mirror")] if info.id.endswith("-mirror") else f"{info.id}-mirror"
        twins[k] = index.get(twin, -1)
    return twins


def move_of(phrase_id: str) -> str:
    """The move a phrase is a variant of: its id without mirror and energy suffixes."""
    return _move_of(phrase_id)


def step_transitions(slots: list[Slot], infos: list[PhraseInfo], prior: np.ndarray) -> np.ndarray:
    """Per-step matrices ``[N - 1, K, K]``: the prior with the repeat and mirror constraints."""
    num = max(len(slots) - 1, 0)
    steps = np.broadcast_to(prior, (num, *prior.shape)).copy()
    twins = mirror_index(infos)
    has_twin = np.flatnonzero(twins >= 0)
    diagonal = np.arange(len(infos))
    moves = np.array([move_of(info.id) for info in infos])
    same_move = moves[:, None] == moves[None, :]
    for t in range(1, len(slots)):
        before, now = slots[t - 1], slots[t]
        same_music = (before.section_label, before.position_in_section) == (
            now.section_label,
            now.position_in_section,
        )
        if not same_music:
            steps[t - 1, diagonal, diagonal] *= REPEAT_PENALTY
        if before.music_phrase == now.music_phrase:
            steps[t - 1, has_twin, twins[has_twin]] *= MIRROR_BONUS
        elif not same_music:
            steps[t - 1][same_move] *= SAME_MOVE_PENALTY
    return steps


def choreograph(
    analysis: Analysis,
    library: PhraseLibrary,
    *,
    style: str | None = None,
    seed: int = 0,
    fps: float = 30.0,
    decoder: str = "viterbi",
    reuse_sections: bool = True,
    top_k: int = 5,
    scorer: EmissionModel | None = None,
    transitions: str = "sparse",
    graph_k: int = DEFAULT_K,
    beam: int | None = DEFAULT_BEAM,
    timings: dict[str, float] | None = None,
    half_time_ratio: float | None = HALF_TIME_RATIO,
) -> Timeline:
    """Pick one library phrase per slot of the analysed song.

    transitions: ``"sparse"`` (the library's transition graph with ``graph_k`` successors per
    phrase, Viterbi with a ``beam``; exactly the dense answer while a style has at most
    ``graph_k`` and ``beam`` phrases) or ``"dense"`` (the ``K x K`` prior; small libraries).
    timings: when given, filled with the seconds of ``scoring``, ``transitions`` and
    ``decoding``. half_time_ratio: when the music is more than this many times faster than
    the song's style is danced (the median tempo of its phrases), the phrases' counts go on
    every other beat (``dances_half_time``; None: never).
    """
    if decoder not in DECODERS:
        raise MusicDanceError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    if transitions not in TRANSITIONS:
        raise MusicDanceError(
            f"transitions must be one of {', '.join(TRANSITIONS)}, got {transitions!r}"
        )
    clock = _Clock(timings)
    slots = plan_slots(analysis)
    if not slots:
        raise MusicDanceError(
            "no phrases to dance to: the analysis found no beats or phrases "
            "(silence, or no detectable pulse)",
            analysis.path,
        )
    scorer = scorer or FeatureScorer()
    if decoder == "eq6":
        infos = candidate_infos(library, style)
        return _choreograph_eq6(analysis, library, slots, infos, scorer, style, seed, fps, top_k)
    full = table_of(library)
    rows = candidate_rows(library, full, style)
    table = full.take(rows)
    emission = score_table(scorer, slots, table, library)
    if style is None:
        style = best_style_of(emission, table)
        keep = np.flatnonzero(table.style == style)
        rows, table, emission = rows[keep], table.take(keep), emission[:, keep]
    if half_time_ratio is not None and dances_half_time(analysis, table, half_time_ratio):
        halved = plan_slots(analysis, half_time=True)
        if halved:
            slots, emission = halved, score_table(scorer, halved, table, library)
    rng = np.random.default_rng(seed)
    jittered = emission * np.exp(JITTER * rng.standard_normal(emission.shape))
    clock.lap("scoring")
    if transitions == "dense":
        infos = _infos_of(library, table)
        steps = step_transitions(slots, infos, transition_prior(infos))
        decode = viterbi_decode if decoder == "viterbi" else greedy_decode
        clock.lap("transitions")
    else:
        graph = library_graph(library, full, k=graph_k).subgraph(rows)
        steps = sparse_steps(slots, graph)
        clock.lap("transitions")
        if decoder == "viterbi":

            def decode(e, s, allowed=None):
                return sparse_viterbi_decode(e, s, allowed, beam=beam)

        else:
            decode = sparse_greedy_decode
    path = decode(jittered, steps)
    if reuse_sections:
        first = repeats_of(slots)
        tied = np.flatnonzero(first >= 0)
        if len(tied):
            allowed = np.ones_like(emission, dtype=bool)
            allowed[tied] = False
            allowed[tied, path[first[tied]]] = True
            for _ in range(4):  # the first occurrences may change once the ties bind them
                path = decode(jittered, steps, allowed)
                if np.array_equal(path[tied], path[first[tied]]):
                    break
                allowed[tied] = False
                allowed[tied, path[first[tied]]] = True
            path[tied] = path[first[tied]]  # first occurrences are never tied themselves
    first_of = repeats_of(slots) if reuse_sections else np.full(len(slots), -1)
    path = vary_moves(path, jittered, steps, table.ids.tolist(), slots, first_of)
    choices = _choices(path, emission, steps, table.ids, top_k)
    clock.lap("decoding")
    return Timeline(
        song=_song(analysis),
        library=str(library.path),
        fps=float(fps),
        seed=int(seed),
        style=style,
        decoder=decoder,
        slots=slots,
        choices=choices,
    )


class _Clock:
    """Adds the seconds since the last lap to ``timings[name]`` (nothing when None)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        import time

        self._time = time.perf_counter
        self.timings = timings
        self.last = self._time()

    def lap(self, name: str) -> None:
        now = self._time()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def dances_half_time(
    analysis: Analysis, table: PhraseTable, ratio: float = HALF_TIME_RATIO
) -> bool:
    """Whether the song is danced in half time with the phrases of ``table`` (one style): its
    meter is even and its tempo more than ``ratio`` times their median tempo."""
    if analysis.meter == 3 or not len(table):
        return False
    return float(analysis.tempo_bpm) > ratio * float(np.median(table.tempo_bpm))


def candidate_rows(library, table: PhraseTable, style: str | None) -> np.ndarray:
    """Rows of ``table`` the song may use (one style, or all), with clear errors."""
    rows = table.rows_of_style(style) if style else np.arange(len(table))
    if not len(rows):
        available = table.styles()
        if style and available:
            raise MusicDanceError(
                f"no phrases of style {style!r} in the library (it has: {', '.join(available)})"
            )
        raise MusicDanceError("the phrase library is empty", library.path)
    return rows


def best_style_of(emission: np.ndarray, table: PhraseTable) -> str:
    """``best_style`` on a table: the style whose best phrase per slot scores highest."""
    styles, codes = table.style_codes()
    totals = {}
    for code, name in enumerate(styles):
        columns = np.flatnonzero(codes == code)
        totals[name] = float(np.log(emission[:, columns].max(axis=1)).sum())
    return max(totals, key=totals.get)


def library_graph(library, table: PhraseTable | None = None, *, k: int = DEFAULT_K):
    """The library's transition graph (cached in memory and in its ``index/`` folder)."""
    table = table if table is not None else table_of(library)
    if hasattr(library, "transition_graph"):
        return library.transition_graph(k=k)
    return graph_for(getattr(library, "path", None), table, k=k)


def sparse_steps(slots: list[Slot], graph: TransitionGraph) -> SparseSteps:
    """``step_transitions`` on the graph: the prior with the repeat, mirror and variety
    factors, as one weight array per kind of step (the factors depend only on whether the
    music repeats and whether the slots share a music phrase)."""
    prior, floor = graph.prior()
    sources = graph.sources()
    targets = graph.targets
    diagonal = targets == sources
    twin = targets == graph.twin[sources]
    same_move = graph.move[sources] == graph.move[targets]
    kinds: dict[tuple[bool, bool], int] = {}
    weights: list[np.ndarray] = []
    kind = np.zeros(max(len(slots) - 1, 0), dtype=np.int64)
    for t in range(1, len(slots)):
        before, now = slots[t - 1], slots[t]
        same_music = (before.section_label, before.position_in_section) == (
            now.section_label,
            now.position_in_section,
        )
        key = (same_music, before.music_phrase == now.music_phrase)
        if key not in kinds:
            w = prior.copy()
            if not same_music:
                w[diagonal] *= REPEAT_PENALTY
            if key[1]:
                w[twin] *= MIRROR_BONUS
            elif not same_music:
                w[same_move] *= SAME_MOVE_PENALTY
            kinds[key] = len(weights)
            weights.append(w)
        kind[t - 1] = kinds[key]
    return SparseSteps(graph.indptr, graph.targets, weights, kind, floor)


def _infos_of(library, table: PhraseTable) -> list[PhraseInfo]:
    by_id = {info.id: info for info in library.infos(ids=table.ids.tolist())}
    return [by_id[p] for p in table.ids.tolist()]


def _transition_row(steps, t: int, source: int, num: int) -> np.ndarray:
    """``M(source -> j)`` into slot ``t`` for every j, ``[K]``, from dense ``[N - 1, K, K]``
    steps or ``SparseSteps``."""
    if isinstance(steps, np.ndarray):
        return steps[t - 1, source]
    row = np.full(num, float(steps.floor[source]))
    a, b = int(steps.indptr[source]), int(steps.indptr[source + 1])
    row[steps.targets[a:b]] = steps.weights[int(steps.kind[t - 1])][a:b]
    return row


def _transition_column(steps, t: int, target: int, num: int) -> np.ndarray:
    """``M(i -> target)`` into slot ``t`` for every i, ``[K]`` (dense or ``SparseSteps``)."""
    if isinstance(steps, np.ndarray):
        return steps[t - 1, :, target]
    column = np.asarray(steps.floor, dtype=float).copy()
    sources = np.repeat(np.arange(num), np.diff(steps.indptr))
    listed = steps.targets == target
    column[sources[listed]] = steps.weights[int(steps.kind[t - 1])][listed]
    return column


def vary_moves(
    path: np.ndarray,
    emission: np.ndarray,
    steps,
    ids: list[str],
    slots: list[Slot],
    first_of: np.ndarray,
) -> np.ndarray:
    """The decoded ``path [N]`` revised slot by slot for variety (DANCE-NOTES: a song shows
    many moves; repeats come from the music's structure, not from the decoder).

    Each slot keeps the phrase maximising ``emission * M(previous -> phrase) [* M(phrase ->
    next) when the next slot is tied]``, times ``REUSE_PENALTY`` per earlier use of its move,
    among the phrases whose move was not danced in the last ``MOVE_WINDOW`` slots. Exempt: the
    mirror twin of the previous slot's phrase in the same music phrase (the mirrored second
    eight), and slots that repeat an earlier section (``first_of >= 0``), which copy it.
    ``steps``: dense ``[N - 1, K, K]`` or ``SparseSteps``; ``ids``: the K phrase ids.
    """
    path = np.asarray(path).copy()
    num = len(ids)
    moves = np.array([move_of(i) for i in ids])
    twins = twin_index(ids)
    uses: dict[str, int] = {}
    for t in range(len(path)):
        if first_of[t] >= 0:
            path[t] = path[first_of[t]]
        else:
            score = np.asarray(emission[t], dtype=float).copy()
            if t > 0:
                score = score * _transition_row(steps, t, int(path[t - 1]), num)
            if t + 1 < len(path) and 0 <= first_of[t + 1] < t:
                target = int(path[first_of[t + 1]])
                score = score * _transition_column(steps, t + 1, target, num)
            same_phrase = t > 0 and slots[t].music_phrase == slots[t - 1].music_phrase
            choice = vary_step(score, moves, twins, path[max(t - MOVE_WINDOW, 0) : t], uses,
                               same_phrase=same_phrase)  # fmt: skip
            if choice >= 0:
                path[t] = choice
            # else: keep the decoder's choice (a library with too few moves for the window)
        uses[moves[path[t]]] = uses.get(moves[path[t]], 0) + 1
    return path


def twin_index(ids: list[str]) -> np.ndarray:
    """For each phrase id, the index of its mirrored twin in ``ids`` (``ID`` <-> ``ID-mirror``),
    or -1."""
    index = {phrase_id: k for k, phrase_id in enumerate(ids)}
    return np.array(
        [index.get(i[: -len("-mirror")] if i.endswith("-mirror") else f"{i}-mirror", -1)
         for i in ids], dtype=np.int64,
    )  # fmt: skip


def vary_step(
    score: np.ndarray,
    moves: np.ndarray,
    twins: np.ndarray,
    recent: np.ndarray,
    uses: dict[str, int],
    *,
    same_phrase: bool,
) -> int:
    """One slot of ``vary_moves``: the phrase maximising ``score [K]`` (emission times the
    transition factors) times ``REUSE_PENALTY`` per earlier use of its move, among phrases whose
    move is not one of the ``recent`` phrases' (the last ``MOVE_WINDOW`` slots, oldest first);
    the mirror twin of the last one is allowed in the same music phrase. -1 when nothing is
    allowed."""
    score = score * REUSE_PENALTY ** np.array([uses.get(m, 0) for m in moves])
    recent = np.asarray(recent, dtype=np.int64)
    allowed = ~np.isin(moves, list({moves[p] for p in recent}))
    if same_phrase and len(recent):
        twin = twins[recent[-1]]
        before = {moves[p] for p in recent[:-1]}
        if twin >= 0 and moves[twin] not in before:
            allowed[twin] = True
            score[twin] /= REUSE_PENALTY ** uses.get(moves[twin], 0)
    if not np.any(allowed & (score > 0)):
        return -1
    return int(np.argmax(np.where(allowed, score, -1.0)))


def candidate_infos(library: PhraseLibrary, style: str | None) -> list[PhraseInfo]:
    infos = library.infos(styles=[style] if style else ())
    if not infos:
        available = sorted({i.style for i in library.infos()})
        if style and available:
            raise MusicDanceError(
                f"no phrases of style {style!r} in the library (it has: {', '.join(available)})"
            )
        raise MusicDanceError("the phrase library is empty", library.path)
    return infos


def best_style(emission: np.ndarray, infos: list[PhraseInfo]) -> str:
    """The style whose best phrase per slot scores highest over the song."""
    styles = sorted({i.style for i in infos})
    totals = {}
    for style in styles:
        columns = [k for k, i in enumerate(infos) if i.style == style]
        totals[style] = float(np.log(emission[:, columns].max(axis=1)).sum())
    return max(totals, key=totals.get)


def _song(analysis: Analysis) -> dict:
    return {
        "path": analysis.path,
        "duration_s": round(float(analysis.duration_s), 4),
        "tempo_bpm": round(float(analysis.tempo_bpm), 3),
        "meter": int(analysis.meter),
    }


def _choreograph_eq6(
    analysis: Analysis,
    library: PhraseLibrary,
    slots: list[Slot],
    infos: list[PhraseInfo],
    scorer: EmissionModel,
    style: str | None,
    seed: int,
    fps: float,
    top_k: int,
) -> Timeline:
    """The paper's eq. 6, greedily along the song (see the module docs)."""
    model_scores = getattr(scorer, "model_scores", None)
    emission = model_scores(slots, infos) if model_scores else scorer.score(slots, infos)
    bundle_prior = getattr(scorer, "transition_prior", None)
    prior = bundle_prior(infos) if bundle_prior else transition_prior(infos)
    path = greedy_decode(emission, prior)
    steps = np.broadcast_to(prior, (max(len(slots) - 1, 0), *prior.shape))
    choices = _choices(path, emission, steps, [info.id for info in infos], top_k)
    if style is None:  # the style most of the chosen phrases have (alternatives list it)
        chosen = [infos[k].style for k in path]
        style = max(sorted(set(chosen)), key=chosen.count)
    return Timeline(
        song=_song(analysis), library=str(library.path), fps=float(fps), seed=int(seed),
        style=style, decoder="eq6", slots=slots, choices=choices,
    )  # fmt: skip


def _ranking(scores: np.ndarray, top_k: int) -> np.ndarray:
    """Indices of the ``top_k`` highest scores, best first."""
    if len(scores) <= _FULL_SORT_MAX or top_k >= len(scores):
        return np.argsort(-scores)[:top_k]
    part = np.argpartition(-scores, top_k - 1)[:top_k]
    return part[np.lexsort((part, -scores[part]))]


def _choices(path: np.ndarray, emission: np.ndarray, steps, ids, top_k: int) -> list[Choice]:
    ids = list(ids)
    choices = []
    for t, k in enumerate(path):
        ranking = _ranking(emission[t], top_k)
        if t == 0:
            prior = None
        elif isinstance(steps, SparseSteps):
            prior = steps.value(t, int(path[t - 1]), int(k))
        else:
            prior = float(steps[t - 1, path[t - 1], k])
        choices.append(
            Choice(
                phrase_id=ids[k],
                score=float(emission[t, k]),
                alternatives=[
                    {"phrase_id": ids[j], "score": round(float(emission[t, j]), 6)} for j in ranking
                ],
                transition_prior=prior,
            )
        )
    return choices


def alternatives(
    timeline: Timeline,
    library: PhraseLibrary,
    slot: int,
    *,
    top_k: int = 10,
    scorer: EmissionModel | None = None,
) -> list[dict]:
    """Phrases for ``slot`` ranked by ``F(slot) * M(previous -> phrase) * M(phrase -> next)``.

    Returns dicts with ``phrase_id``, ``score`` (the product), ``emission``, ``prior_in`` and
    ``prior_out``; the current phrase is included and flagged with ``current``.
    """
    timeline.check_slot(slot)
    full = table_of(library)
    rows = full.rows_of_style(timeline.style)
    if not len(rows):
        raise MusicDanceError(f"the library has no phrases of style {timeline.style!r}")
    table = full.take(rows)
    ids = table.ids.tolist()
    emission = score_table(scorer or FeatureScorer(), [timeline.slots[slot]], table, library)[0]
    graph = library_graph(library, full).subgraph(rows)
    prior, floor = graph.prior()
    chosen = timeline.phrase_ids()
    prior_in = np.ones(len(ids))
    prior_out = np.ones(len(ids))
    if slot > 0 and chosen[slot - 1] in ids:
        before = ids.index(chosen[slot - 1])
        a, b = graph.indptr[before], graph.indptr[before + 1]
        prior_in = np.full(len(ids), floor[before])
        prior_in[graph.targets[a:b]] = prior[a:b]
    if slot + 1 < len(chosen) and chosen[slot + 1] in ids:
        into = np.flatnonzero(graph.targets == ids.index(chosen[slot + 1]))
        prior_out = floor.copy()
        prior_out[graph.sources()[into]] = prior[into]
    total = emission * prior_in * prior_out
    ranking = _ranking(total, top_k)
    return [
        {
            "phrase_id": ids[k],
            "score": float(total[k]),
            "emission": float(emission[k]),
            "prior_in": float(prior_in[k]),
            "prior_out": float(prior_out[k]),
            "current": ids[k] == chosen[slot],
        }
        for k in ranking
    ]


def replace_phrase(
    timeline: Timeline, library: PhraseLibrary, slot: int, phrase_id: str
) -> Timeline:
    """A copy of ``timeline`` with ``phrase_id`` in ``slot`` (any phrase of the library)."""
    timeline.check_slot(slot)
    info = library.info(phrase_id)  # raises a clear error for unknown ids
    if (info.meter == 3) != (timeline.slots[slot].meter == 3):
        raise MusicDanceError(
            f"phrase {phrase_id} is in {info.meter}/4 but the music is in "
            f"{timeline.slots[slot].meter}/4"
        )
    choices = list(timeline.choices)
    score = float(FeatureScorer().score([timeline.slots[slot]], [info])[0, 0])
    choices[slot] = Choice(phrase_id, score, choices[slot].alternatives, None)
    return Timeline(**{**timeline.__dict__, "choices": choices})
