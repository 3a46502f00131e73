r"""Theorem 4.3, risk control: $P(R(\hat\lambda) > \alpha) \le \delta$ for every confidence-bound rule,
and $E[R(\hat\lambda)] \le \alpha$ for conformal risk control.

For a bound rule the number of trials with $R(\hat\lambda) > \alpha$ is $\mathrm{Bin}(T, p)$
with $p \le \delta$ when the theorem holds, so the check fails when the count exceeds the
$1 -$ :data:`~proofs_checks.records.FALSE_ALARM` quantile of $\mathrm{Bin}(T, \delta)$. For
``"crc"`` the check fails when the mean risk exceeds $\alpha$ by more than
:data:`~proofs_checks.records.ONE_SIDED_Z` standard errors (sample standard deviation).
The guarantee needs no continuity, so it is checked on every setting, ties included.
"""

from __future__ import annotations

import numpy as np

from .records import ONE_SIDED_Z, Check, binomial_upper_limit, standard_error
from .trials import SettingRun

STATEMENT = "Theorem 4.3"


def _bound_rule_check(run: SettingRun, rule: str, risks: np.ndarray) -> Check:
    setting = run.setting
    trials = risks.shape[0]
    violations = int(np.sum(risks > setting.alpha))
    limit = binomial_upper_limit(trials, setting.delta)
    return Check(
        statement=STATEMENT,
        check="P(R > alpha) <= delta",
        setting=setting.name,
        rule=rule,
        trials=trials,
        observed=violations / trials,
        bound=setting.delta,
        tolerance=limit / trials - setting.delta,
        status="pass" if violations <= limit else "fail",
        note=f"{violations} of {trials} trials above alpha={setting.alpha}",
    )


def _conformal_check(run: SettingRun, risks: np.ndarray) -> Check:
    setting = run.setting
    trials = risks.shape[0]
    mean = float(np.mean(risks))
    tolerance = ONE_SIDED_Z * standard_error(float(np.std(risks, ddof=1)), trials)
    return Check(
        statement=STATEMENT,
        check="E[R] <= alpha",
        setting=setting.name,
        rule="crc",
        trials=trials,
        observed=mean,
        bound=setting.alpha,
        tolerance=tolerance,
        status="pass" if mean <= setting.alpha + tolerance else "fail",
    )


def checks(run: SettingRun) -> list[Check]:
    """Check risk control for every rule of the setting."""
    out = []
    for rule, risks in run.risks.items():
        if rule == "crc":
            out.append(_conformal_check(run, risks))
        else:
            out.append(_bound_rule_check(run, rule, risks))
    return out
