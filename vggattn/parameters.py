"""The parts of a model (backbone, attention, head), learning rates per part, freezing and unfreezing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from .checks import check_positive
from .models import attention_modules

PARTS = ("backbone", "attention", "head")
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def model_parts(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """The model's parameters split into `"backbone"`, `"attention"` and `"head"` (name, parameter) lists.

    attention: parameters inside a module that `attention_modules` finds (found by type);
    head: `model.classifier` if the model has one, else its last `nn.Linear`;
    backbone: every other parameter.
    """
    attention_prefixes = tuple(f"{name}." for name, _ in attention_modules(model))
    if isinstance(getattr(model, "classifier", None), nn.Module):
        head_prefix = "classifier."
    else:
        linear_names = [
            name
            for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and not f"{name}.".startswith(attention_prefixes)
        ]
        head_prefix = f"{linear_names[-1]}." if linear_names else None
    parts: dict[str, list[tuple[str, nn.Parameter]]] = {part: [] for part in PARTS}
    for name, parameter in model.named_parameters():
        if name.startswith(attention_prefixes):
            parts["attention"].append((name, parameter))
        elif head_prefix is not None and name.startswith(head_prefix):
            parts["head"].append((name, parameter))
        else:
            parts["backbone"].append((name, parameter))
    return parts


def _select_parameters(model: nn.Module, parts: str | Iterable[str]) -> list[nn.Parameter]:
    """Parameters of `parts`: `"all"`, a part of `PARTS`, `"block1"` ... `"block5"` (every layer of that VGG
    block in `model.features`, attention included) or a submodule name such as `"features.4"`."""
    names = [parts] if isinstance(parts, str) else list(parts)
    by_part = model_parts(model)
    modules = dict(model.named_modules())
    by_block = _block_parameters(model)
    selected: dict[int, nn.Parameter] = {}
    for name in names:
        if name == "all":
            chosen = list(model.parameters())
        elif name in by_part:
            chosen = [parameter for _, parameter in by_part[name]]
        elif name in by_block:
            chosen = by_block[name]
        elif name in modules and name != "":
            chosen = list(modules[name].parameters())
        else:
            blocks = f", {sorted(by_block)}" if by_block else ""
            raise ValueError(
                f"unknown part {name!r}: expected 'all', one of {PARTS}{blocks} or a submodule name of the model "
                f"(e.g. {[n for n, _ in model.named_children()][:4]})"
            )
        selected.update((id(parameter), parameter) for parameter in chosen)
    return list(selected.values())


def _block_parameters(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """{"block1": [...], ...}: the parameters of each VGG block's layers (`model.layer_block`); {} for other models."""
    layer_block = getattr(model, "layer_block", None)
    features = getattr(model, "features", None)
    if not isinstance(layer_block, dict) or not isinstance(features, nn.Module):
        return {}
    blocks: dict[str, list[nn.Parameter]] = {}
    for name, layer in features.named_children():
        if name in layer_block:
            blocks.setdefault(f"block{layer_block[name]}", []).extend(layer.parameters())
    return blocks


def freeze(model: nn.Module, parts: str | Iterable[str] = "all") -> None:
    """Stop gradients for `parts` (`requires_grad=False`); `fit` also keeps their BatchNorm statistics fixed."""
    for parameter in _select_parameters(model, parts):
        parameter.requires_grad_(False)


def unfreeze(model: nn.Module, parts: str | Iterable[str] = "all") -> None:
    """Train `parts` again (`requires_grad=True`)."""
    for parameter in _select_parameters(model, parts):
        parameter.requires_grad_(True)


def set_trainable(model: nn.Module, parts: str | Iterable[str]) -> None:
    """Train exactly `parts` and freeze everything else (one stage of progressive unfreezing)."""
    freeze(model, "all")
    unfreeze(model, parts)


def trainable_parameter_names(model: nn.Module) -> list[str]:
    """Names of the parameters that currently receive gradients."""
    return [name for name, parameter in model.named_parameters() if parameter.requires_grad]


def param_groups_by(model: nn.Module, lrs: Mapping[str, float], default_lr: float | None = None) -> list[dict]:
    """Optimizer parameter groups, one per part, with the learning rate `lrs[part]` (else `default_lr`).

    `lrs` maps `"backbone"`, `"attention"`, `"head"` to learning rates, e.g. the SE article's recipe
    `{"backbone": 1e-5, "attention": 1e-4, "head": 1e-4}`. A part the model does not have (attention in a
    plain VGG) is skipped; a part it has with no learning rate given is an error.
    """
    unknown = sorted(set(lrs) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown parts {unknown} in the learning rates; expected keys among {PARTS}")
    groups = []
    for part, named in model_parts(model).items():
        if not named:
            continue
        lr = lrs.get(part, default_lr)
        if lr is None:
            raise ValueError(
                f"no learning rate for the part {part!r} ({len(named)} parameter tensors): add {part!r} to "
                f"the learning rates or give a default lr"
            )
        check_positive(f"learning rate of {part!r}", lr)
        groups.append({"name": part, "params": [parameter for _, parameter in named], "lr": float(lr)})
    return groups


def _decay_groups(groups: list[dict], weight_decay: float) -> list[dict]:
    """Split each group in two: weights (ndim > 1) get `weight_decay`; biases and norm scales (ndim <= 1) none."""
    split = []
    for group in groups:
        weights = [parameter for parameter in group["params"] if parameter.ndim > 1]
        others = [parameter for parameter in group["params"] if parameter.ndim <= 1]
        if weights:
            split.append({**group, "params": weights, "weight_decay": weight_decay})
        if others:
            split.append({**group, "name": f"{group['name']}/no_decay", "params": others, "weight_decay": 0.0})
    return split


def _fix_frozen_norm_statistics(model: nn.Module) -> None:
    """Put BatchNorm layers whose affine parameters are all frozen in eval mode: frozen means frozen."""
    for module in model.modules():
        if isinstance(module, BATCH_NORMS) and module.affine:
            if not any(parameter.requires_grad for parameter in module.parameters()):
                module.eval()
