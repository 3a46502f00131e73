"""The end-to-end job behind ``racer run``: load, train a router, score, and run the split study.

Results are written to an output folder as they are produced: ``router.eqx`` after
training, one line of ``trials.jsonl`` per finished trial, and ``summary.json`` at the
end. ``resume=True`` reloads the router and the finished trials and runs only the rest.
Trial ``t`` depends only on the seed and ``t``, so the resumed summary is identical to
an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from . import bounds
from .data import (
    DUPLICATE_POLICIES,
    MISSING_POLICIES,
    SPLIT_ROW_POLICIES,
    DataError,
    DataWarning,
    RoutingDataset,
    load_dataset,
    overlapping_queries,
)
from .metrics import add_answer_metrics
from .routers.metrics import router_metrics
from .routers.registry import check_router_choice, prepare_run_router
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
CONFIG_FILE = "config.json"
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
    split_rows: str = "merge"
    drop_overlap: bool = False
    synthetic_train: int = 2000
    synthetic_eval: int = 4000
    router: str = "mlp"

    def validate(self) -> None:
        bounds.check_level("alpha", self.alpha)
        bounds.check_level("delta", self.delta)
        bounds.check_level("cal_fraction", self.cal_fraction)
        check_option("score", self.score, NONCONFORMITY_OPTIONS)
        check_option("bound", self.bound, bounds.BOUND_RULES)
        check_option("null", self.null, NULL_SCORE_OPTIONS)
        check_router_choice(self.router)
        check_option("missing policy", self.missing, MISSING_POLICIES)
        check_option("duplicate policy", self.duplicates, DUPLICATE_POLICIES)
        check_option("split-row policy", self.split_rows, SPLIT_ROW_POLICIES)
        if self.trials < 1:
            raise ValueError(f"trials must be at least 1; got {self.trials}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1; got {self.chunk_size}")
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
    options = dict(missing=config.missing, duplicates=config.duplicates, split_rows=config.split_rows)
    train = load_dataset(config.train, features=config.train_features, **options)
    evaluation = load_dataset(config.eval, features=config.eval_features, **options)
    if set(train.model_names) != set(evaluation.model_names):
        only_train = sorted(set(train.model_names) - set(evaluation.model_names))
        only_eval = sorted(set(evaluation.model_names) - set(train.model_names))
        raise DataError(
            f"the training and evaluation files score different models: only in training {only_train}, "
            f"only in evaluation {only_eval}; use files that score the same models"
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
            if overlap.all():
                raise DataError(
                    f"every one of the {overlap.size} evaluation queries also appears in the training file; "
                    "use an evaluation file with queries the router was not trained on"
                )
            evaluation = evaluation.subset(~overlap)
        else:
            warnings.warn(
                f"{int(overlap.sum())} evaluation queries also appear in the training file; "
                "pass --drop-overlap to remove them from evaluation",
                DataWarning, stacklevel=2,
            )
    return train, evaluation


def check_calibration_size(config: RunConfig, num_eval: int) -> int:
    """Return the calibration size per trial, or raise ``ValueError`` when it cannot certify ``alpha``.

    With too few calibration queries every trial would fall back to the all-inclusive
    threshold, so ``racer run`` stops before any training and states how many are
    needed. The library functions :func:`calibrate` and :func:`simulate_trials` only warn.
    """
    n_cal = math.floor(config.cal_fraction * num_eval)
    if not 1 <= n_cal < num_eval:
        raise ValueError(
            f"cal_fraction {config.cal_fraction} leaves no calibration or no test query among {num_eval} "
            "evaluation queries; use a value between 0 and 1 that leaves both, e.g. 0.5"
        )
    needed = bounds.minimum_calibration_size(config.bound, config.alpha, config.delta)
    if n_cal < needed:
        raise ValueError(
            f"calibration is infeasible: {n_cal} calibration queries (cal_fraction {config.cal_fraction} of "
            f"{num_eval}) cannot certify alpha={config.alpha} at delta={config.delta} with bound "
            f"{config.bound!r}; at least {needed} are needed. Use more evaluation queries, a larger "
            "--cal-fraction, or a larger --alpha or --delta"
        )
    return n_cal


def _write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Write a file through a temporary sibling and rename it, so a crash never leaves half a file."""
    partial = path + ".partial"
    write(partial)
    os.replace(partial, path)


def _write_json(path: str, record: dict) -> None:
    def write(target: str) -> None:
        with open(target, "w") as handle:
            json.dump(record, handle, indent=2)

    _write_atomically(path, write)


