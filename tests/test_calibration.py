"""λ̂ selection: the order statistic against a brute-force scan over every threshold."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from racer_jax import (
    SCORE_UPPER_LIMIT,
    InfeasibleCalibrationWarning,
    calibrate,
    lambda_from_error_count,
    wsr_lambda,
)
from racer_jax._src import bounds


def scan_lambda(cover, admissible):
    """inf{λ : every λ' >= λ is admissible}, scanning every distinct cover score from the top.

    ``admissible(losses)`` decides one threshold from its {0, 1} losses (in the given order).
    """
    cover = np.asarray(cover, dtype=np.float64)
    candidates = np.unique(cover)[::-1]
    if not admissible(np.zeros_like(cover)):
        return SCORE_UPPER_LIMIT
    lam = candidates[0]
    for value in candidates:
        if not admissible((cover > value).astype(float)):
            break
        lam = value
    return lam


def count_admissible(rule, alpha, delta):
    return lambda losses: bounds.is_admissible(rule, int(losses.sum()), losses.shape[0], alpha, delta)


# A few fixed sizes keep JAX from compiling once per drawn length.
cover_arrays = st.sampled_from([1, 2, 7, 33, 60]).flatmap(
    lambda n: st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0]) | st.floats(0, 1, width=32), min_size=n, max_size=n)
)


@settings(max_examples=300, deadline=None)
@given(
    cover=cover_arrays,
    rule=st.sampled_from(bounds.COUNT_BASED_RULES),
    alpha=st.sampled_from([0.05, 0.1, 0.3, 0.6]),
    delta=st.sampled_from([0.05, 0.2, 0.5]),
)
def test_order_statistic_equals_scan(cover, rule, alpha, delta):
    cover = np.asarray(cover, dtype=np.float32)
    k_star = bounds.admissible_error_count(rule, cover.shape[0], alpha, delta)
    ours = float(lambda_from_error_count(jnp.asarray(cover), k_star))
    assert ours == scan_lambda(cover, count_admissible(rule, alpha, delta))


@settings(max_examples=100, deadline=None)
@given(cover=cover_arrays, alpha=st.sampled_from([0.1, 0.3, 0.6]), delta=st.sampled_from([0.05, 0.2]))
def test_wsr_equals_float64_scan(cover, alpha, delta):
    cover = np.asarray(cover, dtype=np.float64)
    threshold = math.log(1 / delta)
    expected = scan_lambda(cover, lambda losses: bounds.wsr_max_log_capital(losses, alpha, delta) >= threshold)
    with jax.enable_x64(True):
        ours, _ = wsr_lambda(jnp.asarray(cover, dtype=jnp.float64), alpha, delta)
        # The float64 margin is ~1e-13, far below any capital gap that decides a threshold here.
        assert float(ours) == expected
    ours32, _ = wsr_lambda(jnp.asarray(cover, dtype=jnp.float32), alpha, delta)
    # In float32 the margin can only make the rule more conservative (a larger threshold).
    assert float(ours32) >= np.float32(expected)


def test_calibrated_threshold_has_at_most_k_star_errors():
    cover = jax.random.uniform(jax.random.key(1), (2000,))
    cal = calibrate(cover, alpha=0.1, delta=0.1, rule="hb")
    k_star = bounds.admissible_error_count("hb", 2000, 0.1, 0.1)
    assert int(cal.error_count) == k_star
    assert int(jnp.sum(cover > cal.lambda_hat)) == k_star
    assert cal.feasible


def test_infeasible_calibration_warns_with_minimum_n():
    needed = bounds.minimum_calibration_size("hb", 0.1, 0.1)
    with pytest.warns(InfeasibleCalibrationWarning, match=f"at least n={needed}"):
        cal = calibrate(jnp.zeros(needed - 1), alpha=0.1, delta=0.1, rule="hb")
    assert not cal.feasible
    assert float(cal.lambda_hat) == SCORE_UPPER_LIMIT
    assert int(cal.error_count) == -1


def test_wsr_needs_an_order_key():
    with pytest.raises(ValueError, match="pass key"):
        calibrate(jnp.zeros(100), rule="wsr")


def test_wsr_calibration_certifies_its_threshold(key):
    cover = jax.random.uniform(jax.random.key(5), (500,))
    cal = calibrate(cover, alpha=0.2, delta=0.1, rule="wsr", key=key)
    ordered = np.asarray(cover)[np.asarray(jax.random.permutation(key, 500))]
    losses = (ordered > float(cal.lambda_hat)).astype(float)
    assert bounds.wsr_max_log_capital(losses, 0.2, 0.1) >= math.log(10)


def test_lambda_from_error_count_under_jit_and_vmap():
    cover = jax.random.uniform(jax.random.key(2), (8, 50))
    counts = jnp.arange(8) - 1
    batched = jax.jit(jax.vmap(lambda c, k: lambda_from_error_count(c, k)))(cover, counts)
    for row in range(8):
        assert float(batched[row]) == float(lambda_from_error_count(cover[row], int(counts[row])))
    assert float(batched[0]) == SCORE_UPPER_LIMIT


def test_calibrate_rejects_unknown_rule():
    with pytest.raises(ValueError, match="invalid bound rule 'hoefding'"):
        calibrate(jnp.zeros(10), rule="hoefding")
