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
# # RACER quickstart on synthetic data
#
# A base router scores each of K models for a query. RACER adds a null model ("abstain"),
# turns the scores into nested model sets $C_\lambda(x) = \{m : S(x, m) \le \lambda\}$, and
# calibrates $\hat\lambda$ on labelled queries so that, with probability at least
# $1 - \delta$, the set misses every correct model on at most an $\alpha$ share of queries.
#
# The synthetic population records each model's true probability of answering each query,
# so the exact risk of a calibrated threshold can be computed, not only estimated.
#
# Size: set `RACER_NOTEBOOK_QUERIES` (evaluation queries, default 4000),
# `RACER_NOTEBOOK_TRIALS` (random calibration/test splits, default 100) and
# `RACER_NOTEBOOK_EPOCHS` (maximum router training epochs, default 200).

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import racer_jax as racer
from racer_jax._src import aggregation
from racer_jax._src.metrics import AnswerInputs, answer_metrics_over_trials

NUM_QUERIES = int(os.environ.get("RACER_NOTEBOOK_QUERIES", "4000"))
TRIALS = int(os.environ.get("RACER_NOTEBOOK_TRIALS", "100"))
EPOCHS = int(os.environ.get("RACER_NOTEBOOK_EPOCHS", "200"))
ALPHA, DELTA = 0.1, 0.1

# %% [markdown]
# ## Data and a base router
#
# Training and evaluation samples come from one population (same seed, different sizes).
# The router is a small MLP giving a correctness probability per model plus a
# "no model is correct" head.

# %%
train = racer.make_synthetic(seed=0, num_queries=NUM_QUERIES // 2).dataset
population = racer.make_synthetic(seed=0, num_queries=NUM_QUERIES)
evaluation = population.dataset
print(f"{train.num_queries} training and {evaluation.num_queries} evaluation queries, {evaluation.num_models} models")

router_key, split_key, study_key = jax.random.split(jax.random.key(0), 3)
router, history = racer.train_mlp_router(train.features, train.correct, key=router_key, max_epochs=EPOCHS)
router_scores = router(evaluation.features)
print(f"router trained for {len(history.train_loss)} epochs")

# %% [markdown]
# ## Scores, one calibration, and its exact risk
#
# `null="always"` keeps the null model in every set, so a query no model can answer is
# never misrouted, and the system abstains when no standard model passes the threshold.

# %%
augmented = racer.augment_scores(router_scores.probs, null="always")
scores = racer.nonconformity_scores(augmented, "gap")
cover = racer.cover_scores(scores, evaluation.correct)

n = evaluation.num_queries
n_cal = n // 2
order = np.asarray(jax.random.permutation(split_key, n))
cal, test = order[:n_cal], order[n_cal:]
calibration = racer.calibrate(cover[cal], alpha=ALPHA, delta=DELTA, rule="hb")
lam = calibration.lambda_hat

test_risk = float(racer.empirical_risk(cover[test], lam))
exact_risk = float(racer.population_risk(population.probabilities[test], scores[test], lam))
sizes = np.asarray(racer.set_sizes(scores[test], lam))
print(f"lambda-hat = {float(lam):.4f}")
print(f"test risk {test_risk:.4f}, exact risk {exact_risk:.4f} (target {ALPHA})")
print(f"mean set size {sizes.mean():.2f} of {evaluation.num_models}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(sizes, bins=np.arange(evaluation.num_models + 2) - 0.5, rwidth=0.8)
ax.set_xlabel("set size (LLM calls)")
ax.set_ylabel("test queries")
ax.set_title("Set sizes at the calibrated threshold")
plt.show()

# %% [markdown]
# ## From sets to answers
#
# The synthetic data has correctness only. To show the votes, simulate a four-option
# multiple-choice answer per model: a correct model gives the gold option, a wrong one a
# uniformly drawn wrong option.

# %%
rng = np.random.default_rng(0)
gold = rng.integers(4, size=n).astype(np.int32)
wrong = (gold[:, None] + rng.integers(1, 4, size=(n, evaluation.num_models))) % 4
choices = np.where(evaluation.correct, gold[:, None], wrong).astype(np.int32)

members = np.asarray(racer.prediction_sets(scores, lam))[:, :-1]
p = router_scores.probs
votes = {
    "majority vote over the set": aggregation.majority_vote(choices, members, p),
    "weighted vote over the set": aggregation.weighted_vote(choices, members, p),
    "full ensemble (all K)": aggregation.full_ensemble_vote(choices, p),
    "top-1 routing": aggregation.top1_answer(choices, p),
}
for name, vote in votes.items():
    accuracy = float(jnp.mean(aggregation.is_correct(vote.answer, gold)[test]))
    print(f"{name:28s} accuracy {accuracy:.3f}, abstained {float(jnp.mean(vote.abstained[test])):.3f}")

# %% [markdown]
# ## Repeated random splits
#
# The guarantee is over the calibration draw, so repeat the split. Each trial's answer
# metrics use the same split and threshold as its risk.

# %%
study = racer.simulate_trials(scores, cover, key=study_key, trials=TRIALS, n_cal=n_cal, alpha=ALPHA, delta=DELTA)
inputs = AnswerInputs(scores, p, evaluation.correct, choices=choices, gold=gold)
answers = answer_metrics_over_trials(inputs, key=study_key, lambda_hats=study.lambda_hat, n_cal=n_cal)

risk = np.asarray(study.risk)
print(f"{TRIALS} trials: mean test risk {risk.mean():.4f}, share of trials above alpha {np.mean(risk > ALPHA):.2f}")
print(f"mean set size {np.mean(study.set_size):.2f}, calls saved {answers['calls_saved'].mean():.1%}")
print(f"majority-vote accuracy {answers['majority_accuracy'].mean():.3f}, "
      f"gain vs full ensemble {100 * answers['majority_gain_vs_ensemble'].mean():+.2f} points, "
      f"vs top-1 {100 * answers['majority_gain_vs_top1'].mean():+.2f} points")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.boxplot(risk)
left.axhline(ALPHA, color="tab:red", linestyle="--", label="alpha")
left.set_ylabel("test risk per trial")
left.legend()
right.scatter(100 * answers["calls_saved"], 100 * answers["majority_gain_vs_ensemble"], s=10)
right.set_xlabel("calls saved vs all K models (%)")
right.set_ylabel("accuracy gain vs full ensemble (points)")
fig.tight_layout()
plt.show()
