"""Long audio fuzz run: mutated clips of the demo song (WAV int16 and float, FLAC, Ogg, and
synthetic WAV headers) through ``analyze`` (decode and every analysis stage).

    python benchmarks/fuzz_audio.py --seconds 600 [--seed 0] [--cli-every 25]

Prints inputs, outcomes (read, rejected, uncaught, unreadable, hang, cli), the largest traced
allocation of one input and the process's peak memory; exits 1 if any input failed. A numpy
warning counts as uncaught. Each input gets 20 s (an alarm); see ``tests/fuzz/harness.py``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import (  # noqa: E402
    audio_corpus,
    campaign_main,
    check_audio_file,
    every_nth,
    mutate_audio,
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


def audio_campaign(args):
    with tempfile.TemporaryDirectory(prefix="mdfuzz-corpus-") as folder:
        sources = [(p.suffix, p.read_bytes()) for p in audio_corpus(Path(folder))]

    def make_input(rng, folder: Path) -> Path:
        suffix, data = rng.choice(sources)
        path = folder / f"fuzz{suffix}"
        path.write_bytes(mutate_audio(data, suffix, rng))
        return path

    cli = every_nth(lambda path, n: check_cli_analyze(path), args.cli_every)
    return make_input, [check_audio_file, cli]


if __name__ == "__main__":
    campaign_main(
        __doc__, "audio fuzz", audio_campaign, name="audio", cli_every=25, report_every=100
    )
