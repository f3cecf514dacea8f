"""Local files as the gateway wants them: CSV becomes parquet on disk (never the whole file in memory twice)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

PARQUET_SUFFIXES = {".parquet", ".pq"}
CSV_SUFFIXES = {".csv"}
CSV_BLOCK_BYTES = 16 * 1024 * 1024


class UnsupportedFile(Exception):
    """A local file the client cannot read or write (wrong suffix, unreadable CSV/parquet)."""


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise UnsupportedFile(f"{path}: expected a .parquet or .csv file")


@contextlib.contextmanager
def open_as_parquet(path: Path) -> Iterator[BinaryIO]:
    """An open binary parquet file for `path`: the file itself, or a temporary parquet converted from the CSV."""
    if not path.is_file():
        raise UnsupportedFile(f"{path}: no such file")
    if file_kind(path) == "parquet":
        with path.open("rb") as handle:
            yield handle
        return
    with tempfile.TemporaryDirectory(prefix="salesml-") as folder:
        converted = Path(folder) / (path.stem + ".parquet")
        csv_to_parquet(path, converted)
        with converted.open("rb") as handle:
            yield handle


def csv_to_parquet(source: Path, destination: Path) -> None:
    """Convert block by block; a column whose type changes after the first block falls back to one full read."""
    try:
        try:
            _stream_csv_to_parquet(source, destination)
        except pa.ArrowInvalid:
            pq.write_table(pa_csv.read_csv(source), destination)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise UnsupportedFile(f"{source}: not a readable CSV file ({exc})") from exc


def _stream_csv_to_parquet(source: Path, destination: Path) -> None:
    reader = pa_csv.open_csv(source, read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES))
    with pq.ParquetWriter(destination, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def save_parquet_as(downloaded: Path, destination: Path) -> None:
    """Put a downloaded parquet file at `destination`, converted to CSV when its suffix says so."""
    if file_kind(destination) == "parquet":
        shutil.move(downloaded, destination)
        return
    try:
        table = pq.read_table(downloaded)
    except pa.ArrowInvalid as exc:
        raise UnsupportedFile(f"the gateway's answer is not a parquet file ({exc})") from exc
    pa_csv.write_csv(table, destination)
