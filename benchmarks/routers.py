"""Time the Equinox MLP router: training epochs and scoring throughput.

The router maps 384 features (the size of the sentence embeddings in the real data)
to K + 1 = 8 outputs: 7 models and the learned null head. Training runs
``train_mlp_router`` with its defaults (width 256, depth 2, batch 128, AdamW) on 2,000
synthetic queries. Early stopping is disabled, so every run trains the number of epochs
it is given. Each call of ``train_mlp_router`` compiles its epoch anew, so after a warm-up
call two runs, of 2 and of 2 + ``--epochs`` epochs, separate the compilation from the
time per epoch. Scoring times the jit-compiled forward pass on 10,000 queries.

    python benchmarks/routers.py --output benchmarks/results/routers.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import equinox as eqx
import jax

import racer_jax as rj


def time_training(features, correct, epochs: int, seed: int) -> float:
    started = time.perf_counter()
    rj.train_mlp_router(features, correct, key=jax.random.key(seed), max_epochs=epochs, patience=epochs + 1)
    return time.perf_counter() - started


def time_scoring(router, features, repeats: int) -> float:
    """Best wall time of one jit-compiled forward pass over ``features``."""
    score = eqx.filter_jit(lambda model, x: model(x))
    jax.block_until_ready(score(router, features))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(score(router, features))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=2000, help="training queries (default 2000)")
    parser.add_argument("--features", type=int, default=384, help="feature dimension (default 384)")
    parser.add_argument("--models", type=int, default=7, help="models besides the null head (default 7)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=30,
        help="extra epochs of the longer run (default 30); with few, noise in compilation time dominates",
    )
    parser.add_argument(
        "--score-queries", type=int, default=10_000, help="queries per scoring pass (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="data and initialisation seed (default 0)")
    parser.add_argument("--output", help="JSON file to write the figures to")
    arguments = parser.parse_args()
    if arguments.epochs < 1:
        parser.error(f"--epochs must be at least 1; got {arguments.epochs}")

    train = rj.make_synthetic(
        seed=arguments.seed,
        num_queries=arguments.queries,
        num_models=arguments.models,
        feature_dim=arguments.features,
    ).dataset
    time_training(train.features, train.correct, 1, arguments.seed)
    short_run = time_training(train.features, train.correct, 2, arguments.seed)
    long_run = time_training(train.features, train.correct, 2 + arguments.epochs, arguments.seed)
    per_epoch = (long_run - short_run) / arguments.epochs

    scoring = rj.make_synthetic(
        seed=arguments.seed + 1,
        num_queries=arguments.score_queries,
        num_models=arguments.models,
        feature_dim=arguments.features,
    ).dataset
    router = rj.MLPRouter(arguments.features, arguments.models, key=jax.random.key(arguments.seed))
    score_seconds = time_scoring(router, scoring.features, repeats=5)

    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "backend": jax.default_backend(),
        },
        "training": {
            "queries": arguments.queries,
            "features": arguments.features,
            "outputs": arguments.models + 1,
            "short_run_epochs": 2,
            "short_run_s": short_run,
            "long_run_epochs": 2 + arguments.epochs,
            "long_run_s": long_run,
            "s_per_epoch": per_epoch,
            "compile_and_setup_s": short_run - 2 * per_epoch,
        },
        "scoring": {
            "queries": arguments.score_queries,
            "s_per_pass": score_seconds,
            "ms_per_1k_queries": score_seconds / arguments.score_queries * 1e6,
        },
    }
    print(
        f"training {arguments.queries} x {arguments.features} -> {arguments.models + 1}: "
        f"{per_epoch * 1e3:.1f} ms per epoch, {short_run - 2 * per_epoch:.2f} s compilation and setup"
    )
    print(f"scoring: {result['scoring']['ms_per_1k_queries']:.3f} ms per 1,000 queries")
    if arguments.output:
        os.makedirs(os.path.dirname(os.path.abspath(arguments.output)), exist_ok=True)
        with open(arguments.output, "w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
