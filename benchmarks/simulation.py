"""Time the random-split study in racer-jax, in a NumPy per-trial loop, and in MAPIE.

Each trial splits n queries at random into calibration and test halves, calibrates the
threshold with the Hoeffding-Bentkus (``hb``) bound at alpha = delta = 0.1, and measures
the test risk, set size, abstention and singleton rates. All three implementations
run the same study on the same synthetic scores (K = 7 models plus the null model):

- racer-jax: ``simulate_trials``, one compiled program per chunk of trials.
- NumPy: a plain Python loop over trials. Each trial draws a permutation and takes
  the threshold as an order statistic with ``np.partition``, the method racer-jax uses.
- MAPIE (when installed): ``MultiLabelClassificationController`` with the RCPS method
  and Hoeffding bound on a 100-point threshold grid, on a few trials only. MAPIE
  controls one minus recall, which equals the misrouting loss only when a single
  model is correct, so its metrics are shown but not expected to match.

racer-jax and NumPy each run ``--repeats`` timed studies and report the fastest, as
``timeit`` does, so that a burst of load from other processes does not decide the figure.
The script prints a table and writes the figures as JSON. ``--large`` instead runs
10^6 trials in one ``simulate_trials`` call and reports time and peak memory.

    python benchmarks/simulation.py --output benchmarks/results/simulation.json
    python benchmarks/simulation.py --large --output benchmarks/results/simulation-large.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

import racer_jax as rj
from racer_jax._src.study import _selection_sample, _split_seeds, trial_key

ALPHA = 0.1
DELTA = 0.1
RULE = "hb"


def study_data(num_queries: int, num_models: int, seed: int) -> dict[str, np.ndarray]:
    """Gap scores, cover scores and the augmented truth of a synthetic population.

    The router scores are the population's true correctness probabilities and the null
    score is their product rule, so no router has to be trained for the benchmark.
    """
    synthetic = rj.make_synthetic(seed=seed, num_queries=num_queries, num_models=num_models)
    augmented = rj.augment_scores(synthetic.probabilities.astype(np.float32), "product")
    scores = rj.nonconformity_scores(augmented, "gap")
    correct = synthetic.dataset.correct
    return {
        "scores": np.asarray(scores),
        "cover": np.asarray(rj.cover_scores(scores, correct)),
        "truth": np.asarray(rj.augmented_truth(correct)),
    }


def measure_bandwidth(megabytes: int = 256, repeats: int = 5) -> float:
    """Copy bandwidth in GB/s, counting each copied byte twice (read and write), best of ``repeats``."""
    source = np.ones(megabytes * 2**20 // 8)
    target = np.empty_like(source)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - started)
    return 2 * source.nbytes / best / 1e9


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports ``ru_maxrss`` in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def metric_means(risk, set_size, abstention, singleton) -> dict[str, float]:
    """Means over trials, and the standard error of the mean risk."""
    return {
        "risk": float(np.mean(risk)),
        "risk_standard_error": float(np.std(risk, ddof=1) / np.sqrt(len(risk)))
        if len(risk) > 1
        else math.nan,
        "set_size": float(np.mean(set_size)),
        "abstention_rate": float(np.mean(abstention)),
        "singleton_rate": float(np.mean(singleton)),
    }


def time_racer(data, trials: int, n_cal: int, chunk_size: int, seed: int, repeats: int) -> dict:
    """Time ``simulate_trials``: one chunk with compilation, then ``repeats`` studies of ``trials``."""
    # simulate_trials shrinks the chunk to the study's length; the warm-up calls must
    # compile the same chunk as the timed call.
    chunk_size = min(chunk_size, trials)
    key = jax.random.key(seed)
    arguments = {
        "key": key,
        "n_cal": n_cal,
        "alpha": ALPHA,
        "delta": DELTA,
        "rule": RULE,
        "chunk_size": chunk_size,
    }

    started = time.perf_counter()
    rj.simulate_trials(data["scores"], data["cover"], trials=chunk_size, **arguments)
    first_call = time.perf_counter() - started
    started = time.perf_counter()
    rj.simulate_trials(data["scores"], data["cover"], trials=chunk_size, **arguments)
    warm_chunk = time.perf_counter() - started

    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        metrics = rj.simulate_trials(data["scores"], data["cover"], trials=trials, **arguments)
        runs.append((time.perf_counter() - started) / trials * 1e6)
    return {
        "trials": trials,
        "chunk_size": chunk_size,
        "devices": [str(device) for device in jax.devices()],
        "first_call_s": first_call,
        "compile_s": first_call - warm_chunk,
        "us_per_trial": min(runs),
        "us_per_trial_runs": runs,
        "means": metric_means(
            metrics.risk, metrics.set_size, metrics.abstention_rate, metrics.singleton_rate
        ),
        "mean_lambda_hat": float(np.mean(metrics.lambda_hat)),
    }


def best_time_per_trial(function, argument, trials: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timed calls of a compiled ``function(argument)``, in microseconds per trial."""
    jax.block_until_ready(function(argument))
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(function(argument))
        best = min(best, time.perf_counter() - started)
    return best / trials * 1e6


