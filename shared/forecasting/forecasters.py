"""The forecasting models, as small objects with ``fit(frame)`` and ``forecast(history, horizon, future)``.

Both read long frames (``unique_id``, ``ds``, ``y`` and known-future columns, see ``panel``). ``forecast`` starts
after the last date of each series in ``history``, which may be the training data or newer data: the fitted
parameters are applied to it without refitting (statsforecast's ``forward``, mlforecast's ``new_df``). They live in
``shared`` because the served model pickles them and the predictor loads them.

- ``StatisticalForecaster``: one statsforecast model per series (naive, seasonal naive, mean, ETS, ARIMA, Theta).
  A series on which the model fails to fit gets seasonal naive instead (counted in ``fallbacks``).
- ``GlobalRegressionForecaster``: one regressor for all series (mlforecast), on lags, rolling means and calendar
  features of each series' own history, with the target standardized per series; known-future columns enter at
  their own date.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shared.forecasting.calendar import CALENDAR_FEATURES, HolidaysInPeriod
from shared.forecasting.panel import DS, ID, Y

log = logging.getLogger(__name__)

FORECAST = "forecast"
STATISTICAL_NAMES = {
    "naive": "Naive (last value)",
    "snaive": "Seasonal naive",
    "mean": "Series mean",
    "ets": "ETS (AutoETS)",
    "arima": "ARIMA (AutoARIMA)",
    "theta": "Theta (AutoTheta)",
}
# Lags and rolling-mean windows (over lag 1) of the global regression models, by frequency kind.
LAGS = {
    "D": (1, 2, 3, 4, 5, 6, 7, 14, 21, 28),
    "W": (1, 2, 3, 4, 8, 13, 26, 52),
    "M": (1, 2, 3, 6, 12),
    "Q": (1, 2, 3, 4, 8),
    "Y": (1, 2, 3),
}
ROLLING_WINDOWS = {"D": (7, 28), "W": (4, 13), "M": (3, 6, 12), "Q": (4,), "Y": (3,)}

ChunkMap = Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]


def map_in_process(function: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> list[Any]:
    """The plain way to run chunks of work: one after the other, here."""
    return [function(*args) for args in arguments]


def statistical_model(model_id: str, season_length: int) -> Any:
    """A fresh, unfitted statsforecast model for one of ``STATISTICAL_NAMES``."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, HistoricAverage, Naive, SeasonalNaive

    factories: dict[str, Callable[[], Any]] = {
        "naive": Naive,
        "snaive": lambda: SeasonalNaive(season_length=season_length),
        "mean": HistoricAverage,
        "ets": lambda: AutoETS(season_length=season_length),
        "arima": lambda: AutoARIMA(season_length=season_length),
        "theta": lambda: AutoTheta(season_length=season_length),
    }
    return factories[model_id]()


def fit_series_models(
    model_id: str, season_length: int, series: Sequence[tuple[Any, np.ndarray]]
) -> tuple[dict[Any, Any], int]:
    """Fit the model on each ``(unique_id, y)``; returns the fitted models by id and how many fell back to seasonal
    naive (or naive, for a series shorter than a season) because the model failed on them."""
    fitted: dict[Any, Any] = {}
    fallbacks = 0
    for uid, y in series:
        fitted[uid], fell_back = fit_one(model_id, season_length, np.asarray(y, dtype=float))
        fallbacks += fell_back
    return fitted, fallbacks


def fit_one(model_id: str, season_length: int, y: np.ndarray) -> tuple[Any, bool]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return statistical_model(model_id, season_length).fit(y), False
        except Exception as exc:  # statsforecast raises many kinds on degenerate series
            log.info("%s failed on a series of %d values (%s); using seasonal naive", model_id, len(y), exc)
            fallback = "snaive" if len(y) > season_length else "naive"
            return statistical_model(fallback, season_length).fit(y), True


