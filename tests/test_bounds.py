"""Bounds and admissible counts against an independent float64 SciPy reference."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from racer_jax._src import bounds

RELATIVE_TOLERANCE = 1e-6


def reference_p_value(rule, risk, k, n):
    """SciPy p-value of "true risk >= risk" given k ones among n losses."""
    empirical = k / n
    if rule == "hoeffding":
        return math.exp(-2 * n * max(risk - empirical, 0.0) ** 2)
    bentkus = min(1.0, math.e * stats.binom.cdf(k, n, risk))
    if rule == "binomial":
        return stats.binom.cdf(k, n, risk)
    if rule == "bentkus":
        return bentkus
    if risk <= empirical:
        return bentkus
    kl = stats.entropy([empirical, 1 - empirical], [risk, 1 - risk]) if risk < 1 else math.inf
    return min(math.exp(-n * kl), bentkus)


def reference_ucb(rule, k, n, delta):
    if rule == "hoeffding":
        return min(1.0, k / n + math.sqrt(math.log(1 / delta) / (2 * n)))
    if rule == "binomial":
        return 1.0 if k == n else stats.beta.ppf(1 - delta, k + 1, n - k)
    if reference_p_value(rule, 1.0 - 1e-15, k, n) >= delta:
        return 1.0
    return optimize.brentq(
        lambda r: reference_p_value(rule, r, k, n) - delta, k / n, 1.0 - 1e-15, xtol=1e-16, rtol=1e-14, maxiter=500
    )


def counts_for(n):
    return sorted({0, 1, max(0, n // 20), n // 10, n // 2, n - 1, n})


@pytest.mark.parametrize("rule", bounds.CONFIDENCE_BOUNDS)
@pytest.mark.parametrize("n", [10, 100, 1000, 10_000, 100_000])
@pytest.mark.parametrize("delta", [0.001, 0.05, 0.5])
def test_ucb_matches_scipy(rule, n, delta):
    for k in counts_for(n):
        ours = bounds.upper_confidence_bound(rule, k, n, delta)
        expected = reference_ucb(rule, k, n, delta)
        assert ours == pytest.approx(expected, rel=RELATIVE_TOLERANCE), (rule, k, n, delta)


@pytest.mark.parametrize("rule", bounds.CONFIDENCE_BOUNDS)
@pytest.mark.parametrize("n", [10, 137, 1000, 10_000, 100_000])
@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.1, 0.5])
@pytest.mark.parametrize("delta", [0.001, 0.1, 0.5])
def test_admissible_count_matches_scipy(rule, n, alpha, delta):
    k_star = bounds.admissible_error_count(rule, n, alpha, delta)
    # k* is admissible and k* + 1 is not, under the reference p-value. Where the exact
    # p-value equals delta (e.g. P(Bin(137, 1/2) <= 68) = 1/2), float64 rounding in
    # either implementation may fall on both sides, so a relative band of 1e-9 is exempt.
    def clearly(p_value, side):
        return abs(p_value - delta) <= 1e-9 * delta or side(p_value)

    if k_star >= 0:
        assert clearly(reference_p_value(rule, alpha, k_star, n), lambda p: p < delta)
    if k_star + 1 <= n:
        assert clearly(reference_p_value(rule, alpha, k_star + 1, n), lambda p: p >= delta)


@pytest.mark.parametrize("n", [1, 9, 10, 99, 1000, 4213])
@pytest.mark.parametrize("alpha", [0.001, 0.1, 0.5, 0.99])
def test_crc_count_is_exact(n, alpha):
    k_star = bounds.admissible_error_count("crc", n, alpha)
    candidates = [k for k in range(-1, n + 1) if k == -1 or (k + 1) / (n + 1) <= alpha]
    assert k_star == max(candidates)


@pytest.mark.parametrize("rule", ["hoeffding", "bentkus", "hb", "binomial", "crc", "wsr"])
@pytest.mark.parametrize("alpha,delta", [(0.1, 0.1), (0.05, 0.01), (0.3, 0.2)])
def test_minimum_calibration_size_is_tight(rule, alpha, delta):
    n = bounds.minimum_calibration_size(rule, alpha, delta)
    if rule == "wsr":
        certify = lambda m: bounds.wsr_max_log_capital(np.zeros(m), alpha, delta) >= math.log(1 / delta)
        assert certify(n)
        assert n == 1 or not certify(n - 1)
    else:
        assert bounds.admissible_error_count(rule, n, alpha, delta) >= 0
        assert n == 1 or bounds.admissible_error_count(rule, n - 1, alpha, delta) == -1


def test_binomial_minimum_size_closed_form():
    # Zero errors certify alpha when (1 - alpha)^n < delta.
    alpha, delta = 0.1, 0.1
    assert bounds.minimum_calibration_size("binomial", alpha, delta) == math.floor(math.log(delta) / math.log(1 - alpha)) + 1


def test_tighter_bounds_admit_more_errors():
    n, alpha, delta = 2000, 0.1, 0.1
    counts = {rule: bounds.admissible_error_count(rule, n, alpha, delta) for rule in bounds.COUNT_BASED_RULES}
    assert counts["hoeffding"] <= counts["hb"] <= counts["binomial"] <= counts["crc"]
    assert counts["bentkus"] <= counts["hb"]


def test_wsr_capital_matches_direct_product():
    rng = np.random.default_rng(3)
    losses = (rng.random(50) < 0.2).astype(float)
    alpha, delta, n = 0.3, 0.1, 50
    capital, best, mean_sum, sq_sum, prev_var = 1.0, 1.0, 0.0, 0.0, 0.25
    for i, loss in enumerate(losses, start=1):
        bet = min(1.0, math.sqrt(2 * math.log(1 / delta) / (n * prev_var)))
        capital *= 1 - bet * (loss - alpha)
        best = max(best if i > 1 else capital, capital)
        mean_sum += loss
        mean = (0.5 + mean_sum) / (i + 1)
        sq_sum += (loss - mean) ** 2
        prev_var = (0.25 + sq_sum) / (i + 1)
    assert bounds.wsr_max_log_capital(losses, alpha, delta) == pytest.approx(math.log(best), rel=1e-12)


@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_levels_outside_unit_interval_rejected(value):
    with pytest.raises(ValueError, match="alpha must lie in"):
        bounds.admissible_error_count("hb", 100, value, 0.1)
