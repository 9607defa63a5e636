"""The committed experiment store: `experiments/NAME/result.json` (+ `model.pt`) per named experiment.

`result.json` holds everything the notebooks plot and assert: the spec and its hash, every run's history
(arm, seed, accuracy at the start and after each evaluated epoch), the added parameters, the accuracy of the
start model, and the provenance. `model.pt` is the one trained model a notebook shows (a `save_checkpoint`
file: `model_from_checkpoint` rebuilds it).

A stored result is **fresh** when its spec hash equals the registered spec's (and, for a fine-tune, its
start model is the one stored now), **stale** when the spec changed, **missing** when never run here.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import paths
from ..checkpoints import model_from_checkpoint
from ..finetune import Comparison, FinetuneRun
from ..history import History
from ..runtime import atomic_write
from .provenance import describe_data
from .registry import get_spec
from .spec import ExperimentSpec

RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
STATES = ("fresh", "stale", "missing")


def store_root() -> Path:
    """`<project>/experiments`, or `$VGGATTN_EXPERIMENTS` (the tests use a temporary store)."""
    return paths.experiments_dir()


def result_folder(name: str) -> Path:
    return store_root() / name


def refresh_command(name: str) -> str:
    return f"python -m vggattn experiments run {name} --force"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def current_hash(spec: ExperimentSpec) -> str:
    """The spec's hash now, with the current hash of the experiment it starts from (recursively)."""
    start_hash = current_hash(get_spec(spec.start_from)) if spec.start_from else None
    return spec.spec_hash(start_hash)


def read_record(name: str) -> dict[str, Any] | None:
    """The stored `result.json` of `name` as a dict, or None when there is none."""
    path = result_folder(name) / RESULT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{paths.display_path(path)} is not readable JSON ({error}); restore it with "
            f"`git checkout -- {paths.display_path(path)}` or recompute it with `{refresh_command(name)}`"
        ) from None


def status(spec: ExperimentSpec) -> tuple[str, str]:
    """("fresh" | "stale" | "missing", the reason in words)."""
    record = read_record(spec.name)
    if record is None:
        return "missing", f"{spec.name} has no stored result in {paths.display_path(result_folder(spec.name))}"
    wanted = current_hash(spec)
    if record.get("spec_hash") != wanted:
        changed = _changed_fields(record.get("spec", {}), spec.as_dict())
        if changed:
            what = f" ({', '.join(changed)} changed)"
        elif spec.start_from:
            what = f" (the spec it starts from, {spec.start_from}, changed: refresh that first)"
        else:
            what = ""
        return "stale", (
            f"{spec.name} is stale: its stored spec hash {record.get('spec_hash')} is not the registered spec's "
            f"{wanted}{what}"
        )
    if spec.start_from:
        start = read_record(spec.start_from)
        if start is None or start.get("model_sha256") != record.get("start_model_sha256"):
            return "stale", f"{spec.name} is stale: it started from another {spec.start_from} model than the stored one"
    if record.get("model_file") and not (result_folder(spec.name) / record["model_file"]).is_file():
        return "stale", f"{spec.name} is stale: its model file {record['model_file']} is missing"
    return "fresh", f"{spec.name} is fresh (spec {wanted})"


