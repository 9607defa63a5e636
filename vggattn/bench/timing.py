"""Interleaved timing, shared by the benchmarks and the notebooks.

Each round runs every action once, in turn, so a slow-down of the machine (another program, a
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
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vggattn.checks import check_int


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
