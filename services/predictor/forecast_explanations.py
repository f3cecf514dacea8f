"""Why a forecast is what it is: an additive decomposition of each forecast value, in target units.

For a series with history y and season length m, a forecast value F at step h (the h-th period after its last date):

- baseline: the series' level, the mean of its last season (its last value when there is no season, m = 1);
- ``season``: what last season did in the same period, against that level: ``y[-m + (h - 1) mod m] − level``
  (seasonal naive's forecast minus the level; left out when there is no season or less than a season of history);
- each known-future column (price, promotion, holiday flag): its effect on the model's forecast, the Shapley value
  over the known-future columns where a column absent from a coalition takes its typical value (the median over the
  series' history) instead of the ones supplied. The model is asked once per coalition (2^k forecasts for k
  columns). A forecast depends on the values supplied up to its date: a model reading its own earlier forecasts
  (lags) carries an earlier period's promotion into later ones, and the effect shows it;
- ``trend and recent change``: the rest, what the model forecasts beyond last season's pattern with typical
  known-future values (its trend, a recent change of level).

So, exactly: baseline + Σ effects = the forecast. The same for every forecaster the platform serves (statistical,
global regression or the ensemble): it asks the model, never looks inside it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from services.predictor.explanations import Explanation, number
from shared.domain_errors import DomainError
from shared.forecasting.model import ForecastModel, PreparedForecast
from shared.forecasting.panel import DS, ID, Y, describe_series

SEASON = "season"
REST = "trend and recent change"
MAX_KNOWN_FUTURE = 6  # 2^6 forecasts per request at most


class CannotExplainForecast(DomainError):
    """The model's forecasts cannot be explained as asked; the message says why."""


def explain_forecast(model: ForecastModel, request: PreparedForecast, table: pd.DataFrame) -> list[Explanation]:
    """One explanation per row of ``table`` (``model.answer(request)``, in its order)."""
    uids = request.dates[ID].to_numpy()
    steps = request.dates["step"].to_numpy()
    dates = request.dates[DS].to_numpy()
    forecasts = table["forecast"].to_numpy(dtype=float)
    known = _known_future_effects(model, request, forecasts) if model.known_future else {}
    histories = {uid: group[Y].to_numpy(dtype=float) for uid, group in request.wanted.groupby(ID, sort=False)}
    explanations = []
    for row, (uid, step, date) in enumerate(zip(uids, steps, dates, strict=True)):
        level, season = _level_and_season(histories[uid], model.season_length, int(step))
        contributions = [
            {"feature": column, "value": _plain(values[row]), "effect": float(effects[row])}
            for column, (values, effects) in known.items()
        ]
        typical = forecasts[row] - sum(entry["effect"] for entry in contributions)
        if season is not None:
            same_period = pd.Timestamp(date) - _periods(model, _seasons_back(int(step), model.season_length))
            contributions.append({"feature": SEASON, "value": same_period.date().isoformat(), "effect": season - level})
            rest = typical - season
        else:
            rest = typical - level
        contributions.append({"feature": REST, "value": None, "effect": float(rest)})
        contributions.sort(key=lambda entry: abs(entry["effect"]), reverse=True)
        label = describe_series(model.series, uid) if model.series_columns else f"the {model.target} series"
        summary = _summary(model, label, pd.Timestamp(date), forecasts[row], level, contributions)
        explanations.append(Explanation(float(level), contributions, summary))
    return explanations


def _level_and_season(values: np.ndarray, season_length: int, step: int) -> tuple[float, float | None]:
    if season_length > 1 and len(values) >= season_length:
        last_season = values[-season_length:]
        return float(last_season.mean()), float(last_season[(step - 1) % season_length])
    return float(values[-1]), None


def _seasons_back(step: int, season_length: int) -> int:
    """How many periods back the same period of the last season is from a date ``step`` periods ahead."""
    return season_length * math.ceil(step / season_length)


def _periods(model: ForecastModel, count: int) -> pd.DateOffset:
    return pd.tseries.frequencies.to_offset(model.frequency) * count


def _known_future_effects(
    model: ForecastModel, request: PreparedForecast, forecasts: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per known-future column: the value supplied for each row, and each row's Shapley effect of that column."""
    columns = list(model.known_future)
    if len(columns) > MAX_KNOWN_FUTURE:
        raise CannotExplainForecast(
            f"this model uses {len(columns)} known-future columns; forecasts are explained for at most "
            f"{MAX_KNOWN_FUTURE}"
        )
    known = request.known
    assert known is not None
    typical = request.wanted.groupby(ID, sort=True)[columns].median()
    value_of: dict[frozenset[str], np.ndarray] = {frozenset(columns): forecasts}
    for size in range(len(columns)):
        for kept in itertools.combinations(columns, size):
            changed = known.copy()
            for column in set(columns) - set(kept):
                changed[column] = typical.loc[changed[ID], column].to_numpy()
            answer = model.answer(dataclasses.replace(request, known=changed))
            value_of[frozenset(kept)] = answer["forecast"].to_numpy(dtype=float)
    k = len(columns)
    effects = {}
    for column in columns:
        effect = np.zeros(len(forecasts))
        others = [c for c in columns if c != column]
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for kept in itertools.combinations(others, size):
                without = frozenset(kept)
                effect += weight * (value_of[without | {column}] - value_of[without])
        effects[column] = (known[column].to_numpy(), effect)
    return effects


def _summary(
    model: ForecastModel,
    label: str,
    date: pd.Timestamp,
    forecast: float,
    level: float,
    contributions: list[dict[str, Any]],
) -> str:
    parts = [f"{number(level)} is the {'last season' if model.season_length > 1 else 'last period'}'s level"]
    for entry in contributions:
        if entry["feature"] == SEASON:
            parts.append(f"{entry['effect']:+,.4g} for the season (as on {entry['value']})")
        elif entry["feature"] == REST:
            parts.append(f"{entry['effect']:+,.4g} for trend and recent change")
        else:
            parts.append(f"{entry['effect']:+,.4g} for {entry['feature']} = {entry['value']}")
    return (
        f"Forecast {model.target} for {label} on {date.date().isoformat()}: {number(forecast)}, as "
        + "; ".join(parts)
        + "."
    )


def _plain(value: Any) -> Any:
    number = float(value)
    return int(number) if number.is_integer() else number
