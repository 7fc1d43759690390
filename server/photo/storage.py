"""Content-addressed file storage: a file's key is the SHA-256 of its bytes, so storing the same bytes
twice keeps one file. ``Storage`` is what the rest of the server relies on; ``LocalStorage`` keeps files
on disk, and ``get_storage`` is the one place where an S3-compatible store would plug in."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from server.config import Settings
from server.errors import Invalid, NotFound

_KEY = re.compile(r"[0-9a-f]{64}")


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


class LocalStorage:
    """Files under ``root`` at ``root/ab/cd/abcd...`` (the key's first two pairs of hex digits as folders),
    each written to a temporary file in its folder, flushed to disk and renamed into place, so a reader
    sees a whole file or none."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the file for ``key`` lives (for serving it); Invalid for anything but 64 lowercase hex
        digits, so a key can never point outside the root."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise Invalid(f"{key!r} is not a storage key (64 lowercase hexadecimal digits)")
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if target.is_file():
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
            raise NotFound(f"there is no stored file {key}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"there is no stored file {key}") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def get_storage(settings: Settings) -> Storage:
    """The configured store: files under ``settings.media_root``."""
    return LocalStorage(settings.media_root)
