"""Routes for other services only (never routed by the gateway, never in the public OpenAPI document)."""

from __future__ import annotations

from flask import Blueprint, Response

from services.trainer import run_queue
from shared.ids import ID
from shared.internal_auth import current_user_id

blp = Blueprint("internal", __name__, url_prefix="/internal")


@blp.delete(f"/projects/<{ID}:project_id>/training")
def delete_project_training(project_id: int) -> Response:
    """Before a project is deleted: stop its runs and delete its runs and model versions (the caller's only)."""
    run_queue.delete_project_training(current_user_id(), project_id)
    return Response(status=204)
