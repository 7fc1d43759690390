"""Photos in an S3-compatible object store, against a real one on loopback (moto's server): ``S3Storage``
keeps the protocol as ``LocalStorage`` does (the shared tests run on both), a live server stores a case's
photo in the bucket and serves it back, the sweep deletes an orphan there, ``gridops media copy`` moves a
city's files into the bucket, and a store that is down answers 503 with Retry-After and loses nothing."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from server.case.models import Case, CasePhoto
from server.config import Settings, get_settings
from server.database import get_engine, new_session
from server.errors import Invalid, NotFound
from server.http_errors import STORAGE_DOWN
from server.localdb import free_port
from server.photo.storage import LocalStorage, get_storage
from server.photo.sweep import sweep_media
from server.public.models import PublicReport
from tests.conftest import ADMIN_TOKEN
from tests.server.case_world import jpeg, village_point
from tests.server.live import live_server
from tests.server.test_cli import gridops
from tests.server.test_public import post_report

HOUR = 3600
START_SECONDS = 60  # bounds the wait for moto's server to answer
REQUEST_SECONDS = 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """moto's S3-compatible server on a free loopback port, for the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert proc.poll() is None, f"moto's server stopped:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"moto's server did not answer:\n{log.read_text()}"
            try:
                httpx.get(f"{url}/moto-api/", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=START_SECONDS)


@pytest.fixture
def s3_fields(s3_endpoint) -> dict[str, str]:
    """The settings that keep photos in a new bucket (with versioning, as the README asks) of the server."""
    fields = {
        "photo_storage": "s3",
        "s3_endpoint_url": s3_endpoint,
        "s3_bucket": f"photos-{uuid.uuid4().hex[:12]}",
        "s3_prefix": "city/",
        "s3_access_key": "gridops-test",
        "s3_secret_key": "gridops-test-secret",
    }
    client = get_storage(Settings(**fields)).client
    client.create_bucket(Bucket=fields["s3_bucket"])
    client.put_bucket_versioning(Bucket=fields["s3_bucket"], VersioningConfiguration={"Status": "Enabled"})
    return fields


def as_environment(fields: dict[str, str]) -> dict[str, str]:
    return {f"GRIDOPS_{name.upper()}": value for name, value in fields.items()}


def configure(monkeypatch, fields: dict[str, str]) -> None:
    """The process's settings with ``fields``, validated (the secret as a secret)."""
    configured = Settings(**fields)
    for name in fields:
        monkeypatch.setattr(get_settings(), name, getattr(configured, name))


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    return get_storage(Settings(**request.getfixturevalue("s3_fields")))


# -- the protocol, on both stores ---------------------------------------------------------------------------


def test_a_put_is_content_addressed_idempotent_and_read_back(store):
    data = b"photo bytes"
    key = store.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert store.get(key) == data
    assert store.exists(key)
    assert store.size(key) == len(data)
    assert store.put(data) == key
    assert [k for k, _ in store.files()] == [key]


def test_missing_and_invalid_keys(store):
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    assert not store.delete_if_older(missing, time.time() + HOUR)
    for read in (store.get, store.size):
        with pytest.raises(NotFound) as caught:
            read(missing)
        assert caught.value.code == "photo.file_missing"
    for key in ["../etc/passwd", "../" * 21 + "x", missing.upper(), missing[:-1], missing + "0", ""]:
        for operation in (store.get, store.exists, store.size):
            with pytest.raises(Invalid) as caught:
                operation(key)
            assert caught.value.code == "photo.bad_key"
    assert list(store.files()) == []


def test_files_in_key_order_and_only_old_ones_deleted(store):
    keys = [store.put(f"photo {i}".encode()) for i in range(5)]
    assert [k for k, _ in store.files()] == sorted(keys)

    young, old = keys[0], keys[1]
    assert not store.delete_if_older(young, cutoff=0)  # put after the cutoff: kept
    assert store.delete_if_older(old, cutoff=time.time() + HOUR)
    assert not store.exists(old) and store.exists(young)
    assert sorted(k for k, _ in store.files()) == sorted(set(keys) - {old})
    assert store.delete_stale_parts(time.time() + HOUR) == 0  # no put was interrupted


# -- the object store's own ---------------------------------------------------------------------------------


