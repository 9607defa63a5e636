"""The VGG builder: torchvision compatibility, parameter figures, every variant trains, placements, weight loading."""

from __future__ import annotations

import json
from urllib.error import URLError

import pytest
import torch
import torchvision
from torch import nn

from vggattn import models
from vggattn.attention import CBAM, ArticleDynamicConv2d, DynamicConv2d, SpatialAttention, SqueezeExcitation
from vggattn.attention.kinds import ATTENTION_KINDS, AttentionKind
from vggattn.inspection import article_dynamic_conv_parameters, count_parameters
from vggattn.models import (
    CFGS,
    WeightsUnavailableError,
    attention_modules,
    build_vgg,
    load_backbone_weights,
)

KINDS = [None, *ATTENTION_KINDS]
TINY = 1 / 16


pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


def keys_and_shapes(state_dict: dict[str, torch.Tensor]) -> list[tuple[str, torch.Size]]:
    return [(key, value.shape) for key, value in state_dict.items()]


def on_meta(**kwargs: object) -> models.VGG:
    """A model with no memory behind its tensors: enough to count parameters and compare keys."""
    with torch.device("meta"):
        return build_vgg(**kwargs)


def on_meta_factory(name: str, **kwargs: object) -> models.VGG:
    with torch.device("meta"):
        return getattr(models, name)(**kwargs)


# --- torchvision compatibility -------------------------------------------------------------------


def test_config_table_is_torchvisions() -> None:
    letters = {11: "A", 13: "B", 16: "D", 19: "E"}
    assert CFGS == {depth: torchvision.models.vgg.cfgs[letter] for depth, letter in letters.items()}


@pytest.mark.parametrize("depth", [11, 13, 16, 19])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_state_dict_keys_and_shapes_are_torchvisions(depth: int, batch_norm: bool) -> None:
    name = f"vgg{depth}_bn" if batch_norm else f"vgg{depth}"
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)().state_dict()
    ours = on_meta_factory(name).state_dict()
    assert keys_and_shapes(ours) == keys_and_shapes(theirs)


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn", "vgg19"])
def test_torchvision_features_load_and_give_identical_outputs(name: str) -> None:
    depth, batch_norm = int(name[3:5]), name.endswith("_bn")
    letter = {11: "A", 16: "D", 19: "E"}[depth]
    theirs = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[letter], batch_norm).eval()
    ours = build_vgg(depth, batch_norm, head="cifar").eval()
    ours.features.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(ours.features(x), theirs(x))


