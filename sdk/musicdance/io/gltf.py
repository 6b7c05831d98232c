"""glTF 2.0 export (GLB) and import (.glb and .gltf) of motions.

The writer lives in ``musicdance.io.gltf_writer``, the reader in ``musicdance.io.gltf_reader``;
this module keeps the public import path (``from musicdance.io.gltf import read_gltf``).
glTF shares the SDK conventions (Y-up, right-handed, metres, +Z forward, quaternions x, y, z, w),
so no axis or unit conversion happens in either direction.
"""

from __future__ import annotations

from musicdance.io.gltf_reader import DEFAULT_FPS, JOINT_CHANNELS, ROOT_CHANNELS, read_gltf
from musicdance.io.gltf_writer import write_glb

__all__ = ["DEFAULT_FPS", "JOINT_CHANNELS", "ROOT_CHANNELS", "read_gltf", "write_glb"]
