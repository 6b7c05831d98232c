"""Group choreography: N dancers with formations and the group devices of DANCE-NOTES.md.

Devices (:data:`DEVICES`), one per section of the music, chosen inside the decoding:

- ``unison``: every dancer dances the phrase;
- ``mirror``: dancers on stage left (+X) dance its mirrored twin, the others the phrase;
- ``canon``: every dancer dances the phrase, started 0, 1 or 2 counts late by place across the
  formation (a ripple from stage right to stage left);
- ``call``: call and response: in the section's even slots the lead dances the phrase while the
  group grooves (the calm variant of the move), in the odd slots the group answers while the
  lead grooves;
- ``contrast``: stage left dances a different move of the same energy (the best one for the
  slot), the others the phrase.

Decoding: one Viterbi over states (phrase k, device d) per slot. A state's emission is the
group term ``G[role, d]`` (how well the device suits the section's role, from the music's
structure: intro, verse, build, chorus, bridge, outro) times the geometric mean over the dancers
of the emission of the phrase each dancer would dance; a step's weight is the geometric mean
over the dancers of the library's transition prior (with the single dancer's repeat, mirror and
variety factors) between the phrases each dancer dances, and the device may change only on a
section boundary (it then prefers a change). So every dancer has the same transition prior and
the group term is part of the score. Repeated sections reuse the first occurrence's device and
phrases; then the lead line is varied like a single dancer's (``vary_moves``).

Schema ``mdtool.group_timeline`` version 1 (``docs/group.md``): the shared slots (music, the
lead line's phrase, alternatives and prior, as in ``mdtool.timeline``), the dancers (name, lead,
home side, canon rank, their phrase and start offset in counts per slot), the sections (role,
device with every device's score, formation spots per dancer, travel counts) and the audience
direction. :meth:`GroupTimeline.dancer_timeline` is dancer d's own ``mdtool.timeline``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.audio.analysis import Analysis
from musicdance.choreo import choreographer as solo
from musicdance.choreo.formation import (
    FORMATIONS,
    MIN_DISTANCE_M,
    assign_spots,
    formation_spots,
)
from musicdance.choreo.scoring import EmissionModel, FeatureScorer, score_table
from musicdance.choreo.slots import Slot, plan_slots, repeats_of
from musicdance.choreo.timeline import (
    MAX_TIMELINE_BYTES,
    TIMELINE_SCHEMA,
    TIMELINE_VERSION,
    Choice,
    Timeline,
)
from musicdance.errors import MusicDanceError
from musicdance.library.table import table_of
from musicdance.library.transition_graph import mirror_index as mirror_twins

__all__ = [
    "DEVICES",
    "GROUP_SCHEMA",
    "GROUP_TERM",
    "GROUP_VERSION",
    "MAX_DANCERS",
    "ROLES",
    "Dancer",
    "GroupSection",
    "GroupTimeline",
    "choreograph_group",
    "is_group_json",
    "read_group_timeline",
    "section_roles",
    "write_group_timeline",
]

GROUP_SCHEMA = "mdtool.group_timeline"
GROUP_VERSION = 1
DEVICES = ("unison", "mirror", "canon", "call", "contrast")
ROLES = ("intro", "verse", "build", "chorus", "bridge", "outro")
#: Most dancers in one group.
MAX_DANCERS = 1000
#: How well each device suits a section's role (DANCE-NOTES.md, Groups): unison for choruses
#: and hits, canon on builds, call and response and contrast (sparingly) in verses.
GROUP_TERM = {
    "intro": {"unison": 0.5, "mirror": 0.4, "canon": 0.8, "call": 0.3, "contrast": 0.05},
    "verse": {"unison": 0.35, "mirror": 0.5, "canon": 0.3, "call": 0.6, "contrast": 0.6},
    "build": {"unison": 0.3, "mirror": 0.3, "canon": 1.0, "call": 0.4, "contrast": 0.05},
    "chorus": {"unison": 1.0, "mirror": 0.5, "canon": 0.15, "call": 0.15, "contrast": 0.02},
    "bridge": {"unison": 0.35, "mirror": 0.7, "canon": 0.5, "call": 0.7, "contrast": 0.4},
    "outro": {"unison": 0.8, "mirror": 0.4, "canon": 0.6, "call": 0.15, "contrast": 0.02},
}
#: Formation per role for ``--formation auto``.
ROLE_FORMATION = {"intro": "line", "verse": "grid", "build": "circle", "chorus": "v",
                  "bridge": "circle", "outro": "line"}  # fmt: skip
#: Above this many dancers (a crowd), ``--formation auto`` keeps one staggered grid: walks
#: between formations of a crowd would be tens of metres long.
CROWD_DANCERS = 16
#: Factor on keeping the previous section's device across a boundary (variety).
SAME_DEVICE_FACTOR = 0.6
#: Contrast partners differ in energy by at most this much.
CONTRAST_ENERGY = 0.15
#: A dancer whose home spot is further than this from the centre line is on a side.
SIDE_M = 0.3
#: Counts of travel before a formation change (at most ``MAX_TRAVEL_COUNTS``, so that nobody
#: walks faster than ``MAX_TRAVEL_MPS``).
TRAVEL_COUNTS = 4
MAX_TRAVEL_COUNTS = 8
MAX_TRAVEL_MPS = 1.6
#: Dancer classes (same phrase within a class, whatever the device).
_CLASSES = ("lead", "left", "centre", "right")


@dataclass
class Dancer:
    """One dancer: ``phrase_ids`` and ``offsets_counts`` (canon delay) per slot."""

    name: str
    lead: bool
    side: str  # "left" (stage left, +X), "centre" or "right"
    canon_rank: int  # 0, 1 or 2: counts of delay in canon sections
    phrase_ids: list[str]
    offsets_counts: list[int]

    def to_json(self) -> dict:
        return {"name": self.name, "lead": self.lead, "side": self.side,
                "canon_rank": self.canon_rank, "phrase_ids": list(self.phrase_ids),
                "offsets_counts": [int(o) for o in self.offsets_counts]}  # fmt: skip


@dataclass
class GroupSection:
    """A section of the song: slots ``first_slot:stop_slot``, its role, the device danced and
    every device's share of the decoded score (``device_scores``, for alternatives), the
    formation and each dancer's spot ``spots_m [N, 2]`` (x, z), reached by travelling over the
    ``travel_counts`` counts before the section starts."""

    label: str
    role: str
    first_slot: int
    stop_slot: int
    device: str
    device_scores: dict
    formation: str
    spots_m: np.ndarray
    travel_counts: int = 0

    def to_json(self) -> dict:
        return {"label": self.label, "role": self.role, "first_slot": self.first_slot,
                "stop_slot": self.stop_slot, "device": self.device,
                "device_scores": {k: round(float(v), 6) for k, v in self.device_scores.items()},
                "formation": self.formation,
                "spots_m": np.round(np.asarray(self.spots_m, dtype=float), 4).tolist(),
                "travel_counts": int(self.travel_counts)}  # fmt: skip


@dataclass
class GroupTimeline:
    """A group choreography: the shared slots (``base``: the lead line), dancers, sections."""

    base: Timeline
    dancers: list[Dancer]
    sections: list[GroupSection]
    audience_yaw_deg: float = 0.0
    min_distance_m: float = MIN_DISTANCE_M
    extras: dict = field(default_factory=dict)

    @property
    def num_dancers(self) -> int:
        return len(self.dancers)

    @property
    def fps(self) -> float:
        return self.base.fps

    @property
    def duration_s(self) -> float:
        return self.base.duration_s

    def lead(self) -> int:
        return next((d for d, dancer in enumerate(self.dancers) if dancer.lead), 0)

    def section_of_slot(self) -> np.ndarray:
        """``[S]`` section index of every slot."""
        out = np.zeros(len(self.base.slots), dtype=np.int64)
        for s, section in enumerate(self.sections):
            out[section.first_slot : section.stop_slot] = s
        return out

    def dancer_timeline(self, d: int) -> Timeline:
        """Dancer ``d``'s own single-dancer timeline: its phrases, each slot's beats moved
        ``offsets_counts`` counts later (canon), the slots between."""
        dancer = self.dancers[d]
        slots = shifted_slots(self.base.slots, dancer.offsets_counts, self.duration_s)
        choices = []
        for t, (choice, phrase_id) in enumerate(zip(self.base.choices, dancer.phrase_ids,
                                                    strict=True)):  # fmt: skip
            same = phrase_id == choice.phrase_id
            choices.append(Choice(phrase_id, choice.score if same else 0.0, choice.alternatives,
                                  choice.transition_prior if same and t else None))  # fmt: skip
        return Timeline(**{**self.base.__dict__, "slots": slots, "choices": choices})

    def render_key(self, d: int) -> tuple:
        """Dancers with equal keys dance exactly the same (they share one render)."""
        dancer = self.dancers[d]
        return (tuple(dancer.phrase_ids), tuple(dancer.offsets_counts))

    def validate(self, library=None) -> None:
        """``Timeline.validate`` on every dancer's timeline, plus the group's own checks."""
        problem = group_problem(self)
        if problem:
            raise MusicDanceError(f"group timeline refused: {problem}")
        seen = set()
        for d in range(self.num_dancers):
            key = self.render_key(d)
            if key not in seen:
                seen.add(key)
                self.dancer_timeline(d).validate(library)

    def to_json(self) -> dict:
        base = self.base.to_json()
        return {
            "schema": GROUP_SCHEMA,
            "version": GROUP_VERSION,
            **{k: base[k] for k in ("song", "library", "fps", "seed", "style", "decoder")},
            "audience_yaw_deg": float(self.audience_yaw_deg),
            "min_distance_m": float(self.min_distance_m),
            "dancers": [dancer.to_json() for dancer in self.dancers],
            "sections": [section.to_json() for section in self.sections],
            "slots": base["slots"],
        }

    @classmethod
    def from_json(cls, data: dict, path=None) -> GroupTimeline:
        """A group timeline from its parsed JSON; damage is one ``MusicDanceError``."""
        if not isinstance(data, dict) or data.get("schema") != GROUP_SCHEMA:
            raise MusicDanceError("not an mdtool group timeline (schema field)", path)
        if data.get("version") != GROUP_VERSION:
            raise MusicDanceError(
                f"group timeline version {data.get('version')!r} is not supported (this "
                f"mdtool reads version {GROUP_VERSION})", path)  # fmt: skip
        single = {k: v for k, v in data.items() if k not in ("dancers", "sections",
                                                             "audience_yaw_deg",
                                                             "min_distance_m")}  # fmt: skip
        base = Timeline.from_json({**single, "schema": TIMELINE_SCHEMA,
                                   "version": TIMELINE_VERSION}, path)  # fmt: skip
        try:
            group = _group_from_checked(data, base)
        except (KeyError, TypeError, ValueError) as error:
            raise MusicDanceError(f"damaged group timeline: {error}", path) from None
        problem = group_problem(group)
        if problem:
            raise MusicDanceError(f"damaged group timeline: {problem}", path)
        return group


def _group_from_checked(data: dict, base: Timeline) -> GroupTimeline:
    dancers = data["dancers"]
    sections = data["sections"]
    if not isinstance(dancers, list) or not 1 <= len(dancers) <= MAX_DANCERS:
        raise ValueError(f"dancers must be an array of 1 to {MAX_DANCERS}")
    if not isinstance(sections, list) or not sections:
        raise ValueError("sections must be a non-empty array")
    parsed = []
    for k, raw in enumerate(dancers):
        phrase_ids = [str(p) for p in raw["phrase_ids"]]
        offsets = [int(o) for o in raw["offsets_counts"]]
        if any(not isinstance(o, int) or isinstance(o, bool) for o in raw["offsets_counts"]):
            raise ValueError(f"dancers[{k}].offsets_counts must be integers")
        parsed.append(Dancer(str(raw["name"]), bool(raw["lead"]), str(raw["side"]),
                             int(raw["canon_rank"]), phrase_ids, offsets))  # fmt: skip
    groups = []
    for k, raw in enumerate(sections):
        spots = np.asarray(raw["spots_m"], dtype=float)
        if spots.shape != (len(parsed), 2) or not np.all(np.isfinite(spots)):
            raise ValueError(f"sections[{k}].spots_m must be one finite [x, z] per dancer")
        scores = raw.get("device_scores", {})
        if not isinstance(scores, dict):
            raise ValueError(f"sections[{k}].device_scores must be an object")
        groups.append(GroupSection(str(raw["label"]), str(raw["role"]), int(raw["first_slot"]),
                                   int(raw["stop_slot"]), str(raw["device"]),
                                   {str(a): float(b) for a, b in scores.items()},
                                   str(raw["formation"]), spots,
                                   int(raw.get("travel_counts", 0))))  # fmt: skip
    yaw = float(data.get("audience_yaw_deg", 0.0))
    distance = float(data.get("min_distance_m", MIN_DISTANCE_M))
    return GroupTimeline(base, parsed, groups, yaw, distance)


def group_problem(group: GroupTimeline) -> str | None:
    """What makes a group timeline inconsistent (None: nothing)."""
    num = len(group.base.slots)
    if not 1 <= group.num_dancers <= MAX_DANCERS:
        return f"a group has 1 to {MAX_DANCERS} dancers, this one {group.num_dancers}"
    if not math.isfinite(group.audience_yaw_deg) or not 0 < group.min_distance_m < 100:
        return "audience_yaw_deg and min_distance_m must be finite (min_distance_m in (0, 100))"
    for k, dancer in enumerate(group.dancers):
        if len(dancer.phrase_ids) != num or len(dancer.offsets_counts) != num:
            return f"dancer {k} needs one phrase and one offset per slot ({num})"
        if any(not 0 <= o <= 8 for o in dancer.offsets_counts) or not all(dancer.phrase_ids):
            return f"dancer {k} has an offset outside 0-8 counts or an empty phrase id"
        if dancer.side not in ("left", "centre", "right"):
            return f"dancer {k} side must be left, centre or right"
    expected = 0
    for k, section in enumerate(group.sections):
        if section.first_slot != expected or section.stop_slot <= section.first_slot:
            return f"section {k} must start at slot {expected} and hold at least one slot"
        if section.device not in DEVICES:
            return f"section {k} device must be one of {', '.join(DEVICES)}"
        if not 0 <= section.travel_counts <= MAX_TRAVEL_COUNTS:
            return f"section {k} travel_counts must be 0-{MAX_TRAVEL_COUNTS}"
        expected = section.stop_slot
    if expected != num:
        return f"the sections cover {expected} slots, the timeline has {num}"
    return None


def is_group_json(data) -> bool:
    return isinstance(data, dict) and data.get("schema") == GROUP_SCHEMA


def read_group_timeline(path: str | os.PathLike[str]) -> GroupTimeline:
    """Read and check a group ``.timeline.json``."""
    from musicdance.choreo.timeline import MAX_JSON_DEPTH
    from musicdance.jsonguard import check_json_shape

    try:
        if Path(path).stat().st_size > MAX_TIMELINE_BYTES:
            raise MusicDanceError(f"timeline is larger than {MAX_TIMELINE_BYTES} bytes", path)
        text = Path(path).read_bytes()
    except OSError as error:
        raise MusicDanceError(f"cannot read timeline ({error.strerror or error})", path) from None
    problem = check_json_shape(text, max_depth=MAX_JSON_DEPTH)
    if problem:
        raise MusicDanceError(f"timeline is not valid JSON ({problem})", path)
    try:
        data = json.loads(text)
    except ValueError as error:
        raise MusicDanceError(f"timeline is not valid JSON ({error})", path) from None
    return GroupTimeline.from_json(data, path)


def write_group_timeline(group: GroupTimeline, path: str | os.PathLike[str]) -> None:
    with atomic_write(path, "w") as handle:
        json.dump(group.to_json(), handle, indent=1)
        handle.write("\n")


# -- structure --------------------------------------------------------------------------------


def section_runs(slots: list[Slot]) -> list[tuple[int, int]]:
    """``(first, stop)`` slot ranges of the sections (runs of one section label)."""
    runs, first = [], 0
    for t in range(1, len(slots) + 1):
        if t == len(slots) or slots[t].section_label != slots[first].section_label:
            runs.append((first, t))
            first = t
    return runs


def section_roles(slots: list[Slot], runs: list[tuple[int, int]]) -> list[str]:
    """A role (:data:`ROLES`) per section from energy and repetition: the first and last
    sections below the loud ones are intro and outro; repeated sections among the loudest
    quarter (or the loudest) are choruses; a section whose energy rises is a build; a section
    heard once is a bridge; the rest are verses."""
    energy = np.array([np.mean([slots[t].energy for t in range(a, b)]) for a, b in runs])
    labels = [slots[a].section_label for a, _ in runs]
    loud = float(np.quantile(energy, 0.75)) if len(energy) else 0.0
    roles = []
    for s, (a, b) in enumerate(runs):
        repeated = labels.count(labels[s]) > 1
        rise = slots[b - 1].energy - slots[a].energy
        if s == 0 and len(runs) > 1 and energy[s] < loud:
            roles.append("intro")
        elif s == len(runs) - 1 and len(runs) > 1 and energy[s] < loud:
            roles.append("outro")
        elif energy[s] >= loud and (repeated or energy[s] == energy.max()):
            roles.append("chorus")
        elif rise >= 0.12:
            roles.append("build")
        elif not repeated:
            roles.append("bridge")
        else:
            roles.append("verse")
    return roles


# -- formations -------------------------------------------------------------------------------


def plan_formations(
    roles: list[str], count: int, formation: str | list[np.ndarray], lead: int
) -> tuple[list[str], list[np.ndarray]]:
    """Per section the formation's name and every dancer's spot ``[N, 2]``: the lead on spot 0
    at first, then the assignment with the least travel that keeps the lead on spot 0 and
    dancers on their side of the stage."""
    names, spot_sets = [], []
    for s, role in enumerate(roles):
        if isinstance(formation, list):
            names.append("file")
            spot_sets.append(np.asarray(formation[s % len(formation)], dtype=float))
        else:
            name = formation
            if formation == "auto":  # a crowd holds its place on the floor
                name = ROLE_FORMATION[role] if count <= CROWD_DANCERS else "grid"
            names.append(name)
            spot_sets.append(formation_spots(name, count))
    placed = []
    order = np.arange(count)
    order[[0, lead]] = order[[lead, 0]]  # dancer -> spot of the first formation
    current = spot_sets[0][order]
    placed.append(current)
    home = np.sign(np.where(np.abs(current[:, 0]) > SIDE_M, current[:, 0], 0.0))
    for spots in spot_sets[1:]:
        cost_side = 50.0 * ((np.sign(spots[None, :, 0]) * home[:, None]) < 0)
        current = spots[assign_spots(current, spots, lead, extra_cost=cost_side)]
        placed.append(current)
    return names, placed


# -- decoding ---------------------------------------------------------------------------------


def choreograph_group(
    analysis: Analysis,
    library,
    dancers: int,
    *,
    formation: str | list[np.ndarray] = "auto",
    lead: int = 0,
    audience_yaw_deg: float = 0.0,
    style: str | None = None,
    seed: int = 0,
    fps: float = 30.0,
    reuse_sections: bool = True,
    top_k: int = 5,
    scorer: EmissionModel | None = None,
    timings: dict[str, float] | None = None,
) -> GroupTimeline:
    """Choreograph ``dancers`` dancers to the analysed song (see the module docs).

    formation: a name of ``formation.FORMATIONS`` or a list of ``[N, 2]`` spot arrays (used in
    turn per section); lead: the lead dancer's index; audience_yaw_deg: the direction the
    dancers face (0: +Z).
    """
    if not isinstance(dancers, int) or not 1 <= dancers <= MAX_DANCERS:
        raise MusicDanceError(f"dancers must be 1 to {MAX_DANCERS}, got {dancers!r}")
    if not 0 <= lead < dancers:
        raise MusicDanceError(f"lead must be a dancer number 0 to {dancers - 1}, got {lead}")
    if isinstance(formation, str) and formation not in FORMATIONS:
        raise MusicDanceError(f"formation must be one of {', '.join(FORMATIONS)} or a file")
    if not math.isfinite(audience_yaw_deg):
        raise MusicDanceError("audience_yaw_deg must be a finite number")
    clock = solo._Clock(timings)
    slots = plan_slots(analysis)
    if not slots:
        raise MusicDanceError("no phrases to dance to: the analysis found no beats or phrases",
                              analysis.path)  # fmt: skip
    scorer = scorer or FeatureScorer()
    full = table_of(library)
    rows = solo.candidate_rows(library, full, style)
    table = full.take(rows)
    emission = score_table(scorer, slots, table, library)
    if style is None:
        style = solo.best_style_of(emission, table)
        keep = np.flatnonzero(table.style == style)
        rows, table, emission = rows[keep], table.take(keep), emission[:, keep]
    rng = np.random.default_rng(seed)
    jittered = emission * np.exp(solo.JITTER * rng.standard_normal(emission.shape))
    clock.lap("scoring")
    runs = section_runs(slots)
    roles = section_roles(slots, runs)
    names, spot_sets = plan_formations(roles, dancers, formation, lead)
    classes, sides, ranks = _dancer_classes(spot_sets[0], lead)
    weights = np.bincount(classes, minlength=len(_CLASSES)) / dancers
    graph = solo.library_graph(library, full).subgraph(rows)
    steps = solo.sparse_steps(slots, graph)
    ids = table.ids.tolist()
    maps = _PhraseMaps(ids, np.asarray(table.energy, dtype=float), jittered)
    section_of = np.zeros(len(slots), dtype=np.int64)
    for s, (a, b) in enumerate(runs):
        section_of[a:b] = s
    log_e, log_steps, parity = _group_scores(slots, runs, roles, section_of, maps, steps,
                                             weights)  # fmt: skip
    clock.lap("transitions")
    states = _decode(log_e, log_steps, slots if reuse_sections else None)
    num = len(ids)
    device_path, phrase_path = states // num, states % num
    first_of = repeats_of(slots) if reuse_sections else np.full(len(slots), -1)
    for a, b in runs:  # one device per section
        device_path[a:b] = device_path[a]
    phrase_path = _vary(phrase_path, device_path, log_e, log_steps, ids, slots, first_of)
    clock.lap("decoding")
    base = _base_timeline(analysis, library, slots, style, seed, fps, ids, phrase_path,
                          device_path, log_e, steps, top_k)  # fmt: skip
    sections = []
    for s, (a, b) in enumerate(runs):
        scores = log_e[a:b].reshape(b - a, len(DEVICES), num).max(axis=2).sum(axis=0)
        share = np.exp(scores - scores[np.isfinite(scores)].max())
        share = np.where(np.isfinite(share), share, 0.0)
        sections.append(GroupSection(
            slots[a].section_label, roles[s], a, b, DEVICES[int(device_path[a])],
            dict(zip(DEVICES, (share / share.sum()).tolist(), strict=True)), names[s],
            spot_sets[s], _travel_counts(spot_sets[s - 1], spot_sets[s], slots[a - 1]) if s
            else 0))  # fmt: skip
    group_dancers = []
    for d in range(dancers):
        phrases, offsets = [], []
        for t in range(len(slots)):
            device = int(device_path[t])
            k = maps.phrase_of(device, int(classes[d]), t, int(phrase_path[t]), int(parity[t]))
            phrases.append(ids[k])
            offsets.append(int(ranks[d]) if DEVICES[device] == "canon" else 0)
        group_dancers.append(Dancer(f"dancer_{d + 1:02d}", d == lead, sides[d], int(ranks[d]),
                                    phrases, offsets))  # fmt: skip
    return GroupTimeline(base, group_dancers, sections, float(audience_yaw_deg), MIN_DISTANCE_M)


def _dancer_classes(spots: np.ndarray, lead: int):
    """Per dancer: class (index into ``_CLASSES``), side name and canon rank (0-2 by place
    from stage right, -X, to stage left, +X)."""
    count = len(spots)
    x = spots[:, 0]
    sides = np.where(x > SIDE_M, "left", np.where(x < -SIDE_M, "right", "centre"))
    classes = np.array([_CLASSES.index(s) for s in sides])
    classes[lead] = 0
    order = np.argsort(x + 1e-6 * spots[:, 1], kind="stable")
    ranks = np.zeros(count, dtype=np.int64)
    if count > 1:
        ranks[order] = np.rint(2 * np.arange(count) / (count - 1)).astype(np.int64)
    return classes, [str(s) for s in sides], ranks


class _PhraseMaps:
    """Which phrase each dancer class dances, per device, for the group line's phrase k."""

    def __init__(self, ids: list[str], energy: np.ndarray, emission: np.ndarray) -> None:
        num = len(ids)
        index = {p: k for k, p in enumerate(ids)}
        self.identity = np.arange(num)
        self.twin = mirror_twins(ids)
        self.has_twin = self.twin >= 0
        self.twin = np.where(self.has_twin, self.twin, self.identity)
        moves = np.array([solo.move_of(p) for p in ids])
        self.calm = np.array([
            index.get(f"{moves[k]}-calm" + ("-mirror" if p.endswith("-mirror") else ""), k)
            for k, p in enumerate(ids)
        ])  # fmt: skip
        near = np.abs(energy[:, None] - energy[None]) <= CONTRAST_ENERGY
        other = moves[:, None] != moves[None]
        candidates = near & other  # [k, j]
        scores = np.where(candidates[None], emission[:, None, :], -1.0)  # [T, k, j]
        best = scores.argmax(axis=2)
        self.contrast = np.where(candidates.any(axis=1)[None], best, self.identity[None])
        self.emission = emission

    def table(self, device: int, t: int, parity: int) -> np.ndarray:
        """``[classes, K]`` phrase index per class for each group-line phrase."""
        name = DEVICES[device]
        same = self.identity
        if name == "mirror":
            return np.stack([same, self.twin, same, same])
        if name == "call":
            if parity == 0:
                return np.stack([same, self.calm, self.calm, self.calm])
            return np.stack([self.calm, same, same, same])
        if name == "contrast":
            return np.stack([same, self.contrast[t], same, same])
        return np.stack([same, same, same, same])

    def phrase_of(self, device: int, cls: int, t: int, k: int, parity: int) -> int:
        return int(self.table(device, t, parity)[cls, k])


