"""``s3://bucket`` object store: MinIO or any S3 endpoint, through the ``minio`` client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

import certifi
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from shared.storage import ObjectNotFound, ObjectStoreUnavailable, check_key

# One part is held in memory while it is sent; parts go one after another so an upload costs one part of memory.
PART_SIZE = 16 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 60.0
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})


def _http_client(secure: bool) -> urllib3.PoolManager:
    """A pool that gives up on an unreachable endpoint within seconds (minio's default retries for minutes)."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        retries=urllib3.Retry(total=2, connect=1, read=1, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        maxsize=10,
        cert_reqs="CERT_REQUIRED" if secure else "CERT_NONE",
        ca_certs=certifi.where() if secure else None,
    )


class S3ObjectStore:
    def __init__(self, bucket: str, endpoint: str, access_key: str, secret_key: str, secure: bool, region: str) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.client = Minio(
            endpoint,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region,
            http_client=_http_client(secure),
        )

    @contextmanager
    def _translated_errors(self, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except S3Error as error:
            if key is not None and error.code in _MISSING_OBJECT_CODES:
                raise ObjectNotFound(key) from None
            raise ObjectStoreUnavailable(f"S3 {self.endpoint}/{self.bucket}: {error.code}: {error.message}") from error
        except (MinioException, urllib3.exceptions.HTTPError) as error:
            raise ObjectStoreUnavailable(f"S3 {self.endpoint}/{self.bucket} unreachable: {error}") from error

    def put(self, key: str, stream: BinaryIO, length: int) -> None:
        check_key(key)
        with self._translated_errors():
            self.client.put_object(self.bucket, key, stream, length, part_size=PART_SIZE, num_parallel_uploads=1)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        check_key(key)
        with self._translated_errors(key):
            response = self.client.get_object(self.bucket, key)
        try:
            yield cast(BinaryIO, response)
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        check_key(key)
        with self._translated_errors():
            self.client.remove_object(self.bucket, key)

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            with self._translated_errors(key):
                self.client.stat_object(self.bucket, key)
        except ObjectNotFound:
            return False
        return True

    def check(self) -> None:
        with self._translated_errors():
            found = self.client.bucket_exists(self.bucket)
        if not found:
            raise ObjectStoreUnavailable(f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}")
