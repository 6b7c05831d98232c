"""The Unity package's C# music analysis (``Runtime/Core/Analysis``) run under mono, and its
parity with ``musicdance.audio.analysis.analyze_signal``.

``build`` compiles the analyzer with its command-line harness (``Tests~/Analysis/AnalysisCli.cs``)
using Debian's ``mcs``; ``run_csharp`` feeds it raw float32 PCM and reads the analysis back;
``compare`` measures how far the two analyses are apart (used by the tests and by
``benchmarks/bench_unity_analysis.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = [
    "PACKAGE", "Parity", "available", "build", "compare", "run_csharp", "bench_csharp",
    "log_mel_gap_below_9k4", "soxr_response", "write_soxr_response",
]
#: mel bands 0-121 lie below 9.4 kHz at 22050 Hz (above it the resamplers' band edges differ).
BANDS_BELOW_9K4 = 122

PACKAGE = Path(__file__).resolve().parents[1] / "unity" / "com.mdtool.dance"


SOXR_RESPONSE_CS = PACKAGE / "Runtime" / "Core" / "Analysis" / "SoxrResponse.cs"


def soxr_response(n_bins: int = 1025) -> np.ndarray:
    """soxr's magnitude response when it resamples to 22050 Hz ("HQ", from 44.1 kHz: the curve is
    the same within 0.05 dB down to -6 dB for 32-96 kHz inputs), at the STFT bin frequencies.

    Returns:
        np.ndarray [shape=(n_bins,)], linear gain at ``linspace(0, 11025, n_bins)`` Hz, 1 at 0 Hz.
    """
    import soxr

    n = 1 << 16
    impulse = np.zeros(n, dtype=np.float32)
    impulse[n // 2] = 1.0
    response = soxr.resample(impulse, 44100, 22050).astype(np.float64)
    n_fft = 1 << 18
    mag = np.abs(np.fft.rfft(response, n_fft))
    gain = np.interp(np.linspace(0, 11025, n_bins), np.fft.rfftfreq(n_fft, 1 / 22050), mag)
    return gain / gain[0]


def write_soxr_response(path: Path = SOXR_RESPONSE_CS) -> Path:
    """Write ``soxr_response()`` as the C# table the in-engine analysis corrects its spectrum by."""
    values = ",\n".join(
        "            " + ", ".join(f"{v:.9g}f" for v in row)
        for row in np.array_split(soxr_response(), range(6, 1025, 6))
    )
    path.write_text(
        "// soxr's magnitude response when it resamples to 22050 Hz (\"HQ\", measured from\n"
        "// 44.1 kHz by mdruntime.csharp_analysis.write_soxr_response; do not edit), at the 1025\n"
        "// bins of the 2048-point STFT (0 to 11025 Hz). The C# analysis scales the spectrum of a\n"
        "// downsampled song by this over its own resampler's response, so that its top bands see\n"
        "// the same band edge as the Python analysis.\n"
        "namespace MdTool.Dance.Analysis\n{\n    public static class SoxrResponse\n    {\n"
        "        public static readonly float[] Gain =\n        {\n" + values + "\n        };\n"
        "    }\n}\n"
    )
    return path


def available() -> bool:
    """True where Debian's mono compiler and runtime are installed."""
    return shutil.which("mcs") is not None and shutil.which("mono") is not None


