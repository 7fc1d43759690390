"""The served application: OpenAPI, docs, errors, and `gridops serve` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from server.localdb import free_port


def test_openapi_documents_every_grid_route(client):
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for path in (
        "/api/grids",
        "/api/grids/{code}",
        "/api/grids/locate",
        "/api/grids/{code}/children.geojson",
        "/api/grids/import",
        "/api/grids/{code}/assignments",
        "/api/users",
    ):
        assert path in paths, path
    assert client.get("/docs").status_code == 200


def test_validation_errors_read_like_sentences(client):
    resp = client.get("/api/grids/locate", params={"lon": "east", "lat": 36.6})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "经度应为数字" and resp.json()["errors"][0]["loc"] == ["query", "lon"]


def test_serve_runs_uvicorn_on_the_configured_database(fresh_db_url):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": fresh_db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.2)
        assert resp.json() == {"status": "ok"}
        assert httpx.get(f"{base}/docs").status_code == 200
        assert httpx.get(f"{base}/api/grids").json() == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
