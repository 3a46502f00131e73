"""Named router types, one training entry point, and the router step of a run.

Every router is an Equinox module called as ``router(features)`` on features ``(n, d)``
and returning :class:`RouterScores` (per-model scores ``(n, K)`` in [0, 1] and a null
score ``(n,)``). The named types:

- ``mlp``: multi-label MLP trained on cross-entropy (:mod:`.mlp`).
- ``racer``: the same MLP trained on the RACER set-size surrogate plus cross-entropy
  (:mod:`.racer_training`), for the run's ``alpha``, score and null option.
- ``knn``: cosine k-nearest neighbours over the features (:mod:`.knn`).
- ``linear``: multi-label logistic regression (:mod:`.linear`).
- ``softmax``: single-choice softmax over the models and "no model is correct" (:mod:`.softmax`).
- ``prior``: per-model training accuracy, the same for every query (:mod:`.prior`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, Literal, get_args

import equinox as eqx
from jaxtyping import ArrayLike, PRNGKeyArray

from ..data import RoutingDataset
from ._training import check_training_data
from .knn import fit_knn_router
from .linear import train_linear_router
from .mlp import train_mlp_router
from .prior import fit_prior_router
from .racer_training import train_racer_router
from .serialization import load_router, save_router
from .softmax import train_softmax_router

RouterName = Literal["mlp", "racer", "knn", "linear", "softmax", "prior"]
ROUTER_NAMES: tuple[str, ...] = get_args(RouterName)


def check_router_choice(choice: str) -> None:
    """Raise ``ValueError`` unless ``choice`` is a router name or an existing file."""
    if choice in ROUTER_NAMES or os.path.isfile(choice):
        return
    raise ValueError(
        f"invalid router {choice!r}: expected one of {', '.join(map(repr, ROUTER_NAMES))} "
        "or the path of a router file saved by `racer train` (no such file)"
    )


def fit_router(
    name: str,
    features: ArrayLike,
    correct: ArrayLike,
    *,
    key: PRNGKeyArray,
    graded: ArrayLike | None = None,
    alpha: float = 0.1,
    score: str = "gap",
    null: str = "always",
    **options: Any,
) -> tuple[eqx.Module, dict[str, Any]]:
    """Train the router type ``name`` and return it with a JSON-ready record of the training.

    - ``features``: ``(n, d)``; ``correct``: 0/1 ``(n, K)``.
    - ``graded``: graded scores ``(n, K)``, used only by ``softmax`` to pick the best model.
    - ``alpha``, ``score``, ``null``: the RACER setting ``racer`` trains for; others ignore them.
    - ``options``: keyword settings passed to that type's training function.
    """
    if name not in ROUTER_NAMES:
        raise ValueError(f"invalid router name {name!r}: expected one of {', '.join(map(repr, ROUTER_NAMES))}")
    features, correct = check_training_data(features, correct)
    record: dict[str, Any] = {"type": name, "options": dict(options)}
    trainers: dict[str, Callable[[], tuple[eqx.Module, Any]]] = {
        "mlp": lambda: train_mlp_router(features, correct, key=key, **options),
        "linear": lambda: train_linear_router(features, correct, key=key, **options),
        "softmax": lambda: train_softmax_router(features, correct, key=key, graded=graded, **options),
        "racer": lambda: train_racer_router(
            features, correct, key=key, alpha=alpha, score=score, null=null, **options
        ),
    }
    if name == "knn":
        return fit_knn_router(features, correct, **options), record
    if name == "prior":
        if options:
            raise ValueError(f"the prior router takes no options; got {sorted(options)}")
        return fit_prior_router(features, correct), record
    router, history = trainers[name]()
    record["epochs"] = len(history.train_loss)
    record["best_epoch"] = history.best_epoch
    if name == "racer":
        record.update(alpha=alpha, score=score, null=null)
        record["best_holdout_set_size"] = min(history.holdout_set_size, default=None)
    else:
        record["best_holdout_loss"] = min(history.holdout_loss)
    return router, record


def prepare_run_router(
    choice: str,
    train: RoutingDataset,
    *,
    key: PRNGKeyArray,
    alpha: float,
    score: str,
    null: str,
    out_path: str,
    resume: bool,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[eqx.Module, dict[str, Any]]:
    """Obtain a run's router: reload it on resume, else train a named type or load a saved file.

    The router is saved to ``out_path`` (with its header) unless it was reloaded from
    there. The returned record carries ``model_names``, the router's column order,
    which the evaluation data must be reordered to.
    """
    check_router_choice(choice)
    dims = train.features.shape[1]
    if resume and os.path.exists(out_path):
        router, header = load_router(out_path, model_names=train.model_names, feature_dim=dims)
        log(f"router: reloaded {header['name']} from {out_path}")
        record = {**header["training"], "type": header["name"], "source": "resumed"}
        record["model_names"] = header["model_names"]
        return router, record
    if choice in ROUTER_NAMES:
        router, record = fit_router(
            choice, train.features, train.correct, key=key, graded=train.scores, alpha=alpha, score=score, null=null
        )
        model_names = list(train.model_names)
        record["source"] = "trained"
        log(f"router: trained {choice}" + (f" for {record['epochs']} epochs" if "epochs" in record else ""))
    else:
        router, header = load_router(choice, model_names=train.model_names, feature_dim=dims)
        model_names = header["model_names"]
        record = {**header["training"], "type": header["name"], "source": os.path.abspath(choice)}
        log(f"router: loaded {header['name']} from {choice}")
        trained_null = header["training"].get("null")
        if trained_null is not None and trained_null != null:
            warnings.warn(
                f"router {choice} was trained for null score {trained_null!r} but this run uses {null!r}; "
                f"pass --null {trained_null} to use it as trained",
                UserWarning, stacklevel=2,
            )
    save_router(out_path, router, model_names, name=record["type"], training=record)
    record["model_names"] = model_names
    return router, record
