"""Decoding: pick one library phrase per music phrase from emission scores and a Markov prior.

Pure numpy on arrays; the scorer that fills the emission matrix and the library that builds
the transition matrix live in other layers and pass their results in.
"""

from musicdance.decode.sequence import greedy_decode, sequence_log_score, viterbi_decode
from musicdance.decode.sparse import SparseSteps, sparse_greedy_decode, sparse_viterbi_decode

__all__ = [
    "SparseSteps",
    "greedy_decode",
    "sequence_log_score",
    "sparse_greedy_decode",
    "sparse_viterbi_decode",
    "viterbi_decode",
]
