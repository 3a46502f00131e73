"""The vectorised split study against a per-trial NumPy reference, and the split itself."""

import itertools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from racer_jax._src import bounds
from racer_jax._src.calibration import InfeasibleCalibrationWarning, wsr_lambda
from racer_jax._src.study import (
    TrialMetrics,
    _high_product,
    calibration_mask,
    simulate_trials,
    trial_key,
)

NUM_MODELS = 4


def tied_study_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gap scores ``(n, K + 1)`` and cover scores on a coarse grid, so many values tie."""
    rng = np.random.default_rng(seed)
    probs = np.round(rng.uniform(size=(n, NUM_MODELS + 1)) * 20) / 20
    scores = (probs.max(axis=1, keepdims=True) - probs).astype(np.float32)
    correct = rng.uniform(size=(n, NUM_MODELS)) < 0.5
    truth = np.concatenate([correct, ~correct.any(axis=1, keepdims=True)], axis=1)
    cover = np.where(truth, scores, np.inf).min(axis=1).astype(np.float32)
    return scores, cover


def reference_metrics(scores, cover, mask, lam) -> tuple:
    """Test-set metrics of one trial in plain NumPy, from its calibration mask and threshold."""
    test = ~mask
    num_test = int(test.sum())
    sizes = (scores[:, :-1] <= lam).sum(axis=1)
    return (
        int(np.sum(test & (cover > lam))) / num_test,
        int(sizes[test].sum()) / num_test,
        int(np.sum(test & (sizes == 0))) / num_test,
        int(np.sum(test & (sizes == 1))) / num_test,
        lam,
    )


def reference_count_rule(scores, cover, key, trials, n_cal, rule, alpha=0.1, delta=0.1) -> list[tuple]:
    """Per-trial NumPy study: the split from ``calibration_mask``, $\\hat\\lambda$ by a full sort."""
    n = cover.shape[0]
    error_count = bounds.admissible_error_count(rule, n_cal, alpha, delta)
    rows = []
    for t in range(trials):
        mask = np.asarray(calibration_mask(trial_key(key, t), n, n_cal))
        descending = np.sort(cover[mask])[::-1]
        lam = descending[error_count] if error_count >= 0 else np.float32(1.0)
        rows.append(reference_metrics(scores, cover, mask, lam))
    return rows


def assert_same_trials(metrics: TrialMetrics, rows: list[tuple]) -> None:
    for t, row in enumerate(rows):
        for name, expected in zip(TrialMetrics._fields, row):
            got = getattr(metrics, name)[t]
            assert got == expected, f"trial {t}, {name}: study {got!r} != reference {expected!r}"


@pytest.mark.parametrize("rule", ["hb", "crc", "binomial"])
def test_study_matches_reference_count_rules(rule):
    scores, cover = tied_study_data(n=301, seed=1)
    key = jax.random.key(7)
    metrics = simulate_trials(scores, cover, key=key, trials=40, n_cal=150, rule=rule, chunk_size=16)
    assert metrics.risk.shape == (40,)
    assert_same_trials(metrics, reference_count_rule(scores, cover, key, 40, 150, rule))


def test_study_matches_reference_large_alpha():
    # alpha = 0.6 puts the threshold deep in the descending order, past many count blocks.
    scores, cover = tied_study_data(n=517, seed=2)
    key = jax.random.key(3)
    metrics = simulate_trials(
        scores, cover, key=key, trials=24, n_cal=300, alpha=0.6, rule="crc", chunk_size=24
    )
    assert_same_trials(metrics, reference_count_rule(scores, cover, key, 24, 300, "crc", alpha=0.6))


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40))
def test_study_matches_reference_property(seed, grid):
    # Scores rounded to multiples of 1 / grid: a coarse grid makes long runs of ties.
    rng = np.random.default_rng(seed)
    probs = np.round(rng.uniform(size=(120, NUM_MODELS + 1)) * grid) / grid
    scores = (probs.max(axis=1, keepdims=True) - probs).astype(np.float32)
    correct = rng.uniform(size=(120, NUM_MODELS)) < 0.4
    truth = np.concatenate([correct, ~correct.any(axis=1, keepdims=True)], axis=1)
    cover = np.where(truth, scores, np.inf).min(axis=1).astype(np.float32)
    key = jax.random.key(seed)
    metrics = simulate_trials(scores, cover, key=key, trials=6, n_cal=70, alpha=0.2, rule="crc", chunk_size=6)
    assert_same_trials(metrics, reference_count_rule(scores, cover, key, 6, 70, "crc", alpha=0.2))


def test_study_matches_reference_wide_ranks():
    # From 2**15 queries on, cover ranks no longer fit int16 and the study uses int32.
    scores, cover = tied_study_data(n=2**15 + 5, seed=10)
    key = jax.random.key(6)
    metrics = simulate_trials(scores, cover, key=key, trials=3, n_cal=20_000, rule="hb", chunk_size=3)
    assert_same_trials(metrics, reference_count_rule(scores, cover, key, 3, 20_000, "hb"))


def test_study_infeasible_uses_upper_limit():
    scores, cover = tied_study_data(n=60, seed=3)
    key = jax.random.key(0)
    with pytest.warns(InfeasibleCalibrationWarning, match="at least n="):
        metrics = simulate_trials(scores, cover, key=key, trials=6, n_cal=10, rule="hb", chunk_size=4)
    assert np.all(metrics.lambda_hat == 1.0)
    assert_same_trials(metrics, reference_count_rule(scores, cover, key, 6, 10, "hb"))


def test_study_matches_reference_wsr():
    scores, cover = tied_study_data(n=240, seed=4)
    n, n_cal, alpha, delta = 240, 200, 0.3, 0.1
    key = jax.random.key(5)
    metrics = simulate_trials(
        scores, cover, key=key, trials=5, n_cal=n_cal, alpha=alpha, delta=delta, rule="wsr"
    )
    for t in range(5):
        trial = trial_key(key, t)
        mask = np.asarray(calibration_mask(trial, n, n_cal))
        order_key = jax.random.split(trial)[1]
        uniforms = np.asarray(jax.random.uniform(order_key, (n,)))
        calibration = np.argsort(np.where(mask, uniforms, 2.0), kind="stable")[:n_cal]
        lam = np.asarray(wsr_lambda(jnp.asarray(cover[calibration]), alpha, delta)[0])
        assert_same_trials(
            TrialMetrics(*(m[t : t + 1] for m in metrics)), [reference_metrics(scores, cover, mask, lam)]
        )


def test_study_chunk_size_invariance():
    scores, cover = tied_study_data(n=200, seed=5)
    key = jax.random.key(11)
    small = simulate_trials(scores, cover, key=key, trials=30, n_cal=100, chunk_size=7)
    large = simulate_trials(scores, cover, key=key, trials=30, n_cal=100, chunk_size=64)
    for name in TrialMetrics._fields:
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name), err_msg=name)


def test_study_resume_from_start():
    scores, cover = tied_study_data(n=200, seed=6)
    key = jax.random.key(12)
    full = simulate_trials(scores, cover, key=key, trials=30, n_cal=90, chunk_size=8)
    seen = []
    resumed = simulate_trials(
        scores,
        cover,
        key=key,
        trials=30,
        n_cal=90,
        chunk_size=8,
        start=13,
        on_chunk=lambda first, metrics: seen.append((first, metrics.risk.shape[0])),
    )
    assert seen == [(13, 8), (21, 8), (29, 1)]
    for name in TrialMetrics._fields:
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name)[13:], err_msg=name)


FOUR_DEVICE_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax
    import numpy as np
    from racer_jax._src.study import simulate_trials

    assert jax.device_count() == 4, jax.devices()
    data = np.load(sys.argv[1])
    results = {}
    for rule in ("hb", "crc"):
        metrics = simulate_trials(
            data["scores"], data["cover"], key=jax.random.key(21), trials=23, n_cal=150,
            rule=rule, chunk_size=10,
        )
        results.update({f"{rule}_{name}": value for name, value in metrics._asdict().items()})
    np.savez(sys.argv[2], **results)
    """
)


