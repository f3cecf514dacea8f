"""Request and response bodies of the predictor's routes (the OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any

import numpy as np
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from shared.media_types import PARQUET
from shared.schemas import UtcDateTime


class VersionQuerySchema(Schema):
    version = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "score with this model version instead of the active one"},
    )


class PredictQuerySchema(VersionQuerySchema):
    explain = fields.Boolean(
        load_default=False,
        metadata={
            "description": "add each row's explanation: the baseline and every feature's contribution, in target "
            "units, adding up to the prediction (JSON rows only; at most EXPLAIN_MAX_ROWS rows)"
        },
    )


class ContributionSchema(Schema):
    feature = fields.String()
    value = fields.Raw(metadata={"description": "the row's value of the feature, as sent"})
    effect = fields.Float(metadata={"description": "how much this value moves the prediction, in target units"})


class ForecastQuerySchema(VersionQuerySchema):
    explain = fields.Boolean(
        load_default=False,
        metadata={
            "description": "add each forecast's explanation: the series' level (the baseline), then the season, each "
            "known-future column and the trend, in target units, adding up to the forecast (JSON only; at most "
            "FORECAST_EXPLAIN_MAX_ROWS rows)"
        },
    )


class ExplanationSchema(Schema):
    baseline = fields.Float(metadata={"description": "the mean prediction over a sample of training rows"})
    contributions = fields.List(fields.Nested(ContributionSchema), metadata={"description": "largest effect first"})
    summary = fields.String(metadata={"description": "the explanation in one sentence"})


class PredictionList(fields.List):
    """A list of numbers, serialized straight from the model's array (no per-item field call for a million rows)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Float(), **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[float] | None:
        if value is None:
            return None
        return np.asarray(value, dtype="float64").tolist()


class PredictionSchema(Schema):
    prediction = fields.Float(metadata={"description": "for one flat JSON object of features"})
    predictions = PredictionList(metadata={"description": 'for {"records": [...]}, in the order of the records'})
    records = fields.List(
        fields.Dict(),
        metadata={"description": "for a parquet body with Accept: application/json: its rows with a prediction"},
    )
    model_version = fields.Integer(required=True)
    warnings = fields.List(
        fields.String(), metadata={"description": "ignored columns, category values never seen in training"}
    )
    explanation = fields.Nested(ExplanationSchema, metadata={"description": "with ?explain=true, for one object"})
    explanations = fields.List(
        fields.Nested(ExplanationSchema), metadata={"description": 'with ?explain=true, for {"records": [...]}'}
    )


class VarySchema(Schema):
    column = fields.String(required=True, validate=validate.Length(min=1, max=200))
    values = fields.List(fields.Raw(), validate=validate.Length(min=1), metadata={"description": "the values to try"})
    from_ = fields.Float(data_key="from", allow_nan=False, metadata={"description": "with `to` and `steps`: a range"})
    to = fields.Float(allow_nan=False)
    steps = fields.Integer(
        validate=validate.Range(min=2, max=10_000), metadata={"description": "points, ends included"}
    )

    @validates_schema
    def _values_or_a_range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        has_range = [name for name in ("from_", "to", "steps") if name in data]
        if "values" in data and has_range:
            raise ValidationError("give `values`, or `from`, `to` and `steps`, not both")
        if "values" not in data and len(has_range) != 3:
            raise ValidationError("give `values`, or all of `from`, `to` and `steps`")

    @post_load
    def _named_from(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if "from_" in data:
            data["from"] = data.pop("from_")
        return data


class WhatIfRequestSchema(Schema):
    base = fields.Dict(required=True, metadata={"description": "the row the varied columns change (other features)"})
    vary = fields.List(fields.Nested(VarySchema), required=True, validate=validate.Length(min=1, max=2))
    revenue_of = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the price column: each point then carries revenue = price × prediction"},
    )


