"""``/api/v1/projects/<id>/actuals``: what really sold, scored by the serving model; the reports, listed and read."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from services.predictor import actuals
from services.predictor.api.predict import JSON_MEDIA_TYPE, read_json_body
from services.predictor.extensions import serving_model
from services.predictor.input_contract import InputContract, InputRejected
from services.predictor.models import ActualsReport
from services.predictor.schemas import ACTUALS_REQUEST_BODY, ActualsReportSchema, VersionQuerySchema
from services.predictor.scoring import InputTooLarge, plain_table, read_parquet
from shared.api import Blueprint
from shared.ids import ID
from shared.internal_auth import current_user_id
from shared.media_types import PARQUET
from shared.pagination import paginate

blp = Blueprint("actuals", __name__, url_prefix="/api/v1/projects", description="Actuals: is the model still right?")


@blp.route(f"/<{ID}:project_id>/actuals")
class Actuals(MethodView):
    @blp.arguments(VersionQuerySchema, location="query")
    @blp.doc(requestBody=ACTUALS_REQUEST_BODY)
    @blp.response(201, ActualsReportSchema)
    @blp.alt_response(404, description="The pinned model version does not exist.")
    @blp.alt_response(409, description="No model serves this project yet.")
    @blp.alt_response(413, description="More rows or bytes than one request may carry.")
    @blp.alt_response(415, description="Neither application/json nor application/vnd.apache.parquet.")
    @blp.alt_response(
        422,
        description="Missing feature, series, date or target columns, values of the wrong type, or (forecast) dates "
        "outside the forecast's horizon.",
    )
    def post(self, query: dict[str, Any], project_id: int) -> ActualsReport:
        """Score rows whose true target is known with the serving model: accuracy, drift, whether to retrain.

        A regression model's rows carry its features; a forecast model's carry the series columns, the date (within
        the horizon after the training data's end) and its known-future columns."""
        if request.mimetype not in (JSON_MEDIA_TYPE, PARQUET):
            abort(415, message=f"Send {JSON_MEDIA_TYPE} or {PARQUET}.")
        model = serving_model(project_id, query.get("version"))
        rows = _parquet_rows() if request.mimetype == PARQUET else _json_rows()
        tolerance = current_app.config["ACTUALS_ERROR_TOLERANCE"]
        if model.facts.task == "forecast":
            table = rows.to_pandas() if isinstance(rows, pa.Table) else rows
            report = actuals.forecast_report(model.pipeline, table, tolerance)
            return actuals.save_report(current_user_id(), project_id, model.version, len(table), report)
        target = model.facts.target
        target_contract = InputContract(
            [{"name": target, "dtype": "float64"}], "", current_app.config["PREDICT_MAX_STRING_LENGTH"]
        )
        if isinstance(rows, pa.Table):
            target_contract.column_warnings(rows.column_names)
            model.contract.column_warnings(rows.column_names)
            actual = target_contract.prepare_table(rows).columns[target]
            prepared = model.contract.prepare_table(rows)
        else:
            actual = target_contract.prepare_records(rows).columns[target]
            prepared = model.contract.prepare_records(rows)
        predicted = model.predict(prepared)
        report = actuals.regression_report(
            np.asarray(actual, dtype="float64"),
            predicted,
            prepared.frame,
            model.facts.metrics.get("holdout", {}),
            model.facts.training_profile,
            tolerance,
        )
        return actuals.save_report(current_user_id(), project_id, model.version, len(predicted), report)

    @blp.response(200, ActualsReportSchema(many=True))
    @paginate(blp, page_size=20)
    def get(self, project_id: int, pagination_parameters: PaginationParameters) -> list[ActualsReport]:
        """The project's actuals reports, newest first (page_size at most PAGE_SIZE_MAX, else 422)."""
        reports, total = actuals.list_reports(
            current_user_id(), project_id, pagination_parameters.first_item, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return reports


@blp.route(f"/<{ID}:project_id>/actuals/<{ID}:report_id>")
class ActualsReportById(MethodView):
    @blp.response(200, ActualsReportSchema)
    @blp.alt_response(404, description="No such report in this project.")
    def get(self, project_id: int, report_id: int) -> ActualsReport:
        """One actuals report."""
        return actuals.find_report(current_user_id(), project_id, report_id)


def _parquet_rows() -> pa.Table:
    config = current_app.config
    request.max_content_length = config["PREDICT_MAX_PARQUET_BYTES"]
    table = read_parquet(request.get_data(cache=False), config["PREDICT_MAX_ROWS"], config["PREDICT_MAX_DECODED_BYTES"])
    return plain_table(table)  # the reports read it as pandas, text as text


def _json_rows() -> list[dict[str, Any]]:
    config = current_app.config
    request.max_content_length = config["PREDICT_MAX_JSON_BYTES"]
    body = read_json_body()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise InputRejected(
            {"records": ['send {"records": [...]}: rows with the features (or series and date) and the true target']}
        )
    records = body["records"]
    if not records:
        raise InputRejected({"records": ["send at least one record"]})
    if len(records) > config["PREDICT_MAX_ROWS"]:
        raise InputTooLarge(f"{len(records)} records; at most {config['PREDICT_MAX_ROWS']} are scored per request.")
    return records
