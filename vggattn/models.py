"""The VGG family as data: one config table, one builder, attention as a (kind, placement) pair.

    build_vgg(16)                                  # torchvision's vgg16, same keys, same init
    build_vgg(16, attention="se", bias=False)      # the SE article: SE(C, 16) before each block's pool
    build_vgg(16, True, 0.25, head="cifar", attention="cbam", placement="every_conv", blocks=(4, 5))

Backbone layers keep torchvision's `features` keys (`features.0`, `features.2`, ...) whatever
attention is added; an inserted module is named after its kind and block (`features.se1`,
`features.spatial3`, `features.cbam2_1` for the first conv of block 2), and a dynamic conv keeps
the key of the conv it replaces. So a torchvision state_dict fits a plain model as is, and
`load_backbone_weights` maps one onto any attention variant.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.error import URLError

import torch
import torchvision
from torch import nn

from vggattn.attention import (
    ATTENTION_MODULES,
    ArticleDynamicConv2d,
    DynamicConv2d,
)
from vggattn.attention.kinds import ATTENTION_KINDS
from vggattn.checks import check_bool, check_choice, check_int, check_number, check_positive

# torchvision's `cfgs`, keyed by depth (torchvision's letters: 11 "A", 13 "B", 16 "D", 19 "E").
# An int is a 3x3 conv (+ BN) + ReLU with that many output channels; "M" a 2x2 max-pool that ends a block.
CFGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
NUM_BLOCKS = 5
HEADS = ("imagenet", "cifar")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but cannot be downloaded (offline, no cached copy)."""


