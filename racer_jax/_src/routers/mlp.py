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
    n = features.shape[0]
    if n < 2:
        raise ValueError(f"training needs at least 2 queries; got {n}")
    init_key, split_key, shuffle_key = jax.random.split(key, 3)

    order = np.asarray(jax.random.permutation(split_key, n))
    num_holdout = max(1, int(round(holdout_fraction * n))) if n >= 10 else 1
    holdout, train = order[:num_holdout], order[num_holdout:]
    x_train, y_train = jnp.asarray(features[train]), jnp.asarray(targets[train])
    x_hold, y_hold = jnp.asarray(features[holdout]), jnp.asarray(targets[holdout])

    router = MLPRouter(features.shape[1], targets.shape[1] - 1, width, depth, key=init_key)
    optimiser = optax.adamw(learning_rate, weight_decay=weight_decay)
    opt_state = optimiser.init(eqx.filter(router, eqx.is_array))
    batch_size = min(batch_size, train.shape[0])
    steps_per_epoch = train.shape[0] // batch_size

    @eqx.filter_jit
    def run_epoch(router, opt_state, epoch_key):
        perm = jax.random.permutation(epoch_key, x_train.shape[0])[: steps_per_epoch * batch_size]
        batches = perm.reshape(steps_per_epoch, batch_size)
        params, static = eqx.partition(router, eqx.is_array)

        def step(carry, rows):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(
                lambda p: _bce(eqx.combine(p, static), x_train[rows], y_train[rows])
            )(params)
            updates, opt_state = optimiser.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
        router = eqx.combine(params, static)
        return router, opt_state, jnp.mean(losses), _bce(router, x_hold, y_hold)

    best, best_loss, best_epoch, history_train, history_hold = router, np.inf, 0, [], []
    for epoch, epoch_key in enumerate(jax.random.split(shuffle_key, max_epochs)):
        router, opt_state, train_loss, hold_loss = run_epoch(router, opt_state, epoch_key)
        history_train.append(float(train_loss))
        history_hold.append(float(hold_loss))
        if history_hold[-1] < best_loss:
            best, best_loss, best_epoch = router, history_hold[-1], epoch
        elif epoch - best_epoch >= patience:
            break
    return best, TrainingHistory(history_train, history_hold, best_epoch)
