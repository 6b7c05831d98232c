"""glTF 2.0 import (.glb and .gltf) of motions: the first animation, sampled on a frame grid.

The JSON is read as plain dicts and lists (only what a motion needs is looked at), every index,
count, stride and byte range is checked against the buffer before anything is allocated, and
the skeleton is assembled in time linear in the number of nodes, whatever its depth. Limits
(module constants, change them here): ``MAX_GLTF_BYTES``, ``MAX_JSON_DEPTH``,
``MAX_JSON_VALUES``, ``MAX_DURATION_S``, ``MAX_JOINT_FRAMES``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.io.gltf_format import CHUNK_BIN, CHUNK_JSON, EXTRAS_KEY, GLB_MAGIC
from musicdance.motion.motion import Motion
from musicdance.motion.quat import (
    quat_from_matrix,
    quat_identity,
    quat_mul,
    quat_mul_vec3,
    quat_normalize,
    quat_slerp,
)
from musicdance.motion.skeleton import Skeleton

__all__ = ["DEFAULT_FPS", "JOINT_CHANNELS", "ROOT_CHANNELS", "read_gltf", "read_gltf_skeleton"]

DEFAULT_FPS = 30.0
"""Frame rate used by ``read_gltf`` when neither the caller, the file nor its keys give one."""

ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")

#: Largest .glb or .gltf file read (a .gltf's external buffers count separately, each up to it).
MAX_GLTF_BYTES = 2 * 1024**3
#: Deepest nesting of JSON arrays and objects accepted (mdtool writes 5).
MAX_JSON_DEPTH = 64
#: Most JSON values (objects, arrays, numbers, strings) in the JSON chunk.
MAX_JSON_VALUES = 5_000_000
#: Longest animation, in seconds, and most joint-frames (frames x joints) sampled from it.
MAX_DURATION_S = 24 * 3600.0
MAX_JOINT_FRAMES = 20_000_000
#: Highest frame rate accepted from the caller, the file or the key spacing.
MAX_FPS = 10_000.0

_DTYPES = {
    5120: np.dtype("i1"),
    5121: np.dtype("u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
_NUM_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_INTERPOLATIONS = ("LINEAR", "STEP", "CUBICSPLINE")
_JSON_BLOCK = 1 << 20  # bytes of JSON scanned at a time by _check_json_shape
_JSON_SPECIAL = re.compile(rb'["\\\[\]{},]')
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def read_gltf(path: str | os.PathLike[str], *, fps: float | None = None) -> Motion:
    """Read the first animation of a .glb or .gltf file as a ``Motion``.

    The skeleton is the first skin's joints (without a skin: the node tree under the animated
    nodes); offsets are node translations, non-animated rotations stay at the node's rotation,
    node scale is ignored, and so are transforms of nodes above the root joint. Every channel is
    sampled at ``fps`` (default: the rate stored by ``write_glb``, else inferred from the key
    spacing, else ``DEFAULT_FPS``) from time 0 to the last key, honouring LINEAR (slerp for
    rotations), STEP and CUBICSPLINE (value elements only) interpolation. A ``.gltf`` file's
    buffers are read only from ``data:`` URIs or relative paths inside the file's folder.

    Raises ``MusicDanceError`` naming the problem for anything that is not a readable, animated
    glTF 2.0 asset, or that exceeds the module's limits.
    """
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise MusicDanceError(f"fps must be a positive number up to {MAX_FPS:g}, got {fps}", path)
    try:
        document = _load_document(Path(path))
        return _motion_from_document(document, fps)
    except MusicDanceError as exc:
        raise MusicDanceError(exc.message, path) from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        # a safety net: the checks above should name every problem before this
        raise MusicDanceError(f"malformed glTF ({type(exc).__name__}: {exc})", path) from None


def read_gltf_skeleton(path: str | os.PathLike[str]) -> tuple[Skeleton, list[int]]:
    """The first skin's joints of a .glb/.gltf character (no animation needed) as a
    ``Skeleton`` in its rest pose, for matching its bones by name (``retarget.map_joints``),
    and each joint's node index in the file.

    Offsets are the joints' rest positions relative to their parents in the scene's axes (the
    nodes' rest rotations applied; scale ignored), so the skeleton's rest pose is the file's.
    Raises ``MusicDanceError`` naming the problem for a file without a skin.
    """
    try:
        document = _load_document(Path(path))
        if not _items(document.raw, "skins", "gltf"):
            raise MusicDanceError("the file has no skin (a rigged character has one)")
        joints, parents = _skeleton_nodes(document, set())
        rest = [_rest_transform(document, node) for node in joints]
        positions, rotations = np.zeros((len(joints), 3)), np.zeros((len(joints), 4))
        for j, (translation, rotation) in enumerate(rest):
            p = parents[j]
            if p < 0:
                positions[j], rotations[j] = translation, rotation
            else:
                positions[j] = positions[p] + quat_mul_vec3(rotations[p], translation)
                rotations[j] = quat_mul(rotations[p], rotation)
        offsets = positions - np.where(np.array(parents)[:, None] >= 0,
                                       positions[np.maximum(parents, 0)], 0.0)  # fmt: skip
        skeleton = Skeleton(
            names=_joint_names(document, joints), parents=np.array(parents), offsets_m=offsets,
            channels=(ROOT_CHANNELS,) + (JOINT_CHANNELS,) * (len(joints) - 1),
        )  # fmt: skip
        return skeleton, list(joints)
    except MusicDanceError as exc:
        raise MusicDanceError(exc.message, path) from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MusicDanceError(f"malformed glTF ({type(exc).__name__}: {exc})", path) from None


# ---------------------------------------------------------------------------------------------
# Typed access to the JSON


def _items(parent: dict, key: str, where: str) -> list:
    """``parent[key]`` as a list (empty when absent)."""
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise MusicDanceError(f"{where}.{key} is not an array")
    return value


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MusicDanceError(f"{where} is not an object")
    return value


def _integer(
    parent: dict, key: str, where: str, *, low: int = 0, high: int = 2**53, default=None
) -> int:
    """``parent[key]`` as an int in ``[low, high)``; ``default`` when absent (None: required)."""
    value = parent.get(key, default)
    if value is None:
        raise MusicDanceError(f"{where} has no {key}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
        raise MusicDanceError(
            f"{where}.{key} = {_short(value)} is not an integer in [{low}, {high})"
        )
    return value


def _numbers(parent: dict, key: str, count: int, where: str) -> np.ndarray | None:
    """``parent[key]`` as ``count`` finite floats, or None when absent."""
    value = parent.get(key)
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == count
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    array = np.asarray(value, dtype=float) if ok else None
    if array is None or not np.all(np.isfinite(array)) or np.any(np.abs(array) > 1e7):
        raise MusicDanceError(f"{where}.{key} is not {count} finite numbers")
    return array


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------------------------
# Document, buffers and accessors


class _Document:
    """A parsed glTF document (plain JSON) and checked, lazy access to buffers and accessors."""

    def __init__(self, raw: dict, folder: Path, glb_blob: bytes | None) -> None:
        self.raw = raw
        self.nodes = [_object(n, f"nodes[{i}]") for i, n in enumerate(_items(raw, "nodes", "gltf"))]
        self.accessors = _items(raw, "accessors", "gltf")
        self.buffer_views = _items(raw, "bufferViews", "gltf")
        self.buffers = _items(raw, "buffers", "gltf")
        self._folder = folder
        self._glb_blob = glb_blob
        self._loaded: dict[int, bytes] = {}

    def node_children(self, node: int) -> list[int]:
        where = f"nodes[{node}]"
        children = _items(self.nodes[node], "children", where)
        count = len(self.nodes)
        for child in children:
            if isinstance(child, bool) or not isinstance(child, int) or not 0 <= child < count:
                raise MusicDanceError(f"{where}.children holds {_short(child)}, not a node index")
        return children

    def node_name(self, node: int) -> str | None:
        name = self.nodes[node].get("name")
        return name if isinstance(name, str) and name.strip() else None

    def accessor(self, index: int) -> np.ndarray:
        """Accessor ``index`` as float64 ``[count, components]``, normalised integers scaled.

        Every size is checked against the buffer before the array is made, so a declared count
        never allocates more than the buffer holds.
        """
        where = f"accessors[{index}]"
        accessor = _object(self.accessors[index], where)
        if accessor.get("sparse") is not None:
            raise MusicDanceError(f"{where} is sparse, which is not supported")
        dtype = _DTYPES.get(accessor.get("componentType"))  # type: ignore[arg-type]
        components = _NUM_COMPONENTS.get(accessor.get("type"))  # type: ignore[arg-type]
        if dtype is None or components is None:
            raise MusicDanceError(f"{where} has an unknown componentType or type")
        count = _integer(accessor, "count", where, low=1, high=2**32)
        if accessor.get("bufferView") is None:
            raise MusicDanceError(f"{where} has no bufferView (all-zero accessors unsupported)")
        view_index = _integer(accessor, "bufferView", where, high=len(self.buffer_views))
        view_where = f"bufferViews[{view_index}]"
        view = _object(self.buffer_views[view_index], view_where)
        buffer_index = _integer(view, "buffer", view_where, high=len(self.buffers))
        view_offset = _integer(view, "byteOffset", view_where, default=0)
        view_length = _integer(view, "byteLength", view_where, low=1)
        element = dtype.itemsize * components
        stride = _integer(view, "byteStride", view_where, low=0, high=253, default=0) or element
        if stride < element or stride % dtype.itemsize:
            raise MusicDanceError(
                f"{view_where}.byteStride {stride} does not fit {where}'s {element}-byte elements"
            )
        start = view_offset + _integer(accessor, "byteOffset", where, default=0)
        end = start + stride * (count - 1) + element
        if end > view_offset + view_length:
            raise MusicDanceError(
                f"{where} needs bytes {start} to {end} but {view_where} ends at "
                f"{view_offset + view_length}"
            )
        data = self._buffer(buffer_index)
        if view_offset + view_length > len(data):
            raise MusicDanceError(
                f"{view_where} ends at byte {view_offset + view_length}, past the end of "
                f"buffer {buffer_index} ({len(data)} bytes)"
            )
        raw = np.ndarray(
            (count, components), dtype, buffer=data, offset=start, strides=(stride, dtype.itemsize)
        )
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf are reported later
            values = raw.astype(float)
        if accessor.get("normalized") is True and dtype.kind in "iu":
            values = np.maximum(values / np.iinfo(dtype).max, -1.0)
        return values

    def _buffer(self, index: int) -> bytes:
        if index not in self._loaded:
            self._loaded[index] = self._load_buffer(index)
        return self._loaded[index]

    def _load_buffer(self, index: int) -> bytes:
        where = f"buffers[{index}]"
        buffer = _object(self.buffers[index], where)
        declared = _integer(buffer, "byteLength", where, low=1)
        uri = buffer.get("uri")
        if uri is None:
            if self._glb_blob is None:
                raise MusicDanceError(f"{where} has no uri and there is no GLB BIN chunk")
            data = self._glb_blob
        elif not isinstance(uri, str):
            raise MusicDanceError(f"{where}.uri is not a string")
        elif uri.startswith("data:"):
            data = _data_uri(uri, where)
        else:
            data = self._external(uri, where)
        if len(data) < declared:
            raise MusicDanceError(f"{where} is truncated: {len(data)} of {declared} bytes")
        return data

    def _external(self, uri: str, where: str) -> bytes:
        """An external buffer: only a relative path that stays inside the file's folder."""
        refused = MusicDanceError(
            f"{where}.uri must be a data: URI or a relative path inside the file's folder"
        )
        relative = unquote(uri)
        if not relative or _URI_SCHEME.match(relative) or "\0" in relative:
            raise refused
        if relative.startswith(("/", "\\")) or Path(relative).is_absolute():
            raise refused
        folder = self._folder.resolve()
        try:
            file = (folder / relative).resolve()
        except (OSError, RuntimeError, ValueError):
            raise refused from None
        if not file.is_relative_to(folder):
            raise refused
        try:
            if not file.is_file():
                raise MusicDanceError(f"{where}: file {uri!r} not found beside the glTF file")
            if file.stat().st_size > MAX_GLTF_BYTES:
                raise MusicDanceError(f"{where}: file {uri!r} is larger than the limit")
            return file.read_bytes()
        except OSError:
            raise MusicDanceError(f"{where}: file {uri!r} cannot be read") from None


def _data_uri(uri: str, where: str) -> bytes:
    header, _, payload = uri.partition(",")
    if not header.endswith(";base64"):
        raise MusicDanceError(f"{where} has a data URI that is not base64")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise MusicDanceError(f"{where} has a data URI with invalid base64") from None


def _load_document(path: Path) -> _Document:
    """Parse a .glb or .gltf file; buffers load later, on first use."""
    try:
        size = path.stat().st_size
        if size > MAX_GLTF_BYTES:
            raise MusicDanceError(f"file is {size / 1e9:.1f} GB, larger than the glTF limit")
        data = path.read_bytes()
    except OSError as exc:
        raise MusicDanceError(f"cannot read file: {exc.strerror}") from None
    if data[:4] != GLB_MAGIC:
        raw = _parse_json(data, "not a glTF or GLB file (neither a GLB header nor JSON)")
        return _Document(raw, path.parent, None)
    text, blob = _unpack_glb(data)
    raw = _parse_json(text, "corrupt GLB: the JSON chunk is not valid JSON")
    return _Document(raw, path.parent, blob)


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


def _parse_json(text: bytes, undecodable: str) -> dict:
    """The glTF JSON document; ``MusicDanceError`` unless it is glTF 2.x within the limits.

    undecodable: the error message for ``text`` that is not UTF-8 JSON.
    """
    _check_json_shape(text)
    try:
        raw = json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise MusicDanceError(undecodable) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("asset"), dict):
        raise MusicDanceError("not a glTF file: JSON has no 'asset' object")
    version = str(raw["asset"].get("version", ""))
    if not version.startswith("2."):
        raise MusicDanceError(f"unsupported glTF version {_short(version)} (expected 2.x)")
    return raw


