"""Check and profile a parquet file, in a child process of its own: ``python -I parquet_profile.py FILE LIMITS``;
``python -I parquet_profile.py FILE LIMITS KIND SOURCE`` first converts the CSV or Excel file SOURCE into FILE
(``shared.tabular_files``, the CLI's rules), under the same heap cap and time limit.

The file is checked from its metadata (rows, columns, flat types only: ``shared.parquet_safety`` lists them and the
reasons), then decoded in bounded batches under a decoded-size budget while its columns are profiled, under a capped
heap: a file whose metadata lies about its sizes fails here with a MemoryError instead of swelling the web process.
The child imports only this file, pyarrow, numpy and the ``shared`` modules it names (``-I``: nothing else).

Columns that pandas stores as the index (``index_columns`` in the ``pandas`` schema metadata, e.g.
``__index_level_0__``) are type-checked but not profiled, so the profile matches what ``pandas.read_parquet`` shows.
The file is read with pyarrow only, through ``shared.parquet_safety.open_parquet`` (never ``pandas.read_parquet``
and never with Arrow extension types enabled), and the pinned pyarrow (>= 14.0.1) refuses to unpickle anything.

``distinct`` counts non-null values exactly up to ``DISTINCT_EXACT_LIMIT`` per column (kept as a sorted array of
64-bit fingerprints, 8 bytes each); past that the count stops and the limit is reported, a lower bound.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if __name__ == "__main__":  # the profiling child (``python -I`` this file) has no repository root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from shared.dataset_profile import dtype_name  # noqa: E402
from shared.domain_errors import DomainError  # noqa: E402
from shared.parquet_safety import decoded_size, is_flat_field, is_text, open_parquet  # noqa: E402
from shared.tabular_files import UnsupportedFile, convert_to_parquet  # noqa: E402

READ_BUFFER_BYTES = 1024 * 1024
BATCH_TARGET_BYTES = 32 * 1024 * 1024
MAX_BATCH_ROWS = 65_536
# One column chunk is decompressed page by page, but a page can be as large as its chunk.
MAX_COLUMN_CHUNK_BYTES = 256 * 1024 * 1024
DISTINCT_EXACT_LIMIT = 100_000
# Decoding runs in a child process whose heap may grow this much.
PROFILE_MEMORY_BYTES = 512 * 1024 * 1024
_MAX_NAMES_IN_MESSAGE = 10
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DatasetLimits:
    max_bytes: int
    max_rows: int
    max_columns: int
    max_decoded_bytes: int
    profile_timeout_s: float
    preview_rows: int = 0


class DatasetRejected(DomainError):
    """The upload cannot be accepted; ``message`` says what to fix."""


class UploadTooLarge(DatasetRejected):
    """The upload is over the byte cap."""


# How the profiling child names a rejection in its JSON answer.
REJECTIONS: dict[str, type[DatasetRejected]] = {cls.__name__: cls for cls in (DatasetRejected, UploadTooLarge)}


def profile_in_this_process(path: Path, limits: DatasetLimits, converted_from: tuple[str, Path] | None = None) -> dict:
    """The child's side: cap its own heap, convert ``converted_from`` (kind, CSV or Excel file) into ``path`` when
    given, profile, and answer with JSON (a rejection or the profile)."""
    heap_cap = _data_segment_bytes() + PROFILE_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_DATA, (heap_cap, heap_cap))
    try:
        if converted_from is not None:
            _convert(*converted_from, path)
        rows, columns = _profile_parquet(path, limits)
        preview = preview_records(path, limits.preview_rows)
    except DatasetRejected as rejected:
        return {"rejected": type(rejected).__name__, "message": rejected.message}
    except MemoryError:
        return {
            "rejected": DatasetRejected.__name__,
            "message": "The file needs too much memory to decode (its values are huge or its metadata is wrong); "
            "upload fewer rows or shorter values.",
        }
    return {"rows": rows, "columns": columns, "preview": preview}


def _convert(kind: str, source: Path, destination: Path) -> None:
    try:
        convert_to_parquet(source, kind, destination)
    except UnsupportedFile as unreadable:
        raise DatasetRejected(f"The file could not be read: {unreadable}. Fix it, or upload it as parquet.") from None
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = str(error).replace(str(source), "the file")[:200]
        raise DatasetRejected(f"The file could not be converted to parquet ({reason}); upload a valid file.") from None


def _data_segment_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmData missing from /proc/self/status")


def _profile_parquet(path: Path, limits: DatasetLimits) -> tuple[int, list[dict]]:
    """Check the file's metadata against ``limits``, then decode it in batches and profile each data column."""
    schema, rows, decoded_estimate = _check_metadata(path, limits)
    index_columns = _pandas_index_columns(schema)
    data_fields = [field for field in schema if field.name not in index_columns]
    if not data_fields:
        raise DatasetRejected("The file has no data columns; upload a file with at least one column.")
    profiles = [_ColumnProfile(field) for field in data_fields]
    string_columns = [
        field.name for field in data_fields if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ]
    batch_rows = max(1, min(MAX_BATCH_ROWS, BATCH_TARGET_BYTES * rows // max(decoded_estimate, 1)))
    decoded_bytes = 0
    decoded_rows = 0
    try:
        with _open_parquet(path, read_dictionary=string_columns) as parquet:
            batches = parquet.iter_batches(batch_size=batch_rows, columns=[field.name for field in data_fields])
            for batch in batches:
                decoded_rows += batch.num_rows
                decoded_bytes += sum(decoded_size(column) for column in batch.columns)
                if decoded_bytes > limits.max_decoded_bytes:
                    raise DatasetRejected(
                        f"The file decodes to more than {human_bytes(limits.max_decoded_bytes)} of data (highly "
                        "repetitive values compress very well); upload fewer rows or shorter values.",
                    )
                for profile, column in zip(profiles, batch.columns, strict=True):
                    profile.add(column)
    except MemoryError:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = str(error)[:200]
        raise DatasetRejected(f"The parquet file could not be decoded ({reason}); upload a valid file.") from None
    if decoded_rows != rows:
        raise _unreadable()
    return rows, [profile.summary() for profile in profiles]


@contextmanager
def _open_parquet(source: Any, read_dictionary: list[str] | None = None) -> Iterator[pq.ParquetFile]:
    parquet = open_parquet(source, read_dictionary, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
    try:
        yield parquet
    finally:
        parquet.close()


def _unreadable() -> DatasetRejected:
    return DatasetRejected(
        "This is not a readable parquet file; upload a file written by pandas.DataFrame.to_parquet or pyarrow, "
        "or a CSV or .xlsx file (sent as text/csv or as a file named .csv or .xlsx)."
    )


def _check_metadata(path: Path, limits: DatasetLimits) -> tuple[pa.Schema, int, int]:
    """Everything that can be refused without decoding data; returns the schema, rows and uncompressed size."""
    try:
        with _open_parquet(path) as parquet:
            metadata = parquet.metadata
            schema = parquet.schema_arrow
            row_groups = [metadata.row_group(index) for index in range(metadata.num_row_groups)]
            chunk_sizes = [
                group.column(index).total_uncompressed_size
                for group in row_groups
                for index in range(group.num_columns)
            ]
    except (pa.ArrowException, OSError, ValueError):
        raise _unreadable() from None
    rows = metadata.num_rows
    if rows < 0 or rows != sum(group.num_rows for group in row_groups) or min(chunk_sizes, default=0) < 0:
        raise _unreadable()
    if rows == 0:
        raise DatasetRejected("The file has no rows; upload a file with at least one row.")
    if rows > limits.max_rows:
        raise DatasetRejected(f"The file has {rows:,} rows; the limit is {limits.max_rows:,}. Upload fewer rows.")
    column_count = max(len(schema), metadata.num_columns)
    if column_count > limits.max_columns:
        raise DatasetRejected(
            f"The file has {column_count:,} columns; the limit is {limits.max_columns:,}. Upload fewer columns.",
        )
    names = [field.name for field in schema]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DatasetRejected(f"Column names must be unique; rename the repeated columns {_quoted(duplicates)}.")
    unsupported = [f"{_quoted([field.name])} ({field.type})" for field in schema if not is_flat_field(field)]
    if unsupported:
        shown = ", ".join(unsupported[:_MAX_NAMES_IN_MESSAGE])
        more = (
            f" and {len(unsupported) - _MAX_NAMES_IN_MESSAGE} more" if len(unsupported) > _MAX_NAMES_IN_MESSAGE else ""
        )
        raise DatasetRejected(
            f"Unsupported column types: {shown}{more}. Only flat columns of numbers, booleans, strings, dates and "
            "timestamps are accepted; drop or convert these columns.",
        )
    decoded_estimate = sum(chunk_sizes)
    if decoded_estimate > limits.max_decoded_bytes:
        raise DatasetRejected(
            f"The file decodes to {human_bytes(decoded_estimate)} of data, more than the "
            f"{human_bytes(limits.max_decoded_bytes)} limit; upload fewer rows or columns.",
        )
    if max(chunk_sizes, default=0) > MAX_COLUMN_CHUNK_BYTES:
        raise DatasetRejected(
            f"A row group holds more than {human_bytes(MAX_COLUMN_CHUNK_BYTES)} of one column; write the file with "
            "smaller row groups (e.g. to_parquet(..., row_group_size=100_000)).",
        )
    return schema, rows, decoded_estimate


def _pandas_index_columns(schema: pa.Schema) -> set[str]:
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return set()
    try:
        pandas_metadata = json.loads(raw)
    except ValueError:
        return set()
    index_columns = pandas_metadata.get("index_columns") if isinstance(pandas_metadata, dict) else None
    if not isinstance(index_columns, list):
        return set()
    return {name for name in index_columns if isinstance(name, str)}


class _ColumnProfile:
    """Running statistics of one column, fed batch by batch; memory is bounded by ``DISTINCT_EXACT_LIMIT``."""

    def __init__(self, field: pa.Field) -> None:
        self.name = field.name
        self.type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        self.nulls = 0
        self.fingerprints: np.ndarray | None = np.empty(0, dtype=np.uint64)
        self.count = 0
        self.total = 0.0
        self.minimum: Any = None
        self.maximum: Any = None

    @property
    def dtype(self) -> str:
        return dtype_name(self.type)

    def add(self, column: pa.Array) -> None:
        if isinstance(column, pa.DictionaryArray):
            if is_text(self.type):
                self.nulls += column.null_count
                if column.dictionary.null_count:
                    self.nulls += pc.sum(pc.is_null(column.dictionary).take(column.indices)).as_py() or 0
                used = pc.drop_null(pc.unique(column.indices))
                self._add_fingerprints(_text_fingerprints(column.dictionary.take(used)))
                return
            column = column.dictionary_decode()
        if is_text(self.type):
            self.nulls += column.null_count
            self._add_fingerprints(_text_fingerprints(pc.drop_null(pc.unique(column))))
        elif pa.types.is_boolean(self.type):
            self.nulls += column.null_count
            self._add_fingerprints(pc.drop_null(pc.unique(column)).cast(pa.uint64()).to_numpy())
        elif pa.types.is_date(self.type):
            self._add_numbers(column.cast(pa.date32(), safe=False).cast(pa.int32()).cast(pa.int64()))
        elif pa.types.is_timestamp(self.type):
            self._add_numbers(column.cast(pa.int64()))
        else:
            self._add_numbers(column)

    def _add_numbers(self, column: pa.Array) -> None:
        if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
            column = column.cast(pa.float64(), safe=False)
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, pa.float64()), column)
        self.nulls += column.null_count
        values = pc.drop_null(column)
        if len(values) == 0:
            return
        extremes = pc.min_max(values)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
        self.minimum = low if self.minimum is None else min(self.minimum, low)
        self.maximum = high if self.maximum is None else max(self.maximum, high)
        self.count += len(values)
        self.total += pc.sum(values.cast(pa.float64(), safe=False)).as_py()
        unique = pc.unique(values).to_numpy()
        if unique.dtype.kind == "f":
            unique = unique + 0.0  # -0.0 and 0.0 are one value
        self._add_fingerprints(
            unique.view(np.uint64) if unique.dtype.itemsize == 8 else unique.astype(np.int64).view(np.uint64)
        )

    def _add_fingerprints(self, fingerprints: np.ndarray) -> None:
        if self.fingerprints is None:
            return
        self.fingerprints = np.union1d(self.fingerprints, fingerprints.astype(np.uint64, copy=False))
        if len(self.fingerprints) > DISTINCT_EXACT_LIMIT:
            self.fingerprints = None

    def summary(self) -> dict:
        distinct = DISTINCT_EXACT_LIMIT if self.fingerprints is None else len(self.fingerprints)
        minimum = maximum = mean = None
        if self.count:
            mean = self.total / self.count
            if pa.types.is_date(self.type) or pa.types.is_timestamp(self.type):
                minimum, maximum = self._temporal(self.minimum), self._temporal(self.maximum)
                mean = self._temporal(round(mean))
            else:
                minimum, maximum, mean = _finite(self.minimum), _finite(self.maximum), _finite(mean)
        return {
            "name": self.name,
            "dtype": self.dtype,
            "nulls": self.nulls,
            "distinct": distinct,
            "min": minimum,
            "max": maximum,
            "mean": mean,
        }

    def _temporal(self, value: int) -> str:
        """ISO text of a date (days since the epoch) or a timestamp (integer in the column's unit)."""
        try:
            if pa.types.is_date(self.type):
                return (_EPOCH + timedelta(days=value)).isoformat()
            return pa.scalar(value, type=self.type).as_py().isoformat()
        except (OverflowError, ValueError, pa.ArrowException):
            raise DatasetRejected(
                f"Column {_quoted([self.name])} holds dates outside the years 1 to 9999; fix or drop them."
            ) from None


def _text_fingerprints(values: pa.Array, slice_length: int = 4096) -> np.ndarray:
    """64-bit fingerprints of distinct strings, turned into Python strings a slice at a time."""
    fingerprints = (
        hash(value) & 0xFFFF_FFFF_FFFF_FFFF
        for offset in range(0, len(values), slice_length)
        for value in values.slice(offset, slice_length).to_pylist()
    )
    return np.fromiter(fingerprints, dtype=np.uint64, count=len(values))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def preview_records(source: BinaryIO | Path, limit: int) -> dict:
    """The first ``limit`` rows of a stored parquet file as JSON-safe records (ISO dates, null for NaN, no bytes)."""
    with _seekable(source) as readable, _open_parquet(readable) as parquet:
        schema = parquet.schema_arrow
        index_columns = _pandas_index_columns(schema)
        names = [field.name for field in schema if field.name not in index_columns]
        records: list[dict] = []
        if limit > 0:
            for batch in parquet.iter_batches(batch_size=limit, columns=names):
                records.extend(batch.to_pylist()[: limit - len(records)])
                if len(records) >= limit:
                    break
    return {
        "columns": names,
        "records": [{name: _json_value(value) for name, value in record.items()} for record in records],
    }


@contextmanager
def _seekable(source: BinaryIO | Path) -> Iterator[BinaryIO]:
    """A seekable binary file for ``source``: parquet is read from its end, object store responses only stream."""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            yield handle
    elif source.seekable():
        yield source
    else:
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spooled:
            while chunk := source.read(READ_BUFFER_BYTES):
                spooled.write(chunk)
            spooled.seek(0)
            yield spooled


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _json_value(float(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    exponent = min(3, (size.bit_length() - 1) // 10)
    return f"{size / 1024**exponent:,.1f} {('KB', 'MB', 'GB')[exponent - 1]}".replace(".0 ", " ")


if __name__ == "__main__":
    converted_from = (sys.argv[3], Path(sys.argv[4])) if len(sys.argv) > 3 else None
    print(
        json.dumps(profile_in_this_process(Path(sys.argv[1]), DatasetLimits(**json.loads(sys.argv[2])), converted_from))
    )
