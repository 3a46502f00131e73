r"""Theorem 4.5, the risk lower bound: calibration is not bought with over-conservative sets.

- ``"crc"`` with continuous cover scores: $E[R(\hat\lambda)] \ge \alpha - 2/(n + 1)$.
- A confidence-bound rule with admissible count $k^*$: $E[R(\hat\lambda)] = (k^* + 1)/(n + 1)$
  under a continuous law (:func:`racer_jax._src.margins.expected_calibrated_risk`), so its
  lower margin is $\alpha - (k^* + 1)/(n + 1)$ (:func:`racer_jax._src.margins.lower_margin`).
- ``"wsr"``: $E[R(\hat\lambda)] = E[(J + 1)/(n + 1)]$ with $J$ the distribution-free stopping
  count, estimated from :func:`racer_jax._src.margins.wsr_error_count_samples`.

The populations are finite, so the cover law has atoms. Writing $a(v) = P(c = v)$, the
quantile transform gives $R(\hat\lambda) \ge 1 - U_{(n - k^*)} - a(\hat\lambda)$, so each bound
is lowered by $E[a(\hat\lambda)]$, computed exactly from the law (for ``"wsr"``, from the
count rule with $k$ = the mean of $J$, an approximation). The check applies when that
correction is at most :data:`TIE_LIMIT`. On heavily tied laws the bound may fail, so the
check is reported as not applicable, and its note states whether the continuous bound held
anyway. A check fails when the mean
risk falls below the bound by more than :data:`~proofs_checks.records.ONE_SIDED_Z`
standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from racer_jax._src.bounds import admissible_error_count
from racer_jax._src.margins import expected_calibrated_risk, wsr_error_count_samples

from .population import threshold_law
from .records import ONE_SIDED_Z, Check, standard_error
from .trials import SettingRun

STATEMENT = "Theorem 4.5"

# Largest expected atom mass at the threshold for which the lower bound is checked.
TIE_LIMIT = 1e-3


def _count_rule_check(run: SettingRun, rule: str, risks: np.ndarray) -> Check:
    setting = run.setting
    n, alpha, delta = setting.n, setting.alpha, setting.delta
    k_star = admissible_error_count(rule, n, alpha, delta)
    atom = threshold_law(run.law, n, k_star, alpha).expected_atom
    if rule == "crc":
        continuous_bound, check = alpha - 2.0 / (n + 1), "E[R] >= alpha - 2/(n+1)"
    else:
        continuous_bound, check = expected_calibrated_risk(rule, n, alpha, delta), "E[R] >= (k*+1)/(n+1)"
    return _lower_bound_check(run, rule, risks, check, continuous_bound, atom, f"k*={k_star}")


def _wsr_check(run: SettingRun, risks: np.ndarray, reference_samples: int) -> Check:
    setting = run.setting
    n = setting.n
    counts = wsr_error_count_samples(n, setting.alpha, setting.delta, reference_samples, seed=run.seed)
    reference = np.where(counts >= 0, (counts + 1) / (n + 1), 0.0)
    reference_se = standard_error(float(np.std(reference, ddof=1)), reference_samples)
    # NOTE: the stopping count J is independent of the cover-score values only for a
    # continuous law. With atoms, the correction is the expected atom mass at the threshold
    # of a count rule with k = mean J: an approximation that is exact as the atoms vanish.
    typical_count = round(float(np.mean(counts)))
    atom = threshold_law(run.law, n, typical_count, setting.alpha).expected_atom
    note = f"E[(J+1)/(n+1)] from {reference_samples} permutations, standard error {reference_se:.2g}"
    return _lower_bound_check(
        run, "wsr", risks, "E[R] >= E[(J+1)/(n+1)]", float(np.mean(reference)), atom, note, reference_se
    )


def _lower_bound_check(
    run: SettingRun,
    rule: str,
    risks: np.ndarray,
    check: str,
    continuous_bound: float,
    atom: float,
    note: str,
    reference_se: float = 0.0,
) -> Check:
    trials = risks.shape[0]
    mean = float(np.mean(risks))
    trial_se = standard_error(float(np.std(risks, ddof=1)), trials)
    tolerance = ONE_SIDED_Z * math.hypot(trial_se, reference_se)
    if atom > TIE_LIMIT:
        outcome = "held" if mean >= continuous_bound - tolerance else "did not hold"
        tie_note = f"cover law has atoms (mass {atom:.3g} at the threshold)"
        if not math.isnan(continuous_bound):
            tie_note += f"; the continuous bound {outcome}"
        return Check(STATEMENT, check, run.setting.name, rule, trials, mean, continuous_bound, tolerance,
                     "not applicable", "; ".join(filter(None, [note, tie_note])))
    bound = continuous_bound - atom
    status = "pass" if mean >= bound - tolerance else "fail"
    return Check(STATEMENT, check, run.setting.name, rule, trials, mean, bound, tolerance, status,
                 "; ".join(filter(None, [note, f"tie correction {atom:.2g}"])))


def checks(run: SettingRun, reference_samples: int) -> list[Check]:
    """Check the lower bound of every rule of the setting."""
    out = []
    for rule, risks in run.risks.items():
        if rule == "wsr":
            out.append(_wsr_check(run, risks, reference_samples))
        else:
            out.append(_count_rule_check(run, rule, risks))
    return out
