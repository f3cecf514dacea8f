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


def monthly_store_sales(stores: int = 3, months: int = 60, seed: int = 0, promotions: bool = False) -> pd.DataFrame:
    """Monthly sales of a few stores: each its own level, a shared upward trend and a yearly season peaking in July,
    plus noise; with ``promotions``, a promotion flag (known in advance) that lifts a month's sales by 80 units."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2018-01-01", periods=months, freq="MS")
    t = np.arange(months)
    frames = []
    for store in range(stores):
        sales = 200.0 * (store + 1) + 2.0 * t + 30.0 * (store + 1) * np.cos(2 * np.pi * (t - 6) / 12)
        frame = pd.DataFrame({"store": f"S{store}", "month": dates})
        if promotions:
            frame["promo"] = (rng.random(months) < 0.3).astype(int)
            sales = sales + 80.0 * frame["promo"].to_numpy()
        frame["sales"] = (sales + rng.normal(0, 4.0, months)).round(2)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
