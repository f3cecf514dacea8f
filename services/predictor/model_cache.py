"""Which model serves a project, and its pipeline: verified, deserialized once, kept per process.

Which version serves (id, version and sha256 only) is asked of the database and remembered for a short TTL
(``ServingVersions``), so activating another version or a new training takes effect within it. The artifact bytes are
read only when that (id, sha256) is not cached yet, unpickled only after ``shared.model_artifacts.load_pipeline`` has
checked their HMAC (under the server's ``MODEL_SIGNING_KEY``), sha256 and library versions, and the cache is bounded
by the total size of the artifacts it holds. A loaded model is served by its compiled scorer when one was proven
identical to the pipeline at load (``services.predictor.compiled_scorer``), otherwise by the pipeline itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from services.predictor.batching import Arrival, BatchUnavailable, MicroBatcher
from services.predictor.compiled_scorer import CompiledScorer, verified_scorer
from services.predictor.input_contract import InputContract, PreparedInput
from services.predictor.metrics import MODEL_CACHE_LOOKUPS
from shared.db import db
from shared.domain_errors import DomainError, ModelVersionNotFound
from shared.expiring_map import ExpiringMap
from shared.model_artifacts import ArtifactRecord, ArtifactRejected, load_pipeline
from shared.training_records import ModelVersion

log = logging.getLogger(__name__)


class NoServingModel(DomainError):
    """The project has no active model version (of this owner)."""

    def __init__(self, project_id: int) -> None:
        super().__init__(
            f"No model serves this project yet: train one first (POST /api/v1/projects/{project_id}/train)."
        )


class PredictionFailed(DomainError):
    """The model raised while scoring rows that passed the input contract."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The model could not score these rows ({reason}).")


class NotARegressionModel(DomainError):
    """The serving (or pinned) version forecasts series: it answers ``/forecast``, not ``/predict``."""

    def __init__(self, project_id: int, version: int) -> None:
        super().__init__(
            f"Model version {version} is a forecast model: ask it with POST /api/v1/projects/{project_id}/forecast."
        )


class NotAForecastModel(DomainError):
    """The serving (or pinned) version is a regression model: it answers ``/predict``, not ``/forecast``."""

    def __init__(self, project_id: int, version: int) -> None:
        super().__init__(
            f"Model version {version} is a regression model: ask it with POST /api/v1/projects/{project_id}/predict, "
            "or train a forecast (POST /train with task forecast)."
        )


class ModelUnusable(DomainError):
    """The model's artifact failed its integrity check; it was not unpickled."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"Model version {version} cannot serve: its artifact failed its integrity check. "
            "Retrain or activate another version."
        )
        self.version = version


@dataclass(frozen=True)
class ServingVersion:
    """The cheap part of a model row, read on every request."""

    model_id: int
    version: int
    sha256: str

    @property
    def cache_key(self) -> tuple[int, str]:
        return (self.model_id, self.sha256)


@dataclass(frozen=True)
class ModelFacts:
    """What the model's row says besides its artifact: what it is, how it scored, what it was trained on."""

    task: str
    algorithm: str
    target: str
    metrics: dict[str, Any]
    training_profile: dict[str, Any]


@dataclass(frozen=True)
class BatchingSettings:
    enabled: bool
    window_s: float
    max_rows: int
    timeout_s: float


