"""Dataset routes of the projects service, on the file:// and the S3 object store: uploads of the real datasets,
preview, deletion, ownership, server-made object keys, and rejected uploads that leave nothing behind."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

import pandas as pd
import pytest
import requests

from harness.data import parquet_bytes, sales_frame
from services.projects.dataset_store import preview_object_key
from services.projects.models import Dataset
from shared.db import db
from shared.media_types import PARQUET
from shared.storage import ObjectStoreUnavailable
from shared.storage.filesystem import FileSystemObjectStore
from shared.training_records import TrainingRun
from tests.conftest import internal_token_headers
from tests.helpers.datasets import datasets_dir, real_dataset, real_dataset_names, real_dataset_params
from tests.helpers.servers import served
from tests.projects_support import UserClient, create_user, projects_app

DATASET_NOT_FOUND = {"code": 404, "status": "Not Found", "message": "Dataset not found."}
SERVER_KEY = re.compile(
    r"^projects/(\d+)/datasets/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.(parquet|preview\.json)$"
)


@pytest.fixture(scope="session")
def parquet_files(tmp_path_factory) -> dict[str, Path]:
    """Every real dataset as a parquet file (the CSVs converted with pandas), by its original file name."""
    folder = tmp_path_factory.mktemp("parquet")
    files = {}
    names = real_dataset_names()
    if not names:
        pytest.skip(f"no datasets in {datasets_dir()} (set SALESML_DATASETS_DIR to the datasets folder)")
    for name in names:
        source = real_dataset(name)
        if source.suffix == ".parquet":
            files[name] = source
        else:
            files[name] = folder / f"{source.stem}.parquet"
            pd.read_csv(source).to_parquet(files[name], index=False)
    return files


def weekly_store_sales(rows: int = 120) -> pd.DataFrame:
    """Generated sales with a day-first date written as text, as in the Walmart export."""
    frame = sales_frame(rows, with_dates=True)
    frame["day"] = frame["day"].dt.strftime("%d-%m-%Y")
    return frame


@pytest.fixture
def small_parquet() -> bytes:
    """A small generated dataset: these tests need any valid file, not the shared datasets."""
    return parquet_bytes(weekly_store_sales())


@pytest.fixture(params=["file", "s3"])
def storage(request) -> dict:
    return request.getfixturevalue("s3_bucket_config") if request.param == "s3" else {}


@pytest.fixture
def app(app_config, tmp_path, storage):
    return projects_app(app_config, tmp_path, PREVIEW_MAX_ROWS=50, **storage)


@pytest.fixture
def alice(app):
    return UserClient(app, create_user(app, "alice"))


@pytest.fixture
def bob(app):
    return UserClient(app, create_user(app, "bob"))


@pytest.fixture
def project(alice) -> dict:
    response = alice.post("/api/v1/projects", json={"name": "Sales"})
    assert response.status_code == 201
    return response.json


def objects_of(parquet_key: str) -> list[str]:
    """A dataset's objects: its parquet file and the preview stored beside it."""
    return [parquet_key, preview_object_key(parquet_key)]


def stored_keys(app) -> set[str]:
    store = app.extensions["object_store"]
    if isinstance(store, FileSystemObjectStore):
        return {path.relative_to(store.root).as_posix() for path in store.root.rglob("*") if path.is_file()}
    return {item.object_name for item in store.client.list_objects(store.bucket, recursive=True)}


def stored_bytes(app, key: str) -> bytes:
    with app.extensions["object_store"].open(key) as stream:
        return stream.read()


def dataset_rows(app) -> list[Dataset]:
    with app.app_context():
        return list(db.session.execute(db.select(Dataset)).scalars())


def temp_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "uploads").iterdir())


def upload_raw(client: UserClient, project_id: int, body: bytes, filename: str | None = None):
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else {}
    return client.post(f"/api/v1/projects/{project_id}/datasets", data=body, content_type=PARQUET, headers=headers)


def upload_multipart(client: UserClient, project_id: int, body: bytes, filename="data.parquet", field="file"):
    return client.post(
        f"/api/v1/projects/{project_id}/datasets",
        data={field: (io.BytesIO(body), filename)},
        content_type="multipart/form-data",
    )


