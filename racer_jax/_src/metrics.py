r"""Per-trial answer metrics: accuracy of the aggregated answer, coverage, calls saved and cost.

Trial ``t`` uses the same calibration/test split as the risk study,
``calibration_mask(trial_key(key, t), n, n_cal)``, and that trial's calibrated
threshold $\hat\lambda_t$. Every metric is measured on the trial's ``n_test = n - n_cal``
test queries, with the called models $C(x) = C_{\hat\lambda_t}(x) \cap M$.

Two kinds of data are handled, and the metric names say which one was measured:

- **Answers known** (``choices`` and ``gold`` given, e.g. parsed RouterBench responses):
  a model is correct when its parsed choice equals the gold choice. Metrics:
  ``majority_accuracy`` and ``weighted_accuracy`` (correct answers over all test
  queries; an abstention or no answer counts as wrong), ``majority_selective_accuracy``
  and ``weighted_selective_accuracy`` (correct answers over the queries where the
  system did not abstain, NaN when it abstained on all), ``ensemble_accuracy`` (majority
  vote of all ``K`` models), ``no_answer_rate`` (a set was called but no member's answer
  parsed), and the gains ``{majority,weighted}_gain_vs_{ensemble,top1}``, differences
  of accuracies in [-1, 1].
- **Correctness only** (RouterDC files): a model is correct as the data marks it, and no
  vote can be formed because wrong answers are not stored. Metrics:
  ``oracle_accuracy`` (some called model is correct: an upper bound on any aggregation,
  not the accuracy of a vote), ``top_member_accuracy`` (the called model with the highest
  router score is correct), and the changes ``oracle_gain_vs_ensemble`` (against the
  oracle accuracy of all ``K`` models, so never positive) and
  ``top_member_gain_vs_top1``.

Always measured: ``coverage`` (share of test queries not abstained), ``calls_saved``
($1 - \overline{|C(x)|} / K$), ``top1_accuracy`` (the router's top model alone),
``best_single_accuracy`` (the model most accurate on the trial's calibration queries),
and ``oracle_accuracy`` and ``top_member_accuracy`` in both kinds. With per-query costs
(RouterBench ``total_cost``, US dollars): ``cost`` (mean over test queries of the summed
cost of the called models), ``ensemble_cost``, ``top1_cost``, ``best_single_cost``,
``cost_saved_vs_ensemble`` ($1 - $ ``cost / ensemble_cost``), and the ratios
``cost_ratio_vs_top1`` and ``cost_ratio_vs_best_single``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from . import aggregation
from .answers import UNPARSEABLE, answer_table
from .scoring import NULL_INDEX, prediction_sets
from .study import calibration_mask, trial_key

# Keys of trial_answer_metrics by kind: common ones always, then answers or correctness only, then cost.
ANSWER_METRIC_NAMES = (
    "majority_accuracy", "weighted_accuracy", "majority_selective_accuracy", "weighted_selective_accuracy",
    "ensemble_accuracy", "no_answer_rate", "majority_gain_vs_ensemble", "majority_gain_vs_top1",
    "weighted_gain_vs_ensemble", "weighted_gain_vs_top1",
)
CORRECTNESS_METRIC_NAMES = ("oracle_gain_vs_ensemble", "top_member_gain_vs_top1")
COMMON_METRIC_NAMES = (
    "coverage", "calls_saved", "oracle_accuracy", "top_member_accuracy", "top1_accuracy", "best_single_accuracy",
)
COST_METRIC_NAMES = (
    "cost", "ensemble_cost", "top1_cost", "best_single_cost", "cost_saved_vs_ensemble",
    "cost_ratio_vs_top1", "cost_ratio_vs_best_single",
)


class AnswerInputs(NamedTuple):
    """Everything the answer metrics need about the ``n`` evaluation queries and ``K`` models.

    - ``scores``: nonconformity scores $S(x, m)$, float ``(n, K + 1)``, null model last.
    - ``router_scores``: the base router's scores $p_m(x)$, float ``(n, K)``.
    - ``correct``: bool ``(n, K)`` correctness from the data.
    - ``choices``: int ``(n, K)`` parsed choice ids, or ``None`` for correctness-only data.
    - ``gold``: int ``(n,)`` gold choice ids (``-1`` where unknown), or ``None``.
    - ``costs``: float ``(n, K)`` per-query, per-model cost, or ``None``.
    """

    scores: Array
    router_scores: Array
    correct: Array
    choices: Array | None = None
    gold: Array | None = None
    costs: Array | None = None


def _mean_over(values, mask, count):
    return jnp.sum(jnp.where(mask, values, 0)) / count


def _pick(matrix, models):
    return jnp.take_along_axis(matrix, models[:, None], axis=1)[:, 0]


def trial_answer_metrics(
    calibration: Bool[ArrayLike, " n"], lam: Float[ArrayLike, ""], inputs: AnswerInputs
) -> dict[str, Array]:
    """Compute one trial's answer metrics; ``calibration`` is its bool ``(n,)`` split mask, ``lam`` its threshold.

    Returns a dict of scalars named as in the module docstring; jit- and vmap-safe.
    """
    calibration = jnp.asarray(calibration, dtype=bool)
    test = ~calibration
    num_test = jnp.sum(test)
    num_models = inputs.router_scores.shape[1]
    members = prediction_sets(inputs.scores, jnp.asarray(lam, inputs.scores.dtype))[:, :NULL_INDEX]
    abstained = ~jnp.any(members, axis=1)
    answered = test & ~abstained
    has_answers = inputs.choices is not None
    model_correct = _model_correct(inputs)

    top1 = aggregation.top1_models(inputs.router_scores)
    top_member = jnp.argmax(jnp.where(members, inputs.router_scores, -jnp.inf), axis=1)
    best = aggregation.best_single_model(model_correct, calibration)
    out = {
        "coverage": jnp.sum(answered) / num_test,
        "calls_saved": 1.0 - _mean_over(jnp.sum(members, axis=1), test, num_test) / num_models,
        "oracle_accuracy": _mean_over(jnp.any(members & model_correct, axis=1), test, num_test),
        "top_member_accuracy": _mean_over(_pick(model_correct, top_member) & ~abstained, test, num_test),
        "top1_accuracy": _mean_over(_pick(model_correct, top1), test, num_test),
        "best_single_accuracy": _mean_over(model_correct[:, best], test, num_test),
    }
    if has_answers:
        out.update(_vote_metrics(inputs, members, test, answered, num_test, out["top1_accuracy"]))
    else:
        ensemble_oracle = _mean_over(jnp.any(model_correct, axis=1), test, num_test)
        out["oracle_gain_vs_ensemble"] = out["oracle_accuracy"] - ensemble_oracle
        out["top_member_gain_vs_top1"] = out["top_member_accuracy"] - out["top1_accuracy"]
    if inputs.costs is not None:
        out.update(_cost_metrics(inputs.costs, members, test, num_test, top1, best))
    return out


def _vote_metrics(inputs, members, test, answered, num_test, top1_accuracy):
    scores = inputs.router_scores
    ensemble = aggregation.full_ensemble_vote(inputs.choices, scores)
    ensemble_accuracy = _mean_over(aggregation.is_correct(ensemble.answer, inputs.gold), test, num_test)
    out = {"ensemble_accuracy": ensemble_accuracy}
    majority = aggregation.majority_vote(inputs.choices, members, scores)
    weighted = aggregation.weighted_vote(inputs.choices, members, scores)
    out["no_answer_rate"] = _mean_over(majority.answer == aggregation.NO_ANSWER, answered, num_test)
    for name, vote in (("majority", majority), ("weighted", weighted)):
        right = aggregation.is_correct(vote.answer, inputs.gold)
        accuracy = _mean_over(right, test, num_test)
        out[f"{name}_accuracy"] = accuracy
        num_answered = jnp.sum(answered)
        selective = jnp.sum(right & answered) / jnp.maximum(num_answered, 1)
        out[f"{name}_selective_accuracy"] = jnp.where(num_answered > 0, selective, jnp.nan)
        out[f"{name}_gain_vs_ensemble"] = accuracy - ensemble_accuracy
        out[f"{name}_gain_vs_top1"] = accuracy - top1_accuracy
    return out


def _cost_metrics(costs, members, test, num_test, top1, best):
    cost = _mean_over(jnp.sum(jnp.where(members, costs, 0), axis=1), test, num_test)
    ensemble_cost = _mean_over(jnp.sum(costs, axis=1), test, num_test)
    top1_cost = _mean_over(_pick(costs, top1), test, num_test)
    best_single_cost = _mean_over(costs[:, best], test, num_test)
    return {
        "cost": cost,
        "ensemble_cost": ensemble_cost,
        "top1_cost": top1_cost,
        "best_single_cost": best_single_cost,
        "cost_saved_vs_ensemble": 1.0 - cost / ensemble_cost,
        "cost_ratio_vs_top1": cost / top1_cost,
        "cost_ratio_vs_best_single": cost / best_single_cost,
    }


def _one_trial(key, t, lam, inputs, n_cal):
    mask = calibration_mask(trial_key(key, t), inputs.correct.shape[0], n_cal)
    metrics = trial_answer_metrics(mask, lam, inputs)
    metrics["best_single_model"] = aggregation.best_single_model(_model_correct(inputs), mask)
    return metrics


def _model_correct(inputs: AnswerInputs):
    """Bool ``(n, K)``: the parsed choice equals the gold one, or the data's correctness without answers."""
    if inputs.choices is None:
        return jnp.asarray(inputs.correct, dtype=bool)
    return (inputs.choices == inputs.gold[:, None]) & (inputs.gold[:, None] != UNPARSEABLE)


