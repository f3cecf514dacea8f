"""Fixtures shared by every test: a real PostgreSQL database (migrated once), app configs, internal tokens.

``TEST_DATABASE_URL`` names a fresh database to use (CI creates one); otherwise a throwaway database is created on
the local server (``TEST_POSTGRES_SERVER``) and dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from harness.databases import LOCAL_POSTGRES_SERVER, throwaway_database
from harness.seaweedfs import SeaweedFS
from shared.config import normalize_database_url
from shared.internal_auth import INTERNAL_TOKEN_HEADER, issue_internal_token
from shared.migrate import upgrade

# The end-to-end platform (gunicorn processes behind the gateway), shared by tests/e2e and tests/security; the
# trainer's and the projects service's fixtures and helpers (imported by their tests, so registered here, before
# any test module imports them).
pytest_plugins = ["tests.platform_harness", "tests.trainer_fixtures", "tests.projects_support"]

POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_SERVER", LOCAL_POSTGRES_SERVER)
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
DATA_TABLES = (
    "datasets",
    "projects",
    "revoked_sessions",
    "users",
    "auth_throttles",
    "training_runs",
    "model_versions",
    "actuals_reports",
)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        url = normalize_database_url(given)
        upgrade(url)
        yield url
        return
    with throwaway_database(POSTGRES_SERVER, "salesml_test") as url:
        yield url


@pytest.fixture
def clean_database(database_url: str) -> Iterator[str]:
    """The migrated test database, emptied of rows before the test."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield database_url


@pytest.fixture
def app_config(clean_database: str, tmp_path) -> dict[str, Any]:
    """Configuration for an app under test: real PostgreSQL, objects in a temporary folder, test secrets.

    Apps under test don't pool connections: hundreds of apps are made per session, and pooled connections left
    open by each would exhaust the server's connection limit.
    """
    return {
        "DATABASE_URL": clean_database,
        "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": NullPool},
        "OBJECT_STORE_URL": f"file://{tmp_path / 'objects'}",
        "JWT_SECRET_KEY": TEST_SECRET,
        "INTERNAL_TOKEN_SECRET": TEST_SECRET + "-internal",
        "MODEL_SIGNING_KEY": TEST_SECRET + "-models",
        "SALESML_DEV_MODE": False,
        "LOG_LEVEL": "WARNING",
    }


def internal_token_headers(config: dict[str, Any], audience: str, user_id: int | None) -> dict[str, str]:
    token = issue_internal_token(config["INTERNAL_TOKEN_SECRET"], audience, user_id)
    return {INTERNAL_TOKEN_HEADER: token}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real S3 server (SeaweedFS) on 127.0.0.1, for the s3:// object store: its S3_* settings."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"), "salesml-test", "salesml-test-secret")
    server.start()
    yield server.settings
    server.stop()


@pytest.fixture
def s3_bucket_config(s3_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Config overrides that point the object store at a fresh, empty bucket on the S3 endpoint (removed after)."""
    from minio import Minio
    from minio.deleteobjects import DeleteObject

    bucket = f"salesml-test-{uuid.uuid4().hex[:12]}"
    client = Minio(
        s3_server["S3_ENDPOINT"],
        access_key=s3_server["S3_ACCESS_KEY"],
        secret_key=s3_server["S3_SECRET_KEY"],
        secure=False,
        region=s3_server["S3_REGION"],
    )
    client.make_bucket(bucket)
    yield {**s3_server, "OBJECT_STORE_URL": f"s3://{bucket}"}
    stored = [DeleteObject(item.object_name) for item in client.list_objects(bucket, recursive=True)]
    for failure in client.remove_objects(bucket, stored):
        raise AssertionError(f"could not remove {failure.name} from the test bucket: {failure.message}")
    client.remove_bucket(bucket)
