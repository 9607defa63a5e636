"""Interleaved timing helpers shared by the benchmarks and the notebooks (no timing thresholds here)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vggattn.bench.timing import in_fresh_process, inference, median_seconds, train_step


def test_median_seconds_interleaves_rounds_and_drops_the_warmup() -> None:
    calls: list[str] = []
    seconds = median_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, warmup=2)
    assert calls == ["a", "b"] * 5  # 2 warm-up rounds + 3 kept, each running a then b
    assert set(seconds) == {"a", "b"} and all(s >= 0 for s in seconds.values())


def test_median_seconds_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="actions is empty"):
        median_seconds({}, 3)
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        median_seconds({"a": lambda: None}, 0)
    with pytest.raises(TypeError, match="action 'a' must be callable"):
        median_seconds({"a": 3}, 1)  # type: ignore[dict-item]


def test_train_step_updates_the_weights_and_inference_does_not(seed_and_one_thread: None) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0])
    before = model[1].weight.detach().clone()
    inference(model, x)
    assert torch.equal(model[1].weight, before) and not model.training
    train_step(model, optimizer, x, y)
    assert not torch.equal(model[1].weight, before) and model.training


def test_in_fresh_process_returns_the_result_or_the_child_error() -> None:
    assert in_fresh_process("math:hypot", 3, 4) == 5.0
    assert in_fresh_process("os:getpid") != __import__("os").getpid()  # another process
    with pytest.raises(RuntimeError, match=r"(?s)math:sqrt\(-1,\) failed in a fresh process:.*math domain error"):
        in_fresh_process("math:sqrt", -1)
