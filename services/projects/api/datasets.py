"""``/api/v1/projects/<id>/datasets``: upload parquet files, list, inspect, preview and delete them."""

from __future__ import annotations

from uuid import UUID

from flask import current_app
from flask.views import MethodView

from services.projects import dataset_store, project_store
from services.projects.api.uploads import allow_upload_body, received_parquet
from services.projects.schemas import DatasetSchema, DatasetUploadFormSchema, PreviewQuerySchema, PreviewSchema
from shared.api import Blueprint
from shared.db import db
from shared.ids import ID
from shared.internal_auth import current_user_id
from shared.media_types import PARQUET
from shared.pagination import paginate

blp = Blueprint(
    "datasets",
    __name__,
    url_prefix=f"/api/v1/projects/<{ID}:project_id>/datasets",
    description="Parquet datasets of a project.",
)

UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": DatasetUploadFormSchema},
        PARQUET: {"schema": {"type": "string", "format": "binary"}},
    },
}


@blp.route("/")
class Datasets(MethodView):
    @blp.response(200, DatasetSchema(many=True))
    @paginate(blp, page_size=100)
    def get(self, project_id, pagination_parameters):
        """The project's datasets, newest first (page_size at most PAGE_SIZE_MAX, else 422)."""
        project = project_store.owned_project(current_user_id(), project_id)
        datasets, total = dataset_store.list_datasets(
            project, offset=pagination_parameters.first_item, limit=pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return datasets

    @blp.doc(requestBody=UPLOAD_REQUEST_BODY)
    @blp.response(201, DatasetSchema)
    @blp.alt_response(413, description="Over the upload size limit; nothing stored.")
    @blp.alt_response(415, description="Neither multipart/form-data nor application/vnd.apache.parquet.")
    @blp.alt_response(
        422,
        description="Not a readable parquet file, no rows, over the row/column limits, or nested "
        "or extension column types; nothing stored.",
    )
    @blp.alt_response(503, description="The object store is unavailable; nothing stored.")
    def post(self, project_id):
        """Upload a parquet file (multipart field 'file' or 'data_file', or the raw body)."""
        project_store.owned_project(current_user_id(), project_id)
        # Streaming, profiling and storing the file may take minutes: hold no database connection meanwhile.
        db.session.close()
        allow_upload_body()
        with received_parquet(("file", "data_file")) as (ingested, filename):
            return dataset_store.store_dataset(project_id, ingested, filename, current_app.extensions["object_store"])


@blp.route("/<uuid:dataset_id>")
class DatasetById(MethodView):
    @blp.response(200, DatasetSchema)
    def get(self, project_id, dataset_id: UUID):
        """One dataset with its column profile."""
        return dataset_store.owned_dataset(current_user_id(), project_id, str(dataset_id))

    @blp.response(204)
    @blp.alt_response(503, description="The object store is unavailable; nothing was deleted.")
    def delete(self, project_id, dataset_id: UUID):
        """Delete a dataset and its file."""
        dataset = dataset_store.owned_dataset(current_user_id(), project_id, str(dataset_id))
        dataset_store.delete_dataset(dataset, current_app.extensions["object_store"])


@blp.route("/<uuid:dataset_id>/preview")
class DatasetPreview(MethodView):
    @blp.arguments(PreviewQuerySchema, location="query")
    @blp.response(200, PreviewSchema)
    def get(self, query, project_id, dataset_id: UUID):
        """The first rows of a dataset as JSON records (limit at most PREVIEW_MAX_ROWS)."""
        dataset = dataset_store.owned_dataset(current_user_id(), project_id, str(dataset_id))
        limit = min(query["limit"], current_app.config["PREVIEW_MAX_ROWS"])
        return dataset_store.read_preview(dataset, current_app.extensions["object_store"], limit)
