"""Scoring request bodies with a loaded model: JSON records, or a parquet table read safely and scored in chunks."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from services.predictor.input_contract import InputRejected, PreparedInput
from services.predictor.model_cache import LoadedModel
from shared.domain_errors import DomainError
from shared.parquet_safety import decoded_size, is_flat_field, is_text_field, open_parquet

PREDICTION_COLUMN = "prediction"


class InputTooLarge(DomainError):
    """More rows (or more decoded bytes) than this service scores in one request."""


@dataclass
class Scored:
    predictions: np.ndarray
    warnings: list[str] = field(default_factory=list)
    prepared: PreparedInput | None = None


@dataclass
class ScoredTable:
    table: pa.Table
    warnings: list[str] = field(default_factory=list)


def score_records(model: LoadedModel, records: Sequence[Any], with_rows: bool = True) -> Scored:
    """Predictions for JSON objects (one per row); ``InputRejected`` names every bad column and row."""
    if not records:
        raise InputRejected({"records": ["send at least one record"]})
    with model.arriving() as arrival:
        prepared = model.contract.prepare_records(records, with_rows=with_rows)
        return Scored(model.predict(prepared, arrival), prepared.warnings, prepared)


def read_parquet(body: bytes, max_rows: int, max_decoded_bytes: int) -> pa.Table:
    """A flat arrow table from parquet bytes, its size checked from the metadata before any page is decoded.

    The accepted column types and the safe reading are ``shared.parquet_safety``'s, the same as for dataset uploads.
    Text columns are read, and stay, dictionary-encoded: they are sized as if expanded, checked and looked up once
    per distinct value, and written back as they came.
    """
    try:
        parquet = open_parquet(pa.BufferReader(body))
        metadata, schema = parquet.metadata, parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise _not_parquet(exc) from exc
    if metadata.num_rows > max_rows:
        raise InputTooLarge(f"The file has {metadata.num_rows} rows; at most {max_rows} are scored per request.")
    errors = {
        schema_field.name: [
            f"type {schema_field.type} is not accepted: only flat columns (numbers, text, booleans, dates)"
        ]
        for schema_field in schema
        if not is_flat_field(schema_field)
    }
    duplicated = {name for name in schema.names if schema.names.count(name) > 1}
    errors.update({name: ["the column name appears more than once"] for name in duplicated})
    if errors:
        raise InputRejected(errors)
    if metadata.num_rows == 0:
        raise InputRejected({"body": ["the file has no rows"]})
    encoded = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    if encoded > max_decoded_bytes:
        raise InputTooLarge(f"The file decodes to more than {max_decoded_bytes} bytes.")
    text_columns = [field.name for field in schema if is_text_field(field)]
    try:
        table = open_parquet(pa.BufferReader(body), read_dictionary=text_columns).read(use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise _not_parquet(exc) from exc
    decoded = encoded + sum(decoded_size(chunk) for name in text_columns for chunk in table.column(name).chunks)
    if decoded > max_decoded_bytes:
        raise InputTooLarge(f"The file decodes to more than {max_decoded_bytes} bytes.")
    return table.replace_schema_metadata(None)


def _not_parquet(error: Exception) -> InputRejected:
    return InputRejected(
        {
            "body": [
                f"not a readable parquet file ({type(error).__name__}); `salesml predict --input FILE` converts CSV "
                "and Excel files to parquet"
            ]
        }
    )


def score_table(model: LoadedModel, table: pa.Table, chunk_rows: int) -> ScoredTable:
    """``table`` with a ``prediction`` column appended, scored ``chunk_rows`` rows per call."""
    warnings = model.contract.column_warnings(table.column_names)
    if PREDICTION_COLUMN in table.column_names:
        warnings.append(f"Replaced the column '{PREDICTION_COLUMN}' that the file already had.")
        table = table.drop_columns([PREDICTION_COLUMN])
    predictions = []
    for offset in range(0, table.num_rows, chunk_rows):
        prepared = model.contract.prepare_table(table.slice(offset, chunk_rows), row_offset=offset)
        warnings.extend(warning for warning in prepared.warnings if warning not in warnings)
        predictions.append(model.predict(prepared))
    column = pa.chunked_array([pa.array(chunk, type=pa.float64()) for chunk in predictions], type=pa.float64())
    return ScoredTable(table.append_column(PREDICTION_COLUMN, column), warnings)


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as parquet whose columns read back as the types they came in: text kept dictionary-encoded here
    reads back as text, not as categories. Written without arrow's own schema (nor the pandas metadata a table made
    from a DataFrame carries), which is quicker from dictionaries; with it, from plain columns, when a type needs it
    to come back (a time zone)."""
    as_sent = plain_schema(table.schema)
    quick = _written(table, store_schema=False)
    if pq.read_schema(pa.BufferReader(quick)).equals(as_sent):
        return quick
    return _written(table.cast(as_sent), store_schema=True)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each dictionary-encoded column as its values' type (text read from parquet, as it was sent)."""
    return pa.schema(
        pa.field(column.name, column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in schema
    )


def plain_table(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns decoded, for code that reads it as pandas (which would make
    categories of them, or refuse a dictionary that repeats a value)."""
    return table.cast(plain_schema(table.schema))


def _written(table: pa.Table, store_schema: bool) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", store_schema=store_schema)
    return buffer.getvalue()


def json_records(table: pa.Table, chunk_rows: int) -> Iterator[str]:
    """The rows as a JSON array of objects, written a chunk at a time."""
    yield "["
    for offset in range(0, table.num_rows, chunk_rows):
        chunk = plain_table(table.slice(offset, chunk_rows)).to_pandas(date_as_object=False)
        text = chunk.to_json(orient="records", date_format="iso", force_ascii=False)
        yield ("," if offset else "") + text[1:-1]
    yield "]"
