"""Jobs run inside Blender's Python (the ``bpy`` package from PyPI), as a separate process:
``python blender_task.py JOB.json RESULT.json``. Standard library and ``bpy`` only, so it runs in
an interpreter that has nothing of mdtool (``bpy`` pins numpy 1.x; mdtool's own environment
may have numpy 2). :mod:`musicdance.io.blender` starts it.

Jobs (``{"job": ..., ...}``):

- ``glb_to_fbx``: ``glb``, ``fbx``, ``fps``, ``name`` (the take's name), ``more`` (further
  ``.glb`` files of the same skeleton: one more take each, named after their clips). Blender's
  glTF importer, then its FBX exporter with the Unity-friendly settings of
  :data:`FBX_EXPORT_SETTINGS`.
- ``glb_to_blend``: ``glb``, ``blend``, ``fps``, ``name``: a ``.blend`` whose scene has the
  clip's frame rate and frame range.
- ``inspect``: ``items`` (``[{"path", "kind": "glb"|"bvh"|"fbx"|"blend", "bvh_scale"?,
  "fps"?}]``) and
  ``frames`` (scene frame offsets from the start to sample). Each item is imported into an
  empty scene the way the docs tell a user to; the result lists the armature's bones, the
  action names and frame ranges, the scene's fps and frame range, whether every key falls on a
  whole frame, and the bones' head positions (world, converted to Y-up: Blender ``(x, y, z)``
  is ``(x, z, -y)``) at the sampled frames. ``render`` (``{"item": i, "path", "frame"}``)
  draws one item with Cycles on the CPU.
"""

from __future__ import annotations

import json
import math
import sys

#: Blender's FBX exporter settings for Unity (docs/engines.md): Y up, -Z forward, units applied
#: as FBX's unit scale (Unity then imports at scale 1 with no 90-degree root rotation), no leaf
#: bones, every frame baked (no curve simplification, so keys match the source exactly).
FBX_EXPORT_SETTINGS = {
    "use_selection": False,
    "object_types": {"ARMATURE", "MESH"},
    "apply_scale_options": "FBX_SCALE_UNITS",
    "axis_forward": "-Z",
    "axis_up": "Y",
    "bake_space_transform": False,
    "add_leaf_bones": False,
    "primary_bone_axis": "Y",
    "secondary_bone_axis": "X",
    "armature_nodetype": "NULL",
    "use_armature_deform_only": False,
    "bake_anim": True,
    "bake_anim_use_all_bones": True,
    "bake_anim_use_nla_strips": False,
    "bake_anim_use_all_actions": False,
    "bake_anim_force_startend_keying": True,
    "bake_anim_step": 1.0,
    "bake_anim_simplify_factor": 0.0,
}


def _empty_scene(fps: float | None = None):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    if fps:
        whole = max(1, round(fps))
        scene.render.fps = whole
        scene.render.fps_base = whole / fps
    return scene


def _import(item: dict):
    import bpy

    path, kind = item["path"], item["kind"]
    if kind == "glb":
        bpy.ops.import_scene.gltf(filepath=path, disable_bone_shape=True)
    elif kind == "bvh":
        bpy.ops.import_anim.bvh(
            filepath=path, global_scale=float(item.get("bvh_scale", 1.0)),
            update_scene_fps=True, update_scene_duration=True,
        )  # fmt: skip
    elif kind == "fbx":
        bpy.ops.import_scene.fbx(filepath=path)
    elif kind == "blend":
        bpy.ops.wm.open_mainfile(filepath=path)
    else:
        raise ValueError(f"unknown kind {kind!r}")


def _armature():
    import bpy

    found = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if len(found) != 1:
        raise ValueError(f"expected one armature, found {len(found)}")
    return found[0]


def _fcurves(action, obj):
    """F-curves of ``action`` (Blender 4.4+ layered actions, or the older flat list)."""
    if hasattr(action, "layers") and action.layers:
        curves = []
        slot = obj.animation_data.action_slot if obj.animation_data else None
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(slot) if slot is not None else None
                if bag is not None:
                    curves.extend(bag.fcurves)
        return curves
    return list(getattr(action, "fcurves", []))


