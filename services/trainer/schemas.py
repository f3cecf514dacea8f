"""Request and response bodies of the trainer's public routes (the OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from services.trainer.automl import REGRESSION_MODEL_IDS, SORT_METRICS
from services.trainer.forecasting.candidates import FORECAST_MODEL_IDS, candidate_problems
from services.trainer.model_evaluation import ACTIVATE_IF_BETTER, ACTIVATED, ACTIVATION_MODES, NOT_ACTIVATED
from services.trainer.training_input import ID_LIKE_MAX_ROWS_PER_VALUE, ID_LIKE_MIN_DISTINCT
from services.trainer.training_jobs import TASK_FORECAST, TASK_REGRESSION
from shared.forecasting.metrics import METRICS as FORECAST_SORT_METRICS
from shared.schemas import UtcDateTime

MODEL_ID_CHOICES = sorted(REGRESSION_MODEL_IDS)
FORECAST_ID_CHOICES = sorted(FORECAST_MODEL_IDS)
TASKS = (TASK_REGRESSION, TASK_FORECAST)
MAX_SERIES_COLUMNS = 10
MAX_HORIZON = 1000


class TrainRequestSchema(Schema):
    task = fields.String(
        load_default=TASK_REGRESSION,
        validate=validate.OneOf(TASKS),
        metadata={"description": "regression (rows → a number) or forecast (series → their next periods)"},
    )
    target = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "default: the project's"})
    dataset_id = fields.String(validate=validate.Length(min=1, max=36), metadata={"description": "default: latest"})
    include = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(min=1, max=len(MODEL_ID_CHOICES) + len(FORECAST_ID_CHOICES)),
        metadata={
            "description": f"regression: PyCaret regression model ids ({', '.join(MODEL_ID_CHOICES)}); forecast: "
            f"{', '.join(FORECAST_ID_CHOICES)} (regression ids there are global models on lags)"
        },
    )
    exclude = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=len(MODEL_ID_CHOICES) + len(FORECAST_ID_CHOICES)),
    )
    ignore_features = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=2000),
        metadata={
            "description": "Columns of the dataset not to train on (an addition to API.md). Default: the ID-like text "
            f"columns (more than {ID_LIKE_MIN_DISTINCT} distinct values and fewer than {ID_LIKE_MAX_ROWS_PER_VALUE} "
            "rows per value); `[]` trains on every column. The run's `params.ignored_features` lists what was "
            "left out and why."
        },
    )
    categorical_features = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=2000),
        metadata={
            "description": "Columns of the dataset to train as categories (an addition to API.md), e.g. an integer "
            "store number; text columns always are. Not the target, not an ignored column, not a date. The run's "
            "`params.made_categorical` lists them and why."
        },
    )
    folds = fields.Integer(
        load_default=5,
        validate=validate.Range(min=2, max=10, error="must be between 2 and 10"),
        metadata={"description": "regression: cross-validation folds"},
    )
    sort = fields.String(
        metadata={
            "description": f"the metric that ranks candidates; regression: {', '.join(SORT_METRICS)} (default R2); "
            f"forecast: {', '.join(FORECAST_SORT_METRICS)} (default MASE)"
        }
    )
    date_column = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "forecast: the date column (default: the one date-like column)"},
    )
    series_columns = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=MAX_SERIES_COLUMNS),
        metadata={"description": "forecast: one series per combination of these columns (default: one series)"},
    )
    horizon = fields.Integer(
        validate=validate.Range(min=1, max=MAX_HORIZON),
        metadata={"description": "forecast: periods ahead (default by frequency: D 28, W 13, M 12, Q 8, Y 3)"},
    )
    frequency = fields.String(
        validate=validate.Length(min=1, max=16),
        metadata={"description": "forecast: D, W-<DAY>, MS/M, QS/Q, YS/Y (default: inferred from the dates)"},
    )
    known_future = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=100),
        metadata={"description": "forecast: columns whose future values the caller supplies (price, promotion…)"},
    )
    backtest_windows = fields.Integer(
        load_default=3,
        validate=validate.Range(min=1, max=10),
        metadata={"description": "forecast: rolling-origin backtest windows the candidates are scored on"},
    )
    holidays_country = fields.String(
        validate=validate.Length(min=2, max=8),
        metadata={"description": "forecast: a country code (e.g. US, BR) whose holidays become calendar features"},
    )
    time_budget_s = fields.Integer(metadata={"description": "seconds; default and maximum are set by the operator"})
    seed = fields.Integer(load_default=42, validate=validate.Range(min=0, max=2**31 - 1))
    activate = fields.String(
        load_default=ACTIVATE_IF_BETTER,
        validate=validate.OneOf(ACTIVATION_MODES),
        metadata={
            "description": "if_better (default): the new model serves only if it beats the serving one on the new "
            "run's holdout (same metric: `sort`); always; never. The run's `activation` says what was decided."
        },
    )

    @validates("time_budget_s")
    def _budget_within_limits(self, value: int, **_kwargs: Any) -> None:
        maximum = current_app.config["TRAINING_MAX_TIME_BUDGET_S"]
        if not 10 <= value <= maximum:
            raise ValidationError(f"must be between 10 and {maximum} seconds")

    @validates_schema
    def _fits_the_task(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Model ids and the sort metric of the task; the forecast-only fields only with task forecast."""
        if data["task"] == TASK_FORECAST:
            problems = candidate_problems(data.get("include"), data.get("exclude"))
            if data.get("sort", "MASE") not in FORECAST_SORT_METRICS:
                problems["sort"] = [f"must be one of {', '.join(FORECAST_SORT_METRICS)} for a forecast"]
            if problems:
                raise ValidationError(problems)
            return
        problems = {}
        for field in ("include", "exclude"):
            unknown = sorted(set(data.get(field) or ()) - REGRESSION_MODEL_IDS)
            if unknown:
                problems[field] = [
                    f"unknown model id(s) {', '.join(unknown)}; choose from {', '.join(MODEL_ID_CHOICES)}"
                ]
        include = data.get("include")
        if include and not problems and not set(include) - set(data.get("exclude") or ()):
            problems["exclude"] = ["`include` and `exclude` leave no model to compare"]
        if data.get("sort", "R2") not in SORT_METRICS:
            problems["sort"] = [f"must be one of {', '.join(SORT_METRICS)} for a regression"]
        given = [field for field in FORECAST_ONLY_FIELDS if field in data and field != "backtest_windows"]
        if given:
            problems["task"] = [f"{', '.join(given)} are for task forecast"]
        if problems:
            raise ValidationError(problems)

    @post_load
    def _task_defaults(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data.setdefault("sort", "MASE" if data["task"] == TASK_FORECAST else "R2")
        return data


FORECAST_ONLY_FIELDS = (
    "date_column",
    "series_columns",
    "horizon",
    "frequency",
    "known_future",
    "backtest_windows",
    "holidays_country",
)


class LeaderboardEntrySchema(Schema):
    """A regression candidate's cross-validation scores, or a forecast candidate's backtest scores."""

    model = fields.String()
    name = fields.String()
    MAE = fields.Float(allow_none=True)
    MSE = fields.Float(allow_none=True)
    RMSE = fields.Float(allow_none=True)
    R2 = fields.Float(allow_none=True)
    RMSLE = fields.Float(allow_none=True)
    MAPE = fields.Float(allow_none=True)
    MASE = fields.Float(allow_none=True, metadata={"description": "forecast"})
    WAPE = fields.Float(allow_none=True, metadata={"description": "forecast"})
    SMAPE = fields.Float(allow_none=True, metadata={"description": "forecast"})
    fit_seconds = fields.Float(allow_none=True)
    reason = fields.String(
        allow_none=True, metadata={"description": "forecast: why it serves, or why it never does (or was skipped)"}
    )


class RunErrorSchema(Schema):
    message = fields.String()


class ActivationSchema(Schema):
    decision = fields.String(metadata={"enum": [ACTIVATED, NOT_ACTIVATED]})
    reason = fields.String()
    metric = fields.String()
    challenger_score = fields.Float(allow_none=True)
    champion_score = fields.Float(allow_none=True)
    champion_version = fields.Integer(allow_none=True)


class TrainingRunSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    status = fields.String(metadata={"enum": ["queued", "running", "succeeded", "failed", "cancelled"]})
    stage = fields.String()
    progress = fields.Float()
    attempt = fields.Integer()
    params = fields.Method("public_params", metadata={"type": "object"})
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    error = fields.Nested(RunErrorSchema, allow_none=True)
    leaderboard = fields.List(fields.Nested(LeaderboardEntrySchema), allow_none=True)
    model_version = fields.Integer(allow_none=True)
    activation = fields.Nested(
        ActivationSchema, allow_none=True, metadata={"description": "whether the run's model serves, and why"}
    )

    def public_params(self, run: Any) -> dict[str, Any]:
        """The run's parameters as the user gave them or got by default (not where the server stores the data)."""
        public = {name: value for name, value in run.params.items() if name != "object_key"}
        return {**public, "dataset_id": run.dataset_id}


class FeatureSchema(Schema):
    name = fields.String()
    dtype = fields.String()
    categories = fields.List(fields.String())
    min = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)


