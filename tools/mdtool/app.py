"""The Typer application, consoles and global options shared by every command module."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import typer
from rich.console import Console

from musicdance.defaults import DEFAULT_BUNDLE, DEFAULT_FEATURE_WEIGHT

app = typer.Typer(
    name="mdtool",
    help="Turn music into dance for games: analysis, motion I/O, choreography, export.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


#: The scorer options of ``choreograph``, ``edit`` and ``serve``.
BUNDLE_OPTION = typer.Option(
    None,
    "--bundle",
    help=f"Model bundle (default: {DEFAULT_BUNDLE} if it was made for --library, else the "
    "feature scorer).",
)
NO_BUNDLE_OPTION = typer.Option(False, "--no-bundle", help="Score with the features only.")
USER_OPTION = typer.Option(
    None, "--user", envvar="MDTOOL_USER", show_envvar=True,
    help="Curator recorded with each replace (default: the login name).",
)  # fmt: skip
FEATURE_WEIGHT_OPTION = typer.Option(
    DEFAULT_FEATURE_WEIGHT, "--feature-weight", min=0.0, max=1.0,
    help="With a bundle: weight of the feature scorer in the geometric mix.",
)  # fmt: skip

#: ``--emission`` of ``choreograph`` (musicdance.choreo.mudar_scorer.EMISSIONS, numpy-free here).
EMISSION_CHOICES = ("mudar", "features", "bundle", "mix")
EMISSION_OPTION = typer.Option(
    None, "--emission",
    help="Emission model: features, bundle (its mix with the features), mudar (the MuDaR "
    "companion's hybrid retrieval, eq. 21) or mix (bundle or features x mudar); default: the "
    "bundle when there is one for --library, else the features.",
)  # fmt: skip


def emission_choice(emission: str | None) -> str | None:
    """``--emission`` checked before any work; a bad choice is a usage error."""
    if emission is not None and emission not in EMISSION_CHOICES:
        choices = ", ".join(EMISSION_CHOICES)
        raise typer.BadParameter(f"--emission takes {choices}, got {emission!r}")
    return emission


#: ``--mesh`` choices of the commands that write a .glb: {choice: include the figure}.
MESH_CHOICES = {"mannequin": True, "none": False}
MESH_OPTION = typer.Option(
    "mannequin", "--mesh", help="In a .glb: mannequin (a skinned preview figure) or none."
)
UNITS_OPTION = typer.Option("cm", "--units", help="Length unit of a .bvh: cm (default) or m.")
ROOT_MOTION_OPTION = typer.Option(
    "hips",
    "--root-motion",
    help="hips (as captured), root-bone (a Root bone on the floor "
    "carries travel and yaw) or in-place (curve kept in the .glb extras).",
)


def mesh_choice(mesh: str) -> bool:
    """Whether ``--mesh`` asks for the mannequin figure; a bad choice is a usage error."""
    if mesh not in MESH_CHOICES:
        raise typer.BadParameter(f"--mesh takes {' or '.join(MESH_CHOICES)}, got {mesh!r}")
    return MESH_CHOICES[mesh]


def root_motion_choice(mode: str) -> str:
    """``--root-motion`` checked before any work; a bad choice is a usage error."""
    from musicdance.motion.rootmotion import ROOT_MOTION_MODES

    if mode not in ROOT_MOTION_MODES:
        modes = ", ".join(ROOT_MOTION_MODES)
        raise typer.BadParameter(f"--root-motion takes {modes}, got {mode!r}")
    return mode


def units_choice(units: str) -> str:
    """``--units`` (the length unit of a written .bvh): ``cm`` or ``m``."""
    if units not in ("cm", "m"):
        raise typer.BadParameter(f"--units takes cm or m, got {units!r}")
    return units


def check_bundle_choice(bundle: Any, no_bundle: bool) -> None:
    """``--bundle`` and ``--no-bundle`` exclude each other."""
    if bundle is not None and no_bundle:
        raise typer.BadParameter("give --bundle or --no-bundle, not both")


class State:
    debug: bool = False


state = State()


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    state.debug = debug


@contextlib.contextmanager
def stage_progress(
    label: str, stages: Sequence[str], *, enabled: bool = True
) -> Iterator[Callable[[str], None]]:
    """Yield ``on_stage(name)``: each call marks the start of the next of ``stages`` on a
    transient progress bar (stderr, terminals only; a no-op otherwise)."""
    if not enabled or not err_console.is_terminal:
        yield lambda name: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"{label}: {{task.description:<14}}"), BarColumn(), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("start", total=len(stages))
        seen: list[str] = []

        def on_stage(name: str) -> None:
            if seen:
                progress.advance(task)
            seen.append(name)
            progress.update(task, description=name)

        yield on_stage


@contextlib.contextmanager
def training_progress(description: str, total: int) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr for training (``musicdance.train.common.TrainingProgress``):
    yields ``advance(steps=1, **fields)``. Module-level, so spawned training processes can
    unpickle it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(steps: int = 1, **fields: Any) -> None:
            info = " ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()
            )
            bar.update(task, advance=steps, info=info)

        yield advance


def format_list(text: str, allowed: Sequence[str]) -> list[str]:
    """``--format a,b``: the chosen formats, lower case, each one of ``allowed`` (else a usage
    error naming them)."""
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    if not chosen or any(f not in allowed for f in chosen):
        raise typer.BadParameter(f"formats are a comma list of {', '.join(allowed)}")
    return chosen


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (for scripts and engines)."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