def test_same_seed_gives_torchvisions_weights_and_outputs() -> None:
    torch.manual_seed(1)
    ours = build_vgg(11).eval()
    torch.manual_seed(1)
    theirs = torchvision.models.vgg11().eval()
    for (key, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert torch.equal(a, b), key
    ours.load_state_dict(theirs.state_dict())  # strict: same keys, same shapes
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(ours(x), theirs(x))


# --- parameter figures -----------------------------------------------------------------------------


def test_parameter_figures() -> None:
    plain = count_parameters(on_meta(depth=16))
    assert plain == 138_357_544
    assert count_parameters(on_meta(depth=16, batch_norm=True)) == 138_365_992
    assert count_parameters(on_meta(depth=16, attention="se", reduction=16, bias=False)) - plain == 76_288
    assert count_parameters(on_meta(depth=16, attention="spatial", kernel_size=7)) - plain == 490
    assert count_parameters(on_meta(depth=16, batch_norm=True, head="cifar")) == 14_728_266


def test_article_dynamic_placement_adds_167_million_parameters() -> None:
    plain = count_parameters(on_meta(depth=16))
    with torch.device("meta"):
        seed = models.vgg16_article_dynamic()
    added = count_parameters(seed) - plain
    assert added == 167_290_204
    # the same figure by formula: generator parameters of the five replaced convs (base conv = the plain conv)
    widths = (64, 128, 256, 512, 512)
    assert added == sum(article_dynamic_conv_parameters(c, c) - (c * c * 9 + c) for c in widths)


def test_named_factories_use_the_articles_settings() -> None:
    se = [m for _, m in attention_modules(on_meta_factory("vgg16_se"))]
    assert len(se) == 5 and all(isinstance(m, SqueezeExcitation) and m.fc1.bias is None for m in se)
    assert [m.fc1.out_features for m in se] == [4, 8, 16, 32, 32]
    spatial = [m for _, m in attention_modules(on_meta_factory("vgg16_spatial"))]
    assert len(spatial) == 5 and all(m.conv.kernel_size == (7, 7) for m in spatial)
    dynamic = [m for _, m in attention_modules(on_meta_factory("vgg16_dynamic"))]
    assert len(dynamic) == 5 and all(isinstance(m, DynamicConv2d) and m.num_kernels == 4 for m in dynamic)
    assert on_meta_factory("vgg16_bn").config["batch_norm"] is True
    assert on_meta_factory("vgg19").config["depth"] == 19


# --- every variant: forward and backward -----------------------------------------------------------


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("depth", [11, 16])
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("head", ["imagenet", "cifar"])
def test_every_variant_runs_forward_and_backward(
    attention: str | None, depth: int, batch_norm: bool, head: str
) -> None:
    model = build_vgg(depth, batch_norm, TINY, num_classes=7, head=head, attention=attention).train()
    for batch, size in ((1, 32), (2, 32), (1, 224), (2, 224)):
        model.zero_grad(set_to_none=True)
        out = model(torch.randn(batch, 3, size, size))
        assert out.shape == (batch, 7)
        out.sum().backward()
        assert torch.isfinite(out).all()
        missing = [name for name, p in model.named_parameters() if p.grad is None]
        assert not missing, missing
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("attention", KINDS)
def test_eval_mode_batch_one(attention: str | None) -> None:
    model = build_vgg(16, True, TINY, head="cifar", attention=attention).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


# --- placements ----------------------------------------------------------------------------------


def feature_names(model: models.VGG) -> list[str]:
    return [name for name, _ in model.features.named_children()]


def test_block_end_is_before_the_pool_and_after_pool_after_it() -> None:
    names = feature_names(build_vgg(16, width=TINY, head="cifar", attention="se"))
    assert names[names.index("se1") - 1 : names.index("se1") + 2] == ["3", "se1", "4"]  # ReLU, SE, pool
    names = feature_names(build_vgg(16, width=TINY, head="cifar", attention="spatial"))
    assert names[names.index("spatial1") - 1 : names.index("spatial1") + 2] == ["4", "spatial1", "5"]  # pool, SA, conv
    model = build_vgg(16, width=TINY, head="cifar", attention="spatial")
    assert isinstance(model.features[5], SpatialAttention) and isinstance(model.features[4], nn.MaxPool2d)


def test_every_conv_follows_each_relu() -> None:
    model = build_vgg(16, True, TINY, head="cifar", attention="cbam", placement="every_conv")
    modules = attention_modules(model)
    assert len(modules) == 13 and all(isinstance(m, CBAM) for _, m in modules)
    children = list(model.features.children())
    assert all(isinstance(children[children.index(m) - 1], nn.ReLU) for _, m in modules)


@pytest.mark.parametrize("kind, module_type", [("dynamic", DynamicConv2d), ("article_dynamic", ArticleDynamicConv2d)])
def test_last_conv_replaces_the_last_conv_of_each_block_and_keeps_its_key(kind: str, module_type: type) -> None:
    model = build_vgg(16, width=TINY, head="cifar", attention=kind)
    names = [name for name, _ in attention_modules(model)]
    assert names == [f"features.{i}" for i in (2, 7, 14, 21, 28)]  # torchvision's keys of the five last convs
    assert all(isinstance(model.features.get_submodule(n.split(".")[1]), module_type) for n in names)
    every = build_vgg(16, width=TINY, head="cifar", attention=kind, placement="every_conv")
    assert len(attention_modules(every)) == 13


def test_blocks_limit_the_placement() -> None:
    model = build_vgg(16, width=TINY, head="cifar", attention="se", blocks=(3, 4))
    assert [name for name, _ in attention_modules(model)] == ["features.se3", "features.se4"]
    assert model.layer_block["se3"] == 3 and model.layer_block["0"] == 1 and model.layer_block["30"] == 5


def test_backbone_keys_do_not_move_when_attention_is_added() -> None:
    plain = on_meta(depth=16, batch_norm=True).state_dict()
    with_se = on_meta(depth=16, batch_norm=True, attention="se").state_dict()
    assert set(plain) <= set(with_se)
    assert all(key.startswith("features.se") for key in set(with_se) - set(plain))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=15), r"depth must be one of \(11, 13, 16, 19\), got 15"),
        (
            dict(attention="eca"),
            r"attention must be one of \(None, 'se', 'spatial', 'cbam', 'dynamic', 'article_dynamic'\), got 'eca'",
        ),
        (
            dict(attention="dynamic", placement="after_pool"),
            r"placement for attention='dynamic' must be one of \('last_conv', 'every_conv'\)",
        ),
        (dict(attention="se", placement="last_conv"), r"must be one of \('block_end', 'after_pool', 'every_conv'\)"),
        (dict(attention="se", placement="middle"), "must be one of"),
        (dict(width=0), "width must be a positive finite number"),
        (dict(width=-1.0), "width must be a positive finite number"),
        (dict(width=float("nan")), "width must be a positive finite number"),
        (dict(width=float("inf")), "width must be a positive finite number"),
        (dict(width=0.005), r"round\(64 \* width\) = 0 channels"),
        (dict(attention="se", blocks=(0, 3)), "blocks must be distinct block numbers from 1 to 5"),
        (dict(attention="se", blocks=(6,)), "blocks must be distinct block numbers from 1 to 5"),
        (dict(attention="se", blocks=()), "blocks must be distinct block numbers"),
        (dict(attention="se", blocks=(2, 2)), "blocks must be distinct block numbers"),
        (dict(placement="block_end"), "only apply with an attention kind"),
        (dict(blocks=(1,)), "only apply with an attention kind"),
        (dict(head="tiny"), r"head must be one of \('imagenet', 'cifar'\)"),
        (dict(num_classes=0), "num_classes must be >= 1, got 0"),
        (dict(weights="IMAGENET1K_V9"), "weights for vgg16 must be one of"),
        (dict(width=0.5, weights="IMAGENET1K_V1"), "width=1 only"),
    ],
)
def test_invalid_arguments_list_the_valid_choices(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        on_meta(**kwargs)


def test_unknown_attention_option_is_named() -> None:
    message = r"attention='spatial' takes the options \('kernel_size', 'bias', 'gate'\), got unknown \['reduction'\]"
    with pytest.raises(TypeError, match=message):
        on_meta(attention="spatial", reduction=8)


# --- config round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(depth=16, batch_norm=True, width=0.25, head="cifar", attention="se", reduction=8, bias=False),
        dict(depth=11, attention="dynamic", placement="every_conv", blocks=[2, 5], num_kernels=2, temperature=5.0),
        dict(depth=16, width=0.5),
    ],
)
def test_config_rebuilds_the_same_architecture(kwargs: dict) -> None:
    model = on_meta(**kwargs)
    config = json.loads(json.dumps(model.config))
    rebuilt = on_meta(**config)
    assert rebuilt.config == model.config
    assert keys_and_shapes(rebuilt.state_dict()) == keys_and_shapes(model.state_dict())
    assert repr(rebuilt) == repr(model)


