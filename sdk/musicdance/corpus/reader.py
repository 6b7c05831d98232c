"""Reading a built corpus: :func:`open_corpus` checks its index (format, feature parameters)
and :meth:`Corpus.load` returns the samples as :class:`CorpusArrays`."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.audio.model_input import check_feature_parameters, feature_parameters
from musicdance.errors import MusicDanceError
from musicdance.formats import read_format_json

CORPUS_FORMAT = "mdtool-corpus/1"
INDEX_NAME = "index.json"
SHARD_DIR = "shards"


@dataclass
class CorpusArrays:
    """Samples of a corpus, concatenated in song order.

    Attributes:
        mel: ``[N, 128, 128]`` float16 in [0, 1]; melody ``[N, 128]`` float16;
            rhythm ``[N, 128]`` uint8.
        labels: ``[N]`` phrase ids (``""`` where unlabelled).
        song: ``[N]`` index into ``Corpus.songs``; position: ``[N]`` order inside the song.
        start_s, end_s: ``[N]`` the sample's span in its song.
    """

    mel: np.ndarray
    melody: np.ndarray
    rhythm: np.ndarray
    labels: np.ndarray
    song: np.ndarray
    position: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray

    def __len__(self) -> int:
        return int(self.mel.shape[0])

    @property
    def labelled(self) -> np.ndarray:
        """``[N]`` bool: the sample has a label."""
        return self.labels != ""

    def label_indices(self, phrase_ids: list[str]) -> np.ndarray:
        """``[N]`` int64 class indices into ``phrase_ids`` (-1 where unlabelled).

        Raises if a label is not one of ``phrase_ids`` (a corpus labelled for another library).
        """
        lookup = {p: k for k, p in enumerate(phrase_ids)}
        unknown = sorted({str(x) for x in self.labels if x and x not in lookup})
        if unknown:
            raise MusicDanceError(
                f"the corpus has labels that are not phrases of the model's library: "
                f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}"
            )
        return np.array([lookup.get(str(x), -1) for x in self.labels], dtype=np.int64)

    def subset(self, mask: np.ndarray) -> CorpusArrays:
        return CorpusArrays(**{name: value[mask] for name, value in self.__dict__.items()})


@dataclass
class Corpus:
    """A corpus folder opened for reading (:func:`open_corpus`)."""

    path: Path
    index: dict[str, Any]

    @property
    def songs(self) -> list[dict[str, Any]]:
        return self.index["songs"]

    @property
    def phrase_ids(self) -> list[str] | None:
        """The library's phrase ids (class order) when the corpus is labelled, else None."""
        library = self.index.get("library")
        return None if not library else list(library["phrase_ids"])

    @property
    def library(self) -> dict[str, Any] | None:
        return self.index.get("library")

    def summary(self) -> dict[str, Any]:
        """Counts per split and label kind (songs and samples)."""
        out: dict[str, Any] = {"songs": len(self.songs), "samples": 0}
        for song in self.songs:
            key = f"{song['source']['split']}/{song['source']['labels']}"
            entry = out.setdefault(key, {"songs": 0, "samples": 0})
            entry["songs"] += 1
            entry["samples"] += song["samples"]
            out["samples"] += song["samples"]
        return out

    def load(self, *, split: str | None = None, labelled: bool | None = None) -> CorpusArrays:
        """The samples of the songs in ``split`` (None: all) that are (un)labelled (None: all).

        A song is labelled when its source has rule or imported labels.
        """
        chosen = [
            (index, song)
            for index, song in enumerate(self.songs)
            if (split is None or song["source"]["split"] == split)
            and (labelled is None or (song["source"]["labels"] != "none") == labelled)
            and song["samples"] > 0
        ]
        parts: dict[str, list[np.ndarray]] = {
            name: [] for name in ("mel", "melody", "rhythm", "labels", "start_s", "end_s")
        }
        song_ids, positions = [], []
        for index, song in chosen:
            path = self.path / song["shard"]
            try:
                with np.load(path, allow_pickle=False) as data:
                    for name in parts:
                        parts[name].append(data[name])
                    count = int(data["mel"].shape[0])
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
                raise MusicDanceError(
                    f"corpus shard is missing or corrupt ({type(error).__name__}); run "
                    "`mdtool train corpus` again to rebuild it",
                    path,
                ) from error
            if count != song["samples"]:
                raise MusicDanceError("corpus shard does not match its index; rebuild it", path)
            song_ids.append(np.full(count, index, dtype=np.int64))
            positions.append(np.arange(count, dtype=np.int64))
        if not chosen:
            size = feature_parameters()["size"]
            return CorpusArrays(
                mel=np.zeros((0, size, size), np.float16),
                melody=np.zeros((0, size), np.float16),
                rhythm=np.zeros((0, size), np.uint8),
                labels=np.zeros(0, dtype="<U1"),
                song=np.zeros(0, np.int64),
                position=np.zeros(0, np.int64),
                start_s=np.zeros(0),
                end_s=np.zeros(0),
            )
        joined = {name: np.concatenate(values) for name, values in parts.items()}
        return CorpusArrays(
            song=np.concatenate(song_ids), position=np.concatenate(positions), **joined
        )


def open_corpus(path: str | os.PathLike[str]) -> Corpus:
    """Open a corpus folder; its format and feature parameters are checked first."""
    folder = Path(path)
    index_path = folder / INDEX_NAME
    if not index_path.is_file():
        raise MusicDanceError(
            "not a corpus (no index.json); build one with `mdtool train corpus`", folder
        )
    index = read_format_json(
        index_path, expected_format=CORPUS_FORMAT, kind="corpus", document="index"
    )
    check_feature_parameters(index.get("features"), what="corpus", path=index_path)
    return Corpus(folder, index)