class VGG(nn.Module):
    """A VGG as torchvision lays it out: `features` -> `avgpool` -> flatten -> `classifier`.

    `config` holds the builder's arguments (JSON-serialisable): `build_vgg(**model.config)` rebuilds
    the same architecture. `layer_block` maps each `features` key to its block number (1-based).
    """

    def __init__(
        self,
        features: nn.Sequential,
        avgpool: nn.Module,
        classifier: nn.Sequential,
        config: dict,
        layer_block: dict[str, int],
    ) -> None:
        super().__init__()
        self.features = features
        self.avgpool = avgpool
        self.classifier = classifier
        self.config = config
        self.layer_block = layer_block

    @property
    def smallest_input(self) -> int:
        """The smallest height and width the network takes: each max-pool halves the map, 5 of them need 32."""
        return 2 ** sum(isinstance(module, nn.MaxPool2d) for module in self.features)

    def check_input(self, x: object) -> None:
        """Raise a clear error for what the layers would reject deep inside (or, for uint8, compute wrongly)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"VGG expects a tensor of images (B, 3, H, W), got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(
                f"VGG expects a 4-D batch (B, 3, H, W), got shape {tuple(x.shape)}; "
                f"add a batch dimension with x.unsqueeze(0) for one image"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"VGG expects float images, normalised, got {x.dtype}: convert uint8 images with "
                f"vggattn.data.normalize(images) (scales to [0, 1], then subtracts the CIFAR-10 mean "
                f"and divides by its std)"
            )
        if x.shape[1] != 3:
            raise ValueError(
                f"VGG expects 3 colour channels (B, 3, H, W), got {x.shape[1]} (shape {tuple(x.shape)})"
                f"{'; images in (B, H, W, 3) order need x.permute(0, 3, 1, 2)' if x.shape[-1] == 3 else ''}"
            )
        smallest = self.smallest_input
        if x.shape[2] < smallest or x.shape[3] < smallest:
            raise ValueError(
                f"this VGG halves the map {smallest.bit_length() - 1} times, so its input must be at "
                f"least {smallest}x{smallest}, got {x.shape[2]}x{x.shape[3]}; resize the images "
                f"(e.g. torch.nn.functional.interpolate) to at least {smallest}x{smallest}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.features(x)  # (B, 3, H, W) -> (B, C5, H / 32, W / 32)
        x = self.avgpool(x)  # -> (B, C5, 7, 7) imagenet head, (B, C5, 1, 1) cifar head
        return self.classifier(torch.flatten(x, 1))  # -> (B, num_classes)


def scaled_channels(channels: int, width: float) -> int:
    """round(channels * width); the builder rejects a width that rounds any layer to 0 channels."""
    return round(channels * width)


def _make_features(
    cfg: list[int | str],
    batch_norm: bool,
    width: float,
    attention: str | None,
    placement: str | None,
    blocks: tuple[int, ...],
    options: dict,
) -> tuple[nn.Sequential, dict[str, int]]:
    """torchvision's `make_layers` with attention inserted; returns the layers and each key's block."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layer_block: dict[str, int] = {}
    index = 0  # torchvision's index of the next backbone layer; inserted modules take none
    block, conv_in_block, in_channels = 1, 0, 3

    def add(layer: nn.Module, name: str | None = None) -> None:
        nonlocal index
        if name is None:
            name, index = str(index), index + 1
        layers[name] = layer
        layer_block[name] = block

    kind = ATTENTION_KINDS[attention] if attention is not None else None
    dynamic = kind is not None and kind.replaces_conv
    for position, value in enumerate(cfg):
        attended = attention is not None and block in blocks
        if value == "M":
            if attended and placement == "block_end":
                add(kind.build(in_channels, in_channels, options), f"{attention}{block}")
            add(nn.MaxPool2d(kernel_size=2, stride=2))
            if attended and placement == "after_pool":
                add(kind.build(in_channels, in_channels, options), f"{attention}{block}")
            block, conv_in_block = block + 1, 0
            continue
        out_channels, conv_in_block = scaled_channels(value, width), conv_in_block + 1
        at_this_conv = attended and (
            placement == "every_conv" or (placement == "last_conv" and cfg[position + 1] == "M")
        )
        if at_this_conv and dynamic:
            add(kind.build(in_channels, out_channels, options))
        else:
            add(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            add(nn.BatchNorm2d(out_channels))
        add(nn.ReLU(inplace=True))
        if at_this_conv and not dynamic:
            name = f"{attention}{block}_{conv_in_block}"
            add(kind.build(in_channels, out_channels, options), name)
        in_channels = out_channels
    return nn.Sequential(layers), layer_block


def _make_head(
    head: str, channels: int, num_classes: int, dropout: float | None = None
) -> tuple[nn.Module, nn.Sequential]:
    """(avgpool, classifier) of the `head` kind for `channels` feature maps (`dropout`: see `build_vgg`)."""
    if head == "cifar":
        linear = nn.Linear(channels, num_classes)
        if not dropout:
            return nn.AdaptiveAvgPool2d(1), nn.Sequential(linear)
        return nn.AdaptiveAvgPool2d(1), nn.Sequential(OrderedDict(dropout=nn.Dropout(p=dropout), **{"0": linear}))
    p = 0.5 if dropout is None else dropout
    return nn.AdaptiveAvgPool2d((7, 7)), nn.Sequential(
        nn.Linear(channels * 7 * 7, 4096),
        nn.ReLU(True),
        nn.Dropout(p=p),
        nn.Linear(4096, 4096),
        nn.ReLU(True),
        nn.Dropout(p=p),
        nn.Linear(4096, num_classes),
    )


def _init_conv(weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")
    if bias is not None:
        nn.init.zeros_(bias)


def _init_weights(model: VGG) -> None:
    """torchvision's VGG init, layer by layer in the same order; gating modules keep their own init.

    Conv: Kaiming normal (fan_out), bias 0 (for a dynamic conv: each of its K kernels, or the article's
    base conv); BN: weight 1, bias 0; Linear: N(0, 0.01), bias 0.
    """
    for layer in (*model.features, *model.classifier):
        if isinstance(layer, nn.Conv2d):
            _init_conv(layer.weight, layer.bias)
        elif isinstance(layer, DynamicConv2d):
            with torch.no_grad():
                for k in range(layer.num_kernels):
                    _init_conv(layer.weight[k], None if layer.bias is None else layer.bias[k])
        elif isinstance(layer, ArticleDynamicConv2d):
            _init_conv(layer.base_conv.weight, layer.base_conv.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0, 0.01)
            nn.init.zeros_(layer.bias)


def _check_blocks(blocks: Iterable[int] | None) -> tuple[int, ...]:
    if blocks is None:
        return tuple(range(1, NUM_BLOCKS + 1))
    chosen = tuple(blocks) if isinstance(blocks, Iterable) and not isinstance(blocks, str) else (blocks,)
    valid = range(1, NUM_BLOCKS + 1)
    is_block = [isinstance(b, int) and not isinstance(b, bool) and b in valid for b in chosen]
    if not chosen or not all(is_block) or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"blocks must be distinct block numbers from 1 to {NUM_BLOCKS} (1-based), e.g. (4, 5), got {blocks!r}"
        )
    return tuple(sorted(chosen))


def build_vgg(
    depth: int = 16,
    batch_norm: bool = False,
    width: float = 1.0,
    num_classes: int | None = None,
    head: str = "imagenet",
    attention: str | None = None,
    placement: str | None = None,
    blocks: Iterable[int] | None = None,
    weights: str | None = None,
    dropout: float | None = None,
    **attention_kwargs: object,
) -> VGG:
    """Build a VGG of `depth` (11, 13, 16, 19), optionally with attention.

    - `width` multiplies every conv's channels (round(C * width)); `width=1` is torchvision's.
    - `head="imagenet"`: torchvision's AdaptiveAvgPool2d((7, 7)) + 3 Linear layers; the first takes
      C5 * 7 * 7 = round(512 * width) * 49 inputs, the hidden 4096 does not change with `width`.
      `head="cifar"`: AdaptiveAvgPool2d(1) + Linear(round(512 * width), num_classes).
      `num_classes` defaults to 1000 (imagenet head) or 10 (cifar head).
    - `dropout`: the probability of the head's dropout; None keeps the default, torchvision's 0.5 before
      each hidden Linear of the imagenet head and none in the cifar head. In the cifar head, p > 0 puts an
      `nn.Dropout(p)` before its Linear (`classifier.dropout`; the Linear keeps its key `classifier.0`, so
      stored weights load either way).
    - `attention`: None or one of `ATTENTION_KINDS`; `placement` (default: the article's, see
      `ATTENTION_KINDS`) and `blocks` (1-based, default all five) say where. `attention_kwargs`
      go to the module (e.g. `reduction=16, bias=False` for SE; `num_kernels=4` for dynamic).
    - `weights="IMAGENET1K_V1"`: torchvision's pretrained weights (width 1), loaded with
      `load_backbone_weights`: a head of another size keeps its init; attention keeps its init.
      Raises `WeightsUnavailableError` when they cannot be downloaded.
    Convs, BNs and Linears get torchvision's init; with no attention, `torch.manual_seed(s)` then
    `build_vgg(16)` gives the same weights as `torch.manual_seed(s)` then `torchvision.models.vgg16()`.
    """
    check_choice("depth", depth, CFGS)
    check_bool("batch_norm", batch_norm)
    check_positive("width", width, hint="1.0 is torchvision's VGG, 0.25 the CPU net")
    if scaled_channels(64, width) < 1:
        raise ValueError(f"width={width} gives round(64 * width) = 0 channels in the first block; use width >= 1/64")
    check_choice("head", head, HEADS)
    if dropout is not None:
        check_number("dropout", dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}; 0.5 is torchvision's VGG default")
    if num_classes is None:
        num_classes = 1000 if head == "imagenet" else 10
    check_int("num_classes", num_classes)
    if attention is None:
        if placement is not None or blocks is not None or attention_kwargs:
            given = {"placement": placement, "blocks": blocks, **attention_kwargs}
            given = {k: v for k, v in given.items() if v is not None}
            raise ValueError(
                f"{given} only apply with an attention kind; pass attention= one of {tuple(ATTENTION_KINDS)}"
            )
    else:
        check_choice("attention", attention, (None, *ATTENTION_KINDS))
        kind = ATTENTION_KINDS[attention]
        placement = kind.default_placement if placement is None else placement
        check_choice(f"placement for attention={attention!r}", placement, kind.placements)
        unknown = sorted(set(attention_kwargs) - set(kind.options))
        if unknown:
            raise TypeError(f"attention={attention!r} takes the options {kind.options}, got unknown {unknown}")
    chosen_blocks = _check_blocks(blocks)
    config = {
        "depth": depth,
        "batch_norm": batch_norm,
        "width": width,
        "num_classes": num_classes,
        "head": head,
        "attention": attention,
        "placement": placement,
        "blocks": None if blocks is None else list(chosen_blocks),
        **({"dropout": dropout} if dropout is not None else {}),  # absent when default: older configs unchanged
        **attention_kwargs,
    }
    try:
        json.dumps(config)
    except TypeError as error:
        raise TypeError(
            f"build_vgg arguments must be JSON-serialisable (they are stored in checkpoints): {error}"
        ) from error

    if weights is not None and width != 1:
        raise ValueError(f"pretrained weights exist for width=1 only, got width={width}")
    pretrained = None if weights is None else _imagenet_state_dict(depth, batch_norm, weights)

    features, layer_block = _make_features(
        CFGS[depth], batch_norm, width, attention, placement, chosen_blocks, attention_kwargs
    )
    avgpool, classifier = _make_head(head, scaled_channels(512, width), num_classes, dropout)
    model = VGG(features, avgpool, classifier, config, layer_block)
    _init_weights(model)
    if pretrained is not None:
        load_backbone_weights(model, pretrained)
    return model


def _imagenet_state_dict(depth: int, batch_norm: bool, weights: str) -> dict[str, torch.Tensor]:
    """torchvision's pretrained state_dict (downloaded once, then read from torch.hub's cache)."""
    name = f"vgg{depth}_bn" if batch_norm else f"vgg{depth}"
    available = torchvision.models.get_model_weights(name)
    check_choice(f"weights for {name}", weights, available.__members__)
    url = available[weights].url
    try:
        return torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True, weights_only=True)
    except (URLError, OSError) as error:
        raise WeightsUnavailableError(
            f"the {name} {weights} weights cannot be downloaded from {url} ({error}); "
            f"offline, copy that file into {torch.hub.get_dir()}/checkpoints/ or build without weights="
        ) from error


