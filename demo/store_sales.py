"""Monthly supplement sales of three stores, generated from an explicit rule plus noise, to forecast.

Each store sells at its own level, all grow by the same number of units a month, and every year sales peak in
January (New Year's resolutions) and bottom out in July. ``expected_store_sales`` is the rule without noise, so a
forecast of the months after ``generate_store_sales`` can be checked against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Units sold in the first month, before the season; the season's swing above and below that, per store.
STORE_LEVELS = {"Centro": 600.0, "Shopping": 900.0, "Bairro": 350.0}
SEASON_UNITS = {"Centro": 80.0, "Shopping": 120.0, "Bairro": 45.0}
TREND_UNITS_PER_MONTH = 4.0
FIRST_MONTH = pd.Timestamp("2021-01-01")
NOISE_SD = 6.0
TARGET = "sales"


def months_after_first(month: pd.Timestamp) -> int:
    return (month.year - FIRST_MONTH.year) * 12 + month.month - FIRST_MONTH.month


def expected_store_sales(store: str, month: pd.Timestamp | str) -> float:
    """Units sold on average: the store's level, +4 a month since January 2021, and a season peaking in January."""
    month = pd.Timestamp(month)
    season = SEASON_UNITS[store] * np.cos(2 * np.pi * (month.month - 1) / 12)
    return STORE_LEVELS[store] + TREND_UNITS_PER_MONTH * months_after_first(month) + season


def generate_store_sales(months: int = 48, seed: int = 0) -> pd.DataFrame:
    """``months`` months of sales from January 2021 for each store: columns store, month (first day) and sales."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(FIRST_MONTH, periods=months, freq="MS")
    frames = [
        pd.DataFrame(
            {
                "store": pd.Series([store] * months, dtype=object),
                "month": dates,
                TARGET: np.round([expected_store_sales(store, d) for d in dates] + rng.normal(0, NOISE_SD, months), 1),
            }
        )
        for store in STORE_LEVELS
    ]
    return pd.concat(frames, ignore_index=True)
