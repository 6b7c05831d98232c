"""Long glTF/GLB fuzz run: mutated GLB files written by mdtool (and .gltf variants with data:,
relative and hostile buffer URIs) through read_gltf, both writers and the CLI.

    python benchmarks/fuzz_gltf.py --seconds 600 [--seed 0] [--cli-every 50]

Prints inputs, outcomes (read, rejected, uncaught, unreadable, hang, cli), the largest traced
allocation of one input and the process's peak memory; exits 1 if any input failed. Each input
gets 20 s (an alarm); see ``tests/fuzz/harness.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import (  # noqa: E402
    campaign_main,
    check_cli_convert,
    check_motion_file,
    every_nth,
    glb_corpus,
    mutate_glb,
)

from musicdance.io.gltf import read_gltf  # noqa: E402


def gltf_campaign(args):
    with tempfile.TemporaryDirectory(prefix="mdfuzz-corpus-") as folder:
        sources = [p.read_bytes() for p in glb_corpus(Path(folder))]

    def make_input(rng, folder: Path) -> Path:
        as_gltf = rng.random() < 0.25
        data, side = mutate_glb(rng.choice(sources), rng, as_gltf=as_gltf)
        for name, content in side.items():
            (folder / name).write_bytes(content)
        path = folder / ("fuzz.gltf" if as_gltf else "fuzz.glb")
        path.write_bytes(data)
        return path

    def cli(path: Path, n: int):
        return check_cli_convert(path, ".glb" if n % 2 else ".bvh")

    return make_input, [lambda p: check_motion_file(p, read_gltf), every_nth(cli, args.cli_every)]


if __name__ == "__main__":
    campaign_main(__doc__, "glTF/GLB fuzz", gltf_campaign, name="gltf", cli_every=50)
