"""Checkpoints: one file with the model, its config, the optimiser, scheduler and random states, and the history.

`save_checkpoint` writes it atomically; `load_checkpoint` reads it with `weights_only=True` (pickled code is
never run) and says what is wrong with a file that is empty, truncated, corrupt or of another model;
`model_from_checkpoint` rebuilds the model from its stored `build_vgg` config; `capture_rng_states` and
`restore_rng_states` let a resumed run continue exactly.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__, paths
from .history import History
from .models import build_vgg
from .runtime import atomic_write

CHECKPOINT_FORMAT = 1
LAST_CHECKPOINT = "last.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked: not a vggattn checkpoint, another architecture, another run."""


def capture_rng_states() -> dict[str, Any]:
    """Every random generator's state as tensors and plain values (loadable with `weights_only=True`)."""
    _, python_keys, python_gauss = random.getstate()
    _, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()
    states: dict[str, Any] = {
        "python": torch.tensor(python_keys, dtype=torch.int64),
        "python_gauss": python_gauss,
        "numpy": torch.from_numpy(numpy_keys.astype(np.int64)),
        "numpy_extra": [int(numpy_pos), int(numpy_has_gauss), float(numpy_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        states["mps"] = torch.mps.get_rng_state()
    return states


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Put back the generator states that `capture_rng_states()` captured (from any device they were loaded to)."""
    random.setstate((3, tuple(int(key) for key in states["python"].tolist()), states["python_gauss"]))
    numpy_pos, numpy_has_gauss, numpy_gauss = states["numpy_extra"]
    numpy_keys = states["numpy"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss))
    torch.set_rng_state(states["torch"].cpu())  # generator states are CPU byte tensors, whatever map_location did
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])
    if "mps" in states and torch.backends.mps.is_available():
        torch.mps.set_rng_state(states["mps"].cpu())


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    *,
    epoch: int = 0,
    history: History | None = None,
    rng_states: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    scaler: torch.amp.GradScaler | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write one checkpoint file atomically (a temporary file in the same folder, then `os.replace`).

    It holds only tensors and plain containers, so `load_checkpoint` reads it with `weights_only=True`:
    model/optimizer/scheduler/scaler states, `epoch`, `history` (list of dicts), RNG states (default: the
    current ones), `model_config` (default: `model.config`, what `build_vgg(**config)` rebuilds), the
    package and torch versions and `extra` (plain values: numbers, strings, lists, dicts).
    """
    config = model_config if model_config is not None else getattr(model, "config", None)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "model_state": model.state_dict(),
        "model_config": dict(config) if config else None,
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "epoch": int(epoch),
        "history": history.to_dicts() if history is not None else [],
        "rng_states": dict(rng_states) if rng_states is not None else capture_rng_states(),
        "extra": dict(extra or {}),
    }
    return atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with `torch.load(weights_only=True)`; with `model`, load its weights into it.

    A model of another architecture raises `CheckpointError` naming the missing, unexpected and
    mismatching-shape keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {paths.display_path(path)}: train first, or give the path of an existing .pt file"
        )
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"{paths.shown_path(path)} is empty (0 bytes): the run that wrote it was interrupted, or the "
            f"file was copied wrongly; use another checkpoint or train again"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # any bytes torch cannot read: truncated, corrupt, not a checkpoint at all
        said = str(error).strip().split(". ")[0].splitlines()[0][:100] if str(error).strip() else ""
        raise CheckpointError(
            f"{paths.shown_path(path)} is not a readable checkpoint: truncated, corrupt or not a torch file of tensors "
            f"(pickled Python code is never loaded) (torch.load: {type(error).__name__}{': ' + said if said else ''}"
            f"); use another checkpoint, copy it again, or train again"
        ) from None
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint:
        raise CheckpointError(
            f"{paths.shown_path(path)} is not a vggattn checkpoint (no 'model_state'); "
            "write checkpoints with save_checkpoint"
        )
    if model is not None:
        config = checkpoint.get("model_config")
        load_model_state(model, checkpoint["model_state"], source=path.name, model_config=config)
    return checkpoint


def load_model_state(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str = "the state dict",
    model_config: Mapping | None = None,
) -> None:
    """`model.load_state_dict(state)` that first names every missing, unexpected and wrong-shape key."""
    own = model.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    wrong_shape = [
        f"{key} {tuple(state[key].shape)} vs {tuple(own[key].shape)}"
        for key in own
        if key in state and state[key].shape != own[key].shape
    ]
    if missing or unexpected or wrong_shape:
        labelled = (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches, checkpoint vs model", wrong_shape),
        )
        problems = [
            f"{label} ({len(keys)}): {', '.join(keys[:6])}{', ...' if len(keys) > 6 else ''}"
            for label, keys in labelled
            if keys
        ]
        saved_from = f" It was saved from build_vgg(**{dict(model_config)})." if model_config else ""
        raise CheckpointError(
            f"{source} does not fit this model: {'; '.join(problems)}.{saved_from} Rebuild the model with "
            f"model_from_checkpoint(path), or map a plain backbone into an attention model with load_backbone_weights."
        )
    model.load_state_dict(state)


def model_from_checkpoint(
    checkpoint: str | os.PathLike | Mapping[str, Any], *, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild the model with `build_vgg(**checkpoint["model_config"])` and load its weights.

    `checkpoint`: a path, or a dict that `load_checkpoint` returned.
    """
    if not isinstance(checkpoint, Mapping):
        checkpoint = load_checkpoint(checkpoint, map_location=map_location)
    config = checkpoint.get("model_config")
    if not config:
        raise CheckpointError(
            "the checkpoint has no model_config, so its architecture is unknown: build the model yourself "
            "and call load_checkpoint(path, model)"
        )
    try:
        model = build_vgg(**config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"this version's build_vgg cannot rebuild the checkpoint's model_config {config}: {error}"
        ) from error
    load_model_state(model, checkpoint["model_state"], source="the checkpoint", model_config=config)
    return model.to(map_location)
