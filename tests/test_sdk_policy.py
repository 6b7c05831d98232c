"""One SDK policy under every shell: the CLI and the runtime call the same SDK functions for the
service defaults and the token rule, choosing the bundle, validating a timeline and exporting."""

from __future__ import annotations

import pytest

from musicdance.errors import MusicDanceError
from musicdance.serving import ServiceConfig, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.4", False), ("::", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_rule(host, loopback):
    assert is_loopback(host) is loopback
    config = ServiceConfig(host=host)
    if loopback:
        config.check_binding()
    else:
        with pytest.raises(MusicDanceError, match=f"binding to {host} .* give a token"):
            config.check_binding()
        ServiceConfig(host=host, token="secret").check_binding()


def test_serve_defaults_come_from_the_service_config():
    import inspect

    from mdtool.serve_commands import serve

    defaults = ServiceConfig()
    options = {name: p.default.default for name, p in inspect.signature(serve).parameters.items()}
    assert options["host"] == defaults.host and options["port"] == defaults.port
    assert options["max_upload_mb"] * 1024 * 1024 == defaults.max_upload_bytes
    assert options["max_song_min"] * 60 == defaults.max_song_s
    assert options["request_timeout"] == defaults.request_timeout_s
    assert options["body_timeout"] == defaults.body_timeout_s
    assert options["workers"] == defaults.workers and options["queue"] == defaults.queue_limit
    assert options["idle_timeout"] == defaults.idle_timeout_s
    assert options["max_connections"] == defaults.limit_concurrency
    assert options["max_frames"] == defaults.max_frames


def test_the_runtime_uses_no_private_sdk_names():
    """mdruntime calls the SDK's public functions only (no ``_name`` from ``musicdance``)."""
    import ast

    from conftest import REPO

    found = []
    for path in sorted((REPO / "unity_bridge" / "mdruntime").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = set()  # local names bound to musicdance modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("musicdance"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.name}: from {node.module} import {alias.name}")
                    modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("musicdance"):
                        modules.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def test_timeline_validate_and_export_dance(tmp_path):
    """``Timeline.validate(library)`` refuses another library's timeline (the check the runtime
    and ``mdtool edit`` share), and ``export_dance`` writes the files ``mdtool choreograph``
    writes, the .glb carrying its timeline."""
    import json

    import numpy as np
    from runtime_support import STARTER, song_signal

    from musicdance.audio.analysis import analyze_signal
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.export import TIMELINE_EXTRA, dance_outputs, export_dance
    from musicdance.choreo.render import render_timeline
    from musicdance.choreo.timeline import Timeline, read_timeline
    from musicdance.io.gltf import read_gltf
    from musicdance.library import open_library

    library = open_library(STARTER)
    y, sr_hz = song_signal()
    timeline = choreograph(analyze_signal(y, sr_hz=sr_hz, path="song"), library, seed=1)
    timeline.validate(library)
    data = timeline.to_json()
    data["slots"][0]["phrase_id"] = "not-a-phrase"
    foreign = Timeline.from_json(data)
    foreign.validate()  # the numbers are fine
    with pytest.raises(MusicDanceError, match="1 phrase.* this library does not have"):
        foreign.validate(library)
    with pytest.raises(MusicDanceError, match="slot 99 does not exist"):
        timeline.check_slot(99)
    motion = render_timeline(timeline, library)
    outputs = dance_outputs(tmp_path, "song", ["glb", "bvh", "json"])
    export_dance(timeline, motion, outputs)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "song.bvh", "song.glb", "song.timeline.json"]  # fmt: skip
    assert read_timeline(outputs["json"]).to_json() == timeline.to_json()
    document = read_gltf(outputs["glb"])
    assert document.num_frames == motion.num_frames
    assert np.allclose(document.root_positions_m, motion.root_positions_m, atol=1e-5)
    import pygltflib

    extras = pygltflib.GLTF2().load(str(outputs["glb"])).scenes[0].extras
    assert extras[TIMELINE_EXTRA] == json.loads(json.dumps(timeline.to_json()))
    with pytest.raises(MusicDanceError, match="unknown dance format 'usd'"):
        export_dance(timeline, motion, {"usd": tmp_path / "x.usd"})
    # in place: the removed curve is in the timeline JSON too, and the timeline still reads
    placed = dance_outputs(tmp_path / "placed", "song", ["json"])
    export_dance(timeline, motion, placed, root_motion="in-place")
    stored = json.loads(placed["json"].read_text())["root_motion"]
    assert stored["mode"] == "in-place" and len(stored["yaw_rad"]) == motion.num_frames
    hips = np.array(stored["positions_m"])
    np.testing.assert_allclose(hips[:, [0, 2]], motion.root_positions_m[:, [0, 2]], atol=1e-5)
    assert read_timeline(placed["json"]).to_json() == timeline.to_json()


def test_the_sdk_imports_no_shell_packages():
    """The SDK reports through return values and callbacks: no module under ``musicdance``
    imports typer, rich or starlette (training progress is a callback the CLI passes)."""
    import ast

    from conftest import REPO

    shells = {"typer", "rich", "starlette", "uvicorn", "mdtool", "mdruntime"}
    found = []
    for path in sorted((REPO / "sdk" / "musicdance").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in shells]
    assert found == []


def test_packages_import_only_their_own_or_lower_layers():
    """The layers of ``musicdance.LAYERS``: no package imports a higher one (so no loops)."""
    import ast

    from conftest import REPO

    from musicdance import LAYERS

    root = REPO / "sdk" / "musicdance"
    tops = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    tops |= {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    assert tops == set(LAYERS), "every package needs a layer in musicdance.LAYERS"
    wrong = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts == ("__init__",):
            continue
        me = parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("musicdance."):
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("musicdance.")]
            for name in names:
                other = name.split(".")[1]
                if other != me and LAYERS[other] > LAYERS[me]:
                    wrong.append(f"{'/'.join(parts)} (layer {LAYERS[me]}) imports {name}")
    assert wrong == []
