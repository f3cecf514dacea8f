"""``POST /api/v1/projects/<id>/what-if``: a base row with one or two columns varied, scored in one call."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from services.predictor.api.predict import regression_model
from services.predictor.schemas import VersionQuerySchema, WhatIfRequestSchema, WhatIfSchema
from services.predictor.scoring import score_records
from services.predictor.what_if import check_revenue_column, curve, grid, varied_values
from shared.api import Blueprint
from shared.ids import ID

blp = Blueprint("what-if", __name__, url_prefix="/api/v1/projects", description="What-if curves and the best price.")


@blp.route(f"/<{ID}:project_id>/what-if")
class WhatIf(MethodView):
    @blp.arguments(VersionQuerySchema, location="query")
    @blp.arguments(WhatIfRequestSchema)
    @blp.response(200, WhatIfSchema)
    @blp.alt_response(404, description="The pinned model version does not exist.")
    @blp.alt_response(409, description="No model serves this project yet, or it is a forecast model.")
    @blp.alt_response(
        422, description="An unknown or non-numeric column, too many points, or base values of the wrong type."
    )
    def post(self, query: dict[str, Any], body: dict[str, Any], project_id: int) -> dict[str, Any]:
        """Predictions as one or two columns vary (e.g. the price), and with revenue_of the revenue-maximising value."""
        model = regression_model(project_id, query.get("version"))
        values = varied_values(body["vary"], model.contract, current_app.config["WHAT_IF_MAX_POINTS"])
        check_revenue_column(body.get("revenue_of"), body["base"], values, model.contract)
        rows = grid(body["base"], values)
        score_records(model, rows[:1], with_rows=False)  # a bad base row named once, not once per point
        scored = score_records(model, rows)
        answer = curve(rows, values, scored.predictions, body.get("revenue_of"), scored.warnings)
        result: dict[str, Any] = {"model_version": model.version, "points": answer.points}
        if answer.best is not None:
            result["best"] = answer.best
        if answer.warnings:
            result["warnings"] = answer.warnings
        return result