# --- loading plain weights onto an attention model -------------------------------------------------


def plain_source(batch_norm: bool = True, **kwargs: object) -> dict[str, torch.Tensor]:
    """A trained-looking plain state_dict (random, BN statistics set)."""
    model = build_vgg(16, batch_norm, TINY, **kwargs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_()
    return model.state_dict()


@pytest.mark.parametrize("attention", ["se", "spatial", "cbam", "dynamic", "article_dynamic"])
def test_plain_weights_load_onto_the_backbone(attention: str) -> None:
    source = plain_source(head="cifar")
    plain = build_vgg(16, True, TINY, head="cifar").eval()
    plain.load_state_dict(source)
    options = {"bias": True} if attention == "spatial" else {}  # near-identity needs a bias
    model = build_vgg(16, True, TINY, head="cifar", attention=attention, **options).eval()
    report = load_backbone_weights(model, source, strict=True)
    attention_keys = {f"{name}.{key}" for name, module in attention_modules(model) for key in module.state_dict()}
    assert set(report.initialised) <= attention_keys  # only attention keeps its init
    assert len(report.mapped) == len(source) and not report.skipped
    for name, module in attention_modules(model):  # make the attention an exact identity
        if isinstance(module, ArticleDynamicConv2d):
            nn.init.zeros_(module.attention[3].weight)
            nn.init.constant_(module.attention[3].bias, -1e4)  # sigmoid -> 0: no dynamic part
        elif not isinstance(module, DynamicConv2d):  # a DynamicConv2d with K equal kernels already is
            module.init_near_identity(1 - 1e-7)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x), rtol=1e-4, atol=1e-5)


def test_dynamic_gets_the_plain_kernel_in_every_kernel() -> None:
    source = plain_source(batch_norm=False, head="cifar")
    model = build_vgg(16, False, TINY, head="cifar", attention="dynamic", num_kernels=3)
    report = load_backbone_weights(model, source)
    assert report.mapped["features.2.weight"] == "features.2.weight"
    for k in range(3):
        assert torch.equal(model.features[2].weight[k], source["features.2.weight"])
    seed = build_vgg(16, False, TINY, head="cifar", attention="article_dynamic")
    assert load_backbone_weights(seed, source).mapped["features.2.bias"] == "features.2.base_conv.bias"


