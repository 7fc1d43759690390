"""Content-addressed file storage: a file's key is the SHA-256 of its bytes, so storing the same bytes
twice keeps one file. ``Storage`` is what the rest of the server relies on; ``LocalStorage`` keeps files
on disk, and ``get_storage`` is the one place where an S3-compatible store would plug in.

Files are written before the rows that name them (see ``server.case.photos.store_photo``), so a failed
commit leaves files no row names; the media sweep (``server.photo.sweep``) removes those once they are
old. A file's modification time is when it was last put: putting bytes that are already stored makes
their file young again, so the sweep never takes a file a transaction in flight is about to name."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
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

    def files(self) -> Iterator[tuple[str, float]]:
        """Every stored key with the time it was last put (seconds since the epoch), in key order."""
        ...

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        """Delete the file under ``key`` if it was last put before ``cutoff``; say whether it was."""
        ...

    def delete_stale_parts(self, cutoff: float) -> int:
        """Delete what puts interrupted before ``cutoff`` left behind (a crash mid-write); count it."""
        ...


class LocalStorage:
    """Files under ``root`` at ``root/ab/cd/abcd...`` (the key's first two pairs of hex digits as folders),
    each written to a temporary file in its folder, flushed to disk and renamed into place, so a reader
    sees a whole file or none. Puts hold a shared lock on ``root`` and deletions an exclusive one,
    so a file is never deleted between a put finding it and that put returning its key."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the file for ``key`` lives (for serving it); Invalid for anything but 64 lowercase hex
        digits, so a key can never point outside the root."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise Invalid("photo.bad_key")  # keys come from photo rows, never from a request
        return self.root / key[:2] / key[2:4] / key

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


def get_storage(settings: Settings) -> Storage:
    """The configured store: files under ``settings.media_root``."""
    return LocalStorage(settings.media_root)
