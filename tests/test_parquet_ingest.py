"""Parquet upload ingestion: real datasets profiled like pandas reads them, every rejection leaves nothing behind,
a dictionary "bomb" is refused with memory bounded, filenames are sanitized."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.projects.api.errors import ERROR_STATUSES
from services.projects.parquet_ingest import receive_upload, sanitize_filename
from services.projects.parquet_profile import (
    DISTINCT_EXACT_LIMIT,
    PROFILE_MEMORY_BYTES,
    DatasetLimits,
    DatasetRejected,
    preview_records,
)
from shared.errors import status_of
from tests.helpers.datasets import real_dataset, real_dataset_params

LIMITS = DatasetLimits(
    max_bytes=8 * 1024 * 1024,
    max_rows=100_000,
    max_columns=50,
    max_decoded_bytes=64 * 1024 * 1024,
    profile_timeout_s=300,
)
REPO_ROOT = Path(__file__).resolve().parents[1]


def parquet_bytes(table: pa.Table | pd.DataFrame, **options) -> bytes:
    buffer = io.BytesIO()
    if isinstance(table, pd.DataFrame):
        table.to_parquet(buffer, **options)
    else:
        pq.write_table(table, buffer, **options)
    return buffer.getvalue()


@pytest.fixture
def upload_dir(tmp_path) -> Path:
    return tmp_path / "uploads"


def assert_rejected(data_or_stream, upload_dir: Path, status: int, *, limits: DatasetLimits = LIMITS) -> str:
    stream = io.BytesIO(data_or_stream) if isinstance(data_or_stream, bytes) else data_or_stream
    with pytest.raises(DatasetRejected) as raised:
        receive_upload(stream, limits, upload_dir)
    assert status_of(raised.value, ERROR_STATUSES) == status, raised.value.message
    assert list(upload_dir.iterdir()) == [], "the temporary file must be removed on rejection"
    return raised.value.message


# --- real datasets ---------------------------------------------------------------------------------------------


@pytest.fixture(params=real_dataset_params())
def real_dataset_file(request, tmp_path) -> Path:
    source = real_dataset(request.param)
    if source.suffix == ".parquet":
        return source
    converted = tmp_path / f"{source.stem}.parquet"
    pd.read_csv(source).to_parquet(converted, index=False)
    return converted


def test_real_dataset_profile_matches_pandas(real_dataset_file, upload_dir):
    frame = pd.read_parquet(real_dataset_file)
    with real_dataset_file.open("rb") as stream:
        ingested = receive_upload(stream, LIMITS, upload_dir)

    assert ingested.path.parent == upload_dir
    assert ingested.path.read_bytes() == real_dataset_file.read_bytes()
    assert ingested.size_bytes == real_dataset_file.stat().st_size
    assert ingested.rows == len(frame)
    assert [column["name"] for column in ingested.columns] == list(frame.columns)
    for column in ingested.columns:
        series = frame[column["name"]]
        assert column["nulls"] == int(series.isna().sum()), column["name"]
        assert column["distinct"] == series.nunique(), column["name"]
        if pd.api.types.is_numeric_dtype(series):
            assert column["min"] == series.min() and column["max"] == series.max(), column["name"]
            assert column["mean"] == pytest.approx(series.mean()), column["name"]
    json.dumps(ingested.columns, allow_nan=False)


def test_sha256_is_of_the_uploaded_bytes(upload_dir):
    data = parquet_bytes(pa.table({"x": [1, 2, 3]}))
    ingested = receive_upload(io.BytesIO(data), LIMITS, upload_dir)
    assert ingested.sha256 == hashlib.sha256(data).hexdigest()
    assert ingested.size_bytes == len(data)


# --- byte cap ------------------------------------------------------------------------------------------------


class EndlessChunkedStream:
    """An upload of unknown length that never ends, handed out in small uneven pieces like a chunked body."""

    def __init__(self) -> None:
        self.bytes_read = 0
        self.piece = 0

    def read(self, size: int = -1) -> bytes:
        self.piece += 1
        length = 1000 + (self.piece * 7919) % 60_000
        if size >= 0:
            length = min(length, size)
        self.bytes_read += length
        return b"PAR1" * (length // 4) + b"P" * (length % 4)


def test_over_the_byte_cap_with_a_known_length_is_413(upload_dir):
    message = assert_rejected(b"\x00" * (LIMITS.max_bytes + 1), upload_dir, 413)
    assert "8 MB" in message


def test_exactly_the_byte_cap_is_not_refused_for_size(upload_dir):
    message = assert_rejected(b"\x00" * LIMITS.max_bytes, upload_dir, 422)
    assert "not a readable parquet file" in message


def test_chunked_upload_of_unknown_length_stops_at_the_cap(upload_dir):
    stream = EndlessChunkedStream()
    assert_rejected(stream, upload_dir, 413)
    assert stream.bytes_read <= LIMITS.max_bytes + 1024 * 1024


# --- unreadable or refused from the metadata ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"this is a csv,not parquet\n1,2\n", b"PAR1" + b"\x00" * 100 + b"PAR1", np.random.bytes(5000)],
    ids=["empty", "text", "fake-magic", "random"],
)
def test_garbage_is_422_not_readable(data, upload_dir):
    message = assert_rejected(data, upload_dir, 422)
    assert "not a readable parquet file" in message
    assert "or a CSV or .xlsx file" in message


def test_truncated_parquet_is_422(upload_dir):
    data = parquet_bytes(pa.table({"x": list(range(1000))}))
    assert_rejected(data[: len(data) // 2], upload_dir, 422)


def test_zero_rows_is_422(upload_dir):
    data = parquet_bytes(pa.table({"x": pa.array([], pa.int64()), "y": pa.array([], pa.string())}))
    assert "no rows" in assert_rejected(data, upload_dir, 422)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("tags", pa.array([[1, 2], [3]], pa.list_(pa.int64()))),
        ("address", pa.array([{"city": "a", "zip": 1}, {"city": "b", "zip": 2}])),
        ("attributes", pa.array([[("k", 1)], [("j", 2)]], pa.map_(pa.string(), pa.int64()))),
        ("raw", pa.array([b"\x00\x01", b"\x02"], pa.binary())),
        ("span", pa.array([1, 2], pa.duration("s"))),
    ],
    ids=["list", "struct", "map", "binary", "duration"],
)
def test_nested_and_unsupported_types_are_422_naming_the_column(column, values, upload_dir):
    data = parquet_bytes(pa.table({"sales": [1.0, 2.0], column: values}))
    message = assert_rejected(data, upload_dir, 422)
    assert repr(column) in message
    assert "'sales'" not in message


def test_extension_type_column_is_422(upload_dir):
    frame = pd.DataFrame({"sales": [1.0, 2.0], "period": pd.period_range("2024-01", periods=2, freq="M")})
    assert "'period'" in assert_rejected(parquet_bytes(frame), upload_dir, 422)


def test_too_many_columns_is_422(upload_dir):
    data = parquet_bytes(pa.table({f"c{index}": [index] for index in range(LIMITS.max_columns + 1)}))
    assert "columns" in assert_rejected(data, upload_dir, 422)


def test_too_many_rows_is_422(upload_dir):
    data = parquet_bytes(pa.table({"x": np.zeros(LIMITS.max_rows + 1, dtype=np.int8)}))
    assert f"{LIMITS.max_rows + 1:,} rows" in assert_rejected(data, upload_dir, 422)


def test_duplicate_column_names_are_422(upload_dir):
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["sales", "sales"])
    assert "'sales'" in assert_rejected(parquet_bytes(table), upload_dir, 422)


def test_timestamps_beyond_year_9999_are_422(upload_dir):
    data = parquet_bytes(pa.table({"when": pa.array([0, 10**15], pa.timestamp("s"))}))
    assert "'when'" in assert_rejected(data, upload_dir, 422)


def test_compressed_plain_values_over_the_decoded_budget_are_refused_from_metadata(upload_dir):
    rows = 100
    table = pa.table({"note": ["x" * 1024 * 1024] * rows})
    data = parquet_bytes(table, use_dictionary=False, compression="zstd")
    assert len(data) < LIMITS.max_bytes
    assert "decodes to" in assert_rejected(data, upload_dir, 422)


# --- the dictionary bomb, in its own process so its memory can be measured --------------------------------------

BOMB_SCRIPT = """
import json, resource, sys
from pathlib import Path
from services.projects.api.errors import ERROR_STATUSES
from services.projects.parquet_ingest import receive_upload
from services.projects.parquet_profile import DatasetLimits, DatasetRejected
from shared.errors import status_of

