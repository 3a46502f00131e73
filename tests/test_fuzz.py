"""Property tests over the core (scores, sets, loss, λ̂, bounds) and the loaders.

Examples are derandomised, so every run draws the same cases. Arrays are small and
come from a few fixed shapes, so JAX compiles each operation only a few times.
Together these tests draw 1,100 examples.
"""

from __future__ import annotations

import csv
import json
import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from racer_jax import (
    SCORE_UPPER_LIMIT,
    DataError,
    DataWarning,
    InfeasibleCalibrationWarning,
    augment_scores,
    augmented_truth,
    calibrate,
    cover_scores,
    load_dataset,
    misrouting_loss,
    nonconformity_scores,
    prediction_sets,
)
from racer_jax._src import bounds

BASE = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


def fuzz(examples: int) -> settings:
    return settings(BASE, max_examples=examples)


SIZES = [1, 2, 5, 17]
MODEL_COUNTS = [1, 2, 4]
NULL_OPTIONS = ["one-minus-max", "product", "always", "learned"]
SCORES = ["gap", "inverse"]
TIED_VALUES = [0.0, 0.25, 0.5, 0.75, 1.0]


@st.composite
def routers(draw):
    """Router scores ``(n, K)``, a learned null head ``(n,)`` and correctness ``(n, K)``.

    The scores are one of: all equal, all zero, all one, drawn from a few tied values,
    or arbitrary float32 values in [0, 1].
    """
    n = draw(st.sampled_from(SIZES))
    k = draw(st.sampled_from(MODEL_COUNTS))
    kind = draw(st.sampled_from(["equal", "zero", "one", "tied", "float"]))
    if kind == "equal":
        probs = np.full((n, k), draw(st.floats(0, 1, width=32)))
    elif kind in ("zero", "one"):
        probs = np.full((n, k), 0.0 if kind == "zero" else 1.0)
    else:
        values = st.sampled_from(TIED_VALUES) if kind == "tied" else st.floats(0, 1, width=32)
        probs = np.array(draw(st.lists(values, min_size=n * k, max_size=n * k))).reshape(n, k)
    null_head = np.array(draw(st.lists(st.sampled_from(TIED_VALUES), min_size=n, max_size=n)))
    correct = np.array(draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k))).reshape(n, k)
    return probs.astype(np.float32), null_head.astype(np.float32), correct


def nonconformity(probs, null_head, null, score):
    return nonconformity_scores(augment_scores(probs, null, null_head), score)


@fuzz(150)
@given(
    router=routers(),
    null=st.sampled_from(NULL_OPTIONS),
    score=st.sampled_from(SCORES),
    lams=st.lists(st.floats(-1.5, 1.5, width=32), min_size=2, max_size=2),
)
def test_sets_nested_and_loss_monotone(router, null, score, lams):
    probs, null_head, correct = router
    scores = nonconformity(probs, null_head, null, score)
    low, high = sorted(lams)
    small, large = np.asarray(prediction_sets(scores, low)), np.asarray(prediction_sets(scores, high))
    assert not (small & ~large).any()
    cover = cover_scores(scores, correct)
    loss = np.asarray(misrouting_loss(cover, jnp.array([low, high])))
    assert (loss[1] <= loss[0]).all()
    # The loss from the cover score is exactly "the set misses every model in G'(x)".
    truth = np.asarray(augmented_truth(correct))
    for lam, row in ((low, loss[0]), (high, loss[1])):
        members = np.asarray(prediction_sets(scores, lam))
        assert ((~(members & truth).any(axis=1)).astype(row.dtype) == row).all()
    assert not np.asarray(misrouting_loss(cover, SCORE_UPPER_LIMIT)).any()


