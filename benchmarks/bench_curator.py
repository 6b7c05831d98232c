"""Edits become labels: the model's top-1 agreement with a simulated curator against the number
of recorded edits N (issue 18).

    python benchmarks/bench_curator.py [--counts 0,25,50,100,200] [--holdout 6] [--json]

A simulated curator (``musicdance.evaluate.curator``: calm, in-place phrases outside choruses,
the most travelling phrase in choruses, a taste the rules do not encode) edits the dances the
shipped bundle makes for generated songs (seeds 100, 101, ...); every replace goes through the
SDK's ``replace_phrases`` into a copy of the starter library's ``edits`` table. For each N the
shipped bundle is fine-tuned on the first N edits (``finetune_on_edits``, the code behind
``mdtool train finetune --labels edits``), exported as a bundle, and scored on every slot of
held-out songs (seeds 900, ...) by ``curation.agreement``: the share of slots where the
bundle's first choice among the style's phrases is the curator's (model alone, and mixed with
the feature scorer as the choreographer scores). N = 0 is the shipped bundle; "rules" is the
feature scorer alone. Seeds are fixed: the same command prints the same figures.

Every N is fine-tuned twice: "slot only" (the predictor alone, as before schema version 4)
and "with context" (the predictor and the context head reading the slot's place in the
song's structure, ``musicdance.choreo.context``; the default of ``finetune_on_edits``). The
curve is printed for all held-out slots and per true section kind (chorus, verse, other).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "sdk")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="0,25,50,100,200", help="Values of N.")
    parser.add_argument("--holdout", type=int, default=6, help="Held-out songs.")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per song.")
    parser.add_argument("--init", type=Path, default=ROOT / "bundles" / "default")
    parser.add_argument("--library", type=Path, default=ROOT / "phrase_library")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="Fine-tuning seed.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from musicdance.bundle import open_bundle
    from musicdance.choreo.curation import agreement
    from musicdance.evaluate.curator import SimulatedCurator, curate_song, phrase_travel_m
    from musicdance.library import open_library
    from musicdance.library.edits import list_edits
    from musicdance.train.bundle_export import export_bundle
    from musicdance.train.edits import finetune_on_edits

    counts = sorted({int(n) for n in args.counts.split(",")})
    work = Path(tempfile.mkdtemp(prefix="bench-curator-"))
    try:
        shutil.copytree(args.library, work / "library")
        library = open_library(work / "library")
        shipped = open_bundle(args.init, library=library)
        curator = SimulatedCurator(phrase_travel_m(library))
        t0 = time.perf_counter()
        seed, songs = 100, 0
        while len(list_edits(library)) < max(counts):
            curate_song(library, curator, seed=seed, duration_s=args.duration,
                        bundle=shipped).record(library, curator, shipped)  # fmt: skip
            seed, songs = seed + 1, songs + 1
        held = [curate_song(library, curator, seed=900 + k, duration_s=args.duration,
                            bundle=shipped) for k in range(args.holdout)]  # fmt: skip
        slots = [edit for song in held for edit in song.all_slots(curator)]
        kinds = [s if s in ("chorus", "verse") else "other" for song in held for s in song.sections]
        chorus = kinds.count("chorus")
        parts = {kind: [e for e, k in zip(slots, kinds, strict=True) if k == kind]
                 for kind in ("chorus", "verse", "other")}  # fmt: skip
        edits = list_edits(library, with_inputs=True)
        prepared_s = time.perf_counter() - t0
        rules = agreement(shipped, slots, library, feature_weight=1.0)
        rows = []
        for n in counts:
            for context in (False, True) if n else (False,):
                t1 = time.perf_counter()
                if n == 0:
                    bundle = shipped
                else:
                    name = f"edits-{n}-{'context' if context else 'slot'}"
                    finetune_on_edits(library, work / f"{name}.pt", init=args.init,
                                      edits=edits[:n], epochs=args.epochs, seed=args.seed,
                                      context=context)  # fmt: skip
                    export_bundle(work / f"{name}.pt", work / name, library=library.path)
                    bundle = open_bundle(work / name, library=library)
                found = agreement(bundle, slots, library)
                by_part = {f"{kind}_model_top1": agreement(bundle, part, library)["model_top1"]
                           for kind, part in parts.items()}  # fmt: skip
                rows.append({"n": n, "context": context, "model_top1": found["model_top1"],
                             "top1": found["top1"], "top5": found["top5"],
                             "replaced_top1": found["replaced_top1"], **by_part,
                             "seconds": round(time.perf_counter() - t1, 1)})  # fmt: skip
        report = {
            "training_songs": songs, "edits_recorded": len(edits),
            "edits_with_input": sum(e.model_input is not None for e in edits),
            "holdout_songs": len(held), "holdout_slots": len(slots), "holdout_chorus_slots": chorus,
            "holdout_verse_slots": kinds.count("verse"),
            "rules_top1": rules["top1"], "prepare_s": round(prepared_s, 1), "curve": rows,
        }  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"simulated curator: {report['edits_recorded']} edits recorded on "
          f"{report['training_songs']} training songs ({report['edits_with_input']} with a model "
          f"input); held out: {report['holdout_slots']} slots of {report['holdout_songs']} songs "
          f"({chorus} in choruses, {report['holdout_verse_slots']} in verses); "
          f"{report['prepare_s']} s to prepare")  # fmt: skip
    print(f"rules (feature scorer) top-1 agreement with the curator: {rules['top1']:.1%}")
    print("model top-1 on held-out slots: 'slot only' = fine-tuned on the slot's log-mel alone "
          "(before), 'context' = with the slot's place in the song's structure (after)")
    print(f"{'N':>5} {'input':>12} {'model top-1':>12} {'(chorus)':>9} {'(verse)':>9} "
          f"{'(other)':>9} {'mixed top-1':>12} {'mixed top-5':>12} {'s':>7}")  # fmt: skip
    for row in rows:
        kind = "shipped" if not row["n"] else "context" if row["context"] else "slot only"
        print(f"{row['n']:>5} {kind:>12} {row['model_top1']:>12.1%} "
              f"{row['chorus_model_top1']:>9.1%} {row['verse_model_top1']:>9.1%} "
              f"{row['other_model_top1']:>9.1%} {row['top1']:>12.1%} {row['top5']:>12.1%} "
              f"{row['seconds']:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
