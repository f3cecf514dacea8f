"""Request and response bodies of ``/predict`` (the OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any

import numpy as np
from marshmallow import Schema, fields, validate

from shared.media_types import PARQUET


class PredictQuerySchema(Schema):
    version = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "score with this model version instead of the active one"},
    )


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
