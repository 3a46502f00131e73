r"""Repeated random calibration/test splits, calibrated and evaluated as one vectorised computation.

Trial $t$ draws a uniformly random split of the ``n`` queries into ``n_cal`` calibration
and ``n - n_cal`` test queries from the key ``fold_in(key, t)``. A trial's result therefore
does not depend on how trials are grouped into chunks or devices, and an interrupted study
can resume at any trial. Per trial it calibrates $\hat\lambda$ on the calibration cover scores
and measures, on the test queries, the empirical risk
$\frac{1}{n_{test}}\#\{c_i > \hat\lambda\}$, the mean set size $|C_{\hat\lambda}(x) \cap M|$,
and the abstention and singleton rates.

How a chunk of trials is computed (XLA's sort and prefix sums are slow on CPU, so
neither runs per trial):

1. The split: sequential selection sampling (Knuth's Algorithm S) over the queries in
   their given order, one ``lax.scan`` step per query and one vector lane per trial.
   Its random numbers come from a keyed integer hash of the query index, seeded once per
   trial from the trial's key. Drawing ``n`` numbers per trial with ``jax.random``
   (threefry) would cost several times as much as the rest of the trial on CPU.
2. $\hat\lambda$ for count-based rules: the queries are sorted by cover score once per
   study. The $(k^*+1)$-th calibration query met in descending cover order has the cover
   score $\hat\lambda = c_{(n_{cal} - k^*)}$. Its position is found by counting the
   calibration queries per block of that order, then inside the one block that contains it.
3. The metrics: one masked pass over the scores that counts, per trial, the test queries
   above $\hat\lambda$, the models in each test set, and the empty and singleton sets.
   For count-based rules every score is replaced once per study by its rank among the
   sorted cover scores, so the pass compares small integers instead of floats.

The trial axis of a chunk is split over all devices that :func:`jax.devices` lists, with
:func:`jax.shard_map` over a one-axis :class:`jax.sharding.Mesh`. Trials never interact,
so every device computes its own trials without communication, and the results do not
depend on the number of devices.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, UInt32

from . import bounds
from .calibration import InfeasibleCalibrationWarning, warn_infeasible, wsr_lambda
from .scoring import NULL_INDEX, SCORE_UPPER_LIMIT, check_option

METRIC_NAMES = ("risk", "set_size", "abstention_rate", "singleton_rate", "lambda_hat")

# Queries per block when the calibration queries are counted in descending cover order.
_COUNT_BLOCK = 64
# Name of the mesh axis that the trials of a chunk are split over.
_TRIAL_AXIS = "trials"
# Queries per tile when the test metrics are counted.
_METRIC_TILE = 64


class TrialMetrics(NamedTuple):
    """Per-trial results, each of shape ``(T,)``."""

    risk: Array
    set_size: Array
    abstention_rate: Array
    singleton_rate: Array
    lambda_hat: Array


def trial_key(key: PRNGKeyArray, trial: int | Array) -> PRNGKeyArray:
    """Derive the PRNG key of trial ``trial`` as ``fold_in(key, trial)``, independent of chunking."""
    return jax.random.fold_in(key, trial)


def _mix32(x: UInt32[Array, "*shape"]) -> UInt32[Array, "*shape"]:
    """Mix the bits of 32-bit integers with a bijection of xor-shifts and odd multipliers.

    The constants are those of the ``lowbias32`` hash found by C. Wellons' hash-prospector
    search; each output bit depends on every input bit.
    """
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _high_product(
    a: UInt32[Array, "*shape"], b: UInt32[Array, "*shape"], b_bits: int
) -> UInt32[Array, "*shape"]:
    r"""Compute $\lfloor a b / 2^{32} \rfloor$ exactly for unsigned 32-bit $a$ and $b < 2^{b\_bits}$.

    JAX has no 64-bit integers unless ``jax_enable_x64`` is set, so the 64-bit product is
    assembled from 16-bit limbs, none of whose products overflows 32 bits. When
    $b < 2^{16}$, two limb products suffice:
    $\lfloor a b / 2^{32} \rfloor = \lfloor (a_{hi} b + \lfloor a_{lo} b / 2^{16} \rfloor) / 2^{16} \rfloor$.
    """
    mask16 = jnp.uint32(0xFFFF)
    a_low, a_high = a & mask16, a >> 16
    if b_bits <= 16:
        return (a_high * b + ((a_low * b) >> 16)) >> 16
    b_low, b_high = b & mask16, b >> 16
    low_low = a_low * b_low
    high_low = a_high * b_low
    low_high = a_low * b_high
    middle = (low_low >> 16) + (high_low & mask16) + (low_high & mask16)
    return a_high * b_high + (high_low >> 16) + (low_high >> 16) + (middle >> 16)


def _split_seeds(key: PRNGKeyArray) -> UInt32[Array, " 2"]:
    """Draw the 64 bits that seed one trial's split from the first key of ``split(key)``."""
    return jax.random.bits(jax.random.split(key)[0], (2,), jnp.uint32)


