"""Fuzz timelines (issue 14): mutated real timelines through the reader, the runtime's checks,
the renderer and ``mdtool edit --replace``; prints the counts.

Inputs are a real timeline (choreographed from a synthetic song with the starter library)
mutated structurally (``mutate_json``) or as text (``mutate_text``). In-process, each input is
parsed, checked against the library and, when accepted, rendered (bounded by the timeline
limits). Every ``--cli-every``-th input also goes through ``mdtool edit --replace`` in a copy of
a choreographed folder: a failure must be one line and change no file; a success must leave
outputs that read back.

    python benchmarks/fuzz_timeline.py --seconds 600 [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))

from svc_fuzzing import (  # noqa: E402
    Tally,
    dumps_any,
    fuzz_timeline_one,
    mutate_json,
    mutate_text,
    peak_rss_mb,
    snapshot,
)

STARTER = REPO / "phrase_library"


def seed_timeline(folder: Path) -> tuple[dict, Path]:
    """A real timeline and the folder ``mdtool choreograph`` wrote it to."""
    from musicdance.audio.synth import synth_song, write_song

    y, _ = synth_song("pop", bpm=120.0, seed=5, duration_s=20.0)
    song = write_song(folder / "song.wav", y, sr_hz=22050)
    out = folder / "made"
    subprocess.run(
        [sys.executable, "-m", "mdtool.cli", "choreograph", str(song), "-o", str(out),
         "--library", str(STARTER), "--no-bundle", "--seed", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return json.loads((out / "song.timeline.json").read_text()), out


def one_input(rng: random.Random, seed: dict) -> str:
    if rng.random() < 0.75:
        return dumps_any(mutate_json(seed, rng))
    return mutate_text(json.dumps(seed), rng)


def cli_check(text: str, made: Path, work: Path, phrase_ids: list[str], rng, tally: Tally) -> None:
    folder = work / "edit"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(made, folder)
    (folder / "song.timeline.json").write_text(text)
    before = snapshot(folder)
    replace = f"{rng.randrange(0, 12)}={rng.choice(phrase_ids)}"
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mdtool.cli", "edit", str(folder / "song.timeline.json"),
             "--replace", replace, "--library", str(STARTER), "--no-record"],
            capture_output=True, text=True, timeout=20 * 3,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        tally.add("hang", text[:200], time.perf_counter() - started)
        return
    seconds = time.perf_counter() - started
    if result.returncode == 0:
        from musicdance.choreo.timeline import read_timeline

        try:
            read_timeline(folder / "song.timeline.json")
        except Exception as error:  # noqa: BLE001
            tally.add("partial", f"edit wrote an unreadable timeline: {error}", seconds)
            return
        tally.add("ok", "", seconds)
        return
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if snapshot(folder) != before:
        tally.add("changed", result.stderr, seconds)
    elif result.returncode == 2 and "Invalid value" in result.stderr:
        tally.add("refused", "", seconds)  # a usage error (Typer), not a bug
    elif "internal error" in result.stderr or "Traceback" in result.stderr or len(lines) != 1:
        tally.add("uncaught", result.stderr, seconds)
    else:
        tally.add("refused", "", seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-inputs", type=int, default=10**9)
    parser.add_argument("--render-every", type=int, default=25)
    parser.add_argument("--cli-every", type=int, default=250)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from musicdance.library import open_library

    rng = random.Random(args.seed)
    library = open_library(STARTER)
    phrase_ids = library.ids()
    inproc, cli = Tally(), Tally()
    with tempfile.TemporaryDirectory(prefix="fuzz-timeline-") as tmp:
        work = Path(tmp)
        seed, made = seed_timeline(work)
        deadline = time.monotonic() + args.seconds
        k = 0
        while time.monotonic() < deadline and k < args.max_inputs:
            text = one_input(rng, seed)
            fuzz_timeline_one(text, library, inproc, render=k % args.render_every == 0)
            if k % args.cli_every == 0:
                cli_check(text, made, work, phrase_ids, rng, cli)
            k += 1
    report = {"seed": args.seed, "seconds": args.seconds, "in_process": inproc.summary(),
              "cli_edit": cli.summary(), "peak_rss_mb": round(peak_rss_mb(), 1)}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name in ("in_process", "cli_edit"):
            s = report[name]
            print(f"{name}: {s['inputs']} inputs: {s['ok']} ok, {s['refused']} refused, "
                  f"{s['uncaught']} uncaught, {s['hang']} hangs, {s['partial']} partial, "
                  f"{s['changed']} changed by failed commands; "
                  f"slowest {s['slowest_s']} s")  # fmt: skip
            for outcome, examples in s["examples"].items():
                for example in examples:
                    print(f"  {outcome}: {example}")
        print(f"peak memory (RSS) {report['peak_rss_mb']} MB")
    sys.exit(1 if inproc.bad or cli.bad else 0)


if __name__ == "__main__":
    main()
