r"""A query-independent router: every query gets the training accuracy of each model.

$p_m(x) = \bar y_m$, the share of training queries model $m$ answers correctly, and the
null score is the share of training queries no model answers. It ignores the features,
so it is the floor any router that reads the query must beat: its per-model AUROC is
exactly 0.5, and its RACER sets are the same for every query.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .mlp import RouterScores


class PriorRouter(eqx.Module):
    """Per-model training accuracy ``(K,)`` and the no-correct-model rate ``()``, ignoring the features."""

    accuracy: Float[Array, " K"]
    no_correct_rate: Float[Array, ""]
    feature_dim: int = eqx.field(static=True)
    num_models: int = eqx.field(static=True)

    def __init__(self, accuracy: Float[ArrayLike, " K"], no_correct_rate: Float[ArrayLike, ""], feature_dim: int):
        self.accuracy = jnp.asarray(accuracy, dtype=jnp.float32)
        self.no_correct_rate = jnp.asarray(no_correct_rate, dtype=jnp.float32)
        self.feature_dim = int(feature_dim)
        self.num_models = self.accuracy.shape[0]

    def __call__(self, features: Float[ArrayLike, "n d"]) -> RouterScores:
        n = jnp.shape(features)[0]
        probs = jnp.broadcast_to(self.accuracy, (n, self.num_models))
        return RouterScores(probs, jnp.broadcast_to(self.no_correct_rate, (n,)))


def fit_prior_router(features: Float[ArrayLike, "n d"], correct: ArrayLike) -> PriorRouter:
    """Per-model accuracy and the no-correct-model rate of the training data; ``features`` give only the dimension."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2 or correct.shape[0] < 1:
        raise ValueError(f"correct must have shape (n, K) with n >= 1; got {correct.shape}")
    feature_dim = np.shape(features)[1]
    return PriorRouter(correct.mean(axis=0), np.mean(~correct.any(axis=1)), feature_dim)
