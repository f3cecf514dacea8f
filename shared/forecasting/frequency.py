"""The frequency of a panel's dates (``D``, ``W-<DAY>``, ``MS``/``M``, ``QS``/``Q``, ``YS``/``Y``), its season length
and its default horizon.

Frequencies are pandas offset aliases as pandas 2.1 spells them, so they go straight to ``pd.date_range`` and the
Nixtla libraries. Quarters and years anchored on another month than January/December get pandas' anchored aliases
(``QS-FEB``, ``AS-JUL``, ``A-JUN``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
SEASON_LENGTH = {"D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1}
DEFAULT_HORIZON = {"D": 28, "W": 13, "M": 12, "Q": 8, "Y": 3}
_DAY_NANOSECONDS = 86_400 * 10**9


class FrequencyError(ValueError):
    """The dates do not follow one frequency we forecast at; the message says why, with an example."""


@dataclass(frozen=True)
class Frequency:
    alias: str  # the pandas offset alias, e.g. "W-FRI"
    kind: str  # "D", "W", "M", "Q" or "Y"

    @property
    def season_length(self) -> int:
        return SEASON_LENGTH[self.kind]

    @property
    def default_horizon(self) -> int:
        return DEFAULT_HORIZON[self.kind]

    @property
    def offset(self) -> pd.DateOffset:
        return pd.tseries.frequencies.to_offset(self.alias)

    def periods_after(self, last: pd.Timestamp, count: int) -> pd.DatetimeIndex:
        """The ``count`` dates that follow ``last``."""
        return pd.date_range(last + self.offset, periods=count, freq=self.alias)


def frequency_kind(alias: str) -> str:
    """ "D", "W", "M", "Q" or "Y" for an alias we accept; FrequencyError for any other."""
    head = alias.upper().split("-")[0]
    kinds = {"D": "D", "W": "W", "MS": "M", "M": "M", "QS": "Q", "Q": "Q", "YS": "Y", "Y": "Y", "AS": "Y", "A": "Y"}
    if head not in kinds:
        raise FrequencyError(f"frequency `{alias}` is not one we forecast at; use D, W-<DAY>, MS, M, QS, Q, YS or Y")
    try:
        pd.tseries.frequencies.to_offset(alias)
    except ValueError:
        raise FrequencyError(f"frequency `{alias}` is not a valid frequency; use e.g. D, W-MON, MS, QS or YS") from None
    return kinds[head]


def given_frequency(alias: str, dates: pd.Series) -> Frequency:
    """The named frequency, checked against the dates (FrequencyError naming a date that is off its grid)."""
    frequency = Frequency(alias.upper(), frequency_kind(alias.upper()))
    offset = frequency.offset
    distinct = pd.DatetimeIndex(dates.dropna().unique())
    off_grid = [d for d in distinct if d != d.normalize() or not offset.is_on_offset(d)]
    if off_grid:
        raise FrequencyError(
            f"the date {off_grid[0].date()} is not on the `{alias}` grid; fix it or name another frequency"
        )
    return frequency


def infer_frequency(dates_by_series: list[np.ndarray]) -> Frequency:
    """The frequency of the panel, from the gaps between consecutive dates within each series.

    The smallest gap is the step (longer gaps are missing periods); every date must then sit on that step's grid:
    weekly dates on one weekday, monthly ones all on the first or all on the last day of their month, and so on.
    """
    gaps = [np.diff(np.sort(d.astype("datetime64[ns]").astype(np.int64))) for d in dates_by_series if len(d) > 1]
    gaps = [g for g in gaps if len(g)]
    if not gaps:
        raise FrequencyError("every series has a single date; the frequency needs at least two dates in a series")
    everything = pd.DatetimeIndex(np.concatenate([np.asarray(d, dtype="datetime64[ns]") for d in dates_by_series]))
    everything = everything.unique()
    if (everything != everything.normalize()).any():
        example = everything[everything != everything.normalize()][0]
        raise FrequencyError(
            f"dates carry times of day (e.g. {example}); we forecast daily, weekly, monthly, quarterly or yearly "
            "data: aggregate the rows to whole days first"
        )
    step_days = int(np.min(np.concatenate(gaps))) / _DAY_NANOSECONDS
    if step_days == 1:
        return Frequency("D", "D")
    if step_days == 7:
        weekdays = everything.dayofweek.unique()
        if len(weekdays) == 1:
            return Frequency(f"W-{WEEKDAYS[weekdays[0]]}", "W")
        raise FrequencyError(_mixed("weekly dates fall on different weekdays", everything, "dayofweek"))
    if 28 <= step_days <= 31:
        return _monthly_kind(everything, months=1, kind="M", start="MS", end="M")
    if 89 <= step_days <= 92:
        return _monthly_kind(everything, months=3, kind="Q", start="QS", end="Q")
    if 365 <= step_days <= 366:
        return _monthly_kind(everything, months=12, kind="Y", start="YS", end="Y")
    raise FrequencyError(
        f"the dates are {step_days:g} days apart at the closest; we forecast daily, weekly, monthly, quarterly or "
        "yearly data: name the frequency or aggregate the rows to one of those"
    )


def _monthly_kind(dates: pd.DatetimeIndex, months: int, kind: str, start: str, end: str) -> Frequency:
    starts, ends = dates.is_month_start.all(), dates.is_month_end.all()
    anchors = np.unique(dates.month % months) if months > 1 else np.array([0])
    what = {1: "monthly", 3: "quarterly", 12: "yearly"}[months]
    if len(anchors) > 1:
        raise FrequencyError(_mixed(f"{what} dates fall in different months of their period", dates, "month"))
    if not (starts or ends):
        example = dates[~(dates.is_month_start | dates.is_month_end)][0]
        raise FrequencyError(
            f"{what} dates must all fall on the first (or all on the last) day of their month; {example.date()} "
            "does not"
        )
    if kind == "M":
        return Frequency(start if starts else end, kind)
    first_month = int(dates.min().month)
    if kind == "Q":
        # Any month of the quarter names the same grid; pandas' defaults are QS-JAN (QS) and Q-DEC (Q).
        anchor = MONTHS[(first_month - 1) % 3] if starts else MONTHS[(first_month - 1) % 3 + 9]
        default, named = ("JAN", start) if starts else ("DEC", end)
        return Frequency(named if anchor == default else f"{named}-{anchor}", kind)
    anchor = MONTHS[first_month - 1]
    if starts:
        return Frequency("YS" if anchor == "JAN" else f"AS-{anchor}", kind)
    return Frequency("Y" if anchor == "DEC" else f"A-{anchor}", kind)


def _mixed(problem: str, dates: pd.DatetimeIndex, what: str) -> str:
    first, other = dates[0], next(d for d in dates if getattr(d, what) != getattr(dates[0], what))
    return f"{problem} ({first.date()} and {other.date()}); name the frequency or align the dates"
