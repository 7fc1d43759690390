"""Login through the API: passwords, device-bound tokens, refresh rotation, throttling, route guards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine, func, select, text

from server import messages
from server.auth import service
from server.auth.dependencies import require_roles, stream_principal
from server.auth.models import DeviceSession, LoginFailure
from server.auth.passwords import DEMO_PASSWORD
from server.auth.principal import Principal
from server.auth.schemas import UserCreate
from server.category.models import Department
from server.config import Settings, get_settings
from server.localdb import free_port
from server.users import service as user_service
from tests.server.test_people import setup_city

PASSWORD = "correct horse"
WRONG = {"detail": messages.text("auth.wrong_login"), "code": "auth.wrong_login", "params": {}}


@pytest.fixture
def user(db):
    return user_service.create_user(
        db=db,
        data=UserCreate(
            name="张伟", phone="13900000001", username="zhangwei", roles=["inspector"], password=PASSWORD
        ),
    )


@pytest.fixture
def admin_user(db):
    data = UserCreate(name="管理员", phone="13900000099", roles=["admin"], password=PASSWORD)
    return user_service.create_user(db=db, data=data)


def login(client, login="13900000001", password=PASSWORD, device="phone-1"):
    body = {"login": login, "password": password, "device_id": device, "device_name": f"{device} (Android)"}
    return client.post("/api/auth/login", json=body)


def logged_in(client, **kwargs) -> dict:
    resp = login(client, **kwargs)
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(tokens: dict | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["access_token"]
    return {"Authorization": f"Bearer {token}"}


def failures(db, key="13900000001") -> int:
    return db.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.login_key == key))


def add_failures(db, count, ago: timedelta, key="13900000001", ip="198.51.100.7"):
    at = datetime.now(UTC) - ago
    db.add_all(LoginFailure(login_key=key, ip=ip, at=at) for _ in range(count))
    db.flush()


# -- login ----------------------------------------------------------------------------------------


def test_login_by_phone_or_username_gives_tokens_that_work(client, user):
    by_phone = logged_in(client)
    by_name = logged_in(client, login="zhangwei", device="tablet-1")
    for tokens in (by_phone, by_name):
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 15 * 60
        assert tokens["user"]["id"] == user.id and tokens["user"]["roles"] == ["inspector"]
        assert "password_hash" not in tokens["user"] and tokens["user"]["has_password"] is True
        expires = datetime.fromisoformat(tokens["refresh_expires_at"])
        assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)
    claims = jwt.decode(by_phone["access_token"], options={"verify_signature": False})
    assert set(claims) == {"sub", "sid", "iat", "exp"} and claims["sub"] == str(user.id)

    me = client.get("/api/auth/me", headers=bearer(by_phone))
    assert me.status_code == 200
    body = me.json()
    assert (body["name"], body["roles"], body["user"]["phone"]) == ("张伟", ["inspector"], "13900000001")
    assert body["session"]["id"] == claims["sid"]
    assert body["session"]["device_name"] == "phone-1 (Android)" and body["session"]["current"] is True


def test_wrong_password_and_unknown_login_get_the_same_answer(client, user):
    wrong = login(client, password="not the password")
    unknown = login(client, login="19999999999")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == WRONG


def test_a_user_without_password_or_disabled_cannot_log_in(client, db, user):
    user_service.create_user(db=db, data=UserCreate(name="李娜", phone="13900000002"))
    no_password = login(client, login="13900000002", password="anything at all")
    assert no_password.status_code == 403 and no_password.json()["code"] == "auth.no_password"

    tokens = logged_in(client)
    service.set_active(db=db, user=user, active=False)
    disabled = login(client)
    assert disabled.status_code == 403 and disabled.json()["code"] == "auth.account_disabled"
    assert disabled.json()["detail"] == messages.text("auth.account_disabled")
    assert login(client, password="wrong password").json() == WRONG  # says nothing more
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    service.set_active(db=db, user=user, active=True)
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401  # its sessions ended
    assert login(client).status_code == 200


def test_the_password_policy_is_explained(client, admin_headers):
    body = {"name": "王芳", "phone": "13900000003", "password": "short"}
    resp = client.post("/api/users", json=body, headers=admin_headers)
    assert resp.status_code == 422 and resp.json()["code"] == "auth.password_too_short"
    assert resp.json()["params"] == {"min_length": 8}
    assert resp.json()["detail"] == messages.text("auth.password_too_short", min_length=8)


def test_an_old_hash_is_upgraded_at_login(client, db, user):
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    db.flush()
    old = user.password_hash
    logged_in(client)
    db.refresh(user)
    assert user.password_hash != old and PasswordHasher().verify(user.password_hash, PASSWORD)
    assert not PasswordHasher().check_needs_rehash(user.password_hash)


# -- throttling -----------------------------------------------------------------------------------


def from_address(client, host: str) -> TestClient:
    """The same app, called from ``host`` (the test client's own address is "testclient")."""
    return TestClient(client.app, client=(host, 50000))


def test_failures_of_one_account_from_one_address_back_off(client, db, user):
    for login_name in ("13900000001", "zhangwei", "13900000001", "ZHANGWEI", "13900000001"):
        assert login(client, login=login_name, password="guess-guess").status_code == 401
    assert failures(db) == 5  # counted on the account, whichever login named it
    blocked = login(client)  # even with the right password
    assert blocked.status_code == 429 and blocked.json()["code"] == "auth.too_many_attempts"
    assert blocked.json()["detail"].startswith("这个账号在这个网络上登录失败次数过多，请")
    assert 0 < int(blocked.headers["Retry-After"]) <= 30
    assert blocked.json()["retry_after"] == int(blocked.headers["Retry-After"])
    assert failures(db) == 5  # a refused attempt is not a failure: it does not extend the wait

    def wait_out():
        for failure in db.scalars(select(LoginFailure)):
            failure.at -= timedelta(seconds=int(blocked.headers["Retry-After"]))
        db.flush()

    wait_out()
    assert login(client, password="guess-guess").status_code == 401  # the sixth failure: a longer wait
    blocked = login(client)
    assert blocked.status_code == 429 and 30 < int(blocked.headers["Retry-After"]) <= 60
    wait_out()
    assert login(client).status_code == 200
    assert failures(db) == 0  # a success forgets the failures of the account from that address


def test_an_attacker_elsewhere_does_not_lock_the_owner_out(client, db, user):
    attacker = from_address(client, "203.0.113.9")
    assert login(attacker, password="guess-guess").status_code == 401
    add_failures(db, 50, ago=timedelta(seconds=1), ip="203.0.113.9")
    refused = login(attacker)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in refused.json()["detail"]
    assert login(client).status_code == 200  # the owner, from their own address
    assert login(attacker).status_code == 429  # the owner's success does not lift the attacker's wait


def test_past_the_account_wide_limit_only_new_addresses_are_slowed(client, db, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_account_max_failures", 20)
    home = from_address(client, "192.0.2.10")
    logged_in(home)  # the owner has a session from home
    for i in range(20):  # a botnet: a few guesses from each of many addresses
        add_failures(db, 1, ago=timedelta(seconds=2), ip=f"198.51.100.{i + 1}")
    new_place = login(client)
    assert new_place.status_code == 429
    assert new_place.json()["detail"].startswith("这个账号近期登录失败次数过多，请")
    assert 0 < int(new_place.headers["Retry-After"]) <= 10  # slowed down, not locked out
    assert login(home).status_code == 200  # from an address the owner uses: not even slowed


def test_the_wait_ends_when_the_failures_leave_the_window(client, db, user):
    add_failures(db, 9, ago=timedelta(minutes=61), ip="testclient")
    assert login(client).status_code == 200  # out of the window

    add_failures(db, 1, ago=timedelta(minutes=2), key="13900000002", ip="testclient")
    add_failures(db, 3, ago=timedelta(minutes=1), key="13900000002", ip="testclient")
    assert login(client, login="13900000002", password="x" * 8).status_code == 401  # the fifth
    unknown = login(client, login="13900000002", password="x" * 8)
    assert unknown.status_code == 429  # unknown logins too: they get the answer a real account gets


def test_many_failures_from_one_address_block_it(client, db, user):
    for i in range(50):
        add_failures(db, 1, ago=timedelta(minutes=2), key=f"guess{i}", ip="testclient")
    blocked = login(client)
    assert blocked.status_code == 429
    assert blocked.json()["detail"] == "这个网络登录失败次数过多，请58分钟后再试"
    assert 57 * 60 < int(blocked.headers["Retry-After"]) <= 58 * 60
    assert login(from_address(client, "192.0.2.10")).status_code == 200  # the account is not blocked


def test_old_failures_are_pruned(client, db, user):
    add_failures(db, 3, ago=timedelta(days=2))
    assert failures(db) == 3
    assert login(client, password="not it at all").status_code == 401
    assert failures(db) == 1


def recorded_address(db) -> str:
    return db.scalar(select(LoginFailure.ip).order_by(LoginFailure.id.desc()).limit(1))


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(client, db, user, monkeypatch):
    proxy = from_address(client, "127.0.0.1")
    forged = {"X-Forwarded-For": "198.51.100.1"}
    body = {"login": "13900000001", "password": "guess-guess", "device_id": "d", "device_name": "d"}
    assert proxy.post("/api/auth/login", json=body, headers=forged).status_code == 401
    assert recorded_address(db) == "127.0.0.1"  # no proxy is trusted by default

    monkeypatch.setattr(get_settings(), "trusted_proxies", "127.0.0.0/8, 10.0.0.0/8")
    for headers, seen in (
        (forged, "198.51.100.1"),
        # What the client wrote itself is ignored: the nearest address no trusted proxy holds counts.
        ({"X-Forwarded-For": "6.6.6.6, 198.51.100.2, 10.1.2.3"}, "198.51.100.2"),
        ({"Forwarded": 'for="198.51.100.3:4711";proto=https'}, "198.51.100.3"),
        ({"Forwarded": 'for=6.6.6.6, for="[2001:db8::1]:80"'}, "2001:db8::1"),
        ({"X-Forwarded-For": "not an address"}, "127.0.0.1"),
        ({}, "127.0.0.1"),
    ):
        assert proxy.post("/api/auth/login", json=body, headers=headers).status_code == 401
        assert recorded_address(db) == seen, headers
    outsider = from_address(client, "203.0.113.50")  # not a proxy: its header is ignored
    assert outsider.post("/api/auth/login", json=body, headers=forged).status_code == 401
    assert recorded_address(db) == "203.0.113.50"


def test_a_wrong_trusted_proxy_stops_the_start():
    with pytest.raises(ValidationError, match="not-a-network"):
        Settings(trusted_proxies="10.0.0.0/8, not-a-network")
    assert [str(n) for n in Settings(trusted_proxies="10.0.0.1, fd00::/8").trusted_proxy_networks] == [
        "10.0.0.1/32",
        "fd00::/8",
    ]


def test_gridops_serve_ignores_forwarded_headers_from_loopback(fresh_db_url, tmp_path):
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to: the served app must not."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "GRIDOPS_VAR_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    with subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) as proc:
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            body = {"login": "13900000009", "password": "guess-guess", "device_id": "d", "device_name": "d"}
            forged = {"X-Forwarded-For": "198.51.100.1"}
            assert httpx.post(f"{base}/api/auth/login", json=body, headers=forged).status_code == 401
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    engine = create_engine(fresh_db_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT ip FROM login_failure")) == "127.0.0.1"
    finally:
        engine.dispose()


# -- access tokens --------------------------------------------------------------------------------


def test_expired_tampered_and_missing_access_tokens_are_refused(client, user):
    tokens = logged_in(client)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = jwt.encode(
        {**claims, "iat": past, "exp": past + timedelta(minutes=15)},
        get_settings().resolved_secret_key(),
        algorithm="HS256",
    )
    resp = client.get("/api/auth/me", headers=bearer(expired))
    assert resp.status_code == 401 and resp.json()["code"] == "auth.token_expired"
    assert resp.json()["detail"] == messages.text("auth.token_expired")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    other_key = "not the key, but as long as one" * 2
    forged = jwt.encode({**claims, "sub": "1"}, other_key, algorithm="HS256")
    header, _, signature = tokens["access_token"].split(".")
    other_sid = jwt.encode({**claims, "sid": claims["sid"] + 1}, other_key, algorithm="HS256").split(".")[1]
    for bad in (forged, f"{header}.{other_sid}.{signature}", tokens["access_token"][:-2], "nonsense"):
        resp = client.get("/api/auth/me", headers=bearer(bad))
        assert resp.status_code == 401 and resp.json()["code"] == "auth.token_invalid", bad

    missing = client.get("/api/auth/me")
    assert missing.status_code == 401 and missing.json()["code"] == "auth.login_required"
    assert missing.headers["WWW-Authenticate"] == "Bearer"


def refresh(client, token):
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_refresh_rotates_and_the_previous_token_lasts_until_the_new_one_is_used(client, db, user):
    first = logged_in(client)
    session = db.get(DeviceSession, client.get("/api/auth/me", headers=bearer(first)).json()["session"]["id"])
    session.expires_at = datetime.now(UTC) + timedelta(days=1)
    db.flush()

    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/auth/me", headers=bearer(second)).status_code == 200
    assert datetime.fromisoformat(second["refresh_expires_at"]) > datetime.now(UTC) + timedelta(days=89)

    # The answer may have been lost: the first token still works (again and again), and its new token
    # replaces the second.
    refresh(client, first["refresh_token"])
    again = refresh(client, first["refresh_token"])
    assert again.status_code == 200
    again = again.json()
    third = refresh(client, again["refresh_token"])  # the newest token used: the first one is done
    assert third.status_code == 200
    fourth = refresh(client, again["refresh_token"])  # the previous of the newest, in its turn
    assert fourth.status_code == 200
    unknown = refresh(client, "never-issued")
    assert unknown.status_code == 401 and unknown.json()["code"] == "auth.refresh_invalid"
    assert client.get("/api/auth/me", headers=bearer(fourth.json())).status_code == 200  # nothing ended

    session.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.flush()
    latest = refresh(client, fourth.json()["refresh_token"])
    assert latest.status_code == 401 and latest.json()["code"] == "auth.session_expired"
    assert latest.json()["detail"] == messages.text("auth.session_expired")


@pytest.mark.parametrize("replayed", ["two rotations back", "its successor used", "replaced unused"])
def test_a_rotated_away_refresh_token_presented_again_ends_the_devices_session(client, user, replayed):
    first = logged_in(client)
    tablet = logged_in(client, device="tablet-1")
    second = refresh(client, first["refresh_token"]).json()
    if replayed == "replaced unused":  # the first token again (a lost answer): the second one is replaced
        newest = refresh(client, first["refresh_token"]).json()
        old = second
    else:
        newest = refresh(client, second["refresh_token"]).json()
        old = first if replayed == "two rotations back" else second
        if replayed == "its successor used":
            newest = refresh(client, newest["refresh_token"]).json()

    reused = refresh(client, old["refresh_token"])
    assert reused.status_code == 401 and reused.json()["code"] == "auth.refresh_reused"
    assert "重新登录" in reused.json()["detail"]
    assert refresh(client, newest["refresh_token"]).status_code == 401  # the whole family has ended
    assert client.get("/api/auth/me", headers=bearer(newest)).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(tablet)).status_code == 200  # another device's stays
    assert logged_in(client)["user"]["id"] == user.id  # the owner logs in again


def test_logout_ends_the_session_at_once(client, user):
    tokens = logged_in(client)
    other = logged_in(client, device="tablet-1")
    out = client.post("/api/auth/logout", headers=bearer(tokens))
    assert out.status_code == 200 and out.json()["revoked_at"] is not None
    resp = client.get("/api/auth/me", headers=bearer(tokens))
    assert resp.status_code == 401 and resp.json()["code"] == "auth.session_ended"
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    )
    assert client.get("/api/auth/me", headers=bearer(other)).status_code == 200


