"""musicdance: the mdtool SDK that turns music into dance for games.

Packages by layer, lowest first; a package imports only from its own or lower layers (checked
by ``tests/test_sdk_policy.py`` against :data:`LAYERS`):

0. foundations: ``errors``, ``atomic`` (atomic writes, output sets), ``jsonguard`` (JSON bounds
   before parsing), ``defaults`` (shared defaults, no numpy), ``formats`` (versioned JSON
   documents), ``serving`` (the service's policy),
   ``model_config`` (the networks' configuration, torch-free), ``raycluster`` (a Ray session for
   ``--engine ray``), ``companions`` (ONNX models that ship inside a bundle folder);
1. ``audio`` (music analysis, per-slot model input, song generator), ``motion`` (skeletons,
   quaternions, kinematics, retargeting), ``decode`` (greedy and Viterbi decoding on arrays);
2. ``synthesis`` (time warping, inertialized joins, foot locking), ``io`` (BVH and glTF files),
   ``rhythm`` (music-dance rhythm, seed 002: features, ONNX graphs, retrieval, retargeting);
3. ``library`` (the phrase library: store, import, transition prior, starter library);
4. ``bundle`` (trained models as ONNX bundles, run through onnxruntime), ``conduct``
   (conducting motion: the procedural conductor, keypoints, the M2S-GAN through onnxruntime);
5. ``choreo`` (slots, scoring, choosing phrases, rendering, timelines, exporting a dance);
6. ``evaluate`` (metrics), ``corpus`` (training corpora), ``recognize`` (dance style and song
   recommendation from motion through ONNX companions);
7. ``train`` (torch networks, training and ONNX export; the only place torch is imported).

The shells sit on top: ``mdtool`` (the CLI, ``tools/``) and ``mdruntime`` (the in-game runtime
and its HTTP service, ``unity_bridge/``); the runtime never imports ``corpus`` or ``train``.
"""

from musicdance.errors import MusicDanceError

__version__ = "0.1.0"
__all__ = ["LAYERS", "MusicDanceError", "__version__"]

#: Layer of each top-level module or package (see above).
LAYERS = {
    "errors": 0, "atomic": 0, "jsonguard": 0, "defaults": 0, "formats": 0, "serving": 0,
    "model_config": 0, "raycluster": 0, "companions": 0,
    "audio": 1, "motion": 1, "decode": 1,
    "synthesis": 2, "io": 2, "rhythm": 2,
    "library": 3,
    "bundle": 4, "conduct": 4,
    "choreo": 5,
    "evaluate": 6, "corpus": 6, "recognize": 6,
    "train": 7,
}  # fmt: skip
