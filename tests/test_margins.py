"""Lower margins of calibrated risk against scipy, a brute-force WSR scan and Monte Carlo."""

import math

import jax
import numpy as np
import pytest
from scipy import stats

from racer_jax import admissible_error_count, lambda_from_error_count, wsr_lambda, wsr_max_log_capital
from racer_jax._src import margins

COUNT_RULES = ("hoeffding", "bentkus", "hb", "binomial", "crc")
BOUND_RULES = ("hoeffding", "bentkus", "hb", "binomial")
GRID = [(n, alpha, delta) for n in (10, 37, 100, 1000, 10000) for alpha in (0.01, 0.1, 0.3) for delta in (0.01, 0.1, 0.2)]


@pytest.mark.parametrize("rule", COUNT_RULES)
def test_expected_risk_matches_beta_mean(rule):
    for n, alpha, delta in GRID:
        k = admissible_error_count(rule, n, alpha, delta)
        got = margins.expected_calibrated_risk(rule, n, alpha, delta)
        expected = 0.0 if k < 0 else stats.beta(k + 1, n - k).mean()
        assert got == pytest.approx(expected, abs=1e-15)
        assert margins.lower_margin(rule, n, alpha, delta) == pytest.approx(alpha - expected, abs=1e-15)


@pytest.mark.parametrize("rule", COUNT_RULES)
def test_violation_probability_matches_scipy(rule):
    for n, alpha, delta in GRID:
        k = admissible_error_count(rule, n, alpha, delta)
        got = margins.violation_probability(rule, n, alpha, delta)
        if k < 0:
            assert got == 0.0
            continue
        assert got == pytest.approx(stats.binom.cdf(k, n, alpha), rel=1e-10, abs=1e-300)
        assert got == pytest.approx(stats.beta(k + 1, n - k).sf(alpha), rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("rule", BOUND_RULES)
def test_violation_probability_below_delta(rule):
    for n, alpha, delta in GRID:
        assert margins.violation_probability(rule, n, alpha, delta) < delta


def test_conformal_margin_within_paper_bound():
    # Theorem 4.5 for conformal risk control: E[R] >= alpha - 2/(n+1); our exact margin is < 1/(n+1).
    for n, alpha, _ in GRID:
        if admissible_error_count("crc", n, alpha) < 0:
            continue
        margin = margins.lower_margin("crc", n, alpha)
        assert 0.0 <= margin < 1.0 / (n + 1) + 1e-15


def test_risk_quantile_matches_beta_ppf():
    for n, alpha, delta in GRID:
        k = admissible_error_count("hb", n, alpha, delta)
        got = margins.calibrated_risk_quantile("hb", n, alpha, delta, 0.05)
        expected = 0.0 if k < 0 else stats.beta(k + 1, n - k).ppf(0.05)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_dkw_bound_below_beta_quantile():
    # Both are lower bounds at the same level, and the Beta quantile is exact, so DKW must be looser.
    for n in (20, 100, 1000, 10000):
        for k in (0, n // 20, n // 10, n // 3):
            for level in (0.01, 0.1):
                dkw = margins.dkw_risk_lower_bound(k, n, level)
                assert 0.0 <= dkw <= stats.beta(k + 1, n - k).ppf(level)


def test_beta_law_by_monte_carlo():
    # Uniform cover scores: R(lam) = 1 - lam. 4000 thresholds through the library code path.
    n, alpha, delta, draws = 50, 0.2, 0.1, 4000
    k = admissible_error_count("binomial", n, alpha, delta)
    cover = jax.random.uniform(jax.random.key(3), (draws, n))
    lam = jax.vmap(lambda_from_error_count, in_axes=(0, None))(cover, k)
    risk = 1.0 - np.asarray(lam, dtype=np.float64)
    law = margins.calibrated_risk_law("binomial", n, alpha, delta)
    # Kolmogorov-Smirnov at level 1e-4 (critical value about 2.2 / sqrt(draws)).
    assert stats.kstest(risk, law.cdf).pvalue > 1e-4
    standard_error = law.std() / math.sqrt(draws)
    assert abs(risk.mean() - margins.expected_calibrated_risk("binomial", n, alpha, delta)) < 4.5 * standard_error


def test_wsr_capital_rows_match_library():
    rng = np.random.default_rng(0)
    losses = (rng.random((6, 300)) < 0.15).astype(np.float64)
    rows = margins._wsr_max_log_capital_rows(losses, 0.1, 0.05)
    for row, value in zip(losses, rows):
        assert value == pytest.approx(wsr_max_log_capital(row, 0.1, 0.05), abs=1e-12)


def test_wsr_stopping_count_matches_scan():
    rng = np.random.default_rng(1)
    n, alpha, delta = 200, 0.1, 0.1
    for _ in range(3):
        ranks = rng.permutation(n)
        expected = -1
        for j in range(n):
            if wsr_max_log_capital((ranks < j).astype(float), alpha, delta) < math.log(1 / delta):
                break
            expected = j
        assert margins.wsr_stopping_count(ranks, alpha, delta, block=7) == expected


def test_wsr_stopping_count_matches_wsr_lambda():
    # Continuous cover scores: the library's threshold has J errors, J from the ranks alone.
    n, alpha, delta = 300, 0.1, 0.1
    for seed in range(5):
        cover = jax.random.uniform(jax.random.key(seed), (n,))
        ranks = np.argsort(np.argsort(-np.asarray(cover)))
        _, errors = wsr_lambda(cover, alpha, delta)
        assert int(errors) == margins.wsr_stopping_count(ranks, alpha, delta)


def test_wsr_samples_reproducible():
    first = margins.wsr_error_count_samples(100, 0.2, 0.1, 20, seed=4)
    second = margins.wsr_error_count_samples(100, 0.2, 0.1, 20, seed=4)
    assert first.shape == (20,)
    np.testing.assert_array_equal(first, second)
    assert np.all(first >= -1)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="invalid count-based rule 'wsr'"):
        margins.expected_calibrated_risk("wsr", 100, 0.1, 0.1)
    with pytest.raises(ValueError, match="alpha must lie in"):
        margins.lower_margin("hb", 100, 1.5, 0.1)
    with pytest.raises(ValueError, match="infeasible"):
        margins.calibrated_risk_law("binomial", 5, 0.01, 0.1)
    with pytest.raises(ValueError, match="samples must be at least 1"):
        margins.wsr_error_count_samples(100, 0.1, 0.1, 0)
    with pytest.raises(ValueError, match="error count k must lie"):
        margins.dkw_risk_lower_bound(11, 10, 0.1)
    with pytest.raises(ValueError, match="at most 0.5"):
        margins.dkw_risk_lower_bound(5, 10, 0.7)