class LoadedModel:
    """A verified, deserialized pipeline with its input contract, and its compiled scorer or its batcher.

    With a compiled scorer every call is scored at once: it takes microseconds and is safe from many threads, so
    there is nothing for a batch to share. Without one, calls to the pipeline take turns and may be batched.
    """

    def __init__(
        self,
        serving: ServingVersion,
        pipeline: Any,
        contract: InputContract,
        size_bytes: int,
        batching: BatchingSettings,
        scorer: CompiledScorer | None = None,
        facts: ModelFacts | None = None,
    ) -> None:
        self.serving = serving
        self.pipeline = pipeline
        self.facts = facts or ModelFacts("regression", "", contract.target, {}, {})
        self.contract = contract
        self._background: PreparedInput | None = None
        self.size_bytes = size_bytes
        self.scorer = scorer
        # A PyCaret pipeline is not safe to call from two threads at once (seen: "cannot reindex on an axis with
        # duplicate labels" from concurrent predicts), so calls take turns; batching is what makes them few.
        self._predict_lock = threading.Lock()
        self.batcher = (
            MicroBatcher(
                self.predict_now,
                batching.window_s,
                batching.max_rows,
                batching.timeout_s,
                name=f"model-{serving.model_id}",
            )
            if batching.enabled and scorer is None
            else None
        )

    @property
    def version(self) -> int:
        return self.serving.version

    def background(self) -> PreparedInput | None:
        """Training rows the model's explanations are computed against (prepared once), or None for a version
        trained before they were recorded."""
        if self._background is None:
            rows = self.facts.training_profile.get("background") or []
            complete = [row for row in rows if all(row.get(name) is not None for name in self.contract.names)]
            if not complete:
                return None
            self._background = self.contract.prepare_records(complete)
        return self._background

    def predict_now(self, frame: pd.DataFrame) -> np.ndarray:
        """The saved pipeline's own ``predict`` (never PyCaret's ``predict_model``, which costs ~10x per call)."""
        with self._predict_lock:
            return np.asarray(self.pipeline.predict(frame), dtype="float64")

    def arriving(self) -> AbstractContextManager[Arrival | None]:
        """Around preparing a request's rows and ``predict(prepared, arrival)`` (see ``MicroBatcher.arriving``)."""
        return nullcontext() if self.batcher is None else self.batcher.arriving()

    def predict(self, prepared: PreparedInput, arrival: Arrival | None = None) -> np.ndarray:
        """Predictions for the prepared rows: by the compiled scorer, or the pipeline (batched when that is on)."""
        try:
            if self.scorer is not None:
                return self.scorer.predict(prepared.scorer_columns)
            if self.batcher is None:
                return self.predict_now(prepared.frame)
            return self.batcher.predict(prepared.frame, arrival)
        except BatchUnavailable:
            raise
        except Exception as exc:
            rows = len(next(iter(prepared.columns.values()), ()))
            log.warning("model %s failed to score %d rows: %r", self.serving.model_id, rows, exc)
            raise PredictionFailed(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()


def quiet_pycaret_logging() -> None:
    """Unpickling a pipeline imports PyCaret, which otherwise opens a DEBUG ``logs.log`` in the working directory."""
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", os.devnull)
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MPLBACKEND", "Agg")


def find_serving_version(project_id: int, owner_id: int, version: int | None = None) -> ServingVersion:
    """The active (or the pinned) version of the caller's project; ``NoServingModel``/``ModelVersionNotFound``."""
    query = select(ModelVersion.id, ModelVersion.version, ModelVersion.sha256).where(
        ModelVersion.project_id == project_id, ModelVersion.owner_id == owner_id
    )
    if version is None:
        query = query.where(ModelVersion.active.is_(True)).order_by(ModelVersion.version.desc()).limit(1)
    else:
        query = query.where(ModelVersion.version == version)
    row = db.session.execute(query).first()
    if row is None:
        raise NoServingModel(project_id) if version is None else ModelVersionNotFound()
    return ServingVersion(model_id=row.id, version=row.version, sha256=row.sha256)


class ServingVersions:
    """``find_serving_version`` answers remembered ``ttl_seconds`` per process (found versions only: a project
    without a model, or a missing pinned version, is asked about every time)."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._found: ExpiringMap[tuple[int, int, int | None], ServingVersion] = ExpiringMap(
            max_entries, lambda: self.clock()
        )

    def find(self, project_id: int, owner_id: int, version: int | None = None) -> ServingVersion:
        key = (project_id, owner_id, version)
        remembered = self._found.get(key)
        if remembered is not None:
            return remembered
        serving = find_serving_version(project_id, owner_id, version)
        if self.ttl_seconds > 0:
            self._found.put(key, serving, self.clock() + self.ttl_seconds)
        return serving


class ModelCache:
    """Loaded models of this process, least recently used evicted once their artifacts exceed ``max_bytes``."""

    def __init__(
        self,
        max_bytes: int,
        batching: BatchingSettings,
        max_string_length: int,
        signing_key: str,
        compiled: bool = True,
    ) -> None:
        self.max_bytes = max_bytes
        self.signing_key = signing_key
        self.batching = batching
        self.max_string_length = max_string_length
        self.compiled = compiled
        self._models: OrderedDict[tuple[int, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[int, str], threading.Lock] = {}

    def get(self, serving: ServingVersion) -> LoadedModel:
        """The loaded model for ``serving``, loading (and verifying) it from the database on a miss."""
        key = serving.cache_key
        with self._lock:
            model = self._lookup(key)
            if model is None:
                loading = self._loading.setdefault(key, threading.Lock())
        if model is not None:
            MODEL_CACHE_LOOKUPS.labels("hit").inc()  # outside the cache's lock: every prediction passes here
            return model
        with loading:
            with self._lock:
                model = self._lookup(key)
            if model is not None:  # another thread loaded it meanwhile
                MODEL_CACHE_LOOKUPS.labels("hit").inc()
                return model
            MODEL_CACHE_LOOKUPS.labels("miss").inc()
            try:
                model = self._load(serving)
            except BaseException:
                with self._lock:
                    self._loading.pop(key, None)
                raise
            with self._lock:
                self._store(key, model)
                self._loading.pop(key, None)
            return model

    def _lookup(self, key: tuple[int, str]) -> LoadedModel | None:
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
        return model

    def _store(self, key: tuple[int, str], model: LoadedModel) -> None:
        self._models[key] = model
        total = sum(m.size_bytes for m in self._models.values())
        while total > self.max_bytes and len(self._models) > 1:
            _, evicted = self._models.popitem(last=False)
            total -= evicted.size_bytes
            evicted.close()

    def _load(self, serving: ServingVersion) -> LoadedModel:
        row = db.session.execute(
            select(
                ModelVersion.artifact,
                ModelVersion.project_id,
                ModelVersion.artifact_hmac,
                ModelVersion.library_versions,
                ModelVersion.features,
                ModelVersion.target,
                ModelVersion.task,
                ModelVersion.algorithm,
                ModelVersion.metrics,
                ModelVersion.training_profile,
            ).where(ModelVersion.id == serving.model_id)
        ).first()
        if row is None:
            raise ModelVersionNotFound()
        try:
            record = ArtifactRecord(
                row.project_id, serving.version, serving.sha256, row.artifact_hmac, row.library_versions or {}
            )
            pipeline = load_pipeline(row.artifact, record, self.signing_key)
        except ArtifactRejected as exc:
            log.error("refused model %s (version %s): %s", serving.model_id, serving.version, exc)
            raise ModelUnusable(serving.version) from exc
        facts = ModelFacts(row.task, row.algorithm, row.target, row.metrics or {}, row.training_profile or {})
        contract = InputContract(row.features or [], row.target, self.max_string_length)
        label = f"model {serving.model_id} (version {serving.version})"
        scorer = verified_scorer(pipeline, contract, label) if self.compiled and row.task == "regression" else None
        return LoadedModel(serving, pipeline, contract, len(row.artifact), self.batching, scorer, facts)
