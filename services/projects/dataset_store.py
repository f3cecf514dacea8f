"""Datasets: a row in ``datasets`` and its objects (the parquet file and its preview), always all or none.

Object keys are made here from ids (``projects/<project id>/datasets/<uuid>.parquet`` and ``<uuid>.preview.json``),
never from a filename.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from services.projects.models import Dataset, Project
from shared.db import db
from shared.domain_errors import DatasetNotFound, ProjectHasNoDataset
from shared.storage import ObjectStore, ObjectStoreUnavailable

if TYPE_CHECKING:
    from services.projects.parquet_ingest import IngestedFile


def dataset_object_key(project_id: int, dataset_id: str) -> str:
    return f"projects/{project_id}/datasets/{dataset_id}.parquet"


def preview_object_key(dataset_object_key: str) -> str:
    """The preview's key beside the parquet file's: a preview then reads a few KB, not the whole file."""
    return dataset_object_key.removesuffix(".parquet") + ".preview.json"


def dataset_object_keys(dataset: Dataset) -> list[str]:
    return [dataset.object_key, preview_object_key(dataset.object_key)]


def owned_dataset(owner_id: int, project_id: int, dataset_id: str) -> Dataset:
    dataset = db.session.execute(
        select(Dataset)
        .join(Project, Project.id == Dataset.project_id)
        .where(Dataset.id == dataset_id, Dataset.project_id == project_id, Project.owner_id == owner_id)
    ).scalar_one_or_none()
    if dataset is None:
        raise DatasetNotFound()
    return dataset


def list_datasets(project: Project, offset: int, limit: int) -> tuple[list[Dataset], int]:
    """One page of the project's datasets, newest first, and how many there are in all."""
    total = db.session.execute(select(func.count()).where(Dataset.project_id == project.id)).scalar_one()
    datasets = db.session.execute(
        select(Dataset)
        .where(Dataset.project_id == project.id)
        .order_by(Dataset.created_at.desc(), Dataset.id)
        .offset(offset)
        .limit(limit)
    ).scalars()
    return list(datasets), total


def latest_dataset_ids(project_ids: list[int]) -> dict[int, str]:
    if not project_ids:
        return {}
    rows = db.session.execute(
        select(Dataset.project_id, Dataset.id)
        .where(Dataset.project_id.in_(project_ids))
        .order_by(Dataset.project_id, Dataset.created_at.desc())
    ).all()
    latest: dict[int, str] = {}
    for project_id, dataset_id in rows:
        latest.setdefault(project_id, dataset_id)
    return latest


def store_dataset(project_id: int, ingested: IngestedFile, filename: str, object_store: ObjectStore) -> Dataset:
    """Put the checked file in the object store, then commit its row (and anything pending, such as a new project).

    Raises ``ObjectStoreUnavailable`` with nothing committed; a failed commit removes the object again.
    """
    dataset_id = str(uuid.uuid4())
    key = dataset_object_key(project_id, dataset_id)
    preview = json.dumps(ingested.preview).encode()
    try:
        with ingested.path.open("rb") as stream:
            object_store.put(key, stream, ingested.size_bytes)
        object_store.put(preview_object_key(key), io.BytesIO(preview), len(preview))
    except (ObjectStoreUnavailable, OSError) as exc:
        db.session.rollback()
        _delete_quietly(object_store, key)
        raise ObjectStoreUnavailable(str(exc)) from exc
    dataset = Dataset(
        id=dataset_id,
        project_id=project_id,
        filename=filename,
        object_key=key,
        rows=ingested.rows,
        size_bytes=ingested.size_bytes,
        sha256=ingested.sha256,
        columns=ingested.columns,
    )
    db.session.add(dataset)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for stored_key in (key, preview_object_key(key)):
            _delete_quietly(object_store, stored_key)
        raise
    return dataset


def _delete_quietly(object_store: ObjectStore, key: str) -> None:
    """Undo a put while already handling a failure (the store may be the failure)."""
    try:
        object_store.delete(key)
    except (ObjectStoreUnavailable, OSError):
        pass


def read_preview(dataset: Dataset, object_store: ObjectStore, limit: int) -> dict[str, Any]:
    """The first ``limit`` rows, from the preview stored at upload."""
    try:
        with object_store.open(preview_object_key(dataset.object_key)) as stream:
            preview = json.load(stream)
    except (ObjectStoreUnavailable, OSError) as exc:
        raise ObjectStoreUnavailable(str(exc)) from exc
    return {"columns": preview["columns"], "records": preview["records"][:limit]}


def stream_file(dataset: Dataset, object_store: ObjectStore, chunk_bytes: int = 1024 * 1024) -> Iterator[bytes]:
    """The dataset's stored file, a chunk at a time (the object stays open until the last chunk is read)."""
    try:
        with object_store.open(dataset.object_key) as stream:
            while chunk := stream.read(chunk_bytes):
                yield chunk
    except (ObjectStoreUnavailable, OSError) as exc:
        raise ObjectStoreUnavailable(str(exc)) from exc


def delete_object(object_store: ObjectStore, key: str) -> None:
    try:
        object_store.delete(key)
    except (ObjectStoreUnavailable, OSError) as exc:
        raise ObjectStoreUnavailable(str(exc)) from exc


def delete_dataset(dataset: Dataset, object_store: ObjectStore) -> None:
    """Remove the row and its objects; if the object store fails, the row stays."""
    db.session.delete(dataset)
    db.session.flush()
    try:
        for key in dataset_object_keys(dataset):
            delete_object(object_store, key)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def training_input(project: Project, dataset_id: str | None) -> dict[str, Any]:
    """What the trainer needs to train on one of the project's datasets (default: the latest)."""
    if dataset_id is None:
        dataset = db.session.execute(
            select(Dataset).where(Dataset.project_id == project.id).order_by(Dataset.created_at.desc()).limit(1)
        ).scalar_one_or_none()
        if dataset is None:
            raise ProjectHasNoDataset()
    else:
        dataset = owned_dataset(project.owner_id, project.id, dataset_id)
    return {
        "project_id": project.id,
        "owner_id": project.owner_id,
        "target": project.target,
        "dataset": {
            "id": dataset.id,
            "object_key": dataset.object_key,
            "rows": dataset.rows,
            "columns": dataset.columns,
        },
    }