def _dense(steps, t: int, cache: dict) -> np.ndarray:
    """``log M`` into slot ``t`` as a dense ``[K, K]`` array (cached per step kind)."""
    kind = int(steps.kind[t - 1])
    if kind not in cache:
        num = steps.num_states
        dense = np.repeat(np.asarray(steps.floor, dtype=float)[:, None], num, axis=1)
        sources = np.repeat(np.arange(num), np.diff(steps.indptr))
        dense[sources, steps.targets] = steps.weights[kind]
        cache[kind] = np.log(np.maximum(dense, 1e-300))
    return cache[kind]


def _group_scores(slots, runs, roles, section_of, maps: _PhraseMaps, steps, weights):
    """Log emission ``[T, D * K]`` and log steps ``[T - 1, D * K, D * K]`` of the group
    states, and each slot's parity in its section (call and response)."""
    num_slots, num = len(slots), len(maps.identity)
    num_states = len(DEVICES) * num
    log_f = np.log(np.maximum(maps.emission, 1e-300))
    parity = np.array([(t - runs[section_of[t]][0]) % 2 for t in range(num_slots)])
    live = np.flatnonzero(weights > 0)
    log_e = np.empty((num_slots, num_states))
    tables = []
    for t in range(num_slots):
        role = roles[section_of[t]]
        per_device = []
        for d, name in enumerate(DEVICES):
            table = maps.table(d, t, int(parity[t]))
            per_device.append(table)
            score = sum(weights[c] * log_f[t, table[c]] for c in live)
            score = score + math.log(GROUP_TERM[role][name])
            if name == "mirror" and weights[1] > 0:
                score = np.where(maps.has_twin, score, -np.inf)
            if name in ("call", "contrast") and len(weights[weights > 0]) < 2:
                score = np.full(num, -np.inf)  # a device needs two parties
            log_e[t, d * num : (d + 1) * num] = score
        tables.append(per_device)
    cache: dict = {}
    log_steps = np.empty((max(num_slots - 1, 0), num_states, num_states))
    for t in range(1, num_slots):
        log_m = _dense(steps, t, cache)
        boundary = section_of[t] != section_of[t - 1]
        for a in range(len(DEVICES)):
            for b in range(len(DEVICES)):
                block = log_steps[t - 1, a * num : (a + 1) * num, b * num : (b + 1) * num]
                if not boundary and a != b:
                    block[:] = -np.inf
                    continue
                before, after = tables[t - 1][a], tables[t][b]
                block[:] = sum(weights[c] * log_m[np.ix_(before[c], after[c])] for c in live)
                if boundary and a == b:
                    block += math.log(SAME_DEVICE_FACTOR)
    return log_e, log_steps, parity


