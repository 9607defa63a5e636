"""Deployment export: a VGG with any attention kind as a `torch.export` program or an ONNX file, checked against
the eager model at the export batch size and at another one.

    program = export_program(model, images[:2])        # the batch dimension stays dynamic: runs at any B >= 1
    export_onnx(model, "vgg.onnx", images[:2])         # needs the extra: pip install -e .[export]
    logits = onnx_outputs("vgg.onnx", images)          # onnxruntime, CPU
    check_export(model, images, backend="onnx")        # ExportCheck: exported, max differences, matches, error

Models are exported in eval mode (BatchNorm with its running statistics): an exported graph is for inference.
Every attention kind exports with a dynamic batch: `DynamicConv2d` mixes outputs while exporting, since its
kernel-mixing path folds the batch into the groups of one conv (see its docstring). Needs torch >= 2.6
(`torch.compiler.is_exporting`, the dynamo ONNX exporter).
"""

from __future__ import annotations

import importlib
import math
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import nn
from torch.export import Dim, ExportedProgram

from vggattn.checks import check_bool, check_choice, check_int

EXPORT_EXTRA = "pip install -e .[export]"
"""How to install what ONNX export needs (onnx, onnxscript, onnxruntime): the `export` optional dependencies."""
BACKENDS = ("torch.export", "onnx")
TOLERANCE = 1e-4
"""An export matches eager when max |exported - eager| <= TOLERANCE * max |eager| (float32 rounding: ~1e-6)."""


def require(name: str, purpose: str) -> ModuleType:
    """Import the optional package `name`, or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"{purpose} needs the optional package {name!r}, which is not installed; "
            f"install the export extra with `{EXPORT_EXTRA}`"
        ) from error


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}; build one with build_vgg")


def _check_images(name: str, images: object, *, min_batch: int = 1, hint: str = "") -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(
            f"{name} must be a 4-D batch (B, C, H, W), got shape {tuple(images.shape)}; "
            "add a batch dimension with x.unsqueeze(0) for a single image"
        )
    if not images.is_floating_point():
        raise TypeError(f"{name} must hold float images (normalised as for training), got dtype {images.dtype}")
    if images.shape[0] < min_batch:
        raise ValueError(f"{name} must hold at least {min_batch} images, got {images.shape[0]}{hint}")
    return images


def within_tolerance(out: torch.Tensor, reference: torch.Tensor, tolerance: float = TOLERANCE) -> bool:
    """Whether max |out - reference| <= tolerance * max |reference| (and the shapes agree)."""
    return out.shape == reference.shape and bool((out - reference).abs().max() <= tolerance * reference.abs().max())


@contextmanager
def _export_context(model: object, example: object, dynamic_batch: bool) -> Iterator[tuple[dict[int, Dim]] | None]:
    """Check the arguments, put `model` in eval mode (its own mode again after), yield the `dynamic_shapes`
    (batch B dynamic, any B >= 1, or None: all fixed).

    The attention modules record no `last_gate` / `last_attention` while exporting (`is_exporting`), so
    torch.export has no tensor attribute assignment to warn about.
    """
    if not hasattr(torch.compiler, "is_exporting"):  # DynamicConv2d's export path needs it
        raise RuntimeError(f"vggattn.export needs torch >= 2.6, this is torch {torch.__version__}; upgrade torch")
    _check_model(model)
    hint = "; a dynamic batch is traced at B >= 2 (torch.export fixes a size-1 dimension), or pass dynamic_batch=False"
    _check_images("example", example, min_batch=2 if check_bool("dynamic_batch", dynamic_batch) else 1, hint=hint)
    training = model.training
    model.eval()
    try:
        yield ({0: Dim("batch", min=1)},) if dynamic_batch else None
    finally:
        model.train(training)


def export_program(model: nn.Module, example: torch.Tensor, dynamic_batch: bool = True) -> ExportedProgram:
    """`torch.export` of `model` (in eval mode) for inputs shaped like `example` (B, C, H, W).

    With `dynamic_batch` the batch size is a symbol: `program.module()(x)` runs for any B >= 1, else only at
    `example`'s B. The model's own train/eval mode is restored afterwards.
    """
    with _export_context(model, example, dynamic_batch) as shapes:
        return torch.export.export(model, (example,), dynamic_shapes=shapes)


def export_onnx(
    model: nn.Module | ExportedProgram, path: str | Path, example: torch.Tensor, dynamic_batch: bool = True
) -> Path:
    """Write `model` as one self-contained ONNX file at `path` (the dynamo exporter, weights inside); returns it.

    Exported in eval mode, the batch dynamic with `dynamic_batch` (any B >= 1), else fixed at `example`'s.
    `model` may also be a program from `export_program`: converted as it is (`dynamic_batch` is then unused).
    """
    require("onnx", "export_onnx")
    require("onnxscript", "export_onnx")  # the dynamo exporter's op library
    if isinstance(model, ExportedProgram):  # its dynamic shapes are its own
        _check_images("example", example)
        context = nullcontext()
    else:
        context = _export_context(model, example, dynamic_batch)
    with context as shapes:  # verbose=False: no progress lines on stdout
        program = torch.onnx.export(
            model, (example,), dynamo=True, dynamic_shapes=shapes, verbose=False, external_data=False
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(path)
    return path


def onnx_outputs(path: str | Path, images: torch.Tensor, *, threads: int | None = None) -> torch.Tensor:
    """The outputs of the ONNX model at `path` for `images` (B, C, H, W), run by onnxruntime on the CPU.

    `threads`: onnxruntime's intra-op threads (None: its default, one per core).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX file at {path}; write one with export_onnx(model, path, example)")
    _check_images("images", images)
    ort = require("onnxruntime", "onnx_outputs")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = check_int("threads", threads)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (onnx_input,) = session.get_inputs()
    (output,) = session.run(None, {onnx_input.name: images.detach().cpu().numpy()})
    return torch.from_numpy(output)


