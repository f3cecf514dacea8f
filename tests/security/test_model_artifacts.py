"""A model artifact altered in the database is refused by its sha256 and never unpickled, end to end."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.security.support import FEATURE_ROW, assert_error_shape, booby_trapped_pickle

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
        original = connection.execute(text(f"SELECT artifact FROM model_versions WHERE {where}"), ids).scalar_one()
        connection.execute(
            text(f"UPDATE model_versions SET artifact = :artifact WHERE {where}"),
            {**ids, "artifact": booby_trapped_pickle(marker)},
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
                text(f"UPDATE model_versions SET artifact = :artifact WHERE {where}"), {**ids, "artifact": original}
            )
        engine.dispose()
    restored = session_api.post(path, json=FEATURE_ROW, headers=headers)
    assert restored.status_code == 200, restored.text
    assert restored.json() == genuine.json()
