"""FBX in and out through Blender (``bpy`` from PyPI, ``pip install mdtool[fbx]``), run in its
own process (:mod:`musicdance.io.blender`).

Reading: Blender's FBX importer (units and axes converted, one action per animation stack =
one take); every frame of the chosen take is sampled as bone world positions and orientations,
converted to Y-up metres, and turned into joint offsets and local rotations
(:func:`motion_from_world`), so pre/post rotations, the armature's transform and the file's unit
scale all end up in the positions (scale itself is dropped). Why not the ``ufbx`` bindings on
PyPI (0.0.5): on a Blender-written file they crashed (segmentation fault) when a node or
animation-stack list was indexed or turned into a Python list, and reported wrong parents for
nodes reached by iterating; docs/engines.md has the comparison.

Writing: the motion is written as a ``.glb`` and Blender imports it and exports FBX with the
settings in :data:`musicdance.io.blender_task.FBX_EXPORT_SETTINGS` (``pip install
mdtool[fbx]``), or saves it as a ``.blend`` scene (:func:`write_blend`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_inv, quat_mul, quat_mul_vec3, quat_normalize
from musicdance.motion.skeleton import Skeleton

__all__ = [
    "MAX_FBX_BYTES",
    "fbx_takes",
    "motion_from_world",
    "read_fbx",
    "read_fbx_take",
    "write_blend",
    "write_fbx",
    "write_fbx_takes",
]

#: Largest ``.fbx`` read (bytes).
MAX_FBX_BYTES = 2 * 1024**3


def _rotations_from_matrices(matrices: np.ndarray) -> np.ndarray:
    """``[..., 4]`` xyzw rotations of ``[..., 3, 3]`` matrices (scale removed)."""
    from scipy.spatial.transform import Rotation

    norms = np.linalg.norm(matrices, axis=-2, keepdims=True)
    unit = matrices / np.where(norms > 1e-12, norms, 1.0)
    flat = unit.reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_quat().reshape(*matrices.shape[:-2], 4)


def _check_file(path: str | os.PathLike[str]) -> None:
    if Path(path).is_dir():
        raise MusicDanceError("is a directory, not a motion file", path)
    if not Path(path).is_file():
        raise MusicDanceError("no such file", path)
    size = Path(path).stat().st_size
    if size > MAX_FBX_BYTES:
        raise MusicDanceError(f"file is {size} bytes; the limit is {MAX_FBX_BYTES}", path)
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not (head.startswith(b"Kaydara FBX Binary") or b"FBX" in head or b";" in head[:2]):
        raise MusicDanceError("not an FBX file (no FBX header)", path)


def _blender_read(path: str | os.PathLike[str], job: dict, folder: str) -> dict:
    from musicdance.io.blender import run_blender_job

    try:
        return run_blender_job({"job": "read_fbx", "path": str(Path(path).resolve()),
                                "out": folder, **job}, path=path)  # fmt: skip
    except MusicDanceError as error:
        reason = str(error).split("Blender failed: ", 1)[-1]
        if "Blender is not available" in reason:
            raise
        raise MusicDanceError(f"not a readable FBX file ({reason})", path) from None


def fbx_takes(path: str | os.PathLike[str]) -> list[str]:
    """The file's takes (Blender's actions, one per animation stack), in file order."""
    _check_file(path)
    with tempfile.TemporaryDirectory(prefix="mdtool-fbx-") as folder:
        return list(_blender_read(path, {"list_only": True}, folder)["takes"])


def read_fbx(path: str | os.PathLike[str], *, take: str | int | None = None) -> Motion:
    """Read one take (by name, by index, default the first) of an FBX file as a
    :class:`Motion` in Y-up metres at the file's frame rate (see the module docstring)."""
    return read_fbx_take(path, take=take)[0]


def read_fbx_take(
    path: str | os.PathLike[str], *, take: str | int | None = None
) -> tuple[Motion, list[str]]:
    """:func:`read_fbx` and the names of all the file's takes, from one Blender run."""
    _check_file(path)
    with tempfile.TemporaryDirectory(prefix="mdtool-fbx-") as folder:
        found = _blender_read(path, {"take": take}, folder)
        arrays = {k: np.load(Path(folder) / f"{k}.npy") for k in
                  ("positions", "matrices", "rest_positions", "rest_matrices")}  # fmt: skip
    fps = float(found["fps"])
    if not (np.isfinite(fps) and 0 < fps <= 10_000):
        raise MusicDanceError(f"frame rate {fps:g} fps is out of range", path)
    motion = motion_from_world(
        found["bones"], np.array(found["parents"]), fps, arrays["positions"], arrays["matrices"],
        arrays["rest_positions"], arrays["rest_matrices"],
    )  # fmt: skip
    return motion, list(found["takes"])


