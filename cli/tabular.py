"""Local files as the gateway wants them: CSV and Excel become parquet on disk before they are sent (read by
``shared.tabular_files``, the rules the projects service also converts uploads with), and parquet answers become
the file the user asked for (.parquet, .csv or .xlsx, by its suffix).

Parquet is read with one thread: pyarrow's reader pool, started for a table read from an open file, aborted the
short-lived CLI at exit ("terminate called without an active exception") in about half the runs on a loaded machine.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shared.tabular_files import (
    CSV_FILE,
    DEFAULT_DIALECT,
    PARQUET_FILE,
    CsvDialect,
    UnsupportedFile,
    convert_to_parquet,
    kind_of_filename,
)


def file_kind(path: Path) -> str:
    kind = kind_of_filename(path.name)
    if kind is None:
        raise UnsupportedFile(f"{path}: expected a .parquet, .csv or .xlsx file")
    return kind


@contextlib.contextmanager
def open_as_parquet(path: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> Iterator[BinaryIO]:
    """An open binary parquet file for `path`: the file itself, or a temporary parquet converted from CSV/Excel."""
    if not path.is_file():
        raise UnsupportedFile(f"{path}: no such file")
    kind = file_kind(path)
    if kind == PARQUET_FILE:
        with path.open("rb") as handle:
            yield handle
        return
    with tempfile.TemporaryDirectory(prefix="salesml-") as folder:
        converted = Path(folder) / (path.stem + ".parquet")
        try:
            convert_to_parquet(path, kind, converted, dialect)
        except UnsupportedFile as exc:
            raise UnsupportedFile(f"{path}: {exc}") from exc
        with converted.open("rb") as handle:
            yield handle


# --- writing --------------------------------------------------------------------------------------------------------


def write_csv(table: pa.Table, destination: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> None:
    """Write `table` as UTF-8 CSV with `dialect`'s separator; with a decimal comma, floats are written ``12,5``."""
    if dialect.decimal == ",":
        for index, field in enumerate(table.schema):
            if pa.types.is_floating(field.type):
                written = pc.replace_substring(pc.cast(table.column(index), pa.string()), ".", ",")
                table = table.set_column(index, pa.field(field.name, pa.string()), written)
    pa_csv.write_csv(table, destination, write_options=pa_csv.WriteOptions(delimiter=dialect.separator or ","))


def write_excel(table: pa.Table, destination: Path) -> None:
    """Write `table` as the one sheet of an .xlsx workbook; Excel has no time zones, so timestamps are in UTC."""
    import openpyxl  # here, not at the top: it takes about half a second to import

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            in_utc = pc.cast(table.column(index), pa.timestamp(field.type.unit))
            table = table.set_column(index, pa.field(field.name, in_utc.type), in_utc)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(table.column_names)
    for batch in table.to_batches():
        for row in batch.to_pylist():
            sheet.append(list(row.values()))
    workbook.save(destination)


def write_table(table: pa.Table, destination: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> None:
    """Write `table` as .parquet, .csv (in `dialect`) or .xlsx, by the suffix of `destination`."""
    kind = file_kind(destination)
    if kind == PARQUET_FILE:
        pq.write_table(table, destination)
    elif kind == CSV_FILE:
        write_csv(table, destination, dialect)
    else:
        write_excel(table, destination)


def save_parquet_as(downloaded: Path, destination: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> None:
    """Put a downloaded parquet file at `destination`, converted to CSV or Excel when its suffix says so."""
    if file_kind(destination) == PARQUET_FILE:
        shutil.move(downloaded, destination)
        return
    try:
        table = pq.read_table(downloaded, use_threads=False)
    except pa.ArrowInvalid as exc:
        raise UnsupportedFile(f"the gateway's answer is not a parquet file ({exc})") from exc
    write_table(table, destination, dialect)


# --- reading --------------------------------------------------------------------------------------------------------


def read_records(path: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> list[dict]:
    """The rows of a .parquet, .csv or .xlsx file as JSON-ready records: dates as `2024-01-31`, timestamps as
    `2024-01-31T00:00:00`."""
    with open_as_parquet(path, dialect) as parquet:
        table = pq.read_table(parquet, use_threads=False)
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            # In whole seconds: Arrow writes the fraction of a nanosecond timestamp's second with %S.
            seconds = pc.cast(table.column(index), pa.timestamp("s", field.type.tz), safe=False)
            text = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%S")
        elif pa.types.is_temporal(field.type):
            text = pc.cast(table.column(index), pa.string())
        else:
            continue
        table = table.set_column(index, field.name, text)
    return table.to_pylist()
