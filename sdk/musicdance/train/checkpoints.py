"""Training checkpoints: write atomically, load and check (``weights_only``), resume.

A checkpoint is a ``torch.save`` dict of tensors and plain values (loaded with
``weights_only=True``): format, stage, model config, state dict, optimizer state, completed
epochs, history (metrics per epoch), feature parameters, phrase ids (the K classes), library
fingerprint, transition matrix (co-ascent), settings.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicdance.atomic import atomic_write
from musicdance.audio.model_input import check_feature_parameters, feature_parameters
from musicdance.errors import MusicDanceError
from musicdance.model_config import ModelConfig
from musicdance.train.networks import Networks

CHECKPOINT_FORMAT = "mdtool-checkpoint/1"
STAGES = ("pretrain", "finetune", "coascent")
_REQUIRED = ("format", "stage", "config", "model", "epoch", "history", "features")
#: Settings that older checkpoints lack, with the value they were trained with.
_SETTING_DEFAULTS = {"processes": 1}


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (a crash never leaves a half-written file)."""
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        torch.save(payload, handle)
    return target


def load_checkpoint(
    path: str | os.PathLike[str], *, stages: tuple[str, ...] = STAGES
) -> dict[str, Any]:
    """Load and check a checkpoint (``weights_only=True``: no code runs from the file).

    Raises:
        MusicDanceError: missing, truncated, corrupt, not an mdtool checkpoint, made with other
            feature parameters, or of a stage not in ``stages``.
    """
    source = Path(path)
    if not source.is_file():
        raise MusicDanceError("checkpoint not found", source)
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError,
            OSError, AttributeError, TypeError) as error:  # fmt: skip
        raise MusicDanceError(
            f"not a readable checkpoint (corrupt or truncated?): {type(error).__name__}", source
        ) from error
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise MusicDanceError(f"not an mdtool checkpoint (expected {CHECKPOINT_FORMAT})", source)
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise MusicDanceError(f"checkpoint lacks {', '.join(missing)}", source)
    if data["stage"] not in stages:
        raise MusicDanceError(
            f"this is a {data['stage']} checkpoint; expected {' or '.join(stages)}", source
        )
    check_feature_parameters(data["features"], what="checkpoint", path=source)
    data["config"] = ModelConfig.from_dict(data["config"])
    data["path"] = str(source)
    return data


def networks_from_checkpoint(checkpoint: dict[str, Any], *, predictor: bool = True) -> Networks:
    """The networks of a loaded checkpoint (``predictor=False``: T keeps its fresh weights)."""
    networks = Networks(checkpoint["config"])
    state = checkpoint["model"]
    if not predictor:
        state = {k: v for k, v in state.items() if not k.startswith("predictor.")}
    try:
        networks.load_state_dict(state, strict=predictor)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise MusicDanceError(
            f"checkpoint weights do not fit its model config: {first}", checkpoint.get("path")
        ) from error
    return networks


def checkpoint_payload(
    stage: str,
    networks: Networks,
    *,
    epoch: int,
    history: list[dict],
    seed: int,
    settings: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    phrase_ids: list[str] | None = None,
    library: dict[str, Any] | None = None,
    transition: np.ndarray | None = None,
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "stage": stage,
        "config": networks.config.to_dict(),
        "model": networks.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": int(epoch),
        "history": history,
        "seed": int(seed),
        "settings": settings,
        "features": feature_parameters(),
        "phrase_ids": phrase_ids,
        "library": None
        if library is None
        else {k: library[k] for k in ("path", "phrases", "fingerprint")},
        "transition": None
        if transition is None
        else torch.as_tensor(transition, dtype=torch.float32),
        "rng": torch.get_rng_state(),
        "torch": str(torch.__version__),
    }


def resume_state(out: Path, stage: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint to resume from, checked against this run's settings."""
    if not out.exists():
        return None
    checkpoint = load_checkpoint(out, stages=(stage,))
    saved = checkpoint.get("settings") or {}
    changed = [
        f"{key} {saved.get(key)!r} -> {value!r}"
        for key, value in settings.items()
        if key not in ("epochs", "rounds") and saved.get(key, _SETTING_DEFAULTS.get(key)) != value
    ]
    if changed:
        raise MusicDanceError(
            f"cannot resume: settings differ from the checkpoint's ({'; '.join(changed)})", out
        )
    return checkpoint
