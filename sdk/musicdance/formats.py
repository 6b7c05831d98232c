"""Versioned JSON documents (a corpus index, a bundle manifest): read one and check its tag."""

from __future__ import annotations

import json
from pathlib import Path

from musicdance.errors import MusicDanceError

__all__ = ["read_format_json"]


def read_format_json(path: Path, *, expected_format: str, kind: str, document: str) -> dict:
    """Read the JSON header of a corpus (index) or bundle (manifest) and check its format tag.

    kind: ``"corpus"`` or ``"bundle"``; document: ``"index"`` or ``"manifest"`` (for messages).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"{kind} {document} is unreadable: {error}", path) from error
    if not isinstance(data, dict) or data.get("format") != expected_format:
        found = data.get("format") if isinstance(data, dict) else None
        raise MusicDanceError(f"{kind} format {found!r} is not {expected_format}", path)
    return data
