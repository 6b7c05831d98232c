"""The Unity package (``unity_bridge/unity/com.mdtool.dance``) without Unity.

- The engine-independent C# (timeline parsing, pose sampling, time warp, inertialization, forward
  kinematics) is compiled with Debian's mono (``mcs``) and run against golden vectors written by
  the Python runtime: the same poses within 1e-4.
- The Unity-facing scripts are compiled against a minimal stub of the UnityEngine types they use
  (``unity_bridge/unity/stubs``), so type errors are caught.

Skipped where ``mcs``/``mono`` are missing (``apt-get install -y --no-install-recommends
mono-mcs``). The package's JSON files are checked everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import REPO
from runtime_support import runtime, song_signal

UNITY = REPO / "unity_bridge" / "unity"
PACKAGE = UNITY / "com.mdtool.dance"
needs_mono = pytest.mark.skipif(
    shutil.which("mcs") is None or shutil.which("mono") is None,
    reason="mono is not installed (apt-get install -y --no-install-recommends mono-mcs)",
)


def test_package_layout_and_manifests():
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["name"] == "com.mdtool.dance" and manifest["unity"] >= "2021.3"
    assert manifest["version"].count(".") == 2
    asmdef = json.loads((PACKAGE / "Runtime" / "MdTool.Dance.asmdef").read_text())
    assert asmdef["name"] == "MdTool.Dance"
    core = list((PACKAGE / "Runtime" / "Core").glob("*.cs"))
    assert core and all("UnityEngine" not in p.read_text() for p in core)  # engine-independent
    assert (PACKAGE / "Runtime" / "Unity" / "DancePlayer.cs").is_file()
    # test code lives in a folder Unity ignores (trailing ~), stubs outside the package
    assert (PACKAGE / "Tests~" / "Core" / "CoreTests.cs").is_file()
    assert not list(PACKAGE.rglob("UnityEngine.cs"))


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    from mdruntime.golden import write_golden

    rt = runtime()
    y, sr = song_signal()
    timeline = rt.choreograph_pcm(y, sr, name="golden", seed=2)
    return write_golden(tmp_path_factory.mktemp("golden"), rt, timeline), timeline


def _run(*command, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=timeout
    )


@needs_mono
def test_core_csharp_matches_the_python_runtime(golden, tmp_path):
    folder, timeline = golden
    exe = tmp_path / "CoreTests.exe"
    sources = sorted((PACKAGE / "Runtime" / "Core").glob("*.cs"))
    tests = PACKAGE / "Tests~" / "Core" / "CoreTests.cs"
    built = _run("mcs", "-warnaserror", f"-out:{exe}", *sources, tests)
    assert built.returncode == 0, built.stdout + built.stderr
    out = tmp_path / "out"
    result = _run("mono", exe, folder, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed"), result.stdout
    assert "FAIL" not in result.stdout
    # the C# writer gives the service back the same timeline, and local edits land in it
    assert json.loads((out / "roundtrip.timeline.json").read_text()) == timeline.to_json()
    edited = json.loads((out / "edited.timeline.json").read_text())
    assert edited["slots"][1]["phrase_id"] == "edited-phrase"
    assert edited["slots"][1]["transition_prior"] is None
    bench = _run("mono", exe, "--bench", folder, 1000, 0.3)
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout)["poses_per_s"] > 0


@needs_mono
def test_unity_scripts_compile_against_the_stub(tmp_path):
    sources = sorted((PACKAGE / "Runtime").rglob("*.cs"))
    assert any("Unity" in p.parts for p in sources)
    result = _run(
        "mcs", "-target:library", "-warnaserror", f"-out:{tmp_path / 'MdTool.Dance.dll'}",
        UNITY / "stubs" / "UnityEngine.cs", *sources,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