def test_logging_in_again_on_a_device_replaces_its_session(client, user):
    old = logged_in(client)
    new = logged_in(client)
    assert client.get("/api/auth/me", headers=bearer(old)).status_code == 401
    devices = client.get("/api/auth/devices", headers=bearer(new)).json()
    assert [(d["device_id"], d["current"]) for d in devices] == [("phone-1", True)]


def test_devices_are_listed_and_revoked_by_their_user_or_an_admin(client, db, user, admin_user):
    phone = logged_in(client)
    tablet = logged_in(client, device="tablet-1")
    devices = client.get("/api/auth/devices", headers=bearer(phone)).json()
    assert sorted((d["device_id"], d["current"]) for d in devices) == [("phone-1", True), ("tablet-1", False)]
    tablet_id = next(d["id"] for d in devices if d["device_id"] == "tablet-1")

    # Another user neither sees nor ends them.
    user_service.create_user(db=db, data=UserCreate(name="李娜", phone="13900000002", password=PASSWORD))
    other = logged_in(client, login="13900000002")
    assert client.post(f"/api/auth/devices/{tablet_id}/revoke", headers=bearer(other)).status_code == 404
    listed = client.get("/api/auth/devices", params={"user_id": user.id}, headers=bearer(other))
    assert listed.status_code == 403

    lost = client.post(f"/api/auth/devices/{tablet_id}/revoke", headers=bearer(phone))
    assert lost.status_code == 200 and lost.json()["revoked_at"] is not None
    assert client.get("/api/auth/me", headers=bearer(tablet)).status_code == 401

    admin = logged_in(client, login="13900000099", device="desk-1")
    seen = client.get("/api/auth/devices", params={"user_id": user.id}, headers=bearer(admin)).json()
    assert [d["device_id"] for d in seen] == ["phone-1"]
    assert client.post(f"/api/auth/devices/{seen[0]['id']}/revoke", headers=bearer(admin)).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(phone)).status_code == 401


