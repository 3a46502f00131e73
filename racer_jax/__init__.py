"""racer-jax: risk-controlled LLM routing (RACER) in JAX.

A base router scores each model for a query. RACER adds a null model ("abstain"),
turns the scores into nested model sets $C_\\lambda(x)$, and calibrates $\\hat\\lambda$ on
labelled data. The set then misses every correct model at most an $\\alpha$ fraction
of the time, with probability at least $1 - \\delta$.
"""

from ._src.aggregation import (
    NO_ANSWER as NO_ANSWER,
)
from ._src.aggregation import (
    Vote as Vote,
)
from ._src.aggregation import (
    best_single_model as best_single_model,
)
from ._src.aggregation import (
    full_ensemble_vote as full_ensemble_vote,
)
from ._src.aggregation import (
    is_correct as is_correct,
)
from ._src.aggregation import (
    majority_vote as majority_vote,
)
from ._src.aggregation import (
    top1_answer as top1_answer,
)
from ._src.aggregation import (
    top1_models as top1_models,
)
from ._src.aggregation import (
    weighted_plurality as weighted_plurality,
)
from ._src.aggregation import (
    weighted_vote as weighted_vote,
)
from ._src.answers import (
    UNPARSEABLE as UNPARSEABLE,
)
from ._src.answers import (
    AnswerTable as AnswerTable,
)
from ._src.answers import (
    answer_table as answer_table,
)
from ._src.answers import (
    derive_gold as derive_gold,
)
from ._src.answers import (
    parse_choice as parse_choice,
)
from ._src.answers import (
    parse_responses as parse_responses,
)
from ._src.bounds import (
    BOUND_RULES as BOUND_RULES,
)
from ._src.bounds import (
    admissible_error_count as admissible_error_count,
)
from ._src.bounds import (
    minimum_calibration_size as minimum_calibration_size,
)
from ._src.bounds import (
    upper_confidence_bound as upper_confidence_bound,
)
from ._src.bounds import (
    wsr_max_log_capital as wsr_max_log_capital,
)
from ._src.calibration import (
    Calibration as Calibration,
)
from ._src.calibration import (
    InfeasibleCalibrationWarning as InfeasibleCalibrationWarning,
)
from ._src.calibration import (
    calibrate as calibrate,
)
from ._src.calibration import (
    lambda_from_error_count as lambda_from_error_count,
)
from ._src.calibration import (
    wsr_lambda as wsr_lambda,
)
from ._src.data import (
    DUPLICATE_POLICIES as DUPLICATE_POLICIES,
)
from ._src.data import (
    MISSING_POLICIES as MISSING_POLICIES,
)
from ._src.data import (
    SPLIT_ROW_POLICIES as SPLIT_ROW_POLICIES,
)
from ._src.data import (
    DataError as DataError,
)
from ._src.data import (
    DataWarning as DataWarning,
)
from ._src.data import (
    RoutingDataset as RoutingDataset,
)
from ._src.data import (
    load_dataset as load_dataset,
)
from ._src.data import (
    load_features as load_features,
)
from ._src.data import (
    load_routerbench as load_routerbench,
)
from ._src.data import (
    load_routerdc as load_routerdc,
)
from ._src.data import (
    merge_split_rows as merge_split_rows,
)
from ._src.data import (
    overlapping_queries as overlapping_queries,
)
from ._src.margins import (
    calibrated_risk_law as calibrated_risk_law,
)
from ._src.margins import (
    calibrated_risk_quantile as calibrated_risk_quantile,
)
from ._src.margins import (
    dkw_risk_lower_bound as dkw_risk_lower_bound,
)
from ._src.margins import (
    expected_calibrated_risk as expected_calibrated_risk,
)
from ._src.margins import (
    lower_margin as lower_margin,
)
from ._src.margins import (
    violation_probability as violation_probability,
)
from ._src.margins import (
    wsr_error_count_samples as wsr_error_count_samples,
)
from ._src.margins import (
    wsr_stopping_count as wsr_stopping_count,
)
from ._src.metrics import (
    AnswerInputs as AnswerInputs,
)
from ._src.metrics import (
    add_answer_metrics as add_answer_metrics,
)
from ._src.metrics import (
    answer_metrics_over_trials as answer_metrics_over_trials,
)
from ._src.metrics import (
    trial_answer_metrics as trial_answer_metrics,
)
from ._src.routers import (
    ROUTER_NAMES as ROUTER_NAMES,
)
from ._src.routers import (
    KNNRouter as KNNRouter,
)
from ._src.routers import (
    LinearRouter as LinearRouter,
)
from ._src.routers import (
    MLPRouter as MLPRouter,
)
from ._src.routers import (
    PriorRouter as PriorRouter,
)
from ._src.routers import (
    RouterMismatchError as RouterMismatchError,
)
from ._src.routers import (
    RouterScores as RouterScores,
)
from ._src.routers import (
    SoftmaxRouter as SoftmaxRouter,
)
from ._src.routers import (
    auroc as auroc,
)
from ._src.routers import (
    best_model_labels as best_model_labels,
)
from ._src.routers import (
    fit_knn_router as fit_knn_router,
)
from ._src.routers import (
    fit_prior_router as fit_prior_router,
)
from ._src.routers import (
    fit_router as fit_router,
)
from ._src.routers import (
    load_router as load_router,
)
from ._src.routers import (
    oracle_accuracy as oracle_accuracy,
)
from ._src.routers import (
    per_model_auroc as per_model_auroc,
)
from ._src.routers import (
    racer_surrogate_loss as racer_surrogate_loss,
)
from ._src.routers import (
    read_router_header as read_router_header,
)
from ._src.routers import (
    router_metrics as router_metrics,
)
from ._src.routers import (
    save_router as save_router,
)
from ._src.routers import (
    soft_quantile as soft_quantile,
)
from ._src.routers import (
    top1_accuracy as top1_accuracy,
)
from ._src.routers import (
    train_linear_router as train_linear_router,
)
from ._src.routers import (
    train_mlp_router as train_mlp_router,
)
from ._src.routers import (
    train_racer_router as train_racer_router,
)
from ._src.routers import (
    train_softmax_router as train_softmax_router,
)
from ._src.scoring import (
    NONCONFORMITY_OPTIONS as NONCONFORMITY_OPTIONS,
)
from ._src.scoring import (
    NULL_INDEX as NULL_INDEX,
)
from ._src.scoring import (
    NULL_SCORE_OPTIONS as NULL_SCORE_OPTIONS,
)
from ._src.scoring import (
    SCORE_UPPER_LIMIT as SCORE_UPPER_LIMIT,
)
from ._src.scoring import (
    abstains as abstains,
)
from ._src.scoring import (
    augment_scores as augment_scores,
)
from ._src.scoring import (
    augmented_truth as augmented_truth,
)
from ._src.scoring import (
    cover_scores as cover_scores,
)
from ._src.scoring import (
    empirical_risk as empirical_risk,
)
from ._src.scoring import (
    misrouting_loss as misrouting_loss,
)
from ._src.scoring import (
    nonconformity_scores as nonconformity_scores,
)
from ._src.scoring import (
    prediction_sets as prediction_sets,
)
from ._src.scoring import (
    set_sizes as set_sizes,
)
from ._src.study import (
    TrialMetrics as TrialMetrics,
)
from ._src.study import (
    calibration_mask as calibration_mask,
)
from ._src.study import (
    simulate_trials as simulate_trials,
)
from ._src.study import (
    trial_key as trial_key,
)
from ._src.synthetic import (
    SyntheticData as SyntheticData,
)
from ._src.synthetic import (
    conditional_miss_probability as conditional_miss_probability,
)
from ._src.synthetic import (
    make_synthetic as make_synthetic,
)
from ._src.synthetic import (
    population_risk as population_risk,
)

__version__ = "0.1.0"
