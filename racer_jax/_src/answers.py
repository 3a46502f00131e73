r"""Multiple-choice answers from raw model responses, and the gold answer derived from them.

Choices are integer ids: ``0, 1, 2, 3`` for the options ``A, B, C, D``, and
:data:`UNPARSEABLE` (``-1``) for a response from which no option can be read.

Parsing rule for one response (plain string operations; the text is never evaluated):

1. RouterBench stores a response as a Python-list-like string such as ``['B']``. One
   pair of enclosing brackets, then one pair of matching quotes inside them, is removed
   when present; anything else is kept as free text.
2. Surrounding whitespace is removed, and so are the escaped whitespace sequences
   ``\n``, ``\r`` and ``\t`` written as backslash and letter, which these files keep
   literally (``['A\n']``).
3. The remaining text is a choice when it is a single letter ``A`` to ``D`` (upper
   case), optionally wrapped as ``(A)``; or a letter followed by ``)``, ``.`` or ``:``
   (and optionally by whitespace and any text), or by whitespace and an opening
   parenthesis (``D (``, the start of an explanation).
   Anything else is unparseable: free text such as ``I do``, a letter outside ``A``
   to ``D`` (``E``), or a letter followed by words (``A chart``), which could be either
   an option letter or the first word of a sentence.

The gold answer of a query is not stored in RouterBench files. It is derived from the
models marked correct: the choice that those correct models whose response parses
agree on. A query has no derivable gold (:data:`UNPARSEABLE`) when no correct model's
response parses, or when correct models disagree, which signals a data error.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

CHOICE_LETTERS = ("A", "B", "C", "D")
NUM_CHOICES = len(CHOICE_LETTERS)
UNPARSEABLE = -1

_ESCAPED_WHITESPACE = ("\\n", "\\r", "\\t")
_CHOICE_PATTERN = re.compile(r"\(?([A-D])(?:[).:](?:\s.*)?|\s+\(.*)?", re.DOTALL)


def _strip_list_wrapper(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        text = text[1:-1].strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
    return text


def _strip_whitespace(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = text.strip()
        for escape in _ESCAPED_WHITESPACE:
            text = text.removeprefix(escape).removesuffix(escape)
    return text


def parse_choice(response: object) -> int:
    """Parse one raw response into a choice id ``0..3``, or :data:`UNPARSEABLE`.

    ``response`` may be any object: a value that is not a ``str`` (a missing cell read as
    ``None`` or NaN) is unparseable. The rule is in this module's docstring.

    >>> parse_choice("['B']"), parse_choice("['C\\\\n']"), parse_choice("['I do']")
    (1, 2, -1)
    """
    if not isinstance(response, str):
        return UNPARSEABLE
    text = _strip_whitespace(_strip_list_wrapper(response))
    match = _CHOICE_PATTERN.fullmatch(text)
    if match is None:
        return UNPARSEABLE
    return CHOICE_LETTERS.index(match.group(1))


def parse_responses(responses: np.ndarray) -> np.ndarray:
    """Parse a ``(n, K)`` array of raw responses into int32 choice ids of the same shape."""
    responses = np.asarray(responses, dtype=object)
    if responses.ndim != 2:
        raise ValueError(f"responses must have shape (n, K); got shape {responses.shape}")
    parsed = [parse_choice(cell) for cell in responses.ravel()]
    return np.asarray(parsed, dtype=np.int32).reshape(responses.shape)


def derive_gold(choices: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, int]:
    """Derive each query's gold choice from the correct models' parsed answers.

    **Arguments:**

    - ``choices``: parsed choice ids, int ``(n, K)``, :data:`UNPARSEABLE` where a
      response could not be read.
    - ``correct``: bool ``(n, K)``, whether the data marks model ``m`` correct on query ``i``.

    **Returns:** ``(gold, conflicts)``: ``gold`` is int32 ``(n,)`` holding the choice that
    every parseable correct answer agrees on, or :data:`UNPARSEABLE` when there is none
    or they disagree; ``conflicts`` counts the queries where they disagree.
    """
    choices = np.asarray(choices)
    correct = np.asarray(correct, dtype=bool)
    if choices.shape != correct.shape or choices.ndim != 2:
        raise ValueError(
            f"choices and correct must have the same shape (n, K); got {choices.shape} and {correct.shape}"
        )
    usable = correct & (choices != UNPARSEABLE)
    votes = np.stack([(usable & (choices == c)).sum(axis=1) for c in range(NUM_CHOICES)], axis=1)
    distinct = (votes > 0).sum(axis=1)
    gold = np.where(distinct == 1, votes.argmax(axis=1), UNPARSEABLE).astype(np.int32)
    return gold, int((distinct > 1).sum())


class AnswerTable(NamedTuple):
    """Parsed answers of ``K`` models on ``n`` queries, with the derived gold answers.

    - ``choices``: int32 ``(n, K)`` choice ids, :data:`UNPARSEABLE` where unreadable.
    - ``gold``: int32 ``(n,)`` gold choice ids, :data:`UNPARSEABLE` where none is derivable.
    - ``unparseable``: int ``(K,)`` count of unparseable responses per model.
    - ``no_gold``: queries without a derivable gold answer.
    - ``no_gold_but_correct``: of those, queries where some model is marked correct
      (its response did not parse), so an aggregated answer may be judged wrong unfairly.
    - ``conflicts``: queries whose correct models gave different parsed choices.
    """

    choices: np.ndarray
    gold: np.ndarray
    unparseable: np.ndarray
    no_gold: int
    no_gold_but_correct: int
    conflicts: int


def answer_table(responses: np.ndarray, correct: np.ndarray) -> AnswerTable:
    """Parse ``(n, K)`` raw responses and derive the gold answers (see the module docstring)."""
    choices = parse_responses(responses)
    correct = np.asarray(correct, dtype=bool)
    gold, conflicts = derive_gold(choices, correct)
    missing = gold == UNPARSEABLE
    return AnswerTable(
        choices=choices,
        gold=gold,
        unparseable=(choices == UNPARSEABLE).sum(axis=0),
        no_gold=int(missing.sum()),
        no_gold_but_correct=int((missing & correct.any(axis=1)).sum()),
        conflicts=conflicts,
    )
