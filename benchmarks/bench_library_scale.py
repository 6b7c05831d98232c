"""Studio-scale libraries: 1k, 10k and 100k phrases, how the choice path scales.

Builds (seeded, in ``build/scale/``, not committed) libraries of perturbed copies of the starter
phrases and of phrases cut from real capture (``../shared/data/bvh``):

- variants: each base phrase time-scaled (x0.92, x1, x1.08: resampled motion, counts and tempo
  scaled) and mirrored, re-annotated by ``make_phrase`` (own contacts, support, facing and
  boundary features); each variant's motion is one ``.npz`` file;
- copies: each variant is copied with an energy shift (+-0.15) and its own boundary features
  (the variant's plus seeded noise: 2 cm on positions, 5 cm/s on velocities), so neighbours in
  the index are not identical. Copies of one variant share its motion file (the motion *is* the
  same; only annotations differ), which is what makes a 100k build fast: rows go in with one
  ``executemany``.

Per size it reports: build time, ``library stats --json`` and ``library list --json`` time
(fresh processes), transition-graph build time, choose time split into scoring / transitions
/ decoding (warm, in-process, 4-minute generated song), render time, a cold ``mdtool
choreograph`` (fresh process, graph cached) with its peak RSS, and the recall of the sparse
graph's top-k against exact search of the dense costs. ``--plot`` writes the log-log figure.

    python benchmarks/bench_library_scale.py [--sizes 1000,10000,100000] \
        [--plot docs/images/library-scale.png] [--json rows.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from musicdance.library import open_library
from musicdance.library.importer import DescriptorIndex, pose_descriptor
from musicdance.library.phrase import make_phrase
from musicdance.library.store import _COLUMNS, DB_NAME, create_library, encode_motion_file
from musicdance.library.table import load_table
from musicdance.library.transition_graph import DEFAULT_K, build_graph, graph_for
from musicdance.library.transitions import pair_costs
from musicdance.motion.motion import mirror, resample

REPO = Path(__file__).resolve().parents[1]
SHARED_BVH = REPO.parent / "shared" / "data" / "bvh"
REAL_TAKES = (("perfume_A_test", "pop"), ("animdraw_rokoko_jesse_dance", "hiphop"))
SPEEDS = (0.92, 1.0, 1.08)
SEED = 15


def base_phrases(work: Path) -> list:
    """Starter phrases plus phrases cut from two real takes (imported with the importer)."""
    from musicdance.library.importer import prepare_import

    starter = open_library(REPO / "phrase_library")
    phrases = [starter.get(i) for i in starter.ids()]
    for name, style in REAL_TAKES:
        path = SHARED_BVH / f"{name}.bvh"
        if path.is_file():
            cut, _ = prepare_import(path, style=style, id_prefix=f"real-{name}")
            phrases.extend(cut)
    return phrases


def variants(phrases: list) -> list:
    """Each phrase time-scaled by ``SPEEDS`` and mirrored, re-annotated (with the mean pose
    descriptor ``library import`` keeps for near-duplicate checks)."""
    out = []
    for phrase in phrases:
        info = phrase.info
        for speed in SPEEDS:
            motion = phrase.motion
            counts = np.asarray(info.count_frames)
            if speed != 1.0:
                motion = resample(replace(motion, fps=motion.fps * speed), phrase.motion.fps)
                counts = np.round(counts / speed).astype(int)
                counts = np.clip(counts, 0, motion.num_frames - 1)
                if np.any(np.diff(counts) <= 0):
                    continue
            for mirrored in (False, True):
                moved = mirror(motion) if mirrored else motion
                suffix = f"-x{speed:.2f}".replace(".", "p") + ("-mirror" if mirrored else "")
                try:
                    out.append(
                        make_phrase(
                            moved, phrase_id=f"{info.id}{suffix}", style=info.style,
                            count_frames=counts, tempo_bpm=info.tempo_bpm * speed,
                            energy=info.energy, meter=info.meter, source=info.source,
                            licence=info.licence or "procedural",
                        )
                    )  # fmt: skip
                except Exception:  # a variant too short to annotate: skip it
                    continue
                _descriptor_means[out[-1].id] = pose_descriptor(out[-1]).mean(axis=0)
    return out


_descriptor_means: dict[str, np.ndarray] = {}


def build_scaled(folder: Path, variant_list: list, size: int, seed: int = SEED) -> float:
    """A library of ``size`` phrases: copies of ``variant_list`` (see the module docstring)."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    started = time.perf_counter()
    library = create_library(folder)
    rng = np.random.default_rng(seed)
    files = []
    descriptors = DescriptorIndex(library)
    for variant in variant_list:
        data = encode_motion_file(variant)
        sha256 = hashlib.sha256(data).hexdigest()
        relative = f"motions/{variant.id}-{sha256[:12]}.npz"
        (folder / relative).write_bytes(data)
        files.append((relative, sha256))
        # what ``library import`` records for each motion it writes
        descriptors.means[sha256] = _descriptor_means[variant.id]
    descriptors._changed = True
    descriptors._save()
    pick = rng.integers(0, len(variant_list), size)
    width = len(variant_list[0].info.start_features)
    noise = rng.standard_normal((size, 2, width)).astype(np.float32)
    scale = np.where(np.arange(width) < 16, 0.02, 0.05).astype(np.float32)
    shift = rng.uniform(-0.15, 0.15, size)
    stamp = "2026-01-01T00:00:00Z"
    rows = []
    for n, v in enumerate(pick):
        info = variant_list[v].info
        start = info.start_features + noise[n, 0] * scale
        end = info.end_features + noise[n, 1] * scale
        rows.append((
            f"{info.id}-c{n:06d}", info.name, info.style,
            float(np.clip(info.energy + shift[n], 0.0, 1.0)), info.tempo_bpm, info.meter,
            len(info.count_frames), json.dumps(list(info.count_frames)), info.fps,
            info.num_frames, info.duration_s, info.skeleton, info.source, info.licence,
            "approved", info.support_start, info.support_end, info.facing_start_deg,
            info.facing_end_deg, start.astype("<f4").tobytes(), end.astype("<f4").tobytes(),
            files[v][0], files[v][1], stamp, stamp,
        ))  # fmt: skip
    with sqlite3.connect(folder / DB_NAME) as connection:
        connection.executemany(
            f"INSERT INTO phrases ({', '.join(_COLUMNS)}) VALUES "
            f"({','.join('?' * len(_COLUMNS))})",
            rows,
        )
    assert len(library) == size
    return time.perf_counter() - started


