"""CBAM (Woo et al., 2018): a channel gate from average- and max-pooled descriptors, then a spatial gate."""

from __future__ import annotations

import math

import torch
from torch import nn

from vggattn.attention._common import check_input, gate_logit, hidden_width, zero_last_layer
from vggattn.attention.spatial import SpatialAttention


class CBAM(nn.Module):
    """Convolutional Block Attention Module: channel gate, then spatial gate.

        M_c = sigmoid(mlp(mean_ij x) + mlp(max_ij x))    (B, C), one MLP shared by both descriptors
        x' = x * M_c                                     per channel
        out = SpatialAttention(x')                       x' * sigmoid(conv([mean_c x'; max_c x']))

    `mlp = fc2(relu(fc1(.)))` with `hidden = max(channels // reduction, min_hidden)`; `bias` applies to
    the MLP and to the spatial conv. The last gates are kept in `last_channel_gate` (B, C) and
    `spatial.last_gate` (B, 1, H, W).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        kernel_size: int = 7,
        *,
        min_hidden: int = 4,
        bias: bool = True,
    ) -> None:
        super().__init__()
        hidden = hidden_width(channels, reduction, min_hidden)  # also checks channels, reduction >= 1
        self.channels = channels
        self.fc1 = nn.Linear(channels, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, channels, bias=bias)
        self.spatial = SpatialAttention(kernel_size, bias=bias)
        self.last_channel_gate: torch.Tensor | None = None

    def mlp(self, descriptor: torch.Tensor) -> torch.Tensor:
        """The shared MLP: (..., C) -> (..., C) logits."""
        return self.fc2(torch.relu(self.fc1(descriptor)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.channels)
        descriptors = torch.stack([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))])  # (2, B, C): average, max
        M_c = torch.sigmoid(self.mlp(descriptors).sum(dim=0))  # (B, C)
        self.last_channel_gate = M_c.detach()
        return self.spatial(x * M_c[:, :, None, None])

    def init_near_identity(self, gate: float = 0.99) -> None:
        """Start as `out = gate * x`: each of the two gates is sqrt(gate).

        With fc2.weight = 0 both MLP outputs equal fc2.bias, so M_c = sigmoid(2 * fc2.bias):
        fc2.bias = logit(sqrt(gate)) / 2; the spatial gate gets `init_near_identity(sqrt(gate))`.
        """
        gate_logit(gate)  # check 0 < gate < 1 before changing anything
        zero_last_layer(self.fc2, gate_logit(math.sqrt(gate)) / 2, self)
        self.spatial.init_near_identity(math.sqrt(gate))