def forward(model: Any, y: np.ndarray, horizon: int) -> np.ndarray:
    """The fitted ``model``'s forecast from the end of ``y`` (its parameters kept; the mean has none to keep)."""
    y = np.asarray(y, dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if hasattr(model, "forward"):
            return np.asarray(model.forward(y=y, h=horizon)["mean"], dtype=float)
        return np.asarray(model.forecast(y=y, h=horizon)["mean"], dtype=float)


def series_arrays(frame: pd.DataFrame) -> list[tuple[Any, np.ndarray]]:
    """``(unique_id, y)`` of every series of a long frame sorted by series and date."""
    ids = frame[ID].to_numpy()
    values = frame[Y].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    return [(ids[start], values[start:end]) for start, end in zip(starts, ends, strict=True)]


def future_dates(history: pd.DataFrame, frequency: str, horizon: int) -> pd.DataFrame:
    """``unique_id``, ``ds`` and ``step`` (1..horizon) of the periods after each series' last date."""
    last = history.groupby(ID, sort=False)[DS].max()
    offset = pd.tseries.frequencies.to_offset(frequency)
    starts = pd.DatetimeIndex(last.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns that some anchored offsets are added date by date
        dates = np.stack([(starts + offset * step).to_numpy() for step in range(1, horizon + 1)], axis=1)
    return pd.DataFrame(
        {
            ID: np.repeat(last.index.to_numpy(), horizon),
            DS: dates.reshape(-1).astype("datetime64[ns]"),
            "step": np.tile(np.arange(1, horizon + 1), len(last)),
        }
    )


class StatisticalForecaster:
    """One statsforecast model per series."""

    uses_known_future = False

    def __init__(self, model_id: str, season_length: int, frequency: str) -> None:
        self.id = model_id
        self.name = STATISTICAL_NAMES[model_id]
        self.season_length = season_length
        self.frequency = frequency
        self.fitted: dict[Any, Any] = {}
        self.fallbacks = 0

    def fit(self, frame: pd.DataFrame, map_chunks: ChunkMap = map_in_process, chunks: int = 1) -> None:
        """Fit every series of ``frame``; ``map_chunks`` runs the chunks of series (in processes, on Dask)."""
        series = series_arrays(frame)
        parts = [series[i::chunks] for i in range(max(1, min(chunks, len(series))))]
        results = map_chunks(fit_series_models, [(self.id, self.season_length, part) for part in parts])
        self.fitted = {}
        self.fallbacks = 0
        for fitted, fallbacks in results:
            self.fitted.update(fitted)
            self.fallbacks += fallbacks
        self.fitted = dict(sorted(self.fitted.items()))

    def forecast(self, history: pd.DataFrame, horizon: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        dates = future_dates(history, self.frequency, horizon)
        values = [forward(self.fitted[uid], y, horizon) for uid, y in series_arrays(history)]
        return dates.assign(**{FORECAST: np.concatenate(values) if values else np.array([])})


class GlobalRegressionForecaster:
    """One regressor over all series (mlforecast): lags, rolling means and calendar features, per-series scaling."""

    def __init__(
        self,
        model_id: str,
        name: str,
        estimator: Any,
        frequency: str,
        frequency_kind: str,
        known_future: Iterable[str] = (),
        max_lag: int | None = None,
        holidays_country: str | None = None,
        threads: int = 1,
    ) -> None:
        self.id = model_id
        self.name = name
        self.estimator = estimator
        self.frequency = frequency
        self.known_future = list(known_future)
        limit = max_lag if max_lag is not None else max(LAGS[frequency_kind])
        self.lags = [lag for lag in LAGS[frequency_kind] if lag <= limit]
        self.rolling_windows = [window for window in ROLLING_WINDOWS[frequency_kind] if window <= limit]
        self.date_features: list[Any] = list(CALENDAR_FEATURES[frequency_kind])
        if holidays_country:
            self.date_features.append(HolidaysInPeriod(holidays_country, frequency))
        self.threads = threads
        self.pipeline: Any = None

    @property
    def uses_known_future(self) -> bool:
        return bool(self.known_future)

    def make_pipeline(self) -> Any:
        """The unfitted mlforecast pipeline (the trainer also uses it to build the regressor-choice features)."""
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.target_transforms import LocalStandardScaler

        return MLForecast(
            models={self.id: self.estimator},
            freq=self.frequency,
            lags=self.lags,
            lag_transforms={1: [RollingMean(window_size=w) for w in self.rolling_windows]},
            date_features=self.date_features,
            target_transforms=[LocalStandardScaler()],
            num_threads=self.threads,
        )

    def fit(self, frame: pd.DataFrame) -> None:
        self.pipeline = self.make_pipeline()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipeline.fit(frame[[ID, DS, Y, *self.known_future]], static_features=[])
        for model in self.pipeline.models_.values():
            # A forecast predicts a few hundred rows per step: a thread pool per call costs more than it saves.
            if hasattr(model, "n_jobs"):
                model.n_jobs = 1

    def forecast(
        self,
        history: pd.DataFrame,
        horizon: int,
        future: pd.DataFrame | None = None,
        fitted_history: bool = False,
    ) -> pd.DataFrame:
        """As ``StatisticalForecaster.forecast``; ``fitted_history`` says that ``history`` holds series exactly as the
        model was fitted on them, so their features are not computed again (the fast path of a served model)."""
        dates = future_dates(history, self.frequency, horizon)
        x_future = None
        if self.known_future:
            if future is None:
                raise ValueError("this model needs the known-future columns for the forecast dates")
            x_future = dates[[ID, DS]].merge(future[[ID, DS, *self.known_future]], on=[ID, DS], how="left")
        if fitted_history:
            inputs: dict[str, Any] = {"ids": list(dates[ID].unique())}
        else:
            inputs = {"new_df": history[[ID, DS, Y, *self.known_future]]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = self.pipeline.predict(h=horizon, X_df=x_future, **inputs)
        predicted = predicted.rename(columns={self.id: FORECAST})
        return dates.merge(predicted[[ID, DS, FORECAST]], on=[ID, DS], how="left")
