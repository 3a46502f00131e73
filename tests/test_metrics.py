import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from racer_jax._src.data import RoutingDataset
from racer_jax._src.metrics import (
    ANSWER_METRIC_NAMES,
    COMMON_METRIC_NAMES,
    CORRECTNESS_METRIC_NAMES,
    COST_METRIC_NAMES,
    AnswerInputs,
    add_answer_metrics,
    answer_metrics_over_trials,
    trial_answer_metrics,
)
from racer_jax._src.study import calibration_mask, simulate_trials, trial_key

A, B, C, D = 0, 1, 2, 3

# Four queries, three models; query 0 calibrates, queries 1-3 test. With inverse scores
# S = 1 - p and lambda = 0.5 the called sets are {0, 1}, {1, 2} and {} (abstain).
PROBS = np.array([[0.9, 0.1, 0.1], [0.8, 0.6, 0.2], [0.3, 0.7, 0.9], [0.2, 0.1, 0.3]], dtype=np.float32)
CHOICES = np.array([[A, B, B], [A, B, B], [C, C, C], [D, D, A]], dtype=np.int32)
GOLD = np.array([A, B, C, D], dtype=np.int32)
COSTS = np.tile(np.array([1.0, 2.0, 4.0], dtype=np.float32), (4, 1))
CALIBRATION = np.array([True, False, False, False])
LAMBDA = 0.5


def _scores():
    null = np.zeros((4, 1), dtype=np.float32)  # the null model is in every set
    return jnp.asarray(np.concatenate([1.0 - PROBS, null], axis=1))


def _model_correct():
    return CHOICES == GOLD[:, None]


def test_hand_made_vote_metrics():
    inputs = AnswerInputs(_scores(), jnp.asarray(PROBS), jnp.asarray(_model_correct()), CHOICES, GOLD, COSTS)
    m = {k: float(v) for k, v in trial_answer_metrics(CALIBRATION, LAMBDA, inputs).items()}
    expected = {
        # Query 1: A-B tie in {0, 1}, A's voter has the higher score, gold B: wrong.
        # Query 2: {1, 2} both answer C: right. Query 3: abstains.
        "majority_accuracy": 1 / 3,
        "weighted_accuracy": 1 / 3,
        "coverage": 2 / 3,
        "majority_selective_accuracy": 1 / 2,
        "weighted_selective_accuracy": 1 / 2,
        "ensemble_accuracy": 1.0,  # B, C, D: all right
        "top1_accuracy": 1 / 3,  # model 0 answers A (wrong), model 2 answers C (right), model 2 answers A (wrong)
        "majority_gain_vs_ensemble": 1 / 3 - 1.0,
        "majority_gain_vs_top1": 0.0,
        "weighted_gain_vs_ensemble": 1 / 3 - 1.0,
        "weighted_gain_vs_top1": 0.0,
        "oracle_accuracy": 2 / 3,
        "top_member_accuracy": 1 / 3,
        "best_single_accuracy": 2 / 3,  # model 0, right on the calibration query; right on queries 2, 3
        "calls_saved": 1 - (4 / 3) / 3,
        "no_answer_rate": 0.0,
        "cost": 3.0,  # (1 + 2) + (2 + 4) + 0 over three queries
        "ensemble_cost": 7.0,
        "top1_cost": 3.0,  # models 0, 2, 2
        "best_single_cost": 1.0,
        "cost_saved_vs_ensemble": 4 / 7,
        "cost_ratio_vs_top1": 1.0,
        "cost_ratio_vs_best_single": 3.0,
    }
    assert set(m) == set(expected)
    assert set(m) == set(COMMON_METRIC_NAMES + ANSWER_METRIC_NAMES + COST_METRIC_NAMES)
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, abs=1e-6), name


def test_hand_made_correctness_metrics():
    inputs = AnswerInputs(_scores(), jnp.asarray(PROBS), jnp.asarray(_model_correct()))
    m = {k: float(v) for k, v in trial_answer_metrics(CALIBRATION, LAMBDA, inputs).items()}
    assert set(m) == set(COMMON_METRIC_NAMES + CORRECTNESS_METRIC_NAMES)
    assert m["oracle_accuracy"] == pytest.approx(2 / 3)
    assert m["top_member_accuracy"] == pytest.approx(1 / 3)
    assert m["top1_accuracy"] == pytest.approx(1 / 3)
    # Every test query has some correct model, so the full ensemble's oracle accuracy is 1.
    assert m["oracle_gain_vs_ensemble"] == pytest.approx(2 / 3 - 1)
    assert m["top_member_gain_vs_top1"] == pytest.approx(0.0)


def test_selective_accuracy_nan_when_all_abstain():
    inputs = AnswerInputs(_scores(), jnp.asarray(PROBS), jnp.asarray(_model_correct()), CHOICES, GOLD)
    m = trial_answer_metrics(CALIBRATION, -1.0, inputs)
    assert float(m["coverage"]) == 0.0
    assert math.isnan(float(m["majority_selective_accuracy"]))
    assert float(m["majority_accuracy"]) == 0.0
    assert float(m["calls_saved"]) == 1.0


def _random_problem(seed, n=60, k=4):
    rng = np.random.default_rng(seed)
    probs = rng.random((n, k)).astype(np.float32)
    correct = rng.random((n, k)) < probs
    augmented = np.concatenate([probs, np.ones((n, 1), np.float32)], axis=1)
    scores = augmented.max(axis=1, keepdims=True) - augmented
    cover = np.where(np.concatenate([correct, ~correct.any(1, keepdims=True)], 1), scores, np.inf).min(1)
    return probs, correct, scores.astype(np.float32), cover.astype(np.float32)


