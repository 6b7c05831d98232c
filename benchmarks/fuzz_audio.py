"""Long audio fuzz run: mutated clips of the demo song (WAV int16 and float, FLAC, Ogg, and
synthetic WAV headers) through ``analyze`` (decode and every analysis stage).

    python benchmarks/fuzz_audio.py --seconds 600 [--seed 0] [--cli-every 25]

Prints inputs, outcomes (read, rejected, uncaught, unreadable, hang, cli), the largest traced
allocation of one input and the process's peak memory; exits 1 if any input failed. A numpy
warning counts as uncaught. Each input gets 20 s (an alarm); see ``tests/fuzz/harness.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import (  # noqa: E402
    audio_corpus,
    check_audio_file,
    mutate_audio,
    print_tally,
    run_campaign,
)


def check_cli_analyze(path: Path):
    """``mdtool analyze --json -`` in-process: a report, or one ``error: FILE: ...`` line."""
    from mdtool.cli import main

    stderr = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["analyze", str(path), "--json", "-"])
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
    text = stderr.getvalue().strip()
    if code == 0:
        return "read", ""
    ok = code == 1 and text.startswith("error:") and len(text.splitlines()) == 1
    ok = ok and "internal error" not in text and str(path) in text
    return ("rejected", "") if ok else ("cli", f"exit {code}: {text[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument("--cli-every", type=int, default=25, help="run the CLI on every Nth input")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdfuzz-corpus-") as folder:
        sources = [(p.suffix, p.read_bytes()) for p in audio_corpus(Path(folder))]
    counter = {"n": 0}

    def make_input(rng, folder: Path) -> Path:
        suffix, data = rng.choice(sources)
        path = folder / f"fuzz{suffix}"
        path.write_bytes(mutate_audio(data, suffix, rng))
        return path

    def cli(path: Path):
        counter["n"] += 1
        return check_cli_analyze(path) if counter["n"] % args.cli_every == 0 else ("read", "")

    start = time.monotonic()
    tally = run_campaign(
        "audio",
        make_input,
        [check_audio_file, cli],
        seconds=args.seconds,
        max_inputs=args.inputs,
        seed=args.seed,
        report_every=100,
    )
    print_tally("audio fuzz", tally, time.monotonic() - start)
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