def _check_json_shape(text: bytes) -> None:
    """Bound JSON nesting depth and value count before any object is built.

    One pass over the raw bytes in blocks (numpy, linear time, memory bounded by the block):
    quotes not escaped by an odd run of backslashes open and close strings; brackets and commas
    outside strings give the depth and the number of values.
    """
    depth = deepest = values = 0
    in_string = False
    backslashes = 0  # run of backslashes at the end of the previous block
    for start in range(0, len(text), _JSON_BLOCK):
        if not _JSON_SPECIAL.search(text, start, start + _JSON_BLOCK):
            backslashes = 0  # a block of plain characters (inside a long string, say)
            continue
        chars = np.frombuffer(
            text, np.uint8, count=min(_JSON_BLOCK, len(text) - start), offset=start
        )
        index = np.arange(len(chars))
        is_backslash = chars == ord("\\")
        last_other = np.maximum.accumulate(np.where(is_backslash, -1, index))
        run = np.empty(len(chars), dtype=np.int64)  # backslashes right before each byte
        run[0] = backslashes
        run[1:] = index[:-1] - last_other[:-1] + np.where(last_other[:-1] < 0, backslashes, 0)
        quotes = (chars == ord('"')) & (run % 2 == 0)
        outside = (np.cumsum(quotes) + in_string) % 2 == 0
        opens = ((chars == ord("[")) | (chars == ord("{"))) & outside
        closes = ((chars == ord("]")) | (chars == ord("}"))) & outside
        level = depth + np.cumsum(opens.astype(np.int64) - closes)
        deepest = max(deepest, int(level.max()))
        depth = int(level[-1])
        values += int(opens.sum() + ((chars == ord(",")) & outside).sum())
        in_string = not outside[-1]
        tail = int(last_other[-1])
        backslashes = backslashes + len(chars) if tail < 0 else len(chars) - 1 - tail
    if deepest > MAX_JSON_DEPTH:
        raise MusicDanceError(
            f"JSON is nested {deepest} levels deep, more than the {MAX_JSON_DEPTH} allowed"
        )
    if values > MAX_JSON_VALUES:
        raise MusicDanceError(f"JSON holds over {MAX_JSON_VALUES:,} values, more than allowed")


