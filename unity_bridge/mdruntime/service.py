"""``mdtool serve``: the runtime as a local HTTP service for game engines (Starlette + uvicorn).

JSON API, version 1 (schema: :func:`mdruntime.openapi.openapi_schema`, published as
``docs/runtime-openapi.json``; guide: ``docs/runtime.md``)::

    GET  /v1/health          liveness (never needs the token)
    GET  /v1/version         versions, library, bundle, limits
    GET  /v1/phrases         the library's phrases (for an editing UI)
    POST /v1/choreograph     audio bytes -> timeline
    POST /v1/alternatives    {timeline, slot, top_k} -> ranked phrases
    POST /v1/replace         {timeline, slot, phrase_id, user} -> timeline (recorded as an edit)
    GET  /v1/edits/agreement how often the bundle's first choice is the curators' (?user=)
    POST /v1/bake            {timeline} -> pose track (MDPT bytes, what engines sample)
    POST /v1/pose            {timeline, times_s} -> poses
    POST /v1/render.glb      {timeline} -> .glb
    POST /v1/group/choreograph     audio bytes (?dancers=N&formation=&lead=) -> group timeline
    POST /v1/group/bake            {group_timeline} -> distinct MDPT tracks + spot paths
    POST /v1/group/pose            {group_timeline, times_s} -> every dancer's poses
    POST /v1/group/alternatives    {group_timeline, dancer, slot} -> ranked phrases, devices
    POST /v1/group/render.glb      {group_timeline} -> .glb with every dancer
    POST /v1/conduct         audio bytes -> conductor pose track (MDPT) or keypoints (JSON)
    POST /v1/recommend       {timeline} or {poses, fps} -> dance style, songs of the catalogue
    GET  /openapi.json       the schema
    GET  /studio/, /v1/studio/*, /v1/library/*   the browser studio (``mdruntime.studio``)
    WS   /v1/live            PCM chunks in, live poses out (``mdruntime.live_socket``)

Safe by default: binds 127.0.0.1; any other address needs a token (``Authorization: Bearer``);
uploads and JSON bodies are size-bounded and must arrive within ``body_timeout_s``; every job has
a time limit; CPU work runs on a bounded thread pool with a bounded queue (503 when full);
malformed input gets a 4xx with ``{"error": {"status", "message"}}``; files are staged only in
the work folder and removed at once. The service is stateless: clients send the timeline back;
with edit recording on (``mdtool serve``'s default) each replace is appended to the library's
``edits`` table (``musicdance.library.edits``), the one write outside the work folder.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
import math
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from mdruntime.audio_input import AUDIO_FORMATS
from mdruntime.live_socket import live_socket
from mdruntime.runtime import (
    MAX_FPS,
    RUNTIME_API_VERSION,
    Runtime,
    group_key,
    parse_timeline,
    safe_song_name,
    timeline_key,
)
from musicdance.choreo.choreographer import DECODERS
from musicdance.choreo.timeline import timeline_problem
from musicdance.errors import MusicDanceError
from musicdance.jsonguard import check_json_shape
from musicdance.serving import ServiceConfig, is_loopback

__all__ = ["ServiceConfig", "ServiceError", "create_app", "is_loopback", "serve"]

POSE_TRACK_MEDIA_TYPE = "application/x-mdtool-posetrack"
GLB_MEDIA_TYPE = "model/gltf-binary"


class ServiceError(Exception):
    """An HTTP error with a clear message."""

    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": message}}, status_code=status, headers=headers
    )


class _Jobs:
    """Runs CPU work on worker threads: at most ``workers`` at once, ``queue_limit`` waiting."""

    def __init__(self, workers: int, queue_limit: int, timeout_s: float) -> None:
        self.limiter = anyio.CapacityLimiter(max(int(workers), 1))
        self.capacity = max(int(workers), 1) + max(int(queue_limit), 0)
        self.timeout_s = float(timeout_s)
        self.waiting = 0  # jobs running or waiting for a worker

    async def run(self, fn, *args):
        if self.waiting >= self.capacity:
            raise ServiceError(503, "the service is busy; retry shortly", {"Retry-After": "1"})
        self.waiting += 1
        try:
            with anyio.fail_after(self.timeout_s):
                return await anyio.to_thread.run_sync(
                    fn, *args, limiter=self.limiter, abandon_on_cancel=True
                )
        except TimeoutError:
            raise ServiceError(
                504, f"the request took longer than the time limit of {self.timeout_s:g} s"
            ) from None
        finally:
            self.waiting -= 1


async def _read_body(request: Request, limit: int, timeout_s: float, what: str) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ServiceError(400, "Content-Length must be a number")
        if int(declared) > limit:
            raise ServiceError(413, f"the {what} is {int(declared)} bytes; the limit is {limit}")
    chunks, size = [], 0
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ServiceError(413, f"the {what} is larger than the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ServiceError(
            408, f"the {what} did not arrive within {timeout_s:g} s (slow or stalled client)"
        ) from None
    return b"".join(chunks)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


async def _json_body(request: Request, config: ServiceConfig) -> dict:
    """The request's JSON object: size, nesting depth and value count are checked before it
    is parsed (``musicdance.jsonguard``); NaN and Infinity are refused."""
    data = await _read_body(request, config.max_json_bytes, config.body_timeout_s, "JSON body")
    problem = check_json_shape(
        data, max_depth=config.max_json_depth, max_values=config.max_json_values
    )
    if problem:
        raise ServiceError(413, f"the JSON body is too large to process: {problem}")
    try:
        body = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ServiceError(400, f"the body is not valid JSON ({error})") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "the body must be a JSON object")
    return body


_KINDS = {dict: "a JSON object", list: "a JSON array", str: "a string"}


def _field(body: dict, name: str, kind, *, default=None, required=True):
    if name not in body:
        if required:
            raise ServiceError(400, f"missing field {name!r}")
        return default
    value = body[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ServiceError(400, f"field {name!r} must be an integer")
    if kind is not int and not isinstance(value, kind):
        raise ServiceError(400, f"field {name!r} must be {_KINDS.get(kind, kind.__name__)}")
    return value


def _timeline_of(body: dict, config: ServiceConfig):
    """The body's timeline, refused (422) before any work when rendering it would pass the
    service's frame limit (song length x fps)."""
    timeline = parse_timeline(_field(body, "timeline", dict))
    problem = timeline_problem(timeline, max_frames=config.max_frames)
    if problem:
        raise ServiceError(422, f"timeline refused: {problem}")
    return timeline


