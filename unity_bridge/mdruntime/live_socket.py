"""``/v1/live``: live choreography over a WebSocket (the service's streaming endpoint).

A client opens ``ws://HOST:PORT/v1/live?sr_hz=48000&channels=2&format=f32`` (optional
``style``, ``seed``, ``fps``, ``lookahead_ms``; the same token rule as every endpoint:
``Authorization: Bearer TOKEN`` on the handshake when the service has a token) and then:

- sends PCM chunks as binary messages: interleaved little-endian ``f32`` (-1..1) or ``s16``
  samples, any length up to one second;
- receives, for each chunk, one binary message in the ``MDLV`` layout (:func:`pack_frames`:
  the new pose frames and the beats declared) and, when the session chooses a phrase, a text
  message ``{"type": "choice", ...}``;
- may send the text message ``{"type": "end"}``: the server answers
  ``{"type": "summary", ...}`` (``LiveSession.timeline``) and closes.

The first server message is ``{"type": "ready", "joints": [...], "parents": [...], "offsets_m":
[J * 3], "fps": ...}`` (the skeleton the frames are on).
Errors are a text message ``{"type": "error", "message": ...}`` followed by a close with code
1008 (bad parameters, a chunk too large or of the wrong size) or 1013 (too many live sessions).
"""

from __future__ import annotations

import json
import struct

import anyio
import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from musicdance.errors import MusicDanceError

__all__ = ["LIVE_MAGIC", "LIVE_VERSION", "live_socket", "pack_frames", "unpack_frames"]

LIVE_MAGIC = b"MDLV"
LIVE_VERSION = 1
_HEADER = struct.Struct("<4sHHIIffBBH")  # magic, version, joints, frames, beats, tempo, time,
#                                         locked, meter, reserved
SAMPLE_FORMATS = {"f32": np.dtype("<f4"), "s16": np.dtype("<i2")}


def pack_frames(frames, *, tempo_bpm: float, time_s: float, locked: bool, meter: int) -> bytes:
    """One ``MDLV`` message: the 28-byte header (``<4sHHIIffBBH``: magic, version, joints J,
    frames N, beats B, tempo BPM, seconds of audio received, locked, meter, reserved), then N
    frames of ``4 + 4 J`` float32 (time s, root position m xyz, J local rotations xyzw), then
    B float32 beat times (s)."""
    n, joints = len(frames.times_s), frames.rotations.shape[1]
    body = np.concatenate(
        [frames.times_s[:, None], frames.root_positions_m, frames.rotations.reshape(n, -1)],
        axis=1,
    ).astype("<f4") if n else np.zeros((0,), "<f4")  # fmt: skip
    header = _HEADER.pack(LIVE_MAGIC, LIVE_VERSION, joints, n, len(frames.beats_s),
                          float(tempo_bpm), float(time_s), int(locked), int(meter), 0)  # fmt: skip
    return header + body.tobytes() + np.asarray(frames.beats_s, "<f4").tobytes()


def unpack_frames(data: bytes) -> dict:
    """The fields of an ``MDLV`` message (for clients and tests)."""
    magic, version, joints, n, beats, tempo, time_s, locked, meter, _ = _HEADER.unpack_from(data)
    if magic != LIVE_MAGIC or version != LIVE_VERSION:
        raise ValueError("not an MDLV v1 message")
    width = 4 + 4 * joints
    body = np.frombuffer(data, "<f4", n * width, _HEADER.size).reshape(n, width)
    beat_times = np.frombuffer(data, "<f4", beats, _HEADER.size + 4 * n * width)
    return {
        "tempo_bpm": tempo, "time_s": time_s, "locked": bool(locked), "meter": meter,
        "times_s": body[:, 0], "root_positions_m": body[:, 1:4],
        "rotations": body[:, 4:].reshape(n, joints, 4), "beats_s": beat_times,
    }  # fmt: skip


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _parameters(websocket: WebSocket) -> dict:
    """The handshake's query parameters, checked."""
    query = websocket.query_params

    def number(name, kind, default, low, high):
        raw = query.get(name)
        if raw in (None, ""):
            if default is None:
                raise _Refused(1008, f"query parameter {name} is required")
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise _Refused(1008, f"query parameter {name}: not a number: {raw!r}") from None
        if not (low <= value <= high):
            raise _Refused(1008, f"query parameter {name}: must be between {low} and {high}")
        return value

    fmt = query.get("format", "f32")
    if fmt not in SAMPLE_FORMATS:
        raise _Refused(1008, f"query parameter format: must be one of {', '.join(SAMPLE_FORMATS)}")
    style = query.get("style") or None
    if style is not None and (len(style) > 64 or not style.isprintable()):
        raise _Refused(1008, "query parameter style: at most 64 printable characters")
    return {
        "sr_hz": number("sr_hz", int, None, 8000, 192_000),
        "channels": number("channels", int, 1, 1, 8),
        "format": fmt,
        "style": style,
        "seed": number("seed", int, 0, 0, 2**63 - 1),
        "fps": number("fps", float, 30.0, 1.0, 120.0),
        "lookahead_s": number("lookahead_ms", float, 100.0, 0.0, 1000.0) / 1000.0,
    }


