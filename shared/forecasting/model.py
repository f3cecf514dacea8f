"""The served forecast model: what the trainer pickles and the predictor loads to answer ``POST /forecast``.

``ForecastModel.forecast`` answers the next periods after each series' last date, for every series or the
requested ones, with 80% and 95% intervals. Newer rows (``history``) move the start without retraining: the fitted
parameters are applied to the longer series. A served model is one forecaster or the average of a few (the
ensemble); forecasts from the training data's end are computed once at training, so a request without newer rows
or known-future values only slices them.

Every problem with a request raises a ``ForecastRequestError`` subclass whose message the user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared.domain_errors import DomainError
from shared.forecasting.dates import parse_like_training
from shared.forecasting.forecasters import FORECAST, GlobalRegressionForecaster, future_dates
from shared.forecasting.intervals import LEVELS
from shared.forecasting.panel import DS, ID, Y, describe_series

OUTPUT_COLUMNS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")
MAX_EXAMPLES = 3


class ForecastRequestError(DomainError, ValueError):
    """A forecast request the model cannot answer as asked; the message says what to change."""


class UnknownSeriesError(ForecastRequestError):
    """A requested series (or one in ``history``/``future``) is not one the model was trained on."""


class MissingFutureValuesError(ForecastRequestError):
    """Known-future values are missing for some forecast dates."""


class HorizonTooLongError(ForecastRequestError):
    """The horizon asked for is longer than the one the model was trained and backtested for."""


class InvalidRowsError(ForecastRequestError):
    """``series``, ``history`` or ``future`` rows are malformed (missing columns, unreadable dates or values)."""


@dataclass(frozen=True)
class PreparedForecast:
    """A forecast request as the model reads it: the periods ahead, the (possibly extended) history of the series
    asked for, the forecast dates (``unique_id``, ``ds``, ``step``), the series that newer rows changed, and the
    known-future values of every forecast date (``unique_id``, ``ds`` and the columns), if the model needs them."""

    steps: int
    wanted: pd.DataFrame
    dates: pd.DataFrame
    changed: set[int]
    known: pd.DataFrame | None


@dataclass
class ForecastModel:
    """A trained forecaster and everything needed to serve and describe it (see the module docstring)."""

    algorithm: str
    name: str
    members: list[Any]
    target: str
    date_column: str
    series_columns: list[str]
    frequency: str
    season_length: int
    horizon: int
    known_future: list[str]  # the columns a request must supply for the forecast dates (the members' needs)
    date_formats: tuple[str, ...] | None
    missing_periods: str
    nonnegative: bool
    series: pd.DataFrame  # indexed by unique_id: the series columns' values
    history: pd.DataFrame  # the training long frame
    scales: np.ndarray  # per unique_id (position): what interval widths are multiplied by
    widths: dict[int, np.ndarray]  # per level: half-width per step, in units of the scale
    interval_coverage: dict[str, float | None]
    backtest: pd.DataFrame  # window, origin, unique_id, ds, actual, forecast
    metrics: dict[str, Any] = field(default_factory=dict)
    precomputed: list[np.ndarray | None] = field(default_factory=list)  # per member: [series, horizon] or None

    # --- what the API reports -----------------------------------------------------------------------------------

    @property
    def series_count(self) -> int:
        return len(self.series)

    @property
    def last_dates(self) -> pd.Series:
        """The last training date of every series, indexed by unique_id."""
        return self.history.groupby(ID, sort=True)[DS].max()

    def describe(self) -> dict[str, Any]:
        """The model's ``forecast`` block of the API; ``last_dates`` lists every series with its last date (ISO)."""
        last_dates = [
            {**self._series_values(uid), self.date_column: pd.Timestamp(date).date().isoformat()}
            for uid, date in self.last_dates.items()
        ]
        return {
            "date_column": self.date_column,
            "series_columns": list(self.series_columns),
            "frequency": self.frequency,
            "horizon": self.horizon,
            "known_future": list(self.known_future),
            "last_dates": last_dates,
            "series_count": self.series_count,
            "interval_coverage": dict(self.interval_coverage),
        }

    def backtest_windows(self) -> list[dict[str, Any]]:
        """``[{"origin", "rows"}]``: per backtest window, its origin (the last date it trained on) and the actual and
        forecast value of every scored point, with the series columns and the date column."""
        windows = []
        for (_, origin), rows in self.backtest.groupby(["window", "origin"], sort=True):
            table = self.series.loc[rows[ID].to_numpy()].reset_index(drop=True)
            table[self.date_column] = rows[DS].to_numpy()
            table["actual"] = rows["actual"].to_numpy()
            table["forecast"] = rows["forecast"].to_numpy()
            windows.append({"origin": pd.Timestamp(origin), "rows": table})
        return windows

    # --- forecasting ----------------------------------------------------------------------------------------------

    def forecast(
        self,
        horizon: int | None = None,
        series: Sequence[Mapping[str, Any]] | None = None,
        future: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
        history: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    ) -> pd.DataFrame:
        """The next ``horizon`` periods (default: the trained horizon) of every series or of the ``series`` asked
        for, after each one's last date (its ``history`` rows included)."""
        return self.answer(self.prepare(horizon, series, future, history))

    def prepare(
        self,
        horizon: int | None = None,
        series: Sequence[Mapping[str, Any]] | None = None,
        future: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
        history: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    ) -> PreparedForecast:
        """A request read and checked (``ForecastRequestError`` saying what to change), ready for ``answer``."""
        steps = self._horizon(horizon)
        uids = self._requested(series)
        frame, changed = (self.history, set()) if history is None else self._append(history)
        if history is not None and series is None:
            uids = np.arange(self.series_count)
        wanted = frame[frame[ID].isin(uids)] if len(uids) < self.series_count else frame
        dates = future_dates(wanted, self.frequency, steps)
        known = self._future_values(future, dates) if self.known_future else None
        return PreparedForecast(steps, wanted, dates, changed, known)

    def answer(self, request: PreparedForecast) -> pd.DataFrame:
        """The forecast table of a prepared request: per series and date, the forecast and its intervals."""
        values = np.mean(
            [
                self._member_forecast(i, request.wanted, request.dates, request.steps, request.changed, request.known)
                for i in range(len(self.members))
            ],
            axis=0,
        )
        if self.nonnegative:
            values = np.maximum(values, 0.0)
        return self._table(request.dates, values)

    def forecast_for(self, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """What this model forecast, from its training data's end, for dated rows of its series (actuals: the true
        target, and the known-future values the forecast needs): the rows' actual values beside the forecast and
        intervals, in the rows' order. Every date must lie within the horizon after its series' last date."""
        needed = [self.target, *self.known_future]
        frame = self._rows(rows, "records", needed)
        if frame.empty:
            raise InvalidRowsError("send at least one record")
        if frame.duplicated([ID, DS]).any():
            first = frame[frame.duplicated([ID, DS])].iloc[0]
            raise InvalidRowsError(
                f"more than one record for {describe_series(self.series, first[ID])} dated "
                f"{pd.Timestamp(first[DS]).date()}"
            )
        if frame[self.target].isna().any():
            raise InvalidRowsError(f"every record needs the true `{self.target}`")
        wanted = self.history[self.history[ID].isin(frame[ID].unique())]
        dates = future_dates(wanted, self.frequency, self.horizon)
        matched = frame.merge(dates, on=[ID, DS], how="left")
        outside = matched[matched["step"].isna()]
        if len(outside):
            first = outside.iloc[0]
            last = self.last_dates.loc[first[ID]]
            raise InvalidRowsError(
                f"{len(outside)} record(s) fall outside what the model forecast: "
                f"{describe_series(self.series, first[ID])} dated {pd.Timestamp(first[DS]).date()}, while its "
                f"forecast covers the {self.horizon} {self.frequency} periods after {pd.Timestamp(last).date()} "
                "(the training data's end). Send actuals on those dates, or retrain on the newer data"
            )
        steps = int(matched["step"].max())
        if self.known_future:
            covered = matched.groupby(ID)["step"].agg(["count", "max"])
            gapped = covered[covered["count"] < covered["max"]]
            if len(gapped):
                raise MissingFutureValuesError(
                    f"{describe_series(self.series, gapped.index[0])} lacks records for some periods before its "
                    f"last one: a forecast of a later date needs the known-future values "
                    f"({', '.join(self.known_future)}) of every period since the training data's end; send a record "
                    "for each of them"
                )
        series = [self._series_values(uid) for uid in sorted(frame[ID].unique())]
        future = None
        if self.known_future:
            future = self.series.loc[frame[ID]].reset_index(drop=True)
            future[self.date_column] = frame[DS].to_numpy()
            for column in self.known_future:
                future[column] = frame[column].to_numpy()
        forecast = self.forecast(horizon=steps, series=series if self.series_columns else None, future=future)
        forecast[ID] = self._rows_to_uids(forecast, "forecast") if self.series_columns else 0
        forecast = forecast.rename(columns={self.date_column: DS})
        keep = [ID, DS, *OUTPUT_COLUMNS]
        answer = frame[[ID, DS, self.target]].merge(forecast[keep], on=[ID, DS], how="left")
        return answer.rename(columns={self.target: "actual"}).drop(columns=[ID, DS])

    def _member_forecast(
        self,
        index: int,
        wanted: pd.DataFrame,
        dates: pd.DataFrame,
        steps: int,
        changed: set[int],
        known: pd.DataFrame | None,
    ) -> np.ndarray:
        member = self.members[index]
        precomputed = self.precomputed[index] if index < len(self.precomputed) else None
        uids = dates[ID].to_numpy()
        if precomputed is not None and not member.uses_known_future and not changed:
            return precomputed[uids, dates["step"].to_numpy() - 1]
        if precomputed is not None and not member.uses_known_future:
            fresh = np.isin(uids, list(changed))
            values = np.empty(len(dates))
            values[~fresh] = precomputed[uids[~fresh], dates["step"].to_numpy()[~fresh] - 1]
            redo = wanted[wanted[ID].isin(changed)]
            if len(redo):
                values[fresh] = member.forecast(redo, steps)[FORECAST].to_numpy()
            return values
        if isinstance(member, GlobalRegressionForecaster):
            untouched = wanted[~wanted[ID].isin(changed)]
            values = np.empty(len(dates))
            fresh = np.isin(uids, list(changed))
            if len(untouched):
                values[~fresh] = member.forecast(untouched, steps, known, fitted_history=True)[FORECAST].to_numpy()
            if fresh.any():
                values[fresh] = member.forecast(wanted[wanted[ID].isin(changed)], steps, known)[FORECAST].to_numpy()
            return values
        return member.forecast(wanted, steps, known)[FORECAST].to_numpy()

    def _table(self, dates: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
        uids = dates[ID].to_numpy()
        table = (
            self.series.iloc[uids].reset_index(drop=True) if self.series_columns else pd.DataFrame(index=dates.index)
        )
        table = table.reset_index(drop=True)
        table[self.date_column] = dates[DS].to_numpy()
        table["forecast"] = values
        scale = self.scales[uids]
        step_index = dates["step"].to_numpy() - 1
        for level in LEVELS:
            half = self.widths[level][step_index] * scale
            lower = values - half
            table[f"lower_{level}"] = np.maximum(lower, 0.0) if self.nonnegative else lower
            table[f"upper_{level}"] = values + half
        return table

    def _horizon(self, horizon: int | None) -> int:
        if horizon is None:
            return self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ForecastRequestError("horizon must be a whole number of periods, at least 1")
        if horizon > self.horizon:
            raise HorizonTooLongError(
                f"horizon {horizon} is longer than this model's {self.horizon} periods (what it was trained and "
                "backtested for); ask for fewer periods or train with a longer horizon"
            )
        return int(horizon)

    # --- matching rows to series ----------------------------------------------------------------------------------

    def _requested(self, series: Sequence[Mapping[str, Any]] | None) -> np.ndarray:
        if series is None:
            return np.arange(self.series_count)
        if not self.series_columns:
            if any(len(entry) for entry in series):
                raise UnknownSeriesError("this model forecasts a single series; leave `series` out")
            return np.arange(self.series_count)
        lookup = self._series_lookup()
        uids, unknown = [], []
        for entry in series:
            missing = [c for c in self.series_columns if c not in entry]
            if missing:
                raise InvalidRowsError(
                    f"each entry of `series` must name every series column ({', '.join(self.series_columns)}); "
                    f"{dict(entry)} lacks {', '.join(missing)}"
                )
            key = tuple(_normalized(entry[c]) for c in self.series_columns)
            if key in lookup:
                uids.append(lookup[key])
            else:
                unknown.append(", ".join(f"{c}={entry[c]}" for c in self.series_columns))
        if unknown:
            raise UnknownSeriesError(self._unknown_message(unknown))
        return np.array(sorted(set(uids)), dtype=np.int64)

    def _series_lookup(self) -> dict[tuple[str, ...], int]:
        if not hasattr(self, "_lookup_cache"):
            self._lookup_cache = {
                tuple(_normalized(v) for v in row): int(uid)
                for uid, row in zip(self.series.index, self.series.itertuples(index=False, name=None), strict=True)
            }
        return self._lookup_cache

    def _unknown_message(self, unknown: list[str]) -> str:
        shown = "; ".join(unknown[:MAX_EXAMPLES]) + (
            f" (and {len(unknown) - MAX_EXAMPLES} more)" if len(unknown) > MAX_EXAMPLES else ""
        )
        example = describe_series(self.series, self.series.index[0])
        return (
            f"series not in this model: {shown}. It was trained on {self.series_count} series (e.g. {example}); "
            "retrain with data for a new series to forecast it"
        )

    def _rows_to_uids(self, rows: pd.DataFrame, what: str) -> np.ndarray:
        if not self.series_columns:
            return np.zeros(len(rows), dtype=np.int64)
        lookup = self._series_lookup()
        keys = [tuple(_normalized(v) for v in key) for key in rows[self.series_columns].itertuples(index=False)]
        uids = [lookup.get(key, -1) for key in keys]
        unknown = [
            ", ".join(f"{c}={v}" for c, v in zip(self.series_columns, key, strict=True))
            for key, uid in zip(keys, uids, strict=True)
            if uid < 0
        ]
        if unknown:
            raise UnknownSeriesError(f"`{what}` rows: " + self._unknown_message(list(dict.fromkeys(unknown))))
        return np.asarray(uids, dtype=np.int64)

    def _rows(self, rows: pd.DataFrame | Sequence[Mapping[str, Any]], what: str, needed: Iterable[str]) -> pd.DataFrame:
        frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        missing = [c for c in [*self.series_columns, self.date_column, *needed] if c not in frame.columns]
        if missing:
            raise InvalidRowsError(f"`{what}` rows lack the column(s) {', '.join(missing)}")
        try:
            dates = parse_like_training(frame[self.date_column], self.date_formats)
        except (TypeError, ValueError) as exc:
            raise InvalidRowsError(f"`{what}` rows: column `{self.date_column}`: {exc}") from None
        if dates.isna().any():
            raise InvalidRowsError(f"`{what}` rows: every row needs a date in `{self.date_column}`")
        out = pd.DataFrame({ID: self._rows_to_uids(frame, what), DS: dates.to_numpy()})
        for column in needed:
            values = pd.to_numeric(frame[column], errors="coerce")
            unreadable = values.isna() & frame[column].notna()
            if unreadable.any():
                raise InvalidRowsError(
                    f"`{what}` rows: column `{column}` must hold numbers; "
                    f"`{frame[column][unreadable].iloc[0]}` is not one"
                )
            out[column] = values.astype(float).to_numpy()
        return out

    # --- newer history and known-future values ---------------------------------------------------------------------

    def _append(self, history: pd.DataFrame | Sequence[Mapping[str, Any]]) -> tuple[pd.DataFrame, set[int]]:
        """The training frame with the newer rows appended (gaps filled as in training) and the series they touch."""
        rows = self._rows(history, "history", [self.target, *self.known_future]).rename(columns={self.target: Y})
        if rows.empty:
            return self.history, set()
        if rows.duplicated([ID, DS]).any():
            first = rows[rows.duplicated([ID, DS])].iloc[0]
            raise InvalidRowsError(
                f"`history` has more than one row for {describe_series(self.series, first[ID])} dated "
                f"{pd.Timestamp(first[DS]).date()}"
            )
        offset = pd.tseries.frequencies.to_offset(self.frequency)
        off_grid = rows[~rows[DS].map(offset.is_on_offset)]
        if len(off_grid):
            raise InvalidRowsError(
                f"`history` date {pd.Timestamp(off_grid[DS].iloc[0]).date()} is not on the model's {self.frequency} "
                "grid"
            )
        last = self.last_dates
        stale = rows[rows[DS].to_numpy() <= last.loc[rows[ID]].to_numpy()]
        if len(stale):
            first = stale.iloc[0]
            raise InvalidRowsError(
                f"`history` rows must be newer than the training data: {describe_series(self.series, first[ID])} "
                f"already has data up to {pd.Timestamp(last.loc[first[ID]]).date()}, and a row is dated "
                f"{pd.Timestamp(first[DS]).date()}"
            )
        pieces = []
        for uid, group in rows.groupby(ID, sort=True):
            grid = pd.date_range(last.loc[uid] + offset, group[DS].max(), freq=self.frequency)
            piece = pd.DataFrame({ID: uid, DS: grid}).merge(group, on=[ID, DS], how="left")
            pieces.append(piece)
        newer = pd.concat(pieces, ignore_index=True)
        combined = pd.concat([self.history, newer], ignore_index=True).sort_values([ID, DS], kind="stable")
        if self.missing_periods == "zero":
            combined[Y] = combined[Y].fillna(0.0)
        else:
            combined[Y] = combined.groupby(ID)[Y].ffill()
        if self.known_future:
            combined[self.known_future] = combined.groupby(ID)[self.known_future].ffill()
        return combined.reset_index(drop=True), set(int(u) for u in rows[ID].unique())

    def _future_values(
        self, future: pd.DataFrame | Sequence[Mapping[str, Any]] | None, dates: pd.DataFrame
    ) -> pd.DataFrame:
        """The known-future values for every forecast date; MissingFutureValuesError naming what is missing."""
        needed = dates[[ID, DS]]
        if future is None:
            supplied = pd.DataFrame(columns=[ID, DS, *self.known_future])
        else:
            supplied = self._rows(future, "future", self.known_future).drop_duplicates([ID, DS], keep="last")
        merged = needed.merge(supplied, on=[ID, DS], how="left")
        missing = merged[self.known_future].isna().any(axis=1)
        if missing.any():
            gaps = merged[missing]
            examples = [
                f"{describe_series(self.series, row[ID])} on {pd.Timestamp(row[DS]).date()}"
                for _, row in gaps.head(MAX_EXAMPLES).iterrows()
            ]
            more = f" (and {len(gaps) - MAX_EXAMPLES} more)" if len(gaps) > MAX_EXAMPLES else ""
            raise MissingFutureValuesError(
                f"known-future values ({', '.join(self.known_future)}) are missing for {len(gaps)} forecast "
                f"date(s): {'; '.join(examples)}{more}. Send them in `future`, one row per series and date"
            )
        return merged

    def _series_values(self, uid: Any) -> dict[str, Any]:
        return {c: _plain(self.series.at[uid, c]) for c in self.series_columns}


def _normalized(value: Any) -> str:
    """How series values are compared: 3, 3.0 and "3" are the same store."""
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
