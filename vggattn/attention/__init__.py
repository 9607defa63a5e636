"""One small module per attention mechanism; none knows which network it lives in.

| module | what it computes |
| --- | --- |
| `SqueezeExcitation` | per-channel gate from channel means (SE) |
| `SpatialAttention` | per-pixel gate from the channel mean and max |
| `CBAM` | channel gate (mean and max descriptors), then `SpatialAttention` |
| `SeedDynamicConv2d` | the article's per-sample kernel generator, einsum corrected |
| `DynamicConv2d` | K kernels mixed per sample by softmax attention (Chen et al., 2020) |

The gating modules (SE, spatial, CBAM) and `SeedDynamicConv2d` have `init_near_identity()`;
`DynamicConv2d.from_conv(conv)` and `SeedDynamicConv2d.from_conv(conv)` wrap a trained conv.
"""

from __future__ import annotations

from vggattn.attention._common import hidden_width
from vggattn.attention.cbam import CBAM
from vggattn.attention.dynamic import (
    SEED_ARTICLE_EINSUM,
    DynamicConv2d,
    SeedDynamicConv2d,
    seed_article_forward,
    temperature_schedule,
)
from vggattn.attention.se import SqueezeExcitation
from vggattn.attention.spatial import SpatialAttention

GATING_MODULES = (SqueezeExcitation, SpatialAttention, CBAM)
"""Modules that multiply a feature map by a gate; they sit beside the convs."""

DYNAMIC_CONVS = (DynamicConv2d, SeedDynamicConv2d)
"""Modules that replace a conv."""

ATTENTION_MODULES = GATING_MODULES + DYNAMIC_CONVS

__all__ = [
    "ATTENTION_MODULES",
    "CBAM",
    "DYNAMIC_CONVS",
    "GATING_MODULES",
    "SEED_ARTICLE_EINSUM",
    "DynamicConv2d",
    "SeedDynamicConv2d",
    "SpatialAttention",
    "SqueezeExcitation",
    "hidden_width",
    "seed_article_forward",
    "temperature_schedule",
]
