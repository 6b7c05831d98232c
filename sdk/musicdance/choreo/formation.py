"""Formations for a group of dancers and the paths between them.

A formation is ``[N, 2]`` floor spots ``(x, z)`` in metres, audience towards +Z (the front row
has the largest z), stage left (the dancers' left, facing the audience) towards +X. Spot 0 is
the lead's (the point of a V, the middle of a line). Formations change on section boundaries:
dancers are assigned to the new spots so that the total squared travel is smallest (the lead
keeps spot 0), travel in the last counts before the boundary, and the paths are relaxed apart
so that no two hips come closer than :data:`MIN_DISTANCE_M` at any frame
(:func:`min_distances_m` checks every frame).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = [
    "FORMATIONS",
    "MIN_DISTANCE_M",
    "EXACT_BELOW_M",
    "SPACING_M",
    "assign_spots",
    "formation_spots",
    "min_distances_m",
    "read_formation_file",
    "relax_paths",
]

#: Formation names; ``auto`` picks one per section from its role (see ``group.ROLE_FORMATION``).
FORMATIONS = ("auto", "line", "v", "circle", "grid")
#: Two dancers' hips never come closer than this (an arm's length between bodies).
MIN_DISTANCE_M = 0.6
#: Distance between neighbouring spots of the built-in formations.
SPACING_M = 1.4
#: Most dancers in one line; more make staggered rows behind it.
LINE_MAX = 8


def formation_spots(name: str, count: int, spacing_m: float = SPACING_M) -> np.ndarray:
    """``[count, 2]`` spots of a built-in formation, centred on x = 0, front row at z = 0."""
    if count < 1:
        raise MusicDanceError(f"a formation needs at least one dancer, got {count}")
    if name == "line":
        return _rows(count, spacing_m, LINE_MAX)
    if name == "grid":  # staggered rows ("windows": nobody hides behind another)
        return _rows(count, spacing_m, max(2, math.ceil(math.sqrt(count * 1.5))))
    if name == "v":
        return _v(count, spacing_m)
    if name == "circle":
        return _circle(count, spacing_m)
    raise MusicDanceError(f"formation must be one of {', '.join(FORMATIONS)}, got {name!r}")


def _rows(count: int, spacing_m: float, per_row: int) -> np.ndarray:
    """Rows of ``per_row`` (the last may be shorter), centred, each offset by half a spacing
    from the one in front; the middle of the front row first."""
    spots = []
    for row in range(math.ceil(count / per_row)):
        size = min(per_row, count - row * per_row)
        xs = (np.arange(size) - (size - 1) / 2) * spacing_m + (row % 2) * spacing_m / 2
        order = np.argsort(np.abs(xs), kind="stable")
        spots += [(float(xs[k]), -row * spacing_m) for k in order]
    spots_m = np.array(spots)
    spots_m[:, 0] -= spots_m[:, 0].mean()
    return spots_m


def _v(count: int, spacing_m: float) -> np.ndarray:
    """A V (wedge) opening away from the audience, lead at the point; more than 15 dancers
    make several V's one behind the other."""
    arm = 7
    spots = []
    step = spacing_m / math.sqrt(2)
    for k in range(count):
        wedge, place = divmod(k, 2 * arm + 1)
        rank = (place + 1) // 2
        side = 1 if place % 2 else -1
        spots.append((side * rank * step, -rank * step - wedge * (arm + 1.5) * step))
    return np.array(spots, dtype=float)


def _circle(count: int, spacing_m: float) -> np.ndarray:
    """A circle whose neighbouring spots are ``spacing_m`` apart, spot 0 nearest the audience."""
    if count == 1:
        return np.zeros((1, 2))
    radius = max(spacing_m / (2 * math.sin(math.pi / count)), spacing_m / 2)
    angle = np.arange(count) * 2 * math.pi / count
    spots = np.stack([radius * np.sin(angle), radius * (np.cos(angle) - 1.0)], -1)
    return spots


