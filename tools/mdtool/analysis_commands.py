"""Music analysis commands: ``mdtool analyze`` and ``mdtool synth-song``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from mdtool.app import app, console, err_console, print_json, stage_progress
from musicdance.defaults import GENERATED_BPM_RANGE

_BPM_LOW, _BPM_HIGH = GENERATED_BPM_RANGE

_START = time.perf_counter()


@app.command()
def analyze(
    song: Path = typer.Argument(..., help="Audio file (wav, mp3, ogg, flac; m4a/aac with ffmpeg)."),
    json_out: str = typer.Option(
        None, "--json", metavar="OUT", help="Write the analysis as JSON to OUT ('-': stdout)."
    ),
    plot: Path = typer.Option(None, "--plot", metavar="OUT.png", help="Save a figure (PNG)."),
    profile: bool = typer.Option(False, "--profile", help="Print time per stage and peak memory."),
    max_duration: float = typer.Option(
        None, "--max-duration", help="Analyse only the first seconds.", min=1.0
    ),
    max_song_min: float = typer.Option(
        120.0, "--max-song-min", help="Refuse songs longer than this (minutes).", min=0.1
    ),
) -> None:
    """Tempo, meter, beats, sections and 2-8 bar phrases of a song."""
    from musicdance.audio.analysis import STAGES
    from musicdance.audio.analysis import analyze as run_analysis

    quiet = json_out == "-"
    with stage_progress("analyse", STAGES, enabled=not quiet) as on_stage:
        result = run_analysis(
            song, on_stage=on_stage, max_duration_s=max_duration, max_song_s=max_song_min * 60.0
        )
    for warning in result.warnings:
        err_console.print(
            f"[yellow]warning:[/yellow] {escape(f'{song}: {warning}')}",
            highlight=False,
            soft_wrap=True,
        )
    if json_out == "-":
        print_json(result.to_json())
    else:
        _print_report(result)
        if json_out:
            result.save_json(json_out)
            console.print(f"wrote {json_out}")
    if plot is not None:
        t0 = time.perf_counter()
        _plot(result, plot)
        result.timings_s["plot"] = time.perf_counter() - t0
        (err_console if quiet else console).print(f"wrote {plot}")
    if profile:
        _print_profile(result.timings_s, quiet)


def _print_report(result) -> None:
    from rich.table import Table

    summary = Table(title=str(result.path), show_header=False)
    summary.add_row("duration", f"{result.duration_s:.1f} s")
    summary.add_row("tempo", f"{result.tempo_bpm:.1f} BPM" if result.tempo_bpm else "-")
    summary.add_row("meter", result.time_signature if len(result.beat_times_s) else "-")
    summary.add_row("pulse clarity", f"{result.pulse_clarity:.2f}")
    summary.add_row("beats / bars", f"{len(result.beat_times_s)} / {len(result.downbeat_times_s)}")
    summary.add_row("onsets", str(len(result.onset_times_s)))
    summary.add_row("sections / phrases", f"{len(result.sections)} / {len(result.phrases)}")
    console.print(summary)
    if result.sections:
        table = Table(title="sections")
        for col in ("#", "label", "start s", "end s", "bars"):
            table.add_column(col, justify="right" if col != "label" else "left")
        for s in result.sections:
            table.add_row(str(s.index), s.label, f"{s.start_s:.2f}", f"{s.end_s:.2f}",
                          str(s.n_bars))
        console.print(table)
    if result.phrases:
        table = Table(title="phrases")
        for col in ("#", "sec", "start", "end", "bars", "BPM", "dB", "energy", "on/s",
                    "centroid"):
            table.add_column(col, justify="right", no_wrap=True)
        for p in result.phrases:
            table.add_row(
                str(p.index), p.section_label, f"{p.start_s:.1f}", f"{p.end_s:.1f}",
                str(p.n_bars), f"{p.tempo_bpm:.0f}",
                f"{p.loudness_db:.0f}", f"{p.energy:.2f}", f"{p.onset_density_per_s:.1f}",
                f"{p.centroid_hz:.0f}",
            )
        console.print(table)


def _print_profile(timings: dict[str, float], to_stderr: bool) -> None:
    import resource

    from rich.table import Table

    out = err_console if to_stderr else console
    table = Table(title="profile")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for name, seconds in timings.items():
        table.add_row(name, f"{seconds:.3f}")
    table.add_row("analysis total", f"{sum(v for k, v in timings.items() if k != 'plot'):.3f}")
    table.add_row("process so far", f"{time.perf_counter() - _START:.3f}")
    out.print(table)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.print(f"peak memory (RSS): {peak_mb:.0f} MB")


def _plot(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from musicdance.atomic import atomic_write
    from musicdance.errors import MusicDanceError

    if path.suffix.lower() != ".png":
        raise MusicDanceError("the plot must be a .png file", path=path)
    t = np.arange(result.n_frames) / result.fps
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(14, 5.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1.3]})
    colors = plt.get_cmap("tab10")
    labels = sorted({s.label for s in result.sections})
    for s in result.sections:
        c = colors(labels.index(s.label) % 10)
        for a in (ax, ax2):
            a.axvspan(s.start_s, s.end_s, color=c, alpha=0.12, lw=0)
        ax.text(s.start_s, 1.0, f" {s.label}", transform=ax.get_xaxis_transform(), va="top",
                fontsize=9, fontweight="bold")
    env = np.asarray(result.onset_env, dtype=float)
    ax.plot(t, env / max(env.max(), 1e-9), color="0.25", lw=0.6, label="onset envelope")
    ax.vlines(result.beat_times_s, 0, 0.35, color="tab:orange", lw=0.6, label="beats")
    ax.vlines(result.downbeat_times_s, 0, 0.6, color="tab:red", lw=1.0, label="downbeats")
    for i, p in enumerate(result.phrases):
        ax.axvline(p.start_s, color="tab:blue", ls="--", lw=1.4, zorder=4,
                   label="phrase starts" if i == 0 else None)
    for s in result.sections[1:]:
        ax.axvline(s.start_s, color="black", lw=2.0)
    ax.set_ylabel("onset strength")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper right", fontsize=8, ncol=4)
    tempo = (f"{result.tempo_bpm:.1f} BPM, {result.time_signature}" if result.tempo_bpm
             else "no beat")
    ax.set_title(f"{Path(str(result.path)).name}: {tempo}, {len(result.sections)} sections, "
                 f"{len(result.phrases)} phrases")
    mel = np.asarray(result.melody_hz, dtype=float)
    midi = np.where(mel > 0, 69 + 12 * np.log2(np.maximum(mel, 1e-9) / 440), np.nan)
    ax2.plot(t, midi, ".", ms=1.5, color="tab:purple")
    ax2.set_ylabel("melody (MIDI)")
    ax2.set_xlabel("time (s)")
    ax2.set_xlim(0, max(result.duration_s, 1e-3))
    fig.tight_layout()
    try:
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=110)
    except OSError as error:
        raise MusicDanceError(f"cannot write: {error.strerror or error}", path=path) from None
    finally:
        plt.close(fig)


@app.command("synth-song")
def synth_song(
    out: Path = typer.Argument(..., help="Output audio (.wav, .mp3, .flac or .ogg)."),
    genre: str = typer.Option("pop", "--genre", help="Genre (see --list-genres)."),
    bpm: float = typer.Option(
        None, "--bpm", help=f"Tempo, {_BPM_LOW:g}-{_BPM_HIGH:g} (default: from the genre)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same song)."),
    duration: float = typer.Option(None, "--duration", help="Approximate length in seconds."),
    sr: int = typer.Option(44100, "--sr", help="Sample rate in Hz."),
    truth: Path = typer.Option(
        None, "--truth", help="Ground-truth JSON path (default: OUT with .truth.json)."
    ),
    list_genres: bool = typer.Option(False, "--list-genres", help="List genres and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Generate a song with exact ground truth (beats, bars, phrases, sections, melody)."""
    from musicdance.audio.synth import GENRES, write_song, write_truth
    from musicdance.audio.synth import synth_song as render
    from musicdance.errors import MusicDanceError

    if list_genres:
        rows = {name: {"meter": g.meter, "bpm_range": list(g.bpm_range)}
                for name, g in GENRES.items()}
        if as_json:
            print_json(rows)
        else:
            for name, row in rows.items():
                lo, hi = row["bpm_range"]
                console.print(f"{name:10s} {row['meter']}/4  {lo:g}-{hi:g} BPM")
        return
    if not 8000 <= sr <= 192000:
        raise MusicDanceError(f"--sr must be in 8000-192000 Hz, got {sr}")
    if bpm is not None and not _BPM_LOW <= bpm <= _BPM_HIGH:
        raise MusicDanceError(f"--bpm must be in {_BPM_LOW:g}-{_BPM_HIGH:g}, got {bpm:g}")
    y, song_truth = render(genre, bpm=bpm, seed=seed, sr_hz=sr, duration_s=duration)
    write_song(out, y, sr_hz=sr)
    truth_path = truth if truth is not None else out.with_name(out.stem + ".truth.json")
    write_truth(truth_path, song_truth)
    report = {
        "out": str(out), "truth": str(truth_path), "genre": genre, "bpm": song_truth.bpm,
        "meter": song_truth.meter, "seed": seed, "duration_s": round(song_truth.duration_s, 3),
        "sections": song_truth.section_labels, "phrases": len(song_truth.phrase_starts_s),
    }
    if as_json:
        print_json(report)
        return
    console.print(
        f"wrote {out}: {genre}, {song_truth.bpm:.1f} BPM, {song_truth.meter}/4, "
        f"{song_truth.duration_s:.1f} s, {len(song_truth.section_labels)} sections, "
        f"{len(song_truth.phrase_starts_s)} phrases; ground truth in {truth_path}"
    )