# ---------------------------------------------------------------------------------------------
# Motion


_Track = tuple[np.ndarray, np.ndarray, str]  # key times [K] s, values [K, C], interpolation


def _motion_from_document(document: _Document, fps: float | None) -> Motion:
    """Sample the first animation of ``document`` on a regular grid of ``fps``."""
    animations = _items(document.raw, "animations", "gltf")
    if not animations:
        raise MusicDanceError("file has no animation")
    tracks = _tracks(document, _object(animations[0], "animations[0]"))
    if not tracks:
        raise MusicDanceError("the animation has no rotation or translation channels")
    joints, parents = _skeleton_nodes(document, {node for node, _ in tracks})
    members = set(joints)
    tracks = {key: track for key, track in tracks.items() if key[0] in members}
    if not tracks:
        raise MusicDanceError("the animation does not move any joint of the skeleton")
    fps = fps or _stored_fps(document) or _inferred_fps(tracks.values()) or DEFAULT_FPS
    end_s = max(float(keys[-1]) for keys, _, _ in tracks.values())
    if end_s > MAX_DURATION_S:
        raise MusicDanceError(
            f"the animation lasts {end_s:g} s, longer than the {MAX_DURATION_S:g} s limit"
        )
    # Keys are float32 seconds: allow their rounding error before dropping the last frame.
    num_frames = int(np.floor(max(end_s, 0.0) * fps * (1.0 + 1e-6) + 1e-6)) + 1
    if num_frames * len(joints) > MAX_JOINT_FRAMES:
        raise MusicDanceError(
            f"{num_frames} frames x {len(joints)} joints is more than the "
            f"{MAX_JOINT_FRAMES:,} joint-frames one motion may hold"
        )
    times_s = np.arange(num_frames) / fps
    rest = [_rest_transform(document, node) for node in joints]
    offsets = np.array([t for t, _ in rest])
    translations = _sampled(tracks, joints, "translation", offsets, times_s)
    rotations = quat_normalize(_sampled(tracks, joints, "rotation", [q for _, q in rest], times_s))
    moving = {j for j, node in enumerate(joints) if j > 0 and (node, "translation") in tracks}
    skeleton = Skeleton(
        names=_joint_names(document, joints),
        parents=np.array(parents),
        offsets_m=offsets,
        channels=tuple(
            ROOT_CHANNELS if j == 0 or j in moving else JOINT_CHANNELS for j in range(len(joints))
        ),
        end_sites_m=_stored_end_sites(document, joints),
    )
    return Motion(
        skeleton=skeleton,
        fps=float(fps),
        root_positions_m=translations[:, 0],
        rotations=rotations,
        local_translations_m=translations if moving else None,
    )


