"""Regenerate ``examples/demo_song.mp3`` (and its ground truth) deterministically.

    python examples/make_demo_song.py

Equivalent CLI: ``mdtool synth-song examples/demo_song.mp3 --genre house --bpm 124 --seed 2027``
(79 s: intro, verse, verse, bridge, verse, outro). The same seed always gives the same samples
(numpy's default_rng); the mp3 bytes are then those of libsndfile's LAME encoder at the same
settings (checked: two runs give byte-identical files).
"""

from __future__ import annotations

from pathlib import Path

from musicdance.audio.synth import synth_song, write_song, write_truth

GENRE, BPM, SEED, DURATION_S, SR_HZ = "house", 124.0, 2027, None, 44100


def main() -> None:
    here = Path(__file__).resolve().parent
    y, truth = synth_song(GENRE, bpm=BPM, seed=SEED, duration_s=DURATION_S, sr_hz=SR_HZ)
    song = write_song(here / "demo_song.mp3", y, sr_hz=SR_HZ)
    write_truth(here / "demo_song.truth.json", truth)
    print(f"wrote {song} ({song.stat().st_size / 1e6:.2f} MB, {truth.duration_s:.1f} s, "
          f"{truth.bpm:g} BPM, {truth.meter}/4, sections {' '.join(truth.section_labels)})")


if __name__ == "__main__":
    main()
