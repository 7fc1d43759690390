"""Backup and restore: the database (``pg_dump`` custom format) and the photos' files in one directory, with
a manifest and checksums; ``gridops backup`` and ``gridops restore``.

A backup is consistent: the counts, the schema revision and the list of files are read in one exported
snapshot, and ``pg_dump`` dumps that same snapshot; then exactly the files its photo rows name are copied.
The files are read from the configured store (``LocalStorage`` or ``S3Storage``), and a restore puts them
into it. Stored files are content-addressed and never change; the media sweep deletes only files no row
names, and photo rows are never deleted, so every file the dump names is still there when it is copied
(files of photos added after the snapshot are left for the next backup).

The directory::

    manifest.json    time, versions, schema revision, counts, and every file with its size and SHA-256
    SHA256SUMS       the same checksums for ``sha256sum -c`` (and the manifest's own)
    database.dump    pg_dump --format=custom
    media/ab/cd/...  the files, laid out as in the store

A restore checks every checksum before it touches anything, refuses a database that already holds tables
(unless forced), restores with ``pg_restore`` in one transaction, then puts the files into the store.

Both connect as the role that owns the schema (``owner_database_url``): it may read every table for the
dump and owns what the restore creates; the application role's privileges come back with the dump.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

from server.errors import NotFound
from server.localdb import find_bindir
from server.photo.storage import Storage

FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
DUMP = "database.dump"
MEDIA = "media"
EXTENSIONS = ("postgis", "ltree")  # made by a superuser beforehand; the restore leaves them alone
_EXTENSION_ENTRY = re.compile(r" EXTENSION | TABLE DATA public spatial_ref_sys ")
COUNTED = {"cases": "case_file", "events": "case_event", "photos": "case_photo"}

Progress = Callable[[str, int, int], None]


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message (for operators) says why and what to do."""


# -- connections and the PostgreSQL tools -------------------------------------------------------------


def _libpq(url: str) -> dict[str, str]:
    """The libpq connection parameters of a SQLAlchemy URL (host and port may come as query parameters)."""
    parsed = make_url(url)
    params = {
        k: str(v) for k, v in parsed.translate_connect_args(username="user", database="dbname").items() if v
    }
    params.update({k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()})
    return params


def _connect(params: dict[str, str]):
    return psycopg2.connect(**params)


def _tool(name: str, server_version: int) -> Path:
    """``pg_dump`` or ``pg_restore`` of the server's major version when installed, else the newest one."""
    exact = Path(f"/usr/lib/postgresql/{server_version // 10000}/bin") / name
    return exact if exact.exists() else find_bindir() / name


