"""Every bad input the library and ``racer run`` handle, each with the message it gets.

The table in ``docs/bad-input.md`` lists these tests by name.
"""

from __future__ import annotations

import csv
import json
import pickle
import re
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

from racer_jax import (
    DataError,
    DataWarning,
    InfeasibleCalibrationWarning,
    MLPRouter,
    admissible_error_count,
    augment_scores,
    calibrate,
    cli,
    cover_scores,
    lambda_from_error_count,
    load_dataset,
    load_features,
    nonconformity_scores,
    set_sizes,
    wsr_lambda,
    wsr_max_log_capital,
)
from racer_jax._src.data import merge_split_rows
from racer_jax._src.pipeline import RunConfig, check_calibration_size, load_data
from racer_jax._src.routers.serialization import RouterMismatchError, load_router, save_router

MODELS = ("m1", "m2")
CSV_HEADER = [
    "",
    "sample_id",
    "prompt",
    "eval_name",
    "m1",
    "m2",
    "m1|model_response",
    "m2|model_response",
    "m1|total_cost",
    "m2|total_cost",
    "oracle_model_to_route_to",
]


# A failed equinox.error_if surfaces as one of these, depending on the transformation
# (a plain jit gives a JaxRuntimeError, a vmapped callback a ValueError); the message is kept.
TRACED_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError, ValueError)


def raises(error, text):
    return pytest.raises(error, match=re.escape(text))


def write_routerdc(path, records):
    path.write_text(json.dumps(records))
    return path


def record(question, m1=1.0, m2=0.0):
    scores = {}
    if m1 is not None:
        scores["m1"] = m1
    if m2 is not None:
        scores["m2"] = m2
    return {"question": question, "scores": scores}