def test_trials_use_the_study_split():
    probs, correct, scores, cover = _random_problem(0)
    key = jax.random.key(11)
    study = simulate_trials(scores, cover, key=key, trials=7, n_cal=30, alpha=0.3, delta=0.2)
    inputs = AnswerInputs(scores, probs, correct)
    result = answer_metrics_over_trials(inputs, key=key, lambda_hats=study.lambda_hat, n_cal=30, chunk_size=3)
    np.testing.assert_allclose(result["calls_saved"], 1 - np.asarray(study.set_size) / 4, atol=1e-6)
    np.testing.assert_allclose(result["coverage"], 1 - np.asarray(study.abstention_rate), atol=1e-6)
    # Trial 5 recomputed by hand from its calibration mask.
    mask = np.asarray(calibration_mask(trial_key(key, 5), 60, 30))
    members = scores[:, :4] <= np.float32(study.lambda_hat[5])
    oracle = (members & correct).any(axis=1)[~mask].mean()
    assert result["oracle_accuracy"][5] == pytest.approx(oracle, abs=1e-6)
    assert result["best_single_model"][5] == int(np.argmax(correct[mask].sum(axis=0)))


def test_chunking_does_not_change_results():
    probs, correct, scores, _ = _random_problem(1)
    inputs = AnswerInputs(scores, probs, correct)
    lams = np.linspace(0.0, 0.6, 5)
    key = jax.random.key(2)
    one = answer_metrics_over_trials(inputs, key=key, lambda_hats=lams, n_cal=20, chunk_size=5)
    many = answer_metrics_over_trials(inputs, key=key, lambda_hats=lams, n_cal=20, chunk_size=2)
    for name in one:
        np.testing.assert_array_equal(one[name], many[name])


def test_invalid_inputs_are_rejected():
    probs, correct, scores, _ = _random_problem(2)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="scores must have shape"):
        answer_metrics_over_trials(AnswerInputs(scores[:, :4], probs, correct), key=key, lambda_hats=[0.1], n_cal=5)
    with pytest.raises(ValueError, match="choices and gold must be given together"):
        answer_metrics_over_trials(
            AnswerInputs(scores, probs, correct, choices=np.zeros((60, 4), int)), key=key, lambda_hats=[0.1], n_cal=5
        )
    with pytest.raises(ValueError, match="n_cal"):
        answer_metrics_over_trials(AnswerInputs(scores, probs, correct), key=key, lambda_hats=[0.1], n_cal=60)
    with pytest.raises(ValueError, match="costs must be finite"):
        bad_costs = np.full((60, 4), np.nan)
        answer_metrics_over_trials(
            AnswerInputs(scores, probs, correct, costs=bad_costs), key=key, lambda_hats=[0.1], n_cal=5
        )


def _summary_for(lams):
    return {"per_trial": {"lambda_hat": list(lams), "calls_saved": [0.5] * len(lams)}, "summary": {"calls_saved": 0.5}}


def test_add_answer_metrics_with_responses():
    responses = np.array([["['A']", "['B']", "['B\\n']"], ["['A']", "['B']", "['B']"],
                          ["['C']", "['C']", "['C']"], ["['D']", "['D']", "['I do']"]], dtype=object)
    correct = np.array([[True, False, False], [False, True, True], [True, True, True], [True, True, False]])
    data = RoutingDataset(
        ids=tuple("abcd"), texts=tuple("abcd"), model_names=("m0", "m1", "m2"), scores=correct.astype(float),
        correct=correct, costs=COSTS.astype(np.float64), responses=responses,
    )
    summary = add_answer_metrics(_summary_for([0.5, 0.2]), data, PROBS, _scores(), jax.random.key(0), n_cal=1)
    assert summary["answers"]["mode"] == "answers"
    assert summary["answers"]["unparseable_responses"] == {"m0": 0, "m1": 0, "m2": 1}
    assert summary["answers"]["queries_without_gold"] == 0
    assert len(summary["per_trial"]["majority_accuracy"]) == 2
    assert summary["per_trial"]["calls_saved"] == [0.5, 0.5]  # existing entries are kept
    assert summary["summary"]["cost_saved_vs_ensemble"] == pytest.approx(
        np.mean(summary["per_trial"]["cost_saved_vs_ensemble"])
    )
    assert sum(summary["answers"]["best_single_model_trials"].values()) == 2


def test_add_answer_metrics_without_responses_reports_correctness():
    correct = _model_correct()
    data = RoutingDataset(
        ids=tuple("abcd"), texts=tuple("abcd"), model_names=("m0", "m1", "m2"), scores=correct.astype(float),
        correct=correct,
    )
    summary = add_answer_metrics(_summary_for([0.5]), data, PROBS, _scores(), jax.random.key(0), n_cal=2)
    assert summary["answers"]["mode"] == "correctness"
    assert "majority_accuracy" not in summary["summary"]
    assert "oracle_accuracy" in summary["summary"]
    assert "cost" not in summary["summary"]


def test_add_answer_metrics_skips_missing_costs():
    correct = _model_correct()
    costs = COSTS.astype(np.float64)
    costs[2, 1] = np.nan  # a cell kept under the missing-value policy "wrong"
    data = RoutingDataset(
        ids=tuple("abcd"), texts=tuple("abcd"), model_names=("m0", "m1", "m2"), scores=correct.astype(float),
        correct=correct, costs=costs,
    )
    summary = add_answer_metrics(_summary_for([0.5]), data, PROBS, _scores(), jax.random.key(0), n_cal=2)
    assert summary["answers"]["costs"] is False
    assert "1 cost cells are missing" in summary["answers"]["costs_skipped"]
    assert "cost" not in summary["summary"]
