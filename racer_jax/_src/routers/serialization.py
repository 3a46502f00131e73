"""Save and load routers: one JSON header line, then the Equinox-serialised array leaves.

The header records the router class, the constructor settings needed to rebuild its
structure, the feature dimension and the model names in column order. Loading rebuilds
an empty router of that structure and reads the leaves into it. It also checks the
header against the data the router will score, so a router trained for other models or
another feature size is rejected instead of scoring the wrong columns.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .knn import KNNRouter
from .linear import LinearRouter
from .mlp import MLPRouter
from .prior import PriorRouter
from .softmax import SoftmaxRouter

ROUTER_FORMAT = "racer-jax router"
FORMAT_VERSION = 1


class RouterMismatchError(ValueError):
    """A saved router does not fit the data: other models or another feature dimension."""


def describe_router(router: eqx.Module) -> tuple[str, dict[str, Any], int]:
    """Return the class name, the structural settings and the feature dimension of ``router``."""
    if isinstance(router, (MLPRouter, SoftmaxRouter)):
        return type(router).__name__, {"width": router.mlp.width_size, "depth": router.mlp.depth}, router.mlp.in_size
    if isinstance(router, LinearRouter):
        return "LinearRouter", {}, router.linear.in_features
    if isinstance(router, KNNRouter):
        config = {"k": router.k, "temperature": router.temperature, "stored_queries": router.embeddings.shape[0]}
        return "KNNRouter", config, router.embeddings.shape[1]
    if isinstance(router, PriorRouter):
        return "PriorRouter", {}, router.feature_dim
    raise TypeError(f"cannot save a router of type {type(router).__name__}; expected one of this package's routers")


def _template(class_name: str, config: dict[str, Any], feature_dim: int, num_models: int) -> eqx.Module:
    key = jax.random.key(0)
    if class_name == "MLPRouter":
        return MLPRouter(feature_dim, num_models, config["width"], config["depth"], key=key)
    if class_name == "SoftmaxRouter":
        return SoftmaxRouter(feature_dim, num_models, config["width"], config["depth"], key=key)
    if class_name == "LinearRouter":
        return LinearRouter(feature_dim, num_models, key=key)
    if class_name == "KNNRouter":
        rows = config["stored_queries"]
        return KNNRouter(jnp.ones((rows, feature_dim)), jnp.zeros((rows, num_models + 1)), config["k"], config["temperature"])
    if class_name == "PriorRouter":
        return PriorRouter(jnp.zeros(num_models), 0.0, feature_dim)
    raise ValueError(f"unknown router class {class_name!r} in the file header")


def save_router(
    path: str | os.PathLike,
    router: eqx.Module,
    model_names: Sequence[str],
    *,
    name: str | None = None,
    training: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``router`` to ``path`` with a header; return the header.

    - ``model_names``: the ``K`` models the router scores, in its column order.
    - ``name``: the router type it was trained as (for example ``"racer"`` for an
      :class:`MLPRouter` trained on the RACER surrogate); defaults to the class name.
    - ``training``: JSON-serialisable training settings, stored for the record.
    """
    class_name, config, feature_dim = describe_router(router)
    model_names = [str(m) for m in model_names]
    if len(model_names) != router.num_models:
        raise ValueError(f"the router scores {router.num_models} models but {len(model_names)} model names were given")
    header = {
        "format": ROUTER_FORMAT,
        "version": FORMAT_VERSION,
        "class": class_name,
        "name": name or class_name,
        "config": config,
        "feature_dim": int(feature_dim),
        "model_names": model_names,
        "training": training or {},
    }
    # Write beside the target and rename, so an interrupted save never leaves a partial file.
    partial = f"{os.fspath(path)}.partial"
    with open(partial, "wb") as handle:
        handle.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(handle, router)
    os.replace(partial, path)
    return header


def read_router_header(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the JSON header of a saved router file."""
    with open(path, "rb") as handle:
        return _read_header(handle, path)


def _read_header(handle, path) -> dict[str, Any]:
    line = handle.readline()
    try:
        header = json.loads(line.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != ROUTER_FORMAT:
        raise ValueError(f"{path} is not a saved router file (no {ROUTER_FORMAT!r} header); save one with `racer train`")
    if header.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has router file version {header.get('version')}; this version reads {FORMAT_VERSION}")
    return header


def check_router_header(
    header: dict[str, Any], path: str | os.PathLike, model_names: Sequence[str] | None, feature_dim: int | None
) -> None:
    """Raise :class:`RouterMismatchError` unless the header's models and feature dimension match the data."""
    saved_models = list(header["model_names"])
    if model_names is not None and sorted(saved_models) != sorted(model_names):
        raise RouterMismatchError(
            f"router {path} was trained for models {saved_models}, but the data scores {list(model_names)}; "
            "train a router on data with these models (racer train) or use data with the router's models"
        )
    if feature_dim is not None and int(feature_dim) != header["feature_dim"]:
        raise RouterMismatchError(
            f"router {path} expects {header['feature_dim']}-dimensional features, but the data has "
            f"{feature_dim}-dimensional features; use features from the embedding model the router was trained on"
        )


def load_router(
    path: str | os.PathLike,
    *,
    model_names: Sequence[str] | None = None,
    feature_dim: int | None = None,
) -> tuple[eqx.Module, dict[str, Any]]:
    """Load a router saved by :func:`save_router`; return it and its header.

    When ``model_names`` or ``feature_dim`` is given, a router saved for other models (as
    a set) or another feature dimension raises :class:`RouterMismatchError`. The router
    scores models in the header's ``model_names`` order: reorder the data's columns to it.
    """
    with open(path, "rb") as handle:
        header = _read_header(handle, path)
        check_router_header(header, path, model_names, feature_dim)
        template = _template(header["class"], header["config"], header["feature_dim"], len(header["model_names"]))
        router = eqx.tree_deserialise_leaves(handle, template)
    return router, header
