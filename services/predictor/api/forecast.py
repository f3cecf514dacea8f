"""``POST /api/v1/projects/<id>/forecast``: the next periods of every series (or some), with 80% and 95% intervals."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa
from flask import Response, current_app, request
from flask.views import MethodView

from services.predictor.api.predict import JSON_MEDIA_TYPE, MODEL_VERSION_HEADER
from services.predictor.extensions import serving_model
from services.predictor.forecast_explanations import explain_forecast
from services.predictor.input_contract import InputRejected
from services.predictor.model_cache import LoadedModel, NotAForecastModel
from services.predictor.schemas import (
    FORECAST_RESPONSE_DOC,
    ForecastQuerySchema,
    ForecastRequestSchema,
    ForecastSchema,
)
from services.predictor.scoring import parquet_bytes
from shared.api import Blueprint
from shared.ids import ID
from shared.media_types import PARQUET

blp = Blueprint("forecast", __name__, url_prefix="/api/v1/projects", description="Forecasts of a project's series.")


@blp.route(f"/<{ID}:project_id>/forecast")
class Forecast(MethodView):
    @blp.arguments(ForecastQuerySchema, location="query")
    @blp.arguments(ForecastRequestSchema)
    @blp.doc(**FORECAST_RESPONSE_DOC)
    @blp.response(200, ForecastSchema)
    @blp.alt_response(404, description="The pinned model version does not exist.")
    @blp.alt_response(
        409,
        description="No model serves this project yet, or it is a regression model (or, with explain, one whose "
        "forecasts cannot be explained).",
    )
    @blp.alt_response(
        422,
        description="A horizon longer than the model's, an unknown series, missing known-future values, "
        "malformed history/future rows, or more rows to explain than FORECAST_EXPLAIN_MAX_ROWS.",
    )
    def post(self, query: dict[str, Any], body: dict[str, Any], project_id: int):
        """The next periods after each series' last date, with intervals (JSON, or parquet with Accept); with
        ``?explain=true``, each forecast's decomposition (level, season, known-future columns, trend)."""
        model = forecast_model(project_id, query.get("version"))
        forecaster = model.pipeline
        wants = request.accept_mimetypes.best_match([JSON_MEDIA_TYPE, PARQUET], default=JSON_MEDIA_TYPE)
        if query["explain"] and wants == PARQUET:
            raise InputRejected({"explain": ["explanations are given in JSON answers; ask for application/json"]})
        prepared = forecaster.prepare(
            horizon=body.get("horizon"),
            series=body.get("series"),
            future=body.get("future"),
            history=body.get("history"),
        )
        if query["explain"]:
            _check_explained_rows(len(prepared.dates))
        table = forecaster.answer(prepared)
        if wants == PARQUET:
            headers = {MODEL_VERSION_HEADER: str(model.version)}
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            return Response(parquet_bytes(arrow), mimetype=PARQUET, headers=headers)
        records = forecast_records(table, forecaster.date_column)
        if query["explain"]:
            for record, explanation in zip(records, explain_forecast(forecaster, prepared, table), strict=True):
                record["explanation"] = explanation.as_record()
        return {
            "model_version": model.version,
            "frequency": forecaster.frequency,
            "horizon": prepared.steps,
            "forecasts": records,
        }


def _check_explained_rows(rows: int) -> None:
    """Refused before anything is forecast: explaining costs a forecast per combination of known-future columns."""
    most = current_app.config["FORECAST_EXPLAIN_MAX_ROWS"]
    if rows > most:
        raise InputRejected(
            {
                "explain": [
                    f"{rows} forecast rows; at most {most} are explained per request: ask for fewer series (`series`) "
                    "or a shorter `horizon`"
                ]
            }
        )


def forecast_records(table: pd.DataFrame, date_column: str) -> list[dict[str, Any]]:
    """The forecast rows as JSON objects, each date as ISO text (``2012-11-02``)."""
    shown = table.assign(**{date_column: table[date_column].dt.strftime("%Y-%m-%d")})
    return json.loads(shown.to_json(orient="records"))


def forecast_model(project_id: int, version: int | None) -> LoadedModel:
    """The caller's model, which must be a forecast model (a regression model answers /predict)."""
    model = serving_model(project_id, version)
    if model.facts.task != "forecast":
        raise NotAForecastModel(project_id, model.version)
    return model
