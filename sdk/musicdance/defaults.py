"""Defaults that the CLI, the runtime bridge and the SDK share (importable without numpy, so
that ``mdtool`` can show them in its help without loading the SDK)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_BUNDLE", "DEFAULT_FEATURE_WEIGHT", "GENERATED_BPM_RANGE"]

#: The bundle ``mdtool choreograph``, ``mdtool serve`` and ``mdruntime.Runtime`` score with when
#: none is named: relative to the working folder, like the default library ``phrase_library``.
#: Used only if it was made for the library in use; otherwise the feature scorer is.
DEFAULT_BUNDLE = Path("bundles/default")

#: Weight ``w`` of the feature scorer in the geometric mix ``model^(1-w) * features^w`` when a
#: bundle scores the slots: chosen by measurement (``benchmarks/bench_scorers.py``, see
#: docs/models.md).
DEFAULT_FEATURE_WEIGHT = 0.5

#: The one allowed tempo range of generated songs (``synth_song``, ``mdtool synth-song --bpm``),
#: in beats per minute; every genre's own range lies inside it. (The beat tracker searches a
#: wider range, ``musicdance.audio.beats.MIN_BPM``-``MAX_BPM``, so it can find every one.)
GENERATED_BPM_RANGE = (60.0, 180.0)
