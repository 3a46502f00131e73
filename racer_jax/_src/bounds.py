r"""Finite-sample upper confidence bounds on a {0, 1} risk, in float64 NumPy.

Everything here decides a guarantee, so it runs on the host in float64 whatever the
JAX configuration is. Notation: ``n`` calibration losses $L_i \in \{0, 1\}$, of which
``k`` are ones, so $\hat R_n = k / n$; target risk $\alpha$; error level $\delta$.

Each count-based bound is a p-value $p(R; k, n)$ for the null hypothesis "true risk
$\ge R$", decreasing in $R$ and increasing in $k$:

- Hoeffding: $p = \exp(-2n(R - \hat R_n)_+^2)$.
- Bentkus: $p = e \cdot P(\mathrm{Bin}(n, R) \le k)$.
- Hoeffding–Bentkus: the smaller of $\exp(-n\,h(\hat R_n \wedge R, R))$ and the
  Bentkus p-value, with $h(a, b) = a \log\frac{a}{b} + (1-a)\log\frac{1-a}{1-b}$.
- Exact binomial (Clopper–Pearson): $p = P(\mathrm{Bin}(n, R) \le k)$, valid because the
  loss takes only the values 0 and 1.

The upper confidence bound is $R^+ = \sup\{R : p(R; k, n) \ge \delta\}$, and
$R^+ < \alpha \iff p(\alpha; k, n) < \delta$. The *admissible error count* is
$k^* = \max\{k : p(\alpha; k, n) < \delta\}$ (``-1`` when even $k = 0$ fails). The
conformal risk control rule admits $k$ when $(k + 1)/(n + 1) \le \alpha$.

References: Bates, Angelopoulos, Lei, Malik and Jordan, "Distribution-free,
risk-controlling prediction sets" (JACM 2021), section 3; Angelopoulos, Bates, Fisch,
Lei and Schuster, "Conformal risk control" (ICLR 2024).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
from scipy.special import gammaln, logsumexp

BoundRule = Literal["hoeffding", "bentkus", "hb", "binomial", "wsr", "crc"]
BOUND_RULES: tuple[str, ...] = get_args(BoundRule)
COUNT_BASED_RULES: tuple[str, ...] = ("hoeffding", "bentkus", "hb", "binomial", "crc")
CONFIDENCE_BOUNDS: tuple[str, ...] = ("hoeffding", "bentkus", "hb", "binomial")

_BISECTION_STEPS = 200


def check_level(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` unless it is a number in (0, 1)."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{name} must be a number in (0, 1) such as 0.1; got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1) such as 0.1; got {value!r}") from None
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must lie in the open interval (0, 1), for example 0.1; got {value!r}")
    return value


def check_count(k: int, n: int) -> tuple[int, int]:
    """Return ``(k, n)`` as ints, or raise unless ``0 <= k <= n`` and ``n >= 1``."""
    k, n = int(k), int(n)
    if n < 1:
        raise ValueError(f"the calibration size n must be at least 1; got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"the error count k must lie in [0, n={n}]; got {k}")
    return k, n


def log_binomial_cdf(k: int, n: int, p: float) -> float:
    r"""$\log P(\mathrm{Bin}(n, p) \le k)$, summed in log space so deep tails stay exact."""
    if k >= n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return -math.inf
    j = np.arange(k + 1, dtype=np.float64)
    log_pmf = (
        gammaln(n + 1.0)
        - gammaln(j + 1.0)
        - gammaln(n - j + 1.0)
        + j * math.log(p)
        + (n - j) * math.log1p(-p)
    )
    return float(min(0.0, logsumexp(log_pmf)))


def _kl_bernoulli(a: float, b: float) -> float:
    """Binary relative entropy h(a, b), with 0 log 0 = 0."""
    out = 0.0
    if a > 0.0:
        out += a * math.log(a / b)
    if a < 1.0:
        out += (1.0 - a) * math.log((1.0 - a) / (1.0 - b))
    return out


def log_p_value(rule: str, risk: float, k: int, n: int) -> float:
    r"""$\log p(R; k, n)$ for a count-based confidence bound, at true risk $R$ = ``risk``."""
    empirical = k / n
    if rule == "hoeffding":
        return -2.0 * n * max(risk - empirical, 0.0) ** 2
    if rule == "binomial":
        return log_binomial_cdf(k, n, risk)
    log_bentkus = min(0.0, 1.0 + log_binomial_cdf(k, n, risk))
    if rule == "bentkus":
        return log_bentkus
    if rule == "hb":
        if risk >= 1.0:
            return log_bentkus
        log_hoeffding = -n * _kl_bernoulli(min(empirical, risk), risk)
        return min(log_hoeffding, log_bentkus)
    raise ValueError(
        f"invalid confidence bound {rule!r}: expected one of "
        f"{', '.join(map(repr, CONFIDENCE_BOUNDS))}"
    )


def upper_confidence_bound(rule: str, k: int, n: int, delta: float) -> float:
    r"""$R^+ = \sup\{R \in [0, 1] : p(R; k, n) \ge \delta\}$, to about ``1e-15`` absolute.

    For any fixed threshold, $P(R \le R^+) \ge 1 - \delta$.
    """
    k, n = check_count(k, n)
    delta = check_level("delta", delta)
    if rule == "hoeffding":
        return min(1.0, k / n + math.sqrt(math.log(1.0 / delta) / (2.0 * n)))
    log_delta = math.log(delta)
    lo, hi = k / n, 1.0
    if log_p_value(rule, hi, k, n) >= log_delta:
        return 1.0
    # p is decreasing in R, so bisect on the sign of log p(R) - log delta.
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if log_p_value(rule, mid, k, n) >= log_delta:
            lo = mid
        else:
            hi = mid
    return lo


def is_admissible(rule: str, k: int, n: int, alpha: float, delta: float) -> bool:
    r"""Return whether $k$ errors out of $n$ certify risk $< \alpha$ (or $\le \alpha$ for ``"crc"``)."""
    if rule == "crc":
        return (k + 1) <= alpha * (n + 1)
    return log_p_value(rule, alpha, k, n) < math.log(delta)


@lru_cache(maxsize=4096)
def admissible_error_count(rule: str, n: int, alpha: float, delta: float = 0.1) -> int:
    r"""Largest admissible error count $k^*(n, \alpha, \delta)$, or ``-1`` if none.

    The threshold is then the $(n - k^*)$-th smallest cover score: with
    $k(\lambda) = \#\{i : c_i > \lambda\}$, $\hat\lambda$ is the smallest value with
    $k(\hat\lambda) \le k^*$. ``delta`` is ignored by ``"crc"``.
    """
    if rule not in COUNT_BASED_RULES:
        raise ValueError(
            f"invalid count-based rule {rule!r}: expected one of "
            f"{', '.join(map(repr, COUNT_BASED_RULES))} (the betting bound 'wsr' depends "
            "on the order of the losses, not only on their count)"
        )
    if isinstance(n, bool) or int(n) != n:
        raise ValueError(f"the calibration size n must be a whole number; got {n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"the calibration size n must be at least 1; got {n}")
    alpha = check_level("alpha", alpha)
    delta = check_level("delta", delta)
    if rule == "crc":
        return min(n, math.floor(alpha * (n + 1) + 1e-12) - 1)
    if not is_admissible(rule, 0, n, alpha, delta):
        return -1
    # The p-value increases with k: find the last admissible count by bisection.
    lo, hi = 0, n + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid <= n and is_admissible(rule, mid, n, alpha, delta):
            lo = mid
        else:
            hi = mid
    return lo


def wsr_max_log_capital(losses: np.ndarray, alpha: float, delta: float) -> float:
    r"""$\max_i \log K_i(\alpha)$ of the Waudby-Smith–Ramdas betting process, in float64.

    With $\hat\mu_i = (\tfrac12 + \sum_{j \le i} L_j)/(i + 1)$,
    $\hat\sigma^2_i = (\tfrac14 + \sum_{j \le i} (L_j - \hat\mu_j)^2)/(i + 1)$,
    $\nu_i = \min(1, \sqrt{2\log(1/\delta) / (n \hat\sigma^2_{i-1})})$ and
    $K_i(R) = \prod_{j \le i} (1 - \nu_j (L_j - R))$, the bound certifies $R^+ < \alpha$
    when $\max_i K_i(\alpha) \ge 1/\delta$ (Ville's inequality). Losses are taken in
    the given order.
    """
    alpha = check_level("alpha", alpha)
    delta = check_level("delta", delta)
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or losses.shape[0] < 1:
        raise ValueError(f"losses must have shape (n,) with n >= 1; got shape {losses.shape}")
    if not ((losses >= 0.0) & (losses <= 1.0)).all():
        raise ValueError("losses must lie in [0, 1] with no NaN; pass the misrouting losses 1{c_i > lambda}")
    n = losses.shape[0]
    steps = np.arange(1, n + 1, dtype=np.float64)
    mean = (0.5 + np.cumsum(losses)) / (steps + 1.0)
    var = (0.25 + np.cumsum((losses - mean) ** 2)) / (steps + 1.0)
    previous_var = np.concatenate([[0.25], var[:-1]])
    bet = np.minimum(1.0, np.sqrt(2.0 * math.log(1.0 / delta) / (n * previous_var)))
    log_capital = np.cumsum(np.log1p(-bet * (losses - alpha)))
    return float(np.max(log_capital))


def minimum_calibration_size(rule: str, alpha: float, delta: float = 0.1) -> int:
    r"""Smallest $n$ for which zero errors are admissible, i.e. calibration is feasible."""
    alpha = check_level("alpha", alpha)
    delta = check_level("delta", delta)

    def feasible(n: int) -> bool:
        if rule == "wsr":
            return wsr_max_log_capital(np.zeros(n), alpha, delta) >= math.log(1.0 / delta)
        return admissible_error_count(rule, n, alpha, delta) >= 0

    if rule not in BOUND_RULES:
        raise ValueError(
            f"invalid bound rule {rule!r}: expected one of {', '.join(map(repr, BOUND_RULES))}"
        )
    hi = 1
    while not feasible(hi):
        hi *= 2
        if hi > 10**9:
            raise ValueError(f"no calibration size below 1e9 is feasible for alpha={alpha}")
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    return hi
