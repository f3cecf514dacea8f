"""``POST /api/v1/projects/<id>/predict``: score one JSON object, JSON records, or a parquet file."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort

from services.predictor.input_contract import InputRejected
from services.predictor.model_cache import LoadedModel, find_serving_version
from services.predictor.schemas import (
    PARQUET_MEDIA_TYPE,
    PARQUET_RESPONSE_DOC,
    PREDICT_REQUEST_BODY,
    PredictionSchema,
    PredictQuerySchema,
)
from services.predictor.scoring import (
    InputTooLarge,
    json_records,
    parquet_bytes,
    read_parquet,
    score_records,
    score_table,
)
from shared.api import Blueprint
from shared.body_limits import PREDICT_BODY, max_body_bytes
from shared.ids import ID
from shared.internal_auth import current_user_id

blp = Blueprint("predict", __name__, url_prefix="/api/v1/projects", description="Predictions with a project's model.")

JSON_MEDIA_TYPE = "application/json"
MODEL_CACHE_EXTENSION = "predictor.models"
WARNINGS_HEADER = "X-Prediction-Warnings"
MODEL_VERSION_HEADER = "X-Model-Version"


@blp.route(f"/<{ID}:project_id>/predict")
class Predict(MethodView):
    @blp.arguments(PredictQuerySchema, location="query")
    @blp.doc(requestBody=PREDICT_REQUEST_BODY, **PARQUET_RESPONSE_DOC)
    @blp.response(200, PredictionSchema)
    @blp.alt_response(404, description="The pinned model version does not exist.")
    @blp.alt_response(409, description="No model serves this project yet, or its artifact failed its integrity check.")
    @blp.alt_response(413, description="More rows or bytes than one request may carry.")
    @blp.alt_response(415, description="Neither application/json nor application/vnd.apache.parquet.")
    @blp.alt_response(422, description="Missing feature columns or values of the wrong type, named per column.")
    @blp.alt_response(503, description="The prediction was not answered in time; retry shortly.")
    def post(self, query: dict[str, Any], project_id: int):
        """Predict with the project's active model (or ?version=N): one object, {"records": [...]}, or parquet."""
        media_type = request.mimetype
        if media_type not in (JSON_MEDIA_TYPE, PARQUET_MEDIA_TYPE):
            abort(415, message=f"Send {JSON_MEDIA_TYPE} or {PARQUET_MEDIA_TYPE}.")
        config = current_app.config
        model = serving_model(project_id, query.get("version"))
        request.max_content_length = max_body_bytes(config, PREDICT_BODY, media_type)
        if media_type == PARQUET_MEDIA_TYPE:
            return predict_parquet(model, request.get_data(cache=False))
        return predict_json(model, read_json_body())


def serving_model(project_id: int, version: int | None) -> LoadedModel:
    """The caller's model for the project: ``NoServingModel``, ``ModelVersionNotFound``, ``ModelUnusable``."""
    serving = find_serving_version(project_id, current_user_id(), version)
    return current_app.extensions[MODEL_CACHE_EXTENSION].get(serving)


def read_json_body() -> Any:
    try:
        return request.get_json()
    except RecursionError:
        abort(400, message="The JSON body is nested too deeply.")


def predict_json(model: LoadedModel, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputRejected({"body": ['send one JSON object of features, or {"records": [...]}']})
    if "records" not in body:
        scored = score_records(model, [body], with_rows=False)
        return with_warnings({"prediction": scored.predictions[0], "model_version": model.version}, scored.warnings)
    records = body["records"]
    if not isinstance(records, list):
        raise InputRejected({"records": ["must be a list of JSON objects"]})
    max_rows = current_app.config["PREDICT_MAX_ROWS"]
    if len(records) > max_rows:
        raise InputTooLarge(f"{len(records)} records; at most {max_rows} are scored per request.")
    scored = score_records(model, records)
    return with_warnings({"predictions": scored.predictions, "model_version": model.version}, scored.warnings)


def with_warnings(answer: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        answer["warnings"] = warnings
    return answer


def predict_parquet(model: LoadedModel, body: bytes) -> Response:
    """The parquet rows with a prediction column: as parquet, or as JSON records when the client asks for JSON."""
    config = current_app.config
    table = read_parquet(body, config["PREDICT_MAX_ROWS"], config["PREDICT_MAX_DECODED_BYTES"])
    scored = score_table(model, table, config["PREDICT_CHUNK_ROWS"])
    wants = request.accept_mimetypes.best_match([PARQUET_MEDIA_TYPE, JSON_MEDIA_TYPE], default=PARQUET_MEDIA_TYPE)
    if wants == JSON_MEDIA_TYPE:
        tail = with_warnings({"model_version": model.version}, scored.warnings)
        chunks = json_records(scored.table, config["PREDICT_CHUNK_ROWS"])
        return Response(_json_object_stream(chunks, tail), mimetype=JSON_MEDIA_TYPE)
    headers = {MODEL_VERSION_HEADER: str(model.version)}
    if scored.warnings:
        headers[WARNINGS_HEADER] = json.dumps(scored.warnings)[:4000]
    return Response(parquet_bytes(scored.table), mimetype=PARQUET_MEDIA_TYPE, headers=headers)


def _json_object_stream(records_json, tail: dict[str, Any]):
    yield '{"records": '
    yield from records_json
    for key, value in tail.items():
        yield f", {json.dumps(key)}: {json.dumps(value)}"
    yield "}"
