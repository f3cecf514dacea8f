"""What a run trains on: the project's dataset as the projects service describes it, checked before queueing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from services.trainer.automl import minimum_rows
from shared import dataset_profile
from shared.domain_errors import DatasetNotFound, ProjectHasNoDataset, ProjectNotFound, UpstreamBroken
from shared.internal_auth import internal_headers
from shared.service_client import service_client

# A text column is ID-like (an order number, a product code) when it has more distinct values than one-hot encoding
# handles and too few rows per value for target encoding to learn more than noise.
ID_LIKE_MIN_DISTINCT = 50
ID_LIKE_MAX_ROWS_PER_VALUE = 10


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
    """Ask the projects service for the project's target and dataset (only the caller's).

    Raises ``ProjectNotFound``, ``DatasetNotFound`` or ``ProjectHasNoDataset`` as the projects service answers, and
    ``UpstreamFailure`` when it cannot be asked.
    """
    path = f"/internal/projects/{project_id}/training-input"
    query = urlencode({"dataset_id": dataset_id}) if dataset_id else ""
    response = service_client().send("projects", "GET", path, internal_headers("projects", user_id), query)
    if response.status_code == 404:
        missing = DatasetNotFound if _message(response) == DatasetNotFound.message else ProjectNotFound
        raise missing()
    if response.status_code == 409:
        raise ProjectHasNoDataset()
    if response.status_code != 200:
        raise UpstreamBroken(f"the projects service answered {response.status_code} to a training-input request")
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


def problems_with_dataset(
    training_input: TrainingInput,
    target: str,
    folds: int,
    min_rows_floor: int,
    max_missing_target_share: float,
    ignore_features: list[str] | None = None,
    categorical_features: list[str] | None = None,
    ignored_columns: Iterable[str] = (),
) -> dict[str, list[str]]:
    """Field → messages for what makes this dataset untrainable with these parameters (empty when it is fine).

    ``ignored_columns`` are the columns the run leaves out (``ignored_features``): none can be categorical.
    """
    columns = {column["name"]: column for column in training_input.columns}
    column = columns.get(target)
    names = ", ".join(f"`{name}`" for name in list(columns)[:20])
    if column is None:
        return {"target": [f"column `{target}` is not in the dataset (its columns: {names})"]}
    problems: dict[str, list[str]] = {}
    for name in ignore_features or ():
        if name == target:
            problems.setdefault("ignore_features", []).append(f"`{name}` is the target; it cannot be ignored")
        elif name not in columns:
            problems.setdefault("ignore_features", []).append(
                f"column `{name}` is not in the dataset (its columns: {names})"
            )
    if ignore_features and set(columns) - {target} <= set(ignore_features):
        problems.setdefault("ignore_features", []).append("every column but the target is ignored")
    ignored = set(ignored_columns)
    for name in categorical_features or ():
        if name == target:
            message = f"`{name}` is the target; it cannot be a categorical feature"
        elif name not in columns:
            message = f"column `{name}` is not in the dataset (its columns: {names})"
        elif name in ignored:
            message = f"column `{name}` is ignored (see ignore_features); it cannot also be a categorical feature"
        elif dataset_profile.is_date(columns[name].get("dtype", "")):
            message = f"column `{name}` is a {columns[name].get('dtype')}; dates are split into parts, not categories"
        else:
            continue
        problems.setdefault("categorical_features", []).append(message)
    if not dataset_profile.is_numeric(str(column.get("dtype", ""))):
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


def ignored_features(
    training_input: TrainingInput, target: str, ignore_features: list[str] | None
) -> list[dict[str, str]]:
    """The columns a run leaves out, each with why: the request's ``ignore_features``, else the ID-like text columns."""
    if ignore_features is not None:
        return [{"column": name, "reason": "named in ignore_features"} for name in dict.fromkeys(ignore_features)]
    ignored = []
    for column in training_input.columns:
        distinct = int(column.get("distinct") or 0)
        if column["name"] == target or column.get("dtype") != dataset_profile.TEXT or distinct <= ID_LIKE_MIN_DISTINCT:
            continue
        rows_per_value = (training_input.rows - int(column.get("nulls") or 0)) / distinct
        if rows_per_value < ID_LIKE_MAX_ROWS_PER_VALUE:
            ignored.append(
                {
                    "column": column["name"],
                    "reason": f"ID-like: text with {distinct} distinct values, {rows_per_value:.1f} rows per value; "
                    "name it in ignore_features (even []) to choose the ignored columns yourself",
                }
            )
    return ignored


def categorical_features(training_input: TrainingInput, target: str, named: list[str] | None) -> list[dict[str, str]]:
    """The columns a run trains as categories besides its text columns (which always are), each with why."""
    if named is not None:
        return [{"column": name, "reason": "named in categorical_features"} for name in dict.fromkeys(named)]
    return []
