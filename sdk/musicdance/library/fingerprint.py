"""The library fingerprint: what a trained model's K outputs mean (a bundle, a corpus and a
checkpoint record it, and a bundle is used only with the library it was made for)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["library_fingerprint"]


def library_fingerprint(phrase_ids: Iterable[str]) -> str:
    """sha256 of the library's phrase ids in class order: what a model's K outputs mean."""
    return hashlib.sha256("\n".join(phrase_ids).encode("utf-8")).hexdigest()
