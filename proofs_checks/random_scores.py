"""Random router scores, with and without heavy ties, for the lemma checks."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp

from racer_jax import NONCONFORMITY_OPTIONS, NULL_SCORE_OPTIONS, augment_scores, nonconformity_scores

# Every (nonconformity score, null-model option) pair, in a fixed order.
OPTIONS: tuple[tuple[str, str], ...] = tuple(itertools.product(NONCONFORMITY_OPTIONS, NULL_SCORE_OPTIONS))

# Router scores of a tied trial are rounded to multiples of this step.
TIE_STEP = 0.25


def random_router_scores(key, num_queries: int, num_models: int):
    """Draw uniform router scores ``(Q, K)`` and a learned null head ``(Q,)``.

    Half of the trials (decided by the key) round both to multiples of :data:`TIE_STEP`, so
    scores tie within and across queries.
    """
    probs_key, head_key, tie_key = jax.random.split(key, 3)
    probs = jax.random.uniform(probs_key, (num_queries, num_models))
    head = jax.random.uniform(head_key, (num_queries,))
    tied = jax.random.bernoulli(tie_key)
    probs = jnp.where(tied, jnp.round(probs / TIE_STEP) * TIE_STEP, probs)
    head = jnp.where(tied, jnp.round(head / TIE_STEP) * TIE_STEP, head)
    return probs, head


def option_scores(probs, head, score: str, null: str):
    """Nonconformity scores ``(Q, K + 1)`` of one option, through the library."""
    return nonconformity_scores(augment_scores(probs, null, head), score)


def threshold_grid(key, values, size: int):
    """Build a sorted grid of ``size`` thresholds: some of ``values``, their float neighbours and uniform draws in [-1.5, 1.5].

    Thresholds equal to attained values and one float step on either side are where a
    set or the loss can jump, so the grid contains them.
    """
    pick_key, uniform_key = jax.random.split(key)
    flat = values.ravel()
    quarter = size // 4
    picked = flat[jax.random.randint(pick_key, (quarter,), 0, flat.shape[0])]
    grid = jnp.concatenate([
        picked,
        jnp.nextafter(picked, jnp.inf),
        jnp.nextafter(picked, -jnp.inf),
        jax.random.uniform(uniform_key, (size - 3 * quarter,), minval=-1.5, maxval=1.5),
    ])
    return jnp.sort(grid)
