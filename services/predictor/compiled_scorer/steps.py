"""PyCaret's fitted preprocessing steps as plain operations on columns (name → 1-D numpy array).

``compile_step`` reads what a fitted step needs once (imputer statistics, encoder tables, scaler parameters) and
returns an operation that does the same arithmetic or lookup, value by value, so that a row's result never depends
on the rows scored with it. A step it does not know raises ``NotCompilable``, and the pipeline serves.

Rows come from the input contract, which refuses missing values: the imputers fill them as the pipeline's do, but
no verification can prove it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np
import pandas as pd

from shared.calendar_features import WEEK_OF_YEAR_SUFFIX, WeekOfYear, iso_week

Columns = dict[str, np.ndarray]
Step = Callable[[Columns], None]


class NotCompilable(Exception):
    """Why this pipeline is served through ``pipeline.predict`` instead of a compiled scorer."""


def as_numbers(values: Any) -> np.ndarray:
    """Values as float64, as sklearn converts a frame before any arithmetic (bool → 0/1, integers exactly)."""
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class NumbersAsText:
    """The trainer's ``numbers_as_categories`` step: ``astype("string")``, as pandas writes each number.

    A lone row of an integer feature arrives as int64 ("3"); in a frame with a fractional value the same column is
    float64 ("3.0"). Each value is written as it would be alone, so a row's category never depends on its batch.
    """

    names: tuple[str, ...]
    integer_names: frozenset[str]

    def __call__(self, columns: Columns) -> None:
        for name in self.names:
            integer = name in self.integer_names
            columns[name] = np.array([_number_text(value, integer) for value in columns[name].tolist()], dtype=object)


def _number_text(value: Any, integer: bool) -> str:
    if integer and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Calendar:
    """Calendar fields of datetime64[ns] values (as pandas' ``Series.dt`` gives them), each computed once."""

    def __init__(self, moments: np.ndarray) -> None:
        self.moments = moments

    @cached_property
    def _days(self) -> np.ndarray:
        return self.moments.astype("datetime64[D]")

    @cached_property
    def _months(self) -> np.ndarray:
        return self.moments.astype("datetime64[M]")

    @cached_property
    def _years(self) -> np.ndarray:
        return self.moments.astype("datetime64[Y]")

    def year(self) -> np.ndarray:
        return self._years.astype(np.int64) + 1970

    def month(self) -> np.ndarray:
        return self._months.astype(np.int64) % 12 + 1

    def day(self) -> np.ndarray:
        return (self._days - self._months).astype(np.int64) + 1

    def hour(self) -> np.ndarray:
        return (self.moments - self._days).astype("timedelta64[h]").astype(np.int64)

    def minute(self) -> np.ndarray:
        return (self.moments - self._days).astype("timedelta64[m]").astype(np.int64) % 60

    def second(self) -> np.ndarray:
        return (self.moments - self._days).astype("timedelta64[s]").astype(np.int64) % 60

    def dayofweek(self) -> np.ndarray:
        return (self._days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0

    def dayofyear(self) -> np.ndarray:
        return (self._days - self._years).astype(np.int64) + 1

    def quarter(self) -> np.ndarray:
        return (self.month() - 1) // 3 + 1


# The ``Series.dt`` attributes ExtractDateTimeFeatures may be asked for, and the Calendar field of each.
DATE_PARTS: dict[str, Callable[[Calendar], np.ndarray]] = {
    "year": Calendar.year,
    "month": Calendar.month,
    "day": Calendar.day,
    "hour": Calendar.hour,
    "minute": Calendar.minute,
    "second": Calendar.second,
    "dayofweek": Calendar.dayofweek,
    "day_of_week": Calendar.dayofweek,
    "weekday": Calendar.dayofweek,
    "dayofyear": Calendar.dayofyear,
    "day_of_year": Calendar.dayofyear,
    "quarter": Calendar.quarter,
}


@dataclass(frozen=True)
class DateParts:
    """ExtractDateTimeFeatures: ``<column>_<part>`` for each part, the date column itself dropped."""

    name: str
    parts: tuple[str, ...]

    def __call__(self, columns: Columns) -> None:
        calendar = Calendar(np.asarray(columns.pop(self.name), dtype="datetime64[ns]"))
        for part in self.parts:
            columns[f"{self.name}_{part}"] = as_numbers(DATE_PARTS[part](calendar))


@dataclass(frozen=True)
class WeekOfYearColumns:
    """The trainer's ``WeekOfYear`` step: ``<column>_week_of_year`` beside each date column, which stays."""

    names: tuple[str, ...]

    def __call__(self, columns: Columns) -> None:
        for name in self.names:
            columns[f"{name}{WEEK_OF_YEAR_SUFFIX}"] = iso_week(np.asarray(columns[name], dtype="datetime64[ns]"))


@dataclass(frozen=True)
class FillNumbers:
    """A numeric SimpleImputer: NaN becomes the fitted statistic of its column."""

    fills: tuple[tuple[str, float], ...]

    def __call__(self, columns: Columns) -> None:
        for name, fill in self.fills:
            values = as_numbers(columns[name])
            missing = np.isnan(values)
            columns[name] = np.where(missing, fill, values) if missing.any() else values


@dataclass(frozen=True)
class FillCategories:
    """A categorical SimpleImputer (most frequent or constant): a missing value becomes the fitted one."""

    fills: tuple[tuple[str, Any], ...]

    def __call__(self, columns: Columns) -> None:
        for name, fill in self.fills:
            values = columns[name]
            if isinstance(values, pd.Categorical) and values.codes.min(initial=0) >= 0:
                continue  # every value a category: nothing to fill
            values = np.asarray(values)
            missing = _missing(values)
            if missing.any():
                values = values.astype(object)
                values[missing] = fill
            columns[name] = values


def _missing(values: np.ndarray) -> np.ndarray:
    """None or NaN, as the pipeline's imputer finds them; looked for among the distinct values first (a 100k-row
    column of text has a few dozen), since the input contract lets none through."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind != "O" or not any(map(_is_missing, set(values.tolist()))):
        return np.zeros(len(values), dtype=bool)
    return np.fromiter(map(_is_missing, values), dtype=bool, count=len(values))


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


# From this many rows on, a column's values are looked up once per distinct value (a category column has a few
# dozen), not one by one.
LOOK_UP_DISTINCT_FROM_ROWS = 256


def looked_up(values: Any, table: Mapping[Any, Any], unseen: Any, dtype: Any) -> np.ndarray:
    """``table.get(value, unseen)`` for each value, as an array of ``dtype``. A long column is factorized first and
    each distinct value looked up once, with the same dict lookup; one holding a missing value is looked up value by
    value (pandas would make one of None and NaN, which a dict tells apart)."""
    if len(values) >= LOOK_UP_DISTINCT_FROM_ROWS:
        if isinstance(values, pd.Categorical):
            codes, distinct = values.codes, values.categories
        else:
            codes, distinct = pd.factorize(values)
        if len(codes) == 0 or codes.min() >= 0:
            return np.array([table.get(value, unseen) for value in distinct.tolist()], dtype)[codes]
    return np.array([table.get(value, unseen) for value in values.tolist()], dtype)


@dataclass(frozen=True)
class Lookup:
    """A category → number table (ordinal codes or target-encoded means) and the number for an unseen category."""

    name: str
    table: Mapping[Any, float]
    unseen: float

    def __call__(self, columns: Columns) -> None:
        columns[self.name] = looked_up(columns[self.name], self.table, self.unseen, np.float64)


@dataclass(frozen=True)
class OneHot:
    """One-hot encoding: each category picks a row of ``table`` (its last row for an unseen category)."""

    name: str
    outputs: tuple[str, ...]
    rows: Mapping[Any, int]
    table: np.ndarray

    def __call__(self, columns: Columns) -> None:
        picked = self.table[looked_up(columns.pop(self.name), self.rows, len(self.table) - 1, np.intp)]
        for position, output in enumerate(self.outputs):
            columns[output] = picked[:, position]


@dataclass(frozen=True)
class Elementwise:
    """A scaler: the same float64 operations, in the same order, with the same fitted vectors as sklearn's own."""

    names: tuple[str, ...]
    operations: tuple[tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], np.ndarray], ...]
    clip: tuple[float, float] | None = None

    def __call__(self, columns: Columns) -> None:
        block = np.empty((len(columns[self.names[0]]), len(self.names)))
        for position, name in enumerate(self.names):
            block[:, position] = columns[name]
        for operation, vector in self.operations:
            block = operation(block, vector)
        if self.clip is not None:
            block = np.clip(block, *self.clip)
        for position, name in enumerate(self.names):
            columns[name] = block[:, position]


