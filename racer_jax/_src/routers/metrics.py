r"""Router quality on labelled queries: per-model AUROC, top-1 routing accuracy and oracle accuracy.

- **AUROC of model m**: the probability that a random query model $m$ answers correctly
  gets a higher $p_m(x)$ than a random query it gets wrong, ties counting one half
  (the Mann–Whitney statistic). It is undefined (NaN) when model $m$ is always right or
  always wrong on the data.
- **Top-1 routing accuracy**: the share of queries whose top-scoring model
  $\arg\max_m p_m(x)$ (lowest index on ties) answers correctly.
- **Oracle accuracy**: the share of queries some model answers correctly, the top-1
  accuracy of a perfect router.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float


def auroc(scores: Float[ArrayLike, " n"], labels: Bool[ArrayLike, " n"]) -> Float[Array, ""]:
    r"""Mann–Whitney AUROC of ``scores`` for binary ``labels``, with midranks for ties; NaN with one class only.

    $\mathrm{AUROC} = (\sum_{i: y_i = 1} r_i - n_1 (n_1 + 1) / 2) / (n_1 n_0)$, where $r_i$ is the
    1-based midrank of score $i$ among all $n$ scores.
    """
    scores = jnp.asarray(scores, dtype=jnp.float32)
    labels = jnp.asarray(labels, dtype=bool)
    ordered = jnp.sort(scores)
    below = jnp.searchsorted(ordered, scores, side="left")
    at_or_below = jnp.searchsorted(ordered, scores, side="right")
    midrank = (below + at_or_below + 1) / 2.0
    positives = jnp.sum(labels)
    negatives = labels.shape[0] - positives
    rank_sum = jnp.sum(jnp.where(labels, midrank, 0.0))
    statistic = rank_sum - positives * (positives + 1) / 2.0
    return jnp.where((positives > 0) & (negatives > 0), statistic / (positives * negatives), jnp.nan)


def per_model_auroc(probs: Float[ArrayLike, "n K"], correct: Bool[ArrayLike, "n K"]) -> Float[Array, " K"]:
    """AUROC of each column of ``probs`` against the matching column of ``correct``."""
    return jax.vmap(auroc, in_axes=(1, 1))(jnp.asarray(probs), jnp.asarray(correct, dtype=bool))


def top1_accuracy(probs: Float[ArrayLike, "n K"], correct: Bool[ArrayLike, "n K"]) -> Float[Array, ""]:
    """Share of queries whose highest-scoring model is correct."""
    correct = jnp.asarray(correct, dtype=bool)
    choice = jnp.argmax(jnp.asarray(probs), axis=-1)
    return jnp.mean(jnp.take_along_axis(correct, choice[:, None], axis=-1))


def oracle_accuracy(correct: Bool[ArrayLike, "n K"]) -> Float[Array, ""]:
    """Share of queries at least one model answers correctly."""
    return jnp.mean(jnp.any(jnp.asarray(correct, dtype=bool), axis=-1))


def router_metrics(
    probs: Float[ArrayLike, "n K"],
    null: Float[ArrayLike, " n"],
    correct: Bool[ArrayLike, "n K"],
    model_names: tuple[str, ...] | list[str],
) -> dict:
    """Compute every router metric into a JSON-ready dict, with ``None`` for an undefined AUROC.

    ``null_auroc`` rates the null score against "no model is correct".
    """
    correct = np.asarray(correct, dtype=bool)
    if np.shape(probs) != correct.shape or len(model_names) != correct.shape[1]:
        raise ValueError(
            f"probs {np.shape(probs)}, correct {correct.shape} and {len(model_names)} model names must agree"
        )
    per_model = np.asarray(per_model_auroc(probs, correct), dtype=np.float64)
    none_correct = ~correct.any(axis=1)
    null_auroc = float(auroc(null, none_correct))

    def finite(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    defined = per_model[~np.isnan(per_model)]
    return {
        "auroc": {name: finite(value) for name, value in zip(model_names, per_model)},
        "mean_auroc": float(defined.mean()) if defined.size else None,
        "null_auroc": finite(null_auroc),
        "top1_accuracy": float(top1_accuracy(probs, correct)),
        "oracle_accuracy": float(oracle_accuracy(correct)),
        "best_single_model_accuracy": float(correct.mean(axis=0).max()),
    }
