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
        timings["render"] = time.perf_counter() - t0
        timings.update({f"render/{k}": v for k, v in rendered.timings_s.items()})
        step("export")
        t0 = time.perf_counter()
        outputs = group_outputs(output, stem, formats, [d.name for d in group.dancers])
        export_group(group, rendered.motions, outputs, name=stem, mesh=mesh,
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
        "frames": rendered.motions[0].num_frames,
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
