"""The column types of a dataset's profile, as the projects service names them and the trainer reads them.

A profiled column is ``{"name", "dtype", "nulls", "distinct", "min", "max", "mean"}``; ``dtype`` is one of
``int8``…``uint64``, ``float32``/``float64``, ``decimal``, ``bool``, ``date``, ``timestamp``, ``string``.
Imports pyarrow only (the upload profiling child runs with ``python -I``).
"""

from __future__ import annotations

import pyarrow as pa

DECIMAL = "decimal"
BOOLEAN = "bool"
DATE = "date"
TIMESTAMP = "timestamp"
TEXT = "string"
DATE_DTYPES = (DATE, TIMESTAMP)


def dtype_name(data_type: pa.DataType) -> str:
    """The profile's name for an accepted (flat, not dictionary) arrow type."""
    if pa.types.is_integer(data_type):
        return str(data_type)
    if pa.types.is_floating(data_type):
        return f"float{data_type.bit_width}"
    if pa.types.is_decimal(data_type):
        return DECIMAL
    if pa.types.is_boolean(data_type):
        return BOOLEAN
    if pa.types.is_date(data_type):
        return DATE
    if pa.types.is_timestamp(data_type):
        return TIMESTAMP
    return TEXT


def is_numeric(dtype: str) -> bool:
    """Integers, floats and decimals (booleans are not numbers here)."""
    return dtype.startswith(("int", "uint", "float")) or dtype == DECIMAL


def is_date(dtype: str) -> bool:
    return dtype in DATE_DTYPES
