"""Blender as a tool, in its own process: the ``bpy`` package from PyPI runs the jobs of
:mod:`musicdance.io.blender_task` (FBX export through Blender's exporter; imports of mdtool's
files for the tests and the docs' figures).

Blender runs in a separate interpreter because ``bpy`` pins numpy 1.x and holds global state;
which interpreter: ``$MDTOOL_BLENDER_PYTHON``, else this one when it can import ``bpy``
(``pip install mdtool[fbx]``), else ``.venv-blender/bin/python`` in the working folder or the
source checkout (``make test`` creates it)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from musicdance.errors import MusicDanceError

__all__ = ["BLENDER_PYTHON_ENV", "blender_python", "run_blender_job"]

#: Environment variable naming a Python interpreter that can ``import bpy``.
BLENDER_PYTHON_ENV = "MDTOOL_BLENDER_PYTHON"
_TASK = Path(__file__).with_name("blender_task.py")
_INSTALL_HINT = "install Blender's Python module: pip install 'mdtool[fbx]' (the bpy package)"


def blender_python() -> str | None:
    """A Python interpreter that can ``import bpy``, or None (see the module docstring)."""
    chosen = os.environ.get(BLENDER_PYTHON_ENV)
    if chosen:
        return chosen
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    checkout = Path(__file__).resolve().parents[3]
    for root in (Path.cwd(), checkout):
        candidate = root / ".venv-blender" / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    return None


def run_blender_job(job: dict, *, path: str | os.PathLike[str] | None = None) -> dict:
    """Run one :mod:`~musicdance.io.blender_task` job and return its result. Failures are one
    :class:`MusicDanceError` line naming ``path`` (the file the job is about)."""
    python = blender_python()
    if python is None:
        raise MusicDanceError(f"Blender is not available: {_INSTALL_HINT}", path)
    with tempfile.TemporaryDirectory(prefix="mdtool-blender-") as folder:
        job_path, result_path = Path(folder) / "job.json", Path(folder) / "result.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        done = subprocess.run(
            [python, str(_TASK), str(job_path), str(result_path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if not result_path.is_file():
            last = (done.stderr or done.stdout).strip().splitlines()
            why = last[-1] if last else f"exit status {done.returncode}"
            raise MusicDanceError(f"Blender failed: {why}", path)
        result = json.loads(result_path.read_text(encoding="utf-8"))
    if "error" in result:
        message = " ".join(str(result["error"]).replace(": Error: ", ": ", 1).split())
        raise MusicDanceError(f"Blender failed: {message}", path)
    return result
