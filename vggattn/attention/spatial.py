"""Spatial attention (the spatial half of CBAM, Woo et al., 2018): a per-pixel gate from channel statistics."""

from __future__ import annotations

import torch
from torch import nn

from vggattn.attention._common import check_input, gate_logit, zero_last_layer
from vggattn.checks import check_int


class SpatialAttention(nn.Module):
    """Scale each pixel by a gate computed from the mean and the max over channels.

        d = [mean_c x; max_c x]        (B, C, H, W) -> (B, 2, H, W)
        A = sigmoid(conv(d))           (B, 2, H, W) -> (B, 1, H, W), conv: k x k, padding k // 2
        out = x * A                    A broadcast over C

    Works for any channel count. The article's module is `SpatialAttention(7)`: 2 * 7 * 7 = 98
    parameters. The last gate `A` is kept (detached) in `last_gate`.
    """

    def __init__(self, kernel_size: int = 7, *, bias: bool = False) -> None:
        super().__init__()
        check_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd so that padding k // 2 keeps H and W, got {kernel_size}; use 3 or 7"
            )
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias)
        self.last_gate: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, return_gate: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        check_input(self, x)
        d = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        # channels_last: the CPU backward of a conv from 2 channels is ~2x faster in that layout (same values)
        A = torch.sigmoid(self.conv(d.contiguous(memory_format=torch.channels_last)))  # (B, 1, H, W)
        self.last_gate = A.detach()
        out = x * A  # (B, C, H, W) * (B, 1, H, W)
        return (out, A) if return_gate else out

    def init_near_identity(self, gate: float = 0.99) -> None:
        """Start as `out = gate * x` for every input: conv.weight = 0, conv.bias = logit(gate)."""
        zero_last_layer(self.conv, gate_logit(gate), self)
