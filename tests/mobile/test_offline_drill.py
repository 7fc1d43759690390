"""The offline drill: with the server stopped, 20 reports with photos are made in the app; the app's
process is killed and started again; the server comes back; all 20 sync, and the server holds exactly
those 20 new cases, each with its photo. The app runs as a real process (tests/mobile/drill_app.py) in
an offscreen window, against a real server (uvicorn) on the test PostGIS."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import text

from server.config import PROJECT_DIR
from server.database import get_engine
from server.localdb import free_port
from tests.mobile.conftest import INSPECTOR
from tests.server.live import live_server

REPORTS = 20
DEADLINE_S = 300  # bounds each wait on the app; reaching it fails the drill


def app(*args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.mobile.drill_app", *map(str, args)],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def lines_until(proc: subprocess.Popen, last: str) -> list[str]:
    """The app's lines up to ``last`` (the app's log lines are skipped)."""
    lines, output = [], []
    deadline = time.monotonic() + DEADLINE_S
    for line in proc.stdout:
        output.append(line)
        assert time.monotonic() < deadline, f"the app did not say {last!r} in time"
        words = line.split()
        if words and words[0] in ("saved", "offline", "sent", "queued", "sending", "failed", "ready", "done"):
            lines.append(line.strip())
            if words[0] == last:
                return lines
    tail = "".join(output[-40:])
    raise AssertionError(f"the app ended (code {proc.wait()}) before saying {last!r}:\n{tail}")


def inspector_cases(engine) -> dict[str, int]:
    """The inspector's cases on the server: client UUID -> number of photos."""
    with engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT c.client_uuid::text, count(p.id) FROM case_file c "
                "JOIN app_user u ON u.id = c.reporter_id LEFT JOIN case_photo p ON p.case_id = c.id "
                "WHERE u.phone = :phone GROUP BY c.id"
            ),
            {"phone": INSPECTOR},
        )
        return dict(rows.all())


def test_offline_drill(mobile_db_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "phone"
    engine = get_engine(mobile_db_url)

    with live_server(mobile_db_url, tmp_path / "server-1.log", port=port):  # the first login needs it
        first = app("login", data, url)
        lines_until(first, "ready")
        assert first.wait(timeout=60) == 0
    before = inspector_cases(engine)

    # The server is down: 20 reports made in the app, then the app is killed.
    maker = app("report", data, url, REPORTS)
    saved = [line.split()[1] for line in lines_until(maker, "done") if line.startswith("saved")]
    assert len(saved) == len(set(saved)) == REPORTS
    maker.kill()
    maker.wait()

    # The app starts again with the server still down, then the server comes back.
    syncer = app("sync", data, url)
    assert lines_until(syncer, "offline") == ["offline"]
    assert syncer.poll() is None, "the app gave up while the server was down"
    with live_server(mobile_db_url, tmp_path / "server-2.log", port=port):
        result = lines_until(syncer, "done")
        assert syncer.wait(timeout=60) == 0
    sent = [line.split() for line in result if line != "done"]
    assert [state for state, *_ in sent] == ["sent"] * REPORTS, result

    after = inspector_cases(engine)
    new = {uuid: photos for uuid, photos in after.items() if uuid not in before}
    assert sorted(new) == sorted(saved), "the server holds other new cases than the 20 saved"
    assert set(new.values()) == {1}, f"each case has its one photo: {new}"
    engine.dispose()
