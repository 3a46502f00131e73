r"""How far below $\alpha$ a calibrated threshold's risk can fall: the lower margins of Theorem 4.5.

Let the calibration cover scores $c_1, \dots, c_n$ be i.i.d. with a **continuous** law and
survival function $R(\lambda) = P(c > \lambda)$, the risk of the threshold $\lambda$. A
count-based rule with admissible error count $k^*$ sets $\hat\lambda$ to the
$(k^* + 1)$-th largest cover score. The values $U_i = R(c_i)$ are i.i.d. uniform on
$(0, 1)$ and $R$ is decreasing, so $R(\hat\lambda)$ is the $(k^* + 1)$-th smallest of
them:

$$R(\hat\lambda) \sim \mathrm{Beta}(k^* + 1,\; n - k^*), \qquad
E[R(\hat\lambda)] = \frac{k^* + 1}{n + 1}, \qquad
P(R(\hat\lambda) > \alpha) = P(\mathrm{Bin}(n, \alpha) \le k^*).$$

The *lower margin* is $\alpha - E[R(\hat\lambda)]$, so $E[R(\hat\lambda)] = \alpha - $ margin.
For the conformal rule $k^* = \lfloor \alpha (n + 1) \rfloor - 1$ gives a margin below
$1/(n + 1)$, inside the bound $E[R(\hat\lambda)] \ge \alpha - 2/(n + 1)$. When the law of
$c$ has atoms, $R(\hat\lambda)$ is stochastically smaller than this Beta law (so the upper
guarantee still holds) and its mean can fall below $(k^* + 1)/(n + 1)$ by at most the
expected atom mass at $\hat\lambda$.

A one-sided DKW inequality (Massart's constant) gives a bound in probability that needs no
Beta function: $P\big(R(\hat\lambda) < k^*/n - \varepsilon\big) \le e^{-2 n \varepsilon^2}$
whenever the right-hand side is at most 1/2.

The betting rule ``"wsr"`` stops at a random error count $J$. Under a continuous law the
losses at each candidate threshold depend only on the ranks of the cover scores in
calibration order, which are a uniform random permutation independent of the sorted
values. So $J$ has a distribution-free law, $R(\hat\lambda) \mid J \sim \mathrm{Beta}(J + 1, n - J)$
and $E[R(\hat\lambda)] = E[(J + 1)/(n + 1)]$; :func:`wsr_error_count_samples` samples $J$.

Everything here runs on the host in float64.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from . import bounds


def _check_rule_inputs(rule: str, n: int, alpha: float, delta: float) -> tuple[int, float, float]:
    if rule not in bounds.COUNT_BASED_RULES:
        raise ValueError(
            f"invalid count-based rule {rule!r}: expected one of "
            f"{', '.join(map(repr, bounds.COUNT_BASED_RULES))}; for 'wsr' use "
            "wsr_error_count_samples"
        )
    n = int(n)
    if n < 1:
        raise ValueError(f"the calibration size n must be at least 1; got {n}")
    return n, bounds.check_level("alpha", alpha), bounds.check_level("delta", delta)


def expected_calibrated_risk(rule: str, n: int, alpha: float, delta: float = 0.1) -> float:
    r"""$E[R(\hat\lambda)] = (k^* + 1)/(n + 1)$ under a continuous cover-score law.

    Returns 0 when calibration is infeasible ($k^* = -1$): the all-inclusive threshold
    has risk exactly 0. ``delta`` is ignored by ``"crc"``.
    """
    n, alpha, delta = _check_rule_inputs(rule, n, alpha, delta)
    k_star = bounds.admissible_error_count(rule, n, alpha, delta)
    if k_star < 0:
        return 0.0
    return (k_star + 1) / (n + 1)


def lower_margin(rule: str, n: int, alpha: float, delta: float = 0.1) -> float:
    r"""Lower margin $\alpha - E[R(\hat\lambda)]$ of a count-based rule under a continuous law.

    For ``"crc"`` it is below $1/(n + 1)$ whenever calibration is feasible; for the
    confidence-bound rules it shrinks like $\sqrt{\alpha(1 - \alpha)\log(1/\delta)/n}$.

    **Example:**

    >>> round(lower_margin("crc", 99, 0.1), 6)
    0.01
    """
    n, alpha, delta = _check_rule_inputs(rule, n, alpha, delta)
    return alpha - expected_calibrated_risk(rule, n, alpha, delta)


def calibrated_risk_law(rule: str, n: int, alpha: float, delta: float = 0.1):
    r"""Return the law $\mathrm{Beta}(k^* + 1, n - k^*)$ of $R(\hat\lambda)$ as a frozen ``scipy.stats`` distribution.

    Raises ``ValueError`` when calibration is infeasible, because the risk is then the
    constant 0 rather than a Beta variable.
    """
    n, alpha, delta = _check_rule_inputs(rule, n, alpha, delta)
    k_star = bounds.admissible_error_count(rule, n, alpha, delta)
    if k_star < 0:
        raise ValueError(
            f"calibration with rule {rule!r} is infeasible at n={n}, alpha={alpha}, "
            f"delta={delta}: the risk is the constant 0; use a larger n"
        )
    return stats.beta(k_star + 1, n - k_star)


def violation_probability(rule: str, n: int, alpha: float, delta: float = 0.1) -> float:
    r"""$P(R(\hat\lambda) > \alpha) = P(\mathrm{Bin}(n, \alpha) \le k^*)$ under a continuous law.

    For a law with atoms this is an upper bound. It is below ``delta`` for every
    confidence-bound rule; 0 when calibration is infeasible.
    """
    n, alpha, delta = _check_rule_inputs(rule, n, alpha, delta)
    k_star = bounds.admissible_error_count(rule, n, alpha, delta)
    if k_star < 0:
        return 0.0
    return math.exp(bounds.log_binomial_cdf(k_star, n, alpha))


def calibrated_risk_quantile(rule: str, n: int, alpha: float, delta: float, level: float) -> float:
    r"""Return the ``level`` quantile $q$ of $R(\hat\lambda)$, with $P(R(\hat\lambda) < q) = $ ``level`` under a continuous law."""
    level = bounds.check_level("level", level)
    n, alpha, delta = _check_rule_inputs(rule, n, alpha, delta)
    if bounds.admissible_error_count(rule, n, alpha, delta) < 0:
        return 0.0
    return float(calibrated_risk_law(rule, n, alpha, delta).ppf(level))


def dkw_risk_lower_bound(error_count: int, n: int, level: float) -> float:
    r"""$k^*/n - \sqrt{\log(1/\text{level}) / (2n)}$, below $R(\hat\lambda)$ with probability $\ge 1 - $ ``level``.

    One-sided DKW inequality with Massart's constant, valid for any continuous cover-score
    law when ``level`` is at most 1/2; clipped at 0. It is looser than
    :func:`calibrated_risk_quantile` but needs no Beta function.
    """
    error_count, n = bounds.check_count(error_count, n)
    level = bounds.check_level("level", level)
    if level > 0.5:
        raise ValueError(
            f"level must be at most 0.5 for the one-sided DKW inequality; got {level}"
        )
    return max(0.0, error_count / n - math.sqrt(math.log(1.0 / level) / (2.0 * n)))


def _wsr_max_log_capital_rows(losses: np.ndarray, alpha: float, delta: float) -> np.ndarray:
    """Row-wise :func:`bounds.wsr_max_log_capital` for a ``(rows, n)`` float64 loss matrix."""
    n = losses.shape[1]
    steps = np.arange(1, n + 1, dtype=np.float64)
    mean = (0.5 + np.cumsum(losses, axis=1)) / (steps + 1.0)
    var = (0.25 + np.cumsum((losses - mean) ** 2, axis=1)) / (steps + 1.0)
    previous_var = np.concatenate([np.full((losses.shape[0], 1), 0.25), var[:, :-1]], axis=1)
    bet = np.minimum(1.0, np.sqrt(2.0 * math.log(1.0 / delta) / (n * previous_var)))
    return np.max(np.cumsum(np.log1p(-bet * (losses - alpha)), axis=1), axis=1)


def wsr_stopping_count(ranks: np.ndarray, alpha: float, delta: float, block: int = 32) -> int:
    r"""Error count $J$ at the WSR threshold when calibration item $i$ has descending rank ``ranks[i]``.

    ``ranks`` is a permutation of ``0 .. n - 1`` (rank 0 is the largest cover score). At the
    $j$-th largest score the losses are $1\{\text{rank}_i < j\}$; the scan goes $j = 0, 1, \dots$
    and stops at the first $j$ that is not certified, so $J = j - 1$ (``-1`` when even
    $j = 0$ fails). The capital is the float64 one of :func:`bounds.wsr_max_log_capital`,
    evaluated for ``block`` values of $j$ at a time.
    """
    ranks = np.asarray(ranks)
    n = ranks.shape[0]
    threshold = math.log(1.0 / delta)
    for first in range(0, n, block):
        counts = np.arange(first, min(first + block, n))
        losses = (ranks[None, :] < counts[:, None]).astype(np.float64)
        failed = np.flatnonzero(_wsr_max_log_capital_rows(losses, alpha, delta) < threshold)
        if failed.size:
            return int(counts[failed[0]]) - 1
    return n - 1


def wsr_error_count_samples(n: int, alpha: float, delta: float, samples: int, seed: int = 0) -> np.ndarray:
    r"""``samples`` independent draws of the WSR stopping count $J$ under a continuous law, shape ``(samples,)``.

    The law of $J$ depends only on $(n, \alpha, \delta)$, so uniform random permutations
    suffice. $E[R(\hat\lambda)] = E[(J + 1)/(n + 1)]$ (0 for the draws with $J = -1$).
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"the calibration size n must be at least 1; got {n}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1; got {samples}")
    alpha = bounds.check_level("alpha", alpha)
    delta = bounds.check_level("delta", delta)
    rng = np.random.default_rng([seed, n])
    return np.array([wsr_stopping_count(rng.permutation(n), alpha, delta) for _ in range(samples)])


__all__ = [
    "calibrated_risk_law",
    "calibrated_risk_quantile",
    "dkw_risk_lower_bound",
    "expected_calibrated_risk",
    "lower_margin",
    "violation_probability",
    "wsr_error_count_samples",
    "wsr_stopping_count",
]
