"""Model commands: ``mdtool train corpus | pretrain | finetune | coascent | evaluate`` and
``mdtool export-onnx``.

Defaults are small so that a CPU run of the whole chain finishes in a few minutes; the paper's
schedules (200 pre-training epochs, 500 fine-tuning epochs) are a matter of ``--epochs``.
torch is imported only inside the commands that need it (the ``train`` extra).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from mdtool.app import app, console, err_console, print_json, training_progress
from mdtool.library_commands import DEFAULT_LIBRARY
from musicdance.errors import MusicDanceError

train_app = typer.Typer(
    help="Build training corpora, train the paper's networks, evaluate them.",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")

DEFAULT_CORPUS = Path("build/corpus")
DEFAULT_RUNS = Path("build/runs")
CORPUS_OPTION = typer.Option(DEFAULT_CORPUS, "--corpus", "-C", help="Corpus folder.")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of tables.")
SEED_OPTION = typer.Option(0, "--seed", help="Seed of initialisation and shuffling.")
RESUME_OPTION = typer.Option(False, "--resume", help="Continue from --out if it exists.")
PROCESSES_OPTION = typer.Option(
    1, "--processes", min=1, help="DistributedDataParallel processes (CPU, gloo)."
)


def _loops():
    try:
        from musicdance.train import loops
    except ImportError as error:
        raise MusicDanceError(
            f"training needs the train extra (pip install 'mdtool[train]'): {error}"
        ) from None
    return loops


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}"
    return str(value)


def _print_history(title: str, history: list[dict[str, Any]], keys: list[str]) -> None:
    table = Table(title=title)
    for key in keys:
        table.add_column(key, justify="right")
    for row in history:
        table.add_row(*(_fmt(row.get(key, "")) for key in keys))
    console.print(table)


def _report(result, keys: list[str], as_json: bool) -> None:
    if as_json:
        print_json(result.to_json())
        return
    _print_history(f"{result.stage}: {result.checkpoint}", result.history, keys)
    for note in result.notes:
        err_console.print(f"note: {note}")
    console.print(f"wrote {result.checkpoint} ({result.seconds:.1f} s, {result.samples} samples)")


# ---------------------------------------------------------------------------------------------
# corpus


@train_app.command("corpus")
def corpus_command(
    out: Path = typer.Argument(DEFAULT_CORPUS, help="Corpus folder (created or updated)."),
    unlabelled: int = typer.Option(
        16, "--unlabelled", min=0, help="Generated unlabelled songs (pre-training, co-ascent)."
    ),
    labelled: int = typer.Option(
        8, "--labelled", min=0, help="Generated songs labelled by the feature choreographer."
    ),
    duration: float = typer.Option(30.0, "--duration", min=5.0, help="Seconds per generated song."),
    test_every: int = typer.Option(
        4, "--test-every", min=2, help="Every n-th labelled generated song is held out (test)."
    ),
    audio: list[Path] = typer.Option(
        None, "--audio", help="Unlabelled audio file or folder (repeatable)."
    ),
    pairs: list[Path] = typer.Option(
        None, "--pairs", help="Labelled pairs, .csv or .jsonl (repeatable; see docs/models.md)."
    ),
    library: Path = typer.Option(
        DEFAULT_LIBRARY, "--library", "-L", help="Phrase library the labels refer to."
    ),
    workers: int = typer.Option(0, "--workers", min=0, help="Parallel analyses (0: all CPUs)."),
    engine: str = typer.Option("process", "--engine", help="process (local pool) or ray."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated songs."),
    force: bool = typer.Option(False, "--force", help="Re-analyse every song (ignore the cache)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Analyse songs once and cache their per-slot model inputs (the starter corpus by default).

    Generated songs come from the procedural synthesiser; labelled ones get, for each slot, the
    phrase the feature-based choreographer picks (rule labels, not expert choreography).
    """
    from musicdance.corpus.build import (
        audio_sources,
        build_corpus,
        pair_sources,
        starter_sources,
    )
    from musicdance.corpus.pairs import read_pairs

    sources = starter_sources(
        unlabelled=unlabelled, labelled=labelled, duration_s=duration, seed=seed,
        test_every=test_every,
    )  # fmt: skip
    sources += audio_sources(audio or [])
    for path in pairs or []:
        sources += pair_sources(read_pairs(path))
    if not sources:
        raise MusicDanceError("no songs: give --unlabelled/--labelled counts, --audio or --pairs")
    with _song_progress(enabled=not as_json, total=len(sources)) as on_song:
        report = build_corpus(
            out, sources, library=library, workers=workers or None, engine=engine, force=force,
            on_song=on_song,
        )  # fmt: skip
    if as_json:
        print_json(report.to_json())
        return
    for song, error in report.failed:
        err_console.print(f"skipped {song}: {error}")
    for note in report.notes:
        err_console.print(f"note: {note}")
    console.print(
        f"{out}: {report.songs} songs, {report.samples} samples ({report.labelled_samples} "
        f"labelled); analysed {report.analysed}, cached {report.cached}, failed "
        f"{len(report.failed)} ({report.seconds:.1f} s, {report.engine} x {report.workers})"
    )


