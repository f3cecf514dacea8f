"""From a user's table to the one long frame every model reads: ``unique_id``, ``ds``, ``y`` and the known-future
columns, one row per series and period on a regular grid; and every problem that must stop a forecast training
before it is queued, in words the user can act on.

Choices made here, for sales data:
- **Missing periods.** A period a series has no row for (or no target value) between its first date and the
  panel's last date is filled by ``missing_periods``: ``"zero"`` (the default: no row means nothing was sold) or
  ``"previous"`` (the last value carried forward, for levels such as stock or price). Known-future columns in those
  periods carry their previous value.
- **Where series start and end.** A series starts at its first date with a target value and runs to the last date
  with a target value in the whole panel, so all series end together (a series without rows at the end sold
  nothing then, under ``"zero"``). Rows after that date (future rows with known-future values but no target) are
  not training data.
- **Columns.** Only the target, the date, the series columns and the named known-future columns are used; any other
  column is unknown in the future and is left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared.forecasting.dates import date_candidates, parse_dates
from shared.forecasting.frequency import Frequency, FrequencyError, given_frequency, infer_frequency
from shared.forecasting.windows import max_horizon, periods_needed, plan_windows

ID = "unique_id"
DS = "ds"
Y = "y"
MISSING_PERIOD_RULES = ("zero", "previous")
MAX_BACKTEST_WINDOWS = 10
SINGLE_SERIES = "the series"


class ForecastDataError(ValueError):
    """The data or the request cannot be forecast; ``errors`` maps a request field to messages a user can act on."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(message for messages in errors.values() for message in messages))


@dataclass(frozen=True)
class ForecastSpec:
    """What the user asked for; every field but the target has a default worked out from the data."""

    target: str
    date_column: str | None = None
    series_columns: tuple[str, ...] = ()
    horizon: int | None = None
    frequency: str | None = None
    known_future: tuple[str, ...] = ()
    backtest_windows: int = 3
    missing_periods: str = "zero"


@dataclass
class Panel:
    """The long frame (sorted by series, then date) and what was worked out to build it."""

    frame: pd.DataFrame
    series: pd.DataFrame  # indexed by unique_id: the series columns' original values
    target: str
    date_column: str
    series_columns: list[str]
    known_future: list[str]
    frequency: Frequency
    horizon: int
    backtest_windows: int
    missing_periods: str
    date_formats: tuple[str, ...] | None
    filled_periods: int
    lengths: pd.Series = field(repr=False)  # periods per series, indexed by unique_id

    @property
    def season_length(self) -> int:
        return self.frequency.season_length

    @property
    def last_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.frame[DS].max())

    def describe(self, uid: Any) -> str:
        return describe_series(self.series, uid)


def describe_series(series: pd.DataFrame, uid: Any) -> str:
    """``Store=3`` or ``agency=Agency_22, sku=SKU_01``, as a user would name the series."""
    if series.columns.empty:
        return SINGLE_SERIES
    return ", ".join(f"{column}={series.at[uid, column]}" for column in series.columns)


def prepare_panel(frame: pd.DataFrame, spec: ForecastSpec) -> Panel:
    """The panel for ``spec``; ForecastDataError with every problem found."""
    panel, problems = _prepare(frame, spec)
    if problems or panel is None:
        raise ForecastDataError(problems)
    return panel


def forecast_problems(frame: pd.DataFrame, spec: ForecastSpec) -> dict[str, list[str]]:
    """Every problem that must be a 422 before training, field → messages; empty when the request can train.

    ``frame`` needs only the target, date, series and known-future columns (all columns when the date column is to
    be detected).
    """
    return _prepare(frame, spec)[1]


