"""Test helper: run the Khronos glTF validator (``scripts/validate_gltf.mjs``) on a file.

Needs ``node`` and ``npm install`` at the repository root; tests that call ``validate`` are
skipped when either is missing (CI has both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "validate_gltf.mjs"
VALIDATOR_PACKAGE = REPO / "node_modules" / "gltf-validator"


def validate(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validator's summary for one .glb/.gltf file.

    Keys: ``numErrors``, ``numWarnings``, ``numInfos``, ``numHints`` and ``messages`` (each a
    dict with ``code``, ``message``, ``severity`` and ``pointer``).
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not VALIDATOR_PACKAGE.is_dir():
        pytest.skip("gltf-validator is not installed (run `npm install` at the repo root)")
    result = subprocess.run(
        [node, str(SCRIPT), str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"validate_gltf.mjs failed ({result.returncode}): {result.stderr}")
    return json.loads(result.stdout)


def describe(report: dict[str, Any]) -> str:
    """The report's counts and messages, one per line, for assertion failures."""
    counts = ", ".join(f"{key}={report[key]}" for key in ("numErrors", "numWarnings", "numInfos"))
    lines = [f"{m['code']} at {m['pointer']}: {m['message']}" for m in report["messages"]]
    return "\n".join([f"{report['path']}: {counts}", *lines])


def assert_valid(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Validate ``path`` and fail the test on any error or warning; returns the report."""
    report = validate(path)
    assert report["numErrors"] == 0 and report["numWarnings"] == 0, describe(report)
    return report