def upload_chunked(app, client: UserClient, project_id: int, body: bytes) -> requests.Response:
    """A raw upload without Content-Length (Transfer-Encoding: chunked) over real HTTP."""
    chunks = (body[offset : offset + 1024] for offset in range(0, len(body), 1024))
    headers = {**internal_token_headers(app.config, "projects", client.user_id), "Content-Type": PARQUET}
    with served(app) as url:
        return requests.post(f"{url}/api/v1/projects/{project_id}/datasets", data=chunks, headers=headers, timeout=30)


def assert_nothing_stored(app, tmp_path):
    assert dataset_rows(app) == []
    assert stored_keys(app) == set()
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("name", real_dataset_params())
def test_real_datasets_upload_with_the_profile_pandas_sees(app, alice, project, parquet_files, tmp_path, name):
    path = parquet_files[name]
    body = path.read_bytes()
    response = upload_multipart(alice, project["id"], body, filename=path.name)
    assert response.status_code == 201, response.json

    frame = pd.read_parquet(path)
    dataset = response.json
    assert dataset["project_id"] == project["id"]
    assert dataset["filename"] == path.name
    assert dataset["rows"] == len(frame)
    assert dataset["size_bytes"] == len(body)
    assert dataset["sha256"] == hashlib.sha256(body).hexdigest()
    assert [column["name"] for column in dataset["columns"]] == list(frame.columns)
    assert {column["name"]: column["nulls"] for column in dataset["columns"]} == frame.isna().sum().to_dict()
    for column in dataset["columns"]:
        if pd.api.types.is_numeric_dtype(frame[column["name"]]) and not frame[column["name"]].isna().all():
            assert column["min"] == pytest.approx(frame[column["name"]].min())
            assert column["max"] == pytest.approx(frame[column["name"]].max())

    row = dataset_rows(app)[0]
    assert SERVER_KEY.match(row.object_key) and row.object_key.endswith(f"/{dataset['id']}.parquet")
    assert stored_keys(app) == set(objects_of(row.object_key))
    assert stored_bytes(app, row.object_key) == body
    assert temp_files(tmp_path) == []
    assert alice.get(f"/api/v1/projects/{project['id']}/datasets/{dataset['id']}").json == dataset


def test_raw_body_upload_list_get_and_latest(app, alice, project, small_parquet, tmp_path):
    first = upload_raw(alice, project["id"], small_parquet, filename="first.parquet")
    assert first.status_code == 201, first.json
    assert first.json["filename"] == "first.parquet"
    second = upload_raw(alice, project["id"], small_parquet)
    assert second.status_code == 201
    assert second.json["filename"] == "upload.parquet"
    chunked = upload_chunked(app, alice, project["id"], small_parquet)
    assert chunked.status_code == 201, chunked.json
    assert chunked.json()["size_bytes"] == len(small_parquet)
    listed = alice.get(f"/api/v1/projects/{project['id']}/datasets/")
    assert [dataset["id"] for dataset in listed.json] == [chunked.json()["id"], second.json["id"], first.json["id"]]
    assert alice.get(f"/api/v1/projects/{project['id']}").json["latest_dataset"] == chunked.json()["id"]
    assert len(stored_keys(app)) == 3 * len(objects_of("x.parquet"))
    assert temp_files(tmp_path) == []


