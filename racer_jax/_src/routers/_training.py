"""Minibatch training shared by the routers: one compiled epoch, and AdamW with early stopping on a held-out share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray


class FitHistory(NamedTuple):
    """Per-epoch mean training and held-out losses, and the epoch whose weights were kept."""

    train_loss: list[float]
    holdout_loss: list[float]
    best_epoch: int


def check_training_data(features, correct) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 ``features`` ``(n, d)`` and bool ``correct`` ``(n, K)``, or raise on mismatched shapes."""
    features = np.asarray(features, dtype=np.float32)
    correct = np.asarray(correct, dtype=bool)
    if features.ndim != 2 or correct.ndim != 2 or features.shape[0] != correct.shape[0]:
        raise ValueError(
            f"features (n, d) and correct (n, K) must have the same number of rows; "
            f"got shapes {features.shape} and {correct.shape}"
        )
    return features, correct


def split_holdout(key: PRNGKeyArray, n: int, holdout_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into held-out and training rows (at least one of each)."""
    if n < 2:
        raise ValueError(f"training needs at least 2 queries; got {n}")
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must lie in (0, 1); got {holdout_fraction}")
    order = np.asarray(jax.random.permutation(key, n))
    num_holdout = min(n - 1, max(1, round(holdout_fraction * n)))
    return order[:num_holdout], order[num_holdout:]


def make_epoch(
    optimiser: optax.GradientTransformation,
    loss_of_rows: Callable[[Any, Array], Array],
    *,
    num_rows: int,
    steps_per_epoch: int,
    batch_size: int,
    holdout_loss: Callable[[Any], Array] | None = None,
) -> Callable[[Any, Any, PRNGKeyArray], tuple[Any, Any, Array, Array | None]]:
    """Build a jit-compiled epoch: ``steps_per_epoch`` optimiser steps over shuffled minibatches.

    The returned ``run_epoch(model, opt_state, key)`` draws a permutation of the
    ``num_rows`` training rows, takes ``steps_per_epoch * batch_size`` of them in batches,
    and minimises ``loss_of_rows(model, rows)`` with ``lax.scan``. It returns the new model,
    the optimiser state, the mean batch loss and ``holdout_loss(model)`` (``None`` when not
    given), all from one compiled program.
    """

    @eqx.filter_jit
    def run_epoch(model, opt_state, epoch_key):
        perm = jax.random.permutation(epoch_key, num_rows)[: steps_per_epoch * batch_size]
        batches = perm.reshape(steps_per_epoch, batch_size)
        params, static = eqx.partition(model, eqx.is_array)

        def step(carry, rows):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(lambda p: loss_of_rows(eqx.combine(p, static), rows))(params)
            updates, opt_state = optimiser.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
        model = eqx.combine(params, static)
        held_out = None if holdout_loss is None else holdout_loss(model)
        return model, opt_state, jnp.mean(losses), held_out

    return run_epoch


def fit_minibatch(
    model: eqx.Module,
    loss_fn: Callable[[Any, Array, Array], Array],
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    key: PRNGKeyArray | None = None,
    holdout_key: PRNGKeyArray | None = None,
    shuffle_key: PRNGKeyArray | None = None,
    learning_rate: float,
    weight_decay: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    holdout_fraction: float,
) -> tuple[eqx.Module, FitHistory]:
    """Minimise ``loss_fn(model, inputs[rows], targets[rows])`` with AdamW over shuffled minibatches.

    A seeded ``holdout_fraction`` of the rows is held out; training stops after
    ``patience`` epochs without a lower held-out loss and returns the best weights seen.
    Pass either ``key``, which is split into the held-out and shuffle keys, or both of
    those keys directly.
    """
    if max_epochs < 1 or patience < 1 or batch_size < 1:
        raise ValueError(
            f"max_epochs, patience and batch_size must be at least 1; got {max_epochs}, {patience}, {batch_size}"
        )
    if key is not None:
        holdout_key, shuffle_key = jax.random.split(key)
    if holdout_key is None or shuffle_key is None:
        raise ValueError("pass key, or both holdout_key and shuffle_key")
    holdout, train = split_holdout(holdout_key, inputs.shape[0], holdout_fraction)
    x_train, y_train = jnp.asarray(inputs[train]), jnp.asarray(targets[train])
    x_hold, y_hold = jnp.asarray(inputs[holdout]), jnp.asarray(targets[holdout])

    optimiser = optax.adamw(learning_rate, weight_decay=weight_decay)
    opt_state = optimiser.init(eqx.filter(model, eqx.is_array))
    batch_size = min(batch_size, train.shape[0])
    steps_per_epoch = train.shape[0] // batch_size

    run_epoch = make_epoch(
        optimiser,
        lambda model, rows: loss_fn(model, x_train[rows], y_train[rows]),
        num_rows=x_train.shape[0],
        steps_per_epoch=steps_per_epoch,
        batch_size=batch_size,
        holdout_loss=lambda model: loss_fn(model, x_hold, y_hold),
    )

    best, best_loss, best_epoch = model, np.inf, 0
    history_train: list[float] = []
    history_hold: list[float] = []
    for epoch, epoch_key in enumerate(jax.random.split(shuffle_key, max_epochs)):
        model, opt_state, train_loss, hold_loss = run_epoch(model, opt_state, epoch_key)
        history_train.append(float(train_loss))
        history_hold.append(float(hold_loss))
        if history_hold[-1] < best_loss:
            best, best_loss, best_epoch = model, history_hold[-1], epoch
        elif epoch - best_epoch >= patience:
            break
    return best, FitHistory(history_train, history_hold, best_epoch)
