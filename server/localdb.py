"""The embedded PostgreSQL/PostGIS cluster: a private cluster under a directory of the project.

The cluster runs with the machine's own PostgreSQL binaries, listens on a unix socket inside its
directory and on 127.0.0.1 with a free port, and holds databases with the ``postgis`` and ``ltree``
extensions. Two non-superuser roles share the cluster's password: ``gridops_owner`` owns the databases and
every object in them and runs the migrations; ``gridops``, the application, owns nothing and has only the
privileges the migrations grant it (on the audit trail ``case_event``: read and append). When invoked as
root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` user (``initdb`` refuses root) on a directory owned
by that user.

The same code starts the development cluster (``gridops db start``) and the test session's throwaway one.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import sql

APP_ROLE = "gridops"  # the application: owns nothing
OWNER_ROLE = "gridops_owner"  # owns the databases and schema, runs the migrations
SUPERUSER = "postgres"
EXTENSIONS = ("postgis", "ltree")
# The row-level security policies (server.tenant) are applied before any condition whose function is not
# leakproof, and such a condition then cannot use an index: every grid-path (ltree) or geometry condition
# would read the whole table. The operators of these extensions, and the path and array functions the
# queries filter and join on, compare the values of the row itself and raise no error that tells another
# row's content: a superuser marks them leakproof (idempotent), so that the policies cost next to nothing.
LEAKPROOF_SQL = """
DO $$ DECLARE f regprocedure; BEGIN
FOR f IN
    SELECT p.oid::regprocedure FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
    JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid
    WHERE e.extname IN ('ltree', 'postgis') AND NOT p.proleakproof
    UNION
    SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.proname IN ('subpath', 'nlevel', 'arrayoverlap', 'arraycontains', 'arraycontained')
      AND NOT p.proleakproof
