"""Request and response bodies of the trainer's public routes (the OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.trainer.automl import REGRESSION_MODEL_IDS, SORT_METRICS
from services.trainer.model_evaluation import ACTIVATE_IF_BETTER, ACTIVATED, ACTIVATION_MODES, NOT_ACTIVATED
from services.trainer.training_input import ID_LIKE_MAX_ROWS_PER_VALUE, ID_LIKE_MIN_DISTINCT
from shared.schemas import UtcDateTime

MODEL_ID_CHOICES = sorted(REGRESSION_MODEL_IDS)


class TrainRequestSchema(Schema):
    target = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "default: the project's"})
    dataset_id = fields.String(validate=validate.Length(min=1, max=36), metadata={"description": "default: latest"})
    include = fields.List(
        fields.String(validate=validate.OneOf(MODEL_ID_CHOICES, error="unknown model id {input!r}")),
        validate=validate.Length(min=1, max=len(MODEL_ID_CHOICES)),
        metadata={"description": f"PyCaret regression model ids: {', '.join(MODEL_ID_CHOICES)}"},
    )
    exclude = fields.List(
        fields.String(validate=validate.OneOf(MODEL_ID_CHOICES, error="unknown model id {input!r}")),
        validate=validate.Length(max=len(MODEL_ID_CHOICES)),
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
    folds = fields.Integer(load_default=5, validate=validate.Range(min=2, max=10, error="must be between 2 and 10"))
    sort = fields.String(load_default="R2", validate=validate.OneOf(SORT_METRICS))
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
    def _some_model_remains(self, data: dict[str, Any], **_kwargs: Any) -> None:
        include = data.get("include")
        if include and not set(include) - set(data.get("exclude") or ()):
            raise ValidationError("`include` and `exclude` leave no model to compare", "exclude")


class LeaderboardEntrySchema(Schema):
    model = fields.String()
    name = fields.String()
    MAE = fields.Float(allow_none=True)
    MSE = fields.Float(allow_none=True)
    RMSE = fields.Float(allow_none=True)
    R2 = fields.Float(allow_none=True)
    RMSLE = fields.Float(allow_none=True)
    MAPE = fields.Float(allow_none=True)
    fit_seconds = fields.Float(allow_none=True)


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


class HoldoutSchema(Schema):
    target = fields.String()
    rows = fields.List(fields.Nested(HoldoutPairSchema), metadata={"description": "up to 500 holdout rows"})