def test_an_upload_holds_no_database_transaction_while_the_body_streams(app, alice, project, small_parquet):
    """A pooled connection must not sit idle in a transaction for a whole upload and its profiling."""
    in_transaction_while_reading = []

    class WatchedBody(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            in_transaction_while_reading.append(db.session().in_transaction())
            return super().read(size)

        def readinto(self, buffer) -> int:
            in_transaction_while_reading.append(db.session().in_transaction())
            return super().readinto(buffer)

    answer = alice.post(
        f"/api/v1/projects/{project['id']}/datasets",
        input_stream=WatchedBody(small_parquet),
        content_type=PARQUET,
        headers={"Content-Length": str(len(small_parquet))},
    )
    assert answer.status_code == 201, answer.json
    assert in_transaction_while_reading and not any(in_transaction_while_reading)


def test_dataset_lists_are_paginated_under_page_size_max(alice, project, small_parquet):
    ids = [upload_raw(alice, project["id"], small_parquet).json["id"] for _ in range(3)]
    page = alice.get(f"/api/v1/projects/{project['id']}/datasets?page=2&page_size=2")
    assert [dataset["id"] for dataset in page.json] == ids[:1]
    assert page.headers["X-Pagination"]
    too_large = alice.get(f"/api/v1/projects/{project['id']}/datasets?page_size=101")
    assert too_large.status_code == 422
    assert too_large.json["errors"] == {"page_size": ["Must be less than or equal to 100."]}


def test_openapi_documents_both_ways_to_send_a_file(alice):
    paths = alice.get("/openapi.json").json["paths"]
    upload = paths["/api/v1/projects/{project_id}/datasets/"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", PARQUET} <= set(upload)
    create = paths["/api/v1/projects/"]["post"]["requestBody"]["content"]
    assert set(create) == {"application/json", "multipart/form-data"}


def test_multipart_field_data_file_is_accepted_too(alice, project, small_parquet):
    response = upload_multipart(alice, project["id"], small_parquet, field="data_file")
    assert response.status_code == 201, response.json
    assert response.json["rows"] == len(pd.read_parquet(io.BytesIO(small_parquet)))


def test_multipart_without_a_file_part_or_with_another_content_type(app, alice, project, small_parquet, tmp_path):
    path = f"/api/v1/projects/{project['id']}/datasets"
    no_file = alice.post(
        path, data={"other": (io.BytesIO(small_parquet), "x.parquet")}, content_type="multipart/form-data"
    )
    assert no_file.status_code == 422
    assert "file" in no_file.json["errors"]
    for content_type in ("text/plain", "application/octet-stream", "application/json", "application/x-python-pickle"):
        response = alice.post(path, data=small_parquet, content_type=content_type)
        assert response.status_code == 415, content_type
        assert response.json["code"] == 415
    assert_nothing_stored(app, tmp_path)


def test_project_created_with_its_first_dataset_in_one_form(app, alice, small_parquet, tmp_path):
    response = alice.post(
        "/api/v1/projects",
        data={
            "name": "Advertising",
            "description": "ISLR",
            "target": "sales",
            "data_file": (io.BytesIO(small_parquet), "advertising.parquet"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    project = response.json
    assert (project["name"], project["description"], project["target"]) == ("Advertising", "ISLR", "sales")
    datasets = alice.get(f"/api/v1/projects/{project['id']}/datasets").json
    assert [dataset["id"] for dataset in datasets] == [project["latest_dataset"]]
    assert datasets[0]["filename"] == "advertising.parquet"
    assert stored_keys(app) == set(objects_of(f"projects/{project['id']}/datasets/{project['latest_dataset']}.parquet"))
    assert temp_files(tmp_path) == []


def test_project_form_with_a_bad_or_missing_file_creates_nothing(app, alice, tmp_path):
    garbage = alice.post(
        "/api/v1/projects",
        data={"name": "Broken", "data_file": (io.BytesIO(b"name,sales\nx,1\n"), "data.parquet")},
        content_type="multipart/form-data",
    )
    assert garbage.status_code == 422
    missing = alice.post("/api/v1/projects", data={"name": "No file"}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert "data_file" in missing.json["errors"]
    assert alice.get("/api/v1/projects").json == []
    assert_nothing_stored(app, tmp_path)


def test_preview_returns_the_first_rows_capped(alice, project):
    frame = weekly_store_sales()
    dataset = upload_raw(alice, project["id"], parquet_bytes(frame)).json
    preview_path = f"/api/v1/projects/{project['id']}/datasets/{dataset['id']}/preview"

    default = alice.get(preview_path)
    assert default.status_code == 200, default.json
    assert default.json["columns"] == list(frame.columns)
    assert len(default.json["records"]) == 20
    three = alice.get(f"{preview_path}?limit=3").json
    assert three["records"] == frame.head(3).to_dict(orient="records")
    assert len(alice.get(f"{preview_path}?limit=100000").json["records"]) == 50  # PREVIEW_MAX_ROWS
    assert alice.get(f"{preview_path}?limit=0").status_code == 422


def test_preview_reads_the_preview_stored_at_upload_not_the_file(app, alice, project, small_parquet):
    dataset = upload_raw(alice, project["id"], small_parquet).json
    preview_path = f"/api/v1/projects/{project['id']}/datasets/{dataset['id']}/preview?limit=2"
    before = alice.get(preview_path).json
    app.extensions["object_store"].delete(f"projects/{project['id']}/datasets/{dataset['id']}.parquet")
    assert alice.get(preview_path).json == before
    assert before["records"] == pd.read_parquet(io.BytesIO(small_parquet)).head(2).to_dict(orient="records")


def test_delete_dataset_removes_its_object(app, alice, project, small_parquet):
    kept = upload_raw(alice, project["id"], small_parquet).json
    gone = upload_raw(alice, project["id"], small_parquet).json
    path = f"/api/v1/projects/{project['id']}/datasets/{gone['id']}"
    response = alice.delete(path)
    assert response.status_code == 204
    assert alice.get(path).json == DATASET_NOT_FOUND
    assert alice.delete(path).json == DATASET_NOT_FOUND
    assert stored_keys(app) == set(objects_of(f"projects/{project['id']}/datasets/{kept['id']}.parquet"))
    assert alice.get(f"/api/v1/projects/{project['id']}").json["latest_dataset"] == kept["id"]


def test_other_users_and_other_projects_datasets_look_missing(app, alice, bob, project, small_parquet):
    dataset = upload_raw(alice, project["id"], small_parquet).json
    other_project = alice.post("/api/v1/projects", json={"name": "Other"}).json
    bobs_project = bob.post("/api/v1/projects", json={"name": "Bob's"}).json
    unknown_id = "00000000-0000-4000-8000-000000000000"
    for client, project_id, dataset_id in (
        (bob, bobs_project["id"], dataset["id"]),  # mixed ids: Bob's project, Alice's dataset
        (alice, other_project["id"], dataset["id"]),  # Alice's dataset under another of her projects
        (alice, project["id"], unknown_id),
    ):
        base = f"/api/v1/projects/{project_id}/datasets/{dataset_id}"
        for response in (client.get(base), client.get(f"{base}/preview"), client.delete(base)):
            assert response.status_code == 404
            assert response.json == DATASET_NOT_FOUND
    project_not_found = {"code": 404, "status": "Not Found", "message": "Project not found."}
    base = f"/api/v1/projects/{project['id']}/datasets"
    assert bob.get(base).json == project_not_found
    assert bob.get(f"{base}/{dataset['id']}").json == project_not_found | {"message": "Dataset not found."}
    assert upload_raw(bob, project["id"], small_parquet).json == project_not_found
    assert alice.get(f"{base}/{dataset['id']}").json == dataset
    assert len(stored_keys(app)) == len(objects_of("x.parquet"))


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..\\..\\windows\\win.ini",
        "evil\x00.parquet",
        "/abs.parquet",
    ],
)
@pytest.mark.parametrize("how", ["multipart", "raw"])
def test_client_filenames_never_become_paths(app, alice, project, small_parquet, tmp_path, filename, how):
    before = {path for path in tmp_path.rglob("*") if path.is_file()}
    if how == "multipart":
        response = upload_multipart(alice, project["id"], small_parquet, filename=filename)
    else:
        response = upload_raw(alice, project["id"], small_parquet, filename=filename.replace("\x00", "%00"))
    assert response.status_code == 201, response.json
    shown = response.json["filename"]
    assert "/" not in shown and "\\" not in shown and ".." not in shown and "\x00" not in shown
    key = f"projects/{project['id']}/datasets/{response.json['id']}.parquet"
    assert stored_keys(app) == set(objects_of(key))
    written = {path for path in tmp_path.rglob("*") if path.is_file()} - before
    if isinstance(app.extensions["object_store"], FileSystemObjectStore):
        assert written == {tmp_path / "objects" / stored for stored in objects_of(key)}
    else:
        assert written == set()


def test_upload_over_the_cap_stores_nothing(app_config, tmp_path, storage, small_parquet):
    app = projects_app(app_config, tmp_path, UPLOAD_MAX_BYTES=len(small_parquet) - 1, **storage)
    alice = UserClient(app, create_user(app, "alice"))
    project = alice.post("/api/v1/projects", json={"name": "Sales"}).json

    sized = upload_raw(alice, project["id"], small_parquet)
    assert sized.status_code == 413
    assert sized.json["code"] == 413
    chunked = upload_chunked(app, alice, project["id"], small_parquet)
    assert chunked.status_code == 413
    assert chunked.json()["code"] == 413
    part_over_cap = upload_multipart(alice, project["id"], small_parquet)  # the body fits the multipart allowance
    assert part_over_cap.status_code == 413
    body_over_cap = upload_multipart(alice, project["id"], small_parquet * 20)
    assert body_over_cap.status_code == 413
    form_over_cap = alice.post(
        "/api/v1/projects",
        data={"name": "Too big", "data_file": (io.BytesIO(small_parquet), "big.parquet")},
        content_type="multipart/form-data",
    )
    assert form_over_cap.status_code == 413
    assert [p["id"] for p in alice.get("/api/v1/projects").json] == [project["id"]]
    assert_nothing_stored(app, tmp_path)


@pytest.mark.parametrize("body", [b"", b"PAR1", b"not a parquet file at all" * 100, b"PAR1" + b"\x00" * 64 + b"PAR1"])
def test_unreadable_uploads_are_422_and_store_nothing(app, alice, project, tmp_path, body):
    for response in (upload_raw(alice, project["id"], body), upload_multipart(alice, project["id"], body)):
        assert response.status_code == 422
        assert response.json["code"] == 422
    assert_nothing_stored(app, tmp_path)


def test_object_store_down_is_503_with_no_row(app_config, tmp_path, s3_server, small_parquet):
    app = projects_app(app_config, tmp_path, **s3_server, OBJECT_STORE_URL="s3://bucket-that-does-not-exist")
    alice = UserClient(app, create_user(app, "alice"))
    project = alice.post("/api/v1/projects", json={"name": "Sales"}).json
    response = upload_raw(alice, project["id"], small_parquet)
    assert response.status_code == 503
    assert response.json["code"] == 503
    form = alice.post(
        "/api/v1/projects",
        data={"name": "With data", "data_file": (io.BytesIO(small_parquet), "d.parquet")},
        content_type="multipart/form-data",
    )
    assert form.status_code == 503
    assert [p["id"] for p in alice.get("/api/v1/projects").json] == [project["id"]]
    assert dataset_rows(app) == []
    assert temp_files(tmp_path) == []


def test_training_input_names_the_latest_or_the_chosen_dataset(alice, bob, project, small_parquet):
    first = upload_raw(alice, project["id"], small_parquet).json
    second = upload_raw(alice, project["id"], small_parquet).json
    base = f"/internal/projects/{project['id']}/training-input"
    latest = alice.get(base)
    assert latest.status_code == 200
    assert latest.json == {
        "project_id": project["id"],
        "owner_id": alice.user_id,
        "target": "sales",
        "dataset": {
            "id": second["id"],
            "object_key": f"projects/{project['id']}/datasets/{second['id']}.parquet",
            "rows": len(pd.read_parquet(io.BytesIO(small_parquet))),
            "columns": second["columns"],
        },
    }
    assert alice.get(f"{base}?dataset_id={first['id']}").json["dataset"]["id"] == first["id"]
    for response in (
        alice.get(f"{base}?dataset_id=00000000-0000-4000-8000-000000000000"),
        alice.get(f"{base}?dataset_id=../../x"),
    ):
        assert response.json == DATASET_NOT_FOUND
    assert bob.get(base).status_code == 404
    assert bob.get(f"{base}?dataset_id={first['id']}").status_code == 404


def test_deleting_a_project_while_the_object_store_is_down_deletes_nothing(
    app_config, tmp_path, s3_bucket_config, trainer_url, small_parquet
):
    app = projects_app(app_config, tmp_path, TRAINER_URL=trainer_url, **s3_bucket_config)
    alice = UserClient(app, create_user(app, "alice"))
    project = alice.post("/api/v1/projects", json={"name": "Sales"}).json
    assert upload_raw(alice, project["id"], small_parquet).status_code == 201
    add_training_run(app, alice.user_id, project["id"])
    unusable_store = {**s3_bucket_config, "OBJECT_STORE_URL": "s3://bucket-that-does-not-exist"}
    store_down = projects_app(app_config, tmp_path, TRAINER_URL=trainer_url, **unusable_store)
    answer = UserClient(store_down, alice.user_id).delete(f"/api/v1/projects/{project['id']}")
    assert answer.status_code == 503
    assert "nothing was changed" in answer.json["message"]
    assert alice.get(f"/api/v1/projects/{project['id']}").status_code == 200
    assert training_run_projects(app) == [project["id"]]


class StoreThatCannotDelete:
    """The real store, except that deleting fails as if the store went down after the readiness check."""

    def __init__(self, store) -> None:
        self.store = store

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def delete(self, key: str) -> None:
        raise ObjectStoreUnavailable(f"cannot delete {key}")


def test_deleting_a_project_says_when_only_its_training_records_went(app_config, tmp_path, trainer_url, small_parquet):
    app = projects_app(app_config, tmp_path, TRAINER_URL=trainer_url)
    alice = UserClient(app, create_user(app, "alice"))
    project = alice.post("/api/v1/projects", json={"name": "Sales"}).json
    assert upload_raw(alice, project["id"], small_parquet).status_code == 201
    add_training_run(app, alice.user_id, project["id"])
    real_store = app.extensions["object_store"]
    app.extensions["object_store"] = StoreThatCannotDelete(real_store)
    answer = alice.delete(f"/api/v1/projects/{project['id']}")
    assert answer.status_code == 503
    assert "training runs and models were deleted" in answer.json["message"]
    assert "Retry the DELETE" in answer.json["message"]
    assert training_run_projects(app) == []
    app.extensions["object_store"] = real_store
    assert alice.delete(f"/api/v1/projects/{project['id']}").status_code == 204
    assert stored_keys(app) == set()


def add_training_run(app, owner_id: int, project_id: int) -> None:
    with app.app_context():
        db.session.add(TrainingRun(project_id=project_id, owner_id=owner_id, dataset_id="d", params={}))
        db.session.commit()


def training_run_projects(app) -> list[int]:
    with app.app_context():
        return list(db.session.execute(db.select(TrainingRun.project_id)).scalars())


def test_deleting_a_project_removes_its_dataset_objects(app_config, tmp_path, storage, trainer_url, small_parquet):
    app = projects_app(app_config, tmp_path, TRAINER_URL=trainer_url, **storage)
    alice = UserClient(app, create_user(app, "alice"))
    doomed = alice.post("/api/v1/projects", json={"name": "Doomed"}).json
    kept = alice.post("/api/v1/projects", json={"name": "Kept"}).json
    for project_id in (doomed["id"], doomed["id"], kept["id"]):
        assert upload_raw(alice, project_id, small_parquet).status_code == 201
    assert alice.delete(f"/api/v1/projects/{doomed['id']}").status_code == 204
    assert {SERVER_KEY.match(key).group(1) for key in stored_keys(app)} == {str(kept["id"])}
    assert {row.project_id for row in dataset_rows(app)} == {kept["id"]}


def test_download_gives_back_the_stored_file_byte_for_byte_to_its_owner_only(alice, bob, project):
    body = parquet_bytes(sales_frame(rows=500, seed=11))
    dataset = upload_raw(alice, project["id"], body, filename="ventas de março.parquet").json
    path = f"/api/v1/projects/{project['id']}/datasets/{dataset['id']}/download"
    answer = alice.get(path)
    assert answer.status_code == 200
    assert answer.data == body and answer.headers["Content-Length"] == str(len(body))
    assert answer.mimetype == PARQUET
    disposition = answer.headers["Content-Disposition"]
    assert (
        'filename="ventas de mar_o.parquet"' in disposition
        and "filename*=UTF-8''ventas%20de%20mar%C3%A7o" in disposition
    )
    assert bob.get(path).status_code == 404
    assert alice.get(path.replace(dataset["id"], str(uuid.uuid4()))).status_code == 404
