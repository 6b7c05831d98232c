"""Train, evaluate and ship the dance-to-music models (seeds 000 MCLEMCD and 003 BiLSTM-BiGRU).

    nice python benchmarks/train_recognition.py --part data      # stand-in pieces (cached)
    nice python benchmarks/train_recognition.py --part mclemcd   # Table 3 grid, 3 feature sets
    nice python benchmarks/train_recognition.py --part bilstm    # Fig. 4 network + baselines
    nice python benchmarks/train_recognition.py --part ship      # companion + results + plots
    (--part all runs the four in order.)

Everything is seeded (``--seed``); the checkpoints and the pieces are cached under
``build/recognize``. ``ship`` writes ``bundles/default/dance-music`` (registered in the bundle's
manifest), ``docs/recognition-results.json`` and the confusion-matrix plots under
``docs/images/``. Figures are printed by ``benchmarks/bench_recommend.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "sdk")]
from musicdance.train.bilstm import NARROW_WIDTH, WIDTH  # noqa: E402

BUILD = ROOT / "build" / "recognize"
DOCS = ROOT / "docs"
#: Pieces per style and split (songs of DURATION_S seconds).
COUNTS = {"train": 10, "val": 3, "test": 7}
DURATION_S = 40.0
#: Reduced schedule (the paper: 1500 + 1500 epochs for MCLEMCD, 200 for the BiLSTM-BiGRU);
#: an MCLEMCD epoch is WINDOWS_PER_EPOCH windows drawn from the training windows.
EPOCHS_SEPARATE = 6
EPOCHS_JOINT = 6
WINDOWS_PER_EPOCH = 720
#: BiLSTM epochs (the weights of the epoch with the best validation accuracy are kept).
BILSTM_EPOCHS = 40
FEATURES = ("joints", "limbs", "both")
#: Epochs of the equal-budget comparisons of the narrow width with Fig. 4's 256.
COMPARE_EPOCHS = (5, 20)
#: name: (architecture, input, width of every layer, epochs; None: --bilstm-epochs). Fig. 4's
#: width trains 20 epochs: an epoch took 23-290 s on the 2 shared cores at load 15-23 (one
#: thread, nice), so its 40 did not fit a session here (4 of 40 in 13 minutes).
BILSTM_VARIANTS = {
    "bilstm-bigru": ("bilstm-bigru", "pose", NARROW_WIDTH, None),
    **{f"bilstm-bigru-e{e}": ("bilstm-bigru", "pose", NARROW_WIDTH, e) for e in COMPARE_EPOCHS},
    **{f"bilstm-bigru-fig4-e{e}": ("bilstm-bigru", "pose", WIDTH, e) for e in COMPARE_EPOCHS},
    "lstm-bigru": ("lstm-bigru", "pose", NARROW_WIDTH, None),
    "lstm-gru": ("lstm-gru", "pose", NARROW_WIDTH, None),
    "bilstm-bigru-soundtrack": ("bilstm-bigru", "paper", NARROW_WIDTH, None),
    "bilstm-bigru-fig4": ("bilstm-bigru", "pose", WIDTH, 20),
    "bilstm-bigru-fig4-soundtrack-e20": ("bilstm-bigru", "paper", WIDTH, 20),
}
#: The variant the companion ships (pose only: the soundtrack leaks the label): Fig. 4's width,
#: 20 epochs, the current standardiser floor.
SHIPPED_BILSTM = "bilstm-bigru-fig4"


def say(text: str) -> None:
    print(time.strftime("%H:%M:%S"), text, flush=True)


def pieces(seed: int):
    from musicdance.library import open_library
    from musicdance.recognize.dataset import build_pieces, load_pieces, save_pieces

    cache = BUILD / "pieces.npz"
    if cache.is_file():
        return load_pieces(cache)
    library = open_library(ROOT / "phrase_library")
    built, plan = build_pieces(
        library, counts=COUNTS, duration_s=DURATION_S, seed=seed, export_dir=BUILD, progress=say
    )
    save_pieces(built, cache)
    (BUILD / "split.json").write_text(json.dumps(plan.moves, indent=1))
    return built


def styles_of(all_pieces) -> list[str]:
    return sorted({p.style for p in all_pieces})


def part_mclemcd(seed: int) -> None:
    from musicdance.train import recognition as R

    all_pieces = pieces(seed)
    styles = styles_of(all_pieces)
    data = R.mclemcd_arrays(all_pieces, styles)
    train = data.rows("train")
    scales = {"mfcc": R.channel_range(data.mfcc[train], axis=2)}
    for features in FEATURES:
        scales[features] = R.channel_range(data.motion[train][:, R.channels_of(features)], axis=1)
    trained, timing = {}, {}
    for features in FEATURES:
        branches, seconds = R.train_mclemcd(
            data,
            features,
            scales=scales,
            epochs_separate=EPOCHS_SEPARATE,
            epochs_joint=EPOCHS_JOINT,
            seed=seed,
            windows_per_epoch=WINDOWS_PER_EPOCH,
            progress=say,
        )
        trained[features], timing[features] = branches, seconds
    schedule = {"epochs_separate": EPOCHS_SEPARATE, "epochs_joint": EPOCHS_JOINT,
                "windows_per_epoch": WINDOWS_PER_EPOCH}  # fmt: skip
    torch.save(
        {"trained": trained, "scales": scales, "timing": timing, "styles": styles,
         "schedule": schedule},
        BUILD / "mclemcd.pt",
    )  # fmt: skip
    say("mclemcd saved")


def part_bilstm(seed: int, variants: list[str] | None = None) -> None:
    """Train the BiLSTM variants (each saved to build/recognize/bilstm-NAME.pt when done;
    variants already saved are kept)."""
    from musicdance.train import recognition as R

    all_pieces = pieces(seed)
    styles = styles_of(all_pieces)
    arrays = R.bilstm_arrays(all_pieces, styles)
    train = arrays["split"] == "train"
    for name in variants or list(BILSTM_VARIANTS):
        target = BUILD / f"bilstm-{name}.pt"
        if target.is_file():
            continue
        architecture, kind, width, epochs = BILSTM_VARIANTS[name]
        mean, std = R.standardiser(arrays[kind][train])
        x = (arrays[kind] - mean) / std
        val = arrays["split"] == "val"
        model, history = R.train_bilstm(x[train], arrays["label"][train], len(styles),
                                        architecture=architecture, width=width,
                                        epochs=epochs or BILSTM_EPOCHS, seed=seed,
                                        val=(x[val], arrays["label"][val]),
                                        progress=say)  # fmt: skip
        torch.save({"model": model, "scale": (mean, std), "history": history}, target)
        say(f"{name} saved")


def bilstm_trained() -> dict:
    """The BiLSTM variants trained so far, with the segment arrays."""
    out = {"models": {}, "scales": {}, "history": {}}
    legacy = BUILD / "bilstm.pt"  # one file of the first runs: {models, scales, history}
    if legacy.is_file():
        old = torch.load(legacy, weights_only=False)
        for key in ("models", "scales", "history"):
            out[key].update(old[key])
    for name in BILSTM_VARIANTS:
        path = BUILD / f"bilstm-{name}.pt"
        if path.is_file():
            saved = torch.load(path, weights_only=False)
            out["models"][name] = saved["model"]
            out["scales"][name] = saved["scale"]
            out["history"][name] = saved["history"]
    return out


def plot_confusion(matrix, labels, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=100)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    f"{share[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def hit_rates(bundle: Path, all_pieces, styles, arrays, bl) -> dict[str, float]:
    """Top-3 hit rate of every trained BiLSTM variant (torch, float32): each test dance ranked
    against the catalogue of every test song as ``bench_recommend.py`` ranks it (song
    profiles and the dance's tempo from the bundle's companion; the dance's style from the
    variant's per-segment probabilities)."""
    from musicdance.recognize.recognizer import DanceStyle, Recognizer, catalog_profiles, rank_songs
    from musicdance.train.recognition import bilstm_outputs

    recognizer = Recognizer.load(bundle)
    profiles, _ = catalog_profiles(recognizer, BUILD / "catalog")
    names = [Path(p.path).stem for p in profiles]
    dances = [(i, p) for i, p in enumerate(all_pieces) if p.split == "test"]
    tempo = {i: recognizer.classify(p.positions_m, "bilstm").tempo_bpm for i, p in dances}
    out = {}
    for name, model in bl["models"].items():
        mean, std = bl["scales"][name]
        x = (arrays[BILSTM_VARIANTS[name][1]] - mean) / std
        hits = []
        for i, p in dances:
            probs = bilstm_outputs(model, x[arrays["piece"] == i])[0]
            style = DanceStyle("bilstm", styles, np.zeros(len(probs)), probs, tempo[i])
            ranked = [Path(r.song).stem for r in rank_songs(style, profiles, len(profiles))]
            hits.append(p.name in ranked[:3])
        out[name] = float(np.mean(hits))
    say(f"hit rates over {len(dances)} dances x {len(names)} songs: {out}")
    return out


def part_ship(seed: int, bundle: Path, shipped: str = SHIPPED_BILSTM) -> None:
    from musicdance.companions import register_companion
    from musicdance.train import recognition as R

    all_pieces = pieces(seed)
    styles = styles_of(all_pieces)
    mc = torch.load(BUILD / "mclemcd.pt", weights_only=False)
    mc.setdefault("schedule", {"epochs_separate": EPOCHS_SEPARATE, "epochs_joint": EPOCHS_JOINT,
                               "windows_per_epoch": WINDOWS_PER_EPOCH})  # fmt: skip
    bl = bilstm_trained()
    bl["arrays"] = R.bilstm_arrays(all_pieces, styles)
    data = R.mclemcd_arrays(all_pieces, styles)
    results = {"styles": styles, "counts": COUNTS, "duration_s": DURATION_S, "seed": seed}
    results["mclemcd"] = {
        split: R.evaluate_mclemcd(data, mc["trained"], mc["scales"], split) for split in ("test",)
    }
    results["mclemcd_timing_s_per_epoch"] = mc["timing"]
    results["input_checks"] = R.input_checks(data, mc["scales"])
    results["mclemcd_schedule"] = {
        **mc["schedule"],
        "batch": R.MCLEMCD_BATCH,
        "lr": R.MCLEMCD_LR,
        "train_windows": int(len(data.rows("train"))),
    }
    arrays = bl["arrays"]
    hits = hit_rates(bundle, all_pieces, styles, arrays, bl)
    results["bilstm"] = {}
    for name, model in bl["models"].items():
        kind = BILSTM_VARIANTS[name][1]
        mean, std = bl["scales"][name]
        x = (arrays[kind] - mean) / std
        results["bilstm"][name] = {
            split: R.evaluate_bilstm(model, arrays, x, split, len(styles)) for split in ("test",)
        }
        results["bilstm"][name]["test"]["hit_rate_top3"] = hits[name]
        history = bl["history"][name]
        row = results["bilstm"][name]
        row["seconds_per_epoch"] = float(np.median([h["seconds"] for h in history]))
        row["width"] = int(model.width)
        row["std_floor"] = float(np.min(std))  # 1e-6: the first models' floor; else STD_FLOOR
        row["epochs"] = len(history)
        if "val_accuracy" in history[0]:
            best = max(history, key=lambda h: (h["val_accuracy"], -h["epoch"]))
            row["best_epoch"], row["val_accuracy"] = best["epoch"], best["val_accuracy"]
        row["history"] = history
    results["bilstm_shipped"] = shipped
    results["bilstm_schedule"] = {
        "epochs": BILSTM_EPOCHS,
        "compare_epochs": COMPARE_EPOCHS,
        "kept": "the epoch with the best validation accuracy",
        "batch": R.BILSTM_BATCH,
        "lr": R.BILSTM_LR,
        "train_segments": int((arrays["split"] == "train").sum()),
    }
    images = DOCS / "images"
    images.mkdir(parents=True, exist_ok=True)
    test = results["mclemcd"]["test"]
    plot_confusion(
        test["cl"]["late-fusion"]["confusion"],
        styles,
        "MCLEMCD with CL, late fusion (test, per segment)",
        images / "recognition-confusion-mclemcd.png",
    )
    plot_confusion(
        results["bilstm"][shipped]["test"]["confusion"],
        styles,
        f"BiLSTM-BiGRU, pose only, width {bl['models'][shipped].width} (test, per segment)",
        images / "recognition-confusion-bilstm.png",
    )
    shipped_models = {f: mc["trained"][f]["cl"] for f in ("joints", "limbs")}
    record = {
        "command": "nice python benchmarks/train_recognition.py --part all",
        "seed": seed,
        "mclemcd_branch": "cl (late fusion of joints and limbs)",
        "bilstm_variant": f"{shipped} (pose only, width {bl['models'][shipped].width}, "
        f"{results['bilstm'][shipped]['epochs']} epochs, epoch "
        f"{results['bilstm'][shipped].get('best_epoch')} kept)",
        "mclemcd_schedule": results["mclemcd_schedule"],
        "bilstm_schedule": results["bilstm_schedule"],
        "test_segment_accuracy": {
            "mclemcd": round(test["cl"]["late-fusion"]["segment_accuracy"], 4),
            "bilstm": round(results["bilstm"][shipped]["test"]["segment_accuracy"], 4),
        },
    }
    manifest = R.export_companion(
        bundle / "dance-music",
        motion_models=shipped_models,
        bilstm=bl["models"][shipped],
        scales=mc["scales"],
        bilstm_scale=bl["scales"][shipped],
        styles=styles,
        record=record,
        seed=seed,
    )
    register_companion(bundle, "dance-music")
    results["export_checks"] = json.loads(manifest.read_text())["checks"]
    R.write_json(DOCS / "recognition-results.json", results)
    say(f"shipped {manifest.parent}")


def main(argv: list[str] | None = None) -> int:
    global BILSTM_EPOCHS, EPOCHS_SEPARATE, EPOCHS_JOINT, WINDOWS_PER_EPOCH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=("data", "mclemcd", "bilstm", "ship", "all"), default="all"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bundle", type=Path, default=ROOT / "bundles" / "default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--variants",
        nargs="*",
        choices=list(BILSTM_VARIANTS),
        help="BiLSTM variants to train (default: all not yet trained).",
    )
    parser.add_argument("--bilstm-epochs", type=int, default=BILSTM_EPOCHS)
    parser.add_argument("--ship-bilstm", choices=list(BILSTM_VARIANTS), default=SHIPPED_BILSTM,
                        help="The BiLSTM variant the companion ships (default: %(default)s).")
    parser.add_argument("--epochs-separate", type=int, default=EPOCHS_SEPARATE)
    parser.add_argument("--epochs-joint", type=int, default=EPOCHS_JOINT)
    parser.add_argument("--windows-per-epoch", type=int, default=WINDOWS_PER_EPOCH)
    args = parser.parse_args(argv)
    BILSTM_EPOCHS, EPOCHS_SEPARATE = args.bilstm_epochs, args.epochs_separate
    EPOCHS_JOINT, WINDOWS_PER_EPOCH = args.epochs_joint, args.windows_per_epoch
    torch.set_num_threads(args.threads)
    BUILD.mkdir(parents=True, exist_ok=True)
    parts = ["data", "mclemcd", "bilstm", "ship"] if args.part == "all" else [args.part]
    for part in parts:
        say(f"part {part}")
        if part == "data":
            pieces(args.seed)
        elif part == "mclemcd":
            part_mclemcd(args.seed)
        elif part == "bilstm":
            part_bilstm(args.seed, args.variants)
        else:
            part_ship(args.seed, args.bundle, args.ship_bilstm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
