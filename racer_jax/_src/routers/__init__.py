"""Base routers behind one interface, RACER-aware training, router files and router quality metrics."""

from .knn import KNNRouter as KNNRouter
from .knn import fit_knn_router as fit_knn_router
from .linear import LinearRouter as LinearRouter
from .linear import train_linear_router as train_linear_router
from .metrics import (
    auroc as auroc,
)
from .metrics import (
    oracle_accuracy as oracle_accuracy,
)
from .metrics import (
    per_model_auroc as per_model_auroc,
)
from .metrics import (
    router_metrics as router_metrics,
)
from .metrics import (
    top1_accuracy as top1_accuracy,
)
from .mlp import MLPRouter as MLPRouter
from .mlp import RouterScores as RouterScores
from .mlp import train_mlp_router as train_mlp_router
from .prior import PriorRouter as PriorRouter
from .prior import fit_prior_router as fit_prior_router
from .racer_training import (
    racer_surrogate_loss as racer_surrogate_loss,
)
from .racer_training import (
    soft_quantile as soft_quantile,
)
from .racer_training import (
    train_racer_router as train_racer_router,
)
from .registry import ROUTER_NAMES as ROUTER_NAMES
from .registry import fit_router as fit_router
from .serialization import (
    RouterMismatchError as RouterMismatchError,
)
from .serialization import (
    load_router as load_router,
)
from .serialization import (
    read_router_header as read_router_header,
)
from .serialization import (
    save_router as save_router,
)
from .softmax import (
    SoftmaxRouter as SoftmaxRouter,
)
from .softmax import (
    best_model_labels as best_model_labels,
)
from .softmax import (
    train_softmax_router as train_softmax_router,
)
