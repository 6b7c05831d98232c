"""The learned emission model: a bundle's ONNX predictor behind the ``EmissionModel`` interface.

``OnnxScorer(bundle, analysis).score(slots, infos)`` computes each slot's phrase input (the
128 x 128 log-mel of :func:`musicdance.audio.model_input.span_inputs`, the function training used),
runs the bundle's fused ``mel -> probabilities`` graph through onnxruntime (no torch), and
returns the probabilities of the phrases ``infos`` asks about, renormalised over them. With
``feature_weight = w > 0`` the result is the geometric mix ``model^(1 - w) * feature^w`` with
the transparent :class:`~musicdance.choreo.scoring.FeatureScorer`.

The bundle's Markov matrix (co-ascent's M) is read through :meth:`transition_prior` only by the
``eq6`` decoder; the default decoders use the library's transition prior (docs/choreograph.md).
"""

from __future__ import annotations

import os

import numpy as np

from musicdance.audio.model_input import span_inputs
from musicdance.bundle import Bundle, open_bundle
from musicdance.choreo.context import slot_context
from musicdance.choreo.scoring import EmissionModel, FeatureScorer
from musicdance.choreo.slots import Slot
from musicdance.defaults import DEFAULT_FEATURE_WEIGHT
from musicdance.errors import MusicDanceError
from musicdance.library.phrase import PhraseInfo

__all__ = ["DEFAULT_FEATURE_WEIGHT", "OnnxScorer", "mix_with_features", "scorer_for"]


class OnnxScorer:
    """Emission scores from a trained bundle for the slots of one analysed song.

    Args:
        bundle: an opened :class:`~musicdance.bundle.Bundle` or a bundle folder.
        analysis: the song's :class:`~musicdance.audio.analysis.Analysis` (with its log-mel).
        feature_weight: weight of the feature scorer in the geometric mix, in [0, 1]
            (0: the model alone; 1: the feature scorer alone; default
            :data:`DEFAULT_FEATURE_WEIGHT`).
        library: checked against the bundle when ``bundle`` is a folder.
        floor: smallest score returned (the decoders take logarithms).
    """

    def __init__(
        self,
        bundle: Bundle | str | os.PathLike[str],
        analysis,
        *,
        feature_weight: float = DEFAULT_FEATURE_WEIGHT,
        library=None,
        floor: float = 1e-6,
        feature_scorer: FeatureScorer | None = None,
    ) -> None:
        if not 0.0 <= float(feature_weight) <= 1.0:
            raise MusicDanceError(f"feature weight must be in [0, 1], got {feature_weight}")
        self.bundle = bundle if isinstance(bundle, Bundle) else open_bundle(bundle, library=library)
        if isinstance(bundle, Bundle) and library is not None:
            self.bundle.check_library(library)
        self.analysis = analysis
        self.feature_weight = float(feature_weight)
        self.floor = float(floor)
        self.feature_scorer = feature_scorer or FeatureScorer()
        self._cache: dict[tuple[float, float], np.ndarray] = {}

    def probabilities(self, slots: list[Slot]) -> np.ndarray:
        """The model's ``[N, K]`` probabilities over all of the bundle's phrases (a bundle with
        a context head also reads each slot's place in the song, ``choreo.context``)."""
        spans = [(round(s.start_s, 6), round(s.end_s, 6)) for s in slots]
        todo = [span for span in dict.fromkeys(spans) if span not in self._cache]
        if todo:
            mel, _, _ = span_inputs(self.analysis, todo)
            context = None
            if self.bundle.context_width:
                first = {span: slot for span, slot in zip(spans, slots, strict=True)}
                context = slot_context(self.analysis, [first[span] for span in todo])
            found = self.bundle.probabilities(mel, context=context)
            for span, row in zip(todo, found, strict=True):
                self._cache[span] = row
        if not spans:
            return np.zeros((0, self.bundle.num_classes), np.float32)
        return np.stack([self._cache[span] for span in spans])

    def model_scores(self, slots: list[Slot], infos: list[PhraseInfo]) -> np.ndarray:
        """``[N, len(infos)]``: the model's probabilities alone, renormalised over ``infos``
        (floored), whatever ``feature_weight`` is: ``F`` of the paper's eq. 6."""
        columns = [self.bundle.column(info.id) for info in infos]
        model = self.probabilities(slots)[:, columns].astype(np.float64)
        model = model / np.maximum(model.sum(axis=1, keepdims=True), 1e-30)
        return np.maximum(model, self.floor)

    def score(self, slots: list[Slot], infos: list[PhraseInfo]) -> np.ndarray:
        """``[N, len(infos)]`` non-negative scores (the EmissionModel interface)."""
        columns = [self.bundle.column(info.id) for info in infos]
        return self._combine(slots, columns, lambda: self.feature_scorer.score(slots, infos))

    def score_table(self, slots: list[Slot], table) -> np.ndarray:
        """``score`` for every phrase of a ``PhraseTable``."""
        columns = [self.bundle.column(p) for p in table.ids.tolist()]
        return self._combine(slots, columns, lambda: self.feature_scorer.score_table(slots, table))

    def _combine(self, slots: list[Slot], columns: list[int], features) -> np.ndarray:
        model = self.probabilities(slots)[:, columns]
        if self.feature_weight == 0.0:
            return mix_with_features(model, None, 0.0, self.floor)
        return mix_with_features(model, features(), self.feature_weight, self.floor)

    def transition_prior(self, infos: list[PhraseInfo]) -> np.ndarray:
        """The bundle's Markov matrix over ``infos`` (row-stochastic ``[K', K']``), a drop-in
        for :func:`musicdance.library.transitions.transition_prior`."""
        columns = [self.bundle.column(info.id) for info in infos]
        matrix = self.bundle.transition[np.ix_(columns, columns)]
        return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-30)


def mix_with_features(
    model: np.ndarray, features: np.ndarray | None, feature_weight: float, floor: float = 1e-6
) -> np.ndarray:
    """The model's probabilities over the candidates ``[..., K]`` (renormalised over them unless
    ``feature_weight`` is 1, floored) times the features' scores, geometrically:
    ``model^(1 - w) * features^w`` (``features`` may be None when ``w`` is 0)."""
    model = np.asarray(model, dtype=np.float64)
    if feature_weight < 1.0:
        model = model / np.maximum(model.sum(axis=-1, keepdims=True), 1e-30)
    model = np.maximum(model, floor)
    if feature_weight == 0.0:
        return model
    w = float(feature_weight)
    return model ** (1.0 - w) * np.maximum(features, floor) ** w


def scorer_for(
    bundle: Bundle | None, analysis=None, *, feature_weight: float = DEFAULT_FEATURE_WEIGHT
) -> EmissionModel:
    """The emission model for one song: the bundle's mix with the features when there is a
    bundle and the song's analysis (the model needs its log-mel), else the feature scorer."""
    if bundle is None or analysis is None:
        return FeatureScorer()
    return OnnxScorer(bundle, analysis, feature_weight=feature_weight)
