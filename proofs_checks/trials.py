r"""Calibration trials through the library's code path, with the exact true risk of each $\hat\lambda$.

Trial ``t`` of a setting draws ``n`` calibration queries uniformly with replacement from
the population, samples each model's correctness from $q$, computes cover scores with
:func:`racer_jax.cover_scores`, and calibrates $\hat\lambda$ with the calibrator under
test: every count-based rule on the same draw, and the betting rule on the same draw in
the order of a seeded permutation (as :func:`racer_jax.calibrate` does). The true risk
$R(\hat\lambda) = P(c > \hat\lambda)$ is then read exactly from the population's cover law.
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from racer_jax import cover_scores
from racer_jax._src.bounds import BOUND_RULES, COUNT_BASED_RULES, check_level
from racer_jax._src.scoring import check_option

from .calibrators import Calibrator
from .devices import map_trials
from .population import CoverLaw, Population, PopulationLaw, build_population, cover_law

# Elements of the per-trial score gather held in memory per batch; sets the batch size.
_BATCH_ELEMENTS = 2**24


@dataclasses.dataclass(frozen=True)
class Setting:
    """A population law with a calibration size ``n``, target ``alpha``, level ``delta`` and the rules to run."""

    name: str
    law: PopulationLaw
    n: int
    alpha: float
    delta: float
    trials: int
    rules: tuple[str, ...] = ("hoeffding", "bentkus", "hb", "binomial", "wsr", "crc")


@dataclasses.dataclass
class SettingRun:
    """The inputs of one setting's checks: the population, its cover law and the per-rule results."""

    setting: Setting
    population: Population
    law: CoverLaw
    error_counts: dict[str, int]
    risks: dict[str, np.ndarray]
    seed: int
    seconds: float


def _calibration_cover(index, scores, probabilities, key, n):
    trial_key = jax.random.fold_in(key, index)
    rows_key, correct_key, order_key = jax.random.split(trial_key, 3)
    rows = jax.random.randint(rows_key, (n,), 0, scores.shape[0])
    correct = jax.random.uniform(correct_key, (n, probabilities.shape[1])) < probabilities[rows]
    return cover_scores(scores[rows], correct), order_key


def _trial(index, scores, probabilities, error_counts, *, key, n, calibrator, wsr):
    """Thresholds of every count-based rule ``(rules,)`` and, when ``wsr`` is set, of the betting rule."""
    cover, order_key = _calibration_cover(index, scores, probabilities, key, n)
    count_lams = jax.vmap(calibrator.threshold, in_axes=(None, 0))(cover, error_counts)
    if wsr is None:
        return count_lams, jnp.zeros((), cover.dtype)
    alpha, delta = wsr
    ordered = cover[jax.random.permutation(order_key, n)]
    return count_lams, calibrator.wsr_threshold(ordered, alpha, delta)


def batch_size_for(setting: Setting) -> int:
    """Return the trials per compiled call, chosen so one batch gathers about 16M score entries."""
    per_trial = setting.n * (setting.law.num_models + 1)
    return int(np.clip(_BATCH_ELEMENTS // per_trial, 8, 512))


def check_setting(setting: Setting) -> None:
    """Raise ``ValueError`` naming the field unless ``setting`` can be run."""
    if setting.n < 1 or setting.trials < 1:
        raise ValueError(
            f"setting {setting.name!r}: n and trials must be at least 1; got n={setting.n}, trials={setting.trials}"
        )
    check_level("alpha", setting.alpha)
    check_level("delta", setting.delta)
    if not setting.rules:
        raise ValueError(f"setting {setting.name!r}: rules is empty; name at least one of {BOUND_RULES}")
    for rule in setting.rules:
        check_option("bound rule", rule, BOUND_RULES)


def run_setting(setting: Setting, calibrator: Calibrator, seed: int) -> SettingRun:
    """Run ``setting.trials`` calibration trials of every rule in ``setting.rules``."""
    check_setting(setting)
    start = time.perf_counter()
    population = build_population(setting.law)
    law = cover_law(population)
    key = jax.random.key(seed)
    scores = jnp.asarray(population.scores)
    probabilities = jnp.asarray(population.probabilities)
    batch = batch_size_for(setting)

    count_rules = [rule for rule in setting.rules if rule in COUNT_BASED_RULES]
    error_counts = {
        rule: int(calibrator.error_count(rule, setting.n, setting.alpha, setting.delta)) for rule in count_rules
    }
    wsr = (setting.alpha, setting.delta) if "wsr" in setting.rules else None
    trial = partial(_trial, key=key, n=setting.n, calibrator=calibrator, wsr=wsr)
    counts = jnp.asarray([error_counts[rule] for rule in count_rules], dtype=jnp.int32)
    count_lams, wsr_lams = map_trials(trial, setting.trials, (scores, probabilities, counts), batch)

    risks: dict[str, np.ndarray] = {}
    for column, rule in enumerate(count_rules):
        risks[rule] = law.risk(count_lams[:, column])
    if wsr is not None:
        risks["wsr"] = law.risk(wsr_lams)
    return SettingRun(
        setting=setting,
        population=population,
        law=law,
        error_counts=error_counts,
        risks={rule: risks[rule] for rule in setting.rules},
        seed=seed,
        seconds=time.perf_counter() - start,
    )
