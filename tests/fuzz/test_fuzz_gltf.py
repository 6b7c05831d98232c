"""glTF/GLB reader under mutated files written by mdtool, hostile URIs, and growth checks."""

from __future__ import annotations

import json
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.harness import (
    FAILURES,
    check_cli_convert,
    check_motion_file,
    count_lines,
    glb_corpus,
    mutate_glb,
    pack_glb,
    peak_traced_bytes,
    split_glb,
)
from musicdance.errors import MusicDanceError
from musicdance.io.gltf import read_gltf, write_glb
from musicdance.motion import Motion, Skeleton
from musicdance.motion.quat import quat_identity

FUZZ = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[bytes]:
    return [p.read_bytes() for p in glb_corpus(tmp_path_factory.mktemp("glb"))]


@pytest.fixture(scope="module")
def corpus(sources: list[bytes]) -> dict[str, list[bytes]]:
    return {"glb": sources}  # a wrapper, so hypothesis does not print a megabyte of bytes


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), as_gltf=st.booleans())
def test_mutated_glb_reads_or_fails_with_one_line(
    tmp_path: Path, corpus, seed: int, as_gltf: bool
) -> None:
    rng = random.Random(seed)
    sources = corpus["glb"]
    folder = tmp_path / f"{seed}-{as_gltf}"
    folder.mkdir(exist_ok=True)
    data, side = mutate_glb(rng.choice(sources), rng, as_gltf=as_gltf)
    for name, content in side.items():
        (folder / name).write_bytes(content)
    path = folder / ("fuzz.gltf" if as_gltf else "fuzz.glb")
    path.write_bytes(data)
    outcome, detail = check_motion_file(path, read_gltf)
    assert outcome not in FAILURES, detail


def _chain(num_joints: int, num_frames: int = 2) -> Motion:
    skeleton = Skeleton(
        names=tuple(f"j{k}" for k in range(num_joints)),
        parents=np.arange(-1, num_joints - 1),
        offsets_m=np.tile([0.0, 0.01, 0.0], (num_joints, 1)),
        channels=tuple(("Zrotation", "Xrotation", "Yrotation") for _ in range(num_joints)),
    )
    return Motion(
        skeleton, 30.0, np.zeros((num_frames, 3)), quat_identity((num_frames, num_joints))
    )


def _gltf_with_uri(folder: Path, sources: list[bytes], uri: str) -> Path:
    document, blob = split_glb(sources[0])
    document["buffers"][0]["uri"] = uri
    path = folder / "scene" / "motion.gltf"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document))
    (folder / "scene" / "motion.bin").write_bytes(blob)
    return path


@pytest.mark.parametrize(
    "uri",
    [
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "file:///etc/passwd",
        "%2e%2e/outside.bin",
        "sub/../../outside.bin",
        "link.bin",
    ],
)
def test_buffer_uri_outside_the_folder_is_refused_revealing_nothing(
    tmp_path: Path, sources: list[bytes], uri: str
) -> None:
    (tmp_path / "outside.bin").write_bytes(split_glb(sources[0])[1])
    path = _gltf_with_uri(tmp_path, sources, uri)
    os.symlink(tmp_path / "outside.bin", path.parent / "link.bin")  # a link leading outside
    with pytest.raises(MusicDanceError) as caught:
        read_gltf(path)
    message = str(caught.value)
    assert "relative path inside the file's folder" in message
    assert "bytes" not in message and "truncated" not in message and "not found" not in message


def test_buffer_uri_inside_the_folder_and_data_uris_still_read(
    tmp_path: Path, sources: list[bytes]
) -> None:
    assert read_gltf(_gltf_with_uri(tmp_path, sources, "motion.bin")).num_frames == 20
    assert read_gltf(_gltf_with_uri(tmp_path, sources, "./motion%2Ebin")).num_frames == 20


def _glb_with(sources: list[bytes], path: Path, change) -> Path:
    document, blob = split_glb(sources[0])
    change(document)
    path.write_bytes(pack_glb(document, blob))
    return path


def test_declared_counts_are_checked_before_allocating(
    tmp_path: Path, sources: list[bytes]
) -> None:
    def huge(document):
        for accessor in document["accessors"]:
            accessor["count"] = 2**31

    path = _glb_with(sources, tmp_path / "huge.glb", huge)
    with pytest.raises(MusicDanceError, match="needs bytes"):
        peak = peak_traced_bytes(lambda: read_gltf(path))
    peak = 0

    def run():
        with pytest.raises(MusicDanceError):
            read_gltf(path)

    peak = peak_traced_bytes(run)
    assert peak < 20e6, peak


