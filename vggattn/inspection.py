"""Look inside a model: layer-by-layer shapes, parameter counts (measured and by formula), FLOPs, summaries.

Every table lists modules at one granularity: the leaf modules of the backbone, and each attention
module as one row (not its internals).
"""

from __future__ import annotations

import html
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vggattn.attention import ATTENTION_MODULES, hidden_width
from vggattn.checks import check_choice, check_int
from vggattn.data import CifarTensors, batches
from vggattn.models import VGG, attention_modules
from vggattn.runtime import evaluating, model_device

GROUPINGS = (None, "block", "type", "module")


def _rows_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module, bool]]:
    """(name, module, whole) at table granularity: each outermost attention module whole (`whole=True`),
    and every other module that is a leaf or owns parameters directly (`whole=False`: its own tensors only)."""
    if isinstance(model, ATTENTION_MODULES):
        yield "", model, True
        return
    attention_names = [name for name, _ in attention_modules(model)]
    for name, module in model.named_modules():
        if name in attention_names:
            yield name, module, True
        elif any(name.startswith(outer + ".") for outer in attention_names):
            continue
        elif not any(True for _ in module.children()) or any(True for _ in module.parameters(recurse=False)):
            yield name, module, False


def _parameter_count(module: nn.Module, whole: bool, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters(recurse=whole) if p.requires_grad or not trainable_only)


def _display_name(name: str, model: nn.Module) -> str:
    return name or type(model).__name__


