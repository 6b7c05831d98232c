"""Companion models: ONNX models that ship inside a bundle folder beside its predictor.

The default bundle scores phrases; other models (style recognition, music recommendation,
rhythm, conducting) travel with it as *companions*, one subfolder each::

    bundles/default/
        manifest.json           the bundle's manifest; ``companions`` lists the subfolders:
                                {"name": {"manifest": "name/manifest.json", "sha256": ...}}
        name/manifest.json      format mdtool-companion/1: name, task, graphs {role: file},
                                data (other files), files {file: {sha256, bytes}}, and anything
                                the model needs (opset, parity, labels, feature parameters)
        name/*.onnx, name/*.npy

:func:`write_companion` fills the file hashes and writes the manifest atomically,
:func:`register_companion` records it in the bundle's manifest, :func:`open_companion` and
:func:`find_companion` check every hash before a model is used. Retraining the bundle's
predictor keeps the companions (``train.bundle_export`` carries them over). torch is never
imported here.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicdance.atomic import atomic_write
from musicdance.defaults import DEFAULT_BUNDLE
from musicdance.errors import MusicDanceError
from musicdance.formats import read_format_json

__all__ = [
    "COMPANION_FORMAT",
    "Companion",
    "carry_companions",
    "file_records",
    "file_sha256",
    "find_companion",
    "list_companions",
    "onnx_session",
    "open_companion",
    "register_companion",
    "require_companion",
    "write_companion",
]

COMPANION_FORMAT = "mdtool-companion/1"
MANIFEST_NAME = "manifest.json"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_records(folder: Path, names) -> dict[str, dict]:
    """``{name: {"sha256", "bytes"}}`` of files in ``folder``, sorted by name (manifests)."""
    return {
        name: {"sha256": file_sha256(folder / name), "bytes": (folder / name).stat().st_size}
        for name in sorted(names)
    }


def onnx_session(path: str | os.PathLike[str], threads: int = 0, *, spinning: bool = True):
    """An onnxruntime CPU session for ``path`` (a clear MusicDanceError if it cannot load).

    ``spinning=False`` lets idle intra-op threads sleep instead of busy-waiting: for a graph
    run once per request (a whole song) it saves CPU time (0.2 s of 0.5 s on the 4-minute
    conductor run), at a small latency cost for many short runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MusicDanceError(f"onnxruntime cannot load the graph: {first}", path) from error


@dataclass
class Companion:
    """An opened, checked companion model folder; ``session(role)`` runs one of its graphs."""

    path: Path
    manifest: dict[str, Any]
    threads: int = 0
    #: onnxruntime's busy-waiting intra-op threads (see :func:`onnx_session`).
    spinning: bool = True
    _sessions: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def task(self) -> str:
        return str(self.manifest["task"])

    def file(self, name: str) -> Path:
        """Path of one of the companion's files (a graph or a data file)."""
        if name not in self.manifest["files"]:
            raise MusicDanceError(f"companion {self.name} has no file {name!r}", self.path)
        return self.path / name

    def session(self, role: str):
        """The onnxruntime session of graph ``role`` (created once)."""
        if role not in self._sessions:
            graphs = self.manifest["graphs"]
            if role not in graphs:
                raise MusicDanceError(
                    f"companion {self.name} has no {role!r} graph (it has {sorted(graphs)})",
                    self.path,
                )
            self._sessions[role] = onnx_session(
                self.path / graphs[role], self.threads, spinning=self.spinning
            )
        return self._sessions[role]


