"""Base routers behind one interface, RACER-aware training, router files and router quality metrics."""

from .knn import KNNRouter as KNNRouter, fit_knn_router as fit_knn_router
from .linear import LinearRouter as LinearRouter, train_linear_router as train_linear_router
from .metrics import (
    auroc as auroc,
    oracle_accuracy as oracle_accuracy,
    per_model_auroc as per_model_auroc,
    router_metrics as router_metrics,
    top1_accuracy as top1_accuracy,
)
from .mlp import MLPRouter as MLPRouter, RouterScores as RouterScores, train_mlp_router as train_mlp_router
from .prior import PriorRouter as PriorRouter, fit_prior_router as fit_prior_router
from .racer_training import (
    racer_surrogate_loss as racer_surrogate_loss,
    soft_quantile as soft_quantile,
    train_racer_router as train_racer_router,
)
from .registry import ROUTER_NAMES as ROUTER_NAMES, fit_router as fit_router
from .serialization import (
    RouterMismatchError as RouterMismatchError,
    load_router as load_router,
    read_router_header as read_router_header,
    save_router as save_router,
)
from .softmax import (
    SoftmaxRouter as SoftmaxRouter,
    best_model_labels as best_model_labels,
    train_softmax_router as train_softmax_router,
)
