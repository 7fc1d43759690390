"""The ``gridops`` command, run as a real process against a fresh database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from server import messages
from server.cli import app
from tests.server.grid_files import city_features, collection, many_grids

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def gridops(
    *args: str, env: dict[str, str], check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def said(sentence: str, output: str) -> bool:
    """Whether ``output`` says ``sentence``, however the console wrapped it."""
    return "".join(sentence.split()) in "".join(output.split())


@pytest.fixture
def env(fresh_db_url) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": fresh_db_url, "COLUMNS": "200"}


@pytest.fixture
def city_file(tmp_path) -> Path:
    path = tmp_path / "city.geojson"
    path.write_bytes(collection(city_features()))
    return path


def test_import_locate_check_export(env, city_file, tmp_path):
    dry = gridops("grids", "import", str(city_file), "--dry-run", env=env)
    assert "没有写入" in dry.stderr
    done = gridops("grids", "import", str(city_file), env=env)
    assert "新增 7 个" in done.stderr
    lines = gridops("grids", "locate", "117.005", "36.61", env=env).stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["市", "370100"],
        ["区县", "370102"],
        ["街道", "370102001"],
    ]
    check = gridops("grids", "check", env=env)
    assert "0 个错误" in check.stderr
    exported = json.loads(gridops("grids", "export", "370102", env=env).stdout)
    assert [f["properties"]["code"] for f in exported["features"]] == ["370102", "370102001", "370102002"]
    outside = gridops("grids", "locate", "121.47", "31.23", env=env, check=False)
    assert outside.returncode == 1 and "不在任何网格内" in outside.stderr


def test_a_bad_file_is_refused_and_nothing_written(env, tmp_path):
    features = city_features()
    features[3]["properties"]["parent_code"] = "370103"
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(collection(features))
    proc = gridops("grids", "import", str(bad), env=env, check=False)
    assert proc.returncode == 1
    assert "什么都没有写入" in proc.stderr and "370102001" in proc.stderr
    assert gridops("grids", "export", env=env).stdout.count('"code"') == 0


def test_users_and_assignments(env, city_file):
    gridops("grids", "import", str(city_file), env=env)
    gridops("users", "add", "张伟", "--phone", "13900000001", "--role", "inspector", env=env)
    (listed,) = gridops("users", "list", "--role", "inspector", env=env).stdout.splitlines()
    user_id, name = listed.split("\t")[:2]
    assert name == "张伟"
    dup = gridops("users", "add", "张伟", "--phone", "13900000001", env=env, check=False)
    taken = messages.text("users.phone_taken", phone="13900000001", user_id=user_id)
    assert dup.returncode == 1 and said(taken, dup.stderr), dup.stderr
    gridops("grids", "assign", "370102001", "13900000001", "--role", "inspector", env=env)
    people = gridops("grids", "people", "370102001", env=env).stdout.splitlines()
    assert len(people) == 1 and people[0].split("\t")[1:4] == ["370102001", "网格员", "张伟"]
    assignment_id = people[0].split("\t")[0]
    last_day = gridops("grids", "unassign", assignment_id, env=env).stderr.split()[-1]
    # Ended today: in force through today (its last day), then only in the history.
    (person,) = gridops("grids", "people", "370102001", env=env).stdout.splitlines()
    assert person.split("\t")[-1] == last_day
    assert "张伟" in gridops("grids", "people", "370102001", "--history", env=env).stdout


def test_users_passwords_and_sessions(env, fresh_db_url, city_file):
    from server.auth import service
    from server.auth.errors import Unauthorized
    from server.category.models import Department
    from server.database import new_session
    from server.errors import Forbidden

    def login(password: str, device: str = "phone-1") -> service.Issued:
        with new_session(fresh_db_url) as db:
            return service.login(
                db=db, login="wangfang", password=password, device_id=device, device_name="", ip=None
            )

    def still_logged_in(issued: service.Issued) -> bool:
        with new_session(fresh_db_url) as db:
            try:
                service.authenticate(db=db, access_token=issued.access_token)
            except Unauthorized:
                return False
            return True

    gridops("grids", "import", str(city_file), env=env)
    with new_session(fresh_db_url) as db:
        db.add(Department(code="D01", name="市政设施管理处"))
        db.commit()
    add = ["users", "add", "王芳", "--phone", "13900000002", "--username", "wangfang", "--role", "dispatcher"]
    short = gridops(*add, "--password-stdin", env=env, stdin="short\n", check=False)
    too_short = messages.text("auth.password_too_short", min_length=8)
    assert short.returncode == 1 and said(too_short, short.stderr), short.stderr
    gridops(
        *add, "--grid", "370102", "--department", "D01", "--password-stdin", env=env, stdin="first pass\n"
    )
    listed = gridops("users", "list", env=env).stdout.splitlines()
    assert listed[0].split("\t")[1:] == [
        "王芳", "13900000002", "wangfang", "派遣员", "D01", "370102", "启用"
    ]  # fmt: skip
    phone, tablet = login("first pass"), login("first pass", device="tablet-1")

    gridops("users", "passwd", "wangfang", "--password-stdin", env=env, stdin="second pass\n")
    with pytest.raises(Unauthorized):
        login("first pass", device="desk-1")
    assert still_logged_in(phone)  # setting a password leaves the sessions
    desk = login("second pass", device="desk-1")

    revoked = gridops("users", "revoke", "13900000002", env=env)
    assert "的 3 个登录" in revoked.stderr
    assert not any(still_logged_in(issued) for issued in (phone, tablet, desk))

    gridops("users", "disable", "wangfang", env=env)
    assert gridops("users", "list", env=env).stdout.rstrip().endswith("停用")
    with pytest.raises(Forbidden) as refused:
        login("second pass")
    assert refused.value.code == "auth.account_disabled"
    gridops("users", "enable", "wangfang", env=env)
    assert still_logged_in(login("second pass"))
    unknown = gridops("users", "passwd", "nobody", env=env, check=False)
    assert said(messages.text("auth.no_user_named", login="nobody"), unknown.stderr), unknown.stderr


def test_embedded_database_commands():
    var = tempfile.mkdtemp(prefix="gridops-cli-var-", dir="/tmp")
    os.chmod(var, 0o755)  # as a checkout would be: the postgres user must traverse it
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"GRIDOPS_VAR_DIR": var}
    try:
        assert gridops("db", "status", env=env, check=False).returncode == 3
        gridops("db", "start", env=env)
        assert gridops("db", "status", env=env).stdout.startswith("运行中")
        url = gridops("db", "url", env=env).stdout.strip()
        assert url.startswith("postgresql+psycopg2://gridops:") and f"{var}/pg/run" in url
        gridops("migrate", env=env)
        gridops("db", "start", env=env)  # safe to run again
        gridops("db", "stop", env=env)
        assert gridops("db", "status", env=env, check=False).stdout.startswith("已停止")
    finally:
        gridops("db", "stop", env=env, check=False)
        subprocess.run(["rm", "-rf", var], check=True)


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["db"],
        ["grids"],
        ["grids", "import"],
        ["grids", "locate"],
        ["users"],
        ["users", "passwd"],
        ["demo", "load"],
        ["serve"],
    ],
)
def test_every_command_has_help(command):
    proc = gridops(*command, "--help", env=dict(os.environ))
    assert "用法：" in proc.stdout


def commands(command, path: tuple[str, ...] = ()):
    """``(path, command)`` for a command and every command under it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def test_every_help_screen_is_chinese():
    """`gridops --help` and every group's and command's: every command and parameter has a help in Chinese,
    and every line of the help screens with words in it has Chinese, but for lines made only of what one
    types (command, option and argument names) and metavars."""
    tree = list(commands(get_command(app)))
    typed = set()
    for path, command in tree:
        typed.update(path)
        for param in command.params:
            typed.update({param.name, *param.opts, *param.secondary_opts})
            assert CHINESE.search(getattr(param, "help", None) or ""), (path, param.name)
        assert CHINESE.search(command.help or ""), path
    runner = CliRunner()
    for path, _ in tree:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "1000"})  # wide: no line wraps
        assert result.exit_code == 0, (path, result.output)
        for line in result.stdout.splitlines():
            words = re.sub(r"<[^>]*>|[│╭╮╰╯─*]", " ", line).split()  # metavars, boxes, "required" stars
            if not CHINESE.search(line) and not set(words) <= typed:
                pytest.fail(f"{' '.join(('gridops', *path))} --help: an English line: {line.strip()}")


def test_a_5000_grid_file_imports_with_a_progress_bar(env, tmp_path):
    path = tmp_path / "many.geojson"
    path.write_bytes(collection(many_grids()))
    proc = gridops("grids", "import", str(path), env=env)
    assert "写入网格" in proc.stderr and "5053/5053" in proc.stderr
    assert "新增 5053 个" in proc.stderr
    unit = gridops("grids", "locate", "117.0005", "36.6495", env=env).stdout.splitlines()[-1]
    assert unit.split("\t")[:2] == ["单元网格", "370102001001001"]
