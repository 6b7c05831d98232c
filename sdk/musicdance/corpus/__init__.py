"""Training corpora: songs analysed once, their per-slot model inputs cached on disk.

torch-free (the ``train`` extra is not needed to build, read or inspect a corpus):

- :mod:`musicdance.corpus.inputs`: the feature parameters and the per-slot model input (the
  128 x 128 log-mel, melody and rhythm of :mod:`musicdance.audio.model_input`);
- :mod:`musicdance.corpus.pairs`: the import format for labelled pairs (a studio's expert
  annotations: song, start, end, library phrase id);
- :mod:`musicdance.corpus.build`: the corpus builder (process pool or Ray), the starter corpus
  and the reader.

The torch ``Dataset`` wrappers live in :mod:`musicdance.train.data`.
"""
