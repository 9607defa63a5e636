"""The registry of attention kinds: how each is built, where it may go in a VGG, which options it takes.

`build_vgg` dispatches through `ATTENTION_KINDS` only; adding a kind is one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from torch import nn

from vggattn.attention.cbam import CBAM
from vggattn.attention.dynamic import ArticleDynamicConv2d, DynamicConv2d
from vggattn.attention.se import SqueezeExcitation
from vggattn.attention.spatial import SpatialAttention

GATE_PLACEMENTS = ("block_end", "after_pool", "every_conv")
"""Where a gating module goes: after the last conv's ReLU of a block (before its pool), after the
block's pool, or after every conv's ReLU (as in the SE paper's VGG)."""
CONV_PLACEMENTS = ("last_conv", "every_conv")
"""Which convs a dynamic conv replaces: the last of each block (the article's), or every one."""


class AttentionKind(NamedTuple):
    """One attention kind: how to build it, where it may go, its options. `ATTENTION_KINDS` is the one place a kind
    is dispatched: `build_vgg` checks against it and calls `build`; a new kind is one more entry."""

    build: Callable[[int, int, dict], nn.Module]  # (in_channels, out_channels, options) -> the module
    replaces_conv: bool  # True: the module is the block's 3x3 conv (dynamic kinds); False: a gate after a layer
    placements: tuple[str, ...]
    default_placement: str  # the source article's (CBAM: where SE goes)
    options: tuple[str, ...]  # the keyword arguments build_vgg passes on to the module
    summary: str  # what it is, in a few words (the command line's help)
    version: int = 1  # raised when what the kind computes or how it is inserted changes: stored results go stale


ATTENTION_KINDS: dict[str, AttentionKind] = {
    "se": AttentionKind(
        lambda in_channels, out_channels, options: SqueezeExcitation(out_channels, **options),
        False,
        GATE_PLACEMENTS,
        "block_end",
        ("reduction", "min_hidden", "bias", "gate"),
        "Squeeze-and-Excitation, a gate per channel",
    ),
    "spatial": AttentionKind(
        lambda in_channels, out_channels, options: SpatialAttention(**options),
        False,
        GATE_PLACEMENTS,
        "after_pool",
        ("kernel_size", "bias", "gate"),
        "spatial attention, a gate per pixel",
    ),
    "cbam": AttentionKind(
        lambda in_channels, out_channels, options: CBAM(out_channels, **options),
        False,
        GATE_PLACEMENTS,
        "block_end",
        ("reduction", "kernel_size", "min_hidden", "bias", "gate"),
        "CBAM, channel then spatial gates",
        version=2,  # composed of ChannelAttention and SpatialAttention: new state_dict keys
    ),
    "dynamic": AttentionKind(
        lambda in_channels, out_channels, options: DynamicConv2d(in_channels, out_channels, 3, padding=1, **options),
        True,
        CONV_PLACEMENTS,
        "last_conv",
        ("num_kernels", "reduction", "temperature", "min_hidden"),
        "dynamic convolution, K kernels mixed per image (Chen et al.)",
        version=2,  # inserted with its K kernels made different (init_near_identity); temperature annealed per step
    ),
    "article_dynamic": AttentionKind(
        lambda in_channels, out_channels, options: ArticleDynamicConv2d(
            in_channels, out_channels, 3, padding=1, **options
        ),
        True,
        CONV_PLACEMENTS,
        "last_conv",
        ("reduction", "min_hidden"),
        "the source article's dynamic convolution (a generated kernel, corrected)",
    ),
}
