r"""Train an MLP router for small RACER sets: a smooth surrogate of the α-VOR objective.

The α-VOR problem is to find the threshold $\lambda$ with the smallest expected set size
$\mathbb{E}|C_\lambda(x) \cap M|$ among those with risk $R(\lambda) \le \alpha$. For a
batch of $B$ queries with cover scores $c_1, \dots, c_B$, the threshold that keeps the
batch's empirical risk at $\alpha$ is the $(1 - \alpha)$ quantile of the $c_i$. The
surrogate replaces both non-smooth steps:

- **Soft quantile.** With the sorted cover scores $c_{(0)} \le \dots \le c_{(B-1)}$ and the
  target rank $r = (1 - \alpha)(B - 1)$, the threshold is a kernel-weighted
  mean of order statistics,
  $$\tilde\lambda = \sum_j w_j\, c_{(j)}, \qquad w_j \propto \exp\!\big(-(j - r)^2 / 2h^2\big),$$
  with a bandwidth of $h$ ranks. Sorting is differentiable almost everywhere (the
  gradient flows to the scores in their sorted slots), so $\tilde\lambda$ moves with
  every order statistic near the quantile, not only with one.
- **Soft membership.** Model $m$ is in the set with weight $\sigma((\tilde\lambda - S(x, m)) / \tau)$
  for a temperature $\tau$, so the soft set size is
  $\widetilde{|C|}(x) = \sum_{m \in M} \sigma((\tilde\lambda - S(x, m)) / \tau)$;
  the null model is left out because it costs no call.

The training loss is the batch mean of $\widetilde{|C|}$ plus ``ce_weight`` times the
multi-label binary cross-entropy of :mod:`.mlp`, which keeps the outputs readable as
correctness probabilities. The scores $S$ and cover scores $c$ are computed exactly as
at calibration time (same null option, same nonconformity score), so the router is
trained for the configuration it will be calibrated in. Calibration afterwards is the
ordinary post-hoc one on separate data, so the risk guarantee does not depend on how
the router was trained.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..bounds import check_level
from ..scoring import (
    NONCONFORMITY_OPTIONS,
    NULL_SCORE_OPTIONS,
    augment_scores,
    check_option,
    cover_scores,
    nonconformity_scores,
)
from ._training import check_training_data, make_epoch
from .mlp import MLPRouter, router_targets, train_mlp_router


def soft_quantile(values: Float[ArrayLike, " n"], level: float, bandwidth: float) -> Float[Array, ""]:
    r"""Kernel-smoothed quantile $\sum_j w_j v_{(j)}$ with Gaussian weights around rank $(n - 1)\,\text{level}$.

    - ``values``: shape ``(n,)``.
    - ``level``: quantile level in $[0, 1]$.
    - ``bandwidth``: kernel width $h$ in ranks; as $h \to 0$ this tends to the order
      statistic nearest to the target rank.
    """
    values = jnp.asarray(values)
    n = values.shape[0]
    ranks = jnp.arange(n, dtype=values.dtype)
    target = level * (n - 1)
    weights = jax.nn.softmax(-0.5 * ((ranks - target) / bandwidth) ** 2)
    return jnp.sum(weights * jnp.sort(values))


def soft_set_size(
    scores: Float[ArrayLike, "n K+1"], threshold: Float[ArrayLike, ""], temperature: float
) -> Float[Array, " n"]:
    r"""$\sum_{m \in M} \sigma((\lambda - S(x, m)) / \tau)$: the smooth count of standard models in $C_\lambda(x)$."""
    scores = jnp.asarray(scores)
    return jnp.sum(jax.nn.sigmoid((threshold - scores[:, :-1]) / temperature), axis=-1)


def racer_surrogate_loss(
    logits: Float[ArrayLike, "n K+1"],
    correct: ArrayLike,
    *,
    alpha: float,
    score: str = "gap",
    null: str = "always",
    temperature: float = 0.05,
    bandwidth: float = 2.0,
) -> Float[Array, ""]:
    r"""Batch mean of the soft set size $\widetilde{|C|}$ at the soft $(1 - \alpha)$ quantile of the cover scores.

    - ``logits``: router logits ``(n, K + 1)``; the first ``K`` give $p_m = \sigma(z_m)$
      and the last the learned null head.
    - ``correct``: correctness ``(n, K)``, 0/1.
    - ``alpha``: target risk; the threshold keeps the batch's empirical risk near it.
    - ``score``, ``null``: the nonconformity score and null option used at calibration.
    - ``temperature``: $\tau$ of the membership sigmoid, in score units.
    - ``bandwidth``: $h$ of :func:`soft_quantile`, in ranks.
    """
    logits = jnp.asarray(logits)
    probs = jax.nn.sigmoid(logits)
    augmented = augment_scores(probs[:, :-1], null, probs[:, -1])
    scores = nonconformity_scores(augmented, score)
    cover = cover_scores(scores, correct)
    threshold = soft_quantile(cover, 1.0 - alpha, bandwidth)
    return jnp.mean(soft_set_size(scores, threshold, temperature))


class RacerTrainingHistory(NamedTuple):
    """Per-epoch training loss, held-out mean set size at the held-out threshold, and the kept epoch."""

    train_loss: list[float]
    holdout_set_size: list[float]
    best_epoch: int


def holdout_set_size(scores: Float[ArrayLike, "n K+1"], cover: Float[ArrayLike, " n"], alpha: float) -> float:
    r"""Mean $|C_\lambda(x) \cap M|$ at the smallest $\lambda$ whose empirical risk on these queries is at most $\alpha$."""
    cover = np.sort(np.asarray(cover))
    n = cover.shape[0]
    allowed = int(np.floor(alpha * n))
    threshold = cover[n - 1 - allowed] if allowed < n else -np.inf
    return float(np.mean(np.sum(np.asarray(scores)[:, :-1] <= threshold, axis=1)))


def train_racer_router(
    features: Float[ArrayLike, "n d"],
    correct: ArrayLike,
    *,
    key: PRNGKeyArray,
    alpha: float = 0.1,
    score: str = "gap",
    null: str = "always",
    ce_weight: float = 1.0,
    temperature: float = 0.05,
    bandwidth: float = 2.0,
    width: int = 256,
    depth: int = 2,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 512,
    max_epochs: int = 150,
    patience: int = 20,
    holdout_fraction: float = 0.2,
    warm_start: bool = True,
) -> tuple[MLPRouter, RacerTrainingHistory]:
    r"""Train an :class:`MLPRouter` on the RACER surrogate plus ``ce_weight`` times cross-entropy.

    With ``warm_start`` the network first trains on cross-entropy alone
    (:func:`train_mlp_router`, on the same training rows) and is then fine-tuned on the
    surrogate. After each epoch the router is scored on a held-out share of the data by
    the quantity the surrogate approximates: the mean set size at the held-out queries'
    own empirical $(1 - \alpha)$ threshold. The weights with the smallest such size are
    kept, and training stops after ``patience`` epochs without a smaller one.
    """
    alpha = check_level("alpha", alpha)
    check_option("score", score, NONCONFORMITY_OPTIONS)
    check_option("null", null, NULL_SCORE_OPTIONS)
    if temperature <= 0 or bandwidth <= 0:
        raise ValueError(f"temperature and bandwidth must be positive; got {temperature} and {bandwidth}")
    features, correct = check_training_data(features, correct)
    targets = router_targets(correct)
    n = features.shape[0]
    if n < 20:
        raise ValueError(f"RACER training needs at least 20 queries; got {n}")
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must lie in (0, 1); got {holdout_fraction}")
    init_key, split_key, shuffle_key = jax.random.split(key, 3)

    # At least 10 held-out and 10 training queries, so both the held-out quantile and training have data.
    order = np.asarray(jax.random.permutation(split_key, n))
    num_holdout = min(n - 10, max(10, round(holdout_fraction * n)))
    holdout, train = order[:num_holdout], order[num_holdout:]
    x_train, y_train, c_train = (jnp.asarray(a[train]) for a in (features, targets, correct))
    x_hold, c_hold = jnp.asarray(features[holdout]), correct[holdout]

    if warm_start:
        router, _ = train_mlp_router(features[train], correct[train], key=init_key, width=width, depth=depth)
    else:
        router = MLPRouter(features.shape[1], correct.shape[1], width, depth, key=init_key)
    optimiser = optax.adamw(learning_rate, weight_decay=weight_decay)
    opt_state = optimiser.init(eqx.filter(router, eqx.is_array))
    batch_size = min(batch_size, train.shape[0])
    steps_per_epoch = max(1, train.shape[0] // batch_size)

    def loss_fn(router, rows):
        logits = router.logits(x_train[rows])
        size = racer_surrogate_loss(
            logits, c_train[rows], alpha=alpha, score=score, null=null,
            temperature=temperature, bandwidth=bandwidth,
        )
        ce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y_train[rows]))
        return size + ce_weight * ce

    run_epoch = make_epoch(
        optimiser, loss_fn, num_rows=x_train.shape[0], steps_per_epoch=steps_per_epoch, batch_size=batch_size
    )

    def evaluate(router) -> float:
        out = router(x_hold)
        scores = nonconformity_scores(augment_scores(out.probs, null, out.null), score)
        return holdout_set_size(scores, cover_scores(scores, c_hold), alpha)

    best, best_size, best_epoch = router, evaluate(router), -1
    history_train, history_hold = [], []
    for epoch, epoch_key in enumerate(jax.random.split(shuffle_key, max_epochs)):
        router, opt_state, train_loss, _ = run_epoch(router, opt_state, epoch_key)
        history_train.append(float(train_loss))
        history_hold.append(evaluate(router))
        if history_hold[-1] < best_size:
            best, best_size, best_epoch = router, history_hold[-1], epoch
        elif epoch - best_epoch >= patience:
            break
    return best, RacerTrainingHistory(history_train, history_hold, best_epoch)