def build(exe: Path, *, optimize: bool = True) -> Path:
    """Compile the analyzer and its harness to ``exe`` (``mcs -warnaserror``)."""
    sources = sorted((PACKAGE / "Runtime" / "Core" / "Analysis").glob("*.cs"))
    sources += [PACKAGE / "Runtime" / "Core" / "MiniJson.cs",
                PACKAGE / "Tests~" / "Analysis" / "AnalysisCli.cs"]
    flags = ["-optimize+"] if optimize else []
    done = subprocess.run(["mcs", "-warnaserror", *flags, f"-out:{exe}", *map(str, sources)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise MusicDanceError(f"mcs failed: {done.stdout}{done.stderr}")
    return exe


def run_csharp(exe: Path, y: np.ndarray, sr_hz: int, folder: Path) -> tuple[dict, np.ndarray]:
    """Analyse ``y`` (mono float32 PCM at ``sr_hz``) in C#.

    Returns:
        (the analysis as a JSON dict, log-mel np.ndarray [shape=(128, T), float32]).

    Raises:
        MusicDanceError: the C# side refused the input (its AnalysisException message) or failed.
    """
    pcm, out, mel = folder / "in.f32", folder / "out.json", folder / "logmel.f32"
    np.asarray(y, dtype="<f4").tofile(pcm)
    done = subprocess.run(["mono", str(exe), str(pcm), str(sr_hz), str(out), str(mel)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise MusicDanceError((done.stderr or done.stdout).strip())
    data = json.loads(out.read_text())
    log_mel = np.fromfile(mel, dtype="<f4").reshape(128, -1)
    return data, log_mel


def bench_csharp(
    exe: Path, y: np.ndarray, sr_hz: int, folder: Path, repeats: int = 3, core: int | None = 0
) -> dict:
    """Time the C# analysis (best of ``repeats``; wall and CPU seconds) and report its peak memory.

    Args:
        core: CPU the process is pinned to (``taskset``, where installed); None: not pinned.
    """
    pcm = folder / "bench.f32"
    np.asarray(y, dtype="<f4").tofile(pcm)
    pin = ["taskset", "-c", str(core)] if core is not None and shutil.which("taskset") else []
    done = subprocess.run([*pin, "mono", str(exe), "--bench", str(pcm), str(sr_hz), str(repeats)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise MusicDanceError((done.stderr or done.stdout).strip())
    return json.loads(done.stdout)


@dataclass
class Parity:
    """How far the C# analysis is from the Python one (times in hops of 512 samples).

    Attributes:
        tempo_diff_bpm: |tempo difference|.
        beats_py, beats_cs: beat counts; beat_max_hops: largest beat time difference (when the
            counts agree; inf otherwise).
        positions_equal, meter_equal: bar positions and meter identical.
        downbeat_max_hops: largest downbeat difference (inf when the counts differ).
        sections_equal: same number of sections, same labels and bar counts;
        section_max_hops: largest section boundary difference.
        phrases_py, phrases_cs: phrase counts; phrases_equal: same n_bars and sections;
        phrase_max_hops: largest phrase boundary difference.
        log_mel_max_db, log_mel_p999_db: largest and 99.9th percentile |log-mel difference|.
        onset_env_max: largest |onset envelope difference|.
        melody_agree: fraction of frames with the same voicing and pitch within 1 %.
        rhythm_agree: fraction of frames with the same rhythm target.
        onsets_py, onsets_cs: onset counts.
        descriptor_max_rel: largest relative difference of the phrase descriptors (energy,
            0-1 already: absolute).
    """

    tempo_diff_bpm: float
    beats_py: int
    beats_cs: int
    beat_max_hops: float
    positions_equal: bool
    meter_equal: bool
    downbeat_max_hops: float
    sections_equal: bool
    section_max_hops: float
    phrases_py: int
    phrases_cs: int
    phrases_equal: bool
    phrase_max_hops: float
    log_mel_max_db: float
    log_mel_p999_db: float
    onset_env_max: float
    melody_agree: float
    rhythm_agree: float
    onsets_py: int
    onsets_cs: int
    descriptor_max_rel: float

    def to_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def log_mel_gap_below_9k4(py_log_mel: np.ndarray, cs_log_mel: np.ndarray,
                          above_floor_db: float = 20.0) -> tuple[float, float]:
    """Largest |log-mel difference| in the bands below 9.4 kHz where the Python log-mel is more
    than ``above_floor_db`` above its floor (near the floor, 80 dB under the song's loudest bin,
    tiny absolute differences are large in dB), and the fraction of those entries compared."""
    a, b = py_log_mel[:BANDS_BELOW_9K4], cs_log_mel[:BANDS_BELOW_9K4]
    keep = a > py_log_mel.min() + above_floor_db
    return (float(np.abs(a - b)[keep].max()) if keep.any() else 0.0), float(keep.mean())


def _max_gap_hops(a, b, fps: float) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() * fps) if a.size else 0.0


def compare(py, cs: dict, cs_log_mel: np.ndarray) -> Parity:
    """Parity figures between a Python ``Analysis`` and the C# analysis of the same PCM."""
    fps = py.fps
    sec_py = [(s.label, s.n_bars) for s in py.sections]
    sec_cs = [(s["label"], s["n_bars"]) for s in cs["sections"]]
    sec_gap = _max_gap_hops([[s.start_s, s.end_s] for s in py.sections],
                            [[s["start_s"], s["end_s"]] for s in cs["sections"]], fps)
    ph_py = [(p.n_bars, p.section, p.section_label) for p in py.phrases]
    ph_cs = [(p["n_bars"], p["section"], p["section_label"]) for p in cs["phrases"]]
    ph_gap = _max_gap_hops([[p.start_s, p.end_s] for p in py.phrases],
                           [[p["start_s"], p["end_s"]] for p in cs["phrases"]], fps)
    rel = 0.0
    if ph_py == ph_cs:
        for p, q in zip(py.phrases, cs["phrases"], strict=True):
            for key in ("loudness_db", "energy", "onset_density_per_s", "centroid_hz", "tempo_bpm"):
                a, b = float(getattr(p, key)), float(q[key])
                scale = 1.0 if key == "energy" else max(abs(a), 1e-3)  # energy is 0-1 already
                rel = max(rel, abs(a - b) / scale)
    mel_py = py.log_mel_db
    diff = np.abs(mel_py - cs_log_mel) if mel_py.shape == cs_log_mel.shape else np.array([np.inf])
    m_py, m_cs = np.asarray(py.melody_hz, float), np.asarray(cs["melody_hz"], float)
    both = (m_py > 0) & (m_cs > 0)
    close = np.abs(m_py - m_cs) <= 0.01 * np.maximum(m_py, 1)
    agree = ((m_py > 0) == (m_cs > 0)) & (~both | close)
    return Parity(
        tempo_diff_bpm=abs(float(py.tempo_bpm) - cs["tempo_bpm"]),
        beats_py=len(py.beat_times_s), beats_cs=len(cs["beat_times_s"]),
        beat_max_hops=_max_gap_hops(py.beat_times_s, cs["beat_times_s"], fps),
        positions_equal=list(map(int, py.beat_positions)) == cs["beat_positions"],
        meter_equal=int(py.meter) == cs["meter"],
        downbeat_max_hops=_max_gap_hops(py.downbeat_times_s, cs["downbeat_times_s"], fps),
        sections_equal=sec_py == sec_cs, section_max_hops=sec_gap,
        phrases_py=len(ph_py), phrases_cs=len(ph_cs), phrases_equal=ph_py == ph_cs,
        phrase_max_hops=ph_gap,
        log_mel_max_db=float(diff.max()), log_mel_p999_db=float(np.percentile(diff, 99.9)),
        onset_env_max=float(np.abs(np.asarray(py.onset_env, float)
                                   - np.asarray(cs["onset_env"], float)).max()),
        melody_agree=float(agree.mean()) if agree.size else 1.0,
        rhythm_agree=float((np.asarray(py.rhythm) == np.asarray(cs["rhythm"])).mean()),
        onsets_py=len(py.onset_times_s), onsets_cs=len(cs["onset_times_s"]),
        descriptor_max_rel=rel,
    )
