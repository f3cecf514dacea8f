"""CSV and Excel files as people export them, read into parquet: one implementation for the ``salesml`` CLI (which
converts before it uploads) and the projects service (which converts uploads inside its capped profiling child).

CSV comes comma- or semicolon-separated, with decimal points or decimal commas (``1.234,56``, the usual export in
Brazil and much of Europe), in UTF-8 or Windows-1252. ``detect_csv_dialect`` reads which from the file's first
64 KiB; a caller can say it instead. An ``.xlsx`` workbook is read from its first sheet, whose first row names the
columns.

Messages of ``UnsupportedFile`` never name the file: the CLI prefixes the user's path, the service says nothing of
its temporary files.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

# The kinds of files a dataset can come as, and the suffixes that name them.
PARQUET_FILE = "parquet"
CSV_FILE = "csv"
EXCEL_FILE = "excel"
SUFFIX_KINDS = {
    ".parquet": PARQUET_FILE,
    ".pq": PARQUET_FILE,
    ".csv": CSV_FILE,
    ".xlsx": EXCEL_FILE,
    ".xlsm": EXCEL_FILE,
}
# The suffix a file of each kind is given on disk (openpyxl opens only the workbook suffixes it knows).
KIND_SUFFIXES = {PARQUET_FILE: ".parquet", CSV_FILE: ".csv", EXCEL_FILE: ".xlsx"}
CSV_BLOCK_BYTES = 16 * 1024 * 1024
DIALECT_SAMPLE_BYTES = 64 * 1024
SEPARATORS = (";", ",", "\t", "|")
DECIMALS = (".", ",")
# `12,5`, `-0,75`, `1.234,56`: a number written with a decimal comma (and maybe `.` between thousands).
DECIMAL_COMMA_NUMBER = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+")
# What a column of such numbers may hold besides them: whole numbers, with or without `.` between thousands.
THOUSANDS_NUMBER_PATTERN = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
# How much of a reader's own error a message quotes.
REASON_MAX_CHARS = 200


class UnsupportedFile(Exception):
    """A CSV or Excel file that cannot be read; the message says why, without naming the file."""


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written. A field left ``None`` is detected when reading (``detect_csv_dialect``) and is
    the usual default when writing (``,``, ``.``, UTF-8)."""

    separator: str | None = None
    decimal: str | None = None
    encoding: str | None = None


DEFAULT_DIALECT = CsvDialect()


def kind_of_filename(name: str | None) -> str | None:
    """The kind of file a name's suffix says (``.parquet``, ``.csv``, ``.xlsx``…), or None."""
    return SUFFIX_KINDS.get(Path(name or "").suffix.lower())


def convert_to_parquet(source: Path, kind: str, destination: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> None:
    """Write the CSV (``CSV_FILE``, in ``dialect``, the rest detected) or Excel file at ``source`` as parquet."""
    if kind == CSV_FILE:
        csv_to_parquet(source, destination, detect_csv_dialect(source, dialect))
    elif kind == EXCEL_FILE:
        pq.write_table(read_excel(source), destination)
    else:
        raise ValueError(f"not a kind of file read here: {kind!r}")


# --- CSV ------------------------------------------------------------------------------------------------------------


def detect_csv_dialect(path: Path, given: CsvDialect = DEFAULT_DIALECT) -> CsvDialect:
    """The dialect of the CSV file at `path`, from its first 64 KiB; what `given` says is kept as it is.

    - encoding: UTF-8 when the sample decodes as UTF-8, otherwise Windows-1252 (what Excel writes on Western
      Windows);
    - separator: the one of ``;`` ``,`` tab ``|`` that splits every line of the sample into the same number of
      fields, more than one (the most fields when several do); ``,`` when none does;
    - decimal: ``,`` when the separator is not ``,`` and a field of the sample is a number with a decimal comma
      (``12,5``, ``1.234,56``); otherwise ``.``.
    """
    with path.open("rb") as handle:
        sample = handle.read(DIALECT_SAMPLE_BYTES)
        cut = bool(handle.read(1))
    if b"\x00" in sample:
        raise UnsupportedFile("not a CSV text file (it holds NUL bytes); save it as CSV in UTF-8")
    if cut:  # keep whole lines: a newline byte never falls inside a UTF-8 character
        sample = sample[: sample.rfind(b"\n") + 1] or sample
    encoding = given.encoding
    if encoding is None:
        try:
            sample.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    text = sample.decode(encoding, errors="replace").removeprefix("\ufeff")
    separator = given.separator or _guess_separator(text, last_row_may_be_cut=cut)
    decimal = given.decimal
    if decimal is None:
        fields = (field.strip() for row in _csv_rows(text, separator) for field in row)
        decimal = "," if separator != "," and any(DECIMAL_COMMA_NUMBER.fullmatch(field) for field in fields) else "."
    return CsvDialect(separator, decimal, encoding)


def _guess_separator(text: str, last_row_may_be_cut: bool) -> str:
    field_counts = {}
    for separator in SEPARATORS:
        rows = [row for row in _csv_rows(text, separator) if row]
        if last_row_may_be_cut:
            rows = rows[:-1]
        counts = {len(row) for row in rows}
        if len(counts) == 1 and min(counts) > 1:
            field_counts[separator] = min(counts)
    return max(field_counts, key=field_counts.__getitem__) if field_counts else ","


def _csv_rows(text: str, separator: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=separator))