@dataclass(frozen=True)
class ExportCheck:
    """One export checked against eager: max |exported - eager| at the export batch and at another batch size
    (a table row: `dataclasses.asdict(check)`)."""

    name: str  # the variant (attention kind, or "plain")
    backend: str  # "torch.export" or "onnx"
    dynamic_batch: bool
    exported: bool
    batch: int  # the export batch size
    other_batch: int | None  # the other batch size compared (None: a fixed batch, compared at `batch` only)
    scale: float  # max |eager output| at the export batch
    max_diff: float  # max |exported - eager| at `batch`; nan when not run
    max_diff_other: float  # at `other_batch`; nan when not run
    matches: bool  # every compared run within TOLERANCE * scale
    error: str = ""  # the first line of the error; "" when none


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


def check_export(
    model: nn.Module,
    images: torch.Tensor,
    *,
    backend: str = "torch.export",
    export_batch: int = 2,
    dynamic_batch: bool = True,
    name: str = "",
) -> ExportCheck:
    """Export `model` with `images[:export_batch]`, then compare with eager at that batch and (dynamic batch only)
    at all of `images`. A failed export or run is a result: exported or matches False, and its error text."""
    _check_model(model)
    check_choice("backend", backend, BACKENDS)
    check_int("export_batch", export_batch, minimum=2 if check_bool("dynamic_batch", dynamic_batch) else 1)
    _check_images("images", images, min_batch=export_batch + 1, hint=" (export_batch + 1: another batch size)")
    batches = [images[:export_batch], images] if dynamic_batch else [images[:export_batch]]
    with _export_context(model, batches[0], dynamic_batch), torch.no_grad():  # eval mode
        eager = [model(batch) for batch in batches]
    scale, diffs, matches, error = eager[0].abs().max().item(), [math.nan, math.nan], True, ""
    with tempfile.TemporaryDirectory() as folder:
        try:
            if backend == "torch.export":
                run = export_program(model, batches[0], dynamic_batch).module()
            else:
                path = export_onnx(model, Path(folder) / "model.onnx", batches[0], dynamic_batch)
                run = lambda batch: onnx_outputs(path, batch)  # noqa: E731
        except Exception as failure:  # an exporter's error is a result here, not a crash
            error = _first_line(failure)
            return ExportCheck(name, backend, dynamic_batch, False, export_batch, None, scale, *diffs, False, error)
        for index, (batch, reference) in enumerate(zip(batches, eager)):
            try:
                with torch.no_grad():
                    out = run(batch)
                diffs[index] = (out - reference).abs().max().item()
                matches &= within_tolerance(out, reference)
            except Exception as failure:
                matches, error = False, error or _first_line(failure)
    other = len(images) if dynamic_batch else None
    return ExportCheck(name, backend, dynamic_batch, True, export_batch, other, scale, *diffs, matches, error)


def check_variants(
    kinds: Iterable[str | None] | None = None,
    *,
    model_config: dict | None = None,
    backends: Iterable[str] = BACKENDS,
    dynamic_batch: bool = True,
    export_batch: int = 2,
    other_batch: int = 5,
    seed: int = 0,
) -> list[ExportCheck]:
    """`check_export` of a VGG with each attention kind (None: the plain VGG; default: plain and every kind),
    `build_vgg(**model_config, attention=kind)` (default `BASELINE`) from `seed`, on `other_batch` random
    32x32 images."""
    from vggattn.attention.kinds import ATTENTION_KINDS
    from vggattn.finetune import BASELINE
    from vggattn.models import build_vgg

    config = dict(BASELINE if model_config is None else model_config)
    images = torch.randn(other_batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    checks = []
    for kind in [None, *ATTENTION_KINDS] if kinds is None else kinds:
        torch.manual_seed(seed)
        model = build_vgg(**config, attention=kind)
        options = dict(export_batch=export_batch, dynamic_batch=dynamic_batch, name=kind or "plain")
        checks += [check_export(model, images, backend=backend, **options) for backend in backends]
    return checks