def _check_inputs(inputs: AnswerInputs) -> AnswerInputs:
    scores = jnp.asarray(inputs.scores)
    router_scores = jnp.asarray(inputs.router_scores)
    correct = jnp.asarray(inputs.correct, dtype=bool)
    if router_scores.ndim != 2:
        raise ValueError(f"router_scores must have shape (n, K); got {router_scores.shape}")
    n, k = router_scores.shape
    if scores.shape != (n, k + 1):
        raise ValueError(f"scores must have shape ({n}, {k + 1}) with the null model last; got {scores.shape}")
    if correct.shape != (n, k):
        raise ValueError(f"correct must have shape ({n}, {k}); got {correct.shape}")
    if (inputs.choices is None) != (inputs.gold is None):
        raise ValueError("choices and gold must be given together: pass both (answers known) or neither (correctness only)")
    choices = gold = costs = None
    if inputs.choices is not None:
        choices = jnp.asarray(inputs.choices, dtype=jnp.int32)
        gold = jnp.asarray(inputs.gold, dtype=jnp.int32)
        if choices.shape != (n, k) or gold.shape != (n,):
            raise ValueError(f"choices must have shape ({n}, {k}) and gold ({n},); got {choices.shape} and {gold.shape}")
    if inputs.costs is not None:
        costs_np = np.asarray(inputs.costs, dtype=np.float64)
        if costs_np.shape != (n, k):
            raise ValueError(f"costs must have shape ({n}, {k}); got {costs_np.shape}")
        if not np.isfinite(costs_np).all() or (costs_np < 0).any():
            raise ValueError("costs must be finite and non-negative; drop queries with missing costs first")
        costs = jnp.asarray(costs_np, dtype=router_scores.dtype)
    return AnswerInputs(scores, router_scores, correct, choices, gold, costs)


