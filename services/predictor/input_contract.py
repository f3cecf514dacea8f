"""The input contract of a model: request rows checked and coerced against the feature schema the trainer recorded.

The schema is ``[{"name", "dtype", "categories"?, "min"?, "max"?}]`` (training columns minus the target, in
order). Rows come either as JSON objects or as a parquet table; both end as a DataFrame with the training column
order and dtypes, or as ``InputRejected`` naming each bad column (and row). Missing values are refused: the saved
pipelines do not reliably impute at predict time (a LinearRegression pipeline raises on NaN).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

NUMBER = "number"
INTEGER = "integer"
BOOLEAN = "boolean"
DATETIME = "datetime"
TEXT = "text"

ROWS_LISTED_PER_ERROR = 5
VALUES_LISTED_PER_WARNING = 5
VALUE_PREVIEW_CHARS = 40
# The trainer records at most this many categories per column; a list that long may be cut short.
CATEGORIES_RECORDED_AT_MOST = 1000
TRUE_TEXTS = frozenset({"true", "1", "yes"})
FALSE_TEXTS = frozenset({"false", "0", "no"})

# Marks a feature key that a JSON record does not have (distinct from an explicit null).
ABSENT = object()


class InputRejected(Exception):
    """The rows do not fit the model's input contract; ``errors`` maps each column to what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(f"invalid input in columns: {', '.join(errors)}")
        self.errors = errors


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
        if categories is not None and len(categories) >= CATEGORIES_RECORDED_AT_MOST:
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


@dataclass
class PreparedInput:
    columns: dict[str, Any]  # feature name → values, in the training order (a compiled scorer reads these)
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns, columns=list(self.columns))


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

    def rows(self, name: str, mask: np.ndarray, message: str, values: pd.Series | None = None) -> None:
        for row in np.flatnonzero(mask):
            self.add(name, int(row), f"{message}, got {_preview(values.iloc[row])}" if values is not None else message)

    def __contains__(self, name: str) -> bool:
        return name in self._messages

    def raise_if_any(self) -> None:
        if not self._messages:
            return
        for name, count in self._row_counts.items():
            if count > ROWS_LISTED_PER_ERROR:
                self._messages[name].append(f"… and {count - ROWS_LISTED_PER_ERROR} more rows")
        raise InputRejected(self._messages)


