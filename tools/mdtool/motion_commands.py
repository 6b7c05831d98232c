"""Motion file commands: ``mdtool info`` and ``mdtool convert``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mdtool.app import (
    MESH_OPTION,
    ROOT_MOTION_OPTION,
    UNITS_OPTION,
    app,
    console,
    err_console,
    mesh_choice,
    print_json,
    root_motion_choice,
    units_choice,
)

TAKE_OPTION = typer.Option(
    None, "--take", help="FBX only: the take (animation stack) by name or index (default: first)."
)


def _take(take: str | None) -> str | int | None:
    return int(take) if take is not None and take.isdigit() else take


@app.command()
def info(
    path: Path = typer.Argument(..., help="Motion file (.bvh, .glb, .gltf, .fbx)."),
    scale: float = typer.Option(None, "--scale", help="Metres per BVH unit (default: detect)."),
    take: str = TAKE_OPTION,
    mapping: bool = typer.Option(
        False, "--mapping", help="Show how each canonical joint would be mapped for retargeting."
    ),
    map_file: Path = typer.Option(
        None, "--map", help="JSON mapping {canonical joint: source joint} (overrides the rest)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Frames, fps, duration, joints and the skeleton convention of a motion file.

    With --mapping, also the mapping retargeting would use: for every canonical joint, the
    source joint and how it was found (name, synonym, topology or user).
    """
    from musicdance.io.files import load_motion
    from musicdance.motion.describe import describe_motion
    from musicdance.motion.retarget import load_mapping_file, map_joints

    takes = None
    if path.suffix.lower() == ".fbx":
        from musicdance.io.fbx import read_fbx_take

        motion, takes = read_fbx_take(path, take=_take(take))
    else:
        motion = load_motion(path, scale=scale, take=_take(take))
    report = {"file": str(path), **describe_motion(motion)}
    if takes is not None:
        report["takes"] = takes
    if mapping or map_file is not None:
        user_map = load_mapping_file(map_file) if map_file is not None else None
        report["mapping"] = map_joints(motion.skeleton, user_map).to_json()
    if as_json:
        print_json(report)
        return
    table = Table(title=str(path), show_header=False)
    for key, value in report.items():
        if key not in ("file", "joint_names", "mapping"):
            table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    if "mapping" in report:
        found = report["mapping"]
        joints = Table(title=f"mapping ({found['convention']})")
        for column in ("canonical joint", "source joint", "matched by"):
            joints.add_column(column)
        for name, entry in found["joints"].items():
            joints.add_row(name, entry["source"], entry["method"])
        for name in found["unmapped_canonical"]:
            joints.add_row(name, "-", "not found")
        console.print(joints)


@app.command()
def convert(
    source: Path = typer.Argument(..., help="Input motion (.bvh, .glb, .gltf, .fbx)."),
    target: Path = typer.Argument(
        ..., help="Output: .bvh, .glb, or through Blender (mdtool[fbx]) .fbx or .blend."
    ),
    take: str = TAKE_OPTION,
    retarget: bool = typer.Option(
        False, "--retarget", help="Retarget onto the canonical humanoid (Unity bone names)."
    ),
    mapping: Path = typer.Option(
        None, "--map", help="JSON mapping {canonical joint: source joint} for --retarget."
    ),
    keep_placement: bool = typer.Option(
        False,
        "--keep-placement",
        help="With --retarget: keep the take's facing, position and floor height as captured.",
    ),
    fps: float = typer.Option(None, "--fps", help="Resample to this frame rate."),
    name: str = typer.Option(
        None, "--name", help="Clip and scene name in a .glb (default: the output file stem)."
    ),
    mesh: str = MESH_OPTION,
    units: str = UNITS_OPTION,
    root_motion: str = ROOT_MOTION_OPTION,
    scale: float = typer.Option(None, "--scale", help="Metres per BVH unit (default: detect)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """Convert between BVH, GLB and FBX, optionally retargeting and resampling.

    A retargeted take starts clean: a leading reference pose (T-pose frames followed by a jump
    to the performance) is dropped, and unless --keep-placement it faces +Z at its start with
    the hips over the origin and the feet on the floor.
    """
    from musicdance.io.files import load_motion, save_motion
    from musicdance.motion import resample
    from musicdance.motion.placement import clean_take
    from musicdance.motion.retarget import load_mapping_file
    from musicdance.motion.retarget import retarget as retarget_motion

    with_mesh = mesh_choice(mesh)
    root_motion_choice(root_motion)
    units_choice(units)
    if keep_placement and not (retarget or mapping is not None):
        raise typer.BadParameter("--keep-placement applies to --retarget")
    motion = load_motion(source, scale=scale, take=_take(take))
    report: dict = {"source": str(source), "target": str(target)}
    if retarget or mapping is not None:
        user_map = load_mapping_file(mapping) if mapping is not None else None
        motion, joint_map = retarget_motion(motion, user_map)
        motion, cleanup = clean_take(motion, keep_placement=keep_placement)
        report["convention"] = joint_map.convention
        report["cleanup"] = cleanup.to_json()
        report["unmapped_source_joints"] = joint_map.unmapped_source
        report["unmapped_canonical_joints"] = joint_map.unmapped_canonical
    if fps is not None:
        motion = resample(motion, fps)
    save_motion(motion, target, name=name, mesh=with_mesh, root_motion=root_motion,
                bvh_unit=units_choice(units))  # fmt: skip
    report.update(frames=motion.num_frames, fps=motion.fps, joints=motion.skeleton.num_joints)
    if as_json:
        print_json(report)
        return
    console.print(
        f"wrote {target}: {motion.num_frames} frames at {motion.fps:g} fps, "
        f"{motion.skeleton.num_joints} joints"
    )
    if "convention" in report:
        console.print(f"retargeted from the {report['convention']} convention")
        for note in report["cleanup"]["notes"]:
            err_console.print(f"note: {note}")
        unmapped = report["unmapped_source_joints"]
        if unmapped:
            err_console.print(
                f"note: {len(unmapped)} source joints not mapped (their motion is folded into "
                f"their parents): {', '.join(unmapped[:12])}{' ...' if len(unmapped) > 12 else ''}"
            )
        if report["unmapped_canonical_joints"]:
            err_console.print(
                "note: canonical joints with no source (kept at rest): "
                + ", ".join(report["unmapped_canonical_joints"])
            )
