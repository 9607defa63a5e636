"""Squeeze-and-Excitation (Hu et al., 2018): a per-channel gate computed from the channel means."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vggattn.attention.channel import ChannelAttention


class SqueezeExcitation(ChannelAttention):
    """Scale each channel by a gate computed from the global average of all channels.

        z = mean_ij u(i, j)                  squeeze:    (B, C, H, W) -> (B, C)
        s = sigmoid(fc2(act(fc1(z))))        excitation: (B, C) -> hidden -> (B, C)
        out = u * s                          scale, s broadcast over H, W

    A `ChannelAttention` with average pooling only. `hidden = max(channels // reduction, min_hidden)`;
    the article's SE block is `SqueezeExcitation(C, 16, bias=False)`: 2 * C * C // 16 parameters.
    `gate="scaled"` uses 2 * sigmoid (exactly the identity after `init_near_identity()`).
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
        gate: str = "sigmoid",
    ) -> None:
        super().__init__(
            channels, reduction, pooling=("avg",), min_hidden=min_hidden, bias=bias, activation=activation, gate=gate
        )

    def extra_repr(self) -> str:
        return f"gate={self.gate!r}"