def write_companion(folder: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Fill ``files`` (sha256, bytes of every graph and data file) and write the manifest.

    ``manifest`` needs ``name``, ``task`` and ``graphs`` ({role: file name}); ``data`` (a list
    of other file names in the folder) is optional. Returns the manifest path.
    """
    root = Path(folder)
    manifest = {"format": COMPANION_FORMAT, **manifest}
    for key in ("name", "task", "graphs"):
        if key not in manifest:
            raise MusicDanceError(f"companion manifest needs {key!r}", root)
    manifest["files"] = file_records(root, {*manifest["graphs"].values(),
                                            *manifest.get("data", [])})  # fmt: skip
    target = root / MANIFEST_NAME
    with atomic_write(target, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    return target


def open_companion(
    folder: str | os.PathLike[str], *, task: str | None = None, threads: int = 0
) -> Companion:
    """Open and check a companion folder: format, file names inside it, every sha256."""
    root = Path(folder)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise MusicDanceError("not a companion model (no manifest.json)", root)
    manifest = read_format_json(
        path, expected_format=COMPANION_FORMAT, kind="companion", document="manifest"
    )
    for key in ("name", "task", "graphs", "files"):
        if key not in manifest:
            raise MusicDanceError(f"companion manifest lacks {key}", path)
    if task is not None and manifest["task"] != task:
        raise MusicDanceError(f"companion is a {manifest['task']!r} model, not {task!r}", root)
    files = manifest["files"]
    if not isinstance(files, dict) or not isinstance(manifest["graphs"], dict):
        raise MusicDanceError("companion manifest has malformed graphs or files", path)
    for name in sorted({*manifest["graphs"].values(), *files}):
        if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
            raise MusicDanceError(f"companion manifest names a file outside it: {name!r}", path)
        entry = files.get(name)
        if not (root / name).is_file():
            raise MusicDanceError(f"companion file {name} is missing", root)
        if not isinstance(entry, dict) or file_sha256(root / name) != entry.get("sha256"):
            raise MusicDanceError(
                f"companion file {name} does not match its sha256 (corrupt or modified)", root
            )
    return Companion(root, manifest, threads=threads)


def _bundle_manifest(bundle: Path) -> tuple[Path, dict[str, Any]]:
    path = bundle / MANIFEST_NAME
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"bundle manifest is unreadable: {error}", path) from error


def list_companions(bundle: str | os.PathLike[str] = DEFAULT_BUNDLE) -> dict[str, dict]:
    """The companions a bundle's manifest lists ({name: entry}); {} when it has none."""
    path = Path(bundle) / MANIFEST_NAME
    if not path.is_file():
        return {}
    _, manifest = _bundle_manifest(Path(bundle))
    entries = manifest.get("companions", {})
    return dict(entries) if isinstance(entries, dict) else {}


def register_companion(bundle: str | os.PathLike[str], name: str) -> None:
    """Record (or update) companion ``name`` (the subfolder ``bundle/name``) in the bundle's
    manifest, with the sha256 of its manifest; the rest of the manifest is kept as it is."""
    root = Path(bundle)
    if Path(name).name != name or name.startswith("."):
        raise MusicDanceError(f"companion name must be a plain folder name: {name!r}", root)
    open_companion(root / name)  # refuse to register a broken companion
    path, manifest = _bundle_manifest(root)
    entries = dict(manifest.get("companions") or {})
    entries[name] = {
        "manifest": f"{name}/{MANIFEST_NAME}",
        "sha256": file_sha256(root / name / MANIFEST_NAME),
    }
    manifest["companions"] = dict(sorted(entries.items()))
    with atomic_write(path, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")


def find_companion(
    name: str,
    bundle: str | os.PathLike[str] = DEFAULT_BUNDLE,
    *,
    task: str | None = None,
    threads: int = 0,
) -> Companion | None:
    """Companion ``name`` of ``bundle`` if the bundle lists it (checked), else None."""
    entry = list_companions(bundle).get(name)
    if entry is None:
        return None
    root = Path(bundle)
    manifest = root / name / MANIFEST_NAME
    if not manifest.is_file() or file_sha256(manifest) != entry.get("sha256"):
        raise MusicDanceError(
            f"companion {name} is missing or does not match the bundle's manifest", root
        )
    return open_companion(root / name, task=task, threads=threads)


def require_companion(
    name: str,
    bundle: str | os.PathLike[str],
    missing: str,
    *,
    task: str | None = None,
    threads: int = 0,
) -> Companion:
    """``find_companion``, or a MusicDanceError saying ``missing`` (how to build it) about
    ``bundle`` when the bundle does not list it."""
    companion = find_companion(name, bundle, task=task, threads=threads)
    if companion is None:
        raise MusicDanceError(missing, Path(bundle))
    return companion


def carry_companions(source: Path, target: Path) -> dict[str, dict]:
    """Copy the companions listed by bundle ``source`` into folder ``target`` (a bundle being
    rewritten); returns their manifest entries for the new manifest."""
    entries = list_companions(source)
    for name in entries:
        shutil.copytree(source / name, target / name, dirs_exist_ok=True)
    return entries