def test_study_same_on_four_devices(tmp_path):
    if jax.device_count() != 1:
        pytest.skip(f"compares one device with four; this process has {jax.device_count()}")
    scores, cover = tied_study_data(n=300, seed=8)
    np.savez(tmp_path / "data.npz", scores=scores, cover=cover)
    environment = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    completed = subprocess.run(
        [sys.executable, "-c", FOUR_DEVICE_SCRIPT, str(tmp_path / "data.npz"), str(tmp_path / "out.npz")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    four_devices = np.load(tmp_path / "out.npz")
    for rule in ("hb", "crc"):
        metrics = simulate_trials(
            scores, cover, key=jax.random.key(21), trials=23, n_cal=150, rule=rule, chunk_size=10
        )
        for name, value in metrics._asdict().items():
            np.testing.assert_array_equal(four_devices[f"{rule}_{name}"], value, err_msg=f"{rule} {name}")


@pytest.mark.parametrize("n, n_cal", [(2, 1), (5, 4), (101, 50), (4213, 2106), (70001, 123)])
def test_calibration_mask_exact_size(n, n_cal):
    for t in range(3):
        mask = calibration_mask(trial_key(jax.random.key(4), t), n, n_cal)
        assert mask.shape == (n,)
        assert mask.dtype == jnp.bool_
        assert int(mask.sum()) == n_cal


@settings(max_examples=12, deadline=None)
@given(st.integers(2, 300), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_calibration_mask_size_property(n, share, seed):
    n_cal = min(n - 1, max(1, round(share * n)))
    mask = np.asarray(calibration_mask(jax.random.key(seed), n, n_cal))
    assert mask.shape == (n,)
    assert int(mask.sum()) == n_cal


def test_calibration_mask_uniform_over_subsets():
    # All C(6, 3) = 20 subsets should be equally likely. Under uniformity the Pearson
    # statistic of 20,000 draws is chi-square with 19 degrees of freedom. The test fails
    # only above its 1 - 1e-6 quantile, a false alarm once in a million seeds.
    n, n_cal, draws = 6, 3, 20_000
    key = jax.random.key(2024)
    masks = np.asarray(jax.vmap(lambda t: calibration_mask(trial_key(key, t), n, n_cal))(jnp.arange(draws)))
    assert np.all(masks.sum(axis=1) == n_cal)
    codes = masks.astype(int) @ (1 << np.arange(n))
    subsets = [sum(1 << i for i in chosen) for chosen in itertools.combinations(range(n), n_cal)]
    observed = np.array([np.sum(codes == code) for code in subsets])
    assert observed.sum() == draws
    expected = draws / len(subsets)
    statistic = np.sum((observed - expected) ** 2 / expected)
    assert statistic < stats.chi2.ppf(1 - 1e-6, df=len(subsets) - 1)


def test_calibration_mask_inclusion_rates():
    # Each query is included with probability n_cal / n = 0.3 and each pair with
    # 0.3 * 29 / 99. Over 4,000 draws a rate's standard error is at most 0.0073; allowing
    # 5 standard errors keeps the chance of a false alarm over all 4,950 pairs below 3e-3.
    n, n_cal, draws = 100, 30, 4_000
    key = jax.random.key(99)
    masks = np.asarray(jax.vmap(lambda t: calibration_mask(trial_key(key, t), n, n_cal))(jnp.arange(draws)))
    single = masks.mean(axis=0)
    p_single = n_cal / n
    assert np.max(np.abs(single - p_single)) < 5 * np.sqrt(p_single * (1 - p_single) / draws)
    pairs = (masks.T.astype(float) @ masks.astype(float)) / draws
    p_pair = n_cal * (n_cal - 1) / (n * (n - 1))
    off_diagonal = pairs[~np.eye(n, dtype=bool)]
    assert np.max(np.abs(off_diagonal - p_pair)) < 5 * np.sqrt(p_pair * (1 - p_pair) / draws)


def test_calibration_mask_trials_differ():
    key = jax.random.key(0)
    first = np.asarray(calibration_mask(trial_key(key, 0), 500, 250))
    second = np.asarray(calibration_mask(trial_key(key, 1), 500, 250))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("b_bits", [16, 31])
def test_high_product_exact(b_bits):
    rng = np.random.default_rng(b_bits)
    a = rng.integers(0, 2**32, size=5000, dtype=np.uint64)
    b = rng.integers(0, 2**b_bits, size=5000, dtype=np.uint64)
    a[:3] = [2**32 - 1, 0, 2**32 - 1]
    b[:3] = [2**b_bits - 1, 2**b_bits - 1, 1]
    expected = (a * b) >> np.uint64(32)
    got = _high_product(jnp.asarray(a, jnp.uint32), jnp.asarray(b, jnp.uint32), b_bits)
    np.testing.assert_array_equal(np.asarray(got, np.uint64), expected)


def test_study_rejects_bad_arguments():
    scores, cover = tied_study_data(n=50, seed=9)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="n_cal must lie in"):
        simulate_trials(scores, cover, key=key, trials=2, n_cal=50)
    with pytest.raises(ValueError, match="scores must have shape"):
        simulate_trials(scores[:10], cover, key=key, trials=2, n_cal=20)
    with pytest.raises(ValueError, match="chunk_size"):
        simulate_trials(scores, cover, key=key, trials=2, n_cal=20, chunk_size=0)
    with pytest.raises(ValueError, match="start"):
        simulate_trials(scores, cover, key=key, trials=2, n_cal=20, start=3)
    with pytest.raises(ValueError, match="NaN"):
        simulate_trials(scores, np.where(np.arange(50) == 3, np.nan, cover), key=key, trials=2, n_cal=20)
    with pytest.raises(ValueError, match="invalid bound rule"):
        simulate_trials(scores, cover, key=key, trials=2, n_cal=20, rule="nope")
    with pytest.raises(ValueError, match="n_cal must lie in"):
        calibration_mask(key, 10, 0)
