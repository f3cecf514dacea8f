"""Calendar features PyCaret 3.3.2 cannot make under pandas 2, as a pipeline step the predictor unpickles.

PyCaret derives date parts by asking ``Series.dt`` for them by name, and pandas 2 removed ``dt.weekofyear``; the
week of the year (what a sales season runs on) is added by ``WeekOfYear`` before PyCaret's own date step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# The ``Series.dt`` parts PyCaret's date step makes of a date column in a regression task (its default is day,
# month and year): the weekday and the day of the year carry weekly and yearly seasons.
DATE_PARTS = ("day", "month", "year", "dayofweek", "dayofyear", "quarter")
WEEK_OF_YEAR_SUFFIX = "_week_of_year"


def iso_week(moments: np.ndarray) -> np.ndarray:
    """The ISO 8601 week number (1–53) of datetime64 values: the week of the Thursday of the same week."""
    days = np.asarray(moments).astype("datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    thursday = days - weekday + 3
    return ((thursday - thursday.astype("datetime64[Y]")).astype(np.int64) // 7 + 1).astype(np.float64)


class WeekOfYear(BaseEstimator, TransformerMixin):
    """Adds ``<column>_week_of_year`` (ISO week, as a float) after each date column in ``columns``."""

    def __init__(self, columns: Sequence[str] = ()) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: object = None) -> WeekOfYear:
        return self

    def transform(self, X: pd.DataFrame, y: object = None) -> pd.DataFrame:
        X = X.copy()
        for column in self.columns:
            if column not in X.columns:
                continue
            values = X[column]
            week = iso_week(values.to_numpy(dtype="datetime64[ns]"))
            week[values.isna().to_numpy()] = np.nan
            X.insert(X.columns.get_loc(column) + 1, f"{column}{WEEK_OF_YEAR_SUFFIX}", week)
        return X