def _check_song_work(duration_s: float, fps: float, config: ServiceConfig) -> None:
    """Refuse (413/422) a song longer than the service's limit, or whose dance at ``fps`` would
    have more frames than ``config.max_frames``."""
    if duration_s > config.max_song_s:
        raise ServiceError(
            413,
            f"the song is {duration_s / 60:.1f} minutes long; this service takes songs up to "
            f"{config.max_song_s / 60:g} minutes",
        )
    if duration_s * fps > config.max_frames:
        raise ServiceError(
            422,
            f"{duration_s:.0f} s at {fps:g} fps is {duration_s * fps:.0f} frames; this service "
            f"renders at most {config.max_frames} (lower fps)",
        )


async def _audio_upload(
    request: Request, config: ServiceConfig, fps: float
) -> tuple[str | None, str | None, bytes]:
    """An uploaded song: its name and format from the query and its bytes, with the size, time
    and declared-length caps (at ``fps``) checked before any decoding."""
    name = safe_song_name(_query(request, "name", _short_text(256), None))
    audio_format = _query(request, "format", _choice(tuple(AUDIO_FORMATS)), None)
    data = await _read_body(request, config.max_upload_bytes, config.body_timeout_s, "audio upload")
    if not data:
        raise ServiceError(400, "the body is empty: POST the audio file's bytes")
    declared_s = _declared_duration_s(data)
    if declared_s is not None:
        _check_song_work(declared_s, fps, config)
    return name, audio_format, data


