"""Load and save motions by file extension (``.bvh``, ``.glb``, ``.gltf``)."""

from __future__ import annotations

import os
from pathlib import Path

from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion

MOTION_SUFFIXES = (".bvh", ".glb", ".gltf")


def _suffix(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in MOTION_SUFFIXES:
        raise MusicDanceError(
            f"unknown motion file type {suffix or '(none)'!r}; "
            f"expected one of {', '.join(MOTION_SUFFIXES)}",
            path,
        )
    return suffix


def load_motion(path: str | os.PathLike[str], *, scale: float | None = None) -> Motion:
    """Read a BVH or glTF/GLB motion; ``scale`` (metres per unit) applies to BVH only."""
    suffix = _suffix(path)
    if Path(path).is_dir():
        raise MusicDanceError("is a directory, not a motion file", path)
    if not Path(path).is_file():
        raise MusicDanceError("no such file", path)
    if suffix == ".bvh":
        from musicdance.io.bvh import read_bvh

        return read_bvh(path, scale=scale)
    from musicdance.io.gltf import read_gltf

    return read_gltf(path)


def save_motion(
    motion: Motion,
    path: str | os.PathLike[str],
    *,
    extras: dict | None = None,
    name: str | None = None,
    mesh: bool = True,
    root_motion: str = "hips",
    bvh_unit: str = "cm",
) -> None:
    """Write ``motion`` as BVH (centimetres) or GLB, atomically. ``extras``, ``name`` (clip and
    scene name, default the file stem) and ``mesh`` (the mannequin figure) apply to a GLB.
    ``root_motion``: ``hips``, ``root-bone`` or ``in-place`` (musicdance.motion.rootmotion;
    in a GLB the removed curve goes in the animation's extras ``mdtool_root_motion``)."""
    from musicdance.motion.rootmotion import apply_root_motion

    try:
        motion, curve = apply_root_motion(motion, root_motion)
    except ValueError as error:
        raise MusicDanceError(str(error), path) from None
    curve_extras = None if curve is None else {"mdtool_root_motion": curve.to_json()}
    suffix = _suffix(path)
    if suffix == ".bvh":
        from musicdance.io.bvh import write_bvh

        write_bvh(motion, path, unit=bvh_unit)
    elif suffix == ".glb":
        from musicdance.io.gltf import write_glb

        write_glb(motion, path, extras=extras, name=name, mesh=mesh,
                  animation_extras=curve_extras)  # fmt: skip
    else:
        raise MusicDanceError("writing .gltf is not supported; write .glb instead", path)