@dataclass(frozen=True)
class Drop:
    """Feature selection and other column drops."""

    names: tuple[str, ...]

    def __call__(self, columns: Columns) -> None:
        for name in self.names:
            del columns[name]


@dataclass(frozen=True)
class Rename:
    """CleanColumnNames."""

    names: tuple[tuple[str, str], ...]

    def __call__(self, columns: Columns) -> None:
        for old, new in self.names:
            columns[new] = columns.pop(old)


# --- reading the fitted steps ---------------------------------------------------------------------------------------


@dataclass
class FittedStep:
    """One fitted pipeline step, the columns its transformer is given, and the names present before it."""

    name: str
    transformer: Any
    include: list[str]
    columns: list[str]  # a compiler updates these to the names present after the step
    integer_features: frozenset[str]

    def refuse(self, why: str) -> NotCompilable:
        return NotCompilable(f"step '{self.name}' ({type(self.transformer).__name__}): {why}")

    def fitted_names(self) -> list[str]:
        """The columns the transformer was fitted on, in its order; they must be the ones it is given."""
        names = [str(column) for column in getattr(self.transformer, "feature_names_in_", self.include)]
        if names != self.include:
            raise self.refuse("fitted on other columns than it is given")
        return names

    def encoded_columns(self) -> list[str]:
        encoded = list(self.transformer.cols)
        if not set(encoded) <= set(self.include):
            raise self.refuse("encodes columns it is not given")
        return encoded

    def replace(self, column: str, outputs: list[str]) -> None:
        at = self.columns.index(column)
        self.columns[at : at + 1] = outputs

    def drop(self, dropped: tuple[str, ...]) -> list[Step]:
        self.columns[:] = [column for column in self.columns if column not in dropped]
        return [Drop(dropped)] if dropped else []