def _holds_text(arrow_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _of_type(types: pd.Series, *classes: type) -> np.ndarray:
    """Where each value's exact type is one of ``classes`` (``bool`` is not taken for ``int``)."""
    return types.isin(classes).to_numpy()


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= VALUE_PREVIEW_CHARS else text[: VALUE_PREVIEW_CHARS - 1] + "…"


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
            convert = SCALAR_RULES[feature.kind]
            values = []
            for row, record in enumerate(records):
                value = record.get(feature.name, ABSENT)
                try:
                    values.append(convert(_present(value), self.max_string_length))
                except _BadValue as bad:
                    problems.add(feature.name, row, bad.describe(value))
                    values.append(None)
            if feature.name not in problems:
                columns[feature.name] = _column_of(feature, values, warnings)
        problems.raise_if_any()
        return PreparedInput(columns, warnings)

    def prepare_table(self, table: pa.Table, row_offset: int = 0) -> PreparedInput:
        """A DataFrame of the feature columns of a (slice of a) flat arrow table; call ``column_warnings`` first."""
        problems = _Problems(row_offset=row_offset)
        warnings: list[str] = []
        columns = {}
        for feature in self.features:
            column = table.column(feature.name)
            is_null = column.is_null().to_numpy(zero_copy_only=False)
            values = column.to_pandas(date_as_object=False)
            if isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype(object)
            if feature.kind == TEXT and _holds_text(column.type):
                columns[feature.name] = self._parquet_texts(feature, values, is_null, problems, warnings)
            else:
                columns[feature.name] = self._coerce(feature, values, is_null, problems, warnings)
        problems.raise_if_any()
        return PreparedInput(columns, warnings)

    def _coerce(
        self,
        feature: Feature,
        values: pd.Series,
        is_null: np.ndarray,
        problems: _Problems,
        warnings: list[str],
    ) -> pd.Series:
        problems.rows(feature.name, is_null, "a value is required")
        ok = ~is_null
        if values.dtype == object:
            types = values.map(type)
            strings = _of_type(types, str)
            too_long = strings & (values.where(strings, "").str.len() > self.max_string_length).to_numpy()
            problems.rows(feature.name, too_long, f"text longer than {self.max_string_length} characters")
            ok &= ~too_long
        coerce = {
            NUMBER: self._numbers,
            INTEGER: self._numbers,
            BOOLEAN: self._booleans,
            DATETIME: self._datetimes,
            TEXT: self._texts,
        }[feature.kind]
        return coerce(feature, values, ok, problems, warnings)

    def _numbers(
        self, feature: Feature, values: pd.Series, ok: np.ndarray, problems: _Problems, warnings: list[str]
    ) -> pd.Series:
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            problems.rows(feature.name, ok, "expected a number", values)
            return values
        if values.dtype == object:
            types = values.map(type)
            booleans = _of_type(types, bool) & ok
            problems.rows(feature.name, booleans, "expected a number", values)
            ok = ok & ~booleans
            usable = values.where(ok, None)
            parsed = pd.to_numeric(usable.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
            unparsed = ok & parsed.isna().to_numpy() & _of_type(types, str)
            problems.rows(feature.name, unparsed, "expected a number", values)
            ok = ok & ~unparsed
            numbers = parsed.astype("float64")
        else:
            numbers = values.astype("float64")
        not_finite = ok & ~np.isfinite(numbers.to_numpy())
        problems.rows(feature.name, not_finite, "not a finite number", values)
        ok = ok & ~not_finite
        in_use = numbers[ok].to_numpy()
        _warn_out_of_range(feature, in_use, warnings)
        if feature.kind == INTEGER and ok.all() and (in_use == np.floor(in_use)).all():
            numbers = numbers.astype("int64")
        _warn_unseen_numbers(feature, numbers[ok].to_numpy(), warnings)
        return numbers

    @staticmethod
    def _booleans(
        feature: Feature, values: pd.Series, ok: np.ndarray, problems: _Problems, warnings: list[str]
    ) -> pd.Series:
        def as_bool(value: Any) -> bool | None:
            if isinstance(value, bool | np.bool_):
                return bool(value)
            if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in TRUE_TEXTS | FALSE_TEXTS:
                return value.strip().lower() in TRUE_TEXTS
            return None

        converted = values.where(ok, None).map(as_bool)
        problems.rows(feature.name, ok & converted.isna().to_numpy(), "expected true or false", values)
        return converted.fillna(False).astype(bool)

    @staticmethod
    def _datetimes(
        feature: Feature, values: pd.Series, ok: np.ndarray, problems: _Problems, warnings: list[str]
    ) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(values):
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            return values.astype("datetime64[ns]")
        if values.dtype != object:
            problems.rows(feature.name, ok, "expected a date or time", values)
            return values
        strings = _of_type(values.map(type), str)
        problems.rows(feature.name, ok & ~strings, "expected a date or time as ISO 8601 text", values)
        ok = ok & strings
        parsed = pd.to_datetime(values.where(ok, None), errors="coerce", utc=True, format="ISO8601")
        unparsed = ok & parsed.isna().to_numpy()
        problems.rows(feature.name, unparsed, "expected a date or time as ISO 8601 text", values)
        return parsed.dt.tz_localize(None).astype("datetime64[ns]")

    def _parquet_texts(
        self, feature: Feature, values: pd.Series, is_null: np.ndarray, problems: _Problems, warnings: list[str]
    ) -> pd.Series:
        """A parquet text column holds only text or nulls: check lengths without looking at each value's type."""
        problems.rows(feature.name, is_null, "a value is required")
        lengths = values.str.len().to_numpy(dtype="float64", na_value=0)
        too_long = ~is_null & (lengths > self.max_string_length)
        problems.rows(feature.name, too_long, f"text longer than {self.max_string_length} characters")
        ok = ~is_null & ~too_long
        if feature.categories is not None:
            _warn_unseen(feature, pd.unique(values[ok & ~values.isin(feature.categories).to_numpy()]), warnings)
        return values.astype("category") if feature.dtype == "category" else values

    @staticmethod
    def _texts(
        feature: Feature, values: pd.Series, ok: np.ndarray, problems: _Problems, warnings: list[str]
    ) -> pd.Series:
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            problems.rows(feature.name, ok, "expected text", values)
            return values
        if values.dtype != object:
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
            not_finite = ok & ~np.isfinite(numbers)
            problems.rows(feature.name, not_finite, "not a finite number", values)
            texts = values.astype(str).astype(object)
        else:
            types = values.map(type)
            booleans = ok & _of_type(types, bool)
            problems.rows(feature.name, booleans, "expected text", values)
            not_finite = ok & values.map(lambda v: isinstance(v, float) and not np.isfinite(v)).to_numpy(dtype=bool)
            problems.rows(feature.name, not_finite, "not a finite number", values)
            texts = values.map(lambda v: v if isinstance(v, str) else str(v))
            ok = ok & ~booleans & ~not_finite
        if feature.categories is not None:
            _warn_unseen(feature, pd.unique(texts[ok & ~texts.isin(feature.categories).to_numpy()]), warnings)
        return texts.astype("category") if feature.dtype == "category" else texts


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


def _short_text(value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise _BadValue(f"text longer than {max_length} characters", show_value=False)
    return value


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise _BadValue("not a finite number")
    return number


def _scalar_number(value: Any, max_length: int) -> float:
    if isinstance(value, str):
        try:
            return _finite(float(_short_text(value, max_length).strip()))
        except ValueError:
            raise _BadValue("expected a number") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return _finite(float(value))
        except OverflowError:
            raise _BadValue("not a finite number") from None
    raise _BadValue("expected a number")


def _scalar_boolean(value: Any, max_length: int) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and _short_text(value, max_length).strip().lower() in TRUE_TEXTS | FALSE_TEXTS:
        return value.strip().lower() in TRUE_TEXTS
    raise _BadValue("expected true or false")


def _scalar_datetime(value: Any, max_length: int) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(_short_text(value, max_length).strip())
        except ValueError:
            raise _BadValue("expected a date or time as ISO 8601 text") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    raise _BadValue("expected a date or time as ISO 8601 text")


def _scalar_text(value: Any, max_length: int) -> str:
    if isinstance(value, str):
        return _short_text(value, max_length)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(_finite(value))
    raise _BadValue("expected text")


# How one JSON value becomes a value of each kind of feature (``_BadValue`` says why it cannot).
SCALAR_RULES = {
    NUMBER: _scalar_number,
    INTEGER: _scalar_number,
    BOOLEAN: _scalar_boolean,
    DATETIME: _scalar_datetime,
    TEXT: _scalar_text,
}


def _column_of(feature: Feature, values: list[Any], warnings: list[str]) -> Any:
    """A column with the training dtype from values that passed the scalar rules."""
    if feature.kind in (NUMBER, INTEGER):
        numbers = np.array(values, dtype="float64")
        _warn_out_of_range(feature, numbers, warnings)
        if feature.kind == INTEGER and (numbers == np.floor(numbers)).all():
            numbers = numbers.astype("int64")
        _warn_unseen_numbers(feature, numbers, warnings)
        return numbers
    if feature.kind == BOOLEAN:
        return np.array(values, dtype=bool)
    if feature.kind == DATETIME:
        return pd.Series(values, dtype="datetime64[ns]")
    if feature.categories is not None:
        _warn_unseen(feature, [v for v in dict.fromkeys(values) if v not in feature.categories], warnings)
    if feature.dtype == "category":
        return pd.Series(values, dtype="category")
    return np.array(values, dtype=object)


def _warn_out_of_range(feature: Feature, numbers: np.ndarray, warnings: list[str]) -> None:
    if feature.minimum is None or feature.maximum is None or not len(numbers):
        return
    if (numbers < feature.minimum).any() or (numbers > feature.maximum).any():
        warnings.append(
            f"Column '{feature.name}': values outside the training range "
            f"[{feature.minimum:g}, {feature.maximum:g}]; predictions there are extrapolations."
        )


def _warn_unseen_numbers(feature: Feature, numbers: np.ndarray, warnings: list[str]) -> None:
    """A numeric feature trained as categories lists them as text, as ``str`` writes the number (3 → "3")."""
    if feature.categories is None:
        return
    _warn_unseen(feature, [value for value in pd.unique(numbers) if str(value) not in feature.categories], warnings)


def _warn_unseen(feature: Feature, unseen: Sequence[Any], warnings: list[str]) -> None:
    if not len(unseen):
        return
    listed = ", ".join(_preview(value) for value in unseen[:VALUES_LISTED_PER_WARNING])
    more = f" and {len(unseen) - VALUES_LISTED_PER_WARNING} more" if len(unseen) > VALUES_LISTED_PER_WARNING else ""
    warnings.append(f"Column '{feature.name}': values never seen in training: {listed}{more}.")