def test_changing_ones_password_ends_the_other_sessions(client, user):
    phone = logged_in(client)
    tablet = logged_in(client, device="tablet-1")

    def change(old, new):
        body = {"old_password": old, "new_password": new}
        return client.post("/api/auth/password", json=body, headers=bearer(phone))

    wrong = change("not my password", "a new password")
    assert wrong.status_code == 403 and wrong.json()["code"] == "auth.wrong_password"
    assert wrong.json()["detail"] == messages.text("auth.wrong_password")
    short = change(PASSWORD, "short")
    assert short.status_code == 422 and short.json()["code"] == "auth.password_too_short"
    done = change(PASSWORD, "a new password")
    assert done.status_code == 200 and done.json() == {"revoked_sessions": 1}
    assert client.get("/api/auth/me", headers=bearer(phone)).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(tablet)).status_code == 401
    assert login(client, device="tablet-1").status_code == 401
    assert login(client, password="a new password", device="tablet-1").status_code == 200


def test_an_admin_sets_a_password(client, user, admin_headers):
    resp = client.post(
        f"/api/users/{user.id}/password", json={"password": "set by admin"}, headers=admin_headers
    )
    assert resp.status_code == 200 and resp.json()["has_password"] is True
    assert login(client).status_code == 401
    tokens = logged_in(client, password="set by admin")
    refused = client.post(
        f"/api/users/{user.id}/password", json={"password": "mine now!"}, headers=bearer(tokens)
    )
    assert refused.status_code == 403


