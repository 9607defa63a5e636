"""Paired statistics on synthetic runs: the verdicts the course prints follow from the intervals."""

import math

import pytest
import torch

from vggattn.stats import bootstrap_difference, mcnemar, paired_comparison, t_cdf, t_quantile


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 9, 2.262), (0.8, 2, 1.061), (0.5, 3, 0.0)],
)
def test_t_quantiles_match_the_printed_tables(p: float, df: int, expected: float) -> None:
    assert math.isclose(t_quantile(p, df), expected, abs_tol=5e-4)
    assert math.isclose(t_cdf(t_quantile(p, df), df), p, abs_tol=1e-9)
    assert math.isclose(t_quantile(1 - p, df), -t_quantile(p, df), abs_tol=1e-9)


def test_a_consistent_loss_beside_a_noisy_arm_is_worse() -> None:
    """The control swings by 10 points between seeds, the attention arm is 1 point below it in every seed: the
    unpaired spread would hide the loss, the paired differences show it."""
    control = {0: 70.0, 1: 80.0, 2: 75.0, 3: 65.0}
    attention = {seed: value - 1.0 + 0.05 * seed for seed, value in control.items()}
    result = paired_comparison(attention, control)
    low, high = result.interval
    assert high < 0 and result.verdict == "worse" and result.agree == 4
    assert "worse" in result.summary()


def test_a_small_consistent_gain_is_better_once_the_interval_excludes_0() -> None:
    control = [80.0, 80.4, 79.8, 80.1, 80.3]
    attention = [c + gain for c, gain in zip(control, [0.30, 0.25, 0.35, 0.28, 0.32])]
    result = paired_comparison(attention, control)
    assert result.interval[0] > 0 and result.verdict == "better"
    assert math.isclose(result.mean, 0.30, abs_tol=1e-9)


def test_noisy_differences_are_within_noise_with_the_detectable_difference() -> None:
    result = paired_comparison([81.45, 81.7, 81.3], [81.6, 81.75, 81.3])
    assert result.verdict == "within noise"
    low, high = result.interval
    assert low < 0 < high
    # the smallest detectable difference is (t_.975 + t_.80) * sd / sqrt(n), larger than the interval's half-width
    assert result.smallest_detectable > (high - low) / 2
    assert "detects about" in result.summary()


def test_the_interval_is_the_student_t_interval() -> None:
    differences = [1.0, 2.0, 4.0]
    result = paired_comparison(differences, [0.0, 0.0, 0.0])
    sd = math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    half = 4.302653 * sd / math.sqrt(3)
    assert math.isclose(result.sd, sd)
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(result.interval, (7 / 3 - half, 7 / 3 + half)))


def test_one_seed_gives_no_interval() -> None:
    result = paired_comparison({0: 81.0}, {0: 80.0})
    assert result.interval is None and result.verdict == "one seed: no interval"
    assert "run at least 2 seeds" in result.summary()


def test_unpaired_seeds_are_refused() -> None:
    with pytest.raises(ValueError, match="same seeds to be paired"):
        paired_comparison({0: 81.0, 1: 80.0}, {0: 80.0, 2: 80.0})
    with pytest.raises(ValueError, match="finite numbers"):
        paired_comparison([float("nan")], [80.0])


def test_mcnemar_counts_the_discordant_images() -> None:
    a = torch.tensor([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 0, 0, 1, 0, 0, 0, 1, 1], dtype=torch.bool)
    test = mcnemar(a, b)
    assert (test.only_a, test.only_b, test.images) == (5, 1, 10)
    assert math.isclose(test.difference, 40.0)
    assert math.isclose(test.p_value, 2 * (1 + 6) / 2**6)  # 2 * P(X <= 1), X ~ Binomial(6, 1/2)
    assert mcnemar(a, a).p_value == 1.0


def test_bootstrap_interval_covers_the_difference_and_shrinks_with_more_images() -> None:
    generator = torch.Generator().manual_seed(0)
    widths = []
    for images in (500, 8000):
        a = torch.rand(images, generator=generator) < 0.82
        b = torch.rand(images, generator=generator) < 0.80
        difference, (low, high) = bootstrap_difference(a, b, resamples=1000)
        assert low <= difference <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2
    with pytest.raises(ValueError, match="same test images"):
        bootstrap_difference(torch.ones(3), torch.ones(4))
