"""Music analysis: decoding, features, beats and bars, melody, structure, phrases.

The lowest layer of the SDK: it imports neither motion code nor torch. The entry point is
``musicdance.audio.analysis.analyze`` (re-exported here lazily to keep imports light).
"""

from __future__ import annotations

__all__ = ["Analysis", "analyze", "analyze_signal", "synth_song"]


def __getattr__(name: str):
    if name in ("Analysis", "analyze", "analyze_signal"):
        from musicdance.audio import analysis

        return getattr(analysis, name)
    if name == "synth_song":
        from musicdance.audio.synth import synth_song

        return synth_song
    raise AttributeError(name)
