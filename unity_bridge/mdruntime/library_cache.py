"""A read-only, in-memory view of a phrase library for long-lived processes.

:class:`CachedLibrary` answers the calls the choreographer and the renderer make
(``infos``, ``info``, ``ids``, ``get``, ``path``) with the same results as
:class:`~musicdance.library.store.PhraseLibrary`, but reads the database once and decodes each
phrase's motion once (checksum verified by the library on that first read). It is safe to share
between threads: the caches only ever grow, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from musicdance.errors import MusicDanceError
from musicdance.library.phrase import Phrase, PhraseInfo
from musicdance.library.store import PhraseLibrary

__all__ = ["CachedLibrary"]


class CachedLibrary:
    """``PhraseLibrary`` calls served from memory (the library must not change meanwhile)."""

    def __init__(self, library: PhraseLibrary) -> None:
        self.library = library
        self.path = library.path
        self._infos = library.infos()  # ordered by id, like every PhraseLibrary answer
        self._by_id = {info.id: info for info in self._infos}
        self._phrases: dict[str, Phrase] = {}
        self._lock = threading.Lock()

    def infos(
        self,
        *,
        ids: Iterable[str] | None = None,
        styles: Iterable[str] = (),
        tags: Iterable[str] = (),
        statuses: Iterable[str] = (),
        min_energy: float = 0.0,
        max_energy: float = 1.0,
    ) -> list[PhraseInfo]:
        """The same list :meth:`PhraseLibrary.infos` returns (ordered by id)."""
        tags = list(tags)
        if tags or (min_energy, max_energy) != (0.0, 1.0):
            return self.library.infos(
                ids=ids, styles=styles, tags=tags, statuses=statuses,
                min_energy=min_energy, max_energy=max_energy,
            )  # fmt: skip
        styles, statuses = set(styles), set(statuses)
        wanted = None if ids is None else set(ids)
        return [
            info
            for info in self._infos
            if (not styles or info.style in styles)
            and (not statuses or info.status in statuses)
            and (wanted is None or info.id in wanted)
        ]

    def info(self, phrase_id: str) -> PhraseInfo:
        found = self._by_id.get(phrase_id)
        if found is None:
            raise MusicDanceError(f"no phrase with id {phrase_id!r}", self.path)
        return found

    def ids(self) -> list[str]:
        return [info.id for info in self._infos]

    def __len__(self) -> int:
        return len(self._infos)

    def __contains__(self, phrase_id: object) -> bool:
        return phrase_id in self._by_id

    def styles(self) -> list[str]:
        return sorted({info.style for info in self._infos})

    def get(self, phrase_id: str) -> Phrase:
        """The phrase with its motion, decoded on first use and kept."""
        phrase = self._phrases.get(phrase_id)
        if phrase is None:
            self.info(phrase_id)  # a clear error for unknown ids
            phrase = self.library.get(phrase_id)
            with self._lock:
                phrase = self._phrases.setdefault(phrase_id, phrase)
        return phrase

    def preload(self) -> int:
        """Decode every phrase now (a server pays this at start, not on its first request)."""
        for info in self._infos:
            self.get(info.id)
        return len(self._phrases)
