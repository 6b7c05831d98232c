"""glTF 2.0 export (GLB) of motions.

The writer emits one node per joint (named as the joint, rest translation = offset, rest
rotation identity), a skin, a skinned figure mesh (a tapered box along every bone) so that any
viewer shows the dance, and one animation: a LINEAR rotation channel per joint, a translation
channel for the root and for every joint whose ``local_translations_m`` moves. Keyframe ``t``
sits at ``t / fps`` seconds. The frame rate and BVH end sites are kept in
``asset.extras["musicdance"]``; caller ``extras`` go verbatim into the scene's ``extras``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
from pygltflib import (
    ARRAY_BUFFER,
    GLTF2,
    Accessor,
    Animation,
    AnimationChannel,
    AnimationChannelTarget,
    AnimationSampler,
    Asset,
    Attributes,
    Buffer,
    BufferView,
    Material,
    Mesh,
    Node,
    PbrMetallicRoughness,
    Primitive,
    Scene,
    Skin,
)

from musicdance import __version__
from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.io.gltf_format import CHUNK_BIN, CHUNK_JSON, EXTRAS_KEY, GLB_MAGIC
from musicdance.io.gltf_reader import MAX_DURATION_S, MAX_FPS, MAX_JOINT_FRAMES
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_normalize, quat_unroll
from musicdance.motion.skeleton import Skeleton

__all__ = ["write_glb"]

_MIN_BONE_M = 1e-4
_LEAF_BONE_M = 0.05
_BONE_WIDTH_RATIO = 0.12
_BONE_HALF_WIDTH_RANGE_M = (0.004, 0.05)
_BONE_TAPER = 0.6
# Unit square corners in the bone's cross-section, in cyclic order.
_SQUARE = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
# Quads of a box whose corners 0-3 ring the head and 4-7 the tail, as triangles. Winding is
# fixed afterwards by an outward test, so the order within a triangle does not matter here.
_BOX_QUADS = [(0, 1, 2, 3), (4, 5, 6, 7)]
_BOX_QUADS += [(k, (k + 1) % 4, 4 + (k + 1) % 4, 4 + k) for k in range(4)]
_BOX_TRIANGLES = np.array([t for a, b, c, d in _BOX_QUADS for t in ((a, b, c), (a, c, d))])

_COMPONENT_TYPES = {np.dtype("<f4"): 5126, np.dtype("<u2"): 5123}


def write_glb(
    motion: Motion,
    path: str | os.PathLike[str],
    *,
    extras: dict[str, Any] | None = None,
    name: str | None = None,
    mesh: bool = True,
    animation_extras: dict[str, Any] | None = None,
) -> None:
    """Write ``motion`` as a binary glTF (.glb) file with one animation, a skin over the joint
    nodes and, with ``mesh``, a skinned mannequin figure (without it: no mesh or material).

    extras: a JSON-serialisable dict stored verbatim as the scene's ``extras``.
    name: the animation's (clip's) and the scene's name; default the file stem, so two dances
    imported into one engine project do not collide.
    animation_extras: a JSON-serialisable dict stored as the animation's ``extras`` (engines
    that import glTF extras, e.g. Godot 4 and Blender, attach it to the clip).
    Raises ``MusicDanceError`` (and writes nothing) for motions with no frames, NaN or
    non-unit quaternions, or extras that are not a JSON object.
    """
    _check_exportable(motion, extras, path)
    _check_exportable(motion, animation_extras, path)
    buffer = _BufferBuilder()
    skeleton = motion.skeleton
    gltf = GLTF2(asset=Asset(generator=f"mdtool {__version__}"))
    clip = name if name else Path(path).stem
    gltf.nodes = _joint_nodes(skeleton)
    roots = [0]
    # The skin is written without the figure too: importers (Blender, Godot, three.js) build
    # their armature/skeleton from a skin, and leave bare nodes as empties otherwise.
    gltf.skins = [_skin(skeleton, buffer)]
    if mesh:
        gltf.nodes.append(Node(name="figure", mesh=0, skin=0))
        roots.append(skeleton.num_joints)
        gltf.meshes = [_figure_mesh(skeleton, buffer)]
        gltf.materials = [_figure_material()]
    gltf.animations = [_animation(motion, buffer, clip)]
    gltf.scenes = [Scene(name=clip, nodes=roots)]
    gltf.scene = 0
    blob = buffer.blob()
    gltf.buffers = [Buffer(byteLength=len(blob))]
    gltf.bufferViews = buffer.buffer_views
    gltf.accessors = buffer.accessors
    document = json.loads(gltf.gltf_to_json())
    # Set after serialisation: pygltflib drops empty lists and None values nested in extras.
    document["asset"]["extras"] = {EXTRAS_KEY: _musicdance_extras(motion)}
    if extras:
        document["scenes"][0]["extras"] = extras
    if animation_extras:
        document["animations"][0]["extras"] = animation_extras
    data = _pack_glb(document, blob)
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def _check_exportable(
    motion: Motion, extras: dict[str, Any] | None, path: str | os.PathLike[str]
) -> None:
    """Raise ``MusicDanceError`` for data that cannot become a valid glTF file."""
    if motion.num_frames == 0:
        raise MusicDanceError("cannot export a motion with no frames", path)
    problems = motion.problems()
    if problems:
        raise MusicDanceError(f"cannot export motion: {problems[0]}", path)
    skeleton = motion.skeleton
    lengths = [skeleton.offsets_m, *skeleton.end_sites_m.values()]
    if not all(np.all(np.isfinite(values)) for values in lengths):
        raise MusicDanceError("cannot export motion: non-finite skeleton offset", path)
    _check_readable(motion, path)
    if extras is None:
        return
    if not isinstance(extras, dict):
        raise MusicDanceError(f"extras must be a dict, got {type(extras).__name__}", path)
    try:
        json.dumps(extras, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MusicDanceError(f"extras are not valid JSON: {exc}", path) from None


def _check_readable(motion: Motion, path: str | os.PathLike[str]) -> None:
    """Refuse what ``read_gltf`` would reject: frame rate, length, sizes and distances."""
    fps = motion.fps
    if not (np.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise MusicDanceError(f"cannot export motion at {fps:g} fps (up to {MAX_FPS:g})", path)
    if (motion.num_frames - 1) / fps > MAX_DURATION_S:
        raise MusicDanceError(
            f"cannot export a motion longer than {MAX_DURATION_S:g} s (the reader's limit)", path
        )
    if motion.num_frames * motion.skeleton.num_joints > MAX_JOINT_FRAMES:
        raise MusicDanceError(
            f"cannot export {motion.num_frames} frames x {motion.skeleton.num_joints} joints "
            f"(the reader's limit is {MAX_JOINT_FRAMES:,} joint-frames)",
            path,
        )
    skeleton = motion.skeleton
    distances = [skeleton.offsets_m, *skeleton.end_sites_m.values(), motion.root_positions_m]
    if motion.local_translations_m is not None:
        distances.append(motion.local_translations_m)
    if not all(np.all(np.abs(values) <= 1e7) for values in distances):
        raise MusicDanceError("cannot export motion: a distance beyond 1e7 m", path)


class _BufferBuilder:
    """Packs arrays into one binary buffer, recording a bufferView and an accessor for each."""

    def __init__(self) -> None:
        self.buffer_views: list[BufferView] = []
        self.accessors: list[Accessor] = []
        self._chunks: list[bytes] = []
        self._size = 0

    def add(
        self, array: np.ndarray, kind: str, *, target: int | None = None, bounds: bool = False
    ) -> int:
        """Append ``array [count, components]`` (or ``[count]``) and return its accessor index.

        kind: glTF accessor type (``"SCALAR"``, ``"VEC3"``, ...). bounds: store min/max.
        """
        data = np.ascontiguousarray(array)
        raw = data.tobytes()
        self.buffer_views.append(
            BufferView(buffer=0, byteOffset=self._size, byteLength=len(raw), target=target)
        )
        padding = b"\0" * (-len(raw) % 4)
        self._chunks += [raw, padding]
        self._size += len(raw) + len(padding)
        accessor = Accessor(
            bufferView=len(self.buffer_views) - 1,
            componentType=_COMPONENT_TYPES[data.dtype],
            count=len(data),
            type=kind,
        )
        if bounds:
            flat = data.reshape(len(data), -1)
            accessor.min = flat.min(axis=0).tolist()
            accessor.max = flat.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def blob(self) -> bytes:
        return b"".join(self._chunks)


def _joint_nodes(skeleton: Skeleton) -> list[Node]:
    """One node per joint, translated by its rest offset, children as in the skeleton."""
    return [
        Node(name=name, translation=skeleton.offsets_m[j].tolist(), children=skeleton.children(j))
        for j, name in enumerate(skeleton.names)
    ]


def _skin(skeleton: Skeleton, buffer: _BufferBuilder) -> Skin:
    """Skin over all joint nodes; inverse bind matrices undo the rest pose's global translation."""
    count = skeleton.num_joints
    matrices = np.tile(np.eye(4, dtype=np.float32), (count, 1, 1))
    matrices[:, :3, 3] = -skeleton.rest_positions_m()
    column_major = matrices.transpose(0, 2, 1).reshape(count, 16)
    return Skin(
        name="skeleton",
        joints=list(range(count)),
        skeleton=0,
        inverseBindMatrices=buffer.add(column_major, "MAT4"),
    )


