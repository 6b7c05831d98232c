"""The choreographer: music phrases in, a timeline of dance phrases and one animation out.

Flow: ``slots.plan_slots`` (one slot per eight of the music) -> an emission model
(``scoring.FeatureScorer``, or ``onnx_scorer.OnnxScorer`` mixed with it) scores every library
phrase for every slot -> ``choreographer.choreograph`` (Viterbi or greedy decoding with the
Markov prior and choreography constraints) -> ``render.render_dance`` (time warp onto the
beats, searched cuts, inertialized joins, planted feet) -> ``export.export_dance``. After an
edit (``choreographer.replace_phrase``), ``rerender.rerender`` re-renders only what changed.
"""
