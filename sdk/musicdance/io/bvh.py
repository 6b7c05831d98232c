"""BVH (Biovision Hierarchy) reading and writing.

The reader parses the hierarchy itself and converts the motion block with vectorised numpy:
bvhio, the project's declared BVH library, reads 10,000 frames x 60 joints in about 5 s, loops
forever on a truncated motion block and rewrites channel orders, so it serves as the independent
reference in the tests and the benchmark (``benchmarks/bench_bvh.py``) rather than on the hot path.

Handled: any per-joint rotation order, position channels on any joint, end sites, tabs,
leading-dot numbers, CRLF/LF mixes. Units are detected from the rest-pose size (metres,
centimetres, CMU units, inches, millimetres) unless ``scale`` is given. Motions come back in
metres with rotations as xyzw quaternions (see ``musicdance.motion``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_from_euler, quat_identity, quat_to_euler, quat_unroll
from musicdance.motion.skeleton import POSITION_CHANNELS, ROTATION_CHANNELS, Skeleton

#: Metres per file unit, by name; the reader picks the one that makes the figure about 1.7 m.
UNIT_SCALES_M = {
    "m": 1.0,
    "cm": 0.01,
    "mm": 0.001,
    "inch": 0.0254,
    "cmu": 0.056444,
}
TYPICAL_HEIGHT_M = 1.7
MAX_BVH_BYTES = 2 * 1024**3
#: Largest magnitude of any number in a BVH file (offsets, positions, degrees), in file units.
MAX_ABS_VALUE = 1e7
#: Accepted ``Frame Time`` range in seconds (10,000 fps down to 0.1 fps).
FRAME_TIME_RANGE_S = (1e-4, 10.0)
#: Most joints in one skeleton, and most joint-frames (frames x joints, about 60 bytes each in
#: memory once read) in one motion.
MAX_JOINTS = 10_000
MAX_JOINT_FRAMES = 20_000_000
_VALID_CHANNELS = set(ROTATION_CHANNELS) | set(POSITION_CHANNELS)
_MOTION_LINE = re.compile(r"^[ \t]*MOTION\b", re.MULTILINE)


@dataclass(frozen=True)
class BvhHeader:
    """What the hierarchy and motion header say, before any unit conversion."""

    skeleton: Skeleton  # offsets in file units
    num_frames: int
    frame_time_s: float


def detect_unit(skeleton: Skeleton) -> str:
    """Name of the unit (key of ``UNIT_SCALES_M``) that makes the rest pose about 1.7 m tall.

    The size is the largest extent of the rest pose, end sites included, so T-poses, A-poses,
    Z-up and lying rest poses are measured alike.
    """
    rest = skeleton.rest_positions_m()
    points = [rest] + [rest[j] + o for j, o in skeleton.end_sites_m.items()]
    points = np.vstack(points)
    extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
    if extent <= 0:
        return "m"
    log_error = {u: abs(np.log(extent * s / TYPICAL_HEIGHT_M)) for u, s in UNIT_SCALES_M.items()}
    return min(log_error, key=log_error.get)


def read_bvh(path: str | os.PathLike[str], *, scale: float | None = None) -> Motion:
    """Read a BVH file into a ``Motion`` in metres.

    scale: metres per file unit; ``None`` detects it (see ``detect_unit``).
    """
    header, values = _read_bvh_raw(path)
    skeleton = header.skeleton
    factor = UNIT_SCALES_M[detect_unit(skeleton)] if scale is None else float(scale)
    if not factor > 0:
        raise MusicDanceError(f"scale must be positive, got {scale}", path)
    return _motion_from_values(
        skeleton.scaled(factor), fps_from_frame_time(header.frame_time_s), values, factor
    )


def fps_from_frame_time(frame_time_s: float) -> float:
    """Frames per second, snapped to a whole number when the file's frame time was rounded
    (``Frame Time: .03333`` means 30 fps, not 30.003)."""
    fps = 1.0 / frame_time_s
    return float(round(fps)) if abs(fps - round(fps)) < 1e-3 * fps else fps


def read_bvh_header(path: str | os.PathLike[str]) -> BvhHeader:
    """Only the hierarchy and frame count (fast, for ``mdtool info``-style questions)."""
    text = _read_text(path)
    hierarchy, _, motion_text = _split_sections(text, path)
    skeleton = _parse_hierarchy(hierarchy, path)
    num_frames, frame_time, _ = _parse_motion_header(motion_text, path)
    return BvhHeader(skeleton, num_frames, frame_time)


def _read_text(path: str | os.PathLike[str]) -> str:
    try:
        size = os.path.getsize(path)
        if size > MAX_BVH_BYTES:
            raise MusicDanceError(
                f"file is {size / 1e9:.1f} GB, larger than the 2 GB BVH limit", path
            )
        data = Path(path).read_bytes()
    except OSError as error:
        raise MusicDanceError(f"cannot read file ({error.strerror or error})", path) from None
    if b"\x00" in data[:4096]:
        raise MusicDanceError("not a BVH file (binary data)", path)
    return data.decode("utf-8", errors="replace")


def _split_sections(text: str, path) -> tuple[str, str, str]:
    start = text.find("HIERARCHY")
    # MOTION starts a line; a joint name may contain the word, so the first match is not enough
    found = _MOTION_LINE.search(text, max(start, 0))
    split = found.end() - len("MOTION") if found else text.find("MOTION", max(start, 0))
    if start < 0 or split < 0:
        raise MusicDanceError("not a BVH file (no HIERARCHY and MOTION sections)", path)
    return text[start + len("HIERARCHY") : split], "MOTION", text[split + len("MOTION") :]


def _read_bvh_raw(path: str | os.PathLike[str]) -> tuple[BvhHeader, np.ndarray]:
    """Header and the motion block as ``[frames, channels]`` floats in file units."""
    text = _read_text(path)
    hierarchy, _, motion_text = _split_sections(text, path)
    skeleton = _parse_hierarchy(hierarchy, path)
    num_frames, frame_time, data_text = _parse_motion_header(motion_text, path)
    num_channels = sum(len(c) for c in skeleton.channels)
    if num_frames * skeleton.num_joints > MAX_JOINT_FRAMES:
        raise MusicDanceError(
            f"{num_frames} frames x {skeleton.num_joints} joints is more than the "
            f"{MAX_JOINT_FRAMES:,} joint-frames one motion may hold (musicdance.io.bvh."
            "MAX_JOINT_FRAMES)",
            path,
        )
    values = _parse_motion_block(data_text, num_frames, num_channels, path)
    return BvhHeader(skeleton, num_frames, frame_time), values


def _tokens(hierarchy: str):
    """Yield hierarchy tokens; a ROOT/JOINT name is the rest of its line (names may hold spaces)."""
    for line in hierarchy.splitlines():
        words = line.replace("{", " { ").replace("}", " } ").split()
        if words and words[0] in ("ROOT", "JOINT"):
            name_words = [w for w in words[1:] if w not in ("{", "}")]
            yield words[0]
            yield " ".join(name_words)
            yield from (w for w in words[1:] if w in ("{", "}"))
        else:
            yield from words


def _parse_hierarchy(hierarchy: str, path) -> Skeleton:
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_sites: dict[int, np.ndarray] = {}
    stack: list[int] = []  # joint index per open brace; -2 marks an end site
    pending: int | None = None  # what the next '{' opens (a joint index or -2)
    tokens = _tokens(hierarchy)

    def take(what: str) -> str:
        try:
            return next(tokens)
        except StopIteration:
            raise MusicDanceError(f"hierarchy ends early, expected {what}", path) from None

    def take_floats(count: int, what: str) -> list[float]:
        try:
            numbers = [float(take(what)) for _ in range(count)]
        except ValueError:
            raise MusicDanceError(f"bad number in {what}", path) from None
        if not all(abs(x) <= MAX_ABS_VALUE for x in numbers):  # also false for NaN
            raise MusicDanceError(
                f"{what} value {_first_bad(numbers)} is not a number within +-{MAX_ABS_VALUE:g}",
                path,
            )
        return numbers

    for token in tokens:
        if pending is not None and token != "{":
            raise MusicDanceError(f"expected '{{' but found {token!r} in HIERARCHY", path)
        if token in ("ROOT", "JOINT"):
            if token == "ROOT" and names:
                raise MusicDanceError("more than one ROOT (only one skeleton per file)", path)
            if token == "JOINT" and not names:
                raise MusicDanceError("JOINT before ROOT", path)
            if token == "JOINT" and (not stack or stack[-1] < 0):
                where = "inside an End Site" if stack else "outside the ROOT's braces"
                raise MusicDanceError(f"JOINT {take('a joint name')!r} {where}", path)
            name = take("a joint name") or f"joint{len(names)}"
            if name in names:
                raise MusicDanceError(f"joint name {name!r} appears twice", path)
            if len(names) >= MAX_JOINTS:
                raise MusicDanceError(
                    f"more than {MAX_JOINTS:,} joints (musicdance.io.bvh.MAX_JOINTS)", path
                )
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
        elif token == "End":
            take("'Site'")
            if not stack or stack[-1] < 0:
                raise MusicDanceError("End Site outside a joint", path)
            pending = -2
        elif token == "{":
            if pending is None:
                raise MusicDanceError("'{' without a ROOT, JOINT or End Site before it", path)
            stack.append(pending)
            pending = None
        elif token == "}":
            if not stack:
                raise MusicDanceError("unbalanced '}' in HIERARCHY", path)
            stack.pop()
        elif token == "OFFSET":
            offset = take_floats(3, "OFFSET")
            if stack and stack[-1] == -2:
                owner = stack[-2] if len(stack) > 1 else -1
                if owner >= 0:
                    end_sites[owner] = np.array(offset)
            elif stack:
                offsets[stack[-1]] = offset
        elif token == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise MusicDanceError("CHANNELS outside a joint", path)
            joint = names[stack[-1]]
            word = take("channel count")
            if not word.isdigit() or int(word) > 6:
                raise MusicDanceError(
                    f"CHANNELS count {word!r} on joint {joint} is not a whole number from 0 to 6",
                    path,
                )
            names_here = tuple(take("channel name") for _ in range(int(word)))
            channels[stack[-1]] = _checked_channels(names_here, joint, path)
        else:
            raise MusicDanceError(f"unexpected word {token!r} in HIERARCHY", path)
    if stack or pending is not None:
        raise MusicDanceError("HIERARCHY has an unclosed '{'", path)
    if not names:
        raise MusicDanceError("HIERARCHY has no joints", path)
    return Skeleton(tuple(names), np.array(parents), np.array(offsets), tuple(channels), end_sites)


def _checked_channels(names: tuple[str, ...], joint: str, path) -> tuple[str, ...]:
    """``names`` if they are known channels, each axis at most once per kind (no ``YXY``)."""
    unknown = [c for c in names if c not in _VALID_CHANNELS]
    if unknown:
        raise MusicDanceError(f"unknown channel {unknown[0]!r} on joint {joint}", path)
    if len(set(names)) != len(names):
        order = "".join(c[0] for c in names if c in ROTATION_CHANNELS)
        kind = f"rotation order {order!r}" if len(set(order)) < len(order) else "channels"
        raise MusicDanceError(
            f"joint {joint} repeats an axis ({kind}: {' '.join(names)}); each axis may appear "
            "once per kind",
            path,
        )
    return names


def _first_bad(numbers: list[float]) -> float:
    return next(x for x in numbers if not abs(x) <= MAX_ABS_VALUE)


def _parse_motion_header(motion_text: str, path) -> tuple[int, float, str]:
    lines = motion_text.lstrip().split("\n", 2)
    if len(lines) < 2 or not lines[0].strip().startswith("Frames:"):
        raise MusicDanceError("MOTION section lacks 'Frames:'", path)
    if not lines[1].strip().startswith("Frame Time:"):
        raise MusicDanceError("MOTION section lacks 'Frame Time:'", path)
    try:
        num_frames = int(lines[0].split(":", 1)[1])
        frame_time = float(lines[1].split(":", 1)[1])
    except ValueError:
        raise MusicDanceError("bad 'Frames:' or 'Frame Time:' value", path) from None
    if num_frames <= 0:
        raise MusicDanceError(f"'Frames: {num_frames}': the file holds no motion", path)
    low, high = FRAME_TIME_RANGE_S
    if not low <= frame_time <= high:  # also false for NaN
        raise MusicDanceError(
            f"'Frame Time: {frame_time}' must be a number of seconds from {low:g} to {high:g}",
            path,
        )
    return num_frames, frame_time, lines[2] if len(lines) > 2 else ""


def _parse_motion_block(data_text: str, num_frames: int, num_channels: int, path) -> np.ndarray:
    """``[num_frames, num_channels]`` values, with errors that name the bad frame."""
    rows = [line for line in data_text.split("\n") if line.strip()]
    if len(rows) < num_frames:
        raise MusicDanceError(
            f"truncated: 'Frames: {num_frames}' but the motion block has {len(rows)} rows", path
        )
    rows = rows[:num_frames]
    try:
        values = np.fromstring(" ".join(rows), sep=" ")  # C-speed text parsing
    except ValueError:
        values = np.empty(0)
    if values.size != num_frames * num_channels:
        _raise_row_problem(rows, num_channels, path)
    values = values.reshape(num_frames, num_channels)
    bad = ~np.isfinite(values)
    if np.any(bad):
        frame = int(np.argwhere(bad)[0][0])
        raise MusicDanceError(f"frame {frame} has NaN or infinite values", path)
    large = np.abs(values) > MAX_ABS_VALUE
    if np.any(large):
        frame = int(np.argwhere(large)[0][0])
        raise MusicDanceError(f"frame {frame} has a value beyond +-{MAX_ABS_VALUE:g}", path)
    return values


def _raise_row_problem(rows: list[str], num_channels: int, path) -> None:
    """Find the first bad row of a motion block (slow path, only after parsing failed)."""
    for frame, row in enumerate(rows):
        words = row.split()
        if len(words) != num_channels:
            raise MusicDanceError(
                f"frame {frame} has {len(words)} values but the hierarchy declares "
                f"{num_channels} channels",
                path,
            )
        try:
            [float(w) for w in words]
        except ValueError:
            raise MusicDanceError(f"frame {frame} has a value that is not a number", path) from None
    raise MusicDanceError("the motion block could not be parsed", path)


def _motion_from_values(skeleton: Skeleton, fps: float, values: np.ndarray, scale: float) -> Motion:
    """Turn raw channel values (file units, degrees) into a Motion in metres."""
    num_frames = len(values)
    num_joints = skeleton.num_joints
    rotations = quat_identity((num_frames, num_joints))
    translations = np.broadcast_to(skeleton.offsets_m, (num_frames, num_joints, 3)).copy()
    animated_offsets = False
    column = 0
    by_order: dict[str, tuple[list[int], list[np.ndarray]]] = {}
    for j, joint_channels in enumerate(skeleton.channels):
        cols = {name: column + k for k, name in enumerate(joint_channels)}
        column += len(joint_channels)
        rot_cols = [cols[c] for c in joint_channels if c in ROTATION_CHANNELS]
        if rot_cols:
            order = "".join(c[0] for c in joint_channels if c in ROTATION_CHANNELS)
            if len(order) < 3:  # fewer than three rotation axes: pad with zero angles
                missing = [a for a in "XYZ" if a not in order]
                order += "".join(missing)
                angles = np.zeros((num_frames, 3))
                angles[:, : len(rot_cols)] = values[:, rot_cols]
            else:
                angles = values[:, rot_cols]
            joints, angle_list = by_order.setdefault(order, ([], []))
            joints.append(j)
            angle_list.append(angles)
        if skeleton.has_positions(j):
            channel_values = np.zeros((num_frames, 3))
            for axis, name in enumerate(POSITION_CHANNELS):
                if name in cols:
                    channel_values[:, axis] = values[:, cols[name]] * scale
            if _positions_are_relative(skeleton.offsets_m[j], channel_values):
                channel_values += skeleton.offsets_m[j]
            translations[:, j] = channel_values
            animated_offsets = animated_offsets or j > 0
    for order, (joints, angle_list) in by_order.items():
        rotations[:, joints] = quat_from_euler(np.stack(angle_list, axis=1), order)
    rotations = quat_unroll(rotations, axis=0)
    return Motion(
        skeleton=skeleton,
        fps=fps,
        root_positions_m=translations[:, 0].copy(),
        rotations=rotations,
        local_translations_m=translations if animated_offsets else None,
    )


def _positions_are_relative(offset: np.ndarray, channel_values: np.ndarray) -> bool:
    """Whether position channels add to OFFSET rather than replace it.

    Exporters disagree: most write the joint position into the channels (OFFSET ignored or zero),
    iClone-style files write motion relative to a non-zero OFFSET. Relative data hovers around
    zero along the offset's main axis, absolute data around the offset itself.
    """
    axis = int(np.argmax(np.abs(offset)))
    size = abs(offset[axis])
    if size < 1e-9:
        return False
    mean = float(np.mean(channel_values[:, axis]))
    return abs(mean) < 0.5 * size and abs(mean - offset[axis]) > 0.5 * size


def write_bvh(motion: Motion, path: str | os.PathLike[str], *, unit: str = "cm") -> None:
    """Write ``motion`` as BVH in ``unit`` (a key of ``UNIT_SCALES_M``), atomically.

    Each joint keeps its channel layout and rotation order; the root always gets position
    channels and every joint gets three rotation channels.
    """
    if unit not in UNIT_SCALES_M:
        raise MusicDanceError(f"unit must be one of {sorted(UNIT_SCALES_M)}, got {unit!r}")
    problems = motion.problems()
    if problems:
        raise MusicDanceError(f"cannot write invalid motion: {problems[0]}", path)
    per_unit = 1.0 / UNIT_SCALES_M[unit]
    skeleton = motion.skeleton
    frame_time = _writable_frame_time(motion, path)
    _check_writable_skeleton(skeleton, motion.num_frames, per_unit, path)
    channels = [_writable_channels(skeleton, j, motion) for j in range(skeleton.num_joints)]
    hierarchy = _format_hierarchy(skeleton, channels, per_unit)
    values = _channel_values(motion, channels, per_unit)
    if not np.all(np.abs(values) <= MAX_ABS_VALUE):
        raise MusicDanceError(
            f"cannot write BVH: a position or angle is beyond +-{MAX_ABS_VALUE:g} {unit} or "
            "degrees (the reader's limit)",
            path,
        )
    with atomic_write(path, "w") as handle:
        handle.write(hierarchy)
        handle.write(f"MOTION\nFrames: {motion.num_frames}\nFrame Time: {frame_time}\n")
        np.savetxt(handle, values, fmt="%.6f", delimiter=" ")


def _writable_frame_time(motion: Motion, path) -> str:
    """``Frame Time`` as written, refusing a frame rate the reader would reject."""
    low, high = FRAME_TIME_RANGE_S
    text = f"{1.0 / motion.fps:.8f}" if np.isfinite(motion.fps) and motion.fps > 0 else "0"
    if not low <= float(text) <= high:
        raise MusicDanceError(
            f"cannot write BVH at {motion.fps:g} fps: the frame time must be {low:g} to {high:g} s",
            path,
        )
    return text


def _check_writable_skeleton(skeleton: Skeleton, num_frames: int, per_unit: float, path) -> None:
    """Refuse joint names, sizes and offsets that ``read_bvh`` would not read back."""
    if num_frames < 1:
        raise MusicDanceError("cannot write BVH: the motion has no frames", path)
    if skeleton.num_joints > MAX_JOINTS or num_frames * skeleton.num_joints > MAX_JOINT_FRAMES:
        raise MusicDanceError(
            f"cannot write BVH: {num_frames} frames x {skeleton.num_joints} joints is beyond "
            f"the reader's limits ({MAX_JOINTS:,} joints, {MAX_JOINT_FRAMES:,} joint-frames)",
            path,
        )
    for name in skeleton.names:
        if not name or " ".join(name.split()) != name or "{" in name or "}" in name:
            raise MusicDanceError(
                f"cannot write BVH: joint name {name!r} is empty, holds braces or other "
                "whitespace than single spaces",
                path,
            )
    lengths = [skeleton.offsets_m, *skeleton.end_sites_m.values()]
    if not all(np.all(np.abs(np.asarray(v) * per_unit) <= MAX_ABS_VALUE) for v in lengths):
        raise MusicDanceError(
            f"cannot write BVH: a skeleton offset is not finite or beyond +-{MAX_ABS_VALUE:g} "
            "file units",
            path,
        )


def _writable_channels(skeleton: Skeleton, joint: int, motion: Motion) -> tuple[str, ...]:
    existing = skeleton.channels[joint]
    rotations = tuple(c for c in existing if c in ROTATION_CHANNELS)
    if len({c[0] for c in rotations}) != 3:
        rotations = ("Zrotation", "Xrotation", "Yrotation")
    positions = tuple(c for c in existing if c in POSITION_CHANNELS)
    needs_positions = joint == 0 or motion.local_translations_m is not None and positions
    if needs_positions:
        positions = POSITION_CHANNELS
    else:
        positions = ()
    return positions + rotations


def _format_hierarchy(skeleton: Skeleton, channels: list[tuple[str, ...]], per_unit: float) -> str:
    """The HIERARCHY section, written without recursion (skeletons may be thousands deep)."""
    lines = ["HIERARCHY"]
    children: list[list[int]] = [[] for _ in range(skeleton.num_joints)]
    for j in range(1, skeleton.num_joints):
        children[int(skeleton.parents[j])].append(j)
    stack: list[tuple[int, int, bool]] = [(0, 0, False)]  # (joint, depth, closing)
    while stack:
        j, depth, closing = stack.pop()
        pad = "\t" * depth
        if closing:
            if j in skeleton.end_sites_m:
                ex, ey, ez = np.asarray(skeleton.end_sites_m[j]) * per_unit
                lines.extend(_end_site_lines(pad, ex, ey, ez))
            elif not children[j]:
                lines.extend(_end_site_lines(pad, 0.0, 0.0, 0.0))
            lines.append(f"{pad}}}")
            continue
        keyword = "ROOT" if j == 0 else "JOINT"
        ox, oy, oz = skeleton.offsets_m[j] * per_unit
        lines.append(f"{pad}{keyword} {skeleton.names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {ox:.6f} {oy:.6f} {oz:.6f}")
        lines.append(f"{pad}\tCHANNELS {len(channels[j])} {' '.join(channels[j])}")
        stack.append((j, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(children[j]))
    return "\n".join(lines) + "\n"


def _end_site_lines(pad: str, x: float, y: float, z: float) -> list[str]:
    return [
        f"{pad}\tEnd Site",
        f"{pad}\t{{",
        f"{pad}\t\tOFFSET {x:.6f} {y:.6f} {z:.6f}",
        f"{pad}\t}}",
    ]


def _channel_values(motion: Motion, channels: list[tuple[str, ...]], per_unit: float) -> np.ndarray:
    """The motion block ``[T, C]``: positions in file units, Euler angles in degrees."""
    num_frames = motion.num_frames
    translations = motion.local_translations_m
    columns: list[np.ndarray] = []
    for j, joint_channels in enumerate(channels):
        block = np.empty((num_frames, len(joint_channels)))
        if j == 0:
            position = motion.root_positions_m
        elif translations is not None:
            position = translations[:, j]
        else:
            position = None
        rotation_names = [c for c in joint_channels if c in ROTATION_CHANNELS]
        order = "".join(c[0] for c in rotation_names)
        euler = quat_to_euler(motion.rotations[:, j], order)
        for k, name in enumerate(joint_channels):
            if name in POSITION_CHANNELS:
                block[:, k] = position[:, POSITION_CHANNELS.index(name)] * per_unit
            else:
                block[:, k] = euler[:, rotation_names.index(name)]
        columns.append(block)
    return np.concatenate(columns, axis=1)
