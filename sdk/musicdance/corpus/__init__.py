"""Training corpora: songs analysed once, their per-slot model inputs cached on disk.

torch-free (the ``train`` extra is not needed to build, read or inspect a corpus):

- :mod:`musicdance.corpus.pairs`: the import format for labelled pairs (a studio's expert
  annotations: song, start, end, library phrase id);
- :mod:`musicdance.corpus.sources`: the songs of a corpus and how each is labelled;
- :mod:`musicdance.corpus.engines`: the worker that analyses one song, run in this process, a
  process pool or Ray;
- :mod:`musicdance.corpus.build`: the builder (cache, shards, index); it re-exports the
  sources and the reader;
- :mod:`musicdance.corpus.reader`: :func:`open_corpus` and the samples as arrays.

The per-slot model input and its feature parameters live in
:mod:`musicdance.audio.model_input` (the runtime computes them too), the library fingerprint in
:mod:`musicdance.library.fingerprint`; the torch ``Dataset`` wrappers in
:mod:`musicdance.train.data`. Nothing outside training imports this package.
"""