def test_deep_json_is_refused_before_parsing(tmp_path: Path) -> None:
    text = b'{"asset": {"version": "2.0"}, "extras": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = tmp_path / "deep.gltf"
    path.write_bytes(text)
    with pytest.raises(MusicDanceError, match="nested 100001 levels deep"):
        read_gltf(path)


def test_stride_shorter_than_an_element_is_refused(tmp_path: Path, sources: list[bytes]) -> None:
    def short(document):
        document["bufferViews"][document["accessors"][-1]["bufferView"]]["byteStride"] = 4

    with pytest.raises(MusicDanceError, match="byteStride 4"):
        read_gltf(_glb_with(sources, tmp_path / "stride.glb", short))


def test_node_cycle_is_refused(tmp_path: Path, sources: list[bytes]) -> None:
    def cycle(document):
        document["nodes"][2].setdefault("children", []).append(0)

    with pytest.raises(MusicDanceError, match="more than one parent|cycle"):
        read_gltf(_glb_with(sources, tmp_path / "cycle.glb", cycle))


def test_read_cost_grows_linearly_with_skeleton_depth(tmp_path: Path) -> None:
    """Doubling the depth of a chain skeleton (written by mdtool) at most about doubles the
    lines executed by read_gltf (it was quadratic in lines, cubic in time)."""
    costs = []
    for depth in (200, 400):
        path = tmp_path / f"chain{depth}.glb"
        write_glb(_chain(depth), path)
        costs.append(count_lines(lambda p=path: read_gltf(p)))
    assert costs[1] <= 2.2 * costs[0], costs


def test_read_cost_of_extra_empty_nodes_grows_linearly(
    tmp_path: Path, sources: list[bytes]
) -> None:
    costs = []
    for extra in (10_000, 20_000):

        def pad(document, extra=extra):
            document["nodes"].extend({} for _ in range(extra))

        path = _glb_with(sources, tmp_path / f"pad{extra}.glb", pad)
        costs.append(count_lines(lambda p=path: read_gltf(p)))
    assert costs[1] <= 2.2 * costs[0], costs


def test_deep_skeleton_round_trips_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "deep.glb"
    write_glb(_chain(3000), path)
    outcome, detail = check_cli_convert(path, ".bvh")
    assert outcome == "read", detail


def test_truncated_glb_header_claims(tmp_path: Path, sources: list[bytes]) -> None:
    data = bytearray(sources[0])
    struct.pack_into("<I", data, 12, 2**31)  # JSON chunk length far beyond the file
    path = tmp_path / "claims.glb"
    path.write_bytes(bytes(data))
    outcome, detail = check_cli_convert(path, ".bvh")
    assert outcome == "rejected", detail


_JSON = st.recursive(
    st.none() | st.integers() | st.text(alphabet='ab"\\[]{},:é'),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='k"\\[{'), inner, max_size=4)
    ),
    max_leaves=30,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(document=_JSON, block=st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_json_depth_is_counted_outside_strings_across_blocks(document, block) -> None:
    """The pre-parse scan agrees with the parsed depth, strings full of brackets, quotes and
    backslashes included, whatever the block boundaries."""
    from musicdance.io import gltf_reader

    text = json.dumps({"asset": {"version": "2.0"}, "x": document}, ensure_ascii=False)
    expected = _depth(json.loads(text))
    old_block, old_depth = gltf_reader._JSON_BLOCK, gltf_reader.MAX_JSON_DEPTH
    try:
        gltf_reader._JSON_BLOCK = block
        gltf_reader.MAX_JSON_DEPTH = expected
        gltf_reader._check_json_shape(text.encode("utf-8"))  # exactly at the limit: accepted
        gltf_reader.MAX_JSON_DEPTH = expected - 1
        with pytest.raises(MusicDanceError, match=f"nested {expected} levels"):
            gltf_reader._check_json_shape(text.encode("utf-8"))
    finally:
        gltf_reader._JSON_BLOCK, gltf_reader.MAX_JSON_DEPTH = old_block, old_depth


def test_json_scan_is_linear_for_long_escaped_strings() -> None:
    """A 10 MB string of escapes is scanned without a backtracking stack (a regex took 730 MB)."""
    from musicdance.io.gltf_reader import _check_json_shape

    text = b'{"asset": {"version": "2.0"}, "u": "' + b"\\n" * 5_000_000 + b'"}'
    assert peak_traced_bytes(lambda: _check_json_shape(text)) < 100e6
