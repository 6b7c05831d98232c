"""Dance to music (seeds 000 MCLEMCD and 003 BiLSTM-BiGRU): accuracy tables, the
collaborative-learning ablation, recommendation hit rate, ONNX time and training time.

    python benchmarks/bench_recommend.py [--json]

The tables come from ``docs/recognition-results.json`` (written by
``benchmarks/train_recognition.py --part ship``); the hit rate, the timings and the real takes
are measured here through the shipped companion (``bundles/default/dance-music``) with
onnxruntime only. The hit rate needs the stand-in test set (``build/recognize``, made by
``train_recognition.py --part data``): each test dance is ranked against the catalogue of all
test songs (>= 50) and counts as a hit when the song it was made for is in the top 3.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "sdk")]
BUILD = ROOT / "build" / "recognize"
RESULTS = ROOT / "docs" / "recognition-results.json"
EXPERIMENTS = ("joints", "limbs", "late-fusion", "both")
BRANCH_NAMES = {
    "separate": "without CL (MCLEMCD = MCLEMCD-Dropout)",
    "cl": "with CL, MCLEMCD",
    "cl-dropout": "with CL, MCLEMCD-Dropout",
    "cl-fc": "with CL, MCLEMCD-FC",
}


def pct(value: float) -> str:
    return f"{100 * value:6.2f}%"


def tables(results: dict) -> list[str]:
    lines = []
    for split, grid in results["mclemcd"].items():
        for key, title in (("segment_accuracy", "per segment"), ("piece_accuracy", "per piece")):
            lines.append(f"MCLEMCD {split} accuracy {title} (Table 3 layout; paper Exp. 1-4)")
            lines.append(f"  {'':44s}" + "".join(f"{e:>13s}" for e in EXPERIMENTS))
            for branch, name in BRANCH_NAMES.items():
                row = grid[branch]
                lines.append(
                    f"  {name:44s}"
                    + "".join(
                        f"{pct(row[e][key]):>13s}" if e in row else f"{'-':>13s}"
                        for e in EXPERIMENTS
                    )
                )
        lines.append(f"MCLEMCD {split}: songs classified from their music (Z_a -> classifier)")
        for branch in ("separate", "cl", "cl-dropout"):
            row = grid[branch]
            lines.append(
                f"  {BRANCH_NAMES[branch]:44s}"
                + "".join(
                    f"{pct(row[f + '-songs']['piece_accuracy']):>13s}" for f in ("joints", "limbs")
                )
                + "   (per song; joints / limbs models)"
            )
    timing = results["mclemcd_timing_s_per_epoch"]
    lines.append(
        "MCLEMCD training time per epoch (s, 2 shared cores, "
        f"{results['mclemcd_schedule']['windows_per_epoch']} windows):"
    )
    for features, phases in timing.items():
        lines.append(f"  {features:7s} " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    lines.append(
        "BiLSTM-BiGRU (test; paper: weighted F1 0.98 / 0.667 / 0.5, CE 0.32 / 3.37 / 5.63)"
    )
    lines.append(
        f"  {'variant':32s}{'width':>6s}{'epochs':>8s}{'kept':>6s}{'segment':>10s}{'piece':>10s}"
        f"{'w. F1':>8s}{'CE':>8s}{'kNN':>8s}{'hit@3':>8s}{'s/epoch':>9s}"
    )
    shipped_bilstm = results.get("bilstm_shipped", "bilstm-bigru")
    for name, row in results["bilstm"].items():
        t = row["test"]
        hit = f"{pct(t['hit_rate_top3']):>8s}" if "hit_rate_top3" in t else f"{'-':>8s}"
        lines.append(
            f"  {name:32s}{row.get('width', 256):6d}{row.get('epochs', 0):8d}"
            f"{row.get('best_epoch', 0):6d}"
            f"{pct(t['segment_accuracy']):>10s}{pct(t['piece_accuracy']):>10s}"
            f"{t['weighted_f1']:8.3f}{t['cross_entropy']:8.3f}{t['knn_same_style']:8.3f}{hit}"
            f"{row['seconds_per_epoch']:9.1f}" + ("  (shipped)" if name == shipped_bilstm else "")
        )
    lines.append(
        "  (hit@3: torch float32 probabilities, song profiles and tempo as below; the soundtrack "
        "variants see the song)"
    )
    styles = results["styles"]
    shipped = {
        "MCLEMCD with CL, late fusion": results["mclemcd"]["test"]["cl"]["late-fusion"],
        f"BiLSTM-BiGRU, pose only (shipped: {shipped_bilstm})":
            results["bilstm"][shipped_bilstm]["test"],
    }
    for title, t in shipped.items():
        for key, unit in (("confusion", "segments"), ("piece_confusion", "pieces")):
            if key in t:
                lines += confusion_lines(f"{title}: confusion, {unit} (rows true)", t[key], styles)
    checks = results.get("input_checks")
    if checks:
        lines.append("Inputs as fed (scaled with the training minima/maxima): share outside [0, 1]")
        for split, row in checks.items():
            lines.append(
                f"  {split:5s} windows per class {row['windows_per_class']}; "
                + ", ".join(f"{k} {row[k]['outside_0_1']:.4%} [{row[k]['min']:.3f}, "
                            f"{row[k]['max']:.3f}]" for k in ("joints", "limbs", "mfcc"))
            )  # fmt: skip
    return lines


def confusion_lines(title: str, matrix: list[list[int]], styles: list[str]) -> list[str]:
    """A confusion matrix as text rows (true style, counts per predicted style)."""
    short = [s[:5] for s in styles]
    out = [f"  {title}", "  " + " " * 13 + "".join(f"{s:>6s}" for s in short)]
    for style, row in zip(styles, matrix, strict=True):
        out.append(f"  {style:13s}" + "".join(f"{v:6d}" for v in row))
    return out


def hit_rates(recognizer, pieces, profiles) -> dict:
    from musicdance.recognize.recognizer import rank_songs

    names = [Path(p.path).stem for p in profiles]
    out = {}
    for method in ("mclemcd", "bilstm"):
        hits, hits_style_only, top1, style_ok = [], [], [], []
        for piece in pieces:
            style = recognizer.classify(piece.positions_m, method)
            ranked = [Path(r.song).stem for r in rank_songs(style, profiles, len(profiles))]
            hits.append(piece.name in ranked[:3])
            top1.append(ranked[0] == piece.name)
            style_ok.append(style.style == piece.style)
            style.tempo_bpm = float("nan")  # the same ranking without the tempo match
            ranked = [Path(r.song).stem for r in rank_songs(style, profiles, len(profiles))]
            hits_style_only.append(piece.name in ranked[:3])
        out[method] = {
            "dances": len(pieces),
            "catalog_songs": len(names),
            "hit_rate_top3": float(np.mean(hits)),
            "hit_rate_top1": float(np.mean(top1)),
            "hit_rate_top3_style_only": float(np.mean(hits_style_only)),
            "style_accuracy_per_dance": float(np.mean(style_ok)),
        }
    return out


def timing(recognizer, pieces) -> dict:
    """Median of 5 runs on 4 minutes of test dances chained: wall and CPU seconds of the ONNX
    calls alone and of the whole classification (features, ONNX, tempo)."""
    from musicdance.recognize import features as F

    frames = int(240 * F.FPS)
    chain = np.concatenate([p.positions_m for p in pieces])
    while len(chain) < frames:
        chain = np.concatenate([chain, chain])
    dance = chain[:frames]
    out: dict = {"frames": frames}
    for method in ("mclemcd", "bilstm"):
        recognizer.classify(dance[:600], method)  # sessions made, caches warm
        runs: dict[str, list[float]] = {"onnx_s": [], "onnx_cpu_s": [], "classify_s": [],
                                        "classify_cpu_s": []}  # fmt: skip
        for _ in range(5):
            if method == "mclemcd":
                windows, _ = F.motion_windows(dance, "both")
                inputs = [(f"motion_{f}", recognizer._scaled(
                    windows[:, :3] if f == "joints" else windows[:, 3:], f, 1))
                    for f in recognizer.fusion]  # fmt: skip
                name = "motion"
            else:
                summary = F.pose_summary(dance, F.segment_starts(len(dance)))
                mean = np.asarray(recognizer.scales["bilstm"]["mean"], np.float32)
                std = np.asarray(recognizer.scales["bilstm"]["std"], np.float32)
                inputs = [("bilstm", ((summary - mean) / std).astype(np.float32))]
                name = "summary"
            wall, cpu = time.perf_counter(), time.process_time()
            for role, x in inputs:
                recognizer._run(role, name, x)
            runs["onnx_s"].append(time.perf_counter() - wall)
            runs["onnx_cpu_s"].append(time.process_time() - cpu)
            wall, cpu = time.perf_counter(), time.process_time()
            recognizer.classify(dance, method)
            runs["classify_s"].append(time.perf_counter() - wall)
            runs["classify_cpu_s"].append(time.process_time() - cpu)
        out[method] = {k: statistics.median(v) for k, v in runs.items()}
        out[method]["inputs"] = int(sum(len(x) for _, x in inputs))
    return out


def sentis_parity(recognizer) -> dict:
    """The shipped engine graph against the shipped onnxruntime graph, on 64 seeded summaries
    (max |difference| of probabilities and Dense features)."""
    graphs = recognizer.companion.manifest["graphs"]
    if "bilstm_sentis" not in graphs:
        return {}
    x = np.random.default_rng(0).standard_normal((64, 130)).astype(np.float32)
    want = recognizer._run("bilstm", "summary", x)
    got = recognizer._run("bilstm_sentis", "summary", x)
    return {"graph": graphs["bilstm_sentis"], "samples": len(x),
            "max_abs_diff": max(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True)),
            "top1_agreement": float((got[0].argmax(1) == want[0].argmax(1)).mean())}  # fmt: skip


def sizes() -> dict:
    """Bytes of the dance-music companion and of the whole default bundle folder."""
    bundle = ROOT / "bundles" / "default"
    companion = sum(p.stat().st_size for p in (bundle / "dance-music").iterdir() if p.is_file())
    total = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    return {"companion_bytes": companion, "bundle_bytes": total}


def real_takes(recognizer) -> list[dict]:
    from musicdance.recognize.recognizer import dance_positions

    rows = []
    folder = ROOT.parent / "shared" / "data" / "bvh"
    for path in sorted(folder.rglob("*.bvh"))[:12]:
        try:
            positions = dance_positions(path)
        except Exception as error:  # a take the retargeter refuses is reported, not fatal
            rows.append({"take": path.name, "error": str(error).splitlines()[0][:80]})
            continue
        row = {"take": str(path.relative_to(folder))}
        for method in ("mclemcd", "bilstm"):
            style = recognizer.classify(positions, method)
            row[method] = f"{style.style} ({style.confidence:.2f})"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print JSON.")
    args = parser.parse_args(argv)
    from musicdance.recognize.dataset import load_pieces
    from musicdance.recognize.recognizer import Recognizer, catalog_profiles

    results = json.loads(RESULTS.read_text())
    recognizer = Recognizer.load(ROOT / "bundles" / "default")
    report: dict = {"export_checks": results.get("export_checks")}
    pieces = [p for p in load_pieces(BUILD / "pieces.npz") if p.split == "test"]
    started = time.perf_counter()
    profiles, stats = catalog_profiles(recognizer, BUILD / "catalog")
    stats["seconds"] = round(time.perf_counter() - started, 2)
    report["catalog"] = stats
    report["hit_rate"] = hit_rates(recognizer, pieces, profiles)
    report["timing_4min"] = timing(recognizer, pieces)
    report["sizes"] = sizes()
    report["sentis_parity"] = sentis_parity(recognizer)
    report["load_average"] = list(os.getloadavg())
    report["real_takes"] = real_takes(recognizer)
    if args.json:
        print(json.dumps({"tables": results, **report}, indent=1))
        return 0
    print("\n".join(tables(results)))
    print("Recommendation (test dances against the catalogue of every test song):")
    for method, row in report["hit_rate"].items():
        print(
            f"  {method:8s} hit rate top-3 {pct(row['hit_rate_top3'])} "
            f"(top-1 {pct(row['hit_rate_top1'])}; style only, no tempo: "
            f"{pct(row['hit_rate_top3_style_only'])}) over {row['dances']} dances x "
            f"{row['catalog_songs']} songs; dance style right "
            f"{pct(row['style_accuracy_per_dance'])}"
        )
    t = report["timing_4min"]
    load = ", ".join(f"{v:.1f}" for v in report["load_average"])
    print(f"ONNX time for a 4-minute dance ({t['frames']} frames; median of 5; load {load}):")
    for method in ("mclemcd", "bilstm"):
        r = t[method]
        print(
            f"  {method:8s} ONNX {r['onnx_s']:.3f} s wall / {r['onnx_cpu_s']:.3f} s CPU "
            f"({r['inputs']} inputs); whole classification (features, ONNX, tempo) "
            f"{r['classify_s']:.3f} s wall / {r['classify_cpu_s']:.3f} s CPU"
        )
    z = report["sizes"]
    print(
        f"Sizes: dance-music companion {z['companion_bytes'] / 1e6:.2f} MB, "
        f"bundles/default {z['bundle_bytes'] / 1e6:.1f} MB"
    )
    print(f"  catalogue analysis: {stats}")
    sp = report["sentis_parity"]
    if sp:
        print(f"Shipped Sentis graph {sp['graph']} against the onnxruntime graph: max |diff| "
              f"{sp['max_abs_diff']:.2e} over {sp['samples']} seeded summaries, top-1 agreement "
              f"{pct(sp['top1_agreement'])} (target <= 1e-5)")  # fmt: skip
    checks = report["export_checks"] or {}
    print("Export checks (max |onnx - torch|, operators):")
    for name, check in checks.items():
        if isinstance(check, dict) and "parity" in check:
            extra = check.get("parity_to_gru_graph")
            print(
                f"  {name:28s} parity {check['parity']:.2e}  {check['bytes'] / 1e6:.2f} MB  "
                + (f"(to the GRU graph {extra:.2e})  " if extra is not None else "")
                + f"ops {', '.join(check['operators'])}"
            )
        elif isinstance(check, dict):
            print(f"  {name:28s} {check['bytes'] / 1e6:.2f} MB, read by "
                  f"{', '.join(check.get('read_by', []))}")  # fmt: skip
        else:
            print(f"  {name:28s} {check:.2e}")
    print("Real takes (../shared/data/bvh; no style labels):")
    for row in report["real_takes"]:
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
