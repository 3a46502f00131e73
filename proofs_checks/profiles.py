"""The synthetic populations and the ``ci`` and ``full`` profiles of the suite.

The eight population laws cover K in {1, 2, 7, 50}, no-correct-model rates from about 0 to
60%, calibrated, overconfident and uninformative routers, both nonconformity scores, all
four null-model options, and two heavily tied laws. The settings pair them with calibration
sizes from 10 to 10,000, alpha from 0.01 to 0.3 and delta from 0.01 to 0.2.
"""

from __future__ import annotations

import dataclasses

from .population import PopulationLaw
from .trials import Setting

ALL_RULES = ("hoeffding", "bentkus", "hb", "binomial", "wsr", "crc")
COUNT_RULES = ("hoeffding", "bentkus", "hb", "binomial", "crc")

LAWS = {
    law.name: law
    for law in (
        PopulationLaw("k1-calibrated", 1, "calibrated", 0.3, "inverse", "one-minus-max"),
        PopulationLaw("k1-uninformative", 1, "uninformative", 0.3, "gap", "one-minus-max"),
        PopulationLaw("k2-overconfident", 2, "overconfident", 0.15, "gap", "product"),
        PopulationLaw("k2-three-levels", 2, "calibrated", 0.15, "gap", "learned", levels=(0.2, 0.5, 0.8)),
        PopulationLaw("k7-learned", 7, "calibrated", 0.15, "inverse", "learned"),
        PopulationLaw("k7-unanswerable", 7, "overconfident", 0.6, "gap", "always"),
        PopulationLaw(
            "k7-tenths", 7, "uninformative", 0.15, "inverse", "always",
            levels=tuple(i / 10 for i in range(11)),
        ),
        PopulationLaw("k50-product", 50, "calibrated", 0.0, "inverse", "product"),
    )
}


@dataclasses.dataclass(frozen=True)
class Profile:
    """Settings to run, the lemma checks' trials and model counts, and permutations for the WSR reference."""

    name: str
    settings: tuple[Setting, ...]
    lemma_trials: int
    lemma_model_counts: tuple[int, ...]
    wsr_reference_samples: int


def _settings(trials: dict[str, int], wsr_max_n: int) -> tuple[Setting, ...]:
    # The betting rule runs only up to n = wsr_max_n: its scan costs about alpha * n
    # thresholds of n losses per trial, which dominates the run time at large n.
    plan = [
        ("k1-calibrated", 10, 0.3, 0.2),
        ("k1-uninformative", 30, 0.1, 0.1),
        ("k2-overconfident", 100, 0.1, 0.1),
        ("k2-three-levels", 50, 0.3, 0.2),
        ("k7-learned", 1000, 0.05, 0.05),
        ("k7-unanswerable", 300, 0.2, 0.1),
        ("k7-tenths", 200, 0.1, 0.1),
        ("k50-product", 2000, 0.1, 0.05),
        ("k50-product", 10000, 0.01, 0.01),
    ]
    out = []
    for law_name, n, alpha, delta in plan:
        name = f"{law_name} n={n} a={alpha} d={delta}"
        rules = ALL_RULES if n <= wsr_max_n else COUNT_RULES
        out.append(Setting(name, LAWS[law_name], n, alpha, delta, trials.get(name, trials["default"]), rules))
    return tuple(out)


PROFILES = {
    "ci": Profile(
        "ci",
        _settings({
            "default": 1000,
            "k50-product n=2000 a=0.1 d=0.05": 200,
            "k50-product n=10000 a=0.01 d=0.01": 200,
        }, wsr_max_n=1000),
        lemma_trials=256,
        lemma_model_counts=(1, 50),
        wsr_reference_samples=200,
    ),
    "full": Profile(
        "full",
        _settings({"default": 10000}, wsr_max_n=2000),
        lemma_trials=10000,
        lemma_model_counts=(1, 2, 7, 50),
        wsr_reference_samples=2000,
    ),
}