def _selection_sample(seeds: UInt32[Array, "2 T"], n: int, n_cal: int) -> Bool[Array, "n T"]:
    r"""Draw the calibration masks of ``T`` trials by sequential selection sampling, shape ``(n, T)``.

    Query $j = 0, \dots, n-1$ joins the calibration set with probability $s_j / r_j$, where
    $s_j$ calibration places are still open and $r_j = n - j$ queries remain: it joins when
    $\lfloor u_j r_j / 2^{32} \rfloor < s_j$ for the 32-bit value
    $u_j = h(h(j \oplus a) \oplus b)$, with $h$ the bijective mixing function
    :func:`_mix32` and $(a, b)$ the trial's seed. Exactly ``n_cal`` queries join, because
    a query joins for certain once $s_j = r_j$ and never once $s_j = 0$. With exact
    probabilities every subset of size ``n_cal`` would be equally likely (Knuth, TAOCP
    vol. 2, Algorithm 3.4.2 S). Here each probability is $\lceil s_j 2^{32} / r_j \rceil / 2^{32}$,
    within $2^{-32}$ of $s_j / r_j$, so the law of the subset lies within total variation
    $n \cdot 2^{-32}$ of the uniform law.

    The trial axis is last so that each scan step works on one contiguous vector of ``T`` lanes.
    """
    first_seed, second_seed = seeds[0], seeds[1]

    def step(open_places, index):
        bits = _mix32(_mix32(index ^ first_seed) ^ second_seed)
        joins = _high_product(bits, jnp.uint32(n) - index, n.bit_length()) < open_places
        return open_places - joins.astype(jnp.uint32), joins

    initial = jnp.full_like(first_seed, n_cal)
    _, masks = jax.lax.scan(step, initial, jnp.arange(n, dtype=jnp.uint32))
    return masks


def _check_split_sizes(n: int, n_cal: int) -> None:
    if n < 2 or n >= 2**31:
        raise ValueError(f"the number of queries n must lie in [2, 2**31 - 1]; got {n}")
    if not 1 <= n_cal < n:
        raise ValueError(f"n_cal must lie in [1, {n - 1}] for {n} queries; got {n_cal}")


@functools.partial(jax.jit, static_argnums=(1, 2))
def _one_calibration_mask(key: PRNGKeyArray, n: int, n_cal: int) -> Bool[Array, " n"]:
    return _selection_sample(_split_seeds(key)[:, None], n, n_cal)[:, 0]


def calibration_mask(key: PRNGKeyArray, n: int, n_cal: int) -> Bool[Array, " n"]:
    """Draw the boolean mask ``(n,)`` of a uniformly random calibration subset of exactly ``n_cal`` queries.

    This is the single definition of a trial's split: every per-trial metric, here or
    elsewhere, must derive the split from ``calibration_mask(trial_key(key, t), n, n_cal)``.
    The subset is drawn by sequential selection sampling (see :func:`_selection_sample`),
    seeded by 64 bits drawn from the first key of ``jax.random.split(key)``. For rule
    ``"wsr"``, the second key of that split orders the calibration queries.

    **Arguments:**

    - ``key``: the trial's PRNG key; ``n`` and ``n_cal`` are Python integers with
      ``1 <= n_cal < n``.

    **Returns:** a boolean array of shape ``(n,)`` with exactly ``n_cal`` ``True`` entries.
    """
    n, n_cal = int(n), int(n_cal)
    _check_split_sizes(n, n_cal)
    return _one_calibration_mask(key, n, n_cal)


