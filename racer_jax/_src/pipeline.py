"""The end-to-end job behind ``racer run``: load, train a router, score, and run the split study.

Results are written to an output folder as they are produced: ``router.eqx`` after
training, one line of ``trials.jsonl`` per finished trial, and ``summary.json`` at the
end. ``resume=True`` reloads the router and the finished trials and runs only the rest;
because trial ``t`` depends only on the seed and ``t``, the resumed summary is identical
to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from typing import Any, Callable

import equinox as eqx
import jax
import numpy as np

from . import bounds
from .data import DataError, DataWarning, RoutingDataset, load_dataset, overlapping_queries
from .routers.mlp import MLPRouter, train_mlp_router
from .scoring import (
    NONCONFORMITY_OPTIONS,
    NULL_SCORE_OPTIONS,
    augment_scores,
    check_option,
    cover_scores,
    nonconformity_scores,
)
from .study import METRIC_NAMES, TrialMetrics, simulate_trials
from .synthetic import make_synthetic

SUMMARY_FILE = "summary.json"
TRIALS_FILE = "trials.jsonl"
ROUTER_FILE = "router.eqx"


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a run; echoed into ``summary.json``."""

    train: str | None = None
    train_features: str | None = None
    eval: str | None = None
    eval_features: str | None = None
    alpha: float = 0.1
    delta: float = 0.1
    trials: int = 100
    seed: int = 0
    score: str = "gap"
    bound: str = "hb"
    null: str = "learned"
    cal_fraction: float = 0.5
    chunk_size: int = 256
    missing: str = "drop"
    duplicates: str = "keep"
    drop_overlap: bool = False
    synthetic_train: int = 2000
    synthetic_eval: int = 4000

    def validate(self) -> None:
        bounds.check_level("alpha", self.alpha)
        bounds.check_level("delta", self.delta)
        bounds.check_level("cal_fraction", self.cal_fraction)
        check_option("score", self.score, NONCONFORMITY_OPTIONS)
        check_option("bound", self.bound, bounds.BOUND_RULES)
        check_option("null", self.null, NULL_SCORE_OPTIONS)
        if self.trials < 1:
            raise ValueError(f"trials must be at least 1; got {self.trials}")
        real = [self.train, self.train_features, self.eval, self.eval_features]
        if any(v is not None for v in real) and not all(v is not None for v in real):
            raise ValueError(
                "real data needs all four of --train, --train-features, --eval and --eval-features; "
                "give none of them to run on the built-in synthetic data"
            )

    @property
    def uses_synthetic(self) -> bool:
        return self.train is None


def load_data(config: RunConfig) -> tuple[RoutingDataset, RoutingDataset]:
    """Load (or sample) the training and evaluation sets, aligned to the same models by name."""
    if config.uses_synthetic:
        train = make_synthetic(config.seed, config.synthetic_train).dataset
        evaluation = make_synthetic(config.seed, config.synthetic_eval).dataset
        return train, evaluation
    options = dict(missing=config.missing, duplicates=config.duplicates)
    train = load_dataset(config.train, features=config.train_features, **options)
    evaluation = load_dataset(config.eval, features=config.eval_features, **options)
    if set(train.model_names) != set(evaluation.model_names):
        raise DataError(
            f"the training file scores models {sorted(train.model_names)} but the evaluation file "
            f"scores {sorted(evaluation.model_names)}; both must score the same models"
        )
    evaluation = evaluation.select_models(train.model_names)
    if train.features.shape[1] != evaluation.features.shape[1]:
        raise DataError(
            f"training features have {train.features.shape[1]} columns but evaluation features have "
            f"{evaluation.features.shape[1]}; embed both files with the same model"
        )
    overlap = overlapping_queries(train, evaluation)
    if overlap.any():
        if config.drop_overlap:
            warnings.warn(f"dropped {int(overlap.sum())} evaluation queries that also appear in the training file", DataWarning, stacklevel=2)
            evaluation = evaluation.subset(~overlap)
        else:
            warnings.warn(
                f"{int(overlap.sum())} evaluation queries also appear in the training file; "
                "pass --drop-overlap to remove them from evaluation",
                DataWarning, stacklevel=2,
            )
    return train, evaluation


def _read_finished_trials(path: str, config_record: dict) -> list[dict]:
    summary_path = os.path.join(os.path.dirname(path), "config.json")
    if not os.path.exists(summary_path):
        raise ValueError(f"cannot resume: {summary_path} is missing; start a new run without --resume")
    with open(summary_path) as handle:
        saved = json.load(handle)
    if saved != config_record:
        changed = sorted(k for k in set(saved) | set(config_record) if saved.get(k) != config_record.get(k))
        raise ValueError(f"cannot resume: settings {changed} differ from the interrupted run; use the same options")
    rows = []
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # a line cut short by the interruption; that trial is run again
                rows.append(json.loads(line))
    expected = list(range(len(rows)))
    if [r["trial"] for r in rows] != expected:
        raise ValueError(f"cannot resume: {path} does not list trials 0, 1, 2, ... in order")
    return rows


