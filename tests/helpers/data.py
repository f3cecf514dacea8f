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


def shop_sales_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Daily sales (ten years of days, then the same days again) with every kind of column the trainer meets;
    ``code``, ``promo`` and ``region`` are numbers meant to be trained as categories (60, 2 and 5 values:
    target-encoded, ordinal, one-hot).

    ``price[eur]`` makes PyCaret clean the column names; ``store`` is one-hot encoded, ``channel`` (two values)
    ordinal-encoded, ``sku`` (40 values) target-encoded, ``holiday`` a flag.
    """
    rng = np.random.default_rng(seed)
    price = rng.uniform(1, 10, rows).round(2)
    store = rng.choice(["north", "south", "east"], rows)
    channel = rng.choice(["web", "shop"], rows)
    sku = rng.choice([f"sku-{index}" for index in range(40)], rows)
    code = rng.integers(0, 60, rows)
    promo = rng.integers(0, 2, rows)
    region = rng.integers(1, 6, rows)
    units = rng.integers(0, 50, rows)
    holiday = rng.random(rows) < 0.1
    sales = (
        50
        - 3 * price
        + np.where(store == "north", 10, 0)
        + 4 * promo
        + 0.1 * units
        + 2 * (channel == "web")
        + (code % 7)
        + region
        + 6 * holiday
        + rng.normal(0, 1, rows)
    )
    return pd.DataFrame(
        {
            "day": pd.Timestamp("2023-01-01") + pd.to_timedelta(np.arange(rows) % 3650, unit="D"),  # ten years
            "price[eur]": price,
            "units": units,
            "store": store,
            "channel": channel,
            "sku": sku,
            "holiday": holiday,
            "code": code,
            "promo": promo,
            "region": region,
            "sales": sales.round(3),
        }
    )


SHOP_CATEGORIES = ("code", "promo", "region")
