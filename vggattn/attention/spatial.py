"""Spatial attention (the spatial half of CBAM, Woo et al., 2018): a per-pixel gate from channel statistics."""

from __future__ import annotations

import torch
from torch import nn

from vggattn.attention._common import (
    apply_gate,
    check_gate_form,
    check_input,
    gate_logit,
    is_exporting,
    near_identity_gate,
    zero_last_layer,
)
from vggattn.checks import check_int


class SpatialAttention(nn.Module):
    """Scale each pixel by a gate computed from the mean and the max over channels.

        d = [mean_c x; max_c x]        (B, C, H, W) -> (B, 2, H, W)
        A = sigmoid(conv(d))           (B, 2, H, W) -> (B, 1, H, W), conv: k x k, padding k // 2
        out = x * A                    A broadcast over C

    Works for any channel count. The article's module is `SpatialAttention(7)`: 2 * 7 * 7 = 98
    parameters. `gate="scaled"` uses 2 * sigmoid (exactly the identity after `init_near_identity()`).
    The last gate `A` is kept (detached) in `last_gate`.
    """

    def __init__(self, kernel_size: int = 7, *, bias: bool = False, gate: str = "sigmoid") -> None:
        super().__init__()
        check_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd so that padding k // 2 keeps H and W, got {kernel_size}; use 3 or 7"
            )
        self.gate = check_gate_form(gate)
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias)
        self.last_gate: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        d = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        # channels_last: the CPU backward of a conv from 2 channels is ~2x faster in that layout (same values)
        A = apply_gate(self.conv(d.contiguous(memory_format=torch.channels_last)), self.gate)  # (B, 1, H, W)
        if not is_exporting():  # an exported graph keeps no Python attributes
            self.last_gate = A.detach()
        return x * A  # (B, C, H, W) * (B, 1, H, W)

    def init_near_identity(self, gate: float | None = None) -> None:
        """Start as `out = gate * x` for every input (default 0.99 for "sigmoid", 1 for "scaled"): conv.weight = 0,
        conv.bias = the gate's logit (a module without bias can start only at the logit 0: "scaled" and gate 1)."""
        gate = near_identity_gate(self.gate, gate)
        zero_last_layer(self.conv, gate_logit(gate, self.gate), self)

    def extra_repr(self) -> str:
        return f"gate={self.gate!r}"
