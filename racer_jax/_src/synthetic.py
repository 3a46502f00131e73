r"""A synthetic routing population with known correctness probabilities.

Each query $i$ has a latent domain $d_i$ and difficulty $b_i \sim N(0, 1)$; model $m$
has a skill $s_{m,d}$ per domain. Model $m$ answers query $i$ correctly with probability

$$q_{im} = \sigma\big(\text{sharpness} \cdot (s_{m, d_i} - b_i)\big),$$

independently across models, except that a fraction of queries is *unanswerable*
($q_{i\cdot} = 0$), chosen so that the expected share of queries no model answers
matches ``no_correct_rate`` (when the skills alone do not already exceed it). Features
are a noisy linear image of (domain, difficulty, answerable), so a router can learn
from them. Because $q$ is known, the risk of any set rule is known exactly: see
:func:`conditional_miss_probability`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .data import RoutingDataset


class SyntheticData(NamedTuple):
    """A sampled dataset and the true per-model correctness probabilities $q$ ``(n, K)``."""

    dataset: RoutingDataset
    probabilities: np.ndarray


def make_synthetic(
    seed: int = 0,
    num_queries: int = 4000,
    num_models: int = 7,
    num_domains: int = 5,
    feature_dim: int = 32,
    no_correct_rate: float = 0.15,
    sharpness: float = 2.0,
    feature_noise: float = 0.5,
) -> SyntheticData:
    """Sample a synthetic routing dataset with features; see the module docstring for the model.

    The model skills and the feature map depend only on ``seed`` and the sizes, so two
    calls with the same ``seed`` and different ``num_queries`` share one population.
    """
    if num_queries < 1 or num_models < 1 or num_domains < 1 or feature_dim < 1:
        raise ValueError("num_queries, num_models, num_domains and feature_dim must all be at least 1")
    if not 0.0 <= no_correct_rate < 1.0:
        raise ValueError(f"no_correct_rate must lie in [0, 1); got {no_correct_rate}")
    population = np.random.default_rng([seed, num_models, num_domains, feature_dim])
    skills = population.normal(0.0, 1.0, size=(num_models, num_domains)) + population.normal(0.5, 0.5, size=(num_models, 1))
    domain_directions = population.normal(size=(num_domains, feature_dim))
    difficulty_direction = population.normal(size=feature_dim)
    answerable_direction = population.normal(size=feature_dim)

    rng = np.random.default_rng([seed, num_queries, 1])
    domains = rng.integers(num_domains, size=num_queries)
    difficulty = rng.normal(size=num_queries)
    logits = sharpness * (skills[:, domains].T - difficulty[:, None])
    probabilities = 1.0 / (1.0 + np.exp(-logits))

    chance_none = float(np.mean(np.prod(1.0 - probabilities, axis=1)))
    unanswerable_share = max(0.0, (no_correct_rate - chance_none) / (1.0 - chance_none))
    unanswerable = rng.random(num_queries) < unanswerable_share
    probabilities[unanswerable] = 0.0

    correct = rng.random(probabilities.shape) < probabilities
    features = (
        domain_directions[domains]
        + difficulty[:, None] * difficulty_direction
        + np.where(unanswerable, 1.5, 0.0)[:, None] * answerable_direction
        + feature_noise * rng.normal(size=(num_queries, feature_dim))
    ).astype(np.float32)

    dataset = RoutingDataset(
        ids=tuple(f"synthetic:{i}" for i in range(num_queries)),
        texts=tuple(f"synthetic query {i} (domain {domains[i]})" for i in range(num_queries)),
        model_names=tuple(f"model-{m}" for m in range(num_models)),
        scores=correct.astype(np.float64),
        correct=correct,
        features=features,
        source=f"synthetic(seed={seed})",
    )
    return SyntheticData(dataset, probabilities)


def conditional_miss_probability(
    probabilities: Float[ArrayLike, "n K"],
    scores: Float[ArrayLike, "n K+1"],
    lam: Float[ArrayLike, ""],
) -> Float[Array, " n"]:
    r"""$P(L(x, \lambda) = 1 \mid x)$ when models are correct independently with probabilities $q$.

    With $A = C_\lambda(x) \cap M$ and $B = M \setminus A$, the set misses when every
    model in $A$ is wrong and either some model in $B$ is right (so $G' = G$) or no
    model is right and the null model is not in the set:

    $$\prod_{m \in A}(1 - q_m)\Big[1 - \prod_{m \in B}(1 - q_m)\,1\{m_0 \in C_\lambda(x)\}\Big].$$

    Averaging over a population's queries gives its exact risk $R(\lambda)$.
    """
    q = jnp.asarray(probabilities)
    members = jnp.asarray(scores) <= lam
    in_set, null_in_set = members[:, :-1], members[:, -1]
    all_wrong_in = jnp.prod(jnp.where(in_set, 1.0 - q, 1.0), axis=-1)
    all_wrong_out = jnp.prod(jnp.where(in_set, 1.0, 1.0 - q), axis=-1)
    return all_wrong_in * (1.0 - all_wrong_out * null_in_set)


def population_risk(probabilities, scores, lam) -> Array:
    r"""Exact $R(\lambda)$ of a finite population with uniform query weights."""
    return jnp.mean(conditional_miss_probability(probabilities, scores, lam))


__all__ = ["SyntheticData", "conditional_miss_probability", "make_synthetic", "population_risk"]