def test_objects_are_laid_out_as_the_local_files_under_the_prefix(s3_fields):
    storage = get_storage(Settings(**s3_fields))
    key = storage.put(b"x")
    bucket = s3_fields["s3_bucket"]
    storage.client.put_object(Bucket=bucket, Key="city/notes.txt", Body=b"not a photo")
    storage.client.put_object(Bucket=bucket, Key=f"elsewhere/{key[:2]}/{key[2:4]}/{key}", Body=b"x")
    names = [o["Key"] for o in storage.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"city/{key[:2]}/{key[2:4]}/{key}" in names
    assert [k for k, _ in storage.files()] == [key]  # nothing else under the prefix, nothing outside


def test_the_same_bytes_put_between_the_sweeps_check_and_its_deletion_stay(s3_fields, monkeypatch):
    storage = get_storage(Settings(**s3_fields))
    key = storage.put(b"an orphan, sent again")
    checked = storage._head

    def put_again_after_the_check(key: str) -> dict | None:
        head = checked(key)
        storage.put(b"an orphan, sent again")  # another process, at the worst moment
        return head

    monkeypatch.setattr(storage, "_head", put_again_after_the_check)
    assert storage.delete_if_older(key, time.time() + HOUR)  # the version it found old
    assert checked(key) is not None and storage.get(key) == b"an orphan, sent again"


def test_a_store_that_is_down_raises_the_outage_error(s3_fields):
    storage = get_storage(Settings(**{**s3_fields, "s3_endpoint_url": f"http://127.0.0.1:{free_port()}"}))
    key = hashlib.sha256(b"x").hexdigest()
    for operation in (lambda: storage.put(b"x"), lambda: storage.get(key), lambda: list(storage.files())):
        with pytest.raises(OSError) as caught:
            operation()
        assert caught.value.errno == errno.EIO and errno.EIO in STORAGE_DOWN
        assert s3_fields["s3_secret_key"] not in str(caught.value)


def test_the_secret_key_is_never_shown(s3_fields):
    settings = Settings(**s3_fields)
    assert s3_fields["s3_secret_key"] not in repr(settings) + str(settings.model_dump())


def test_s3_without_a_bucket_stops_the_start():
    with pytest.raises(ValueError, match="GRIDOPS_S3_BUCKET"):
        Settings(photo_storage="s3")


# -- the server, the sweep and the CLI on the object store -----------------------------------------------


def test_a_live_server_keeps_a_case_photo_in_the_bucket_and_the_sweep_deletes_an_orphan(
    demo_clone_url, s3_fields, tmp_path, monkeypatch
):
    with new_session(demo_clone_url) as db:
        _, lon, lat = village_point(db)
    get_engine(demo_clone_url).dispose()
    media = tmp_path / "media"
    photo = jpeg(lon, lat)
    environment = {**as_environment(s3_fields), "GRIDOPS_MEDIA_DIR": str(media)}
    with (
        live_server(demo_clone_url, tmp_path / "server.log", **environment) as server,
        httpx.Client(base_url=server.url, timeout=REQUEST_SECONDS, headers=ADMIN) as client,
    ):
        report = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": lon, "lat": lat}
        created = client.post("/api/cases", json=report)
        assert created.status_code == 201, created.text
        files = {"file": ("photo.jpg", photo, "image/jpeg")}
        uploaded = client.post(f"/api/cases/{created.json()['code']}/photos", files=files)
        assert uploaded.status_code == 201, uploaded.text
        served = client.get(uploaded.json()["url"])
        assert served.status_code == 200 and served.content == photo
    assert "Traceback" not in server.output()
    assert not media.exists(), "a photo was written to the local folder"

    storage = get_storage(Settings(**s3_fields))
    assert storage.get(hashlib.sha256(photo).hexdigest()) == photo
    named = {k for k, _ in storage.files()}
    assert len(named) == 3  # the original, the public copy, the thumbnail
    orphan = storage.put(b"left by a failed upload")
    with new_session(demo_clone_url) as db:
        young = sweep_media(db=db, storage=storage, older_than_s=HOUR)
        assert (young.files, young.old, young.deleted) == (4, 0, 0)
        everything_old = sweep_media(db=db, storage=storage, older_than_s=-HOUR)  # the cutoff ahead
        assert (everything_old.files, everything_old.old, everything_old.deleted) == (4, 4, 1)
    get_engine(demo_clone_url).dispose()
    assert {k for k, _ in storage.files()} == named and not storage.exists(orphan)


def counts(db) -> tuple[int, int, int]:
    return tuple(db.scalar(select(func.count()).select_from(t)) for t in (Case, CasePhoto, PublicReport))


def test_a_report_while_the_store_is_down_answers_503_and_its_retry_keeps_every_file(
    demo_db, demo_client, s3_fields, monkeypatch
):
    _, lon, lat = village_point(demo_db)
    before = counts(demo_db)
    client_uuid = str(uuid.uuid4())
    photo = jpeg(lon, lat, color=(12, 34, 56))

    configure(monkeypatch, {**s3_fields, "s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    down = post_report(demo_client, lon, lat, photos=[photo], client_uuid=client_uuid, phone="13655550002")
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == str(get_settings().retry_after_seconds)
    demo_db.rollback()  # what the request's session does when it ends without a commit
    assert counts(demo_db) == before, "a report whose photos could not be stored left rows behind"

    configure(monkeypatch, s3_fields)
    again = post_report(demo_client, lon, lat, photos=[photo], client_uuid=client_uuid, phone="13655550002")
    assert again.status_code == 201, again.text
    storage = get_storage(get_settings())
    rows = demo_db.scalars(select(CasePhoto).join(Case).where(Case.code == again.json()["code"])).all()
    assert [r.sha256 for r in rows] == [hashlib.sha256(photo).hexdigest()]
    assert all(storage.exists(k) for r in rows for k in (r.sha256, r.public_key, r.thumbnail_key))


def test_gridops_media_copy_moves_the_local_files_into_the_bucket(s3_fields, tmp_path):
    local = LocalStorage(tmp_path / "media")
    keys = {local.put(f"photo {i}".encode()) for i in range(3)}
    bucket = get_storage(Settings(**s3_fields))
    already = bucket.put(b"photo 0")
    env = {**os.environ, "GRIDOPS_MEDIA_DIR": str(tmp_path / "media"), "COLUMNS": "200"}

    refused = gridops("media", "copy", env=env, check=False)
    assert refused.returncode == 1 and "GRIDOPS_PHOTO_STORAGE=s3" in refused.stderr

    copied = gridops("media", "copy", env={**env, **as_environment(s3_fields)})
    assert "复制了 2 个照片文件；另有 1 个对象存储中已有" in copied.stdout + copied.stderr
    assert {k for k, _ in bucket.files()} == keys and already in keys
    assert all(bucket.get(k) == local.get(k) for k in keys)