def test_head_of_another_size_is_skipped_with_the_reason() -> None:
    source = plain_source(head="imagenet", num_classes=1000)
    model = build_vgg(16, True, TINY, num_classes=10, attention="se")
    report = load_backbone_weights(model, source)
    assert set(report.skipped) == {"classifier.6.weight", "classifier.6.bias"}
    assert "(1000, 4096) does not fit classifier.6.weight" in report.skipped["classifier.6.weight"]
    assert "classifier.0.weight" in report.mapped and "classifier.6.weight" in report.initialised
    with pytest.raises(ValueError, match="strict=True and some tensors did not fit.*classifier.6.weight"):
        load_backbone_weights(model, source, strict=True)
    cifar = build_vgg(16, True, TINY, head="cifar")
    report = load_backbone_weights(cifar, source)
    assert "the source head has 3 Linear layers, the model's 1" in report.skipped["classifier.0.weight"]


def test_mismatched_backbone_is_an_error_and_changes_nothing() -> None:
    model = build_vgg(16, True, TINY, head="cifar", attention="se")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="the source has 13 convs and 0 BNs, the model 13 convs and 13 BNs"):
        load_backbone_weights(model, plain_source(batch_norm=False, head="cifar"))
    with pytest.raises(ValueError, match=r"needs \(4, 3, 3, 3\): build the model with the source's width"):
        load_backbone_weights(model, build_vgg(16, True, 1 / 8, head="cifar").state_dict())
    with pytest.raises(ValueError, match="not a key of a plain VGG state_dict"):
        load_backbone_weights(model, model.state_dict())
    with pytest.raises(ValueError, match="outside 'features.' and 'classifier.'"):
        load_backbone_weights(model, {"module.features.0.weight": torch.zeros(1)})
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pretrained_weights_offline_give_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, **kwargs: object) -> None:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError, match="vgg16_bn IMAGENET1K_V1 weights cannot be downloaded"):
        on_meta(depth=16, batch_norm=True, weights="IMAGENET1K_V1")


def test_pretrained_weights_are_loaded_from_the_download(monkeypatch: pytest.MonkeyPatch) -> None:
    with torch.device("meta"):
        reference = torchvision.models.vgg11()
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kwargs: reference.state_dict())
    model = on_meta(depth=11, attention="se", weights="IMAGENET1K_V1")
    assert model.config["attention"] == "se" and "weights" not in model.config


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (
            torch.zeros(2, 3, 16, 16),
            ValueError,
            r"halves the map 5 times, so its input must be at least 32x32, got 16x16",
        ),
        (
            torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
            TypeError,
            r"float images, normalised, got torch.uint8: .*normalize",
        ),
        (torch.zeros(2, 32, 32, 3), ValueError, r"3 colour channels .* need x.permute\(0, 3, 1, 2\)"),
        (torch.zeros(3, 32, 32), ValueError, r"4-D batch .* x.unsqueeze\(0\)"),
        ([[0.0]], TypeError, "expects a tensor of images"),
    ],
)
def test_the_model_checks_its_input_and_says_how_to_fix_it(x, error, message):
    model = build_vgg(16, True, 1 / 16, head="cifar")
    with pytest.raises(error, match=message):
        model(x)


def test_the_smallest_input_follows_the_depth_of_pooling():
    model = build_vgg(11, True, 1 / 16, head="cifar")
    assert model.smallest_input == 32
    assert model(torch.zeros(1, 3, 32, 40)).shape == (1, 10)


def test_a_new_attention_kind_is_one_registry_entry(monkeypatch):
    """build_vgg dispatches through ATTENTION_KINDS only: registering a kind is enough to build it anywhere."""
    identity = AttentionKind(lambda i, o, options: nn.Identity(), False, ("after_pool",), "after_pool", (), "nothing")
    monkeypatch.setitem(ATTENTION_KINDS, "identity", identity)
    model = build_vgg(11, True, 1 / 16, head="cifar", attention="identity")
    assert [name for name in model.features._modules if name.startswith("identity")] == [
        f"identity{b}" for b in range(1, 6)
    ]


def test_dropout_in_the_cifar_head_comes_before_its_linear_and_keeps_its_key() -> None:
    plain = build_vgg(11, True, TINY, head="cifar")
    with_dropout = build_vgg(11, True, TINY, head="cifar", dropout=0.5)
    assert list(with_dropout.state_dict()) == list(plain.state_dict())  # stored weights load either way
    assert isinstance(with_dropout.classifier[0], nn.Dropout) and with_dropout.classifier[0].p == 0.5
    assert with_dropout.config["dropout"] == 0.5 and "dropout" not in plain.config  # older configs unchanged
    with_dropout.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(with_dropout.eval()(x), plain.eval()(x))  # eval: dropout is the identity
    assert all(m.p == 0.1 for m in build_vgg(11, dropout=0.1).classifier if isinstance(m, nn.Dropout))
    with pytest.raises(ValueError, match=r"dropout is a probability in \[0, 1\)"):
        build_vgg(11, dropout=1.5)
