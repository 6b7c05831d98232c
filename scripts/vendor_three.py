"""Copy the three.js module files the studio page needs from node_modules (npm's ``three``, a
devDependency) into ``mdruntime/studio_static/vendor/three`` with its licence, and record their
version and sha256 in ``VENDORED.json`` (tests/test_studio.py checks the copy against both).

    npm ci && python scripts/vendor_three.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "node_modules" / "three"
TARGET = REPO / "unity_bridge" / "mdruntime" / "studio_static" / "vendor" / "three"
#: What the page imports (GLTFLoader pulls in the two utils), and the licence.
FILES = (
    "LICENSE",
    "build/three.core.js",
    "build/three.module.js",
    "examples/jsm/loaders/GLTFLoader.js",
    "examples/jsm/controls/OrbitControls.js",
    "examples/jsm/utils/BufferGeometryUtils.js",
    "examples/jsm/utils/SkeletonUtils.js",
)


def main() -> None:
    version = json.loads((SOURCE / "package.json").read_text())["version"]
    shutil.rmtree(TARGET, ignore_errors=True)
    hashes = {}
    for name in FILES:
        (TARGET / name).parent.mkdir(parents=True, exist_ok=True)
        data = (SOURCE / name).read_bytes()
        (TARGET / name).write_bytes(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    manifest = {"package": "three", "version": version, "licence": "MIT", "files": hashes}
    (TARGET / "VENDORED.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored three {version}: {len(FILES)} files into {TARGET.relative_to(REPO)}")


if __name__ == "__main__":
    main()
