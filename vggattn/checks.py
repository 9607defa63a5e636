"""Argument checks shared by the whole package.

Each returns the checked value, or raises an error whose message names the argument, what it must be
and what it got: TypeError for the wrong kind of value, ValueError for a value out of range. `hint`
(optional) is appended to the message: how to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def _with(message: str, hint: str) -> str:
    return f"{message}{'; ' + hint if hint else ''}"


def check_int(name: str, value: object, *, minimum: int = 1, hint: str = "") -> int:
    """`value` if it is an int (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(_with(f"{name} must be an int, got {type(value).__name__} {value!r}", hint))
    if value < minimum:
        raise ValueError(_with(f"{name} must be >= {minimum}, got {value}", hint))
    return value


def check_int_pair(name: str, value: object, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= `minimum`, as a pair `(a, b)` (a kernel size, a stride)."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return check_int(name, pair[0], minimum=minimum), check_int(name, pair[1], minimum=minimum)


def check_bool(name: str, value: object) -> bool:
    """`value` if it is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_number(
    name: str, value: object, *, low: float | None = None, high: float | None = None, hint: str = ""
) -> float:
    """`value` if it is a finite number (not a bool) with low <= value <= high (each bound optional)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(_with(f"{name} must be a number, got {type(value).__name__} {value!r}", hint))
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(
            part for part in (f">= {low}" if low is not None else "", f"<= {high}" if high is not None else "") if part
        )
        raise ValueError(_with(f"{name} must be a finite number{' ' + bounds if bounds else ''}, got {value}", hint))
    return value


def check_positive(name: str, value: object, *, hint: str = "") -> float:
    """`value` if it is a finite number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(_with(f"{name} must be a number, got {type(value).__name__} {value!r}", hint))
    if not value > 0 or not math.isfinite(value):
        raise ValueError(_with(f"{name} must be a positive finite number, got {value}", hint))
    return value


def check_choice(name: str, value: T, choices: Iterable[object]) -> T:
    """`value` if it is one of `choices`."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
