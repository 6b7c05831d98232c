"""Load and save motions by file extension (``.bvh``, ``.glb``, ``.gltf``, ``.fbx``)."""

from __future__ import annotations

import os
from pathlib import Path

from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion

MOTION_SUFFIXES = (".bvh", ".glb", ".gltf", ".fbx")
#: Written only: a Blender scene (through Blender) with the frame rate and range set.
WRITE_ONLY_SUFFIXES = (".blend",)


def _suffix(path: str | os.PathLike[str], *, writing: bool = False) -> str:
    suffix = Path(path).suffix.lower()
    known = MOTION_SUFFIXES + (WRITE_ONLY_SUFFIXES if writing else ())
    if suffix not in known:
        raise MusicDanceError(
            f"unknown motion file type {suffix or '(none)'!r}; expected one of {', '.join(known)}",
            path,
        )
    return suffix


def load_motion(
    path: str | os.PathLike[str], *, scale: float | None = None, take: str | int | None = None
) -> Motion:
    """Read a BVH, glTF/GLB or FBX motion; ``scale`` (metres per unit) applies to BVH only,
    ``take`` (an animation stack's name or index, default the first) to FBX only."""
    suffix = _suffix(path)
    if Path(path).is_dir():
        raise MusicDanceError("is a directory, not a motion file", path)
    if not Path(path).is_file():
        raise MusicDanceError("no such file", path)
    if suffix == ".bvh":
        from musicdance.io.bvh import read_bvh

        return read_bvh(path, scale=scale)
    if suffix == ".fbx":
        from musicdance.io.fbx import read_fbx

        return read_fbx(path, take=take)
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
    """Write ``motion`` as BVH, GLB, FBX or a Blender scene (``.blend``; both through Blender),
    atomically. ``extras`` applies to
    a GLB; ``name`` (clip and scene name, default the file stem) and ``mesh`` (the mannequin
    figure) to GLB and FBX; ``bvh_unit`` (``cm`` or ``m``) to BVH.
    ``root_motion``: ``hips``, ``root-bone`` or ``in-place`` (musicdance.motion.rootmotion;
    in a GLB the removed curve goes in the animation's extras ``mdtool_root_motion``, beside a
    BVH or FBX in ``STEM.root_motion.json``)."""
    from musicdance.motion.rootmotion import apply_root_motion

    try:
        motion, curve = apply_root_motion(motion, root_motion)
    except ValueError as error:
        raise MusicDanceError(str(error), path) from None
    curve_extras = None if curve is None else {"mdtool_root_motion": curve.to_json()}
    suffix = _suffix(path, writing=True)
    if suffix == ".bvh":
        from musicdance.io.bvh import write_bvh

        write_bvh(motion, path, unit=bvh_unit)
    elif suffix == ".fbx":
        from musicdance.io.fbx import write_fbx

        write_fbx(motion, path, name=name, mesh=mesh, animation_extras=curve_extras)
    elif suffix == ".blend":
        from musicdance.io.fbx import write_blend

        write_blend(motion, path, name=name, mesh=mesh, animation_extras=curve_extras)
    elif suffix == ".glb":
        from musicdance.io.gltf import write_glb

        write_glb(motion, path, extras=extras, name=name, mesh=mesh,
                  animation_extras=curve_extras)  # fmt: skip
    else:
        raise MusicDanceError("writing .gltf is not supported; write .glb instead", path)
    if curve is not None and suffix != ".glb":
        write_root_motion_json(curve, root_motion_path(path))


def root_motion_path(path: str | os.PathLike[str]) -> Path:
    """Where the removed root-motion curve of an in-place ``.bvh``/``.fbx`` goes:
    ``STEM.root_motion.json`` beside it."""
    return Path(path).with_name(f"{Path(path).stem}.root_motion.json")


def write_root_motion_json(curve, path: str | os.PathLike[str]) -> None:
    """Write a :class:`~musicdance.motion.rootmotion.RootCurve` as JSON, atomically."""
    import json

    from musicdance.atomic import atomic_write

    with atomic_write(path, "w") as handle:
        json.dump({"mode": "in-place", **curve.to_json()}, handle)
        handle.write("\n")
