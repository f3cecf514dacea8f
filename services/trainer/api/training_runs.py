"""Training runs of a project: start one, list them, read one, cancel one."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from services.trainer import run_queue
from services.trainer.schemas import TrainingRunSchema, TrainRequestSchema
from shared.api import Blueprint
from shared.domain_errors import TrainingRunNotFound
from shared.ids import ID
from shared.internal_auth import current_user_id
from shared.pagination import paginate
from shared.training_records import TrainingRun

blp = Blueprint("training", __name__, url_prefix="/api/v1/projects", description="Training runs (AutoML)")

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def run_location(run: TrainingRun) -> str:
    return f"/api/v1/projects/{run.project_id}/training-runs/{run.id}"


@blp.route(f"/<{ID}:project_id>/train")
class Train(MethodView):
    @blp.arguments(TrainRequestSchema)
    @blp.response(202, TrainingRunSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(404, description="Project or dataset not found")
    @blp.alt_response(409, description="The project has no dataset yet")
    @blp.alt_response(
        422, description="The dataset cannot be trained with these settings, or the Idempotency-Key was used elsewhere"
    )
    @blp.alt_response(429, description="Too many queued or running runs")
    @blp.alt_response(503, description="The projects service is unavailable")
    def post(self, body: dict[str, Any], project_id: int) -> tuple[TrainingRun, dict[str, str]]:
        """Queue a training run; 422 (nothing queued) when the dataset cannot be trained with these parameters.

        An ``Idempotency-Key`` header (up to 128 characters) makes a retried request return the run it created.
        """
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "").strip() or None
        if key is not None and len(key) > 128:
            abort(422, message="The Idempotency-Key header is longer than 128 characters.")
        config, store = current_app.config, current_app.extensions["object_store"]
        run = run_queue.queue_run(current_user_id(), project_id, body, key, config, store)
        return run, {"Location": run_location(run)}


@blp.route(f"/<{ID}:project_id>/training-runs")
class TrainingRuns(MethodView):
    @blp.response(200, TrainingRunSchema(many=True))
    @paginate(blp, page_size=20)
    def get(self, project_id: int, pagination_parameters: PaginationParameters) -> list[TrainingRun]:
        """The project's training runs, newest first (page_size at most PAGE_SIZE_MAX, else 422)."""
        page, total = run_queue.list_runs(
            current_user_id(), project_id, pagination_parameters.first_item, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return page


@blp.route(f"/<{ID}:project_id>/training-runs/<{ID}:run_id>")
class TrainingRunById(MethodView):
    @blp.response(200, TrainingRunSchema)
    @blp.alt_response(404, description="No such run in this project")
    def get(self, project_id: int, run_id: int) -> TrainingRun:
        """One training run: status, stage, progress, leaderboard, error."""
        return _find_run_or_404(project_id, run_id)


@blp.route(f"/<{ID}:project_id>/training-runs/<{ID}:run_id>/cancel")
class CancelTrainingRun(MethodView):
    @blp.response(202, TrainingRunSchema)
    @blp.alt_response(404, description="No such run in this project")
    @blp.alt_response(409, description="The run already finished")
    def post(self, project_id: int, run_id: int) -> TrainingRun:
        """Cancel a run: a queued one at once, a running one within seconds (its training is killed)."""
        return run_queue.request_cancel(_find_run_or_404(project_id, run_id))


def _find_run_or_404(project_id: int, run_id: int) -> TrainingRun:
    run = run_queue.find_run(current_user_id(), project_id, run_id)
    if run is None:
        raise TrainingRunNotFound()
    return run