def _tracks(document: _Document, animation: dict) -> dict[tuple[int, str], _Track]:
    """Rotation and translation keys of every channel, keyed by (node, path)."""
    tracks: dict[tuple[int, str], _Track] = {}
    samplers = _items(animation, "samplers", "animations[0]")
    for c, channel in enumerate(_items(animation, "channels", "animations[0]")):
        where = f"animations[0].channels[{c}]"
        channel = _object(channel, where)
        target = _object(channel.get("target"), f"{where}.target")
        if target.get("node") is None or target.get("path") not in ("rotation", "translation"):
            continue
        node = _integer(target, "node", f"{where}.target", high=len(document.nodes))
        index = _integer(channel, "sampler", where, high=len(samplers))
        sampler_where = f"animations[0].samplers[{index}]"
        sampler = _object(samplers[index], sampler_where)
        interpolation = sampler.get("interpolation", "LINEAR")
        if interpolation not in _INTERPOLATIONS:
            raise MusicDanceError(f"{sampler_where} has interpolation {_short(interpolation)}")
        keys = _accessor_at(document, sampler, "input", sampler_where)
        values = _accessor_at(document, sampler, "output", sampler_where)
        if keys.shape[1] != 1:
            raise MusicDanceError(f"{sampler_where}.input is not a SCALAR accessor")
        keys = keys[:, 0]
        size = 4 if target["path"] == "rotation" else 3
        if values.shape[1] != size:
            raise MusicDanceError(
                f"{sampler_where}.output has {values.shape[1]} components, {target['path']} "
                f"needs {size}"
            )
        if interpolation == "CUBICSPLINE":
            values = values[1::3]  # in-tangent, value, out-tangent per key
        _check_keys(index, keys, values)
        if target["path"] == "rotation":
            values = quat_normalize(values)
        tracks[(node, target["path"])] = (keys, values, interpolation)
    return tracks


