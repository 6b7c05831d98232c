"""``mdtool studio``: the service's web page (player, editor, library browser) and the
endpoints it needs beyond the runtime API.

The page and its assets (``studio_static/``, three.js vendored with its licence) are served at
``/studio/`` without a token (they hold no data); every data endpoint keeps the service's token
rules (the page reads the token from its URL fragment, ``#token=...``, which browsers never
send). Endpoints::

    GET  /studio/{path}             the page and its assets
    GET  /v1/studio/session         the song, its analysis, the timeline and where saves go
    GET  /v1/studio/audio           the song's bytes
    GET  /v1/studio/dance.glb       the opening timeline's dance (rendered at start)
    GET  /v1/studio/character.glb   the character given by ``--character`` (if any)
    POST /v1/studio/character       a .glb character's bytes -> its bones matched by name
    POST /v1/studio/evaluate        {timeline} -> BAS with its control, worst join, skating
    POST /v1/studio/save            {timeline} -> writes .timeline.json, .glb and .bvh
    POST /v1/studio/choreograph     {style, seed} -> a new timeline for the studio's song
    GET  /v1/library/list           phrases with status and tags, filtered
    POST /v1/library/status         {ids, status} (approve / reject / draft)
    POST /v1/library/tags           {ids, add, remove}
    GET  /v1/library/findings       validation findings of one phrase
    GET  /v1/library/phrase.glb     one phrase on the mannequin
    GET  /v1/library/preview.svg    a small stick-figure strip of one phrase

Under ``mdtool serve`` (no studio) the ``/v1/studio/*`` and library-writing endpoints answer
404: only the studio, started by a person on their own machine, changes the library.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mdruntime.runtime import Runtime, timeline_key
from musicdance.audio.analysis import Analysis
from musicdance.choreo.timeline import Timeline
from musicdance.errors import MusicDanceError

__all__ = ["STATIC_DIR", "Studio", "studio_routes"]

#: The page, its modules and the vendored three.js (package data).
STATIC_DIR = Path(__file__).with_name("studio_static")
_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".json": "application/json",
                ".svg": "image/svg+xml", ".png": "image/png",
                "": "text/plain; charset=utf-8"}  # fmt: skip
_AUDIO_TYPES = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav",
                ".flac": "audio/flac", ".m4a": "audio/mp4", ".aiff": "audio/aiff"}  # fmt: skip


@dataclass
class Studio:
    """One studio: the song (path and analysis), the timeline it opened with, and where the
    page's saves go (``OUTPUT_DIR/STEM.timeline.json``, ``.glb``, ``.bvh``)."""

    song_path: Path | None
    analysis: Analysis | None
    timeline: Timeline | None
    output_dir: Path
    stem: str | None
    saved: list[str] = field(default_factory=list)
    opening_glb: bytes | None = None  # the opening timeline's .glb, rendered before serving
    character_path: Path | None = None  # ``--character``: the user's glTF character
    character: dict | None = None  # its bones matched by name (:func:`character_mapping`)

    def session(self, runtime: Runtime) -> dict:
        """What the page opens with (``GET /v1/studio/session``); without a song the page
        waits for a dropped audio file."""
        base = {"styles": runtime.library.styles(), "output_dir": str(self.output_dir),
                "character": None if self.character is None else {
                    "name": self.character_path.name, "url": "/v1/studio/character.glb",
                    **self.character}}  # fmt: skip
        a = self.analysis
        if a is None or self.timeline is None or self.song_path is None:
            return {**base, "song": None, "analysis": None, "timeline": None}
        meter_scores = {str(k): round(float(v), 4) for k, v in a.meter_scores.items()}
        return {
            "song": {"name": self.song_path.name, "duration_s": round(float(a.duration_s), 4),
                     "audio": "/v1/studio/audio"},  # fmt: skip
            "analysis": {
                "tempo_bpm": round(float(a.tempo_bpm), 3),
                "meter": int(a.meter),
                "pulse_clarity": round(float(a.pulse_clarity), 4),
                "meter_scores": meter_scores,
                "beat_times_s": np.round(a.beat_times_s, 4).tolist(),
                "downbeat_times_s": np.round(a.downbeat_times_s, 4).tolist(),
                "sections": [
                    {"label": s.label, "start_s": round(float(s.start_s), 4),
                     "end_s": round(float(s.end_s), 4)}
                    for s in a.sections
                ],  # fmt: skip
            },
            "timeline": self.timeline.to_json(),
            "key": timeline_key(self.timeline),
            **base,
        }

    def outputs(self, timeline: Timeline) -> dict[str, Path]:
        """Where a save of ``timeline`` goes: named after the file the studio opened, else
        after the timeline's song."""
        stem = self.stem or Path(str(timeline.song.get("path") or "dance")).stem or "dance"
        from musicdance.choreo.export import dance_outputs

        return dance_outputs(self.output_dir, stem, ("json", "glb", "bvh"))


