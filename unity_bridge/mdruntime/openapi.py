"""The published schema of the ``mdtool serve`` API (OpenAPI 3.1).

Written to ``docs/runtime-openapi.json`` by ``mdtool serve --write-openapi PATH`` and served at
``/openapi.json``; a test keeps the file, the routes and this module in step.
"""

from __future__ import annotations

from typing import Any

from mdruntime.studio import studio_openapi_paths
from musicdance import __version__ as MDTOOL_VERSION
from musicdance.choreo.choreographer import DECODERS

__all__ = ["openapi_schema"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": "malformed request: invalid JSON, a missing or mistyped field or query parameter, "
    "or malformed HTTP (request line, headers, Content-Length), answered by the server itself "
    "with the same envelope",
    "401": "missing or wrong token (only when the service was started with one)",
    "404": "no such file under /studio/, or a studio endpoint asked of a service not started "
    "by mdtool studio",
    "408": "the request head did not arrive within the idle time limit, or the body within the "
    "body time limit (slow or stalled client)",
    "413": "the body is larger than the limit, the JSON is nested deeper or holds more values "
    "than the limits, or the song is longer than the service takes (read from its header, "
    "before decoding)",
    "422": "well-formed but unusable: corrupt audio, a timeline from another library, an "
    "out-of-range slot, an unknown phrase, inconsistent times, more frames (song length x fps) "
    "than the service renders",
    "503": "the job queue is full, or too many connections are open; retry after the "
    "Retry-After seconds",
    "504": "the job took longer than the request time limit",
}


def _errors(*codes: str) -> dict:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in codes}


