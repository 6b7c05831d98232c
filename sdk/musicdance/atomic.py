"""Write files so that a crash or an error never leaves a half-written output behind.

A leaf utility (it imports nothing from the SDK), so every layer may write through it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; give what open() would
    try:
        with os.fdopen(
            fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Prefix of the staging folders :func:`atomic_outputs` makes inside an output folder.
STAGING_PREFIX = ".mdtool-staging-"
_COMMIT = "COMMIT"


class OutputSet:
    """The files of one run, staged together: write each output to :meth:`path` of its final
    path; they are moved into place together when the ``atomic_outputs`` block succeeds."""

    def __init__(self, folder: Path, staging: Path) -> None:
        self.folder = folder
        self.staging = staging

    def path(self, final: str | os.PathLike[str]) -> Path:
        """Where to write the output that will become ``final`` (a file in the folder)."""
        final = Path(final)
        if final.parent.resolve() != self.folder.resolve():
            raise ValueError(f"{final} is not in the output folder {self.folder}")
        return self.staging / final.name


@contextlib.contextmanager
def atomic_outputs(folder: str | os.PathLike[str]) -> Iterator[OutputSet]:
    """Stage a run's outputs in a temporary folder inside ``folder`` and move them all into
    place only if the block succeeds: a failure (or a kill) leaves the earlier set as it was.

    The staging folder is named after this process; before the last rename a ``COMMIT`` file
    lists the outputs, so a run killed while renaming is finished by the next run, and one
    killed earlier is discarded (:func:`recover_outputs`, run here first). A folder this call
    created is removed again when the block fails.
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    recover_outputs(folder)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))
    try:
        yield OutputSet(folder, staging)
        names = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
        with atomic_write(staging / _COMMIT, "w") as handle:
            handle.write("\n".join(names) + "\n")
        _fsync_folder(staging)
        _finish(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
        raise


def recover_outputs(folder: str | os.PathLike[str]) -> list[str]:
    """Finish or discard what killed runs left in ``folder``: staging folders of processes
    that are gone (finished when committed, else removed) and ``atomic_write`` temporary
    files of outputs. Returns what was done, one line per item."""
    folder = Path(folder)
    done: list[str] = []
    if not folder.is_dir():
        return done
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
            pid = entry.name[len(STAGING_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and _alive(int(pid)):
                continue  # a run in progress
            if (entry / _COMMIT).is_file():
                _finish(entry, folder)
                done.append(f"finished the interrupted output set {entry.name}")
            else:
                shutil.rmtree(entry, ignore_errors=True)
                done.append(f"removed the incomplete output set {entry.name}")
    return done


def _finish(staging: Path, folder: Path) -> None:
    names = [n for n in (staging / _COMMIT).read_text(encoding="utf-8").split("\n") if n]
    for name in names:
        if (staging / name).exists():
            os.replace(staging / name, folder / name)
    _fsync_folder(folder)
    shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
