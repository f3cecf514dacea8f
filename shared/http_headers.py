"""HTTP header values built from user data, safely."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str) -> str:
    """``attachment`` with the file name as plain ASCII (non-ASCII replaced) and exactly as UTF-8 (RFC 6266)."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
