"""Calendar features of forecast dates for the global regression models (mlforecast ``date_features``).

Module-level functions and a small class, so that a fitted model pickles and loads in the predictor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def week_of_year(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.isocalendar().week.to_numpy(dtype=np.int64)


def month(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.month.to_numpy()


def quarter(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.quarter.to_numpy()


def day_of_week(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.dayofweek.to_numpy()


def day_of_month(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.day.to_numpy()


CALENDAR_FEATURES = {
    "D": (day_of_week, day_of_month, week_of_year, month),
    "W": (week_of_year, month),
    "M": (month,),
    "Q": (quarter,),
    "Y": (),
}


class HolidaysInPeriod:
    """How many public holidays of ``country`` (the ``holidays`` package's codes, e.g. ``US``, ``GB``, ``DE``) fall
    from each date up to the next one: the day itself for daily data, the 7 days from a weekly date, the month from a
    month's first day."""

    def __init__(self, country: str, frequency: str) -> None:
        import holidays

        holidays.country_holidays(country)  # fails now, with the package's message, for an unknown country
        self.country = country
        self.frequency = frequency
        self.__name__ = "holidays"  # mlforecast names a date feature after its function

    def __call__(self, dates: pd.DatetimeIndex) -> np.ndarray:
        import holidays

        ends = dates + pd.tseries.frequencies.to_offset(self.frequency)
        years = range(int(dates.year.min()), int(ends.year.max()) + 1)
        days = np.array(sorted(holidays.country_holidays(self.country, years=years)), dtype="datetime64[ns]")
        starts = np.searchsorted(days, dates.values.astype("datetime64[ns]"), side="left")
        return (np.searchsorted(days, ends.values.astype("datetime64[ns]"), side="left") - starts).astype(np.int64)
