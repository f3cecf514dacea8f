"""Proof, at load, that a compiled scorer answers exactly as its pipeline does, on rows made from the feature schema.

Four checks, all bit for bit:
1. the feature matrix of every covering row, at once, against what the pipeline gives its estimator;
2. the first ``LONE_ROWS`` covering rows and the odd rows, each alone, against a one-row ``pipeline.predict``
   (a pipeline call costs ~15 ms, so not every row);
3. every row scored together against the same row scored alone: no answer depends on its batch;
4. every row again as a parquet body arrives, its text columns dictionary-encoded, repeated until the input
   contract reads them as categories and the encoders look each category up once (as for a long parquet body),
   against the same row scored alone.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from services.predictor.compiled_scorer.scorer import CompiledScorer, transformed
from services.predictor.compiled_scorer.steps import LOOK_UP_DISTINCT_FROM_ROWS, NotCompilable
from services.predictor.compiled_scorer.synthetic_rows import covering_records, odd_records
from services.predictor.input_contract import MOST_CATEGORIES_PER_ROW, InputContract, InputRejected

LONE_ROWS = 8


def verify(scorer: CompiledScorer, pipeline: Any, contract: InputContract) -> int:
    """The number of rows checked; ``NotCompilable`` names the first row (or column) where the answers differ."""
    covering = covering_records(contract.features)
    odd = odd_records(contract.features, covering[0])
    try:
        batch = contract.prepare_records(covering)
        lone = [contract.prepare_records([record]) for record in covering + odd]
    except InputRejected as exc:
        raise NotCompilable(f"the synthesized rows do not fit the input contract: {exc.errors}") from exc

    expected = transformed(pipeline, batch.frame).to_numpy(dtype=np.float64)
    differing = np.argwhere(differs(scorer.features(batch.columns), expected))
    if len(differing):
        row, column = differing[0]
        raise NotCompilable(
            f"feature '{scorer.columns[column]}' differs from the pipeline's for {_shown(covering[row])}"
        )

    alone = np.concatenate([scorer.predict(prepared.columns) for prepared in lone])
    checked = list(range(min(LONE_ROWS, len(covering)))) + list(range(len(covering), len(lone)))
    for row in checked:
        answer = np.asarray(pipeline.predict(lone[row].frame), dtype=np.float64)
        if differs(alone[row : row + 1], answer).any():
            raise NotCompilable(
                f"{alone[row]!r} where the pipeline answers {answer[0]!r} for {_shown((covering + odd)[row])}"
            )

    everything = contract.prepare_records(covering + odd)
    together = scorer.predict(everything.columns)
    rows = np.flatnonzero(differs(together, alone))
    if len(rows):
        row = rows[0]
        raise NotCompilable(f"{together[row]!r} in a batch, {alone[row]!r} alone for {_shown((covering + odd)[row])}")

    count = len(alone)
    copies = math.ceil(max(LOOK_UP_DISTINCT_FROM_ROWS, count / MOST_CATEGORIES_PER_ROW) / count)
    try:
        encoded = contract.prepare_table(dictionary_encoded(pd.concat([everything.frame] * copies)))
    except InputRejected as exc:
        raise NotCompilable(f"the synthesized rows as a table do not fit the input contract: {exc.errors}") from exc
    from_table = scorer.predict(encoded.scorer_columns)
    rows = np.flatnonzero(differs(from_table, np.tile(alone, copies)))
    if len(rows):
        row = rows[0] % count
        raise NotCompilable(
            f"{from_table[rows[0]]!r} from a parquet table, {alone[row]!r} alone for {_shown((covering + odd)[row])}"
        )
    return count


def dictionary_encoded(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an arrow table whose text columns are dictionary-encoded, as ``read_parquet`` gives them."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return pa.table(
        {
            name: column.dictionary_encode() if pa.types.is_string(column.type) else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )


def differs(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Where two float64 arrays of one shape are not bit-identical (so -0.0 differs from 0.0, NaN may equal NaN)."""
    got = np.ascontiguousarray(got, dtype=np.float64)
    expected = np.ascontiguousarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise NotCompilable(f"{got.shape} values where the pipeline gives {expected.shape}")
    return got.view(np.uint64) != expected.view(np.uint64)


def _shown(record: dict[str, Any]) -> str:
    shown = reprlib.Repr()
    shown.maxdict, shown.maxstring = 12, 40
    return shown.repr(record)
