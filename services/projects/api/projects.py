"""``/api/v1/projects``: the caller's projects (a project can be created together with its first dataset)."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from services.projects import dataset_store, project_store
from services.projects.api.errors import ProjectPartlyDeleted
from services.projects.api.uploads import allow_upload_body, is_multipart, received_dataset
from services.projects.schemas import (
    ProjectCreateFormSchema,
    ProjectCreateSchema,
    ProjectSchema,
    ProjectUpdateSchema,
)
from services.projects.trainer_client import delete_project_training
from shared.api import Blueprint
from shared.ids import ID
from shared.internal_auth import current_user_id, internal_headers
from shared.pagination import paginate
from shared.service_client import service_client
from shared.storage import ObjectStoreUnavailable

blp = Blueprint("projects", __name__, url_prefix="/api/v1/projects", description="Projects and their status.")

CREATE_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ProjectCreateSchema},
        "multipart/form-data": {"schema": ProjectCreateFormSchema},
    },
}


@blp.route("/")
class Projects(MethodView):
    @blp.response(200, ProjectSchema(many=True))
    @paginate(blp, page_size=10)
    def get(self, pagination_parameters):
        """The caller's projects, newest first (page_size at most PAGE_SIZE_MAX, else 422)."""
        owner_id = current_user_id()
        projects, total = project_store.list_projects(
            owner_id, offset=pagination_parameters.first_item, limit=pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return project_store.describe_projects(owner_id, projects)

    @blp.doc(requestBody=CREATE_REQUEST_BODY)
    @blp.response(201, ProjectSchema)
    @blp.alt_response(413, description="The data file is over the upload size limit.")
    @blp.alt_response(415, description="Neither JSON nor multipart/form-data.")
    @blp.alt_response(
        422,
        description="Invalid fields, or a data file that is not a readable parquet, CSV or .xlsx file, has no "
        "rows, is over the row/column limits or has nested or extension column types; nothing stored.",
    )
    def post(self):
        """Create a project from JSON, or from multipart/form-data with its first dataset in 'data_file'."""
        owner_id = current_user_id()
        parser = blp.ARGUMENTS_PARSER
        if is_multipart():
            allow_upload_body()
            fields = parser.parse(ProjectCreateSchema(), request, location="form")
            with received_dataset(("data_file",)) as (ingested, filename):
                project = project_store.new_project(owner_id, **fields)
                dataset_store.store_dataset(project.id, ingested, filename, current_app.extensions["object_store"])
        elif request.is_json:
            fields = parser.parse(ProjectCreateSchema(), request, location="json")
            project = project_store.create_project(owner_id, **fields)
        else:
            abort(415, message="Send the project as application/json, or as multipart/form-data with 'data_file'.")
        return project_store.describe_project(project)


@blp.route(f"/<{ID}:project_id>")
class ProjectById(MethodView):
    @blp.response(200, ProjectSchema)
    def get(self, project_id):
        """One project (404 if it is missing or not the caller's)."""
        return project_store.describe_project(project_store.owned_project(current_user_id(), project_id))

    @blp.arguments(ProjectUpdateSchema)
    @blp.response(200, ProjectSchema)
    def patch(self, changes, project_id):
        """Change a project's name, description or target."""
        project = project_store.owned_project(current_user_id(), project_id)
        return project_store.describe_project(project_store.update_project(project, changes))

    @blp.response(204)
    @blp.alt_response(
        503,
        description="The trainer or the object store is unavailable. Nothing was deleted, unless the message says "
        "the training records were: then retry the DELETE to finish.",
    )
    def delete(self, project_id):
        """Delete a project with its datasets (and their files), training runs and models."""
        owner_id = current_user_id()
        project = project_store.owned_project(owner_id, project_id)
        object_store = current_app.extensions["object_store"]
        object_store.check()  # a store that is down fails the DELETE before the trainer deletes anything
        project_store.begin_deletion(project)
        try:
            delete_project_training(service_client(), project.id, internal_headers("trainer", owner_id))
        except BaseException:
            project_store.abandon_deletion(project)
            raise
        try:
            project_store.delete_project(project, object_store)
        except ObjectStoreUnavailable as exc:
            raise ProjectPartlyDeleted() from exc
