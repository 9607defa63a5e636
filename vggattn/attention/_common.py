"""Checks and rules every attention module shares: argument checks, the input check, the hidden width."""

from __future__ import annotations

import math

import torch
from torch import nn

from vggattn.checks import check_int


def check_kernel_size(name: str, value: object) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1, as a pair `(kh, kw)`."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return check_int(name, pair[0]), check_int(name, pair[1])


def hidden_width(channels: int, reduction: int, min_hidden: int) -> int:
    """The bottleneck width of an attention MLP: `hidden = max(channels // reduction, min_hidden)`.

    The floor `min_hidden` stops the defect of the SE article, where `channels < reduction` gives
    `Linear(C, 0)` and a gate stuck at sigmoid(0) = 0.5. With `min_hidden=4` the article's VGG16
    placement (C = 64 ... 512, r = 16, all C // r >= 4) keeps its widths and its 76,288 parameters.
    """
    check_int("channels", channels)
    check_int("reduction", reduction)
    check_int("min_hidden", min_hidden)
    return max(channels // reduction, min_hidden)


def gate_logit(gate: float) -> float:
    """logit(gate) = log(gate / (1 - gate)): the bias that makes a sigmoid output `gate` when its input is 0."""
    if not isinstance(gate, (int, float)) or isinstance(gate, bool) or not 0.0 < gate < 1.0:
        raise ValueError(f"gate must be a float strictly between 0 and 1, got {gate!r}")
    return math.log(gate / (1.0 - gate))


def check_input(module: nn.Module, x: object, channels: int | None = None) -> None:
    """Raise if `x` is not a 4-D tensor (B, C, H, W), or (when `channels` is given) if C != channels."""
    name = type(module).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(
            f"{name} expects a 4-D input (B, C, H, W), got shape {tuple(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0) for a single image"
        )
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} was built for {channels} input channels, got an input with {x.shape[1]} "
            f"(shape {tuple(x.shape)}); build it with the channel count of the layer it follows"
        )


def zero_last_layer(layer: nn.Module, bias_value: float, owner: nn.Module) -> None:
    """Set `layer.weight` to 0 and `layer.bias` to `bias_value`, so the layer outputs `bias_value` for any input."""
    if layer.bias is None:
        raise ValueError(
            f"{type(owner).__name__}.init_near_identity needs a bias in its last layer to set the gate, "
            "but the module was built with bias=False; build it with bias=True"
        )
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.fill_(bias_value)
