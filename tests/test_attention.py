"""The attention modules: equations against references, shapes, gradients, near-identity init, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from vggattn.attention import (
    ARTICLE_EINSUM,
    CBAM,
    ArticleDynamicConv2d,
    ChannelAttention,
    DynamicConv2d,
    SpatialAttention,
    SqueezeExcitation,
    article_forward,
    hidden_width,
    temperature_schedule,
)
from vggattn.inspection import (
    article_dynamic_conv_parameters,
    cbam_parameters,
    count_parameters,
    dynamic_conv_parameters,
    se_parameters,
    spatial_parameters,
)

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


def make_modules(channels: int) -> dict[str, nn.Module]:
    """One of each module for `channels` input channels (and as many output channels)."""
    return {
        "se": SqueezeExcitation(channels),
        "spatial": SpatialAttention(),
        "cbam": CBAM(channels),
        "dynamic": DynamicConv2d(channels, channels, 3, padding=1),
        "article_dynamic": ArticleDynamicConv2d(channels, channels),
    }


# --- every module: shapes, gradients, train and eval, any H, W >= 1 -------------------------------


@pytest.mark.parametrize("kind", ["se", "spatial", "cbam", "dynamic", "article_dynamic"])
@pytest.mark.parametrize("shape", [(1, 8, 1, 1), (2, 8, 5, 3), (3, 8, 16, 16)])
@pytest.mark.parametrize("training", [True, False])
def test_module_keeps_shape_and_passes_gradients(kind: str, shape: tuple[int, ...], training: bool) -> None:
    module = make_modules(8)[kind].train(training)
    x = torch.randn(shape, requires_grad=True)
    out = module(x)
    assert out.shape == x.shape
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in module.parameters())


@pytest.mark.parametrize("kind", ["se", "cbam", "dynamic", "article_dynamic"])
def test_wrong_channel_count_is_named(kind: str) -> None:
    module = make_modules(8)[kind]
    with pytest.raises(ValueError, match=rf"{type(module).__name__} was built for 8 input channels, got .* 4"):
        module(torch.randn(2, 4, 5, 5))


@pytest.mark.parametrize("kind", ["se", "spatial", "cbam", "dynamic", "article_dynamic"])
def test_non_4d_input_is_rejected(kind: str) -> None:
    module = make_modules(8)[kind]
    with pytest.raises(ValueError, match=r"expects a 4-D input \(B, C, H, W\), got shape \(8, 5, 5\)"):
        module(torch.randn(8, 5, 5))
    with pytest.raises(TypeError, match="expects a torch.Tensor"):
        module([[1.0]])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: SqueezeExcitation(0), "channels must be >= 1, got 0"),
        (lambda: SqueezeExcitation(8, 0), "reduction must be >= 1, got 0"),
        (lambda: SqueezeExcitation(8, min_hidden=0), "min_hidden must be >= 1"),
        (lambda: CBAM(-1), "channels must be >= 1"),
        (lambda: CBAM(8, kernel_size=4), "kernel_size must be odd"),
        (lambda: SpatialAttention(4), "kernel_size must be odd"),
        (lambda: SpatialAttention(0), "kernel_size must be >= 1"),
        (lambda: SpatialAttention(-3), "kernel_size must be >= 1"),
        (lambda: DynamicConv2d(8, 8, 3, num_kernels=0), "num_kernels must be >= 1"),
        (lambda: DynamicConv2d(8, 8, 3, temperature=0), "temperature must be a positive finite number"),
        (lambda: DynamicConv2d(8, 6, 3, groups=4), r"divisible by groups \(4\)"),
        (lambda: DynamicConv2d(8, 8, 0), "kernel_size must be >= 1"),
        (lambda: DynamicConv2d(8, 8, 3, stride=0), "stride must be >= 1"),
        (lambda: DynamicConv2d(8, 8, 3, padding=-1), "padding must be an int >= 0"),
        (lambda: DynamicConv2d(8, 8, 3, reduction=0), "reduction must be >= 1"),
        (lambda: ArticleDynamicConv2d(0, 8), "channels must be >= 1"),
        (lambda: ArticleDynamicConv2d(8, 8, padding=-1), "padding must be >= 0"),
    ],
)
def test_bad_constructor_arguments_raise_value_error(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_non_int_channels_raise_type_error() -> None:
    with pytest.raises(TypeError, match="channels must be an int, got float 8.0"):
        SqueezeExcitation(8.0)


# --- SqueezeExcitation ---------------------------------------------------------------------------


def test_se_equals_torchvision_with_the_same_weights() -> None:
    se = SqueezeExcitation(64, 16, bias=True)
    reference = torchvision.ops.SqueezeExcitation(64, 4)
    with torch.no_grad():
        for ours, theirs in ((se.fc1, reference.fc1), (se.fc2, reference.fc2)):
            theirs.weight.copy_(ours.weight[:, :, None, None])
            theirs.bias.copy_(ours.bias)
    x = torch.randn(2, 64, 7, 5)
    torch.testing.assert_close(se(x), reference(x))


def test_se_gate_is_kept_and_follows_the_equation() -> None:
    se = SqueezeExcitation(16, 4)
    u = torch.randn(3, 16, 6, 6)
    out = se(u)
    s = torch.sigmoid(se.fc2(torch.relu(se.fc1(u.mean(dim=(2, 3))))))
    torch.testing.assert_close(se.last_gate, s)
    torch.testing.assert_close(out, u * s[:, :, None, None])
    assert se.last_gate.shape == (3, 16) and not se.last_gate.requires_grad


def test_se_hidden_width_is_never_zero() -> None:
    assert hidden_width(8, 16, 4) == 4  # the article's Linear(8, 0)
    assert SqueezeExcitation(8, 16).fc1.out_features == 4
    assert [hidden_width(c, 16, 4) for c in (64, 128, 256, 512)] == [4, 8, 16, 32]  # the article's widths


def test_se_article_placement_parameter_count() -> None:
    channels = (64, 128, 256, 512, 512)
    measured = sum(count_parameters(SqueezeExcitation(c, 16, bias=False)) for c in channels)
    assert measured == sum(se_parameters(c, 16, bias=False) for c in channels) == 76_288
    assert count_parameters(SqueezeExcitation(64)) == se_parameters(64, bias=True)


# --- SpatialAttention ----------------------------------------------------------------------------


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7, 9])
def test_spatial_gate_follows_the_equation(kernel_size: int) -> None:
    module = SpatialAttention(kernel_size)
    x = torch.randn(2, 6, 9, 7)
    out = module(x)
    A = module.last_gate
    d = torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True).values], 1)
    expected_A = torch.sigmoid(F.conv2d(d, module.conv.weight, padding=kernel_size // 2))
    torch.testing.assert_close(A, expected_A)
    torch.testing.assert_close(out, x * expected_A)
    torch.testing.assert_close(module.last_gate, expected_A)
    assert A.shape == (2, 1, 9, 7)
    assert count_parameters(module) == spatial_parameters(kernel_size) == 2 * kernel_size**2


def test_spatial_article_placement_parameter_count() -> None:
    assert 5 * count_parameters(SpatialAttention(7)) == 490


# --- CBAM ----------------------------------------------------------------------------------------


def test_cbam_is_channel_gate_then_spatial_attention() -> None:
    module = CBAM(32, 8, 3)
    x = torch.randn(2, 32, 6, 6)
    mlp = lambda v: module.channel.fc2(torch.relu(module.channel.fc1(v)))  # noqa: E731
    M_c = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))
    torch.testing.assert_close(module(x), module.spatial(x * M_c[:, :, None, None]))
    torch.testing.assert_close(module.channel.last_gate, M_c)
    assert module.spatial.last_gate.shape == (2, 1, 6, 6)
    assert count_parameters(module) == cbam_parameters(32, 8, 3)


def test_cbam_state_dict_keys_are_its_two_modules() -> None:
    assert list(CBAM(32, 8, 3).state_dict()) == [
        "channel.fc1.weight",
        "channel.fc1.bias",
        "channel.fc2.weight",
        "channel.fc2.bias",
        "spatial.conv.weight",
        "spatial.conv.bias",
    ]


def test_squeeze_excitation_is_channel_attention_with_average_pooling() -> None:
    torch.manual_seed(0)
    se = SqueezeExcitation(16, 4)
    channel = ChannelAttention(16, 4, pooling=("avg",))
    channel.load_state_dict(se.state_dict())  # same keys: fc1.*, fc2.*
    x = torch.randn(3, 16, 5, 5)
    torch.testing.assert_close(se(x), channel(x))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ChannelAttention(8, pooling=()), "pooling must be a non-empty sequence"),
        (lambda: ChannelAttention(8, pooling="avg"), "pooling must be a non-empty sequence"),
        (lambda: ChannelAttention(8, pooling=("avg", "min")), "pooling must be one of"),
        (lambda: SqueezeExcitation(8, gate="tanh"), "gate must be one of"),
        (lambda: SpatialAttention(gate="relu"), "gate must be one of"),
    ],
)
def test_bad_channel_attention_arguments_are_named(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --- gate forms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["se", "spatial"])
def test_scaled_gate_is_twice_the_sigmoid(kind: str) -> None:
    torch.manual_seed(0)
    sigmoid = {"se": SqueezeExcitation(8), "spatial": SpatialAttention(bias=True)}[kind]
    scaled = {"se": SqueezeExcitation(8, gate="scaled"), "spatial": SpatialAttention(bias=True, gate="scaled")}[kind]
    scaled.load_state_dict(sigmoid.state_dict())
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(scaled(x), 2 * sigmoid(x))


@pytest.mark.parametrize("kind", ["se", "spatial", "cbam"])
def test_scaled_gate_starts_as_the_identity_with_the_steepest_sigmoid(kind: str) -> None:
    module = {
        "se": SqueezeExcitation(8, bias=False, gate="scaled"),
        "spatial": SpatialAttention(gate="scaled"),  # the article's conv without bias
        "cbam": CBAM(8, gate="scaled"),
    }[kind]
    module.init_near_identity()
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    torch.testing.assert_close(module(x), x)  # exactly the identity at insertion


def test_scaled_gate_gets_50x_the_gradient_of_a_sigmoid_started_at_0_99() -> None:
    """d gate / d logit at insertion: 2 * sigmoid'(0) = 0.5 for "scaled", 0.99 * 0.01 = 0.0099 for "sigmoid"."""
    x = torch.randn(4, 8, 5, 5)
    gradients = {}
    for form in ("sigmoid", "scaled"):
        module = SqueezeExcitation(8, gate=form)
        module.init_near_identity()
        module(x).sum().backward()
        gradients[form] = module.fc2.bias.grad
    torch.testing.assert_close(gradients["scaled"], gradients["sigmoid"] * 0.5 / (0.99 * 0.01), rtol=1e-4, atol=0)


