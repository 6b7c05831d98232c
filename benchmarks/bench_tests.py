"""Where the test suite's time goes, in CPU seconds (wall time alone misleads on a shared machine).

Reads the per-test reports that ``pytest --cpu-report PATH`` writes (tests/conftest.py: one JSON
line per test with the CPU seconds of the test process and its waited-for children, setup, call
and teardown together, and the wall seconds) and prints the totals, the files and the tests that
cost most. With two reports (before and after a change), only the tests present in both are
compared, file by file, and the counts are printed so that "the same tests" can be checked.

    python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --cpu-report before.jsonl
    python benchmarks/bench_tests.py before.jsonl [after.jsonl] [--top 25] [--json OUT]

A module or session fixture is charged to the first test that uses it; a fixture shared between
xdist workers (tests/train_support.py) to the test whose worker built it. The whole suite's time,
with xdist's own processes, is measured with ``/usr/bin/time -v`` around pytest (docs in
tests/README.md).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def read_report(path: Path) -> dict[str, dict]:
    """Test id -> ``{"cpu_s", "wall_s"}`` (the last row of a test that ran twice)."""
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["test"]] = row
    return rows


def per_file(rows: dict[str, dict], ids) -> dict[str, dict]:
    """File -> tests, CPU seconds and wall seconds over the test ids given."""
    files: dict[str, dict] = defaultdict(lambda: {"tests": 0, "cpu_s": 0.0, "wall_s": 0.0})
    for test in ids:
        entry = files[test.split("::")[0]]
        entry["tests"] += 1
        entry["cpu_s"] += rows[test]["cpu_s"]
        entry["wall_s"] += rows[test]["wall_s"]
    return dict(files)


def summary(rows: dict[str, dict], ids) -> dict:
    ids = list(ids)
    return {
        "tests": len(ids),
        "cpu_s": round(sum(rows[t]["cpu_s"] for t in ids), 1),
        "wall_s": round(sum(rows[t]["wall_s"] for t in ids), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    before = read_report(args.before)
    out: dict = {"before": {"all": summary(before, before)}}
    print(f"{args.before}: {out['before']['all']['tests']} tests, "
          f"{out['before']['all']['cpu_s']:.1f} s CPU, "
          f"{out['before']['all']['wall_s']:.1f} s wall (summed over workers)")  # fmt: skip
    if args.after is None:
        files = per_file(before, before)
        print(f"\n{'CPU s':>8} {'wall s':>8} {'tests':>5}  file")
        for name, f in sorted(files.items(), key=lambda kv: -kv[1]["cpu_s"])[: args.top]:
            print(f"{f['cpu_s']:8.1f} {f['wall_s']:8.1f} {f['tests']:5d}  {name}")
        print(f"\n{'CPU s':>8} {'wall s':>8}  test")
        for test, row in sorted(before.items(), key=lambda kv: -kv[1]["cpu_s"])[: args.top]:
            print(f"{row['cpu_s']:8.1f} {row['wall_s']:8.1f}  {test}")
        out["files"] = files
    else:
        after = read_report(args.after)
        common = sorted(set(before) & set(after))
        out["after"] = {"all": summary(after, after)}
        out["common"] = {"before": summary(before, common), "after": summary(after, common)}
        b, a = out["common"]["before"], out["common"]["after"]
        print(f"{args.after}: {out['after']['all']['tests']} tests, "
              f"{out['after']['all']['cpu_s']:.1f} s CPU")  # fmt: skip
        print(f"same {len(common)} tests: CPU {b['cpu_s']:.1f} -> {a['cpu_s']:.1f} s "
              f"({a['cpu_s'] / max(b['cpu_s'], 1e-9):.2f}x)")  # fmt: skip
        fb, fa = per_file(before, common), per_file(after, common)
        print(f"\n{'before':>8} {'after':>8} {'tests':>5}  file (CPU s, same tests)")
        for name in sorted(fb, key=lambda n: fa[n]["cpu_s"] - fb[n]["cpu_s"])[: args.top]:
            was, now = fb[name], fa[name]
            print(f"{was['cpu_s']:8.1f} {now['cpu_s']:8.1f} {was['tests']:5d}  {name}")
        out["files"] = {"before": fb, "after": fa}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
