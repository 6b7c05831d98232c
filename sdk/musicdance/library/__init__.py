"""The dance phrase library: phrases with count, contact and transition annotations, stored in a
folder (``library.sqlite`` plus packed motion arrays), the procedural starter library, mocap
import, validation, transition priors and previews."""

from musicdance.library.phrase import STATUSES, Phrase, PhraseInfo, make_phrase, mirror_phrase
from musicdance.library.store import PhraseLibrary, create_library, open_library

__all__ = [
    "STATUSES",
    "Phrase",
    "PhraseInfo",
    "PhraseLibrary",
    "create_library",
    "make_phrase",
    "mirror_phrase",
    "open_library",
]
