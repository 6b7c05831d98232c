"""Conducting motion for NPC conductors (seed 004, M2S-Net / M2S-GAN).

- :mod:`~musicdance.conduct.features`: the paper's 128-bin dB mel (hop 256, 90 Hz) and the
  conductor's reading of a song (loudness, onsets, silences);
- :mod:`~musicdance.conduct.keypoints`: the 13 COCO upper-body keypoints derived from the
  canonical skeleton, their normalisation, and lifting keypoints back to 3D rotations;
- :mod:`~musicdance.conduct.procedural`: the textbook procedural conductor (the corpus);
- :mod:`~musicdance.conduct.score`: beats, meter and sections of a song for the conductor;
- :mod:`~musicdance.conduct.generate`: the trained generator run through onnxruntime (no torch)
  and ``conduct_song`` (what ``mdtool conduct`` and the runtime call).
"""