def brute_force_lambda(cover: np.ndarray, rule: str, alpha: float, delta: float) -> float:
    """inf{λ : every λ' >= λ is admissible}, in float64 over every candidate threshold."""
    n = cover.shape[0]
    if not bounds.is_admissible(rule, 0, n, alpha, delta):
        return SCORE_UPPER_LIMIT
    best = SCORE_UPPER_LIMIT
    for value in sorted(set(cover.tolist()) | {SCORE_UPPER_LIMIT}, reverse=True):
        if not bounds.is_admissible(rule, int((cover > value).sum()), n, alpha, delta):
            return best
        best = value
    # Every candidate passed; below the smallest cover score all n queries are errors.
    return -math.inf if bounds.is_admissible(rule, n, n, alpha, delta) else best


@fuzz(250)
@given(
    router=routers(),
    null=st.sampled_from(NULL_OPTIONS),
    score=st.sampled_from(SCORES),
    rule=st.sampled_from(bounds.COUNT_BASED_RULES),
    alpha=st.sampled_from([0.05, 0.1, 0.3, 0.7]),
    delta=st.sampled_from([0.05, 0.2, 0.6]),
)
def test_lambda_equals_brute_force(router, null, score, rule, alpha, delta):
    probs, null_head, correct = router
    scores = nonconformity(probs, null_head, null, score)
    cover = cover_scores(scores, correct)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfeasibleCalibrationWarning)
        cal = calibrate(cover, alpha, delta, rule)
    cover64 = np.asarray(cover).astype(np.float64)
    assert float(cal.lambda_hat) == brute_force_lambda(cover64, rule, alpha, delta)
    errors = int((cover64 > float(cal.lambda_hat)).sum())
    if cal.feasible:
        assert errors <= int(cal.error_count)
    else:
        assert errors == 0


@fuzz(150)
@given(
    n=st.integers(1, 400),
    k=st.integers(0, 400),
    rule=st.sampled_from(bounds.CONFIDENCE_BOUNDS),
    delta=st.floats(0.01, 0.99),
)
def test_bound_monotone(n, k, rule, delta):
    k = min(k, n)
    ucb = bounds.upper_confidence_bound(rule, k, n, delta)
    assert k / n <= ucb + 1e-12
    assert ucb <= 1.0
    if k < n:
        assert bounds.upper_confidence_bound(rule, k + 1, n, delta) >= ucb - 1e-12
    assert bounds.upper_confidence_bound(rule, k, n, min(0.999, delta * 1.5)) <= ucb + 1e-12


@fuzz(150)
@given(
    n=st.integers(1, 300),
    rule=st.sampled_from(bounds.COUNT_BASED_RULES),
    alpha=st.floats(0.01, 0.9),
    delta=st.floats(0.01, 0.9),
)
def test_admissible_count_monotone(n, rule, alpha, delta):
    k_star = bounds.admissible_error_count(rule, n, alpha, delta)
    assert -1 <= k_star <= n
    assert bounds.admissible_error_count(rule, n + 1, alpha, delta) >= k_star
    assert bounds.admissible_error_count(rule, n, min(0.95, alpha * 1.2), delta) >= k_star
    if rule != "crc":
        assert bounds.admissible_error_count(rule, n, alpha, min(0.95, delta * 1.2)) >= k_star
    if k_star >= 0:
        assert bounds.is_admissible(rule, k_star, n, alpha, delta)
    if k_star < n:
        assert not bounds.is_admissible(rule, k_star + 1, n, alpha, delta)


# --- loaders ---------------------------------------------------------------------------------------

prompts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r")
    | st.sampled_from([",", '"', "\n", "'", ";"]),
    min_size=1,
    max_size=30,
)
cells = st.one_of(st.none(), st.sampled_from([0.0, 1.0]), st.floats(0, 1))


@st.composite
def tables(draw):
    """A small routing table: distinct prompts, model names, and scores with missing cells."""
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 3))
    texts = draw(st.lists(prompts, min_size=n, max_size=n, unique=True))
    names = draw(
        st.lists(
            st.text("abcXYZ-_./0123456789 ", min_size=1, max_size=12), min_size=k, max_size=k, unique=True
        )
    )
    names = [name for name in names if name.strip() and "|" not in name]
    if not names or any(
        name in ("sample_id", "prompt", "eval_name", "oracle_model_to_route_to") for name in names
    ):
        names = [f"model{j}" for j in range(k)]
    scores = np.array(draw(st.lists(cells, min_size=n * len(names), max_size=n * len(names))), dtype=object)
    return texts, names, scores.reshape(n, len(names))