async def live_socket(websocket: WebSocket) -> None:
    """The ``/v1/live`` handler (see the module docs)."""
    state = websocket.app.state.service
    if state.expected is not None:
        given = websocket.headers.get("authorization", "").encode()
        import hmac

        if not hmac.compare_digest(given, state.expected):
            await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
    await websocket.accept()
    try:
        if state.live_sessions >= state.config.max_live_sessions:
            raise _Refused(1013, f"too many live sessions (at most "
                                 f"{state.config.max_live_sessions})")  # fmt: skip
        state.live_sessions += 1
        try:
            await _serve_session(websocket, state, _parameters(websocket))
        finally:
            state.live_sessions -= 1
    except _Refused as refused:
        await websocket.send_text(json.dumps({"type": "error", "message": str(refused)}))
        await websocket.close(code=refused.code)
    except MusicDanceError as error:
        await websocket.send_text(json.dumps({"type": "error", "message": str(error)}))
        await websocket.close(code=1008)
    except WebSocketDisconnect:
        pass


async def _serve_session(websocket: WebSocket, state, options: dict) -> None:
    session = await anyio.to_thread.run_sync(lambda: state.runtime.live(
        sr_hz=options["sr_hz"], style=options["style"], seed=options["seed"],
        fps=options["fps"], lookahead_s=options["lookahead_s"],
    ))  # fmt: skip
    skeleton = session.skeleton
    await websocket.send_text(json.dumps({
        "type": "ready", "format": "MDLV", "version": LIVE_VERSION, "fps": options["fps"],
        "joints": list(skeleton.names), "parents": [int(p) for p in skeleton.parents],
        "offsets_m": [round(float(v), 6) for v in skeleton.offsets_m.ravel()],
    }))  # fmt: skip
    dtype, channels = SAMPLE_FORMATS[options["format"]], options["channels"]
    max_bytes = options["sr_hz"] * channels * dtype.itemsize  # one second
    sent_choices = 0
    while True:
        with anyio.fail_after(state.config.body_timeout_s):
            message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            if _is_end(message["text"]):
                await websocket.send_text(json.dumps({"type": "summary", **session.timeline()}))
                await websocket.close(code=1000)
                return
            raise _Refused(1008, 'text messages must be {"type": "end"}')
        data = message.get("bytes") or b""
        frame_bytes = channels * dtype.itemsize
        if len(data) > max_bytes or len(data) % frame_bytes:
            raise _Refused(1008, f"a chunk must be whole {options['format']} frames of "
                                 f"{channels} channel(s), at most one second")  # fmt: skip
        samples = np.frombuffer(data, dtype).reshape(-1, channels)
        frames = await anyio.to_thread.run_sync(session.push, samples)
        beat = session.state
        await websocket.send_bytes(pack_frames(frames, tempo_bpm=beat.tempo_bpm,
                                               time_s=beat.time_s, locked=beat.locked,
                                               meter=beat.meter))  # fmt: skip
        new = session.choice_count - sent_choices
        for choice in list(session.choices)[len(session.choices) - min(new, len(session.choices)):]:
            await websocket.send_text(json.dumps({"type": "choice", **choice.to_json()}))
        sent_choices = session.choice_count


def _is_end(text: str) -> bool:
    try:
        return json.loads(text) == {"type": "end"}
    except ValueError:
        return False
