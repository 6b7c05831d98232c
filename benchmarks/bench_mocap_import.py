"""Motion-capture import benchmark: rig mapping, tempo from motion, import time.

Prints:
- mapping coverage over the naming corpus (tests/rig_corpus.py: one BVH rig per convention):
  per rig, the convention found, canonical joints mapped, required joints on the right source
  joint, how they were matched, and the worst limb-direction error after retargeting; then
  the same for the real takes in ../shared/data/bvh;
- tempo agreement over the perturbation set (tests/tempo_support.py) for every real take:
  tempo of each variant (time-shifted, mirrored, retargeted, 1-cm jitter, every 20-s crop),
  the confidence, how many variants fall below the import threshold (refused, not guessed)
  and the largest deviation of an accepted variant from the original;
- the import time of a 10-minute take (a real take looped) with the tempo from the motion.
- where perfume_A's pulse is: per section of the take, its stops, the estimator's tempo and
  confidence there, and how the stops lock to the take's tempo (why the 20-s windows that
  start in its first 2 s are refused).
``--plot FILE`` also draws the kinematic-beat plot of the rhythmic takes with their beat grid;
``--sections-only`` prints only the perfume sections.

    python benchmarks/bench_mocap_import.py [--plot docs/images/tempo_real_takes.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from rig_corpus import CORPUS, write_corpus  # noqa: E402
from tempo_support import TEMPO_BY_EYE, canonical_take, tempo_variants  # noqa: E402
from test_rig_mapping import limb_direction_error_deg  # noqa: E402

from musicdance.io.bvh import read_bvh, write_bvh  # noqa: E402
from musicdance.io.files import load_motion  # noqa: E402
from musicdance.library import open_library  # noqa: E402
from musicdance.library.importer import (  # noqa: E402
    LIBRARY_FPS,
    MIN_TEMPO_CONFIDENCE,
    import_motion_files,
)
from musicdance.motion import concatenate  # noqa: E402
from musicdance.motion.analysis import estimate_motion_tempo  # noqa: E402
from musicdance.motion.canonical import CANONICAL_JOINTS, REQUIRED_JOINTS  # noqa: E402
from musicdance.motion.retarget import map_joints, retarget  # noqa: E402
from musicdance.motion.rigmap import map_by_topology  # noqa: E402

SHARED_BVH = REPO.parent / "shared" / "data" / "bvh"
LONG_TAKE = "animdraw_rokoko_jesse_dance"  # 100 fps, a steady beat


def bench_mapping(work: Path) -> None:
    print("## Mapping coverage over the naming corpus (no --map)\n")
    print("| rig | convention | joints mapped | required correct | matched by | limb error deg | "
          "topology alone |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    full = 0
    for spec, path in write_corpus(work / "rigs"):
        motion = read_bvh(path)
        mapping = map_joints(motion.skeleton)
        expected = spec.expected()
        correct = sum(mapping.canonical_to_source.get(c) == s for c, s in expected.items())
        methods = ", ".join(f"{m} {n}" for m, n in Counter(mapping.methods.values()).items())
        result, used = retarget(motion)
        error = limb_direction_error_deg(motion, result, used.canonical_to_source)
        full += correct == len(REQUIRED_JOINTS)
        by_topology = {
            c: motion.skeleton.names[j] for c, j in map_by_topology(motion.skeleton).items()
        }
        alone = sum(by_topology.get(c) == s for c, s in expected.items())
        print(
            f"| {spec.name} | {mapping.convention} | {len(mapping.canonical_to_source)}/"
            f"{len(CANONICAL_JOINTS)} | {correct}/{len(REQUIRED_JOINTS)} | {methods} | "
            f"{error:.4f} | {alone}/{len(REQUIRED_JOINTS)} |"
        )
    print(f"\n{full}/{len(CORPUS)} rigs map every required joint correctly with no --map.\n")
    print("| real take | convention | joints mapped | matched by | topology alone |")
    print("|---|---|---|---|---|")
    for path in sorted(SHARED_BVH.glob("*.bvh")):
        skeleton = load_motion(path).skeleton
        mapping = map_joints(skeleton)
        methods = ", ".join(f"{m} {n}" for m, n in Counter(mapping.methods.values()).items())
        by_topology = {c: skeleton.names[j] for c, j in map_by_topology(skeleton).items()}
        alone = sum(
            by_topology.get(c) == mapping.canonical_to_source.get(c) for c in REQUIRED_JOINTS
        )
        print(
            f"| {path.stem} | {mapping.convention} | {len(mapping.canonical_to_source)}/"
            f"{len(CANONICAL_JOINTS)} | {methods} | {alone}/{len(REQUIRED_JOINTS)} |"
        )
    print()


def bench_tempo() -> dict[str, tuple]:
    print("## Tempo agreement over the perturbation set\n")
    print(
        f"Variants below the confidence threshold ({MIN_TEMPO_CONFIDENCE}) are refused by "
        "`library import` (it asks for --bpm or --music); deviation is over accepted ones.\n"
    )
    print("| take | by eye | original (conf) | shifted | mirrored | retargeted | jitter 1 cm | "
          "crops (min-max) | refused | max deviation % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    plotted = {}
    for path in sorted(SHARED_BVH.glob("*.bvh")):
        take = canonical_take(path)
        variants = tempo_variants(take)
        found = {n: estimate_motion_tempo(p, LIBRARY_FPS) for n, p in variants.items()}
        reference = found["original"].tempo_bpm
        accepted = {n: e for n, e in found.items() if e.confidence >= MIN_TEMPO_CONFIDENCE}
        refused = sorted(set(found) - set(accepted))
        deviation = max(
            (abs(e.tempo_bpm / reference - 1) * 100 for e in accepted.values()), default=np.nan
        )

        def cell(name: str, found: dict = found) -> str:
            e = found[name]
            mark = "" if e.confidence >= MIN_TEMPO_CONFIDENCE else " (refused)"
            return f"{e.tempo_bpm:.1f}{mark}"

        crops = [e.tempo_bpm for n, e in accepted.items() if n.startswith("crop")]
        crop_count = sum(n.startswith("crop") for n in found)
        crop_text = f"{min(crops):.1f}-{max(crops):.1f}" if crops else "-"
        print(
            f"| {path.stem} | {TEMPO_BY_EYE.get(path.stem, '-')} | {reference:.1f} "
            f"({found['original'].confidence:.2f}) | {cell('shifted 0.37 s')} | "
            f"{cell('mirrored')} | {cell('retargeted')} | {cell('jitter 1 cm')} | "
            f"{crop_text} of {crop_count} | {len(refused)}: {', '.join(refused) or '-'} | "
            f"{deviation:.2f} |"
        )
        if path.stem in TEMPO_BY_EYE:
            plotted[path.stem] = (variants["original"], found["original"])
    print()
    return plotted


#: perfume_A_test's sections (s): standing, the first steps, the middle, the hip bounces and
#: the end (read from its kinematic-beat salience).
PERFUME_SECTIONS = ((0.0, 3.0), (3.0, 6.6), (6.6, 20.5), (20.5, 24.0), (24.0, 32.5))


def phase_locking(times_s: np.ndarray, weights: np.ndarray, bpm: float) -> float:
    """How well events lock to a beat grid of ``bpm`` (any phase): the length of the
    weighted mean of their phases on the unit circle (1: all on one phase; chance for n
    events about 1/sqrt(n))."""
    if len(times_s) == 0:
        return float("nan")
    phases = np.exp(2j * np.pi * times_s * bpm / 60.0)
    return float(abs((weights * phases).sum()) / weights.sum())


def bench_sections(stem: str = "perfume_A_test", min_salience: float = 0.3) -> None:
    """Where a take's pulse is: per section, the stops (kinematic-beat salience peaks over
    ``min_salience``), the estimator on the section alone, the stops' phase locking to the
    whole take's tempo and the best-locking tempo in 60-180 BPM, and the autocorrelation
    peaks of the pulse between 0.17 and 2.3 s."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import find_peaks

    from musicdance.motion.analysis import _autocorrelation, kinematic_beat_salience

    fps = LIBRARY_FPS
    positions = tempo_variants(canonical_take(SHARED_BVH / f"{stem}.bvh"))["original"]
    whole = estimate_motion_tempo(positions, fps)
    smoothed = gaussian_filter1d(positions, 0.03 * fps, axis=0, mode="nearest")
    salience = kinematic_beat_salience(smoothed, fps, speed_sigma_s=0.0)
    stops, _ = find_peaks(salience, height=min_salience, distance=4)
    print(f"## Where the pulse of {stem} is (whole take: {whole.tempo_bpm:.1f} BPM)\n")
    print(
        "| section s | stops | estimator alone (conf) | locking to the take's beats / half beats "
        "(chance) | best-locking tempo 60-180 | pulse autocorrelation peaks, lag s (value) |"
    )
    print("|---|--:|---|---|---|---|")  # fmt: skip
    for lo, hi in PERFUME_SECTIONS:
        a, b = int(lo * fps), int(hi * fps)
        inside = stops[(stops >= a) & (stops < b)]
        t, w = inside / fps, salience[inside]
        alone = estimate_motion_tempo(positions[a:b], fps)
        grid = np.arange(60.0, 180.5, 0.5)
        locks = [phase_locking(t, w, bpm) for bpm in grid]
        best = int(np.nanargmax(locks)) if len(inside) else 0
        pulse = salience[a:b] - gaussian_filter1d(salience[a:b], fps, mode="nearest")
        acf = _autocorrelation(pulse) if np.any(pulse) else np.zeros(b - a)
        lags = np.arange(5, min(70, b - a - 1))
        peaks = [k for k in lags if acf[k] >= acf[k - 1] and acf[k] >= acf[k + 1] and acf[k] > 0.1]
        estimate = (
            f"{alone.tempo_bpm:.1f} ({alone.confidence:.2f})" if np.isfinite(alone.tempo_bpm)
            else "none"
        )  # fmt: skip
        locking = (
            f"{phase_locking(t, w, whole.tempo_bpm):.2f} / "
            f"{phase_locking(t, w, 2 * whole.tempo_bpm):.2f} ({1 / np.sqrt(len(inside)):.2f})"
            if len(inside) else "-"
        )  # fmt: skip
        print(
            f"| {lo:g}-{hi:g} | {len(inside)} | {estimate} | {locking} | "
            + (f"{grid[best]:.1f} ({locks[best]:.2f})" if len(inside) else "-")
            + " | "
            + (", ".join(f"{k / fps:.2f} ({acf[k]:.2f})" for k in peaks) or "none")
            + " |"
        )
    print()


