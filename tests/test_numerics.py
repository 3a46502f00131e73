"""Numerics: thresholds and bounds against float64 references, low-precision scores, reproducibility."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from racer_jax import (
    augment_scores,
    augmented_truth,
    calibrate,
    cover_scores,
    lambda_from_error_count,
    nonconformity_scores,
    prediction_sets,
    simulate_trials,
    wsr_lambda,
)
from racer_jax._src import bounds
from racer_jax._src.calibration import InfeasibleCalibrationWarning

LOW_PRECISION = [jnp.float32, jnp.bfloat16, jnp.float16]


def router_problem(seed: int, n: int = 400, k: int = 5):
    """Router probabilities with many near-ties, and correctness drawn from them."""
    rng = np.random.default_rng(seed)
    probs = rng.beta(0.7, 0.7, size=(n, k))
    correct = rng.random((n, k)) < probs
    return probs, correct


# --- bounds against scipy --------------------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(1, 0), (1, 1), (10, 0), (10, 3), (100, 7), (1000, 95), (5000, 4999)])
@pytest.mark.parametrize("delta", [0.01, 0.1, 0.5])
def test_binomial_bound_equals_clopper_pearson(n, k, delta):
    expected = 1.0 if k == n else stats.beta.ppf(1.0 - delta, k + 1, n - k)
    assert bounds.upper_confidence_bound("binomial", k, n, delta) == pytest.approx(
        expected, rel=1e-10, abs=1e-14
    )


@pytest.mark.parametrize("n, k", [(10, 3), (100, 7), (1000, 95)])
def test_bentkus_p_value_equals_scipy(n, k):
    for risk in (0.05, 0.1, 0.3):
        expected = min(1.0, math.e * stats.binom.cdf(k, n, risk))
        assert math.exp(bounds.log_p_value("bentkus", risk, k, n)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("rule", ["binomial", "bentkus", "hoeffding", "hb"])
@pytest.mark.parametrize("n", [20, 137, 2000])
def test_admissible_count_equals_scipy_scan(rule, n):
    alpha, delta = 0.1, 0.1

    def p_value(k):
        empirical = k / n
        hoeffding = math.exp(-2.0 * n * max(alpha - empirical, 0.0) ** 2)
        bentkus = min(1.0, math.e * stats.binom.cdf(k, n, alpha))
        a = min(empirical, alpha)
        kl = (a * math.log(a / alpha) if a > 0 else 0.0) + (1 - a) * math.log((1 - a) / (1 - alpha))
        return {
            "binomial": stats.binom.cdf(k, n, alpha),
            "bentkus": bentkus,
            "hoeffding": hoeffding,
            "hb": min(math.exp(-n * kl), bentkus),
        }[rule]

    expected = max([k for k in range(n + 1) if p_value(k) < delta], default=-1)
    assert bounds.admissible_error_count(rule, n, alpha, delta) == expected


# --- thresholds: exact order statistics ------------------------------------------------------------


@pytest.mark.parametrize("dtype", LOW_PRECISION)
@pytest.mark.parametrize("rule", bounds.COUNT_BASED_RULES)
def test_lambda_is_float64_order_statistic(dtype, rule):
    probs, correct = router_problem(0)
    scores = nonconformity_scores(augment_scores(jnp.asarray(probs, dtype), "one-minus-max"), "gap")
    cover = cover_scores(scores, correct)
    assert cover.dtype == dtype
    cal = calibrate(cover, alpha=0.1, delta=0.1, rule=rule)
    assert cal.lambda_hat.dtype == dtype
    cover64 = np.asarray(cover).astype(np.float64)  # exact: every low-precision value is a float64
    k_star = bounds.admissible_error_count(rule, cover64.shape[0], 0.1, 0.1)
    assert float(cal.lambda_hat) == np.sort(cover64)[cover64.shape[0] - 1 - k_star]
    assert float(jax.jit(lambda_from_error_count)(cover, k_star)) == float(cal.lambda_hat)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_low_precision_sets_keep_risk_count(dtype):
    """Sets built in the scores' dtype miss exactly the queries counted at calibration.

    The cover score and the set membership compare the same rounded scores with the same
    rounded threshold, so the calibration error count is exact in that dtype and equals
    the float64 count on the rounded values; it never exceeds k*.
    """
    probs, correct = router_problem(1, n=600, k=7)
    scores = nonconformity_scores(augment_scores(jnp.asarray(probs, dtype), "product"), "inverse")
    cover = cover_scores(scores, correct)
    cal = calibrate(cover, alpha=0.1, delta=0.1, rule="hb")
    members = np.asarray(prediction_sets(scores, cal.lambda_hat))
    missed = ~(members & np.asarray(augmented_truth(correct))).any(axis=1)

    scores64 = np.asarray(scores).astype(np.float64)
    lam64 = float(cal.lambda_hat)
    members64 = scores64 <= lam64
    missed64 = ~(members64 & np.asarray(augmented_truth(correct))).any(axis=1)
    cover64 = np.where(np.asarray(augmented_truth(correct)), scores64, np.inf).min(axis=1)

    assert (missed == missed64).all()
    assert int(missed.sum()) == int((cover64 > lam64).sum())
    assert int(missed.sum()) <= int(cal.error_count)


def test_low_precision_rounding_creates_ties():
    """bfloat16 keeps 8 significant bits, so distinct float32 scores collapse into ties; λ̂ stays exact."""
    probs, correct = router_problem(2, n=2000)
    cover32 = cover_scores(
        nonconformity_scores(augment_scores(jnp.asarray(probs, jnp.float32)), "gap"), correct
    )
    cover16 = cover_scores(
        nonconformity_scores(augment_scores(jnp.asarray(probs, jnp.bfloat16)), "gap"), correct
    )
    assert np.unique(np.asarray(cover16)).size < np.unique(np.asarray(cover32)).size
    cal = calibrate(cover16, alpha=0.1, delta=0.1, rule="binomial")
    errors = int((np.asarray(cover16).astype(np.float64) > float(cal.lambda_hat)).sum())
    assert errors <= int(cal.error_count)
    # With ties, λ̂ is the smallest cover value whose exceedance count is admissible.
    below = np.asarray(cover16).astype(np.float64)
    below = below[below < float(cal.lambda_hat)]
    if below.size:
        assert int((np.asarray(cover16).astype(np.float64) > below.max()).sum()) > int(cal.error_count)


@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_wsr_never_looser_than_float64(dtype):
    """The betting threshold in a low-precision dtype is at least the float64 reference."""
    alpha, delta = 0.15, 0.1
    rng = np.random.default_rng(3)
    cover = jnp.asarray(rng.random(300) ** 3, dtype)
    lam, _ = wsr_lambda(cover, alpha, delta)
    cover64 = np.asarray(cover).astype(np.float64)
    reference = 1.0
    for value in np.unique(cover64)[::-1]:
        losses = (cover64 > value).astype(np.float64)
        if bounds.wsr_max_log_capital(losses, alpha, delta) < math.log(1.0 / delta):
            break
        reference = value
    assert float(lam) >= reference
    # The rounding slack is small: the threshold moves by at most a few cover values.
    assert int((cover64 > reference).sum()) - int((cover64 > float(lam)).sum()) <= 3


# --- reproducibility -------------------------------------------------------------------------------


def study_inputs():
    probs, correct = router_problem(4, n=300, k=4)
    scores = nonconformity_scores(augment_scores(jnp.asarray(probs, jnp.float32), "always"), "gap")
    return scores, cover_scores(scores, correct)


@pytest.mark.parametrize("rule", ["hb", "wsr"])
def test_same_seed_same_trials(rule):
    scores, cover = study_inputs()
    options = {"trials": 24, "n_cal": 150, "alpha": 0.2, "delta": 0.2, "rule": rule}
    first = simulate_trials(scores, cover, key=jax.random.key(7), chunk_size=8, **options)
    again = simulate_trials(scores, cover, key=jax.random.key(7), chunk_size=8, **options)
    rechunked = simulate_trials(scores, cover, key=jax.random.key(7), chunk_size=5, **options)
    resumed = simulate_trials(scores, cover, key=jax.random.key(7), chunk_size=8, start=11, **options)
    other = simulate_trials(scores, cover, key=jax.random.key(8), chunk_size=8, **options)
    for name in first._fields:
        a = np.asarray(getattr(first, name))
        np.testing.assert_array_equal(a, np.asarray(getattr(again, name)))
        np.testing.assert_array_equal(a, np.asarray(getattr(rechunked, name)))
        np.testing.assert_array_equal(a[11:], np.asarray(getattr(resumed, name)))
    assert not np.array_equal(np.asarray(first.risk), np.asarray(other.risk))


def test_calibrate_deterministic_under_jit():
    _, cover = study_inputs()
    k_star = bounds.admissible_error_count("hb", cover.shape[0], 0.1, 0.1)
    eager = lambda_from_error_count(cover, k_star)
    jitted = jax.jit(lambda_from_error_count)(cover, k_star)
    vmapped = jax.vmap(lambda_from_error_count, in_axes=(0, None))(jnp.stack([cover, cover]), k_star)
    assert float(eager) == float(jitted)
    assert np.asarray(vmapped).tolist() == [float(eager)] * 2


def test_infeasible_threshold_any_dtype():
    for dtype in LOW_PRECISION:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InfeasibleCalibrationWarning)
            cal = calibrate(jnp.zeros(3, dtype), alpha=0.1, delta=0.1, rule="hb")
        assert [w.category for w in caught] == [InfeasibleCalibrationWarning]
        assert cal.lambda_hat.dtype == dtype
        assert float(cal.lambda_hat) == 1.0
