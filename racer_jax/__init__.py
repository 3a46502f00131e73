"""racer-jax: risk-controlled LLM routing (RACER) in JAX.

A base router scores each model for a query; RACER adds a null model ("abstain"),
turns scores into nested model sets $C_\\lambda(x)$, and calibrates $\\hat\\lambda$ on
labelled data so that the set misses every correct model at most an $\\alpha$ fraction
of the time, with probability at least $1 - \\delta$.
"""

from ._src.aggregation import (
    NO_ANSWER as NO_ANSWER,
    Vote as Vote,
    best_single_model as best_single_model,
    full_ensemble_vote as full_ensemble_vote,
    is_correct as is_correct,
    majority_vote as majority_vote,
    top1_answer as top1_answer,
    top1_models as top1_models,
    weighted_plurality as weighted_plurality,
    weighted_vote as weighted_vote,
)
from ._src.answers import (
    UNPARSEABLE as UNPARSEABLE,
    AnswerTable as AnswerTable,
    answer_table as answer_table,
    derive_gold as derive_gold,
    parse_choice as parse_choice,
    parse_responses as parse_responses,
)
from ._src.bounds import (
    BOUND_RULES as BOUND_RULES,
    admissible_error_count as admissible_error_count,
    minimum_calibration_size as minimum_calibration_size,
    upper_confidence_bound as upper_confidence_bound,
    wsr_max_log_capital as wsr_max_log_capital,
)
from ._src.calibration import (
    Calibration as Calibration,
    InfeasibleCalibrationWarning as InfeasibleCalibrationWarning,
    calibrate as calibrate,
    lambda_from_error_count as lambda_from_error_count,
    wsr_lambda as wsr_lambda,
)
from ._src.data import (
    DUPLICATE_POLICIES as DUPLICATE_POLICIES,
    MISSING_POLICIES as MISSING_POLICIES,
    SPLIT_ROW_POLICIES as SPLIT_ROW_POLICIES,
    merge_split_rows as merge_split_rows,
    DataError as DataError,
    DataWarning as DataWarning,
    RoutingDataset as RoutingDataset,
    load_dataset as load_dataset,
    load_features as load_features,
    load_routerbench as load_routerbench,
    load_routerdc as load_routerdc,
    overlapping_queries as overlapping_queries,
)
from ._src.margins import (
    calibrated_risk_law as calibrated_risk_law,
    calibrated_risk_quantile as calibrated_risk_quantile,
    dkw_risk_lower_bound as dkw_risk_lower_bound,
    expected_calibrated_risk as expected_calibrated_risk,
    lower_margin as lower_margin,
    violation_probability as violation_probability,
    wsr_error_count_samples as wsr_error_count_samples,
    wsr_stopping_count as wsr_stopping_count,
)
from ._src.metrics import (
    AnswerInputs as AnswerInputs,
    add_answer_metrics as add_answer_metrics,
    answer_metrics_over_trials as answer_metrics_over_trials,
    trial_answer_metrics as trial_answer_metrics,
)
from ._src.routers import (
    auroc as auroc,
    best_model_labels as best_model_labels,
    fit_knn_router as fit_knn_router,
    fit_prior_router as fit_prior_router,
    fit_router as fit_router,
    KNNRouter as KNNRouter,
    LinearRouter as LinearRouter,
    load_router as load_router,
    MLPRouter as MLPRouter,
    oracle_accuracy as oracle_accuracy,
    per_model_auroc as per_model_auroc,
    PriorRouter as PriorRouter,
    racer_surrogate_loss as racer_surrogate_loss,
    read_router_header as read_router_header,
    router_metrics as router_metrics,
    ROUTER_NAMES as ROUTER_NAMES,
    RouterMismatchError as RouterMismatchError,
    RouterScores as RouterScores,
    save_router as save_router,
    soft_quantile as soft_quantile,
    SoftmaxRouter as SoftmaxRouter,
    top1_accuracy as top1_accuracy,
    train_linear_router as train_linear_router,
    train_mlp_router as train_mlp_router,
    train_racer_router as train_racer_router,
    train_softmax_router as train_softmax_router,
)
from ._src.scoring import (
    NONCONFORMITY_OPTIONS as NONCONFORMITY_OPTIONS,
    NULL_INDEX as NULL_INDEX,
    NULL_SCORE_OPTIONS as NULL_SCORE_OPTIONS,
    SCORE_UPPER_LIMIT as SCORE_UPPER_LIMIT,
    abstains as abstains,
    augment_scores as augment_scores,
    augmented_truth as augmented_truth,
    cover_scores as cover_scores,
    empirical_risk as empirical_risk,
    misrouting_loss as misrouting_loss,
    nonconformity_scores as nonconformity_scores,
    prediction_sets as prediction_sets,
    set_sizes as set_sizes,
)
from ._src.study import (
    TrialMetrics as TrialMetrics,
    calibration_mask as calibration_mask,
    simulate_trials as simulate_trials,
    trial_key as trial_key,
)
from ._src.synthetic import (
    SyntheticData as SyntheticData,
    conditional_miss_probability as conditional_miss_probability,
    make_synthetic as make_synthetic,
    population_risk as population_risk,
)

__version__ = "0.1.0"
