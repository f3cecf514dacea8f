"""The example tables `salesml sample NAME FILE` writes: the supplements example of `demo.supplements`, to train on
and to score, and the monthly store sales of `demo.store_sales`, to forecast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

# The generators are imported inside the functions that call them: they import pandas, which takes about a second,
# and only `salesml sample` needs it.


def supplements(rows: int, seed: int) -> pd.DataFrame:
    from demo.supplements import generate_supplements_sales

    return generate_supplements_sales(rows=rows, seed=seed)


def supplements_to_score(rows: int, seed: int) -> pd.DataFrame:
    from demo.supplements import TARGET

    return supplements(rows, seed).drop(columns=TARGET)


def store_sales(months: int, seed: int) -> pd.DataFrame:
    from demo.store_sales import generate_store_sales

    frame = generate_store_sales(months=months, seed=seed)
    return frame.assign(month=frame["month"].dt.date)  # dates, not midnight timestamps, in a CSV or a spreadsheet


@dataclass(frozen=True)
class Sample:
    description: str
    rows: int  # for store-sales: months of each store
    seed: int
    generate: Callable[[int, int], pd.DataFrame]


SAMPLES = {
    "supplements": Sample(
        "daily sales of five supplements (product, price, promotion, weekday, sales), to train on",
        rows=2000,
        seed=0,
        generate=supplements,
    ),
    "supplements-to-score": Sample(
        "days of the same supplements without `sales`, to predict", rows=10, seed=1, generate=supplements_to_score
    ),
    "store-sales": Sample(
        "monthly sales of three stores from January 2021 (store, month, sales: a trend and a January peak), to "
        "forecast",
        rows=48,
        seed=0,
        generate=store_sales,
    ),
}


def sample_table(name: str, rows: int | None = None, seed: int | None = None) -> pa.Table:
    sample = SAMPLES[name]
    frame = sample.generate(sample.rows if rows is None else rows, sample.seed if seed is None else seed)
    return pa.Table.from_pandas(frame, preserve_index=False)
