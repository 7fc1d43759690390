"""Content-addressed file storage: a file's key is the SHA-256 of its bytes, so storing the same bytes
twice keeps one file. ``Storage`` is what the rest of the server relies on; ``LocalStorage`` keeps files
on disk, ``S3Storage`` in an S3-compatible object store, both at ``ab/cd/abcd...`` (so moving from one to the
other is a copy), and ``get_storage`` gives the configured one. A store that fails (full, read-only,
unreachable) raises ``OSError`` with an errno of ``server.http_errors.STORAGE_DOWN``: answered 503.

Files are written before the rows that name them (see ``server.case.photos.store_photo``), so a failed
commit leaves files no row names; the media sweep (``server.photo.sweep``) removes those once they are
old. A file's modification time is when it was last put: putting bytes that are already stored makes
their file young again, so the sweep never takes a file a transaction in flight is about to name."""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from server.config import Settings
from server.errors import Invalid, NotFound

_KEY = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger(__name__)


class Storage(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data`` (once, however often it is put) and return its key, the SHA-256 hex digest."""
        ...

    def get(self, key: str) -> bytes:
        """The stored bytes; NotFound when there are none under ``key``."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """The stored length in bytes; NotFound when there is nothing under ``key``."""
        ...

    def files(self) -> Iterator[tuple[str, float]]:
        """Every stored key with the time it was last put (seconds since the epoch), in key order."""
        ...

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        """Delete the file under ``key`` if it was last put before ``cutoff``; say whether it was."""
        ...

    def delete_stale_parts(self, cutoff: float) -> int:
        """Delete what puts interrupted before ``cutoff`` left behind (a crash mid-write); count it."""
        ...


def _relative(key: str) -> str:
    """Where the file for ``key`` lives in a store, ``ab/cd/abcd...``; Invalid for anything but 64 lowercase
    hex digits, so a key can never point outside the store."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise Invalid("photo.bad_key")  # keys come from photo rows, never from a request
    return f"{key[:2]}/{key[2:4]}/{key}"


class LocalStorage:
    """Files under ``root`` at ``root/ab/cd/abcd...`` (the key's first two pairs of hex digits as folders),
    each written to a temporary file in its folder, flushed to disk and renamed into place, so a reader
    sees a whole file or none. Puts hold a shared lock on ``root`` and deletions an exclusive one,
    so a file is never deleted between a put finding it and that put returning its key."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the file for ``key`` lives; Invalid for anything but a key."""
        return self.root / _relative(key)

    @contextlib.contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        """A lock on the root folder itself (flock works on a folder's descriptor)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)  # releases the lock

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        with self._locked(fcntl.LOCK_SH):
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)  # already stored: young again, so the sweep leaves it to its new row
                return key
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _fsync_dir(target.parent)  # the rename itself survives a crash
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("photo.file_missing") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound("photo.file_missing") from None

    def files(self) -> Iterator[tuple[str, float]]:
        for first in _sorted_dirs(self.root):
            for second in _sorted_dirs(first):
                for entry in sorted(os.scandir(second), key=lambda e: e.name):
                    if _KEY.fullmatch(entry.name) and entry.is_file():
                        with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                            yield entry.name, entry.stat().st_mtime

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        target = self.path(key)
        with self._locked(fcntl.LOCK_EX):
            try:
                if target.stat().st_mtime >= cutoff:
                    return False
                target.unlink()
            except FileNotFoundError:
                return False
        return True

    def delete_stale_parts(self, cutoff: float) -> int:
        deleted = 0
        for first in _sorted_dirs(self.root):
            for second in _sorted_dirs(first):
                for part in second.glob(".*.part"):
                    with contextlib.suppress(FileNotFoundError):
                        if part.stat().st_mtime < cutoff:
                            part.unlink()
                            deleted += 1
        return deleted


def _sorted_dirs(path: Path) -> list[Path]:
    """The two-hex-digit folders under ``path``, in order (none when ``path`` does not exist)."""
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if len(p.name) == 2 and p.is_dir())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_MISSING = {"404", "NoSuchKey", "NotFound"}
# Bounded waits: a store that does not answer is an outage (503), not a request hanging.
_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=20,
    retries={"mode": "standard", "max_attempts": 3},
    # Content-MD5 (which every S3-compatible store checks) instead of boto3's newer default checksums,
    # which some of them refuse.
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)


class S3Storage:
    """Objects in ``bucket`` of an S3-compatible store at ``prefix`` + ``ab/cd/abcd...``. A put is one
    PutObject with its Content-MD5 (the store refuses damaged bytes), stored whole or not at all and
    durable once answered; putting stored bytes again writes them again, which makes them young again
    (LastModified) as the sweep needs. Nothing is uploaded in parts, so an interrupted put leaves nothing.

    The sweep's check of the age and its deletion are two requests: in a bucket with versioning, the
    deletion names the version found old, so the same bytes put in between (a new version) stay; without
    versioning they would go with it. Versioning is therefore to be turned on (see the README)."""

    def __init__(self, client, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _name(self, key: str) -> str:
        return self.prefix + _relative(key)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        with _outage():
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, ContentMD5=md5)
        return key

    def get(self, key: str) -> bytes:
        name = self._name(key)
        with _outage():
            try:
                return self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
            except ClientError as exc:
                if _missing(exc):
                    raise NotFound("photo.file_missing") from None
                raise

    def _head(self, key: str) -> dict | None:
        name = self._name(key)
        with _outage():
            try:
                return self.client.head_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise NotFound("photo.file_missing")
        return head["ContentLength"]

    def files(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        with _outage():
            for page in pages:  # in key order: ab/cd/abcd... sorts as the keys do
                for item in page.get("Contents", ()):
                    key = item["Key"].rpartition("/")[2]
                    if _KEY.fullmatch(key) and item["Key"] == self._name(key):
                        yield key, item["LastModified"].timestamp()

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        head = self._head(key)
        if head is None or head["LastModified"].timestamp() >= cutoff:
            return False
        version = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
        with _outage():
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key), **version)
        return True

    def delete_stale_parts(self, cutoff: float) -> int:
        return 0  # single PutObjects only: an interrupted one leaves no part behind


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


@contextlib.contextmanager
def _outage() -> Iterator[None]:
    """The store's failures (unreachable, timing out, refusing, failing) as the OSError of an outage,
    logged for the operators (the requests are answered 503, which says nothing of the cause)."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        log.warning("object store unavailable: %s", exc)  # botocore's text: the endpoint, never the keys
        raise OSError(errno.EIO, f"对象存储不可用：{exc}") from exc


@lru_cache
def _s3_client(endpoint: str | None, region: str, access_key: str | None, secret_key: str | None):
    """One client per configuration (clients are thread-safe; making one takes a while)."""
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
    )
    return session.client("s3", endpoint_url=endpoint or None, config=_CLIENT_CONFIG)


def get_storage(settings: Settings) -> Storage:
    """The configured store: files under ``settings.media_root``, or the ``s3_...`` settings' bucket."""
    if settings.photo_storage == "local":
        return LocalStorage(settings.media_root)
    secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
    client = _s3_client(settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key, secret)
    return S3Storage(client, settings.s3_bucket, settings.s3_prefix)