def _declared_duration_s(data: bytes) -> float | None:
    """The length an audio file's header declares (soundfile, no decoding), or None."""
    import io

    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any header soundfile cannot read: the decoder decides
        return None
    if info.samplerate <= 0 or info.frames <= 0:
        return None
    return float(info.frames) / float(info.samplerate)


def _query(request: Request, name: str, parse, default):
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError) as error:
        raise ServiceError(400, f"query parameter {name}: {error}") from None


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**63:
        raise ValueError("must be between 0 and 2^63 - 1")
    return value


def _fps(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and 1.0 <= value <= MAX_FPS):
        raise ValueError(f"must be between 1 and {MAX_FPS:g}")
    return value


def _choice(options):
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


def _short_text(limit: int):
    def parse(text: str) -> str:
        if len(text) > limit or any(ord(c) < 32 for c in text):
            raise ValueError(f"must be at most {limit} printable characters")
        return text

    return parse


@dataclass
class _State:
    """What every handler reads from ``request.app.state.service``."""

    runtime: Runtime
    config: ServiceConfig
    jobs: _Jobs
    expected: bytes | None  # the Authorization header a request must send, or None
    live_sessions: int = 0  # open /v1/live sockets


def _service(request: Request) -> _State:
    return request.app.state.service


def endpoint(auth: bool = True):
    """Wrap a handler: check the token (unless ``auth`` is False) and turn ``ServiceError`` and
    ``MusicDanceError`` into the JSON error envelope."""

    def wrap(handler):
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            try:
                expected = _service(request).expected
                if auth and expected is not None:
                    given = request.headers.get("authorization", "").encode()
                    if not hmac.compare_digest(given, expected):
                        raise ServiceError(
                            401, "missing or wrong token (send Authorization: Bearer TOKEN)",
                            {"WWW-Authenticate": "Bearer"},
                        )  # fmt: skip
                return await handler(request)
            except ServiceError as error:
                return _error(error.status, error.message, error.headers)
            except MusicDanceError as error:
                return _error(422, str(error))
            except ClientDisconnect:
                return _error(400, "the client closed the connection before the body arrived")

        return run

    return wrap


@endpoint(auth=False)
async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@endpoint()
async def version(request: Request) -> Response:
    state = _service(request)
    info = state.runtime.info()
    info["api"] = RUNTIME_API_VERSION
    info["limits"] = state.config.public()
    info["audio_formats"] = list(AUDIO_FORMATS)
    return JSONResponse(info)


@endpoint()
async def phrases(request: Request) -> Response:
    runtime = _service(request).runtime
    style = _query(request, "style", _short_text(64), None)
    infos = runtime.library.infos(styles=[style] if style else ())
    return JSONResponse(
        {
            "phrases": [
                {
                    "id": i.id, "name": i.name, "style": i.style,
                    "energy": round(float(i.energy), 4), "tempo_bpm": float(i.tempo_bpm),
                    "meter": int(i.meter), "counts": len(i.count_frames),
                    "tags": list(i.tags),
                }
                for i in infos
            ]
        }
    )  # fmt: skip


@endpoint()
async def choreograph(request: Request) -> Response:
    state = _service(request)
    runtime, config = state.runtime, state.config
    options = {
        "style": _query(request, "style", _short_text(64), None),
        "seed": _query(request, "seed", _seed, 0),
        "fps": _query(request, "fps", _fps, 30.0),
        "decoder": _query(request, "decoder", _choice(DECODERS), "viterbi"),
        "reuse_sections": _query(request, "reuse_sections", _boolean, True),
    }
    name, audio_format, data = await _audio_upload(request, config, options["fps"])

    def job():
        analysis = runtime.analyze_bytes(
            data, name=name, audio_format=audio_format, max_duration_s=config.max_song_s
        )
        _check_song_work(float(analysis.duration_s), options["fps"], config)
        return runtime.choreograph(analysis, **options)

    timeline = await state.jobs.run(job)
    return JSONResponse(
        {
            "timeline": timeline.to_json(),
            "key": timeline_key(timeline),
            "scorer": runtime.alternatives_scorer(timeline),
        }
    )


