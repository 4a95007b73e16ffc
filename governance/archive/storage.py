"""Where bundle files live: content-addressed, written once, never overwritten.

Any Django storage backend works, so S3-compatible object stores come through django-storages by adding
an "archive" alias to settings.STORAGES (e.g. `storages.backends.s3.S3Storage`); without it the bundles
go to the filesystem under `DATA_DIR/archive`. The key is derived from the content's SHA-256, so a second
write of the same bundle is a no-op and a different bundle can never take an existing name.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.files.storage.handler import InvalidStorageError


class BundleExists(Exception):
    """A different file already sits under a content-addressed key: the store was tampered with."""


def get_storage() -> Storage:
    try:
        return storages["archive"]
    except InvalidStorageError:
        # Read DATA_DIR at call time so tests and benchmarks can point it elsewhere.
        return FileSystemStorage(location=settings.DATA_DIR / "archive")


def key_for(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}.zip"


def put(data: bytes) -> tuple[str, str]:
    """Store `data` under its hash; return (sha256, key). Existing identical content is left alone."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = key_for(sha256)
    storage = get_storage()
    if storage.exists(key):
        with storage.open(key, "rb") as existing:
            if hashlib.sha256(existing.read()).hexdigest() != sha256:
                raise BundleExists(f"{key} exists with different content; refusing to overwrite it")
        return sha256, key
    saved = storage.save(key, ContentFile(data))
    if saved != key:
        # A concurrent writer won the race and the backend picked another name: drop ours.
        storage.delete(saved)
    return sha256, key


def put_file(handle, sha256: str) -> str:
    """Store an open file (read from its start, in chunks by the backend) under its known hash; return the key.
    For restores and uploads, which must not hold the whole bundle in memory."""
    from django.core.files import File

    key = key_for(sha256)
    backend = get_storage()
    if backend.exists(key):
        digest = hashlib.sha256()
        with backend.open(key, "rb") as existing:
            for chunk in iter(lambda: existing.read(1 << 16), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise BundleExists(f"{key} exists with different content; refusing to overwrite it")
        return key
    handle.seek(0)
    saved = backend.save(key, File(handle, name=key))
    if saved != key:
        backend.delete(saved)
    return key


def read(key: str) -> bytes:
    with get_storage().open(key, "rb") as handle:
        return handle.read()


def path_or_none(key: str):
    """A local filesystem path when the backend has one (for the verifier), else None."""
    try:
        return get_storage().path(key)
    except NotImplementedError:
        return None
