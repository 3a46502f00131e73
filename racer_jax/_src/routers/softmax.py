r"""A single-choice router: a softmax over the ``K`` models and "no model is correct".

Each training query gets one label $y \in \{1, \dots, K, K + 1\}$: the best correct
model, or class $K + 1$ when no model is correct. The best correct model is the one with
the highest graded score (for multiple-choice RouterDC data, the probability it gave the
right option). Ties go to the model with the higher training accuracy, then to the
lower column index. An MLP maps features to $K + 1$ logits $z(x)$ and is trained with
the softmax cross-entropy. Its outputs are

$$p_m(x) = \mathrm{softmax}(z(x))_m \quad (m \le K), \qquad p_0(x) = \mathrm{softmax}(z(x))_{K+1},$$

so the null score is the probability of the "no model is correct" class, and the
per-model scores are the probability that $m$ is the single best choice (they sum to
$1 - p_0(x)$, not to one each, unlike the multi-label routers).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._training import FitHistory, fit_minibatch
from .mlp import RouterScores


class SoftmaxRouter(eqx.Module):
    """Equinox MLP with a ``K + 1``-way softmax; the last class is "no model is correct"."""

    mlp: eqx.nn.MLP
    num_models: int = eqx.field(static=True)

    def __init__(self, feature_dim: int, num_models: int, width: int = 256, depth: int = 2, *, key: PRNGKeyArray):
        self.mlp = eqx.nn.MLP(feature_dim, num_models + 1, width, depth, activation=jax.nn.gelu, key=key)
        self.num_models = num_models

    def logits(self, features: Float[ArrayLike, "n d"]) -> Float[Array, "n K+1"]:
        return jax.vmap(self.mlp)(jnp.asarray(features))

    def __call__(self, features: Float[ArrayLike, "n d"]) -> RouterScores:
        probs = jax.nn.softmax(self.logits(features), axis=-1)
        return RouterScores(probs[:, :-1], probs[:, -1])


def best_model_labels(correct: ArrayLike, graded: ArrayLike | None = None) -> Int[np.ndarray, " n"]:
    """Class labels ``(n,)``: the best correct model per query, or ``K`` when none is correct.

    - ``correct``: 0/1 ``(n, K)``.
    - ``graded``: optional graded scores ``(n, K)`` ranking the correct models (NaN counts
      as 0); without it every correct model ties and training accuracy decides.
    """
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"correct must have shape (n, K); got {correct.shape}")
    graded = correct.astype(np.float64) if graded is None else np.nan_to_num(np.asarray(graded, dtype=np.float64))
    if graded.shape != correct.shape:
        raise ValueError(f"graded must have the shape of correct {correct.shape}; got {graded.shape}")
    candidates = np.where(correct, graded, -np.inf)
    top = correct & (candidates == candidates.max(axis=1, keepdims=True))
    accuracy = correct.mean(axis=0)
    labels = np.argmax(np.where(top, accuracy, -np.inf), axis=1)
    return np.where(correct.any(axis=1), labels, correct.shape[1])


def _cross_entropy(router: SoftmaxRouter, features: Array, labels: Array) -> Array:
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(router.logits(features), labels))


def train_softmax_router(
    features: Float[ArrayLike, "n d"],
    correct: ArrayLike,
    *,
    key: PRNGKeyArray,
    graded: ArrayLike | None = None,
    width: int = 256,
    depth: int = 2,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 128,
    max_epochs: int = 200,
    patience: int = 10,
    holdout_fraction: float = 0.2,
) -> tuple[SoftmaxRouter, FitHistory]:
    """Train a :class:`SoftmaxRouter` on :func:`best_model_labels` with AdamW and early stopping."""
    features = np.asarray(features, dtype=np.float32)
    labels = best_model_labels(correct, graded)
    num_models = np.asarray(correct).shape[1]
    init_key, fit_key = jax.random.split(key)
    router = SoftmaxRouter(features.shape[1], num_models, width, depth, key=init_key)
    return fit_minibatch(
        router, _cross_entropy, features, labels, key=fit_key, learning_rate=learning_rate,
        weight_decay=weight_decay, batch_size=batch_size, max_epochs=max_epochs,
        patience=patience, holdout_fraction=holdout_fraction,
    )
