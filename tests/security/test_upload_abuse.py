"""Hostile uploads through the gateway: too big (sized or chunked), not parquet, a dictionary "bomb", nested types,
and filenames that try to leave the bucket's key space. Each is refused (or stored under a server-made key) with
nothing left behind: no dataset row, no object in the bucket, no spooled file."""

from __future__ import annotations

import io
import os
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from harness.data import parquet_bytes, sales_frame
from harness.processes import Platform
from tests.platform_harness import ApiClient
from tests.security.support import (
    PARQUET,
    Account,
    assert_error_shape,
    bucket_keys,
    new_account,
    peak_rss_kb,
    service_processes,
)

pytestmark = pytest.mark.e2e

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SERVER_KEY = re.compile(rf"^projects/[0-9]+/datasets/{UUID}\.(parquet|preview\.json)$")
# The projects web process may grow a little while it streams and hashes; decoding happens in a capped child.
WEB_PROCESS_GROWTH_BOUND_KB = 150 * 1024


class CountingBody:
    """A request body of ``length`` zero bytes that counts how much of it the client was asked to send."""

    def __init__(self, length: int) -> None:
        self.len = length
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        size = self.len - self.sent if size < 0 else min(size, self.len - self.sent)
        self.sent += size
        return b"\0" * size


def chunked(total: int, chunk: int = 256 * 1024, sent: list[int] | None = None):
    for _ in range(total // chunk):
        if sent is not None:
            sent.append(chunk)
        yield b"\0" * chunk


@pytest.fixture
def uploader(api: ApiClient) -> tuple[Account, int]:
    account = new_account(api, "uploader")
    created = api.post("/api/v1/projects", json={"name": "uploads"}, headers=account.headers)
    assert created.status_code == 201, created.text
    return account, created.json()["id"]


def upload_tmp_dir(platform: Platform) -> Path:
    return Path(platform.env["UPLOAD_TMP_DIR"])


# When the gateway cuts a chunked body at the cap it answers the client at once; the projects service removes its
# spooled file when it sees the body break off, a moment later.
SPOOL_CLEANUP_S = 5.0


def assert_no_spooled_upload(platform: Platform) -> None:
    deadline = time.monotonic() + SPOOL_CLEANUP_S
    while (left := list(upload_tmp_dir(platform).iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []


def assert_nothing_stored(api: ApiClient, platform: Platform, account: Account, project_id: int) -> None:
    datasets = api.get(f"/api/v1/projects/{project_id}/datasets", headers=account.headers)
    assert datasets.status_code == 200 and datasets.json() == [], datasets.text
    assert bucket_keys(platform, f"projects/{project_id}/") == []
    assert_no_spooled_upload(platform)


# A server may answer before it has read the whole body (413 over the cap) and then close the connection although
# its answer said keep-alive: gunicorn drains at most 64 KiB of an unread body and drops an application's own
# "Connection: close". Asking for close on such uploads keeps the test's next request on a fresh connection.
CLOSE_AFTER = {"Connection": "close"}


def post_raw(api: ApiClient, account: Account, project_id: int, body, **headers) -> requests.Response | None:
    """The upload's answer, or None when the server closed the connection on a body it would not read to the end."""
    try:
        return api.post(
            f"/api/v1/projects/{project_id}/datasets",
            data=body,
            headers={**account.headers, "Content-Type": PARQUET, **CLOSE_AFTER, **headers},
        )
    except requests.ConnectionError:
        return None


def test_a_sized_upload_over_the_cap_is_413_before_it_is_read(api, platform, uploader):
    account, project_id = uploader
    cap = int(platform.env["UPLOAD_MAX_BYTES"])
    body = CountingBody(16 * cap)
    answer = post_raw(api, account, project_id, body)
    if answer is not None:
        assert_error_shape(answer, 413)
    assert body.sent < body.len, "the whole body was read before it was refused"
    assert_nothing_stored(api, platform, account, project_id)


def test_a_chunked_upload_over_the_cap_is_413_with_nothing_stored(api, platform, uploader):
    account, project_id = uploader
    cap = int(platform.env["UPLOAD_MAX_BYTES"])
    sent: list[int] = []
    answer = post_raw(api, account, project_id, chunked(16 * cap, sent=sent))
    if answer is not None:
        assert_error_shape(answer, 413)
    assert sum(sent) < 16 * cap
    assert_nothing_stored(api, platform, account, project_id)


def test_a_project_created_with_an_oversized_file_is_not_created(api, platform):
    account = new_account(api, "big-create")
    cap = int(platform.env["UPLOAD_MAX_BYTES"])
    try:
        answer = api.post(
            "/api/v1/projects",
            data={"name": "too big"},
            files={"data_file": ("big.parquet", CountingBody(cap + 1024 * 1024), PARQUET)},
            headers={**account.headers, **CLOSE_AFTER},
        )
        assert_error_shape(answer, 413)
    except requests.ConnectionError:
        pass
    assert api.get("/api/v1/projects", headers=account.headers).json() == []
    assert_no_spooled_upload(platform)


def nested_table(kind: str) -> bytes:
    columns = {
        "list": pa.array([[1, 2], [3]]),
        "struct": pa.array([{"a": 1}, {"a": 2}]),
        "map": pa.array([[("k", 1)], [("k", 2)]], type=pa.map_(pa.string(), pa.int64())),
    }
    buffer = io.BytesIO()
    pq.write_table(pa.table({"sales": [1.0, 2.0], "nested": columns[kind]}), buffer)
    return buffer.getvalue()


NOT_PARQUET = {
    "text": b"price,sales\n1,2\n",
    "pickle": pickle.dumps({"price": 1}),
    "parquet magic around garbage": b"PAR1" + os.urandom(4096) + b"PAR1",
    "truncated parquet": parquet_bytes(sales_frame(30))[:-100],
    "empty": b"",
}


@pytest.mark.parametrize("body", NOT_PARQUET.values(), ids=NOT_PARQUET.keys())
def test_not_parquet_is_422_with_nothing_stored(api, platform, uploader, body):
    account, project_id = uploader
    answer = post_raw(api, account, project_id, body)
    assert answer is not None
    assert_error_shape(answer, 422)
    assert_nothing_stored(api, platform, account, project_id)


@pytest.mark.parametrize("kind", ["list", "struct", "map"])
def test_nested_types_are_422_with_nothing_stored(api, platform, uploader, kind):
    account, project_id = uploader
    answer = post_raw(api, account, project_id, nested_table(kind))
    assert answer is not None
    assert "nested" in assert_error_shape(answer, 422)["message"]
    assert_nothing_stored(api, platform, account, project_id)


def dictionary_bomb(rows: int = 1_000_000, value_bytes: int = 900_000) -> bytes:
    """One 900 KB string referenced by a million rows: under a megabyte on disk, 900 GB decoded."""
    values = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * value_bytes]))
    table = pa.table({"sales": pa.array(np.arange(rows, dtype=np.int32) % 7), "comment": values})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", store_schema=False)
    return buffer.getvalue()


