r"""A multi-label MLP router: query features to per-model correctness and a null-model head.

The network maps features $x \in \mathbb{R}^d$ to $K + 1$ logits $z(x)$. The first $K$
give $p_m(x) = \sigma(z_m(x))$, the probability that model $m$ answers correctly; the
last gives the learned null score $p_0(x) = \sigma(z_0(x))$, the probability that no
model does. Training minimises the mean binary cross-entropy over all $K + 1$ targets
with Adam (Optax), and stops early on a held-out share of the training data.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._training import fit_minibatch


class RouterScores(NamedTuple):
    """Router output: per-model scores ``probs`` ``(n, K)`` and the learned null score ``null`` ``(n,)``."""

    probs: Float[Array, "n K"]
    null: Float[Array, " n"]


class MLPRouter(eqx.Module):
    """Equinox MLP with ``K + 1`` sigmoid outputs; the last one is the null-model head."""

    mlp: eqx.nn.MLP
    num_models: int = eqx.field(static=True)

    def __init__(self, feature_dim: int, num_models: int, width: int = 256, depth: int = 2, *, key: PRNGKeyArray):
        self.mlp = eqx.nn.MLP(feature_dim, num_models + 1, width, depth, activation=jax.nn.gelu, key=key)
        self.num_models = num_models

    def logits(self, features: Float[ArrayLike, "n d"]) -> Float[Array, "n K+1"]:
        return jax.vmap(self.mlp)(jnp.asarray(features))

    def __call__(self, features: Float[ArrayLike, "n d"]) -> RouterScores:
        logits = self.logits(features)
        return RouterScores(jax.nn.sigmoid(logits[:, :-1]), jax.nn.sigmoid(logits[:, -1]))


class TrainingHistory(NamedTuple):
    """Per-epoch mean training and held-out losses, and the epoch whose weights were kept."""

    train_loss: list[float]
    holdout_loss: list[float]
    best_epoch: int


def router_targets(correct: ArrayLike) -> np.ndarray:
    """Targets ``(n, K + 1)``: the correctness matrix and the "no model is correct" flag."""
    correct = np.asarray(correct, dtype=np.float32)
    return np.concatenate([correct, (correct.sum(axis=1, keepdims=True) == 0).astype(np.float32)], axis=1)


def _bce(router: MLPRouter, features: Array, targets: Array) -> Array:
    return jnp.mean(optax.sigmoid_binary_cross_entropy(router.logits(features), targets))


def train_mlp_router(
    features: Float[ArrayLike, "n d"],
    correct: ArrayLike,
    *,
    key: PRNGKeyArray,
    width: int = 256,
    depth: int = 2,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 128,
    max_epochs: int = 200,
    patience: int = 10,
    holdout_fraction: float = 0.2,
) -> tuple[MLPRouter, TrainingHistory]:
    """Train an :class:`MLPRouter` with AdamW and early stopping on a held-out share.

    The held-out rows are a seeded random ``holdout_fraction`` of the data; training
    stops after ``patience`` epochs without a lower held-out loss and returns the best
    weights seen.
    """
    features = np.asarray(features, dtype=np.float32)
    targets = router_targets(correct)
    init_key, holdout_key, shuffle_key = jax.random.split(key, 3)
    router = MLPRouter(features.shape[1], targets.shape[1] - 1, width, depth, key=init_key)
    best, history = fit_minibatch(
        router, _bce, features, targets, holdout_key=holdout_key, shuffle_key=shuffle_key,
        learning_rate=learning_rate, weight_decay=weight_decay, batch_size=batch_size,
        max_epochs=max_epochs, patience=patience, holdout_fraction=holdout_fraction,
    )
    return best, TrainingHistory(*history)