@dataclass
class LoadReport:
    """What `load_backbone_weights` did, key by key."""

    loaded: list[str] = field(default_factory=list)
    """Model keys filled from the source."""
    initialised: list[str] = field(default_factory=list)
    """Model keys left at their initial values (attention modules; a head that did not fit)."""
    mapped: dict[str, str] = field(default_factory=dict)
    """Source key -> model key (a dynamic conv's K kernels all take the one source kernel)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Source key -> why it was not loaded."""

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors, kept the init of {len(self.initialised)}"]
        lines += [f"  skipped {key}: {reason}" for key, reason in self.skipped.items()]
        return "\n".join(lines)


def _numbered_layers(state_dict: dict[str, torch.Tensor], prefix: str) -> list[tuple[str, dict[str, torch.Tensor]]]:
    """Group `prefix.<index>.<tensor>` keys by index, in index order: [(f"{prefix}.{index}", {tensor: value})]."""
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, tensor_name = key[len(prefix) + 1 :].partition(".")
        if not index.isdigit() or "." in tensor_name:
            raise ValueError(
                f"{key!r} is not a key of a plain VGG state_dict (expected '{prefix}.<index>.<tensor>'); "
                "load an attention model's own checkpoint with model.load_state_dict"
            )
        layers.setdefault(int(index), {})[tensor_name] = value
    return [(f"{prefix}.{index}", layers[index]) for index in sorted(layers)]


