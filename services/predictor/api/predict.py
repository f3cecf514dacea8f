"""``POST /api/v1/projects/<id>/predict``: score one JSON object, JSON records, or a parquet file."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort

from services.predictor.explanations import CannotExplain, explain_rows
from services.predictor.extensions import serving_model
from services.predictor.input_contract import InputRejected
from services.predictor.metrics import count_prediction
from services.predictor.model_cache import LoadedModel, NotARegressionModel
from services.predictor.schemas import (
    PARQUET_RESPONSE_DOC,
    PREDICT_REQUEST_BODY,
    PredictionSchema,
    PredictQuerySchema,
)
from services.predictor.scoring import (
    InputTooLarge,
    Scored,
    json_records,
    parquet_bytes,
    read_parquet,
    score_records,
    score_table,
)
from shared.api import Blueprint
from shared.body_limits import PREDICT_BODY, max_body_bytes
from shared.ids import ID
from shared.media_types import PARQUET

blp = Blueprint("predict", __name__, url_prefix="/api/v1/projects", description="Predictions with a project's model.")

JSON_MEDIA_TYPE = "application/json"
WARNINGS_HEADER = "X-Prediction-Warnings"
MODEL_VERSION_HEADER = "X-Model-Version"


@blp.route(f"/<{ID}:project_id>/predict")
class Predict(MethodView):
    @blp.arguments(PredictQuerySchema, location="query")
    @blp.doc(requestBody=PREDICT_REQUEST_BODY, **PARQUET_RESPONSE_DOC)
    @blp.response(200, PredictionSchema)
    @blp.alt_response(404, description="The pinned model version does not exist.")
    @blp.alt_response(
        409,
        description="No model serves this project yet, its artifact failed its integrity check, it is a forecast "
        "model (ask /forecast), or (with explain) it was trained before explanations were recorded.",
    )
    @blp.alt_response(413, description="More rows or bytes than one request may carry.")
    @blp.alt_response(415, description="Neither application/json nor application/vnd.apache.parquet.")
    @blp.alt_response(422, description="Missing feature columns or values of the wrong type, named per column.")
    @blp.alt_response(503, description="The prediction was not answered in time; retry shortly.")
    def post(self, query: dict[str, Any], project_id: int):
        """Predict with the project's active model (or ?version=N): one object, {"records": [...]}, or parquet."""
        media_type = request.mimetype
        if media_type not in (JSON_MEDIA_TYPE, PARQUET):
            abort(415, message=f"Send {JSON_MEDIA_TYPE} or {PARQUET}.")
        config = current_app.config
        model = regression_model(project_id, query.get("version"))
        request.max_content_length = max_body_bytes(config, PREDICT_BODY, media_type)
        if media_type == PARQUET:
            if query["explain"]:
                raise InputRejected({"explain": ["explanations are given for JSON rows; send the rows as JSON"]})
            return predict_parquet(model, request.get_data(cache=False))
        return predict_json(model, read_json_body(), query["explain"])


def regression_model(project_id: int, version: int | None) -> LoadedModel:
    """The caller's model, which must be a regression model (a forecast model answers /forecast)."""
    model = serving_model(project_id, version)
    if model.facts.task != "regression":
        raise NotARegressionModel(project_id, model.version)
    return model


def read_json_body() -> Any:
    try:
        return request.get_json()
    except RecursionError:
        abort(400, message="The JSON body is nested too deeply.")


def predict_json(model: LoadedModel, body: Any, explain: bool = False) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputRejected({"body": ['send one JSON object of features, or {"records": [...]}']})
    if "records" not in body:
        scored = score_records(model, [body], with_rows=False)
        count_prediction("json", 1)
        answer = {"prediction": scored.predictions[0], "model_version": model.version}
        if explain:
            answer["explanation"] = explanations(model, [body], scored)[0]
        return with_warnings(answer, scored.warnings)
    records = body["records"]
    if not isinstance(records, list):
        raise InputRejected({"records": ["must be a list of JSON objects"]})
    max_rows = current_app.config["PREDICT_MAX_ROWS"]
    if len(records) > max_rows:
        raise InputTooLarge(f"{len(records)} records; at most {max_rows} are scored per request.")
    max_explained = current_app.config["EXPLAIN_MAX_ROWS"]
    if explain and len(records) > max_explained:
        raise InputRejected({"explain": [f"{len(records)} records; at most {max_explained} are explained per request"]})
    scored = score_records(model, records)
    count_prediction("json", len(records))
    answer = {"predictions": scored.predictions, "model_version": model.version}
    if explain:
        answer["explanations"] = explanations(model, records, scored)
    return with_warnings(answer, scored.warnings)


def explanations(model: LoadedModel, records: list[dict[str, Any]], scored: Scored) -> list[dict[str, Any]]:
    """Each row's baseline and contributions (``services.predictor.explanations``), in the answer's shape."""
    background = model.background()
    if background is None or scored.prepared is None:
        raise CannotExplain()
    explained = explain_rows(
        model.predict, scored.prepared, background, scored.predictions, records, model.facts.target
    )
    return [explanation.as_record() for explanation in explained]


def with_warnings(answer: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        answer["warnings"] = warnings
    return answer


def predict_parquet(model: LoadedModel, body: bytes) -> Response:
    """The parquet rows with a prediction column: as parquet, or as JSON records when the client asks for JSON."""
    config = current_app.config
    table = read_parquet(body, config["PREDICT_MAX_ROWS"], config["PREDICT_MAX_DECODED_BYTES"])
    scored = score_table(model, table, config["PREDICT_CHUNK_ROWS"])
    count_prediction("parquet", table.num_rows)
    wants = request.accept_mimetypes.best_match([PARQUET, JSON_MEDIA_TYPE], default=PARQUET)
    if wants == JSON_MEDIA_TYPE:
        tail = with_warnings({"model_version": model.version}, scored.warnings)
        chunks = json_records(scored.table, config["PREDICT_CHUNK_ROWS"])
        return Response(_json_object_stream(chunks, tail), mimetype=JSON_MEDIA_TYPE)
    headers = {MODEL_VERSION_HEADER: str(model.version)}
    if scored.warnings:
        headers[WARNINGS_HEADER] = json.dumps(scored.warnings)[:4000]
    return Response(parquet_bytes(scored.table), mimetype=PARQUET, headers=headers)


def _json_object_stream(records_json, tail: dict[str, Any]):
    yield '{"records": '
    yield from records_json
    for key, value in tail.items():
        yield f", {json.dumps(key)}: {json.dumps(value)}"
    yield "}"
