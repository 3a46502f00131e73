"""Routing datasets: per-query correctness of K models, loaded from RouterDC or RouterBench files.

A :class:`RoutingDataset` holds, for ``n`` queries and ``K`` models (named, never matched
by position), the binary correctness matrix used for calibration, the graded scores it
came from, optional query features, per-model costs and raw answers.

Binarisation rule: a model is correct on a query when its score is strictly above
``correct_above`` (default 0). RouterDC stores 0 for wrong and a positive score for
right; RouterBench stores 1.0 or 0.0.

Loaders never unpickle or evaluate file contents: JSON goes through :mod:`json`, CSV
through :mod:`csv`, and features through ``numpy.load(..., allow_pickle=False)``.

Every filled correctness score must be a finite number in [0, 1]; an empty cell is
missing. Errors are :class:`DataError` messages that name the file, the line (CSV,
malformed JSON) or record (JSON), the bad value and the fix. :func:`load_dataset` then
merges queries split over several rows and applies the missing-cell and duplicate
policies, warning with counts.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import numpy as np

from .scoring import check_option

MissingPolicy = Literal["error", "drop", "wrong"]
DuplicatePolicy = Literal["keep", "drop"]
SplitRowPolicy = Literal["merge", "error"]
MISSING_POLICIES: tuple[str, ...] = get_args(MissingPolicy)
DUPLICATE_POLICIES: tuple[str, ...] = get_args(DuplicatePolicy)
SPLIT_ROW_POLICIES: tuple[str, ...] = get_args(SplitRowPolicy)


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
        if np.ndim(self.scores) != 2:
            raise DataError(
                f"{self.source}: scores must have shape (queries, models); got shape {np.shape(self.scores)}"
            )
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

    def subset(self, rows: np.ndarray | Sequence[int]) -> RoutingDataset:
        """Return the same dataset restricted to ``rows`` (indices or a boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        pick = lambda a: None if a is None else a[rows]
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

    def select_models(self, names: Sequence[str]) -> RoutingDataset:
        """Reorder (or restrict) the model columns to ``names``, matching by name."""
        names = tuple(names)
        missing = [m for m in names if m not in self.model_names]
        if missing:
            raise DataError(
                f"{self.source}: models {missing} are not in this file; it has "
                f"{list(self.model_names)}. Use files that score the same models."
            )
        cols = np.array([self.model_names.index(m) for m in names], dtype=int)
        pick = lambda a: None if a is None else a[:, cols]
        return dataclasses.replace(
            self,
            model_names=names,
            scores=self.scores[:, cols],
            correct=self.correct[:, cols],
            costs=pick(self.costs),
            responses=pick(self.responses),
        )

    def with_features(self, features: np.ndarray, origin: str | None = None) -> RoutingDataset:
        """Attach query features, checking that there is exactly one row per query.

        ``origin`` names the feature file in error messages.
        """
        features = validate_features(features, self.num_queries, self.source, origin)
        return dataclasses.replace(self, features=features)


def validate_features(
    features: np.ndarray, num_queries: int, source: str, origin: str | None = None
) -> np.ndarray:
    """Return ``features`` as finite float32 ``(n, d)`` or raise naming the problem.

    ``source`` names the data file and ``origin``, when given, the feature file.
    """
    label = source if origin is None else f"{source} (from {origin})"
    features = np.asarray(features)
    if features.ndim != 2:
        raise DataError(
            f"features for {label} must be a 2-D array (queries, dims); got shape {features.shape}"
        )
    if features.shape[0] != num_queries:
        raise DataError(
            f"features for {label} have {features.shape[0]} rows but the file has "
            f"{num_queries} queries; pass the feature file made from this data file"
        )
    if not (np.issubdtype(features.dtype, np.floating) or np.issubdtype(features.dtype, np.integer)):
        raise DataError(f"features for {label} must be real numbers; got dtype {features.dtype}")
    features = features.astype(np.float32)
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise DataError(
            f"features for {label} contain NaN or infinite values in {int(bad.sum())} rows "
            f"(first: row {int(np.flatnonzero(bad)[0])})"
        )
    return features


def load_features(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.npy`` feature matrix without unpickling; any float dtype is accepted.

    Object arrays and pickle files are rejected (``allow_pickle=False``), so reading a
    feature file never runs code. An ``.npz`` archive is rejected too: save one array.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"feature file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError:
        # NumPy's own message suggests allow_pickle=True, which this loader never uses.
        raise DataError(
            f"{path}: not a NumPy .npy file of numbers (a text file, or an array of Python "
            "objects, which is never loaded because that would unpickle it); save the features "
            "with numpy.save(path, array) from a float array"
        ) from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it as a .npy file ({err})") from None
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise DataError(f"{path}: is an .npz archive, not one array; save the features with numpy.save")
    return loaded


def _binarise(scores: np.ndarray, correct_above: float) -> np.ndarray:
    return np.nan_to_num(scores, nan=-math.inf) > correct_above


def _score_problem(value: float) -> str | None:
    """Why a correctness score is unusable, or ``None`` when it lies in [0, 1]."""
    if not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if not 0.0 <= value <= 1.0:
        return f"{value!r} lies outside [0, 1]"
    return None


def load_routerdc(path: str | os.PathLike) -> RoutingDataset:
    """Read a RouterDC JSON file: a list of ``{"question": str, "scores": {model: number}}``.

    A score of ``null``, or a model absent from a record's ``scores``, is a missing cell
    (NaN). Scores must be finite numbers in [0, 1]. Records are returned one row each, in
    file order, with ids ``"<file name>:<record index>"``; :func:`load_dataset` merges
    a question split over several records and applies the missing-cell policy.
    """
    path = os.fspath(path)
    text = _read_text(path)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}: malformed JSON at line {err.lineno}, column {err.colno} ({err.msg}); fix the "
            "syntax there: a RouterDC file is a JSON list of {\"question\": ..., \"scores\": {...}} records"
        ) from None
    except RecursionError:
        raise DataError(f"{path}: malformed JSON: nested too deeply to be a RouterDC file") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of records, got {type(records).__name__}")
    if not records:
        raise DataError(f"{path}: the file contains no queries; add at least one record")

    model_names: list[str] = []
    for i, record in enumerate(records):
        if (
            not isinstance(record, dict)
            or "question" not in record
            or not isinstance(record.get("scores"), dict)
        ):
            raise DataError(f"{path}: record {i} lacks 'question' or a 'scores' object")
        if not isinstance(record["question"], str):
            raise DataError(
                f"{path}: record {i}: 'question' must be a string; got {type(record['question']).__name__}"
            )
        for name in record["scores"]:
            if name not in model_names:
                model_names.append(name)
    if not model_names:
        raise DataError(f"{path}: no record has any model score; is this a RouterDC file?")

    scores = np.full((len(records), len(model_names)), np.nan)
    column = {name: j for j, name in enumerate(model_names)}
    for i, record in enumerate(records):
        for name, value in record["scores"].items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"{path}: record {i}, model {name!r}: score {value!r} is not a number")
            problem = _score_problem(float(value))
            if problem is not None:
                raise DataError(
                    f"{path}: record {i}, model {name!r}: score {problem}; a score must lie in [0, 1] "
                    "(use null for a missing result)"
                )
            scores[i, column[name]] = float(value)
    texts = tuple(r["question"] for r in records)
    ids = tuple(f"{os.path.basename(path)}:{i}" for i in range(len(records)))
    return RoutingDataset(ids, texts, tuple(model_names), scores, scores > 0, source=path)