def time_alternatives(data, trials: int, n_cal: int, seed: int) -> dict:
    """Time the parts that shaped the design, each vmapped over ``trials`` trials and jit-compiled.

    - ``split_only``: the calibration masks alone, drawn as the study draws them (the
      same masks as ``calibration_mask``, batched over the trial axis).
    - ``threefry_numbers``, ``rbg_numbers``, ``unsafe_rbg_numbers``: ``n`` 32-bit numbers per
      trial from ``jax.random.bits`` with keys of that implementation, what drawing the
      split's random numbers with JAX's generators would cost.
    - ``per_trial_sort``: a permutation and a sort of the calibration cover scores per
      trial, then the same metrics; the straightforward vectorised study.
    """
    scores, cover = jnp.asarray(data["scores"]), jnp.asarray(data["cover"])
    n = cover.shape[0]
    error_count = rj.admissible_error_count(RULE, n_cal, ALPHA, DELTA)
    keys = jax.vmap(trial_key, in_axes=(None, 0))(jax.random.key(seed), jnp.arange(trials))
    generator_keys = {
        implementation: jax.random.split(jax.random.key(seed, impl=implementation), trials)
        for implementation in ("rbg", "unsafe_rbg")
    }

    def sorted_trial(key):
        mask = jnp.zeros(n, bool).at[jax.random.permutation(key, n)[:n_cal]].set(True)
        lam = -jnp.sort(-jnp.where(mask, cover, -jnp.inf))[error_count]
        sizes = jnp.sum(scores[:, :-1] <= lam, axis=1)
        test = ~mask
        return (
            jnp.sum(test & (cover > lam)),
            jnp.sum(jnp.where(test, sizes, 0)),
            jnp.sum(test & (sizes == 0)),
            jnp.sum(test & (sizes == 1)),
            lam,
        )

    draw_numbers = jax.jit(jax.vmap(lambda key: jax.random.bits(key, (n,), jnp.uint32)))
    candidates = {
        "split_only": (
            jax.jit(lambda keys_: _selection_sample(jax.vmap(_split_seeds)(keys_).T, n, n_cal)),
            keys,
        ),
        "threefry_numbers": (draw_numbers, keys),
        "rbg_numbers": (draw_numbers, generator_keys["rbg"]),
        "unsafe_rbg_numbers": (draw_numbers, generator_keys["unsafe_rbg"]),
        "per_trial_sort": (jax.jit(jax.vmap(sorted_trial)), keys),
    }
    timings = {
        name: best_time_per_trial(function, argument, trials)
        for name, (function, argument) in candidates.items()
    }
    return {"trials": trials, **timings}


def numpy_trial(scores, cover, n_cal, error_count, rng) -> tuple[float, float, float, float]:
    """Run one trial in NumPy: a permutation, then the $(k^*+1)$-th largest calibration cover."""
    n = cover.shape[0]
    permutation = rng.permutation(n)
    calibration, test = permutation[:n_cal], permutation[n_cal:]
    rank = n_cal - 1 - error_count
    lam = np.partition(cover[calibration], rank)[rank]
    sizes = np.count_nonzero(scores[test, :-1] <= lam, axis=1)
    num_test = test.shape[0]
    return (
        np.count_nonzero(cover[test] > lam) / num_test,
        sizes.sum() / num_test,
        np.count_nonzero(sizes == 0) / num_test,
        np.count_nonzero(sizes == 1) / num_test,
    )


