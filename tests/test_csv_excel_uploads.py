"""CSV and .xlsx uploads to the projects service: converted to parquet on the server with the CLI's rules (a
semicolon-separated, decimal-comma CSV keeps its numbers), as raw bodies and multipart parts, stored as parquet;
unreadable files are 422 and files over the cap 413, with nothing stored or left behind."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import openpyxl
import pyarrow.parquet as pq
import pytest

from services.projects.api.uploads import dataset_limits
from services.projects.parquet_ingest import receive_upload
from services.projects.parquet_profile import DatasetRejected
from shared.media_types import CSV, PARQUET, XLSX
from shared.tabular_files import CSV_FILE
from tests.projects_support import UserClient, create_user, projects_app
from tests.test_datasets_api import assert_nothing_stored, dataset_rows, stored_bytes, temp_files

BRAZILIAN_CSV = (
    "produto;preço;promoção;dia;vendas\n"
    "Creatina;150,5;1;2024-01-31;1.234,56\n"
    "Multivitamínico;90;0;2024-02-01;12,5\n"
    "BCAA;;1;2024-02-02;-3\n"
)


@pytest.fixture
def app(app_config, tmp_path):
    return projects_app(app_config, tmp_path)


@pytest.fixture
def alice(app):
    return UserClient(app, create_user(app, "alice"))


@pytest.fixture
def project(alice) -> dict:
    return alice.post("/api/v1/projects", json={"name": "Vendas"}).json


def datasets_path(project: dict) -> str:
    return f"/api/v1/projects/{project['id']}/datasets"


def upload_raw(alice, project, body: bytes, content_type: str, filename: str | None = None):
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else {}
    return alice.post(datasets_path(project), data=body, content_type=content_type, headers=headers)


def upload_part(alice, project, body: bytes, filename: str, content_type: str = "application/octet-stream"):
    part = (io.BytesIO(body), filename, content_type)
    return alice.post(datasets_path(project), data={"file": part}, content_type="multipart/form-data")


def workbook_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def stored_table(app, dataset: dict):
    row = next(row for row in dataset_rows(app) if row.id == dataset["id"])
    stored = stored_bytes(app, row.object_key)
    assert dataset["size_bytes"] == len(stored)
    assert dataset["sha256"] == hashlib.sha256(stored).hexdigest()
    return pq.read_table(io.BytesIO(stored))


def test_a_semicolon_decimal_comma_csv_is_stored_as_parquet_with_numbers(app, alice, project, tmp_path):
    for encoding in ("utf-8", "cp1252"):
        body = BRAZILIAN_CSV.encode(encoding)
        raw = upload_raw(alice, project, body, f"{CSV}; charset={encoding}", filename="vendas.csv")
        # Windows labels a .csv part as an Excel file: the name's suffix decides.
        part = upload_part(alice, project, body, "vendas.csv", "application/vnd.ms-excel")
        for response in (raw, part):
            assert response.status_code == 201, response.json
            dataset = response.json
            assert dataset["filename"] == "vendas.parquet"
            assert dataset["rows"] == 3
            columns = {column["name"]: column for column in dataset["columns"]}
            assert list(columns) == ["produto", "preço", "promoção", "dia", "vendas"]
            assert columns["preço"]["dtype"] == "float64" and columns["preço"]["nulls"] == 1
            assert (columns["vendas"]["min"], columns["vendas"]["max"]) == (-3.0, 1234.56)
            assert columns["dia"]["min"] == "2024-01-31"
            table = stored_table(app, dataset)
            assert table.column("vendas").to_pylist() == [1234.56, 12.5, -3.0]
            assert table.column("produto").to_pylist() == ["Creatina", "Multivitamínico", "BCAA"]
            preview = alice.get(f"{datasets_path(project)}/{dataset['id']}/preview").json
            assert preview["records"][0] == {
                "produto": "Creatina",
                "preço": 150.5,
                "promoção": 1,
                "dia": "2024-01-31",
                "vendas": 1234.56,
            }
    assert temp_files(tmp_path) == []


def test_an_xlsx_workbook_is_stored_as_parquet(app, alice, project, tmp_path):
    body = workbook_bytes(
        [
            ["product", "price", "units", "day"],
            ["Creatina", 150.5, 3, dt.datetime(2024, 1, 31)],
            ["BCAA", 90, 4, dt.datetime(2024, 2, 1)],
        ]
    )
    raw = upload_raw(alice, project, body, XLSX)
    part = upload_part(alice, project, body, "vendas.xlsx")
    created = alice.post(
        "/api/v1/projects",
        data={"name": "From a workbook", "data_file": (io.BytesIO(body), "vendas.xlsx")},
        content_type="multipart/form-data",
    )
    assert raw.status_code == 201, raw.json
    assert raw.json["filename"] == "upload.parquet"
    assert part.status_code == 201, part.json
    assert part.json["filename"] == "vendas.parquet"
    assert created.status_code == 201, created.json
    for dataset in (raw.json, part.json):
        assert [(c["name"], c["dtype"]) for c in dataset["columns"]] == [
            ("product", "string"),
            ("price", "float64"),
            ("units", "int64"),
            ("day", "timestamp"),
        ]
        assert stored_table(app, dataset).column("price").to_pylist() == [150.5, 90.0]
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "content_type", "filename", "says"),
    [
        (b"a,b\n1,2\n3,4,5\n", CSV, "ragged.csv", "not a readable CSV file"),
        (b"a,b\n1,\x002\n", CSV, "binary.csv", "NUL bytes"),
        (b"", CSV, "empty.csv", "not a readable CSV file"),
        (b"a,b\n", CSV, "header-only.csv", "no rows"),
        (b"product,price\nBCAA,1\n", XLSX, "not-a-workbook.xlsx", "not a readable .xlsx file"),
        (workbook_bytes([["price", None], [1, 2]]), XLSX, "nameless.xlsx", "has values but no name"),
        (workbook_bytes([]), XLSX, "empty.xlsx", "the first sheet is empty"),
    ],
)
def test_unreadable_csv_and_xlsx_files_are_422_and_store_nothing(
    app, alice, project, tmp_path, body, content_type, filename, says
):
    for response in (upload_raw(alice, project, body, content_type), upload_part(alice, project, body, filename)):
        assert response.status_code == 422, response.json
        assert says in response.json["message"]
        assert str(tmp_path) not in response.json["message"]
    assert_nothing_stored(app, tmp_path)


def test_a_csv_over_the_cap_is_413_raw_and_as_a_part(app_config, tmp_path):
    body = BRAZILIAN_CSV.encode() * 50
    app = projects_app(app_config, tmp_path, UPLOAD_MAX_BYTES=len(body) - 1)
    alice = UserClient(app, create_user(app, "alice"))
    project = alice.post("/api/v1/projects", json={"name": "Vendas"}).json
    for response in (upload_raw(alice, project, body, CSV), upload_part(alice, project, body, "vendas.csv")):
        assert response.status_code == 413, response.json
        assert response.json["code"] == 413
    assert_nothing_stored(app, tmp_path)


def test_the_converted_file_is_checked_against_the_dataset_limits(app, tmp_path):
    wide = ",".join(f"c{index}" for index in range(8)) + "\n" + ",".join("1" * 8) + "\n"
    with app.test_request_context():
        limits = dataset_limits()
    narrow = type(limits)(**{**limits.__dict__, "max_columns": 5})
    with pytest.raises(DatasetRejected, match="the limit is 5"):
        receive_upload(io.BytesIO(wide.encode()), narrow, tmp_path / "uploads", CSV_FILE)
    assert list((tmp_path / "uploads").iterdir()) == []


def test_other_content_types_are_still_415(app, alice, project, tmp_path):
    for content_type in ("application/octet-stream", "application/json", "text/plain", "application/vnd.ms-excel"):
        response = alice.post(datasets_path(project), data=b"a,b\n1,2\n", content_type=content_type)
        assert response.status_code == 415, content_type
        assert CSV in response.json["message"] and XLSX in response.json["message"]
    assert_nothing_stored(app, tmp_path)


def test_openapi_documents_every_accepted_content_type(alice):
    upload = alice.get("/openapi.json").json["paths"]["/api/v1/projects/{project_id}/datasets/"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data", PARQUET, CSV, XLSX}
    assert "decimal comma" in upload["requestBody"]["description"]