@endpoint()
async def alternatives(request: Request) -> Response:
    state = _service(request)
    runtime = state.runtime
    body = await _json_body(request, state.config)
    timeline = _timeline_of(body, state.config)
    slot = _field(body, "slot", int)
    top_k = _field(body, "top_k", int, default=10, required=False)
    if not 1 <= top_k <= 500:
        raise ServiceError(400, "top_k must be between 1 and 500")
    ranked = await state.jobs.run(
        functools.partial(runtime.alternatives, top_k=top_k), timeline, slot
    )
    return JSONResponse(
        {"slot": slot, "alternatives": ranked, "scorer": runtime.alternatives_scorer(timeline)}
    )


@endpoint()
async def replace(request: Request) -> Response:
    state = _service(request)
    body = await _json_body(request, state.config)
    timeline = _timeline_of(body, state.config)
    slot = _field(body, "slot", int)
    phrase_id = _field(body, "phrase_id", str)
    user = _field(body, "user", str, required=False)
    if user is not None and not 0 < len(user.strip()) <= 100:
        raise ServiceError(400, "field 'user' must be 1-100 characters")
    edited, recorded = await state.jobs.run(
        functools.partial(state.runtime.replace_recorded, user=user), timeline, slot, phrase_id
    )
    return JSONResponse({"timeline": edited.to_json(), "key": timeline_key(edited), **recorded})


@endpoint()
async def edits_agreement(request: Request) -> Response:
    state = _service(request)
    user = _query(request, "user", _short_text(100), None)
    report = await state.jobs.run(
        functools.partial(state.runtime.edits_agreement, users=[user] if user else None)
    )
    return JSONResponse(report)


@endpoint()
async def bake(request: Request) -> Response:
    state = _service(request)
    timeline = _timeline_of(await _json_body(request, state.config), state.config)
    track = await state.jobs.run(state.runtime.pose_track, timeline)
    return Response(
        track.to_bytes(), media_type=POSE_TRACK_MEDIA_TYPE,
        headers={"X-Timeline-Key": track.timeline_key},
    )  # fmt: skip


def _check_times(times: list) -> None:
    if not all(
        isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t)
        for t in times
    ):
        raise ServiceError(400, "times_s must be finite numbers (seconds)")


def _poses_response(joints, times: list, result, **extra) -> JSONResponse:
    """Sampled poses as JSON (``/v1/pose``, ``/v1/group/pose``), rounded to 1e-6."""
    return JSONResponse({
        "joints": list(joints), **extra, "times_s": times,
        "root_positions_m": np.round(result.root_positions_m, 6).tolist(),
        "rotations": np.round(result.rotations, 6).tolist(),
    })  # fmt: skip


@endpoint()
async def pose(request: Request) -> Response:
    state = _service(request)
    config = state.config
    body = await _json_body(request, config)
    timeline = _timeline_of(body, state.config)
    times = _field(body, "times_s", list)
    if not 1 <= len(times) <= config.max_pose_samples:
        raise ServiceError(400, f"times_s needs 1 to {config.max_pose_samples} times")
    _check_times(times)

    def job():
        sampler = state.runtime.sampler(timeline)
        result = sampler.sample(np.asarray(times, dtype=float))
        return sampler, result

    sampler, result = await state.jobs.run(job)
    return _poses_response(sampler.joint_names, times, result)


