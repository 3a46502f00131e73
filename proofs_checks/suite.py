"""Run a profile of the suite against a calibrator and collect the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import exact_law, lemma_4_1, lemma_4_2, theorem_4_3, theorem_4_5
from .calibrators import LIBRARY, Calibrator
from .devices import environment
from .profiles import Profile
from .records import FALSE_ALARM, Check
from .trials import run_setting


def run_suite(
    profile: Profile,
    calibrator: Calibrator = LIBRARY,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every check of ``profile`` and return the report as a JSON-ready dict.

    Setting ``i`` of the profile uses the seed ``seed + i``; the lemma checks use ``seed``.
    ``report["passed"]`` is ``False`` when any check failed ("not applicable" is no failure).
    """
    start = time.perf_counter()
    say = progress or (lambda message: None)
    checks: list[Check] = []
    if profile.lemma_trials > 0:
        say(f"lemmas 4.1 and 4.2: {profile.lemma_trials} trials for each K in {profile.lemma_model_counts}")
        checks += lemma_4_1.checks(profile.lemma_trials, seed, profile.lemma_model_counts)
        checks += lemma_4_2.checks(profile.lemma_trials, seed, profile.lemma_model_counts)

    settings = []
    for index, setting in enumerate(profile.settings):
        run = run_setting(setting, calibrator, seed + index)
        checks += theorem_4_3.checks(run)
        checks += theorem_4_5.checks(run, profile.wsr_reference_samples)
        checks += exact_law.checks(run)
        settings.append({
            "name": setting.name,
            "law": setting.law.name,
            "num_models": setting.law.num_models,
            "router": setting.law.router,
            "score": setting.law.score,
            "null": setting.law.null,
            "tied_levels": list(setting.law.levels) if setting.law.levels else None,
            "population_size": setting.law.population_size,
            "no_correct_rate": run.population.no_correct_rate,
            "largest_atom": run.law.max_atom,
            "n": setting.n,
            "alpha": setting.alpha,
            "delta": setting.delta,
            "trials": setting.trials,
            "rules": list(setting.rules),
            "error_counts": run.error_counts,
            "seed": run.seed,
            "seconds": round(run.seconds, 2),
        })
        say(f"{setting.name}: {setting.trials} trials in {run.seconds:.1f} s")

    counts = {status: sum(c.status == status for c in checks) for status in ("pass", "fail", "not applicable")}
    return {
        "profile": profile.name,
        "calibrator": calibrator.name,
        "seed": seed,
        "false_alarm_per_check": FALSE_ALARM,
        "environment": environment(),
        "run_time_s": round(time.perf_counter() - start, 2),
        "summary": counts,
        "passed": counts["fail"] == 0,
        "settings": settings,
        "checks": [c.as_dict() for c in checks],
    }
