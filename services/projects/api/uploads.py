"""Receiving a parquet upload: a multipart part or the raw body, streamed to disk under the upload byte cap."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from flask import Request, current_app, request
from flask_smorest import abort
from werkzeug.http import parse_options_header

from services.projects.parquet_ingest import DatasetLimits, IngestedFile, receive_upload, sanitize_filename
from shared.body_limits import MULTIPART, UPLOAD_BODY, max_body_bytes
from shared.media_types import PARQUET

# Also bounds werkzeug's multipart decoder buffer, which takes 64 KiB reads: keep it well above that.
FORM_FIELD_MAX_BYTES = 256 * 1024
FORM_MAX_PARTS = 16


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


@contextmanager
def received_parquet(file_fields: tuple[str, ...]) -> Iterator[tuple[IngestedFile, str]]:
    """The checked upload in a temporary file (removed on leaving) and its sanitized filename.

    Multipart: the first of ``file_fields`` present; otherwise the raw body as ``application/vnd.apache.parquet``
    (415 for any other content type). A rejected file raises ``DatasetRejected`` with nothing kept.
    """
    if is_multipart():
        part = next((request.files[name] for name in file_fields if name in request.files), None)
        if part is None:
            abort(422, errors={file_fields[0]: ["Send the parquet file in this multipart field."]})
        stream, filename = part.stream, part.filename
    elif request.mimetype == PARQUET:
        stream, filename = request.stream, _raw_body_filename()
    else:
        abort(415, message=f"Send the parquet file as multipart/form-data or as {PARQUET}.")
    ingested = receive_upload(stream, dataset_limits(), Path(current_app.config["UPLOAD_TMP_DIR"]))
    try:
        yield ingested, sanitize_filename(filename)
    finally:
        ingested.path.unlink(missing_ok=True)