def run(config: RunConfig, out_dir: str, resume: bool = False, progress: Callable[[int], None] | None = None,
        log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Run the whole job and return the summary that is also written to ``out_dir/summary.json``."""
    config.validate()
    started = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    config_record = dataclasses.asdict(config)
    trials_path = os.path.join(out_dir, TRIALS_FILE)
    router_path = os.path.join(out_dir, ROUTER_FILE)
    finished = _read_finished_trials(trials_path, config_record) if resume else []
    if not resume:
        with open(os.path.join(out_dir, "config.json"), "w") as handle:
            json.dump(config_record, handle, indent=2)
        open(trials_path, "w").close()

    train, evaluation = load_data(config)
    log(f"data: {train.num_queries} training and {evaluation.num_queries} evaluation queries, {train.num_models} models")
    key = jax.random.key(config.seed)
    router_key, study_key = jax.random.split(key)
    template = MLPRouter(train.features.shape[1], train.num_models, key=router_key)
    if resume and os.path.exists(router_path):
        router = eqx.tree_deserialise_leaves(router_path, template)
        history = None
    else:
        router, history = train_mlp_router(train.features, train.correct, key=router_key)
        eqx.tree_serialise_leaves(router_path, router)
        log(f"router: trained {len(history.train_loss)} epochs, best held-out loss {min(history.holdout_loss):.4f}")

    router_scores = router(evaluation.features)
    augmented = augment_scores(router_scores.probs, config.null, router_scores.null)
    scores = nonconformity_scores(augmented, config.score)
    cover = cover_scores(scores, evaluation.correct)
    n = evaluation.num_queries
    n_cal = int(math.floor(config.cal_fraction * n))
    if not 1 <= n_cal < n:
        raise ValueError(f"cal_fraction {config.cal_fraction} leaves no calibration or no test query among {n}")

    def save_chunk(first: int, metrics: TrialMetrics) -> None:
        with open(trials_path, "a") as handle:
            for offset in range(metrics.risk.shape[0]):
                row = {"trial": first + offset}
                row.update({name: float(getattr(metrics, name)[offset]) for name in METRIC_NAMES})
                handle.write(json.dumps(row) + "\n")
        if progress is not None:
            progress(metrics.risk.shape[0])

    if progress is not None and finished:
        progress(len(finished))
    simulate_trials(
        scores, cover, key=study_key, trials=config.trials, n_cal=n_cal, alpha=config.alpha,
        delta=config.delta, rule=config.bound, chunk_size=config.chunk_size,
        start=len(finished), on_chunk=save_chunk,
    )
    rows = _read_finished_trials(trials_path, config_record)
    summary = summarise(rows, config, train, evaluation, n_cal)
    summary["router"] = {
        "type": "mlp",
        "epochs": None if history is None else len(history.train_loss),
        "best_holdout_loss": None if history is None else min(history.holdout_loss),
    }
    summary["seconds"] = time.perf_counter() - started
    with open(os.path.join(out_dir, SUMMARY_FILE), "w") as handle:
        json.dump(summary, handle, indent=2)
    return summary


def summarise(rows: list[dict], config: RunConfig, train: RoutingDataset, evaluation: RoutingDataset, n_cal: int) -> dict:
    """Collect per-trial lists and their means into the ``summary.json`` layout."""
    per_trial = {name: [row[name] for row in rows] for name in METRIC_NAMES}
    num_models = evaluation.num_models
    per_trial["calls_saved"] = [1.0 - size / num_models for size in per_trial["set_size"]]
    means = {name: float(np.mean(values)) for name, values in per_trial.items()}
    risks = np.asarray(per_trial["risk"])
    error_count = None
    if config.bound != "wsr":
        error_count = bounds.admissible_error_count(config.bound, n_cal, config.alpha, config.delta)
    return {
        "config": dataclasses.asdict(config),
        "data": {
            "train_queries": train.num_queries,
            "eval_queries": evaluation.num_queries,
            "calibration_queries": n_cal,
            "test_queries": evaluation.num_queries - n_cal,
            "models": list(evaluation.model_names),
            "admissible_error_count": error_count,
        },
        "per_trial": per_trial,
        "summary": {
            **means,
            "risk_std": float(np.std(risks)),
            "violation_rate": float(np.mean(risks > config.alpha)),
            "set_size_max": float(np.max(per_trial["set_size"])),
        },
    }
