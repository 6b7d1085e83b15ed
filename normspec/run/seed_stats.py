"""Statistics over seeds: a mean with its 95 % confidence interval, and the difference of two
variants with Welch's t-test, in words. numpy and :mod:`math` only (Student's t distribution
from the regularized incomplete beta function)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LEVEL = 0.95
"""The confidence level of every interval."""
ALPHA = 1 - LEVEL


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def _beta_inc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_sf_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    return _beta_inc(df / 2, 0.5, df / (df + t * t))


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile (``p`` above 0.5) of Student's t, by bisection."""
    low, high = 0.0, 1e3
    for _ in range(200):
        mid = (low + high) / 2
        if 1 - t_sf_two_sided(mid, df) / 2 < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


@dataclass(frozen=True)
class Spread:
    """A mean over seeds with its standard deviation and 95 % interval (NaN for one seed)."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    def text(self, digits: int = 4) -> str:
        if self.n == 1:
            return f"{self.mean:.{digits}f} (n = 1, no spread)"
        return (
            f"{self.mean:.{digits}f} ± {self.std:.{digits}f} (95 % CI {self.low:.{digits}f} … "
            f"{self.high:.{digits}f}, n = {self.n})"
        )


def spread(values: Sequence[float]) -> Spread:
    """Mean, sample standard deviation and the t interval of the mean of the finite values."""
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return Spread(0, math.nan, math.nan, math.nan, math.nan)
    mean = sum(finite) / n
    if n == 1:
        return Spread(1, mean, math.nan, math.nan, math.nan)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half = t_quantile(1 - ALPHA / 2, n - 1) * std / math.sqrt(n)
    return Spread(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Difference:
    """``mean(a) - mean(b)`` with its Welch 95 % interval and two-sided p-value."""

    diff: float
    low: float
    high: float
    p: float
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p) and self.p < ALPHA


def welch(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Welch's t-test of ``a`` against ``b`` (unequal variances); NaN where a group has fewer
    than two values."""
    sa, sb = spread(a), spread(b)
    diff = sa.mean - sb.mean
    if sa.n < 2 or sb.n < 2:
        return Difference(diff, math.nan, math.nan, math.nan, sa.n, sb.n)
    va, vb = sa.std**2 / sa.n, sb.std**2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return Difference(diff, diff, diff, p, sa.n, sb.n)
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    half = t_quantile(1 - ALPHA / 2, df) * se
    return Difference(diff, diff - half, diff + half, t_sf_two_sided(diff / se, df), sa.n, sb.n)


def verdict(a: str, b: str, d: Difference) -> str:
    """One line: ``a vs b: +0.0009 (95 % CI -0.0040 … +0.0060) over 5 and 5 seeds: no
    significant difference (Welch's t-test, p = 0.71)``."""
    same = "1 seed" if d.n_a == 1 else f"{d.n_a} seeds"
    seeds = same if d.n_a == d.n_b else f"{d.n_a} and {d.n_b} seeds"
    if not math.isfinite(d.p):
        return f"{a} vs {b}: {d.diff:+.4f} over {seeds}: one seed, no test"
    words = (
        f"{a} is higher" if d.significant and d.diff > 0
        else f"{b} is higher" if d.significant else "no significant difference"
    )  # fmt: skip
    return (
        f"{a} vs {b}: {d.diff:+.4f} (95 % CI {d.low:+.4f} … {d.high:+.4f}) over {seeds}: "
        f"{words} (Welch's t-test, p = {d.p:.2g})"
    )