def answer_metrics_over_trials(
    inputs: AnswerInputs,
    *,
    key: PRNGKeyArray,
    lambda_hats: Float[ArrayLike, " T"],
    n_cal: int,
    first_trial: int = 0,
    chunk_size: int = 256,
) -> dict[str, np.ndarray]:
    """Answer metrics of trials ``first_trial, ..., first_trial + T - 1``, vmapped in chunks.

    **Arguments:**

    - ``inputs``: the evaluation queries, see :class:`AnswerInputs`.
    - ``key``: the study's base key; trial ``t`` splits with
      ``calibration_mask(trial_key(key, t), n, n_cal)``, as the risk study does.
    - ``lambda_hats``: each trial's calibrated threshold, shape ``(T,)``.
    - ``n_cal``: calibration queries per trial.
    - ``chunk_size``: trials per compiled call; bounds memory at ``chunk_size * n * K``.

    **Returns:** a dict of float64 arrays ``(T,)`` named as in the module docstring, plus
    ``best_single_model`` (int, the model index chosen on each trial's calibration queries).
    """
    inputs = _check_inputs(inputs)
    lambda_hats = np.asarray(lambda_hats, dtype=np.float64)
    n = inputs.correct.shape[0]
    if lambda_hats.ndim != 1 or lambda_hats.size == 0:
        raise ValueError(f"lambda_hats must be a non-empty 1-D array; got shape {lambda_hats.shape}")
    if not 1 <= n_cal < n:
        raise ValueError(f"n_cal must lie in [1, {n - 1}] for {n} queries; got {n_cal}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")
    run_chunk = jax.jit(jax.vmap(_one_trial, in_axes=(None, 0, 0, None, None)), static_argnums=(4,))
    trials = lambda_hats.size
    chunk_size = min(chunk_size, trials)
    parts: list[dict[str, np.ndarray]] = []
    for first in range(0, trials, chunk_size):
        count = min(chunk_size, trials - first)
        # Pad to a full chunk so that every chunk reuses one compiled program.
        indices = first_trial + first + np.arange(chunk_size)
        lams = np.resize(lambda_hats[first:first + count], chunk_size)
        lams = jnp.asarray(lams, dtype=inputs.scores.dtype)
        result = run_chunk(key, jnp.asarray(indices), lams, inputs, n_cal)
        parts.append({name: np.asarray(value)[:count] for name, value in result.items()})
    out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    return {name: (v if name == "best_single_model" else v.astype(np.float64)) for name, v in out.items()}


