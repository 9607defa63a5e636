"""Where the project keeps data, caches, checkpoints and results.

Every location can be moved with an environment variable, so a course can point
all students at one shared copy:

| what        | default                  | override              |
| ----------- | ------------------------ | --------------------- |
| data        | `<project>/data`, searched after `$VGGATTN_DATA` | `VGGATTN_DATA`        |
| results     | `<project>/results`      | `VGGATTN_RESULTS`     |
| experiment store | `<project>/experiments` | `VGGATTN_EXPERIMENTS` |
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding this project's `pyproject.toml`, searched upward from `start` (default: cwd).

    Notebooks run from `notebooks/`, tests from the root: both find the same root.
    Outside a checkout (the package installed elsewhere) the current folder is used.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "vggattn"' in pyproject.read_text(encoding="utf-8"):
            return folder
    return here


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else default


def data_dir() -> Path:
    """The project's own data folder, `<project>/data`: searched after `$VGGATTN_DATA`, and where CIFAR-10 is
    downloaded when no copy is found (see `vggattn.data.find_or_download`)."""
    return project_root() / "data"


def cache_dir() -> Path:
    """Where decoded datasets are cached: always inside the project's own `data/` (never in a shared copy)."""
    return project_root() / "data" / "cache"


def experiments_dir() -> Path:
    """The experiment store: the committed results (and few models) the notebooks load (`vggattn.experiments`)."""
    return _from_env("VGGATTN_EXPERIMENTS", project_root() / "experiments")


def results_dir() -> Path:
    """Where `make run` and the notebooks write results (`summary.md`, per-notebook figures)."""
    return _from_env("VGGATTN_RESULTS", project_root() / "results")


def display_path(path: str | os.PathLike) -> str:
    """A path as notebooks print it: relative to the project root when inside it, never a machine path."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return f"<{path.name}>"


def shown_path(path: str | os.PathLike) -> str:
    """A path for an error message: relative to the project root when inside it, else as the user gave it
    (`display_path` hides machine paths for notebook outputs; a user fixing a typo needs the whole path)."""
    inside = display_path(path)
    return str(path) if inside.startswith("<") else inside
