"""Fuzz phrase libraries (issue 14): damaged copies of a real small library (bytes flipped,
truncated, empty or missing database, rows with impossible values, motion files damaged or
missing), then reads, ``validate``, writes and ``repair`` on each; prints the counts.

Reads must succeed or raise one clear error; a failed write must change no file; a failed
repair must leave no destination folder.

    python benchmarks/fuzz_library.py --seconds 300 [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))

from svc_fuzzing import (  # noqa: E402
    Tally,
    copy_tree,
    damage_library,
    fuzz_library_one,
    library_seed,
    peak_rss_mb,
)


def seed_phrases():
    from musicdance.library.procedural.build import starter_phrases

    return list(
        starter_phrases(styles=["hiphop"], moves=["step-touch", "rock"], energies=["calm"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-inputs", type=int, default=10**9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally = Tally()
    damages: dict[str, int] = {}
    libraries = 0
    with tempfile.TemporaryDirectory(prefix="fuzz-library-") as tmp:
        work = Path(tmp)
        phrases = seed_phrases()
        seed = library_seed(work / "seed", phrases)
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline and libraries < args.max_inputs:
            folder = copy_tree(seed, work / "case" / "lib")
            for _ in range(rng.choice((1, 1, 2))):
                if not (folder / "library.sqlite").exists():
                    break
                done = damage_library(folder, rng)
                key = done.split(" WHERE")[0][:60]
                damages[key] = damages.get(key, 0) + 1
            fuzz_library_one(folder, rng, phrases[0], tally)
            libraries += 1
    summary = tally.summary()
    report = {"seed": args.seed, "seconds": args.seconds, "damaged_libraries": libraries,
              "operations": summary, "damages": damages,
              "peak_rss_mb": round(peak_rss_mb(), 1)}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{libraries} damaged libraries, {summary['inputs']} operations: {summary['ok']} ok, "
              f"{summary['refused']} refused, {summary['uncaught']} uncaught, {summary['hang']} "
              f"hangs, {summary['partial']} partial, {summary['changed']} changed by failed "
              f"commands; slowest {summary['slowest_s']} s; peak RSS {report['peak_rss_mb']} MB")
        for outcome, examples in summary["examples"].items():
            for example in examples:
                print(f"  {outcome}: {example}")
    sys.exit(1 if tally.bad else 0)


if __name__ == "__main__":
    main()
