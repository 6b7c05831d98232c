"""Cold-start speed and memory of a whole ``mdtool analyze`` process.

Renders a 4-minute song (``synth_song``, stereo mp3 at 44.1 kHz), then runs
``python -m mdtool.cli analyze SONG --json OUT`` ``--runs`` times, each in a fresh process, and
reports wall time per process, the per-stage breakdown (from the JSON ``timings_s``), the time
outside the stages (interpreter start, imports, printing) and the peak RSS of the process
(``os.wait4``). For comparison it also times a cold librosa pipeline on the same file
(``librosa.load`` + ``librosa.beat.beat_track``), which is what the numpy implementation
replaces on the hot path.

``--long-minutes N`` also writes an N-minute file (the 4-minute song repeated, written block by
block) and reports the peak RSS of analysing it (the issue's bound: about 1 GB for 60 minutes).

Usage: python benchmarks/bench_analysis_speed.py [--runs 5] [--long-minutes 60] [--no-librosa]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _run(cmd: list[str], quiet: bool = False) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 and not quiet:
        sys.stderr.write(proc.stderr.read().decode())
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024.0, proc.returncode


def _make_song(path: Path, seconds: float) -> None:
    from musicdance.audio.synth import synth_song, write_song

    y, _ = synth_song("pop", seed=42, bpm=120, duration_s=seconds * 1.1, sr_hz=44100)
    while len(y) < seconds * 44100:
        y = np.concatenate([y, y])
    y = y[: int(seconds * 44100)]
    stereo = np.stack([y, np.roll(y, 7) * 0.9], axis=1)
    write_song(path, stereo, sr_hz=44100)


def _make_long(song: Path, path: Path, minutes: float) -> None:
    """Repeat ``song`` to ``minutes`` into a FLAC written block by block (bounded memory)."""
    import soundfile as sf

    block, sr = sf.read(str(song), dtype="float32", always_2d=True)
    n_total = int(minutes * 60 * sr)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=block.shape[1],
                      format="FLAC", subtype="PCM_16") as out:
        written = 0
        while written < n_total:
            chunk = block[: n_total - written]
            out.write(chunk)
            written += len(chunk)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--long-minutes", type=float, default=0.0)
    parser.add_argument("--no-librosa", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song_4min.mp3"
        _make_song(song, args.seconds)
        size_mb = song.stat().st_size / 1e6
        print(f"song: {args.seconds:.0f} s stereo mp3 at 44.1 kHz, {size_mb:.1f} MB; "
              f"{os.cpu_count()} CPU cores\n")
        out_json = Path(tmp) / "a.json"
        cmd = [sys.executable, "-m", "mdtool.cli", "analyze", str(song), "--json", str(out_json)]
        walls, rss, stages = [], [], []
        for _ in range(args.runs):
            wall, peak, code = _run(cmd)
            if code != 0:
                return code
            walls.append(wall)
            rss.append(peak)
            stages.append(json.loads(out_json.read_text())["timings_s"])
        print(f"whole `mdtool analyze` process, cold start, {args.runs} runs:")
        print(f"  wall time   median {np.median(walls):.2f} s  (min {min(walls):.2f}, "
              f"max {max(walls):.2f})  target <= 5 s: "
              f"{'PASS' if np.median(walls) <= 5 else 'FAIL'}")
        print(f"  peak RSS    median {np.median(rss):.0f} MB")
        print("  per stage (median s):")
        names = list(stages[0])
        for name in names:
            print(f"    {name:10s} {np.median([s[name] for s in stages]):.3f}")
        total = np.median([sum(s.values()) for s in stages])
        print(f"    {'stages':10s} {total:.3f}")
        print(f"    {'other':10s} {np.median(walls) - total:.3f}  (interpreter, imports, output)")
        if not args.no_librosa:
            code = (f"import librosa; y, sr = librosa.load({str(song)!r}, sr=22050); "
                    "librosa.beat.beat_track(y=y, sr=sr)")
            wall, peak, code = _run([sys.executable, "-c", code], quiet=True)
            status = "ok" if code == 0 else f"CRASHED (exit code {code})"
            print(f"\ncold librosa.load + beat_track on the same file: {wall:.2f} s, "
                  f"peak RSS {peak:.0f} MB, {status}")
        if args.long_minutes:
            long_path = Path(tmp) / "long.flac"
            _make_long(song, long_path, args.long_minutes)
            cmd = [sys.executable, "-m", "mdtool.cli", "analyze", str(long_path), "--json",
                   str(out_json)]
            wall, peak, code = _run(cmd)
            if code != 0:
                return code
            print(f"\n{args.long_minutes:.0f}-minute file: wall {wall:.1f} s, peak RSS "
                  f"{peak:.0f} MB (bound: about 1 GB): {'PASS' if peak <= 1100 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