def _prepare(frame: pd.DataFrame, spec: ForecastSpec) -> tuple[Panel | None, dict[str, list[str]]]:
    problems: dict[str, list[str]] = defaultdict(list)
    columns = {str(c) for c in frame.columns}
    series_columns = list(dict.fromkeys(spec.series_columns))
    known_future = list(dict.fromkeys(spec.known_future))
    _check_target(frame, spec.target, columns, problems)
    _check_series_columns(frame, spec.target, series_columns, columns, problems)
    _check_known_future(frame, spec.target, series_columns, known_future, columns, problems)
    _check_settings(spec, problems)
    date_column = _date_column(frame, spec, series_columns, known_future, columns, problems)
    if problems or date_column is None:
        return None, dict(problems)

    parsed = parse_dates(frame[date_column])
    assert parsed is not None  # _date_column checked it
    rows = pd.DataFrame({DS: parsed.values.to_numpy(), Y: pd.to_numeric(frame[spec.target]).astype(float).to_numpy()})
    for column in known_future:
        rows[column] = pd.to_numeric(frame[column]).astype(float).to_numpy()
    series = _series_codes(frame, series_columns)
    rows.insert(0, ID, series.codes)
    undated = rows[DS].isna() & rows[Y].notna()
    if undated.any():
        problems["date_column"].append(
            f"{int(undated.sum())} rows have a `{spec.target}` value but no date in `{date_column}`; fill the dates "
            "in or drop those rows"
        )
        return None, dict(problems)
    rows = rows[rows[DS].notna()]
    duplicated = rows.duplicated([ID, DS], keep=False)
    if duplicated.any():
        first = rows[duplicated].iloc[0]
        count = int(rows[duplicated].drop_duplicates([ID, DS]).shape[0])
        where = describe_series(series.table, first[ID])
        problems["date_column"].append(
            f"{where} has more than one row dated {pd.Timestamp(first[DS]).date()} ({count} duplicated dates in all); "
            "keep one row per series and date (sum them), or add the column that tells them apart to series_columns"
        )
        return None, dict(problems)

    observed = rows[rows[Y].notna()]
    last_date = observed[DS].max()
    try:
        if spec.frequency:
            frequency = given_frequency(spec.frequency, rows[DS])
        else:
            frequency = infer_frequency([group.to_numpy() for _, group in observed.groupby(ID)[DS]])
    except FrequencyError as exc:
        problems["frequency"].append(f"the frequency cannot be worked out from `{date_column}`: {exc}")
        return None, dict(problems)

    long, filled = _fill_grid(rows, observed, last_date, frequency, spec.missing_periods, known_future)
    unknown_future = [c for c in known_future if long[c].isna().any()]
    for column in unknown_future:
        uid = long.loc[long[column].isna(), ID].iloc[0]
        problems["known_future"].append(
            f"`{column}` has no value at all for {describe_series(series.table, uid)}; fill it in or leave the column "
            "out of known_future"
        )
    lengths = long.groupby(ID).size()
    shortest_uid = lengths.idxmin()
    shortest = int(lengths.min())
    where = describe_series(series.table, shortest_uid)
    horizon = spec.horizon if spec.horizon is not None else frequency.default_horizon
    default_note = "" if spec.horizon is not None else f" (the default for {frequency.alias} data)"
    if horizon > max_horizon(shortest):
        problems["horizon"].append(
            f"a horizon of {horizon} periods{default_note} is longer than the history allows: {where} has {shortest} "
            f"periods, and a forecast needs at least as many periods behind it as ahead; ask for at most "
            f"{max_horizon(shortest)} periods, or drop the shorter series"
        )
    else:
        try:
            plan_windows(shortest, horizon, spec.backtest_windows, frequency.season_length)
        except ValueError:
            needed = periods_needed(horizon, spec.backtest_windows, frequency.season_length)
            problems["backtest_windows"].append(
                f"too few periods per series for the backtest: {where} has {shortest} periods; "
                f"{spec.backtest_windows} backtest windows for a {horizon}-period horizon need at least {needed}. "
                "Use fewer backtest_windows or a shorter horizon, or drop the shorter series"
            )
    if problems:
        return None, dict(problems)
    panel = Panel(
        frame=long,
        series=series.table,
        target=spec.target,
        date_column=date_column,
        series_columns=series_columns,
        known_future=known_future,
        frequency=frequency,
        horizon=horizon,
        backtest_windows=spec.backtest_windows,
        missing_periods=spec.missing_periods,
        date_formats=parsed.text_formats,
        filled_periods=filled,
        lengths=lengths,
    )
    return panel, {}


def _check_target(frame: pd.DataFrame, target: str, columns: set[str], problems: dict[str, list[str]]) -> None:
    if target not in columns:
        problems["target"].append(f"column `{target}` is not in the dataset; choose one of its columns as the target")
    elif not _is_number(frame[target]):
        problems["target"].append(f"column `{target}` is not numeric; a forecast target must hold numbers")
    elif frame[target].notna().sum() == 0:
        problems["target"].append(f"column `{target}` has no values")


def _check_series_columns(
    frame: pd.DataFrame, target: str, series_columns: list[str], columns: set[str], problems: dict[str, list[str]]
) -> None:
    for column in series_columns:
        if column not in columns:
            problems["series_columns"].append(f"column `{column}` is not in the dataset")
        elif column == target:
            problems["series_columns"].append(f"`{column}` is the target; it cannot also name the series")
        elif frame[column].isna().any():
            problems["series_columns"].append(
                f"column `{column}` has {int(frame[column].isna().sum())} missing values; every row must name its "
                "series"
            )