def write_routerbench(path, rows):
    """Write rows ``(sample_id, prompt, m1, m2)`` as a RouterBench CSV with responses and costs."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for i, (sample_id, prompt, m1, m2) in enumerate(rows):
            writer.writerow([i, sample_id, prompt, "test", m1, m2, "['A']", "['B']", "0.001", "0.002", "m1"])
    return path


def cover_of(n=50, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(n), dtype=jnp.float32)


# --- levels, calibration size and scores ----------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_alpha_outside_unit_interval(alpha):
    with raises(ValueError, "alpha must lie in the open interval (0, 1), for example 0.1; got"):
        calibrate(cover_of(), alpha=alpha, delta=0.1)


@pytest.mark.parametrize("delta", [0.0, 1.0, 2.0])
def test_delta_outside_unit_interval(delta):
    with raises(ValueError, f"delta must lie in the open interval (0, 1), for example 0.1; got {delta!r}"):
        calibrate(cover_of(), alpha=0.1, delta=delta)


@pytest.mark.parametrize("alpha", ["0.1", True, None])
def test_alpha_not_a_number(alpha):
    with raises(ValueError, f"alpha must be a number in (0, 1) such as 0.1; got {alpha!r}"):
        calibrate(cover_of(), alpha=alpha)


def test_wsr_levels_checked():
    with raises(ValueError, "delta must lie in the open interval (0, 1)"):
        wsr_lambda(cover_of(), 0.1, 1.0)


def test_calibration_too_small_warns():
    with pytest.warns(
        InfeasibleCalibrationWarning, match=r"with n=5 calibration queries \(at least n=22 are needed\)"
    ):
        cal = calibrate(cover_of(5), alpha=0.1, delta=0.1, rule="hb")
    assert not cal.feasible
    assert float(cal.lambda_hat) == 1.0


def test_calibration_size_not_whole():
    with raises(ValueError, "the calibration size n must be a whole number; got 2.5"):
        admissible_error_count("hb", 2.5, 0.1, 0.1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_cover_not_finite(bad):
    cover = np.array(cover_of(), dtype=np.float32)
    cover[7] = bad
    with raises(
        ValueError, f"cover must be finite, but 1 of 50 entries (first: cover[7] = {float(bad)!r}) are NaN"
    ):
        calibrate(cover)


def test_cover_wrong_shape():
    with raises(ValueError, "cover must have shape (n,) with n >= 1; got shape (5, 2)"):
        calibrate(jnp.zeros((5, 2)))
    with raises(ValueError, "cover must have shape (n,) with n >= 1; got shape (0,)"):
        lambda_from_error_count(jnp.zeros((0,)), 0)


def test_cover_integer_dtype():
    with raises(ValueError, "cover must be a floating-point array; got dtype int32"):
        calibrate(jnp.arange(10, dtype=jnp.int32))


@pytest.mark.parametrize("value, shown", [(1.5, "1.5"), (-0.25, "-0.25"), (np.nan, "nan"), (np.inf, "inf")])
def test_probabilities_outside_unit_interval(value, shown):
    probs = np.full((3, 2), 0.5, dtype=np.float32)
    probs[2, 1] = value
    with raises(
        ValueError, f"probs must lie in [0, 1] with no NaN, but 1 of 6 entries (first: probs[2, 1] = {shown})"
    ):
        augment_scores(probs, "one-minus-max")


def test_null_head_outside_unit_interval():
    with raises(
        ValueError, "null_head must lie in [0, 1] with no NaN, but 1 of 2 entries (first: null_head[1] = 2.0)"
    ):
        augment_scores(jnp.full((2, 2), 0.5), "learned", jnp.array([0.1, 2.0]))


def test_augmented_outside_unit_interval():
    with raises(
        ValueError,
        "augmented must lie in [0, 1] with no NaN, but 1 of 6 entries (first: augmented[0, 2] = 3.0)",
    ):
        nonconformity_scores(jnp.array([[0.1, 0.2, 3.0], [0.1, 0.2, 0.3]]))


def test_probabilities_checked_under_jit():
    bad = jnp.array([[0.5, 1.5]])
    with pytest.raises(TRACED_ERRORS, match=r"probs must lie in \[0, 1\] with no NaN"):
        jax.block_until_ready(jax.jit(augment_scores)(bad))
    with pytest.raises(TRACED_ERRORS, match=r"augmented must lie in \[0, 1\]"):
        jax.block_until_ready(eqx.filter_jit(nonconformity_scores)(jnp.array([[0.5, -1.0]])))


def test_probabilities_checked_under_vmap():
    fn = jax.jit(jax.vmap(lambda p: augment_scores(p, "product")))
    good = fn(jnp.full((2, 3, 2), 0.5))
    assert good.shape == (2, 3, 3)
    with pytest.raises(TRACED_ERRORS, match=r"probs must lie in \[0, 1\]"):
        jax.block_until_ready(fn(jnp.full((2, 3, 2), 0.5).at[1, 0, 0].set(jnp.nan)))


def test_probabilities_integer_dtype():
    with raises(ValueError, "probs must be a floating-point array; got dtype int32. Convert it first"):
        augment_scores(jnp.ones((2, 2), dtype=jnp.int32))


@pytest.mark.parametrize("shape", [(4,), (4, 0), (2, 3, 4)])
def test_probabilities_wrong_shape(shape):
    with raises(ValueError, f"probs must have shape (n, K) with K >= 1 models; got shape {shape}"):
        augment_scores(jnp.full(shape, 0.5))


def test_null_head_wrong_shape():
    with raises(ValueError, "null_head must have shape (3,); got (2,)"):
        augment_scores(jnp.full((3, 2), 0.5), "learned", jnp.array([0.1, 0.2]))


def test_router_and_data_model_counts_differ():
    scores = nonconformity_scores(augment_scores(jnp.full((4, 3), 0.5)))
    with raises(ValueError, "correct must have shape (4, 3) for scores of shape (4, 4)"):
        cover_scores(scores, jnp.ones((4, 2), dtype=bool))


def test_saved_router_other_models(tmp_path):
    path = str(tmp_path / "router.eqx")
    save_router(path, MLPRouter(6, 2, width=8, depth=1, key=jax.random.key(0)), ["m1", "m2"])
    with raises(
        RouterMismatchError, "was trained for models ['m1', 'm2'], but the data scores ['m1', 'm2', 'm3']"
    ):
        load_router(path, model_names=["m1", "m2", "m3"])
    with raises(
        RouterMismatchError, "expects 6-dimensional features, but the data has 5-dimensional features"
    ):
        load_router(path, model_names=["m2", "m1"], feature_dim=5)


# --- data files ----------------------------------------------------------------------------------


def test_file_not_found(tmp_path):
    with raises(DataError, f"data file not found: {tmp_path / 'absent.json'}"):
        load_dataset(tmp_path / "absent.json")


@pytest.mark.parametrize("name", ["empty.json", "empty.csv"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_text("  \n")
    with raises(DataError, "the file is empty"):
        load_dataset(tmp_path / name)


def test_unknown_extension(tmp_path):
    (tmp_path / "data.parquet").write_text("x")
    with raises(DataError, "unknown data format '.parquet'; expected a RouterDC .json or a RouterBench .csv"):
        load_dataset(tmp_path / "data.parquet")


def test_malformed_json_names_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"question": "a", "scores": {"m1": 1}},\n  {"question": "b" "scores": {}}\n]')
    with raises(DataError, "malformed JSON at line 3, column 20"):
        load_dataset(path)


def test_json_not_list(tmp_path):
    path = write_routerdc(tmp_path / "d.json", {"question": "a"})
    with raises(DataError, "expected a JSON list of records, got dict"):
        load_dataset(path)


def test_json_empty_list(tmp_path):
    with raises(DataError, "the file contains no queries"):
        load_dataset(write_routerdc(tmp_path / "d.json", []))


def test_json_record_without_scores(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), {"question": "b"}])
    with raises(DataError, "record 1 lacks 'question' or a 'scores' object"):
        load_dataset(path)


def test_json_question_not_text(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [{"question": 12, "scores": {"m1": 1}}])
    with raises(DataError, "record 0: 'question' must be a string; got int"):
        load_dataset(path)


def test_json_no_model_scores(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [{"question": "a", "scores": {}}])
    with raises(DataError, "no record has any model score"):
        load_dataset(path)


@pytest.mark.parametrize(
    "value, message",
    [
        ('"high"', "record 1, model 'm2': score 'high' is not a number"),
        ("true", "record 1, model 'm2': score True is not a number"),
        ("NaN", "record 1, model 'm2': score nan is not a finite number; a score must lie in [0, 1]"),
        ("Infinity", "record 1, model 'm2': score inf is not a finite number"),
        ("1.5", "record 1, model 'm2': score 1.5 lies outside [0, 1]"),
        ("-1", "record 1, model 'm2': score -1.0 lies outside [0, 1]"),
    ],
)
def test_json_bad_score(tmp_path, value, message):
    path = tmp_path / "d.json"
    path.write_text(
        f'[{{"question": "a", "scores": {{"m1": 1, "m2": 0}}}}, {{"question": "b", "scores": {{"m1": 1, "m2": {value}}}}}]'
    )
    with raises(DataError, message):
        load_dataset(path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "d.json"
    path.write_bytes(b'[{"question": "a",\n "scores": {"m1": 1}}, {"question": "\xff", "scores": {"m1": 1}}]')
    with raises(DataError, "line 2 is not valid UTF-8"):
        load_dataset(path)


def test_csv_unclosed_quote_names_line(tmp_path):
    path = write_routerbench(tmp_path / "d.csv", [("s0", "fine", "1.0", "0.0")])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('1,s1,"never closed,test,1.0,0.0,a,b,0,0,m1\n')
    with raises(DataError, "malformed CSV at line 3: unexpected end of data"):
        load_dataset(path)


def test_csv_field_count_names_line(tmp_path):
    path = write_routerbench(tmp_path / "d.csv", [("s0", "one\ntwo\nthree", "1.0", "0.0")])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("1,s1,short row\n")
    with raises(DataError, "line 5 has 3 fields but the header has 11"):
        load_dataset(path)


@pytest.mark.parametrize(
    "cell, message",
    [
        ("abc", "line 3, column 'm2': 'abc' is not a number"),
        ("nan", "line 3, column 'm2': nan is not a finite number; correctness must lie in [0, 1]"),
        ("2", "line 3, column 'm2': 2.0 lies outside [0, 1]"),
    ],
)
def test_csv_bad_correctness(tmp_path, cell, message):
    path = write_routerbench(tmp_path / "d.csv", [("s0", "a", "1.0", "0.0"), ("s1", "b", "1.0", cell)])
    with raises(DataError, message):
        load_dataset(path)


def test_csv_negative_cost(tmp_path):
    path = write_routerbench(tmp_path / "d.csv", [("s0", "a", "1.0", "0.0")])
    text = path.read_text().replace("0.001", "-0.5")
    path.write_text(text)
    with raises(DataError, "line 2, cost of 'm1': -0.5 is not a finite cost >= 0"):
        load_dataset(path)


def test_csv_header_only(tmp_path):
    path = write_routerbench(tmp_path / "d.csv", [])
    with raises(DataError, "the file contains no queries"):
        load_dataset(path)


def test_csv_missing_required_column(tmp_path):
    (tmp_path / "d.csv").write_text("id,prompt,m1\n0,a,1.0\n")
    with raises(DataError, "missing column 'sample_id'; is this a RouterBench CSV?"):
        load_dataset(tmp_path / "d.csv")


def test_csv_without_model_columns(tmp_path):
    (tmp_path / "d.csv").write_text("sample_id,prompt\ns0,a\n")
    with raises(DataError, "no model correctness columns found"):
        load_dataset(tmp_path / "d.csv")


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("missing", "ignore", "invalid missing policy 'ignore': expected one of 'error', 'drop', 'wrong'"),
        ("duplicates", "first", "invalid duplicate policy 'first'"),
        ("split_rows", "join", "invalid split-row policy 'join': expected one of 'merge', 'error'"),
    ],
)
def test_invalid_policy(tmp_path, option, value, message):
    path = write_routerdc(tmp_path / "d.json", [record("a")])
    with raises(ValueError, message):
        load_dataset(path, **{option: value})


def test_correct_above_not_finite(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a")])
    with raises(DataError, "correct_above must be a finite number such as 0.0 or 0.5; got nan"):
        load_dataset(path, correct_above=float("nan"))


# --- features ------------------------------------------------------------------------------------


def test_feature_rows_mismatch(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b"), record("c"), record("d")])
    np.save(tmp_path / "f.npy", np.zeros((3, 5), dtype=np.float32))
    expected = f"features for {path} (from {tmp_path / 'f.npy'}) have 3 rows but the file has 4 queries; pass the feature file"
    with raises(DataError, expected):
        load_dataset(path, features=tmp_path / "f.npy")


def test_features_one_dimensional(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b")])
    with raises(DataError, "must be a 2-D array (queries, dims); got shape (2,)"):
        load_dataset(path, features=np.zeros(2))


def test_features_not_finite(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b")])
    features = np.zeros((2, 3))
    features[1, 2] = np.inf
    with raises(DataError, "contain NaN or infinite values in 1 rows (first: row 1)"):
        load_dataset(path, features=features)


def test_pickled_object_npy_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"payload": 1}, None], dtype=object), allow_pickle=True)
    with raises(DataError, "not a NumPy .npy file of numbers (a text file, or an array of Python objects"):
        load_features(path)


def test_pickle_file_refused(tmp_path):
    path = tmp_path / "features.npy"
    path.write_bytes(pickle.dumps(np.zeros((2, 2))))
    with raises(DataError, "not a NumPy .npy file of numbers"):
        load_features(path)


def test_npz_archive_refused(tmp_path):
    path = tmp_path / "features.npz"
    np.savez(path, a=np.zeros((2, 2)))
    with raises(DataError, "is an .npz archive, not one array; save the features with numpy.save"):
        load_features(path)


def test_feature_file_not_found(tmp_path):
    with raises(DataError, "feature file not found"):
        load_features(tmp_path / "absent.npy")


# --- code in data is text --------------------------------------------------------------------------


def test_code_in_json_is_text(tmp_path):
    marker = tmp_path / "executed"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    path = write_routerdc(tmp_path / "d.json", [record(code), record("b")])
    data = load_dataset(path)
    assert data.texts[0] == code
    assert not marker.exists()


def test_code_in_csv_is_text(tmp_path):
    marker = tmp_path / "executed"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    path = write_routerbench(tmp_path / "d.csv", [("s0", code, "1.0", "0.0"), ("s1", "b", "0.0", "1.0")])
    data = load_dataset(path)
    assert data.texts[0] == code
    assert data.responses[0, 0] == "['A']"
    assert not marker.exists()


# --- missing cells, duplicates, split rows ----------------------------------------------------------


def test_missing_cells_error(tmp_path):
    path = write_routerdc(
        tmp_path / "d.json", [record("a"), record("b", m2=None), record("c", m1=None, m2=None), record("d")]
    )
    path.write_text(
        path.read_text().replace(
            '{"question": "c", "scores": {}}', '{"question": "c", "scores": {"m1": null, "m2": null}}'
        )
    )
    with raises(DataError, "3 correctness cells are missing in 2 queries; choose a missing-value policy"):
        load_dataset(path, missing="error")


def test_missing_cells_drop_warns(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b", m2=None), record("c")])
    with pytest.warns(DataWarning, match="1 correctness cells missing in 1 queries; dropped those queries"):
        data = load_dataset(path, missing="drop")
    assert data.texts == ("a", "c")


def test_missing_cells_wrong_warns(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b", m1=1.0, m2=None)])
    with pytest.warns(DataWarning, match="counted them as wrong"):
        data = load_dataset(path, missing="wrong")
    assert data.correct.tolist() == [[True, False], [True, False]]


def test_duplicates_warn_with_count(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b"), record("a"), record("a")])
    with pytest.warns(DataWarning, match="2 queries repeat an earlier query's text; pass duplicates='drop'"):
        data = load_dataset(path)
    assert data.num_queries == 4


def test_duplicates_drop(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a"), record("b"), record("a", m1=0.0)])
    with pytest.warns(DataWarning, match="dropped 1 repeated queries"):
        data = load_dataset(path, duplicates="drop")
    assert data.texts == ("a", "b")
    assert data.correct[0].tolist() == [True, False]


def test_split_json_question_merged(tmp_path):
    records = [record("a", m1=1.0, m2=None), record("b"), record("a", m1=None, m2=0.5)]
    path = write_routerdc(tmp_path / "d.json", records)
    with pytest.warns(
        DataWarning,
        match=r"only some models: 1 \(2 rows, ids: .*d.json:0, d.json:2\); merged each into one row",
    ):
        data = load_dataset(path, features=np.arange(6.0).reshape(3, 2))
    assert data.texts == ("a", "b")
    assert data.scores.tolist() == [[1.0, 0.5], [1.0, 0.0]]
    assert data.features.tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_split_csv_sample_merged(tmp_path):
    rows = [("s0", "p0", "1.0", ""), ("s1", "p1", "0.0", "1.0"), ("s0", "p0 again", "", "0.0")]
    path = write_routerbench(tmp_path / "d.csv", rows)
    with pytest.warns(DataWarning, match=r"only some models: 1 \(2 rows, ids: s0 \(2 rows\)\); merged each"):
        data = load_dataset(path)
    assert data.ids == ("s0", "s1")
    assert data.texts == ("p0", "p1")
    assert data.scores.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert data.costs.tolist() == [[0.001, 0.002], [0.001, 0.002]]


def test_split_rows_error_lists_ids(tmp_path):
    rows = [
        ("s0", "p0", "1.0", ""),
        ("s0", "p0", "", "0.0"),
        ("s1", "p1", "", "1.0"),
        ("s1", "p1", "0.0", ""),
    ]
    path = write_routerbench(tmp_path / "d.csv", rows)
    with raises(
        DataError,
        "queries split over several rows that each score only some models: 2 (ids: s0 (2 rows); s1 (2 rows)); pass split_rows='merge'",
    ):
        load_dataset(path, split_rows="error")


def test_split_rows_conflict(tmp_path):
    rows = [("s0", "p0", "1.0", ""), ("s0", "p0", "0.0", "1.0")]
    path = write_routerbench(tmp_path / "d.csv", rows)
    with raises(
        DataError,
        "rows s0 (2 rows) are one query split over several rows, but they give model 'm1' different scores [0.0, 1.0]",
    ):
        load_dataset(path)


def test_complete_repeats_not_merged(tmp_path):
    data = load_dataset(write_routerdc(tmp_path / "d.json", [record("a"), record("b")]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = merge_split_rows(data, "texts", "error")
    assert same is data


# --- train and evaluation files --------------------------------------------------------------------


def write_pair(tmp_path, train_records, eval_records, train_dim=3, eval_dim=3):
    paths = {}
    for name, records, dim in [("train", train_records, train_dim), ("eval", eval_records, eval_dim)]:
        write_routerdc(tmp_path / f"{name}.json", records)
        np.save(tmp_path / f"{name}.npy", np.ones((len(records), dim), dtype=np.float32))
        paths[name] = str(tmp_path / f"{name}.json")
        paths[f"{name}_features"] = str(tmp_path / f"{name}.npy")
    return paths


def test_train_eval_model_lists_differ(tmp_path):
    other = [{"question": "x", "scores": {"m1": 1.0, "m3": 0.0}}]
    paths = write_pair(tmp_path, [record("a")], other)
    with raises(
        DataError, "score different models: only in training ['m2'], only in evaluation ['m3']"
    ):
        load_data(RunConfig(**paths))


def test_train_eval_feature_dims_differ(tmp_path):
    paths = write_pair(tmp_path, [record("a")], [record("b")], train_dim=3, eval_dim=4)
    with raises(DataError, "training features have 3 columns but evaluation features have 4"):
        load_data(RunConfig(**paths))


def test_train_eval_overlap_warns(tmp_path):
    paths = write_pair(tmp_path, [record("a"), record("b")], [record("b"), record("c"), record("a")])
    with pytest.warns(
        DataWarning, match="2 evaluation queries also appear in the training file; pass --drop-overlap"
    ):
        _, evaluation = load_data(RunConfig(**paths))
    assert evaluation.num_queries == 3


def test_train_eval_overlap_dropped(tmp_path):
    paths = write_pair(tmp_path, [record("a"), record("b")], [record("b"), record("c"), record("a")])
    with pytest.warns(
        DataWarning, match="dropped 2 evaluation queries that also appear in the training file"
    ):
        _, evaluation = load_data(RunConfig(drop_overlap=True, **paths))
    assert evaluation.texts == ("c",)


def test_eval_models_matched_by_name(tmp_path):
    swapped = [{"question": "x", "scores": {"m2": 0.0, "m1": 1.0}}]
    paths = write_pair(tmp_path, [record("a")], swapped)
    train, evaluation = load_data(RunConfig(**paths))
    assert evaluation.model_names == train.model_names
    assert evaluation.correct.tolist() == [[True, False]]


# --- the command line --------------------------------------------------------------------------------


def invoke(args):
    result = CliRunner().invoke(cli.main, args)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.mark.parametrize(
    "args, message",
    [
        (["--alpha", "1.5"], "alpha must lie in the open interval (0, 1), for example 0.1; got 1.5"),
        (["--delta", "0"], "delta must lie in the open interval (0, 1), for example 0.1; got 0.0"),
        (["--cal-fraction", "1.0"], "cal_fraction must lie in the open interval (0, 1)"),
        (
            ["--train", "README.md"],
            "real data needs all four of --train, --train-features, --eval and --eval-features",
        ),
    ],
)
def test_cli_bad_option(tmp_path, args, message):
    result = invoke(["run", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 1
    assert message in result.output


def test_cli_malformed_data_file(tmp_path):
    paths = write_pair(tmp_path, [record("a"), record("b")], [record("c"), record("d")])
    (tmp_path / "eval.json").write_text('[{"question": "c", "scores": {"m1": 1}},\n {"question": "d",}]')
    result = invoke(
        [
            "run",
            "--out",
            str(tmp_path / "out"),
            "--train",
            paths["train"],
            "--train-features",
            paths["train_features"],
            "--eval",
            paths["eval"],
            "--eval-features",
            paths["eval_features"],
        ]
    )
    assert result.exit_code == 1
    assert "eval.json: malformed JSON at line 2, column 19" in result.output


def test_cli_calibration_too_small(tmp_path):
    records = [record(f"q{i}") for i in range(40)]
    paths = write_pair(tmp_path, records[:20], records[20:])
    result = invoke(
        [
            "run",
            "--out",
            str(tmp_path / "out"),
            "--train",
            paths["train"],
            "--train-features",
            paths["train_features"],
            "--eval",
            paths["eval"],
            "--eval-features",
            paths["eval_features"],
        ]
    )
    assert result.exit_code == 1
    assert "calibration is infeasible: 10 calibration queries (cal_fraction 0.5 of 20)" in result.output
    assert "at least 22 are needed" in result.output


@pytest.mark.parametrize("transform", ["jit", "vmap"])
def test_cli_jax_runtime_error(tmp_path, monkeypatch, transform):
    def failing_run(*args, **kwargs):
        if transform == "jit":
            return jax.block_until_ready(jax.jit(augment_scores)(jnp.array([[0.5, 7.0]])))
        return jax.block_until_ready(jax.vmap(augment_scores)(jnp.array([[[0.5, 7.0]]])))

    monkeypatch.setattr(cli, "run_job", failing_run)
    result = invoke(["run", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "probs must lie in [0, 1] with no NaN; pass per-model probabilities" in result.output
    assert "--------------------" not in result.output


def test_train_eval_overlap_everything(tmp_path):
    paths = write_pair(tmp_path, [record("a"), record("b")], [record("b"), record("a")])
    with (
        pytest.warns(DataWarning),
        raises(DataError, "every one of the 2 evaluation queries also appears in the training file"),
    ):
        load_data(RunConfig(drop_overlap=True, **paths))


def test_cli_split_rows_error(tmp_path):
    split = [record("a", m2=None), record("b"), record("a", m1=None)]
    paths = write_pair(tmp_path, [record("x"), record("y")], split)
    result = invoke(
        [
            "run",
            "--out",
            str(tmp_path / "out"),
            "--train",
            paths["train"],
            "--train-features",
            paths["train_features"],
            "--eval",
            paths["eval"],
            "--eval-features",
            paths["eval_features"],
            "--split-rows",
            "error",
        ]
    )
    assert result.exit_code == 1
    assert (
        "queries split over several rows that each score only some models: 1 (ids: eval.json:0, eval.json:2)"
        in result.output
    )


def test_nothing_left_after_cleaning(tmp_path):
    path = write_routerdc(tmp_path / "d.json", [record("a", m2=None), record("b", m1=None)])
    with (
        pytest.warns(DataWarning, match="2 correctness cells missing in 2 queries"),
        raises(DataError, "no queries are left after cleaning"),
    ):
        load_dataset(path)


def test_wsr_losses_checked():
    with raises(ValueError, "losses must lie in [0, 1] with no NaN"):
        wsr_max_log_capital(np.array([0.0, 2.0]), 0.1, 0.1)
    with raises(ValueError, "losses must have shape (n,) with n >= 1; got shape (0,)"):
        wsr_max_log_capital(np.zeros(0), 0.1, 0.1)


def test_cal_fraction_leaves_no_query():
    with raises(
        ValueError, "cal_fraction 0.01 leaves no calibration or no test query among 20 evaluation queries"
    ):
        check_calibration_size(RunConfig(cal_fraction=0.01), 20)
    with raises(ValueError, "calibration is infeasible: 10 calibration queries (cal_fraction 0.5 of 20)"):
        check_calibration_size(RunConfig(), 20)


def test_scores_wrong_shape():
    message = "scores must have shape (n, K + 1) with K >= 1 and the null model last; got shape (3,)"
    with raises(ValueError, message):
        set_sizes(jnp.zeros(3), 0.5)
    with raises(ValueError, message):
        cover_scores(jnp.zeros(3), jnp.zeros(3, dtype=bool))