path, upload_dir = Path(sys.argv[1]), Path(sys.argv[2])
limits = DatasetLimits(
    max_bytes=64 * 2**20, max_rows=10_000_000, max_columns=50, max_decoded_bytes=256 * 2**20, profile_timeout_s=300
)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with path.open("rb") as stream:
        receive_upload(stream, limits, upload_dir)
    outcome = {"status": 200, "message": ""}
except DatasetRejected as rejected:
    outcome = {"status": status_of(rejected, ERROR_STATUSES), "message": rejected.message}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({**outcome, "rss_growth_kb": after - before, "decoder_peak_kb": children_peak}))
"""
DECODER_PEAK_BOUND_KB = (PROFILE_MEMORY_BYTES + 256 * 2**20) // 1024


def run_upload_in_subprocess(path: Path, upload_dir: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(path), str(upload_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    outcome = json.loads(completed.stdout)
    # The caller only streams and hashes; decoding happens in the capped child process.
    assert outcome["rss_growth_kb"] < 200 * 1024, f"the caller grew by {outcome['rss_growth_kb'] // 1024} MB"
    assert outcome["decoder_peak_kb"] < DECODER_PEAK_BOUND_KB, f"decoder peak {outcome['decoder_peak_kb'] // 1024} MB"
    assert list(upload_dir.iterdir()) == []
    return outcome


def write_dictionary_bomb(path: Path, rows: int, value_bytes: int, *, store_schema: bool) -> None:
    """One string of ``value_bytes`` referenced by every row: a few hundred KB on disk, rows × value_bytes decoded."""
    values = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * value_bytes]))
    table = pa.table({"sales": pa.array(np.arange(rows, dtype=np.int32) % 7), "comment": values})
    pq.write_table(table, path, compression="zstd", store_schema=store_schema)


@pytest.mark.parametrize("store_schema", [True, False], ids=["arrow-dictionary-type", "plain-string-type"])
def test_dictionary_bomb_is_422_with_memory_bounded(store_schema, tmp_path, upload_dir):
    bomb = tmp_path / "bomb.parquet"
    rows, value_bytes = 1_000_000, 900_000
    write_dictionary_bomb(bomb, rows, value_bytes, store_schema=store_schema)
    assert bomb.stat().st_size < 1024 * 1024
    assert pq.ParquetFile(bomb).metadata.row_group(0).total_byte_size < 256 * 2**20, "metadata alone cannot tell"

    outcome = run_upload_in_subprocess(bomb, upload_dir)
    assert outcome["status"] == 422
    assert "decodes to more than" in outcome["message"]


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        encoded.append(low | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def understate_uncompressed_sizes(data: bytes) -> bytes:
    """Rewrite the footer's uncompressed sizes (thrift i64 varints) to 1,000 bytes, keeping every length the same."""
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    group = metadata.row_group(0)
    footer_length = int.from_bytes(data[-8:-4], "little")
    footer = data[-8 - footer_length : -8]
    for size in {group.total_byte_size, group.column(0).total_uncompressed_size}:
        encoded = _varint(size * 2)  # zigzag
        padded = bytes(((2000 >> (7 * i)) & 0x7F) | (0x80 if i < len(encoded) - 1 else 0) for i in range(len(encoded)))
        assert encoded in footer
        footer = footer.replace(encoded, padded)
    patched = data[: -8 - footer_length] + footer + data[-8:]
    assert pq.ParquetFile(io.BytesIO(patched)).metadata.row_group(0).total_byte_size == 1000
    return patched


