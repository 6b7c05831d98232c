"""The phrase library (and a song's analysis) as binary engine assets for the Unity package.

``mdtool library export --unity DIR`` writes ``DIR/library.mdlb``: everything the in-engine
choreographer (``unity_bridge/unity/com.mdtool.dance/Runtime/Core/Choreography``) needs to
choose, decode and render phrases without Python: the phrase table (ids, styles, tempo,
energy, meter, counts), the transition graph (CSR edges, costs, twins, moves, rest means),
the boundary pose features, every phrase's motion (root float32, rotations as Q15 int16) with
the skeleton, and, when a
bundle is given, its ONNX graph, manifest and the bundle column of every phrase. The same
container holds a song's analysis for tests (``write_analysis_asset``: the fields of
``MusicAnalysis.cs``), so the C# side reads both with one reader and no JSON.

Container ("tagged arrays"): ``MAGIC`` (4 bytes), uint32 ``version``, uint32 kind length and
kind (ASCII), uint32 array count, then per array: uint16 name length, name (UTF-8), uint8 dtype
code (``DTYPES``), uint8 ndim, int64 dims, the data (little-endian). Strings are stored as
``NAME.utf8`` bytes and ``NAME.offsets`` int32 ``[n + 1]``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError

__all__ = [
    "ASSET_VERSION",
    "LIBRARY_FILE",
    "export_unity_library",
    "read_tagged",
    "write_analysis_asset",
    "write_tagged",
]

MAGIC = b"MDTA"
#: Bumped when the layout or a field's meaning changes; the C# reader refuses other versions.
ASSET_VERSION = 1
LIBRARY_FILE = "library.mdlb"
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.int64, 5: np.uint8, 6: np.int16}
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}


def _strings(name: str, values) -> dict[str, np.ndarray]:
    """``NAME.utf8`` and ``NAME.offsets`` of a list of strings."""
    encoded = [str(v).encode("utf-8") for v in values]
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int32)
    return {f"{name}.utf8": np.frombuffer(b"".join(encoded), np.uint8),
            f"{name}.offsets": offsets}  # fmt: skip


def write_tagged(path: str | os.PathLike[str], kind: str, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` (name -> array of a ``DTYPES`` type) as one tagged-array file."""
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        handle.write(MAGIC + struct.pack("<II", ASSET_VERSION, len(kind)) + kind.encode("ascii"))
        handle.write(struct.pack("<I", len(arrays)))
        for name, value in arrays.items():
            value = np.ascontiguousarray(value)
            if value.dtype not in _CODES:
                raise MusicDanceError(f"asset array {name!r} has unsupported dtype {value.dtype}")
            raw = name.encode("utf-8")
            handle.write(struct.pack("<H", len(raw)) + raw)
            handle.write(struct.pack("<BB", _CODES[value.dtype], value.ndim))
            handle.write(struct.pack(f"<{value.ndim}q", *value.shape))
            handle.write(value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes())
    return target


def read_tagged(path: str | os.PathLike[str]) -> tuple[str, dict[str, np.ndarray]]:
    """``(kind, arrays)`` of a tagged-array file (the Python twin of ``TaggedArrays.cs``)."""
    data = Path(path).read_bytes()
    try:
        return _parse(data, path)
    except (struct.error, KeyError, ValueError, UnicodeDecodeError) as error:
        raise MusicDanceError(f"engine asset is damaged ({error})", path) from None


def _parse(data: bytes, path) -> tuple[str, dict[str, np.ndarray]]:
    if data[:4] != MAGIC:
        raise MusicDanceError("not an mdtool engine asset (magic missing)", path)
    version, kind_len = struct.unpack_from("<II", data, 4)
    if version != ASSET_VERSION:
        raise MusicDanceError(
            f"engine asset version {version} is not supported (this reads {ASSET_VERSION})", path
        )
    at = 12 + kind_len
    kind = data[12:at].decode("ascii")
    (count,) = struct.unpack_from("<I", data, at)
    at += 4
    arrays = {}
    for _ in range(count):
        (size,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + size].decode("utf-8")
        at += 2 + size
        code, ndim = struct.unpack_from("<BB", data, at)
        shape = struct.unpack_from(f"<{ndim}q", data, at + 2)
        at += 2 + 8 * ndim
        dtype = np.dtype(DTYPES[code]).newbyteorder("<")
        n = int(np.prod(shape)) if ndim else 1
        arrays[name] = np.frombuffer(data, dtype, n, at).reshape(shape)
        at += n * dtype.itemsize
    return kind, arrays


