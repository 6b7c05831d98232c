"""One exception type for every error a user can cause (bad file, bad argument).

The CLI prints ``error: <path>: <message>`` on one line and exits 1; anything else is a bug and
shows a traceback.
"""

from __future__ import annotations

from os import PathLike


class MusicDanceError(Exception):
    """A problem with the user's input, reported as one line naming the file when there is one."""

    def __init__(self, message: str, path: str | PathLike[str] | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
