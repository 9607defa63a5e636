"""Squeeze-and-Excitation (Hu et al., 2018): a per-channel gate computed from the channel means."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vggattn.attention._common import check_input, gate_logit, hidden_width, zero_last_layer


class SqueezeExcitation(nn.Module):
    """Scale each channel by a gate computed from the global average of all channels.

        z = mean_ij u(i, j)                  squeeze:    (B, C, H, W) -> (B, C)
        s = sigmoid(fc2(act(fc1(z))))        excitation: (B, C) -> hidden -> (B, C)
        out = u * s                          scale, s broadcast over H, W

    `hidden = max(channels // reduction, min_hidden)`; the article's SE block is
    `SqueezeExcitation(C, 16, bias=False)`: 2 * C * C // 16 parameters.
    The last gate `s` is kept (detached) in `last_gate` for visualisation.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        *,
        min_hidden: int = 4,
        bias: bool = True,
        activation: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        hidden = hidden_width(channels, reduction, min_hidden)  # also checks channels, reduction >= 1
        self.channels = channels
        self.fc1 = nn.Linear(channels, hidden, bias=bias)
        self.activation = activation()
        self.fc2 = nn.Linear(hidden, channels, bias=bias)
        self.last_gate: torch.Tensor | None = None

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_input(self, u, self.channels)
        z = u.mean(dim=(2, 3))  # (B, C, H, W) -> (B, C)
        s = torch.sigmoid(self.fc2(self.activation(self.fc1(z))))  # (B, C)
        self.last_gate = s.detach()
        return u * s[:, :, None, None]  # (B, C, H, W) * (B, C, 1, 1)

    def init_near_identity(self, gate: float = 0.99) -> None:
        """Start as `out = gate * u` for every input: fc2.weight = 0, fc2.bias = logit(gate)."""
        zero_last_layer(self.fc2, gate_logit(gate), self)
