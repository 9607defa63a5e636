"""vggattn.pruning: global magnitude pruning of the convolutions, on a copy, with the zeros made permanent."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY_VGG
from torch import nn

from vggattn.models import build_vgg
from vggattn.pruning import conv_sparsity, prune_convolutions


def test_the_smallest_conv_weights_over_all_layers_become_zero_in_a_plain_copy():
    torch.manual_seed(0)
    model = build_vgg(**TINY_VGG, attention="se")
    before = {key: value.clone() for key, value in model.state_dict().items()}
    pruned = prune_convolutions(model, 0.5)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in before.items()), "the original changed"
    assert set(pruned.state_dict()) == set(model.state_dict())  # no weight_orig / weight_mask left behind
    assert conv_sparsity(model) == 0.0 and abs(conv_sparsity(pruned) - 0.5) < 1e-3
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Conv2d)])
    threshold = weights.abs().kthvalue(weights.numel() // 2).values
    for original, copy in zip(model.modules(), pruned.modules()):
        if isinstance(original, nn.Conv2d):  # one threshold for all layers: global, by magnitude
            kept = copy.weight != 0
            assert torch.equal(copy.weight[kept], original.weight[kept])
            assert (original.weight[~kept].abs() <= threshold).all()
        elif isinstance(original, nn.Linear):  # the SE MLPs and the head are not pruned
            assert torch.equal(copy.weight, original.weight)


def test_bad_amounts_and_models_are_refused():
    model = build_vgg(**TINY_VGG)
    with pytest.raises(ValueError, match="amount must be a finite number >= 0 and <= 1"):
        prune_convolutions(model, 1.5)
    with pytest.raises(ValueError, match="amount must be below 1"):
        prune_convolutions(model, 1.0)
    with pytest.raises(ValueError, match="has no nn.Conv2d to prune"):
        prune_convolutions(nn.Linear(3, 2), 0.5)
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        prune_convolutions("vgg", 0.5)
