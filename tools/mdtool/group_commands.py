"""Groups: ``mdtool choreograph --dancers N`` and ``mdtool evaluate`` of a group dance."""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from mdtool.app import console, print_json, stage_progress

STAGES = ("analyse", "choose phrases", "render", "export")


def formation_choice(formation: str, dancers: int):
    """A built-in formation name, or the spots read from a JSON file."""
    from musicdance.choreo.formation import FORMATIONS, read_formation_file
    from musicdance.errors import MusicDanceError

    if formation in FORMATIONS:
        return formation
    path = Path(formation)
    if path.suffix.lower() == ".json" or path.exists():
        return read_formation_file(path, dancers)
    raise MusicDanceError(
        f"--formation must be one of {', '.join(FORMATIONS)} or a .json file, got {formation!r}"
    )


def choreograph_group_command(
    song: Path, output: Path, stem: str, *, dancers: int, formation: str, lead: int,
    audience_yaw_deg: float, style, seed: int, library: Path, fps: float, formats: list[str],
    mesh: bool, bvh_unit: str, root_motion: str, bundle, no_bundle: bool,
    feature_weight: float, reuse_sections: bool, profile: bool, as_json: bool, choose_bundle,
) -> None:  # fmt: skip
    """The group branch of ``mdtool choreograph`` (its options, already checked)."""
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.export import export_group, group_outputs
    from musicdance.choreo.group import choreograph_group
    from musicdance.choreo.group_render import render_group
    from musicdance.choreo.onnx_scorer import scorer_for
    from musicdance.errors import MusicDanceError
    from musicdance.library import open_library

    if lead > dancers:
        raise MusicDanceError(f"--lead {lead} is not one of the {dancers} dancers")
    if root_motion == "in-place":
        raise MusicDanceError("a group cannot be exported in place: use --root-motion hips or "
                              "root-bone")  # fmt: skip
    spots = formation_choice(formation, dancers)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    phrases = open_library(library)
    model, scorer_name, note = choose_bundle(phrases, bundle, no_bundle)
    with stage_progress("choreograph", STAGES, enabled=not as_json) as step:
        step("analyse")
        analysis = analyze(song)
        timings["analyse"] = time.perf_counter() - started
        step("choose phrases")
        t0 = time.perf_counter()
        scorer = scorer_for(model, analysis, feature_weight=feature_weight)
        group = choreograph_group(
            analysis, phrases, dancers, formation=spots, lead=lead - 1,
            audience_yaw_deg=audience_yaw_deg, style=style, seed=seed, fps=fps,
            reuse_sections=reuse_sections, scorer=scorer,
        )  # fmt: skip
        timings["choose"] = time.perf_counter() - t0
        step("render")
        t0 = time.perf_counter()
        rendered = render_group(group, phrases)
        motions = rendered.motions()
        timings["render"] = time.perf_counter() - t0
        timings.update({f"render/{k}": v for k, v in rendered.timings_s.items()})
        step("export")
        t0 = time.perf_counter()
        outputs = group_outputs(output, stem, formats, [d.name for d in group.dancers])
        export_group(group, motions, outputs, name=stem, mesh=mesh,
                     root_motion=root_motion, bvh_unit=bvh_unit)  # fmt: skip
        timings["export"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    summary = {
        "song": str(song),
        "scorer": scorer_name,
        "style": group.base.style,
        "dancers": dancers,
        "lead": lead,
        "slots": len(group.base.slots),
        "frames": motions[0].num_frames,
        "fps": group.fps,
        "distinct_renders": rendered.distinct_renders,
        "min_distance_m": round(float(rendered.closest_m.min()), 4),
        "frames_closer_than_min": rendered.frames_too_close,
        "sections": [
            {
                "label": s.label,
                "role": s.role,
                "slots": [s.first_slot, s.stop_slot],
                "device": s.device,
                "formation": s.formation,
            }
            for s in group.sections
        ],  # fmt: skip
        "outputs": {
            k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in outputs.items()
        },  # fmt: skip
    }
    if note:
        summary["scorer_note"] = note
    if profile:
        summary["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"{song}: {dancers} dancers, {group.base.style}, "
                  f"{len(group.base.slots)} slots")  # fmt: skip
    for column in ("section", "role", "slots", "device", "formation"):
        table.add_column(column)
    for s in group.sections:
        table.add_row(s.label, s.role, f"{s.first_slot}-{s.stop_slot - 1}", s.device, s.formation)
    console.print(table)
    console.print(
        f"closest two dancers: {summary['min_distance_m']:.2f} m "
        f"({rendered.frames_too_close} frames closer than {group.min_distance_m:g} m); "
        f"{rendered.distinct_renders} distinct dances rendered"
    )
    for value in summary["outputs"].values():
        for path in value if isinstance(value, list) else [value]:
            console.print(f"wrote {path}")
    if profile:
        for key, seconds in timings.items():
            console.print(f"  {key:<22} {seconds:7.3f} s")


def group_motion_paths(motion_path: Path, names: list[str]) -> list[Path]:
    """The per-dancer ``.bvh`` files written beside a group's ``.glb`` (or given one of them):
    ``STEM.DANCER.bvh``."""
    from musicdance.errors import MusicDanceError

    stem = motion_path.name.split(".")[0]
    paths = [motion_path.parent / f"{stem}.{name}.bvh" for name in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise MusicDanceError(f"a group is evaluated on its dancers' .bvh files; {missing[0]} "
                              "is missing (choreograph with --format including bvh)")  # fmt: skip
    return paths


def evaluate_group_command(motion_path: Path, song: Path, timeline_path: Path, library,
                           as_json: bool) -> None:  # fmt: skip
    """``mdtool evaluate`` on a group: the dancers' motions, the song and the group timeline."""
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.group import read_group_timeline
    from musicdance.choreo.group_render import MemoLibrary
    from musicdance.choreo.render import cut_times
    from musicdance.errors import MusicDanceError
    from musicdance.evaluate.group import evaluate_group
    from musicdance.io.files import load_motion
    from musicdance.library import open_library

    group = read_group_timeline(timeline_path)
    paths = group_motion_paths(motion_path, [d.name for d in group.dancers])
    motions = [load_motion(p) for p in paths]
    analysis = analyze(song)
    cuts, where = None, "slot boundaries"
    try:
        phrases = MemoLibrary(open_library(library or Path(group.base.library)))
        known: dict = {}
        cuts = []
        for d in range(group.num_dancers):
            key = group.render_key(d)
            if key not in known:
                known[key] = [j.time_s for j in cut_times(group.dancer_timeline(d), phrases)]
            cuts.append(known[key])
        where = "searched cuts"
    except MusicDanceError:
        if library is not None:
            raise
        cuts = None
    report = {"timeline": str(timeline_path), "song": str(song), "cut_times": where}
    report.update(evaluate_group(group, motions, analysis.beat_times_s, cut_times_s=cuts))
    if as_json:
        print_json(report)
        return
    table = Table(title=f"{timeline_path}: {group.num_dancers} dancers", show_header=False)
    table.add_row("closest two hips (m)", f"{report['min_distance_m']:.3f}")
    table.add_row(f"frames closer than {group.min_distance_m:g} m", str(report["frames_closer"]))
    table.add_row("formation error mean / max (m)",
                  f"{report['formation_error_m']['mean']:.3f} / "
                  f"{report['formation_error_m']['max']:.3f}")  # fmt: skip
    sync = report["synchrony_cm"]
    if sync["frames"]:
        table.add_row("unison pose gap mean / max (cm)", f"{sync['mean']:.2f} / {sync['max']:.2f}")
    table.add_row("canon delay error, max (counts)", f"{report['canon']['max_error_counts']:.2f}")
    worst = report["worst"]
    table.add_row("worst BAS", f"{worst['beat_align']:.3f}")
    table.add_row("worst foot skating (cm/s)", f"{worst['foot_skating_cm_s']:.3f}")
    table.add_row("worst join ratio", f"{worst['worst_join_ratio']:.2f}")
    console.print(table)
