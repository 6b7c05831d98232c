"""mdruntime: the in-game side of mdtool (no torch, no training code, no librosa).

- :class:`Runtime`: load a phrase library (and optionally a trained bundle) once; choreograph
  songs from files, bytes or PCM samples; list alternatives; replace slots; render and sample.
- :class:`Session`: one song being edited (analysis, timeline, undo, sampler).
- :class:`PoseTrack`, :class:`PoseSampler`, :class:`CrowdSampler`: the rendered dance as frames
  and vectorised pose sampling for many characters.
- ``mdruntime.service``: the HTTP service behind ``mdtool serve`` (needs starlette + uvicorn).

See ``docs/runtime.md``.
"""

from mdruntime.pose import CrowdSampler, Pose, PoseSampler, PoseTrack
from mdruntime.runtime import RUNTIME_API_VERSION, Runtime, Session, parse_timeline, timeline_key

__all__ = [
    "RUNTIME_API_VERSION",
    "CrowdSampler",
    "Pose",
    "PoseSampler",
    "PoseTrack",
    "Runtime",
    "Session",
    "parse_timeline",
    "timeline_key",
]
