r"""Augmented scoring, nonconformity scores, nested model sets and the misrouting loss.

Conventions used throughout the package:

- ``K`` standard models and one *null model* $m_0$ ("abstain"). Augmented arrays have
  ``K + 1`` columns and the null model always sits in the **last** column, index ``K``
  (:data:`NULL_INDEX` is ``-1``).
- ``correct`` is a ``{0, 1}`` matrix of shape ``(n, K)``; $G(x) = \{m : y_m = 1\}$ and
  $G'(x) = G(x)$ when it is non-empty, else $\{m_0\}$.
- A nonconformity score $S(x, m)$ is low when model $m$ looks right for $x$. Every score
  here lies in $[-1, 1]$ for router scores in $[0, 1]$, and $S \le$ :data:`SCORE_UPPER_LIMIT`
  always, so $\lambda =$ ``SCORE_UPPER_LIMIT`` puts every model and the null model in the set.

All functions are pure, work on the input dtype, and are safe under ``jax.jit`` and
``jax.vmap``. String options are static: validate them before tracing.
"""

from __future__ import annotations

from typing import Literal, get_args

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float

from .validation import check_floating, check_unit_interval

NullScore = Literal["learned", "one-minus-max", "product", "always"]
NonconformityScore = Literal["gap", "inverse"]

NULL_SCORE_OPTIONS: tuple[str, ...] = get_args(NullScore)
NONCONFORMITY_OPTIONS: tuple[str, ...] = get_args(NonconformityScore)

NULL_INDEX = -1
SCORE_UPPER_LIMIT = 1.0


