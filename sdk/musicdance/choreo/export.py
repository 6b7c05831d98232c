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

__all__ = ["DANCE_FORMATS", "TIMELINE_EXTRA", "dance_outputs", "export_dance"]

#: What a dance can be written as: ``glb`` (timeline embedded), ``bvh``, ``json`` (the timeline).
DANCE_FORMATS = ("glb", "bvh", "json")
#: Key of the timeline JSON in the ``.glb`` scene's extras.
TIMELINE_EXTRA = "mdtool_timeline"


def dance_outputs(folder: str | os.PathLike[str], stem: str, formats: Iterable[str]) -> dict:
    """``{format: path}`` for a dance named ``stem`` in ``folder`` (``STEM.glb``,
    ``STEM.bvh``, ``STEM.timeline.json``)."""
    names = {"glb": f"{stem}.glb", "bvh": f"{stem}.bvh", "json": f"{stem}.timeline.json"}
    unknown = [f for f in formats if f not in names]
    if unknown:
        raise MusicDanceError(f"unknown dance format {unknown[0]!r}: use {', '.join(names)}")
    return {fmt: Path(folder) / names[fmt] for fmt in formats}


def export_dance(
    timeline: Timeline, motion: Motion, outputs: Mapping[str, str | os.PathLike[str]]
) -> None:
    """Write the dance in each format of ``outputs`` (``{format: path}``, formats from
    :data:`DANCE_FORMATS`, all in one folder) as one set: staged together and moved into place
    only when every file is written (``musicdance.atomic.atomic_outputs``), so a failure or a
    kill leaves the previous set as it was."""
    unknown = [f for f in outputs if f not in DANCE_FORMATS]
    if unknown:
        raise MusicDanceError(
            f"unknown dance format {unknown[0]!r}: use {', '.join(DANCE_FORMATS)}"
        )
    folders = {Path(path).parent.resolve() for path in outputs.values()}
    if len(folders) != 1:
        raise MusicDanceError("the files of one dance must be written to one folder")
    with atomic_outputs(folders.pop()) as staged:
        if "glb" in outputs:
            from musicdance.io.gltf import write_glb

            write_glb(
                motion, staged.path(outputs["glb"]),
                extras={TIMELINE_EXTRA: timeline.to_json()},
            )  # fmt: skip
        if "bvh" in outputs:
            from musicdance.io.bvh import write_bvh

            write_bvh(motion, staged.path(outputs["bvh"]))
        if "json" in outputs:
            write_timeline(timeline, staged.path(outputs["json"]))
