"""Music-dance rhythm (seed 002, MuDaR): ``mdtool retrieve`` and ``mdtool fit``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mdtool.app import MESH_OPTION, app, console, mesh_choice, print_json

SONG_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac")
DANCE_SUFFIXES = (".bvh", ".glb", ".gltf")
POINT_CHOICES = ("learned", "kinematic")


def _canonical(path: Path):
    """The dance at ``path`` on the canonical skeleton (retargeted when it is another rig)."""
    from musicdance.io.files import load_motion
    from musicdance.motion.canonical import CANONICAL_JOINTS
    from musicdance.motion.retarget import retarget

    motion = load_motion(path)
    if motion.skeleton.names == CANONICAL_JOINTS:
        return motion
    return retarget(motion)[0]


def _files(folder: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    from musicdance.errors import MusicDanceError

    if not folder.is_dir():
        raise MusicDanceError(f"not a folder of {what}", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file())
    if not files:
        raise MusicDanceError(f"no {what} ({', '.join(suffixes)}) in the folder", folder)
    return files


def _song_side(model, path: Path):
    from musicdance.audio.analysis import analyze
    from musicdance.rhythm.features import MEL_ROWS, audio_channels
    from musicdance.rhythm.model import _unit, rhythm_signature

    audio, _ = audio_channels(analyze(path))
    return _unit(model.audio_window_embeddings(audio).mean(axis=0)), rhythm_signature(
        audio[MEL_ROWS + 1]
    )


def _dance_side(model, path: Path):
    from musicdance.rhythm.model import _unit, rhythm_signature

    motion = _canonical(path)
    positions = motion.global_positions()
    features, pose = model.motion_inputs(positions, motion.fps, motion.skeleton.names)
    curve = model.rhythm_from_inputs(features, pose)
    return _unit(model.motion_window_embeddings(pose).mean(axis=0)), rhythm_signature(curve)


@app.command()
def retrieve(
    query: Path = typer.Argument(
        ..., help="A song (to rank --dances) or a dance (to rank --songs)."
    ),
    dances: Path = typer.Option(None, "--dances", help="Folder of dances (.bvh, .glb) to rank."),
    songs: Path = typer.Option(None, "--songs", help="Folder of songs to rank for a dance."),
    lam: float = typer.Option(
        None, "--lambda", min=0.0, max=1.0, help="lambda_3 of eq. 21 (default: the companion's)."
    ),
    top: int = typer.Option(10, "--top", min=1, help="How many to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rank dances for a song, or songs for a dance, by MuDaR's hybrid similarity (eq. 21):
    lambda x embedding cosine + (1 - lambda) x rhythm similarity."""
    from musicdance.rhythm.model import load_mudar

    if (dances is None) == (songs is None):
        raise typer.BadParameter("give --dances DIR (query: a song) or --songs DIR (a dance)")
    model = load_mudar()
    weight = model.hybrid_lambda if lam is None else lam
    if dances is not None:
        candidates = _files(dances, DANCE_SUFFIXES, "dances")
        q_emb, q_sig = _song_side(model, query)
        side = _dance_side
    else:
        candidates = _files(songs, SONG_SUFFIXES, "songs")
        q_emb, q_sig = _dance_side(model, query)
        side = _song_side
    rows = []
    for path in candidates:
        emb, sig = side(model, path)
        s_e, s_r = float(q_emb @ emb), float(q_sig @ sig)
        rows.append({"path": str(path), "score": weight * s_e + (1 - weight) * s_r,
                     "embedding": s_e, "rhythm": s_r})  # fmt: skip
    rows.sort(key=lambda r: -r["score"])
    rows = rows[:top]
    if as_json:
        print_json({"query": str(query), "lambda": weight, "ranked": rows})
        return
    table = Table(title=f"{query}: lambda {weight:.2f} (eq. 21)")
    for column in ("rank", "file", "S_hyb", "S_e", "S_r"):
        table.add_column(column)
    for i, r in enumerate(rows, 1):
        table.add_row(str(i), r["path"], f"{r['score']:.3f}", f"{r['embedding']:.3f}",
                      f"{r['rhythm']:.3f}")  # fmt: skip
    console.print(table)