def _inspect_item(item: dict, frames: list[int]) -> dict:
    import bpy

    scene = _empty_scene(item.get("fps"))
    _import(item)
    scene = bpy.context.scene  # a .blend brings its own
    armature = _armature()
    action = armature.animation_data.action if armature.animation_data else None
    fractional = 0
    keys = 0
    if action is not None:
        for curve in _fcurves(action, armature):
            for point in curve.keyframe_points:
                keys += 1
                if abs(point.co[0] - round(point.co[0])) > 1e-3:
                    fractional += 1
    # Frame offsets count from the action's first key (glTF imports start at 0, BVH at 1).
    start = round(action.frame_range[0]) if action is not None else scene.frame_start
    last = round(action.frame_range[1]) if action is not None else scene.frame_end
    positions = []
    for offset in frames:
        frame = start + offset
        if frame > last:
            break
        scene.frame_set(frame)
        matrix = armature.matrix_world
        row = []
        for bone in armature.pose.bones:
            x, y, z = matrix @ bone.head
            row.append([x, z, -y])
        positions.append({"frame": frame, "heads": row})
    return {
        "path": item["path"],
        "kind": item["kind"],
        "armature": armature.name,
        "bones": [bone.name for bone in armature.pose.bones],
        "parents": [bone.parent.name if bone.parent else None for bone in armature.pose.bones],
        "actions": [a.name for a in bpy.data.actions],
        "action": action.name if action is not None else None,
        "action_frame_range": list(action.frame_range) if action is not None else None,
        "scene_name": scene.name,
        "scene_fps": scene.render.fps / scene.render.fps_base,
        "scene_frame_range": [scene.frame_start, scene.frame_end],
        "keys": keys,
        "fractional_keys": fractional,
        "meshes": sum(1 for o in scene.objects if o.type == "MESH"),
        "scene_properties": sorted(scene.keys()),
        "action_properties": sorted(action.keys()) if action is not None else [],
        "samples": positions,
    }


def _render(item: dict, frame: int, path: str) -> None:
    import bpy
    from mathutils import Vector

    scene = _empty_scene(item.get("fps"))
    _import(item)
    armature = _armature()
    action = armature.animation_data.action if armature.animation_data else None
    scene.frame_set(round(action.frame_range[0] if action else scene.frame_start) + frame)
    heads = [armature.matrix_world @ b.head for b in armature.pose.bones]
    centre = sum(heads, Vector()) / len(heads)
    bpy.ops.mesh.primitive_plane_add(size=8.0, location=(centre.x, centre.y, 0.0))
    camera_data = bpy.data.cameras.new("camera")
    camera = bpy.data.objects.new("camera", camera_data)
    scene.collection.objects.link(camera)
    # A default front view: Blender's -Y is glTF's +Z, where the dancer faces.
    camera.location = (centre.x + 1.2, centre.y - 5.0, 1.4)
    direction = Vector((centre.x, centre.y, 0.9)) - camera.location
    camera.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    scene.camera = camera
    sun_data = bpy.data.lights.new("sun", "SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("sun", sun_data)
    sun.rotation_euler = (math.radians(50), 0.0, math.radians(30))
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("world")
    world.color = (0.6, 0.65, 0.7)
    scene.world = world
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 8
    scene.cycles.use_denoising = False
    scene.render.resolution_x = 480
    scene.render.resolution_y = 360
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)


