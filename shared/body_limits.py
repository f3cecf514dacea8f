"""How large a request body may be, by what the route takes and the body's media type: one rule for the gateway
(which refuses a larger declared Content-Length before reading a byte, and cuts a chunked body at the cap) and for
the services (which cap what they read)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.media_types import CSV, PARQUET, XLSX

MULTIPART = "multipart/form-data"
# Room for the boundaries and the small text fields around the file part of a multipart upload.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

JSON_BODY = "json"  # every other route: a JSON body
UPLOAD_BODY = "upload"  # creating a project or a dataset: a parquet, CSV or .xlsx file, raw or in a multipart form
PREDICT_BODY = "predict"  # the predictor's routes: JSON rows or a parquet file
UPLOAD_FILE_TYPES = (PARQUET, CSV, XLSX)


def max_body_bytes(config: Mapping[str, Any], kind: str, media_type: str | None) -> int:
    if kind == UPLOAD_BODY and media_type == MULTIPART:
        return config["UPLOAD_MAX_BYTES"] + MULTIPART_OVERHEAD_BYTES
    if kind == UPLOAD_BODY and media_type in UPLOAD_FILE_TYPES:
        return config["UPLOAD_MAX_BYTES"]
    if kind == PREDICT_BODY:
        return config["PREDICT_MAX_PARQUET_BYTES"] if media_type == PARQUET else config["PREDICT_MAX_JSON_BYTES"]
    return config["MAX_JSON_BYTES"]
