"""A model artifact altered in the database is refused and never unpickled, end to end.

The attacker can write the row: the artifact and its sha256 are rewritten consistently. Only the HMAC under the
server's MODEL_SIGNING_KEY, which the database never holds, can tell the bytes are not the trainer's.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from shared.model_artifacts import sha256_hex
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
    restored = session_api.post(path, json=FEATURE_ROW, headers=headers)
    assert restored.status_code == 200, restored.text
    assert restored.json() == genuine.json()
