"""The app's API client against the live server through a failing network: login and token refresh, the
end of a revoked login, retries with backoff and jitter, Retry-After, Wi-Fi login pages, the server's
refusals and timeouts."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mobile.services.api import TIMEOUT, Api, ApiError, LoginRequired, NotOurServer, Offline
from mobile.services.store import Store
from server import messages
from tests.conftest import ADMIN_TOKEN
from tests.mobile.conftest import INSPECTOR, PASSWORD
from tests.server.live import live_server


class Sleeps(list):
    """A ``sleep`` for :class:`Api` that records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "phone.sqlite")
    yield store
    store.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def phone(store: Store, url: str, sleeps: Sleeps, **options) -> Api:
    """The client as the app makes it, waiting through ``sleeps``."""
    return Api(store, url, sleep=sleeps, **options)


def logged_in(store: Store, url: str, sleeps: Sleeps, **options) -> Api:
    api = phone(store, url, sleeps, **options)
    api.login(INSPECTOR, PASSWORD, device_id=str(uuid.uuid4()), device_name="test phone")
    return api


def set_expiry(store: Store, when: datetime) -> None:
    """What the phone believes about its access token's expiry (its clock may be wrong)."""
    store.set("auth", store.get("auth") | {"access_expires_at": when.isoformat()})


def calls(exchanges) -> list[tuple[str, str, str, int | None]]:
    return [(e.method, e.path, e.mode, e.status) for e in exchanges]


@pytest.fixture(scope="module")
def short_token_server(mobile_db_url, tmp_path_factory):
    """A second server on the same database whose access tokens are expired as soon as they are made."""
    log = tmp_path_factory.mktemp("short") / "server.log"
    with live_server(mobile_db_url, log, GRIDOPS_ACCESS_TOKEN_MINUTES="0") as live:
        yield live


# -- login and tokens ---------------------------------------------------------------------------------


def test_login_keeps_tokens_across_restarts(tmp_path, netfault, sleeps):
    store = Store(tmp_path / "phone.sqlite")
    user = phone(store, netfault.url, sleeps).login(
        INSPECTOR, PASSWORD, device_id="phone-1", device_name="test phone"
    )
    assert user["phone"] == INSPECTOR and user["roles"] == ["inspector"]
    auth = store.get("auth")
    assert auth["access_token"] and auth["refresh_token"] and auth["user"]["id"] == user["id"]
    assert datetime.fromisoformat(auth["access_expires_at"]) > datetime.now(UTC) + timedelta(minutes=10)
    store.close()

    reopened = Store(tmp_path / "phone.sqlite")  # the app restarted
    api = phone(reopened, netfault.url, sleeps)
    assert api.logged_in
    me = api.get("api/auth/me")
    assert me["user"]["id"] == user["id"] and me["session"]["current"]
    assert calls(netfault.log)[-1] == ("GET", "/api/auth/me", "pass", 200)
    reopened.close()


def test_access_token_about_to_expire_is_refreshed_before_the_request(store, netfault, sleeps):
    api = logged_in(store, netfault.url, sleeps)
    before = store.get("auth")
    set_expiry(store, datetime.now(UTC) + timedelta(seconds=30))  # inside the refresh margin
    start = netfault.count

    assert api.get("api/auth/me")["user"]["phone"] == INSPECTOR

    assert calls(netfault.since(start)) == [
        ("POST", "/api/auth/refresh", "pass", 200),
        ("GET", "/api/auth/me", "pass", 200),
    ]
    after = store.get("auth")
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and kept
    assert datetime.fromisoformat(after["access_expires_at"]) > datetime.now(UTC) + timedelta(minutes=10)


def test_access_token_refused_by_the_server_is_refreshed_and_the_request_repeated(
    store, netfault, short_token_server, sleeps
):
    # Logged in where tokens expire at once, while the phone's clock says it is still valid.
    api = logged_in(store, short_token_server.url, sleeps)
    set_expiry(store, datetime.now(UTC) + timedelta(hours=1))
    api.base_url = netfault.url + "/"
    start = netfault.count

    assert api.get("api/auth/me")["user"]["phone"] == INSPECTOR

    assert calls(netfault.since(start)) == [
        ("GET", "/api/auth/me", "pass", 401),
        ("POST", "/api/auth/refresh", "pass", 200),
        ("GET", "/api/auth/me", "pass", 200),
    ]
    assert sleeps == []  # a refusal is not a network problem: no waiting


def test_threads_that_find_the_token_expired_together_refresh_once(store, netfault, sleeps):
    # The sync engine and a screen both find the access token about to expire: one rotation, and the
    # session survives (a rotated-away refresh token presented again would end it on the server).
    api = logged_in(store, netfault.url, sleeps)
    set_expiry(store, datetime.now(UTC) + timedelta(seconds=30))
    start = netfault.count
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.get("api/auth/me"), range(4)))

    assert all(a["user"]["phone"] == INSPECTOR for a in answers)
    refreshes = [c for c in calls(netfault.since(start)) if c[1] == "/api/auth/refresh"]
    assert refreshes == [("POST", "/api/auth/refresh", "pass", 200)]
    set_expiry(store, datetime.now(UTC) + timedelta(seconds=30))
    assert api.get("api/auth/me")["session"]["current"]  # the kept tokens still rotate


