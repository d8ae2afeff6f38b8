"""Confidence intervals and significance tests for an experiment's arms (pure: numbers
in, numbers out; scipy does the distributions).

Users are what is randomized, but a metric is counted over ratings (RMSE) or over
recommended movies (hit rate), and one user contributes many of either, which are not
independent. So each arm's metric is a ratio of per-user sums, ``R = sum(S_i) / sum(N_i)``,
and its variance comes from the delta method over users (the usual analysis of
user-randomized online experiments): ``Var(R) = Var(L) / n`` with the linearized
per-user values ``L_i = (S_i - R N_i) / mean(N)``. With one rating per user this is
exactly the textbook case.

- RMSE: Welch's t-test on the linearized squared errors (``ttest_ind_from_stats``;
  with one rating per user, Welch's t-test on squared errors), comparing MSEs; its
  interval is the t-interval of the MSE, square-rooted.
- Hit rate: the two-proportion z-test with those clustered variances (the unpooled
  z-test when each user has one exposure); its interval is Wilson's, with the number of
  exposures replaced by the effective sample size ``p (1 - p) / Var(R)`` (no larger than
  the number of exposures when a user's exposures hit together).

Every arm is compared with the first (the control) on both metrics; each comparison is
significant when its p-value is below ``alpha / m`` for ``m`` comparisons (Bonferroni),
so the chance that two identical arms show any significant difference stays at most alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_USERS = 2


@dataclass(frozen=True)
class RatioEstimate:
    """A per-user ratio metric: its value, its variance, and over how many users."""

    value: float | None
    variance: float | None
    n_users: int
    numerator: float
    denominator: float

    @property
    def linearized_sd(self) -> float | None:
        return math.sqrt(self.variance * self.n_users) if self.variance is not None else None


def ratio(sums: np.ndarray, counts: np.ndarray) -> RatioEstimate:
    """``sum(sums) / sum(counts)`` over users with a count, with its delta-method variance."""
    keep = counts > 0
    s, c = np.asarray(sums, float)[keep], np.asarray(counts, float)[keep]
    n = len(c)
    if n == 0:
        return RatioEstimate(None, None, 0, 0.0, 0.0)
    value = float(s.sum() / c.sum())
    if n < MIN_USERS:
        return RatioEstimate(value, None, n, float(s.sum()), float(c.sum()))
    linearized = (s - value * c) / c.mean()
    return RatioEstimate(value, float(linearized.var(ddof=1) / n), n, float(s.sum()), float(c.sum()))


def rmse_interval(mse: RatioEstimate, alpha: float) -> tuple[float | None, float | None]:
    if mse.value is None or mse.variance is None:
        return None, None
    half = stats.t.ppf(1 - alpha / 2, mse.n_users - 1) * math.sqrt(mse.variance)
    return math.sqrt(max(mse.value - half, 0.0)), math.sqrt(mse.value + half)


def wilson_interval(rate: RatioEstimate, alpha: float) -> tuple[float | None, float | None]:
    """Wilson's interval with the effective number of exposures (see the module docstring)."""
    if rate.value is None or rate.denominator == 0:
        return None, None
    p = rate.value
    n = rate.denominator
    if rate.variance is not None and rate.variance > 0 and 0 < p < 1:
        n = min(n, p * (1 - p) / rate.variance)
    z = stats.norm.ppf(1 - alpha / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def welch_mse(arm: RatioEstimate, control: RatioEstimate) -> float | None:
    """Two-sided p-value of Welch's t-test between two arms' MSEs."""
    if None in (arm.variance, control.variance, arm.value, control.value):
        return None
    if arm.variance == 0 and control.variance == 0:
        return 1.0 if arm.value == control.value else 0.0
    result = stats.ttest_ind_from_stats(
        arm.value, arm.linearized_sd, arm.n_users, control.value, control.linearized_sd, control.n_users,
        equal_var=False,
    )
    return float(result.pvalue)


def two_proportion(arm: RatioEstimate, control: RatioEstimate) -> float | None:
    """Two-sided p-value of the two-proportion z-test with user-clustered variances."""
    if None in (arm.variance, control.variance, arm.value, control.value):
        return None
    se = math.sqrt(arm.variance + control.variance)
    if se == 0:
        return 1.0 if arm.value == control.value else 0.0
    return float(2 * stats.norm.sf(abs(arm.value - control.value) / se))


def significant(p_value: float | None, alpha: float, comparisons: int) -> bool:
    return p_value is not None and p_value < alpha / max(comparisons, 1)
