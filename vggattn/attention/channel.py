"""Channel attention: a gate per channel from pooled channel descriptors (SE's excitation, CBAM's channel half)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vggattn.attention._common import (
    apply_gate,
    check_gate_form,
    check_input,
    gate_logit,
    hidden_width,
    is_exporting,
    near_identity_gate,
    zero_last_layer,
)
from vggattn.checks import check_choice

POOLINGS = ("avg", "max")
"""The channel descriptors a `ChannelAttention` can pool: the mean (SE) and the max (CBAM adds it) over H, W."""


class ChannelAttention(nn.Module):
    """Scale each channel by a gate computed from pooled descriptors of all channels, through one shared MLP.

        z_p = pool_p(u)                           (B, C, H, W) -> (B, C), p in `pooling` (mean and/or max over H, W)
        s = gate(sum_p fc2(act(fc1(z_p))))        (B, C): one MLP C -> hidden -> C shared by the descriptors
        out = u * s                               s broadcast over H, W

    `gate` is the gate form: `"sigmoid"` (the papers': s in (0, 1)) or `"scaled"` (2 * sigmoid: s in (0, 2),
    exactly 1 with a zero last layer, where the sigmoid is steepest; NF-ResNets use this gain of 2).
    `hidden = max(channels // reduction, min_hidden)`. State: `fc1.*`, `fc2.*` (SE's names). The last gate
    `s` is kept (detached) in `last_gate`.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        *,
        pooling: Sequence[str] = ("avg",),
        min_hidden: int = 4,
        bias: bool = True,
        activation: Callable[[], nn.Module] = nn.ReLU,
        gate: str = "sigmoid",
    ) -> None:
        super().__init__()
        hidden = hidden_width(channels, reduction, min_hidden)  # also checks channels, reduction >= 1
        if isinstance(pooling, str) or not pooling or len(set(pooling)) != len(pooling):
            raise ValueError(f"pooling must be a non-empty sequence of distinct names from {POOLINGS}, got {pooling!r}")
        for name in pooling:
            check_choice("pooling", name, POOLINGS)
        self.channels, self.pooling, self.gate = channels, tuple(pooling), check_gate_form(gate)
        self.fc1 = nn.Linear(channels, hidden, bias=bias)
        self.activation = activation()
        self.fc2 = nn.Linear(hidden, channels, bias=bias)
        self.last_gate: torch.Tensor | None = None

    def descriptors(self, u: torch.Tensor) -> torch.Tensor:
        """The pooled descriptors, stacked: (B, C, H, W) -> (P, B, C), P = len(pooling)."""
        pooled = {"avg": lambda: u.mean(dim=(2, 3)), "max": lambda: u.amax(dim=(2, 3))}
        return torch.stack([pooled[name]() for name in self.pooling])

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_input(self, u, self.channels)
        logits = self.fc2(self.activation(self.fc1(self.descriptors(u)))).sum(dim=0)  # (P, B, C) -> (B, C)
        s = apply_gate(logits, self.gate)  # (B, C)
        if not is_exporting():  # an exported graph keeps no Python attributes
            self.last_gate = s.detach()
        return u * s[:, :, None, None]  # (B, C, H, W) * (B, C, 1, 1)

    def init_near_identity(self, gate: float | None = None) -> None:
        """Start as `out = gate * u` for every input (default: 0.99 for "sigmoid", exactly 1 for "scaled").

        fc2.weight = 0, so every descriptor's MLP output is fc2.bias and the logit is P * fc2.bias:
        fc2.bias = logit(gate) / P ("scaled": logit(gate / 2) / P, which is 0 for gate 1).
        """
        gate = near_identity_gate(self.gate, gate)
        zero_last_layer(self.fc2, gate_logit(gate, self.gate) / len(self.pooling), self)

    def extra_repr(self) -> str:
        return f"pooling={self.pooling}, gate={self.gate!r}"
