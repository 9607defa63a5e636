"""Interleaved timing helpers shared by the benchmarks and the notebooks (no timing thresholds here)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vggattn.profiling import in_fresh_process, inference, median_seconds, train_step


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


def test_random_batch_is_seeded_and_shaped() -> None:
    from vggattn.profiling import random_batch

    x, y = random_batch(6, seed=3)
    x2, y2 = random_batch(6, seed=3)
    assert x.shape == (6, 3, 32, 32) and y.shape == (6,) and int(y.max()) < 10
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="batch must be >= 1"):
        random_batch(0)


def test_timed_returns_wall_cpu_and_result() -> None:
    from vggattn.profiling import timed

    wall, cpu, result = timed(lambda: sum(range(1000)))
    assert result == 499500 and wall >= 0 and cpu >= 0


def test_saved_activation_bytes_counts_what_backward_keeps() -> None:
    """Linear then ReLU on a (4, 8) input: the Linear saves its input (4 x 8 floats), ReLU its output (4 x 3)."""
    from vggattn.profiling import saved_activation_bytes

    model = torch.nn.Sequential(torch.nn.Linear(8, 3), torch.nn.ReLU())
    x, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    assert 4 * (4 * 8 + 4 * 3) <= saved_activation_bytes(model, x, y) <= 1024