@endpoint()
async def recommend(request: Request) -> Response:
    state = _service(request)
    runtime, config = state.runtime, state.config
    body = await _json_body(request, config)
    method = _field(body, "method", str, default="mclemcd", required=False)
    if method not in ("mclemcd", "bilstm"):
        raise ServiceError(400, "method must be mclemcd or bilstm")
    top = _field(body, "top", int, default=5, required=False)
    if not 1 <= top <= 100:
        raise ServiceError(400, "top must be between 1 and 100")
    if ("timeline" in body) == ("poses" in body):
        raise ServiceError(400, "give either 'timeline' or 'poses' (frames x 22 joints x xyz)")
    options = {"method": method, "top": top}
    if "timeline" in body:
        options["timeline"] = _timeline_of(body, config)
    else:
        fps = body.get("fps", 30.0)
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 1 <= fps <= 240:
            raise ServiceError(400, "field 'fps' must be a number in [1, 240]")
        poses = _field(body, "poses", list)
        if len(poses) > config.max_frames:
            raise ServiceError(422, f"too many frames ({len(poses)} > {config.max_frames})")
        try:
            positions = np.asarray(poses, dtype=np.float32)
        except (ValueError, TypeError):
            raise ServiceError(400, "'poses' must be frames x 22 joints x 3 numbers") from None
        if positions.ndim != 3 or positions.shape[1:] != (22, 3):
            raise ServiceError(400, "'poses' must be frames x 22 joints x 3 numbers")
        options.update(positions_m=positions, fps=float(fps))
    result = await state.jobs.run(functools.partial(runtime.recommend, **options))
    return JSONResponse(result)


@endpoint()
async def render_glb(request: Request) -> Response:
    state = _service(request)
    timeline = _timeline_of(await _json_body(request, state.config), state.config)
    data = await state.jobs.run(state.runtime.glb_bytes, timeline)
    return Response(data, media_type=GLB_MEDIA_TYPE)


#: Most dancers one group request may ask for.
MAX_GROUP_DANCERS = 200


def _group_of(body: dict, config: ServiceConfig):
    """The body's group timeline, refused (422) before any work when its render would pass
    the frame limit or it has more than ``MAX_GROUP_DANCERS`` dancers."""
    from musicdance.choreo.group import GroupTimeline

    group = GroupTimeline.from_json(_field(body, "group_timeline", dict))
    if group.num_dancers > MAX_GROUP_DANCERS:
        raise ServiceError(422, f"a group has at most {MAX_GROUP_DANCERS} dancers here")
    problem = timeline_problem(group.base, max_frames=config.max_frames)
    if problem:
        raise ServiceError(422, f"group timeline refused: {problem}")
    return group


@endpoint()
async def group_choreograph(request: Request) -> Response:
    from musicdance.choreo.formation import FORMATIONS

    state = _service(request)
    runtime, config = state.runtime, state.config
    dancers = _query(request, "dancers", _bounded_int(1, MAX_GROUP_DANCERS), 4)
    options = {
        "style": _query(request, "style", _short_text(64), None),
        "seed": _query(request, "seed", _seed, 0),
        "fps": _query(request, "fps", _fps, 30.0),
        "reuse_sections": _query(request, "reuse_sections", _boolean, True),
        "formation": _query(request, "formation", _choice(FORMATIONS), "auto"),
        "lead": _query(request, "lead", _bounded_int(1, MAX_GROUP_DANCERS), 1) - 1,
        "audience_yaw_deg": _query(request, "audience_yaw_deg", _finite, 0.0),
    }
    if options["lead"] >= dancers:
        raise ServiceError(400, f"lead must be 1 to {dancers}")
    name, audio_format, data = await _audio_upload(request, config, options["fps"])

    def job():
        analysis = runtime.analyze_bytes(
            data, name=name, audio_format=audio_format, max_duration_s=config.max_song_s
        )
        _check_song_work(float(analysis.duration_s), options["fps"], config)
        return runtime.choreograph_group(analysis, dancers, **options)

    group = await state.jobs.run(job)
    return JSONResponse({"group_timeline": group.to_json(), "key": group_key(group)})


@endpoint()
async def group_bake(request: Request) -> Response:
    state = _service(request)
    group = _group_of(await _json_body(request, state.config), state.config)
    return JSONResponse(await state.jobs.run(state.runtime.group_bake, group))


@endpoint()
async def group_pose(request: Request) -> Response:
    state = _service(request)
    config = state.config
    body = await _json_body(request, config)
    group = _group_of(body, config)
    times = _field(body, "times_s", list)
    if not 1 <= len(times) * group.num_dancers <= config.max_pose_samples:
        raise ServiceError(400, f"times_s x dancers must be 1 to {config.max_pose_samples}")
    _check_times(times)

    def job():
        sampler = state.runtime.group_sampler(group)
        return sampler, sampler.sample(np.asarray(times, dtype=float))

    sampler, result = await state.jobs.run(job)
    return _poses_response(sampler.crowd.joint_names, times, result,
                           dancers=[d.name for d in group.dancers])  # fmt: skip