# -- guards ---------------------------------------------------------------------------------------


def test_the_admin_token_and_admin_users_pass_admin_routes_others_do_not(
    client, db, user, admin_user, admin_headers
):
    db.add(Department(code="D01", name="市政设施管理处"))
    db.flush()
    body = {"name": "王芳", "phone": "13900000003", "roles": ["department"], "department_code": "D01"}
    created = client.post("/api/users", json=body, headers=admin_headers)
    assert created.status_code == 201 and created.json()["department_code"] == "D01"
    assert created.json()["has_password"] is False
    unknown = client.post(
        "/api/users", json={**body, "phone": "13900000007", "department_code": "D99"}, headers=admin_headers
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "category.no_department"
    assert unknown.json()["params"] == {"department": "D99"} and "D99" in unknown.json()["detail"]

    admin = logged_in(client, login="13900000099")
    assert client.get("/api/users", headers=bearer(admin)).status_code == 200
    setup_city(client, bearer(admin))  # a grid write route
    scoped = {"name": "赵敏", "phone": "13900000004", "roles": ["dispatcher"], "grid_code": "370102"}
    assert client.post("/api/users", json=scoped, headers=bearer(admin)).json()["grid_code"] == "370102"
    nowhere = {**scoped, "phone": "13900000005", "grid_code": "370199"}
    resp = client.post("/api/users", json=nowhere, headers=bearer(admin))
    assert resp.status_code == 404 and resp.json()["code"] == "grid.not_found"
    assert "370199" in resp.json()["detail"]

    inspector = logged_in(client)
    refused = client.post("/api/users", json={**body, "phone": "13900000006"}, headers=bearer(inspector))
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.role_required" and refused.json()["params"] == {"roles": "管理员"}
    assert refused.json()["detail"] == messages.text("auth.role_required", roles="管理员")

    me = client.get("/api/auth/me", headers=admin_headers).json()
    assert me == {"user": None, "name": "系统管理员", "roles": ["admin"], "session": None}
    assert client.post("/api/auth/logout", headers=admin_headers).status_code == 422
    wrong = client.get("/api/users", headers=bearer("not-the-admin-token"))
    assert wrong.status_code == 401


def test_require_roles_names_what_is_needed_and_held(client, db, user):
    def whoami(principal: Annotated[Principal, require_roles("dispatcher", "admin")]) -> dict:
        return {"name": principal.name, "id": principal.user_id}

    def stream(principal: Annotated[Principal, Depends(stream_principal)]) -> dict:
        return {"name": principal.name}

    client.app.add_api_route("/test/dispatch", whoami)
    client.app.add_api_route("/test/stream", stream)

    user_service.create_user(
        db=db,
        data=UserCreate(name="赵敏", phone="13900000004", roles=["dispatcher", "leader"], password=PASSWORD),
    )
    inspector = logged_in(client)
    refused = client.get("/test/dispatch", headers=bearer(inspector))
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.role_required"
    assert refused.json()["detail"] == messages.text("auth.role_required", roles="派遣员")  # not the admin
    dispatcher = logged_in(client, login="13900000004")
    assert client.get("/test/dispatch", headers=bearer(dispatcher)).json()["name"] == "赵敏"

    assert client.get("/test/stream", params={"access_token": inspector["access_token"]}).json() == {
        "name": "张伟"
    }
    assert client.get("/test/stream").status_code == 401
    assert client.get("/test/dispatch", params={"access_token": inspector["access_token"]}).status_code == 401


def test_demo_users_log_in_with_the_demo_password(demo_client):
    tokens = logged_in(demo_client, login="zhaomin", password=DEMO_PASSWORD)
    assert tokens["user"]["roles"] == ["acceptor", "shift_lead", "dispatcher"]
    assert logged_in(demo_client, login="13900000001", password=DEMO_PASSWORD)["user"]["name"] == "张伟"
