"""A bundle against its checkpoint on the held-out phrases of a corpus.

For every held-out labelled slot of the corpus (real phrase inputs: generated songs analysed like
any audio), compares three models:

- the checkpoint (torch, float32 weights);
- the released model (torch): for a float16 bundle the checkpoint rounded to float16
  (``bundle_export.released_networks``), for a float32 bundle the checkpoint itself;
- the bundle's graph (onnxruntime).

It prints max |bundle - released| (the export's parity; <= 1e-4 is the contract), max
|released - checkpoint| with the share of slots whose top-1 is unchanged (what the float16
rounding costs), and Top-1/5/10 of each against the corpus labels.

    python benchmarks/bench_bundle_parity.py CHECKPOINT [--bundle bundles/default]
        [--corpus build/starter/corpus] [--split test]

Needs the ``train`` extra (torch).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from musicdance.bundle import open_bundle
from musicdance.corpus.build import open_corpus
from musicdance.train import bundle_export, loops


def probabilities(networks, mel: np.ndarray, batch: int = 64) -> np.ndarray:
    """``mel [N, 128, 128] -> [N, K]`` with a torch model (eval mode, float32)."""
    model = networks.eval().probability_model()
    parts = []
    with torch.no_grad():
        for start in range(0, len(mel), batch):
            chunk = torch.from_numpy(np.asarray(mel[start : start + batch], np.float32))
            parts.append(model(chunk[:, None]).numpy())
    return np.concatenate(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--bundle", type=Path, default=Path("bundles/default"))
    parser.add_argument("--corpus", type=Path, default=Path("build/starter/corpus"))
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    bundle = open_bundle(args.bundle)
    loaded = loops.load_checkpoint(args.checkpoint, stages=("finetune", "coascent"))
    if list(loaded["phrase_ids"]) != bundle.phrase_ids:
        raise SystemExit("the bundle and the checkpoint have different classes")
    networks = loops.networks_from_checkpoint(loaded)
    float16 = bundle.manifest["weights"] == "float16"
    released = bundle_export.released_networks(networks, float16=float16)
    corpus = open_corpus(args.corpus)
    arrays = corpus.load(split=args.split, labelled=True)
    labels = arrays.label_indices(bundle.phrase_ids)
    keep = labels >= 0
    mel, labels = np.asarray(arrays.mel, np.float32)[keep], labels[keep]
    scores = {
        "checkpoint": probabilities(networks, mel),
        "released": probabilities(released, mel),
        "bundle": bundle.probabilities(mel),
    }
    top1 = {name: value.argmax(1) for name, value in scores.items()}
    print(f"{len(mel)} {args.split} slots of {args.corpus}; bundle {args.bundle} "
          f"({bundle.manifest['weights']} weights)")  # fmt: skip
    parity = float(np.abs(scores["bundle"] - scores["released"]).max())
    print(f"  max |bundle - released model|      {parity:.2e}  (contract: <= 1e-4)")
    print(f"  same top-1, bundle / released      {np.mean(top1['bundle'] == top1['released']):.4f}")
    rounding = float(np.abs(scores["released"] - scores["checkpoint"]).max())
    same = float(np.mean(top1["released"] == top1["checkpoint"]))
    print(f"  max |released - checkpoint|        {rounding:.2e}  (the float16 rounding)")
    print(f"  same top-1, released / checkpoint  {same:.4f}")
    for name, value in scores.items():
        accuracy = loops.topk_accuracy(value, labels)
        print(f"  {name:<11} Top-1/5/10  " + " / ".join(
            f"{100 * accuracy[f'top{k}']:.1f}" for k in (1, 5, 10)))  # fmt: skip


if __name__ == "__main__":
    main()