class _song_progress:  # noqa: N801 - used like a function
    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self.progress = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("analyse"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[song]}"),
            console=err_console,
            transient=True,
        )
        self.progress.__enter__()
        task = self.progress.add_task("analyse", total=None, song="")

        def on_song(done: int, total: int, record: dict) -> None:
            self.progress.update(task, completed=done, total=total, song=record.get("name", ""))

        return on_song

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


@train_app.command("info")
def corpus_info(corpus: Path = CORPUS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Songs and samples of a corpus, per split and label kind."""
    from musicdance.corpus.build import open_corpus

    opened = open_corpus(corpus)
    summary = opened.summary()
    summary["features"] = opened.index["features"]
    summary["library"] = None if not opened.library else {
        k: opened.library[k] for k in ("path", "phrases", "fingerprint")
    }  # fmt: skip
    if as_json:
        print_json(summary)
        return
    console.print(f"{corpus}: {summary['songs']} songs, {summary['samples']} samples")
    for key, value in summary.items():
        if "/" in key:
            console.print(f"  {key:<14} {value['songs']:5d} songs {value['samples']:7d} samples")


# ---------------------------------------------------------------------------------------------
# training


@train_app.command("pretrain")
def pretrain_command(
    corpus: Path = CORPUS_OPTION,
    out: Path = typer.Option(DEFAULT_RUNS / "pretrain.pt", "--out", "-o", help="Checkpoint."),
    encoder: str = typer.Option("light", "--encoder", help="light (CPU default) or resnet50."),
    embedding_dim: int = typer.Option(
        512, "--embedding-dim", help="Size of the embedding u (paper: 512)."
    ),
    width: float = typer.Option(
        1.0, "--width", min=0.25, max=4.0,
        help="Light encoder channel multiplier (1.0: ~2.8 M parameters, 0.7: ~1.4 M).",
    ),  # fmt: skip
    init: Path = typer.Option(None, "--init", help="Start from this checkpoint's encoder."),
    epochs: int = typer.Option(2, "--epochs", min=1, help="Epochs (paper: 200)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Samples per step/process."),
    lr: float = typer.Option(1e-4, "--lr", help="Adam learning rate (paper: 1e-4)."),
    processes: int = PROCESSES_OPTION,
    seed: int = SEED_OPTION,
    resume: bool = RESUME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Self-supervised pre-training of the encoder and decoders (eq. 1-4) on every song."""
    loops = _loops()
    from musicdance.model_config import ModelConfig

    if encoder == "resnet50":  # the paper's D1 width too
        if width != 1.0:
            raise typer.BadParameter("--width applies to the light encoder")
        config = ModelConfig.resnet50(embedding_dim=embedding_dim)
    else:
        config = ModelConfig(encoder=encoder, embedding_dim=embedding_dim, encoder_width=width)
    result = loops.pretrain(
        corpus, out, config=config, init=init, epochs=epochs,
        batch_size=batch_size, lr=lr, seed=seed, processes=processes, resume=resume,
        progress=None if as_json else training_progress,
    )  # fmt: skip
    keys = ["epoch", "loss", "spectrogram", "melody", "rhythm", "phrases_per_s", "seconds"]
    _report(result, keys, as_json)


@train_app.command("finetune")
def finetune_command(
    corpus: Path = CORPUS_OPTION,
    out: Path = typer.Option(DEFAULT_RUNS / "finetune.pt", "--out", "-o", help="Checkpoint."),
    init: Path = typer.Option(
        None, "--init", help="Pre-trained checkpoint (default: random encoder, Table 1 group I)."
    ),
    encoder: str = typer.Option("light", "--encoder", help="Encoder kind without --init."),
    embedding_dim: int = typer.Option(
        512, "--embedding-dim", help="Embedding size without --init."
    ),
    attention: bool = typer.Option(
        True, "--attention/--no-attention", help="Residual attention blocks in T."
    ),
    balance: bool = typer.Option(False, "--balance/--no-balance", help="Class balancing."),
    epochs: int = typer.Option(
        None, "--epochs", min=1, help="Epochs (default 30, paper: 500; edits: 60)."
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", min=1, help="Samples per step/process (default 64; edits: 32)."
    ),
    lr: float = typer.Option(
        None, "--lr", help="Learning rate (default: SGD 1e-2 as the paper; edits: Adam 1e-3)."
    ),
    processes: int = PROCESSES_OPTION,
    seed: int = SEED_OPTION,
    resume: bool = RESUME_OPTION,
    labels: str = typer.Option(
        "corpus", "--labels",
        help="corpus (the corpus' labelled songs) or edits (the curators' recorded replaces "
        "in --library; --init is then a bundle or checkpoint, default bundles/default).",
    ),  # fmt: skip
    library: Path = typer.Option(
        DEFAULT_LIBRARY, "--library", "-L", help="With --labels edits: the library."
    ),
    user: list[str] = typer.Option(None, "--user", help="With --labels edits: only theirs."),
    bundle_out: Path = typer.Option(
        Path("build/bundle-edits"), "--bundle-out",
        help="With --labels edits: the bundle written (export-onnx --bundle).",
    ),  # fmt: skip
    force: bool = typer.Option(False, "--force", help="Replace an existing --bundle-out."),
    context: bool = typer.Option(
        True, "--context/--no-context",
        help="With --labels edits: also learn from each slot's place in the song's structure "
        "(section repeats, loudness; the bundle gains a context head).",
    ),  # fmt: skip
    as_json: bool = JSON_OPTION,
) -> None:
    """Fine-tune the predictor on the labelled songs with the encoder frozen (eq. 5), or with
    --labels edits on the curators' recorded replaces, and export a bundle."""
    if labels not in ("corpus", "edits"):
        raise typer.BadParameter("--labels is corpus or edits")
    if labels == "edits":
        if resume or processes > 1:
            raise typer.BadParameter("--labels edits trains in one process, without --resume")
        _finetune_edits(
            library, out, init, user, bundle_out, force, epochs=epochs or 60,
            batch_size=batch_size or 32, lr=lr or 1e-3, seed=seed, context=context,
            as_json=as_json,
        )  # fmt: skip
        return
    epochs, batch_size, lr = epochs or 30, batch_size or 64, lr or 1e-2
    result = _loops().finetune(
        corpus, out, init=init, encoder=encoder, embedding_dim=embedding_dim, attention=attention,
        balance=balance,
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, processes=processes,
        resume=resume, progress=None if as_json else training_progress,
    )  # fmt: skip
    _report(result, ["epoch", "loss", "train_top1", "top1", "top5", "top10"], as_json)


def _finetune_edits(library, out, init, users, bundle_out, force, *, as_json, **settings):
    """``train finetune --labels edits``: fine-tune on the library's edits, export a bundle."""
    _loops()
    from musicdance.defaults import DEFAULT_BUNDLE
    from musicdance.library import open_library
    from musicdance.train import bundle_export
    from musicdance.train.edits import finetune_on_edits

    opened = open_library(library)
    if out == DEFAULT_RUNS / "finetune.pt":
        out = DEFAULT_RUNS / "finetune-edits.pt"
    bundle_export.check_bundle_target(Path(bundle_out), force)  # before any training
    report = finetune_on_edits(
        opened, out, init=init or DEFAULT_BUNDLE, users=users or None,
        progress=None if as_json else training_progress, **settings,
    )  # fmt: skip
    exported = bundle_export.export_bundle(out, bundle_out, library=library, force=force)
    report["bundle"] = exported["bundle"]
    report["bundle_max_abs_diff"] = exported["max_abs_diff"]
    if as_json:
        print_json(report)
        return
    console.print(
        f"learned from {report['edits_used']} edits ({report['edits_skipped']} skipped) by "
        f"{', '.join(report['users'])}: top-1 on them {report['edits_top1_before']:.1%} -> "
        f"{report['edits_top1_after']:.1%} ({report['seconds']:.1f} s)"
    )
    console.print(f"wrote {out} and bundle {report['bundle']}; see its agreement with "
                  f"'mdtool library edits --agreement --bundle {report['bundle']}'")  # fmt: skip


@train_app.command("coascent")
def coascent_command(
    corpus: Path = CORPUS_OPTION,
    init: Path = typer.Option(
        DEFAULT_RUNS / "finetune.pt", "--init", help="Fine-tuned checkpoint to start from."
    ),
    out: Path = typer.Option(DEFAULT_RUNS / "coascent.pt", "--out", "-o", help="Checkpoint."),
    library: Path = typer.Option(
        None, "--library", "-L", help="Library for the initial matrix (default: the corpus')."
    ),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Pseudo-labelling rounds."),
    epochs_per_round: int = typer.Option(5, "--epochs-per-round", min=1, help="Paper: 5."),
    tau: float = typer.Option(0.9, "--tau", help="Pseudo-label confidence threshold."),
    alpha: float = typer.Option(0.5, "--alpha", help="Momentum of the matrix update."),
    lr: float = typer.Option(1e-3, "--lr", help="SGD learning rate (paper: 1e-5, 500 epochs)."),
    balance: bool = typer.Option(
        None, "--balance/--no-balance", help="Class balancing (default: as the init)."
    ),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Samples per step/process."),
    processes: int = PROCESSES_OPTION,
    seed: int = SEED_OPTION,
    resume: bool = RESUME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Co-ascent (Algorithm 1): pseudo-labels re-scaled by the transition matrix, both refined."""
    result = _loops().coascent(
        corpus, out, init=init, library=library, rounds=rounds,
        epochs_per_round=epochs_per_round, tau=tau, alpha=alpha, lr=lr, balance=balance,
        batch_size=batch_size, seed=seed, processes=processes, resume=resume,
        progress=None if as_json else training_progress,
    )  # fmt: skip
    keys = ["epoch", "loss", "pseudo_labels", "unlabelled", "mean_confidence", "top1", "top5",
            "top10"]  # fmt: skip
    _report(result, keys, as_json)


@train_app.command("evaluate")
def evaluate_command(
    checkpoint: Path = typer.Argument(..., help="Fine-tuned or co-ascent checkpoint."),
    corpus: Path = CORPUS_OPTION,
    split: str = typer.Option("test", "--split", help="test (held out) or train."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Top-1/5/10 of a checkpoint on the labelled songs of a split (and with eq. 6 re-scaling)."""
    if split not in ("test", "train"):
        raise typer.BadParameter("--split is test or train")
    report = _loops().evaluate(corpus, checkpoint, split=split)
    if as_json:
        print_json(report)
        return
    table = Table(
        title=f"{checkpoint} on {report['samples']} {split} samples, K={report['classes']}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if key.startswith(("top", "rescaled_", "majority")):
            table.add_row(key, _fmt(value))
    console.print(table)


# ---------------------------------------------------------------------------------------------
# export


@app.command("export-onnx")
def export_onnx_command(
    checkpoint: Path = typer.Argument(..., help="Checkpoint (pretrain, finetune or coascent)."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Folder (default: build/onnx, or build/bundle with --bundle)."
    ),
    bundle: bool = typer.Option(
        False, "--bundle", help="Write a runtime bundle (fused graph, matrix, manifest)."
    ),
    library: Path = typer.Option(
        None, "--library", "-L", help="Library of the bundle (default: the checkpoint's)."
    ),
    float16: bool = typer.Option(
        None, "--float16/--float32", help="Weight storage (default: float16 for bundles)."
    ),
    all_graphs: bool = typer.Option(False, "--all-graphs", help="Bundle every network too."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Export a checkpoint's networks to ONNX, or with --bundle the runtime bundle.

    Opset 18, IR 10, Sentis operators only; every graph is checked against torch.
    """
    _loops()
    from musicdance.train import bundle_export

    if bundle:
        report = bundle_export.export_bundle(
            checkpoint, out or Path("build/bundle"), library=library,
            float16=True if float16 is None else float16, all_graphs=all_graphs, force=force,
        )  # fmt: skip
        if as_json:
            print_json(report)
            return
        for name, size in report["files"].items():
            console.print(f"  {name:<26} {size / 1e6:8.2f} MB")
        console.print(
            f"wrote bundle {report['bundle']} ({report['bytes'] / 1e6:.1f} MB, K="
            f"{report['num_classes']}, {report['weights']} weights); max |onnx - torch| "
            f"{report['max_abs_diff']:.1e} against {report['parity']['reference']}"
        )
        _print_rounding(report["float16_rounding"])
        return
    report = bundle_export.export_checkpoint(
        checkpoint, out or Path("build/onnx"), float16=bool(float16)
    )
    if as_json:
        print_json(report)
        return
    table = Table(title=f"{checkpoint} -> ONNX opset {report['opset']}, IR {report['ir_version']}")
    for column in ("graph", "MB", "max |onnx - torch|", "operators"):
        table.add_column(column)
    for name, graph in report["graphs"].items():
        table.add_row(name, f"{graph['bytes'] / 1e6:.2f}", f"{graph['max_abs_diff']:.1e}",
                      " ".join(graph["operators"]))  # fmt: skip
    console.print(table)
    _print_rounding(report["checks"].get("float16_rounding"))


def _print_rounding(rounding: dict[str, Any] | None) -> None:
    """One line on what rounding the weights to float16 costs against the checkpoint."""
    if rounding:
        console.print(
            f"float16 rounding vs the checkpoint on {rounding['samples']} real phrase inputs: "
            f"max |probability change| {rounding['max_abs_diff']:.1e}, same top-1 on "
            f"{100 * rounding['top1_agreement']:.0f} %"
        )