def _mean_or_none(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def add_answer_metrics(
    summary: dict[str, Any],
    evaluation: Any,
    router_scores: Float[ArrayLike, "n K"],
    scores: Float[ArrayLike, "n K+1"],
    key: PRNGKeyArray,
    n_cal: int,
) -> dict[str, Any]:
    """Add the answer metrics of every trial in ``summary`` to it, in place, and return it.

    - ``summary``: the run summary. Its ``per_trial["lambda_hat"]`` lists each trial's
      threshold, trial 0 first.
    - ``evaluation``: the evaluation :class:`RoutingDataset`.
    - ``router_scores`` ``(n, K)`` and ``scores`` ``(n, K + 1)``: its router and
      nonconformity scores.
    - ``key``: the study's base key.

    Per-trial lists go into ``summary["per_trial"]`` (NaN stored as ``None``), their
    means over the trials that have a value into ``summary["summary"]``, and what was
    measured into ``summary["answers"]``. Metrics the summary already contains
    (``calls_saved``) are left as they are.

    Answers are used when the evaluation data carries raw responses and a gold choice is
    derivable for at least half of its queries. Otherwise only correctness metrics are
    measured. Cost metrics need every cost cell: with any missing they are skipped, and
    ``answers["costs_skipped"]`` gives the reason.

    NOTE: the one-half threshold separates multiple-choice files from free-text ones
    (code generation), where nothing parses. It is a heuristic, recorded as ``mode``.
    """
    info: dict[str, Any] = {"mode": "correctness", "costs": evaluation.costs is not None}
    costs = evaluation.costs
    if costs is not None and not np.isfinite(costs).all():
        # Cells kept under the missing-value policy "wrong" have no cost, so no set's cost is known.
        info["costs"] = False
        info["costs_skipped"] = f"{int((~np.isfinite(costs)).sum())} cost cells are missing"
        costs = None
    choices = gold = None
    if evaluation.responses is not None:
        table = answer_table(evaluation.responses, evaluation.correct)
        info.update(
            unparseable_responses={m: int(c) for m, c in zip(evaluation.model_names, table.unparseable)},
            queries_without_gold=table.no_gold,
            queries_without_gold_but_some_model_correct=table.no_gold_but_correct,
            queries_with_conflicting_gold=table.conflicts,
        )
        if 2 * table.no_gold <= evaluation.num_queries:
            info["mode"] = "answers"
            choices, gold = table.choices, table.gold
    inputs = AnswerInputs(scores, router_scores, evaluation.correct, choices, gold, costs)
    results = answer_metrics_over_trials(inputs, key=key, lambda_hats=summary["per_trial"]["lambda_hat"], n_cal=n_cal)

    chosen = results.pop("best_single_model")
    counts = np.bincount(chosen, minlength=evaluation.num_models)
    info["best_single_model_trials"] = {m: int(c) for m, c in zip(evaluation.model_names, counts) if c}
    for name, values in results.items():
        if name in summary["per_trial"]:
            continue
        summary["per_trial"][name] = [None if not np.isfinite(v) else float(v) for v in values]
        summary["summary"][name] = _mean_or_none(values)
    summary["answers"] = info
    return summary
