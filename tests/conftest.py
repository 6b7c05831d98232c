"""Shared test fixtures: paths to the real data beside the project (``../shared/data``)."""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_BVH = sorted((SHARED_DATA / "bvh").glob("*.bvh"))
EXAMPLES = REPO / "examples"
# what the code caches between runs (MuDaR phrase embeddings) stays in this session's own folder
os.environ.setdefault("MDTOOL_CACHE_DIR", tempfile.mkdtemp(prefix="mdtool-test-cache-"))

#: The slowest files (CPU seconds measured with ``--durations``), run first so that pytest-xdist
#: (``make test``: ``-n auto --dist loadfile``, one file per worker at a time) does not end with
#: one worker busy on a long file while the others wait. Alternating files that build the shared
#: training fixtures (tests/train_support.py) with files that do not keeps a second worker from
#: waiting for the first one's build at the start. The order changes nothing else.
SLOW_FILES_FIRST = (
    "test_train_distributed.py",
    "test_engines.py",
    "test_networks.py",
    "test_live.py",
    "test_recognize.py",
    "test_conducting.py",
    "test_mudar_train.py",
    "test_train_loops.py",
    "test_group.py",
    "test_library_scale.py",
    "test_train_bundle.py",
    "test_service_hardening.py",
    "test_studio.py",
    "test_runtime_service.py",
    "test_runtime_bundle.py",
    "test_library_starter.py",
    "test_rerender.py",
    "test_choreo.py",
    "test_library_cli.py",
    "test_audio_analysis.py",
    "test_train_corpus.py",
    "test_fuzz_service.py",
)


def pytest_collection_finish(session):
    """Under pytest-xdist, torch in each worker uses its share of the cores: with one worker per
    core, torch's default of one thread per core has every worker's threads spin-waiting for
    each other (the same tests took several times the CPU). Spawned processes set their own."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    torch = sys.modules.get("torch")  # imported while collecting, when the train extra is there
    if workers and torch is not None:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole
    if not SHARED_BVH:
        skip = pytest.mark.skip(reason="../shared/data/bvh is not present")
        for item in items:
            if "shared_bvh" in item.fixturenames:
                item.add_marker(skip)


def pytest_addoption(parser):
    parser.addoption(
        "--cpu-report", metavar="PATH", default=None,
        help="append one JSON line per test to PATH: CPU seconds of the test process and its "
        "waited-for children (setup, call and teardown), and wall seconds; summarise with "
        "benchmarks/bench_tests.py (wall time alone misleads on a shared machine)",
    )  # fmt: skip


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    path = item.config.getoption("--cpu-report")
    cpu_s, wall_s = _cpu_s(), time.perf_counter()
    yield
    if path:
        row = {"test": item.nodeid, "cpu_s": round(_cpu_s() - cpu_s, 3),
               "wall_s": round(time.perf_counter() - wall_s, 3)}  # fmt: skip
        with open(path, "a") as out:  # one short line per write: workers may share the file
            out.write(json.dumps(row) + "\n")


@pytest.fixture(params=SHARED_BVH, ids=[p.stem for p in SHARED_BVH])
def shared_bvh(request) -> Path:
    """Each real motion-capture file in ``../shared/data/bvh``."""
    return request.param
