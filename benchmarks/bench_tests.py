"""Where the test suite's time goes, in CPU seconds (wall time alone misleads on a shared machine).

Reads the per-test reports that ``pytest --cpu-report PATH`` writes (tests/conftest.py: one JSON
line per test with the CPU seconds of the test process and its waited-for children, setup, call
and teardown together, and the wall seconds) and prints the totals, the files and the tests that
cost most. With two reports (before and after a change), only the tests present in both are
compared, file by file, and the counts are printed so that "the same tests" can be checked.

    python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --cpu-report before.jsonl
    python benchmarks/bench_tests.py before.jsonl [after.jsonl] [--top 25] [--workers 2] \
        [--json OUT]

Each report's expected wall on ``--workers`` cores is printed too: pytest-xdist's ``--dist
loadfile`` schedule replayed on the per-file CPU seconds (the files in ``SLOW_FILES_FIRST``
order, then the rest by path, each to the first free worker), next to its floor, the larger of
sum CPU / workers and the longest file. It assumes a quiet machine (one core per worker) and
leaves out collection and start-up (~20 s CPU a worker).

A module or session fixture is charged to the first test that uses it; a fixture shared between
xdist workers (tests/train_support.py) to the test whose worker built it. The whole suite's time,
with xdist's own processes, is measured with ``/usr/bin/time -v`` around pytest (docs in
tests/README.md).
"""

from __future__ import annotations

import argparse
import ast
import heapq
import json
from collections import defaultdict
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"


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


def slow_files_first() -> tuple[str, ...]:
    """``SLOW_FILES_FIRST`` from tests/conftest.py (read, not imported)."""
    for node in ast.parse(CONFTEST.read_text()).body:
        named = getattr(node.targets[0], "id", "") if isinstance(node, ast.Assign) else ""
        if named == "SLOW_FILES_FIRST":
            return tuple(ast.literal_eval(node.value))
    return ()


def expected_wall(files: dict[str, dict], workers: int) -> dict:
    """The ``--dist loadfile`` schedule on ``workers`` cores: each file, in conftest's order,
    goes whole to the first free worker. Returns the wall (s), its floor and the longest file."""
    rank = {name: i for i, name in enumerate(slow_files_first())}
    order = sorted(files, key=lambda f: (rank.get(Path(f).name, len(rank)), f))
    free = [0.0] * workers
    for name in order:
        heapq.heappush(free, heapq.heappop(free) + files[name]["cpu_s"])
    total = sum(f["cpu_s"] for f in files.values())
    longest = max(files, key=lambda f: files[f]["cpu_s"])
    return {
        "workers": workers,
        "wall_s": round(max(free), 1),
        "floor_s": round(max(total / workers, files[longest]["cpu_s"]), 1),
        "sum_cpu_per_worker_s": round(total / workers, 1),
        "longest_file": longest,
        "longest_file_s": round(files[longest]["cpu_s"], 1),
    }


def print_expected(label: str, files: dict[str, dict], workers: int) -> dict:
    wall = expected_wall(files, workers)
    print(f"{label}: expected wall on {workers} cores {wall['wall_s']:.1f} s "
          f"(sum CPU / {workers} = {wall['sum_cpu_per_worker_s']:.1f} s; longest file "
          f"{wall['longest_file']} {wall['longest_file_s']:.1f} s)")  # fmt: skip
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2, help="cores for the expected wall")
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
        out["expected"] = print_expected(f"\n{args.before}", files, args.workers)
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
        print()
        out["expected"] = {
            "before": print_expected(str(args.before), per_file(before, before), args.workers),
            "after": print_expected(str(args.after), per_file(after, after), args.workers),
        }
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
