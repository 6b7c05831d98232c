"""The main job and its companions: ``mdtool choreograph``, ``mdtool edit``, ``mdtool evaluate``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from mdtool.app import (
    BUNDLE_OPTION,
    EMISSION_OPTION,
    FEATURE_WEIGHT_OPTION,
    MESH_OPTION,
    NO_BUNDLE_OPTION,
    ROOT_MOTION_OPTION,
    UNITS_OPTION,
    USER_OPTION,
    app,
    check_bundle_choice,
    console,
    emission_choice,
    err_console,
    format_list,
    mesh_choice,
    print_json,
    root_motion_choice,
    stage_progress,
    units_choice,
)
from mdtool.library_commands import DEFAULT_LIBRARY
from musicdance.defaults import DEFAULT_BUNDLE

# musicdance.choreo.export.DANCE_FORMATS (kept numpy-free here)
FORMATS = ("glb", "bvh", "json", "fbx")
STAGES = ("analyse", "choose phrases", "render", "export")


@app.command()
def choreograph(
    song: Path = typer.Argument(..., help="Song to dance to (wav, mp3, ogg, flac)."),
    output: Path = typer.Option(Path("out"), "-o", "--output", help="Folder for the results."),
    style: str = typer.Option(None, "--style", help="Dance style (default: the best fit)."),
    seed: int = typer.Option(0, "--seed", help="Seed (same song and seed: same dance)."),
    library: Path = typer.Option(DEFAULT_LIBRARY, "--library", "-L", help="Phrase library."),
    fps: float = typer.Option(30.0, "--fps", min=1.0, max=240.0, help="Animation frame rate."),
    formats: str = typer.Option(
        "glb,bvh,json", "--format",
        help="Comma list: glb, bvh, json, fbx (fbx needs Blender: pip install mdtool[fbx]).",
    ),  # fmt: skip
    name: str = typer.Option(
        None, "--name", help="Output name: file stem and clip/scene name (default: song stem)."
    ),
    mesh: str = MESH_OPTION,
    units: str = UNITS_OPTION,
    root_motion: str = ROOT_MOTION_OPTION,
    decoder: str = typer.Option(
        "viterbi",
        "--decoder",
        help="viterbi: global path over the scorer's mix with the choreography constraints and "
        "a seeded jitter (default); greedy: the same scores slot by slot; eq6: the paper's "
        "eq. 6 exactly (model probabilities x the bundle's M, slot by slot, nothing else).",
    ),  # fmt: skip
    bundle: Path = BUNDLE_OPTION,
    no_bundle: bool = NO_BUNDLE_OPTION,
    feature_weight: float = FEATURE_WEIGHT_OPTION,
    emission: str = EMISSION_OPTION,
    reuse_sections: bool = typer.Option(
        True, "--reuse-sections/--no-reuse-sections", help="Repeated music, repeated dance."
    ),
    dancers: int = typer.Option(
        1, "--dancers", min=1, max=1000, help="Dancers: more than 1 choreographs a group."
    ),
    formation: str = typer.Option(
        "auto",
        "--formation",
        help="Group formation: auto (per section from its role), line, v, circle, grid, or a "
        "JSON file of spots (docs/group.md).",
    ),  # fmt: skip
    lead: int = typer.Option(1, "--lead", min=1, help="The group's lead dancer (1 to N)."),
    audience_yaw_deg: float = typer.Option(
        0.0, "--audience-yaw", help="Direction the group faces, degrees about +Y (0: +Z)."
    ),
    profile: bool = typer.Option(False, "--profile", help="Print the time of each stage."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Choreograph a song: analyse it, choose phrases, render and export the dance (with
    --dancers N, a group: one timeline, one .glb with N characters and one .bvh per dancer)."""
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.choreographer import choreograph as make_timeline
    from musicdance.choreo.export import dance_outputs, export_dance
    from musicdance.choreo.onnx_scorer import scorer_for
    from musicdance.choreo.render import render_timeline
    from musicdance.library import open_library

    chosen_formats = format_list(formats, FORMATS)
    with_mesh = mesh_choice(mesh)
    root_motion_choice(root_motion)
    units_choice(units)
    stem = name or song.stem
    check_bundle_choice(bundle, no_bundle)
    emission_choice(emission)
    if dancers > 1 or formation != "auto" or lead != 1:
        if emission is not None:
            raise typer.BadParameter("--emission is for one dancer (not with --dancers)")
        from mdtool.group_commands import choreograph_group_command

        if "fbx" in chosen_formats:
            raise typer.BadParameter("a group dance is written as glb, bvh and json, not fbx")

        choreograph_group_command(
            song, output, stem, dancers=dancers, formation=formation, lead=lead,
            audience_yaw_deg=audience_yaw_deg, style=style, seed=seed, library=library, fps=fps,
            formats=chosen_formats, mesh=with_mesh, bvh_unit=units_choice(units),
            root_motion=root_motion, bundle=bundle, no_bundle=no_bundle,
            feature_weight=feature_weight, reuse_sections=reuse_sections, profile=profile,
            as_json=as_json, choose_bundle=_choose_bundle,
        )  # fmt: skip
        return
    timings: dict[str, float] = {}
    started = time.perf_counter()
    phrases = open_library(library)
    model, scorer_name, note = _choose_bundle(phrases, bundle, no_bundle)  # before any work
    mudar = None
    if emission == "bundle" and model is None:
        from musicdance.errors import MusicDanceError

        raise MusicDanceError(f"--emission bundle: {note or 'no bundle (--no-bundle)'}", library)
    if emission in ("mudar", "mix"):
        from musicdance.rhythm.model import load_mudar

        mudar = load_mudar()  # a missing companion fails before any work
    with stage_progress("choreograph", STAGES, enabled=not as_json) as step:
        step("analyse")
        analysis = analyze(song)
        timings.update({f"analyse/{k}": v for k, v in analysis.timings_s.items()})
        step("choose phrases")
        t0 = time.perf_counter()
        if emission is None:
            scorer = scorer_for(model, analysis, feature_weight=feature_weight)
        else:
            from musicdance.choreo.mudar_scorer import emission_scorer

            scorer = emission_scorer(emission, analysis, phrases, bundle=model,
                                     feature_weight=feature_weight, mudar=mudar)  # fmt: skip
            scorer_name = emission if emission != "bundle" else scorer_name
            note = None
        parts: dict[str, float] = {}
        timeline = make_timeline(
            analysis, phrases, style=style, seed=seed, fps=fps, decoder=decoder,
            reuse_sections=reuse_sections, scorer=scorer, timings=parts,
        )  # fmt: skip
        timings["choose"] = time.perf_counter() - t0
        timings.update({f"choose/{k}": v for k, v in parts.items()})
        step("render")
        t0 = time.perf_counter()
        motion = render_timeline(timeline, phrases)
        timings["render"] = time.perf_counter() - t0
        step("export")
        t0 = time.perf_counter()
        outputs = dance_outputs(output, stem, chosen_formats)
        export_dance(timeline, motion, outputs, name=stem, mesh=with_mesh,
                     root_motion=root_motion, bvh_unit=units_choice(units))  # fmt: skip
        timings["export"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    summary = {
        "song": str(song),
        "scorer": scorer_name,
        "style": timeline.style,
        "tempo_bpm": timeline.song["tempo_bpm"],
        "meter": timeline.song["meter"],
        "slots": len(timeline.slots),
        "frames": motion.num_frames,
        "fps": motion.fps,
        "duration_s": round(motion.duration_s, 3),
        "outputs": {fmt: str(path) for fmt, path in outputs.items()},
        "phrases": timeline.phrase_ids(),
    }
    if model is not None:
        summary["feature_weight"] = feature_weight
    if note:
        summary["scorer_note"] = note
    if profile:
        summary["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    if as_json:
        print_json(summary)
        return
    _print_timeline(timeline)
    console.print(f"scorer: {scorer_name}" + (f" ({note})" if note else ""))
    for path in outputs.values():
        console.print(f"wrote {path}")
    if profile:
        for name, seconds in timings.items():
            console.print(f"  {name:<22} {seconds:7.3f} s")


def _choose_bundle(library, bundle: Path | None, no_bundle: bool):
    """The bundle that scores the slots, the scorer's name for the summary, and a note.

    An explicit ``--bundle`` must pass every check (else a clear error). Without one, the
    default bundle scores when it is there and was made for ``library``; otherwise the feature
    scorer does and the note says why.
    """
    from musicdance.bundle import choose_bundle

    model, why_not = choose_bundle(library, bundle, use_default=not no_bundle)
    if no_bundle:
        return None, "features", None
    if bundle is not None:
        return model, str(bundle), None
    if model is None:
        return None, "features (no bundle for this library)", why_not
    return model, str(DEFAULT_BUNDLE), None


def _edit_scorer(timeline, library, bundle: Path | None, no_bundle: bool, feature_weight: float):
    """The scorer ``edit --alternatives`` ranks with: the one ``choreograph`` would choose
    (the bundle needs the song's analysis, so the timeline's song must still be there; else
    the feature scorer, with a note saying why). Returns ``(scorer, name, note)``."""
    model, name, note = _choose_bundle(library, bundle, no_bundle)
    if model is None:
        return None, name, note
    song = Path(timeline.song["path"])
    if not song.is_file():
        return None, "features", f"the song {song} is not there to score with the bundle"
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.onnx_scorer import scorer_for

    return scorer_for(model, analyze(song), feature_weight=feature_weight), name, None


def _edit_context(timeline, library, bundle: Path | None, no_bundle: bool, record: bool):
    """``(analysis, bundle)`` a recorded replace keeps: the song's analysis when its audio is
    still there (the slot's model input comes from it) and the bundle that would score it."""
    if not record:
        return None, None
    check_bundle_choice(bundle, no_bundle)
    model, _, _ = _choose_bundle(library, bundle, no_bundle)
    song = Path(timeline.song["path"])
    if not song.is_file():
        err_console.print(f"note: the song {song} is not there: edits are recorded without "
                          "their model input (training cannot use them)")  # fmt: skip
        return None, model
    from musicdance.audio.analysis import analyze

    return analyze(song), model


def _print_timeline(timeline) -> None:
    table = Table(
        title=f"{timeline.song['path']}: {timeline.style}, {timeline.song['tempo_bpm']:.0f} BPM, "
        f"{len(timeline.slots)} slots"
    )
    for column in ("slot", "time", "section", "counts", "phrase", "score"):
        table.add_column(column)
    for slot, choice in zip(timeline.slots, timeline.choices, strict=True):
        table.add_row(
            str(slot.index),
            f"{slot.start_s:6.2f}-{slot.end_s:6.2f}",
            slot.section_label,
            str(slot.num_counts),
            choice.phrase_id,
            f"{choice.score:.3f}",
        )
    console.print(table)


@app.command()
def edit(
    timeline_path: Path = typer.Argument(..., help="A .timeline.json written by choreograph."),
    slot: int = typer.Option(None, "--slot", help="Slot to inspect."),
    show_alternatives: bool = typer.Option(
        False, "--alternatives", help="List phrases for --slot, ranked with both neighbours."
    ),
    replace: list[str] = typer.Option(
        None, "--replace", metavar="N=PHRASE_ID", help="Put a phrase in slot N (repeatable)."
    ),
    library: Path = typer.Option(None, "--library", "-L", help="Default: the timeline's."),
    top_k: int = typer.Option(10, "--top", min=1, help="How many alternatives to list."),
    bundle: Path = typer.Option(
        None, "--bundle", help="With --alternatives: the bundle that scores (as choreograph)."
    ),
    no_bundle: bool = NO_BUNDLE_OPTION,
    feature_weight: float = FEATURE_WEIGHT_OPTION,
    user: str = USER_OPTION,
    record: bool = typer.Option(
        True, "--record/--no-record",
        help="Record each replace in the library (labels for 'train finetune --labels edits').",
    ),  # fmt: skip
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List alternatives for a slot, or swap phrases and re-render the dance files.

    Every replace is recorded in the library (the slot's features and model input, the
    phrases, the curator, the time; never the audio): see 'mdtool library edits'.
    """
    from musicdance.choreo.choreographer import alternatives
    from musicdance.choreo.curation import replace_phrases
    from musicdance.choreo.export import dance_outputs, export_dance
    from musicdance.choreo.render import render_timeline
    from musicdance.choreo.timeline import read_timeline
    from musicdance.library import open_library

    timeline = read_timeline(timeline_path)
    phrases = open_library(library or Path(timeline.library))
    timeline.validate(phrases)
    if show_alternatives:
        if slot is None:
            raise typer.BadParameter("--alternatives needs --slot N")
        check_bundle_choice(bundle, no_bundle)
        scorer, scorer_name, note = _edit_scorer(timeline, phrases, bundle, no_bundle,
                                                 feature_weight)  # fmt: skip
        ranked = alternatives(timeline, phrases, slot, top_k=top_k, scorer=scorer)
        if as_json:
            print_json({"slot": slot, "scorer": scorer_name, "scorer_note": note,
                        "alternatives": ranked})  # fmt: skip
            return
        if note:
            console.print(f"scorer: {scorer_name} ({note})")
        table = Table(title=f"slot {slot}: alternatives (emission x prior in x prior out)")
        for column in ("phrase", "score", "emission", "prior in", "prior out", ""):
            table.add_column(column)
        for row in ranked:
            table.add_row(
                row["phrase_id"], f"{row['score']:.4f}", f"{row['emission']:.3f}",
                f"{row['prior_in']:.3f}", f"{row['prior_out']:.3f}",
                "current" if row["current"] else "",
            )  # fmt: skip
        console.print(table)
        return
    if not replace:
        raise typer.BadParameter("give --alternatives with --slot, or --replace N=PHRASE_ID")
    replacements = []
    for item in replace:
        number, _, phrase_id = item.partition("=")
        if not number.strip().isdigit() or not phrase_id.strip():
            raise typer.BadParameter(f"--replace takes N=PHRASE_ID, got {item!r}")
        replacements.append((int(number), phrase_id.strip()))
    analysis, scoring_bundle = _edit_context(timeline, phrases, bundle, no_bundle, record)
    timeline, edits = replace_phrases(
        timeline, phrases, replacements, analysis=analysis, user=user, bundle=scoring_bundle,
        record=record,
    )  # fmt: skip
    stem = timeline_path.name.removesuffix(".timeline.json").removesuffix(".json")
    folder = timeline_path.parent
    formats = ["json"] + [f for f in ("glb", "bvh") if (folder / f"{stem}.{f}").exists()]
    outputs = dance_outputs(folder, stem, formats)
    # A full render: this process has no render of the old timeline in memory, and making one
    # only to re-render from it (musicdance.choreo.render.rerender) would cost more. The
    # runtime, which keeps renders, re-renders only what changed.
    motion = render_timeline(timeline, phrases)
    export_dance(timeline, motion, outputs)
    recorded = [e.id for e in edits] if record else []
    if as_json:
        print_json({"outputs": {k: str(v) for k, v in outputs.items()},
                    "phrases": timeline.phrase_ids(), "recorded_edits": recorded})  # fmt: skip
        return
    for path in outputs.values():
        console.print(f"wrote {path}")
    if recorded:
        console.print(f"recorded {len(recorded)} edit(s) by {edits[0].user} in {phrases.path}")


@app.command()
def evaluate(
    motion_path: Path = typer.Argument(..., help="Dance (.glb or .bvh) on the canonical skeleton."),
    song: Path = typer.Argument(..., help="The song it dances to."),
    timeline_path: Path = typer.Option(
        None, "--timeline", help="Its timeline: join smoothness, structure consistency, diversity."
    ),
    library: Path = typer.Option(
        None,
        "--library",
        "-L",
        help="Library the timeline was made from (default: the one it names), for the cut times.",
    ),
    reference: Path = typer.Option(
        None, "--reference",
        help="Conducting: a reference conductor (.keypoints.json, .glb or .bvh): the seed-004 "
        "Table 2 metrics (MSE, SE, W-dis, RDE, SCE, SDP) of MOTION against it.",
    ),  # fmt: skip
    bundle: Path = typer.Option(
        DEFAULT_BUNDLE, "--bundle", help="With --reference: the bundle whose conducting "
        "companion gives SE's motion encoder and W-dis' critic.",
    ),  # fmt: skip
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Beat alignment (with chance controls), foot contact, skating and join smoothness; with
    --timeline the worst join: its peak joint acceleration (just before the cut to 0.4 s after)
    against the largest peak and the 99th percentile inside the phrases; with --reference the
    conducting metrics (a MOTION may then also be a .keypoints.json)."""
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.timeline import read_timeline
    from musicdance.evaluate.metrics import (
        beat_alignment,
        diversity,
        foot_skating_cm_s,
        join_peaks,
        physical_foot_contact,
        structure_consistency,
        transition_smoothness,
    )
    from musicdance.io.files import load_motion

    if timeline_path is not None and _is_group(timeline_path):
        from mdtool.group_commands import evaluate_group_command

        evaluate_group_command(motion_path, song, timeline_path, library, as_json)
        return
    conducting = None
    if reference is not None:
        conducting = _conducting_report(motion_path, reference, bundle)
    if motion_path.name.endswith(".json"):
        from musicdance.conduct.generate import read_keypoints
        from musicdance.conduct.keypoints import motion_from_keypoints

        motion = motion_from_keypoints(read_keypoints(motion_path))
    else:
        motion = load_motion(motion_path)
    analysis = analyze(song)
    report: dict = {"motion": str(motion_path), "song": str(song)}
    if conducting is not None:
        report["conducting"] = conducting
    report.update(beat_alignment(motion, analysis.beat_times_s))
    report["rhythm"] = _rhythm(motion, analysis)
    report["physical_foot_contact"] = physical_foot_contact(motion)
    report["foot_skating_cm_s"] = foot_skating_cm_s(motion)
    if timeline_path is not None:
        timeline = read_timeline(timeline_path)
        joins, where = _cut_times(timeline, library)
        span = (timeline.slots[0].start_s, timeline.slots[-1].end_s)
        report["cut_times"] = where
        report["transitions"] = transition_smoothness(motion, joins)
        report["joins"] = join_peaks(motion, joins, span_s=span)
        report["structure_consistency"] = structure_consistency(timeline)
        report["diversity"] = diversity(timeline)
    if as_json:
        print_json(report)
        return
    table = Table(title=f"{motion_path} on {song}", show_header=False)
    for key, value in report.items():
        if isinstance(value, float):
            table.add_row(key.replace("_", " "), f"{value:.4f}")
        elif isinstance(value, dict):
            for sub, number in value.items():
                if isinstance(number, float | int):
                    table.add_row(f"{key}: {sub.replace('_', ' ')}", f"{number:.4g}")
    console.print(table)
    worst = report.get("joins", {}).get("worst_join")
    if worst:
        j = report["joins"]
        console.print(
            f"worst join at {worst['cut_s']:.2f} s: {worst['peak_acceleration']:.0f} m/s^2 in "
            f"{worst['joint']} {worst['after_cut_s']:+.2f} s after the cut; inside the phrases "
            f"max {j['within_max_acceleration']:.0f} ({j['within_max_joint']} at "
            f"{j['within_max_at_s']:.2f} s), 99th percentile {j['within_p99_acceleration']:.0f}: "
            f"ratio {j['worst_ratio']:.2f} (a join must stay below 1), median join / p99 "
            f"{j['median_ratio_p99']:.2f} (cut times: {report['cut_times']})"
        )


def _is_group(path: Path) -> bool:
    """Whether a timeline file is a group timeline (read as little as needed)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b'"mdtool.group_timeline"' in head


def _rhythm(motion, analysis) -> dict:
    """Rhythm precision/recall (seed 002's protocol) of the learned visual rhythm (when the
    default bundle has the MuDaR companion) and of the kinematic beats, against the song's
    onset maxima and beats; flattened to ``{estimator_truth_precision: value}``."""
    from musicdance.companions import list_companions
    from musicdance.motion.canonical import CANONICAL_JOINTS
    from musicdance.rhythm.report import rhythm_report

    model = None
    if motion.skeleton.names == CANONICAL_JOINTS and "mudar" in list_companions():
        from musicdance.rhythm.model import load_mudar

        model = load_mudar()
    found = rhythm_report(motion.global_positions(), motion.fps, motion.skeleton.names,
                          analysis, model)  # fmt: skip
    return {f"{name}_{truth}_{key}": value for name, by_truth in found.items()
            for truth, result in by_truth.items() for key, value in result.items()
            if key in ("precision", "recall")}  # fmt: skip


def _keypoints_of(path: Path):
    """A conductor's keypoints ``[T, 26]`` at 30 fps: a keypoint JSON as it is, a .glb/.bvh
    derived from its canonical skeleton."""
    from musicdance.conduct.generate import read_keypoints
    from musicdance.conduct.keypoints import MOTION_FPS, keypoints_from_motion
    from musicdance.io.files import load_motion
    from musicdance.motion.motion import resample

    if path.name.endswith(".json"):
        return read_keypoints(path)
    return keypoints_from_motion(resample(load_motion(path), MOTION_FPS))


def _conducting_report(motion_path: Path, reference: Path, bundle: Path) -> dict:
    """Table 2's metrics (``musicdance.evaluate.conducting``) of MOTION against REFERENCE."""
    from musicdance.companions import find_companion
    from musicdance.evaluate.conducting import companion_networks, conducting_metrics

    generated, real = _keypoints_of(motion_path), _keypoints_of(reference)
    companion = find_companion("conducting", bundle, task="conducting")
    features = critic = None
    if companion is not None:
        features, critic = companion_networks(companion)
    report = conducting_metrics(real, generated, features=features, critic=critic)
    report["reference"] = str(reference)
    report["frames"] = int(min(len(real), len(generated)))
    return report


def _cut_times(timeline, library_path: Path | None) -> tuple[list[float], str]:
    """Where the render cut between slots (``render.cut_times`` with the timeline's library,
    or ``library_path``), and where those times came from; the slot boundaries when the
    library cannot be read or no longer holds the timeline's phrases."""
    from musicdance.choreo.render import cut_times
    from musicdance.errors import MusicDanceError
    from musicdance.library import open_library

    boundaries = [s.start_s for s in timeline.slots[1:]]
    path = library_path if library_path is not None else Path(timeline.library)
    try:
        phrases = open_library(path)
        missing = set(timeline.phrase_ids()) - set(phrases.ids())
        if missing:
            return boundaries, f"slot boundaries ({path} lacks {len(missing)} of its phrases)"
        return [j.time_s for j in cut_times(timeline, phrases)], f"searched cuts ({path})"
    except MusicDanceError as error:
        if library_path is not None:
            raise
        return boundaries, f"slot boundaries (library not readable: {error})"