def compile_step(name: str, wrapper: Any, columns: list[str], integer_features: frozenset[str]) -> list[Step]:
    """The operations of one fitted pipeline step; ``columns`` (the names present before it) is updated in place."""
    from pycaret.internal.preprocess.transformers import TransformerWrapper

    if type(wrapper) is not TransformerWrapper:
        raise NotCompilable(f"step '{name}' is a {type(wrapper).__name__}, not a plain TransformerWrapper")
    include = list(wrapper._include if wrapper._include is not None else columns)
    if not include:
        return []  # PyCaret skips a step fitted on no columns
    fitted = FittedStep(name, wrapper.transformer, include, columns, integer_features)
    absent = [column for column in include if column not in columns]
    if absent:
        raise fitted.refuse(f"uses columns {absent} that are not there")
    compiler = _compilers().get(type(fitted.transformer))
    if compiler is None:
        raise fitted.refuse("not compiled")
    return compiler(fitted)


def _numbers_as_text(fitted: FittedStep) -> list[Step]:
    function = fitted.transformer
    dtypes = _astype_argument(function.func)
    if (
        function.validate
        or function.kw_args
        or not isinstance(dtypes, dict)
        or any(pd.api.types.pandas_dtype(dtype) != pd.StringDtype() for dtype in dtypes.values())
    ):
        raise fitted.refuse("only the trainer's astype({column: 'string'}) is compiled")
    names = tuple(column for column in dtypes if column in fitted.include)
    return [NumbersAsText(names, frozenset(names) & fitted.integer_features)]


def _astype_argument(func: Any) -> Any:
    """The argument of ``operator.methodcaller("astype", argument)``; None for any other function."""
    if not isinstance(func, operator.methodcaller):
        return None
    maker, arguments = func.__reduce__()
    if maker is operator.methodcaller and len(arguments) == 2 and arguments[0] == "astype":
        return arguments[1]
    return None


