r"""A k-nearest-neighbour router over query embeddings, by cosine similarity.

The router stores the L2-normalised training features $e_j$ and their targets
$t_j \in \{0, 1\}^{K+1}$ (correctness per model, then "no model is correct"). For a query
$x$ with normalised features $u$, let $N_k(x)$ be the $k$ training queries with the
largest cosine similarity $s_j = u^\top e_j$. The scores are similarity-weighted means

$$p(x) = \sum_{j \in N_k(x)} w_j\, t_j, \qquad w_j = \frac{\exp(s_j / T)}{\sum_{l \in N_k(x)} \exp(s_l / T)},$$

with temperature $T$; the first $K$ entries are $p_m(x)$ and the last the null score.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .mlp import RouterScores, router_targets

# Queries scored per step, so the similarity matrix never exceeds (QUERY_BATCH, n_train).
QUERY_BATCH = 1024


def _normalise(features: Array) -> Array:
    norms = jnp.linalg.norm(features, axis=-1, keepdims=True)
    return features / jnp.maximum(norms, jnp.finfo(features.dtype).tiny)


class KNNRouter(eqx.Module):
    """Equinox module holding the normalised training embeddings ``(n, d)`` and targets ``(n, K + 1)``."""

    embeddings: Float[Array, "n d"]
    targets: Float[Array, "n K+1"]
    k: int = eqx.field(static=True)
    temperature: float = eqx.field(static=True)
    num_models: int = eqx.field(static=True)

    def __init__(self, embeddings: Float[ArrayLike, "n d"], targets: Float[ArrayLike, "n K+1"], k: int = 25,
                 temperature: float = 0.05):
        embeddings = jnp.asarray(embeddings, dtype=jnp.float32)
        targets = jnp.asarray(targets, dtype=jnp.float32)
        if embeddings.ndim != 2 or targets.ndim != 2 or embeddings.shape[0] != targets.shape[0]:
            raise ValueError(
                f"embeddings (n, d) and targets (n, K + 1) must have the same number of rows; "
                f"got shapes {embeddings.shape} and {targets.shape}"
            )
        if not 1 <= k <= embeddings.shape[0]:
            raise ValueError(f"k must lie in [1, {embeddings.shape[0]}] (the number of stored queries); got {k}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        self.embeddings = _normalise(embeddings)
        self.targets = targets
        self.k = int(k)
        self.temperature = float(temperature)
        self.num_models = targets.shape[1] - 1

    def _score_one(self, query: Float[Array, " d"]) -> Float[Array, " K+1"]:
        similarity = self.embeddings @ _normalise(query)
        top, rows = jax.lax.top_k(similarity, self.k)
        weights = jax.nn.softmax(top / self.temperature)
        return weights @ self.targets[rows]

    def __call__(self, features: Float[ArrayLike, "n d"]) -> RouterScores:
        features = jnp.asarray(features, dtype=jnp.float32)
        n = features.shape[0]
        # Pad to whole batches, score each batch with vmap, and drop the padding rows.
        padded = jnp.pad(features, ((0, -n % QUERY_BATCH), (0, 0)), constant_values=1.0)
        batches = padded.reshape(-1, QUERY_BATCH, features.shape[1])
        scores = jax.lax.map(jax.vmap(self._score_one), batches).reshape(-1, self.num_models + 1)[:n]
        # A convex combination of 0/1 targets lies in [0, 1]; clip float32 rounding past the ends.
        scores = jnp.clip(scores, 0.0, 1.0)
        return RouterScores(scores[:, :-1], scores[:, -1])


def fit_knn_router(
    features: Float[ArrayLike, "n d"], correct: ArrayLike, *, k: int = 25, temperature: float = 0.05
) -> KNNRouter:
    """Store the training data in a :class:`KNNRouter`; ``k`` is capped at the number of queries."""
    features = np.asarray(features, dtype=np.float32)
    targets = router_targets(correct)
    return KNNRouter(features, targets, k=min(k, features.shape[0]), temperature=temperature)