_TIMELINE_BODY = ("400", "401", "408", "413", "422", "503", "504")
#: The body of an audio upload: the file's bytes.
_AUDIO_BODY = {
    "required": True,
    "content": {
        "application/octet-stream": {"schema": {"type": "string", "contentMediaType": "audio/*"}},
        "audio/*": {"schema": {"type": "string"}},
    },
}


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI 3.1 document of API version 1."""
    timeline_request = {
        "type": "object",
        "required": ["timeline"],
        "properties": {"timeline": _ref("Timeline")},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mdtool runtime service",
            "version": f"1 (mdtool {MDTOOL_VERSION})",
            "description": (
                "Music to dance for game engines: POST a song, get a timeline (schema "
                "mdtool.timeline v1), edit it, and get poses, a baked pose track or a .glb. "
                "Stateless: send the timeline back with every edit. Binds 127.0.0.1 by default; "
                "when started with a token every endpoint except /v1/health and /openapi.json "
                "needs 'Authorization: Bearer TOKEN'. Errors are JSON: "
                '{"error": {"status": 422, "message": "..."}}. Guide: docs/runtime.md.'
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "responses": {
                f"E{code}": _json(_ref("Error"), text) for code, text in _ERRORS.items()
            },
            "schemas": _schemas(),
        },
        "security": [{"token": []}, {}],
        "paths": {
            "/v1/health": {
                "get": {
                    "summary": "Liveness check (no token needed)",
                    "security": [],
                    "responses": {"200": _json(_ref("Health"), "the service is up")},
                }
            },
            "/v1/version": {
                "get": {
                    "summary": "Versions, the loaded library and bundle, and the limits",
                    "responses": {
                        "200": _json(_ref("Version"), "what is served"),
                        **_errors("401"),
                    },
                }
            },
            "/v1/phrases": {
                "get": {
                    "summary": "The library's phrases (any may be put in a slot of its meter)",
                    "parameters": [_param("style", {"type": "string"}, "only this style")],
                    "responses": {
                        "200": _json(_ref("Phrases"), "phrases ordered by id"),
                        **_errors("400", "401"),
                    },
                }
            },
            "/v1/choreograph": {
                "post": {
                    "summary": "Choreograph a song: audio file bytes in, timeline out",
                    "description": (
                        "The same analysis and choreographer as 'mdtool choreograph': the same "
                        "song, library, bundle and seed give the same timeline. The format is "
                        "recognised from the bytes (wav, mp3, ogg, flac, aiff; m4a with ffmpeg)."
                    ),
                    "parameters": [
                        _param("style", {"type": "string"}, "dance style (default: best fit)"),
                        _param("seed", {"type": "integer", "minimum": 0, "default": 0}, "seed"),
                        _param(
                            "fps",
                            {"type": "number", "minimum": 1, "maximum": 240, "default": 30},
                            "frame rate of the rendered dance",
                        ),
                        _param(
                            "decoder",
                            {"type": "string", "enum": list(DECODERS)},
                            "phrase decoder",
                        ),
                        _param(
                            "reuse_sections",
                            {"type": "boolean", "default": True},
                            "repeated music gets the same dance",
                        ),
                        _param("name", {"type": "string"}, "song name stored in the timeline"),
                        _format_param(),
                    ],
                    "requestBody": _AUDIO_BODY,
                    "responses": {
                        "200": _json(_ref("TimelineResult"), "the timeline"),
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/v1/alternatives": {
                "post": {
                    "summary": "Phrases for a slot, ranked with both neighbours",
                    "requestBody": _json(
                        {
                            "type": "object",
                            "required": ["timeline", "slot"],
                            "properties": {
                                "timeline": _ref("Timeline"),
                                "slot": {"type": "integer", "minimum": 0},
                                "top_k": {
                                    "type": "integer",
                                    "minimum": 1,
                                    "maximum": 500,
                                    "default": 10,
                                },
                            },
                        },
                        "timeline and slot",
                    ),
                    "responses": {
                        "200": _json(_ref("Alternatives"), "ranked phrases"),
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/v1/replace": {
                "post": {
                    "summary": "Put a phrase in a slot; returns the edited timeline",
                    "requestBody": _json(
                        {
                            "type": "object",
                            "required": ["timeline", "slot", "phrase_id"],
                            "properties": {
                                "timeline": _ref("Timeline"),
                                "slot": {"type": "integer", "minimum": 0},
                                "phrase_id": {"type": "string"},
                                "user": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": 100,
                                    "description": "curator recorded with the edit (default: "
                                    "the service's --user, $MDTOOL_USER, the login name)",
                                },
                            },
                        },
                        "timeline, slot and the new phrase",
                    ),
                    "responses": {
                        "200": _json(
                            _ref("ReplaceResult"),
                            "the edited timeline; with edit recording on, the change is a new "
                            "row of the library's edits table",
                        ),
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/v1/edits/agreement": {
                "get": {
                    "summary": "How often the bundle's first choice is the curators' phrase",
                    "description": (
                        "Over the recorded edits (mdtool edit --replace, /v1/replace, the "
                        "studio): for each edited slot, the best phrase of the edit's style by "
                        "the loaded bundle (mixed with the feature scorer as the choreographer "
                        "scores; model_top1: the model alone) against the curator's choice. "
                        "Fractions are null without a bundle or usable edits."
                    ),
                    "parameters": [_param("user", {"type": "string"}, "only this curator")],
                    "responses": {
                        "200": _json(_ref("EditsAgreement"), "agreement with the curators"),
                        **_errors("400", "401", "503", "504"),
                    },
                }
            },
            "/v1/bake": {
                "post": {
                    "summary": "The rendered dance as a pose track (MDPT v1 bytes)",
                    "description": (
                        "Frames at the timeline's fps of root position and local joint "
                        "rotations, exactly what render_timeline makes (time warp, root "
                        "alignment, inertialized joins, foot locking). Engines sample it "
                        "(slerp between frames); format in docs/runtime.md."
                    ),
                    "requestBody": _json(timeline_request, "the timeline"),
                    "responses": {
                        "200": {
                            "description": "MDPT v1 pose track",
                            "headers": {
                                "X-Timeline-Key": {
                                    "description": "sha256 of the timeline",
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {
                                "application/x-mdtool-posetrack": {"schema": {"type": "string"}}
                            },
                        },
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/v1/pose": {
                "post": {
                    "summary": "Poses at given times (local rotations and root position)",
                    "requestBody": _json(
                        {
                            "type": "object",
                            "required": ["timeline", "times_s"],
                            "properties": {
                                "timeline": _ref("Timeline"),
                                "times_s": {
                                    "type": "array",
                                    "items": {"type": "number"},
                                    "minItems": 1,
                                    "maxItems": 100000,
                                },
                            },
                        },
                        "timeline and sample times in seconds",
                    ),
                    "responses": {
                        "200": _json(_ref("Poses"), "one pose per time"),
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/v1/render.glb": {
                "post": {
                    "summary": "The dance as a .glb (the timeline embedded in scene extras)",
                    "requestBody": _json(timeline_request, "the timeline"),
                    "responses": {
                        "200": {
                            "description": "binary glTF",
                            "content": {"model/gltf-binary": {"schema": {"type": "string"}}},
                        },
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            **_group_paths(),
            "/v1/conduct": {
                "post": {
                    "summary": "A conductor for a song: audio bytes in, pose track (or keypoints)",
                    "description": (
                        "The same SDK call as 'mdtool conduct' (seed 004): the procedural "
                        "textbook conductor (method=procedural, the default), or M2S-GAN: the "
                        "music encoder and generator run through onnxruntime with the seeded "
                        "noise as an input (method=gan, the bundle's conducting companion; it "
                        "conducts worse than the procedural conductor). The pose track "
                        "(MDPT v1, canonical skeleton, 30 fps, the song's length) plays in the "
                        "Unity package's DancePlayer; output=keypoints returns the 13 COCO "
                        "keypoints per frame as JSON (docs/conducting.md)."
                    ),
                    "parameters": [
                        _param("seed", {"type": "integer", "minimum": 0, "default": 0}, "seed"),
                        _param(
                            "method",
                            {
                                "type": "string",
                                "enum": ["gan", "procedural"],
                                "default": "procedural",
                            },
                            "generator",
                        ),
                        _param(
                            "output",
                            {
                                "type": "string",
                                "enum": ["posetrack", "keypoints"],
                                "default": "posetrack",
                            },
                            "MDPT pose track or keypoint JSON",
                        ),
                        _param("name", {"type": "string"}, "song name stored in the summary"),
                        _format_param(),
                    ],
                    "requestBody": _AUDIO_BODY,
                    "responses": {
                        "200": {
                            "description": "MDPT v1 pose track, or the keypoint JSON",
                            "headers": {
                                "X-Conduct-Method": {
                                    "description": "gan or procedural",
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {
                                "application/x-mdtool-posetrack": {"schema": {"type": "string"}},
                                "application/json": {"schema": {"type": "object"}},
                            },
                        },
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/v1/recommend": {
                "post": {
                    "summary": "Style of a dance and the catalogue's songs that fit it",
                    "description": (
                        "Send a timeline (rendered as /v1/bake renders it) or a pose stream "
                        "(frames x 22 canonical joints x xyz metres, Y up, at fps). The dance is "
                        "classified per segment through the bundle's dance-music companion "
                        "(ONNX: MCLEMCD late fusion or the BiLSTM-BiGRU); with a song catalogue "
                        "(mdtool serve --catalog DIR) the songs are ranked by style similarity "
                        "times tempo match. See docs/models.md."
                    ),
                    "requestBody": _json(
                        {
                            "type": "object",
                            "properties": {
                                "timeline": _ref("Timeline"),
                                "poses": {
                                    "type": "array",
                                    "items": {
                                        "type": "array",
                                        "minItems": 22,
                                        "maxItems": 22,
                                        "items": {
                                            "type": "array",
                                            "minItems": 3,
                                            "maxItems": 3,
                                            "items": {"type": "number"},
                                        },
                                    },
                                },
                                "fps": {"type": "number", "minimum": 1, "maximum": 240},
                                "method": {"type": "string", "enum": ["mclemcd", "bilstm"]},
                                "top": {"type": "integer", "minimum": 1, "maximum": 100},
                            },
                        },
                        "a timeline or a pose stream (exactly one), method, top",
                    ),
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "dance_style": {"type": "object"},
                                    "songs": {"type": ["array", "null"]},
                                    "catalog": {"type": ["string", "null"]},
                                },
                            },
                            "the dance's style with its per-segment votes; ranked songs (null "
                            "without a catalogue)",
                        ),
                        **_errors(*_TIMELINE_BODY),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
            **studio_openapi_paths(_json, _json, _param, _errors, _ref("Timeline")),
        },
    }


def _format_param() -> dict:
    """The ``format`` query parameter of an audio upload."""
    formats = ["wav", "mp3", "ogg", "flac", "aiff", "m4a"]
    return _param("format", {"type": "string", "enum": formats},
                  "override the format recognised from the bytes")  # fmt: skip


def _param(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _schemas() -> dict[str, Any]:
    number = {"type": "number"}
    vec3 = {"type": "array", "items": number, "minItems": 3, "maxItems": 3}
    quat = {"type": "array", "items": number, "minItems": 4, "maxItems": 4}
    slot = {
        "type": "object",
        "required": [
            "index", "start_s", "end_s", "beat_times_s", "meter", "music_phrase",
            "section_label", "position_in_section", "position_in_phrase", "tempo_bpm",
            "energy", "onset_density_per_s", "phrase_id", "score",
        ],  # fmt: skip
        "properties": {
            "index": {"type": "integer"},
            "start_s": number,
            "end_s": number,
            "beat_times_s": {"type": "array", "items": number, "minItems": 2},
            "meter": {"type": "integer"},
            "music_phrase": {"type": "integer"},
            "section_label": {"type": "string"},
            "position_in_section": {"type": "integer"},
            "position_in_phrase": {"type": "integer"},
            "tempo_bpm": number,
            "energy": number,
            "onset_density_per_s": number,
            "phrase_id": {"type": "string"},
            "score": number,
            "alternatives": {"type": "array", "items": {"type": "object"}},
            "transition_prior": {"type": ["number", "null"]},
        },
    }
    return {
        "Error": {
            "type": "object",
            "description": "Every error answer, 4xx and 5xx, has this envelope: those of the "
            "endpoints and those the server gives before any endpoint runs (malformed HTTP, "
            "too many connections, a request head too slow to arrive).",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": {"type": "integer"},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
        "Version": {
            "type": "object",
            "required": ["mdtool", "api", "timeline", "pose_track", "library", "scorer"],
            "properties": {
                "mdtool": {"type": "string"},
                "api": {"type": "integer"},
                "runtime_api": {"type": "integer"},
                "timeline": {"type": "object"},
                "pose_track": {"type": "object"},
                "library": {"type": "object"},
                "bundle": {"type": ["object", "null"]},
                "scorer": {"type": "string", "enum": ["feature", "onnx"]},
                "scorer_note": {"type": ["string", "null"]},
                "limits": {"type": "object"},
                "audio_formats": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Phrases": {
            "type": "object",
            "required": ["phrases"],
            "properties": {
                "phrases": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "style", "energy", "tempo_bpm", "meter", "counts"],
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "style": {"type": "string"},
                            "energy": number,
                            "tempo_bpm": number,
                            "meter": {"type": "integer"},
                            "counts": {"type": "integer"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                }
            },
        },
        "Slot": slot,
        "Timeline": {
            "type": "object",
            "description": "schema mdtool.timeline version 1 (docs/timeline.md)",
            "required": [
                "schema", "version", "song", "library", "fps", "seed", "style", "decoder", "slots",
            ],  # fmt: skip
            "properties": {
                "schema": {"const": "mdtool.timeline"},
                "version": {"const": 1},
                "song": {
                    "type": "object",
                    "properties": {
                        "path": {"type": ["string", "null"]},
                        "duration_s": number,
                        "tempo_bpm": number,
                        "meter": {"type": "integer"},
                    },
                },
                "library": {"type": "string"},
                "fps": number,
                "seed": {"type": "integer"},
                "style": {"type": "string"},
                "decoder": {"type": "string"},
                "slots": {"type": "array", "items": _ref("Slot")},
            },
        },
        "TimelineResult": {
            "type": "object",
            "required": ["timeline", "key"],
            "properties": {
                "timeline": _ref("Timeline"),
                "key": {"type": "string", "description": "sha256 of the timeline"},
                "scorer": {"type": "string", "enum": ["feature", "onnx"]},
            },
        },
        "ReplaceResult": {
            "type": "object",
            "required": ["timeline", "key", "edit_id", "record_note"],
            "properties": {
                "timeline": _ref("Timeline"),
                "key": {"type": "string", "description": "sha256 of the timeline"},
                "edit_id": {
                    "type": ["integer", "null"],
                    "description": "row of the library's edits table (null: not recorded)",
                },
                "record_note": {
                    "type": ["string", "null"],
                    "description": "why the edit was not recorded (read-only library)",
                },
            },
        },
        "EditsAgreement": {
            "type": "object",
            "required": ["bundle", "edits", "scored", "top1", "model_top1"],
            "properties": {
                "bundle": {"type": ["string", "null"]},
                "edits": {"type": "integer", "description": "edits recorded"},
                "scored": {"type": "integer", "description": "edits with a model input"},
                "skipped": {"type": "integer"},
                "feature_weight": {"type": "number"},
                **{
                    key: {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                          "description": text}
                    for key, text in (
                        ("top1", "share where the first choice is the curator's phrase"),
                        ("top5", "share where the curator's phrase is in the first five"),
                        ("model_top1", "top1 by the model's probabilities alone"),
                        ("replaced_top1", "share where the first choice is the replaced phrase"),
                    )
                },  # fmt: skip
            },
        },
        "Alternatives": {
            "type": "object",
            "required": ["slot", "alternatives", "scorer"],
            "properties": {
                "slot": {"type": "integer"},
                "scorer": {"type": "string", "enum": ["feature", "onnx"]},
                "alternatives": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "phrase_id", "score", "emission", "prior_in", "prior_out", "current",
                        ],  # fmt: skip
                        "properties": {
                            "phrase_id": {"type": "string"},
                            "score": number,
                            "emission": number,
                            "prior_in": number,
                            "prior_out": number,
                            "current": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "Poses": {
            "type": "object",
            "required": ["joints", "times_s", "root_positions_m", "rotations"],
            "properties": {
                "joints": {"type": "array", "items": {"type": "string"}},
                "times_s": {"type": "array", "items": number},
                "root_positions_m": {"type": "array", "items": vec3},
                "rotations": {
                    "type": "array",
                    "description": "[times][joints] local rotations, xyzw, canonical skeleton",
                    "items": {"type": "array", "items": quat},
                },
            },
        },
    }

def _group_paths() -> dict[str, Any]:
    """The group endpoints (issue 23; the group timeline is documented in docs/group.md)."""
    group_request = {
        "type": "object",
        "required": ["group_timeline"],
        "properties": {
            "group_timeline": {"type": "object", "description": "mdtool.group_timeline v1"}
        },
    }

    def post(summary: str, body: dict, response: dict) -> dict:
        return {"post": {"summary": summary, "requestBody": _json(body, "the request"),
                         "responses": {"200": response, **_errors(*_TIMELINE_BODY)}}}  # fmt: skip

    with_times = {
        **group_request,
        "required": ["group_timeline", "times_s"],
        "properties": {
            **group_request["properties"],
            "times_s": {"type": "array", "items": {"type": "number"}},
        },
    }
    with_slot = {
        **group_request,
        "required": ["group_timeline", "dancer", "slot"],
        "properties": {
            **group_request["properties"],
            "dancer": {"type": "integer"},
            "slot": {"type": "integer"},
            "top_k": {"type": "integer"},
        },
    }
    return {
        "/v1/group/choreograph": {"post": {
            "summary": "Choreograph a group: audio bytes in, group timeline out",
            "parameters": [
                _param("dancers", {"type": "integer", "minimum": 1, "maximum": 200,
                                   "default": 4}, "number of dancers"),
                _param("formation", {"type": "string",
                                     "enum": ["auto", "line", "v", "circle", "grid"]},
                       "formation (auto: per section from its role)"),
                _param("lead", {"type": "integer", "minimum": 1, "default": 1}, "lead dancer"),
                _param("audience_yaw_deg", {"type": "number", "default": 0},
                       "direction the group faces (degrees about +Y, 0: +Z)"),
                _param("style", {"type": "string"}, "dance style (default: best fit)"),
                _param("seed", {"type": "integer", "minimum": 0, "default": 0}, "seed"),
                _param("fps", {"type": "number", "minimum": 1, "maximum": 240, "default": 30},
                       "frame rate of the rendered dance"),
                _param("reuse_sections", {"type": "boolean", "default": True},
                       "repeated music gets the same dance"),
                _param("name", {"type": "string"}, "song name stored in the timeline"),
                _format_param(),
            ],
            "requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "contentMediaType": "audio/*"}}}},
            "responses": {"200": _json({"type": "object", "properties": {
                "group_timeline": {"type": "object"}, "key": {"type": "string"}}},
                "the group timeline and its sha256"), **_errors(*_TIMELINE_BODY)},
        }},
        "/v1/group/bake": post(
            "Distinct pose tracks (MDPT, base64) and every dancer's spot path", group_request,
            _json({"type": "object"}, "tracks, dancers (track index, float32 [T, 2] spots)")),
        "/v1/group/pose": post("Every dancer's pose at given times", with_times,
                               _json({"type": "object"}, "poses [dancers, times, ...]")),
        "/v1/group/alternatives": post(
            "Phrases for one dancer's slot, and the section's device scores", with_slot,
            _json({"type": "object"}, "ranked phrases and device scores")),
        "/v1/group/render.glb": post(
            "The group as one .glb (every dancer, one clip)", group_request,
            {"description": "binary glTF",
             "content": {"model/gltf-binary": {"schema": {"type": "string"}}}}),
    }  # fmt: skip
