"""Supervision of the processes: ``gridops serve --workers 2`` starts a worker again when one is killed, and
the systemd units under deploy/systemd are valid and start real ``gridops`` commands."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from configparser import ConfigParser
from pathlib import Path

import httpx

from server.config import PROJECT_DIR
from server.localdb import free_port
from tests.server.test_cli import gridops

UNITS = sorted((PROJECT_DIR / "deploy" / "systemd").glob("gridops*.*"))
INSTALL_DIR = "/opt/gridops"  # where the units expect the checkout
WAIT_S = 180  # bounds every wait for a state (generous: the machine may be busy)


def workers(parent: int) -> set[int]:
    """The worker processes uvicorn's supervisor started (multiprocessing children running spawn_main)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.add(int(proc.name))
    return found


def wait_for(condition, message: str):
    deadline = time.monotonic() + WAIT_S
    while not (result := condition()):
        assert time.monotonic() < deadline, message
        time.sleep(0.1)
    return result


def answers(url: str, timeout: float = 2) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_restarts_a_worker_killed_with_sigkill(fresh_db_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {**os.environ, "DATABASE_URL": fresh_db_url}
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2"]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: answers(url), f"the server did not answer:\n{log.read_text()}")
        first = wait_for(lambda: len(w := workers(server.pid)) == 2 and w, "two workers did not start")

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        assert answers(url, timeout=WAIT_S), "the other worker does not answer"
        replaced = wait_for(
            lambda: len(w := workers(server.pid)) == 2 and victim not in w and w,
            f"the killed worker was not replaced:\n{log.read_text()}",
        )
        assert replaced - first, "no new worker"
        wait_for(lambda: answers(url), "the server does not answer after the restart")
        assert server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _unit(path: Path) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_the_units_start_real_gridops_commands():
    assert {p.name for p in UNITS} >= {"gridops.service", "gridops-db.service", "gridops-backup.timer"}
    env = {**os.environ, "COLUMNS": "200"}
    for path in UNITS:
        unit = _unit(path)
        if path.suffix != ".service":
            continue
        service = unit["Service"]
        for key in ("ExecStart", "ExecStop"):
            if key not in service:
                continue
            program, *args = shlex.split(service[key])
            assert program == f"{INSTALL_DIR}/.venv/bin/gridops", f"{path.name}: {key} runs {program}"
            gridops(*args, "--help", env=env)  # the command and its options exist
        if unit.has_section("Install") and unit["Install"].get("WantedBy") == "multi-user.target":
            assert service["Restart"] == "always", f"{path.name} is not restarted"


def test_systemd_analyze_verifies_the_units(tmp_path):
    """The units as installed in this checkout's place: systemd finds nothing to complain about."""
    for path in UNITS:
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALL_DIR, str(PROJECT_DIR)))
    checked = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr
