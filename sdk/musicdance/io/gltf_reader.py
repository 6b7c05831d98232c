"""glTF 2.0 import (.glb and .gltf) of motions: the first animation, sampled on a frame grid."""

from __future__ import annotations

import base64
import json
import math
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
from pygltflib import GLTF2, Animation, Node

from musicdance.errors import MusicDanceError
from musicdance.io.gltf_format import CHUNK_BIN, CHUNK_JSON, EXTRAS_KEY, GLB_MAGIC
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_from_matrix, quat_identity, quat_normalize, quat_slerp
from musicdance.motion.skeleton import Skeleton

__all__ = ["DEFAULT_FPS", "JOINT_CHANNELS", "ROOT_CHANNELS", "read_gltf"]

DEFAULT_FPS = 30.0
"""Frame rate used by ``read_gltf`` when neither the caller, the file nor its keys give one."""

ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")

_DTYPES = {
    5120: np.dtype("i1"),
    5121: np.dtype("u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
_NUM_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def read_gltf(path: str | os.PathLike[str], *, fps: float | None = None) -> Motion:
    """Read the first animation of a .glb or .gltf file as a ``Motion``.

    The skeleton is the first skin's joints (without a skin: the node tree under the animated
    nodes); offsets are node translations, non-animated rotations stay at the node's rotation,
    node scale is ignored, and so are transforms of nodes above the root joint. Every channel is
    sampled at ``fps`` (default: the rate stored by ``write_glb``, else inferred from the key
    spacing, else ``DEFAULT_FPS``) from time 0 to the last key, honouring LINEAR (slerp for
    rotations), STEP and CUBICSPLINE (value elements only) interpolation.

    Raises ``MusicDanceError`` naming the problem for anything that is not a readable, animated
    glTF 2.0 asset.
    """
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise MusicDanceError(f"fps must be a positive number, got {fps}", path)
    try:
        document = _load_document(Path(path))
        return _motion_from_document(document, fps)
    except MusicDanceError as exc:
        raise MusicDanceError(exc.message, path) from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MusicDanceError(f"malformed glTF ({type(exc).__name__}: {exc})", path) from None


class _Document:
    """A parsed glTF document and lazy access to its buffers and accessors."""

    def __init__(self, gltf: GLTF2, folder: Path, glb_blob: bytes | None) -> None:
        self.gltf = gltf
        self._folder = folder
        self._glb_blob = glb_blob
        self._buffers: dict[int, bytes] = {}

    def accessor(self, index: int) -> np.ndarray:
        """Accessor ``index`` as float64 ``[count, components]``, normalised integers scaled."""
        accessor = self.gltf.accessors[index]
        if accessor.sparse is not None:
            raise MusicDanceError(f"accessor {index} is sparse, which is not supported")
        dtype = _DTYPES[accessor.componentType]
        components = _NUM_COMPONENTS[accessor.type]
        if accessor.bufferView is None:
            return np.zeros((accessor.count, components))
        view = self.gltf.bufferViews[accessor.bufferView]
        data = self._buffer(view.buffer)
        element = dtype.itemsize * components
        stride = view.byteStride or element
        start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
        view_end = (view.byteOffset or 0) + view.byteLength
        end = start + stride * (accessor.count - 1) + element if accessor.count else start
        if end > view_end or view_end > len(data):
            raise MusicDanceError(f"accessor {index} reads past the end of buffer {view.buffer}")
        values = np.ndarray(
            (accessor.count, components),
            dtype,
            buffer=data,
            offset=start,
            strides=(stride, dtype.itemsize),
        ).astype(float)
        if accessor.normalized and dtype.kind in "iu":
            values = np.maximum(values / np.iinfo(dtype).max, -1.0)
        return values

    def _buffer(self, index: int) -> bytes:
        if index not in self._buffers:
            self._buffers[index] = self._load_buffer(index)
        return self._buffers[index]

    def _load_buffer(self, index: int) -> bytes:
        buffer = self.gltf.buffers[index]
        uri = buffer.uri
        if uri is None:
            if self._glb_blob is None:
                raise MusicDanceError(f"buffer {index} has no uri and there is no GLB BIN chunk")
            data = self._glb_blob
        elif uri.startswith("data:"):
            header, _, payload = uri.partition(",")
            if not header.endswith(";base64"):
                raise MusicDanceError(f"buffer {index} has a data URI that is not base64")
            data = base64.b64decode(payload)
        else:
            file = self._folder / unquote(uri)
            if not file.is_file():
                raise MusicDanceError(f"buffer {index}: file {uri!r} not found")
            data = file.read_bytes()
        if len(data) < buffer.byteLength:
            raise MusicDanceError(
                f"buffer {index} is truncated: {len(data)} of {buffer.byteLength} bytes"
            )
        return data


def _load_document(path: Path) -> _Document:
    """Parse a .glb or .gltf file; buffers load later, on first use."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MusicDanceError(f"cannot read file: {exc.strerror}") from None
    if data[:4] != GLB_MAGIC:
        gltf = _parse_json(data, "not a glTF or GLB file (neither a GLB header nor JSON)")
        return _Document(gltf, path.parent, None)
    text, blob = _unpack_glb(data)
    gltf = _parse_json(text, "corrupt GLB: the JSON chunk is not valid JSON")
    return _Document(gltf, path.parent, blob)


def _unpack_glb(data: bytes) -> tuple[bytes, bytes | None]:
    """The JSON chunk and the BIN chunk (``None`` if absent) of a GLB container."""
    if len(data) < 12:
        raise MusicDanceError(f"truncated GLB: {len(data)}-byte file, header needs 12")
    _, version, length = struct.unpack_from("<4sII", data)
    if version != 2:
        raise MusicDanceError(f"unsupported GLB version {version} (expected 2)")
    if length > len(data):
        raise MusicDanceError(
            f"truncated GLB: header declares {length} bytes, file has {len(data)}"
        )
    chunks: list[tuple[bytes, bytes]] = []
    offset = 12
    while offset < length:
        if offset + 8 > length:
            raise MusicDanceError(f"truncated GLB: chunk {len(chunks)} header is incomplete")
        size, kind = struct.unpack_from("<I4s", data, offset)
        if offset + 8 + size > length:
            raise MusicDanceError(f"truncated GLB: chunk {len(chunks)} runs past the end of file")
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise MusicDanceError("GLB does not start with a JSON chunk")
    blob = next((payload for kind, payload in chunks[1:] if kind == CHUNK_BIN), None)
    return chunks[0][1], blob


def _parse_json(text: bytes, undecodable: str) -> GLTF2:
    """The glTF JSON document; ``MusicDanceError`` unless it is glTF 2.x.

    undecodable: the error message for ``text`` that is not UTF-8 JSON.
    """
    try:
        decoded = text.decode("utf-8-sig")
        raw = json.loads(decoded)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MusicDanceError(undecodable) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("asset"), dict):
        raise MusicDanceError("not a glTF file: JSON has no 'asset' object")
    version = str(raw["asset"].get("version", ""))
    if not version.startswith("2."):
        raise MusicDanceError(f"unsupported glTF version {version!r} (expected 2.x)")
    return GLTF2.from_json(decoded, infer_missing=True)


_Track = tuple[np.ndarray, np.ndarray, str]  # key times [K] s, values [K, C], interpolation


def _motion_from_document(document: _Document, fps: float | None) -> Motion:
    """Sample the first animation of ``document`` on a regular grid of ``fps``."""
    gltf = document.gltf
    if not gltf.animations:
        raise MusicDanceError("file has no animation")
    tracks = _tracks(document, gltf.animations[0])
    if not tracks:
        raise MusicDanceError("the animation has no rotation or translation channels")
    joints, parents = _skeleton_nodes(gltf, {node for node, _ in tracks})
    tracks = {key: track for key, track in tracks.items() if key[0] in joints}
    if not tracks:
        raise MusicDanceError("the animation does not move any joint of the skeleton")
    fps = fps or _stored_fps(gltf) or _inferred_fps(tracks.values()) or DEFAULT_FPS
    end_s = max(float(keys[-1]) for keys, _, _ in tracks.values())
    # Keys are float32 seconds: allow their rounding error before dropping the last frame.
    num_frames = int(np.floor(end_s * fps * (1.0 + 1e-6) + 1e-6)) + 1
    times_s = np.arange(num_frames) / fps
    rest = [_rest_transform(gltf.nodes[node]) for node in joints]
    offsets = np.array([t for t, _ in rest])
    translations = _sampled(tracks, joints, "translation", offsets, times_s)
    rotations = quat_normalize(_sampled(tracks, joints, "rotation", [q for _, q in rest], times_s))
    moving = {j for j, node in enumerate(joints) if j > 0 and (node, "translation") in tracks}
    skeleton = Skeleton(
        names=_joint_names(gltf, joints),
        parents=np.array(parents),
        offsets_m=offsets,
        channels=tuple(
            ROOT_CHANNELS if j == 0 or j in moving else JOINT_CHANNELS for j in range(len(joints))
        ),
        end_sites_m=_stored_end_sites(gltf, joints),
    )
    return Motion(
        skeleton=skeleton,
        fps=float(fps),
        root_positions_m=translations[:, 0],
        rotations=rotations,
        local_translations_m=translations if moving else None,
    )


def _tracks(document: _Document, animation: Animation) -> dict[tuple[int, str], _Track]:
    """Rotation and translation keys of every channel, keyed by (node, path)."""
    tracks: dict[tuple[int, str], _Track] = {}
    for channel in animation.channels:
        target = channel.target
        if target.node is None or target.path not in ("rotation", "translation"):
            continue
        sampler = animation.samplers[channel.sampler]
        interpolation = sampler.interpolation or "LINEAR"
        keys = document.accessor(sampler.input)[:, 0]
        values = document.accessor(sampler.output)
        if interpolation == "CUBICSPLINE":
            values = values[1::3]  # in-tangent, value, out-tangent per key
        _check_keys(channel.sampler, keys, values)
        if target.path == "rotation":
            values = quat_normalize(values)
        tracks[(target.node, target.path)] = (keys, values, interpolation)
    return tracks


def _check_keys(sampler: int, keys: np.ndarray, values: np.ndarray) -> None:
    """Raise ``MusicDanceError`` unless ``keys [K]`` increase and match finite ``values``."""
    if len(keys) == 0 or len(values) != len(keys):
        raise MusicDanceError(
            f"animation sampler {sampler} has {len(keys)} keys but {len(values)} values"
        )
    if not (np.all(np.isfinite(keys)) and np.all(np.isfinite(values))):
        raise MusicDanceError(f"animation sampler {sampler} has non-finite keys or values")
    if np.any(np.diff(keys) < 0):
        raise MusicDanceError(f"animation sampler {sampler} has decreasing key times")


def _skeleton_nodes(gltf: GLTF2, animated: set[int]) -> tuple[list[int], list[int]]:
    """Joint node indices, parents first, and each joint's parent index in that list.

    Joints are the first skin's joints, or else every node under the closest common ancestor
    of the animated nodes; several root joints are joined under their common ancestor. The
    skin's order (else node order) is kept when parents already precede their children.
    """
    parent_of = {child: i for i, node in enumerate(gltf.nodes) for child in node.children or []}
    if gltf.skins:
        joints = list(dict.fromkeys(gltf.skins[0].joints))
    else:
        joints = sorted(_subtree(gltf, _common_ancestor(parent_of, animated)))
    members = set(joints)
    roots = [j for j in joints if _joint_parent(parent_of, members, j) is None]
    if len(roots) > 1:
        roots = [_common_ancestor(parent_of, roots)]
        joints.insert(0, roots[0])
        members.add(roots[0])
    parent_node = {j: _joint_parent(parent_of, members, j) for j in joints}
    position = {node: i for i, node in enumerate(joints)}
    if joints[0] != roots[0] or any(position[parent_node[j]] > i for i, j in enumerate(joints[1:])):
        joints = [node for node in _subtree(gltf, roots[0]) if node in members]
        position = {node: i for i, node in enumerate(joints)}
    return joints, [-1] + [position[parent_node[j]] for j in joints[1:]]


def _ancestors(parent_of: dict[int, int], node: int) -> list[int]:
    """``node`` and its ancestors up to a scene root (stops at a cycle)."""
    chain = [node]
    while chain[-1] in parent_of and parent_of[chain[-1]] not in chain:
        chain.append(parent_of[chain[-1]])
    return chain


def _common_ancestor(parent_of: dict[int, int], nodes: Iterable[int]) -> int:
    """The deepest node that is ``nodes`` or an ancestor of all of them."""
    chains = [_ancestors(parent_of, node) for node in nodes]
    shared = set(chains[0]).intersection(*chains[1:])
    if not shared:
        raise MusicDanceError("the animated joints do not share a root node")
    return next(node for node in chains[0] if node in shared)


def _joint_parent(parent_of: dict[int, int], members: set[int], node: int) -> int | None:
    """The nearest ancestor of ``node`` that is a joint, or ``None``."""
    return next((a for a in _ancestors(parent_of, node)[1:] if a in members), None)


def _subtree(gltf: GLTF2, root: int) -> list[int]:
    """``root`` and its descendants in depth-first order, parents before children."""
    order, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed(gltf.nodes[node].children or []))
    return order


def _joint_names(gltf: GLTF2, joints: list[int]) -> tuple[str, ...]:
    """Node names, with ``node<i>`` for unnamed nodes and ``_<i>`` appended to repeats."""
    names: list[str] = []
    for node in joints:
        name = gltf.nodes[node].name or f"node{node}"
        names.append(f"{name}_{node}" if name in names else name)
    return tuple(names)


def _rest_transform(node: Node) -> tuple[np.ndarray, np.ndarray]:
    """Rest translation ``[3]`` (metres) and rotation ``[4]`` xyzw of a node; scale dropped."""
    if node.matrix is not None:
        matrix = np.asarray(node.matrix, dtype=float).reshape(4, 4).T  # stored column-major
        linear = matrix[:3, :3]
        scale = np.linalg.norm(linear, axis=0)
        if np.all(scale > 0):
            return matrix[:3, 3], quat_from_matrix(linear / scale)
        return matrix[:3, 3], quat_identity()
    translation = np.zeros(3) if node.translation is None else np.asarray(node.translation, float)
    rotation = quat_identity() if node.rotation is None else np.asarray(node.rotation, float)
    return translation, quat_normalize(rotation)


def _sampled(
    tracks: dict[tuple[int, str], _Track],
    joints: list[int],
    target_path: str,
    rest: Iterable[np.ndarray],
    times_s: np.ndarray,
) -> np.ndarray:
    """``[T, J, C]`` values of ``target_path`` at ``times_s``; rest values where not animated."""
    columns = []
    for node, rest_value in zip(joints, rest, strict=True):
        track = tracks.get((node, target_path))
        if track is None:
            columns.append(np.broadcast_to(rest_value, (len(times_s), len(rest_value))))
        else:
            columns.append(_sample_track(track, times_s, spherical=target_path == "rotation"))
    return np.stack(columns, axis=1)


def _sample_track(track: _Track, times_s: np.ndarray, *, spherical: bool) -> np.ndarray:
    """Values ``[N, C]`` of a track at ``times_s [N]``, held constant outside its keys."""
    keys, values, interpolation = track
    if interpolation == "STEP" or len(keys) == 1:
        index = np.clip(np.searchsorted(keys, times_s, side="right") - 1, 0, len(keys) - 1)
        return values[index]
    hi = np.clip(np.searchsorted(keys, times_s, side="right"), 1, len(keys) - 1)
    lo = hi - 1
    alpha = np.clip((times_s - keys[lo]) / np.maximum(keys[hi] - keys[lo], 1e-12), 0.0, 1.0)
    if spherical:
        return quat_slerp(values[lo], values[hi], alpha)
    return values[lo] + (values[hi] - values[lo]) * alpha[:, None]


def _musicdance_asset_extras(gltf: GLTF2) -> dict[str, Any]:
    extras = gltf.asset.extras or {}
    found = extras.get(EXTRAS_KEY) if isinstance(extras, dict) else None
    return found if isinstance(found, dict) else {}


def _stored_fps(gltf: GLTF2) -> float | None:
    """The frame rate ``write_glb`` stored, if present and valid."""
    fps = _musicdance_asset_extras(gltf).get("fps")
    valid = isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0
    return float(fps) if valid else None


def _stored_end_sites(gltf: GLTF2, joints: list[int]) -> dict[int, np.ndarray]:
    """End-site offsets ``{joint: [3]}`` (metres) that ``write_glb`` stored, by joint name."""
    stored = _musicdance_asset_extras(gltf).get("endSites") or {}
    by_name = {gltf.nodes[node].name: j for j, node in enumerate(joints)}
    return {
        by_name[name]: np.asarray(offset, dtype=float).reshape(3)
        for name, offset in stored.items()
        if name in by_name
    }


def _inferred_fps(tracks: Iterable[_Track]) -> float | None:
    """Frame rate from the key spacing of the longest track; ``None`` if it has one key."""
    keys = max((keys for keys, _, _ in tracks), key=len)
    steps = np.diff(keys)
    if len(steps) == 0 or steps.min() <= 0:
        return None
    if steps.max() <= 1.01 * steps.min():
        fps = (len(keys) - 1) / (keys[-1] - keys[0])  # evenly spaced: averages float32 rounding
    else:
        fps = 1.0 / steps.min()  # reduced keys: assume the closest pair is one frame apart
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) <= 1e-3 * fps else float(fps)
