"""The input contract of a model: request rows checked and coerced against the feature schema the trainer recorded.

The schema is ``shared.feature_schema``'s (training columns minus the target, in order). Rows come either as JSON
objects or as a parquet (arrow) table; both end as a DataFrame with the training column order and dtypes, or as
``InputRejected`` naming each bad column (and row). Missing values are refused: the saved pipelines do not reliably
impute at predict time (a LinearRegression pipeline raises on NaN).

One set of rules serves both kinds of input:

- a *conversion* per kind of feature (``CONVERSIONS``) turns one value of any Python type into the feature's kind or
  says why it cannot. JSON values each go through it; of a table column, only a column whose arrow type is not the
  feature's own (text for a number, integers for a category…) does, one distinct value at a time;
- the *checks* on converted values (finite numbers, text length) and the warnings (values outside the training
  range, categories never seen) then run on whole columns, the same for both. A text column that arrives
  dictionary-encoded (parquet) is checked once per distinct value, and also kept as pandas categories for the
  compiled scorer (``PreparedInput.scorer_columns``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shared.domain_errors import DomainError
from shared.feature_schema import MAX_CATEGORIES_RECORDED

NUMBER = "number"
INTEGER = "integer"
BOOLEAN = "boolean"
DATETIME = "datetime"
TEXT = "text"

ROWS_LISTED_PER_ERROR = 5
VALUES_LISTED_PER_WARNING = 5
VALUE_PREVIEW_CHARS = 40
TRUE_TEXTS = frozenset({"true", "1", "yes"})
FALSE_TEXTS = frozenset({"false", "0", "no"})

# Marks a feature key that a JSON record does not have (distinct from an explicit null).
ABSENT = object()


class InputRejected(DomainError):
    """The rows do not fit the model's input contract; ``errors`` maps each column to what is wrong with it."""

    message = "The input does not fit the model; see 'errors' for each column."

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors=errors)


def kind_of(dtype: str) -> str:
    dtype = dtype.lower()
    if dtype.startswith(("int", "uint")):
        return INTEGER
    if dtype.startswith("float"):
        return NUMBER
    if dtype in ("bool", "boolean"):
        return BOOLEAN
    if dtype.startswith("datetime"):
        return DATETIME
    return TEXT


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str
    kind: str
    categories: frozenset[str] | None = None
    minimum: float | None = None
    maximum: float | None = None

    @classmethod
    def from_schema(cls, entry: Mapping[str, Any]) -> Feature:
        categories = entry.get("categories")
        if categories is not None and len(categories) >= MAX_CATEGORIES_RECORDED:
            categories = None
        return cls(
            name=str(entry["name"]),
            dtype=str(entry.get("dtype", "object")),
            kind=kind_of(str(entry.get("dtype", "object"))),
            categories=frozenset(str(c) for c in categories) if categories is not None else None,
            minimum=_finite_or_none(entry.get("min")),
            maximum=_finite_or_none(entry.get("max")),
        )


