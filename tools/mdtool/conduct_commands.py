"""``mdtool conduct``: an upper-body conductor animation for a song (seed 004, M2S-GAN)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from mdtool.app import (
    MESH_OPTION,
    UNITS_OPTION,
    app,
    console,
    format_list,
    mesh_choice,
    print_json,
    stage_progress,
    units_choice,
)
from musicdance.defaults import DEFAULT_BUNDLE

FORMATS = ("glb", "bvh", "json")  # musicdance.conduct.generate.CONDUCT_FORMATS (numpy-free here)
METHODS = ("gan", "procedural")  # musicdance.conduct.generate.METHODS


@app.command()
def conduct(
    song: Path = typer.Argument(..., help="Song to conduct (wav, mp3, ogg, flac)."),
    output: Path = typer.Option(Path("out"), "-o", "--output", help="Folder for the results."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise z / the conductor's style."),
    method: str = typer.Option(
        "procedural",
        "--method",
        help="procedural (default): the textbook beat patterns driven by the analysis; "
        "gan: the trained M2S-GAN (ONNX, the default bundle's conducting companion), a "
        "reduced re-implementation of the paper's method that conducts worse than the "
        "procedural conductor (docs/conducting.md, Table 2).",
    ),  # fmt: skip
    formats: str = typer.Option(
        "glb,bvh,json", "--format", help="Comma list: glb, bvh, json (the keypoint track)."
    ),
    name: str = typer.Option(None, "--name", help="Output name (default: the song's stem)."),
    bundle: Path = typer.Option(DEFAULT_BUNDLE, "--bundle", help="Bundle with the model."),
    mesh: str = MESH_OPTION,
    units: str = UNITS_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Conduct a song: a conductor animation on the canonical skeleton (legs in a stable stance,
    the baton hand leading) as .glb / .bvh, and the paper's 13-keypoint track as JSON."""
    from musicdance.conduct.generate import conduct_song, conducting_outputs, write_conducting

    if method not in METHODS:
        raise typer.BadParameter(f"--method takes {' or '.join(METHODS)}, got {method!r}")
    chosen = format_list(formats, FORMATS)
    with_mesh = mesh_choice(mesh)
    unit = units_choice(units)
    stem = name or song.stem
    started = time.perf_counter()
    stages = ("decode", "mel", "generate", "lift") if method == "gan" else (
        "decode", "mel", "analyse", "conduct")  # fmt: skip
    with stage_progress("conduct", (*stages, "export"), enabled=not as_json) as step:
        result = conduct_song(song, method=method, seed=seed, bundle=bundle, on_stage=step)
        step("export")
        t0 = time.perf_counter()
        outputs = conducting_outputs(output, stem, chosen)
        write_conducting(result, outputs, name=stem, mesh=with_mesh, bvh_unit=unit)
        result.summary["timings_s"]["export"] = round(time.perf_counter() - t0, 4)
    result.summary["timings_s"]["total"] = round(time.perf_counter() - started, 4)
    result.summary["outputs"] = {fmt: str(path) for fmt, path in outputs.items()}
    if as_json:
        print_json(result.summary)
        return
    s = result.summary
    console.print(
        f"conducted {song.name}: {s['duration_s']:.1f} s, {s['frames']} frames at 30 fps, "
        f"method {method}, seed {seed} ({s['timings_s']['total']:.2f} s)"
    )
    for path in outputs.values():
        console.print(f"wrote {path}")
