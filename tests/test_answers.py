import numpy as np
import pytest

from racer_jax._src.answers import UNPARSEABLE, answer_table, derive_gold, parse_choice, parse_responses
from tests.conftest import require_shared_data


@pytest.mark.parametrize(
    "response, expected",
    [
        ("['A']", 0),
        ("['B']", 1),
        ("['C\\n']", 2),  # the files keep an escaped newline as backslash + n
        ("['D)']", 3),
        ("['A.']", 0),
        ("['A:']", 0),
        ("['D (']", 3),
        ("['(B)']", 1),
        ("['C) because it is']", 2),
        ('["B"]', 1),
        ("B", 1),
        ("  ['A']  ", 0),
    ],
)
def test_parse_choice_letters(response, expected):
    assert parse_choice(response) == expected


@pytest.mark.parametrize(
    "response",
    [
        "['I do']",
        "['Unfortunately I']",
        "['A chart']",  # a letter followed by words may be the first word of a sentence
        "['E']",
        "['G\\n']",
        "['13']",
        "['a']",
        "['AB']",
        "[]",
        "['']",
        "",
        None,
        float("nan"),
        3,
    ],
)
def test_parse_choice_unparseable(response):
    assert parse_choice(response) == UNPARSEABLE


def test_parse_never_evaluates_text():
    # A response written as Python code must be parsed as text, never executed.
    assert parse_choice("[__import__('os').getcwd()]") == UNPARSEABLE


def test_parse_responses_shape_and_dtype():
    parsed = parse_responses(np.array([["['A']", "['x']"], ["['D\\n']", None]], dtype=object))
    np.testing.assert_array_equal(parsed, [[0, -1], [3, -1]])
    assert parsed.dtype == np.int32


def test_parse_responses_rejects_1d():
    with pytest.raises(ValueError, match="shape"):
        parse_responses(np.array(["['A']"], dtype=object))


def test_gold_from_correct_models():
    choices = np.array([[0, 1, 0], [2, -1, 2], [1, 1, 3], [0, 1, 2], [0, 1, -1]])
    correct = np.array(
        [
            [True, False, True],  # both correct models answer A
            [False, True, True],  # the unparseable correct model is ignored
            [False, False, False],  # no model correct: no gold
            [True, True, False],  # correct models disagree: a conflict, no gold
            [False, False, True],  # the only correct model did not parse: no gold
        ]
    )
    gold, conflicts = derive_gold(choices, correct)
    np.testing.assert_array_equal(gold, [0, 2, -1, -1, -1])
    assert conflicts == 1


def test_answer_table_counts():
    responses = np.array([["['A']", "['I do']"], ["['B']", "['B']"], ["['C']", "['x']"]], dtype=object)
    correct = np.array([[True, False], [False, True], [False, True]])
    table = answer_table(responses, correct)
    np.testing.assert_array_equal(table.unparseable, [0, 2])
    np.testing.assert_array_equal(table.gold, [0, 1, -1])
    assert table.no_gold == 1
    assert table.no_gold_but_correct == 1
    assert table.conflicts == 0


def test_routerbench_arc_answers():
    data_dir = require_shared_data()
    from racer_jax._src.data import load_routerbench

    data = load_routerbench(data_dir / "routerbench" / "arc_challenge_test.csv")
    table = answer_table(data.responses, data.correct)
    # Most responses are a bare option letter; a few models answer in prose.
    assert (table.choices != UNPARSEABLE).mean() > 0.9
    assert table.conflicts == 0
    assert table.no_gold < 0.05 * data.num_queries
    # Every parsed answer of a model marked correct equals the derived gold choice.
    known = table.gold != UNPARSEABLE
    usable = data.correct & (table.choices != UNPARSEABLE) & known[:, None]
    assert np.all(table.choices[usable] == np.broadcast_to(table.gold[:, None], table.choices.shape)[usable])
