"""The SE article's training advice, measured: each technique's paired effect, read from the experiment store.

    effects = advice_effects()               # {technique: AdviceEffect}, the techniques of registry.ADVICE
    print(effects["dropout"].paired.summary())

Every technique is one experiment (`registry.ADVICE`) that changes one thing in `advice-control`'s fine-tune (SE
inserted the article's way into the stored baseline) and trains the same seeds: its seed-s run and the control's
start from the same network and see the same batches. The effect is the fine-tune WITH the technique minus the
one WITHOUT it, seed by seed: the experiment minus the control, except for the techniques the control's recipe
already uses (`ADVICE_IN_CONTROL`: its experiment turns the technique off), where it is the control minus the
experiment. Notebook 06 shows these effects and the claims audit (`vggattn.audit`) judges the article's advice
with them, so the two cannot disagree.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from .checks import check_choice
from .experiments import ExperimentResult
from .experiments.registry import ADVICE, ADVICE_CONTROL, ADVICE_IN_CONTROL
from .stats import PairedComparison, paired_comparison

ADVICE_CLAIMS: dict[str, tuple[str, str, str]] = {
    "differential_lr": ("6.1", "differential learning rates",
                        "a smaller lr for the pretrained backbone (1e-5) than for SE and the classifier (1e-4)"),
    "progressive_unfreezing": ("6.2", "progressive unfreezing",
                               "three stages: frozen backbone, then its last blocks, then all"),
    "dropout": ("6.3, 9.2", "more dropout", "a higher dropout rate against overfitting"),
    "weight_decay": ("6.3, 9.2", "weight decay", "weight decay against overfitting"),
    "label_smoothing": ("6.3", "label smoothing", "label smoothing against overfitting"),
    "lower_lr": ("9.1", "lower initial learning rate", "a lower initial learning rate against unstable training"),
    "gradient_clipping": ("9.1", "gradient clipping", "gradient clipping against unstable training"),
    "larger_batch": ("9.1", "larger batch", "a larger batch against unstable training"),
}  # fmt: skip
"""(section of the SE article, topic, what it advises) per technique of `registry.ADVICE`."""


@dataclass(frozen=True)
class AdviceEffect:
    """One technique: final test accuracy (points) per seed without and with it, and the paired difference."""

    technique: str
    experiment: str
    without: dict[int, float]
    with_it: dict[int, float]
    paired: PairedComparison

    @property
    def means(self) -> tuple[float, float]:
        """(mean without, mean with) over the seeds, in points."""
        return statistics.fmean(self.without.values()), statistics.fmean(self.with_it.values())


def _points(result: ExperimentResult) -> dict[int, float]:
    return {run.seed: 100 * run.final_acc for run in result.arm("attention")}


def advice_effect(
    technique: str, result: ExperimentResult | None = None, control: ExperimentResult | None = None
) -> AdviceEffect:
    """The effect of `technique` (a key of `registry.ADVICE`): its experiment paired with `advice-control`.

    `result` and `control`: the stored results, when already loaded (e.g. by `load_or_run`)."""
    check_choice("technique", technique, tuple(ADVICE))
    spec = ADVICE[technique]
    result = ExperimentResult.load(spec.name) if result is None else result
    control = ExperimentResult.load(ADVICE_CONTROL.name) if control is None else control
    if result.name != spec.name or control.name != ADVICE_CONTROL.name:
        raise ValueError(
            f"the effect of {technique} pairs {spec.name} with {ADVICE_CONTROL.name}; got {result.name} and "
            f"{control.name}"
        )
    result.comparison(control)  # checks that the two are paired: same data, insertion and seeds
    experiment, control_points = _points(result), _points(control)
    control_points = {seed: control_points[seed] for seed in experiment}
    with_it, without = (control_points, experiment) if technique in ADVICE_IN_CONTROL else (experiment, control_points)
    label = technique.replace("_", " ")
    paired = paired_comparison(with_it, without, name=f"with {label}", control_name=f"without {label}")
    return AdviceEffect(technique, spec.name, without, with_it, paired)


def advice_effects(
    results: Mapping[str, ExperimentResult] | None = None, control: ExperimentResult | None = None
) -> dict[str, AdviceEffect]:
    """{technique: AdviceEffect} for every technique of `registry.ADVICE` (`results`: {technique: result})."""
    control = ExperimentResult.load(ADVICE_CONTROL.name) if control is None else control
    results = results or {}
    return {technique: advice_effect(technique, results.get(technique), control) for technique in ADVICE}
