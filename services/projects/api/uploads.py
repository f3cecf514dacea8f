"""Receiving a dataset upload: a multipart part or the raw body, streamed to disk under the upload byte cap, as
parquet, CSV or Excel (``.xlsx``); CSV and Excel are converted to parquet by the same capped child that profiles."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from flask import Request, current_app, request
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header

from services.projects.metrics import (
    INVALID_FILE,
    MISSING_FILE,
    TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    UPLOAD_BYTES,
    UPLOAD_REJECTIONS,
)
from services.projects.parquet_ingest import IngestedFile, receive_upload, stored_filename
from services.projects.parquet_profile import DatasetLimits, DatasetRejected, UploadTooLarge
from shared.body_limits import MULTIPART, UPLOAD_BODY, max_body_bytes
from shared.media_types import CSV, PARQUET, XLSX
from shared.tabular_files import CSV_FILE, EXCEL_FILE, PARQUET_FILE, kind_of_filename

# Also bounds werkzeug's multipart decoder buffer, which takes 64 KiB reads: keep it well above that.
FORM_FIELD_MAX_BYTES = 256 * 1024
FORM_MAX_PARTS = 16
# The kind of file each accepted media type says.
MEDIA_TYPE_KINDS = {PARQUET: PARQUET_FILE, CSV: CSV_FILE, XLSX: EXCEL_FILE}
ACCEPTED_MEDIA_TYPES = ", ".join(MEDIA_TYPE_KINDS)


class DiskSpooledRequest(Request):
    """File parts of a multipart body go to an unnamed temporary file in UPLOAD_TMP_DIR, never into memory."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return tempfile.TemporaryFile("w+b", dir=current_app.config["UPLOAD_TMP_DIR"])


def allow_upload_body() -> None:
    """Raise this request's body limit from the JSON cap to the upload cap; call before the body is read."""
    request.max_content_length = max_body_bytes(current_app.config, UPLOAD_BODY, request.mimetype)
    request.max_form_memory_size = FORM_FIELD_MAX_BYTES
    request.max_form_parts = FORM_MAX_PARTS


def is_multipart() -> bool:
    return request.mimetype == MULTIPART


def dataset_limits() -> DatasetLimits:
    config = current_app.config
    return DatasetLimits(
        max_bytes=config["UPLOAD_MAX_BYTES"],
        max_rows=config["DATASET_MAX_ROWS"],
        max_columns=config["DATASET_MAX_COLUMNS"],
        max_decoded_bytes=config["DATASET_MAX_DECODED_BYTES"],
        profile_timeout_s=config["DATASET_PROFILE_TIMEOUT_S"],
        preview_rows=config["PREVIEW_MAX_ROWS"],
    )


def _raw_body_filename() -> str | None:
    disposition = request.headers.get("Content-Disposition")
    if not disposition:
        return None
    return parse_options_header(disposition)[1].get("filename")


def _part_kind(filename: str | None, mimetype: str) -> str:
    """A multipart file part's kind: by its name's suffix (browsers label a .csv ``application/vnd.ms-excel`` on
    some systems), else by its content type, else parquet."""
    return kind_of_filename(filename) or MEDIA_TYPE_KINDS.get(mimetype) or PARQUET_FILE


@contextmanager
def received_dataset(file_fields: tuple[str, ...]) -> Iterator[tuple[IngestedFile, str]]:
    """The checked upload, as parquet in a temporary file (removed on leaving), and its sanitized filename.

    Multipart: the first of ``file_fields`` present, of the kind its name or content type says; otherwise the raw
    body, of the kind its content type says (one of ``MEDIA_TYPE_KINDS``; 415 for any other). A rejected file raises
    ``DatasetRejected`` with nothing kept.
    """
    try:
        stream, filename, kind = _uploaded_file(file_fields)
        ingested = receive_upload(stream, dataset_limits(), Path(current_app.config["UPLOAD_TMP_DIR"]), kind)
    except (UploadTooLarge, RequestEntityTooLarge):
        UPLOAD_REJECTIONS.labels(TOO_LARGE).inc()
        raise
    except DatasetRejected:
        UPLOAD_REJECTIONS.labels(INVALID_FILE).inc()
        raise
    UPLOAD_BYTES.labels(kind).observe(ingested.size_bytes)
    try:
        yield ingested, stored_filename(filename, kind)
    finally:
        ingested.path.unlink(missing_ok=True)


def _uploaded_file(file_fields: tuple[str, ...]) -> tuple[IO[bytes], str | None, str]:
    """The upload's stream, its client-given filename and the kind of file it is (``received_dataset`` says how)."""
    if is_multipart():
        part = next((request.files[name] for name in file_fields if name in request.files), None)
        if part is None:
            UPLOAD_REJECTIONS.labels(MISSING_FILE).inc()
            abort(422, errors={file_fields[0]: ["Send the parquet, CSV or .xlsx file in this multipart field."]})
        return part.stream, part.filename, _part_kind(part.filename, part.mimetype)
    if request.mimetype in MEDIA_TYPE_KINDS:
        return request.stream, _raw_body_filename(), MEDIA_TYPE_KINDS[request.mimetype]
    UPLOAD_REJECTIONS.labels(UNSUPPORTED_MEDIA_TYPE).inc()
    abort(415, message=f"Send the file as multipart/form-data or as one of {ACCEPTED_MEDIA_TYPES}.")
