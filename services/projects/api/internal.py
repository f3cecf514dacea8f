"""Routes for other services only (never routed by the gateway, never in the public OpenAPI document)."""

from uuid import UUID

from flask import Blueprint, jsonify, request

from services.projects import dataset_store, project_store
from shared.ids import ID
from shared.internal_auth import current_user_id

blp = Blueprint("internal", __name__, url_prefix="/internal")


@blp.get(f"/projects/<{ID}:project_id>")
def project_owner(project_id: int):
    """The project if the internal token's user owns it (the gateway's ownership check); 404 otherwise."""
    project = project_store.owned_project(current_user_id(), project_id)
    return jsonify(id=project.id, owner_id=project.owner_id, name=project.name, target=project.target)


@blp.get(f"/projects/<{ID}:project_id>/training-input")
def training_input(project_id: int):
    """The dataset to train on (``?dataset_id=``, default the latest); 404 if not the caller's, 409 if none."""
    project = project_store.owned_project(current_user_id(), project_id)
    dataset_id = request.args.get("dataset_id")
    if dataset_id is not None:
        try:
            dataset_id = str(UUID(dataset_id))
        except ValueError:
            raise dataset_store.DatasetNotFound() from None
    return jsonify(dataset_store.training_input(project, dataset_id))
