r"""Lemma 4.2: $L(x, \lambda) = 1\{\lambda < c(x)\}$ is non-increasing and right-continuous in
$\lambda$, bounded in $[0, 1]$, and 0 at $\lambda$ = ``SCORE_UPPER_LIMIT``.

For every nonconformity score and null-model option, each trial draws router scores (half
of them heavily tied) and correctness with $P(y_m = 1) = p_m$, computes cover scores with
:func:`racer_jax.cover_scores` and the loss with :func:`racer_jax.misrouting_loss` on a
sorted grid that contains cover scores and their float neighbours, and counts:

- increases of the loss between consecutive thresholds;
- values outside $[0, 1]$;
- jump points $\lambda = c_j$ where $L(\lambda) \ne L(\mathrm{nextafter}(\lambda, +\infty))$,
  for every query $x$ and every cover score $c_j$ of the trial: a step function is
  right-continuous exactly when it takes the value of its right limit at its jumps (in
  floating point, the right limit is the value one float step above);
- queries with $L \ne 0$ at ``SCORE_UPPER_LIMIT``.

The lemma is deterministic, so each check passes only with a count of zero.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from racer_jax import SCORE_UPPER_LIMIT, cover_scores, misrouting_loss

from .devices import map_trials
from .random_scores import OPTIONS, option_scores, random_router_scores, threshold_grid
from .records import Check

STATEMENT = "Lemma 4.2"
NUM_QUERIES = 32
GRID_SIZE = 128
PROPERTIES = (
    "non-increasing in lambda",
    "bounded in [0, 1]",
    "right-continuous in lambda",
    "zero at SCORE_UPPER_LIMIT",
)


def _trial(index, *, key, num_models, loss):
    trial_key = jax.random.fold_in(key, index)
    scores_key, correct_key, grid_key = jax.random.split(trial_key, 3)
    probs, head = random_router_scores(scores_key, NUM_QUERIES, num_models)
    correct = jax.random.uniform(correct_key, probs.shape) < probs
    counts = []
    for score, null in OPTIONS:
        cover = cover_scores(option_scores(probs, head, score, null), correct)
        grid = threshold_grid(grid_key, cover, GRID_SIZE)
        values = loss(cover, grid)
        at_jumps = loss(cover, cover)
        right_limits = loss(cover, jnp.nextafter(cover, jnp.inf))
        counts.append(jnp.stack([
            jnp.sum(values[1:] > values[:-1]),
            jnp.sum((values < 0) | (values > 1)),
            jnp.sum(at_jumps != right_limits),
            jnp.sum(loss(cover, jnp.asarray(SCORE_UPPER_LIMIT)) != 0),
        ]))
    return jnp.stack(counts)


def checks(
    trials: int,
    seed: int,
    model_counts: tuple[int, ...] = (1, 2, 7, 50),
    loss: Callable = misrouting_loss,
) -> list[Check]:
    """Check every property for every (K, score, null option); ``loss(cover, lam)`` is the loss under test."""
    out = []
    for num_models in model_counts:
        trial = partial(_trial, key=jax.random.key(seed + 1000 + num_models), num_models=num_models, loss=loss)
        counts = np.asarray(map_trials(trial, trials, (), 256))
        for column, (score, null) in enumerate(OPTIONS):
            for row, name in enumerate(PROPERTIES):
                bad = int(counts[:, column, row].sum())
                out.append(Check(
                    STATEMENT, name, f"K={num_models}, {score}, null={null}", "-", trials, float(bad),
                    0.0, 0.0, "pass" if bad == 0 else "fail", "violations over all trials",
                ))
    return out
