r"""The calibrated threshold is exactly an order statistic: $R(\hat\lambda)$ has the law it predicts.

A count-based rule sets $\hat\lambda$ to the smallest value with at most $k^*$ cover scores
above it, so $P(\hat\lambda \le v) = P(\mathrm{Bin}(n, R(v)) \le k^*)$ for any cover law, ties
included (:func:`proofs_checks.population.threshold_law`). With $k^*$ from
:func:`racer_jax.admissible_error_count`, two checks compare the trials with that exact law:

- the violation frequency $\#\{R(\hat\lambda) > \alpha\}/T$ against its exact probability,
  by a two-sided binomial test;
- the mean risk against the exact $E[R(\hat\lambda)]$, within
  :data:`~proofs_checks.records.TWO_SIDED_Z` exact standard errors.

These are sharper than the theorems: a threshold one rank off, or any other change of
$k^*$, moves both statistics by many standard errors in the settings of the suite.
"""

from __future__ import annotations

import numpy as np

from racer_jax._src.bounds import admissible_error_count

from .population import threshold_law
from .records import TWO_SIDED_Z, Check, binomial_two_sided_range, standard_error
from .trials import SettingRun

STATEMENT = "Exact law"


def checks(run: SettingRun) -> list[Check]:
    """Compare every count-based rule of the setting with its exact law (the betting rule has none in closed form)."""
    setting = run.setting
    out = []
    for rule, risks in run.risks.items():
        if rule == "wsr":
            continue
        k_star = admissible_error_count(rule, setting.n, setting.alpha, setting.delta)
        law = threshold_law(run.law, setting.n, k_star, setting.alpha)
        trials = risks.shape[0]

        violations = int(np.sum(risks > setting.alpha))
        lo, hi = binomial_two_sided_range(trials, law.violation_probability)
        out.append(Check(
            STATEMENT, "P(R > alpha) = exact", setting.name, rule, trials, violations / trials,
            law.violation_probability, max(hi / trials - law.violation_probability,
                                           law.violation_probability - lo / trials),
            "pass" if lo <= violations <= hi else "fail", f"k*={k_star}; accepted counts [{lo}, {hi}]",
        ))

        mean = float(np.mean(risks))
        tolerance = TWO_SIDED_Z * standard_error(law.risk_sd, trials) + 1e-12
        out.append(Check(
            STATEMENT, "E[R] = exact", setting.name, rule, trials, mean, law.expected_risk, tolerance,
            "pass" if abs(mean - law.expected_risk) <= tolerance else "fail", f"k*={k_star}",
        ))
    return out
