"""Training: self-supervised pre-training, fine-tuning, co-ascent and evaluation (sections 3.2-3.5,
Algorithm 1), with checkpoints, resume, seeds, progress reporting and per-epoch metrics.

Stages and their paper settings (defaults here are the paper's unless noted):

- :func:`pretrain`: E, D1, D2, D3 on every training song (labels unused), eq. 4
  (L1 spectrogram + L1 melody + 10 x BCE rhythm), Adam 1e-4, learning rate x 0.1 every 50
  epochs.
- :func:`finetune`: E frozen (eval mode, so its batch norms keep their statistics), T trained
  with cross-entropy (eq. 5), SGD 1e-2, momentum 0.9, weight decay 5e-4, optional class
  balancing (Table 1 group IV). As E is frozen, the embeddings are computed once and T trains
  on them, which makes an epoch cost a few milliseconds.
- :func:`coascent`: Algorithm 1 on top of a fine-tuned model: each round re-scales T's
  predictions on the unlabelled songs with the Markov matrix M (eq. 6, greedily along each
  song), keeps pseudo-labels whose re-scaled confidence exceeds tau = 0.9, fine-tunes T on
  labelled + pseudo-labelled samples, and updates M from the pseudo-labelled neighbours
  (eq. 7) with momentum alpha = 0.5, clipped to [0.01, 1]. M starts from the library's
  transition prior (:func:`musicdance.library.transitions.transition_prior`, rows scaled so
  their maximum is 1). Learning rate: 1e-3 by default (the paper's 1e-5 belongs to its
  500-epoch schedule and moves nothing in a few CPU epochs; pass ``lr=1e-5`` for it).
- :func:`evaluate`: Top-1/5/10 of a checkpoint on the held-out (``test``) songs.

``processes > 1`` runs pre-training, fine-tuning or co-ascent in that many processes under
``DistributedDataParallel`` (gloo backend, CPU; ``musicdance.train.distributed``): each rank
trains on its shard of every epoch (``DistributedSampler``, seeded, ``set_epoch``;
``batch_size`` per process), DDP all-reduces the gradients, and rank 0 alone writes
checkpoints. Fine-tuning and co-ascent compute the frozen
encoder's embeddings in shares and gather them; co-ascent's pseudo-labels and update of M come
from probabilities computed on rank 0 and broadcast, so every rank makes the same choice.

A checkpoint is a ``torch.save`` dict of tensors and plain values (loaded with
``weights_only=True``): format, stage, model config, state dict, optimizer state, completed
epochs, history (metrics per epoch), feature parameters, phrase ids (the K classes), library
fingerprint, transition matrix (co-ascent), settings. It is written atomically after every
epoch (pre-training) or every ``save_every`` epochs and at the end (fine-tuning), so ``resume``
continues an interrupted run.

The stages live in their own modules (:mod:`~musicdance.train.checkpoints`,
:mod:`~musicdance.train.pretraining`, :mod:`~musicdance.train.finetuning`,
:mod:`~musicdance.train.coascent`, :mod:`~musicdance.train.evaluation`, and what they share in
:mod:`~musicdance.train.common`); this module gathers their public functions in one place.
"""

from musicdance.train.checkpoints import (
    CHECKPOINT_FORMAT,
    STAGES,
    load_checkpoint,
    networks_from_checkpoint,
    save_checkpoint,
)
from musicdance.train.coascent import (
    ALPHA,
    CLIP,
    TAU,
    coascent,
    initial_transitions,
    rescale_with_transitions,
    update_transitions,
)
from musicdance.train.common import TOP_K, TrainingProgress, TrainResult, embed, topk_accuracy
from musicdance.train.evaluation import evaluate
from musicdance.train.finetuning import finetune
from musicdance.train.pretraining import pretrain

__all__ = [
    "ALPHA",
    "CHECKPOINT_FORMAT",
    "CLIP",
    "STAGES",
    "TAU",
    "TOP_K",
    "TrainResult",
    "TrainingProgress",
    "coascent",
    "embed",
    "evaluate",
    "finetune",
    "initial_transitions",
    "load_checkpoint",
    "networks_from_checkpoint",
    "pretrain",
    "rescale_with_transitions",
    "save_checkpoint",
    "topk_accuracy",
    "update_transitions",
]
