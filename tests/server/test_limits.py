"""What a request may cost before anyone has logged in: bodies refused by their declared length before a
byte of them is read and while they stream in, per route; search text and bounding boxes refused before
any query runs."""

from __future__ import annotations

import json
import select
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from server.config import get_settings
from server.limits import body_limit
from tests.server.case_world import jpeg, team
from tests.server.live import live_server

MB = 1024 * 1024


# -- bodies -------------------------------------------------------------------------------------------


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """The status, headers and JSON body of the HTTP answer on ``sock`` (bounded by its timeout)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection without answering: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the answer was cut short"
        body += chunk
    return int(status_line.split()[1]), headers, json.loads(body)


def _head(method: str, path: str, host: str, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_declared_gibibyte_and_an_endless_chunked_body_are_refused_by_a_live_server(fresh_db_url, tmp_path):
    with live_server(fresh_db_url, tmp_path / "server.log") as server:
        where = urlsplit(server.url)
        address = (where.hostname, where.port)

        # The headers announce 1 GiB and not one byte of it is sent: the answer can only come from the
        # headers, before the body is read.
        with socket.create_connection(address, timeout=30) as sock:
            sock.sendall(
                _head(
                    "POST", "/api/public/reports", where.netloc,
                    **{"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(2**30)},
                )
            )  # fmt: skip
            status, headers, body = _answer(sock)
        assert status == 413 and body["code"] == "http.body_too_large"
        assert headers["content-type"] == "application/json"
        assert body["detail"].startswith("提交的内容超过")
        assert "请" in body["detail"]

        # No length declared: the body is counted as it comes and refused once it passes the limit, long
        # before the client has sent all it meant to.
        limit = body_limit("POST", "/api/cases")
        chunk, meant = b" " * (64 * 1024), 64 * MB
        sent = 0
        with socket.create_connection(address, timeout=30) as sock:
            sock.sendall(
                _head(
                    "POST", "/api/cases", where.netloc,
                    **{"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                )
            )  # fmt: skip
            try:
                while sent < meant and not select.select([sock], [], [], 0)[0]:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
            except OSError:  # the server closed the connection after answering
                pass
            status, headers, body = _answer(sock)
        assert status == 413
        assert body["detail"].startswith("提交的内容超过")
        assert limit < sent < meant
    assert "Traceback" not in server.output()


def _lazy(total: int, pulled: list[int], piece: int = MB) -> Iterator[bytes]:
    """``total`` bytes of JSON whitespace, made only as the server reads them (``pulled`` counts them)."""
    while pulled[0] < total:
        pulled[0] += piece
        yield b" " * piece


def test_a_100_mb_json_body_is_refused_unread(client):
    pulled = [0]
    answer = client.post(
        "/api/cases",
        content=_lazy(100 * MB, pulled),
        headers={"Content-Type": "application/json", "Content-Length": str(100 * MB)},
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "detail": "提交的内容超过 1 MB 的上限：请减少内容（或照片）后重新提交",
        "code": "http.body_too_large",
        "params": {"size": "1 MB"},
    }
    assert pulled[0] == 0


def test_a_json_body_of_no_declared_length_is_counted(client):
    # The test client hands the app the whole body at once; the live server above shows it streaming.
    answer = client.post(
        "/api/cases", content=_lazy(2 * MB, [0]), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["detail"].startswith("提交的内容超过 1 MB 的上限")


def test_each_route_has_the_limit_its_largest_legitimate_body_needs():
    settings = get_settings()
    default = body_limit("POST", "/api/cases")
    assert default == settings.body_max_bytes == MB
    assert body_limit("POST", "/api/cases/C202612040001/actions/verify") == default
    assert body_limit("PUT", "/api/anything/else") == default
    public = body_limit("POST", "/api/public/reports")
    assert settings.public_max_photos * settings.public_max_photo_bytes < public
    assert public < (settings.public_max_photos + 1) * settings.public_max_photo_bytes
    photo = body_limit("POST", "/api/cases/C202612040001/photos")
    assert settings.photo_max_bytes < photo < 2 * settings.photo_max_bytes
    for path in ("/api/grids/import", "/api/categories/load"):
        assert body_limit("POST", path) > settings.import_max_bytes
    # A full batch of track points and a full batch of points to locate, with every digit a phone sends.
    point = {
        "recorded_at": "2026-12-04T09:30:00.123456+08:00",
        "lon": 117.12345678901234,
        "lat": 36.12345678901234,
        "accuracy_m": 12.345678901234,
        "speed_mps": 1.2345678901234,
        "crs": "wgs84",
    }
    track = json.dumps({"points": [point] * 1000}).encode()
    assert len(track) < body_limit("POST", f"/api/patrol/shifts/{uuid.uuid4()}/points")
    points = [[117.12345678901234, 36.12345678901234]] * settings.locate_batch_max
    locate = json.dumps({"points": points, "crs": "wgs84"}).encode()
    assert len(locate) < body_limit("POST", "/api/grids/locate")


def test_legitimate_large_bodies_still_pass(client):
    points = [[117.12345678901234, 36.12345678901234]] * get_settings().locate_batch_max
    body = json.dumps({"points": points, "crs": "wgs84"}).encode()
    assert len(body) > MB // 4
    answer = client.post("/api/grids/locate", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["codes"]) == len(points)


def test_a_public_report_with_every_photo_at_the_size_limit_passes(demo_db, demo_client):
    world = team(demo_db)
    size = get_settings().public_max_photo_bytes
    photos = []
    for i in range(get_settings().public_max_photos):
        blob = jpeg(color=(i * 40, 80, 40))
        photos.append(("photos", (f"p{i}.jpg", blob + b"\0" * (size - len(blob)), "image/jpeg")))
    data = {
        "client_uuid": str(uuid.uuid4()),
        "category": "E06010",
        "lon": world["lon"],
        "lat": world["lat"],
        "description": "路灯" * 250,
    }
    answer = demo_client.post("/api/public/reports", data=data, files=photos)
    assert answer.status_code == 201, answer.text


# -- search text and bounding boxes --------------------------------------------------------------------

LONG = "路灯" * 1000  # 2,000 characters, 6 KB of UTF-8


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/cases", {"q": LONG}),
        ("/api/cases", {"category": LONG}),
        ("/api/cases/bbox", {"bbox": "117,36,118,37", "q": LONG}),
        ("/api/grids/search", {"q": LONG}),
        ("/tiles/cases/14/13500/6300.mvt", {"tag": LONG}),
    ],
    ids=["cases-q", "cases-category", "cases-bbox-q", "grids-search", "tiles-tag"],
)
def test_long_search_text_is_refused_before_any_query(client, admin_headers, path, params):
    answer = client.get(path, params=params, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert "太长" in answer.json()["detail"] and "最多" in answer.json()["detail"]


def test_open311_lists_are_bounded(client):
    answer = client.get("/open311/v2/requests.json", params={"service_request_id": ",".join(["1"] * 2000)})
    assert answer.status_code == 400, answer.text
    answer = client.get("/open311/v2/requests.json", params={"service_code": LONG})
    assert answer.status_code == 400, answer.text


BAD_BOXES = {
    "three numbers": ("117.0,36.6,117.1", "地图范围应为四个数字"),
    "not numbers": ("a,b,c,d", "地图范围应为四个数字"),
    "NaN": ("nan,36.6,117.1,36.7", "有限的数字"),
    "infinity": ("117.0,-inf,117.1,36.7", "有限的数字"),
    "inverted west-east": ("117.1,36.6,117.0,36.7", "西边应小于东边"),
    "inverted south-north": ("117.0,36.7,117.1,36.6", "南边应小于北边"),
    "empty": ("117.0,36.6,117.0,36.7", "西边应小于东边"),
    "latitude out of range": ("117.0,36.6,117.1,95", "纬度应在 -90 到 90 之间"),
    "longitude out of range": ("-200,36.6,117.1,36.7", "经度应在 -180 到 180 之间"),
}


@pytest.mark.parametrize("path", ["/api/cases/bbox", "/api/grids/bbox", "/api/patrol/tracks/today"])
@pytest.mark.parametrize("why", list(BAD_BOXES))
def test_every_bounding_box_is_checked_by_one_parser(client, admin_headers, path, why):
    bbox, message = BAD_BOXES[why]
    answer = client.get(path, params={"bbox": bbox}, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["detail"], answer.json()
    assert answer.json()["code"].startswith("request.bbox_") and "bbox" not in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/api/cases/bbox", "/api/grids/bbox", "/api/patrol/tracks/today"])
def test_a_sound_bounding_box_passes(client, admin_headers, path):
    answer = client.get(path, params={"bbox": "117.0,36.6,117.1,36.7"}, headers=admin_headers)
    assert answer.status_code == 200, answer.text
