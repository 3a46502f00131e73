r"""A linear (multi-label logistic) router: $p_m(x) = \sigma(w_m^\top x + b_m)$.

Like the MLP router it has ``K + 1`` sigmoid outputs, the last being the learned null
head "no model is correct", and it is trained on the same binary cross-entropy targets
with AdamW; weight decay plays the part of the usual L2 penalty.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._training import FitHistory, fit_minibatch
from .mlp import RouterScores, router_targets


class LinearRouter(eqx.Module):
    """Equinox linear map to ``K + 1`` logits; sigmoid outputs, the last one is the null-model head."""

    linear: eqx.nn.Linear
    num_models: int = eqx.field(static=True)

    def __init__(self, feature_dim: int, num_models: int, *, key: PRNGKeyArray):
        self.linear = eqx.nn.Linear(feature_dim, num_models + 1, key=key)
        self.num_models = num_models

    def logits(self, features: Float[ArrayLike, "n d"]) -> Float[Array, "n K+1"]:
        return jax.vmap(self.linear)(jnp.asarray(features))

    def __call__(self, features: Float[ArrayLike, "n d"]) -> RouterScores:
        logits = self.logits(features)
        return RouterScores(jax.nn.sigmoid(logits[:, :-1]), jax.nn.sigmoid(logits[:, -1]))


def _bce(router: LinearRouter, features: Array, targets: Array) -> Array:
    return jnp.mean(optax.sigmoid_binary_cross_entropy(router.logits(features), targets))


def train_linear_router(
    features: Float[ArrayLike, "n d"],
    correct: ArrayLike,
    *,
    key: PRNGKeyArray,
    learning_rate: float = 1e-2,
    weight_decay: float = 1e-3,
    batch_size: int = 256,
    max_epochs: int = 300,
    patience: int = 15,
    holdout_fraction: float = 0.2,
) -> tuple[LinearRouter, FitHistory]:
    """Train a :class:`LinearRouter` with AdamW and early stopping on a held-out share."""
    features = np.asarray(features, dtype=np.float32)
    targets = router_targets(correct)
    init_key, fit_key = jax.random.split(key)
    router = LinearRouter(features.shape[1], targets.shape[1] - 1, key=init_key)
    return fit_minibatch(
        router, _bce, features, targets, key=fit_key, learning_rate=learning_rate,
        weight_decay=weight_decay, batch_size=batch_size, max_epochs=max_epochs,
        patience=patience, holdout_fraction=holdout_fraction,
    )
