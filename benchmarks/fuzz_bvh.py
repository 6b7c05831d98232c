"""Long BVH fuzz run: mutated real BVH files through read_bvh, both writers and the CLI.

    python benchmarks/fuzz_bvh.py --seconds 600 [--seed 0] [--cli-every 50]

Prints inputs, outcomes (read, rejected, uncaught, unreadable, hang, cli), the largest traced
allocation of one input and the process's peak memory; exits 1 if any input failed. Each input
gets 20 s (an alarm); see ``tests/fuzz/harness.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import (  # noqa: E402
    bvh_corpus,
    check_cli_convert,
    check_motion_file,
    mutate_bvh,
    print_tally,
    run_campaign,
    small_bvh_text,
)

from musicdance.io.bvh import read_bvh  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument("--cli-every", type=int, default=50, help="run the CLI on every Nth input")
    args = parser.parse_args()
    sources = [small_bvh_text(p) for p in bvh_corpus()]
    counter = {"n": 0}

    def make_input(rng, folder: Path) -> Path:
        path = folder / "fuzz.bvh"
        path.write_bytes(mutate_bvh(rng.choice(sources), rng))
        return path

    def cli(path: Path):
        counter["n"] += 1
        if counter["n"] % args.cli_every:
            return "read", ""
        return check_cli_convert(path, ".glb" if counter["n"] % 2 else ".bvh")

    start = time.monotonic()
    tally = run_campaign(
        "bvh",
        make_input,
        [lambda p: check_motion_file(p, read_bvh), cli],
        seconds=args.seconds,
        max_inputs=args.inputs,
        seed=args.seed,
    )
    print_tally("BVH fuzz", tally, time.monotonic() - start)
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
