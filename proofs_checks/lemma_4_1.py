r"""Lemma 4.1, nestedness: $\lambda_1 \le \lambda_2 \Rightarrow C_{\lambda_1}(x) \subseteq C_{\lambda_2}(x)$.

For every nonconformity score and null-model option, each trial draws router scores
(half of them heavily tied). It builds $C_\lambda(x)$ with :func:`racer_jax.prediction_sets`
on a sorted threshold grid that contains attained scores and their float neighbours, and
counts the pairs of consecutive thresholds where a model leaves the set. The lemma is
deterministic, so the check passes only with zero such pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from racer_jax import prediction_sets

from .devices import map_trials
from .random_scores import OPTIONS, option_scores, random_router_scores, threshold_grid
from .records import Check

STATEMENT = "Lemma 4.1"
NUM_QUERIES = 32
GRID_SIZE = 128


def _trial(index, *, key, num_models, set_membership):
    trial_key = jax.random.fold_in(key, index)
    scores_key, grid_key = jax.random.split(trial_key)
    probs, head = random_router_scores(scores_key, NUM_QUERIES, num_models)
    counts = []
    for score, null in OPTIONS:
        scores = option_scores(probs, head, score, null)
        grid = threshold_grid(grid_key, scores, GRID_SIZE)
        members = jax.vmap(set_membership, in_axes=(None, 0))(scores, grid)
        counts.append(jnp.sum(members[:-1] & ~members[1:]))
    return jnp.stack(counts)


def checks(
    trials: int,
    seed: int,
    model_counts: tuple[int, ...] = (1, 2, 7, 50),
    set_membership: Callable = prediction_sets,
) -> list[Check]:
    """Check nestedness for every (K, score, null option); ``set_membership(scores, lam)`` is the set rule under test."""
    out = []
    for num_models in model_counts:
        trial = partial(_trial, key=jax.random.key(seed + num_models), num_models=num_models,
                        set_membership=set_membership)
        counts = np.asarray(map_trials(trial, trials, (), 256))
        for column, (score, null) in enumerate(OPTIONS):
            breaks = int(counts[:, column].sum())
            out.append(Check(
                STATEMENT, "C_l1 subset of C_l2 for l1 <= l2", f"K={num_models}, {score}, null={null}",
                "-", trials, float(breaks), 0.0, 0.0, "pass" if breaks == 0 else "fail",
                f"models leaving a set between consecutive thresholds, over {trials} x {GRID_SIZE - 1} pairs",
            ))
    return out
