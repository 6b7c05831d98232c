"""``mdtool live``: dance to a song as if it were still playing, chunk by chunk."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

from mdtool.app import (
    BUNDLE_OPTION,
    FEATURE_WEIGHT_OPTION,
    NO_BUNDLE_OPTION,
    app,
    console,
    format_list,
    print_json,
)
from mdtool.library_commands import DEFAULT_LIBRARY

LIVE_FORMATS = ("glb", "bvh", "json")


@app.command()
def live(
    song: Path = typer.Argument(None, help="Song to stream (wav, mp3, ogg, flac)."),
    output: Path = typer.Option(Path("out"), "-o", "--output", help="Folder for the results."),
    style: str = typer.Option(None, "--style", help="Dance style (default: chosen at lock)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the phrase choices."),
    library: Path = typer.Option(DEFAULT_LIBRARY, "--library", "-L", help="Phrase library."),
    bundle: Path = BUNDLE_OPTION,
    no_bundle: bool = NO_BUNDLE_OPTION,
    feature_weight: float = FEATURE_WEIGHT_OPTION,
    fps: float = typer.Option(30.0, "--fps", min=1.0, max=240.0, help="Output frame rate."),
    chunk_ms: float = typer.Option(
        20.0, "--chunk-ms", min=1.0, max=1000.0, help="PCM chunk fed per call (ms)."
    ),
    lookahead_ms: float = typer.Option(
        100.0, "--lookahead-ms", min=0.0, max=1000.0, help="Poses given ahead of the audio (ms)."
    ),
    realtime: bool = typer.Option(
        False, "--realtime", help="Feed chunks at the music's pace (default: as fast as it can)."
    ),
    input_device: bool = typer.Option(
        False, "--input", help="Record from the default sound input instead of a file."
    ),
    seconds: float = typer.Option(
        None, "--seconds", min=0.1, help="Stop after this much audio (required with --input)."
    ),
    compare: bool = typer.Option(
        False, "--compare", help="Also choreograph the whole song offline and compare figures."
    ),
    formats: str = typer.Option("glb,bvh,json", "--format", help="Comma list: glb, bvh, json."),
    name: str = typer.Option(None, "--name", help="Output file stem (default: song stem)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Feed a song to a live session chunk by chunk and write what it danced (BVH, GLB, the
    phrases it chose and when), with its latency and beat-lock figures."""
    from musicdance.choreo.live import LiveChoreographer, live_outputs, write_live
    from musicdance.library import open_library

    chosen = format_list(formats, LIVE_FORMATS)
    if input_device:
        sr_hz, total = 48_000, None
        chunks = _device_chunks(sr_hz, chunk_ms, seconds)
        stem = name or "live-input"
    else:
        if song is None:
            raise typer.BadParameter("give a SONG, or --input to record from a sound device")
        from musicdance.audio.load import ANALYSIS_SR, load_audio

        samples, _ = load_audio(song, max_duration_s=seconds)
        sr_hz = ANALYSIS_SR
        if seconds is not None:
            samples = samples[: int(seconds * sr_hz)]
        total = len(samples)
        chunks = _file_chunks(samples, sr_hz, chunk_ms, realtime)
        stem = name or song.stem
    from mdtool.choreo_commands import _choose_bundle

    phrases = open_library(library)
    model, scorer_name, scorer_note = _choose_bundle(phrases, bundle, no_bundle)
    owner = LiveChoreographer(phrases, style=style, fps=fps, lookahead_s=lookahead_ms / 1000,
                              bundle=model, feature_weight=feature_weight)  # fmt: skip
    session = owner.session(sr_hz, seed=seed, record=True)
    started = time.perf_counter()
    fed = 0
    from rich.progress import Progress

    with Progress(console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("live", total=total)
        for chunk in chunks:
            session.push(chunk)
            fed += len(chunk)
            bar.update(task, completed=fed)
    elapsed = time.perf_counter() - started
    if not session.choices or session.locked_at_s is None:
        note = "the tracker never locked on a pulse (silence, or no clear beat)"
    else:
        note = None
    audio_s = fed / sr_hz
    report = {
        "song": str(song) if song is not None else "input",
        "audio_s": round(audio_s, 3),
        "chunk_ms": chunk_ms,
        "elapsed_s": round(elapsed, 3),
        "realtime_factor": round(audio_s / elapsed, 1) if elapsed > 0 else None,
        "scorer": scorer_name,
    }
    if scorer_note:
        report["scorer_note"] = scorer_note
    if note:
        report["note"] = note
    if compare and song is not None:
        report["compare"] = _compare(song, phrases, session, seed, model, feature_weight)
    outputs = live_outputs(output, stem, chosen)
    write_live(session, outputs, report=report)
    record = session.timeline()
    summary = {
        **report,
        "style": record["style"],
        "tempo_bpm": record["tempo_bpm"],
        "meter": record["meter"],
        "locked_at_s": record["locked_at_s"],
        "latency_ms": record["latency_ms"],
        "phrases": [c["phrase_id"] for c in record["choices"] if not c["idle"]],
        "outputs": {fmt: str(path) for fmt, path in outputs.items()},
    }
    if as_json:
        print_json(summary)
        return
    lat = record["latency_ms"]
    console.print(
        f"style {record['style']}, {record['tempo_bpm']:.1f} BPM, {record['meter']}/4, "
        f"locked at {record['locked_at_s']} s; latency p50 {lat['p50']:.2f} ms, "
        f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms (CPU p99 {lat['cpu_p99']:.2f}, "
        f"max {lat['cpu_max']:.2f}); {summary['realtime_factor']}x real time; "
        f"scorer: {scorer_name}"
    )
    if scorer_note:
        console.print(scorer_note)
    if note:
        console.print(note)
    if "compare" in report:
        c = report["compare"]
        console.print(
            f"BAS margin live {c['live']['bas_margin']:.3f} vs offline "
            f"{c['offline']['bas_margin']:.3f}; worst join live "
            f"{c['live']['worst_join_ratio']:.2f} vs offline {c['offline']['worst_join_ratio']:.2f}"
        )
    for path in outputs.values():
        console.print(f"wrote {path}")


def _compare(song: Path, phrases, session, seed: int, model, feature_weight: float) -> dict:
    """Live against the offline dance of the same song, style, seed and scorer."""
    import numpy as np

    from musicdance.audio.analysis import analyze
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.onnx_scorer import scorer_for
    from musicdance.choreo.render import cut_times, render_timeline
    from musicdance.evaluate.live import live_figures

    analysis = analyze(song)
    scorer = scorer_for(model, analysis, feature_weight=feature_weight)
    timeline = choreograph(analysis, phrases, style=session.style, seed=seed,
                           fps=session.fps, scorer=scorer)  # fmt: skip
    offline = render_timeline(timeline, phrases)
    cuts = [c["start_s"] for c in session.timeline()["choices"] if not c["idle"]]
    return live_figures(
        session.motion(), np.array(session.declared_beats_s), cuts,
        np.asarray(analysis.beat_times_s), offline_motion=offline,
        offline_cuts_s=[j.time_s for j in cut_times(timeline, phrases)],
        locked_at_s=session.locked_at_s,
    )  # fmt: skip


def _file_chunks(samples, sr_hz: int, chunk_ms: float, realtime: bool):
    """Chunks of ``chunk_ms`` of a decoded file, at the music's pace with ``realtime``."""
    chunk = max(1, int(round(chunk_ms / 1000 * sr_hz)))
    started = time.perf_counter()
    for i in range(0, len(samples), chunk):
        if realtime:
            wait = started + i / sr_hz - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        yield samples[i : i + chunk]


def _device_chunks(sr_hz: int, chunk_ms: float, seconds: float | None):
    """Mono chunks from the default sound input (the sounddevice package) for ``seconds``."""
    from musicdance.errors import MusicDanceError

    if seconds is None:
        raise MusicDanceError("--input needs --seconds (how long to listen)")
    try:
        import sounddevice
    except (ImportError, OSError):  # optional: PortAudio is not on every machine
        raise MusicDanceError(
            "--input needs the sounddevice package and a sound input (pip install sounddevice)"
        ) from None
    chunk = max(1, int(round(chunk_ms / 1000 * sr_hz)))
    try:
        with sounddevice.InputStream(samplerate=sr_hz, channels=1, dtype="float32",
                                     blocksize=chunk) as stream:  # fmt: skip
            for _ in range(math.ceil(seconds * sr_hz / chunk)):
                data, _overflowed = stream.read(chunk)
                yield data[:, 0].copy()
    except sounddevice.PortAudioError as error:
        raise MusicDanceError(f"cannot record from the sound input: {error}") from None