class FeatureImportanceSchema(Schema):
    feature = fields.String()
    importance = fields.Float(allow_none=True)


class ModelMetricsSchema(Schema):
    cv = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    holdout = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    backtest = fields.Dict(
        keys=fields.String(), values=fields.Float(allow_none=True), metadata={"description": "forecast models"}
    )


class ForecastDescriptionSchema(Schema):
    date_column = fields.String()
    series_columns = fields.List(fields.String())
    frequency = fields.String()
    horizon = fields.Integer()
    known_future = fields.List(fields.String())
    last_dates = fields.List(fields.Dict(), metadata={"description": "each series' columns and its last date"})
    series_count = fields.Integer()
    interval_coverage = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata={"description": "the share of backtest actuals inside the 80% and 95% intervals"},
    )


class ModelVersionSchema(Schema):
    version = fields.Integer()
    algorithm = fields.String()
    target = fields.String()
    training_run_id = fields.Integer()
    created_at = UtcDateTime()
    active = fields.Boolean()
    size_bytes = fields.Integer()
    sha256 = fields.String()
    metrics = fields.Nested(ModelMetricsSchema)
    task = fields.String(metadata={"enum": ["regression", "forecast"]})
    forecast = fields.Nested(ForecastDescriptionSchema, allow_none=True, metadata={"description": "forecast models"})
    features = fields.List(fields.Nested(FeatureSchema))
    feature_importance = fields.List(
        fields.Nested(FeatureImportanceSchema),
        metadata={"description": "the estimator's own importances (or absolute coefficients), per input column"},
    )
    permutation_importance = fields.List(
        fields.Nested(FeatureImportanceSchema),
        allow_none=True,
        metadata={
            "description": "how much the holdout MAE grows, in target units, when the column is shuffled: "
            "comparable across models (null for versions trained before it was measured)"
        },
    )


class HoldoutPairSchema(Schema):
    actual = fields.Float()
    predicted = fields.Float()


class BacktestWindowSchema(Schema):
    origin = fields.String(metadata={"description": "the last date the window's forecasts saw"})
    rows = fields.List(
        fields.Dict(),
        metadata={"description": "per series and date: the series columns, the date column, actual, forecast"},
    )


class BacktestSchema(Schema):
    windows = fields.List(fields.Nested(BacktestWindowSchema))


class HoldoutSchema(Schema):
    target = fields.String()
    rows = fields.List(fields.Nested(HoldoutPairSchema), metadata={"description": "up to 500 holdout rows"})