def _accessor_at(document: _Document, sampler: dict, key: str, where: str) -> np.ndarray:
    return document.accessor(_integer(sampler, key, where, high=len(document.accessors)))


def _check_keys(sampler: int, keys: np.ndarray, values: np.ndarray) -> None:
    """Raise ``MusicDanceError`` unless ``keys [K]`` increase and match finite ``values``."""
    if len(keys) == 0 or len(values) != len(keys):
        raise MusicDanceError(
            f"animation sampler {sampler} has {len(keys)} keys but {len(values)} values"
        )
    if not (np.all(np.isfinite(keys)) and np.all(np.isfinite(values))):
        raise MusicDanceError(f"animation sampler {sampler} has non-finite keys or values")
    if np.any(np.abs(values) > 1e7) or np.any(np.abs(keys) > 1e9):
        raise MusicDanceError(f"animation sampler {sampler} has keys or values out of range")
    if np.any(np.diff(keys) < 0):
        raise MusicDanceError(f"animation sampler {sampler} has decreasing key times")


# ---------------------------------------------------------------------------------------------
# Skeleton (every step linear in the number of nodes, whatever the depth)


def _parents(document: _Document) -> list[int]:
    """Parent node of every node (-1 for roots); ``MusicDanceError`` for a node with two
    parents or a cycle."""
    parent_of = [-1] * len(document.nodes)
    for node in range(len(document.nodes)):
        for child in document.node_children(node):
            if parent_of[child] != -1 or child == node:
                raise MusicDanceError(f"node {child} has more than one parent or is its own child")
            parent_of[child] = node
    # every node must reach a root: a walk that returns to a node on its own path is a cycle
    state = [0] * len(parent_of)  # 0 unseen, 1 on the current path, 2 reaches a root
    for start in range(len(parent_of)):
        path = []
        node = start
        while node != -1 and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = parent_of[node]
        if node != -1 and state[node] == 1:
            raise MusicDanceError(f"the node hierarchy has a cycle through node {node}")
        for visited in path:
            state[visited] = 2
    return parent_of


