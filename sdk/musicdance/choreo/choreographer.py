"""Choosing phrases: emission scores, the Markov prior and choreography constraints, decoded.

Constraints (``DANCE-NOTES.md``):
- style coherence: one style for the song (the requested one, or the style whose phrases suit
  the music best);
- meter: 3/4 music takes 3/4 phrases while the library has any;
- no phrase twice in a row unless the music repeats itself there, and a new music phrase
  prefers a new move (variety);
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
from musicdance.choreo.scoring import EmissionModel, FeatureScorer
from musicdance.choreo.slots import Slot, plan_slots, repeats_of
from musicdance.choreo.timeline import Choice, Timeline
from musicdance.decode import greedy_decode, viterbi_decode
from musicdance.errors import MusicDanceError
from musicdance.library.phrase import PhraseInfo
from musicdance.library.store import PhraseLibrary
from musicdance.library.transitions import transition_prior

REPEAT_PENALTY = 0.05
SAME_MOVE_PENALTY = 0.3
MIRROR_BONUS = 4.0
_VARIANT_SUFFIXES = ("-mirror", "-calm", "-medium", "-full")
JITTER = 0.15
DECODERS = ("viterbi", "greedy", "eq6")


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
    changed = True
    while changed:
        changed = False
        for suffix in _VARIANT_SUFFIXES:
            if phrase_id.endswith(suffix):
                phrase_id, changed = phrase_id[: -len(suffix)], True
    return phrase_id


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
) -> Timeline:
    """Pick one library phrase per slot of the analysed song."""
    if decoder not in DECODERS:
        raise MusicDanceError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    slots = plan_slots(analysis)
    if not slots:
        raise MusicDanceError(
            "no phrases to dance to: the analysis found no beats or phrases "
            "(silence, or no detectable pulse)",
            analysis.path,
        )
    scorer = scorer or FeatureScorer()
    infos = candidate_infos(library, style)
    if decoder == "eq6":
        return _choreograph_eq6(analysis, library, slots, infos, scorer, style, seed, fps, top_k)
    emission = scorer.score(slots, infos)
    if style is None:
        style = best_style(emission, infos)
        keep = [k for k, i in enumerate(infos) if i.style == style]
        infos, emission = [infos[k] for k in keep], emission[:, keep]
    rng = np.random.default_rng(seed)
    jittered = emission * np.exp(JITTER * rng.standard_normal(emission.shape))
    prior = transition_prior(infos)
    steps = step_transitions(slots, infos, prior)
    decode = viterbi_decode if decoder == "viterbi" else greedy_decode
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
    choices = _choices(path, emission, steps, infos, top_k)
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
    choices = _choices(path, emission, steps, infos, top_k)
    if style is None:  # the style most of the chosen phrases have (alternatives list it)
        chosen = [infos[k].style for k in path]
        style = max(sorted(set(chosen)), key=chosen.count)
    return Timeline(
        song=_song(analysis), library=str(library.path), fps=float(fps), seed=int(seed),
        style=style, decoder="eq6", slots=slots, choices=choices,
    )  # fmt: skip


def _choices(
    path: np.ndarray, emission: np.ndarray, steps: np.ndarray, infos: list[PhraseInfo], top_k: int
) -> list[Choice]:
    choices = []
    for t, k in enumerate(path):
        ranking = np.argsort(-emission[t])[:top_k]
        choices.append(
            Choice(
                phrase_id=infos[k].id,
                score=float(emission[t, k]),
                alternatives=[
                    {"phrase_id": infos[j].id, "score": round(float(emission[t, j]), 6)}
                    for j in ranking
                ],
                transition_prior=None if t == 0 else float(steps[t - 1, path[t - 1], k]),
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
    infos = library.infos(styles=[timeline.style])
    if not infos:
        raise MusicDanceError(f"the library has no phrases of style {timeline.style!r}")
    ids = [i.id for i in infos]
    emission = (scorer or FeatureScorer()).score([timeline.slots[slot]], infos)[0]
    prior = transition_prior(infos)
    chosen = timeline.phrase_ids()
    prior_in = np.ones(len(infos))
    prior_out = np.ones(len(infos))
    if slot > 0 and chosen[slot - 1] in ids:
        prior_in = prior[ids.index(chosen[slot - 1])]
    if slot + 1 < len(chosen) and chosen[slot + 1] in ids:
        prior_out = prior[:, ids.index(chosen[slot + 1])]
    total = emission * prior_in * prior_out
    ranking = np.argsort(-total)[:top_k]
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