@endpoint()
async def group_alternatives(request: Request) -> Response:
    state = _service(request)
    body = await _json_body(request, state.config)
    group = _group_of(body, state.config)
    dancer = _field(body, "dancer", int)
    slot = _field(body, "slot", int)
    top_k = _field(body, "top_k", int, default=10, required=False)
    if not 1 <= top_k <= 500:
        raise ServiceError(400, "top_k must be between 1 and 500")
    ranked = await state.jobs.run(
        functools.partial(state.runtime.group_alternatives, top_k=top_k), group, dancer, slot
    )
    section = group.sections[int(group.section_of_slot()[slot])]  # the job checked the slot
    return JSONResponse({"dancer": dancer, "slot": slot, "alternatives": ranked,
                         "devices": section.device_scores, "device": section.device})  # fmt: skip


@endpoint()
async def group_render_glb(request: Request) -> Response:
    state = _service(request)
    group = _group_of(await _json_body(request, state.config), state.config)
    data = await state.jobs.run(state.runtime.group_glb_bytes, group)
    return Response(data, media_type=GLB_MEDIA_TYPE)


def _bounded_int(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"must be an integer {low}-{high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be an integer {low}-{high}")
        return value

    return parse


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


@endpoint()
async def conduct(request: Request) -> Response:
    """A conductor for the uploaded song (seed 004, M2S-GAN through onnxruntime, or the
    procedural conductor): the pose track by default (``DancePlayer`` plays it), or with
    ``output=keypoints`` the 13-keypoint track as JSON."""
    state = _service(request)
    runtime, config = state.runtime, state.config
    seed = _query(request, "seed", _seed, 0)
    method = _query(request, "method", _choice(("gan", "procedural")), "procedural")
    output = _query(request, "output", _choice(("posetrack", "keypoints")), "posetrack")
    name, audio_format, data = await _audio_upload(request, config, 30.0)

    def job():
        result = runtime.conduct_bytes(
            data, seed=seed, method=method, name=name, audio_format=audio_format,
            max_duration_s=config.max_song_s,
        )  # fmt: skip
        _check_song_work(float(result.summary["duration_s"]), 30.0, config)
        return result

    result = await state.jobs.run(job)
    if output == "keypoints":
        from musicdance.conduct.generate import keypoints_document

        return JSONResponse(keypoints_document(result))
    from mdruntime.pose import PoseTrack

    track = PoseTrack.from_motion(result.motion)
    return Response(
        track.to_bytes(), media_type=POSE_TRACK_MEDIA_TYPE,
        headers={"X-Conduct-Method": method, "X-Conduct-Seed": str(seed)},
    )  # fmt: skip


@endpoint(auth=False)
async def openapi(request: Request) -> Response:
    from mdruntime.openapi import openapi_schema

    return JSONResponse(openapi_schema())


async def not_found(request: Request, exc) -> Response:
    return _error(404, f"no such endpoint: {request.method} {request.url.path}")


async def not_allowed(request: Request, exc) -> Response:
    return _error(405, f"{request.method} is not allowed on {request.url.path}")


async def internal(request: Request, exc) -> Response:
    return _error(500, f"internal error: {type(exc).__name__}")