def test_revoked_device_must_log_in_again(store, netfault, server, sleeps):
    api = logged_in(store, netfault.url, sleeps)
    session = api.get("api/auth/me")["session"]["id"]
    revoked = httpx.post(
        f"{server.url}/api/auth/devices/{session}/revoke",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert revoked.status_code == 200, revoked.text
    start = netfault.count

    with pytest.raises(LoginRequired) as ended:
        api.get("api/cases")
    refused = ended.value.__cause__  # the server's refusal of the refresh: its words are shown as they are
    assert refused.code.startswith("auth.") and str(ended.value) == messages.text(refused.code)

    assert calls(netfault.since(start)) == [
        ("GET", "/api/cases", "pass", 401),
        ("POST", "/api/auth/refresh", "pass", 401),
    ]
    assert not api.logged_in and store.get("auth") is None
    with pytest.raises(LoginRequired, match="请先登录"):
        api.get("api/cases")
    assert netfault.count == start + 2  # nothing more was sent


# -- retries ------------------------------------------------------------------------------------------


def test_no_answer_is_retried_with_capped_exponential_backoff(store, netfault, sleeps):
    api = logged_in(store, netfault.url, sleeps, retries=3, backoff_s=1.0, backoff_cap_s=1.5)
    start = netfault.count
    netfault.fault("down", times=2)

    assert api.get("api/auth/me")["user"]["phone"] == INSPECTOR

    assert calls(netfault.since(start)) == [
        ("GET", "/api/auth/me", "down", None),
        ("GET", "/api/auth/me", "down", None),
        ("GET", "/api/auth/me", "pass", 200),
    ]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 1.0  # backoff * 2**0
    assert 0 <= sleeps[1] <= 1.5  # backoff * 2**1 = 2, capped

    sleeps.clear()
    netfault.set("down")
    with pytest.raises(Offline, match="连不上服务器"):
        api.get("api/auth/me")
    assert len(sleeps) == 3  # four tries, three waits
    assert all(0 <= s <= bound for s, bound in zip(sleeps, (1.0, 1.5, 1.5), strict=True))


def test_backoff_waits_are_jittered_over_the_whole_range(store, netfault, sleeps):
    """Full jitter: phones that lost the network together do not come back in step."""
    api = logged_in(store, netfault.url, sleeps, retries=60, backoff_s=1.0, backoff_cap_s=1.0)
    netfault.set("down")
    with pytest.raises(Offline):
        api.get("api/auth/me")
    assert len(sleeps) == 60 and all(0 <= s <= 1.0 for s in sleeps)
    assert min(sleeps) < 0.25 and max(sleeps) > 0.75  # fails with a chance of 2 * 0.75**60 = 6e-8


def test_busy_server_retry_after_is_honoured(store, netfault, sleeps):
    api = logged_in(store, netfault.url, sleeps, backoff_s=1.0)
    start = netfault.count
    netfault.fault("status:503", times=1, retry_after=7)
    assert api.get("api/auth/me")["user"]["phone"] == INSPECTOR
    assert sleeps == [7.0]
    assert calls(netfault.since(start)) == [
        ("GET", "/api/auth/me", "status:503", None),
        ("GET", "/api/auth/me", "pass", 200),
    ]

    sleeps.clear()
    netfault.fault("status:503", times=1, retry_after=3600)
    api.get("api/auth/me")
    assert sleeps == [60.0]  # an hour is not worth waiting in the field: a minute at most

    sleeps.clear()
    netfault.fault("status:502", times=1)  # no Retry-After: the usual jittered wait
    api.get("api/auth/me")
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1.0


def test_wifi_login_page_is_not_our_server(store, netfault, village, sleeps):
    api = logged_in(store, netfault.url, sleeps)
    _, lon, lat = village
    start = netfault.count
    netfault.set("portal")

    with pytest.raises(NotOurServer, match="Wi-Fi 登录页面"):
        api.get("api/auth/me")
    with pytest.raises(NotOurServer):
        api.post(
            "api/cases", json={"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": lon, "lat": lat}
        )
    with pytest.raises(NotOurServer):  # a page is not a photo either
        api.download("api/photos/1/thumbnail")

    assert calls(netfault.since(start)) == [
        ("GET", "/api/auth/me", "portal", None),
        ("POST", "/api/cases", "portal", None),
        ("GET", "/api/photos/1/thumbnail", "portal", None),
    ]
    assert sleeps == []  # the page answers at once and the same way: waiting would not help


def test_refusal_carries_the_servers_message(store, netfault, server, sleeps):
    api = logged_in(store, netfault.url, sleeps)
    report = {"client_uuid": str(uuid.uuid4()), "lon": 117.0, "lat": 36.6}
    with pytest.raises(ApiError) as refused:
        api.post("api/cases", json=report)
    assert sleeps == []
    same = httpx.post(  # the same request straight to the server
        f"{server.url}/api/cases",
        json=report,
        headers={"Authorization": f"Bearer {store.get('auth')['access_token']}"},
    ).json()
    assert (refused.value.status, refused.value.code) == (422, same["code"]) == (422, "validation.request")
    assert refused.value.message == same["detail"] and refused.value.params == same["params"]


def test_answer_slower_than_the_read_timeout_is_offline(store, netfault, sleeps):
    api = logged_in(store, netfault.url, sleeps, timeout=(5.0, 0.5), retries=1)
    start = netfault.count
    netfault.fault("hang", path="^/api/auth/me$")
    try:
        with pytest.raises(Offline) as slow:
            api.get("api/auth/me")
        assert str(slow.value) == TIMEOUT
    finally:
        netfault.release()
    # The server answered both tries; the phone gave up waiting each time.
    assert calls(netfault.since(start)) == [("GET", "/api/auth/me", "hang", 200)] * 2
    assert len(sleeps) == 1