def _finite_or_none(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    return None


# A dictionary-encoded text column is checked and scored by its categories when it has at most this many per row.
MOST_CATEGORIES_PER_ROW = 0.25
# Below this many rows, checking text against the categories in Python beats building a pandas Series.
SMALL_COLUMN_ROWS = 1000


@dataclass
class PreparedInput:
    """The rows as one array per feature, in training order and dtype, and the warnings about them."""

    columns: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # Text columns that arrived dictionary-encoded, as categories: the compiled scorer looks up each distinct value
    # once instead of finding them again among a million rows.
    categorical: dict[str, pd.Categorical] = field(default_factory=dict)

    @property
    def scorer_columns(self) -> dict[str, Any]:
        """The columns as the compiled scorer takes them (it reads a text column's categories where there are)."""
        return {**self.columns, **self.categorical} if self.categorical else self.columns

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The rows as the DataFrame a pipeline takes."""
        return pd.DataFrame(self.columns, columns=list(self.columns))


# --- conversions: one value of any type into a feature's kind ----------------------------------------------------


class _BadValue(Exception):
    def __init__(self, message: str, show_value: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.show_value = show_value

    def describe(self, value: Any) -> str:
        return f"{self.message}, got {_preview(value)}" if self.show_value else self.message


def _present(value: Any) -> Any:
    if value is ABSENT:
        raise _BadValue("missing", show_value=False)
    if value is None:
        raise _BadValue("a value is required", show_value=False)
    if isinstance(value, dict | list):
        raise _BadValue("nested objects and lists are not accepted", show_value=False)
    return value


def _parsable(value: str, max_length: int) -> str:
    """Text to parse as a number, a flag or a date: refused unread when longer than any text feature may be."""
    if len(value) > max_length:
        raise _BadValue(f"text longer than {max_length} characters", show_value=False)
    return value.strip()


def _to_number(value: Any, max_length: int) -> float:
    if isinstance(value, str):
        try:
            return float(_parsable(value, max_length))
        except ValueError:
            raise _BadValue("expected a number") from None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_):
        try:
            return float(value)
        except OverflowError:
            return math.inf  # an integer too large for a float: refused by the finiteness check
    raise _BadValue("expected a number")


def _to_boolean(value: Any, max_length: int) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and _parsable(value, max_length).lower() in TRUE_TEXTS | FALSE_TEXTS:
        return value.strip().lower() in TRUE_TEXTS
    raise _BadValue("expected true or false")


def _to_datetime(value: Any, max_length: int) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(_parsable(value, max_length))
        except ValueError:
            raise _BadValue("expected a date or time as ISO 8601 text") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    raise _BadValue("expected a date or time as ISO 8601 text")


def _to_text(value: Any, max_length: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise _BadValue("not a finite number")
        return str(float(value))
    raise _BadValue("expected text")


# How one value becomes a value of each kind of feature (``_BadValue`` says why it cannot).
CONVERSIONS: dict[str, Callable[[Any, int], Any]] = {
    NUMBER: _to_number,
    INTEGER: _to_number,
    BOOLEAN: _to_boolean,
    DATETIME: _to_datetime,
    TEXT: _to_text,
}


def _is_native(kind: str, data_type: pa.DataType) -> bool:
    """Whether an arrow column of this type already holds values of the kind (no conversion needed)."""
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if kind in (NUMBER, INTEGER):
        return pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type)
    if kind == BOOLEAN:
        return pa.types.is_boolean(data_type)
    if kind == DATETIME:
        return pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


# --- one column of converted values, checked the same way whatever it came from --------------------------------


class _Problems:
    """Bad rows per column, listed up to a few rows each so a million bad rows make a short answer."""

    def __init__(self, row_offset: int = 0, with_rows: bool = True) -> None:
        self.row_offset = row_offset
        self.with_rows = with_rows
        self._messages: dict[str, list[str]] = {}
        self._row_counts: dict[str, int] = {}

    def add(self, name: str, row: int, detail: str) -> None:
        messages = self._messages.setdefault(name, [])
        count = self._row_counts.get(name, 0) + 1
        self._row_counts[name] = count
        if count <= ROWS_LISTED_PER_ERROR:
            messages.append(f"row {row + self.row_offset}: {detail}" if self.with_rows else detail)

    def raise_if_any(self) -> None:
        if not self._messages:
            return
        for name, count in self._row_counts.items():
            if count > ROWS_LISTED_PER_ERROR:
                self._messages[name].append(f"… and {count - ROWS_LISTED_PER_ERROR} more rows")
        raise InputRejected(self._messages)


@dataclass
class _Column:
    """A feature's values after conversion: ``values`` (None or NaN where ``ok`` is False), the text lengths for text
    features, and ``original(row)``, the value as sent (for messages)."""

    feature: Feature
    values: np.ndarray
    ok: np.ndarray
    original: Callable[[int], Any]
    lengths: np.ndarray | None = None
    categorical: pd.Categorical | None = None  # the same text values, as categories (parquet dictionary columns)


def _check(column: _Column, max_string_length: int, problems: _Problems, warnings: list[str]) -> Any:
    """The checks every converted column goes through, then the column with the training dtype."""
    feature = column.feature
    ok = column.ok
    if feature.kind in (NUMBER, INTEGER):
        numbers = np.where(ok, column.values, np.nan).astype("float64")
        for row in np.flatnonzero(ok & ~np.isfinite(numbers)):
            problems.add(feature.name, int(row), f"not a finite number, got {_preview(column.original(int(row)))}")
        ok = ok & np.isfinite(numbers)
        _warn_out_of_range(feature, numbers[ok], warnings)
        if feature.kind == INTEGER and ok.all() and (numbers == np.floor(numbers)).all():
            numbers = numbers.astype("int64")
        if feature.categories is not None:  # a number trained as categories: listed as ``str`` writes it (3 → "3")
            _warn_unseen(feature, [v for v in pd.unique(numbers[ok]) if str(v) not in feature.categories], warnings)
        return numbers
    if feature.kind == BOOLEAN:
        return np.where(ok, column.values, False).astype(bool)
    if feature.kind == DATETIME:
        if column.values.dtype.kind == "M":
            return pd.Series(np.where(ok, column.values, np.datetime64("NaT")), dtype="datetime64[ns]")
        return pd.Series(np.where(ok, column.values, None)).astype("datetime64[ns]")
    assert column.lengths is not None
    for row in np.flatnonzero(ok & (column.lengths > max_string_length)):
        problems.add(feature.name, int(row), f"text longer than {max_string_length} characters")
    texts = column.values
    if feature.categories is not None:
        unseen = ok & ~_is_in(texts if column.categorical is None else column.categorical, feature.categories)
        _warn_unseen(feature, list(dict.fromkeys(texts[unseen])), warnings)
    return pd.Categorical(texts) if feature.dtype == "category" else texts


def _is_in(values: np.ndarray | pd.Categorical, categories: frozenset[str]) -> np.ndarray:
    if isinstance(values, pd.Categorical):
        known = [category in categories for category in values.categories]
        return np.array([*known, False])[values.codes]  # code -1 (no value) is not a category
    if len(values) < SMALL_COLUMN_ROWS:
        return np.fromiter((value in categories for value in values), dtype=bool, count=len(values))
    return pd.Series(values, dtype=object).isin(categories).to_numpy()


def _warn_out_of_range(feature: Feature, numbers: np.ndarray, warnings: list[str]) -> None:
    if feature.minimum is None or feature.maximum is None or not len(numbers):
        return
    if (numbers < feature.minimum).any() or (numbers > feature.maximum).any():
        warnings.append(
            f"Column '{feature.name}': values outside the training range "
            f"[{feature.minimum:g}, {feature.maximum:g}]; predictions there are extrapolations."
        )


def _warn_unseen(feature: Feature, unseen: Sequence[Any], warnings: list[str]) -> None:
    if not len(unseen):
        return
    listed = ", ".join(_preview(value) for value in unseen[:VALUES_LISTED_PER_WARNING])
    more = f" and {len(unseen) - VALUES_LISTED_PER_WARNING} more" if len(unseen) > VALUES_LISTED_PER_WARNING else ""
    warnings.append(f"Column '{feature.name}': values never seen in training: {listed}{more}.")


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= VALUE_PREVIEW_CHARS else text[: VALUE_PREVIEW_CHARS - 1] + "…"


# --- the contract -----------------------------------------------------------------------------------------------


class InputContract:
    """Checks request rows against one model's features; columns it does not know are ignored with a warning."""

    def __init__(self, features: Sequence[Mapping[str, Any]], target: str, max_string_length: int) -> None:
        self.features = [Feature.from_schema(entry) for entry in features]
        self.names = [feature.name for feature in self.features]
        self.target = target
        self.max_string_length = max_string_length

    def column_warnings(self, columns: Iterable[str]) -> list[str]:
        """Warnings for the columns that will be ignored; ``InputRejected`` if a feature column is absent."""
        present = list(columns)
        missing = [name for name in self.names if name not in set(present)]
        if missing:
            raise InputRejected({name: ["missing"] for name in missing})
        known = set(self.names)
        warnings = []
        if self.target in present and self.target not in known:
            warnings.append(f"Ignored column '{self.target}': it is what the model predicts.")
        unknown = [name for name in present if name not in known and name != self.target]
        if unknown:
            warnings.append(f"Ignored columns the model does not use: {', '.join(map(str, unknown))}.")
        return warnings

    def prepare_records(self, records: Sequence[Any], with_rows: bool = True) -> PreparedInput:
        """A DataFrame from JSON objects (one per row); ``with_rows=False`` leaves row numbers out of messages."""
        bad_records = [row for row, record in enumerate(records) if not isinstance(record, dict)]
        if bad_records:
            listed = ", ".join(map(str, bad_records[:ROWS_LISTED_PER_ERROR]))
            raise InputRejected({"records": [f"each record must be a JSON object (rows {listed})"]})
        seen: dict[str, None] = {}
        for record in records:
            seen.update(dict.fromkeys(record))
        warnings = self.column_warnings(seen)
        problems = _Problems(with_rows=with_rows)
        columns = {}
        for feature in self.features:
            sent = [record.get(feature.name, ABSENT) for record in records]
            convert = CONVERSIONS[feature.kind]
            values = np.empty(len(sent), dtype=object)
            ok = np.ones(len(sent), dtype=bool)
            for row, value in enumerate(sent):
                try:
                    values[row] = convert(_present(value), self.max_string_length)
                except _BadValue as bad:
                    problems.add(feature.name, row, bad.describe(value))
                    ok[row] = False
            lengths = _text_lengths(values) if feature.kind == TEXT else None
            column = _Column(feature, values, ok, sent.__getitem__, lengths)
            columns[feature.name] = _check(column, self.max_string_length, problems, warnings)
        problems.raise_if_any()
        return PreparedInput(columns, warnings)

    def prepare_table(self, table: pa.Table, row_offset: int = 0) -> PreparedInput:
        """A DataFrame of the feature columns of a (slice of a) flat arrow table; call ``column_warnings`` first."""
        problems = _Problems(row_offset=row_offset)
        warnings: list[str] = []
        columns = {}
        categorical = {}
        for feature in self.features:
            column = self._table_column(feature, table.column(feature.name), problems)
            columns[feature.name] = _check(column, self.max_string_length, problems, warnings)
            if column.categorical is not None:
                categorical[feature.name] = column.categorical
        problems.raise_if_any()
        return PreparedInput(columns, warnings, categorical)

    def _table_column(self, feature: Feature, column: pa.ChunkedArray, problems: _Problems) -> _Column:
        if pa.types.is_dictionary(column.type):
            categorical = _as_categorical(column) if feature.kind == TEXT and _is_native(TEXT, column.type) else None
            if categorical is not None:
                return self._categorical_text_column(feature, column, categorical, problems)
            column = column.cast(column.type.value_type)
        is_null = column.is_null().to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(is_null):
            problems.add(feature.name, int(row), "a value is required")
        ok = ~is_null

        def original(row: int) -> Any:
            return column[row].as_py()

        if _is_native(feature.kind, column.type):
            values = _native_values(feature.kind, column)
            lengths = None
            if feature.kind == TEXT:
                lengths = np.nan_to_num(pc.utf8_length(column).to_numpy(zero_copy_only=False).astype("float64"))
        else:
            values, ok = self._converted_distinct_values(feature, column, ok, problems)
            lengths = _text_lengths(values) if feature.kind == TEXT else None
        return _Column(feature, values, ok, original, lengths)

    def _categorical_text_column(
        self, feature: Feature, column: pa.ChunkedArray, categorical: pd.Categorical, problems: _Problems
    ) -> _Column:
        """A dictionary-encoded text column: lengths measured once per distinct value."""
        codes = categorical.codes
        for row in np.flatnonzero(codes < 0):
            problems.add(feature.name, int(row), "a value is required")
        category_lengths = [len(category) for category in categorical.categories]
        lengths = np.array([*category_lengths, 0], dtype="float64")[codes]
        values = np.asarray(categorical, dtype=object)
        return _Column(feature, values, codes >= 0, lambda row: column[row].as_py(), lengths, categorical)

    def _converted_distinct_values(
        self, feature: Feature, column: pa.ChunkedArray, ok: np.ndarray, problems: _Problems
    ) -> tuple[np.ndarray, np.ndarray]:
        """A column whose type is not the feature's own: each distinct value goes through the kind's conversion."""
        convert = CONVERSIONS[feature.kind]
        distinct = pc.unique(column.drop_null())
        converted: list[Any] = []
        refused: dict[int, str] = {}
        for index, value in enumerate(distinct.to_pylist()):
            try:
                converted.append(convert(value, self.max_string_length))
            except _BadValue as bad:
                converted.append(None)
                refused[index] = bad.describe(value)
        positions = pc.index_in(column, value_set=distinct).to_numpy(zero_copy_only=False)
        positions = np.where(ok, positions, -1).astype("int64")
        bad = np.isin(positions, list(refused)) & ok
        for row in np.flatnonzero(bad):
            problems.add(feature.name, int(row), refused[int(positions[row])])
        lookup = np.array(converted + [None], dtype=object)
        return lookup[positions], ok & ~bad


def _as_categorical(column: pa.ChunkedArray) -> pd.Categorical | None:
    """A dictionary-encoded column as pandas categories, or None if its dictionary repeats a value or holds a null
    (arrow allows both, pandas categories neither), or is too long to be worth it: a slice of a column keeps the
    whole column's dictionary, which every chunk scored would go through again."""
    if sum(len(chunk.dictionary) for chunk in column.chunks) > len(column) * MOST_CATEGORIES_PER_ROW:
        return None
    try:
        return column.to_pandas().array
    except (ValueError, pa.ArrowException):
        return None


def _native_values(kind: str, column: pa.ChunkedArray) -> np.ndarray:
    """The values of a column that already holds the kind, as numpy (nulls are masked by the caller)."""
    if kind in (NUMBER, INTEGER):
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    if kind == DATETIME:
        # Arrow keeps zoned timestamps as UTC instants: dropping the zone leaves UTC wall time.
        return column.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)
    return column.to_pandas().to_numpy(dtype=object)


def _text_lengths(values: np.ndarray) -> np.ndarray:
    return np.array([len(value) if isinstance(value, str) else 0 for value in values], dtype="float64")
