"""Writing a choreographed dance: the ``.glb`` with its timeline embedded, the ``.bvh`` and the
timeline JSON. ``mdtool choreograph``, ``mdtool edit`` and the runtime's ``.glb`` export all call
:func:`export_dance`, so the files are the same whichever shell wrote them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from musicdance.atomic import atomic_outputs
from musicdance.choreo.timeline import Timeline, write_timeline
from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion

__all__ = [
    "DANCE_FORMATS",
    "MARKERS_EXTRA",
    "ROOT_MOTION_EXTRA",
    "ROOT_MOTION_KEY",
    "TIMELINE_EXTRA",
    "dance_outputs",
    "export_dance",
    "export_group",
    "group_outputs",
    "slot_markers",
]

#: What a dance can be written as: ``glb`` (timeline embedded), ``bvh``, ``json`` (the timeline),
#: ``fbx`` (through Blender, ``pip install mdtool[fbx]``).
DANCE_FORMATS = ("glb", "bvh", "json", "fbx")
#: Key of the timeline JSON in the ``.glb`` scene's extras.
TIMELINE_EXTRA = "mdtool_timeline"
#: Key of the slot markers (:func:`slot_markers`) in the ``.glb`` animation's extras.
MARKERS_EXTRA = "mdtool_markers"
#: Key of the removed root-motion curve (``--root-motion in-place``) in the animation's extras.
ROOT_MOTION_EXTRA = "mdtool_root_motion"
#: Key of the same curve in the timeline JSON (``{"mode": "in-place", "fps", "positions_m",
#: "yaw_rad"}``).
ROOT_MOTION_KEY = "root_motion"


def slot_markers(timeline: Timeline) -> list[dict]:
    """One marker per slot, in time order: ``slot``, ``name`` (``slot N: phrase``),
    ``start_s``/``end_s`` (seconds from the clip start), ``start_frame``/``end_frame`` (on the
    timeline's frame grid, rounded), ``phrase_id`` and the music ``section``."""
    markers = []
    for slot, choice in zip(timeline.slots, timeline.choices, strict=True):
        markers.append({
            "slot": slot.index,
            "name": f"slot {slot.index}: {choice.phrase_id}",
            "start_s": round(float(slot.start_s), 6),
            "end_s": round(float(slot.end_s), 6),
            "start_frame": int(round(slot.start_s * timeline.fps)),
            "end_frame": int(round(slot.end_s * timeline.fps)),
            "phrase_id": choice.phrase_id,
            "section": slot.section_label,
        })  # fmt: skip
    return markers


def dance_outputs(folder: str | os.PathLike[str], stem: str, formats: Iterable[str]) -> dict:
    """``{format: path}`` for a dance named ``stem`` in ``folder`` (``STEM.glb``,
    ``STEM.bvh``, ``STEM.timeline.json``)."""
    names = {"glb": f"{stem}.glb", "bvh": f"{stem}.bvh", "json": f"{stem}.timeline.json",
             "fbx": f"{stem}.fbx"}  # fmt: skip
    unknown = [f for f in formats if f not in names]
    if unknown:
        raise MusicDanceError(f"unknown dance format {unknown[0]!r}: use {', '.join(names)}")
    return {fmt: Path(folder) / names[fmt] for fmt in formats}


def export_dance(
    timeline: Timeline,
    motion: Motion,
    outputs: Mapping[str, str | os.PathLike[str]],
    *,
    name: str | None = None,
    mesh: bool = True,
    root_motion: str = "hips",
    bvh_unit: str = "cm",
) -> None:
    """Write the dance in each format of ``outputs`` (``{format: path}``, formats from
    :data:`DANCE_FORMATS`, all in one folder) as one set: staged together and moved into place
    only when every file is written (``musicdance.atomic.atomic_outputs``), so a failure or a
    kill leaves the previous set as it was. ``name``: the .glb's clip and
    scene name (default its file stem); ``mesh``: include the mannequin figure in the .glb;
    ``root_motion``: one of ``musicdance.motion.rootmotion.ROOT_MOTION_MODES`` (``in-place``
    stores the removed curve in the .glb animation's extras and the timeline JSON's
    ``root_motion``); ``bvh_unit``: ``cm`` or ``m``. ``fbx`` runs Blender (``mdtool[fbx]``)."""
    from musicdance.motion.rootmotion import apply_root_motion

    unknown = [f for f in outputs if f not in DANCE_FORMATS]
    if unknown:
        raise MusicDanceError(
            f"unknown dance format {unknown[0]!r}: use {', '.join(DANCE_FORMATS)}"
        )
    try:
        motion, curve = apply_root_motion(motion, root_motion)
    except ValueError as error:
        raise MusicDanceError(str(error)) from None
    folders = {Path(path).parent.resolve() for path in outputs.values()}
    if len(folders) != 1:
        raise MusicDanceError("the files of one dance must be written to one folder")
    with atomic_outputs(folders.pop()) as staged:
        if "glb" in outputs:
            from musicdance.io.gltf import write_glb

            extras = {TIMELINE_EXTRA: timeline.to_json()}
            markers: dict = {MARKERS_EXTRA: slot_markers(timeline)}
            if curve is not None:
                markers[ROOT_MOTION_EXTRA] = curve.to_json()
            write_glb(motion, staged.path(outputs["glb"]), extras=extras, name=name, mesh=mesh,
                      animation_extras=markers)  # fmt: skip
        if "bvh" in outputs:
            from musicdance.io.bvh import write_bvh

            write_bvh(motion, staged.path(outputs["bvh"]), unit=bvh_unit)
        if "fbx" in outputs:
            from musicdance.io.fbx import write_fbx

            clip = name or Path(outputs["fbx"]).stem
            write_fbx(motion, staged.path(outputs["fbx"]), name=clip, mesh=mesh)
        if "json" in outputs:
            if curve is None:
                write_timeline(timeline, staged.path(outputs["json"]))
            else:
                write_timeline(timeline, staged.path(outputs["json"]),
                               extra={ROOT_MOTION_KEY: {"mode": "in-place", **curve.to_json()}})


def group_outputs(folder: str | os.PathLike[str], stem: str, formats: Iterable[str],
                  dancer_names: list[str]) -> dict:  # fmt: skip
    """``{format: path}`` for a group dance: ``STEM.glb`` (every dancer), ``STEM.timeline.json``
    (the group timeline) and, for ``bvh``, a list of ``STEM.DANCER.bvh`` (one per dancer)."""
    single = dance_outputs(folder, stem, formats)
    if "bvh" in single:
        single["bvh"] = [Path(folder) / f"{stem}.{name}.bvh" for name in dancer_names]
    return single


def export_group(
    group,
    motions: list[Motion],
    outputs: Mapping,
    *,
    name: str | None = None,
    mesh: bool = True,
    root_motion: str = "hips",
    bvh_unit: str = "cm",
) -> None:
    """Write a group dance (``musicdance.choreo.group.GroupTimeline`` and one world-placed
    motion per dancer) as one set (see :func:`export_dance`): ``glb``, one file with every
    dancer (``io.gltf_group``), the group timeline in the scene's extras; ``bvh``, a list of
    paths, one per dancer; ``json``, the group timeline. ``root_motion``: ``hips`` or
    ``root-bone`` (``in-place`` would stack every dancer on one spot)."""
    from musicdance.choreo.group import write_group_timeline
    from musicdance.motion.rootmotion import apply_root_motion

    if root_motion == "in-place":
        raise MusicDanceError("a group cannot be exported in place (the formation is the root "
                              "motion): use --root-motion hips or root-bone")  # fmt: skip
    group_formats = [f for f in DANCE_FORMATS if f != "fbx"]
    unknown = [f for f in outputs if f not in group_formats]
    if unknown:
        raise MusicDanceError(
            f"unknown group dance format {unknown[0]!r}: use {', '.join(group_formats)}"
        )
    try:
        motions = [apply_root_motion(m, root_motion)[0] for m in motions]
    except ValueError as error:
        raise MusicDanceError(str(error)) from None
    paths = [p for v in outputs.values() for p in (v if isinstance(v, list) else [v])]
    folders = {Path(path).parent.resolve() for path in paths}
    if len(folders) != 1:
        raise MusicDanceError("the files of one dance must be written to one folder")
    names = [dancer.name for dancer in group.dancers]
    with atomic_outputs(folders.pop()) as staged:
        if "glb" in outputs:
            from musicdance.io.gltf_group import write_group_glb

            extras = {TIMELINE_EXTRA: group.to_json()}
            markers = {MARKERS_EXTRA: slot_markers(group.base)}
            write_group_glb(motions, names, staged.path(outputs["glb"]), extras=extras,
                            name=name, mesh=mesh, animation_extras=markers)  # fmt: skip
        if "bvh" in outputs:
            from musicdance.io.bvh import write_bvh

            for motion, path in zip(motions, outputs["bvh"], strict=True):
                write_bvh(motion, staged.path(path), unit=bvh_unit)
        if "json" in outputs:
            write_group_timeline(group, staged.path(outputs["json"]))
