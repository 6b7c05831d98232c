"""Dance to music: style recognition and song recommendation from motion (seeds 000 MCLEMCD
and 003 BiLSTM-BiGRU), through onnxruntime only.

``features`` builds the models' inputs from joint positions and audio, ``dataset`` the
stand-in training data (dances choreographed on generated songs, move-held-out splits),
``recognizer`` runs the shipped companion models (style per segment, votes, catalogue
analysis and song ranking). torch is never imported here (training: ``musicdance.train``).
"""