def test_metadata_that_understates_sizes_is_422_with_memory_bounded(tmp_path, upload_dir):
    """A crafted footer claims 1 KB; the one data page really holds 500 MB of 'x': decoding must hit the memory cap."""
    table = pa.table({"note": pa.array(["x" * 1_000_000] * 500)})
    data = parquet_bytes(table, use_dictionary=False, compression="zstd", data_page_size=2**31 - 1, store_schema=False)
    lying = tmp_path / "lying.parquet"
    lying.write_bytes(understate_uncompressed_sizes(data))
    del table, data
    assert lying.stat().st_size < 1024 * 1024

    outcome = run_upload_in_subprocess(lying, upload_dir)
    assert outcome["status"] == 422
    assert "memory" in outcome["message"] or "decodes to more than" in outcome["message"]


@pytest.mark.parametrize("name", ["comment", "comment.text", "a,b", "é"])
def test_dictionary_bomb_is_caught_whatever_the_column_name(name, tmp_path, upload_dir):
    rows, value_bytes = 1000, 900_000
    values = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * value_bytes]))
    data = parquet_bytes(pa.table({name: values}), compression="zstd", store_schema=False)
    assert "decodes to more than" in assert_rejected(data, upload_dir, 422)


# --- profiling values on a hand-made table -----------------------------------------------------------------------