def test_a_dictionary_bomb_is_422_with_the_projects_process_memory_bounded(api, platform, uploader):
    account, project_id = uploader
    bomb = dictionary_bomb()
    assert len(bomb) < 1024 * 1024
    processes = service_processes(platform, "projects")
    before = {process.pid: peak_rss_kb(process.pid) for process in processes}
    answer = post_raw(api, account, project_id, bomb)
    assert answer is not None
    assert "decodes to more than" in assert_error_shape(answer, 422)["message"]
    for process in processes:
        growth = peak_rss_kb(process.pid) - before[process.pid]
        assert growth < WEB_PROCESS_GROWTH_BOUND_KB, f"projects process {process.pid} peaked {growth // 1024} MB higher"
    assert_nothing_stored(api, platform, account, project_id)


HOSTILE_FILENAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/etc/passwd",
    "sales\x00.parquet/../../x",
    "....//....//sales.parquet",
]


def multipart_body(filename: str, data: bytes) -> tuple[bytes, str]:
    """Built by hand: client libraries would escape or refuse the NUL byte and backslashes we want to send."""
    boundary = "salesml-security-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {PARQUET}\r\n\r\n"
    ).encode("utf-8", "surrogateescape")
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_hostile_filenames_are_stored_under_a_server_key_and_nowhere_else(api, platform, uploader):
    account, project_id = uploader
    data = parquet_bytes(sales_frame(30))
    passwd_before = Path("/etc/passwd").read_bytes()
    run_files_before = {path for path in Path(platform.log_dir).rglob("*") if path.is_file()}
    stored = []
    for filename in HOSTILE_FILENAMES:
        body, content_type = multipart_body(filename, data)
        for headers, payload in (
            ({"Content-Type": content_type}, body),
            ({"Content-Type": PARQUET, "Content-Disposition": f'attachment; filename="{filename}"'}, data),
        ):
            if "\x00" in headers.get("Content-Disposition", ""):
                continue  # a NUL byte cannot travel in an HTTP header; it is tried in the multipart part above
            answer = api.post(
                f"/api/v1/projects/{project_id}/datasets", data=payload, headers={**account.headers, **headers}
            )
            assert answer.status_code == 201, (filename, answer.text)
            dataset = answer.json()
            assert not {"/", "\\", "\x00"} & set(dataset["filename"]), dataset["filename"]
            assert ".." not in dataset["filename"], dataset["filename"]
            stored.append(dataset["id"])
    keys = bucket_keys(platform, f"projects/{project_id}/")
    assert len(keys) == 2 * len(stored)  # each dataset's parquet file and its preview
    assert all(SERVER_KEY.match(key) for key in keys), keys
    assert {key.rsplit("/", 1)[1].split(".", 1)[0] for key in keys} == set(stored)
    assert all(SERVER_KEY.match(key) for key in bucket_keys(platform)), "every key in the bucket is a server key"
    assert Path("/etc/passwd").read_bytes() == passwd_before
    assert list(upload_tmp_dir(platform).iterdir()) == []
    run_files_after = {path for path in Path(platform.log_dir).rglob("*") if path.is_file()}
    assert not {path.name for path in run_files_after - run_files_before} & {"passwd", "win.ini", "x", "sales.parquet"}