def _changed_fields(stored: dict, current: dict, prefix: str = "") -> list[str]:
    changed = []
    for key in sorted(set(stored) | set(current)):
        old, new = stored.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_fields(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return changed


def write_record(name: str, record: dict[str, Any]) -> Path:
    path = result_folder(name) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@dataclass(frozen=True)
class ExperimentResult:
    """A stored result, as the notebooks use it: runs, histories, the comparison, the saved model."""

    spec: ExperimentSpec
    record: dict[str, Any]

    @classmethod
    def load(cls, name: str) -> ExperimentResult:
        spec = get_spec(name)
        record = read_record(name)
        if record is None:
            raise FileNotFoundError(f"{name} has no stored result: run `python -m vggattn experiments run {name}`")
        return cls(spec, record)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def provenance(self) -> dict[str, Any]:
        return self.record["provenance"]

    @cached_property
    def runs(self) -> list[FinetuneRun]:  # read once: arm(), run() and the notebooks ask for it many times
        return [
            FinetuneRun(run["arm"], run["seed"], _number(run["start_acc"]), History.from_dicts(run["history"]))
            for run in self.record["runs"]
        ]

    def arm(self, arm: str) -> list[FinetuneRun]:
        """The runs of one arm ("attention" or "plain"), in seed order."""
        runs = [run for run in self.runs if run.arm == arm]
        if not runs:
            raise ValueError(f"{self.name} has no {arm!r} runs; its arms are {list(self.spec.run_arms)}")
        return runs

    def run(self, arm: str, seed: int) -> FinetuneRun:
        for run in self.arm(arm):
            if run.seed == seed:
                return run
        raise ValueError(f"{self.name} has no {arm!r} run with seed {seed}; its seeds are {list(self.spec.seeds)}")

    @property
    def final_acc(self) -> float:
        """The final test accuracy of the first run (a "train" experiment has one run per seed)."""
        return self.runs[0].final_acc

    @property
    def start_acc(self) -> float | None:
        """A fine-tune's start model, scored on this experiment's test selection (None otherwise)."""
        return _number(self.record.get("start_acc"))

    def comparison(self, control: ExperimentResult | None = None) -> Comparison:
        """The attention arm against its control: the spec's `control` experiment's plain runs when it names one,
        else `control`'s plain arm, else this experiment's own plain arm (same seeds, data order and recipe).

        With `control_arm="attention"` the control is the control experiment's attention runs (relabelled
        "plain" in the `Comparison`): the same attention, data and seeds, trained without this spec's change of
        recipe or head; the comparison is labelled with the two experiments' names."""
        if control is None and self.spec.control is not None:
            control = ExperimentResult.load(self.spec.control)
        plain_from = control if control is not None else self
        control_arm = self.spec.control_arm if control is not None else "plain"
        same = ("data",) if control_arm == "attention" else ("data", "recipe")
        if control_arm == "attention":
            same += ("start_from", "attention", "attention_options", "placement", "near_identity")
        if control is not None:
            for what in same:
                if getattr(control.spec, what) != getattr(self.spec, what):
                    raise ValueError(f"{control.name} used another {what} than {self.name}: not a paired control")
            missing = sorted(set(self.spec.seeds) - set(control.spec.seeds))
            if missing:
                raise ValueError(f"{control.name} has no runs with the seeds {missing} of {self.name}: not paired")
        baseline_acc = self.start_acc if self.start_acc is not None else math.nan
        if control_arm == "attention":
            control_runs = tuple(replace(run, arm="plain") for run in control.arm("attention"))
            label, control_label = self.name, control.name
        else:
            control_runs = tuple(plain_from.arm("plain"))
            label = self.spec.attention if self.spec.near_identity else f"{self.spec.attention} (article init)"
            control_label = "plain"
        seeds = set(self.spec.seeds)
        return Comparison(
            label,
            baseline_acc,
            tuple(self.arm("attention")) + tuple(run for run in control_runs if run.seed in seeds),
            self.record.get("added_parameters", 0),
            control_label,
        )

    def model(self, device: str | torch.device = "cpu") -> nn.Module:
        """The stored model (eval mode): the saved seed's attention arm, or the trained network."""
        if not self.record.get("model_file"):
            raise ValueError(f"{self.name} stores no model (its spec has saved_seed=None)")
        path = result_folder(self.name) / self.record["model_file"]
        return model_from_checkpoint(path, map_location=device).eval()

    def describe(self) -> str:
        """One line: where the result came from and how to recompute it."""
        p = self.provenance
        minutes = p["wall_seconds"] / 60
        took = f"{minutes:.0f} min" if minutes >= 1 else f"{p['wall_seconds']:.0f} s"
        return (
            f"{self.name}: loaded from {paths.display_path(result_folder(self.name))}/ (spec {p['spec_hash']}), "
            f"computed on {p['cpu_model']} ({p['threads']} threads, {p['device']}, {p['precision']}) in {took} "
            f"on {p['date'][:10]} by `{p['command']}`, on {describe_data(p['data_source'])}"
        )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
