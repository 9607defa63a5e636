"""Deployment export: DynamicConv2d's export path, torch.export and ONNX of every attention kind, bad input."""

from __future__ import annotations

import re
import sys
import warnings

import pytest
import torch
from helpers import TINY_VGG
from torch import nn

from vggattn.attention import DynamicConv2d
from vggattn.attention.kinds import ATTENTION_KINDS
from vggattn.export import (
    EXPORT_EXTRA,
    check_export,
    export_onnx,
    export_program,
    onnx_outputs,
    within_tolerance,
)
from vggattn.models import build_vgg

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")

KINDS = [None, *ATTENTION_KINDS]  # None: the plain VGG
EXPORT_BATCH = 2
BATCHES = (1, EXPORT_BATCH, 5)  # every exported graph is run at these batch sizes
IMAGES = torch.randn(max(BATCHES), 3, 32, 32, generator=torch.Generator().manual_seed(0))


def small_dynamic_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), DynamicConv2d(4, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1))


def eager(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(images)


# --- DynamicConv2d: the export path (outputs mixed) equals eager and the kernel-mixing path at any batch --------


def conv_groups(program: torch.export.ExportedProgram) -> list[object]:
    """The `groups` argument of every convolution in the exported graph."""
    positions = {torch.ops.aten.conv2d.default: 6, torch.ops.aten.convolution.default: 8}
    return [
        node.args[positions[node.target]] if len(node.args) > positions[node.target] else 1
        for node in program.graph.nodes
        if node.op == "call_function" and node.target in positions
    ]


@pytest.mark.parametrize(
    "size, stride, groups",
    [(16, 1, 1), (4, 1, 2), (4, 2, 1)],
    ids=["16x16-eager-mixes-kernels", "4x4-conv-of-K-kernels", "2x2-out-matmul"],
)
def test_dynamic_conv_export_path_equals_eager_and_kernel_mixing(size: int, stride: int, groups: int) -> None:
    module = DynamicConv2d(8, 8, 3, stride=stride, padding=1, groups=groups, temperature=1.0).eval()
    nn.init.normal_(module.fc2.weight, std=3.0)  # pi far from uniform and different per image
    program = export_program(module, torch.randn(EXPORT_BATCH, 8, size, size))
    assert all(group == groups for group in conv_groups(program))  # no B * groups: the graph runs at any B
    for batch in (1, 3, 5):
        x = torch.randn(batch, 8, size, size)
        with torch.no_grad():
            pi = module.attention(x)
            by_kernels = module._mix_kernels(x, pi) + (pi @ module.bias)[:, :, None, None]
            out, expected = program.module()(x), module(x)
        assert module._mixes_kernels(x) == (batch == 1 or size == 16)  # the eager path compared with
        assert (pi.max(dim=1).values - pi.min(dim=1).values).min() > 0.1
        assert out.shape == expected.shape == by_kernels.shape
        assert within_tolerance(out, expected, 1e-5) and within_tolerance(out, by_kernels, 1e-5)


def test_dynamic_conv_records_no_attention_while_exporting() -> None:
    module = DynamicConv2d(4, 4, 3, padding=1).eval()
    module(torch.randn(2, 4, 8, 8))
    recorded = module.last_attention
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.export warns when a module sets a tensor attribute while tracing
        torch.export.export(module, (torch.randn(2, 4, 8, 8),), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    assert module.last_attention is recorded


# --- every attention kind: torch.export of the tiny VGG with it, ONNX of one network with all of them --------------


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_torch_export_dynamic_batch_matches_eager(kind: str | None) -> None:
    model = build_vgg(**TINY_VGG, attention=kind)
    with torch.no_grad():  # one training-mode pass: BatchNorm statistics that are not (0, 1)
        model(IMAGES)
    program = export_program(model, IMAGES[:EXPORT_BATCH])
    assert model.training  # exported in eval mode, its own mode again after
    model.eval()
    for batch in BATCHES:
        out, expected = program.module()(IMAGES[:batch]), eager(model, IMAGES[:batch])
        assert within_tolerance(out, expected), (batch, (out - expected).abs().max())


def every_kind_net() -> nn.Module:
    """Every kind of `ATTENTION_KINDS` once (8 channels, 32x32 maps), then DynamicConv2d on 8x8 and 2x2 maps: in
    eager calls it mixes kernels at 32x32, runs the K kernels as one conv at 8x8, as a matmul at 2x2."""
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]
    layers += [kind.build(8, 8, {}) for kind in ATTENTION_KINDS.values()]
    for _ in range(2):
        layers += [nn.MaxPool2d(4), DynamicConv2d(8, 8, 3, padding=1)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def test_onnx_of_every_kind_dynamic_batch_matches_eager(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    model = every_kind_net()
    for module in model.modules():
        if isinstance(module, DynamicConv2d):
            module.set_temperature(1.0)  # pi far from uniform
    path = export_onnx(model, tmp_path / "every_kind.onnx", IMAGES[:EXPORT_BATCH])
    batch_dim = onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.HasField("dim_value")  # a named, dynamic batch
    assert model.training  # exported in eval mode, its own mode again after
    model.eval()
    for batch in BATCHES:
        out, expected = onnx_outputs(path, IMAGES[:batch], threads=1), eager(model, IMAGES[:batch])
        assert within_tolerance(out, expected), (batch, (out - expected).abs().max())


def test_onnx_of_the_vgg_with_dynamic_convolution() -> None:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    model = build_vgg(**TINY_VGG, attention="dynamic")
    check = check_export(model, IMAGES, backend="onnx", name="dynamic")
    assert check.exported and check.matches, check
    assert check.max_diff <= 1e-5 * check.scale and check.max_diff_other <= 1e-5 * check.scale


def test_onnx_from_an_exported_program(tmp_path) -> None:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    model = small_dynamic_net().eval()
    program = export_program(model, IMAGES[:EXPORT_BATCH])
    path = export_onnx(program, tmp_path / "small.onnx", IMAGES[:EXPORT_BATCH])  # the checked program, converted
    for batch in (1, 5):
        assert within_tolerance(onnx_outputs(path, IMAGES[:batch], threads=1), eager(model, IMAGES[:batch]))


# --- check_export: a result per export, failures included ---------------------------------------------------------


@pytest.mark.parametrize("dynamic_batch", [True, False])
def test_check_export_reports_differences(dynamic_batch: bool) -> None:
    model = small_dynamic_net().train()
    check = check_export(model, IMAGES, dynamic_batch=dynamic_batch, name="small")
    assert model.training  # its own mode again
    assert check.exported and check.matches and check.error == ""
    assert (check.name, check.backend, check.batch) == ("small", "torch.export", EXPORT_BATCH)
    assert check.max_diff <= 1e-5 * check.scale
    if dynamic_batch:
        assert check.other_batch == len(IMAGES) and check.max_diff_other <= 1e-5 * check.scale
    else:
        assert check.other_batch is None and check.max_diff_other != check.max_diff_other  # nan: not run


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x  # a branch on a value: torch.export cannot trace it


def test_check_export_reports_a_failed_export() -> None:
    check = check_export(DataDependent(), IMAGES)
    assert not check.exported and not check.matches
    assert check.error and check.max_diff != check.max_diff  # nan


# --- bad input and a missing extra -----------------------------------------------------------------------------


def test_bad_input_gets_a_clear_error(tmp_path) -> None:
    model = small_dynamic_net()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        export_program("vgg16", IMAGES[:2])
    with pytest.raises(ValueError, match=r"4-D batch \(B, C, H, W\).*unsqueeze"):
        export_program(model, IMAGES[0])
    with pytest.raises(ValueError, match="B >= 2.*dynamic_batch=False"):
        export_program(model, IMAGES[:1])
    with pytest.raises(TypeError, match="float images"):
        export_program(model, IMAGES[:2].to(torch.uint8))
    with pytest.raises(TypeError, match="dynamic_batch must be"):
        export_program(model, IMAGES[:2], dynamic_batch="yes")
    with pytest.raises(ValueError, match="backend"):
        check_export(model, IMAGES, backend="tflite")
    with pytest.raises(ValueError, match="export_batch"):
        check_export(model, IMAGES[:2], export_batch=2)
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        onnx_outputs(tmp_path / "missing.onnx", IMAGES)


@pytest.mark.parametrize("package", ["onnx", "onnxscript", "onnxruntime"])
def test_a_missing_extra_says_how_to_install_it(package: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    if package == "onnxscript":
        pytest.importorskip("onnx")  # export_onnx asks for onnx first: without it, that is the package it names
    monkeypatch.setitem(sys.modules, package, None)  # importing it now raises ImportError
    (tmp_path / "model.onnx").write_bytes(b"")  # onnx_outputs checks the file and images before the runtime
    with pytest.raises(ImportError, match=rf"'{package}'.*{re.escape(EXPORT_EXTRA)}"):
        if package == "onnxruntime":
            onnx_outputs(tmp_path / "model.onnx", IMAGES)
        else:
            export_onnx(small_dynamic_net(), tmp_path / "model.onnx", IMAGES[:2])