def csv_to_parquet(source: Path, destination: Path, dialect: CsvDialect) -> None:
    """Convert a CSV file written in `dialect` (complete: see ``detect_csv_dialect``) to parquet.

    With decimal points the file is converted block by block, and a column whose type changes after the first block
    falls back to one full read. With decimal commas it is read whole: whether a column is numbers with ``.``
    between thousands (``1.234,56``) is known only once every value has been seen (such files come from
    spreadsheets, which stop at about a million rows).
    """
    read_options = pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES, encoding=dialect.encoding or "utf-8")
    parse_options = pa_csv.ParseOptions(delimiter=dialect.separator or ",")
    convert_options = pa_csv.ConvertOptions(decimal_point=dialect.decimal or ".")
    options = {"read_options": read_options, "parse_options": parse_options, "convert_options": convert_options}
    try:
        if convert_options.decimal_point == ",":
            pq.write_table(_with_thousands_as_numbers(pa_csv.read_csv(source, **options)), destination)
            return
        try:
            _stream_csv_to_parquet(source, destination, options)
        except pa.ArrowInvalid:
            pq.write_table(pa_csv.read_csv(source, **options), destination)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise UnsupportedFile(f"not a readable CSV file ({_reason(exc, source)})") from exc


def _stream_csv_to_parquet(source: Path, destination: Path, options: dict[str, Any]) -> None:
    reader = pa_csv.open_csv(source, **options)
    with pq.ParquetWriter(destination, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def _with_thousands_as_numbers(table: pa.Table) -> pa.Table:
    """Text columns whose every value is a number like ``1.234,56`` or ``1.234`` become float64 (int64 when none
    has decimals); the reader already made numbers of the columns without ``.`` between thousands."""
    for index, field in enumerate(table.schema):
        if not pa.types.is_string(field.type):
            continue
        column = table.column(index)
        text = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        values = pc.drop_null(text)
        if len(values) == 0 or not pc.all(pc.match_substring_regex(values, THOUSANDS_NUMBER_PATTERN)).as_py():
            continue
        plain = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
        number_type = pa.float64() if pc.any(pc.match_substring(values, ",")).as_py() else pa.int64()
        table = table.set_column(index, pa.field(field.name, number_type), pc.cast(plain, number_type))
    return table


# --- Excel ----------------------------------------------------------------------------------------------------------


def read_excel(path: Path) -> pa.Table:
    """The first sheet of an .xlsx workbook: its first row names the columns, the rows below are the data.

    A column of numbers stays numbers, of dates stays dates (as timestamps); a column that mixes numbers and text
    becomes text. Empty rows, and empty columns without a name, are left out.
    """
    import openpyxl  # here, not at the top: it takes about half a second to import and only .xlsx files need it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnsupportedFile(f"not a readable .xlsx file ({_reason(exc, path)})") from exc
    try:
        if not workbook.worksheets:
            raise UnsupportedFile("the workbook has no sheet")
        rows = [row for row in workbook.worksheets[0].iter_rows(values_only=True) if any(v is not None for v in row)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:  # a sheet whose XML is broken or missing
        raise UnsupportedFile(f"not a readable .xlsx file ({_reason(exc, path)})") from exc
    finally:
        workbook.close()
    if not rows:
        raise UnsupportedFile("the first sheet is empty")
    width = max(len(row) for row in rows)
    header, *data = [list(row) + [None] * (width - len(row)) for row in rows]
    columns: dict[str, pa.Array] = {}
    for index, name in enumerate(header):
        values = [row[index] for row in data]
        if name is None or str(name).strip() == "":
            if any(value is not None for value in values):
                raise UnsupportedFile(f"column {index + 1} of the first sheet has values but no name")
            continue
        columns[str(name).strip()] = _excel_column(values)
    return pa.table(columns)


def _excel_column(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())


def _reason(error: Exception, path: Path) -> str:
    """A reader's error in a few words, without the path of the file it read."""
    return str(error).replace(str(path), "the file")[:REASON_MAX_CHARS]
