"""How well phrase j can follow phrase i: the K x K transition cost and the Markov prior.

The paper (Duan et al.) rescales the predictor's phrase probabilities with a first-order
transition matrix initialised from dance style and clipped to [0.01, 1]. Here the initial prior
also looks at the join itself (``DANCE-NOTES.md``): the pose and velocity at the end of i
against the start of j (``transition_features``), whether the weight-bearing foot carries over,
whether the facing after the join drifts from the front, and the styles. Lower cost is better;
the prior is ``exp(-cost)``, clipped and normalised per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.library.phrase import FEATURE_JOINTS, PhraseInfo

__all__ = [
    "STYLE_FAMILIES",
    "TransitionWeights",
    "pair_costs",
    "pose_velocity_cost",
    "transition_costs",
    "transition_prior",
]

#: Styles whose moves mix well with each other.
STYLE_FAMILIES = (
    frozenset({"hiphop", "popping", "locking", "breaking"}),
    frozenset({"pop", "jazz", "house"}),
    frozenset({"waltz", "ballroom"}),
)
_POSE = slice(0, 3 * len(FEATURE_JOINTS) + 1)
_VELOCITY = slice(3 * len(FEATURE_JOINTS) + 1, None)


@dataclass(frozen=True)
class TransitionWeights:
    """Scales of the cost terms: a pose gap of ``pose_m`` (RMS over joints) costs 1, as does a
    velocity gap of ``velocity_mps``, a support-foot clash, a join that leaves the dancer
    turned 180 degrees from the front (``facing`` per half turn), and unrelated styles."""

    pose_m: float = 0.15
    velocity_mps: float = 0.8
    support: float = 1.0
    facing: float = 1.0
    style: float = 1.0
    related_style: float = 0.4


def _rms_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS over 3-vectors of ``a [..., 3n]`` against ``b [..., 3n]`` (broadcast): ``[...]``."""
    return np.sqrt(np.mean((a - b) ** 2, axis=-1) * 3.0)


def pose_velocity_cost(
    a: np.ndarray, b: np.ndarray, weights: TransitionWeights | None = None
) -> np.ndarray:
    """Cost of cutting from pose features ``a [..., F]`` to ``b [..., F]`` (``pose_features``
    layout, broadcast): RMS pose gap over ``weights.pose_m`` plus RMS velocity gap over
    ``weights.velocity_mps``."""
    w = weights or TransitionWeights()
    pose = _rms_distance(a[..., _POSE], b[..., _POSE])
    return pose / w.pose_m + _rms_distance(a[..., _VELOCITY], b[..., _VELOCITY]) / w.velocity_mps


def _support_clash(end: str, start: str) -> float:
    """1 when the weight would have to jump feet across the join, 0.5 when unknown."""
    if {end, start} <= {"left", "right"}:
        return float(end != start)
    return 0.5 if "none" in (end, start) else 0.0


def _style_cost(a: str, b: str, weights: TransitionWeights) -> float:
    if a == b:
        return 0.0
    if any(a in family and b in family for family in STYLE_FAMILIES):
        return weights.related_style
    return weights.style


def transition_costs(
    infos: list[PhraseInfo], weights: TransitionWeights | None = None
) -> np.ndarray:
    """Cost ``[K, K]`` of playing phrase j (column) right after phrase i (row).

    Pose and velocity compare i's end features with j's start features (root-relative, in
    each phrase's own heading frame, so the join is judged as the runtime aligns it). Support:
    a phrase ending with the weight on the left should start with the weight on the left
    (the right foot then steps). Facing: after the join the dancer faces ``end_i + (end_j -
    start_j)``; the further from the front, the higher the cost.
    """
    w = weights or TransitionWeights()
    ends = np.stack([i.end_features for i in infos]).astype(float)
    starts = np.stack([i.start_features for i in infos]).astype(float)
    support = np.array([[_support_clash(a.support_end, b.support_start) for b in infos]
                        for a in infos])  # fmt: skip
    end_facing = np.array([i.facing_end_deg for i in infos])
    turn = np.array([i.facing_end_deg - i.facing_start_deg for i in infos])
    after = (end_facing[:, None] + turn[None, :] + 180.0) % 360.0 - 180.0
    style = np.array([[_style_cost(a.style, b.style, w) for b in infos] for a in infos])
    return (
        pose_velocity_cost(ends[:, None, :], starts[None, :, :], w)
        + w.support * support
        + w.facing * np.abs(after) / 180.0
        + style
    )


def _style_matrix(styles: list[str], weights: TransitionWeights) -> np.ndarray:
    """``[S, S]`` style cost between the listed styles (``_style_cost`` for each pair)."""
    return np.array([[_style_cost(a, b, weights) for b in styles] for a in styles], dtype=float)


def pair_costs(
    table, sources: np.ndarray, targets: np.ndarray, weights: TransitionWeights | None = None
) -> np.ndarray:
    """``transition_costs`` for listed pairs only: cost ``[E]`` of playing row ``targets[e]``
    right after row ``sources[e]`` of a ``PhraseTable`` (the same terms, the same arithmetic
    in the same order, so the values equal the dense matrix's entries bit for bit)."""
    from musicdance.library.table import SUPPORTS

    w = weights or TransitionWeights()
    sources, targets = np.asarray(sources), np.asarray(targets)
    ends = table.end_features[sources].astype(float)
    starts = table.start_features[targets].astype(float)
    end, start = table.support_end[sources], table.support_start[targets]
    feet = (end < 2) & (start < 2)
    none = SUPPORTS.index("none")
    support = np.where(
        feet, (end != start).astype(float), np.where((end == none) | (start == none), 0.5, 0.0)
    )
    turn = table.facing_end_deg[targets] - table.facing_start_deg[targets]
    after = (table.facing_end_deg[sources] + turn + 180.0) % 360.0 - 180.0
    styles, codes = table.style_codes()
    style = _style_matrix(styles, w)[codes[sources], codes[targets]]
    return (
        pose_velocity_cost(ends, starts, w)
        + w.support * support
        + w.facing * np.abs(after) / 180.0
        + style
    )


def transition_prior(
    infos: list[PhraseInfo],
    weights: TransitionWeights | None = None,
    *,
    floor: float = 0.01,
) -> np.ndarray:
    """Row-stochastic Markov prior ``[K, K]``: ``exp(-cost)`` clipped to ``[floor, 1]`` (as the
    paper clips its matrix) and normalised so each row sums to 1."""
    prior = np.clip(np.exp(-transition_costs(infos, weights)), floor, 1.0)
    return prior / prior.sum(axis=1, keepdims=True)