def check_option(name: str, value: str, options: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the argument unless ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(
            f"invalid {name} {value!r}: expected one of {', '.join(map(repr, options))}"
        )


def augment_scores(
    probs: Float[ArrayLike, "n K"],
    null: NullScore = "always",
    null_head: Float[ArrayLike, " n"] | None = None,
) -> Float[Array, "n K+1"]:
    r"""Append the null model's score $p_0(x)$ as the last column.

    - ``"learned"``: $p_0$ is the router's own "no model is correct" probability,
      passed as ``null_head``.
    - ``"one-minus-max"``: $p_0 = 1 - \max_m p_m$.
    - ``"product"``: $p_0 = \prod_m (1 - p_m)$, the chance that every model fails if
      the per-model scores were independent correctness probabilities.
    - ``"always"``: $p_0 = 1$, so the null model is in every set with $\lambda \ge 0$
      and an unanswerable query never counts as misrouted.

    **Arguments:**

    - ``probs``: per-model router scores $p(x) \in [0, 1]^K$, shape ``(n, K)``.
    - ``null``: which null score to use.
    - ``null_head``: shape ``(n,)``; required for ``"learned"``, ignored otherwise.

    **Returns:** shape ``(n, K + 1)``, the null model in the last column.

    Raises ``ValueError`` when ``probs`` or ``null_head`` is not a floating-point array
    in [0, 1] (NaN included). Under ``jit`` the range check is an ``equinox.error_if``
    that fires when the program runs.
    """
    check_option("null score", null, NULL_SCORE_OPTIONS)
    probs = check_floating("probs", jnp.asarray(probs))
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise ValueError(f"probs must have shape (n, K) with K >= 1 models; got shape {probs.shape}")
    probs = check_unit_interval(
        "probs", probs, "pass per-model probabilities, or rescale the router's scores to [0, 1]"
    )
    if null == "learned":
        if null_head is None:
            raise ValueError(
                "null score 'learned' needs null_head, the router's no-correct-model "
                "probability per query; pass it or choose another null score"
            )
        p0 = jnp.asarray(null_head, dtype=probs.dtype)
        if p0.shape != probs.shape[:1]:
            raise ValueError(
                f"null_head must have shape ({probs.shape[0]},); got {p0.shape}"
            )
        p0 = check_unit_interval("null_head", p0, "pass the router's no-correct-model probability per query")
    elif null == "one-minus-max":
        p0 = 1.0 - jnp.max(probs, axis=-1)
    elif null == "product":
        p0 = jnp.prod(1.0 - probs, axis=-1)
    else:
        p0 = jnp.ones(probs.shape[:1], dtype=probs.dtype)
    return jnp.concatenate([probs, p0[:, None]], axis=-1)


def nonconformity_scores(
    augmented: Float[ArrayLike, "n K+1"], score: NonconformityScore = "gap"
) -> Float[Array, "n K+1"]:
    r"""Nonconformity scores $S(x, m)$ for every $m \in M'$.

    - ``"gap"`` (router score gap): $S(x, m) = \max_{j \in M'} p_j(x) - p_m(x)$. The
      top-scoring model has $S = 0$, so no set is empty for $\lambda \ge 0$.
    - ``"inverse"`` (inverse probability): $S(x, m) = 1 - p_m(x)$.

    ``augmented`` has shape ``(n, K + 1)`` with values in [0, 1] (see :func:`augment_scores`);
    a ``ValueError`` (an ``equinox.error_if`` under ``jit``) names the first bad entry.
    """
    check_option("nonconformity score", score, NONCONFORMITY_OPTIONS)
    augmented = check_floating("augmented", jnp.asarray(augmented))
    if augmented.ndim != 2 or augmented.shape[1] < 2:
        raise ValueError(
            f"augmented must have shape (n, K + 1) with K >= 1 models and the null model last; "
            f"got shape {augmented.shape}. Build it with augment_scores"
        )
    augmented = check_unit_interval("augmented", augmented, "build it with augment_scores from probabilities")
    if score == "gap":
        return jnp.max(augmented, axis=-1, keepdims=True) - augmented
    return 1.0 - augmented


def augmented_truth(correct: Bool[ArrayLike, "n K"]) -> Bool[Array, "n K+1"]:
    r"""Indicator of $G'(x)$: the correct models, or only the null model when none is."""
    correct = jnp.asarray(correct, dtype=bool)
    none_correct = ~jnp.any(correct, axis=-1, keepdims=True)
    return jnp.concatenate([correct, none_correct], axis=-1)


def cover_scores(
    scores: Float[ArrayLike, "n K+1"], correct: Bool[ArrayLike, "n K"]
) -> Float[Array, " n"]:
    r"""Cover score $c(x) = \min_{m \in G'(x)} S(x, m)$.

    The set $C_\lambda(x)$ meets $G'(x)$ exactly when $\lambda \ge c(x)$, so the
    misrouting loss is $L(x, \lambda) = 1\{\lambda < c(x)\}$. ``scores`` has shape
    ``(n, K + 1)`` and ``correct`` shape ``(n, K)``; other shapes raise ``ValueError``.
    """
    scores = jnp.asarray(scores)
    correct = jnp.asarray(correct)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(
            f"scores must have shape (n, K + 1) with K >= 1 and the null model last; got shape {scores.shape}"
        )
    expected = (scores.shape[0], scores.shape[1] - 1)
    if correct.shape != expected:
        raise ValueError(
            f"correct must have shape {expected} for scores of shape {scores.shape} (K models plus the "
            f"null model); got shape {correct.shape}. The router and the data must cover the same models"
        )
    truth = augmented_truth(correct)
    return jnp.min(jnp.where(truth, scores, jnp.inf), axis=-1).astype(scores.dtype)


def prediction_sets(
    scores: Float[ArrayLike, "n K+1"], lam: Float[ArrayLike, ""]
) -> Bool[Array, "n K+1"]:
    r"""Membership of $C_\lambda(x) = \{m \in M' : S(x, m) \le \lambda\}$ (Lemma 4.1: nested in $\lambda$)."""
    return jnp.asarray(scores) <= lam


def misrouting_loss(
    cover: Float[ArrayLike, " n"], lam: Float[ArrayLike, ...]
) -> Float[Array, "... n"]:
    r"""$L(x, \lambda) = 1\{C_\lambda(x) \cap G'(x) = \emptyset\} = 1\{\lambda < c(x)\}$.

    ``lam`` may be a scalar or any batch of thresholds; the query axis is last.
    """
    cover = jnp.asarray(cover)
    lam = jnp.asarray(lam, dtype=cover.dtype)
    return (lam[..., None] < cover).astype(cover.dtype)


def empirical_risk(
    cover: Float[ArrayLike, " n"], lam: Float[ArrayLike, ...]
) -> Float[Array, ...]:
    r"""Empirical risk $\hat R_n(\lambda) = \frac{1}{n} \#\{i : c_i > \lambda\}$, one per threshold."""
    return jnp.mean(misrouting_loss(cover, lam), axis=-1)


def set_sizes(
    scores: Float[ArrayLike, "n K+1"], lam: Float[ArrayLike, ""]
) -> Float[Array, " n"]:
    r"""LLM calls per query, $|C_\lambda(x) \cap M|$: the null model costs nothing."""
    scores = jnp.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(
            f"scores must have shape (n, K + 1) with K >= 1 and the null model last; got shape {scores.shape}"
        )
    members = prediction_sets(scores, lam)[:, :NULL_INDEX]
    return jnp.sum(members, axis=-1)


def abstains(
    scores: Float[ArrayLike, "n K+1"], lam: Float[ArrayLike, ""]
) -> Bool[Array, " n"]:
    r"""Return whether the system abstains: $C_\lambda(x) \cap M = \emptyset$."""
    return set_sizes(scores, lam) == 0
