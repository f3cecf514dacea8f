"""Which column holds the dates, and turning its values (timestamps, or text such as ``2012-05-04``, ``05-02-2010``,
``1998 Q1``, ``1987 Jan``) into timestamps.

Text is parsed with one explicit format for the whole column, never value by value: ``05/02/10`` is the 5th of
February or the 2nd of May for every row alike. When several formats read every value (a column whose days are all
12 or less), the one that puts the dates on the most regular grid wins, then the first in ``TEXT_DATE_FORMATS``
(day first before month first, as in most of the world).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Families of formats: one column is read with one family, each value by the first format of it that reads the value
# (so a column may mix ``05-02-2010`` and ``05/02/10``, both day first, but never day first and month first).
TEXT_DATE_FORMATS: tuple[tuple[str, ...], ...] = (
    ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d"),
    ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%y", "%d/%m/%y"),
    ("%m-%d-%Y", "%m/%d/%Y", "%m-%d-%y", "%m/%d/%y"),
    ("%Y-%m", "%Y/%m", "%Y %b", "%Y %B", "%Y-%b"),
    ("%b %Y", "%B %Y", "%b-%Y", "%b %y"),
    ("%Y",),
)
QUARTER_FORMAT: tuple[str, ...] = ("YYYY Qn",)
_QUARTER_YEAR_FIRST = re.compile(r"^\s*(\d{4})\s*[-/ ]?\s*[Qq]([1-4])\s*$")
_QUARTER_YEAR_LAST = re.compile(r"^\s*[Qq]([1-4])\s*[-/ ]?\s*(\d{4})\s*$")
# Values looked at to decide whether a text column holds dates at all, before all of them are parsed.
DETECTION_SAMPLE = 200


@dataclass(frozen=True)
class ParsedDates:
    values: pd.Series  # datetime64[ns], same index as the input
    text_formats: tuple[str, ...] | None  # the family text was read with; None when the column held timestamps


def parse_dates(column: pd.Series) -> ParsedDates | None:
    """The column as timestamps (naive, in their own wall-clock time), or None when it does not hold dates.

    Missing values stay missing (NaT). A text column must parse entirely with one format.
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        values = column
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        return ParsedDates(values.astype("datetime64[ns]"), None)
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return None
    present = column.dropna()
    if present.empty:
        return None
    if all(isinstance(v, datetime.date) for v in present.head(DETECTION_SAMPLE)):
        try:
            return ParsedDates(pd.to_datetime(column).astype("datetime64[ns]"), None)
        except (TypeError, ValueError):
            return None
    if not all(isinstance(v, str) for v in present.head(DETECTION_SAMPLE)):
        return None
    text = column.astype("string")
    unique = pd.Series(text.dropna().unique())
    if not _parse_text(unique.head(DETECTION_SAMPLE)):
        return None
    parsed = _parse_text(unique)
    if not parsed:
        return None
    text_formats, unique_dates = max(parsed, key=lambda entry: _regularity(entry[1]))
    lookup = dict(zip(unique, unique_dates, strict=True))
    values = text.map(lookup, na_action="ignore").astype("datetime64[ns]")
    return ParsedDates(values, text_formats)


def parse_like_training(column: pd.Series, text_formats: tuple[str, ...] | None) -> pd.Series:
    """Newer values of a date column read the way its training values were (ValueError naming a value that does
    not parse)."""
    if text_formats is None:
        values = pd.to_datetime(column)
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        return values.astype("datetime64[ns]")
    text = column.astype("string")
    parsed = _parse_quarters(text) if text_formats == QUARTER_FORMAT else _parse_with_family(text, text_formats)
    unread = text.notna() & (parsed.isna() if parsed is not None else True)
    if parsed is None or unread.any():
        example = text[unread].iloc[0]
        raise ValueError(f"`{example}` is not a date written like the training dates")
    return parsed


def date_candidates(frame: pd.DataFrame, exclude: set[str]) -> list[str]:
    """The columns that hold dates (timestamps, or text that parses as dates), in column order."""
    return [str(name) for name in frame.columns if name not in exclude and parse_dates(frame[name]) is not None]


def _parse_text(unique: pd.Series) -> list[tuple[str, pd.Series]]:
    """Every format that reads all the given values, with what it reads."""
    results: list[tuple[str, pd.Series]] = []
    quarters = _parse_quarters(unique)
    if quarters is not None:
        results.append((QUARTER_FORMAT, quarters))
    for family in TEXT_DATE_FORMATS:
        dates = _parse_with_family(unique, family)
        if dates.notna().all():
            results.append((family, dates))
    return results


def _parse_with_family(values: pd.Series, family: tuple[str, ...]) -> pd.Series:
    """Each value read by the first format of the family that reads it (NaT when none does)."""
    dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for text_format in family:
        unread = dates.isna()
        if not unread.any():
            break
        try:
            dates[unread] = pd.to_datetime(values[unread], format=text_format, errors="coerce")
        except (TypeError, ValueError):
            continue
    return dates


def _parse_quarters(values: pd.Series) -> pd.Series | None:
    """``1998 Q1``, ``1998-Q1``, ``1998Q1`` or ``Q1 1998`` as the quarter's first day; None unless all match."""
    starts = []
    for value in values.astype("string"):
        if value is pd.NA:
            starts.append(pd.NaT)
            continue
        match = _QUARTER_YEAR_FIRST.match(value)
        if match:
            year, quarter = int(match.group(1)), int(match.group(2))
        else:
            match = _QUARTER_YEAR_LAST.match(value)
            if not match:
                return None
            quarter, year = int(match.group(1)), int(match.group(2))
        starts.append(pd.Timestamp(year=year, month=3 * quarter - 2, day=1))
    return pd.Series(starts, index=values.index, dtype="datetime64[ns]")


def _regularity(dates: pd.Series) -> float:
    """Share of the gaps between consecutive distinct dates that equal the most common gap, counted in days or, for
    dates that all fall on the same day of the month, in months (whichever is more regular)."""
    ordered = pd.DatetimeIndex(np.sort(dates.dropna().unique()))
    if len(ordered) < 3:
        return 0.0
    in_days = pd.Series(np.diff(ordered.asi8)).value_counts(normalize=True).iloc[0]
    if ordered.day.nunique() > 1:
        return float(in_days)
    months = ordered.year * 12 + ordered.month
    in_months = pd.Series(np.diff(months)).value_counts(normalize=True).iloc[0]
    return float(max(in_days, in_months))
