"""Receive an uploaded parquet file safely: stream it to disk under a byte cap, then have ``parquet_profile`` check
and profile it in a child process of its own (a fresh interpreter with a capped heap)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from services.projects import parquet_profile
from services.projects.parquet_profile import REJECTIONS, DatasetLimits, DatasetRejected, UploadTooLarge, human_bytes

UPLOAD_CHUNK_BYTES = 1024 * 1024
MAX_FILENAME_LENGTH = 255
DEFAULT_FILENAME = "upload.parquet"
_UNSAFE_NAME_CHARACTERS = re.compile(r"[/\\:*?\"<>|]")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestedFile:
    path: Path
    size_bytes: int
    sha256: str
    rows: int
    columns: list[dict]
    preview: dict  # preview_records() of the first ``limits.preview_rows`` rows: previews never re-read the file


def receive_upload(stream: BinaryIO, limits: DatasetLimits, tmp_dir: Path) -> IngestedFile:
    """Copy ``stream`` into a temporary file in ``tmp_dir``, check and profile it; the caller owns the file after.

    Raises ``UploadTooLarge`` over the byte cap, ``DatasetRejected`` for anything else wrong; on any error the
    temporary file is removed.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".parquet")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            size_bytes, sha256 = _copy_under_cap(stream, out, limits.max_bytes)
        rows, columns, preview = _profile_in_child_process(path, limits)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return IngestedFile(path=path, size_bytes=size_bytes, sha256=sha256, rows=rows, columns=columns, preview=preview)


def _copy_under_cap(stream: BinaryIO, out: BinaryIO, max_bytes: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(UPLOAD_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(
                f"The file is larger than the {human_bytes(max_bytes)} upload limit; upload a smaller file."
            )
        digest.update(chunk)
        out.write(chunk)
    return size, digest.hexdigest()


def _profile_in_child_process(path: Path, limits: DatasetLimits) -> tuple[int, list[dict], dict]:
    """Profile the file in a fresh interpreter (``parquet_profile`` as a script, ``-I``: nothing else imported)."""
    try:
        completed = subprocess.run(
            [sys.executable, "-I", parquet_profile.__file__, str(path), json.dumps(asdict(limits))],
            capture_output=True,
            timeout=limits.profile_timeout_s,
            check=False,
        )
        if completed.returncode != 0:
            _log.warning("parquet profiling exited with %s: %s", completed.returncode, completed.stderr[-2000:])
        outcome = json.loads(completed.stdout) if completed.returncode == 0 else None
    except subprocess.TimeoutExpired:
        raise DatasetRejected("The file took too long to decode; upload a smaller or simpler file.") from None
    except ValueError:
        outcome = None
    if not isinstance(outcome, dict):
        raise DatasetRejected("The parquet file could not be decoded; upload a valid file.")
    if "rejected" in outcome:
        raise REJECTIONS[outcome["rejected"]](outcome["message"])
    return outcome["rows"], outcome["columns"], outcome["preview"]


def sanitize_filename(name: str | None) -> str:
    """A display name for an uploaded file: its base name without separators, '..', control characters or
    percent-encoded tricks, at most 255 characters; ``upload.parquet`` when nothing is left. Never used as a path."""
    if not name:
        return DEFAULT_FILENAME
    decoded = name
    for _ in range(3):
        decoded = unquote(decoded)
    decoded = unicodedata.normalize("NFKC", decoded)
    base = re.split(r"[/\\]", decoded)[-1]
    base = "".join(character for character in base if unicodedata.category(character)[0] != "C")
    base = _UNSAFE_NAME_CHARACTERS.sub("", base)
    while ".." in base:
        base = base.replace("..", ".")
    base = base.strip(" .")
    if not base:
        return DEFAULT_FILENAME
    if len(base) > MAX_FILENAME_LENGTH:
        stem, dot, extension = base.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            base = f"{stem[: MAX_FILENAME_LENGTH - len(extension) - 1]}.{extension}"
        else:
            base = base[:MAX_FILENAME_LENGTH]
    return base
