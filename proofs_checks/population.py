r"""Synthetic routing populations whose cover-score law is known exactly.

A population is a finite set of ``N`` queries, each with router scores $p_i \in [0, 1]^K$
and true correctness probabilities $q_i \in [0, 1]^K$ (models are correct independently). A
calibration sample draws ``n`` queries uniformly with replacement and then the correctness
of every model from $q$. The cover score $c = \min_{m \in G'(x)} S(x, m)$ then has a
discrete law with at most ``N (K + 1)`` atoms: for query $i$, sort its standard models by
score, $S_{(1)} \le \dots \le S_{(K)}$, and

$$P(c = S_{(j)} \mid i) = q_{(j)} \prod_{l < j} (1 - q_{(l)}), \qquad
P(c = S(x_i, m_0) \mid i) = \prod_{l \le K} (1 - q_{(l)}).$$

So the true risk $R(\lambda) = P(c > \lambda)$ of any threshold is an exact sum, and so is
the law of a count-based threshold: $\hat\lambda \le v \iff \#\{i : c_i > v\} \le k$, hence
$P(\hat\lambda \le v) = P(\mathrm{Bin}(n, R(v)) \le k)$.

Correctness is sampled in float32 (``uniform < q``), so the realised success probability
differs from ``q`` by at most $2^{-23}$; the law is computed from the same float32 ``q``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import jax.numpy as jnp
import numpy as np
from scipy import stats

from racer_jax import augment_scores, make_synthetic, nonconformity_scores

RouterKind = Literal["calibrated", "overconfident", "uninformative"]


@dataclasses.dataclass(frozen=True)
class PopulationLaw:
    """How to build a synthetic population.

    - ``num_models``: ``K``.
    - ``router``: ``"calibrated"`` sets $p = q$ (so $P(y_m = 1 \\mid p_m) = p_m$);
      ``"overconfident"`` sets $p = \\sigma(3\\,\\mathrm{logit}(q))$; ``"uninformative"``
      draws $p$ uniformly, independent of $q$.
    - ``no_correct_rate``: target share of queries that no model gets right (passed to
      :func:`racer_jax.make_synthetic`; the realised share is recorded in the report).
    - ``score``, ``null``: nonconformity score and null-model option.
    - ``levels``: when given, every router score (and learned null head) is rounded to the
      nearest of these values, which makes the cover scores heavily tied.
    - ``population_size``: ``N``.
    """

    name: str
    num_models: int
    router: RouterKind
    no_correct_rate: float
    score: str
    null: str
    levels: tuple[float, ...] | None = None
    population_size: int = 16384
    seed: int = 0


class Population(NamedTuple):
    """A sampled population: true probabilities ``q`` ``(N, K)`` and scores $S$ ``(N, K + 1)``, both float32."""

    law: PopulationLaw
    probabilities: np.ndarray
    scores: np.ndarray

    @property
    def no_correct_rate(self) -> float:
        """$P(G(x) = \\emptyset)$, the exact share of calibration draws that no model gets right."""
        q = self.probabilities.astype(np.float64)
        return float(np.mean(np.prod(1.0 - q, axis=1)))


class CoverLaw(NamedTuple):
    """The law of the cover score: distinct ``values`` (ascending, float32), their ``masses``
    and ``survival[j]`` $= P(c \\ge \\text{values}[j])$ (float64, length ``J + 1`` with a final 0)."""

    values: np.ndarray
    masses: np.ndarray
    survival: np.ndarray

    def risk(self, lam: np.ndarray) -> np.ndarray:
        """Exact $R(\\lambda) = P(c > \\lambda)$ for any array of thresholds."""
        lam = np.asarray(lam, dtype=self.values.dtype)
        return self.survival[np.searchsorted(self.values, lam, side="right")]

    @property
    def max_atom(self) -> float:
        """The largest single atom of the law."""
        return float(self.masses.max())


class ThresholdLaw(NamedTuple):
    """Exact moments of $R(\\hat\\lambda)$ for a count-based threshold with error count $k$."""

    expected_risk: float
    risk_sd: float
    violation_probability: float
    expected_atom: float


def _distort(q: np.ndarray, router: RouterKind, rng: np.random.Generator) -> np.ndarray:
    if router == "calibrated":
        return q.copy()
    if router == "overconfident":
        clipped = np.clip(q, 1e-6, 1.0 - 1e-6)
        return 1.0 / (1.0 + np.exp(-3.0 * np.log(clipped / (1.0 - clipped))))
    if router == "uninformative":
        return rng.random(q.shape)
    raise ValueError(f"invalid router kind {router!r}: expected 'calibrated', 'overconfident' or 'uninformative'")


def _round_to_levels(p: np.ndarray, levels: tuple[float, ...] | None) -> np.ndarray:
    if levels is None:
        return p
    grid = np.asarray(sorted(levels))
    nearest = np.argmin(np.abs(p[..., None] - grid), axis=-1)
    return grid[nearest]


def build_population(law: PopulationLaw) -> Population:
    """Sample the population of ``law``: $q$ from :func:`racer_jax.make_synthetic`, router scores from $q$."""
    synthetic = make_synthetic(
        seed=law.seed,
        num_queries=law.population_size,
        num_models=law.num_models,
        feature_dim=1,
        no_correct_rate=law.no_correct_rate,
    )
    q = synthetic.probabilities.astype(np.float32)
    rng = np.random.default_rng([law.seed, law.population_size, law.num_models, 7])
    probs = _round_to_levels(_distort(q.astype(np.float64), law.router, rng), law.levels)
    none_correct = np.prod(1.0 - probs, axis=1)
    null_head = _round_to_levels(none_correct, law.levels)
    augmented = augment_scores(
        jnp.asarray(probs, jnp.float32), law.null, jnp.asarray(null_head, jnp.float32)
    )
    scores = np.asarray(nonconformity_scores(augmented, law.score), dtype=np.float32)
    return Population(law, q, scores)


def cover_law(population: Population) -> CoverLaw:
    """Compute the exact law of the cover score of one calibration draw; see the module docstring."""
    q = population.probabilities.astype(np.float64)
    scores = population.scores
    num_queries, num_models = q.shape
    order = np.argsort(scores[:, :num_models], axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores[:, :num_models], order, axis=1)
    sorted_q = np.take_along_axis(q, order, axis=1)
    all_wrong_before = np.cumprod(np.concatenate([np.ones((num_queries, 1)), 1.0 - sorted_q], axis=1), axis=1)
    model_mass = all_wrong_before[:, :-1] * sorted_q
    null_mass = all_wrong_before[:, -1:]

    atoms = np.concatenate([sorted_scores, scores[:, num_models:]], axis=1).ravel()
    masses = np.concatenate([model_mass, null_mass], axis=1).ravel() / num_queries
    values, inverse = np.unique(atoms, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=masses, minlength=values.shape[0])
    survival = np.concatenate([np.cumsum(merged[::-1])[::-1], [0.0]])
    return CoverLaw(values.astype(np.float32), merged, np.clip(survival, 0.0, 1.0))


def threshold_law(law: CoverLaw, n: int, error_count: int, alpha: float) -> ThresholdLaw:
    r"""Exact law of $R(\hat\lambda)$ when $\hat\lambda$ is the smallest value with at most ``error_count`` cover scores above it.

    ``error_count < 0`` means the all-inclusive threshold (risk 0); ``error_count >= n``
    means $\hat\lambda = -\infty$ (risk 1). ``expected_atom`` is $E[P(c = \hat\lambda)]$,
    the amount by which ties can pull $E[R(\hat\lambda)]$ below its continuous value.
    """
    if error_count < 0:
        return ThresholdLaw(0.0, 0.0, 0.0, 0.0)
    if error_count >= n:
        return ThresholdLaw(1.0, 0.0, float(alpha < 1.0), 0.0)
    # The risk at atom j is P(c > values[j]) = survival[j + 1].
    tail = law.survival[1:]
    at_most = stats.binom.cdf(error_count, n, tail)
    weights = np.diff(np.concatenate([[0.0], at_most]))
    weights = np.clip(weights, 0.0, None)
    weights /= weights.sum()
    mean = float(weights @ tail)
    second = float(weights @ tail**2)
    return ThresholdLaw(
        expected_risk=mean,
        risk_sd=float(np.sqrt(max(second - mean * mean, 0.0))),
        violation_probability=float(weights @ (tail > alpha)),
        expected_atom=float(weights @ law.masses),
    )
