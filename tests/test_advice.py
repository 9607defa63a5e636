"""vggattn.advice: each technique's effect is the stored run with it minus the one without it, seed by seed."""

from __future__ import annotations

import pytest

from vggattn.advice import advice_effect, advice_effects
from vggattn.experiments import ExperimentResult
from vggattn.experiments.registry import ADVICE, ADVICE_CONTROL, ADVICE_IN_CONTROL


def test_an_effect_is_with_minus_without_and_the_sign_follows_where_the_technique_is():
    control = ExperimentResult.load(ADVICE_CONTROL.name)
    control_points = {run.seed: 100 * run.final_acc for run in control.arm("attention")}
    effects = advice_effects(control=control)
    assert set(effects) == set(ADVICE) and set(ADVICE_IN_CONTROL) <= set(ADVICE)
    for technique, effect in effects.items():
        experiment = {
            run.seed: 100 * run.final_acc for run in ExperimentResult.load(ADVICE[technique].name).arm("attention")
        }
        if technique in ADVICE_IN_CONTROL:  # the control already uses it: its experiment turns it off
            assert effect.with_it == control_points and effect.without == experiment
        else:
            assert effect.with_it == experiment and effect.without == control_points
        assert effect.paired.differences == tuple(effect.with_it[s] - effect.without[s] for s in sorted(effect.with_it))
        assert effect.paired.summary().startswith(f"with {technique.replace('_', ' ')} minus without")


def test_bad_technique_names_and_unpaired_results_are_refused():
    with pytest.raises(ValueError, match="technique must be one of"):
        advice_effect("momentum")
    wrong = ExperimentResult.load(ADVICE["dropout"].name)
    with pytest.raises(ValueError, match="pairs advice-weight-decay with advice-control"):
        advice_effect("weight_decay", result=wrong)