def _read_fbx(job: dict) -> dict:
    """Every frame of one take: bone world positions and rotation matrices (Y-up), rest too,
    saved as ``.npy`` files beside the result."""
    import bpy
    import numpy as np

    _empty_scene()
    bpy.ops.import_scene.fbx(filepath=job["path"], use_anim=True, ignore_leaf_bones=False)
    scene = bpy.context.scene
    armature = _armature()
    takes = sorted({a.name for a in bpy.data.actions}, key=[a.name for a in bpy.data.actions].index)
    result: dict = {"takes": takes, "fps": scene.render.fps / scene.render.fps_base}
    if job.get("list_only"):
        return result
    if not takes:
        raise ValueError("the FBX file has no animation")
    take = job.get("take")
    if take is None:
        chosen = takes[0]
    elif isinstance(take, int):
        if not 0 <= take < len(takes):
            raise ValueError(f"take {take} does not exist ({len(takes)} takes)")
        chosen = takes[take]
    else:
        matches = [t for t in takes if t == take or t.split("|")[-1] == take]
        if not matches:
            raise ValueError(f"no take named {take!r} (takes: {', '.join(takes)})")
        chosen = matches[0]
    action = bpy.data.actions[chosen]
    if armature.animation_data is None:
        armature.animation_data_create()
    armature.animation_data.action = action
    if hasattr(armature.animation_data, "action_slot") and action.slots:
        armature.animation_data.action_slot = action.slots[0]
    bones = list(armature.pose.bones)
    axis = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # Blender z-up to y-up

    def world(matrices: list) -> tuple:
        m = np.array([[list(row) for row in matrix] for matrix in matrices])  # [J, 4, 4]
        return m[:, :3, 3] @ axis.T, axis @ m[:, :3, :3] @ axis.T

    obj = armature.matrix_world
    rest_p, rest_m = world([obj @ b.bone.matrix_local for b in bones])
    first, last = (round(v) for v in action.frame_range)
    positions, rotations = [], []
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        p, m = world([obj @ b.matrix for b in bones])
        positions.append(p)
        rotations.append(m)
    folder = job["out"]
    np.save(f"{folder}/positions.npy", np.array(positions))
    np.save(f"{folder}/matrices.npy", np.array(rotations))
    np.save(f"{folder}/rest_positions.npy", rest_p)
    np.save(f"{folder}/rest_matrices.npy", rest_m)
    result.update(
        take=chosen, bones=[b.name for b in bones],
        parents=[bones.index(b.parent) if b.parent else -1 for b in bones],
    )  # fmt: skip
    return result


def run(job: dict) -> dict:
    """Do one job (see the module docstring) and return its result."""
    import bpy

    result: dict = {"blender": bpy.app.version_string}
    if job["job"] == "glb_to_fbx":
        scene = _empty_scene(job.get("fps"))
        _import({"path": job["glb"], "kind": "glb"})
        # Blender's glTF importer keeps the scene's 1-250 range; the exporter bakes that range.
        action = _armature().animation_data.action
        scene.frame_start, scene.frame_end = (round(v) for v in action.frame_range)
        # The exporter names the FBX take (Unity's clip) after the scene.
        scene.name = job.get("name") or action.name
        settings = dict(FBX_EXPORT_SETTINGS)
        more = job.get("more") or []
        if more:  # more takes of the same skeleton: their actions only, one stack each
            action.use_fake_user = True
            for glb in more:
                before = set(scene.objects)
                _import({"path": glb, "kind": "glb"})
                added = [o for o in scene.objects if o not in before]
                for obj in added:
                    if obj.type == "ARMATURE" and obj.animation_data and obj.animation_data.action:
                        obj.animation_data.action.use_fake_user = True
                        end = round(obj.animation_data.action.frame_range[1])
                        scene.frame_end = max(scene.frame_end, end)
                    bpy.data.objects.remove(obj, do_unlink=True)
            settings["bake_anim_use_all_actions"] = True
        bpy.ops.export_scene.fbx(filepath=job["fbx"], **settings)
        return result
    if job["job"] == "glb_to_blend":
        scene = _empty_scene(job.get("fps"))
        _import({"path": job["glb"], "kind": "glb"})
        action = _armature().animation_data.action
        scene.frame_start, scene.frame_end = (round(v) for v in action.frame_range)
        scene.name = job.get("name") or action.name
        bpy.ops.wm.save_as_mainfile(filepath=job["blend"], compress=True)
        return result
    if job["job"] == "read_fbx":
        result.update(_read_fbx(job))
        return result
    if job["job"] == "inspect":
        result["items"] = [_inspect_item(item, job.get("frames", [0])) for item in job["items"]]
        render = job.get("render")
        if render:
            _render(job["items"][render["item"]], int(render.get("frame", 0)), render["path"])
            result["render"] = render["path"]
        return result
    raise ValueError(f"unknown job {job['job']!r}")


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    try:
        result = run(job)
    except Exception as error:  # reported to the caller as one line
        result = {"error": f"{type(error).__name__}: {error}"}
    with open(argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
