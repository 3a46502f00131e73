"""Loaders on the real RouterDC and RouterBench files."""

import warnings

import numpy as np
import pytest

from racer_jax import DataWarning, load_dataset, load_routerbench, load_routerdc, overlapping_queries
from tests.conftest import require_shared_data

ROUTERDC_MODELS = (
    "mistralai/Mistral-7B-v0.1",
    "meta-math/MetaMath-Mistral-7B",
    "itpossible/Chinese-Mistral-7B-v0.1",
    "HuggingFaceH4/zephyr-7b-beta",
    "cognitivecomputations/dolphin-2.6-mistral-7b",
    "meta-llama/Meta-Llama-3-8B",
    "cognitivecomputations/dolphin-2.9-llama3-8b",
)


@pytest.mark.parametrize(
    "name,queries",
    [("mmlu_test", 4213), ("cmmlu_train", 2000), ("arc_challenge_test", 352), ("gsm8k-train", 1000), ("humaneval_test", 49)],
)
def test_routerdc_shapes_and_binarisation(name, queries):
    data = load_routerdc(require_shared_data() / "routerdc" / f"{name}.json")
    assert data.scores.shape == (queries, 7)
    assert [m.split("/")[-1] for m in data.model_names] == [m.split("/")[-1] for m in ROUTERDC_MODELS]
    assert np.array_equal(data.correct, data.scores > 0)
    assert not np.isnan(data.scores).any()


def test_routerdc_rates_match_published_table():
    root = require_shared_data() / "routerdc"
    data = load_routerdc(root / "mmlu_test.json")
    none_correct = np.mean(~data.correct.any(axis=1))
    all_correct = np.mean(data.correct.all(axis=1))
    # The data's README rounds these to whole percents: 15% and 35%.
    assert abs(none_correct - 0.15) < 0.01
    assert abs(all_correct - 0.35) < 0.01


def test_routerdc_with_features_and_duplicates():
    root = require_shared_data()
    with pytest.warns(DataWarning, match="8 queries repeat"):
        kept = load_dataset(root / "routerdc" / "mmlu_test.json", features=root / "embeddings" / "routerdc" / "mmlu_test.npy")
    assert kept.features.shape == (4213, 384)
    assert kept.features.dtype == np.float32
    with pytest.warns(DataWarning, match="dropped 8 repeated"):
        dropped = load_dataset(
            root / "routerdc" / "mmlu_test.json",
            features=root / "embeddings" / "routerdc" / "mmlu_test.npy",
            duplicates="drop",
        )
    assert dropped.num_queries == 4205
    # Features stay aligned with their queries after dropping rows.
    first_text = dropped.texts[100]
    assert np.array_equal(dropped.features[100], kept.features[kept.texts.index(first_text)])


def test_routerbench_columns_costs_and_missing_cells():
    root = require_shared_data()
    raw = load_routerbench(root / "routerbench" / "arc_challenge_test.csv")
    assert raw.num_queries == 445
    assert raw.num_models == 11
    assert raw.costs is not None and raw.costs.shape == (445, 11)
    assert np.all(raw.costs[~np.isnan(raw.costs)] >= 0)
    assert raw.responses is not None and isinstance(raw.responses[0, 0], str)
    missing_rows = int(np.isnan(raw.scores).any(axis=1).sum())
    assert missing_rows > 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cleaned = load_dataset(root / "routerbench" / "arc_challenge_test.csv")
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("cells missing in" in m and "dropped" in m for m in messages), messages
    assert not np.isnan(cleaned.scores).any()
    assert 445 - missing_rows <= cleaned.num_queries < 445


def test_models_matched_by_name_not_position():
    root = require_shared_data()
    data = load_routerdc(root / "routerdc" / "gsm8k-test.json")
    reversed_names = data.model_names[::-1]
    reordered = data.select_models(reversed_names)
    for j, name in enumerate(reversed_names):
        assert np.array_equal(reordered.correct[:, j], data.correct[:, data.model_names.index(name)])


def test_train_eval_overlap_is_found():
    root = require_shared_data() / "routerdc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        train = load_dataset(root / "mmlu_train.json")
        test = load_dataset(root / "mmlu_test.json")
    overlap = overlapping_queries(train, test)
    assert overlap.sum() == 16