def _library_arrays(library) -> dict[str, np.ndarray]:
    from musicdance.choreo.choreographer import library_graph
    from musicdance.library.table import table_of
    from musicdance.motion.canonical import canonical_skeleton

    table = table_of(library)
    ids = table.ids.tolist()
    by_id = {info.id: info for info in library.infos(ids=ids)}
    infos = [by_id[p] for p in ids]
    styles = sorted(set(table.style.tolist()))
    counts = [np.asarray(i.count_frames, dtype=np.float64) for i in infos]
    graph = library_graph(library, table)
    rest = np.zeros(graph.num_phrases) if graph.rest_mean is None else graph.rest_mean
    skeleton = canonical_skeleton()
    roots, rotations, frames = [], [], [0]
    for phrase_id in ids:  # the motion files' own Q15 values: decoded exactly as ``get`` does
        root, q15 = library.motion_q15(phrase_id)
        if q15.shape[1] != len(skeleton.names):
            raise MusicDanceError(f"phrase {phrase_id} is not on the canonical skeleton")
        roots.append(root)
        rotations.append(q15)
        frames.append(frames[-1] + len(root))
    return {
        **_strings("ids", ids),
        **_strings("styles", styles),
        "style_code": np.array([styles.index(s) for s in table.style], np.int32),
        "energy": table.energy.astype(np.float64),
        "tempo_bpm": table.tempo_bpm.astype(np.float64),
        "meter": table.meter.astype(np.int32),
        "fps": np.array([i.fps for i in infos], np.float64),
        "num_frames": np.array([i.num_frames for i in infos], np.int32),
        "count_indptr": np.concatenate([[0], np.cumsum([len(c) for c in counts])]).astype(np.int32),
        "count_frames": np.concatenate(counts) if counts else np.zeros(0),
        "start_features": np.asarray(table.start_features, np.float32),
        "end_features": np.asarray(table.end_features, np.float32),
        "graph.indptr": graph.indptr.astype(np.int32),
        "graph.targets": graph.targets.astype(np.int32),
        "graph.cost": np.asarray(graph.cost, np.float64),
        "graph.group_size": graph.group_size.astype(np.int32),
        "graph.twin": graph.twin.astype(np.int32),
        "graph.move": graph.move.astype(np.int32),
        "graph.rest_mean": np.asarray(rest, np.float64),
        **_strings("joints", skeleton.names),
        "parents": skeleton.parents.astype(np.int32),
        "offsets_m": skeleton.offsets_m.astype(np.float64),
        "motion.indptr": np.array(frames, np.int32),
        "motion.root_m": np.concatenate(roots) if roots else np.zeros((0, 3), np.float32),
        "motion.rotations_q15": (np.concatenate(rotations) if rotations
                                 else np.zeros((0, len(skeleton.names), 4), np.int16)),
        **_strings("library_path", [str(library.path)]),
    }  # fmt: skip


def _bundle_arrays(bundle, ids: list[str]) -> dict[str, np.ndarray]:
    from musicdance.bundle import PROBABILITIES

    manifest = dict(bundle.manifest)
    graph = (bundle.path / manifest["graphs"][PROBABILITIES]).read_bytes()
    return {
        "bundle.manifest": np.frombuffer(json.dumps(manifest).encode("utf-8"), np.uint8),
        "bundle.probabilities_onnx": np.frombuffer(graph, np.uint8),
        "bundle.columns": np.array([bundle.column(p) for p in ids], np.int32),
        "bundle.num_classes": np.array([bundle.num_classes], np.int32),
    }


def export_unity_library(library, folder: str | os.PathLike[str], bundle=None) -> dict:
    """Write ``folder/library.mdlb`` for the Unity package (with ``bundle``'s ONNX graph when
    given; it must fit the library). Returns a report: path, phrases, frames, size_bytes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = _library_arrays(library)
    ids = library.ids()
    if not ids:
        raise MusicDanceError("the phrase library is empty", library.path)
    if bundle is not None:
        bundle.check_library(library)
        arrays.update(_bundle_arrays(bundle, ids))
    target = write_tagged(folder / LIBRARY_FILE, "library", arrays)
    return {
        "path": str(target),
        "phrases": len(ids),
        "frames": int(arrays["motion.indptr"][-1]),
        "bundle": None if bundle is None else str(bundle.path),
        "size_bytes": target.stat().st_size,
        "version": ASSET_VERSION,
    }


def write_analysis_asset(analysis, path: str | os.PathLike[str]) -> Path:
    """A song's analysis (with its log-mel) as a tagged-array file ``MusicAnalysisFile.cs``
    reads: the fields of ``MusicAnalysis.cs``."""
    if analysis.log_mel_db is None:
        raise MusicDanceError("this analysis has no log-mel; analyse the audio", analysis.path)
    phrases = analysis.phrases
    beats = [np.asarray(p.beat_times_s, np.float64) for p in phrases]

    def column(name, dtype):
        return np.array([getattr(p, name) for p in phrases], dtype)

    arrays = {
        "scalars": np.array([analysis.duration_s, analysis.sr_hz, analysis.hop_length,
                             analysis.tempo_bpm, analysis.meter, analysis.pulse_clarity]),
        "beat_times_s": np.asarray(analysis.beat_times_s, np.float64),
        "beat_positions": np.asarray(analysis.beat_positions, np.int32),
        "downbeat_times_s": np.asarray(analysis.downbeat_times_s, np.float64),
        "onset_times_s": np.asarray(analysis.onset_times_s, np.float64),
        "onset_env": np.asarray(analysis.onset_env, np.float32),
        "rhythm": np.asarray(analysis.rhythm, np.float32),
        "melody_hz": np.asarray(analysis.melody_hz, np.float32),
        "log_mel_db": np.asarray(analysis.log_mel_db, np.float32),
        "phrase.start_s": column("start_s", np.float64),
        "phrase.end_s": column("end_s", np.float64),
        "phrase.n_bars": column("n_bars", np.int32),
        "phrase.section": column("section", np.int32),
        **_strings("phrase.section_label", [p.section_label for p in phrases]),
        "phrase.beat_indptr": np.concatenate([[0], np.cumsum([len(b) for b in beats])]).astype(
            np.int32),
        "phrase.beat_times_s": np.concatenate(beats) if beats else np.zeros(0),
        "phrase.energy": column("energy", np.float64),
        "phrase.onset_density_per_s": column("onset_density_per_s", np.float64),
        "phrase.tempo_bpm": column("tempo_bpm", np.float64),
        "phrase.loudness_db": column("loudness_db", np.float64),
    }  # fmt: skip
    return write_tagged(path, "analysis", arrays)
