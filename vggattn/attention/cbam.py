"""CBAM (Woo et al., 2018): a channel gate from average- and max-pooled descriptors, then a spatial gate."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from vggattn.attention._common import check_input, gate_logit, near_identity_gate
from vggattn.attention.channel import ChannelAttention
from vggattn.attention.spatial import SpatialAttention


class CBAM(nn.Module):
    """Convolutional Block Attention Module: channel gate, then spatial gate, as two modules.

        x' = channel(x)  = x * sigmoid(mlp(mean_ij x) + mlp(max_ij x))     ChannelAttention, pooling avg and max
        out = spatial(x') = x' * sigmoid(conv([mean_c x'; max_c x']))       SpatialAttention

    `mlp = fc2(act(fc1(.)))` with `hidden = max(channels // reduction, min_hidden)`; `bias` applies to the MLP
    and to the spatial conv; `gate` ("sigmoid" or "scaled") to both gates. State keys: `channel.fc1.*`,
    `channel.fc2.*`, `spatial.conv.*`. The last gates: `channel.last_gate` (B, C), `spatial.last_gate`
    (B, 1, H, W).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        kernel_size: int = 7,
        *,
        min_hidden: int = 4,
        bias: bool = True,
        activation: Callable[[], nn.Module] = nn.ReLU,
        gate: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.channel = ChannelAttention(
            channels,
            reduction,
            pooling=("avg", "max"),
            min_hidden=min_hidden,
            bias=bias,
            activation=activation,
            gate=gate,
        )
        self.spatial = SpatialAttention(kernel_size, bias=bias, gate=gate)

    @property
    def channels(self) -> int:
        return self.channel.channels

    @property
    def gate(self) -> str:
        return self.channel.gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.channels)
        return self.spatial(self.channel(x))

    def init_near_identity(self, gate: float | None = None) -> None:
        """Start as `out = gate * x` (default 0.99 for "sigmoid", 1 for "scaled"): each of the two gates is
        sqrt(gate)."""
        gate = near_identity_gate(self.gate, gate)
        gate_logit(gate, self.gate)  # check the gate's range before taking its root
        self.channel.init_near_identity(math.sqrt(gate))
        self.spatial.init_near_identity(math.sqrt(gate))
