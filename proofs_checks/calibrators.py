r"""The calibrator under test: the library's code path, and deliberately broken variants.

A :class:`Calibrator` is the part of calibration the suite can swap out:

- ``error_count(rule, n, alpha, delta)``: the admissible error count $k^*$ of a
  count-based rule, on the host;
- ``threshold(cover, error_count)``: $\hat\lambda$ from calibration cover scores ``(n,)``
  and a traced count, under ``jit`` and ``vmap``;
- ``wsr_threshold(cover, alpha, delta)``: $\hat\lambda$ of the betting rule from cover
  scores already in calibration order.

:data:`LIBRARY` calls exactly what :func:`racer_jax.calibrate` calls. The mutants exist so
the test suite can show that every check can fail: a suite run with a mutant must report
failures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array

from racer_jax import admissible_error_count, lambda_from_error_count, wsr_lambda


class Calibrator(NamedTuple):
    """The three swappable steps of calibration; see the module docstring."""

    name: str
    error_count: Callable[[str, int, float, float], int]
    threshold: Callable[[Array, Array], Array]
    wsr_threshold: Callable[[Array, float, float], Array]


def _library_wsr(cover: Array, alpha: float, delta: float) -> Array:
    return wsr_lambda(cover, alpha, delta)[0]


LIBRARY = Calibrator("library", admissible_error_count, lambda_from_error_count, _library_wsr)


def _double_alpha_count(rule: str, n: int, alpha: float, delta: float) -> int:
    return admissible_error_count(rule, n, min(2.0 * alpha, 0.999), delta)


def _double_alpha_wsr(cover: Array, alpha: float, delta: float) -> Array:
    return wsr_lambda(cover, min(2.0 * alpha, 0.999), delta)[0]


def _empirical_count(rule: str, n: int, alpha: float, delta: float) -> int:
    # Admit k whenever the empirical risk k/n is below alpha; the conformal rule has no
    # delta correction to drop and keeps its own count.
    if rule == "crc":
        return admissible_error_count(rule, n, alpha, delta)
    return min(n, math.ceil(alpha * n) - 1)


def _empirical_wsr(cover: Array, alpha: float, delta: float) -> Array:
    n = cover.shape[0]
    return lambda_from_error_count(cover, min(n, math.ceil(alpha * n) - 1))


def _one_rank_lower(cover: Array, error_count: Array) -> Array:
    return lambda_from_error_count(cover, jnp.asarray(error_count) + 1)


def _one_rank_lower_wsr(cover: Array, alpha: float, delta: float) -> Array:
    _, errors = wsr_lambda(cover, alpha, delta)
    return lambda_from_error_count(cover, errors + 1)


MUTANTS: dict[str, Calibrator] = {
    "double-alpha": Calibrator("double-alpha", _double_alpha_count, lambda_from_error_count, _double_alpha_wsr),
    "no-delta-correction": Calibrator(
        "no-delta-correction", _empirical_count, lambda_from_error_count, _empirical_wsr
    ),
    "one-rank-lower": Calibrator("one-rank-lower", admissible_error_count, _one_rank_lower, _one_rank_lower_wsr),
}

CALIBRATORS: dict[str, Calibrator] = {"library": LIBRARY, **MUTANTS}
