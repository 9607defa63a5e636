"""Where and how a run computes: the device, the seeds, the precision policy, evaluation mode, atomic writes.

`pick_device("auto")` (CUDA, then MPS, then CPU); `seed_everything(seed)`; `autocast_dtype(device, "auto")`
(bf16 only where the hardware computes it natively); `evaluating(model)` (eval mode without autograd, each
module's mode restored); `atomic_write(path, write)` (a temporary file in the same folder, then `os.replace`:
a reader never sees half a file).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checks import check_choice, check_int


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """`"auto"`: CUDA if available, then Apple MPS, then CPU; any other name is checked and returned."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'auto', 'cpu' or 'cuda', got {type(device).__name__}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r} is not a torch device name; use 'auto', 'cpu', 'cuda' or 'mps'") from error
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(chosen.type, True):
        raise ValueError(f"device {device!r} was asked for but is not available on this machine; use device='auto'")
    return chosen


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def seed_everything(seed: int, *, deterministic: bool | None = None) -> None:
    """Seed Python's `random`, NumPy and torch (CPU and every GPU) with `seed`.

    What this makes reproducible: on CPU, the same seed, machine, torch version and thread count
    (`torch.get_num_threads()`) give bit-identical training, because PyTorch's CPU kernels are deterministic
    for a fixed thread count. What it does not: results differ across machines (another CPU instruction set
    rounds differently), torch versions and thread counts. On CUDA, cuDNN picks algorithms that may use
    atomics; `deterministic=True` calls `torch.use_deterministic_algorithms(True)` (an error for any op
    without a deterministic kernel) and turns cuDNN benchmarking off. `deterministic=None` leaves that
    global switch as it is.
    """
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic is not None:
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it to be deterministic
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.benchmark = not deterministic


MIXED_PRECISION = (False, True, "auto")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of x86 CPUs that compute bf16 natively


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux's /proc/cpuinfo lists them (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:  # not Linux
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively: a CUDA GPU that supports it, or a CPU whose flags (Linux's
    /proc/cpuinfo) list AVX512-BF16 or AMX-BF16. Elsewhere False: there bf16 would be emulated, slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return not cpu_flags().isdisjoint(CPU_BF16_FLAGS)


def autocast_dtype(device: torch.device, mixed_precision: bool | str) -> torch.dtype | None:
    """The autocast dtype `fit` trains with; None means float32.

    True: bf16 on CPU and on GPUs that support it, else fp16 on CUDA (with a GradScaler). "auto": bf16 where
    `native_bf16(device)`, else None. False: None.
    """
    check_choice("mixed_precision", mixed_precision, MIXED_PRECISION)
    if mixed_precision == "auto":
        return torch.bfloat16 if native_bf16(device) else None
    if not mixed_precision:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16
    raise ValueError(
        f"mixed precision is supported on 'cpu' (bf16) and 'cuda' here, not on {device.type!r}: "
        f"set mixed_precision=False"
    )


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run `model` in eval mode without autograd, then give each module back its own train/eval mode
    (a frozen BatchNorm that `fit` keeps in eval mode stays there)."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes.items():
            module.training = training


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it over `path` (never a partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
