"""Helpers shared by the tests: small phrases and libraries, the CLI runners (in-process and
as a process)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from musicdance.library import Phrase
from musicdance.library.procedural.build import starter_phrases


@cache
def _cached(style: str, move: str, energy: str, mirrored: bool) -> tuple[Phrase, ...]:
    return tuple(
        starter_phrases(styles=[style], moves=[move], energies=[energy], mirrored=mirrored)
    )


def sample_phrases(
    style: str = "hiphop", move: str = "step-touch", energy: str = "calm", mirrored: bool = True
) -> list[Phrase]:
    """A few real procedural phrases (cached; treat them as read-only)."""
    return list(_cached(style, move, energy, mirrored))


@dataclass
class CliResult:
    """What a command did: exit code and text output (the fields of ``CompletedProcess``)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def mdtool(*args: object, cwd: Path | None = None) -> CliResult:
    """Run ``mdtool`` in this process, as ``python -m mdtool.cli`` would, with Typer's test
    runner: its isolation swaps stdin, stdout and stderr, ``mdtool.cli.main`` runs with the
    arguments, and the exit code, stdout and stderr come back as from a process (an exception
    that escapes ``main``, as with ``--debug``, prints its traceback and exits 1, as the
    interpreter does). ``mdtool_process`` runs a real process, for the few tests that check
    what only a process shows."""
    from typer.testing import CliRunner

    from mdtool.cli import main

    argv = [str(a) for a in args]
    runner = CliRunner()
    previous = Path.cwd()
    with runner.isolation() as (stdout, stderr, _):
        code = 0
        try:
            if cwd is not None:
                os.chdir(cwd)
            main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except Exception:  # what the interpreter does with an uncaught exception
            sys.stderr.write(traceback.format_exc())
            code = 1
        finally:
            os.chdir(previous)
            sys.stdout.flush()
            sys.stderr.flush()
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    return CliResult(["mdtool", *argv], code, out, err)


def mdtool_process(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``mdtool`` as a user does, in its own process, capturing text output."""
    return subprocess.run(
        [sys.executable, "-m", "mdtool.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single ``error: ...`` line a failed command printed (asserting it is one line)."""
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@contextlib.contextmanager
def read_only(folder):
    """Make ``folder`` and everything in it unwritable, even for root (immutable attribute)."""
    paths = [folder, *folder.rglob("*")]
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    done = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("running as root and chattr +i is not available")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