def _read_csv_rows(path: str, text: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Parse CSV text strictly; return the header, the rows and the line on which each row starts."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    start = 1
    try:
        for row in reader:
            if header is None:
                header = row
            elif row:
                if len(row) != len(header):
                    raise DataError(
                        f"{path}: line {start} has {len(row)} fields but the header has {len(header)}; "
                        "the file is malformed (an unquoted comma or an unclosed quote?)"
                    )
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as err:
        raise DataError(f"{path}: malformed CSV at line {reader.line_num}: {err}") from None
    if header is None:
        raise DataError(f"{path}: the file is empty")
    return header, rows, lines


def load_routerbench(path: str | os.PathLike) -> RoutingDataset:
    """Read a RouterBench CSV: correctness, ``<model>|model_response`` and ``<model>|total_cost`` columns.

    The CSV is parsed strictly (an unclosed quote is an error that names its line), and
    quoted prompts may hold commas, quotes and newlines. An empty correctness cell is a
    missing cell (NaN); a filled one must be a finite number in [0, 1], and a cost a
    finite number ``>= 0``. Rows are returned one each, in file order, with ``sample_id``
    as the id; :func:`load_dataset` merges a sample split over several rows.
    """
    path = os.fspath(path)
    header, rows, lines = _read_csv_rows(path, _read_text(path))
    if not rows:
        raise DataError(f"{path}: the file contains no queries; add at least one record")
    for required in ("sample_id", "prompt"):
        if required not in header:
            raise DataError(f"{path}: missing column {required!r}; is this a RouterBench CSV?")

    response_cols = {h.split("|")[0]: j for j, h in enumerate(header) if h.endswith("|model_response")}
    cost_cols = {h.split("|")[0]: j for j, h in enumerate(header) if h.endswith("|total_cost")}
    reserved = {"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"}
    model_names = [h for h in header if "|" not in h and h not in reserved]
    if not model_names:
        raise DataError(f"{path}: no model correctness columns found")

    def column_values(j: int, what: str, check: Callable[[float], str | None]) -> np.ndarray:
        out = np.full(len(rows), np.nan)
        for i, row in enumerate(rows):
            cell = row[j].strip()
            if cell == "":
                continue
            try:
                value = float(cell)
            except ValueError:
                raise DataError(f"{path}: line {lines[i]}, {what}: {cell!r} is not a number") from None
            problem = check(value)
            if problem is not None:
                raise DataError(f"{path}: line {lines[i]}, {what}: {problem}")
            out[i] = value
        return out

    def cost_problem(value: float) -> str | None:
        if not math.isfinite(value) or value < 0.0:
            return f"{value!r} is not a finite cost >= 0; leave the cell empty when the cost is unknown"
        return None

    def correctness_problem(value: float) -> str | None:
        problem = _score_problem(value)
        return None if problem is None else f"{problem}; correctness must lie in [0, 1] (empty when missing)"

    scores = np.stack(
        [column_values(header.index(m), f"column {m!r}", correctness_problem) for m in model_names], axis=1
    )
    costs = None
    if all(m in cost_cols for m in model_names):
        costs = np.stack(
            [column_values(cost_cols[m], f"cost of {m!r}", cost_problem) for m in model_names], axis=1
        )
    responses = None
    if all(m in response_cols for m in model_names):
        responses = np.array([[row[response_cols[m]] for m in model_names] for row in rows], dtype=object)
    ids = tuple(row[header.index("sample_id")] for row in rows)
    texts = tuple(row[header.index("prompt")] for row in rows)
    return RoutingDataset(
        ids,
        texts,
        tuple(model_names),
        scores,
        _binarise(scores, 0.0),
        costs=costs,
        responses=responses,
        source=path,
    )


def _read_text(path: str) -> str:
    if not os.path.exists(path):
        raise DataError(f"data file not found: {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder; pass a RouterDC .json or RouterBench .csv file")
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line} is not valid UTF-8 ({err.reason}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    return text


def _describe_groups(data: RoutingDataset, groups: list[list[int]], limit: int = 5) -> str:
    def describe(rows: list[int]) -> str:
        ids = list(dict.fromkeys(data.ids[i] for i in rows))
        return f"{ids[0]} ({len(rows)} rows)" if len(ids) == 1 else ", ".join(ids)

    shown = "; ".join(describe(rows) for rows in groups[:limit])
    more = f"; and {len(groups) - limit} more" if len(groups) > limit else ""
    return shown + more


def merge_split_rows(
    data: RoutingDataset, by: Literal["ids", "texts"] = "ids", policy: SplitRowPolicy = "merge"
) -> RoutingDataset:
    """Combine queries split over several rows that each score only some models.

    Rows with the same key (``by="ids"``: the RouterBench ``sample_id``; ``by="texts"``:
    the RouterDC question) form a *split query* when there are several of them and at
    least one lacks some model's result. Rows that all score every model are repeated
    queries instead, left to the duplicate policy of :func:`load_dataset`.

    - ``policy="merge"``: each split query becomes one row at the position of its first
      row, with that row's id, text and features. Each model's score, correctness, cost
      and response come from the row that scores it. A :class:`DataWarning` gives the counts.
    - ``policy="error"``: raise a :class:`DataError` that lists the ids of the split rows.

    Two rows that give one model different scores raise a :class:`DataError` under
    either policy, because no merge is right.
    """
    check_option("split-row policy", policy, SPLIT_ROW_POLICIES)
    check_option("split-row key", by, ("ids", "texts"))
    keys = data.ids if by == "ids" else data.texts
    positions: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        positions.setdefault(key, []).append(i)
    incomplete = np.isnan(data.scores).any(axis=1)
    groups = [rows for rows in positions.values() if len(rows) > 1 and incomplete[rows].any()]
    if not groups:
        return data

    for rows in groups:
        for j, name in enumerate(data.model_names):
            values = sorted({float(v) for v in data.scores[rows, j] if not np.isnan(v)})
            if len(values) > 1:
                raise DataError(
                    f"{data.source}: rows {_describe_groups(data, [rows])} are one query split over "
                    f"several rows, but they give model {name!r} different scores {values}; keep one "
                    "score per model and query in the file"
                )
    if policy == "error":
        raise DataError(
            f"{data.source}: queries split over several rows that each score only some models: "
            f"{len(groups)} (ids: {_describe_groups(data, groups)}); pass split_rows='merge' to combine them"
        )

    scores, correct = data.scores.copy(), data.correct.copy()
    costs = None if data.costs is None else data.costs.copy()
    responses = None if data.responses is None else data.responses.copy()
    keep = np.ones(data.num_queries, dtype=bool)
    for rows in groups:
        first = rows[0]
        for j in range(data.num_models):
            sources = [i for i in rows if not np.isnan(data.scores[i, j])]
            if not sources:
                continue
            source = sources[0]
            scores[first, j] = data.scores[source, j]
            correct[first, j] = data.correct[source, j]
            if costs is not None:
                costs[first, j] = data.costs[source, j]
            if responses is not None:
                responses[first, j] = data.responses[source, j]
        keep[rows[1:]] = False
    merged = dataclasses.replace(data, scores=scores, correct=correct, costs=costs, responses=responses)
    warnings.warn(
        f"{data.source}: queries split over several rows that each score only some models: {len(groups)} "
        f"({sum(map(len, groups))} rows, ids: {_describe_groups(data, groups)}); merged each into one row. "
        "Pass split_rows='error' (--split-rows error) to reject such files",
        DataWarning,
        stacklevel=3,
    )
    return merged.subset(keep)


def load_dataset(
    path: str | os.PathLike,
    features: str | os.PathLike | np.ndarray | None = None,
    missing: MissingPolicy = "drop",
    duplicates: DuplicatePolicy = "keep",
    correct_above: float = 0.0,
    split_rows: SplitRowPolicy = "merge",
) -> RoutingDataset:
    """Load a RouterDC ``.json`` or RouterBench ``.csv`` file, attach features, and clean it.

    Cleaning runs in this order, each step on the result of the one before:

    1. ``features``: a ``.npy`` path or an array with one row per *file row*, in file
       order; its row count must equal the file's.
    2. ``split_rows``: rows of one query that each score only some models (same
       RouterBench ``sample_id``, or same RouterDC question): ``"merge"`` (default)
       combines them with a :class:`DataWarning`, ``"error"`` raises listing their ids.
       See :func:`merge_split_rows`.
    3. ``missing``: queries that still lack some model's result: ``"error"`` raises,
       ``"drop"`` removes those queries (default), ``"wrong"`` counts the missing result
       as incorrect. A :class:`DataWarning` gives the number of cells and queries.
    4. ``duplicates``: queries whose text appears more than once: ``"keep"`` keeps them
       (default) and warns with the count, ``"drop"`` keeps only the first occurrence.

    ``correct_above``: a model is correct when its score is strictly above this value.
    Raises :class:`DataError` with the file, the line or record, and the fix when the file
    is missing, empty or malformed, or contains a score that is not a finite number in [0, 1].
    """
    check_option("missing policy", missing, MISSING_POLICIES)
    check_option("duplicate policy", duplicates, DUPLICATE_POLICIES)
    check_option("split-row policy", split_rows, SPLIT_ROW_POLICIES)
    if (
        isinstance(correct_above, bool)
        or not isinstance(correct_above, (int, float))
        or not math.isfinite(correct_above)
    ):
        raise DataError(f"correct_above must be a finite number such as 0.0 or 0.5; got {correct_above!r}")
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        data = load_routerdc(path)
        split_key = "texts"
    elif ext == ".csv":
        data = load_routerbench(path)
        split_key = "ids"
    else:
        raise DataError(
            f"{path}: unknown data format {ext!r}; expected a RouterDC .json or a RouterBench .csv"
        )
    data = dataclasses.replace(data, correct=_binarise(data.scores, correct_above))

    if features is not None:
        if isinstance(features, (str, os.PathLike)):
            data = data.with_features(load_features(features), origin=os.fspath(features))
        else:
            data = data.with_features(features)

    data = merge_split_rows(data, split_key, split_rows)

    incomplete = np.isnan(data.scores).any(axis=1)
    if incomplete.any():
        count = int(incomplete.sum())
        cells = int(np.isnan(data.scores).sum())
        if missing == "error":
            raise DataError(
                f"{path}: {cells} correctness cells are missing in {count} queries; choose a "
                "missing-value policy: missing='drop' removes those queries, missing='wrong' counts "
                "the cells as wrong (racer run --missing)"
            )
        action = "dropped those queries" if missing == "drop" else "counted them as wrong"
        warnings.warn(
            f"{path}: {cells} correctness cells missing in {count} queries; {action}",
            DataWarning,
            stacklevel=2,
        )
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
                f"{path}: {repeated} queries repeat an earlier query's text; pass duplicates='drop' (--duplicates drop) to remove them",
                DataWarning,
                stacklevel=2,
            )
    if data.num_queries == 0:
        raise DataError(f"{path}: no queries are left after cleaning")
    return data


def overlapping_queries(train: RoutingDataset, evaluation: RoutingDataset) -> np.ndarray:
    """Boolean mask over ``evaluation`` of queries whose text also appears in ``train``."""
    train_texts = set(train.texts)
    return np.array([t in train_texts for t in evaluation.texts], dtype=bool)