#: Largest character file the page may send (bytes).
MAX_CHARACTER_BYTES = 64 * 1024 * 1024


def character_mapping(path: str | os.PathLike[str]) -> dict:
    """A glTF character's bones matched to the canonical skeleton the dance drives: by the
    names ``musicdance.motion.retarget.map_joints`` knows (canonical, Mixamo ``mixamorig:Hips``
    ..., CMU, Character Creator, 3ds Max Biped, side words and synonyms), else by the rig's
    shape, as for imported BVH rigs.

    Returns ``{"joints": {canonical: glTF node index}, "names": {canonical: node name},
    "methods", "convention", "parents": {canonical: nearest matched canonical ancestor},
    "unmapped_canonical"}``;
    raises ``MusicDanceError`` naming the file when it has no skin or no humanoid in it.
    """
    from musicdance.io.gltf_reader import read_gltf_skeleton
    from musicdance.motion.canonical import canonical_skeleton
    from musicdance.motion.retarget import REQUIRED_JOINTS, map_joints

    skeleton, nodes = read_gltf_skeleton(path)
    mapping = map_joints(skeleton)
    found = mapping.canonical_to_source
    missing = [n for n in REQUIRED_JOINTS if n not in found]
    if missing:
        raise MusicDanceError(
            f"the character's bones could not be matched to a humanoid (no {', '.join(missing)} "
            f"among its {skeleton.num_joints} joints, by name or by shape)",
            path,
        )
    canonical = canonical_skeleton()

    def mapped_parent(name: str) -> str | None:  # the nearest matched canonical ancestor
        j = canonical.parents[canonical.index(name)]
        while j >= 0 and canonical.names[j] not in found:
            j = canonical.parents[j]
        return canonical.names[j] if j >= 0 else None

    return {
        "joints": {c: nodes[skeleton.index(s)] for c, s in found.items()},
        "names": dict(found),
        "methods": dict(mapping.methods),
        "convention": mapping.convention,
        "parents": {c: mapped_parent(c) for c in found},
        "unmapped_canonical": list(mapping.unmapped_canonical),
    }


def dance_evaluation(runtime: Runtime, timeline: Timeline, beats_s: np.ndarray) -> dict:
    """The figures ``mdtool evaluate --timeline`` prints that the studio shows: beat alignment
    with its half-beat control, the worst join against the phrases' own peaks, foot skating
    (``musicdance.evaluate.metrics``, on the runtime's render)."""
    from musicdance.choreo.render import cut_times
    from musicdance.evaluate.metrics import beat_alignment, foot_skating_cm_s, join_peaks

    motion = runtime.render(timeline)
    alignment = beat_alignment(motion, beats_s)
    span = (timeline.slots[0].start_s, timeline.slots[-1].end_s)
    joins = join_peaks(motion, [j.time_s for j in cut_times(timeline, runtime.library)],
                       span_s=span)  # fmt: skip
    worst = joins.get("worst_join") or {}
    return {
        "beat_align_score": round(alignment["beat_align_score"], 4),
        "beat_align_score_control": round(alignment["beat_align_score_control"], 4),
        "worst_join_ratio": round(float(joins.get("worst_ratio", 0.0)), 4),
        "worst_join_s": round(float(worst.get("cut_s", 0.0)), 3),
        "worst_join_joint": worst.get("joint"),
        "median_join_ratio_p99": round(float(joins.get("median_ratio_p99", 0.0)), 4),
        "foot_skating_cm_s": round(float(foot_skating_cm_s(motion)), 4),
    }