def _skeleton_nodes(document: _Document, animated: set[int]) -> tuple[list[int], list[int]]:
    """Joint node indices, parents first, and each joint's parent index in that list.

    Joints are the first skin's joints, or else every node under the closest common ancestor
    of the animated nodes; several root joints are joined under their common ancestor. The
    skin's order (else node order) is kept when parents already precede their children.
    """
    parent_of = _parents(document)
    skins = _items(document.raw, "skins", "gltf")
    if skins:
        skin = _object(skins[0], "skins[0]")
        listed = _items(skin, "joints", "skins[0]")
        for joint in listed:
            if isinstance(joint, bool) or not isinstance(joint, int):
                raise MusicDanceError(f"skins[0].joints holds {_short(joint)}, not a node index")
            if not 0 <= joint < len(document.nodes):
                raise MusicDanceError(f"skins[0].joints holds {joint}, not a node index")
        joints = list(dict.fromkeys(listed))
        if not joints:
            raise MusicDanceError("skins[0] has no joints")
    else:
        joints = sorted(_subtree(document, _common_ancestor(parent_of, animated)))
    members = set(joints)
    parent_joint = _joint_parents(parent_of, members)
    roots = [j for j in joints if parent_joint[j] is None]
    if len(roots) > 1:
        root = _common_ancestor(parent_of, roots)
        joints.insert(0, root)
        members.add(root)
        parent_joint = _joint_parents(parent_of, members)
        roots = [root]
    position = {node: i for i, node in enumerate(joints)}
    if joints[0] != roots[0] or any(
        position[parent_joint[j]] > i for i, j in enumerate(joints[1:])
    ):
        joints = [node for node in _subtree(document, roots[0]) if node in members]
        position = {node: i for i, node in enumerate(joints)}
    return joints, [-1] + [position[parent_joint[j]] for j in joints[1:]]


def _joint_parents(parent_of: list[int], members: set[int]) -> dict[int, int | None]:
    """For every member, its nearest ancestor that is a member (or None); linear time.

    Each walk up stops at the first node whose answer is known, so every node is walked once.
    """
    nearest: dict[int, int | None] = {}  # node -> nearest member at or above its parent
    result: dict[int, int | None] = {}
    for member in members:
        path = []
        node = parent_of[member]
        while node != -1 and node not in members and node not in nearest:
            path.append(node)
            node = parent_of[node]
        if node == -1:
            found = None
        elif node in members:
            found = node
        else:
            found = nearest[node]
        for visited in path:
            nearest[visited] = found
        result[member] = found
    return result


