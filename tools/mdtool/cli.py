"""Entry point of the ``mdtool`` console script.

Command modules register themselves on ``mdtool.app.app`` when imported. User errors
(``MusicDanceError``) become one line on stderr and exit code 1; usage errors exit 2 (Typer);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from mdtool import (
    analysis_commands,  # noqa: F401
    choreo_commands,  # noqa: F401
    conduct_commands,  # noqa: F401
    library_commands,  # noqa: F401
    live_commands,  # noqa: F401
    motion_commands,  # noqa: F401  (registers commands)
    recommend_commands,  # noqa: F401
    rhythm_commands,  # noqa: F401
    serve_commands,  # noqa: F401
    studio_commands,  # noqa: F401
    train_commands,  # noqa: F401
)
from mdtool.app import app, err_console, state
from musicdance.errors import MusicDanceError


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    state.debug = "--debug" in args
    try:
        app(args=args, prog_name="mdtool")
    except MusicDanceError as error:
        if state.debug:
            raise
        # escaped: file names and joint names may hold rich markup such as "[/x]"
        err_console.print(
            f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as error:  # a bug, not a user error: keep it short unless --debug
        if state.debug:
            raise
        err_console.print(
            f"[red]internal error:[/red] {type(error).__name__}: {escape(str(error))} "
            "(run with --debug for details)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