_STATIC_CACHE: dict[Path, tuple[int, bytes, str]] = {}


def _static_file(path: Path) -> tuple[bytes, str]:
    """A page file's bytes and ETag (its sha256), read once per modification."""
    import hashlib

    mtime_ns = path.stat().st_mtime_ns
    cached = _STATIC_CACHE.get(path)
    if cached is None or cached[0] != mtime_ns:
        data = path.read_bytes()
        cached = (mtime_ns, data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
        _STATIC_CACHE[path] = cached
    return cached[1], cached[2]


def _timeline_beats_s(timeline: Timeline) -> np.ndarray:
    return np.unique(np.concatenate([np.asarray(s.beat_times_s, float) for s in timeline.slots]))


def _staged_bytes(runtime: Runtime, suffix: str, write) -> bytes:
    """``write(path)`` into a temporary file in the runtime's work folder, read and removed."""
    handle, staged = tempfile.mkstemp(suffix=suffix, dir=runtime.work_dir)
    os.close(handle)
    try:
        write(staged)
        return Path(staged).read_bytes()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staged)


def studio_routes():
    """The studio's routes (added to every service; see the module docstring)."""
    from starlette.routing import Route

    from mdruntime import service as svc

    def studio_of(request: Request) -> Studio:
        found = getattr(request.app.state, "studio", None)
        if found is None:
            raise svc.ServiceError(404, "this service was not started by mdtool studio")
        return found

    async def library_change(request: Request):
        """The writable library, the request's JSON body and its phrase ids."""
        studio_of(request)  # only the studio changes the library
        state = svc._service(request)
        body = await svc._json_body(request, state.config)
        return state.runtime.library.library, body, _ids(body)

    @svc.endpoint(auth=False)
    async def page(request: Request) -> Response:
        relative = request.path_params.get("path") or "index.html"
        target = (STATIC_DIR / relative).resolve()
        if STATIC_DIR.resolve() not in target.parents or not target.is_file():
            raise svc.ServiceError(404, f"no such file: /studio/{relative}")
        data, etag = _static_file(target)
        # revalidated on every load (an upgrade is seen at once); an unchanged file is a 304,
        # and the browser keeps the code it compiled from it
        headers = {"Cache-Control": "no-cache", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        media = _MEDIA_TYPES.get(target.suffix, "application/octet-stream")
        return Response(data, media_type=media, headers=headers)

    @svc.endpoint()
    async def session(request: Request) -> Response:
        studio = studio_of(request)
        return JSONResponse(studio.session(svc._service(request).runtime))

    @svc.endpoint()
    async def audio(request: Request) -> Response:
        studio = studio_of(request)
        if studio.song_path is None:
            raise svc.ServiceError(404, "the studio has no song yet: drop an audio file")
        media = _AUDIO_TYPES.get(studio.song_path.suffix.lower(), "application/octet-stream")
        return Response(studio.song_path.read_bytes(), media_type=media)

    @svc.endpoint()
    async def dance_glb(request: Request) -> Response:
        studio = studio_of(request)
        if studio.timeline is None:
            raise svc.ServiceError(404, "the studio has no song yet: drop an audio file")
        if studio.opening_glb is None:  # never behind the job queue once rendered
            state = svc._service(request)
            studio.opening_glb = await state.jobs.run(state.runtime.glb_bytes, studio.timeline)
        return Response(studio.opening_glb, media_type=svc.GLB_MEDIA_TYPE)

    @svc.endpoint()
    async def character_glb(request: Request) -> Response:
        studio = studio_of(request)
        if studio.character_path is None:
            raise svc.ServiceError(404, "the studio was started without --character")
        return Response(studio.character_path.read_bytes(), media_type=svc.GLB_MEDIA_TYPE)

    @svc.endpoint()
    async def character(request: Request) -> Response:
        state = svc._service(request)
        data = await svc._read_body(request, MAX_CHARACTER_BYTES, state.config.body_timeout_s,
                                    "character file")  # fmt: skip
        if not data:
            raise svc.ServiceError(400, "the body is empty: POST the character's .glb bytes")

        def job() -> dict:  # the reader reads files: the bytes go to the work folder
            handle, staged = tempfile.mkstemp(suffix=".glb", dir=state.runtime.work_dir)
            os.close(handle)
            try:
                Path(staged).write_bytes(data)
                return character_mapping(staged)
            except MusicDanceError as error:
                raise svc.ServiceError(422, f"character file: {error.message}") from None
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(staged)

        return JSONResponse(await state.jobs.run(job))

    @svc.endpoint()
    async def evaluate(request: Request) -> Response:
        state = svc._service(request)
        studio = getattr(request.app.state, "studio", None)
        timeline = svc._timeline_of(await svc._json_body(request, state.config), state.config)
        same_song = (studio is not None and studio.analysis is not None
                     and abs(timeline.duration_s - studio.analysis.duration_s) < 1e-3)  # fmt: skip
        beats = studio.analysis.beat_times_s if same_song else _timeline_beats_s(timeline)
        figures = await state.jobs.run(dance_evaluation, state.runtime, timeline, beats)
        figures["beats"] = "song analysis" if same_song else "timeline slots"
        return JSONResponse(figures)

    @svc.endpoint()
    async def save(request: Request) -> Response:
        from musicdance.choreo.export import export_dance

        studio = studio_of(request)
        state = svc._service(request)
        timeline = svc._timeline_of(await svc._json_body(request, state.config), state.config)
        outputs = studio.outputs(timeline)

        def job():
            studio.output_dir.mkdir(parents=True, exist_ok=True)
            export_dance(timeline, state.runtime.render(timeline), outputs)

        await state.jobs.run(job)
        studio.saved.append(timeline_key(timeline))
        return JSONResponse({"outputs": {f: str(p) for f, p in outputs.items()},
                             "key": timeline_key(timeline)})  # fmt: skip

    @svc.endpoint()
    async def rechoreograph(request: Request) -> Response:
        studio = studio_of(request)
        if studio.analysis is None or studio.timeline is None:
            raise svc.ServiceError(404, "the studio has no song yet: drop an audio file")
        state = svc._service(request)
        body = await svc._json_body(request, state.config)
        style = svc._field(body, "style", str, default=None, required=False) or None
        seed = svc._field(body, "seed", int, default=0, required=False)
        if not 0 <= seed < 2**63:
            raise svc.ServiceError(400, "seed must be between 0 and 2^63 - 1")
        fps = studio.timeline.fps
        timeline = await state.jobs.run(
            lambda: state.runtime.choreograph(studio.analysis, style=style, seed=seed, fps=fps)
        )
        return JSONResponse({"timeline": timeline.to_json(), "key": timeline_key(timeline),
                             "scorer": state.runtime.alternatives_scorer(timeline)})  # fmt: skip

    @svc.endpoint()
    async def library_list(request: Request) -> Response:
        runtime = svc._service(request).runtime
        text = svc._short_text(64)
        style = svc._query(request, "style", text, None)
        status = svc._query(request, "status", svc._choice(("draft", "approved", "rejected")), None)
        tag = svc._query(request, "tag", text, None)
        low_e = svc._query(request, "min_energy", svc._finite, 0.0)
        high_e = svc._query(request, "max_energy", svc._finite, 1.0)
        low_t = svc._query(request, "min_tempo_bpm", svc._finite, 0.0)
        high_t = svc._query(request, "max_tempo_bpm", svc._finite, 1e9)
        infos = runtime.library.library.infos(
            styles=[style] if style else (), statuses=[status] if status else (),
            tags=[tag] if tag else (), min_energy=low_e, max_energy=high_e,
        )  # fmt: skip
        rows = [
            {"id": i.id, "name": i.name, "style": i.style, "energy": round(float(i.energy), 4),
             "tempo_bpm": round(float(i.tempo_bpm), 3), "meter": int(i.meter),
             "counts": len(i.count_frames), "duration_s": round(i.num_frames / i.fps, 3),
             "status": i.status, "tags": list(i.tags), "source": i.source}
            for i in infos if low_t <= i.tempo_bpm <= high_t
        ]  # fmt: skip
        return JSONResponse({"phrases": rows, "styles": runtime.library.styles()})

    @svc.endpoint()
    async def library_status(request: Request) -> Response:
        library, body, ids = await library_change(request)
        status = svc._field(body, "status", str)
        library.set_status(ids, status)
        return JSONResponse({"ids": ids, "status": status})

    @svc.endpoint()
    async def library_tags(request: Request) -> Response:
        library, body, ids = await library_change(request)
        add = [str(t) for t in svc._field(body, "add", list, default=[], required=False)]
        remove = [str(t) for t in svc._field(body, "remove", list, default=[], required=False)]
        if add:
            library.tag(ids, add)
        if remove:
            library.untag(ids, remove)
        return JSONResponse({"ids": ids, "tags": {i.id: list(i.tags)
                                                  for i in library.infos(ids=ids)}})  # fmt: skip

    def phrase_of(request: Request):
        runtime = svc._service(request).runtime
        phrase_id = svc._query(request, "id", svc._short_text(256), None)
        if phrase_id is None:
            raise svc.ServiceError(400, "query parameter id: the phrase id is missing")
        return runtime, runtime.library.library.get(phrase_id)

    @svc.endpoint()
    async def library_findings(request: Request) -> Response:
        from musicdance.library.validate import validate_phrase

        state = svc._service(request)
        runtime, phrase = phrase_of(request)
        found = await state.jobs.run(validate_phrase, phrase)
        return JSONResponse({"id": phrase.info.id, "findings": [f.to_json() for f in found]})

    @svc.endpoint()
    async def library_glb(request: Request) -> Response:
        from musicdance.io.gltf import write_glb

        state = svc._service(request)
        runtime, phrase = phrase_of(request)
        def write(path: str) -> None:
            write_glb(phrase.motion, path, name=phrase.info.id)

        data = await state.jobs.run(_staged_bytes, runtime, ".glb", write)
        return Response(data, media_type=svc.GLB_MEDIA_TYPE)

    @svc.endpoint()
    async def library_preview(request: Request) -> Response:
        from musicdance.library.preview import phrase_svg

        _, phrase = phrase_of(request)
        return Response(phrase_svg(phrase), media_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=3600"})  # fmt: skip

    return [
        Route("/studio/", page, methods=["GET"]),
        Route("/studio/{path:path}", page, methods=["GET"]),
        Route("/v1/studio/session", session, methods=["GET"]),
        Route("/v1/studio/audio", audio, methods=["GET"]),
        Route("/v1/studio/dance.glb", dance_glb, methods=["GET"]),
        Route("/v1/studio/character.glb", character_glb, methods=["GET"]),
        Route("/v1/studio/character", character, methods=["POST"]),
        Route("/v1/studio/evaluate", evaluate, methods=["POST"]),
        Route("/v1/studio/save", save, methods=["POST"]),
        Route("/v1/studio/choreograph", rechoreograph, methods=["POST"]),
        Route("/v1/library/list", library_list, methods=["GET"]),
        Route("/v1/library/status", library_status, methods=["POST"]),
        Route("/v1/library/tags", library_tags, methods=["POST"]),
        Route("/v1/library/findings", library_findings, methods=["GET"]),
        Route("/v1/library/phrase.glb", library_glb, methods=["GET"]),
        Route("/v1/library/preview.svg", library_preview, methods=["GET"]),
    ]


def _ids(body: dict) -> list[str]:
    from mdruntime.service import ServiceError, _field

    ids = _field(body, "ids", list)
    if not 1 <= len(ids) <= 10_000 or not all(isinstance(i, str) for i in ids):
        raise ServiceError(400, "field 'ids' must be 1 to 10000 phrase ids (strings)")
    return ids


def open_studio(
    runtime: Runtime, target: str | os.PathLike[str], *, output_dir=None, style=None, seed=0
) -> Studio:
    """A studio for a timeline (its song must still be there) or a song (choreographed now with
    ``style`` and ``seed``); saves go next to the timeline, or into ``output_dir``."""
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.timeline import read_timeline

    path = Path(target)
    if not path.is_file():
        raise MusicDanceError("no such file", path)
    if path.name.endswith(".json"):
        timeline = read_timeline(path)
        runtime.check_timeline(timeline)
        song = Path(str(timeline.song.get("path") or ""))
        candidates = [song, path.parent / song, path.parent / song.name]
        found = next((c for c in candidates if str(song) and c.is_file()), None)
        if found is None:
            raise MusicDanceError(
                f"the timeline's song {song} is not there (the studio plays the dance with it)",
                path,
            )
        analysis = analyze(found)
        runtime.remember_analysis(timeline, analysis)
        stem = path.name.removesuffix(".timeline.json").removesuffix(".json")
        return Studio(found, analysis, timeline, Path(output_dir or path.parent), stem)
    analysis = analyze(path)
    analysis.path = str(path)
    timeline = runtime.choreograph(analysis, style=style, seed=seed)
    return Studio(path, analysis, timeline, Path(output_dir or "out"), path.stem)


def studio_openapi_paths(json_body, json_response, param, errors, timeline_ref) -> dict:
    """The studio's entries of the OpenAPI document (``mdruntime.openapi`` passes its helpers:
    ``json_body(schema, text)``, ``json_response(schema, text)``, ``param(name, schema, text)``,
    ``errors(*codes)``, ``timeline_ref``)."""
    only = " (only under mdtool studio; 404 under mdtool serve)"
    timeline_body = json_body({"type": "object", "required": ["timeline"],
                               "properties": {"timeline": timeline_ref}}, "a timeline")  # fmt: skip
    ids = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10000}
    obj = {"type": "object"}
    phrase_id = [param("id", {"type": "string"}, "phrase id")]
    page = {"get": {"summary": "The studio page and its assets (no token: they hold no data)",
                    "security": [], "responses": {"200": {"description": "the file"},
                                                  **errors("404")}}}  # fmt: skip
    return {
        "/studio/": page,
        "/studio/{path}": {"get": {**page["get"], "parameters": [
            {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}]}},
        "/v1/studio/session": {"get": {
            "summary": "The studio's song, its analysis, the timeline and where saves go" + only,
            "responses": {"200": json_response(obj, "the session"), **errors("401", "404")}}},
        "/v1/studio/audio": {"get": {
            "summary": "The studio's song (audio file bytes)" + only,
            "responses": {"200": {"description": "audio bytes",
                                  "content": {"audio/*": {"schema": {"type": "string"}}}},
                          **errors("401", "404")}}},  # fmt: skip
        "/v1/studio/dance.glb": {"get": {
            "summary": "The opening timeline's dance as a .glb (rendered when the studio "
            "started)" + only,
            "responses": {"200": {"description": ".glb", "content": {
                "model/gltf-binary": {"schema": {"type": "string"}}}},
                **errors("401", "404")}}},
        "/v1/studio/character.glb": {"get": {
            "summary": "The character given by mdtool studio --character (a .glb)" + only,
            "responses": {"200": {"description": ".glb", "content": {
                "model/gltf-binary": {"schema": {"type": "string"}}}},
                **errors("401", "404")}}},
        "/v1/studio/character": {"post": {
            "summary": "Match a glTF character's bones to the dance's skeleton by name (as "
            "for imported BVH rigs: canonical, Mixamo, CMU, ... names, synonyms, else the rig's "
            "shape)",
            "requestBody": {"required": True, "content": {"model/gltf-binary": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": json_response(obj, "canonical joint -> node index, names, "
                                               "methods, parents"),
                          **errors("400", "401", "408", "413", "422")}}},
        "/v1/studio/evaluate": {"post": {
            "summary": "Beat alignment with its control, worst join and foot skating of a "
            "timeline's dance (musicdance.evaluate, as mdtool evaluate --timeline)",
            "requestBody": timeline_body,
            "responses": {"200": json_response(obj, "the figures"),
                          **errors("400", "401", "413", "422", "503", "504")}}},  # fmt: skip
        "/v1/studio/save": {"post": {
            "summary": "Write the timeline, .glb and .bvh where the studio saves" + only,
            "requestBody": timeline_body,
            "responses": {"200": json_response(obj, "the files written"),
                          **errors("400", "401", "404", "413", "422", "503", "504")}}},  # fmt: skip
        "/v1/studio/choreograph": {"post": {
            "summary": "Choreograph the studio's song again with a style and seed" + only,
            "requestBody": json_body({"type": "object", "properties": {
                "style": {"type": "string"}, "seed": {"type": "integer", "minimum": 0}}},
                "style (default: best fit) and seed"),
            "responses": {"200": json_response(obj, "the timeline"),
                          **errors("400", "401", "404", "422", "503", "504")}}},  # fmt: skip
        "/v1/library/list": {"get": {
            "summary": "Phrases with their status and tags, filtered",
            "parameters": [
                param("style", {"type": "string"}, "only this style"),
                param("status", {"type": "string", "enum": ["draft", "approved", "rejected"]},
                      "only this status"),
                param("tag", {"type": "string"}, "only phrases with this tag"),
                param("min_energy", {"type": "number"}, "energy at least (0-1)"),
                param("max_energy", {"type": "number"}, "energy at most (0-1)"),
                param("min_tempo_bpm", {"type": "number"}, "tempo at least"),
                param("max_tempo_bpm", {"type": "number"}, "tempo at most"),
            ],
            "responses": {"200": json_response(obj, "phrases ordered by id"),
                          **errors("400", "401")}}},  # fmt: skip
        "/v1/library/status": {"post": {
            "summary": "Approve, reject or reset phrases (the library's SQLite)" + only,
            "requestBody": json_body({"type": "object", "required": ["ids", "status"],
                                      "properties": {"ids": ids, "status": {
                                          "type": "string",
                                          "enum": ["draft", "approved", "rejected"]}}},
                                     "phrase ids and the new status"),  # fmt: skip
            "responses": {"200": json_response(obj, "done"),
                          **errors("400", "401", "404", "422")}}},  # fmt: skip
        "/v1/library/tags": {"post": {
            "summary": "Add and remove tags of phrases (the library's SQLite)" + only,
            "requestBody": json_body({"type": "object", "required": ["ids"], "properties": {
                "ids": ids, "add": {"type": "array", "items": {"type": "string"}},
                "remove": {"type": "array", "items": {"type": "string"}}}},
                "phrase ids and the tags to add and remove"),
            "responses": {"200": json_response(obj, "the phrases' tags"),
                          **errors("400", "401", "404", "422")}}},  # fmt: skip
        "/v1/library/findings": {"get": {
            "summary": "Validation findings of one phrase (mdtool library validate)",
            "parameters": phrase_id,
            "responses": {"200": json_response(obj, "findings"),
                          **errors("400", "401", "422")}}},  # fmt: skip
        "/v1/library/phrase.glb": {"get": {
            "summary": "One phrase on the mannequin as a .glb",
            "parameters": phrase_id,
            "responses": {"200": {"description": ".glb", "content": {
                "model/gltf-binary": {"schema": {"type": "string"}}}},
                **errors("400", "401", "422")}}},
        "/v1/library/preview.svg": {"get": {
            "summary": "A small stick-figure strip of one phrase (SVG)",
            "parameters": phrase_id,
            "responses": {"200": {"description": "SVG", "content": {
                "image/svg+xml": {"schema": {"type": "string"}}}},
                **errors("400", "401", "422")}}},
    }  # fmt: skip
