"""Routing datasets: per-query correctness of K models, loaded from RouterDC or RouterBench files.

A :class:`RoutingDataset` holds, for ``n`` queries and ``K`` models (named, never matched
by position), the binary correctness matrix used for calibration, the graded scores it
came from, optional query features, per-model costs and raw answers.

Binarisation rule: a model is correct on a query when its score is strictly above
``correct_above`` (default 0). RouterDC stores 0 for wrong and a positive score for
right; RouterBench stores 1.0 or 0.0.

Loaders never unpickle or evaluate file contents: JSON goes through :mod:`json`, CSV
through :mod:`csv`, and features through ``numpy.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
import warnings
from collections import Counter
from typing import Literal, Sequence, get_args

import numpy as np

from .scoring import check_option

MissingPolicy = Literal["error", "drop", "wrong"]
DuplicatePolicy = Literal["keep", "drop"]
MISSING_POLICIES: tuple[str, ...] = get_args(MissingPolicy)
DUPLICATE_POLICIES: tuple[str, ...] = get_args(DuplicatePolicy)


class DataError(ValueError):
    """A data file is missing, malformed or inconsistent; the message names the file and the fix."""


class DataWarning(UserWarning):
    """A data file was usable but needed a documented repair (duplicates, missing cells, overlap)."""


@dataclasses.dataclass(frozen=True)
class RoutingDataset:
    """Per-query results of ``K`` named models on ``n`` queries.

    - ``ids``: query identifiers, length ``n``.
    - ``texts``: query texts, length ``n``.
    - ``model_names``: the ``K`` model names, in column order.
    - ``scores``: graded per-model scores, float64 ``(n, K)``; NaN marks a missing cell.
    - ``correct``: binarised correctness, bool ``(n, K)``.
    - ``features``: optional float32 query features ``(n, d)``.
    - ``costs``: optional per-query, per-model cost in US dollars ``(n, K)``.
    - ``responses``: optional raw answers, an object array of ``str`` ``(n, K)``.
    - ``source``: where the data came from, for messages and reports.
    """

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    model_names: tuple[str, ...]
    scores: np.ndarray
    correct: np.ndarray
    features: np.ndarray | None = None
    costs: np.ndarray | None = None
    responses: np.ndarray | None = None
    source: str = "<memory>"

    def __post_init__(self):
        n, k = self.scores.shape
        if self.correct.shape != (n, k):
            raise DataError(f"{self.source}: correct has shape {self.correct.shape}, expected {(n, k)}")
        if len(self.ids) != n or len(self.texts) != n:
            raise DataError(f"{self.source}: {len(self.ids)} ids and {len(self.texts)} texts for {n} rows")
        if len(self.model_names) != k:
            raise DataError(f"{self.source}: {len(self.model_names)} model names for {k} score columns")
        if len(set(self.model_names)) != k:
            repeated = [m for m, c in Counter(self.model_names).items() if c > 1]
            raise DataError(f"{self.source}: model names repeat: {repeated}")
        for name in ("features", "costs", "responses"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != n:
                raise DataError(f"{self.source}: {name} has {value.shape[0]} rows for {n} queries")

    @property
    def num_queries(self) -> int:
        return self.scores.shape[0]

    @property
    def num_models(self) -> int:
        return self.scores.shape[1]

    def subset(self, rows: np.ndarray | Sequence[int]) -> "RoutingDataset":
        """The same dataset restricted to ``rows`` (indices or a boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return dataclasses.replace(
            self,
            ids=tuple(self.ids[i] for i in rows),
            texts=tuple(self.texts[i] for i in rows),
            scores=self.scores[rows],
            correct=self.correct[rows],
            features=pick(self.features),
            costs=pick(self.costs),
            responses=pick(self.responses),
        )

    def select_models(self, names: Sequence[str]) -> "RoutingDataset":
        """Reorder (or restrict) the model columns to ``names``, matching by name."""
        names = tuple(names)
        missing = [m for m in names if m not in self.model_names]
        if missing:
            raise DataError(
                f"{self.source}: models {missing} are not in this file; it has "
                f"{list(self.model_names)}. Use files that score the same models."
            )
        cols = np.array([self.model_names.index(m) for m in names], dtype=int)
        pick = lambda a: None if a is None else a[:, cols]  # noqa: E731
        return dataclasses.replace(
            self,
            model_names=names,
            scores=self.scores[:, cols],
            correct=self.correct[:, cols],
            costs=pick(self.costs),
            responses=pick(self.responses),
        )

    def with_features(self, features: np.ndarray) -> "RoutingDataset":
        """Attach query features, checking that there is exactly one row per query."""
        features = validate_features(features, self.num_queries, self.source)
        return dataclasses.replace(self, features=features)


def validate_features(features: np.ndarray, num_queries: int, source: str) -> np.ndarray:
    """Return ``features`` as finite float32 ``(n, d)`` or raise naming the problem."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise DataError(f"features for {source} must be a 2-D array (queries, dims); got shape {features.shape}")
    if features.shape[0] != num_queries:
        raise DataError(
            f"features for {source} have {features.shape[0]} rows but the file has "
            f"{num_queries} queries; pass the feature file made from this data file"
        )
    if not np.issubdtype(features.dtype, np.number):
        raise DataError(f"features for {source} must be numeric; got dtype {features.dtype}")
    features = features.astype(np.float32)
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise DataError(
            f"features for {source} contain NaN or infinite values in {int(bad.sum())} rows "
            f"(first: row {int(np.flatnonzero(bad)[0])})"
        )
    return features


def load_features(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.npy`` feature matrix without unpickling; any float dtype is accepted."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"feature file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DataError(f"{path}: not a plain numeric .npy array ({err})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it as a .npy file ({err})") from None


def _binarise(scores: np.ndarray, correct_above: float) -> np.ndarray:
    return np.nan_to_num(scores, nan=-math.inf) > correct_above


def load_routerdc(path: str | os.PathLike) -> RoutingDataset:
    """Read a RouterDC JSON file: a list of ``{"question": str, "scores": {model: number}}``."""
    path = os.fspath(path)
    text = _read_text(path)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of records, got {type(records).__name__}")
    if not records:
        raise DataError(f"{path}: the file holds no queries")

    model_names: list[str] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or "question" not in record or not isinstance(record.get("scores"), dict):
            raise DataError(f"{path}: record {i} lacks 'question' or a 'scores' object")
        for name in record["scores"]:
            if name not in model_names:
                model_names.append(name)

    scores = np.full((len(records), len(model_names)), np.nan)
    column = {name: j for j, name in enumerate(model_names)}
    for i, record in enumerate(records):
        for name, value in record["scores"].items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"{path}: record {i}, model {name!r}: score {value!r} is not a number")
            scores[i, column[name]] = float(value)
    texts = tuple(str(r["question"]) for r in records)
    ids = tuple(f"{os.path.basename(path)}:{i}" for i in range(len(records)))
    return RoutingDataset(ids, texts, tuple(model_names), scores, scores > 0, source=path)


def load_routerbench(path: str | os.PathLike) -> RoutingDataset:
    """Read a RouterBench CSV: correctness, ``<model>|model_response`` and ``<model>|total_cost`` columns."""
    path = os.fspath(path)
    _read_text(path)  # existence and emptiness checks with clear messages
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: the file is empty") from None
        rows = []
        for row in reader:
            if len(row) != len(header):
                raise DataError(
                    f"{path}: line {reader.line_num} has {len(row)} fields but the header has "
                    f"{len(header)}; the file is malformed (an unclosed quote?)"
                )
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: the file holds no queries")
    for required in ("sample_id", "prompt"):
        if required not in header:
            raise DataError(f"{path}: missing column {required!r}; is this a RouterBench CSV?")

    response_cols = {h.split("|")[0]: j for j, h in enumerate(header) if h.endswith("|model_response")}
    cost_cols = {h.split("|")[0]: j for j, h in enumerate(header) if h.endswith("|total_cost")}
    reserved = {"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"}
    model_names = [h for h in header if "|" not in h and h not in reserved]
    if not model_names:
        raise DataError(f"{path}: no model correctness columns found")

    def column_values(j: int, what: str, line_offset: int = 2) -> np.ndarray:
        out = np.full(len(rows), np.nan)
        for i, row in enumerate(rows):
            cell = row[j].strip()
            if cell == "":
                continue
            try:
                out[i] = float(cell)
            except ValueError:
                raise DataError(f"{path}: row {i + 1}, {what}: {cell!r} is not a number") from None
        return out

    scores = np.stack([column_values(header.index(m), f"column {m!r}") for m in model_names], axis=1)
    costs = None
    if all(m in cost_cols for m in model_names):
        costs = np.stack([column_values(cost_cols[m], f"cost of {m!r}") for m in model_names], axis=1)
    responses = None
    if all(m in response_cols for m in model_names):
        responses = np.array([[row[response_cols[m]] for m in model_names] for row in rows], dtype=object)
    ids = tuple(row[header.index("sample_id")] for row in rows)
    texts = tuple(row[header.index("prompt")] for row in rows)
    return RoutingDataset(
        ids, texts, tuple(model_names), scores, _binarise(scores, 0.0),
        costs=costs, responses=responses, source=path,
    )


def _read_text(path: str) -> str:
    if not os.path.exists(path):
        raise DataError(f"data file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    return text


def load_dataset(
    path: str | os.PathLike,
    features: str | os.PathLike | np.ndarray | None = None,
    missing: MissingPolicy = "drop",
    duplicates: DuplicatePolicy = "keep",
    correct_above: float = 0.0,
) -> RoutingDataset:
    """Load a RouterDC ``.json`` or RouterBench ``.csv`` file, attach features, and clean it.

    - ``features``: a ``.npy`` path or an array with one row per query, in file order.
    - ``missing``: what to do with queries that lack some model's result: ``"error"``
      raises, ``"drop"`` removes those queries (default), ``"wrong"`` counts the missing
      result as incorrect. A :class:`DataWarning` gives the count.
    - ``duplicates``: queries whose text appears more than once: ``"keep"`` keeps them
      (default) and warns, ``"drop"`` keeps only the first occurrence.
    - ``correct_above``: a model is correct when its score is strictly above this.
    """
    check_option("missing policy", missing, MISSING_POLICIES)
    check_option("duplicate policy", duplicates, DUPLICATE_POLICIES)
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        data = load_routerdc(path)
    elif ext == ".csv":
        data = load_routerbench(path)
    else:
        raise DataError(f"{path}: unknown data format {ext!r}; expected a RouterDC .json or a RouterBench .csv")
    data = dataclasses.replace(data, correct=_binarise(data.scores, correct_above))

    if features is not None:
        array = load_features(features) if not isinstance(features, np.ndarray) else features
        data = data.with_features(array)

    incomplete = np.isnan(data.scores).any(axis=1)
    if incomplete.any():
        count = int(incomplete.sum())
        cells = int(np.isnan(data.scores).sum())
        if missing == "error":
            raise DataError(
                f"{path}: {cells} correctness cells are missing in {count} queries; choose a "
                "missing-value policy: 'drop' those queries or count them as 'wrong'"
            )
        action = "dropped those queries" if missing == "drop" else "counted them as wrong"
        warnings.warn(f"{path}: {cells} correctness cells missing in {count} queries; {action}", DataWarning, stacklevel=2)
        if missing == "drop":
            data = data.subset(~incomplete)

    seen: dict[str, int] = {}
    first = np.ones(data.num_queries, dtype=bool)
    for i, text in enumerate(data.texts):
        if text in seen:
            first[i] = False
        else:
            seen[text] = i
    if not first.all():
        repeated = int((~first).sum())
        if duplicates == "drop":
            warnings.warn(f"{path}: dropped {repeated} repeated queries", DataWarning, stacklevel=2)
            data = data.subset(first)
        else:
            warnings.warn(
                f"{path}: {repeated} queries repeat an earlier query's text; pass duplicates='drop' to remove them",
                DataWarning, stacklevel=2,
            )
    if data.num_queries == 0:
        raise DataError(f"{path}: no queries are left after cleaning")
    return data


def overlapping_queries(train: RoutingDataset, evaluation: RoutingDataset) -> np.ndarray:
    """Boolean mask over ``evaluation`` of queries whose text also appears in ``train``."""
    train_texts = set(train.texts)
    return np.array([t in train_texts for t in evaluation.texts], dtype=bool)
