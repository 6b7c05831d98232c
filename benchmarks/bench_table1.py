"""Table 1's protocol (ablation groups I-V) re-run on a corpus, Top-1/5/10 on held-out songs.

A re-run of the protocol, not a reproduction of the paper's table: the starter corpus has rule
labels (the feature choreographer's choices) and K = 168 phrases.

Groups (as in the paper; the encoder is frozen in every group, only T is trained):

    I    random encoder, plain residual predictor        (paper: ImageNet ResNet-50 weights)
    II   self-supervised pre-trained encoder, plain predictor
    III  + residual attention in the predictor
    IV   + class balancing
    V    + co-ascent (Algorithm 1) on the unlabelled songs

Also printed, as references: the majority class, chance (k / K), and the feature scorer the
labels come from (its own Top-k against the labels its choreographer chose, which the models
try to imitate). Each group runs for every ``--seeds`` and the table shows mean (and spread).

    python benchmarks/bench_table1.py --corpus build/starter/corpus \
        --pretrained build/starter/pretrain.pt [--epochs 60] [--seeds 0 1 2] [--json]

Without ``--pretrained`` it pre-trains first (``--pretrain-epochs``); without a corpus folder
it builds a small starter corpus there first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from mdtool.app import training_progress
from musicdance.corpus.build import SongSource, build_corpus, open_corpus, starter_sources
from musicdance.train import loops

GROUPS = ("I", "II", "III", "IV", "V")
ABLATIONS = {  # self-supervised, attention, balance, co-ascent
    "I": (False, False, False, False),
    "II": (True, False, False, False),
    "III": (True, True, False, False),
    "IV": (True, True, True, False),
    "V": (True, True, True, True),
}
METRICS = ("top1", "top5", "top10")


def rule_reference(corpus_path: Path, phrase_ids: list[str]) -> dict[str, float]:
    """Top-k of the feature scorer's emission against the rule labels of the test songs."""
    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.synth import synth_song
    from musicdance.choreo.scoring import FeatureScorer
    from musicdance.choreo.slots import plan_slots
    from musicdance.library import open_library

    corpus = open_corpus(corpus_path)
    infos = open_library(corpus.library["path"]).infos()
    scores, labels = [], []
    for song in corpus.songs:
        source = SongSource.from_json(song["source"])
        if source.split != "test" or source.labels != "rule" or source.kind != "synth":
            continue
        y, _ = synth_song(
            source.genre, bpm=source.bpm, seed=source.seed, duration_s=source.duration_s
        )
        analysis = analyze_signal(y, sr_hz=22050, path=source.name)
        scores.append(FeatureScorer().score(plan_slots(analysis), infos))
        with np.load(corpus_path / song["shard"], allow_pickle=False) as data:
            labels += [phrase_ids.index(str(x)) for x in data["labels"]]
    if not scores:
        return {}
    return loops.topk_accuracy(np.concatenate(scores), np.array(labels))


def run_group(group: str, corpus: Path, pretrained: Path, work: Path, seed: int, args) -> dict:
    supervised_init, attention, balance, coascent = ABLATIONS[group]
    config = loops.load_checkpoint(pretrained)["config"]
    start = time.perf_counter()
    finetuned = work / f"{group}-{seed}-finetune.pt"
    result = loops.finetune(
        corpus,
        finetuned,
        init=pretrained if supervised_init else None,
        encoder=config.encoder,
        embedding_dim=config.embedding_dim,
        attention=attention,
        balance=balance,
        epochs=args.epochs,
        seed=seed,
        save_every=args.epochs,
    )
    if coascent:
        result = loops.coascent(
            corpus,
            work / f"{group}-{seed}-coascent.pt",
            init=finetuned,
            rounds=args.rounds,
            epochs_per_round=args.epochs_per_round,
            lr=args.coascent_lr,
            seed=seed,
        )
    last = result.history[-1]
    row = {m: last[m] for m in METRICS}
    if coascent:
        row["pseudo_labels"] = [h["pseudo_labels"] for h in result.history]
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("build/table1/corpus"))
    parser.add_argument("--pretrained", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=Path("build/table1"))
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=60, help="fine-tuning epochs per group")
    parser.add_argument("--rounds", type=int, default=3, help="co-ascent rounds (group V)")
    parser.add_argument("--epochs-per-round", type=int, default=5)
    parser.add_argument("--coascent-lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not (args.corpus / "index.json").exists():
        print(f"building a starter corpus in {args.corpus} ...", file=sys.stderr)
        build_corpus(
            args.corpus,
            starter_sources(unlabelled=32, labelled=24, duration_s=30.0),
            library="phrase_library",
        )
    pretrained = args.pretrained
    if pretrained is None:
        pretrained = args.work / "pretrain.pt"
        print(f"pre-training {args.pretrain_epochs} epochs -> {pretrained} ...", file=sys.stderr)
        loops.pretrain(
            args.corpus, pretrained, epochs=args.pretrain_epochs, progress=training_progress
        )
    corpus = open_corpus(args.corpus)
    phrase_ids = corpus.phrase_ids
    test = corpus.load(split="test", labelled=True)
    test_labels = test.label_indices(phrase_ids)
    summary = corpus.summary()
    results: dict[str, list[dict]] = {g: [] for g in GROUPS}
    for seed in args.seeds:
        for group in GROUPS:
            row = run_group(group, args.corpus, pretrained, args.work, seed, args)
            results[group].append(row)
            print(f"seed {seed} group {group}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METRICS),
                  file=sys.stderr)  # fmt: skip
    counts = np.bincount(test_labels, minlength=len(phrase_ids))
    order = np.argsort(-counts)
    references = {
        "majority": {
            f"top{k}": float(counts[order[:k]].sum() / len(test_labels)) for k in (1, 5, 10)
        },
        "chance": {f"top{k}": k / len(phrase_ids) for k in (1, 5, 10)},
        "feature scorer (label source)": rule_reference(args.corpus, phrase_ids),
    }
    table = {
        group: {
            m: {
                "mean": statistics.fmean(r[m] for r in rows),
                "spread": (max(r[m] for r in rows) - min(r[m] for r in rows)) / 2,
            }
            for m in METRICS
        }
        for group, rows in results.items()
    }
    report = {
        "corpus": str(args.corpus),
        "corpus_summary": summary,
        "pretrained": str(pretrained),
        "classes": len(phrase_ids),
        "test_samples": len(test_labels),
        "seeds": args.seeds,
        "epochs": args.epochs,
        "table": table,
        "runs": results,
        "references": references,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"corpus {args.corpus}: {summary['samples']} samples, K = {len(phrase_ids)}, "
          f"{len(test_labels)} test samples; seeds {args.seeds}")  # fmt: skip
    print(f"{'Group':<7}{'SSL':>5}{'Att':>5}{'Bal':>5}{'Co-A':>6}   " + "".join(
        f"{m.capitalize():>16}" for m in METRICS))  # fmt: skip
    for group in GROUPS:
        marks = "".join(f"{'x' if flag else '-':>5}" for flag in ABLATIONS[group][:3])
        marks += f"{'x' if ABLATIONS[group][3] else '-':>6}"
        cells = "".join(
            f"{100 * table[group][m]['mean']:>10.1f} ± {100 * table[group][m]['spread']:<4.1f}"
            for m in METRICS
        )
        print(f"{group:<7}{marks}   {cells}")
    for name, values in references.items():
        if values:
            cells = "".join(f"{100 * values[m]:>10.1f}{'':6}" for m in METRICS)
            print(f"{name:<31}{cells}")


if __name__ == "__main__":
    main()