ROUTES = [
    Route("/v1/health", health, methods=["GET"]),
    Route("/v1/version", version, methods=["GET"]),
    Route("/v1/phrases", phrases, methods=["GET"]),
    Route("/v1/choreograph", choreograph, methods=["POST"]),
    Route("/v1/alternatives", alternatives, methods=["POST"]),
    Route("/v1/replace", replace, methods=["POST"]),
    Route("/v1/edits/agreement", edits_agreement, methods=["GET"]),
    Route("/v1/bake", bake, methods=["POST"]),
    Route("/v1/pose", pose, methods=["POST"]),
    Route("/v1/render.glb", render_glb, methods=["POST"]),
    Route("/v1/conduct", conduct, methods=["POST"]),
    Route("/v1/group/choreograph", group_choreograph, methods=["POST"]),
    Route("/v1/group/bake", group_bake, methods=["POST"]),
    Route("/v1/group/pose", group_pose, methods=["POST"]),
    Route("/v1/group/alternatives", group_alternatives, methods=["POST"]),
    Route("/v1/group/render.glb", group_render_glb, methods=["POST"]),
    Route("/v1/recommend", recommend, methods=["POST"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    WebSocketRoute("/v1/live", live_socket),
]


def create_app(runtime: Runtime, config: ServiceConfig | None = None, studio=None) -> Starlette:
    """The ASGI application serving ``runtime`` under ``config``'s limits; with ``studio`` (an
    ``mdruntime.studio.Studio``) also the studio's page and endpoints (without it those answer
    404)."""
    from mdruntime.studio import studio_routes

    config = config or ServiceConfig()
    app = Starlette(
        routes=ROUTES + studio_routes(),
        exception_handlers={404: not_found, 405: not_allowed, 500: internal},
    )
    app.state.service = _State(
        runtime=runtime,
        config=config,
        jobs=_Jobs(config.workers, config.queue_limit, config.request_timeout_s),
        expected=None if config.token is None else f"Bearer {config.token}".encode(),
    )
    app.state.studio = studio
    return app


def serve(
    runtime: Runtime,
    config: ServiceConfig,
    *,
    log_level: str = "warning",
    on_ready=None,
    studio=None,
) -> None:
    """Bind (refusing a non-loopback address without a token) and serve until interrupted."""
    sock = _bind(config)
    try:
        if on_ready is not None:
            on_ready(config.host, sock.getsockname()[1])
        _run(create_app(runtime, config, studio), sock, config, log_level)
    finally:
        sock.close()


def serve_processes(
    make_runtime,
    config: ServiceConfig,
    processes: int,
    *,
    log_level: str = "warning",
    on_ready=None,
) -> None:
    """Serve with ``processes`` worker processes on one listening socket (pre-fork, as
    gunicorn does): the socket is bound here, then each worker is forked before any library,
    bundle or thread exists in it, builds its own runtime with ``make_runtime()`` and accepts
    connections from the shared socket (the kernel spreads them). The service is stateless, so
    any worker can answer any request; a /v1/live session stays on the worker that accepted it.
    SIGINT or SIGTERM stops every worker."""
    import signal

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    sock = _bind(config)
    children: list[int] = []
    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        for _ in range(processes):
            pid = os.fork()
            if pid == 0:  # a worker
                code = 0
                try:
                    signal.signal(signal.SIGTERM, previous)
                    _run(create_app(make_runtime(), config), sock, config, log_level)
                except BaseException:  # noqa: BLE001 - a worker reports and exits
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
        if on_ready is not None:
            on_ready(config.host, sock.getsockname()[1])
        _wait_for_workers()
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        sock.close()
        signal.signal(signal.SIGTERM, previous)


def _wait_for_workers() -> None:
    """Block until a worker exits (then the caller stops the others) or this process is
    interrupted; a worker that failed is an error."""
    try:
        _, status = os.wait()
    except KeyboardInterrupt:
        return
    if os.waitstatus_to_exitcode(status) != 0:
        raise MusicDanceError("a worker process of mdtool serve failed (its error is above)")


def _bind(config: ServiceConfig) -> socket.socket:
    config.check_binding()
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio: NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as error:
        sock.close()
        raise MusicDanceError(
            f"cannot listen on {config.host}:{config.port} ({error.strerror or error})"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _run(app, sock: socket.socket, config: ServiceConfig, log_level: str) -> None:
    import uvicorn

    _raise_open_file_limit(config.limit_concurrency + 64)
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level=log_level, access_log=False,
            http=_protocol_class(config), lifespan="off", timeout_keep_alive=5,
            limit_concurrency=None, server_header=False, proxy_headers=False,
        )
    )  # fmt: skip
    server.run(sockets=[sock])


def _envelope_bytes(status: int, message: str) -> bytes:
    return json.dumps({"error": {"status": status, "message": message}}).encode()


def _protocol_class(config: ServiceConfig):
    """uvicorn's h11 protocol with the service's connection rules: what the server answers
    before the app (a malformed request, too many connections, a client too slow to send its
    request head) gets the JSON error envelope; a connection that has not sent a whole request
    head within ``config.idle_timeout_s`` (idle, or trickling bytes) is closed; at most
    ``config.limit_concurrency`` connections are open (more get 503 and are closed), so idle
    clients cannot keep ``/v1/health`` from answering for longer than the idle timeout."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    idle_s = float(config.idle_timeout_s)
    most = int(config.limit_concurrency)

    class Protocol(H11Protocol):
        _idle = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > most:
                self._answer(503, "the service has too many open connections; retry shortly")
                return
            self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # a request is being served: the app's own limits apply

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def handle_websocket_upgrade(self, event) -> None:
            self._disarm()  # a WebSocket (/v1/live) has its own receive timeout
            super().handle_websocket_upgrade(event)

        def send_400_response(self, msg: str) -> None:
            self._answer(400, "malformed HTTP request (request line, headers or Content-Length)")

        def _arm(self) -> None:
            self._disarm()
            self._idle = self.loop.call_later(idle_s, self._idle_expired)

        def _disarm(self) -> None:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None

        def _idle_expired(self) -> None:
            self._idle = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return
            if self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE:
                pending = bool(self.conn.trailing_data[0])
                if pending:  # part of a request head: tell the client why
                    self._answer(408, f"the request head did not arrive within {idle_s:g} s")
                    return
            self.transport.close()

        def _answer(self, status: int, message: str) -> None:
            """Write one JSON error response straight to the socket and close."""
            body = _envelope_bytes(status, message)
            reason = {400: b"Bad Request", 408: b"Request Timeout",
                      503: b"Service Unavailable"}.get(status, b"Error")  # fmt: skip
            head = (
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n" % (status, reason, len(body))
            )
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(head + body)
                self.transport.close()

    return Protocol


def _raise_open_file_limit(wanted: int) -> None:
    """Raise this process's soft open-file limit towards ``wanted`` (within the hard limit)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


def confine_temporary_files(work_dir: str | os.PathLike[str]) -> None:
    """Make every temporary file of this process (and of programs it starts) go to
    ``work_dir``: ``TMPDIR``, ``XDG_CACHE_HOME`` (onnxruntime's session files) and
    ``tempfile.tempdir`` point there, Python writes no bytecode caches, and audioread looks for
    its decoders now (its probing runs tools that write temporary files) rather than during a
    request."""
    folder = str(Path(work_dir).resolve())
    os.environ["TMPDIR"] = folder
    os.environ["XDG_CACHE_HOME"] = folder  # onnxruntime keeps its telemetry database there
    tempfile.tempdir = folder
    sys.dont_write_bytecode = True
    try:
        import audioread

        audioread.available_backends()
    except Exception:  # noqa: BLE001 - no audioread or no backend: decoding says so later
        pass


@dataclass
class WorkFolder:
    """The folder the service stages files in: the one given, or a fresh temporary one that is
    removed on exit."""

    path: Path
    owned: bool

    @classmethod
    def make(cls, given: str | os.PathLike[str] | None) -> WorkFolder:
        if given is None:
            return cls(Path(tempfile.mkdtemp(prefix="mdtool-serve-")), True)
        path = Path(given)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=path)  # noqa: SIM115 - a writability probe
            probe.close()
        except OSError as error:
            raise MusicDanceError(
                f"work folder is not writable ({error.strerror or error})", path
            ) from None
        return cls(path, False)

    def cleanup(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def print_ready(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"mdtool serve: listening on http://{shown}:{port}", flush=True)
    print(f"  API schema: http://{shown}:{port}/openapi.json", file=sys.stderr, flush=True)
