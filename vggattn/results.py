"""Key figures that each notebook records for `results/summary.md`.

A notebook calls `record_figures("01_vgg16_baseline", test_accuracy=0.81)`; `make run` collects them.
"""

from __future__ import annotations

import json
from pathlib import Path

from .paths import results_dir
from .runtime import atomic_write


def _figures_file(notebook: str) -> Path:
    return results_dir() / "figures" / f"{notebook}.json"


def record_figures(notebook: str, **figures: float | int | str) -> dict:
    """Merge `figures` into `results/figures/<notebook>.json` and return everything recorded so far."""
    for name, value in figures.items():
        if not isinstance(value, (int, float, str)):
            raise TypeError(f"record_figures: {name}={value!r} is a {type(value).__name__}; record numbers or strings")
    path = _figures_file(notebook)
    recorded = read_figures(notebook)
    recorded.update(figures)
    text = json.dumps(recorded, indent=2, sort_keys=True)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return recorded


def read_figures(notebook: str) -> dict:
    """What a notebook recorded, or `{}` if it recorded nothing."""
    path = _figures_file(notebook)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def clear_figures(notebook: str) -> None:
    """Forget a notebook's figures and claims rows (the runner does this before executing it, so no stale figure
    survives)."""
    _figures_file(notebook).unlink(missing_ok=True)
    _figures_file(notebook).with_suffix(".claims.json").unlink(missing_ok=True)  # vggattn.claims.record_claims
