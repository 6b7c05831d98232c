"""Phrase-library commands: ``mdtool library build-starter | import | list | show | tag | untag |
set-status | remove | edits | stats | validate | preview | transitions | index | export |
repair``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from mdtool.app import app, console, err_console, print_json, stage_progress

library_app = typer.Typer(
    help="Build, import, curate, check and export dance phrase libraries.",
    no_args_is_help=True,
)
app.add_typer(library_app, name="library")

DEFAULT_LIBRARY = Path("phrase_library")
LIBRARY_OPTION = typer.Option(
    DEFAULT_LIBRARY, "--library", "-L", help="Library folder (library.sqlite + motions/)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
#: Largest selection ``library transitions`` turns into a dense K x K matrix.
DENSE_MAX_PHRASES = 5000


def _open(path: Path, create: bool = False):
    from musicdance.library import open_library

    return open_library(path, create=create)


def _folder_size_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@library_app.command("build-starter")
def build_starter(
    library: Path = LIBRARY_OPTION,
    force: bool = typer.Option(False, "--force", help="Replace a library already in the folder."),
    seed: int = typer.Option(0, "--seed", help="Seed of the variations (same seed, same library)."),
    style: list[str] = typer.Option(None, "--style", help="Only these styles (repeatable)."),
    data: Path = typer.Option(
        Path("../shared/data"),
        "--data",
        help="Folder with the CMU takes the contemporary style is cut from (bvh/cmu05/...); "
        "without it the contemporary phrases already built are kept.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Build the starter library: 7 procedural styles x 12 moves x 3 energies, mirrored, and
    the contemporary style cut from real capture (CMU subject 5)."""
    from musicdance.library.procedural.build import build_starter_library

    started = time.perf_counter()
    notes: list[str] = []
    built = build_starter_library(
        library, force=force, seed=seed, styles=style or None, data_dir=data, notes=notes
    )
    report = {
        "library": str(library),
        "phrases": len(built),
        "styles": built.stats()["styles"],
        "seconds": round(time.perf_counter() - started, 2),
        "size_bytes": _folder_size_bytes(library),
        "notes": notes,
    }
    if as_json:
        print_json(report)
        return
    console.print(
        f"built {report['phrases']} phrases in {library} ({report['size_bytes'] / 1e6:.1f} MB, "
        f"{report['seconds']:.1f} s): " + ", ".join(f"{s} {n}" for s, n in report["styles"].items())
    )
    for note in notes:
        console.print(note)


_TEMPO_SOURCES = {"given": "given", "motion": "from the motion", "music": "from the music"}


def _bpm_choice(bpm: str | None) -> float | str | None:
    """``--bpm``: a number or ``auto``; anything else is a usage error."""
    if bpm is None or bpm == "auto":
        return bpm
    try:
        return float(bpm)
    except ValueError:
        raise typer.BadParameter(f"--bpm takes a tempo in BPM or auto, got {bpm!r}") from None


