"""The trainer's public API (runs, models) and internal route, against real PostgreSQL and the real projects service.

No worker runs here: runs stay queued unless a test moves them, so these tests need no PyCaret.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, func, select

from services.trainer.schemas import ModelVersionSchema, TrainingRunSchema
from shared.db import db
from shared.training_records import ModelVersion, TrainingRun, project_training_states
from tests.conftest import internal_token_headers

RUN_FIELDS = {
    "id",
    "project_id",
    "status",
    "stage",
    "progress",
    "attempt",
    "params",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    "leaderboard",
    "model_version",
    "activation",
}


def sales_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    price = rng.uniform(1, 10, rows)
    return pd.DataFrame(
        {"price": price, "region": rng.choice(["a", "b"], rows), "sales": 40 - 2 * price + rng.normal(0, 1, rows)}
    )


@pytest.fixture
def client(trainer_app):
    return trainer_app.test_client()


def headers_for(trainer_app, user_id: int, **extra: str) -> dict[str, str]:
    return {**internal_token_headers(trainer_app.config, "trainer", user_id), **extra}


def count_runs(trainer_app) -> int:
    with trainer_app.app_context():
        return db.session.scalar(select(func.count()).select_from(TrainingRun))


def test_train_queues_a_run_with_the_defaults(client, trainer_app, make_project):
    project = make_project(sales_frame())
    response = client.post(
        f"/api/v1/projects/{project.project_id}/train", json={}, headers=headers_for(trainer_app, project.user_id)
    )
    assert response.status_code == 202, response.json
    run = response.json
    assert set(run) == RUN_FIELDS
    assert response.headers["Location"] == f"/api/v1/projects/{project.project_id}/training-runs/{run['id']}"
    assert run["status"] == "queued" and run["progress"] == 0 and run["attempt"] == 0
    assert run["error"] is None and run["leaderboard"] is None and run["model_version"] is None
    assert run["params"] == {
        "task": "regression",
        "target": "sales",
        "dataset_id": project.dataset_id,
        "include": None,
        "exclude": None,
        "ignore_features": None,
        "ignored_features": [],
        "categorical_features": None,
        "made_categorical": [],
        "folds": 5,
        "sort": "R2",
        "time_budget_s": trainer_app.config["TRAINING_DEFAULT_TIME_BUDGET_S"],
        "seed": 42,
        "activate": "if_better",
    }
    assert run["activation"] is None  # decided when the run's model is saved
    fetched = client.get(response.headers["Location"], headers=headers_for(trainer_app, project.user_id))
    assert fetched.status_code == 200 and fetched.json == run
    with trainer_app.app_context():
        assert project_training_states(project.user_id, [project.project_id])[project.project_id].status == "training"


def test_timestamps_carry_their_utc_offset_even_when_the_database_drops_it():
    naive = datetime(2026, 1, 2, 3, 4, 5)  # what SQLite gives back
    run = TrainingRun(id=1, project_id=1, params={}, created_at=naive, started_at=naive, finished_at=None)
    dumped = TrainingRunSchema().dump(run)
    assert (dumped["created_at"], dumped["started_at"]) == ("2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05+00:00")
    assert ModelVersionSchema().dump(ModelVersion(created_at=naive))["created_at"] == "2026-01-02T03:04:05+00:00"


def test_train_takes_every_parameter(client, trainer_app, make_project):
    project = make_project(sales_frame())
    body = {
        "target": "price",
        "dataset_id": project.dataset_id,
        "include": ["lr", "ridge", "dt"],
        "exclude": ["dt"],
        "ignore_features": ["region"],
        "categorical_features": ["sales"],
        "folds": 3,
        "sort": "MAE",
        "time_budget_s": 60,
        "seed": 7,
        "activate": "never",
    }
    response = client.post(
        f"/api/v1/projects/{project.project_id}/train", json=body, headers=headers_for(trainer_app, project.user_id)
    )
    assert response.status_code == 202, response.json
    assert response.json["params"] == {
        "task": "regression",
        **body,
        "ignored_features": [{"column": "region", "reason": "named in ignore_features"}],
        "made_categorical": [{"column": "sales", "reason": "named in categorical_features"}],
    }


def test_id_like_text_columns_are_ignored_unless_the_request_names_its_own(client, trainer_app, make_project):
    frame = sales_frame(rows=60)
    frame["receipt"] = [f"R-{i:05d}" for i in range(60)]  # one value per row
    frame["aisle"] = [f"aisle-{i % 40}" for i in range(60)]  # few rows per value, but few enough values to encode
    project = make_project(frame)
    url = f"/api/v1/projects/{project.project_id}/train"
    headers = headers_for(trainer_app, project.user_id)
    by_default = client.post(url, json={}, headers=headers).json["params"]
    assert by_default["ignore_features"] is None
    assert [entry["column"] for entry in by_default["ignored_features"]] == ["receipt"]
    assert by_default["ignored_features"][0]["reason"].startswith("ID-like: text with 60 distinct values")
    chosen = client.post(url, json={"ignore_features": []}, headers=headers).json["params"]
    assert chosen["ignore_features"] == [] and chosen["ignored_features"] == []


def test_categorical_features_cannot_be_a_date_or_a_column_ignored_by_default(client, trainer_app, make_project):
    frame = sales_frame(rows=60)
    frame["receipt"] = [f"R-{i:05d}" for i in range(60)]  # ID-like: ignored by default
    frame["day"] = pd.date_range("2024-01-01", periods=60, freq="D")
    project = make_project(frame)
    url = f"/api/v1/projects/{project.project_id}/train"
    headers = headers_for(trainer_app, project.user_id)
    response = client.post(url, json={"categorical_features": ["receipt", "day"]}, headers=headers)
    assert response.status_code == 422, response.json
    errors = response.json["errors"]["categorical_features"]
    assert errors[0] == "column `receipt` is ignored (see ignore_features); it cannot also be a categorical feature"
    assert errors[1].startswith("column `day` is a timestamp; dates are split into parts")
    assert count_runs(trainer_app) == 0
    chosen = client.post(url, json={"ignore_features": [], "categorical_features": ["receipt"]}, headers=headers)
    assert chosen.status_code == 202, chosen.json


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"include": ["lr", "xgboostx"]}, "include", "unknown model id(s) xgboostx; choose from ada,"),
        ({"exclude": ["nope"]}, "exclude", "unknown model id(s) nope; choose from"),
        ({"include": ["lr"], "exclude": ["lr"]}, "exclude", "leave no model to compare"),
        ({"folds": 1}, "folds", "between 2 and 10"),
        ({"folds": 11}, "folds", "between 2 and 10"),
        ({"sort": "AUC"}, "sort", "must be one of R2, MAE, MSE, RMSE, RMSLE, MAPE for a regression"),
        ({"time_budget_s": 5}, "time_budget_s", "between 10 and"),
        ({"time_budget_s": 10**6}, "time_budget_s", "between 10 and"),
        ({"seed": "x"}, "seed", "Not a valid integer"),
        ({"tartget": "sales"}, "tartget", "Unknown field"),
        ({"target": "revenue"}, "target", "column `revenue` is not in the dataset"),
        ({"target": "region"}, "target", "column `region` is string, not numeric"),
        ({"ignore_features": ["colour"]}, "ignore_features", "column `colour` is not in the dataset"),
        ({"ignore_features": ["sales"]}, "ignore_features", "`sales` is the target; it cannot be ignored"),
        ({"ignore_features": ["price", "region"]}, "ignore_features", "every column but the target is ignored"),
        ({"ignore_features": "price"}, "ignore_features", "Not a valid list"),
        ({"categorical_features": ["colour"]}, "categorical_features", "column `colour` is not in the dataset"),
        ({"categorical_features": ["sales"]}, "categorical_features", "`sales` is the target; it cannot be a"),
        (
            {"ignore_features": ["region"], "categorical_features": ["region"]},
            "categorical_features",
            "column `region` is ignored (see ignore_features); it cannot also be a categorical feature",
        ),
        ({"categorical_features": "region"}, "categorical_features", "Not a valid list"),
    ],
)
def test_invalid_train_requests_are_refused_with_nothing_queued(
    client, trainer_app, make_project, body, field, message
):
    project = make_project(sales_frame())
    response = client.post(
        f"/api/v1/projects/{project.project_id}/train", json=body, headers=headers_for(trainer_app, project.user_id)
    )
    assert response.status_code == 422, response.json
    assert any(message in text for text in response.json["errors"][field]), response.json
    assert count_runs(trainer_app) == 0


def test_too_few_rows_or_a_mostly_missing_target_are_refused(client, trainer_app, make_project):
    small = make_project(sales_frame(rows=19))
    response = client.post(
        f"/api/v1/projects/{small.project_id}/train", json={"folds": 2}, headers=headers_for(trainer_app, small.user_id)
    )
    assert response.status_code == 422
    assert response.json["errors"]["dataset_id"] == [
        "the dataset has 19 rows with a value for `sales`; 2-fold validation needs at least 20"
    ]
    frame = sales_frame(rows=50)
    frame.loc[:19, "sales"] = np.nan
    gappy = make_project(frame)
    response = client.post(
        f"/api/v1/projects/{gappy.project_id}/train", json={}, headers=headers_for(trainer_app, gappy.user_id)
    )
    assert response.status_code == 422
    assert "column `sales` has 40% missing values" in response.json["errors"]["target"][0]
    assert count_runs(trainer_app) == 0


def test_missing_project_dataset_or_projects_service(client, trainer_app, make_project, make_trainer_app):
    owner = make_project(sales_frame())
    stranger = make_project(sales_frame())
    others_project = client.post(
        f"/api/v1/projects/{owner.project_id}/train", json={}, headers=headers_for(trainer_app, stranger.user_id)
    )
    missing_project = client.post("/api/v1/projects/999999/train", json={}, headers=headers_for(trainer_app, 1))
    assert others_project.status_code == missing_project.status_code == 404
    assert others_project.json == missing_project.json
    others_dataset = client.post(
        f"/api/v1/projects/{stranger.project_id}/train",
        json={"dataset_id": owner.dataset_id},
        headers=headers_for(trainer_app, stranger.user_id),
    )
    assert others_dataset.status_code == 404
    unreachable = make_trainer_app(PROJECTS_URL="http://127.0.0.1:1").test_client()
    down = unreachable.post(
        f"/api/v1/projects/{owner.project_id}/train", json={}, headers=headers_for(trainer_app, owner.user_id)
    )
    assert down.status_code == 503
    assert count_runs(trainer_app) == 0


def test_a_project_without_a_dataset_is_a_conflict(client, trainer_app, served_projects_app, make_project):
    user = make_project(sales_frame())
    created = served_projects_app.test_client().post(
        "/api/v1/projects",
        json={"name": "empty"},
        headers=internal_token_headers(served_projects_app.config, "projects", user.user_id),
    )
    response = client.post(
        f"/api/v1/projects/{created.json['id']}/train", json={}, headers=headers_for(trainer_app, user.user_id)
    )
    assert response.status_code == 409
    assert "dataset" in response.json["message"]


def test_an_idempotency_key_returns_the_same_run(client, trainer_app, make_project):
    project = make_project(sales_frame())
    headers = headers_for(trainer_app, project.user_id, **{"Idempotency-Key": "retry-me-1"})
    url = f"/api/v1/projects/{project.project_id}/train"
    first = client.post(url, json={"folds": 3}, headers=headers)
    again = client.post(url, json={"folds": 3}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"] and again.headers["Location"] == first.headers["Location"]
    assert count_runs(trainer_app) == 1
    other_user = make_project(sales_frame())
    theirs = client.post(
        f"/api/v1/projects/{other_user.project_id}/train",
        json={},
        headers=headers_for(trainer_app, other_user.user_id, **{"Idempotency-Key": "retry-me-1"}),
    )
    assert theirs.status_code == 202 and theirs.json["id"] != first.json["id"]


def test_an_idempotency_key_used_for_another_request_is_refused(client, trainer_app, make_project):
    """The IETF idempotency-key draft: the same key with another body (or another project) is a 422, never the old
    run; a body that only spells out the defaults is the same request."""
    project = make_project(sales_frame())
    second_project = make_project(sales_frame(), user_id=project.user_id)
    headers = headers_for(trainer_app, project.user_id, **{"Idempotency-Key": "one-key"})
    url = f"/api/v1/projects/{project.project_id}/train"
    first = client.post(url, json={"folds": 3}, headers=headers)
    assert first.status_code == 202
    for path, body in ((url, {"folds": 4}), (url, {}), (f"/api/v1/projects/{second_project.project_id}/train", {})):
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.json
        assert "Idempotency-Key was already used for another request" in refused.json["message"]
    same = client.post(url, json={"folds": 3, "sort": "R2", "seed": 42}, headers=headers)
    assert same.status_code == 202 and same.json["id"] == first.json["id"]
    assert count_runs(trainer_app) == 1


def test_concurrent_requests_with_one_idempotency_key_make_one_run(trainer_app, make_project):
    project = make_project(sales_frame())
    headers = headers_for(trainer_app, project.user_id, **{"Idempotency-Key": "race-key"})

    def post() -> tuple[int, int]:
        response = trainer_app.test_client().post(
            f"/api/v1/projects/{project.project_id}/train", json={}, headers=headers
        )
        assert response.status_code == 202, response.json
        return response.status_code, response.json["id"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(), range(4)))
    assert {status for status, _ in answers} == {202}
    assert len({run_id for _, run_id in answers}) == 1
    assert count_runs(trainer_app) == 1


def test_the_per_user_cap_on_active_runs(client, trainer_app, make_project):
    project = make_project(sales_frame())
    url = f"/api/v1/projects/{project.project_id}/train"
    headers = headers_for(trainer_app, project.user_id)
    cap = trainer_app.config["TRAINING_MAX_ACTIVE_RUNS_PER_USER"]
    accepted = [client.post(url, json={}, headers=headers) for _ in range(cap)]
    assert [r.status_code for r in accepted] == [202] * cap
    refused = client.post(url, json={}, headers=headers)
    assert refused.status_code == 429
    assert count_runs(trainer_app) == cap
    someone_else = make_project(sales_frame())
    assert (
        client.post(
            f"/api/v1/projects/{someone_else.project_id}/train",
            json={},
            headers=headers_for(trainer_app, someone_else.user_id),
        ).status_code
        == 202
    )
    cancelled = client.post(
        f"/api/v1/projects/{project.project_id}/training-runs/{accepted[0].json['id']}/cancel", headers=headers
    )
    assert cancelled.status_code == 202
    assert client.post(url, json={}, headers=headers).status_code == 202


def test_runs_are_listed_newest_first_and_only_to_their_owner(client, trainer_app, make_project):
    project = make_project(sales_frame())
    headers = headers_for(trainer_app, project.user_id)
    ids = [
        client.post(f"/api/v1/projects/{project.project_id}/train", json={}, headers=headers).json["id"]
        for _ in range(2)
    ]
    listed = client.get(f"/api/v1/projects/{project.project_id}/training-runs", headers=headers)
    assert listed.status_code == 200
    assert [run["id"] for run in listed.json] == ids[::-1]
    assert '"total": 2' in listed.headers["X-Pagination"]
    stranger = make_project(sales_frame())
    stranger_headers = headers_for(trainer_app, stranger.user_id)
    assert client.get(f"/api/v1/projects/{project.project_id}/training-runs", headers=stranger_headers).json == []
    run_url = f"/api/v1/projects/{project.project_id}/training-runs/{ids[0]}"
    missing_url = f"/api/v1/projects/{project.project_id}/training-runs/999999"
    for url in (run_url, run_url + "/cancel"):
        method = client.post if url.endswith("cancel") else client.get
        theirs = method(url, headers=stranger_headers)
        missing = method(missing_url + ("/cancel" if url.endswith("cancel") else ""), headers=stranger_headers)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json == missing.json
    wrong_project = client.get(f"/api/v1/projects/{stranger.project_id}/training-runs/{ids[0]}", headers=headers)
    assert wrong_project.status_code == 404
    assert run_status_of(trainer_app, ids[0]) == "queued"


def test_run_and_model_lists_are_paged_within_page_size_max(client, make_trainer_app, make_project):
    app = make_trainer_app(PAGE_SIZE_MAX=2, TRAINING_MAX_ACTIVE_RUNS_PER_USER=5)
    client = app.test_client()
    project = make_project(sales_frame())
    headers = headers_for(app, project.user_id)
    for version in (1, 2, 3):
        client.post(f"/api/v1/projects/{project.project_id}/train", json={}, headers=headers)
        add_model(app, project, version, active=version == 3)
    for resource in ("training-runs", "models"):
        url = f"/api/v1/projects/{project.project_id}/{resource}"
        first = client.get(url, headers=headers)
        assert first.status_code == 200 and len(first.json) == 2, resource
        assert json.loads(first.headers["X-Pagination"])["total"] == 3
        assert len(client.get(f"{url}?page=2&page_size=2", headers=headers).json) == 1
        too_large = client.get(f"{url}?page_size=3", headers=headers)
        assert too_large.status_code == 422 and "page_size" in too_large.json["errors"], resource


def run_status_of(trainer_app, run_id: int) -> str:
    with trainer_app.app_context():
        return db.session.get(TrainingRun, run_id).status


def test_cancelling_a_queued_run_is_immediate_and_a_finished_run_conflicts(client, trainer_app, make_project):
    project = make_project(sales_frame())
    headers = headers_for(trainer_app, project.user_id)
    run = client.post(f"/api/v1/projects/{project.project_id}/train", json={}, headers=headers).json
    cancel_url = f"/api/v1/projects/{project.project_id}/training-runs/{run['id']}/cancel"
    cancelled = client.post(cancel_url, headers=headers)
    assert cancelled.status_code == 202
    assert cancelled.json["status"] == "cancelled" and cancelled.json["finished_at"] is not None
    again = client.post(cancel_url, headers=headers)
    assert again.status_code == 409


def add_model(trainer_app, project, version: int, active: bool) -> None:
    with trainer_app.app_context():
        db.session.add(
            ModelVersion(
                project_id=project.project_id,
                owner_id=project.user_id,
                version=version,
                algorithm="lr",
                target="sales",
                training_run_id=version,
                active=active,
                size_bytes=3,
                sha256="0" * 64,
                artifact=b"abc",
                library_versions={},
                metrics={"cv": {"R2": 0.9}, "holdout": {"R2": 0.8}},
                features=[{"name": "price", "dtype": "float64", "min": 1.0, "max": 10.0}],
                feature_importance=[{"feature": "price", "importance": 2.0}],
            )
        )
        db.session.commit()


def test_models_are_listed_read_and_activated_by_their_owner_only(client, trainer_app, make_project):
    project = make_project(sales_frame())
    add_model(trainer_app, project, 1, active=False)
    add_model(trainer_app, project, 2, active=True)
    headers = headers_for(trainer_app, project.user_id)
    base = f"/api/v1/projects/{project.project_id}/models"
    listed = client.get(base, headers=headers)
    assert [(m["version"], m["active"]) for m in listed.json] == [(2, True), (1, False)]
    assert set(listed.json[0]) == {
        "version",
        "algorithm",
        "target",
        "training_run_id",
        "created_at",
        "active",
        "size_bytes",
        "sha256",
        "metrics",
        "task",
        "forecast",
        "features",
        "feature_importance",
        "permutation_importance",
    }
    assert listed.json[0]["task"] == "regression" and listed.json[0]["permutation_importance"] is None
    assert listed.json[0]["forecast"] is None
    assert client.get(f"{base}/1", headers=headers).json["metrics"] == {"cv": {"R2": 0.9}, "holdout": {"R2": 0.8}}
    stranger = headers_for(trainer_app, make_project(sales_frame()).user_id)
    for url in (f"{base}/1", f"{base}/1/activate"):
        method = client.post if url.endswith("activate") else client.get
        theirs, missing = method(url, headers=stranger), method(url.replace("/1", "/99", 1), headers=headers)
        assert theirs.status_code == missing.status_code == 404 and theirs.json == missing.json
    assert client.get(base, headers=stranger).json == []
    activated = client.post(f"{base}/1/activate", headers=headers)
    assert activated.status_code == 200 and activated.json["active"] is True
    assert [(m["version"], m["active"]) for m in client.get(base, headers=headers).json] == [(2, False), (1, True)]
    with trainer_app.app_context():
        assert project_training_states(project.user_id, [project.project_id])[project.project_id].active_model == 1


def test_listing_and_activating_models_never_read_their_artifacts(client, trainer_app, make_project):
    project = make_project(sales_frame())
    add_model(trainer_app, project, 1, active=True)
    add_model(trainer_app, project, 2, active=False)
    base = f"/api/v1/projects/{project.project_id}/models"
    headers = headers_for(trainer_app, project.user_id)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with trainer_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(base, headers=headers).status_code == 200
        assert client.get(f"{base}/2", headers=headers).status_code == 200
        assert client.post(f"{base}/2/activate", headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads = [s for s in statements if "model_versions" in s and s.lstrip().upper().startswith("SELECT")]
    assert reads and not [s for s in reads if re.search(r"model_versions\.artifact\b", s)]


def test_project_states_follow_the_latest_run_and_the_active_model(client, trainer_app, make_project):
    pending, training, ready, error, recovered = (make_project(sales_frame()) for _ in range(5))
    with trainer_app.app_context():
        for project, statuses in (
            (training, ["failed", "succeeded", "queued"]),
            (ready, ["failed", "succeeded"]),
            (error, ["succeeded", "failed"]),
            (recovered, ["failed", "cancelled"]),
        ):
            for status in statuses:
                owner = {"project_id": project.project_id, "owner_id": project.user_id}
                db.session.add(TrainingRun(**owner, dataset_id="d", status=status, params={}))
        db.session.commit()
    add_model(trainer_app, ready, 1, active=True)
    add_model(trainer_app, training, 1, active=True)
    projects = (pending, training, ready, error, recovered)
    ids = [p.project_id for p in projects]
    with trainer_app.app_context():
        states = {p.project_id: project_training_states(p.user_id, [p.project_id])[p.project_id] for p in projects}
    assert [(states[i].status, states[i].active_model) for i in ids] == [
        ("pending", None),
        ("training", 1),
        ("ready", 1),
        ("error", None),
        ("pending", None),
    ]


def test_internal_delete_removes_only_the_callers_project_training(client, trainer_app, make_project):
    project = make_project(sales_frame())
    other = make_project(sales_frame())
    for owner in (project, other):
        client.post(
            f"/api/v1/projects/{owner.project_id}/train", json={}, headers=headers_for(trainer_app, owner.user_id)
        )
        add_model(trainer_app, owner, 1, active=True)
    not_owner = client.delete(
        f"/internal/projects/{project.project_id}/training", headers=headers_for(trainer_app, other.user_id)
    )
    assert not_owner.status_code == 204
    assert count_runs(trainer_app) == 2
    deleted = client.delete(
        f"/internal/projects/{project.project_id}/training", headers=headers_for(trainer_app, project.user_id)
    )
    assert deleted.status_code == 204
    with trainer_app.app_context():
        assert db.session.scalars(select(TrainingRun.project_id)).all() == [other.project_id]
        assert db.session.scalars(select(ModelVersion.project_id)).all() == [other.project_id]


def test_readiness_checks_the_object_store(make_trainer_app, tmp_path):
    vanished = tmp_path / "objects-gone"
    app = make_trainer_app(OBJECT_STORE_URL=f"file://{vanished}")
    vanished.rmdir()
    ready = app.test_client().get("/health/ready")
    assert ready.status_code == 503
    assert "object_store" in ready.json["errors"]
    assert make_trainer_app().test_client().get("/health/ready").status_code == 200