def test_profile_values_on_a_small_table(upload_dir):
    utc = dt.UTC
    table = pa.table(
        {
            "units": pa.array([3, None, 1, 3, 5], pa.int32()),
            "price": pa.array([1.5, float("nan"), None, 2.5, -0.0]),
            "ratio": pa.array([0.0, float("inf"), 1.0, 0.0, 0.0]),
            "promo": pa.array([True, False, None, True, True]),
            "store": pa.array(["a", "b", None, "a", ""]),
            "region": pa.array(["north", "south", "north", None, "north"]).dictionary_encode(),
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 3), None, dt.date(2024, 1, 2), dt.date(2024, 1, 2)]),
            "at": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=utc), None, None, None, dt.datetime(2024, 1, 3, tzinfo=utc)],
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": pa.array(
                [decimal.Decimal("1.25"), decimal.Decimal("2.75"), None, None, None], pa.decimal128(9, 2)
            ),
            "empty": pa.array([None] * 5, pa.float64()),
            "size_code": pa.array([7, 9, 7, None, 8]).dictionary_encode(),
        }
    )
    ingested = receive_upload(io.BytesIO(parquet_bytes(table)), LIMITS, upload_dir)
    profile = {column.pop("name"): column for column in ingested.columns}

    assert ingested.rows == 5
    assert profile["units"] == {"dtype": "int32", "nulls": 1, "distinct": 3, "min": 1, "max": 5, "mean": 3.0}
    assert profile["price"] == {"dtype": "float64", "nulls": 2, "distinct": 3, "min": -0.0, "max": 2.5, "mean": 4 / 3}
    assert profile["ratio"] == {"dtype": "float64", "nulls": 0, "distinct": 3, "min": 0.0, "max": None, "mean": None}
    assert profile["promo"] == {"dtype": "bool", "nulls": 1, "distinct": 2, "min": None, "max": None, "mean": None}
    assert profile["store"] == {"dtype": "string", "nulls": 1, "distinct": 3, "min": None, "max": None, "mean": None}
    assert profile["region"] == {"dtype": "string", "nulls": 1, "distinct": 2, "min": None, "max": None, "mean": None}
    assert profile["day"] == {
        "dtype": "date",
        "nulls": 1,
        "distinct": 3,
        "min": "2024-01-01",
        "max": "2024-01-03",
        "mean": "2024-01-02",
    }
    assert profile["at"] == {
        "dtype": "timestamp",
        "nulls": 3,
        "distinct": 2,
        "min": "2024-01-01T00:00:00+00:00",
        "max": "2024-01-03T00:00:00+00:00",
        "mean": "2024-01-02T00:00:00+00:00",
    }
    assert profile["amount"] == {"dtype": "decimal", "nulls": 3, "distinct": 2, "min": 1.25, "max": 2.75, "mean": 2.0}
    assert profile["empty"] == {"dtype": "float64", "nulls": 5, "distinct": 0, "min": None, "max": None, "mean": None}
    assert profile["size_code"] == {"dtype": "int64", "nulls": 1, "distinct": 3, "min": 7, "max": 9, "mean": 7.75}
    json.dumps(ingested.columns, allow_nan=False)


