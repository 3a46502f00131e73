r"""Repeated random calibration/test splits, calibrated and evaluated as one vectorised computation.

Trial $t$ draws a uniformly random split of the ``n`` queries into ``n_cal`` calibration
and ``n - n_cal`` test queries with the key ``fold_in(key, t)``, so a trial's result does
not depend on how trials are grouped into chunks, and an interrupted study can resume
at any trial. Per trial it calibrates $\hat\lambda$ on the calibration cover scores and
measures, on the test queries, the empirical risk $\frac{1}{n_{test}}\#\{c_i > \hat\lambda\}$,
the mean set size $|C_{\hat\lambda}(x) \cap M|$, the abstention and singleton rates.
"""

from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from . import bounds
from .calibration import InfeasibleCalibrationWarning, warn_infeasible, wsr_lambda
from .scoring import SCORE_UPPER_LIMIT, check_option, set_sizes

METRIC_NAMES = ("risk", "set_size", "abstention_rate", "singleton_rate", "lambda_hat")


class TrialMetrics(NamedTuple):
    """Per-trial results, each of shape ``(T,)``."""

    risk: Array
    set_size: Array
    abstention_rate: Array
    singleton_rate: Array
    lambda_hat: Array


def trial_key(key: PRNGKeyArray, trial: int | Array) -> PRNGKeyArray:
    """The PRNG key of trial ``trial``: ``fold_in(key, trial)``, independent of chunking."""
    return jax.random.fold_in(key, trial)


def calibration_mask(key: PRNGKeyArray, n: int, n_cal: int) -> Array:
    """Boolean mask ``(n,)`` of a uniformly random calibration subset of exactly ``n_cal`` queries.

    This is the single definition of a trial's split: every per-trial metric, here or
    elsewhere, must derive the split from ``calibration_mask(trial_key(key, t), n, n_cal)``.
    """
    order = jax.random.permutation(jax.random.split(key)[0], n)
    return jnp.zeros(n, dtype=bool).at[order[:n_cal]].set(True)


def _one_trial(key, scores, cover, n_cal, error_count, rule, alpha, delta) -> TrialMetrics:
    n = cover.shape[0]
    mask = calibration_mask(key, n, n_cal)
    if rule == "wsr":
        # The betting bound needs the calibration losses in a random order: take them in
        # the order of an independent permutation of the calibration queries.
        order_key = jax.random.split(key)[1]
        cal = jnp.argsort(jnp.where(mask, jax.random.uniform(order_key, (n,)), 2.0))[:n_cal]
        lam, _ = wsr_lambda(cover[cal], alpha, delta)
    else:
        descending = -jnp.sort(-jnp.where(mask, cover, -jnp.inf))
        lam = jnp.where(
            error_count < 0, jnp.asarray(SCORE_UPPER_LIMIT, cover.dtype), descending[jnp.clip(error_count, 0, n_cal - 1)]
        )
    test = ~mask
    sizes = set_sizes(scores, lam)
    num_test = n - n_cal
    return TrialMetrics(
        risk=jnp.sum(test & (cover > lam)) / num_test,
        set_size=jnp.sum(jnp.where(test, sizes, 0)) / num_test,
        abstention_rate=jnp.sum(test & (sizes == 0)) / num_test,
        singleton_rate=jnp.sum(test & (sizes == 1)) / num_test,
        lambda_hat=lam,
    )


def simulate_trials(
    scores: Float[ArrayLike, "n K+1"],
    cover: Float[ArrayLike, " n"],
    *,
    key: PRNGKeyArray,
    trials: int,
    n_cal: int,
    alpha: float = 0.1,
    delta: float = 0.1,
    rule: str = "hb",
    chunk_size: int = 256,
    start: int = 0,
    on_chunk: Callable[[int, TrialMetrics], None] | None = None,
) -> TrialMetrics:
    """Run trials ``start, ..., trials - 1`` in jit-compiled, vmapped chunks.

    **Arguments:**

    - ``scores``: nonconformity scores $S(x, m)$ of every query, shape ``(n, K + 1)``.
    - ``cover``: cover scores $c(x)$, shape ``(n,)``.
    - ``key``: base PRNG key; trial ``t`` uses ``jax.random.fold_in(key, t)``.
    - ``n_cal``: calibration queries per trial, ``1 <= n_cal < n``.
    - ``chunk_size``: trials per compiled call; memory grows with it, not with ``trials``.
    - ``on_chunk``: called as ``on_chunk(first_trial, metrics)`` after each chunk, so a
      caller can save finished trials before the next chunk starts.

    **Returns:** :class:`TrialMetrics` for trials ``start`` to ``trials - 1``.
    """
    check_option("bound rule", rule, bounds.BOUND_RULES)
    alpha = bounds.check_level("alpha", alpha)
    delta = bounds.check_level("delta", delta)
    scores, cover = jnp.asarray(scores), jnp.asarray(cover)
    n = cover.shape[0]
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ValueError(f"scores must have shape ({n}, K + 1) to match cover; got {scores.shape}")
    if not 1 <= n_cal < n:
        raise ValueError(f"n_cal must lie in [1, {n - 1}] for {n} queries; got {n_cal}")
    if trials < 1 or not 0 <= start <= trials:
        raise ValueError(f"need trials >= 1 and 0 <= start <= trials; got trials={trials}, start={start}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")

    error_count = -1
    if rule != "wsr":
        error_count = bounds.admissible_error_count(rule, n_cal, alpha, delta)
        if error_count < 0:
            warn_infeasible(rule, n_cal, alpha, delta)
    elif bounds.minimum_calibration_size("wsr", alpha, delta) > n_cal:
        warn_infeasible(rule, n_cal, alpha, delta)

    run_chunk = jax.jit(
        jax.vmap(_one_trial, in_axes=(0, None, None, None, None, None, None, None)),
        static_argnums=(3, 4, 5, 6, 7),
    )
    chunks = []
    for first in range(start, trials, chunk_size):
        count = min(chunk_size, trials - first)
        # Pad the last chunk to a full one so every chunk reuses one compiled program.
        indices = jnp.arange(first, first + chunk_size)
        keys = jax.vmap(trial_key, in_axes=(None, 0))(key, indices)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InfeasibleCalibrationWarning)
            metrics = run_chunk(keys, scores, cover, n_cal, error_count, rule, alpha, delta)
        metrics = TrialMetrics(*(np.asarray(m)[:count] for m in metrics))
        if on_chunk is not None:
            on_chunk(first, metrics)
        chunks.append(metrics)
    if not chunks:
        return TrialMetrics(*(np.zeros(0) for _ in METRIC_NAMES))
    return TrialMetrics(*(np.concatenate(parts) for parts in zip(*chunks)))
