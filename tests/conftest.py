"""Shared test fixtures: paths to the real data beside the project (``../shared/data``)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_BVH = sorted((SHARED_DATA / "bvh").glob("*.bvh"))
EXAMPLES = REPO / "examples"


def pytest_collection_modifyitems(config, items):
    if not SHARED_BVH:
        skip = pytest.mark.skip(reason="../shared/data/bvh is not present")
        for item in items:
            if "shared_bvh" in item.fixturenames:
                item.add_marker(skip)


@pytest.fixture(params=SHARED_BVH, ids=[p.stem for p in SHARED_BVH])
def shared_bvh(request) -> Path:
    """Each real motion-capture file in ``../shared/data/bvh``."""
    return request.param
