"""``/api/v1/projects/<id>/datasets``: upload datasets (parquet, or CSV and Excel converted to parquet), list,
inspect, preview and delete them."""

from __future__ import annotations

import itertools
from uuid import UUID

from flask import Response, current_app
from flask.views import MethodView

from services.projects import dataset_store, project_store
from services.projects.api.uploads import allow_upload_body, received_dataset
from services.projects.schemas import DatasetSchema, DatasetUploadFormSchema, PreviewQuerySchema, PreviewSchema
from shared.api import Blueprint
from shared.db import db
from shared.http_headers import content_disposition
from shared.ids import ID
from shared.internal_auth import current_user_id
from shared.media_types import CSV, PARQUET, XLSX
from shared.pagination import paginate

blp = Blueprint(
    "datasets",
    __name__,
    url_prefix=f"/api/v1/projects/<{ID}:project_id>/datasets",
    description="Datasets of a project, stored as parquet (CSV and .xlsx uploads are converted).",
)

BINARY_FILE = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_REQUEST_BODY = {
    "required": True,
    "description": "The dataset as parquet, as CSV (separator `,` `;` tab or `|`, decimal point or decimal comma "
    "and UTF-8 or Windows-1252, detected from the first 64 KiB) or as an .xlsx workbook (its first sheet; the "
    "first row names the columns). CSV and .xlsx are converted to parquet on the server: the dataset's filename "
    "becomes `<name>.parquet` and its size_bytes and sha256 are those of the stored parquet file. A multipart part "
    "is read as the kind its filename's suffix says (.parquet, .csv, .xlsx), else its content type, else parquet.",
    "content": {
        "multipart/form-data": {"schema": DatasetUploadFormSchema},
        PARQUET: BINARY_FILE,
        CSV: BINARY_FILE,
        XLSX: BINARY_FILE,
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
    @blp.alt_response(415, description=f"Neither multipart/form-data nor one of {', '.join((PARQUET, CSV, XLSX))}.")
    @blp.alt_response(
        422,
        description="Not a readable parquet, CSV or .xlsx file, no rows, over the row/column limits, or nested "
        "or extension column types; nothing stored.",
    )
    @blp.alt_response(503, description="The object store is unavailable; nothing stored.")
    def post(self, project_id):
        """Upload a parquet, CSV or .xlsx file (multipart field 'file' or 'data_file', or the raw body)."""
        project_store.owned_project(current_user_id(), project_id)
        # Streaming, profiling and storing the file may take minutes: hold no database connection meanwhile.
        db.session.close()
        allow_upload_body()
        with received_dataset(("file", "data_file")) as (ingested, filename):
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


@blp.route("/<uuid:dataset_id>/download")
class DatasetDownload(MethodView):
    @blp.doc(responses={200: {"description": "the stored parquet file", "content": {PARQUET: BINARY_FILE}}})
    @blp.alt_response(503, description="The object store is unavailable.")
    def get(self, project_id, dataset_id: UUID):
        """The dataset's file as it is stored (the uploaded parquet), under its uploaded file name."""
        dataset = dataset_store.owned_dataset(current_user_id(), project_id, str(dataset_id))
        chunks = dataset_store.stream_file(dataset, current_app.extensions["object_store"])
        first = next(chunks, b"")  # an object store that is down fails here, as a 503, before the answer starts
        body = itertools.chain([first], chunks)
        headers = {
            "Content-Length": str(dataset.size_bytes),
            "Content-Disposition": content_disposition(dataset.filename),
        }
        return Response(body, mimetype=PARQUET, headers=headers)


@blp.route("/<uuid:dataset_id>/preview")
class DatasetPreview(MethodView):
    @blp.arguments(PreviewQuerySchema, location="query")
    @blp.response(200, PreviewSchema)
    def get(self, query, project_id, dataset_id: UUID):
        """The first rows of a dataset as JSON records (limit at most PREVIEW_MAX_ROWS)."""
        dataset = dataset_store.owned_dataset(current_user_id(), project_id, str(dataset_id))
        limit = min(query["limit"], current_app.config["PREVIEW_MAX_ROWS"])
        return dataset_store.read_preview(dataset, current_app.extensions["object_store"], limit)
