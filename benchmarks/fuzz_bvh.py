"""Long BVH fuzz run: mutated real BVH files through read_bvh, both writers and the CLI.

    python benchmarks/fuzz_bvh.py --seconds 600 [--seed 0] [--cli-every 50]

Prints inputs, outcomes (read, rejected, uncaught, unreadable, hang, cli), the largest traced
allocation of one input and the process's peak memory; exits 1 if any input failed. Each input
gets 20 s (an alarm); see ``tests/fuzz/harness.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import (  # noqa: E402
    bvh_corpus,
    campaign_main,
    check_cli_convert,
    check_motion_file,
    every_nth,
    mutate_bvh,
    small_bvh_text,
)

from musicdance.io.bvh import read_bvh  # noqa: E402


def bvh_campaign(args):
    sources = [small_bvh_text(p) for p in bvh_corpus()]

    def make_input(rng, folder: Path) -> Path:
        path = folder / "fuzz.bvh"
        path.write_bytes(mutate_bvh(rng.choice(sources), rng))
        return path

    def cli(path: Path, n: int):
        return check_cli_convert(path, ".glb" if n % 2 else ".bvh")

    return make_input, [lambda p: check_motion_file(p, read_bvh), every_nth(cli, args.cli_every)]


if __name__ == "__main__":
    campaign_main(__doc__, "BVH fuzz", bvh_campaign, name="bvh", cli_every=50)
