"""Inspection tools: shape tables, shape checks, parameter counts and formulas, FLOPs, torchinfo summary."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vggattn.attention import DynamicConv2d, SqueezeExcitation
from vggattn.inspection import (
    GATE_ATTRIBUTES,
    ShapeTable,
    check_shape,
    collect_gates,
    conv_parameters,
    count_flops,
    count_parameters,
    dynamic_conv_parameters,
    se_parameters,
    summary,
    trace_shapes,
)
from vggattn.models import build_vgg

TINY = 1 / 16


pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


@pytest.fixture
def se_model() -> nn.Module:
    return build_vgg(16, True, TINY, head="cifar", attention="se")


# --- trace_shapes ----------------------------------------------------------------------------------


def test_trace_shapes_lists_each_layer_once_with_its_output(se_model: nn.Module) -> None:
    table = trace_shapes(se_model, (2, 3, 32, 32))
    assert isinstance(table, ShapeTable)
    names = [row.name for row in table]
    assert names[:3] == ["features.0", "features.1", "features.2"]
    assert "features.se1.fc1" not in names  # an attention module is one row
    rows = {row.name: row for row in table}
    assert rows["features.se1"].type == "SqueezeExcitation"
    assert rows["features.se1"].output_shape == (2, 4, 32, 32)
    assert rows["features.se1"].params == count_parameters(se_model.features.se1)
    assert rows["features.43"].output_shape == (2, 32, 1, 1)  # after the 5th pool: 32 / 2^5
    assert table[-1].name == "classifier.0" and table[-1].output_shape == (2, 10)
    assert sum(row.params for row in table) == count_parameters(se_model)


def test_trace_shapes_text_is_deterministic_and_restores_train_mode(se_model: nn.Module) -> None:
    se_model.train()
    first = str(trace_shapes(se_model, (1, 3, 32, 32)))
    assert se_model.training and all(m.training for m in se_model.modules())
    assert first == str(trace_shapes(se_model, (1, 3, 32, 32)))
    lines = first.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params"]
    assert lines[2].split() == ["features.0", "Conv2d", "(1,", "4,", "32,", "32)", "112"]
    assert lines[-1].split() == ["total", f"{count_parameters(se_model):,}"]
    html = trace_shapes(se_model, (1, 3, 32, 32))._repr_html_()
    assert html.startswith("<table>") and "<td>features.se1</td>" in html


def test_trace_shapes_of_a_single_module() -> None:
    table = trace_shapes(SqueezeExcitation(8), (1, 8, 4, 4))
    assert [(row.name, row.output_shape, row.params) for row in table] == [
        ("SqueezeExcitation", (1, 8, 4, 4), se_parameters(8, bias=True))
    ]


def test_trace_shapes_rejects_a_bad_input_shape(se_model: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of sizes >= 1, e.g. \(1, 3, 32, 32\)"):
        trace_shapes(se_model, (1, 3, 0, 32))


# --- check_shape ---------------------------------------------------------------------------------


def test_check_shape_passes_and_fails_with_both_shapes() -> None:
    x = torch.zeros(2, 64, 16, 16)
    check_shape(x, (2, 64, 16, 16))
    check_shape(x, (None, 64, -1, 16))
    with pytest.raises(ValueError, match=r"^expected shape \(2, 64, 32, 32\), got \(2, 64, 16, 16\)$"):
        check_shape(x, (2, 64, 32, 32))
    with pytest.raises(ValueError, match=r"expected shape \(\*, 64, 32\), got \(2, 64, 16, 16\) \(\* = any size\)"):
        check_shape(x, (None, 64, 32))
    with pytest.raises(TypeError, match="expects a torch.Tensor, got list"):
        check_shape([1, 2], (2,))


# --- count_parameters and formulas -----------------------------------------------------------------


@pytest.mark.parametrize("by", ["block", "type", "module"])
def test_count_parameters_groups_sum_to_the_total(se_model: nn.Module, by: str) -> None:
    counts = count_parameters(se_model, by=by)
    assert sum(counts.values()) == count_parameters(se_model) == sum(p.numel() for p in se_model.parameters())


def test_count_parameters_by_block_and_type(se_model: nn.Module) -> None:
    by_block = count_parameters(se_model, by="block")
    assert list(by_block) == ["block1", "block2", "block3", "block4", "block5", "head"]
    block1_layers = ("0", "1", "3", "4", "se1")  # conv, BN, conv, BN, SE
    parameters = se_model.features.named_parameters()
    first_block = sum(p.numel() for name, p in parameters if name.split(".")[0] in block1_layers)
    assert by_block["block1"] == first_block
    assert by_block["head"] == conv_parameters(32, 10, 1)  # Linear(32, 10): same count as a 1x1 conv
    by_type = count_parameters(se_model, by="type")
    assert by_type["SqueezeExcitation"] == sum(se_parameters(c, bias=True) for c in (4, 8, 16, 32, 32))
    with pytest.raises(TypeError, match="by='block' needs a VGG built by build_vgg"):
        count_parameters(nn.Linear(2, 2), by="block")
    with pytest.raises(ValueError, match=r"by must be one of \(None, 'block', 'type', 'module'\)"):
        count_parameters(se_model, by="layer")


def test_after_pool_attention_counts_in_its_own_block() -> None:
    model = build_vgg(16, width=TINY, head="cifar", attention="spatial", kernel_size=3)
    plain = build_vgg(16, width=TINY, head="cifar")
    with_spatial, without = count_parameters(model, by="block"), count_parameters(plain, by="block")
    assert all(with_spatial[f"block{b}"] - without[f"block{b}"] == 18 for b in range(1, 6))


def test_trainable_only(se_model: nn.Module) -> None:
    for p in se_model.features.parameters():
        p.requires_grad_(False)
    assert count_parameters(se_model, trainable_only=True) == count_parameters(se_model, by="block")["head"]
    assert count_parameters(se_model, by="type", trainable_only=True) == {"Linear": 330}


def test_dynamic_formula_equals_measured_for_groups_and_no_bias() -> None:
    module = DynamicConv2d(16, 8, 3, groups=4, bias=False, num_kernels=3, reduction=2)
    assert count_parameters(module) == dynamic_conv_parameters(16, 8, 3, 3, 2, bias=False, groups=4)


# --- FLOPs and summary -----------------------------------------------------------------------------


def test_count_flops_of_one_conv_is_2_macs() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(conv, (1, 3, 10, 10)) == 2 * (8 * 3 * 3 * 3) * 10 * 10


def test_count_flops_by_module_sums_to_the_total(se_model: nn.Module) -> None:
    total = count_flops(se_model, (2, 3, 32, 32))
    per_module = count_flops(se_model, (2, 3, 32, 32), by_module=True)
    assert sum(per_module.values()) == total
    assert per_module["features.0"] == 2 * 2 * (4 * 3 * 9) * 32 * 32
    assert per_module["features.se1"] == 2 * 2 * (4 * 4 + 4 * 4)  # two Linear(4, 4), batch 2


def test_dynamic_conv_costs_one_conv_plus_kernel_mixing() -> None:
    B, K, I, O, k, hidden = 4, 4, 32, 32, 3, 8
    conv = nn.Conv2d(I, O, k, padding=1)
    dynamic = DynamicConv2d.from_conv(conv, num_kernels=K)
    conv_flops = count_flops(conv, (B, I, 16, 16))
    mixing = 2 * B * K * (O * I * k * k + O)  # pi @ weight, pi @ bias
    attention = 2 * B * (I * hidden + hidden * K)  # fc1, fc2
    assert count_flops(dynamic, (B, I, 16, 16)) == conv_flops + mixing + attention


def test_summary_is_torchinfo_with_fixed_columns(se_model: nn.Module) -> None:
    text = str(summary(se_model, (1, 3, 32, 32)))
    assert text == str(summary(se_model, (1, 3, 32, 32)))
    assert "Output Shape" in text and "Param #" in text and "Kernel Shape" not in text
    assert f"Total params: {count_parameters(se_model):,}" in text
    assert "(se1)" in text


@pytest.mark.parametrize("attention", ["se", "spatial", "cbam", "dynamic"])
def test_collect_gates_reads_every_module_for_every_input(attention: str, seed_and_one_thread: None) -> None:
    model = build_vgg(16, True, 0.125, head="cifar", attention=attention).train()
    images = torch.randn(5, 3, 32, 32)
    gates = collect_gates(model, images, batch_size=2)  # 3 batches: 2 + 2 + 1
    assert model.training  # mode given back
    holders = {
        name: module for name, module in model.named_modules() if any(hasattr(module, a) for a in GATE_ATTRIBUTES)
    }
    assert list(gates) == list(holders) and gates
    model.eval()
    with torch.no_grad():
        model(images)  # one batch of 5: the same gates as the three batches
    for name, module in holders.items():
        stored = next(getattr(module, a) for a in GATE_ATTRIBUTES if hasattr(module, a))
        torch.testing.assert_close(gates[name], stored)


def test_collect_gates_on_a_split_and_bad_input(tiny_cifar, seed_and_one_thread: None) -> None:
    model = build_vgg(16, True, 0.125, head="cifar", attention="se")
    gates = collect_gates(model, tiny_cifar, batch_size=64)
    assert {tuple(g.shape) for g in gates.values()} == {(200, 8), (200, 16), (200, 32), (200, 64)}
    with pytest.raises(TypeError, match=r"inputs must be a CifarTensors split or a \(N, 3, H, W\) tensor"):
        collect_gates(model, torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="has no module that keeps its gate"):
        collect_gates(build_vgg(16, True, 0.125, head="cifar"), torch.randn(2, 3, 32, 32))


def test_gate_variation_separates_a_fixed_rescale_from_input_dependence() -> None:
    from vggattn.inspection import gate_variation

    labels = torch.arange(4).repeat_interleave(5)  # 4 classes x 5 images
    fixed = torch.tensor([0.5, 1.0, 1.5]).expand(20, 3)  # the same per-channel rescale for every image
    static = gate_variation(fixed, labels)
    assert static.across_images == 0 and static.between_class_share == 0
    assert abs(static.across_units - (1 / 6) ** 0.5) < 1e-12  # population std of 0.5, 1.0, 1.5
    by_class = labels[:, None].float().expand(20, 3) / 3  # gates set by the class only
    assert abs(gate_variation(by_class, labels).between_class_share - 1.0) < 1e-12
    spatial = torch.rand(20, 1, 4, 4, generator=torch.Generator().manual_seed(0))  # (N, 1, H, W) maps
    assert 0 < gate_variation(spatial, labels).between_class_share < 1
    with pytest.raises(ValueError, match="labels must have shape"):
        gate_variation(fixed, labels[:3])
