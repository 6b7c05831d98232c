"""``mdtool serve``: the runtime as a local HTTP service for game engines (``docs/runtime.md``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mdtool.app import (
    BUNDLE_OPTION,
    FEATURE_WEIGHT_OPTION,
    NO_BUNDLE_OPTION,
    USER_OPTION,
    app,
    check_bundle_choice,
    err_console,
)
from mdtool.library_commands import DEFAULT_LIBRARY
from musicdance.errors import MusicDanceError
from musicdance.serving import MIB, ServiceConfig

#: The service's defaults, defined once in the SDK (``musicdance.serving.ServiceConfig``).
DEFAULTS = ServiceConfig()


@app.command()
def serve(
    host: str = typer.Option(
        DEFAULTS.host, "--host", help="Address to bind (anything but loopback needs a token)."
    ),
    port: int = typer.Option(
        DEFAULTS.port, "--port", min=0, max=65535, help="Port (0: any free one)."
    ),
    token: str = typer.Option(
        None,
        "--token",
        envvar="MDTOOL_SERVE_TOKEN",
        show_envvar=True,
        help="Clients must send 'Authorization: Bearer TOKEN' (required off loopback).",
    ),  # fmt: skip
    library: Path = typer.Option(DEFAULT_LIBRARY, "--library", "-L", help="Phrase library."),
    bundle: Path = BUNDLE_OPTION,
    no_bundle: bool = NO_BUNDLE_OPTION,
    catalog: Path = typer.Option(
        None, "--catalog", help="Folder of songs POST /v1/recommend ranks for a dance."
    ),
    feature_weight: float = FEATURE_WEIGHT_OPTION,
    work_dir: Path = typer.Option(
        None, "--work-dir", help="Folder for staged uploads (default: a temporary one)."
    ),
    max_upload_mb: float = typer.Option(
        DEFAULTS.max_upload_bytes / MIB, "--max-upload-mb", min=0.001, help="Upload limit."
    ),
    max_song_min: float = typer.Option(
        DEFAULTS.max_song_s / 60.0,
        "--max-song-min",
        min=0.1,
        help="Analyse at most this many minutes of a song.",
    ),
    request_timeout: float = typer.Option(
        DEFAULTS.request_timeout_s, "--request-timeout", min=0.001, help="Seconds a job may take."
    ),
    body_timeout: float = typer.Option(
        DEFAULTS.body_timeout_s,
        "--body-timeout",
        min=0.1,
        help="Seconds a request body may take to arrive.",
    ),
    workers: int = typer.Option(
        DEFAULTS.workers, "--workers", min=1, help="Jobs run at once (threads)."
    ),
    processes: int = typer.Option(
        1, "--processes", min=1, max=64,
        help="Worker processes sharing the port (each loads the library; docs/runtime.md).",
    ),  # fmt: skip
    queue: int = typer.Option(
        DEFAULTS.queue_limit, "--queue", min=0, help="Jobs that may wait (then 503)."
    ),
    idle_timeout: float = typer.Option(
        DEFAULTS.idle_timeout_s, "--idle-timeout", min=0.1,
        help="Seconds a connection may take to send a request head (idle, slow clients).",
    ),  # fmt: skip
    max_connections: int = typer.Option(
        DEFAULTS.limit_concurrency, "--max-connections", min=1,
        help="Open connections at most (more get 503).",
    ),  # fmt: skip
    max_frames: int = typer.Option(
        DEFAULTS.max_frames, "--max-frames", min=1,
        help="Frames one dance may have (song length x fps); longer requests get 4xx.",
    ),  # fmt: skip
    preload: bool = typer.Option(
        True, "--preload/--no-preload", help="Decode every phrase before serving."
    ),
    record_edits: bool = typer.Option(
        True, "--record-edits/--no-record-edits",
        help="Record every replace in the library's edits table (labels for training).",
    ),  # fmt: skip
    user: str = USER_OPTION,
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    write_openapi: Path = typer.Option(
        None, "--write-openapi", help="Write the API schema (OpenAPI JSON) here and exit."
    ),
) -> None:
    """Serve choreography, editing, pose sampling and .glb export over local HTTP (JSON API)."""
    if write_openapi is not None:
        from mdruntime.openapi import openapi_schema
        from musicdance.atomic import atomic_write

        with atomic_write(write_openapi, "w") as handle:
            json.dump(openapi_schema(), handle, indent=2)
            handle.write("\n")
        err_console.print(f"wrote {write_openapi}")
        return
    try:
        from mdruntime.service import (
            WorkFolder,
            confine_temporary_files,
            print_ready,
            serve,
            serve_processes,
        )
    except ImportError as error:
        raise MusicDanceError(
            f"mdtool serve needs starlette and uvicorn ({error}); pip install starlette uvicorn"
        ) from None
    from mdruntime import Runtime

    check_bundle_choice(bundle, no_bundle)
    config = ServiceConfig(
        host=host, port=port, token=token or None,
        max_upload_bytes=int(max_upload_mb * MIB), body_timeout_s=body_timeout,
        request_timeout_s=request_timeout, workers=workers, queue_limit=queue,
        max_song_s=max_song_min * 60.0, idle_timeout_s=idle_timeout,
        limit_concurrency=max_connections, max_frames=max_frames,
    )  # fmt: skip
    config.check_binding()  # before any work
    folder = WorkFolder.make(work_dir)
    try:
        confine_temporary_files(folder.path)  # nothing written outside the work folder

        def make_runtime() -> Runtime:
            runtime = Runtime(
                library, bundle=bundle, default_bundle=not no_bundle,
                feature_weight=feature_weight, preload=preload, work_dir=folder.path,
                catalog=catalog, record_edits=record_edits, user=user,
            )  # fmt: skip
            scorer = "bundle " + str(runtime.bundle.path) if runtime.bundle else "features"
            note = f" ({runtime.scorer_note})" if runtime.scorer_note else ""
            err_console.print(f"scorer: {scorer}{note}")
            return runtime

        if processes == 1:
            serve(make_runtime(), config, log_level=log_level, on_ready=print_ready)
        else:
            from musicdance.library import open_library

            if not len(open_library(library)):  # the workers' first check, before forking
                raise MusicDanceError("the phrase library is empty", library)
            serve_processes(make_runtime, config, processes, log_level=log_level,
                            on_ready=print_ready)  # fmt: skip
    finally:
        folder.cleanup()
