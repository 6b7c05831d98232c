"""Training corpora: songs analysed once, their per-slot model inputs cached on disk.

torch-free (the ``train`` extra is not needed to build, read or inspect a corpus):

- :mod:`musicdance.corpus.pairs`: the import format for labelled pairs (a studio's expert
  annotations: song, start, end, library phrase id);
- :mod:`musicdance.corpus.build`: the corpus builder (process pool or Ray), the starter corpus
  and the reader.

The per-slot model input and its feature parameters live in
:mod:`musicdance.audio.model_input` (the runtime computes them too), the library fingerprint in
:mod:`musicdance.library.fingerprint`; the torch ``Dataset`` wrappers in
:mod:`musicdance.train.data`. Nothing outside training imports this package.
"""
