"""Training runs of a project: start one, list them, read one, cancel one."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.pagination import PaginationParameters

from services.trainer import runs
from services.trainer.schemas import TrainingRunSchema, TrainRequestSchema
from services.trainer.training_input import fetch_training_input, problems_with_dataset
from shared.internal_auth import current_user_id
from shared.pagination import paginate
from shared.training_records import TrainingRun

blp = Blueprint("training", __name__, url_prefix="/api/v1/projects", description="Training runs (AutoML)")

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
RUN_NOT_FOUND = "Training run not found."


def run_location(run: TrainingRun) -> str:
    return f"/api/v1/projects/{run.project_id}/training-runs/{run.id}"


@blp.route("/<int:project_id>/train")
class Train(MethodView):
    @blp.arguments(TrainRequestSchema)
    @blp.response(202, TrainingRunSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(404, description="Project or dataset not found")
    @blp.alt_response(409, description="The project has no dataset yet")
    @blp.alt_response(429, description="Too many queued or running runs")
    @blp.alt_response(503, description="The projects service is unavailable")
    def post(self, body: dict[str, Any], project_id: int) -> tuple[TrainingRun, dict[str, str]]:
        """Queue a training run; 422 (nothing queued) when the dataset cannot be trained with these parameters.

        An ``Idempotency-Key`` header (up to 128 characters) makes a retried request return the run it created.
        """
        user_id = current_user_id()
        config = current_app.config
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "").strip() or None
        if key is not None and len(key) > 128:
            abort(422, message="The Idempotency-Key header is longer than 128 characters.")
        try:
            existing = runs.existing_run_for_key(user_id, project_id, key)
        except runs.IdempotencyKeyReused:
            abort(409, message="This Idempotency-Key was already used for another project's run.")
        if existing is not None:
            return existing, {"Location": run_location(existing)}
        training_input = fetch_training_input(project_id, user_id, body.get("dataset_id"))
        target = body.get("target") or training_input.target
        problems = problems_with_dataset(
            training_input,
            target,
            body["folds"],
            config["TRAINING_MIN_ROWS"],
            config["TRAINING_MAX_MISSING_TARGET_SHARE"],
        )
        if problems:
            abort(422, message="This dataset cannot be trained with these settings.", errors=problems)
        params = {
            "target": target,
            "dataset_id": training_input.dataset_id,
            "include": body.get("include"),
            "exclude": body.get("exclude"),
            "folds": body["folds"],
            "sort": body["sort"],
            "time_budget_s": body.get("time_budget_s", config["TRAINING_DEFAULT_TIME_BUDGET_S"]),
            "seed": body["seed"],
            "object_key": training_input.object_key,
        }
        try:
            run = runs.create_run(
                user_id,
                project_id,
                training_input.dataset_id,
                params,
                key,
                config["TRAINING_MAX_ACTIVE_RUNS_PER_USER"],
            )
        except runs.TooManyActiveRuns as too_many:
            abort(
                429,
                message=f"You already have {too_many.args[0]} training runs queued or running; wait for one to "
                "finish or cancel one.",
            )
        except runs.IdempotencyKeyReused:
            abort(409, message="This Idempotency-Key was already used for another project's run.")
        return run, {"Location": run_location(run)}


@blp.route("/<int:project_id>/training-runs")
class TrainingRuns(MethodView):
    @blp.response(200, TrainingRunSchema(many=True))
    @paginate(blp, page_size=20)
    def get(self, project_id: int, pagination_parameters: PaginationParameters) -> list[TrainingRun]:
        """The project's training runs, newest first (page_size at most PAGE_SIZE_MAX, else 422)."""
        page, total = runs.list_runs(
            current_user_id(), project_id, pagination_parameters.first_item, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return page


@blp.route("/<int:project_id>/training-runs/<int:run_id>")
class TrainingRunById(MethodView):
    @blp.response(200, TrainingRunSchema)
    @blp.alt_response(404, description="No such run in this project")
    def get(self, project_id: int, run_id: int) -> TrainingRun:
        """One training run: status, stage, progress, leaderboard, error."""
        return _find_run_or_404(project_id, run_id)


@blp.route("/<int:project_id>/training-runs/<int:run_id>/cancel")
class CancelTrainingRun(MethodView):
    @blp.response(202, TrainingRunSchema)
    @blp.alt_response(404, description="No such run in this project")
    @blp.alt_response(409, description="The run already finished")
    def post(self, project_id: int, run_id: int) -> TrainingRun:
        """Cancel a run: a queued one at once, a running one within seconds (its training is killed)."""
        run = _find_run_or_404(project_id, run_id)
        try:
            return runs.request_cancel(run)
        except runs.RunAlreadyFinished as finished:
            abort(409, message=f"This run already finished ({finished.args[0]}); there is nothing to cancel.")


def _find_run_or_404(project_id: int, run_id: int) -> TrainingRun:
    run = runs.find_run(current_user_id(), project_id, run_id)
    if run is None:
        abort(404, message=RUN_NOT_FOUND)
    return run