# --- near-identity insertion ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["se", "spatial", "cbam"])
def test_near_identity_gate_scales_by_gate(kind: str) -> None:
    module = {"se": SqueezeExcitation(8), "spatial": SpatialAttention(bias=True), "cbam": CBAM(8)}[kind]
    module.init_near_identity(0.99)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(module(x), 0.99 * x)


@pytest.mark.parametrize("module", [SqueezeExcitation(8, bias=False), SpatialAttention(), CBAM(8, bias=False)])
def test_near_identity_needs_bias(module: nn.Module) -> None:
    with pytest.raises(ValueError, match="needs a bias .* build it with bias=True"):
        module.init_near_identity()


@pytest.mark.parametrize("gate", [0.0, 1.0, 1.5, -0.1])
def test_near_identity_rejects_gate_outside_0_1(gate: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        CBAM(8).init_near_identity(gate)


@pytest.mark.parametrize("gate", [0.0, 2.0, 2.5])
def test_scaled_near_identity_rejects_gate_outside_0_2(gate: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 2"):
        SqueezeExcitation(8, gate="scaled").init_near_identity(gate)


def test_near_identity_gate_must_be_a_number() -> None:
    with pytest.raises(TypeError, match="gate must be a number"):
        SqueezeExcitation(8).init_near_identity("0.9")


# --- ArticleDynamicConv2d ---------------------------------------------------------------------------


def test_article_equals_per_sample_reference() -> None:
    module = ArticleDynamicConv2d(16, 8, kernel_size=3, padding=1, reduction=4)
    nn.init.normal_(module.attention[3].weight, 0, 0.5)  # a kernel that differs between samples
    x = torch.randn(3, 16, 7, 6)
    kernels = torch.sigmoid(module.attention[3](torch.relu(module.attention[1](x.mean((2, 3), keepdim=True)))))
    kernels = kernels.reshape(3, 8, 16, 3, 3)
    assert not torch.allclose(kernels[0], kernels[1])
    reference = torch.cat([F.conv2d(x[b : b + 1], kernels[b], padding=1) for b in range(3)]) + module.base_conv(x)
    torch.testing.assert_close(module(x), reference)


def test_article_other_padding_changes_output_size() -> None:
    module = ArticleDynamicConv2d(4, 6, kernel_size=3, padding=0)
    assert module(torch.randn(2, 4, 7, 5)).shape == (2, 6, 5, 3)


def test_article_parameter_count_is_the_articles() -> None:
    with torch.device("meta"):
        module = ArticleDynamicConv2d(512, 512)
    assert count_parameters(module) == article_dynamic_conv_parameters(512, 512) == 80_232_992


def test_the_articles_einsum_crashes() -> None:
    assert ARTICLE_EINSUM == "bocik,bikn->bocn"
    module = ArticleDynamicConv2d(8, 8)
    with pytest.raises(RuntimeError, match="einsum.*subscript i has size 8"):
        article_forward(module, torch.randn(1, 8, 4, 4))


def test_the_articles_forward_runs_only_for_one_channel_and_1x1_kernels() -> None:
    torch.manual_seed(0)
    one = ArticleDynamicConv2d(1, 2, 1, padding=0, reduction=1)
    x = torch.randn(2, 1, 5, 5)
    torch.testing.assert_close(article_forward(one, x), one(x))  # I = k = 1: the article's code is right
    wide = ArticleDynamicConv2d(4, 2, 1, padding=0, reduction=1)
    with pytest.raises(RuntimeError, match="is invalid for input of size"):  # the einsum broadcasts i, the view fails
        article_forward(wide, torch.randn(2, 4, 5, 5))


def test_article_from_conv_and_near_identity() -> None:
    conv = nn.Conv2d(8, 4, 3, padding=1)
    module = ArticleDynamicConv2d.from_conv(conv, reduction=2)
    torch.testing.assert_close(module.base_conv.weight, conv.weight)
    module.init_near_identity()
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(module(x), conv(x), atol=1e-4, rtol=0)  # 1e-6 * (sum of 72 inputs)
    with pytest.raises(ValueError, match="stride 1"):
        ArticleDynamicConv2d.from_conv(nn.Conv2d(8, 4, 3, stride=2))
    with pytest.raises(TypeError, match="expects an nn.Conv2d"):
        ArticleDynamicConv2d.from_conv(nn.Linear(3, 3))


# --- DynamicConv2d -------------------------------------------------------------------------------


def per_sample_reference(module: DynamicConv2d, x: torch.Tensor) -> torch.Tensor:
    """DynamicConv2d by its equation, one sample at a time, with the attention it stored."""
    pi = module.last_attention
    outputs = []
    for b in range(x.shape[0]):
        weight = torch.einsum("k,koihw->oihw", pi[b], module.weight)
        bias = pi[b] @ module.bias if module.bias is not None else None
        settings = (module.stride, module.padding, module.dilation, module.groups)
        outputs.append(F.conv2d(x[b : b + 1], weight, bias, *settings))
    return torch.cat(outputs)


# DynamicConv2d settings with numeric padding (the unfold + matmul way needs it), then with string padding
NUMERIC_PADDING_SETTINGS = [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=2, dilation=2),
    dict(kernel_size=(3, 1), padding=(1, 0), groups=4),
    dict(kernel_size=1, groups=2, bias=False),
]
STRING_PADDING_SETTINGS = [
    dict(kernel_size=5, padding="same", dilation=2),
    dict(kernel_size=3, padding="valid", groups=8),
]


@pytest.mark.parametrize("settings", NUMERIC_PADDING_SETTINGS + STRING_PADDING_SETTINGS)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("size", [(12, 11), (5, 4)])  # >= and < GROUPED_MIN_PIXELS: both ways of computing
def test_dynamic_batched_equals_per_sample_loop(settings: dict, batch: int, size: tuple[int, int]) -> None:
    module = DynamicConv2d(8, 16, temperature=1.0, **settings)
    nn.init.normal_(module.fc2.weight, 0, 1.0)  # attention that differs between samples
    x = torch.randn(batch, 8, *size)
    out = module(x)
    torch.testing.assert_close(out, per_sample_reference(module, x))
    assert module.last_attention.shape == (batch, 4)
    torch.testing.assert_close(module.last_attention.sum(1), torch.ones(batch))


@pytest.mark.parametrize("settings", NUMERIC_PADDING_SETTINGS)
def test_dynamic_tiny_maps_by_matmul_equal_per_sample_loop(settings: dict) -> None:
    module = DynamicConv2d(8, 16, temperature=1.0, **settings)
    nn.init.normal_(module.fc2.weight, 0, 1.0)
    x = torch.randn(3, 8, 2, 2)
    assert math.prod(module._output_size(x)) <= module.MATMUL_MAX_PIXELS  # the unfold + matmul way
    torch.testing.assert_close(module(x), per_sample_reference(module, x))


@pytest.mark.parametrize("size", [6, 3])  # mixing outputs by F.conv2d (3x3 out), by unfold + matmul (2x2 out)
def test_dynamic_ways_of_computing_agree_with_gradients(size: int) -> None:
    module = DynamicConv2d(8, 12, 3, stride=2, padding=1, groups=4)
    x = torch.randn(3, 8, size, size, requires_grad=True)
    pi = torch.softmax(torch.randn(3, 4), dim=1).requires_grad_()
    assert (math.prod(module._output_size(x)) <= module.MATMUL_MAX_PIXELS) == (size == 3)
    by_kernels, by_outputs = module._mix_kernels(x, pi), module._mix_outputs(x, pi)
    torch.testing.assert_close(by_kernels, by_outputs)
    grad = torch.randn_like(by_kernels)
    inputs = (x, pi, module.weight)
    for from_kernels, from_outputs in zip(
        torch.autograd.grad(by_kernels, inputs, grad), torch.autograd.grad(by_outputs, inputs, grad)
    ):
        torch.testing.assert_close(from_kernels, from_outputs)


def test_dynamic_with_one_kernel_equals_conv2d() -> None:
    module = DynamicConv2d(6, 10, 3, stride=2, padding=1, num_kernels=1)
    x = torch.randn(2, 6, 11, 11)
    torch.testing.assert_close(module(x), F.conv2d(x, module.weight[0], module.bias[0], 2, 1))


def test_dynamic_with_identical_kernels_equals_conv2d() -> None:
    module = DynamicConv2d(6, 10, 3, padding=1, num_kernels=4, temperature=1.0)
    with torch.no_grad():
        module.weight.copy_(module.weight[:1].expand_as(module.weight))
        module.bias.copy_(module.bias[:1].expand_as(module.bias))
    x = torch.randn(2, 6, 7, 7)
    torch.testing.assert_close(module(x), F.conv2d(x, module.weight[0], module.bias[0], padding=1))


def test_dynamic_channels_last_input() -> None:
    module = DynamicConv2d(8, 8, 3, padding=1)
    for size in (9, 6, 2):  # the three ways of computing
        x = torch.randn(2, 8, size, size)
        torch.testing.assert_close(module(x.to(memory_format=torch.channels_last)), module(x))


@pytest.mark.parametrize(
    "conv",
    [nn.Conv2d(8, 16, 3, padding=1), nn.Conv2d(8, 4, 3, stride=2, dilation=2, groups=4, bias=False)],
)
def test_dynamic_from_conv_computes_the_conv(conv: nn.Conv2d) -> None:
    module = DynamicConv2d.from_conv(conv, num_kernels=3, temperature=1.0)
    nn.init.normal_(module.fc2.weight, 0, 1.0)
    for size in (10, 6):
        x = torch.randn(2, 8, size, size)
        torch.testing.assert_close(module(x), conv(x))
    assert (module.stride, module.dilation, module.groups) == (conv.stride, conv.dilation, conv.groups)


def test_dynamic_parameter_count_and_temperature() -> None:
    module = DynamicConv2d(64, 128, 3, padding=1, num_kernels=4, reduction=4)
    assert count_parameters(module) == dynamic_conv_parameters(64, 128, 3, 4, 4)
    module.set_temperature(1.0)
    assert module.temperature == 1.0
    with pytest.raises(ValueError, match="temperature must be a positive finite number"):
        module.set_temperature(-1)
    for not_finite in (float("nan"), float("inf")):  # a NaN temperature made every output NaN, silently
        with pytest.raises(ValueError, match="temperature must be a positive finite number"):
            module.set_temperature(not_finite)
        with pytest.raises(ValueError, match="temperature must be a positive finite number"):
            DynamicConv2d(8, 8, 3, temperature=not_finite)
        with pytest.raises(ValueError, match="temperatures must be finite numbers > 0"):
            temperature_schedule(0, 10, start=not_finite)
    with pytest.raises(TypeError, match="temperature must be a number"):
        module.set_temperature("hot")


def test_high_temperature_gives_near_uniform_attention() -> None:
    module = DynamicConv2d(8, 8, 3, padding=1, temperature=1e6)
    module(torch.randn(2, 8, 4, 4))
    torch.testing.assert_close(module.last_attention, torch.full((2, 4), 0.25))


def test_temperature_schedule_is_linear_then_flat() -> None:
    assert temperature_schedule(0, 10) == 30.0
    assert temperature_schedule(5, 10) == 15.5
    assert temperature_schedule(10, 10) == temperature_schedule(50, 10) == 1.0
    assert math.isclose(temperature_schedule(2.5, 10, start=11.0, end=1.0), 8.5)
    with pytest.raises(ValueError, match="epoch must be a finite number >= 0"):
        temperature_schedule(-1, 10)
    with pytest.raises(ValueError, match="total_epochs must be a positive finite number"):
        temperature_schedule(0, 0)
    assert temperature_schedule(0.25, 0.5) == 15.5  # a fractional span: annealing over part of an epoch


def test_dynamic_symmetry_break_keeps_the_output_and_gives_the_attention_a_gradient() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 6, 3, padding=1)
    x = torch.randn(4, 8, 7, 7)
    module = DynamicConv2d.from_conv(conv, num_kernels=4)
    module(x).square().sum().backward()
    assert module.fc2.weight.grad.abs().max() < 1e-6  # K equal kernels: the loss does not depend on pi (rounding)
    module.zero_grad()
    module.init_near_identity(kernel_spread=0.5)
    torch.testing.assert_close(module.weight.sum(dim=0), 4 * conv.weight)  # sum_k d_k = 0
    assert (module.weight[0] - module.weight[1]).abs().max() > 0.01  # the kernels differ
    torch.testing.assert_close(module(x), conv(x))  # but uniform pi mixes them back into conv's kernel
    module(x).square().sum().backward()
    assert module.fc2.weight.grad.abs().max() > 1e-3


def test_dynamic_symmetry_break_refuses_kernels_that_already_differ() -> None:
    with pytest.raises(ValueError, match="starts from K equal kernels"):
        DynamicConv2d(8, 6, 3, padding=1).init_near_identity()
    with pytest.raises(ValueError, match="kernel_spread must be a positive"):
        DynamicConv2d.from_conv(nn.Conv2d(8, 6, 3)).init_near_identity(kernel_spread=0)
