"""Long glTF/GLB fuzz run: mutated GLB files written by mdtool (and .gltf variants with data:,
relative and hostile buffer URIs) through read_gltf, both writers and the CLI.

    python benchmarks/fuzz_gltf.py --seconds 600 [--seed 0] [--cli-every 50]

Prints inputs, outcomes (read, rejected, uncaught, unreadable, hang, cli), the largest traced
allocation of one input and the process's peak memory; exits 1 if any input failed. Each input
gets 20 s (an alarm); see ``tests/fuzz/harness.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import (  # noqa: E402
    check_cli_convert,
    check_motion_file,
    glb_corpus,
    mutate_glb,
    print_tally,
    run_campaign,
)

from musicdance.io.gltf import read_gltf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument("--cli-every", type=int, default=50, help="run the CLI on every Nth input")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdfuzz-corpus-") as folder:
        sources = [p.read_bytes() for p in glb_corpus(Path(folder))]
    counter = {"n": 0}

    def make_input(rng, folder: Path) -> Path:
        as_gltf = rng.random() < 0.25
        data, side = mutate_glb(rng.choice(sources), rng, as_gltf=as_gltf)
        for name, content in side.items():
            (folder / name).write_bytes(content)
        path = folder / ("fuzz.gltf" if as_gltf else "fuzz.glb")
        path.write_bytes(data)
        return path

    def cli(path: Path):
        counter["n"] += 1
        if counter["n"] % args.cli_every:
            return "read", ""
        return check_cli_convert(path, ".glb" if counter["n"] % 2 else ".bvh")

    start = time.monotonic()
    tally = run_campaign(
        "gltf",
        make_input,
        [lambda p: check_motion_file(p, read_gltf), cli],
        seconds=args.seconds,
        max_inputs=args.inputs,
        seed=args.seed,
    )
    print_tally("glTF/GLB fuzz", tally, time.monotonic() - start)
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
