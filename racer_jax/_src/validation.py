"""Value checks shared by the array functions: eager on concrete arrays, ``equinox.error_if`` under tracing.

A check on a concrete array (NumPy, or a JAX array outside ``jit``) runs at once on the
host and raises :class:`ValueError` naming the argument, how many entries are bad, the
first bad index and value, and the fix. Inside ``jax.jit``, ``jax.vmap`` or ``jax.grad``
the values are unknown until the program runs, so the same condition is attached to
the traced array with :func:`equinox.error_if`. That check fires when the compiled
program runs, and the error surfaces as an ``EquinoxRuntimeError`` (or, under plain
``jax.jit``, a ``jax.errors.JaxRuntimeError``) whose text contains the same message
without the index. The traced check costs one reduction over the array and a branch.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def is_traced(x: ArrayLike) -> bool:
    """Return whether ``x`` is an abstract value inside ``jit``, ``vmap`` or ``grad``."""
    return isinstance(x, jax.core.Tracer)


def _first_bad(name: str, host: np.ndarray, bad: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    shown = ", ".join(map(str, index))
    return f"{int(bad.sum())} of {bad.size} entries (first: {name}[{shown}] = {float(host[index])!r})"


def check_unit_interval(name: str, x: Array, fix: str) -> Array:
    """Return ``x`` unchanged, or fail unless every entry lies in [0, 1] (NaN fails).

    ``fix`` ends the message with what the caller should pass instead.
    """
    if is_traced(x):
        bad = ~((x >= 0) & (x <= 1))
        return eqx.error_if(x, bad, f"{name} must lie in [0, 1] with no NaN; {fix}")
    host = np.asarray(x)
    bad = ~((host >= 0) & (host <= 1))
    if bad.any():
        raise ValueError(
            f"{name} must lie in [0, 1] with no NaN, but {_first_bad(name, host, bad)} do not; {fix}"
        )
    return x


def check_finite(name: str, x: Array, fix: str) -> Array:
    """Return ``x`` unchanged, or fail if any entry is NaN or infinite."""
    if is_traced(x):
        return eqx.error_if(x, ~jnp.isfinite(x), f"{name} must be finite (no NaN or inf); {fix}")
    host = np.asarray(x)
    bad = ~np.isfinite(host)
    if bad.any():
        raise ValueError(
            f"{name} must be finite, but {_first_bad(name, host, bad)} are NaN or infinite; {fix}"
        )
    return x


def check_floating(name: str, x: Array) -> Array:
    """Raise unless ``x`` has a floating-point dtype (float16, bfloat16, float32 or float64)."""
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(
            f"{name} must be a floating-point array; got dtype {x.dtype}. Convert it first, "
            f"e.g. {name}.astype(jnp.float32)"
        )
    return x
