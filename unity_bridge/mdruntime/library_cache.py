"""A read-only view of a phrase library for long-lived processes, with bounded memory.

:class:`CachedLibrary` answers the calls the choreographer and the renderer make
(``table``, ``transition_graph``, ``infos``, ``info``, ``ids``, ``get``, ``path``) with the same
results as :class:`~musicdance.library.store.PhraseLibrary`. It reads the library's choice
columns once as arrays (``PhraseTable``: a few hundred bytes per phrase, about 30 MB at 100,000
phrases) and its sparse transition graph once; annotations (``PhraseInfo``) and decoded motions
are kept in least-recently-used caches of fixed size (``max_infos``, ``max_phrases``), so memory
stays bounded whatever the library's size: only the phrases a song uses are ever decoded. It is
safe to share between threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from musicdance.errors import MusicDanceError
from musicdance.library.phrase import Phrase, PhraseInfo
from musicdance.library.store import PhraseLibrary
from musicdance.library.transition_graph import DEFAULT_K, graph_for

__all__ = ["MAX_CACHED_INFOS", "MAX_CACHED_PHRASES", "CachedLibrary"]

#: Decoded phrases kept (a 4-minute song uses about 60; a phrase is ~0.3 MB decoded).
MAX_CACHED_PHRASES = 512
#: Phrase annotations kept.
MAX_CACHED_INFOS = 4096


class LRUCache:
    """A thread-safe least-recently-used map of at most ``size`` items."""

    def __init__(self, size: int) -> None:
        self.size = max(int(size), 1)
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value):
        with self._lock:
            value = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._items)


class CachedLibrary:
    """``PhraseLibrary`` calls served from memory (the library must not change meanwhile)."""

    def __init__(
        self,
        library: PhraseLibrary,
        *,
        max_phrases: int = MAX_CACHED_PHRASES,
        max_infos: int = MAX_CACHED_INFOS,
    ) -> None:
        self.library = library
        self.path = library.path
        self._table = library.table()
        self._ids = self._table.ids.tolist()  # ordered by id, like every PhraseLibrary answer
        self._phrases = LRUCache(max_phrases)
        self._infos = LRUCache(max_infos)
        self._graphs: dict[int, object] = {}
        self._lock = threading.Lock()

    def table(self):
        """The library's ``PhraseTable`` (read once)."""
        return self._table

    def transition_graph(self, k: int = DEFAULT_K):
        """The library's sparse transition graph (read or built once per ``k``)."""
        graph = self._graphs.get(k)
        if graph is None:
            graph = graph_for(self.path, self._table, k=k)
            with self._lock:
                graph = self._graphs.setdefault(k, graph)
        return graph

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
        """The same list :meth:`PhraseLibrary.infos` returns (ordered by id; read from the
        database, as a full list of annotations is not kept)."""
        return self.library.infos(
            ids=ids, styles=styles, tags=tags, statuses=statuses,
            min_energy=min_energy, max_energy=max_energy,
        )  # fmt: skip

    def info(self, phrase_id: str) -> PhraseInfo:
        found = self._infos.get(phrase_id)
        if found is None:
            if phrase_id not in self:
                raise MusicDanceError(f"no phrase with id {phrase_id!r}", self.path)
            found = self._infos.put(phrase_id, self.library.info(phrase_id))
        return found

    def ids(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, phrase_id: object) -> bool:
        return isinstance(phrase_id, str) and self._table.index_of(phrase_id) >= 0

    def styles(self) -> list[str]:
        return self._table.styles()

    def get(self, phrase_id: str) -> Phrase:
        """The phrase with its motion, decoded on first use and kept while recently used."""
        phrase = self._phrases.get(phrase_id)
        if phrase is None:
            self.info(phrase_id)  # a clear error for unknown ids
            phrase = self._phrases.put(phrase_id, self.library.get(phrase_id))
        return phrase

    def preload(self) -> int:
        """Decode phrases now, up to the cache's size (a server pays this at start, not on its
        first request); returns how many are held. The transition graph is read too."""
        self.transition_graph()
        for phrase_id in self._ids[: self._phrases.size]:
            self.get(phrase_id)
        return len(self._phrases)
