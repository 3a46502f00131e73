r"""Calibration of the threshold $\hat\lambda$ from cover scores.

With cover scores $c_1, \dots, c_n$ of the calibration queries and
$k(\lambda) = \#\{i : c_i > \lambda\}$, a count-based rule admits $\lambda$ when
$k(\lambda) \le k^*$ (see :mod:`racer_jax._src.bounds`). Because $k$ is a
non-increasing right-continuous step function,

$$\hat\lambda = \inf\{\lambda : k(\lambda) \le k^*\} = c_{(n - k^*)},$$

the $(n - k^*)$-th smallest cover score. No grid is involved and the result is exact.
The betting (WSR) bound depends on the order of the losses, so it is evaluated at each
distinct cover score from the top down until the first threshold it cannot certify.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from . import bounds
from .scoring import SCORE_UPPER_LIMIT, check_option
from .validation import check_finite, check_floating


class InfeasibleCalibrationWarning(UserWarning):
    """The calibration set is too small for the requested ``alpha`` and ``delta``."""


class Calibration(NamedTuple):
    """A calibrated threshold and how it was obtained.

    - ``lambda_hat``: $\\hat\\lambda$; sets are $\\{m : S(x, m) \\le \\hat\\lambda\\}$.
    - ``error_count``: $k^*$ for count-based rules; for ``"wsr"``, the number of
      calibration losses at $\\hat\\lambda$. ``-1`` when calibration was infeasible.
    - ``feasible``: ``False`` when no threshold could be certified and the
      all-inclusive threshold :data:`SCORE_UPPER_LIMIT` was returned instead.
    """

    lambda_hat: Float[Array, ""]
    error_count: Int[Array, ""]
    feasible: bool
    n: int
    alpha: float
    delta: float
    rule: str


def lambda_from_error_count(
    cover: Float[ArrayLike, " n"], error_count: Int[ArrayLike, ""]
) -> Float[Array, ""]:
    r"""$\hat\lambda = c_{(n - k^*)}$, the smallest value with at most $k^*$ cover scores above it.

    Returns :data:`SCORE_UPPER_LIMIT` when $k^* < 0$ (infeasible) and $-\infty$ when
    $k^* \ge n$. ``error_count`` may be traced, so this is safe under ``jit`` and ``vmap``.
    """
    cover = jnp.asarray(cover)
    if cover.ndim != 1 or cover.shape[0] < 1:
        raise ValueError(f"cover must have shape (n,) with n >= 1; got shape {cover.shape}")
    check_floating("cover", cover)
    n = cover.shape[0]
    error_count = jnp.asarray(error_count)
    ascending = jnp.sort(cover)
    index = jnp.clip(n - 1 - error_count, 0, n - 1)
    value = ascending[index]
    value = jnp.where(error_count < 0, jnp.asarray(SCORE_UPPER_LIMIT, cover.dtype), value)
    return jnp.where(error_count >= n, jnp.asarray(-jnp.inf, cover.dtype), value)


def _wsr_max_log_capital(losses: Array, alpha: float, delta: float) -> Array:
    """JAX twin of :func:`bounds.wsr_max_log_capital`, in the dtype of ``losses``."""
    n = losses.shape[0]
    dtype = losses.dtype
    steps = jnp.arange(1, n + 1, dtype=dtype)
    mean = (0.5 + jnp.cumsum(losses)) / (steps + 1.0)
    var = (0.25 + jnp.cumsum((losses - mean) ** 2)) / (steps + 1.0)
    previous_var = jnp.concatenate([jnp.full((1,), 0.25, dtype), var[:-1]])
    bet = jnp.minimum(1.0, jnp.sqrt(2.0 * math.log(1.0 / delta) / (n * previous_var)))
    return jnp.max(jnp.cumsum(jnp.log1p(-bet * (losses - alpha))))


def wsr_log_capital_margin(n: int, dtype) -> float:
    """Slack added to $\\log(1/\\delta)$ so rounding can only make WSR more conservative.

    The running log-capital sums ``n`` terms of magnitude at most $\\log 2$; each sum step
    and each term carries a relative rounding error of at most the dtype's epsilon.
    """
    return 4.0 * n * float(jnp.finfo(dtype).eps)


def _check_inputs(alpha: float, delta: float, cover: ArrayLike) -> tuple[float, float, Array]:
    """Validate the levels and a 1-D floating ``cover`` array with at least one entry."""
    alpha = bounds.check_level("alpha", alpha)
    delta = bounds.check_level("delta", delta)
    cover = jnp.asarray(cover)
    if cover.ndim != 1 or cover.shape[0] < 1:
        raise ValueError(f"cover must have shape (n,) with n >= 1; got shape {cover.shape}")
    check_floating("cover", cover)
    return alpha, delta, cover


@functools.partial(jax.jit, static_argnames=("alpha", "delta"))
def wsr_lambda(
    cover: Float[ArrayLike, " n"], alpha: float, delta: float
) -> tuple[Float[Array, ""], Int[Array, ""]]:
    r"""$\hat\lambda$ for the Waudby-Smith–Ramdas betting bound, exact at each cover score.

    Scans the sorted cover scores $v_1 \ge v_2 \ge \dots$ from the top. At $\lambda = v_j$
    the losses are $L_i = 1\{c_i > v_j\}$ in the given (calibration) order; the scan stops
    at the first $v_j$ whose capital stays below $1/\delta$, and $\hat\lambda = v_{j-1}$.
    Ties share their losses, so the scan never stops inside a run of equal values. When
    even $v_1$ (no losses) is not certified, returns :data:`SCORE_UPPER_LIMIT` and an
    error count of ``-1``. Safe under ``jit`` and ``vmap``; ``alpha`` and ``delta`` are static.

    The comparisons $c_i > v_j$ run in the dtype of ``cover``, so the losses are exact.
    The capital is accumulated in that dtype promoted to at least float32, because a
    sum of ``n`` terms in float16 or bfloat16 loses too much to certify anything.
    """
    alpha, delta, cover = _check_inputs(alpha, delta, cover)
    n = cover.shape[0]
    descending = -jnp.sort(-cover)
    capital_dtype = jnp.promote_types(cover.dtype, jnp.float32)
    log_threshold = math.log(1.0 / delta) + wsr_log_capital_margin(n, capital_dtype)

    def certified(j):
        losses = (cover > descending[j]).astype(capital_dtype)
        return _wsr_max_log_capital(losses, alpha, delta) >= log_threshold

    def keep_going(j):
        return (j < n) & certified(jnp.minimum(j, n - 1))

    stop = jax.lax.while_loop(keep_going, lambda j: j + 1, jnp.asarray(0))
    feasible = stop > 0
    lam = jnp.where(
        feasible, descending[jnp.maximum(stop - 1, 0)], jnp.asarray(SCORE_UPPER_LIMIT, cover.dtype)
    )
    errors = jnp.where(feasible, jnp.sum(cover > lam), -1)
    return lam, errors


def calibrate(
    cover: Float[ArrayLike, " n"],
    alpha: float = 0.1,
    delta: float = 0.1,
    rule: str = "hb",
    key: PRNGKeyArray | None = None,
) -> Calibration:
    r"""Calibrate $\hat\lambda$ on the cover scores of ``n`` exchangeable calibration queries.

    For the confidence-bound rules (``"hoeffding"``, ``"bentkus"``, ``"hb"``,
    ``"binomial"``, ``"wsr"``), $P(R(\hat\lambda) \le \alpha) \ge 1 - \delta$ over the
    calibration draw (Theorem 4.3). For ``"crc"`` (conformal risk control),
    $E[R(\hat\lambda)] \le \alpha$ and ``delta`` is not used.

    **Arguments:**

    - ``cover``: cover scores $c_i$, shape ``(n,)``; see :func:`cover_scores`.
    - ``alpha``: target risk in (0, 1).
    - ``delta``: allowed probability of exceeding ``alpha``, in (0, 1).
    - ``rule``: one of ``"hoeffding"``, ``"bentkus"``, ``"hb"``, ``"binomial"``, ``"wsr"``, ``"crc"``.
    - ``key``: PRNG key of the permutation that fixes the calibration order; used only
      by ``"wsr"``, whose bound depends on that order. Required for ``"wsr"``.

    **Returns:** a :class:`Calibration`. When the calibration set is too small, emits an
    :class:`InfeasibleCalibrationWarning` naming the smallest feasible ``n`` and returns
    the all-inclusive threshold, whose risk is exactly 0.

    **Example:**

    >>> import jax.numpy as jnp
    >>> cal = calibrate(jnp.linspace(0.0, 1.0, 1000), alpha=0.1, delta=0.1, rule="hb")
    >>> bool(cal.feasible), cal.error_count
    (True, 82)
    """
    check_option("bound rule", rule, bounds.BOUND_RULES)
    alpha, delta, cover = _check_inputs(alpha, delta, cover)
    check_finite("cover", cover, "check the router scores for NaN; cover_scores of valid scores is finite")
    n = int(cover.shape[0])

    if rule == "wsr":
        if key is None:
            raise ValueError(
                "rule 'wsr' depends on the order of the calibration losses: pass key, "
                "a PRNG key that fixes that order (e.g. jax.random.key(0))"
            )
        ordered = cover[jax.random.permutation(key, n)]
        lam, errors = wsr_lambda(ordered, alpha, delta)
        feasible = int(errors) >= 0
    else:
        k_star = bounds.admissible_error_count(rule, n, alpha, delta)
        lam = lambda_from_error_count(cover, k_star)
        errors = jnp.asarray(k_star)
        feasible = k_star >= 0

    if not feasible:
        warn_infeasible(rule, n, alpha, delta)
    return Calibration(lam, errors, feasible, n, alpha, delta, rule)


def warn_infeasible(rule: str, n: int, alpha: float, delta: float) -> None:
    """Warn that ``n`` calibration queries cannot certify ``alpha`` and give the minimum ``n``."""
    needed = bounds.minimum_calibration_size(rule, alpha, delta)
    warnings.warn(
        f"calibration is infeasible: rule {rule!r} cannot certify risk alpha={alpha} at "
        f"delta={delta} with n={n} calibration queries (at least n={needed} are needed); "
        f"returning the threshold {SCORE_UPPER_LIMIT} that puts every model and the null "
        "model in every set, whose risk is 0",
        InfeasibleCalibrationWarning,
        stacklevel=3,
    )
