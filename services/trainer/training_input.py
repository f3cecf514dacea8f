"""What a run trains on: the project's dataset as the projects service describes it, checked before queueing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from services.trainer.automl import minimum_rows
from shared.errors import ServiceError
from shared.internal_auth import internal_headers
from shared.service_client import UpstreamFailure, service_client

_NUMERIC_DTYPE = re.compile(r"^(u?int|float|double|decimal|half|number)", re.IGNORECASE)


class TrainingInputUnavailable(ServiceError):
    """The projects service said no (``status`` 404/409) or could not be reached (503)."""


@dataclass(frozen=True)
class TrainingInput:
    project_id: int
    owner_id: int
    target: str
    dataset_id: str
    object_key: str
    rows: int
    columns: list[dict[str, Any]]


def fetch_training_input(project_id: int, user_id: int, dataset_id: str | None) -> TrainingInput:
    """Ask the projects service for the project's target and dataset (only the caller's)."""
    path = f"/internal/projects/{project_id}/training-input"
    query = urlencode({"dataset_id": dataset_id}) if dataset_id else ""
    try:
        response = service_client().send("projects", "GET", path, internal_headers("projects", user_id), query)
    except UpstreamFailure as failure:
        raise TrainingInputUnavailable(503, "The projects service is unavailable; retry shortly.") from failure
    if response.status_code in (404, 409):
        default = "Dataset not found." if dataset_id and response.status_code == 404 else "Project not found."
        raise TrainingInputUnavailable(response.status_code, _message(response) or default)
    if response.status_code != 200:
        raise TrainingInputUnavailable(503, "The projects service is unavailable; retry shortly.")
    body = response.json()
    dataset = body["dataset"]
    return TrainingInput(
        project_id=int(body["project_id"]),
        owner_id=int(body["owner_id"]),
        target=body["target"],
        dataset_id=str(dataset["id"]),
        object_key=dataset["object_key"],
        rows=int(dataset["rows"]),
        columns=list(dataset["columns"]),
    )


def _message(response: requests.Response) -> str | None:
    try:
        message = response.json().get("message")
    except ValueError:
        return None
    return message if isinstance(message, str) else None


def is_numeric_dtype_name(dtype: str) -> bool:
    return bool(_NUMERIC_DTYPE.match(dtype.strip()))


def problems_with_dataset(
    training_input: TrainingInput, target: str, folds: int, min_rows_floor: int, max_missing_target_share: float
) -> dict[str, list[str]]:
    """Field → messages for what makes this dataset untrainable with these parameters (empty when it is fine)."""
    columns = {column["name"]: column for column in training_input.columns}
    column = columns.get(target)
    if column is None:
        names = ", ".join(f"`{name}`" for name in list(columns)[:20])
        return {"target": [f"column `{target}` is not in the dataset (its columns: {names})"]}
    problems: dict[str, list[str]] = {}
    if not is_numeric_dtype_name(str(column.get("dtype", ""))):
        problems["target"] = [
            f"column `{target}` is {column.get('dtype')}, not numeric; a regression target needs numbers"
        ]
    nulls = int(column.get("nulls") or 0)
    rows = training_input.rows
    if rows and nulls / rows > max_missing_target_share:
        problems.setdefault("target", []).append(
            f"column `{target}` has {nulls / rows:.0%} missing values; fill them in or drop those rows and upload "
            "the dataset again"
        )
    needed = minimum_rows(folds, min_rows_floor)
    if rows - nulls < needed:
        problems["dataset_id"] = [
            f"the dataset has {rows - nulls} rows with a value for `{target}`; {folds}-fold validation needs at "
            f"least {needed}"
        ]
    return problems