def _backbone_layers(model: VGG) -> list[tuple[str, nn.Module, bool]]:
    """The model's convs and BNs in order: (key prefix of its plain tensors, owner module, is_conv)."""
    layers = []
    for name, layer in model.features.named_children():
        if isinstance(layer, (nn.Conv2d, DynamicConv2d)):
            layers.append((f"features.{name}", layer, True))
        elif isinstance(layer, ArticleDynamicConv2d):
            layers.append((f"features.{name}.base_conv", layer.base_conv, True))
        elif isinstance(layer, nn.BatchNorm2d):
            layers.append((f"features.{name}", layer, False))
    return layers


def _own_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """A layer's own parameters and buffers (not its submodules'), as its state_dict names them."""
    return {
        name: tensor
        for name, tensor in (*module.named_parameters(recurse=False), *module.named_buffers(recurse=False))
        if tensor is not None
    }


def load_backbone_weights(model: VGG, state_dict: dict[str, torch.Tensor], strict: bool = False) -> LoadReport:
    """Copy a plain VGG state_dict (torchvision's, or a plain `build_vgg` model's) onto `model`'s backbone.

    Convs and BNs are matched by order, so the source must have the same depth, BN and width:
    otherwise ValueError. A `DynamicConv2d` gets the plain kernel in all its K kernels and a
    `ArticleDynamicConv2d` in its base conv (the `from_conv` rule). The head's Linear layers are
    matched by order where their shapes agree; the rest are skipped with the reason, or, with
    `strict=True`, raise ValueError. Attention modules keep their init. Nothing is copied unless
    every check passes.
    """
    unknown = [k for k in state_dict if not k.startswith(("features.", "classifier."))]
    if unknown:
        raise ValueError(f"not a VGG state_dict: keys {unknown[:3]} are outside 'features.' and 'classifier.'")
    report = LoadReport()
    copies = _plan_backbone(model, state_dict) + _plan_head(model, state_dict, report)
    if strict and report.skipped:
        raise ValueError(f"strict=True and some tensors did not fit: {report.skipped}")
    with torch.no_grad():
        for source_key, target_key, target in copies:
            target.copy_(state_dict[source_key].expand_as(target))
            report.mapped[source_key] = target_key
    report.loaded = list(report.mapped.values())
    report.initialised = [key for key in model.state_dict() if key not in set(report.loaded)]
    return report


