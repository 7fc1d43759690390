"""The ``gridops`` command, run as a real process against a fresh database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.server.grid_files import city_features, collection, many_grids


def gridops(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


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
    assert "dry run" in dry.stderr
    done = gridops("grids", "import", str(city_file), env=env)
    assert "7 new" in done.stderr
    lines = gridops("grids", "locate", "117.005", "36.61", env=env).stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["city", "370100"],
        ["district", "370102"],
        ["street", "370102001"],
    ]
    check = gridops("grids", "check", env=env)
    assert "0 errors" in check.stderr
    exported = json.loads(gridops("grids", "export", "370102", env=env).stdout)
    assert [f["properties"]["code"] for f in exported["features"]] == ["370102", "370102001", "370102002"]
    outside = gridops("grids", "locate", "121.47", "31.23", env=env, check=False)
    assert outside.returncode == 1 and "outside every grid" in outside.stderr


def test_a_bad_file_is_refused_and_nothing_written(env, tmp_path):
    features = city_features()
    features[3]["properties"]["parent_code"] = "370103"
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(collection(features))
    proc = gridops("grids", "import", str(bad), env=env, check=False)
    assert proc.returncode == 1
    assert "nothing was written" in proc.stderr and "370102001" in proc.stderr
    assert gridops("grids", "export", env=env).stdout.count('"code"') == 0


def test_users_and_assignments(env, city_file):
    gridops("grids", "import", str(city_file), env=env)
    gridops("users", "add", "张伟", "--phone", "13900000001", "--role", "inspector", env=env)
    dup = gridops("users", "add", "张伟", "--phone", "13900000001", env=env, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert "张伟" in gridops("users", "list", "--role", "inspector", env=env).stdout
    gridops("grids", "assign", "370102001", "13900000001", "--role", "inspector", env=env)
    people = gridops("grids", "people", "370102001", env=env).stdout.splitlines()
    assert len(people) == 1 and people[0].split("\t")[1:4] == ["370102001", "inspector", "张伟"]
    assignment_id = people[0].split("\t")[0]
    gridops("grids", "unassign", assignment_id, env=env)
    assert gridops("grids", "people", "370102001", env=env).stdout == ""
    assert "张伟" in gridops("grids", "people", "370102001", "--history", env=env).stdout


def test_embedded_database_commands():
    var = tempfile.mkdtemp(prefix="gridops-cli-var-", dir="/tmp")
    os.chmod(var, 0o755)  # as a checkout would be: the postgres user must traverse it
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"GRIDOPS_VAR_DIR": var}
    try:
        assert gridops("db", "status", env=env, check=False).returncode == 3
        gridops("db", "start", env=env)
        assert "running" in gridops("db", "status", env=env).stdout
        url = gridops("db", "url", env=env).stdout.strip()
        assert url.startswith("postgresql+psycopg2://gridops:") and f"{var}/pg/run" in url
        gridops("migrate", env=env)
        gridops("db", "start", env=env)  # safe to run again
        gridops("db", "stop", env=env)
        assert gridops("db", "status", env=env, check=False).stdout.strip() == "stopped"
    finally:
        gridops("db", "stop", env=env, check=False)
        subprocess.run(["rm", "-rf", var], check=True)


@pytest.mark.parametrize(
    "command",
    [[], ["db"], ["grids"], ["grids", "import"], ["grids", "locate"], ["users"], ["demo", "load"], ["serve"]],
)
def test_every_command_has_help(command):
    proc = gridops(*command, "--help", env=dict(os.environ))
    assert "Usage" in proc.stdout


def test_a_5000_grid_file_imports_with_a_progress_bar(env, tmp_path):
    path = tmp_path / "many.geojson"
    path.write_bytes(collection(many_grids()))
    proc = gridops("grids", "import", str(path), env=env)
    assert "writing grids" in proc.stderr and "5053/5053" in proc.stderr
    assert "imported: 5053 new" in proc.stderr
    unit = gridops("grids", "locate", "117.0005", "36.6495", env=env).stdout.splitlines()[-1]
    assert unit.split("\t")[:2] == ["unit", "370102001001001"]