def read_formation_file(path: str | os.PathLike[str], count: int) -> list[np.ndarray]:
    """Formations from a JSON file: ``{"formations": [[[x, z], ...], ...]}`` (used in turn,
    section after section) or ``{"positions_m": [[x, z], ...]}`` (one for the whole song);
    each with ``count`` spots at least ``SPACING_M / 2`` apart (metres)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"cannot read formation file ({error})", path) from None
    if not isinstance(data, dict):
        raise MusicDanceError("formation file must be a JSON object", path)
    raw = data.get("formations", [data.get("positions_m")] if "positions_m" in data else None)
    if not isinstance(raw, list) or not raw:
        raise MusicDanceError('formation file needs "formations" or "positions_m"', path)
    formations = []
    for number, spots in enumerate(raw):
        try:
            array = np.asarray(spots, dtype=float)
        except (TypeError, ValueError):
            array = np.zeros((0, 0))
        if array.shape != (count, 2) or not np.all(np.isfinite(array)):
            raise MusicDanceError(
                f"formation {number} must be {count} finite [x, z] pairs (one per dancer)", path
            )
        closest = _closest_pair_m(array)
        if closest < SPACING_M / 2:
            raise MusicDanceError(
                f"formation {number} has two spots {closest:.2f} m apart; keep at least "
                f"{SPACING_M / 2:g} m (hips never closer than {MIN_DISTANCE_M:g} m)",
                path,
            )
        formations.append(array)
    return formations


def _closest_pair_m(spots: np.ndarray) -> float:
    if len(spots) < 2:
        return math.inf
    gaps = np.linalg.norm(spots[:, None] - spots[None], axis=-1)
    return float(gaps[np.triu_indices(len(spots), 1)].min())


def assign_spots(
    current: np.ndarray,
    spots: np.ndarray,
    lead: int | None,
    *,
    extra_cost: np.ndarray | None = None,
) -> np.ndarray:
    """``[N]`` spot index for each dancer standing at ``current [N, 2]``: the assignment with
    the least total squared travel (plus ``extra_cost [N, N]``, dancer x spot), the lead (when
    given) on spot 0."""
    from scipy.optimize import linear_sum_assignment

    cost = ((current[:, None] - spots[None]) ** 2).sum(-1)
    if extra_cost is not None:
        cost = cost + extra_cost
    if lead is not None and len(spots) > 1:
        cost[lead, :] += 1e9
        cost[:, 0] += 1e9
        cost[lead, 0] = 0.0
    rows, columns = linear_sum_assignment(cost)
    order = np.empty(len(current), dtype=np.int64)
    order[rows] = columns
    return order


#: Sideways share of the push between two dancers who are too close (``relax_paths``).
SIDESTEP = 0.6
#: ``min_distances_m`` is exact below this distance (above it: a lower bound).
EXACT_BELOW_M = 1.5


def _candidate_pairs(block: np.ndarray, reach_m: float) -> tuple[np.ndarray, np.ndarray, float]:
    """For ``block [N, c, 2]`` (c frames), the pairs that may come within ``reach_m`` (by a
    bound: centre distance minus both radii) and the smallest bound of the others."""
    centre = block.mean(axis=1)
    radius = np.linalg.norm(block - centre[:, None], axis=-1).max(axis=1)
    bound = np.linalg.norm(centre[:, None] - centre[None], axis=-1) - radius[:, None] - radius
    upper = np.triu(np.ones(bound.shape, dtype=bool), 1)
    near = upper & (bound < reach_m)
    rest = bound[upper & ~near]
    first, second = np.nonzero(near)
    return first, second, float(rest.min()) if rest.size else np.inf


def min_distances_m(positions_m: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``[T]`` smallest floor distance between two dancers at every frame, from hips
    ``positions_m [N, T, 2]`` (x, z), exact below ``EXACT_BELOW_M`` (a lower bound above it:
    pairs that cannot come that close, by their blocks' centres and radii, are not measured);
    ``inf`` for one dancer."""
    count, frames = positions_m.shape[:2]
    out = np.full(frames, np.inf)
    if count < 2:
        return out
    for start in range(0, frames, chunk):
        block = positions_m[:, start : start + chunk]
        first, second, rest = _candidate_pairs(block, EXACT_BELOW_M)
        best = np.full(block.shape[1], rest)
        if len(first):
            gaps = np.linalg.norm(block[first] - block[second], axis=-1).min(axis=0)
            best = np.minimum(best, gaps)
        out[start : start + chunk] = best
    return out


def _near_pairs(paths: np.ndarray, reach_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of dancers that may come within ``reach_m`` of each other at some frame."""
    first, second, _ = _candidate_pairs(paths, reach_m)
    return first, second


def relax_paths(
    centres_m: np.ndarray,
    clearance_m: float,
    *,
    fixed: np.ndarray | None = None,
    iterations: int = 200,
) -> np.ndarray:
    """``centres_m [N, T, 2]`` pushed apart, frame by frame, until every pair is at least
    ``clearance_m`` apart, then smoothed along time so nobody jumps; frames flagged in
    ``fixed [T]`` (the held formations, already far enough apart) do not move. Only pairs that
    come near each other are looked at (re-found every 50 iterations). Returns the relaxed copy
    (unchanged where nothing was too close)."""
    paths = np.array(centres_m, dtype=float, copy=True)
    count, frames = paths.shape[:2]
    if count < 2 or frames == 0:
        return paths
    free = np.ones(frames, dtype=bool) if fixed is None else ~np.asarray(fixed, dtype=bool)
    kernel = np.array([0.25, 0.5, 0.25])
    pairs = None
    for step in range(iterations):
        if step % 50 == 0:
            pairs = _near_pairs(paths, 2.0 * clearance_m)
            if not len(pairs[0]):
                break
        delta = paths[pairs[0]] - paths[pairs[1]]  # [pairs, T, 2]
        gap = np.linalg.norm(delta, axis=-1)
        short = (gap < clearance_m) & free[None]
        if not short.any():
            if step % 50 == 0:
                break
            continue
        direction = np.where(gap[..., None] > 1e-9, delta / np.maximum(gap, 1e-9)[..., None],
                             np.array([1.0, 0.0]))  # fmt: skip
        # a sideways share makes two dancers walking head-on step around each other
        direction = direction + SIDESTEP * np.stack([-direction[..., 1], direction[..., 0]], -1)
        push = np.where(short, (clearance_m - gap) * 0.55, 0.0)[..., None] * direction
        move = np.zeros_like(paths)
        np.add.at(move, pairs[0], push)
        np.add.at(move, pairs[1], -push)
        paths += move * free[None, :, None]
        smooth = paths.copy()
        smooth[:, 1:-1] = (kernel[0] * paths[:, :-2] + kernel[1] * paths[:, 1:-1]
                           + kernel[2] * paths[:, 2:])  # fmt: skip
        paths = np.where(free[None, :, None], smooth, paths)
    return paths
