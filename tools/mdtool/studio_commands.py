"""``mdtool studio``: the runtime service with its web page (player, editor, library browser;
``docs/studio.md``)."""

from __future__ import annotations

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
from musicdance.serving import ServiceConfig

#: The service's defaults (``musicdance.serving.ServiceConfig``).
DEFAULTS = ServiceConfig()


def studio_url(host: str, port: int, token: str | None) -> str:
    """The page's address; the token rides in the fragment, which browsers never send."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/studio/" + (f"#token={token}" if token else "")


@app.command()
def studio(
    target: Path = typer.Argument(
        None, help="A .timeline.json (its song must be there) or a song; none: drop one."
    ),
    library: Path = typer.Option(DEFAULT_LIBRARY, "--library", "-L", help="Phrase library."),
    port: int = typer.Option(DEFAULTS.port, "--port", min=0, max=65535, help="Port (0: any)."),
    host: str = typer.Option(
        DEFAULTS.host, "--host", help="Address to bind (anything but loopback needs a token)."
    ),
    token: str = typer.Option(
        None, "--token", envvar="MDTOOL_SERVE_TOKEN", show_envvar=True,
        help="Clients must send 'Authorization: Bearer TOKEN' (required off loopback).",
    ),  # fmt: skip
    output: Path = typer.Option(
        None, "--output", "-o", help="Where saves go (default: beside the timeline, or out/)."
    ),
    style: str = typer.Option(None, "--style", help="With a SONG: the dance style."),
    seed: int = typer.Option(0, "--seed", min=0, help="With a SONG: the seed."),
    character: Path = typer.Option(
        None, "--character",
        help="A rigged glTF/GLB character to show dancing (bones matched by name).",
    ),  # fmt: skip
    bundle: Path = BUNDLE_OPTION,
    no_bundle: bool = NO_BUNDLE_OPTION,
    feature_weight: float = FEATURE_WEIGHT_OPTION,
    open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
    record_edits: bool = typer.Option(
        True, "--record-edits/--no-record-edits",
        help="Record every replace in the library's edits table (labels for training).",
    ),  # fmt: skip
    user: str = USER_OPTION,
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Watch the dance with its song, edit it and curate the library in a web page."""
    from mdruntime import Runtime
    from mdruntime.service import WorkFolder, confine_temporary_files, serve
    from mdruntime.studio import Studio, character_mapping, open_studio

    check_bundle_choice(bundle, no_bundle)
    if target is not None and not target.is_file():  # before the library loads
        raise MusicDanceError("no such file", target)
    if character is not None and not character.is_file():
        raise MusicDanceError("no such file", character)
    matched = None if character is None else character_mapping(character)
    config = ServiceConfig(host=host, port=port, token=token or None)
    config.check_binding()
    folder = WorkFolder.make(None)
    try:
        confine_temporary_files(folder.path)
        runtime = Runtime(library, bundle=bundle, default_bundle=not no_bundle,
                          feature_weight=feature_weight, work_dir=folder.path,
                          record_edits=record_edits, user=user)  # fmt: skip
        if target is None:
            opened = Studio(None, None, None, Path(output or "out"), None)
        else:
            opened = open_studio(runtime, target, output_dir=output, style=style, seed=seed)
            opened.opening_glb = runtime.glb_bytes(opened.timeline)  # ready before the page asks
        opened.character_path, opened.character = character, matched

        def ready(bound_host: str, bound_port: int) -> None:
            url = studio_url(bound_host, bound_port, config.token)
            print(f"mdtool studio: {url}", flush=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)

        scorer = "bundle " + str(runtime.bundle.path) if runtime.bundle else "features"
        err_console.print(f"scorer: {scorer}; saves go to {opened.output_dir}")
        serve(runtime, config, log_level=log_level, on_ready=ready, studio=opened)
    finally:
        folder.cleanup()
