"""The shared argument checks: value returned when valid, a message naming the argument otherwise."""

from __future__ import annotations

import math

import pytest

from vggattn.checks import check_choice, check_int, check_positive


def test_check_int_returns_the_value_and_honours_the_minimum() -> None:
    assert check_int("epochs", 3) == 3
    assert check_int("warmup", 0, minimum=0) == 0
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        check_int("epochs", 0)
    with pytest.raises(ValueError, match="warmup must be >= 0, got -1"):
        check_int("warmup", -1, minimum=0)


@pytest.mark.parametrize("value", [2.0, "2", True, None])
def test_check_int_rejects_what_is_not_an_int(value: object) -> None:
    with pytest.raises(TypeError, match="batch_size must be an int, got"):
        check_int("batch_size", value)


def test_check_positive() -> None:
    assert check_positive("lr", 0.1) == 0.1
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="lr must be a positive finite number"):
            check_positive("lr", bad)
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        check_positive("lr", "0.1")


def test_check_choice_lists_the_choices() -> None:
    assert check_choice("schedule", "cosine", ("onecycle", "cosine")) == "cosine"
    with pytest.raises(ValueError, match=r"schedule must be one of \('onecycle', 'cosine'\), got 'linear'"):
        check_choice("schedule", "linear", ["onecycle", "cosine"])
