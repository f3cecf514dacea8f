"""The projects service's own Prometheus metrics (each app's request metrics are ``shared.metrics``')."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TOO_LARGE = "too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
MISSING_FILE = "missing_file"
INVALID_FILE = "invalid_file"

UPLOAD_BYTES = Histogram(
    "projects_upload_bytes",
    "Size of each accepted dataset upload as stored (parquet; CSV and .xlsx after conversion), by the kind of file "
    "sent: parquet, csv or excel.",
    ("kind",),
    buckets=(10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000),
)
UPLOAD_REJECTIONS = Counter(
    "projects_upload_rejections",
    "Dataset uploads refused, by reason: too_large, unsupported_media_type, missing_file (no file in the multipart "
    "form) or invalid_file (unreadable, empty, over the row/column/decoded-size limits, or of refused column types).",
    ("reason",),
)