def time_numpy(data, trials: int, n_cal: int, seed: int, repeats: int) -> dict:
    """Time ``repeats`` NumPy studies of ``trials`` trials each; the means pool every trial."""
    error_count = rj.admissible_error_count(RULE, n_cal, ALPHA, DELTA)
    rng = np.random.default_rng(seed)
    rows, runs = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        rows += [numpy_trial(data["scores"], data["cover"], n_cal, error_count, rng) for _ in range(trials)]
        runs.append((time.perf_counter() - started) / trials * 1e6)
    return {
        "trials": trials,
        "us_per_trial": min(runs),
        "us_per_trial_runs": runs,
        "means": metric_means(*zip(*rows)),
    }


def time_mapie(data, trials: int, n_cal: int, seed: int) -> dict | None:
    """MAPIE's multilabel risk controller per trial, or ``None`` when MAPIE is not installed."""
    try:
        import mapie
        from mapie.risk_control import MultiLabelClassificationController
    except ImportError:
        return None
    scores, truth = data["scores"], data["truth"].astype(int)
    # MAPIE puts label m in the set when its probability exceeds the threshold; with
    # probability 1 - S(x, m) that is the set {m : S(x, m) < 1 - threshold}.
    probabilities = 1.0 - scores
    rng = np.random.default_rng(seed)
    rows = []

    started = time.perf_counter()
    for _ in range(trials):
        permutation = rng.permutation(scores.shape[0])
        calibration, test = permutation[:n_cal], permutation[n_cal:]

        controller = MultiLabelClassificationController(
            predict_function=lambda rows_: probabilities[rows_[:, 0]],
            risk="recall",
            method="rcps",
            rcps_bound="hoeffding",
            target_level=1 - ALPHA,
            confidence_level=1 - DELTA,
        )
        controller.calibrate(calibration[:, None], truth[calibration])

        sets = controller.predict(test[:, None])[:, :, 0]
        sizes = sets[:, :-1].sum(axis=1)
        rows.append(
            (
                float(np.mean(~np.any(sets & truth[test].astype(bool), axis=1))),
                float(np.mean(sizes)),
                float(np.mean(sizes == 0)),
                float(np.mean(sizes == 1)),
            )
        )
    elapsed = time.perf_counter() - started

    return {
        "version": mapie.__version__,
        "trials": trials,
        "threshold_grid": 100,
        "us_per_trial": elapsed / trials * 1e6,
        "means": metric_means(*zip(*rows)),
    }


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
    }


def run_comparison(arguments) -> dict:
    data = study_data(arguments.queries, arguments.models, arguments.seed)
    n = data["cover"].shape[0]
    n_cal = n // 2
    bytes_per_trial = data["scores"].nbytes + data["cover"].nbytes

    racer = time_racer(data, arguments.trials, n_cal, arguments.chunk_size, arguments.seed, arguments.repeats)
    numpy_loop = time_numpy(data, arguments.trials, n_cal, arguments.seed, arguments.repeats)
    mapie = (
        time_mapie(data, arguments.mapie_trials, n_cal, arguments.seed) if arguments.mapie_trials else None
    )
    alternatives = time_alternatives(data, 256, n_cal, arguments.seed)
    # Read before the bandwidth test, whose two 256 MB buffers would dominate the peak.
    peak_memory = peak_memory_mb()
    bandwidth = measure_bandwidth()

    floor_us = bytes_per_trial / (bandwidth * 1e9) * 1e6
    result = {
        "machine": machine(),
        "study": {
            "queries": n,
            "calibration": n_cal,
            "models": arguments.models,
            "rule": RULE,
            "alpha": ALPHA,
            "delta": DELTA,
        },
        "bandwidth_gb_per_s": bandwidth,
        "bytes_per_trial": bytes_per_trial,
        "bandwidth_floor_us_per_trial": floor_us,
        "racer_jax": racer,
        "numpy_loop": numpy_loop,
        "mapie": mapie,
        "alternatives_us_per_trial": alternatives,
        "speedup_over_numpy": numpy_loop["us_per_trial"] / racer["us_per_trial"],
        "racer_over_bandwidth_floor": racer["us_per_trial"] / floor_us,
        "peak_memory_mb": peak_memory,
    }
    # The two studies draw independent splits, so their mean risks differ by chance alone.
    difference = racer["means"]["risk"] - numpy_loop["means"]["risk"]
    result["risk_difference_in_standard_errors"] = difference / math.hypot(
        racer["means"]["risk_standard_error"], numpy_loop["means"]["risk_standard_error"]
    )
    if mapie is not None:
        result["speedup_over_mapie"] = mapie["us_per_trial"] / racer["us_per_trial"]
    return result