def bench_long_import(work: Path, minutes: float = 10.0) -> None:
    take = load_motion(SHARED_BVH / f"{LONG_TAKE}.bvh")
    loops = int(np.ceil(minutes * 60.0 / take.duration_s))
    long_take = concatenate([take] * loops)
    path = work / "long_take.bvh"
    write_bvh(long_take, path)
    library = open_library(work / "long_import", create=True)
    started, cpu = time.perf_counter(), time.process_time()
    (report,) = import_motion_files(library, [path], style="mocap")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    print("## Import time of a long take\n")
    print(
        f"{long_take.duration_s / 60:.1f}-minute {take.fps:g} fps take ({long_take.num_frames} "
        f"frames, {take.skeleton.num_joints} joints, {LONG_TAKE} looped {loops} times), tempo "
        f"from the motion: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU, "
        f"{len(report.phrase_ids)} phrases at "
        f"{report.tempo_bpm:.1f} BPM (confidence {report.tempo_confidence:.2f}).\n"
    )


def plot_beats(plotted: dict[str, tuple], out: Path, seconds: float = 10.0) -> None:
    """Kinematic-beat salience of each rhythmic take with the estimated beat grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicdance.motion.analysis import kinematic_beat_salience

    fig, axes = plt.subplots(len(plotted), 1, figsize=(12, 2.2 * len(plotted)))
    for ax, (stem, (positions, estimate)) in zip(np.atleast_1d(axes), plotted.items(), strict=True):
        salience = kinematic_beat_salience(positions, LIBRARY_FPS, speed_sigma_s=0.0)
        t = np.arange(len(positions)) / LIBRARY_FPS
        window = (t >= 4.0) & (t < 4.0 + seconds) if t[-1] > 20 else t < seconds
        period = 60.0 / estimate.tempo_bpm
        phases = np.linspace(0.0, period, 40, endpoint=False)
        fit = [np.sum(np.interp(np.arange(p, t[-1], period), t, salience)) for p in phases]
        grid = np.arange(phases[int(np.argmax(fit))], t[-1], period)
        ax.plot(t[window], salience[window], "k", lw=1)
        for beat in grid[(grid >= t[window][0]) & (grid <= t[window][-1])]:
            ax.axvline(beat, color="tab:red", lw=0.7)
        ax.set_title(
            f"{stem}: {estimate.tempo_bpm:.1f} BPM (confidence {estimate.confidence:.2f}); "
            "black: kinematic-beat salience, red: beat grid",
            fontsize=9,
        )
        ax.set_xlabel("s", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, help="Write the kinematic-beat plot (PNG).")
    parser.add_argument("--sections-only", action="store_true", help="Only perfume's sections.")
    args = parser.parse_args()
    bench_sections()
    if args.sections_only:
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bench_mapping(work)
        plotted = bench_tempo()
        bench_long_import(work)
    if args.plot:
        plot_beats(plotted, args.plot)


if __name__ == "__main__":
    main()