def write_json_table(path, texts, names, scores):
    records = [
        {"question": text, "scores": {name: scores[i, j] for j, name in enumerate(names)}}
        for i, text in enumerate(texts)
    ]
    path.write_text(json.dumps(records), encoding="utf-8")


def write_csv_table(path, texts, names, scores):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "sample_id", "prompt", "eval_name", *names, "oracle_model_to_route_to"])
        for i, text in enumerate(texts):
            row = ["" if v is None else repr(float(v)) for v in scores[i]]
            writer.writerow([i, f"id{i}", text, "fuzz", *row, names[0]])


@fuzz(150)
@given(table=tables(), fmt=st.sampled_from(["json", "csv"]))
def test_loader_round_trip(tmp_path_factory, table, fmt):
    texts, names, scores = table
    path = tmp_path_factory.mktemp("round") / f"data.{fmt}"
    (write_json_table if fmt == "json" else write_csv_table)(path, texts, names, scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        data = load_dataset(path, missing="wrong")
    assert data.texts == tuple(texts)
    expected = np.array([[math.nan if v is None else float(v) for v in row] for row in scores])
    by_name = data.select_models(names)
    np.testing.assert_array_equal(by_name.scores, expected)
    np.testing.assert_array_equal(by_name.correct, np.nan_to_num(expected, nan=0.0) > 0)


@fuzz(100)
@given(
    table=tables(),
    pieces=st.lists(st.integers(0, 2), min_size=18, max_size=18),
    order=st.randoms(use_true_random=False),
)
def test_split_rows_merge_round_trip(tmp_path_factory, table, pieces, order):
    """Cutting each query's scores over up to three rows and shuffling them merges back to the original."""
    texts, names, scores = table
    complete = np.where(np.equal(scores, None), 0.0, scores)
    rows = []
    for i in range(len(texts)):
        parts = {}
        for j in range(len(names)):
            parts.setdefault(pieces[(i * len(names) + j) % len(pieces)], {})[j] = complete[i, j]
        for part in parts.values():
            rows.append((i, [part.get(j) for j in range(len(names))]))
    order.shuffle(rows)
    path = tmp_path_factory.mktemp("split") / "data.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample_id", "prompt", *names])
        for i, values in rows:
            writer.writerow([f"id{i}", texts[i], *["" if v is None else repr(float(v)) for v in values]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        data = load_dataset(path, missing="error")
    first_seen = list(dict.fromkeys(i for i, _ in rows))
    assert data.ids == tuple(f"id{i}" for i in first_seen)
    np.testing.assert_array_equal(data.select_models(names).scores, complete[first_seen].astype(float))
    if len(rows) > len(texts):
        with pytest.raises(DataError, match="split over several rows"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            load_dataset(path, split_rows="error")


garbage = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.lists(
        st.sampled_from(
            [
                '"',
                ",",
                "\n",
                "[",
                "]",
                "{",
                "}",
                ":",
                "null",
                "NaN",
                "1e999",
                "-1",
                "0.5",
                '"question"',
                '"scores"',
                '"m"',
                "sample_id",
                "prompt",
                "m1",
            ]
        ),
        max_size=40,
    ).map(lambda parts: "".join(parts).encode()),
)


@fuzz(150)
@given(content=garbage, fmt=st.sampled_from(["json", "csv"]))
def test_loader_garbage_raises_data_error(tmp_path_factory, content, fmt):
    """Arbitrary bytes either load or raise DataError, never another exception."""
    path = tmp_path_factory.mktemp("garbage") / f"data.{fmt}"
    path.write_bytes(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            data = load_dataset(path, missing="wrong")
    except DataError as err:
        assert str(path) in str(err)
        return
    assert data.num_queries >= 1
    filled = data.scores[~np.isnan(data.scores)]
    assert ((filled >= 0) & (filled <= 1)).all()
    assert data.correct.shape == data.scores.shape