Copy = tuple[str, str, torch.Tensor]
"""(source key, model key, model tensor to copy into)."""


def _plan_backbone(model: VGG, state_dict: dict[str, torch.Tensor]) -> list[Copy]:
    """Pair the source's convs and BNs with the model's, in order; raise ValueError where they do not fit."""
    sources = _numbered_layers(state_dict, "features")
    targets = _backbone_layers(model)
    source_kinds = ["conv" if tensors["weight"].dim() == 4 else "bn" for _, tensors in sources]
    target_kinds = ["conv" if is_conv else "bn" for _, _, is_conv in targets]
    if source_kinds != target_kinds:
        raise ValueError(
            f"the source has {source_kinds.count('conv')} convs and {source_kinds.count('bn')} BNs, the model "
            f"{target_kinds.count('conv')} convs and {target_kinds.count('bn')} BNs: build the model with the "
            "source's depth and batch_norm"
        )
    copies = []
    for (source_prefix, source_tensors), (target_prefix, target_layer, _) in zip(sources, targets):
        # a DynamicConv2d's softmax_temperature is its own setting, not a conv's tensor
        target_tensors = {k: v for k, v in _own_tensors(target_layer).items() if k != "softmax_temperature"}
        missing = set(target_tensors) - set(source_tensors) - {"num_batches_tracked"}  # absent from old checkpoints
        if missing or set(source_tensors) - set(target_tensors):
            raise ValueError(
                f"{source_prefix} has tensors {sorted(source_tensors)}, {target_prefix} has {sorted(target_tensors)}"
            )
        for name, source in source_tensors.items():
            target = target_tensors[name]
            # A DynamicConv2d's tensors have a leading K axis: each of its K kernels gets the source.
            expected = target.shape[1:] if isinstance(target_layer, DynamicConv2d) else target.shape
            if source.shape != expected:
                raise ValueError(
                    f"{source_prefix}.{name} has shape {tuple(source.shape)}, {target_prefix}.{name} needs "
                    f"{tuple(expected)}: build the model with the source's width"
                )
            copies.append((f"{source_prefix}.{name}", f"{target_prefix}.{name}", target))
    return copies