@library_app.command("import")
def import_files(
    files: list[Path] = typer.Argument(
        ..., help="Motion capture files (.bvh, .glb, .gltf, .fbx: its first take)."
    ),
    style: str = typer.Option(..., "--style", help="Dance style of the takes, e.g. hiphop."),
    bpm: str = typer.Option(
        None, "--bpm",
        help="Music tempo, or auto: the kinematic or the learned (MuDaR) estimator, whichever is "
        "more confident (default: detect from the motion's kinematic beats).",
    ),  # fmt: skip
    music: Path = typer.Option(
        None, "--music", help="The take's music: its beats cut the phrases (see --music-offset)."
    ),
    music_offset: float = typer.Option(
        0.0,
        "--music-offset",
        help="Seconds after the capture's first frame at which the music starts (negative: the "
        "capture starts that far into the music).",
    ),
    meter: int = typer.Option(
        None, "--meter", help="Beats per bar: 4 (eights) or 3 (sixes); default 4, or the music's."
    ),
    prefix: str = typer.Option(None, "--prefix", help="Phrase id prefix (default: file name)."),
    licence: str = typer.Option("", "--licence", help="Licence of the capture."),
    tag: list[str] = typer.Option(None, "--tag", help="Tag every new phrase (repeatable)."),
    mapping: Path = typer.Option(None, "--map", help="JSON joint mapping for retargeting."),
    scale: float = typer.Option(None, "--scale", help="Metres per BVH unit (default: detect)."),
    keep_placement: bool = typer.Option(
        False,
        "--keep-placement",
        help="Keep the takes' facing, position and floor height as captured.",
    ),
    replace: bool = typer.Option(False, "--replace", help="Replace phrases with the same ids."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Retarget mocap onto the canonical skeleton, cut it into eights, and add the phrases.

    Each take starts clean: a leading reference pose is dropped, and unless --keep-placement
    it faces +Z at its start with the feet on the floor. Without --bpm or --music the tempo
    comes from the motion; a take with no steady rhythm is refused. All files go in one
    transaction: if one fails, nothing is added.
    """
    from musicdance.library.importer import import_motion_files
    from musicdance.motion.retarget import load_mapping_file

    user_map = load_mapping_file(mapping) if mapping is not None else None
    bpm = _bpm_choice(bpm)
    if music_offset and music is None:
        raise typer.BadParameter("--music-offset needs --music")
    grid: dict = {}
    if music is not None:
        if bpm is not None:
            raise typer.BadParameter("give --bpm or --music, not both")
        from musicdance.audio.analysis import analyze
        from musicdance.errors import MusicDanceError

        analysis = analyze(music)
        if len(analysis.beat_times_s) < 2:
            raise MusicDanceError("no beats found in the music; give --bpm instead", music)
        grid = {
            "music_beats_s": analysis.beat_times_s,
            "music_downbeats_s": analysis.downbeat_times_s,
        }
        meter = meter or analysis.meter
    target = _open(library, create=True)
    started = time.perf_counter()
    reports = import_motion_files(
        target,
        list(files),
        style=style,
        bpm=bpm,
        meter=meter or 4,
        id_prefix=prefix,
        **grid,
        licence=licence,
        tags=tuple(tag or ()),
        user_map=user_map,
        scale=scale,
        keep_placement=keep_placement,
        music_offset_s=music_offset,
        replace_existing=replace,
    )
    if as_json:
        print_json(
            {
                "library": str(library),
                "seconds": round(time.perf_counter() - started, 3),
                "files": [r.to_json() for r in reports],
            }
        )
        return
    for report in reports:
        console.print(
            f"{report.source}: {len(report.phrase_ids)} phrases at {report.tempo_bpm:.1f} BPM "
            f"({_TEMPO_SOURCES.get(report.tempo_source, report.tempo_source)}, "
            f"{report.convention} skeleton): {', '.join(report.phrase_ids)}"
        )
        for note in report.notes:
            err_console.print(f"note: {note}")
        for new, like, distance in report.near_duplicates:
            err_console.print(
                f"near-duplicate: {new} looks like {like} ({distance * 100:.1f} cm apart)"
            )


@library_app.command("list")
def list_phrases(
    style: list[str] = typer.Option(None, "--style", help="Only these styles (repeatable)."),
    tag: list[str] = typer.Option(None, "--tag", help="Only phrases with all these tags."),
    status: list[str] = typer.Option(None, "--status", help="Only these curation states."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List the phrases (id, style, energy, tempo, counts, support feet, status, tags)."""
    lib = _open(library)
    infos = lib.infos(styles=style or (), tags=tag or (), statuses=status or ())
    auto = lib.style_tags()
    if as_json:
        print_json([{**_summary(i), "auto_style": auto.get(i.id)} for i in infos])
        return
    if not infos:
        console.print(f"no phrases in {library} match")
        return
    table = Table(title=f"{library} ({len(infos)} phrases)")
    columns = ["id", "style", "energy", "BPM", "counts", "support", "status"]
    if auto:
        columns.append("auto style (conf.)")
    wide = console.width >= 120
    for column in columns + (["tags"] if wide else []):
        table.add_column(
            column, justify="right" if column in ("energy", "BPM", "counts") else "left"
        )
    for i in infos:
        row = [i.id, i.style, f"{i.energy:.2f}", f"{i.tempo_bpm:.0f}", str(i.num_counts),
               f"{i.support_start}>{i.support_end}", i.status]  # fmt: skip
        if auto:
            found = auto.get(i.id)
            row.append(f"{found['style']} ({found['confidence']:.2f})" if found else "")
        table.add_row(*row, *([", ".join(i.tags)] if wide else []))
    console.print(table)


def _summary(info) -> dict:
    return {
        "id": info.id,
        "name": info.name,
        "style": info.style,
        "energy": info.energy,
        "tempo_bpm": round(info.tempo_bpm, 2),
        "meter": info.meter,
        "num_counts": info.num_counts,
        "duration_s": round(info.duration_s, 3),
        "support_start": info.support_start,
        "support_end": info.support_end,
        "status": info.status,
        "tags": list(info.tags),
    }


@library_app.command()
def show(
    phrase_id: str = typer.Argument(..., metavar="ID", help="Phrase id."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Everything about one phrase, with its measured quality."""
    from musicdance.library.quality import phrase_quality

    phrase = _open(library).get(phrase_id)
    report = phrase.info.to_json()
    report["quality"] = {k: round(v, 4) for k, v in phrase_quality(phrase).items()}
    report["contact_share"] = [round(float(v), 3) for v in phrase.contacts.mean(axis=0)]
    if as_json:
        print_json(report)
        return
    table = Table(title=phrase_id, show_header=False)
    for key, value in report.items():
        if key in ("start_features", "end_features"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


@library_app.command()
def tag(
    phrase_id: str = typer.Argument(None, metavar="[ID]", help="Phrase id (with --auto: only "
                                    "this phrase; default every phrase)."),
    tags: list[str] = typer.Argument(None, metavar="[TAG...]", help="Tags to add."),
    auto: bool = typer.Option(False, "--auto", help="Recognise each phrase's style from its "
                              "motion (the bundle's dance-music companion) and tag it "
                              "style:STYLE, storing the confidence."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", min=0.0, max=1.0,
                                         help="With --auto: tag only phrases recognised with at "
                                         "least this confidence (0-1)."),
    method: str = typer.Option("mclemcd", "--method", help="With --auto: mclemcd or bilstm."),
    bundle: Path = typer.Option(None, "--bundle", help="Bundle with the dance-music companion."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add tags to a phrase, or (--auto) tag phrases with their recognised style."""
    from musicdance.errors import MusicDanceError

    lib = _open(library)
    if not auto:
        if not phrase_id or not tags:
            raise MusicDanceError("give a phrase ID and at least one TAG (or use --auto)")
        lib.tag([phrase_id], tags)
        console.print(f"{phrase_id}: {', '.join(lib.info(phrase_id).tags)}")
        return
    if tags:
        raise MusicDanceError("--auto takes no TAG arguments (it adds style:STYLE)")
    from musicdance.defaults import DEFAULT_BUNDLE
    from musicdance.recognize.recognizer import Recognizer

    recognizer = Recognizer.load(bundle or DEFAULT_BUNDLE)
    ids = [phrase_id] if phrase_id else lib.ids()
    results, rows = [], []
    with stage_progress("tag", ids, enabled=not as_json) as on_stage:
        for pid in ids:
            on_stage(pid)
            phrase = lib.get(pid)
            from musicdance.motion.motion import resample

            motion = phrase.motion if abs(phrase.motion.fps - 30.0) < 1e-6 else resample(
                phrase.motion, 30.0)  # fmt: skip
            result = recognizer.classify(motion.global_positions(), method)
            entry = {"id": pid, "library_style": phrase.info.style, "style": result.style,
                     "confidence": round(result.confidence, 4), "votes": result.votes,
                     "tagged": result.confidence >= min_confidence}  # fmt: skip
            results.append(entry)
            if entry["tagged"]:
                rows.append((pid, result.style, min(max(result.confidence, 0.0), 1.0), method))
    if rows:
        lib.set_style_tags(rows)
    tagged = sum(e["tagged"] for e in results)
    agree = sum(e["style"] == e["library_style"] for e in results)
    if as_json:
        print_json({"library": str(library), "method": method, "min_confidence": min_confidence,
                    "tagged": tagged, "skipped": len(results) - tagged,
                    "agree_with_library_style": agree, "phrases": results})  # fmt: skip
        return
    console.print(f"tagged {tagged} of {len(results)} phrases (method {method}, minimum "
                  f"confidence {min_confidence:g}); the recognised style equals the library's "
                  f"style for {agree}")  # fmt: skip


@library_app.command()
def untag(
    phrase_id: str = typer.Argument(..., metavar="ID", help="Phrase id."),
    tags: list[str] = typer.Argument(..., metavar="TAG...", help="Tags to remove."),
    library: Path = LIBRARY_OPTION,
) -> None:
    """Remove tags from a phrase."""
    lib = _open(library)
    lib.untag([phrase_id], tags)
    console.print(f"{phrase_id}: {', '.join(lib.info(phrase_id).tags) or '(no tags)'}")


@library_app.command("set-status")
def set_status(
    status: str = typer.Argument(..., help="draft, approved or rejected."),
    phrase_ids: list[str] = typer.Argument(..., metavar="ID...", help="Phrase ids."),
    library: Path = LIBRARY_OPTION,
) -> None:
    """Set the curation status of phrases."""
    _open(library).set_status(phrase_ids, status)
    console.print(f"{len(phrase_ids)} phrase(s) now {status}")


@library_app.command()
def remove(
    phrase_ids: list[str] = typer.Argument(..., metavar="ID...", help="Phrase ids."),
    library: Path = LIBRARY_OPTION,
) -> None:
    """Remove phrases and their motion files (all or nothing)."""
    removed = _open(library).remove(phrase_ids)
    console.print(f"removed {len(removed)} phrase(s): {', '.join(removed)}")


@library_app.command("edits")
def edits_command(
    library: Path = LIBRARY_OPTION,
    user: list[str] = typer.Option(None, "--user", help="Only these curators' edits."),
    last: int = typer.Option(20, "--last", min=0, help="How many of the latest edits to list."),
    agreement: bool = typer.Option(
        False, "--agreement", help="Also: how often the bundle's first choice is the curator's."
    ),
    bundle: Path = typer.Option(
        None, "--bundle", help="With --agreement: the bundle (default: bundles/default)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """The curators' recorded replaces (labels for 'train finetune --labels edits')."""
    from musicdance.library.edits import list_edits, summarise_edits

    opened = _open(library)
    edits = list_edits(opened, users=user or None, with_inputs=agreement)
    report = {"library": str(library), **summarise_edits(edits),
              "latest": [e.to_json() for e in edits[-last:]] if last else []}  # fmt: skip
    if agreement:
        report["agreement"] = _edits_agreement(opened, edits, bundle)
    if as_json:
        print_json(report)
        return
    console.print(
        f"{library}: {report['edits']} edits ({report['with_model_input']} with a model input, "
        f"{report['with_slot_context']} with the slot's place in the song) "
        f"on {report['songs']} songs"
    )
    for key in ("users", "styles"):
        console.print(f"  {key}: {', '.join(f'{k} {v}' for k, v in report[key].items()) or '-'}")
    if report["latest"]:
        table = Table(title=f"latest {len(report['latest'])}")
        for column in ("id", "time (UTC)", "user", "song", "slot", "replaced", "chosen"):
            table.add_column(column)
        for row in report["latest"]:
            table.add_row(str(row["id"]), row["created_at"], row["user"],
                          row["song_name"] or row["song_id"][:16], str(row["slot"]),
                          row["replaced_id"], row["chosen_id"])  # fmt: skip
        console.print(table)
    if agreement:
        found = report["agreement"]
        console.print(
            f"agreement of {found['bundle']} on {found['scored']} edits: top-1 "
            f"{found['top1']:.1%} (model alone {found['model_top1']:.1%}), top-5 "
            f"{found['top5']:.1%}"
        )


def _edits_agreement(library, edits, bundle: Path | None) -> dict:
    from musicdance.bundle import DEFAULT_BUNDLE, open_bundle
    from musicdance.choreo.curation import agreement

    folder = bundle or DEFAULT_BUNDLE
    return {"bundle": str(folder),
            **agreement(open_bundle(folder, library=library), edits, library)}  # fmt: skip


@library_app.command()
def stats(library: Path = LIBRARY_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Counts per style, energy, status and meter, and a tempo histogram."""
    report = _open(library).stats()
    if as_json:
        print_json(report)
        return
    console.print(f"{report['library']}: {report['phrases']} phrases, {report['duration_s']} s")
    for key in ("styles", "energy", "status", "meter", "tempo_bpm"):
        values = report[key]
        shown = ", ".join(f"{k} {v}" for k, v in values.items()) or "-"
        console.print(f"  {key.replace('_bpm', ' (BPM)')}: {shown}")


@library_app.command()
def validate(
    phrase_ids: list[str] = typer.Argument(None, metavar="[ID...]", help="Only these phrases."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check for NaNs, bone-length drift, foot skating, root drift and joint limits.

    Exits with status 1 when any error is found (warnings alone exit 0).
    """
    from musicdance.library.store import DB_NAME, folder_damage
    from musicdance.library.validate import database_integrity, validate_library

    readable = folder_damage(library) is None and (library / DB_NAME).is_file()
    problems = database_integrity(library / DB_NAME) if readable else []
    if problems:  # report SQLite's own findings before anything else reads the database
        if as_json:
            print_json({"library": str(library), "errors": len(problems),
                        "findings": [{"phrase": "-", "level": "error", "check": "database",
                                      "message": line} for line in problems]})  # fmt: skip
        else:
            for line in problems:
                console.print(f"[red]error[/red] - database: integrity check failed: {line}")
            console.print(
                f"{library / DB_NAME} is damaged: restore it from a backup, or salvage what is "
                f"readable with 'mdtool library repair NEW_FOLDER -L {library}'"
            )
        raise typer.Exit(code=1)
    lib = _open(library)
    findings = validate_library(lib, phrase_ids or None)
    errors = sum(f.level == "error" for f in findings)
    checked = len(phrase_ids) if phrase_ids else len(lib)
    if as_json:
        print_json(
            {
                "library": str(library),
                "phrases_checked": checked,
                "errors": errors,
                "warnings": len(findings) - errors,
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        for f in findings:
            colour = "red" if f.level == "error" else "yellow"
            console.print(f"[{colour}]{f.level}[/{colour}] {f.phrase_id} {f.check}: {f.message}")
        console.print(
            f"{checked} phrases checked: {errors} errors, {len(findings) - errors} warnings"
        )
    if errors:
        raise typer.Exit(code=1)


@library_app.command()
def preview(
    phrase_id: str = typer.Argument(..., metavar="ID", help="Phrase id."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.png (sheet) or FILE.gif."),
    turntable: float = typer.Option(
        0.0, "--turntable", help="GIF: the camera circles the dancer by this many degrees."
    ),
    library: Path = LIBRARY_OPTION,
) -> None:
    """Draw a stick-figure contact sheet (PNG, one pose per count) or animation (GIF)."""
    from musicdance.library.preview import render_preview

    phrase = _open(library).get(phrase_id)
    render_preview(phrase, output, turntable_deg=turntable)
    console.print(f"wrote {output}")


@library_app.command()
def transitions(
    style: list[str] = typer.Option(None, "--style", help="Only these styles (repeatable)."),
    status: list[str] = typer.Option(None, "--status", help="Only these curation states."),
    top: int = typer.Option(3, "--top", help="Best successors listed per phrase."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Write the K x K prior: .npz (ids, cost, prior) or .json."
    ),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The K x K transition compatibility (end of i -> start of j) used as the Markov prior."""
    from musicdance.errors import MusicDanceError
    from musicdance.library.transitions import transition_costs, transition_prior

    infos = _open(library).infos(styles=style or (), statuses=status or ())
    if not infos:
        raise MusicDanceError("no phrases to relate (the library or the selection is empty)")
    if len(infos) > DENSE_MAX_PHRASES:
        raise MusicDanceError(
            f"{len(infos)} phrases selected: the dense {len(infos)} x {len(infos)} matrix would "
            f"need {len(infos) ** 2 * 16 / 1e9:.1f} GB; select fewer with --style/--status (at "
            f"most {DENSE_MAX_PHRASES}), or build the sparse graph with 'mdtool library index'"
        )
    ids = [i.id for i in infos]
    cost, prior = transition_costs(infos), transition_prior(infos)
    if output is not None:
        _write_matrix(output, ids, cost, prior)
    best = {
        i: [(ids[j], float(prior[k, j])) for j in np.argsort(-prior[k])[:top]]
        for k, i in enumerate(ids)
    }
    if as_json:
        print_json({"ids": ids, "cost": cost.round(4), "prior": prior.round(6)})
        return
    table = Table(title=f"transitions ({len(ids)} x {len(ids)}), best next phrases")
    table.add_column("after")
    table.add_column(f"best {top} (prior probability)")
    for i, successors in best.items():
        table.add_row(i, ", ".join(f"{j} {p:.3f}" for j, p in successors))
    console.print(table)
    if output is not None:
        console.print(f"wrote {output}")


@library_app.command()
def index(
    k: int = typer.Option(96, "--k", min=1, help="Best successors kept per phrase."),
    engine: str = typer.Option(
        "local", "--engine", help="local, or ray (the cluster in RAY_ADDRESS, else a local one)."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="CPUs of a local Ray cluster."),
    shard_size: int = typer.Option(
        50_000, "--shard-size", min=100, help="Phrases per nearest-neighbour shard."
    ),
    backend: str = typer.Option("hnsw", "--backend", help="hnsw (approximate) or exact."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build the sparse transition graph (top-k successors per phrase from a nearest-neighbour
    index of boundary poses) and save it in the library's index/ folder. choreograph builds
    it on first use too; run this after a large import, or with --engine ray on a cluster."""
    from musicdance.library.transition_graph import (
        build_graph,
        graph_path,
        save_graph,
        table_key,
    )

    opened = _open(library)
    table = opened.table()
    started = time.perf_counter()
    styles = table.styles()
    with stage_progress("index", styles or ["-"], enabled=not as_json) as step:
        graph = build_graph(
            table, k=k, backend=backend, engine=engine, shard_size=shard_size, workers=workers,
            progress=lambda done, total: step(styles[min(done, total - 1)]),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    path = graph_path(opened.path, table_key(table, k))
    saved = save_graph(graph, path)
    summary = {
        "library": str(opened.path),
        "phrases": graph.num_phrases,
        "styles": len(styles),
        "k": k,
        "edges": graph.num_edges,
        "edges_per_phrase": round(graph.num_edges / max(graph.num_phrases, 1), 2),
        "complete": graph.complete,
        "engine": engine,
        "backend": backend,
        "seconds": round(seconds, 3),
        "saved": str(path) if saved else None,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{summary['phrases']} phrases, {summary['edges']} transitions "
        f"({summary['edges_per_phrase']} per phrase, k = {k}) in {seconds:.2f} s "
        f"({engine}, {backend})"
    )
    console.print(f"wrote {path}" if saved else "library is read-only: graph not saved")


def _write_matrix(path: Path, ids: list[str], cost, prior) -> None:
    import io
    import json

    from musicdance.atomic import atomic_write
    from musicdance.errors import MusicDanceError

    suffix = path.suffix.lower()
    if suffix == ".npz":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, ids=np.array(ids), cost=cost, prior=prior)
        with atomic_write(path, "wb") as handle:
            handle.write(buffer.getvalue())
    elif suffix == ".json":
        data = {"ids": ids, "cost": cost.round(4).tolist(), "prior": prior.round(6).tolist()}
        with atomic_write(path, "w") as handle:
            json.dump(data, handle)
    else:
        raise MusicDanceError(f"transition output must be .npz or .json, got {suffix!r}", path)


@library_app.command()
def export(
    destination: Path = typer.Argument(None, help="New library folder (not with --unity)."),
    unity: Path = typer.Option(
        None, "--unity", help="Write the library as one binary engine asset DIR/library.mdlb "
        "for the Unity package's in-engine choreographer instead of a library folder."
    ),
    bundle: Path = typer.Option(
        Path("bundles/default"), "--bundle", help="With --unity: the bundle whose ONNX graph "
        "goes into the asset (skipped with a note when it does not fit the library)."
    ),
    no_bundle: bool = typer.Option(False, "--no-bundle", help="With --unity: no ONNX graph."),
    style: list[str] = typer.Option(None, "--style", help="Only these styles (repeatable)."),
    tag: list[str] = typer.Option(None, "--tag", help="Only phrases with all these tags."),
    status: list[str] = typer.Option(None, "--status", help="Only these curation states."),
    phrase_id: list[str] = typer.Option(None, "--id", help="Only these phrases (repeatable)."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Copy a subset into a new library folder (for a runtime bundle), or with ``--unity DIR``
    write the engine asset the Unity package choreographs with (docs/runtime.md)."""
    if unity is not None:
        _export_unity(_open(library), unity, None if no_bundle else bundle, as_json)
        return
    if destination is None:
        from musicdance.errors import MusicDanceError

        raise MusicDanceError("give a destination folder, or --unity DIR for the engine asset")
    exported = _open(library).export(
        destination,
        ids=phrase_id or None,
        styles=style or (),
        tags=tag or (),
        statuses=status or (),
    )
    report = {
        "library": str(destination),
        "phrases": len(exported),
        "size_bytes": _folder_size_bytes(destination),
    }
    if as_json:
        print_json(report)
        return
    console.print(
        f"exported {report['phrases']} phrases to {destination} "
        f"({report['size_bytes'] / 1e6:.2f} MB)"
    )


def _export_unity(library, folder: Path, bundle_path: Path | None, as_json: bool) -> None:
    from musicdance.bundle import open_default_bundle
    from musicdance.choreo.engine_asset import export_unity_library

    bundle, note = (None, "no bundle (--no-bundle)")
    if bundle_path is not None:
        bundle, note = open_default_bundle(library, bundle_path)
    started = time.perf_counter()
    report = export_unity_library(library, folder, bundle)
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["note"] = note
    if as_json:
        print_json(report)
        return
    console.print(
        f"wrote {report['path']}: {report['phrases']} phrases, {report['frames']} frames, "
        f"{report['size_bytes'] / 1e6:.2f} MB, bundle: {report['bundle'] or note}"
    )


@library_app.command()
def repair(
    destination: Path = typer.Argument(..., help="New library folder for what is readable."),
    library: Path = LIBRARY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Salvage a damaged library: copy every readable phrase into a new library folder.

    The damaged library is only read. Exits 1 when nothing could be recovered.
    """
    from musicdance.library.repair import repair_library

    report = repair_library(library, destination)
    if as_json:
        print_json(report.to_json())
        return
    console.print(
        f"recovered {len(report.recovered)} phrases into {destination}; lost "
        f"{len(report.lost)}, {report.unreadable_rows} unreadable database rows, "
        f"{len(report.orphan_files)} motion files without annotations"
    )
    for phrase_id, reason in sorted(report.lost.items()):
        err_console.print(f"lost {phrase_id}: {reason}")
