"""glTF 2.0 container constants shared by the writer (``gltf_writer``) and reader (``gltf_reader``).

glTF shares the SDK conventions (Y-up, right-handed, metres, +Z forward, quaternions x, y, z, w),
so no axis or unit conversion happens in either direction.
"""

from __future__ import annotations

EXTRAS_KEY = "musicdance"
"""Key of mdtool's own data (fps, BVH end sites) in ``asset.extras``."""
GLB_MAGIC = b"glTF"
CHUNK_JSON = b"JSON"
CHUNK_BIN = b"BIN\0"