def _check_known_future(
    frame: pd.DataFrame,
    target: str,
    series_columns: list[str],
    known_future: list[str],
    columns: set[str],
    problems: dict[str, list[str]],
) -> None:
    for column in known_future:
        if column not in columns:
            problems["known_future"].append(f"column `{column}` is not in the dataset")
        elif column == target:
            problems["known_future"].append(f"`{column}` is the target; its future is what is forecast")
        elif column in series_columns:
            problems["known_future"].append(f"`{column}` names the series; it cannot also be a known-future column")
        elif not (_is_number(frame[column]) or pd.api.types.is_bool_dtype(frame[column])):
            problems["known_future"].append(
                f"column `{column}` is not numeric; known-future columns must hold numbers (e.g. 0/1 for a promotion)"
            )


def _check_settings(spec: ForecastSpec, problems: dict[str, list[str]]) -> None:
    if spec.horizon is not None and (not isinstance(spec.horizon, int | np.integer) or spec.horizon < 1):
        problems["horizon"].append("the horizon must be a whole number of periods, at least 1")
    if not 1 <= spec.backtest_windows <= MAX_BACKTEST_WINDOWS:
        problems["backtest_windows"].append(f"backtest_windows must be between 1 and {MAX_BACKTEST_WINDOWS}")
    if spec.missing_periods not in MISSING_PERIOD_RULES:
        problems["missing_periods"].append(f"missing_periods must be one of {', '.join(MISSING_PERIOD_RULES)}")


def _date_column(
    frame: pd.DataFrame,
    spec: ForecastSpec,
    series_columns: list[str],
    known_future: list[str],
    columns: set[str],
    problems: dict[str, list[str]],
) -> str | None:
    if spec.date_column is not None:
        if spec.date_column not in columns:
            problems["date_column"].append(f"column `{spec.date_column}` is not in the dataset")
            return None
        if parse_dates(frame[spec.date_column]) is None:
            example = frame[spec.date_column].dropna()
            shown = f" (e.g. `{example.iloc[0]}`)" if len(example) else ""
            problems["date_column"].append(
                f"column `{spec.date_column}` does not hold dates{shown}; dates such as 2012-05-04, 05-02-2010, "
                "1998 Q1 or 1987 Jan are understood, one way of writing them per column"
            )
            return None
        return spec.date_column
    candidates = date_candidates(frame, exclude={spec.target, *series_columns, *known_future})
    if not candidates:
        problems["date_column"].append(
            "no column holds dates; a forecast needs one (dates such as 2012-05-04, 05-02-2010, 1998 Q1 or 1987 Jan, "
            "or a date/timestamp column)"
        )
        return None
    if len(candidates) > 1:
        named = ", ".join(f"`{c}`" for c in candidates)
        problems["date_column"].append(f"several columns hold dates ({named}); name the one to forecast along")
        return None
    return candidates[0]


@dataclass(frozen=True)
class _SeriesCodes:
    codes: np.ndarray
    table: pd.DataFrame


def _series_codes(frame: pd.DataFrame, series_columns: list[str]) -> _SeriesCodes:
    """One integer per combination of the series columns' values, numbered in sorted order of the values."""
    if not series_columns:
        return _SeriesCodes(np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=pd.Index([0], name=ID)))
    codes = frame.groupby(series_columns, sort=True, observed=True).ngroup().to_numpy(dtype=np.int64)
    first_rows = pd.Series(np.arange(len(frame))).groupby(codes).first()
    table = frame[series_columns].iloc[first_rows.to_numpy()].copy()
    table.index = pd.Index(first_rows.index.to_numpy(dtype=np.int64), name=ID)
    for column in series_columns:
        if isinstance(table[column].dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(table[column].cat.categories.dtype)
    return _SeriesCodes(codes, table)


def _fill_grid(
    rows: pd.DataFrame,
    observed: pd.DataFrame,
    last_date: pd.Timestamp,
    frequency: Frequency,
    missing_periods: str,
    known_future: list[str],
) -> tuple[pd.DataFrame, int]:
    """Every period from each series' first observed date to the panel's last one; returns it and how many target
    values were filled in."""
    firsts = observed.groupby(ID)[DS].min()
    grids = [pd.date_range(first, last_date, freq=frequency.alias) for first in firsts]
    full = pd.DataFrame(
        {ID: np.repeat(firsts.index.to_numpy(), [len(g) for g in grids]), DS: np.concatenate([g.values for g in grids])}
    )
    long = full.merge(rows, on=[ID, DS], how="left", sort=False)
    filled = int(long[Y].isna().sum())
    if missing_periods == "zero":
        long[Y] = long[Y].fillna(0.0)
    else:
        long[Y] = long.groupby(ID)[Y].ffill()
    if known_future:
        long[known_future] = long.groupby(ID)[known_future].transform(lambda values: values.ffill().bfill())
    return long.sort_values([ID, DS], kind="stable").reset_index(drop=True), filled


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
