"""Reading untrusted parquet safely: the checks dataset uploads (projects) and parquet predictions (predictor) share.

Accepted column types, the same in both services: integers, float32/float64, decimals, booleans, strings (plain,
large or dictionary-encoded), dates and timestamps. Everything else is refused before any data is decoded: lists,
structs, maps, unions, extension types (by type or by ``ARROW:extension:name`` field metadata), binary (raw bytes
cannot be trained on or shown as JSON), float16 (pandas has no such column type), times of day, durations and
null-typed columns (no value to train on or score with).

Files are opened with Arrow extension types disabled (an extension type's deserializer is code chosen by the file),
and never through ``pandas.read_parquet``; the pinned pyarrow (>= 14.0.1) refuses to unpickle anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import pandas as pd

EXTENSION_NAME_KEY = b"ARROW:extension:name"
# What a dictionary-encoded text value costs besides its characters once expanded (an offset and a pointer).
TEXT_VALUE_OVERHEAD_BYTES = 8


def open_parquet(source: Any, read_dictionary: list[str] | None = None, **options: Any) -> pq.ParquetFile:
    """A ``ParquetFile`` that never builds Arrow extension types; ``options`` go to ``pq.ParquetFile``."""
    return pq.ParquetFile(source, read_dictionary=read_dictionary, arrow_extensions_enabled=False, **options)


def is_flat_field(field: pa.Field) -> bool:
    """Whether a column may be read at all (see the module docstring for the accepted types)."""
    if EXTENSION_NAME_KEY in (field.metadata or {}) or isinstance(field.type, pa.ExtensionType):
        return False
    data_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    return (
        pa.types.is_integer(data_type)
        or pa.types.is_float32(data_type)
        or pa.types.is_float64(data_type)
        or pa.types.is_decimal(data_type)
        or pa.types.is_boolean(data_type)
        or is_text(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_timestamp(data_type)
    )


def is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def is_text_field(field: pa.Field) -> bool:
    """Plain or dictionary-encoded text: read these with ``read_dictionary`` and size them with ``decoded_size``."""
    data_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    return is_text(data_type)


def decoded_size(column: pa.Array) -> int:
    """Bytes the column takes once decoded: a text dictionary counts each row's value, not the dictionary once.

    A few bytes per row can stand for a long repeated string, so text read dictionary-encoded is sized this way
    before it is ever expanded.
    """
    if isinstance(column, pa.DictionaryArray) and is_text(column.dictionary.type):
        if not len(column):
            return 0
        value_lengths = pc.binary_length(column.dictionary)
        text_bytes = pc.sum(value_lengths.take(column.indices)).as_py() or 0
        return text_bytes + TEXT_VALUE_OVERHEAD_BYTES * len(column)
    return column.nbytes


def numbers_as_floats(table: pa.Table) -> pa.Table:
    """Decimal columns as float64: pandas would hold them as Python ``Decimal`` objects, which models and the
    input contract would take for text categories."""
    for index, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(
                index, pa.field(field.name, pa.float64()), pc.cast(table.column(index), pa.float64())
            )
    return table


def read_trusted_frame(source: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """A dataset the projects service already checked (its object-store copy), as pandas, decimals as floats; only
    ``columns`` when given."""
    return numbers_as_floats(open_parquet(source).read(columns=columns)).to_pandas()
