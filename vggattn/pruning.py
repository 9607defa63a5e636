"""Magnitude pruning of a trained model's convolutions (notebook 06): what unstructured pruning does, measured.

    sparse = prune_convolutions(model, 0.5)    # a copy with the 50% smallest conv weights (over all layers) at 0
    conv_sparsity(sparse)                      # 0.5

`torch.nn.utils.prune.global_unstructured` with the L1 criterion ranks every convolution weight of the model
together, zeroes the smallest `amount` of them, and `prune.remove` makes the zeros permanent, so the copy is a
plain model again (same shapes, same keys): a dense kernel still multiplies its zeros.
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils import prune

from .checks import check_number


def _convolutions(model: nn.Module) -> list[nn.Conv2d]:
    return [module for module in model.modules() if isinstance(module, nn.Conv2d)]


def prune_convolutions(model: nn.Module, amount: float) -> nn.Module:
    """A copy of `model` with the `amount` (a fraction in [0, 1)) of all its `nn.Conv2d` weights that are smallest in
    magnitude set to 0; the original is not changed. Biases, BatchNorms, attention MLPs and the head are kept."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_number("amount", amount, low=0, high=1, hint="the fraction of the conv weights to set to 0, e.g. 0.5")
    if amount >= 1:
        raise ValueError(f"amount must be below 1 (1 would zero every convolution), got {amount}")
    pruned = copy.deepcopy(model)
    convolutions = _convolutions(pruned)
    if not convolutions:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d to prune")
    parameters = [(conv, "weight") for conv in convolutions]
    prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured, amount=float(amount))
    for conv, name in parameters:
        prune.remove(conv, name)  # the mask folded into the weight: a plain model again
    return pruned


def conv_sparsity(model: nn.Module) -> float:
    """The fraction of the model's `nn.Conv2d` weights that are exactly 0."""
    convolutions = _convolutions(model)
    total = sum(conv.weight.numel() for conv in convolutions)
    if total == 0:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d weights")
    return sum((conv.weight == 0).sum().item() for conv in convolutions) / total