def dance_points(motion, points: str, model=None):
    """Rhythm points (s) of a canonical dance: the learned visual rhythm, or kinematic beats."""
    if points == "learned":
        return model.rhythm_times_s(motion.global_positions(), motion.fps, motion.skeleton.names)
    from musicdance.motion.analysis import kinematic_beats

    return kinematic_beats(motion.global_positions(), motion.fps) / motion.fps


def song_points(analysis, points: str):
    """Rhythm points (s) of a song: onset maxima (the paper's R_a) or beats."""
    if points == "learned":
        from musicdance.rhythm.features import onset_maxima, onset_strength

        return onset_maxima(onset_strength(analysis.log_mel_db), analysis.fps) / analysis.fps
    return analysis.beat_times_s


@app.command()
def fit(
    dance: Path = typer.Argument(..., help="Dance to refit (.bvh or .glb, any rig)."),
    song: Path = typer.Argument(..., help="Song to fit it to."),
    method: str = typer.Option("dtw", "--method", help="shift, accelerate or dtw (eq. 22-23)."),
    output: Path = typer.Option(..., "-o", "--output", help="Refitted dance (.bvh or .glb)."),
    points: str = typer.Option(
        "kinematic",
        "--points",
        help="kinematic (default): the dance's kinematic beats onto the song's beats; learned: "
        "MuDaR's visual rhythm onto the song's onset maxima (the paper; it lowers the Beat Align "
        "Score of real takes, docs/rhythm.md).",
    ),
    mesh: str = MESH_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Retarget a dance in time onto another song: shift, accelerate or DTW its rhythm points
    onto the song's; report the Beat Align Score (and its half-beat control) before and after."""
    from musicdance.audio.analysis import analyze
    from musicdance.errors import MusicDanceError
    from musicdance.evaluate.metrics import beat_alignment
    from musicdance.io.files import save_motion
    from musicdance.motion.motion import sample, slice_frames
    from musicdance.rhythm.retarget import FIT_METHODS, fit_time_map

    if method not in FIT_METHODS:
        raise typer.BadParameter(f"--method takes {', '.join(FIT_METHODS)}, got {method!r}")
    if points not in POINT_CHOICES:
        raise typer.BadParameter(f"--points takes {' or '.join(POINT_CHOICES)}, got {points!r}")
    if output.suffix.lower() not in (".bvh", ".glb"):
        raise typer.BadParameter("-o must end in .bvh or .glb")
    with_mesh = mesh_choice(mesh)
    model = None
    if points == "learned":
        from musicdance.rhythm.model import load_mudar

        model = load_mudar()
    motion = _canonical(dance)
    analysis = analyze(song)
    p_v = dance_points(motion, points, model)
    p_a = song_points(analysis, points)
    if len(p_v) < 2:
        raise MusicDanceError("the dance has fewer than two rhythm points", dance)
    times, info = fit_time_map(method, p_v, p_a, motion.duration_s, analysis.duration_s,
                               motion.fps)  # fmt: skip
    fitted = sample(motion, times)
    n = min(motion.num_frames, int(analysis.duration_s * motion.fps))
    before = beat_alignment(slice_frames(motion, 0, max(n, 2)), analysis.beat_times_s)
    after = beat_alignment(fitted, analysis.beat_times_s)
    save_motion(fitted, output, mesh=with_mesh)
    report = {"dance": str(dance), "song": str(song), "output": str(output), "points": points,
              **info, "frames": fitted.num_frames, "duration_s": round(fitted.duration_s, 3),
              "before": before, "after": after}  # fmt: skip
    if as_json:
        print_json(report)
        return
    console.print(
        f"{method}: {info.get('pairs', '-')} rhythm pairs; BAS {before['beat_align_score']:.3f} "
        f"(half-beat control {before['beat_align_score_control']:.3f}) -> "
        f"{after['beat_align_score']:.3f} (control {after['beat_align_score_control']:.3f})"
    )
    console.print(f"wrote {output}")
