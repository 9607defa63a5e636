"""Checks and rules every attention module shares: argument checks, the input check, the hidden width."""

from __future__ import annotations

import math

import torch
from torch import nn

from vggattn.checks import check_choice, check_int, check_number

is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)
"""Whether torch.export (or the dynamo ONNX exporter) is tracing: the modules then record no `last_gate` /
`last_attention` (an exported graph keeps no Python attributes). torch < 2.6 has no such flag: never."""


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


GATE_FORMS = ("sigmoid", "scaled")
"""How a gating module turns its logit t into a gate: "sigmoid" (the papers': sigmoid(t) in (0, 1)) or "scaled"
(2 * sigmoid(t) in (0, 2): exactly 1 at t = 0, where the sigmoid is steepest, so a zero-initialised last layer
inserts the module as the identity and passes it the largest gradient)."""


def check_gate_form(form: object) -> str:
    """`form` if it is one of `GATE_FORMS`."""
    return check_choice("gate", form, GATE_FORMS)


def apply_gate(logits: torch.Tensor, form: str) -> torch.Tensor:
    """The gate for `logits`: sigmoid(t) ("sigmoid") or 2 * sigmoid(t) ("scaled")."""
    gate = torch.sigmoid(logits)
    return 2.0 * gate if form == "scaled" else gate


def near_identity_gate(form: str, gate: float | None) -> float:
    """The gate a module starts at after `init_near_identity(gate)`: `gate`, or by default 0.99 for "sigmoid"
    (a sigmoid never reaches 1) and exactly 1 for "scaled"."""
    if gate is None:
        return 1.0 if form == "scaled" else 0.99
    return gate


def gate_logit(gate: float, form: str = "sigmoid") -> float:
    """The logit t whose gate is `gate`: log(g / (1 - g)) for "sigmoid" (0 < g < 1), logit(g / 2) for "scaled"
    (0 < g < 2; 0 for g = 1)."""
    top = 2.0 if form == "scaled" else 1.0
    check_number("gate", gate)
    if not 0.0 < gate < top:
        raise ValueError(f"a {form!r} gate must lie strictly between 0 and {top:g}, got {gate!r}")
    p = gate / top
    return math.log(p / (1.0 - p))


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
    """Set `layer.weight` to 0 and `layer.bias` to `bias_value`, so the layer outputs `bias_value` for any input
    (a layer without bias can only output 0)."""
    if layer.bias is None and bias_value != 0.0:
        raise ValueError(
            f"{type(owner).__name__}.init_near_identity needs a bias in its last layer to set the gate, "
            "but the module was built with bias=False; build it with bias=True, or use gate='scaled', whose "
            "identity start (gate 1) is the logit 0"
        )
    with torch.no_grad():
        layer.weight.zero_()
        if layer.bias is not None:
            layer.bias.fill_(bias_value)