def _run(*args: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, ``VmHWM``: ``ru_maxrss`` would carry the parent's peak over
    the fork) and stdout of a fresh ``mdtool`` process (its CPU seconds go to ``_run.cpu_s``)."""
    code = (
        "import resource, runpy, sys\n"
        "sys.argv = ['mdtool', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('mdtool.cli', run_name='__main__')\n"
        "finally:\n"
        "    use = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "    sys.stderr.write(f'\\nPEAK_KB {hwm[0]} {use.ru_utime + use.ru_stime}\\n')\n"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"mdtool {' '.join(args)} failed: {result.stderr[-800:]}")
    peak = [line.split() for line in result.stderr.splitlines() if line.startswith("PEAK_KB")]
    _run.cpu_s = float(peak[-1][2]) if peak else float("nan")
    return wall, int(peak[-1][1]) / 1024 if peak else float("nan"), result.stdout


def recall(table, graph, samples: int = 300, seed: int = 0) -> dict[str, float]:
    """How the graph's listed successors compare with exact search of the dense costs, over
    ``samples`` random phrases: recall@1 (the cheapest successor is listed), recall@k (share of
    the exact k cheapest that are listed) and the mean excess cost of the k cheapest listed
    over the exact k cheapest (0: as good)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(table), min(samples, len(table)), replace=False)
    styles, codes = table.style_codes()
    found = total = first = 0
    excess = []
    for i in rows:
        group = np.flatnonzero(codes == codes[i])
        k = min(graph.k, len(group))
        cost = pair_costs(table, np.full(len(group), i), group)
        order = np.argsort(cost, kind="stable")
        exact = set(group[order[:k]].tolist())
        listed = graph.targets[graph.indptr[i] : graph.indptr[i + 1]]
        found += len(exact & set(listed.tolist()))
        first += int(group[order[0]] in set(listed.tolist()))
        total += k
        listed_cost = np.sort(pair_costs(table, np.full(len(listed), i), listed))[:k]
        excess.append(float(listed_cost.mean() - cost[order[:k]].mean()))
    return {
        "recall_at_1": first / len(rows),
        "recall_at_k": found / max(total, 1),
        "excess_cost": float(np.mean(excess)),
    }