def _calibration_position(
    masks: Bool[Array, "n T"], order: Array, block_of_query: Array, error_count: int
) -> Array:
    r"""Find the position, in descending cover order, of each trial's $(k^*+1)$-th calibration query.

    ``order`` lists the queries in descending cover order and ``block_of_query[j]`` is
    the block of :data:`_COUNT_BLOCK` places that query ``j`` falls in. The position is
    the number of places whose inclusive count of calibration queries is at most $k^*$.
    The blocks whose inclusive count is at most $k^*$ all precede the block that contains
    the position, and a second count inside that one block finds the place. The prefix
    sums run over block counts and over one block, never over all ``n`` places.
    """
    n, num_trials = masks.shape
    num_blocks = -(-n // _COUNT_BLOCK)
    # A block count is at most _COUNT_BLOCK = 64, so int8 holds it, and the narrow type
    # makes this segment sum several times faster than in int32 on CPU.
    counts = jax.ops.segment_sum(masks.astype(jnp.int8), block_of_query, num_segments=num_blocks)
    counts = counts.astype(jnp.int32)
    preceding = jnp.cumsum(counts, axis=0) <= error_count
    block_index = jnp.sum(preceding, axis=0, dtype=jnp.int32)
    before = jnp.sum(jnp.where(preceding, counts, 0), axis=0)

    places = block_index[None, :] * _COUNT_BLOCK + jnp.arange(_COUNT_BLOCK)[:, None]
    queries = order[jnp.minimum(places, n - 1)]
    block = masks[queries, jnp.arange(num_trials)[None, :]] & (places < n)
    inner_prefix = before[None, :] + jnp.cumsum(block, axis=0, dtype=jnp.int32)
    return block_index * _COUNT_BLOCK + jnp.sum(inner_prefix <= error_count, axis=0, dtype=jnp.int32)


class _QueryData(NamedTuple):
    """Per-query inputs of the metrics: model scores ``(n, K)``, cover, and the two smallest model scores.

    Either the values themselves or, for count-based rules, their ranks among the sorted
    cover scores (see :func:`_query_data`).
    """

    model_scores: Array
    cover: Array
    smallest: Array
    second_smallest: Array


def _query_data(scores: np.ndarray, cover: np.ndarray, sorted_cover: np.ndarray | None = None) -> _QueryData:
    r"""Prepare the per-query arrays of the metrics once per study, in NumPy.

    Given the cover scores sorted in descending order $v_0 \ge v_1 \ge \dots$, every value
    $s$ is replaced by its rank $G(s) = \#\{q : v_q \ge s\}$. Then $s \le v_p$ exactly when
    $p < G(s)$, so a threshold $\hat\lambda = v_p$ is compared as the integer $p$. The
    ranks fit int16 when $n < 2^{15}$, which doubles the lanes of each vector comparison.
    """
    model_scores = scores[:, :NULL_INDEX]
    ascending = np.sort(model_scores, axis=1)
    second = ascending[:, 1] if model_scores.shape[1] > 1 else np.full_like(cover, np.inf)
    values = _QueryData(model_scores, cover, ascending[:, 0], second)
    if sorted_cover is None:
        return values
    rank_dtype = np.int16 if cover.shape[0] < 2**15 else np.int32
    return _QueryData(
        *(np.searchsorted(-sorted_cover, -value, side="right").astype(rank_dtype) for value in values)
    )


def _test_counts(
    masks: Bool[Array, "n T"], data: _QueryData, threshold: Array, ranked: bool
) -> tuple[Array, Array, Array, Array]:
    r"""Count, per trial, over the test queries at the threshold $\lambda$.

    Returns the number of misrouted test queries ($c(x) > \lambda$), the number of models
    in their sets ($\sum_x |C_\lambda(x) \cap M|$), and the numbers of empty sets
    (smallest model score above $\lambda$) and of singletons (smallest at most
    $\lambda$, second smallest above). ``threshold`` ``(T,)`` is $\lambda$ itself, or,
    when ``ranked``, its position $p$ in descending cover order, with ``data`` holding ranks.

    The queries are visited in tiles of :data:`_METRIC_TILE` rows because XLA on CPU
    writes a full ``(n, T)`` intermediate for every reduction over all rows, which costs
    more than the comparisons themselves.
    """
    n, num_trials = masks.shape
    num_models = data.model_scores.shape[1]
    tile = min(_METRIC_TILE, n)
    num_tiles = -(-n // tile)
    if ranked:

        def within(values):
            return threshold[None, :] < values[:, None]

        # A tile's counts are at most tile * K; int16 partial sums keep the vectors narrow.
        partial_dtype = jnp.int16 if tile * num_models < 2**15 else jnp.int32
    else:

        def within(values):
            return values[:, None] <= threshold[None, :]

        partial_dtype = jnp.int32

    def add_tile(index, totals):
        # The last tile is shifted back to end at row n; rows that an earlier tile
        # already counted are excluded.
        start = jnp.minimum(index * tile, n - tile)
        rows = start + jnp.arange(tile)

        def take(values):
            return jax.lax.dynamic_slice_in_dim(values, start, tile)

        test = ~take(masks) & (rows >= index * tile)[:, None]
        model_scores = take(data.model_scores)
        sizes = sum(within(model_scores[:, model]).astype(partial_dtype) for model in range(num_models))
        smallest_within = within(take(data.smallest))
        tile_counts = (
            test & ~within(take(data.cover)),
            jnp.where(test, sizes, 0),
            test & ~smallest_within,
            test & smallest_within & ~within(take(data.second_smallest)),
        )
        return tuple(
            total + jnp.sum(count, axis=0, dtype=partial_dtype).astype(jnp.int32)
            for total, count in zip(totals, tile_counts)
        )

    zeros = jnp.zeros((num_trials,), jnp.int32)
    return jax.lax.fori_loop(0, num_tiles, add_tile, (zeros,) * 4)


def _wsr_thresholds(
    keys: PRNGKeyArray,
    masks: Bool[Array, "n T"],
    cover: Float[Array, " n"],
    n_cal: int,
    alpha: float,
    delta: float,
) -> Float[Array, " T"]:
    """Calibrate $\\hat\\lambda$ with the betting bound per trial, on randomly ordered calibration losses."""
    n = cover.shape[0]

    def one_trial(key, mask):
        # The betting bound needs the calibration losses in a random order: take them in
        # the order of an independent permutation of the calibration queries.
        order_key = jax.random.split(key)[1]
        calibration = jnp.argsort(jnp.where(mask, jax.random.uniform(order_key, (n,)), 2.0))[:n_cal]
        return wsr_lambda(cover[calibration], alpha, delta)[0]

    return jax.vmap(one_trial, in_axes=(0, 1))(keys, masks)


class _StudySetup(NamedTuple):
    """Static description of a study: everything a compiled chunk depends on besides the data."""

    n: int
    n_cal: int
    rule: str
    alpha: float
    delta: float
    error_count: int
    fixed_lambda: float | None
    key_impl: str
    trials_per_device: int
    mesh: Mesh


def _chunk_on_device(
    setup: _StudySetup, first, key_data, data: _QueryData, order, block_of_query, sorted_cover
):
    """Compute counts and thresholds for this device's trials of the chunk starting at trial ``first``."""
    device = jax.lax.axis_index(_TRIAL_AXIS)
    trials = first + device * setup.trials_per_device + jnp.arange(setup.trials_per_device)
    base_key = jax.random.wrap_key_data(key_data, impl=setup.key_impl)
    keys = jax.vmap(trial_key, in_axes=(None, 0))(base_key, trials)
    masks = _selection_sample(jax.vmap(_split_seeds)(keys).T, setup.n, setup.n_cal)

    if setup.rule == "wsr":
        lam = _wsr_thresholds(keys, masks, data.cover, setup.n_cal, setup.alpha, setup.delta)
    elif setup.fixed_lambda is not None:
        lam = jnp.full((setup.trials_per_device,), setup.fixed_lambda, sorted_cover.dtype)
    else:
        position = _calibration_position(masks, order, block_of_query, setup.error_count)
        counts = _test_counts(masks, data, position.astype(data.cover.dtype), ranked=True)
        return (*counts, sorted_cover[position])
    return (*_test_counts(masks, data, lam, ranked=False), lam)


@functools.lru_cache(maxsize=8)
def _compile_chunk(setup: _StudySetup):
    on_device = jax.shard_map(
        functools.partial(_chunk_on_device, setup),
        mesh=setup.mesh,
        in_specs=(PartitionSpec(),) * 6,
        out_specs=(PartitionSpec(_TRIAL_AXIS),) * 5,
        check_vma=False,
    )
    return jax.jit(on_device)


def _fixed_threshold(error_count: int, n_cal: int) -> float | None:
    """Return the $\\hat\\lambda$ shared by every trial, or ``None`` when it depends on the split.

    With $k^* < 0$ no threshold is certified and every set takes all models
    (:data:`SCORE_UPPER_LIMIT`); with $k^* \\ge n_{cal}$ every threshold is admissible
    and $\\hat\\lambda = -\\infty$, as in :func:`lambda_from_error_count`.
    """
    if error_count < 0:
        return SCORE_UPPER_LIMIT
    if error_count >= n_cal:
        return -math.inf
    return None


def _replicated(mesh: Mesh, value):
    """Place ``value`` as an array replicated on every device of ``mesh``, in every process.

    A single process passes NumPy arrays straight to the compiled chunk. With several
    processes, every process has the same host data and builds one global replicated array.
    """
    if jax.process_count() == 1:
        return value
    return jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec()), np.asarray(value))


