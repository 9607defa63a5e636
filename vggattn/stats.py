"""Paired statistics: is attention better than its control, or is the difference within noise?

Two designs, one rule:

- **Seeds** (`paired_comparison`): each seed trains both arms on the same data order. The per-seed
  difference d_s = attention_s - control_s removes what the seed does to both. With n seeds,

      mean d = (1/n) sum_s d_s,      sd = sqrt(sum_s (d_s - mean d)^2 / (n - 1))
      95% interval = mean d -/+ t_{0.975, n-1} * sd / sqrt(n)        (Student t, n - 1 degrees of freedom)

  "better" when the whole interval is above 0, "worse" when below, else "within noise".
  The smallest difference the design could have detected (80% power, two-sided 5% test) is
  (t_{0.975, n-1} + t_{0.80, n-1}) * sd / sqrt(n): a true difference smaller than that is likely missed.
- **Test images** (`mcnemar`, `bootstrap_difference`): one model against another on the same test images.
  McNemar's exact test counts the images only one of them gets right; the bootstrap resamples test
  images to give an interval for the accuracy difference. Both measure test-set noise only, not seed noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .checks import check_int, check_number

VERDICTS = ("better", "worse", "within noise", "one seed: no interval")


def _t_pdf(x: float, df: int) -> float:
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with `df` degrees of freedom (Simpson's rule on the density, error < 1e-9)."""
    check_int("df", df)
    if x < 0:
        return 1.0 - t_cdf(-x, df)
    # substitute x = tan(theta) / ... : integrate the density on [0, x] in u = atan(x), smooth for any x
    upper, steps = math.atan(x), 2000
    h = upper / steps

    def f(u: float) -> float:
        return _t_pdf(math.tan(u), df) / math.cos(u) ** 2

    total = f(0.0) + f(upper) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, steps))
    return 0.5 + total * h / 3


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom: t_{0.975, 2} = 4.303, t_{0.975, 9} = 2.262.

    Bisection on `t_cdf` (about 0.1 s); cached, since every interval and detectable difference asks for the same few.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(60):  # bisection to float precision
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return (low + high) / 2


@dataclass(frozen=True)
class PairedComparison:
    """Attention minus control, seed by seed (same seed, same data order), in accuracy points."""

    differences: tuple[float, ...]
    seeds: tuple[int, ...]
    name: str = "attention"
    control_name: str = "control"

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return math.fsum(self.differences) / self.n

    @property
    def sd(self) -> float | None:
        """The standard deviation of the per-seed differences (n - 1 in the denominator); None for one seed."""
        if self.n < 2:
            return None
        return math.sqrt(math.fsum((d - self.mean) ** 2 for d in self.differences) / (self.n - 1))

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% interval of the mean difference (Student t, n - 1 degrees of freedom); None for one seed."""
        if self.sd is None:
            return None
        half = t_quantile(0.975, self.n - 1) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    @property
    def agree(self) -> int:
        """How many seeds' differences have the sign of the mean difference (0 counts as disagreeing)."""
        return sum(1 for d in self.differences if d * self.mean > 0)

    @property
    def smallest_detectable(self) -> float | None:
        """The true difference this design detects with 80% power at the 5% level, given the measured spread:
        (t_{0.975, n-1} + t_{0.80, n-1}) * sd / sqrt(n); None for one seed."""
        if self.sd is None:
            return None
        df = self.n - 1
        return (t_quantile(0.975, df) + t_quantile(0.80, df)) * self.sd / math.sqrt(self.n)

    @property
    def verdict(self) -> str:
        """ "better" / "worse" when the 95% interval excludes 0, else "within noise" (see VERDICTS)."""
        if self.interval is None:
            return "one seed: no interval"
        low, high = self.interval
        if low > 0:
            return "better"
        if high < 0:
            return "worse"
        return "within noise"

    def summary(self) -> str:
        """One line: the verdict, the mean difference, its interval, the sign agreement, the detectable difference."""
        if self.interval is None:
            return f"{self.name}: {self.mean:+.2f} points from one seed: no interval, run at least 2 seeds"
        low, high = self.interval
        text = (
            f"{self.name} minus {self.control_name}: {self.mean:+.2f} points, 95% interval [{low:+.2f}, {high:+.2f}] "
            f"({self.n} seeds, {self.agree}/{self.n} agree in sign): {self.verdict}"
        )
        if self.verdict == "within noise":
            text += f"; the design detects about {self.smallest_detectable:.2f} points (80% power)"
        return text

    def table(self) -> str:
        """Per-seed differences, then the summary."""
        rows = [f"seed {seed}: {d:+.2f}" for seed, d in zip(self.seeds, self.differences)]
        return "\n".join([*rows, self.summary()])


