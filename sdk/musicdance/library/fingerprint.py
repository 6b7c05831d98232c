"""The library fingerprint: what a trained model's K outputs mean (a bundle, a corpus and a
checkpoint record it, and a bundle is used only with the library it was made for)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["library_content_fingerprint", "library_fingerprint"]


def library_fingerprint(phrase_ids: Iterable[str]) -> str:
    """sha256 of the library's phrase ids in class order: what a model's K outputs mean."""
    return hashlib.sha256("\n".join(phrase_ids).encode("utf-8")).hexdigest()


def library_content_fingerprint(library) -> str:
    """sha256 of what the rule choreographer's choices depend on: every phrase's id, motion
    checksum, style, status, energy, tempo, meter and counts. Changes when a phrase is rebuilt
    or re-annotated under the same id (the ids alone, ``library_fingerprint``, do not)."""
    checksums = library.motion_checksums()
    rows = [
        f"{i.id}|{checksums.get(i.id, '')}|{i.style}|{i.status}|{i.energy!r}|{i.tempo_bpm!r}|"
        f"{i.meter}|{','.join(map(str, i.count_frames))}"
        for i in library.infos()
    ]
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
