"""One contract for every object store backend: file:// in a temporary folder and s3:// over HTTP (SeaweedFS)."""

from __future__ import annotations

import hashlib
import io
import random

import pytest

from shared.storage import ObjectNotFound, ObjectStore, ObjectStoreUnavailable, open_object_store

BIG_OBJECT_BYTES = 21 * 1024 * 1024 + 123  # more than one S3 part, not a multiple of any chunk size


class PatternStream(io.RawIOBase):
    """``length`` deterministic pseudo-random bytes produced on demand, never held in memory at once."""

    def __init__(self, length: int, seed: int = 0) -> None:
        self.remaining = length
        self.block = random.Random(seed).randbytes(1024 * 1024 + 7)
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self.remaining, len(self.block) - self.position)
        buffer[:size] = self.block[self.position : self.position + size]
        self.position = (self.position + size) % len(self.block)
        self.remaining -= size
        return size


def sha256_of_stream(stream) -> tuple[str, int]:
    digest, total = hashlib.sha256(), 0
    while chunk := stream.read(256 * 1024):
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path) -> ObjectStore:
    if request.param == "file":
        return open_object_store(f"file://{tmp_path / 'objects'}")
    config = request.getfixturevalue("s3_bucket_config")
    return open_object_store(config["OBJECT_STORE_URL"], config)


def put_bytes(store: ObjectStore, key: str, data: bytes) -> None:
    store.put(key, io.BytesIO(data), len(data))


def read_bytes(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as stream:
        return stream.read()


def test_put_then_open_returns_the_same_bytes(store):
    put_bytes(store, "datasets/1/a.parquet", b"hello \x00 world")
    assert read_bytes(store, "datasets/1/a.parquet") == b"hello \x00 world"
    assert store.exists("datasets/1/a.parquet")


def test_empty_object_round_trip(store):
    put_bytes(store, "empty/object", b"")
    assert read_bytes(store, "empty/object") == b""


def test_multi_megabyte_object_is_streamed_in_and_out(store):
    store.put("models/big.bin", PatternStream(BIG_OBJECT_BYTES), BIG_OBJECT_BYTES)
    expected = sha256_of_stream(PatternStream(BIG_OBJECT_BYTES))
    with store.open("models/big.bin") as stream:
        assert sha256_of_stream(stream) == expected


def test_put_replaces_an_existing_object(store):
    put_bytes(store, "datasets/2/data.parquet", b"first version, longer")
    put_bytes(store, "datasets/2/data.parquet", b"second")
    assert read_bytes(store, "datasets/2/data.parquet") == b"second"


def test_delete_removes_the_object(store):
    put_bytes(store, "datasets/3/data.parquet", b"x")
    store.delete("datasets/3/data.parquet")
    assert not store.exists("datasets/3/data.parquet")
    with pytest.raises(ObjectNotFound):
        read_bytes(store, "datasets/3/data.parquet")


def test_delete_of_a_missing_key_is_not_an_error(store):
    store.delete("datasets/never/stored.parquet")
    assert not store.exists("datasets/never/stored.parquet")


def test_exists_only_for_stored_keys(store):
    put_bytes(store, "datasets/4/data.parquet", b"x")
    assert store.exists("datasets/4/data.parquet")
    assert not store.exists("datasets/4/other.parquet")
    assert not store.exists("datasets/5/data.parquet")


def test_open_of_a_missing_key_raises_object_not_found(store):
    with pytest.raises(ObjectNotFound):
        read_bytes(store, "datasets/missing/data.parquet")


def test_check_passes_on_a_usable_store(store):
    store.check()


@pytest.mark.parametrize(
    "key",
    ["../x", "/abs", "a/../../b", "a\x00b", "Upper/case", "a b", "a/./b", "a//b", "a/", "", "x" * 600, "a\\b", "é"],
)
def test_invalid_keys_are_refused_by_every_operation(store, key):
    with pytest.raises(ValueError):
        store.put(key, io.BytesIO(b"x"), 1)
    with pytest.raises(ValueError):
        read_bytes(store, key)
    with pytest.raises(ValueError):
        store.delete(key)
    with pytest.raises(ValueError):
        store.exists(key)


def test_file_store_writes_nothing_outside_its_root(tmp_path):
    store = open_object_store(f"file://{tmp_path / 'objects'}")
    for key in ("../escaped", "a/../../escaped"):
        with pytest.raises(ValueError):
            store.put(key, io.BytesIO(b"x"), 1)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["objects"]
    assert not any((tmp_path / "objects").iterdir())


def test_s3_store_without_its_bucket_fails_check(s3_server):
    store = open_object_store("s3://salesml-bucket-that-does-not-exist", s3_server)
    with pytest.raises(ObjectStoreUnavailable):
        store.check()


def test_s3_store_at_an_unreachable_endpoint_raises_unavailable(s3_server):
    store = open_object_store("s3://salesml", {**s3_server, "S3_ENDPOINT": "127.0.0.1:1"})
    with pytest.raises(ObjectStoreUnavailable):
        store.check()
    with pytest.raises(ObjectStoreUnavailable):
        put_bytes(store, "datasets/1/a.parquet", b"x")
    with pytest.raises(ObjectStoreUnavailable):
        read_bytes(store, "datasets/1/a.parquet")
    with pytest.raises(ObjectStoreUnavailable):
        store.exists("datasets/1/a.parquet")
    with pytest.raises(ObjectStoreUnavailable):
        store.delete("datasets/1/a.parquet")
