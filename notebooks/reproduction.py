# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproducing the RACER protocol on real routing data
#
# Protocol: per dataset and nonconformity score, train an MLP router on the training
# file, then run random calibration/test splits of the evaluation file at target risk
# $\alpha = 0.1$ ($\delta = 0.1$, Hoeffding–Bentkus bound) and plot the per-trial test risk,
# the set size, and model calls saved against accuracy relative to the full ensemble.
#
# - RouterDC files (7 open 7–8B models on MMLU, CMMLU, ARC-Challenge) store only whether
#   each model was correct, so they give the set's oracle accuracy (some member correct),
#   not the accuracy of a vote.
# - RouterBench ARC-Challenge (11 models) stores the raw answers and per-query costs, so
#   majority and weighted votes over the set are scored against the gold option, and cost
#   is compared with the full ensemble and with top-1 routing.
#
# The null model uses `always` (it is in every set): with a learned null head the
# calibrated sets on these files hold all 7 models. Under `always` the top augmented
# score is the null model's 1, so the gap score $1 - p_m$ equals the inverse score and
# the two boxes per dataset coincide; `one-minus-max` is shown as well, where they differ.
#
# Settings from the environment: `RACER_DATA` (folder holding `routerdc/`, `routerbench/`
# and `embeddings/`; default `../shared/data` beside the project), `RACER_NOTEBOOK_TRIALS`
# (default 100), `RACER_NOTEBOOK_DATASETS` (comma-separated RouterDC names, default
# `mmlu,cmmlu,arc_challenge`), `RACER_NOTEBOOK_NULLS` (default `always,one-minus-max`),
# `RACER_NOTEBOOK_SCORES` (default `gap,inverse`) and `RACER_NOTEBOOK_OUT` (output
# folder, default a new temporary one).

# %%
import json
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

from racer_jax import DataWarning
from racer_jax._src.commands_report import write_report
from racer_jax._src.pipeline import RunConfig, run


def find_data() -> Path:
    if "RACER_DATA" in os.environ:
        return Path(os.environ["RACER_DATA"])
    for candidate in (Path("../shared/data"), Path("../../shared/data")):
        if (candidate / "routerdc").exists():
            return candidate
    raise FileNotFoundError("set RACER_DATA to the folder holding routerdc/, routerbench/ and embeddings/")


DATA = find_data().resolve()
TRIALS = int(os.environ.get("RACER_NOTEBOOK_TRIALS", "100"))
DATASETS = os.environ.get("RACER_NOTEBOOK_DATASETS", "mmlu,cmmlu,arc_challenge").split(",")
NULLS = os.environ.get("RACER_NOTEBOOK_NULLS", "always,one-minus-max").split(",")
SCORES = os.environ.get("RACER_NOTEBOOK_SCORES", "gap,inverse").split(",")
OUT = Path(os.environ.get("RACER_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="racer-reproduction-"))
print(f"data from {DATA}; {TRIALS} trials; results in {OUT}")


def files(collection: str, name: str, extension: str) -> dict[str, str]:
    return {
        "train": str(DATA / collection / f"{name}_train.{extension}"),
        "train_features": str(DATA / "embeddings" / collection / f"{name}_train.npy"),
        "eval": str(DATA / collection / f"{name}_test.{extension}"),
        "eval_features": str(DATA / "embeddings" / collection / f"{name}_test.npy"),
    }


def run_once(folder: str, **settings) -> Path:
    out = OUT / folder
    with warnings.catch_warnings():
        # Known quirks of these files (repeated questions, a few missing cells) are reported
        # as DataWarning and handled by the default policies.
        warnings.simplefilter("ignore", DataWarning)
        run(RunConfig(alpha=0.1, delta=0.1, trials=TRIALS, **settings), str(out))
    return out


# %% [markdown]
# ## RouterDC: risk, set size and oracle accuracy

# %%
routerdc_runs = []
for name in DATASETS:
    for null in NULLS:
        for score in SCORES:
            routerdc_runs.append(run_once(f"routerdc-{name}-{null}-{score}", score=score, null=null,
                                          **files("routerdc", name, "json")))
paths = write_report([str(p) for p in routerdc_runs], str(OUT / "report-routerdc"))


def show(path: str, width: float = 14) -> None:
    image = mpimg.imread(path)
    _, ax = plt.subplots(figsize=(width, width * image.shape[0] / image.shape[1]))
    ax.imshow(image)
    ax.set_axis_off()
    plt.show()


show(paths["risk"])
show(paths["tradeoff"], width=8)
print(Path(paths["table"]).read_text())

# %% [markdown]
# ## RouterBench ARC-Challenge: votes over the set, and cost
#
# Responses such as `['B']` are parsed with plain string rules (never evaluated); the gold
# option is the one the models marked correct agree on.

# %%
routerbench = run_once("routerbench-arc_challenge-always-gap", score="gap", null="always",
                       **files("routerbench", "arc_challenge", "csv"))
summary = json.loads((routerbench / "summary.json").read_text())
print(json.dumps(summary["answers"], indent=1))
s = summary["summary"]
for name in ("majority_accuracy", "weighted_accuracy", "ensemble_accuracy", "top1_accuracy", "coverage",
             "calls_saved", "cost", "ensemble_cost", "top1_cost", "cost_saved_vs_ensemble", "cost_ratio_vs_top1"):
    print(f"{name:26s} {s[name]:.6g}")
