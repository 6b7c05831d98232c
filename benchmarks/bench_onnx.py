"""ONNX inference time for the phrases of a 4-minute song through the probabilities graph.

Exports encoder + predictor + softmax (``mel [B, 1, 128, 128] -> probabilities [B, K]``) for the
light and the ResNet50 encoder, then times onnxruntime on the CPU: all phrases as one batch
(what ``mdtool choreograph`` does) and one phrase per call. The issue's target: at most 0.5 s
for the light encoder. Weights are random; the time does not depend on them.

    python benchmarks/bench_onnx.py [--phrases 60] [--classes 200] [--repeats 5] [--threads 0]
        [--encoders light resnet50] [--bundle bundles/default]

Needs the ``train`` extra (torch, onnx) for the export; the timing itself is onnxruntime only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from musicdance.model_config import MEL_BANDS, PHRASE_FRAMES, ModelConfig
from musicdance.train import export
from musicdance.train.networks import Networks, parameter_count


def session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU session; ``threads=0`` lets onnxruntime pick (one per physical core)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def seconds(fn, repeats: int) -> tuple[float, float]:
    """Median and best wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def bench(config: ModelConfig, phrases: int, repeats: int, threads: int, tmp: Path) -> None:
    torch.manual_seed(0)
    networks = Networks(config).eval()
    start = time.perf_counter()
    path = export.export_networks(networks, tmp / config.encoder, names=("probabilities",))[
        "probabilities"
    ]
    export_s = time.perf_counter() - start
    sess = session(path, threads)
    mel = np.random.default_rng(0).standard_normal((phrases, 1, MEL_BANDS, PHRASE_FRAMES))
    mel = mel.astype(np.float32)
    batched = seconds(lambda: sess.run(None, {"mel": mel}), repeats)
    single = seconds(lambda: [sess.run(None, {"mel": mel[i : i + 1]}) for i in range(phrases)], 1)
    params = parameter_count(networks.encoder) + parameter_count(networks.predictor)
    print(f"{config.encoder} encoder, K={config.num_classes}:")
    print(f"  parameters (E + T)          {params / 1e6:7.2f} M")
    print(f"  probabilities.onnx          {path.stat().st_size / 1e6:7.1f} MB")
    print(f"  export (dynamo, opset {export.OPSET})   {export_s:7.2f} s")
    print(f"  {phrases} phrases, one batch      {batched[0]:7.3f} s (best {batched[1]:.3f})")
    print(f"  {phrases} phrases, one per call   {single[0]:7.3f} s")


def bench_bundle(path: Path, phrases: int, repeats: int, threads: int) -> None:
    """Time a runtime bundle's graph (e.g. bundles/default) the way OnnxScorer runs it."""
    from musicdance.bundle import open_bundle

    bundle = open_bundle(path, threads=threads)
    mel = np.random.default_rng(0).random((phrases, MEL_BANDS, PHRASE_FRAMES), dtype=np.float32)
    batched = seconds(lambda: bundle.probabilities(mel), repeats)
    size = sum(p.stat().st_size for p in path.iterdir())
    config = bundle.manifest["model"]
    print(
        f"bundle {path} ({config['encoder']} x{config.get('encoder_width', 1.0):g}, "
        f"D={config['embedding_dim']}, "
        f"K={bundle.num_classes}, {bundle.manifest['weights']} weights, {size / 1e6:.1f} MB):"
    )
    print(f"  {phrases} phrases, one batch      {batched[0]:7.3f} s (best {batched[1]:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=60, help="60 phrases ~ a 4-minute song")
    parser.add_argument("--classes", type=int, default=200, help="K, library size")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads")
    parser.add_argument("--encoders", nargs="+", default=["light", "resnet50"])
    parser.add_argument("--bundle", type=Path, default=None, help="also time this bundle")
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, IR {export.IR_VERSION}")
    if args.bundle is not None:
        bench_bundle(args.bundle, args.phrases, args.repeats, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.encoders:
            config = ModelConfig(encoder=kind, num_classes=args.classes)
            bench(config, args.phrases, args.repeats, args.threads, Path(tmp))


if __name__ == "__main__":
    main()