def _plan_head(model: VGG, state_dict: dict[str, torch.Tensor], report: LoadReport) -> list[Copy]:
    """Pair the classifier's Linear layers by order where shapes agree; record the rest in `report.skipped`."""
    sources = _numbered_layers(state_dict, "classifier")
    targets = [
        (f"classifier.{name}", layer)
        for name, layer in model.classifier.named_children()
        if isinstance(layer, nn.Linear)
    ]
    if len(sources) != len(targets):
        reason = f"the source head has {len(sources)} Linear layers, the model's {len(targets)}"
        report.skipped.update({f"{prefix}.{name}": reason for prefix, tensors in sources for name in tensors})
        return []
    copies = []
    for (source_prefix, source_tensors), (target_prefix, target_layer) in zip(sources, targets):
        target_tensors = _own_tensors(target_layer)
        for name, source in source_tensors.items():
            target = target_tensors.get(name)
            if target is None or target.shape != source.shape:
                got = "no such tensor" if target is None else f"shape {tuple(target.shape)}"
                report.skipped[f"{source_prefix}.{name}"] = (
                    f"shape {tuple(source.shape)} does not fit {target_prefix}.{name} ({got})"
                )
            else:
                copies.append((f"{source_prefix}.{name}", f"{target_prefix}.{name}", target))
    return copies


def attention_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The attention modules of `model` as (name, module), outermost only (a CBAM, not also its spatial gate)."""
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        inside_found = any(name.startswith(outer + ".") for outer, _ in found)
        if isinstance(module, ATTENTION_MODULES) and not inside_found:
            found.append((name, module))
    return found


# Named factories: thin calls of the builder; keyword arguments pass through to `build_vgg`.
def vgg11(**kwargs: object) -> VGG:
    return build_vgg(11, **kwargs)


def vgg11_bn(**kwargs: object) -> VGG:
    return build_vgg(11, batch_norm=True, **kwargs)


def vgg13(**kwargs: object) -> VGG:
    return build_vgg(13, **kwargs)


def vgg13_bn(**kwargs: object) -> VGG:
    return build_vgg(13, batch_norm=True, **kwargs)


def vgg16(**kwargs: object) -> VGG:
    return build_vgg(16, **kwargs)


def vgg16_bn(**kwargs: object) -> VGG:
    return build_vgg(16, batch_norm=True, **kwargs)


def vgg19(**kwargs: object) -> VGG:
    return build_vgg(19, **kwargs)


def vgg19_bn(**kwargs: object) -> VGG:
    return build_vgg(19, batch_norm=True, **kwargs)


def vgg16_se(**kwargs: object) -> VGG:
    """The SE article: SqueezeExcitation(C, 16, bias=False) before each block's pool (+76,288 parameters)."""
    return build_vgg(16, attention="se", **{"reduction": 16, "bias": False, **kwargs})


def vgg16_spatial(**kwargs: object) -> VGG:
    """The spatial-attention article: SpatialAttention(7) after each block's pool (+490 parameters)."""
    return build_vgg(16, attention="spatial", **{"kernel_size": 7, **kwargs})


def vgg16_cbam(**kwargs: object) -> VGG:
    """CBAM(C, 16, 7) before each block's pool."""
    return build_vgg(16, attention="cbam", **kwargs)


def vgg16_dynamic(**kwargs: object) -> VGG:
    """DynamicConv2d (K=4) in place of the last conv of each block: the article's placement, done efficiently."""
    return build_vgg(16, attention="dynamic", **{"num_kernels": 4, **kwargs})


def vgg16_article_dynamic(**kwargs: object) -> VGG:
    """The dynamic-convolution article: ArticleDynamicConv2d(r=16) in place of each block's last conv (+167,290,204)."""
    return build_vgg(16, attention="article_dynamic", **{"reduction": 16, **kwargs})
