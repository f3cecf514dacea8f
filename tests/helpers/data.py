"""Small, learnable sales tables for tests, as DataFrames or parquet bytes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def sales_frame(rows: int = 60, seed: int = 0, with_dates: bool = False) -> pd.DataFrame:
    """A number, a category, a flag and the target ``sales`` (a plain rule plus noise); ``day`` first if asked."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(1, 10, rows).round(2)
    store = rng.choice(["north", "south", "east"], rows)
    promo = rng.integers(0, 2, rows)
    sales = 50 - 3 * price + np.where(store == "north", 10, 0) + 5 * promo + rng.normal(0, 0.5, rows)
    frame = pd.DataFrame({"price": price, "store": store, "promo": promo, "sales": sales.round(3)})
    if with_dates:
        frame.insert(0, "day", pd.date_range("2024-01-01", periods=rows, freq="D"))
    return frame


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