def _run(tool: Path, params: dict[str, str], *args: str) -> str:
    """Run a PostgreSQL client tool on the database of ``params`` (the password through the environment,
    never on the command line); its output, or BackupError with its message."""
    conninfo = " ".join(
        f"{k}='{v.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"
        for k, v in params.items()
        if k != "password"
    )
    env = {**os.environ, **({"PGPASSWORD": params["password"]} if "password" in params else {})}
    proc = subprocess.run(
        [str(tool), f"--dbname={conninfo}", *args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise BackupError(
            f"{tool.name} 失败：{proc.stderr.strip() or proc.stdout.strip()}。请按提示处理后重新运行"
        )
    return proc.stdout


# -- checksums ----------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _media_path(key: str) -> str:
    return f"{MEDIA}/{key[:2]}/{key[2:4]}/{key}"


# -- backup -------------------------------------------------------------------------------------------


def backup(*, directory: Path, url: str, storage: Storage, progress: Progress | None = None) -> dict:
    """Write a backup of the database at ``url`` and the files its photos name into ``directory`` (new or
    empty); return the manifest. Files a photo names but the store lacks (or holds damaged) are listed
    under ``missing`` in the manifest: the backup is written all the same."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} 不是空目录：请指定一个新目录（或空目录）存放备份")
    directory.mkdir(parents=True, exist_ok=True)
    params = _libpq(url)
    conn = _connect(params)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cur.fetchone()
            counts = {}
            for name, table in COUNTED.items():
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[name] = cur.fetchone()[0]
            cur.execute("SELECT version_num FROM alembic_version")
            revision = cur.fetchone()[0]
            cur.execute("SELECT postgis_lib_version()")
            postgis = cur.fetchone()[0]
            cur.execute(
                "SELECT DISTINCT k FROM case_photo, unnest(ARRAY[sha256, public_key, thumbnail_key]) AS k "
                "ORDER BY k"
            )
            keys = [row[0] for row in cur]
        pg_dump = _tool("pg_dump", conn.server_version)
        if progress:
            progress("导出数据库", 0, 1)
        _run(pg_dump, params, "--format=custom", f"--snapshot={snapshot}", f"--file={directory / DUMP}")
        if progress:
            progress("导出数据库", 1, 1)
    finally:
        conn.close()  # the snapshot lives until here: pg_dump has taken it

    files, missing = {}, []
    for done, key in enumerate(keys, 1):
        relative = _media_path(key)
        try:
            data = storage.get(key)
        except NotFound:
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != key:  # missing, or damaged in the store
            missing.append(key)
        else:
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files[relative] = key
        if progress:
            progress("复制照片文件", done, len(keys))
    files = {DUMP: _sha256(directory / DUMP), **files}
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "versions": {
            "gridops": _gridops_version(),
            "postgresql": server_version,
            "pg_dump": _run_version(pg_dump),
            "postgis": postgis,
        },
        "alembic_revision": revision,
        "counts": counts,
        "files": {
            path: {"sha256": digest, "size": (directory / path).stat().st_size}
            for path, digest in files.items()
        },
        "missing": missing,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    sums = {**files, MANIFEST: _sha256(directory / MANIFEST)}
    (directory / SUMS).write_text("".join(f"{digest}  {path}\n" for path, digest in sums.items()))
    os.sync()
    return manifest


def _gridops_version() -> str:
    try:
        return version("gridops")
    except PackageNotFoundError:
        return "unknown"


def _run_version(tool: Path) -> str:
    return subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=True).stdout.strip()


# -- restore ------------------------------------------------------------------------------------------


def verify(directory: Path, progress: Progress | None = None) -> dict:
    """The manifest of the backup in ``directory`` once every file checks out; BackupError naming the first
    file that is missing or whose checksum differs."""
    try:
        sums = dict(
            reversed(line.split("  ", 1)) for line in (directory / SUMS).read_text().splitlines() if line
        )
        if sums.get(MANIFEST) != _sha256(directory / MANIFEST):
            raise BackupError(f"{directory / MANIFEST} 与 {SUMS} 中的校验和不符：备份已损坏，请换一份备份")
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupError(
            f"{directory} 不是一份完整的 GridOps 备份（{SUMS} 或 {MANIFEST} 缺失或无法读取）："
            "请检查目录或换一份备份"
        ) from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{directory} 的备份格式不是本程序能恢复的：请用生成它的 GridOps 版本恢复")
    files = manifest["files"]
    for done, (path, entry) in enumerate(files.items(), 1):
        target = directory / path
        if not target.is_file():
            raise BackupError(f"备份缺少文件 {path}：备份不完整，没有做任何恢复，请换一份备份")
        if _sha256(target) != entry["sha256"] or sums.get(path) != entry["sha256"]:
            raise BackupError(f"备份中的 {path} 校验和与清单不符（文件已损坏）：没有做任何恢复，请换一份备份")
        if progress:
            progress("校验备份", done, len(files))
    return manifest


def restore(
    *, directory: Path, url: str, storage: Storage, force: bool = False, progress: Progress | None = None
) -> dict:
    """Restore the backup in ``directory`` into the database at ``url`` (which must hold no tables unless
    ``force``) and its files into ``storage``; return the manifest."""
    manifest = verify(directory, progress)
    params = _libpq(url)
    conn = _connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT extname FROM pg_extension")
            absent = set(EXTENSIONS) - {row[0] for row in cur}
            cur.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_%' AND NOT EXISTS "
                "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
            )
            tables = cur.fetchone()[0]
        pg_restore = _tool("pg_restore", conn.server_version)
    finally:
        conn.close()
    if absent:
        raise BackupError(
            f"目标数据库缺少扩展 {', '.join(sorted(absent))}：请让数据库超级用户在其中执行 "
            f"{' '.join(f'CREATE EXTENSION {e};' for e in sorted(absent))} 后再恢复"
        )
    if tables and not force:
        raise BackupError(
            f"目标数据库不是空的（已有 {tables} 张表）：恢复会替换其中的全部数据。"
            "请恢复到一个新建的空数据库；确要替换时加 --force"
        )
    # The extensions stay as the superuser made them: their entries (and the rows of PostGIS's own table of
    # coordinate systems, which come with it) are left out of the restore.
    with tempfile.NamedTemporaryFile("w", suffix=".list") as listing:
        contents = _run(pg_restore, params, "--list", str(directory / DUMP))
        kept = [line for line in contents.splitlines() if not _EXTENSION_ENTRY.search(line)]
        listing.write("".join(line + "\n" for line in kept))
        listing.flush()
        if progress:
            progress("恢复数据库", 0, 1)
        _run(
            pg_restore, params, "--single-transaction", "--exit-on-error", "--no-owner",
            *(["--clean", "--if-exists"] if tables else []), f"--use-list={listing.name}",
            str(directory / DUMP),
        )  # fmt: skip
        if progress:
            progress("恢复数据库", 1, 1)
    media = [path for path in manifest["files"] if path != DUMP]
    for done, path in enumerate(media, 1):
        storage.put((directory / path).read_bytes())  # content-addressed: verified above, stored as is
        if progress:
            progress("恢复照片文件", done, len(media))
    conn = _connect(params)
    try:
        with conn.cursor() as cur:
            for name, table in COUNTED.items():
                cur.execute(f"SELECT count(*) FROM {table}")
                if cur.fetchone()[0] != manifest["counts"][name]:
                    raise BackupError(
                        f"恢复后的 {table} 行数与备份清单不符：请检查 pg_restore 的输出后重新恢复"
                    )
    finally:
        conn.close()
    return manifest