def _date_parts(fitted: FittedStep) -> list[Step]:
    parts = tuple(fitted.transformer.features)
    unknown = [part for part in parts if part not in DATE_PARTS]
    if unknown:
        raise fitted.refuse(f"date features {unknown} are not compiled")
    for column in fitted.include:
        fitted.replace(column, [f"{column}_{part}" for part in parts])
    return [DateParts(column, parts) for column in fitted.include]


def _week_of_year(fitted: FittedStep) -> list[Step]:
    names = tuple(column for column in fitted.transformer.columns if column in fitted.columns)
    for name in names:
        fitted.replace(name, [name, f"{name}{WEEK_OF_YEAR_SUFFIX}"])
    return [WeekOfYearColumns(names)] if names else []


def _simple_imputer(fitted: FittedStep) -> list[Step]:
    imputer = fitted.transformer
    if imputer.add_indicator or not _is_nan(imputer.missing_values):
        raise fitted.refuse("only NaN as the missing value, without indicator columns, is compiled")
    statistics = list(imputer.statistics_)
    if any(_is_nan(value) for value in statistics):
        raise fitted.refuse("a column had no value to impute from (the imputer drops it)")
    fills = tuple(zip(fitted.fitted_names(), statistics, strict=True))
    if imputer.strategy in ("mean", "median"):
        return [FillNumbers(tuple((column, float(value)) for column, value in fills))]
    return [FillCategories(fills)]


def _ordinal_codes(fitted: FittedStep, encoder: Any, column: str) -> tuple[dict[Any, Any], float]:
    """category_encoders' OrdinalEncoder for ``column``: each category's code, and the code of an unseen one."""
    if encoder.handle_unknown not in ("value", "return_nan") or encoder.drop_invariant:
        raise fitted.refuse("an encoder that raises on unseen categories or drops columns is not compiled")
    mapping = next((entry["mapping"] for entry in encoder.mapping if entry["col"] == column), None)
    if mapping is None:
        raise fitted.refuse(f"no mapping for column '{column}'")
    codes = dict(zip(mapping.index.tolist(), mapping.tolist(), strict=True))
    codes = {category: code for category, code in codes.items() if not _is_nan(category)}
    return codes, (-1.0 if encoder.handle_unknown == "value" else np.nan)


def _ordinal_encoder(fitted: FittedStep) -> list[Step]:
    steps: list[Step] = []
    for column in fitted.encoded_columns():
        codes, unseen = _ordinal_codes(fitted, fitted.transformer, column)
        steps.append(Lookup(column, {category: float(code) for category, code in codes.items()}, unseen))
    return steps


def _one_hot_encoder(fitted: FittedStep) -> list[Step]:
    encoder = fitted.transformer
    if encoder.handle_unknown == "error" or encoder.drop_invariant:
        raise fitted.refuse("an encoder that raises on unseen categories or drops columns is not compiled")
    steps: list[Step] = []
    for column in fitted.encoded_columns():
        codes, unseen = _ordinal_codes(fitted, encoder.ordinal_encoder, column)
        dummies = next(entry["mapping"] for entry in encoder.mapping if entry["col"] == column)
        outputs = [str(output) for output in dummies.columns]
        row_of_code = {code: row for row, code in enumerate(dummies.index.tolist())}
        nan_row = len(dummies)  # ``reindex`` gives NaN for a code the table does not have
        table = np.vstack([dummies.to_numpy(dtype=np.float64), np.full((1, len(outputs)), np.nan)])
        table = np.vstack([table, table[row_of_code.get(unseen, nan_row)]])  # the last row: an unseen category
        rows = {category: row_of_code.get(code, nan_row) for category, code in codes.items()}
        steps.append(OneHot(column, tuple(outputs), rows, table))
        fitted.replace(column, outputs)
    return steps


