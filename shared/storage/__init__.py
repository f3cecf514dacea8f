"""Object storage behind one small interface, the backend chosen by URL scheme.

``file:///path`` keeps objects in a local folder (the embedded default); ``s3://bucket`` talks to MinIO or any S3
endpoint through the ``minio`` client. Keys are always made by the server (ids, UUIDs) and checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, Protocol

from shared.domain_errors import ObjectStoreFailure

_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")


class ObjectNotFound(ObjectStoreFailure):
    """No object is stored under this key."""

    message = "The dataset's file is unavailable in the object store."


class ObjectStoreUnavailable(ObjectStoreFailure):
    """The object store could not be reached or refused the operation."""

    message = "The object store is unavailable; nothing was changed. Retry shortly."


def check_key(key: str) -> str:
    """Refuse any key that is not a plain server-made path (no '..', no absolute path, no odd characters)."""
    if not _KEY_PATTERN.match(key) or ".." in key or len(key) > 512:
        raise ValueError(f"invalid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    def put(self, key: str, stream: BinaryIO, length: int) -> None:
        """Store ``length`` bytes read from ``stream`` under ``key``, replacing any object there."""

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A readable binary stream of the object; raises ``ObjectNotFound``."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""

    def exists(self, key: str) -> bool: ...

    def check(self) -> None:
        """Raise ``ObjectStoreUnavailable`` if the store cannot be used (readiness)."""


def open_object_store(url: str, options: Mapping[str, Any] | None = None) -> ObjectStore:
    """Pick the backend from the URL scheme; ``options`` carries the S3 endpoint and credentials."""
    if url.startswith("file://"):
        from shared.storage.filesystem import FileSystemObjectStore

        return FileSystemObjectStore(url.removeprefix("file://"))
    if url.startswith("s3://"):
        from shared.storage.s3 import S3ObjectStore

        options = options or {}
        return S3ObjectStore(
            bucket=url.removeprefix("s3://").strip("/"),
            endpoint=options.get("S3_ENDPOINT", "127.0.0.1:9000"),
            access_key=options.get("S3_ACCESS_KEY", ""),
            secret_key=options.get("S3_SECRET_KEY", ""),
            secure=bool(options.get("S3_SECURE", False)),
            region=options.get("S3_REGION", "us-east-1"),
        )
    raise ValueError(f"unsupported OBJECT_STORE_URL {url!r}: use file:///path or s3://bucket")