def _decode(log_e: np.ndarray, log_steps: np.ndarray, slots: list[Slot] | None) -> np.ndarray:
    """Viterbi over the group states; with ``slots``, repeated sections are tied to their
    first occurrence (the same state slot by slot)."""
    path = _viterbi(log_e, log_steps)
    if slots is None:
        return path
    first = repeats_of(slots)
    tied = np.flatnonzero(first >= 0)
    if not len(tied):
        return path
    for _ in range(4):
        allowed = np.full_like(log_e, -np.inf)
        allowed[:] = 0.0
        allowed[tied] = -np.inf
        allowed[tied, path[first[tied]]] = 0.0
        path = _viterbi(log_e + allowed, log_steps)
        if np.array_equal(path[tied], path[first[tied]]):
            break
    path[tied] = path[first[tied]]
    return path


def _viterbi(log_e: np.ndarray, log_steps: np.ndarray) -> np.ndarray:
    num_slots, num_states = log_e.shape
    cumulative = log_e[0].copy()
    back = np.zeros((num_slots, num_states), dtype=np.int64)
    for t in range(1, num_slots):
        candidates = cumulative[:, None] + log_steps[t - 1]
        back[t] = np.argmax(candidates, axis=0)
        cumulative = candidates[back[t], np.arange(num_states)] + log_e[t]
    path = np.empty(num_slots, dtype=np.int64)
    path[-1] = int(np.argmax(cumulative))
    for t in range(num_slots - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _vary(phrase_path, device_path, log_e, log_steps, ids, slots, first_of) -> np.ndarray:
    """``vary_moves`` on the group line with the decoded devices held."""
    num = len(ids)
    rows = np.arange(len(slots))
    emission = np.exp(np.stack([log_e[t, device_path[t] * num : (device_path[t] + 1) * num]
                                for t in rows]))  # fmt: skip
    dense = np.stack([
        np.exp(log_steps[t - 1, device_path[t - 1] * num : (device_path[t - 1] + 1) * num,
                         device_path[t] * num : (device_path[t] + 1) * num])
        for t in rows[1:]
    ]) if len(slots) > 1 else np.zeros((0, num, num))  # fmt: skip
    return solo.vary_moves(phrase_path, emission, dense, ids, slots, first_of)


def _base_timeline(analysis, library, slots, style, seed, fps, ids, phrase_path, device_path,
                   log_e, steps, top_k) -> Timeline:  # fmt: skip
    num = len(ids)
    emission = np.exp(np.stack([log_e[t, device_path[t] * num : (device_path[t] + 1) * num]
                                for t in range(len(slots))]))  # fmt: skip
    emission = np.where(np.isfinite(emission), emission, 0.0)
    choices = solo._choices(phrase_path, emission, steps, ids, top_k)
    return Timeline(song=solo._song(analysis), library=str(library.path), fps=float(fps),
                    seed=int(seed), style=style, decoder="group-viterbi", slots=slots,
                    choices=choices)  # fmt: skip


def _travel_counts(before: np.ndarray, after: np.ndarray, slot: Slot) -> int:
    """Counts of travel into a new formation: ``TRAVEL_COUNTS``, more (up to
    ``MAX_TRAVEL_COUNTS``) when the longest walk would be faster than ``MAX_TRAVEL_MPS``."""
    longest = float(np.linalg.norm(after - before, axis=1).max()) if len(after) else 0.0
    if longest < 1e-6:
        return 0
    beat_s = 60.0 / max(slot.tempo_bpm, 1.0)
    needed = math.ceil(longest / MAX_TRAVEL_MPS / beat_s)
    return int(np.clip(needed, TRAVEL_COUNTS, MAX_TRAVEL_COUNTS))


# -- canon offsets -----------------------------------------------------------------------------


def shifted_slots(slots: list[Slot], offsets_counts, duration_s: float) -> list[Slot]:
    """``slots`` with each slot's counts moved ``offsets_counts[t]`` beats later; a slot ends
    where the next (moved) one starts. Beats past the song's last are spaced like the last two;
    the last slot ends at most a second after the song."""
    from dataclasses import replace

    if not any(offsets_counts):
        return list(slots)
    beats = np.concatenate([np.asarray(s.beat_times_s, dtype=float) for s in slots])
    period = float(beats[-1] - beats[-2]) if len(beats) > 1 else 0.5
    beats = np.concatenate([beats, beats[-1] + period * np.arange(1, 10)])
    starts = np.cumsum([0, *(s.num_counts for s in slots)])[:-1]
    moved = [float(beats[starts[t] + o]) - slots[t].start_s if o else 0.0
             for t, o in enumerate(offsets_counts)]  # fmt: skip
    shifted = []
    for t, slot in enumerate(slots):
        if not offsets_counts[t] and (t + 1 == len(slots) or not moved[t + 1]):
            shifted.append(slot)
            continue
        start = slot.start_s + moved[t]
        if t + 1 < len(slots):
            end = slot.end_s + moved[t + 1]
        else:
            end = min(slot.end_s + moved[t], duration_s + 0.999)
        first = starts[t] + offsets_counts[t]
        counts = beats[first : first + slot.num_counts]
        counts = counts[(counts >= start - 1e-6) & (counts < end - 1e-3)]
        if len(counts) < 2:
            counts = np.array([start, (start + end) / 2])
        shifted.append(replace(slot, start_s=float(start), end_s=float(end),
                               beat_times_s=[float(b) for b in counts]))  # fmt: skip
    return shifted
