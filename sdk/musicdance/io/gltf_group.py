"""glTF export of a group: N characters in one .glb, animated by one clip.

Layout: per character a named node (``dancer_01``, ...) holding its skeleton (joint nodes named
as the joints, so humanoid retargeting maps them as for one dancer) and, with ``mesh``, a scene
root ``dancer_01_figure`` skinned to that skeleton (the mannequin mesh is stored once and
shared). One
animation drives every character: engines import it as one clip, so the dancers cannot drift
out of sync and one play call starts them all (per-character clips would need N clips started
on the same frame). The scene's extras carry the caller's ``extras`` (the group timeline).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from pygltflib import (
    GLTF2,
    Animation,
    AnimationChannel,
    AnimationChannelTarget,
    AnimationSampler,
    Asset,
    Buffer,
    Node,
    Scene,
    Skin,
)

from musicdance import __version__
from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.io.gltf_format import EXTRAS_KEY
from musicdance.io.gltf_writer import (
    _BufferBuilder,
    _check_exportable,
    _figure_material,
    _figure_mesh,
    _joint_nodes,
    _moving_joints,
    _musicdance_extras,
    _pack_glb,
)
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_normalize, quat_unroll

__all__ = ["write_group_glb"]


def write_group_glb(
    motions: list[Motion],
    names: list[str],
    path: str | os.PathLike[str],
    *,
    extras: dict[str, Any] | None = None,
    name: str | None = None,
    mesh: bool = True,
    animation_extras: dict[str, Any] | None = None,
) -> None:
    """Write ``motions`` (one per character, same skeleton, fps and length) as one .glb with
    one animation named ``name`` (default: the file stem); ``names``: the characters' node
    names. Raises ``MusicDanceError`` (writing nothing) on data a glTF file cannot hold."""
    if not motions or len(motions) != len(names):
        raise MusicDanceError("a group glb needs one name per motion and at least one", path)
    first = motions[0]
    for motion in motions:
        if (motion.num_frames, motion.fps) != (first.num_frames, first.fps) or \
                motion.skeleton.names != first.skeleton.names:  # fmt: skip
            raise MusicDanceError("the characters of a group glb need one skeleton, fps and "
                                  "length", path)  # fmt: skip
        _check_exportable(motion, None, path)
    _check_exportable(first, extras, path)
    _check_exportable(first, animation_extras, path)
    buffer = _BufferBuilder()
    skeleton = first.skeleton
    count = skeleton.num_joints
    gltf = GLTF2(asset=Asset(generator=f"mdtool {__version__}"))
    clip = name if name else Path(path).stem
    nodes: list[Node] = []
    roots: list[int] = []
    joint_bases: list[int] = []
    inverse = None
    if mesh:
        gltf.meshes = [_figure_mesh(skeleton, buffer)]
        gltf.materials = [_figure_material()]
        matrices = np.tile(np.eye(4, dtype=np.float32), (count, 1, 1))
        matrices[:, :3, 3] = -skeleton.rest_positions_m()
        inverse = buffer.add(matrices.transpose(0, 2, 1).reshape(count, 16), "MAT4")
        gltf.skins = []
    for character, label in enumerate(names):
        base = len(nodes)
        joint_bases.append(base)
        for node in _joint_nodes(skeleton):
            node.children = [base + c for c in (node.children or [])] or None
            nodes.append(node)
        nodes.append(Node(name=label, children=[base]))
        roots.append(len(nodes) - 1)
        if mesh:  # a skinned mesh node is a scene root (parent transforms do not apply to it)
            gltf.skins.append(Skin(name=f"{label}_skeleton", joints=list(range(base, base + count)),
                                   skeleton=base, inverseBindMatrices=inverse))  # fmt: skip
            nodes.append(Node(name=f"{label}_figure", mesh=0, skin=character))
            roots.append(len(nodes) - 1)
    gltf.nodes = nodes
    gltf.animations = [_group_animation(motions, joint_bases, buffer, clip)]
    gltf.scenes = [Scene(name=clip, nodes=roots)]
    gltf.scene = 0
    blob = buffer.blob()
    gltf.buffers = [Buffer(byteLength=len(blob))]
    gltf.bufferViews = buffer.buffer_views
    gltf.accessors = buffer.accessors
    document = json.loads(gltf.gltf_to_json())
    document["asset"]["extras"] = {EXTRAS_KEY: {**_musicdance_extras(first),
                                                "characters": list(names)}}  # fmt: skip
    if extras:
        document["scenes"][0]["extras"] = extras
    if animation_extras:
        document["animations"][0]["extras"] = animation_extras
    with atomic_write(path, "wb") as handle:
        handle.write(_pack_glb(document, blob))


def _group_animation(
    motions: list[Motion], bases: list[int], buffer: _BufferBuilder, name: str
) -> Animation:
    """One animation: every character's joint rotations and root (and moving joint)
    translations, LINEAR, on one shared time accessor."""
    first = motions[0]
    times = (np.arange(first.num_frames) / first.fps).astype("<f4")
    time_accessor = buffer.add(times, "SCALAR", bounds=True)
    samplers, channels = [], []
    for motion, base in zip(motions, bases, strict=True):
        rotations = quat_normalize(quat_unroll(motion.rotations, axis=0)).astype("<f4")
        tracks = [(j, "rotation", rotations[:, j], "VEC4")
                  for j in range(motion.skeleton.num_joints)]  # fmt: skip
        tracks.append((0, "translation", motion.root_positions_m.astype("<f4"), "VEC3"))
        for j in _moving_joints(motion):
            tracks.append((j, "translation", motion.local_translations_m[:, j].astype("<f4"),
                           "VEC3"))  # fmt: skip
        for node, target_path, values, kind in tracks:
            output = buffer.add(values, kind)
            samplers.append(AnimationSampler(input=time_accessor, output=output,
                                             interpolation="LINEAR"))  # fmt: skip
            channels.append(AnimationChannel(
                sampler=len(samplers) - 1,
                target=AnimationChannelTarget(node=base + node, path=target_path)))  # fmt: skip
    return Animation(name=name, samplers=samplers, channels=channels)
