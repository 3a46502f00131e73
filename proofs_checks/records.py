r"""Check records and the statistical tolerances every Monte Carlo check uses.

Each statistical check is a test at false-alarm probability :data:`FALSE_ALARM` when the
statement is true. A profile has about 200 statistical checks, so a correct implementation
fails any of them with probability of about 2% at most (Bonferroni). The seeds are fixed,
so a run is reproducible.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from scipy import stats

FALSE_ALARM = 1e-4
ONE_SIDED_Z = float(stats.norm.isf(FALSE_ALARM))
TWO_SIDED_Z = float(stats.norm.isf(FALSE_ALARM / 2.0))

Status = Literal["pass", "fail", "not applicable"]


@dataclasses.dataclass
class Check:
    """One line of the report.

    ``observed`` is compared with ``bound`` and may exceed it by ``tolerance`` (or fall
    short of it, for lower bounds) before the check fails.
    """

    statement: str
    check: str
    setting: str
    rule: str
    trials: int
    observed: float
    bound: float
    tolerance: float
    status: Status
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def binomial_upper_limit(trials: int, probability: float) -> int:
    """Return the largest passing count: $P(\\mathrm{Bin}(T, p) > c) \\le$ :data:`FALSE_ALARM`, and more fails."""
    if probability <= 0.0:
        return 0
    if probability >= 1.0:
        return trials
    return int(stats.binom.isf(FALSE_ALARM, trials, probability))


def binomial_two_sided_range(trials: int, probability: float) -> tuple[int, int]:
    """Return the acceptance range ``[lo, hi]``: a $\\mathrm{Bin}(T, p)$ draw falls outside it with probability at most :data:`FALSE_ALARM`."""
    if probability <= 0.0:
        return 0, 0
    if probability >= 1.0:
        return trials, trials
    half = FALSE_ALARM / 2.0
    lo = int(stats.binom.ppf(half, trials, probability))
    hi = int(stats.binom.isf(half, trials, probability))
    return lo, hi


def standard_error(sd: float, trials: int) -> float:
    """Standard error $\\sigma / \\sqrt{T}$ of a mean of ``trials`` draws."""
    return sd / math.sqrt(trials)
