"""The app served by uvicorn in its own process on 127.0.0.1, for tests that need a real server: several
connections at once, the event stream, concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.config import PROJECT_DIR
from server.localdb import free_port

STARTUP_SECONDS = 60  # bounds the wait for the server to answer, and for it to stop
# As `gridops serve`: no --proxy-headers, the app reads forwarded headers itself (trusted proxies only); a
# bounded graceful shutdown, so that an event stream a client still holds open cannot hold the stop (cut
# after 1 s here, 5 s there: a test stops its server only once its own requests are answered).
SERVE = [
    sys.executable,
    "-m",
    "uvicorn",
    "server.main:create_app",
    "--factory",
    "--host",
    "127.0.0.1",
    "--no-proxy-headers",
    "--timeout-graceful-shutdown",
    "1",
]


@dataclass
class LiveServer:
    url: str
    log: Path
    exit_code: int | str | None = None

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def live_server(
    database_url: str, log: Path, *, port: int | None = None, **settings: str
) -> Iterator[LiveServer]:
    """Serve the app on ``database_url`` until the block ends, on ``port`` (default: a free one); the
    server's output goes to ``log``; ``settings`` are more environment variables (``GRIDOPS_...``)."""
    port = port or free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*SERVE, "--port", str(port)],
            cwd=PROJECT_DIR,
            env={**os.environ, "DATABASE_URL": database_url, **settings},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"the server stopped:\n{server.output()}"
            assert time.monotonic() < deadline, f"the server did not answer:\n{server.output()}"
            try:
                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            server.exit_code = proc.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            server.exit_code = "killed"