def test_distinct_stops_counting_past_the_limit(upload_dir):
    rows = DISTINCT_EXACT_LIMIT + 50_000
    table = pa.table({"id": np.arange(rows), "code": pa.array([f"c{index}" for index in range(rows)])})
    limits = DatasetLimits(
        max_bytes=LIMITS.max_bytes, max_rows=rows, max_columns=10, max_decoded_bytes=2**30, profile_timeout_s=300
    )
    ingested = receive_upload(io.BytesIO(parquet_bytes(table)), limits, upload_dir)
    assert [column["distinct"] for column in ingested.columns] == [DISTINCT_EXACT_LIMIT, DISTINCT_EXACT_LIMIT]
    assert ingested.columns[0]["max"] == rows - 1


def test_pandas_index_columns_are_not_profiled(upload_dir):
    frame = pd.DataFrame({"sales": [1.0, 2.0]}, index=pd.Index([10, 20], name="week"))
    ingested = receive_upload(io.BytesIO(parquet_bytes(frame)), LIMITS, upload_dir)
    assert [column["name"] for column in ingested.columns] == ["sales"]


# --- preview ------------------------------------------------------------------------------------------------


class ForwardOnlyStream(io.RawIOBase):
    """Like an object store response: readable, not seekable."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        chunk = self.inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_preview_records_are_json_safe(tmp_path):
    table = pa.table(
        {
            "day": pa.array([dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)]),
            "at": pa.array([dt.datetime(2024, 1, 1, 12, 30), None, None], pa.timestamp("ms")),
            "value": [float("nan"), float("inf"), 2.5],
            "amount": pa.array([decimal.Decimal("1.50"), None, None], pa.decimal128(5, 2)),
            "store": pa.array(["a", "b", "c"]).dictionary_encode(),
        }
    )
    path = tmp_path / "data.parquet"
    pq.write_table(table, path)
    expected = {
        "columns": ["day", "at", "value", "amount", "store"],
        "records": [
            {"day": "2024-01-01", "at": "2024-01-01T12:30:00", "value": None, "amount": 1.5, "store": "a"},
            {"day": None, "at": None, "value": None, "amount": None, "store": "b"},
        ],
    }
    assert preview_records(path, 2) == expected
    assert preview_records(ForwardOnlyStream(path.read_bytes()), 2) == expected
    with path.open("rb") as handle:
        assert len(preview_records(handle, 100)["records"]) == 3
    assert preview_records(path, 0)["records"] == []
    json.dumps(preview_records(path, 3), allow_nan=False)


def test_preview_leaves_out_pandas_index_columns(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"sales": [1.0, 2.0]}, index=pd.Index([10, 20], name="week")).to_parquet(path)
    assert preview_records(path, 5) == {"columns": ["sales"], "records": [{"sales": 1.0}, {"sales": 2.0}]}


# --- filenames --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sales.parquet", "sales.parquet"),
        ("../../etc/passwd", "passwd"),
        ("..%2f..%2fetc", "etc"),
        ("%2e%2e%2f", "upload.parquet"),
        ("%252e%252e%252fsecret.parquet", "secret.parquet"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("a\x00b.parquet", "ab.parquet"),
        ("line\nbreak\r.parquet", "linebreak.parquet"),
        ("C:\\Users\\me\\sales 2024.parquet", "sales 2024.parquet"),
        ("/absolute/path.parquet", "path.parquet"),
        ("..", "upload.parquet"),
        ("...", "upload.parquet"),
        (".hidden", "hidden"),
        ("a..b.parquet", "a.b.parquet"),
        ("\uff0e\uff0e\uff0fetc", "etc"),
        ("", "upload.parquet"),
        (None, "upload.parquet"),
        ("   ", "upload.parquet"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


def test_sanitize_filename_limits_length_and_keeps_the_extension():
    sanitized = sanitize_filename("x" * 1000 + ".parquet")
    assert len(sanitized) == 255
    assert sanitized.endswith(".parquet")
    assert len(sanitize_filename("y" * 1000)) == 255


def test_sanitized_names_are_never_paths():
    for name in ["../../etc/passwd", "..%2f..%2fetc", "%2e%2e%2f", "a/b/../c", "\\\\server\\share\\x"]:
        sanitized = sanitize_filename(name)
        assert "/" not in sanitized and "\\" not in sanitized and ".." not in sanitized