def motion_from_world(
    names: list[str],
    parents: np.ndarray,
    fps: float,
    positions: np.ndarray,
    matrices: np.ndarray,
    rest_positions: np.ndarray,
    rest_matrices: np.ndarray,
) -> Motion:
    """A :class:`Motion` from world joint positions ``[T, J, 3]`` (m) and orientations
    ``[T, J, 3, 3]`` (any frame fixed to each bone; scale removed), with the rest pose
    ``[J, 3]``/``[J, 3, 3]`` giving the offsets. Forward kinematics reproduces ``positions``."""
    world = quat_normalize(_rotations_from_matrices(matrices))  # [T, J, 4]
    rest_world = quat_normalize(_rotations_from_matrices(rest_matrices))
    has_parent = parents >= 0
    safe = np.where(has_parent, parents, 0)
    local = world.copy()
    local[:, has_parent] = quat_mul(quat_inv(world[:, safe[has_parent]]), world[:, has_parent])
    rest_local_t = np.zeros((len(names), 3))
    rest_local_t[has_parent] = quat_mul_vec3(
        quat_inv(rest_world[safe[has_parent]]),
        rest_positions[has_parent] - rest_positions[safe[has_parent]],
    )
    translations = np.zeros_like(positions)
    translations[:, has_parent] = quat_mul_vec3(
        quat_inv(world[:, safe[has_parent]]),
        positions[:, has_parent] - positions[:, safe[has_parent]],
    )
    moving = np.abs(translations[:, has_parent] - rest_local_t[has_parent]).max(initial=0.0)
    root_channels = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    skeleton = Skeleton(
        names=tuple(names),
        parents=parents,
        offsets_m=rest_local_t,
        channels=tuple(root_channels if p < 0 else root_channels[3:] for p in parents),
        end_sites_m={},
    )
    local_translations = translations if moving > 1e-5 else None
    return Motion(skeleton, fps, positions[:, 0].copy(), local, local_translations)


def write_fbx(
    motion: Motion,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    mesh: bool = True,
    animation_extras: dict | None = None,
) -> None:
    """Write ``motion`` as FBX through Blender (see the module docstring), atomically: a
    ``.glb`` is written first, Blender imports it and exports the ``.fbx``. The take (Unity's
    clip) is named ``name`` (default the file stem)."""
    write_fbx_takes({name or Path(path).stem: motion}, path, mesh=mesh,
                    animation_extras=animation_extras)  # fmt: skip


def write_fbx_takes(
    takes: dict[str, Motion],
    path: str | os.PathLike[str],
    *,
    mesh: bool = True,
    animation_extras: dict | None = None,
) -> None:
    """Write several takes (``{name: motion}``, one skeleton, one fps) as one FBX file with one
    animation stack each (Blender names the extra stacks ``skeleton|NAME``)."""
    from musicdance.io.blender import run_blender_job
    from musicdance.io.gltf import write_glb

    if not takes:
        raise MusicDanceError("no takes to write", path)
    motions = list(takes.values())
    first = motions[0]
    for motion in motions[1:]:
        if motion.skeleton.names != first.skeleton.names or motion.fps != first.fps:
            raise MusicDanceError("the takes of one FBX need one skeleton and one fps", path)
    with tempfile.TemporaryDirectory(prefix="mdtool-fbx-") as folder:
        glbs = []
        for k, (clip, motion) in enumerate(takes.items()):
            glb = Path(folder) / f"take{k}.glb"
            write_glb(motion, glb, name=clip, mesh=mesh and k == 0,
                      animation_extras=animation_extras if k == 0 else None)  # fmt: skip
            glbs.append(str(glb))
        fbx = Path(folder) / "out.fbx"
        job = {"job": "glb_to_fbx", "glb": glbs[0], "more": glbs[1:], "fbx": str(fbx),
               "fps": float(first.fps), "name": next(iter(takes))}  # fmt: skip
        run_blender_job(job, path=path)
        with atomic_write(path) as handle:
            handle.write(fbx.read_bytes())


def write_blend(
    motion: Motion,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    mesh: bool = True,
    animation_extras: dict | None = None,
) -> None:
    """Write ``motion`` as a Blender scene (``.blend``), atomically: the ``.glb`` imported by
    Blender with the scene's frame rate set to the motion's and its frame range to the clip's,
    so it opens ready to play (keys on whole frames)."""
    from musicdance.io.blender import run_blender_job
    from musicdance.io.gltf import write_glb

    clip = name or Path(path).stem
    with tempfile.TemporaryDirectory(prefix="mdtool-blend-") as folder:
        glb = Path(folder) / "take.glb"
        blend = Path(folder) / "out.blend"
        write_glb(motion, glb, name=clip, mesh=mesh, animation_extras=animation_extras)
        run_blender_job({"job": "glb_to_blend", "glb": str(glb), "blend": str(blend),
                         "fps": float(motion.fps), "name": clip}, path=path)  # fmt: skip
        with atomic_write(path) as handle:
            handle.write(blend.read_bytes())