def _common_ancestor(parent_of: list[int], nodes: Iterable[int]) -> int:
    """The deepest node that is one of ``nodes`` or an ancestor of all of them (linear time)."""
    nodes = list(nodes)
    chain = [nodes[0]]
    while parent_of[chain[-1]] != -1:
        chain.append(parent_of[chain[-1]])
    level = {node: i for i, node in enumerate(chain)}  # 0 = nodes[0], rising towards the root
    hit: dict[int, int] = {}  # node off the chain -> level where its path meets the chain
    highest = 0
    for node in nodes[1:]:
        path = []
        while node != -1 and node not in level and node not in hit:
            path.append(node)
            node = parent_of[node]
        if node == -1:
            raise MusicDanceError("the animated joints do not share a root node")
        meets = level[node] if node in level else hit[node]
        for visited in path:
            hit[visited] = meets
        highest = max(highest, meets)
    return chain[highest]


def _subtree(document: _Document, root: int) -> list[int]:
    """``root`` and its descendants in depth-first order, parents before children."""
    order, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed(document.node_children(node)))
    return order


def _joint_names(document: _Document, joints: list[int]) -> tuple[str, ...]:
    """Node names, with ``node<i>`` for unnamed nodes and ``_<i>`` appended to repeats."""
    names: list[str] = []
    taken: set[str] = set()
    for node in joints:
        name = document.node_name(node) or f"node{node}"
        if name in taken:
            name = f"{name}_{node}"
            while name in taken:
                name += "_"
        taken.add(name)
        names.append(name)
    return tuple(names)


def _rest_transform(document: _Document, node: int) -> tuple[np.ndarray, np.ndarray]:
    """Rest translation ``[3]`` (metres) and rotation ``[4]`` xyzw of a node; scale dropped."""
    where = f"nodes[{node}]"
    raw = document.nodes[node]
    matrix = _numbers(raw, "matrix", 16, where)
    if matrix is not None:
        matrix = matrix.reshape(4, 4).T  # stored column-major
        linear = matrix[:3, :3]
        scale = np.linalg.norm(linear, axis=0)
        if np.all(scale > 1e-9):
            return matrix[:3, 3], quat_normalize(quat_from_matrix(linear / scale))
        return matrix[:3, 3], quat_identity()
    translation = _numbers(raw, "translation", 3, where)
    rotation = _numbers(raw, "rotation", 4, where)
    translation = np.zeros(3) if translation is None else translation
    if rotation is None or not np.linalg.norm(rotation) > 1e-9:
        return translation, quat_identity()
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


def _musicdance_asset_extras(document: _Document) -> dict[str, Any]:
    extras = document.raw["asset"].get("extras") or {}
    found = extras.get(EXTRAS_KEY) if isinstance(extras, dict) else None
    return found if isinstance(found, dict) else {}


def _stored_fps(document: _Document) -> float | None:
    """The frame rate ``write_glb`` stored, if present and valid."""
    fps = _musicdance_asset_extras(document).get("fps")
    valid = isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= MAX_FPS
    return float(fps) if valid else None


def _stored_end_sites(document: _Document, joints: list[int]) -> dict[int, np.ndarray]:
    """End-site offsets ``{joint: [3]}`` (metres) that ``write_glb`` stored, by joint name.

    Entries that are not three finite numbers are ignored.
    """
    stored = _musicdance_asset_extras(document).get("endSites")
    if not isinstance(stored, dict):
        return {}
    by_name = {document.node_name(node): j for j, node in enumerate(joints)}
    found = {}
    for name, offset in stored.items():
        if name in by_name:
            try:
                value = _numbers({"offset": offset}, "offset", 3, "endSites")
            except MusicDanceError:
                continue
            if value is not None:
                found[by_name[name]] = value
    return found


def _inferred_fps(tracks: Iterable[_Track]) -> float | None:
    """Frame rate from the key spacing of the longest track; ``None`` if it has one key or
    the spacing gives a rate above ``MAX_FPS``."""
    keys = max((keys for keys, _, _ in tracks), key=len)
    steps = np.diff(keys)
    if len(steps) == 0 or steps.min() <= 0:
        return None
    if steps.max() <= 1.01 * steps.min():
        fps = (len(keys) - 1) / (keys[-1] - keys[0])  # evenly spaced: averages float32 rounding
    else:
        fps = 1.0 / steps.min()  # reduced keys: assume the closest pair is one frame apart
    if not (math.isfinite(fps) and fps <= MAX_FPS):
        return None
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) <= 1e-3 * fps else float(fps)
