"""racer-jax: risk-controlled LLM routing (RACER) in JAX.

A base router scores each model for a query; RACER adds a null model ("abstain"),
turns scores into nested model sets $C_\\lambda(x)$, and calibrates $\\hat\\lambda$ on
labelled data so that the set misses every correct model at most an $\\alpha$ fraction
of the time, with probability at least $1 - \\delta$.
"""

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
    DataError as DataError,
    DataWarning as DataWarning,
    RoutingDataset as RoutingDataset,
    load_dataset as load_dataset,
    load_features as load_features,
    load_routerbench as load_routerbench,
    load_routerdc as load_routerdc,
    overlapping_queries as overlapping_queries,
)
from ._src.routers.mlp import (
    MLPRouter as MLPRouter,
    RouterScores as RouterScores,
    train_mlp_router as train_mlp_router,
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
from ._src.study import TrialMetrics as TrialMetrics, simulate_trials as simulate_trials
from ._src.synthetic import (
    SyntheticData as SyntheticData,
    conditional_miss_probability as conditional_miss_probability,
    make_synthetic as make_synthetic,
    population_risk as population_risk,
)

__version__ = "0.1.0"
