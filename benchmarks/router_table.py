"""Measure every base router under RACER on real routing data and write the Markdown tables.

For each benchmark the routers are trained on the training file, and RACER is studied
on the test file exactly as ``racer run`` does it. The seed is split into a router key
and a study key. In each of ``--trials`` random trials the test file is split into
calibration and test halves, and the threshold is calibrated with the Hoeffding–Bentkus
bound. Routers that do not depend on the RACER setting are trained once per benchmark.
The ``racer`` router is trained anew for each (alpha, score, null) it is measured at.

Usage (about 20 minutes on two CPU cores)::

    python benchmarks/router_table.py --data PATH/TO/data --out-json router_table.json --out-md router_table.md

``--data`` is a folder with ``routerdc/``, ``routerbench/`` and ``embeddings/`` laid out
as the loaders expect (RouterDC JSON, RouterBench CSV, one ``.npy`` embedding file per data file).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

import jax
import numpy as np

from racer_jax import (
    DataWarning,
    augment_scores,
    cover_scores,
    load_dataset,
    nonconformity_scores,
    simulate_trials,
)
from racer_jax._src.routers import ROUTER_NAMES, fit_router, router_metrics

# (label, data file of the training split, data file of the evaluation split), relative to --data.
BENCHMARKS = {
    "mmlu": ("routerdc/mmlu_train.json", "routerdc/mmlu_test.json"),
    "cmmlu": ("routerdc/cmmlu_train.json", "routerdc/cmmlu_test.json"),
    "arc_challenge": ("routerdc/arc_challenge_train.json", "routerdc/arc_challenge_test.json"),
    "gsm8k": ("routerdc/gsm8k-train.json", "routerdc/gsm8k-test.json"),
    "routerbench arc_challenge": ("routerbench/arc_challenge_train.csv", "routerbench/arc_challenge_test.csv"),
}
ALPHAS = (0.1, 0.2)
SCORES = ("gap", "inverse")
NULL_OPTIONS = ("learned", "one-minus-max", "product", "always")
# The main tables show the run's default null option and `always`.
MAIN_NULLS = ("learned", "always")
MAIN_NULL = "always"
NULL_COMPARISON_ALPHA = 0.1


def embedding_path(data_root: str, data_file: str) -> str:
    folder, name = data_file.split("/")
    return f"{data_root}/embeddings/{folder}/{name.rsplit('.', 1)[0]}.npy"


def load_pair(data_root: str, train_file: str, eval_file: str):
    with warnings.catch_warnings():
        # Repeated questions and train/test overlap are known in these files and kept, as `racer run` keeps them.
        warnings.simplefilter("ignore", DataWarning)
        train = load_dataset(f"{data_root}/{train_file}", features=embedding_path(data_root, train_file))
        evaluation = load_dataset(f"{data_root}/{eval_file}", features=embedding_path(data_root, eval_file))
    return train, evaluation.select_models(train.model_names)


def study(router_scores, evaluation, *, null, score, alpha, delta, trials, study_key) -> dict:
    """Mean test risk, violation rate, set size, abstention rate and calls saved over the trials."""
    augmented = augment_scores(router_scores.probs, null, router_scores.null)
    scores = nonconformity_scores(augmented, score)
    cover = cover_scores(scores, evaluation.correct)
    n_cal = math.floor(0.5 * evaluation.num_queries)
    metrics = simulate_trials(scores, cover, key=study_key, trials=trials, n_cal=n_cal, alpha=alpha, delta=delta, rule="hb")
    return {
        "risk": float(np.mean(metrics.risk)),
        "violation_rate": float(np.mean(metrics.risk > alpha)),
        "set_size": float(np.mean(metrics.set_size)),
        "abstention_rate": float(np.mean(metrics.abstention_rate)),
        "calls_saved": float(np.mean(1.0 - metrics.set_size / evaluation.num_models)),
    }


def measure_benchmark(label, train, evaluation, *, seed, trials, delta, log) -> list[dict]:
    router_key, study_key = jax.random.split(jax.random.key(seed))
    rows = []

    def record(router_name, router, training_seconds, settings):
        out = router(evaluation.features)
        quality = router_metrics(out.probs, out.null, evaluation.correct, evaluation.model_names)
        for null, score, alpha in settings:
            result = study(out, evaluation, null=null, score=score, alpha=alpha, delta=delta, trials=trials,
                           study_key=study_key)
            rows.append({"benchmark": label, "router": router_name, "null": null, "score": score, "alpha": alpha,
                         "delta": delta, "trials": trials, "training_seconds": training_seconds,
                         **result, "router_metrics": quality})
            log(f"{label:26s} {router_name:8s} null={null:13s} score={score:7s} alpha={alpha}: "
                f"risk {result['risk']:.3f} size {result['set_size']:.2f}")

    main_settings = [(null, score, alpha) for alpha in ALPHAS for null in MAIN_NULLS for score in SCORES]
    null_settings = [(null, "gap", NULL_COMPARISON_ALPHA) for null in NULL_OPTIONS if null not in MAIN_NULLS]
    for name in ROUTER_NAMES:
        if name == "racer":
            continue
        started = time.perf_counter()
        router, _ = fit_router(name, train.features, train.correct, key=router_key, graded=train.scores)
        record(name, router, time.perf_counter() - started, main_settings + null_settings)

    # The racer router is trained for the setting it is measured at.
    for null, score, alpha in main_settings + null_settings:
        started = time.perf_counter()
        router, _ = fit_router("racer", train.features, train.correct, key=router_key, alpha=alpha, score=score, null=null)
        record("racer", router, time.perf_counter() - started, [(null, score, alpha)])
    return rows


# Settings of the racer router compared by --sweep (alpha 0.1, null `always`, score `gap`).
SWEEP = {
    "defaults": {},
    "no warm start": {"warm_start": False},
    "ce_weight 0.1": {"ce_weight": 0.1},
    "ce_weight 0": {"ce_weight": 0.0},
    "temperature 0.02": {"temperature": 0.02},
    "temperature 0.2": {"temperature": 0.2},
}


def sweep_benchmark(label, train, evaluation, *, seed, trials, delta, log) -> list[dict]:
    """Mean set size of the racer router at alpha 0.1 under each of the :data:`SWEEP` settings."""
    router_key, study_key = jax.random.split(jax.random.key(seed))
    rows = []
    for setting, options in SWEEP.items():
        router, _ = fit_router("racer", train.features, train.correct, key=router_key, alpha=0.1, score="gap",
                               null=MAIN_NULL, **options)
        result = study(router(evaluation.features), evaluation, null=MAIN_NULL, score="gap", alpha=0.1, delta=delta,
                       trials=trials, study_key=study_key)
        rows.append({"benchmark": label, "setting": setting, **result})
        log(f"{label:26s} {setting:30s} risk {result['risk']:.3f} size {result['set_size']:.2f}")
    return rows


def sweep_table(rows: list[dict]) -> str:
    benchmarks = list(dict.fromkeys(row["benchmark"] for row in rows))
    lines = ["| setting | " + " | ".join(benchmarks) + " |", "|---|" + "---|" * len(benchmarks)]
    for setting in SWEEP:
        cells = []
        for bench in benchmarks:
            match = [r for r in rows if r["benchmark"] == bench and r["setting"] == setting]
            cells.append(f"{match[0]['set_size']:.2f} ({match[0]['violation_rate']:.2f})" if match else "")
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_tables(rows: list[dict]) -> str:
    def fmt(row):
        return (f"{row['risk']:.3f} | {row['violation_rate']:.2f} | {row['set_size']:.2f} | "
                f"{row['abstention_rate']:.3f} | {row['calls_saved']:.1%}")

    benchmarks = list(dict.fromkeys(row["benchmark"] for row in rows))
    parts = []
    header = " | ".join(f"{name} ({score})" for score in SCORES for name in ("risk", "viol.", "size", "abst.", "saved"))
    for alpha in ALPHAS:
        parts.append(f"### alpha = {alpha}\n")
        parts.append(f"| benchmark | router | null | {header} |")
        parts.append("|---|---|---|" + "---|" * 5 * len(SCORES))
        for bench in benchmarks:
            for name in ROUTER_NAMES:
                for null in MAIN_NULLS:
                    cells = []
                    for score in SCORES:
                        match = [r for r in rows if r["benchmark"] == bench and r["router"] == name
                                 and r["null"] == null and r["score"] == score and r["alpha"] == alpha]
                        cells.append(fmt(match[0]) if match else " | | | | ")
                    parts.append(f"| {bench} | {name} | `{null}` | " + " | ".join(cells) + " |")
        parts.append("")

    parts.append(f"### Null options, alpha = {NULL_COMPARISON_ALPHA}, score `gap`: mean set size (violation rate)\n")
    parts.append("| benchmark | router | " + " | ".join(f"`{n}`" for n in NULL_OPTIONS) + " |")
    parts.append("|---|---|" + "---|" * len(NULL_OPTIONS))
    for bench in benchmarks:
        for name in ROUTER_NAMES:
            cells = []
            for null in NULL_OPTIONS:
                match = [r for r in rows if r["benchmark"] == bench and r["router"] == name and r["null"] == null
                         and r["score"] == "gap" and r["alpha"] == NULL_COMPARISON_ALPHA]
                cells.append(f"{match[0]['set_size']:.2f} ({match[0]['violation_rate']:.2f})" if match else "")
            parts.append(f"| {bench} | {name} | " + " | ".join(cells) + " |")
    parts.append("")

    parts.append("### Router quality on the evaluation file\n")
    parts.append("| benchmark | router | mean AUROC | null AUROC | top-1 accuracy | oracle accuracy | best single model |")
    parts.append("|---|---|---|---|---|---|---|")
    for bench in benchmarks:
        for name in ROUTER_NAMES:
            match = [r for r in rows if r["benchmark"] == bench and r["router"] == name and r["null"] == MAIN_NULL
                     and r["score"] == "gap" and r["alpha"] == 0.1]
            if not match:
                continue
            q = match[0]["router_metrics"]
            cell = lambda v: "n/a" if v is None else f"{v:.3f}"
            parts.append(f"| {bench} | {name} | {cell(q['mean_auroc'])} | {cell(q['null_auroc'])} | "
                         f"{q['top1_accuracy']:.3f} | {q['oracle_accuracy']:.3f} | {q['best_single_model_accuracy']:.3f} |")
    parts.append("")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="Folder holding routerdc/, routerbench/ and embeddings/.")
    parser.add_argument("--out-json", required=True, help="Where to write every measured row as JSON.")
    parser.add_argument("--out-md", required=True, help="Where to write the Markdown tables.")
    parser.add_argument("--trials", type=int, default=100, help="Random calibration/test splits per cell.")
    parser.add_argument("--delta", type=float, default=0.1, help="Allowed probability that the risk exceeds alpha.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of router training and of the splits.")
    parser.add_argument("--benchmarks", nargs="*", default=list(BENCHMARKS), choices=list(BENCHMARKS),
                        help="Benchmarks to measure (default: all).")
    parser.add_argument("--sweep", action="store_true",
                        help="Compare the racer router's training settings instead of measuring every router.")
    args = parser.parse_args()

    started = time.perf_counter()
    measure = sweep_benchmark if args.sweep else measure_benchmark
    rows: list[dict] = []
    for label in args.benchmarks:
        train, evaluation = load_pair(args.data, *BENCHMARKS[label])
        rows += measure(label, train, evaluation, seed=args.seed, trials=args.trials, delta=args.delta,
                        log=lambda message: print(message, flush=True))
        with open(args.out_json, "w") as handle:
            json.dump(rows, handle, indent=1)
    with open(args.out_md, "w") as handle:
        handle.write(sweep_table(rows) if args.sweep else markdown_tables(rows))
    print(f"done in {time.perf_counter() - started:.0f} s; wrote {args.out_json} and {args.out_md}")


if __name__ == "__main__":
    main()
