"""``mdtool recommend``: songs from a catalogue that fit a dance (seeds 000 and 003)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mdtool.app import app, console, err_console, print_json


@app.command()
def recommend(
    dance: Path = typer.Argument(
        ..., help="The dance: .bvh, .glb or .timeline.json (rendered from its library)."
    ),
    catalog: Path = typer.Option(
        ...,
        "--catalog",
        help="Folder of songs (wav, mp3, ogg, flac); its analysis is cached in "
        "DIR/.mdtool-catalog.json.",
    ),
    method: str = typer.Option(
        "mclemcd", "--method", help="mclemcd (GCN-TCN, late fusion) or bilstm (BiLSTM-BiGRU)."
    ),
    top: int = typer.Option(5, "--top", min=1, help="How many songs to list."),
    bundle: Path = typer.Option(
        None, "--bundle", help="Bundle with the dance-music companion (default: bundles/default)."
    ),
    library: Path = typer.Option(
        None, "--library", "-L", help="Library a timeline is rendered from (default: its own)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Analyse every song again."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Rank a catalogue's songs for a dance: the dance's style (per-segment votes) against each
    song's style, times how well the tempos match."""
    from musicdance.defaults import DEFAULT_BUNDLE
    from musicdance.errors import MusicDanceError
    from musicdance.recognize.recognizer import (
        METHODS,
        Recognizer,
        catalog_profiles,
        dance_positions,
        rank_songs,
    )

    if method not in METHODS:
        raise MusicDanceError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    recognizer = Recognizer.load(bundle or DEFAULT_BUNDLE)
    lib = None
    if library is not None:
        from musicdance.library import open_library

        lib = open_library(library)
    positions = dance_positions(dance, lib)
    style = recognizer.classify(positions, method)
    progress = _progress(as_json)
    with progress as advance:
        profiles, stats = catalog_profiles(
            recognizer, catalog, cache=not no_cache, progress=advance
        )
    ranked = rank_songs(style, profiles, top)
    if as_json:
        print_json(
            {
                "dance": str(dance),
                "catalog": str(catalog),
                "dance_style": style.to_json(),
                "catalog_analysis": stats,
                "songs": [r.to_json() for r in ranked],
            }
        )
        return
    votes = ", ".join(f"{k} {v}" for k, v in sorted(style.votes.items(), key=lambda kv: -kv[1]))
    tempo = f"{style.tempo_bpm:.1f} BPM" if style.tempo_bpm == style.tempo_bpm else "no clear pulse"
    console.print(
        f"{dance.name}: {style.style} (confidence {style.confidence:.2f}; "
        f"segment votes {votes}); tempo {tempo}; method {method}"
    )
    table = Table(title=f"{catalog} ({stats['songs']} songs, {stats['cached']} from cache)")
    for column in ("rank", "song", "score", "style", "style sim", "BPM", "tempo match"):
        table.add_column(column, justify="left" if column in ("song", "style") else "right")
    for i, r in enumerate(ranked, 1):
        table.add_row(
            str(i),
            r.song,
            f"{r.score:.3f}",
            r.song_style,
            f"{r.style_similarity:.3f}",
            f"{r.song_tempo_bpm:.1f}",
            f"{r.tempo_match:.3f}",
        )
    console.print(table)


@app.command("export-sentis")
def export_sentis(
    out: Path = typer.Argument(..., help="The .onnx file to write (the engine's graph)."),
    bundle: Path = typer.Option(
        None, "--bundle", help="Bundle with the dance-music companion (default: bundles/default)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a line."),
) -> None:
    """Write the dance-music BiLSTM-BiGRU for Unity Sentis as one self-contained file: its BiGRU
    unrolled into MatMul, Sigmoid, Tanh, Mul, Add and Sub (Sentis imports LSTM, not GRU), checked
    against the bundle's GRU graph in onnxruntime (max difference at most 1e-5). The default
    bundle already ships it (dance-music/bilstm_sentis.onnx with its bilstm_weights.bin). Needs
    the train extra (onnx)."""
    from musicdance.defaults import DEFAULT_BUNDLE
    from musicdance.errors import MusicDanceError
    from musicdance.recognize.recognizer import Recognizer

    if out.suffix.lower() != ".onnx":
        raise MusicDanceError("the output must be an .onnx file", out)
    try:
        from musicdance.train.sentis import write_sentis_graph
    except ImportError as error:
        raise MusicDanceError(
            f"export-sentis needs the train extra ({error.name} is missing): "
            "pip install 'mdtool[train]'"
        ) from error
    recognizer = Recognizer.load(bundle or DEFAULT_BUNDLE)
    report = write_sentis_graph(recognizer.companion.file(
        recognizer.companion.manifest["graphs"]["bilstm"]), out)  # fmt: skip
    if as_json:
        print_json(report)
        return
    console.print(
        f"wrote {out} ({report['bytes'] / 1e6:.2f} MB; max |unrolled - GRU graph| "
        f"{report['parity']:.1e}; operators {' '.join(report['operators'])})"
    )


class _progress:
    """A transient bar over the catalogue's songs (stderr, terminals only)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not err_console.is_terminal
        self.bar = None

    def __enter__(self):
        if self.quiet:
            return lambda name: None
        from rich.progress import Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("catalogue: {task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.bar.__enter__()
        task = self.bar.add_task("start", total=None)
        return lambda name: self.bar.update(task, description=name)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False