def _figure_mesh(skeleton: Skeleton, buffer: _BufferBuilder) -> Mesh:
    """A tapered box along every bone, rigidly skinned to the bone's parent joint."""
    heads, tails, owners = _bone_segments(skeleton)
    positions, normals = _tapered_boxes(heads, tails)
    joints = np.zeros((len(positions), 4), dtype="<u2")
    joints[:, 0] = np.repeat(owners, len(positions) // len(owners))
    weights = np.zeros((len(positions), 4), dtype="<f4")
    weights[:, 0] = 1.0
    attributes = Attributes(
        POSITION=buffer.add(positions, "VEC3", target=ARRAY_BUFFER, bounds=True),
        NORMAL=buffer.add(normals, "VEC3", target=ARRAY_BUFFER),
        JOINTS_0=buffer.add(joints, "VEC4", target=ARRAY_BUFFER),
        WEIGHTS_0=buffer.add(weights, "VEC4", target=ARRAY_BUFFER),
    )
    return Mesh(name="figure", primitives=[Primitive(attributes=attributes, material=0)])


def _figure_material() -> Material:
    pbr = PbrMetallicRoughness(
        baseColorFactor=[0.8, 0.55, 0.3, 1.0], metallicFactor=0.0, roughnessFactor=0.7
    )
    return Material(name="figure", pbrMetallicRoughness=pbr)


def _bone_segments(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rest-pose bones: heads ``[B, 3]`` and tails ``[B, 3]`` in metres, owning joints ``[B]``.

    A bone runs from each joint to each child; a leaf joint gets one towards its end site (or
    a short one along its own offset). Bones shorter than 0.1 mm are left out; every skeleton
    has a leaf, so at least one bone remains.
    """
    rest = skeleton.rest_positions_m()
    heads, tails, owners = [], [], []
    for j in range(skeleton.num_joints):
        children = skeleton.children(j)
        ends = [rest[c] for c in children] if children else [rest[j] + _leaf_extent(skeleton, j)]
        for end in ends:
            if np.linalg.norm(end - rest[j]) > _MIN_BONE_M:
                heads.append(rest[j])
                tails.append(end)
                owners.append(j)
    return np.array(heads), np.array(tails), np.array(owners)


def _leaf_extent(skeleton: Skeleton, joint: int) -> np.ndarray:
    """Offset ``[3]`` (metres) from a leaf joint to the tip of its bone."""
    end_site = skeleton.end_sites_m.get(joint)
    if end_site is not None and np.linalg.norm(end_site) > _MIN_BONE_M:
        return np.asarray(end_site, dtype=float)
    direction = skeleton.offsets_m[joint] if joint > 0 else np.array([0.0, 1.0, 0.0])
    norm = np.linalg.norm(direction)
    if norm <= _MIN_BONE_M:
        return np.array([0.0, _LEAF_BONE_M, 0.0])
    return direction / norm * _LEAF_BONE_M


def _tapered_boxes(heads: np.ndarray, tails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat-shaded boxes from ``heads [B, 3]`` to ``tails [B, 3]``, narrowing towards the tail.

    Returns float32 positions and unit normals, each ``[B * 36, 3]`` (12 triangles per box,
    counter-clockwise seen from outside).
    """
    axis = tails - heads
    length = np.linalg.norm(axis, axis=-1, keepdims=True)
    direction = axis / length
    helper = np.where(np.abs(direction[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    side = np.cross(direction, helper)
    side /= np.linalg.norm(side, axis=-1, keepdims=True)
    up = np.cross(direction, side)
    half = np.clip(_BONE_WIDTH_RATIO * length, *_BONE_HALF_WIDTH_RANGE_M)[:, :, None]
    square = _SQUARE[None, :, :1] * side[:, None] + _SQUARE[None, :, 1:] * up[:, None]
    corners = np.concatenate(
        [heads[:, None] + half * square, tails[:, None] + _BONE_TAPER * half * square], axis=1
    )
    triangles = corners[:, _BOX_TRIANGLES]
    first = triangles[:, :, 0]
    normals = np.cross(triangles[:, :, 1] - first, triangles[:, :, 2] - first)
    centre = corners.mean(axis=1)[:, None]
    inward = np.sum(normals * (triangles.mean(axis=2) - centre), axis=-1) < 0.0
    triangles[inward] = triangles[inward][:, [0, 2, 1]]
    normals[inward] *= -1.0
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    positions = triangles.reshape(-1, 3).astype("<f4")
    vertex_normals = np.repeat(normals.reshape(-1, 3), 3, axis=0).astype("<f4")
    return positions, vertex_normals


def _animation(motion: Motion, buffer: _BufferBuilder, name: str) -> Animation:
    """LINEAR channels: rotation of every joint, translation of the root and moving joints."""
    times = (np.arange(motion.num_frames) / motion.fps).astype("<f4")
    time_accessor = buffer.add(times, "SCALAR", bounds=True)
    rotations = quat_normalize(quat_unroll(motion.rotations, axis=0)).astype("<f4")
    tracks = [(j, "rotation", rotations[:, j], "VEC4") for j in range(motion.skeleton.num_joints)]
    tracks.append((0, "translation", motion.root_positions_m.astype("<f4"), "VEC3"))
    for j in _moving_joints(motion):
        values = motion.local_translations_m[:, j].astype("<f4")
        tracks.append((j, "translation", values, "VEC3"))
    samplers, channels = [], []
    for node, target_path, values, kind in tracks:
        output = buffer.add(values, kind)
        sampler = AnimationSampler(input=time_accessor, output=output, interpolation="LINEAR")
        samplers.append(sampler)
        target = AnimationChannelTarget(node=node, path=target_path)
        channels.append(AnimationChannel(sampler=len(samplers) - 1, target=target))
    return Animation(name=name, samplers=samplers, channels=channels)


def _moving_joints(motion: Motion) -> list[int]:
    """Non-root joints whose animated translation differs from their rest offset somewhere."""
    if motion.local_translations_m is None:
        return []
    offsets = motion.skeleton.offsets_m
    moving = np.any(motion.local_translations_m[:, 1:] != offsets[1:], axis=(0, 2))
    return [int(j) + 1 for j in np.flatnonzero(moving)]


def _musicdance_extras(motion: Motion) -> dict[str, Any]:
    """What ``read_gltf`` needs beyond glTF itself: the exact fps and the BVH end sites."""
    found: dict[str, Any] = {"fps": float(motion.fps)}
    skeleton = motion.skeleton
    if skeleton.end_sites_m:
        found["endSites"] = {
            skeleton.names[j]: np.asarray(offset, dtype=float).tolist()
            for j, offset in skeleton.end_sites_m.items()
        }
    return found


def _pack_glb(document: dict[str, Any], blob: bytes) -> bytes:
    """A GLB container: 12-byte header, JSON chunk padded with spaces, BIN chunk.

    blob: the binary buffer, its length already a multiple of 4 (``_BufferBuilder`` pads).
    """
    text = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    return b"".join(
        [
            struct.pack("<4sII", GLB_MAGIC, 2, total),
            struct.pack("<I4s", len(text), CHUNK_JSON),
            text,
            struct.pack("<I4s", len(blob), CHUNK_BIN),
            blob,
        ]
    )