def _gather_to_host(values) -> np.ndarray:
    """Copy a chunk output to a NumPy array. With several processes, every process receives all trials."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(values, tiled=True))
    return np.asarray(values)


def simulate_trials(
    scores: Float[ArrayLike, "n K+1"],
    cover: Float[ArrayLike, " n"],
    *,
    key: PRNGKeyArray,
    trials: int,
    n_cal: int,
    alpha: float = 0.1,
    delta: float = 0.1,
    rule: str = "hb",
    chunk_size: int = 256,
    start: int = 0,
    on_chunk: Callable[[int, TrialMetrics], None] | None = None,
) -> TrialMetrics:
    r"""Run trials ``start, ..., trials - 1`` in jit-compiled chunks, split over all devices.

    Trial $t$ splits the queries with ``calibration_mask(trial_key(key, t), n, n_cal)``,
    calibrates $\hat\lambda$ with ``rule`` on the calibration cover scores, and evaluates
    the test queries. For count-based rules $\hat\lambda$ is the $(k^*+1)$-th largest
    calibration cover score, with $k^*$ from :func:`bounds.admissible_error_count`.
    For ``"wsr"`` it comes from :func:`wsr_lambda` on the calibration cover scores in the
    order of a permutation drawn from the second key of ``jax.random.split(trial_key(key, t))``.
    Each chunk's trial axis is divided over ``jax.devices()``; a trial's results do not
    depend on ``chunk_size``, ``start`` or the number of devices. In a multi-process run
    (after ``jax.distributed.initialize()``) every process makes the same call and
    receives every trial's results.

    **Arguments:**

    - ``scores``: nonconformity scores $S(x, m)$ of every query, shape ``(n, K + 1)``,
      the null model last.
    - ``cover``: cover scores $c(x)$, shape ``(n,)``, finite.
    - ``key``: base PRNG key; trial ``t`` uses ``trial_key(key, t)``.
    - ``trials``: one past the last trial to run.
    - ``n_cal``: calibration queries per trial, ``1 <= n_cal < n``.
    - ``alpha``, ``delta``, ``rule``: as in :func:`calibrate`.
    - ``chunk_size``: trials per compiled call. Memory grows with it, not with ``trials``:
      on CPU with JAX 0.10, XLA's memory analysis reports about ``6 * n * chunk_size``
      bytes of temporary buffers for count-based rules and ``21 * n * chunk_size`` for ``"wsr"``.
    - ``start``: first trial to run, for resuming a study.
    - ``on_chunk``: called as ``on_chunk(first_trial, metrics)`` after each chunk, so a
      caller can save finished trials before the next chunk starts.

    **Returns:** :class:`TrialMetrics` for trials ``start`` to ``trials - 1``; the rates are
    float64 ratios of exact integer counts and ``lambda_hat`` has the dtype of ``cover``.
    """
    check_option("bound rule", rule, bounds.BOUND_RULES)
    alpha = bounds.check_level("alpha", alpha)
    delta = bounds.check_level("delta", delta)
    # The per-study preparation runs in NumPy: as eager JAX operations, each would be
    # compiled once for its shape, which costs more than the work itself.
    cover = np.asarray(cover)
    dtype = jax.dtypes.canonicalize_dtype(cover.dtype)
    cover = cover.astype(dtype)
    scores = np.asarray(scores)
    if cover.ndim != 1:
        raise ValueError(f"cover must have shape (n,); got shape {cover.shape}")
    n = cover.shape[0]
    if scores.ndim != 2 or scores.shape[0] != n or scores.shape[1] < 2:
        raise ValueError(
            f"scores must have shape ({n}, K + 1) with K >= 1 to match cover; got {scores.shape}"
        )
    _check_split_sizes(n, n_cal)
    if trials < 1 or not 0 <= start <= trials:
        raise ValueError(f"need trials >= 1 and 0 <= start <= trials; got trials={trials}, start={start}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")
    if not np.all(np.isfinite(cover)):
        raise ValueError("cover scores contain NaN or infinite values; check the router scores for NaN")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the router scores for NaN")
    scores = scores.astype(dtype)

    error_count = -1
    if rule != "wsr":
        error_count = bounds.admissible_error_count(rule, n_cal, alpha, delta)
        if error_count < 0:
            warn_infeasible(rule, n_cal, alpha, delta)
    elif bounds.minimum_calibration_size("wsr", alpha, delta) > n_cal:
        warn_infeasible(rule, n_cal, alpha, delta)

    # A study shorter than one chunk compiles a chunk of its own length, not a padded one.
    chunk_size = min(chunk_size, max(trials - start, 1))
    devices = jax.devices()
    setup = _StudySetup(
        n=n,
        n_cal=n_cal,
        rule=rule,
        alpha=alpha,
        delta=delta,
        error_count=error_count,
        fixed_lambda=None if rule == "wsr" else _fixed_threshold(error_count, n_cal),
        key_impl=str(jax.random.key_impl(key)),
        trials_per_device=-(-chunk_size // len(devices)),
        mesh=Mesh(np.asarray(devices), (_TRIAL_AXIS,)),
    )
    run_chunk = _compile_chunk(setup)
    order = np.argsort(-cover, kind="stable").astype(np.int32)
    block_of_query = np.empty(n, np.int32)
    block_of_query[order] = np.arange(n, dtype=np.int32) // _COUNT_BLOCK
    sorted_cover = cover[order]
    ranked = rule != "wsr" and setup.fixed_lambda is None
    query_data = _query_data(scores, cover, sorted_cover if ranked else None)
    data = (np.asarray(jax.random.key_data(key)), query_data, order, block_of_query, sorted_cover)
    # NOTE: the multi-process path (several processes after jax.distributed.initialize)
    # has not been run; only one process with one or several devices is tested.
    data = jax.tree.map(functools.partial(_replicated, setup.mesh), data)

    num_test = n - n_cal
    chunks = []
    for first in range(start, trials, chunk_size):
        count = min(chunk_size, trials - first)
        # Every chunk, the last one too, computes the same padded number of trials, so one
        # compiled program serves them all. Trials past the end are dropped.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InfeasibleCalibrationWarning)
            outputs = run_chunk(_replicated(setup.mesh, np.int32(first)), *data)
        misrouted, set_size, empty, singleton, lam = (_gather_to_host(value)[:count] for value in outputs)
        metrics = TrialMetrics(
            risk=misrouted / num_test,
            set_size=set_size / num_test,
            abstention_rate=empty / num_test,
            singleton_rate=singleton / num_test,
            lambda_hat=lam,
        )
        if on_chunk is not None:
            on_chunk(first, metrics)
        chunks.append(metrics)
    if not chunks:
        return TrialMetrics(*(np.zeros(0) for _ in METRIC_NAMES))
    return TrialMetrics(*(np.concatenate(parts) for parts in zip(*chunks)))
