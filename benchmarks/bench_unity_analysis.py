"""The Unity package's C# music analysis under mono: speed, memory and parity with Python.

1. Speed: a 4-minute song (``synth_song`` pop at 120 BPM, mono float32) analysed by the C#
   ``MusicAnalyzer`` pinned to one core (``taskset -c 0``), best of ``--runs``: from 44.1 and
   48 kHz PCM (the C# resampler included; what ``AudioClip.GetData`` gives) and from 22050 Hz
   PCM. Wall and CPU seconds, the process's peak working set (the mono runtime included) and
   managed heap. The Python ``analyze_signal`` on the same PCM for comparison. The issue's
   budget is 2 s for the whole C# choreography (analysis, scoring, decoding, render); this is
   the analysis part.
2. Parity: the demo song and the songs in ``../shared/data/music``, decoded by
   ``musicdance.audio.load`` and fed as float32 PCM at 22050 Hz to both sides; the demo also at
   44.1 and 48 kHz (soxr against the C# resampler). Per song: tempo difference, largest
   beat/downbeat/section/phrase boundary difference in hops, same meter/sections/phrases,
   log-mel difference.

Usage: python benchmarks/bench_unity_analysis.py [--runs 3] [--json OUT] [--no-parity]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "sdk"), str(REPO / "unity_bridge")]

from mdruntime import csharp_analysis as ca  # noqa: E402
from musicdance.audio.analysis import analyze_signal  # noqa: E402


def _song_4min(sr_hz: int) -> np.ndarray:
    from musicdance.audio.synth import synth_song

    y, _ = synth_song("pop", seed=42, bpm=120, duration_s=240.0, sr_hz=sr_hz)
    return np.asarray(y[: 240 * sr_hz], dtype=np.float32)


def _speed(exe: Path, folder: Path, runs: int) -> list[dict]:
    import soxr

    y44 = _song_4min(44100)
    y48 = soxr.resample(y44, 44100, 48000).astype(np.float32)
    y22 = soxr.resample(y44, 44100, 22050).astype(np.float32)
    rows = []
    for label, y, sr in (("44.1 kHz in", y44, 44100), ("48 kHz in", y48, 48000),
                         ("22050 Hz in", y22, 22050)):
        cs = ca.bench_csharp(exe, y, sr, folder, repeats=runs)
        best_py = min(_timed(lambda y=y, sr=sr: analyze_signal(y, sr_hz=sr)) for _ in range(runs))
        rows.append({
            "input": label, "duration_s": len(y) / sr, "cs_wall_s": cs["best_s"],
            "cs_cpu_s": cs["best_cpu_s"], "cs_peak_working_set_mb": cs["peak_working_set_mb"],
            "cs_managed_heap_mb": cs["managed_heap_mb"], "python_wall_s": best_py,
        })
    return rows


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _parity(exe: Path, folder: Path) -> list[dict]:
    import soundfile as sf

    from musicdance.audio.load import load_audio

    songs = [REPO / "examples" / "demo_song.mp3"]
    songs += sorted(p for p in (REPO.parent / "shared" / "data" / "music").glob("*")
                    if p.suffix in (".ogg", ".mp3", ".wav", ".flac"))
    rows = []
    for song in songs:
        y, _ = load_audio(song)
        inputs = [(y, 22050, "22050")]
        if song.name == "demo_song.mp3":
            import soxr

            raw, sr = sf.read(song, dtype="float32", always_2d=True)
            raw = raw.mean(axis=1).astype(np.float32)
            inputs.append((raw, sr, str(sr)))
            inputs.append((soxr.resample(raw, sr, 48000).astype(np.float32), 48000, "48000"))
        for pcm, sr, label in inputs:
            py = analyze_signal(pcm, sr_hz=sr)
            cs, log_mel = ca.run_csharp(exe, pcm, sr, folder)
            p = ca.compare(py, cs, log_mel)
            below, _ = ca.log_mel_gap_below_9k4(py.log_mel_db, log_mel)
            rows.append({"song": song.name, "input_hz": label, **p.to_json(),
                         "log_mel_below_9k4_max_db": round(below, 6)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--no-parity", action="store_true")
    args = parser.parse_args()
    if not ca.available():
        sys.exit("mono is not installed (apt-get install -y --no-install-recommends mono-mcs)")
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exe = ca.build(folder / "AnalysisCli.exe")
        report["speed"] = _speed(exe, folder, args.runs)
        print(f"C# analysis of a 4-minute song under mono, one core (best of {args.runs}):")
        for r in report["speed"]:
            print(f"  {r['input']:12s} C# wall {r['cs_wall_s']:.3f} s, CPU {r['cs_cpu_s']:.3f} s, "
                  f"peak working set {r['cs_peak_working_set_mb']:.0f} MB, managed heap "
                  f"{r['cs_managed_heap_mb']:.0f} MB | Python analyze_signal "
                  f"{r['python_wall_s']:.3f} s")
        if not args.no_parity:
            report["parity"] = _parity(exe, folder)
            print("\nParity (C# vs Python on the same PCM; hops of 512 samples at 22050 Hz):")
            print(f"  {'song':28s} {'in Hz':>6s} {'dBPM':>7s} {'beats':>9s} {'beat':>5s} "
                  f"{'meter':>5s} {'dbeat':>5s} {'sect':>5s} {'phr':>7s} {'phr':>5s} "
                  f"{'mel max dB':>10s} {'<9.4k':>8s}")
            for r in report["parity"]:
                print(f"  {r['song']:28s} {r['input_hz']:>6s} {r['tempo_diff_bpm']:7.4f} "
                      f"{r['beats_py']:4d}/{r['beats_cs']:<4d} {r['beat_max_hops']:5.1f} "
                      f"{'same' if r['meter_equal'] and r['positions_equal'] else 'DIFF':>5s} "
                      f"{r['downbeat_max_hops']:5.1f} "
                      f"{'same' if r['sections_equal'] else 'DIFF':>5s} "
                      f"{r['phrases_py']:3d}/{r['phrases_cs']:<3d} {r['phrase_max_hops']:5.1f} "
                      f"{r['log_mel_max_db']:10.5f} {r['log_mel_below_9k4_max_db']:8.5f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
