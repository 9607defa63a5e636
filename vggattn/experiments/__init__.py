"""The experiment store: every training result a notebook shows, run once by one command and committed.

    python -m vggattn experiments list             # the named experiments
    python -m vggattn experiments status           # fresh / stale / missing, per stored result
    python -m vggattn experiments run NAME [--force]

In a notebook: `result = load_or_run("se-finetune")` loads the stored result (and says where it came from),
or runs it when it is missing or stale. See `spec` (what an experiment is), `registry` (the named ones),
`store` (the committed files) and `runner` (training them).
"""

from .registry import SPECS, get_spec, spec_names
from .runner import load_or_run, run_experiment
from .spec import DataSelection, ExperimentSpec
from .store import ExperimentResult, status, store_root

__all__ = [
    "SPECS",
    "DataSelection",
    "ExperimentResult",
    "ExperimentSpec",
    "get_spec",
    "load_or_run",
    "run_experiment",
    "spec_names",
    "status",
    "store_root",
]