def dense_agreement(analysis, library) -> dict[str, float]:
    """Sparse against dense choice on the same library (feasible up to a few hundred phrases
    per style): slots that agree, log score of each path under the dense model, distinct
    phrases, and the worst join cost along each path."""
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.slots import plan_slots

    dense = choreograph(analysis, library, seed=0, transitions="dense")
    sparse = choreograph(analysis, library, seed=0)
    table = library.table()
    pairs = zip(dense.phrase_ids(), sparse.phrase_ids(), strict=True)
    out = {"agree": float(np.mean([a == b for a, b in pairs]))}
    for name, timeline in (("dense", dense), ("sparse", sparse)):
        rows = np.array([table.index_of(p) for p in timeline.phrase_ids()])
        joins = pair_costs(table, rows[:-1], rows[1:])
        out[f"{name}_worst_join_cost"] = float(joins.max())
        out[f"{name}_distinct_per_slot"] = len(set(rows.tolist())) / len(rows)
        out[f"{name}_mean_emission"] = float(np.mean([c.score for c in timeline.choices]))
    del plan_slots
    return out


def choose_once(analysis, library, timings):
    from musicdance.choreo.choreographer import choreograph

    return choreograph(analysis, library, seed=0, timings=timings)


def measure(folder: Path, song: Path, analysis, size: int, build_s: float) -> dict:
    from musicdance.choreo.render import render_timeline

    row: dict = {"phrases": size, "build_s": round(build_s, 2)}
    row["stats_s"], _, _ = _run("library", "stats", "-L", str(folder), "--json")
    row["stats_cpu_s"] = _run.cpu_s
    row["list_s"], _, _ = _run("library", "list", "-L", str(folder), "--json")
    library = open_library(folder)
    started = time.perf_counter()
    table = load_table(library)
    row["table_load_s"] = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    graph = build_graph(table, k=DEFAULT_K)
    row["graph_build_s"] = time.perf_counter() - started
    row["graph_build_cpu_s"] = time.process_time() - cpu
    row["graph_edges"] = graph.num_edges
    graph_for(folder, table, k=DEFAULT_K, build=lambda: graph)  # saved for the cold runs
    row.update(recall(table, graph))
    if size <= 2000:
        row.update({f"dense_{k}": v for k, v in dense_agreement(analysis, library).items()})
    choose_once(analysis, library, {})  # warm-up (caches the table and graph)
    best: dict[str, float] = {}
    for _ in range(3):
        timings: dict[str, float] = {}
        started, cpu = time.perf_counter(), time.process_time()
        timeline = choose_once(analysis, library, timings)
        timings["choose"] = time.perf_counter() - started
        timings["choose_cpu"] = time.process_time() - cpu
        best = timings if not best or timings["choose"] < best["choose"] else best
    row.update({f"{k}_s": v for k, v in best.items()})
    started = time.perf_counter()
    render_timeline(timeline, library)
    row["render_s"] = time.perf_counter() - started
    row["slots"] = len(timeline.slots)
    row["distinct_phrases"] = len(set(timeline.phrase_ids()))
    wall, peak, out = _run(
        "choreograph", str(song), "-o", str(folder.parent / f"out-{size}"), "-L", str(folder),
        "--no-bundle", "--profile", "--json",
    )  # fmt: skip
    row["cold_choreograph_s"] = wall
    row["cold_choreograph_cpu_s"] = _run.cpu_s
    row["cold_choose_s"] = json.loads(out)["timings_s"]["choose"]
    row["cold_peak_mb"] = peak
    take = long_take(folder.parent)
    row["import_10min_s"], _, out = _run(
        "library", "import", str(take), "--style", "mocap", "-L", str(folder), "--json"
    )
    row["import_10min_cpu_s"] = _run.cpu_s
    report = json.loads(out)
    row["import_seconds_reported"] = report["seconds"]
    row["import_phrases"] = sum(len(r.get("phrases", [])) for r in report["files"])
    row["import_near_duplicates"] = sum(len(r.get("near_duplicates", [])) for r in report["files"])
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


