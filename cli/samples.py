"""The example tables `salesml sample NAME FILE` writes: the supplements example of `demo.supplements`, to train on
and to score."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Sample:
    description: str
    rows: int
    seed: int
    with_target: bool


SAMPLES = {
    "supplements": Sample(
        "daily sales of five supplements (product, price, promotion, weekday, sales), to train on",
        rows=2000,
        seed=0,
        with_target=True,
    ),
    "supplements-to-score": Sample(
        "days of the same supplements without `sales`, to predict", rows=10, seed=1, with_target=False
    ),
}


def sample_table(name: str, rows: int | None = None, seed: int | None = None) -> pa.Table:
    # Imported here: pandas takes about a second to import, and only this command needs it.
    from demo.supplements import TARGET, generate_supplements_sales

    sample = SAMPLES[name]
    frame = generate_supplements_sales(
        rows=sample.rows if rows is None else rows, seed=sample.seed if seed is None else seed
    )
    if not sample.with_target:
        frame = frame.drop(columns=TARGET)
    return pa.Table.from_pandas(frame, preserve_index=False)
