"""Base routers, RACER-aware training, router files and router metrics, on synthetic data."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

from racer_jax import augment_scores, cover_scores, make_synthetic, nonconformity_scores, simulate_trials
from racer_jax._src.routers import (
    ROUTER_NAMES,
    PriorRouter,
    RouterMismatchError,
    auroc,
    best_model_labels,
    fit_knn_router,
    fit_router,
    load_router,
    oracle_accuracy,
    per_model_auroc,
    racer_surrogate_loss,
    read_router_header,
    router_metrics,
    save_router,
    soft_quantile,
    top1_accuracy,
)
from racer_jax.cli import main

# Small networks and few epochs keep the whole module to a few seconds of training.
FAST_OPTIONS = {
    "mlp": {"width": 64, "max_epochs": 40},
    "racer": {"width": 64, "max_epochs": 40, "batch_size": 128},
    "linear": {"max_epochs": 60},
    "softmax": {"width": 64, "max_epochs": 40},
    "knn": {"k": 15},
    "prior": {},
}


@pytest.fixture(scope="module")
def data():
    # Same seed, different sizes: both samples come from one population.
    return make_synthetic(0, 1000).dataset, make_synthetic(0, 2000).dataset


@pytest.fixture(scope="module")
def routers(data):
    train, _ = data
    fitted = {}
    for name in ROUTER_NAMES:
        fitted[name], _ = fit_router(
            name, train.features, train.correct, key=jax.random.key(1), graded=train.scores,
            alpha=0.1, score="gap", null="always", **FAST_OPTIONS[name],
        )
    return fitted


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_router_output_shapes_and_ranges(routers, data, name):
    _, evaluation = data
    out = routers[name](evaluation.features)
    n, k = evaluation.correct.shape
    assert out.probs.shape == (n, k)
    assert out.null.shape == (n,)
    assert bool(jnp.all((out.probs >= 0) & (out.probs <= 1)))
    assert bool(jnp.all((out.null >= 0) & (out.null <= 1)))


@pytest.mark.parametrize("name", [n for n in ROUTER_NAMES if n != "prior"])
def test_router_beats_prior(routers, data, name):
    # The synthetic features encode each query's domain and difficulty, which drive
    # correctness, so every feature-reading router routes better than the prior.
    _, evaluation = data
    out = routers[name](evaluation.features)
    metrics = router_metrics(out.probs, out.null, evaluation.correct, evaluation.model_names)
    prior = routers["prior"](evaluation.features)
    prior_metrics = router_metrics(prior.probs, prior.null, evaluation.correct, evaluation.model_names)
    assert prior_metrics["mean_auroc"] == pytest.approx(0.5)
    assert metrics["top1_accuracy"] > prior_metrics["top1_accuracy"]
    # The null score flags the unanswerable queries, which the features mark. Observed
    # null AUROC: 0.97 to 0.98. With about 300 unanswerable queries among 2000 its
    # standard error is near 0.01, so 0.8 is a margin of many standard errors.
    assert metrics["null_auroc"] > 0.8
    if name != "softmax":
        # Per-model AUROC rates a correctness probability. Observed mean: 0.86 for the
        # racer router (its set-size loss rewards only the order around the threshold)
        # and 0.91-0.92 for the others. With 2000 queries the standard error of one
        # model's AUROC is about 0.01, so 0.75 is a margin of many standard errors. The
        # softmax router is left out because its p_m is the chance that m is the single
        # best model, which is low for a correct model that another one outranks.
        assert metrics["mean_auroc"] > 0.75


def test_prior_router_is_training_accuracy(routers, data):
    train, evaluation = data
    out = routers["prior"](evaluation.features[:5])
    np.testing.assert_allclose(out.probs, np.tile(train.correct.mean(axis=0), (5, 1)), rtol=1e-6)
    np.testing.assert_allclose(out.null, np.full(5, np.mean(~train.correct.any(axis=1))), rtol=1e-6)


def test_softmax_router_outputs_sum_to_one(routers, data):
    _, evaluation = data
    out = routers["softmax"](evaluation.features)
    np.testing.assert_allclose(out.probs.sum(axis=1) + out.null, 1.0, atol=1e-5)


def test_knn_with_one_neighbour_returns_own_targets(data):
    train, _ = data
    router = fit_knn_router(train.features, train.correct, k=1)
    out = router(train.features[:50])
    np.testing.assert_array_equal(np.asarray(out.probs), train.correct[:50].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(out.null), (~train.correct[:50].any(axis=1)).astype(np.float32))


def test_knn_matches_numpy_reference():
    rng = np.random.default_rng(0)
    stored = rng.normal(size=(300, 8)).astype(np.float32)
    correct = rng.random((300, 3)) < 0.5
    queries = rng.normal(size=(1030, 8)).astype(np.float32)  # more than one query batch
    out = fit_knn_router(stored, correct, k=5, temperature=0.05)(queries)

    unit = stored / np.linalg.norm(stored, axis=1, keepdims=True)
    similarity = queries / np.linalg.norm(queries, axis=1, keepdims=True) @ unit.T
    rows = np.argsort(-similarity, axis=1)[:, :5]
    weights = np.exp(np.take_along_axis(similarity, rows, axis=1) / 0.05)
    weights /= weights.sum(axis=1, keepdims=True)
    expected = np.einsum("qk,qkm->qm", weights, correct[rows].astype(np.float64))
    # float32 similarities divided by T = 0.05 carry about 1e-6 relative error into the weights.
    np.testing.assert_allclose(np.asarray(out.probs), expected, atol=1e-5)
    assert out.null.shape == (1030,)


def test_knn_rejects_k_above_stored_queries():
    from racer_jax._src.routers import KNNRouter

    with pytest.raises(ValueError, match=r"k must lie in \[1, 3\]"):
        KNNRouter(np.ones((3, 2)), np.zeros((3, 4)), k=4)


def test_best_model_labels_by_grade_then_accuracy():
    correct = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0], [0, 1, 1], [1, 1, 0]], dtype=bool)
    graded = np.array([[0.2, 0.9, 0], [0.5, 0.5, 0], [0, 0, 0], [0, 0.7, 0.7], [0.8, np.nan, 0]])
    # Model 1 has the highest accuracy (4/5), so it wins ties in rows 1 and 3.
    np.testing.assert_array_equal(best_model_labels(correct, graded), [1, 1, 3, 1, 0])
    np.testing.assert_array_equal(best_model_labels(correct), [1, 1, 3, 1, 1])


def test_unknown_router_name_rejected(data):
    train, _ = data
    with pytest.raises(ValueError, match="invalid router name 'forest'"):
        fit_router("forest", train.features, train.correct, key=jax.random.key(0))


# Metrics.


def brute_force_auroc(scores, labels):
    pos, neg = scores[labels], scores[~labels]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (pos.size * neg.size)


def test_auroc_matches_pairwise_count():
    rng = np.random.default_rng(3)
    for _ in range(5):
        scores = rng.integers(0, 6, size=200).astype(np.float32) / 5  # many ties
        labels = rng.random(200) < 0.3
        assert float(auroc(scores, labels)) == pytest.approx(brute_force_auroc(scores, labels), abs=1e-6)


def test_auroc_nan_with_one_class():
    assert np.isnan(float(auroc(np.array([0.1, 0.5]), np.array([True, True]))))
    assert np.isnan(float(per_model_auroc(np.ones((3, 1)), np.zeros((3, 1), dtype=bool))[0]))


def test_top1_and_oracle_accuracy():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.3]])
    correct = np.array([[1, 0], [1, 0], [0, 0], [0, 1]], dtype=bool)
    # Picks: model 0 (right), model 1 (wrong), model 0 (wrong), model 0 on the tie (wrong).
    assert float(top1_accuracy(probs, correct)) == pytest.approx(0.25)
    assert float(oracle_accuracy(correct)) == pytest.approx(0.75)


def test_router_metrics_none_for_undefined_auroc():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    correct = np.array([[1, 1], [0, 1], [1, 1]], dtype=bool)
    metrics = router_metrics(probs, np.zeros(3), correct, ["a", "b"])
    assert metrics["auroc"]["b"] is None
    assert metrics["auroc"]["a"] == pytest.approx(1.0)
    assert metrics["mean_auroc"] == pytest.approx(1.0)
    json.dumps(metrics)  # must be JSON-serialisable as written to summary.json


# Router files.


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_saved_router_reloads_identically(routers, data, tmp_path, name):
    train, evaluation = data
    path = tmp_path / f"{name}.eqx"
    save_router(path, routers[name], train.model_names, name=name, training={"seed": 1})
    loaded, header = load_router(path, model_names=train.model_names, feature_dim=train.features.shape[1])
    assert type(loaded) is type(routers[name])
    assert header["name"] == name
    assert header["training"] == {"seed": 1}
    before, after = routers[name](evaluation.features), loaded(evaluation.features)
    np.testing.assert_array_equal(np.asarray(before.probs), np.asarray(after.probs))
    np.testing.assert_array_equal(np.asarray(before.null), np.asarray(after.null))


def test_load_rejects_other_models(routers, data, tmp_path):
    train, _ = data
    path = tmp_path / "router.eqx"
    save_router(path, routers["linear"], train.model_names)
    others = [f"other-{m}" for m in range(train.num_models)]
    with pytest.raises(RouterMismatchError) as info:
        load_router(path, model_names=others)
    message = str(info.value)
    assert "model-0" in message
    assert "other-0" in message


def test_load_rejects_other_feature_size(routers, data, tmp_path):
    train, _ = data
    path = tmp_path / "router.eqx"
    save_router(path, routers["knn"], train.model_names)
    with pytest.raises(RouterMismatchError, match="expects 32-dimensional features, but the data has 384"):
        load_router(path, feature_dim=384)


def test_load_rejects_non_router_file(tmp_path):
    path = tmp_path / "features.npy"
    np.save(path, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="is not a saved router file"):
        read_router_header(path)


def test_save_rejects_wrong_model_count(tmp_path):
    router = PriorRouter(np.full(3, 0.5), 0.1, feature_dim=4)
    with pytest.raises(ValueError, match="scores 3 models but 2 model names"):
        save_router(tmp_path / "r.eqx", router, ["a", "b"])


# The RACER surrogate.


def test_soft_quantile_approaches_order_statistic():
    values = jax.random.uniform(jax.random.key(2), (201,))
    exact = float(jnp.sort(values)[180])  # rank 0.9 * 200 = 180
    assert float(soft_quantile(values, 0.9, 0.05)) == pytest.approx(exact, abs=1e-6)
    # A wider kernel averages nearby order statistics, which for 201 uniforms lie
    # about 1/200 apart, so a bandwidth of 2 ranks moves the value by well under 0.02.
    assert float(soft_quantile(values, 0.9, 2.0)) == pytest.approx(exact, abs=0.02)


@pytest.mark.parametrize("null", ["always", "learned", "one-minus-max", "product"])
@pytest.mark.parametrize("score", ["gap", "inverse"])
def test_surrogate_gradient_is_finite(data, null, score):
    train, _ = data
    logits = jax.random.normal(jax.random.key(4), (256, train.num_models + 1))
    grad = jax.grad(
        lambda z: racer_surrogate_loss(z, train.correct[:256], alpha=0.1, score=score, null=null)
    )(logits)
    assert bool(jnp.all(jnp.isfinite(grad)))
    assert float(jnp.abs(grad).sum()) > 0


def calibrated_sizes(router, evaluation, null="always", score="gap"):
    out = router(evaluation.features)
    scores = nonconformity_scores(augment_scores(out.probs, null, out.null), score)
    cover = cover_scores(scores, evaluation.correct)
    n = evaluation.num_queries
    return simulate_trials(scores, cover, key=jax.random.key(5), trials=20, n_cal=n // 2, alpha=0.1, delta=0.1)


def test_racer_router_smaller_sets_than_prior(routers, data):
    _, evaluation = data
    racer = calibrated_sizes(routers["racer"], evaluation)
    prior = calibrated_sizes(routers["prior"], evaluation)
    # Observed: 1.25 against 2.1 models, with per-trial standard deviations of 0.07 and
    # 0.3, so the mean over 20 trials moves by less than 0.1 and a 0.3 margin holds.
    assert racer.set_size.mean() < prior.set_size.mean() - 0.3
    # Risk control holds for any router: over 20 trials the mean test risk stays below alpha.
    assert racer.risk.mean() <= 0.1


# Command line.


def write_routerdc(path, dataset, label):
    records = [
        {"question": f"{label} {text}", "scores": {m: float(v) for m, v in zip(dataset.model_names, row)}}
        for text, row in zip(dataset.texts, dataset.correct)
    ]
    path.write_text(json.dumps(records))


@pytest.fixture(scope="module")
def data_files(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("routerdc")
    train, evaluation = data
    files = {}
    for label, dataset in (("train", train.subset(np.arange(400))), ("eval", evaluation.subset(np.arange(600)))):
        write_routerdc(folder / f"{label}.json", dataset, label)
        np.save(folder / f"{label}.npy", dataset.features)
        files[label] = str(folder / f"{label}.json")
        files[f"{label}_features"] = str(folder / f"{label}.npy")
    for label, rows in (("train", 400), ("eval", 600)):
        np.save(folder / f"{label}_wide.npy", np.zeros((rows, 8), dtype=np.float32))
        files[f"{label}_wide_features"] = str(folder / f"{label}_wide.npy")
    return files


def run_args(files, out, router, features_key="eval_features"):
    return [
        "run", "--train", files["train"], "--train-features", files["train_features"],
        "--eval", files["eval"], "--eval-features", files[features_key],
        "--trials", "5", "--null", "always", "--router", router, "--out", str(out),
    ]


def test_cli_train_then_run_with_saved_router(data_files, tmp_path):
    runner = CliRunner()
    router_path = tmp_path / "linear.eqx"
    trained = runner.invoke(main, [
        "train", "--train", data_files["train"], "--train-features", data_files["train_features"],
        "--router", "linear", "--out", str(router_path),
    ])
    assert trained.exit_code == 0, trained.output
    assert read_router_header(router_path)["name"] == "linear"

    saved = runner.invoke(main, run_args(data_files, tmp_path / "saved", str(router_path)))
    assert saved.exit_code == 0, saved.output
    named = runner.invoke(main, run_args(data_files, tmp_path / "named", "linear"))
    assert named.exit_code == 0, named.output
    # `racer train` and `racer run` split the seed the same way, so the saved router is
    # the one the named run trains, and the two studies agree exactly.
    saved_summary = json.loads((tmp_path / "saved" / "summary.json").read_text())
    named_summary = json.loads((tmp_path / "named" / "summary.json").read_text())
    assert saved_summary["per_trial"] == named_summary["per_trial"]
    assert saved_summary["router"]["source"] == str(router_path)
    assert named_summary["router"]["source"] == "trained"
    assert set(saved_summary["router"]["metrics"]) >= {"auroc", "top1_accuracy", "oracle_accuracy"}


def test_cli_run_rejects_router_for_other_features(data_files, tmp_path):
    runner = CliRunner()
    router_path = tmp_path / "prior.eqx"
    trained = runner.invoke(main, [
        "train", "--train", data_files["train"], "--train-features", data_files["train_features"],
        "--router", "prior", "--out", str(router_path),
    ])
    assert trained.exit_code == 0, trained.output
    args = run_args(data_files, tmp_path / "wide", str(router_path), features_key="eval_wide_features")
    args[4] = data_files["train_wide_features"]  # the training features too, so the data itself is consistent
    rejected = runner.invoke(main, args)
    assert rejected.exit_code != 0
    assert "expects 32-dimensional features, but the data has 8-dimensional" in rejected.output


def test_cli_run_rejects_unknown_router(data_files, tmp_path):
    result = CliRunner().invoke(main, run_args(data_files, tmp_path / "bad", "forest"))
    assert result.exit_code != 0
    assert "invalid router 'forest'" in result.output


def test_resume_reloads_saved_router(tmp_path):
    from racer_jax._src.pipeline import RunConfig, run

    config = RunConfig(router="knn", trials=4, null="always", synthetic_train=300, synthetic_eval=400)
    first = run(config, str(tmp_path))
    resumed = run(config, str(tmp_path), resume=True)
    assert first["router"]["source"] == "trained"
    assert resumed["router"]["source"] == "resumed"
    assert resumed["router"]["type"] == "knn"
    assert resumed["per_trial"] == first["per_trial"]