RUNTIME_CODE = """
import json, sys, time
from mdruntime import Runtime
cpu = time.process_time()
runtime = Runtime(sys.argv[1], default_bundle=False)
song = runtime.analyze_file(sys.argv[2])
timelines = [runtime.choreograph(song, seed=seed) for seed in range(3)]
for timeline in timelines:
    runtime.sample(timeline, [1.0, 30.0, 60.0])
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps({"runtime_peak_mb": int(hwm) / 1024, "runtime_cpu_s": time.process_time() - cpu,
                  "runtime_decoded_phrases": len(runtime.library._phrases)}))
"""


def runtime_memory(folder: Path, song: Path) -> dict:
    """A fresh ``mdruntime.Runtime`` on the library: 3 songs choreographed, rendered and
    sampled; its peak memory, CPU seconds and how many phrases it decoded. The graph is
    built first (``mdtool library index``), as a studio does after an import."""
    _run("library", "index", "-L", str(folder), "--json")
    result = subprocess.run([sys.executable, "-c", RUNTIME_CODE, str(folder), str(song)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def long_take(work: Path, minutes: float = 10.0) -> Path:
    """The 10-minute 120 fps take of ``bench_library.py`` (a shared BVH looped)."""
    from musicdance.io.bvh import write_bvh
    from musicdance.io.files import load_motion
    from musicdance.motion import concatenate

    path = work / "long_take.bvh"
    if not path.is_file():
        take = load_motion(SHARED_BVH / "bvh11_cmu_131_02.bvh")
        loops = int(np.ceil(minutes * 60.0 / take.duration_s))
        write_bvh(concatenate([take] * loops), path)
    return path


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["phrases"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    curves = (
        ("choose_cpu_s", "choose, warm (CPU)"), ("scoring_s", "  scoring (wall)"),
        ("transitions_s", "  transitions (wall)"), ("decoding_s", "  decoding (wall)"),
        ("render_s", "render (wall)"), ("cold_choreograph_cpu_s", "cold choreograph (CPU)"),
        ("stats_cpu_s", "library stats --json (CPU)"),
        ("graph_build_cpu_s", "graph build, once (CPU)"),
        ("import_10min_cpu_s", "import 10-min take (CPU)"),
    )  # fmt: skip
    for key, label in curves:
        left.loglog(sizes, [max(r[key], 1e-4) for r in rows], "o-", label=label)
    left.axhline(1.0, color="grey", ls=":", lw=1)
    left.set_xlabel("phrases in the library")
    left.set_ylabel("seconds")
    left.legend(fontsize=7)
    left.set_title("time (2-core machine, load 10-18)")
    right.loglog(sizes, [r["cold_peak_mb"] for r in rows], "o-", label="cold choreograph peak")
    if all("runtime_peak_mb" in r for r in rows):
        right.loglog(sizes, [r["runtime_peak_mb"] for r in rows], "s-",
                     label="mdruntime, 3 songs, peak")  # fmt: skip
    right.axhline(600, color="grey", ls=":", lw=1, label="target 600 MB")
    right.set_ylim(100, 1000)
    right.set_xlabel("phrases in the library")
    right.set_ylabel("MB")
    right.legend(fontsize=7)
    right.set_title("memory")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "scale")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="Also write the rows here.")
    parser.add_argument("--runtime", action="store_true",
                        help="Only measure mdruntime's memory on the libraries already built.")
    args = parser.parse_args()
    from musicdance.audio.analysis import analyze
    from musicdance.audio.synth import synth_song, write_song

    args.work.mkdir(parents=True, exist_ok=True)
    if args.runtime:  # add mdruntime's memory to the rows of a finished run
        rows = json.loads(args.json.read_text()) if args.json else []
        for row in rows or [{"phrases": int(s)} for s in args.sizes.split(",")]:
            row.update(runtime_memory(args.work / f"lib-{row['phrases']}",
                                      args.work / "four_minutes.mp3"))  # fmt: skip
            print(json.dumps(row), flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        if args.plot:
            plot(rows, args.plot)
        return
    started = time.perf_counter()
    variant_list = variants(base_phrases(args.work))
    print(f"{len(variant_list)} variants of starter and real phrases in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    song = args.work / "four_minutes.mp3"
    if not song.is_file():
        y, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=240.0)
        write_song(song, y, sr_hz=22050)
    analysis = analyze(song)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        folder = args.work / f"lib-{size}"
        build_s = build_scaled(folder, variant_list, size)
        row = measure(folder, song, analysis, size, build_s)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"peak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