class WhatIfSchema(Schema):
    model_version = fields.Integer(required=True)
    points = fields.List(
        fields.Dict(),
        metadata={"description": "the varied columns' values, `prediction` and (with revenue_of) `revenue`"},
    )
    best = fields.Dict(metadata={"description": "with revenue_of: the point with the highest revenue"})
    warnings = fields.List(fields.String())


class ActualsMetricsSchema(Schema):
    MAE = fields.Float(allow_none=True)
    RMSE = fields.Float(allow_none=True)
    WAPE = fields.Float(allow_none=True)
    bias = fields.Float(allow_none=True, metadata={"description": "mean of prediction − actual"})
    coverage_80 = fields.Float(
        allow_none=True, metadata={"description": "forecast models: the share of actuals inside the 80% interval"}
    )
    coverage_95 = fields.Float(
        allow_none=True, metadata={"description": "forecast models: the share of actuals inside the 95% interval"}
    )


class DriftSchema(Schema):
    feature = fields.String()
    psi = fields.Float(allow_none=True, metadata={"description": "population stability index against training"})
    level = fields.String(metadata={"enum": ["none", "moderate", "major", "unknown"]})


class RecommendationSchema(Schema):
    retrain = fields.Boolean()
    reason = fields.String()


class ActualsReportSchema(Schema):
    id = fields.Integer()
    model_version = fields.Integer()
    rows = fields.Integer()
    created_at = UtcDateTime()
    metrics = fields.Nested(ActualsMetricsSchema, metadata={"description": "the serving model on the actuals"})
    validation = fields.Nested(
        ActualsMetricsSchema,
        metadata={"description": "the model on its run's holdout (a forecast model: on its backtest)"},
    )
    drift = fields.List(fields.Nested(DriftSchema), metadata={"description": "most drifted first"})
    recommendation = fields.Nested(RecommendationSchema)


class ForecastRequestSchema(Schema):
    horizon = fields.Integer(
        validate=validate.Range(min=1), metadata={"description": "periods ahead (default and maximum: the model's)"}
    )
    series = fields.List(
        fields.Dict(),
        validate=validate.Length(min=1, max=100_000),
        metadata={"description": "the series to forecast, each as its series columns' values (default: all)"},
    )
    future = fields.List(
        fields.Dict(),
        validate=validate.Length(max=1_000_000),
        metadata={"description": "known-future values: rows with the series columns, the date and those columns"},
    )
    history = fields.List(
        fields.Dict(),
        validate=validate.Length(max=1_000_000),
        metadata={"description": "newer rows (series columns, date, target): the forecast starts after them"},
    )


class ForecastSchema(Schema):
    model_version = fields.Integer(required=True)
    frequency = fields.String()
    horizon = fields.Integer()
    forecasts = fields.List(
        fields.Dict(),
        metadata={
            "description": "per series and date: the series columns, the date column, forecast, lower_80, upper_80, "
            "lower_95, upper_95 (and explanation, with ?explain=true)"
        },
    )


FORECAST_RESPONSE_DOC = {
    "responses": {
        200: {"content": {PARQUET: {"schema": {"type": "string", "format": "binary", "description": "the forecasts"}}}}
    }
}


ACTUALS_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["records"],
                "properties": {"records": {"type": "array", "items": {"type": "object"}}},
                "description": "rows with the model's features and the true value of its target",
            }
        },
        PARQUET: {"schema": {"type": "string", "format": "binary"}},
    },
}


PREDICT_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"type": "object", "description": "one row: feature name → value"},
                    {
                        "type": "object",
                        "required": ["records"],
                        "properties": {"records": {"type": "array", "items": {"type": "object"}}},
                    },
                ]
            }
        },
        PARQUET: {"schema": {"type": "string", "format": "binary"}},
    },
}

PARQUET_RESPONSE_DOC = {
    "responses": {
        200: {
            "content": {
                PARQUET: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "the parquet body's rows with a prediction column",
                    }
                }
            }
        }
    }
}
