"""Run vmapped Monte Carlo trials across every available JAX device.

Trials are identified by an integer index. Trial ``t`` derives all its randomness from
``jax.random.fold_in(key, t)``, so its result does not depend on the batch size or on the
number of devices. A batch of indices is sharded along one mesh axis over
``jax.devices()``; the operands (population arrays) are replicated.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import scipy
from jax.sharding import Mesh, NamedSharding, PartitionSpec

TRIAL_AXIS = "trials"


def environment() -> dict[str, Any]:
    """Device kind and count, platform and library versions, for the report."""
    devices = jax.devices()
    return {
        "device_kind": devices[0].device_kind,
        "platform": devices[0].platform,
        "device_count": len(devices),
        "jax_version": jax.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
    }


def map_trials(
    trial: Callable[..., Any],
    num_trials: int,
    operands: tuple = (),
    batch_size: int = 256,
) -> Any:
    """Evaluate ``trial(index, *operands)`` for ``index = 0 .. num_trials - 1``.

    **Arguments:**

    - ``trial``: a jit-compatible function of an int32 scalar index and the operands,
      returning a pytree of arrays.
    - ``num_trials``: how many trials.
    - ``operands``: arrays shared by every trial, replicated on every device.
    - ``batch_size``: trials per compiled call, rounded up to a multiple of the device
      count; memory grows with it. The last batch is padded and the padding dropped.

    **Returns:** the pytree of NumPy arrays with a leading axis of length ``num_trials``.
    """
    if num_trials < 1:
        raise ValueError(f"num_trials must be at least 1; got {num_trials}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    devices = jax.devices()
    mesh = Mesh(np.asarray(devices), (TRIAL_AXIS,))
    split = NamedSharding(mesh, PartitionSpec(TRIAL_AXIS))
    replicated = NamedSharding(mesh, PartitionSpec())
    per_call = -(-min(batch_size, num_trials) // len(devices)) * len(devices)

    batched = jax.jit(
        jax.vmap(trial, in_axes=(0,) + (None,) * len(operands)),
        in_shardings=(split,) + (replicated,) * len(operands),
        out_shardings=split,
    )
    operands = tuple(jax.device_put(x, replicated) for x in operands)
    outputs = []
    for first in range(0, num_trials, per_call):
        indices = jax.device_put(np.arange(first, first + per_call, dtype=np.int32), split)
        outputs.append(jax.tree.map(np.asarray, batched(indices, *operands)))
    joined = jax.tree.map(lambda *parts: np.concatenate(parts)[:num_trials], *outputs)
    return joined
