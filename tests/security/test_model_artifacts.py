"""A model artifact altered in the database, or a genuine one copied into another row, is refused and never
unpickled, end to end.

The attacker can write the row: the artifact and its sha256 are rewritten consistently. Only the HMAC under the
server's MODEL_SIGNING_KEY, which the database never holds, can tell the bytes are not the trainer's.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from shared.model_artifacts import sha256_hex
from tests.security.support import FEATURE_ROW, assert_error_shape, booby_trapped_pickle, new_account

pytestmark = pytest.mark.e2e


def test_an_altered_artifact_is_refused_and_never_unpickled(platform, session_api, trained_project, tmp_path):
    project_id, version = trained_project.project_id, trained_project.model_version
    path = f"/api/v1/projects/{project_id}/predict"
    headers = trained_project.owner.headers
    genuine = session_api.post(path, json=FEATURE_ROW, headers=headers)
    assert genuine.status_code == 200, genuine.text

    marker = tmp_path / "unpickled"
    engine = create_engine(platform.env["DATABASE_URL"])
    where = "project_id = :project_id AND version = :version"
    ids = {"project_id": project_id, "version": version}
    with engine.begin() as connection:
        original = connection.execute(text(f"SELECT artifact, sha256 FROM model_versions WHERE {where}"), ids).one()
        payload = booby_trapped_pickle(marker)
        connection.execute(
            text(f"UPDATE model_versions SET artifact = :artifact, sha256 = :sha256 WHERE {where}"),
            {**ids, "artifact": payload, "sha256": sha256_hex(payload)},
        )
    try:
        # A fresh predictor process: the verified pipeline it held in memory is gone, only the database is left.
        platform.stop("predictor")
        platform.start("predictor")
        for query in ("", f"?version={version}"):
            refused = session_api.post(path + query, json=FEATURE_ROW, headers=headers)
            assert "integrity check" in assert_error_shape(refused, 409)["message"]
        assert not marker.exists(), "the altered artifact was unpickled"
    finally:
        with engine.begin() as connection:
            connection.execute(
                text(f"UPDATE model_versions SET artifact = :artifact, sha256 = :sha256 WHERE {where}"),
                {**ids, "artifact": original.artifact, "sha256": original.sha256},
            )
        engine.dispose()
    # Which sha256 serves is remembered for PREDICT_SERVING_VERSION_TTL_S: the restored artifact serves once it passes.
    deadline = time.monotonic() + 10
    restored = session_api.post(path, json=FEATURE_ROW, headers=headers)
    while restored.status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.2)
        restored = session_api.post(path, json=FEATURE_ROW, headers=headers)
    assert restored.status_code == 200, restored.text
    assert restored.json() == genuine.json()


COPIED_COLUMNS = (
    "algorithm, target, training_run_id, created_at, size_bytes, sha256, artifact_hmac, artifact, library_versions, "
    "metrics, features, feature_importance"
)


def copy_model_row(connection, source_id: int, project_id: int, owner_id: int, version: int, active: bool) -> None:
    """The row ``source_id`` (bytes, sha256 and HMAC as the trainer signed them) copied under another project or
    version: what an attacker who can write the table, but has no signing key, can do with a genuine model."""
    connection.execute(
        text(
            f"INSERT INTO model_versions (project_id, owner_id, version, active, {COPIED_COLUMNS}) "
            f"SELECT :project_id, :owner_id, :version, :active, {COPIED_COLUMNS} FROM model_versions WHERE id = :id"
        ),
        {"id": source_id, "project_id": project_id, "owner_id": owner_id, "version": version, "active": active},
    )


def test_a_signed_artifact_copied_to_another_row_is_refused(platform, session_api, trained_project):
    owner = trained_project.owner
    genuine_path = f"/api/v1/projects/{trained_project.project_id}/predict"
    assert session_api.post(genuine_path, json=FEATURE_ROW, headers=owner.headers).status_code == 200
    other = new_account(session_api, "swapper")
    other_project = session_api.post("/api/v1/projects", json={"name": "no model"}, headers=other.headers).json()
    engine = create_engine(platform.env["DATABASE_URL"])
    with engine.begin() as connection:
        source_id = connection.execute(
            text("SELECT id FROM model_versions WHERE project_id = :project_id AND version = :version"),
            {"project_id": trained_project.project_id, "version": trained_project.model_version},
        ).scalar_one()
        copy_model_row(connection, source_id, other_project["id"], other.user_id, 1, active=True)
        copy_model_row(connection, source_id, trained_project.project_id, owner.user_id, 99, active=False)
    try:
        into_another_project = session_api.post(
            f"/api/v1/projects/{other_project['id']}/predict", json=FEATURE_ROW, headers=other.headers
        )
        assert "integrity check" in assert_error_shape(into_another_project, 409)["message"]
        as_another_version = session_api.post(f"{genuine_path}?version=99", json=FEATURE_ROW, headers=owner.headers)
        assert "integrity check" in assert_error_shape(as_another_version, 409)["message"]
        assert session_api.post(genuine_path, json=FEATURE_ROW, headers=owner.headers).status_code == 200
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM model_versions WHERE (project_id = :other) OR (project_id = :mine AND version = 99)"),
                {"other": other_project["id"], "mine": trained_project.project_id},
            )
        engine.dispose()