LOOP EXECUTE format('ALTER FUNCTION %s LEAKPROOF', f); END LOOP; END $$
"""
INSTALL_HINT = (
    "请安装 PostgreSQL 和 PostGIS：sudo apt-get install postgresql postgresql-15-postgis-3"
    "（PostGIS 包要与 PostgreSQL 的版本一致），或运行 make run，"
    "或把 DATABASE_URL 设为一个已有的 PostgreSQL/PostGIS 数据库"
)


class LocalDBError(RuntimeError):
    """The embedded cluster cannot be set up or reached; the message says what to do."""


def find_bindir() -> Path:
    """The newest PostgreSQL server bin directory that also has PostGIS installed."""
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bindir.parent.name
        if (bindir / "initdb").exists() and version.isdigit():
            candidates.append((int(version), bindir))
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            candidates.append((0, bindir))
    if not candidates:
        raise LocalDBError(f"没有找到 PostgreSQL 的服务端程序（initdb、pg_ctl）：{INSTALL_HINT}")
    with_postgis = [c for c in candidates if _sharedir(c[1]).joinpath("extension/postgis.control").exists()]
    if not with_postgis:
        raise LocalDBError(f"已安装 PostgreSQL，但没有安装 PostGIS：{INSTALL_HINT}")
    return max(with_postgis)[1]


def _sharedir(bindir: Path) -> Path:
    return Path("/usr/share/postgresql") / bindir.parent.name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Cluster:
    """A cluster living in ``root``: ``data/`` (PGDATA), ``run/`` (socket), the log, port and password."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        return self.root / "postgresql.log"

    @property
    def port(self) -> int:
        return int((self.root / "port").read_text())

    @property
    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    # -- running the server binaries -------------------------------------------------------------

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return args
        return ["runuser", "-u", SUPERUSER, "--", *args]

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        bindir = find_bindir()
        cmd = self._as_owner([str(bindir / args[0]), *args[1:]])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise LocalDBError(
                f"{args[0]} 运行失败：{proc.stderr.strip() or proc.stdout.strip()}\n"
                f"请按上面的提示处理后重试（数据库的日志在 {self.logfile}）"
            )
        return proc

    def _check_reachable(self) -> None:
        """As root, the postgres user must be able to walk down to the cluster directory."""
        if os.geteuid() != 0:
            return
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError as exc:
            raise LocalDBError(f"系统里没有运行 PostgreSQL 的用户 {SUPERUSER}：{INSTALL_HINT}") from exc
        for parent in reversed(self.root.resolve().parents):
            if not parent.exists():
                break
            probe = subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-x", str(parent)])
            if probe.returncode != 0:
                raise LocalDBError(
                    f"postgres 用户进不了目录 {parent}（权限 {parent.stat().st_mode & 0o777:o}），"
                    f"无法在 {self.root} 运行数据库：请把项目（或 GRIDOPS_VAR_DIR）"
                    "放在所有用户都能进入的目录下，或设置 DATABASE_URL"
                )

    # -- life cycle ------------------------------------------------------------------------------

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster (once): initdb with UTF-8, a superuser password and socket-only trust."""
        if self.initialised():
            return
        self._check_reachable()
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        password = secrets.token_urlsafe(18)
        (self.root / "password").write_text(password + "\n")
        (self.root / "password").chmod(0o600)
        pwfile = self.root / "superuser-password"
        pwfile.write_text(password + "\n")
        (self.root / "port").write_text(str(free_port()))
        if os.geteuid() == 0:
            shutil.chown(self.root, SUPERUSER, SUPERUSER)
            shutil.chown(self.sockdir, SUPERUSER, SUPERUSER)
            shutil.chown(pwfile, SUPERUSER, SUPERUSER)
        self.root.chmod(0o700)
        try:
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.data),
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# GridOps embedded cluster\ninclude_if_exists = 'gridops.conf'\n")
        if os.geteuid() == 0:
            shutil.chown(self.data / "postgresql.conf", SUPERUSER, SUPERUSER)

    def running(self) -> bool:
        if not self.initialised():
            return False
        return self._run(["pg_ctl", "-D", str(self.data), "status"], check=False).returncode == 0

    def start(self) -> None:
        """Initialise if needed and start the server (a no-op when it already runs)."""
        self.init()
        if self.running():
            return
        port = self.port
        if not _port_free(port):
            port = free_port()
            (self.root / "port").write_text(str(port))
        conf = self.data / "gridops.conf"
        conf.write_text(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.sockdir}'\n"
            "fsync = on\nmax_connections = 100\nshared_buffers = 256MB\n"
        )
        if os.geteuid() == 0:
            shutil.chown(conf, SUPERUSER, SUPERUSER)
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        if self.running():
            self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------------

    def url(self, database: str = "gridops", *, user: str = APP_ROLE) -> str:
        """A SQLAlchemy URL over the unix socket: the application's, or with ``user=OWNER_ROLE`` the one the
        migrations use."""
        password = quote(self.password, safe="")
        return (
            f"postgresql+psycopg2://{user}:{password}@/{database}"
            f"?host={quote(str(self.sockdir), safe='/')}&port={self.port}"
        )

    def connect(self, database: str = "postgres"):
        """A superuser connection (autocommit) over the socket."""
        conn = psycopg2.connect(dbname=database, user=SUPERUSER, host=str(self.sockdir), port=self.port)
        conn.autocommit = True
        return conn

    def ensure_database(self, name: str = "gridops", *, template: str | None = None) -> str:
        """Create both roles and the database ``name`` (owned by the owner role, with its extensions) if
        missing; return the application's URL. Whatever the application role owns in an existing database
        (one made before the two roles) is handed to the owner role."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise LocalDBError(f"数据库名 {name} 不可用：只能用小写字母、数字和下划线，且不以数字开头")
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for role in (OWNER_ROLE, APP_ROLE):
                    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                    if cur.fetchone() is None:
                        cur.execute(
                            sql.SQL(
                                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s"
                            ).format(sql.Identifier(role)),
                            (self.password,),
                        )
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                row = cur.fetchone()
                if row is None:
                    query = sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(OWNER_ROLE)
                    )
                    if template:
                        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                    cur.execute(query)
        finally:
            conn.close()
        if row is None and template:
            return self.url(name)
        conn = self.connect(name)
        try:
            with conn.cursor() as cur:
                if row is not None:  # a no-op unless the application role owns something here
                    cur.execute(
                        sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                            sql.Identifier(APP_ROLE), sql.Identifier(OWNER_ROLE)
                        )
                    )
                if not template:
                    for ext in EXTENSIONS:
                        cur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
                    cur.execute(LEAKPROOF_SQL)
        finally:
            conn.close()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            conn.close()
