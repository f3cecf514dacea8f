"""Receive an uploaded dataset safely: stream it to disk under a byte cap, then have ``parquet_profile`` check and
profile it in a child process of its own (a fresh interpreter with a capped heap). A CSV or Excel upload is
converted to parquet in that same child, so what is stored is always a checked parquet file."""

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
from shared.tabular_files import KIND_SUFFIXES, PARQUET_FILE

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


def receive_upload(stream: BinaryIO, limits: DatasetLimits, tmp_dir: Path, kind: str = PARQUET_FILE) -> IngestedFile:
    """Copy ``stream`` into a temporary file in ``tmp_dir``, convert it to parquet unless ``kind`` is parquet
    (``shared.tabular_files``: ``CSV_FILE``, ``EXCEL_FILE``), check and profile it; the caller owns the parquet file
    after. ``size_bytes`` and ``sha256`` are those of that file, the one stored.

    Raises ``UploadTooLarge`` over the byte cap (of the bytes received), ``DatasetRejected`` for anything else
    wrong; on any error the temporary files are removed.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = _temporary_file(tmp_dir, PARQUET_FILE)
    received = path if kind == PARQUET_FILE else _temporary_file(tmp_dir, kind)
    try:
        with received.open("wb") as out:
            size_bytes, sha256 = _copy_under_cap(stream, out, limits.max_bytes)
        rows, columns, preview = _profile_in_child_process(path, limits, None if received == path else (kind, received))
        if received != path:
            size_bytes, sha256 = _size_and_sha256(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        if received != path:
            received.unlink(missing_ok=True)
    return IngestedFile(path=path, size_bytes=size_bytes, sha256=sha256, rows=rows, columns=columns, preview=preview)


def _temporary_file(tmp_dir: Path, kind: str) -> Path:
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=KIND_SUFFIXES[kind])
    os.close(fd)
    return Path(name)


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(UPLOAD_CHUNK_BYTES):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


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


def _profile_in_child_process(
    path: Path, limits: DatasetLimits, converted_from: tuple[str, Path] | None
) -> tuple[int, list[dict], dict]:
    """Profile the file in a fresh interpreter (``parquet_profile`` as a script, ``-I``: nothing else imported),
    after converting ``converted_from`` (kind, file) into it when given."""
    conversion = [converted_from[0], str(converted_from[1])] if converted_from else []
    try:
        completed = subprocess.run(
            [sys.executable, "-I", parquet_profile.__file__, str(path), json.dumps(asdict(limits)), *conversion],
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
        raise DatasetRejected("The file could not be decoded; upload a valid parquet, CSV or .xlsx file.")
    if "rejected" in outcome:
        raise REJECTIONS[outcome["rejected"]](outcome["message"])
    return outcome["rows"], outcome["columns"], outcome["preview"]


def stored_filename(name: str | None, kind: str) -> str:
    """The display name of a dataset uploaded as ``name``: sanitized, and named ``.parquet`` when it was converted
    (``vendas.csv`` is stored as ``vendas.parquet``, as the CLI uploads it)."""
    base = sanitize_filename(name)
    if kind == PARQUET_FILE:
        return base
    stem = base.rpartition(".")[0] if "." in base else base
    return sanitize_filename(f"{stem}.parquet")


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
