"""``file://`` object store: objects are files below one root folder (the embedded default, ``./var/objects``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from shared.storage import ObjectNotFound, ObjectStoreUnavailable, check_key


class FileSystemObjectStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"invalid object key: {key!r}")
        return path

    def put(self, key: str, stream: BinaryIO, length: int) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half an object.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                copied = _copy_exactly(stream, out, length)
            if copied != length:
                raise ValueError(f"expected {length} bytes, got {copied}")
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        with handle:
            yield handle

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreUnavailable(f"{self.root} is not writable")


def _copy_exactly(stream: BinaryIO, out: BinaryIO, length: int) -> int:
    copied = 0
    while copied < length:
        chunk = stream.read(min(1024 * 1024, length - copied))
        if not chunk:
            break
        out.write(chunk)
        copied += len(chunk)
    return copied
