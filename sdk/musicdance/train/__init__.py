"""Training and export of the paper's networks (sections 3.2-3.5, appendix Tables 3-6).

Every module here imports torch, which is an optional extra (``pip install mdtool[train]``);
nothing outside this package imports them, so ``import musicdance`` and the onnxruntime
inference path work without torch. The model configuration they share with the bundle loader
is the torch-free :mod:`musicdance.model_config`. This ``__init__`` imports nothing.
"""
