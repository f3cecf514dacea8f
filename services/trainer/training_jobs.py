"""What a training process is given (``TrainingJob``) and what it hands back: progress, a result or a failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STAGE_LOADING = "loading data"
STAGE_PREPARING = "preparing"
STAGE_COMPARING = "comparing models"
STAGE_FINALIZING = "finalizing"


class TrainingError(Exception):
    """The data or the request cannot be trained on; the message tells the user what to change."""


TASK_REGRESSION, TASK_FORECAST = "regression", "forecast"


@dataclass(frozen=True)
class Champion:
    """The model that served the project when the run was claimed: the challenger must beat it to serve.

    ``artifact`` is None when it cannot be compared, and ``problem`` says why (its artifact failed its check).
    The worker checks the artifact (HMAC, sha256, library versions) before it crosses into the training process.
    """

    version: int
    task: str
    artifact: bytes | None
    problem: str | None = None


@dataclass(frozen=True)
class TrainingJob:
    """Everything a training process needs, picklable (it crosses into the spawned process)."""

    run_id: int
    object_key: str
    target: str
    include: list[str] | None
    exclude: list[str] | None
    folds: int
    sort: str
    seed: int
    time_budget_s: int
    threads: int
    object_store_url: str
    object_store_options: dict[str, Any] = field(default_factory=dict)
    ignore_features: list[str] = field(default_factory=list)
    categorical_features: list[str] = field(default_factory=list)
    max_missing_target_share: float = 0.3
    min_rows: int = 20
    dask_scheduler_address: str = ""
    task: str = TASK_REGRESSION
    activate: str = "if_better"
    champion: Champion | None = None
    # A forecast's settings: date_column, series_columns, horizon, frequency, known_future, backtest_windows,
    # holidays_country (None for a regression).
    forecast: dict[str, Any] | None = None


@dataclass(frozen=True)
class TrainingResult:
    """The trained model and what the run measured about it.

    ``evaluation`` is what a chart of the model's errors needs (holdout pairs, or backtest windows);
    ``training_profile`` each feature's training distribution and a background sample (``model_evaluation``);
    ``activation`` whether it serves (``model_evaluation.Activation.as_record``).
    """

    artifact: bytes
    algorithm: str
    leaderboard: list[dict[str, Any]]
    metrics: dict[str, dict[str, float | None]]
    features: list[dict[str, Any]]
    feature_importance: list[dict[str, Any]]
    activation: dict[str, Any] = field(default_factory=lambda: {"decision": "activated"})
    permutation_importance: list[dict[str, Any]] = field(default_factory=list)
    training_profile: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    task: str = TASK_REGRESSION
    forecast: dict[str, Any] | None = None

    @property
    def activates(self) -> bool:
        return self.activation.get("decision") == "activated"


@dataclass(frozen=True)
class Progress:
    stage: str
    fraction: float


@dataclass(frozen=True)
class Failure:
    message: str


Message = Progress | TrainingResult | Failure
ReportProgress = Callable[[str, float], None]