def _read_finished_trials(path: str, config_record: dict) -> tuple[list[dict], int]:
    """Check the saved settings and return the finished trials and the byte length they fill.

    A last line without its newline was cut short by the interruption: it is not
    returned, and the caller truncates the file to the returned length before appending.
    """
    config_path = os.path.join(os.path.dirname(path), CONFIG_FILE)
    if not os.path.exists(config_path):
        raise ValueError(f"cannot resume: {config_path} is missing; start a new run without --resume")
    try:
        with open(config_path) as handle:
            saved = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot resume: {config_path} is damaged ({err}); start a new run without --resume") from None
    if not isinstance(saved, dict):
        raise ValueError(f"cannot resume: {config_path} does not hold a settings object; start a new run")
    if saved != config_record:
        changed = sorted(k for k in set(saved) | set(config_record) if saved.get(k) != config_record.get(k))
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {config_record.get(k)!r}" for k in changed)
        raise ValueError(
            f"cannot resume: settings differ from the interrupted run ({details}); resume with the same "
            "options, or start a new run in another --out folder"
        )
    rows: list[dict] = []
    length = 0
    if os.path.exists(path):
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    break  # a line cut short by the interruption; that trial is run again
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise ValueError(
                        f"cannot resume: {path} line {number} is not a JSON trial record; delete that line and "
                        "every line after it, then resume"
                    ) from None
                missing = [name for name in ("trial", *METRIC_NAMES) if not isinstance(row, dict) or name not in row]
                if missing:
                    raise ValueError(f"cannot resume: {path} line {number} lacks {missing}; delete it and the lines after it")
                rows.append(row)
                length += len(line)
    if [row["trial"] for row in rows] != list(range(len(rows))):
        raise ValueError(f"cannot resume: {path} does not list trials 0, 1, 2, ... in order; start a new run")
    if len(rows) > config_record["trials"]:
        raise ValueError(
            f"cannot resume: {path} contains {len(rows)} trials but the run requests {config_record['trials']}; "
            "start a new run"
        )
    return rows, length


def run(config: RunConfig, out_dir: str, resume: bool = False, progress: Callable[[int], None] | None = None,
        log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Run the whole job and return the summary that is also written to ``out_dir/summary.json``."""
    config.validate()
    started = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    config_record = dataclasses.asdict(config)
    trials_path = os.path.join(out_dir, TRIALS_FILE)
    router_path = os.path.join(out_dir, ROUTER_FILE)
    finished: list[dict] = []
    if resume:
        finished, length = _read_finished_trials(trials_path, config_record)
        if os.path.exists(trials_path):
            with open(trials_path, "r+b") as handle:
                handle.truncate(length)
    else:
        # Clear an earlier run's results before saving the new settings, so that a crash in
        # between can never pair these settings with another run's trials or router.
        for stale in (SUMMARY_FILE, ROUTER_FILE):
            if os.path.exists(os.path.join(out_dir, stale)):
                os.remove(os.path.join(out_dir, stale))
        open(trials_path, "w").close()
        _write_json(os.path.join(out_dir, CONFIG_FILE), config_record)

    train, evaluation = load_data(config)
    n_cal = check_calibration_size(config, evaluation.num_queries)
    log(f"data: {train.num_queries} training and {evaluation.num_queries} evaluation queries, {train.num_models} models")
    key = jax.random.key(config.seed)
    router_key, study_key = jax.random.split(key)
    router, router_record = prepare_run_router(
        config.router, train, key=router_key, alpha=config.alpha, score=config.score, null=config.null,
        out_path=router_path, resume=resume, log=log,
    )
    evaluation = evaluation.select_models(router_record.pop("model_names"))

    router_scores = router(evaluation.features)
    augmented = augment_scores(router_scores.probs, config.null, router_scores.null)
    scores = nonconformity_scores(augmented, config.score)
    cover = cover_scores(scores, evaluation.correct)

    def save_chunk(first: int, metrics: TrialMetrics) -> None:
        lines = []
        for offset in range(metrics.risk.shape[0]):
            row = {"trial": first + offset}
            row.update({name: float(getattr(metrics, name)[offset]) for name in METRIC_NAMES})
            lines.append(json.dumps(row) + "\n")
        # One write per chunk, flushed to disk, so an interruption loses at most the chunk in flight.
        with open(trials_path, "a") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        if progress is not None:
            progress(metrics.risk.shape[0])

    if progress is not None and finished:
        progress(len(finished))
    simulate_trials(
        scores, cover, key=study_key, trials=config.trials, n_cal=n_cal, alpha=config.alpha,
        delta=config.delta, rule=config.bound, chunk_size=config.chunk_size,
        start=len(finished), on_chunk=save_chunk,
    )
    rows, _ = _read_finished_trials(trials_path, config_record)
    summary = summarise(rows, config, train, evaluation, n_cal)
    add_answer_metrics(summary, evaluation, augmented[:, :-1], scores, study_key, n_cal)
    summary["router"] = {
        **router_record,
        "metrics": router_metrics(router_scores.probs, router_scores.null, evaluation.correct, evaluation.model_names),
    }
    summary["seconds"] = time.perf_counter() - started
    _write_json(os.path.join(out_dir, SUMMARY_FILE), summary)
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
