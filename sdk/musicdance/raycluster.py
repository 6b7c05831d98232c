"""A Ray session for the ``--engine ray`` paths (corpus building, the transition-graph index).

Ray is an optional extra, imported only here and only when asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from musicdance.errors import MusicDanceError

__all__ = ["ray_session"]


@contextlib.contextmanager
def ray_session(workers: int, alternative: str) -> Iterator[Any]:
    """Yield the ``ray`` module, connected to ``RAY_ADDRESS`` or to a local cluster of
    ``workers`` CPUs started (and shut down) here; ``alternative`` names the engine to use
    instead when Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise MusicDanceError(
            f"--engine ray needs Ray: pip install 'ray>=2.9' (or use {alternative})"
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if not os.environ.get("RAY_ADDRESS"):
            options["num_cpus"] = workers
        ray.init(**options)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()
