r"""Aggregation of a model set into one answer: votes over the set, and the baselines they are compared with.

Inputs are per-query, per-model arrays over the ``K`` standard models (the null model is
never called, so it has no answer):

- ``choices``: int ``(n, K)``, the choice id each model answered (``0, 1, ...``), or
  :data:`~racer_jax._src.answers.UNPARSEABLE` (``-1``) when its response could not be
  read. An unparseable answer casts no vote.
- ``members``: bool ``(n, K)``, membership of $C_{\hat\lambda}(x) \cap M$: the models
  called for query ``x``.
- ``router_scores``: float ``(n, K)``, the base router's scores $p_m(x)$.

A vote returns a :class:`Vote`: the answer, :data:`NO_ANSWER` (``-1``) when the system
gives none, and an ``abstained`` flag that is true exactly when the set holds no standard
model. A non-empty set whose members all gave unparseable answers returns
:data:`NO_ANSWER` without abstaining: the calls were made and produced nothing usable.

Every function is pure and safe under ``jax.jit`` and ``jax.vmap``; ``num_choices`` is static.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .answers import NUM_CHOICES, UNPARSEABLE

NO_ANSWER = UNPARSEABLE


class Vote(NamedTuple):
    """An aggregated answer per query.

    - ``answer``: int32 ``(n,)`` choice id, or :data:`NO_ANSWER`.
    - ``abstained``: bool ``(n,)``, true when the set holds no standard model.
    """

    answer: Array
    abstained: Array


def _check_shapes(choices, members, router_scores, weights=None) -> None:
    if choices.ndim != 2:
        raise ValueError(f"choices must have shape (n, K); got shape {choices.shape}")
    for name, value in (("members", members), ("router_scores", router_scores), ("confidence", weights)):
        if value is not None and value.shape != choices.shape:
            raise ValueError(f"{name} must have the shape of choices {choices.shape}; got {value.shape}")


def _ballots(choices, members, num_choices):
    """Bool ``(n, K, C)``: model ``m`` is called on query ``i`` and answered choice ``c``."""
    options = jnp.arange(num_choices, dtype=choices.dtype)
    return members[..., None] & (choices[..., None] == options)


def weighted_plurality(
    choices: Int[ArrayLike, "n K"],
    members: Bool[ArrayLike, "n K"],
    weights: Float[ArrayLike, "n K"],
    router_scores: Float[ArrayLike, "n K"],
    num_choices: int = NUM_CHOICES,
) -> Vote:
    r"""Pick the choice with the largest total weight among the called models.

    $\hat y(x) = \arg\max_c \sum_{m \in C(x) \cap M,\ a_m(x) = c} w_m(x)$. A tie in total
    weight goes to the tied choice whose best voter has the highest router score
    $\max\{p_m(x) : m \text{ voted } c\}$; a tie in that too goes to the lowest choice id.

    **Arguments:**

    - ``choices``, ``members``, ``router_scores``: as in the module docstring, ``(n, K)``.
    - ``weights``: non-negative vote weights $w_m(x)$, ``(n, K)``.
    - ``num_choices``: number of options (static); choice ids lie in ``[0, num_choices)``.

    **Returns:** a :class:`Vote`.
    """
    choices = jnp.asarray(choices)
    members = jnp.asarray(members, dtype=bool)
    router_scores = jnp.asarray(router_scores)
    weights = jnp.asarray(weights)
    _check_shapes(choices, members, router_scores, weights)
    ballots = _ballots(choices, members, num_choices)
    totals = jnp.sum(jnp.where(ballots, weights[..., None], 0), axis=1)
    best_voter = jnp.max(jnp.where(ballots, router_scores[..., None], -jnp.inf), axis=1)
    has_votes = jnp.any(ballots, axis=1)
    top_total = jnp.max(jnp.where(has_votes, totals, -jnp.inf), axis=1, keepdims=True)
    tied = has_votes & (totals == top_total)
    winner = jnp.argmax(jnp.where(tied, best_voter, -jnp.inf), axis=1).astype(jnp.int32)
    answered = jnp.any(has_votes, axis=1)
    return Vote(
        answer=jnp.where(answered, winner, NO_ANSWER).astype(jnp.int32),
        abstained=~jnp.any(members, axis=1),
    )


def majority_vote(
    choices: Int[ArrayLike, "n K"],
    members: Bool[ArrayLike, "n K"],
    router_scores: Float[ArrayLike, "n K"],
    num_choices: int = NUM_CHOICES,
) -> Vote:
    r"""Majority (plurality) vote over the called models, ties broken by router score.

    $\hat y(x) = \arg\max_c \#\{m \in C(x) \cap M : a_m(x) = c\}$; among tied choices the
    one answered by the model with the highest $p_m(x)$ wins (then the lowest choice id).
    Shapes as in the module docstring.
    """
    return weighted_plurality(choices, members, jnp.ones(jnp.shape(choices)), router_scores, num_choices)


def weighted_vote(
    choices: Int[ArrayLike, "n K"],
    members: Bool[ArrayLike, "n K"],
    router_scores: Float[ArrayLike, "n K"],
    confidence: Float[ArrayLike, "n K"] | None = None,
    num_choices: int = NUM_CHOICES,
) -> Vote:
    r"""Weighted vote: each called model's vote counts its confidence in its own answer.

    $\hat y(x) = \arg\max_c \sum_{m \in C(x) \cap M,\ a_m(x) = c} w_m(x)$ with
    $w_m(x)$ = ``confidence[x, m]`` when given (for instance the probability the model
    gave its chosen option), else the router score $p_m(x)$. Ties are broken as in
    :func:`weighted_plurality`.
    """
    weights = router_scores if confidence is None else confidence
    return weighted_plurality(choices, members, weights, router_scores, num_choices)


def top1_models(router_scores: Float[ArrayLike, "n K"]) -> Int[Array, " n"]:
    r"""Top-1 routing: $\arg\max_m p_m(x)$ per query (the lowest index on ties)."""
    return jnp.argmax(jnp.asarray(router_scores), axis=-1).astype(jnp.int32)


def top1_answer(choices: Int[ArrayLike, "n K"], router_scores: Float[ArrayLike, "n K"]) -> Vote:
    """Return the answer of the single top-1 routed model; top-1 routing never abstains."""
    choices = jnp.asarray(choices)
    picked = jnp.take_along_axis(choices, top1_models(router_scores)[:, None], axis=1)[:, 0]
    return Vote(answer=picked.astype(jnp.int32), abstained=jnp.zeros(choices.shape[0], dtype=bool))


def full_ensemble_vote(
    choices: Int[ArrayLike, "n K"], router_scores: Float[ArrayLike, "n K"], num_choices: int = NUM_CHOICES
) -> Vote:
    """Take the majority vote of all ``K`` models (the full ensemble), ties broken by router score."""
    return majority_vote(choices, jnp.ones(jnp.shape(choices), dtype=bool), router_scores, num_choices)


def best_single_model(
    model_correct: Bool[ArrayLike, "n K"], calibration: Bool[ArrayLike, " n"]
) -> Int[Array, ""]:
    r"""Select the model with the highest accuracy on the calibration queries (the lowest index on ties).

    $m^\star = \arg\max_m \sum_{i \in \mathrm{cal}} \mathrm{correct}_{i m}$, with
    ``model_correct`` bool ``(n, K)`` and ``calibration`` a bool mask ``(n,)``.
    """
    model_correct = jnp.asarray(model_correct, dtype=bool)
    calibration = jnp.asarray(calibration, dtype=bool)
    hits = jnp.sum(model_correct & calibration[:, None], axis=0)
    return jnp.argmax(hits).astype(jnp.int32)


def is_correct(vote_answer: Int[ArrayLike, " n"], gold: Int[ArrayLike, " n"]) -> Bool[Array, " n"]:
    """Check whether each answer equals the gold choice; no answer, or no known gold, counts as wrong."""
    vote_answer = jnp.asarray(vote_answer)
    gold = jnp.asarray(gold)
    return (vote_answer == gold) & (gold != UNPARSEABLE) & (vote_answer != NO_ANSWER)
