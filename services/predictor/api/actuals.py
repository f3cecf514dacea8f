"""``/api/v1/projects/<id>/actuals``: what really sold, scored by the serving model; the reports, listed and read."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from services.predictor import actuals
from services.predictor.api.predict import JSON_MEDIA_TYPE, read_json_body, regression_model
from services.predictor.input_contract import InputContract, InputRejected
from services.predictor.models import ActualsReport
from services.predictor.schemas import ACTUALS_REQUEST_BODY, ActualsReportSchema, VersionQuerySchema
from services.predictor.scoring import InputTooLarge, read_parquet
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
    @blp.alt_response(409, description="No model serves this project yet, or it is a forecast model.")
    @blp.alt_response(413, description="More rows or bytes than one request may carry.")
    @blp.alt_response(415, description="Neither application/json nor application/vnd.apache.parquet.")
    @blp.alt_response(422, description="Missing feature or target columns, or values of the wrong type.")
    def post(self, query: dict[str, Any], project_id: int) -> ActualsReport:
        """Score rows whose true target is known with the serving model: accuracy, drift, whether to retrain."""
        if request.mimetype not in (JSON_MEDIA_TYPE, PARQUET):
            abort(415, message=f"Send {JSON_MEDIA_TYPE} or {PARQUET}.")
        config = current_app.config
        model = regression_model(project_id, query.get("version"))
        target = model.facts.target
        target_contract = InputContract([{"name": target, "dtype": "float64"}], "", config["PREDICT_MAX_STRING_LENGTH"])
        if request.mimetype == PARQUET:
            request.max_content_length = config["PREDICT_MAX_PARQUET_BYTES"]
            table = read_parquet(
                request.get_data(cache=False), config["PREDICT_MAX_ROWS"], config["PREDICT_MAX_DECODED_BYTES"]
            )
            target_contract.column_warnings(table.column_names)
            model.contract.column_warnings(table.column_names)
            actual = target_contract.prepare_table(table).columns[target]
            prepared = model.contract.prepare_table(table)
        else:
            request.max_content_length = config["PREDICT_MAX_JSON_BYTES"]
            records = _records(read_json_body(), config["PREDICT_MAX_ROWS"])
            actual = target_contract.prepare_records(records).columns[target]
            prepared = model.contract.prepare_records(records)
        predicted = model.predict(prepared)
        report = actuals.accuracy_report(
            np.asarray(actual, dtype="float64"),
            predicted,
            prepared.frame,
            model.facts.metrics.get("holdout", {}),
            model.facts.training_profile,
            config["ACTUALS_ERROR_TOLERANCE"],
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


def _records(body: Any, max_rows: int) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise InputRejected({"records": ['send {"records": [...]}: rows with the features and the true target']})
    records = body["records"]
    if not records:
        raise InputRejected({"records": ["send at least one record"]})
    if len(records) > max_rows:
        raise InputTooLarge(f"{len(records)} records; at most {max_rows} are scored per request.")
    return records