@dataclass(frozen=True)
class ShapeRow:
    """One module call: its name, type, output shape and parameter count."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int


class ShapeTable(list[ShapeRow]):
    """The rows of `trace_shapes`, in call order; prints as a fixed-width table (HTML in a notebook)."""

    HEADER = ("layer", "type", "output shape", "params")

    def _cells(self) -> list[tuple[str, str, str, str]]:
        rows = [(row.name, row.type, str(row.output_shape), f"{row.params:,}") for row in self]
        total = sum(row.params for row in self)
        return [*rows, ("total", "", "", f"{total:,}")]

    def __str__(self) -> str:
        cells = [self.HEADER, *self._cells()]
        widths = [max(len(row[i]) for row in cells) for i in range(4)]
        lines = [
            "  ".join([c.ljust(w) for c, w in zip(row[:3], widths)] + [row[3].rjust(widths[3])]).rstrip()
            for row in cells
        ]
        rule = "-" * len(lines[0])
        return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1]])

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADER)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._cells())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _example_input(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    if not isinstance(input_shape, (tuple, list, torch.Size)) or not all(
        isinstance(s, int) and s >= 1 for s in input_shape
    ):
        raise ValueError(f"input_shape must be a tuple of sizes >= 1, e.g. (1, 3, 32, 32), got {input_shape!r}")
    return torch.zeros(tuple(input_shape), device=model_device(model))


def trace_shapes(model: nn.Module, input_shape: Sequence[int]) -> ShapeTable:
    """Run a zero input of `input_shape` through `model` (eval, no grad) and list each module's output shape."""
    table = ShapeTable()

    def record(name: str, module: nn.Module, whole: bool):
        def hook(_: nn.Module, __: object, output: object) -> None:
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            table.append(ShapeRow(name, type(module).__name__, tuple(tensor.shape), _parameter_count(module, whole)))

        return hook

    handles = [
        module.register_forward_hook(record(_display_name(name, model), module, whole))
        for name, module, whole in _rows_modules(model)
    ]
    try:
        with evaluating(model):
            model(_example_input(model, input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return table


GATE_ATTRIBUTES = ("last_gate", "last_attention")
"""Where attention modules keep (detached) what they computed in their last forward pass."""


def collect_gates(
    model: nn.Module, inputs: torch.Tensor | CifarTensors, *, batch_size: int = 500
) -> dict[str, torch.Tensor]:
    """What every attention module of `model` computes for every input: {module name: (N, ...)}, on the CPU.

    `inputs`: normalised images (N, 3, H, W), or a `CifarTensors` split (normalised by `batches`, in its
    order). The model runs in eval mode without autograd, batch by batch on its own device; after each
    batch every module holding one of `GATE_ATTRIBUTES` is read: SE (N, C), spatial attention
    (N, 1, H, W), CBAM's channel gate (N, C) under "<name>.channel" and its spatial gate under "<name>.spatial", dynamic
    convolution's kernel attention pi (N, K).
    """
    check_int("batch_size", batch_size)
    if isinstance(inputs, CifarTensors):
        parts = (images for images, _ in batches(inputs, batch_size, train=False))
    elif isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        parts = inputs.split(batch_size)
    else:
        raise TypeError(
            f"inputs must be a CifarTensors split or a (N, 3, H, W) tensor of normalised images, got "
            f"{type(inputs).__name__}{tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else ''}"
        )
    holders = [
        (name, module, attribute)
        for name, module in model.named_modules()
        for attribute in GATE_ATTRIBUTES
        if hasattr(module, attribute)
    ]
    if not holders:
        raise ValueError(
            f"{type(model).__name__} has no module that keeps its gate ({', '.join(GATE_ATTRIBUTES)}); "
            f"build it with attention='se', 'spatial', 'cbam' or 'dynamic'"
        )
    device = model_device(model)
    collected: dict[str, list[torch.Tensor]] = {name: [] for name, _, _ in holders}
    with evaluating(model):
        for images in parts:
            model(images.to(device))
            for name, module, attribute in holders:
                collected[name].append(getattr(module, attribute).cpu())
    return {name: torch.cat(gates) for name, gates in collected.items()}


@dataclass(frozen=True)
class GateVariation:
    """How a trained gate varies over N images (`gate_variation`); each gate value is one channel or position.

    `across_units`: std over units (channels or positions) of the image-mean gate, a fixed per-unit rescale;
    `across_images`: the mean over units of the std over images, how much the gate depends on the input;
    `between_class_share`: sum_u Var_k(class-k mean of unit u) / sum_u Var(unit u) over the images, 0 when every
    class has the same mean gates, 1 when the gates depend on the class only.
    """

    mean: float
    across_units: float
    across_images: float
    between_class_share: float


def gate_variation(gates: torch.Tensor, labels: torch.Tensor) -> GateVariation:
    """`GateVariation` of one module's gates (N, ...) (a `collect_gates` entry) for images of classes `labels` (N,).

    The class means are weighted equally (balanced test subsets make this the usual between-class variance).
    """
    if not isinstance(gates, torch.Tensor) or gates.dim() < 2:
        raise TypeError(f"gates must be a tensor (N, ...) of N images' gates, got {type(gates).__name__}")
    labels = torch.as_tensor(labels)
    if labels.shape != (gates.shape[0],):
        raise ValueError(f"labels must have shape ({gates.shape[0]},), one per image, got {tuple(labels.shape)}")
    units = gates.reshape(gates.shape[0], -1).double()  # (N, U)
    total = units.var(dim=0, unbiased=False)  # (U,)
    class_means = torch.stack([units[labels == k].mean(dim=0) for k in labels.unique()])  # (classes, U)
    between = class_means.var(dim=0, unbiased=False)
    return GateVariation(
        mean=units.mean().item(),
        across_units=units.mean(dim=0).std(unbiased=False).item(),
        across_images=total.sqrt().mean().item(),
        between_class_share=(between.sum() / total.sum()).item() if total.sum() > 0 else 0.0,
    )


def check_shape(tensor: torch.Tensor, expected: Sequence[int | None]) -> None:
    """Raise ValueError unless `tensor.shape` matches `expected`; None or -1 matches any size."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"check_shape expects a torch.Tensor, got {type(tensor).__name__}")
    wanted = tuple("*" if size is None or size == -1 else size for size in expected)
    got = tuple(tensor.shape)
    if len(got) != len(wanted) or any(w != "*" and w != g for w, g in zip(wanted, got)):
        shown = "(" + ", ".join(str(w) for w in wanted) + ("," if len(wanted) == 1 else "") + ")"
        note = " (* = any size)" if "*" in wanted else ""
        raise ValueError(f"expected shape {shown}, got {got}{note}")


def count_parameters(
    model: nn.Module, by: str | None = None, trainable_only: bool = False
) -> int | OrderedDict[str, int]:
    """The number of parameters: a total (`by=None`) or an ordered dict whose values sum to it.

    by="module": per layer (an attention module as one entry); by="type": per module class;
    by="block": per VGG block ("block1" ... "block5", "head"; a `VGG` from `build_vgg` only).
    """
    check_choice("by", by, GROUPINGS)
    if by is None:
        return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    if by == "block" and not isinstance(model, VGG):
        raise TypeError(f"by='block' needs a VGG built by build_vgg, got {type(model).__name__}; use by='module'")
    counts: OrderedDict[str, int] = OrderedDict()
    for name, module, whole in _rows_modules(model):
        params = _parameter_count(module, whole, trainable_only)
        if params == 0:
            continue
        if by == "module":
            key = _display_name(name, model)
        elif by == "type":
            key = type(module).__name__
        else:
            _, _, layer = name.partition(".")
            key = f"block{model.layer_block[layer]}" if name.startswith("features.") else "head"
        counts[key] = counts.get(key, 0) + params
    return counts


def count_flops(model: nn.Module, input_shape: Sequence[int], by_module: bool = False) -> int | OrderedDict[str, int]:
    """FLOPs of one forward pass of a zero input (eval, no grad), counted by `torch.utils.flop_counter`.

    A multiply-add counts as 2 FLOPs. The counter counts convolutions and matrix products only
    (elementwise work such as a gate's `x * s`, BN or ReLU counts 0). `by_module=True`: per layer,
    as `count_parameters(by="module")`, layers with 0 FLOPs left out.
    """
    x = _example_input(model, input_shape)
    with evaluating(model), FlopCounterMode(display=False) as counter:
        model(x)
    if not by_module:
        return counter.get_total_flops()
    per_module = counter.get_flop_counts()
    root = type(model).__name__
    flops: OrderedDict[str, int] = OrderedDict()
    for name, _, _ in _rows_modules(model):
        total = sum(per_module.get(f"{root}.{name}" if name else root, {}).values())
        if total:
            flops[_display_name(name, model)] = total
    return flops


def summary(model: nn.Module, input_size: Sequence[int], **kwargs: object) -> torchinfo.ModelStatistics:
    """`torchinfo.summary` with fixed columns (output size, parameters), eval mode and no printing.

    `print(summary(model, (1, 3, 32, 32)))` gives the same text on every run; `kwargs` override.
    """
    options = {
        "col_names": ("output_size", "num_params"),
        "row_settings": ("var_names",),
        "depth": 3,
        "mode": "eval",
        "verbose": 0,
        "device": model_device(model),
        **kwargs,
    }
    return torchinfo.summary(model, input_size=tuple(input_size), **options)


# Parameter formulas: notebooks assert formula == count_parameters(module).
def conv_parameters(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, groups: int = 1) -> int:
    """O * (I / groups) * k * k (+ O biases)."""
    return out_channels * (in_channels // groups) * kernel_size * kernel_size + (out_channels if bias else 0)


def se_parameters(channels: int, reduction: int = 16, bias: bool = False, min_hidden: int = 4) -> int:
    """2 * C * hidden (+ hidden + C biases), hidden = max(C // reduction, min_hidden): 2 C^2 / r for the article."""
    hidden = hidden_width(channels, reduction, min_hidden)
    return 2 * channels * hidden + ((hidden + channels) if bias else 0)


def spatial_parameters(kernel_size: int = 7, bias: bool = False) -> int:
    """A 2 -> 1 conv of k x k: 2 * k * k (+ 1 bias)."""
    return conv_parameters(2, 1, kernel_size, bias)


def cbam_parameters(
    channels: int, reduction: int = 16, kernel_size: int = 7, bias: bool = True, min_hidden: int = 4
) -> int:
    """The shared MLP (as an SE block) + the spatial conv."""
    return se_parameters(channels, reduction, bias, min_hidden) + spatial_parameters(kernel_size, bias)


def dynamic_conv_parameters(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    num_kernels: int = 4,
    reduction: int = 4,
    bias: bool = True,
    groups: int = 1,
    min_hidden: int = 4,
) -> int:
    """K convs + the attention MLP I -> hidden -> K (with biases)."""
    hidden = hidden_width(in_channels, reduction, min_hidden)
    kernels = num_kernels * conv_parameters(in_channels, out_channels, kernel_size, bias, groups)
    return kernels + (in_channels * hidden + hidden) + (hidden * num_kernels + num_kernels)


def article_dynamic_conv_parameters(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    reduction: int = 16,
    bias: bool = True,
    min_hidden: int = 4,
) -> int:
    """Base conv + generator 1x1 convs I -> hidden -> O * I * k * k (with biases): 80,232,992 for 512 -> 512."""
    hidden = hidden_width(in_channels, reduction, min_hidden)
    generated = out_channels * in_channels * kernel_size * kernel_size
    return (
        conv_parameters(in_channels, out_channels, kernel_size, bias)
        + conv_parameters(in_channels, hidden, 1)
        + conv_parameters(hidden, generated, 1)
    )