def run_large(arguments) -> dict:
    data = study_data(arguments.queries, arguments.models, arguments.seed)
    n = data["cover"].shape[0]
    memory_before = peak_memory_mb()
    racer = time_racer(data, arguments.large_trials, n // 2, arguments.chunk_size, arguments.seed, repeats=1)
    return {
        "machine": machine(),
        "study": {"queries": n, "calibration": n // 2, "models": arguments.models, "rule": RULE},
        "racer_jax": racer,
        "peak_memory_mb_before": memory_before,
        "peak_memory_mb": peak_memory_mb(),
    }


def print_comparison(result: dict) -> None:
    racer, numpy_loop, mapie = result["racer_jax"], result["numpy_loop"], result["mapie"]
    print(f"study: {result['study']}")
    print(f"{'implementation':<16}{'trials':>8}{'us/trial':>14}{'mean risk':>11}{'mean size':>11}")
    for name, entry in (("racer-jax", racer), ("numpy loop", numpy_loop), ("mapie", mapie)):
        if entry is None:
            print(f"{name:<16}{'skipped or not installed':>33}")
            continue
        print(
            f"{name:<16}{entry['trials']:>8}{entry['us_per_trial']:>14.1f}"
            f"{entry['means']['risk']:>11.4f}{entry['means']['set_size']:>11.3f}"
        )
    print(
        "mean risks of racer-jax and NumPy differ by "
        f"{result['risk_difference_in_standard_errors']:+.2f} standard errors"
    )
    print(f"racer-jax is {result['speedup_over_numpy']:.1f}x faster than the NumPy loop", end="")
    if mapie is not None:
        print(f" and {result['speedup_over_mapie']:,.0f}x faster than MAPIE", end="")
    print()
    print(f"compile {racer['compile_s']:.2f} s; peak memory {result['peak_memory_mb']:.0f} MB")
    alternatives = result["alternatives_us_per_trial"]
    print(
        "parts and alternatives, us/trial: "
        + ", ".join(f"{name} {value:.1f}" for name, value in alternatives.items() if name != "trials")
    )
    print(
        f"bandwidth {result['bandwidth_gb_per_s']:.1f} GB/s: reading one trial's "
        f"{result['bytes_per_trial'] / 1e3:.0f} KB takes {result['bandwidth_floor_us_per_trial']:.1f} us; "
        f"racer-jax takes {result['racer_over_bandwidth_floor']:.2f}x that"
    )


def print_large(result: dict) -> None:
    racer = result["racer_jax"]
    print(
        f"{racer['trials']:,} trials in chunks of {racer['chunk_size']}: "
        f"{racer['us_per_trial'] * racer['trials'] / 1e6:.1f} s, {racer['us_per_trial']:.1f} us/trial, "
        f"compile {racer['compile_s']:.2f} s, peak memory {result['peak_memory_mb']:.0f} MB "
        f"(before the study: {result['peak_memory_mb_before']:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=4213, help="queries per study (default 4213)")
    parser.add_argument("--models", type=int, default=7, help="models besides the null model (default 7)")
    parser.add_argument(
        "--trials", type=int, default=1000, help="trials for racer-jax and NumPy (default 1000)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed studies per implementation; the fastest counts (default 3)",
    )
    parser.add_argument("--mapie-trials", type=int, default=3, help="trials for MAPIE, 0 to skip (default 3)")
    parser.add_argument(
        "--chunk-size", type=int, default=1024, help="trials per compiled call (default 1024)"
    )
    parser.add_argument("--large", action="store_true", help="run --large-trials trials in one call instead")
    parser.add_argument(
        "--large-trials", type=int, default=10**6, help="trials in --large mode (default 10^6)"
    )
    parser.add_argument("--seed", type=int, default=0, help="data and split seed (default 0)")
    parser.add_argument("--output", help="JSON file to write the figures to")
    arguments = parser.parse_args()

    result = run_large(arguments) if arguments.large else run_comparison(arguments)
    (print_large if arguments.large else print_comparison)(result)
    if arguments.output:
        os.makedirs(os.path.dirname(os.path.abspath(arguments.output)), exist_ok=True)
        with open(arguments.output, "w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