def _target_encoder(fitted: FittedStep) -> list[Step]:
    encoder = fitted.transformer
    if encoder.handle_unknown == "error" or encoder.drop_invariant:
        raise fitted.refuse("an encoder that raises on unseen categories or drops columns is not compiled")
    steps: list[Step] = []
    for column in fitted.encoded_columns():
        codes, unseen = _ordinal_codes(fitted, encoder.ordinal_encoder, column)
        means = dict(zip(encoder.mapping[column].index.tolist(), encoder.mapping[column].tolist(), strict=True))
        table = {category: float(means.get(code, np.nan)) for category, code in codes.items()}
        steps.append(Lookup(column, table, float(means.get(unseen, np.nan))))
    return steps


def _standard_scaler(fitted: FittedStep) -> list[Step]:
    scaler = fitted.transformer
    operations = [(np.subtract, scaler.mean_)] if scaler.with_mean else []
    operations += [(np.true_divide, scaler.scale_)] if scaler.with_std else []
    return [Elementwise(tuple(fitted.fitted_names()), tuple(operations))]


def _min_max_scaler(fitted: FittedStep) -> list[Step]:
    scaler = fitted.transformer
    clip = (float(scaler.feature_range[0]), float(scaler.feature_range[1])) if scaler.clip else None
    operations = ((np.multiply, scaler.scale_), (np.add, scaler.min_))
    return [Elementwise(tuple(fitted.fitted_names()), operations, clip)]


def _max_abs_scaler(fitted: FittedStep) -> list[Step]:
    return [Elementwise(tuple(fitted.fitted_names()), ((np.true_divide, fitted.transformer.scale_),))]


def _robust_scaler(fitted: FittedStep) -> list[Step]:
    scaler = fitted.transformer
    operations = [(np.subtract, scaler.center_)] if scaler.with_centering else []
    operations += [(np.true_divide, scaler.scale_)] if scaler.with_scaling else []
    return [Elementwise(tuple(fitted.fitted_names()), tuple(operations))]


def _selector(fitted: FittedStep) -> list[Step]:
    support = fitted.transformer.get_support()
    return fitted.drop(tuple(column for column, kept in zip(fitted.fitted_names(), support, strict=True) if not kept))


def _multicollinearity(fitted: FittedStep) -> list[Step]:
    dropped = set(fitted.transformer.drop_)
    return fitted.drop(tuple(column for column in fitted.include if column in dropped))


def _clean_column_names(fitted: FittedStep) -> list[Step]:
    renamed = [re.sub(fitted.transformer.match, "", str(column)) for column in fitted.columns]
    if len(set(renamed)) != len(renamed):
        raise fitted.refuse("two columns get the same clean name")
    changed = tuple((old, new) for old, new in zip(fitted.columns, renamed, strict=True) if old != new)
    fitted.columns[:] = renamed
    return [Rename(changed)] if changed else []


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


Compiler = Callable[[FittedStep], list[Step]]


@cache
def _compilers() -> dict[type, Compiler]:
    """The transformer classes compiled here, matched exactly (a subclass may behave otherwise)."""
    from category_encoders import OneHotEncoder, OrdinalEncoder, TargetEncoder
    from pycaret.internal.preprocess.transformers import (
        CleanColumnNames,
        ExtractDateTimeFeatures,
        RemoveMulticollinearity,
    )
    from sklearn.feature_selection import SelectFromModel, SelectKBest, SequentialFeatureSelector, VarianceThreshold
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    return {
        FunctionTransformer: _numbers_as_text,
        WeekOfYear: _week_of_year,
        ExtractDateTimeFeatures: _date_parts,
        SimpleImputer: _simple_imputer,
        OrdinalEncoder: _ordinal_encoder,
        OneHotEncoder: _one_hot_encoder,
        TargetEncoder: _target_encoder,
        StandardScaler: _standard_scaler,
        MinMaxScaler: _min_max_scaler,
        MaxAbsScaler: _max_abs_scaler,
        RobustScaler: _robust_scaler,
        VarianceThreshold: _selector,
        SelectKBest: _selector,
        SelectFromModel: _selector,
        SequentialFeatureSelector: _selector,
        RemoveMulticollinearity: _multicollinearity,
        CleanColumnNames: _clean_column_names,
    }
