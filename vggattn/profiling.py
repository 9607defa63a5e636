"""Measuring cost on this machine: interleaved timing, a training step on a random batch, saved activations.

Shared by the notebooks and the benchmarks (`python -m vggattn.bench`).

Timing: each round runs every action once, in turn, so a slow-down of the machine (another program, a
frequency change) hits all of them alike; the first `warmup` rounds are not kept and each action's
time is the median of the kept rounds. Compare the ratios of times taken in one call, not times
taken in different calls. Call `vggattn.allocator.retain_freed_memory()` first (the benchmarks and the
notebooks' setup do) so timed steps run as they do in training (no page faults on every step). `in_fresh_process` runs a
measurement that a process can make only once (its peak memory, a process-wide malloc setting).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from vggattn.checks import check_int

T = TypeVar("T")


def median_seconds(
    actions: Mapping[str, Callable[[], object]], repeats: int = 5, *, warmup: int = 1
) -> dict[str, float]:
    """{name: median seconds of `action()`} over `repeats` interleaved rounds after `warmup` rounds."""
    check_int("repeats", repeats)
    check_int("warmup", warmup, minimum=0)
    if not actions:
        raise ValueError("actions is empty: give at least one {name: callable} to time")
    for name, action in actions.items():
        if not callable(action):
            raise TypeError(f"action {name!r} must be callable (e.g. a lambda), got {type(action).__name__}")
    times: dict[str, list[float]] = {name: [] for name in actions}
    for round_number in range(warmup + repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            if round_number >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def timed(action: Callable[[], T]) -> tuple[float, float, T]:
    """(wall-clock seconds, CPU seconds of this process, result) of one `action()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def random_batch(batch: int, *, image_size: int = 32, num_classes: int = 10, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A random batch (x, y) for timing: x (batch, 3, image_size, image_size) ~ N(0, 1), labels in [0, num_classes)."""
    check_int("batch", batch)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, image_size, image_size, generator=generator)
    return x, torch.randint(0, num_classes, (batch,), generator=generator)


def sgd_for_timing(model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer the benchmarks time a step with: SGD, Nesterov momentum 0.9, weight decay 5e-4 (as in fit)."""
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    """One training step on a batch: zero the gradients, cross-entropy forward and backward, optimizer step."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def inference(model: nn.Module, x: torch.Tensor) -> None:
    """One forward pass in eval mode without autograd."""
    model.eval()
    with torch.inference_mode():
        model(x)


def saved_activation_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one forward pass (each storage once, no parameters)."""
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = F.cross_entropy(model(x), y)
    del loss
    return sum(storages.values())


def in_fresh_process(function: str, *args: object) -> Any:
    """`function(*args)` in a new Python process, its JSON-able result returned here.

    `function` is "module:name" (e.g. "vggattn.bench.models:measure_peak_train_memory"); `args` are
    literals (numbers, strings, bools). A failure raises RuntimeError with the process's stderr.
    """
    module, _, name = function.partition(":")
    code = f"import json, sys; from {module} import {name} as f; print(json.dumps(f(*{args!r})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"{function}{args!r} failed in a fresh process:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])
