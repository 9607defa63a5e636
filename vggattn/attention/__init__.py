"""One small module per attention mechanism; none knows which network it lives in.

| module | what it computes |
| --- | --- |
| `ChannelAttention` | per-channel gate from pooled channel descriptors (mean, or mean and max) |
| `SqueezeExcitation` | `ChannelAttention` with the mean only (SE) |
| `SpatialAttention` | per-pixel gate from the channel mean and max |
| `CBAM` | `ChannelAttention` (mean and max), then `SpatialAttention` |
| `ArticleDynamicConv2d` | the article's per-sample kernel generator, einsum corrected |
| `DynamicConv2d` | K kernels mixed per sample by softmax attention (Chen et al., 2020) |

The gating modules take a gate form (`GATE_FORMS`): "sigmoid" (the papers') or "scaled" (2 * sigmoid, exactly the
identity after `init_near_identity()`). Every module has `init_near_identity()` (inserted into a trained network
it changes the output by little or nothing); `DynamicConv2d.from_conv(conv)` and `ArticleDynamicConv2d.from_conv(conv)`
wrap a trained conv.
"""

from __future__ import annotations

from vggattn.attention._common import GATE_FORMS, hidden_width
from vggattn.attention.cbam import CBAM
from vggattn.attention.channel import ChannelAttention
from vggattn.attention.dynamic import (
    ARTICLE_EINSUM,
    ArticleDynamicConv2d,
    DynamicConv2d,
    article_forward,
    temperature_schedule,
)
from vggattn.attention.se import SqueezeExcitation
from vggattn.attention.spatial import SpatialAttention

GATING_MODULES = (ChannelAttention, SpatialAttention, CBAM)
"""Modules that multiply a feature map by a gate; they sit beside the convs."""

DYNAMIC_CONVS = (DynamicConv2d, ArticleDynamicConv2d)
"""Modules that replace a conv."""

ATTENTION_MODULES = GATING_MODULES + DYNAMIC_CONVS

__all__ = [
    "ATTENTION_MODULES",
    "CBAM",
    "ChannelAttention",
    "DYNAMIC_CONVS",
    "GATE_FORMS",
    "GATING_MODULES",
    "ARTICLE_EINSUM",
    "DynamicConv2d",
    "ArticleDynamicConv2d",
    "SpatialAttention",
    "SqueezeExcitation",
    "hidden_width",
    "article_forward",
    "temperature_schedule",
]