def paired_comparison(
    attention: dict[int, float] | Sequence[float],
    control: dict[int, float] | Sequence[float],
    *,
    name: str = "attention",
    control_name: str = "control",
) -> PairedComparison:
    """Pair the arms seed by seed: {seed: accuracy in points} (or equal-length sequences in seed order).

    Every seed must be in both arms: an unpaired seed is a ValueError, since a difference between seeds is
    not a difference between arms.
    """
    if not isinstance(attention, dict):
        attention = dict(enumerate(attention))
    if not isinstance(control, dict):
        control = dict(enumerate(control))
    if set(attention) != set(control):
        raise ValueError(
            f"the arms must have the same seeds to be paired: attention {sorted(attention)}, control "
            f"{sorted(control)}; run the missing seeds or drop them from both arms"
        )
    if not attention:
        raise ValueError("no seeds to compare: give at least one (better three) seeds per arm")
    for arm in (attention, control):
        for value in arm.values():
            check_number("an accuracy", value, hint="accuracies are finite numbers, in points")
    seeds = tuple(sorted(attention))
    return PairedComparison(tuple(attention[s] - control[s] for s in seeds), seeds, name, control_name)


# ------------------------------------------------------------------------------------- one pair of models


def _check_correct(correct_a: torch.Tensor, correct_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = torch.as_tensor(correct_a), torch.as_tensor(correct_b)
    if a.shape != b.shape or a.dim() != 1 or a.numel() == 0:
        raise ValueError(
            f"give two 1-D tensors of per-image correctness on the same test images, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a.bool(), b.bool()


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired predictions: only the images exactly one model gets right count."""

    only_a: int  # images model a gets right and b wrong
    only_b: int
    images: int

    @property
    def difference(self) -> float:
        """Accuracy of a minus b, in points."""
        return 100.0 * (self.only_a - self.only_b) / self.images

    @property
    def p_value(self) -> float:
        """Two-sided exact binomial p-value of only_a vs only_b under "equally good" (each discordant image is
        a coin flip): 2 * P(X <= min(only_a, only_b)), X ~ Binomial(only_a + only_b, 1/2), at most 1."""
        n, k = self.only_a + self.only_b, min(self.only_a, self.only_b)
        if n == 0:
            return 1.0
        tail = math.fsum(
            math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)) for i in range(k + 1)
        )
        return min(1.0, 2.0 * tail * 0.5**n)

    def summary(self) -> str:
        return (
            f"{self.difference:+.2f} points on {self.images} test images ({self.only_a} right only by the first, "
            f"{self.only_b} only by the second): McNemar p = {self.p_value:.3g}"
        )


def mcnemar(correct_a: torch.Tensor, correct_b: torch.Tensor) -> McNemar:
    """McNemar's test for two models' per-image correctness (bool tensors over the same test images)."""
    a, b = _check_correct(correct_a, correct_b)
    return McNemar(int((a & ~b).sum()), int((~a & b).sum()), a.numel())


def bootstrap_difference(
    correct_a: torch.Tensor, correct_b: torch.Tensor, *, resamples: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Accuracy of a minus b in points and its 95% percentile-bootstrap interval over test images (resampled
    with replacement, the same images for both models)."""
    a, b = _check_correct(correct_a, correct_b)
    check_int("resamples", resamples)
    generator = torch.Generator().manual_seed(seed)
    difference = (a.float() - b.float()) * 100.0
    index = torch.randint(len(difference), (resamples, len(difference)), generator=generator)
    means = difference[index].mean(dim=1).sort().values
    low, high = means[int(0.025 * resamples)].item(), means[int(0.975 * resamples) - 1].item()
    return difference.mean().item(), (low, high)
