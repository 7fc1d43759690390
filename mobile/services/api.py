"""The GridOps HTTP API as the app uses it: timeouts, retries with backoff, token refresh.

Every answer the app acts on must be JSON from the GridOps server. A hotel or station Wi-Fi answers with its
login page (HTTP 200, HTML) or redirects elsewhere: that is :class:`NotOurServer`, treated like no network,
never as a delivery.

Errors a person sees (each an :class:`~mobile.services.errors.AppError` whose text is a Chinese sentence):
- :class:`Offline`: no answer (no network, server down, a timeout, a Wi-Fi login page, a 502/503/504)
  after the retries. The work stays queued, and the app's own sentence says so.
- :class:`LoginRequired`: the device's login ended (expired, revoked or a changed password): the server's
  explanation when it gave one.
- :class:`ApiError`: the server refused the request (4xx): the answer's ``detail`` as it is, Chinese from
  the server's catalogue, and its ``code`` for the app's decisions (never the words); a fault of the
  server (5xx) has the app's own sentence. A 429 is such a refusal, at once: the server answers it only to
  too many failed logins, and its sentence says how long to wait (retrying would only lengthen the wait).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import requests

from mobile.services.errors import AppError
from mobile.services.store import Store

RETRY_STATUS = {502, 503, 504}
REFRESH_MARGIN = timedelta(seconds=60)

# The app's own sentences, for when the server could not say anything itself.
NO_CONNECTION = (
    "连不上服务器：手机可能没有网络，或服务器暂时无法访问。没发出的上报和回复都保存在手机上，"
    "有网络时会自动发送；请检查网络，或稍后再试。"
)
TIMEOUT = (
    "服务器迟迟没有应答：网络太慢或服务器太忙。没发出的上报和回复都保存在手机上，稍后会自动重发；"
    "请到信号好的地方，或稍后再试。"
)
BUSY = "服务器暂时忙不过来或正在维护。没发出的上报和回复都保存在手机上，稍后会自动重发；请稍后再试。"
PORTAL = (
    "网络有应答，但不是城管通服务器，可能是 Wi-Fi 登录页面：请先用浏览器登录这个 Wi-Fi，或改用手机流量。"
    "没发出的上报和回复都保存在手机上，联网后会自动发送。"
)
GARBLED = (
    "服务器的应答不完整或已损坏。没发出的上报和回复都保存在手机上，稍后会自动重发；一再出现请联系管理员。"
)
SERVER_FAULT = "服务器出错，这次操作没有完成，手机上保存的内容不会丢失：请稍后再试；一再出现请联系管理员。"
REFUSED = "服务器没有接受这次请求：请检查后再试；一再出现请联系管理员。"
LOGIN_ENDED = "登录已失效，请重新登录。"


class Offline(AppError):
    """The server could not be reached (the message says why)."""


class NotOurServer(Offline):
    """Something answered that is not the GridOps server (a Wi-Fi login page, a proxy's error page)."""


class LoginRequired(AppError):
    """The device must log in again."""


class ApiError(AppError):
    """The server refused the request: ``status``, the ``message`` a person reads, and the answer's
    ``code`` and ``params`` (e.g. ``auth.session_ended``), which the app may act on."""

    def __init__(self, status: int, message: str, code: str = "", params: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.params = params or {}


def _body(response: requests.Response) -> dict:
    """An error answer's JSON body (``{detail, code, params, ...}``), or {} when it has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(body: dict) -> str | None:
    """The server's sentence for a person in an error answer, when there is one."""
    detail = body.get("detail")
    return detail if isinstance(detail, str) and detail.strip() else None


def refusal(response: requests.Response) -> ApiError:
    """The error of an error answer: the server's ``detail`` as it is (Chinese, from its catalogue), or
    the app's own sentence for a fault of the server (5xx) or an answer without one."""
    body = _body(response)
    status = response.status_code
    message = SERVER_FAULT if status >= 500 else _detail(body) or REFUSED
    return ApiError(status, message, str(body.get("code") or ""), body.get("params") or {})


class Api:
    """A client of one GridOps server for one device. The login (tokens) is kept in ``store`` under
    ``auth`` so that it survives restarts; ``device_id`` is made once per installation."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        backoff_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._http = requests.Session()
        self._refreshing = threading.Lock()
        self._http.headers["Accept"] = "application/json"

    # -- login ----------------------------------------------------------------------------------------

    @property
    def auth(self) -> dict | None:
        """The stored login: access and refresh tokens, their expiry, and the user."""
        return self.store.get("auth")

    @property
    def logged_in(self) -> bool:
        return self.auth is not None

    def login(self, login: str, password: str, device_id: str, device_name: str) -> dict:
        """Log in on the server; keeps the tokens and returns the user."""
        answer = self._send(
            "POST",
            "api/auth/login",
            json={"login": login, "password": password, "device_id": device_id, "device_name": device_name},
            authorized=False,
        )
        self._keep(answer)
        return answer["user"]

    def logout(self) -> None:
        """End this device's session on the server (when it can be reached) and forget the tokens."""
        try:
            if self.logged_in:
                self._send("POST", "api/auth/logout", retries=0)
        except (Offline, LoginRequired, ApiError):
            pass  # the server ends unused sessions by itself; the device forgets them now
        self.store.set("auth", None)

    def _keep(self, answer: dict) -> None:
        now = datetime.now(UTC)
        self.store.set(
            "auth",
            {
                "access_token": answer["access_token"],
                "access_expires_at": (now + timedelta(seconds=answer["expires_in"])).isoformat(),
                "refresh_token": answer["refresh_token"],
                "user": answer["user"],
            },
        )

    def _refresh(self, seen: str | None) -> None:
        """Rotate the tokens, one thread at a time: a thread that waited while another one rotated the
        refresh token it saw (``seen``) uses the new tokens, since presenting a rotated-away refresh token
        again ends the session on the server."""
        with self._refreshing:
            auth = self.auth
            if auth is None:
                raise LoginRequired("请先登录。")
            if auth["refresh_token"] != seen:
                return
            try:
                answer = self._send(
                    "POST", "api/auth/refresh", json={"refresh_token": seen}, authorized=False
                )
            except ApiError as exc:
                if exc.status in (400, 401, 403, 422):
                    self.store.set("auth", None)
                    # The server's sentence says why (revoked, expired...) and to log in again.
                    why = exc.message if exc.code.startswith("auth.") else LOGIN_ENDED
                    raise LoginRequired(why) from exc
                raise
            self._keep(answer)

    def _access_token(self) -> str:
        auth = self.auth
        if auth is None:
            raise LoginRequired("请先登录。")
        if datetime.fromisoformat(auth["access_expires_at"]) - REFRESH_MARGIN < datetime.now(UTC):
            self._refresh(auth["refresh_token"])
            auth = self.auth
        return auth["access_token"]

    # -- requests -------------------------------------------------------------------------------------

    def get(self, path: str, **params) -> dict | list:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: dict | None = None, **kwargs) -> dict | list:
        return self.request("POST", path, json=json, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> dict | list | bytes:
        """An authorized request: refreshes the access token when it is about to expire or was refused."""
        seen = (self.auth or {}).get("refresh_token")
        try:
            return self._send(method, path, **kwargs)
        except ApiError as exc:
            if exc.status != 401:
                raise
        self._refresh(seen)
        return self._send(method, path, **kwargs)

    def _send(
        self,
        method: str,
        path: str,
        *,
        authorized: bool = True,
        retries: int | None = None,
        timeout: tuple[float, float] | None = None,
        files: dict | None = None,
        image: bool = False,
        **kwargs,
    ) -> dict | list | bytes:
        """Send with retries on no answer and on 502/503/504, waiting ``backoff * 2**attempt`` at most
        (full jitter, capped; a Retry-After is honoured). Files are (name, bytes, mime) tuples, so a retry
        sends them again whole. ``image``: the answer must be an image, returned as bytes. ``timeout``
        (connect, read) replaces the client's for this request."""
        retries = self.retries if retries is None else retries
        url = urljoin(self.base_url, path)
        for attempt in range(retries + 1):
            headers = {"Authorization": f"Bearer {self._access_token()}"} if authorized else {}
            wait = None
            try:
                response = self._http.request(
                    method,
                    url,
                    headers=headers,
                    files=files,
                    timeout=timeout or self.timeout,
                    allow_redirects=False,
                    **kwargs,
                )
            except requests.RequestException as exc:
                problem: Offline = Offline(TIMEOUT if isinstance(exc, requests.Timeout) else NO_CONNECTION)
            else:
                if response.status_code in RETRY_STATUS:
                    problem = Offline(BUSY)  # busy or restarting: the app's own sentence
                    wait = _retry_after(response)
                else:
                    return self._answer(response, image)
            if attempt == retries:
                raise problem
            cap = min(self.backoff_cap_s, self.backoff_s * 2**attempt)
            self._sleep(wait if wait is not None else random.uniform(0, cap))
        raise AssertionError("unreachable")

    def _answer(self, response: requests.Response, image: bool) -> dict | list | bytes:
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if image and response.status_code == 200 and kind.startswith("image/"):
            return response.content
        if 300 <= response.status_code < 400 or kind != "application/json" or (image and response.ok):
            raise NotOurServer(PORTAL)
        if response.status_code >= 400:
            raise refusal(response)
        try:
            return response.json()
        except ValueError as exc:
            raise NotOurServer(GARBLED) from exc

    def download(self, path: str) -> bytes:
        """The bytes of a photo (an authorized GET answered with an image, retried like the others)."""
        return self.request("GET", path, image=True)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return min(float(response.headers["Retry-After"]), 60.0)
    except (KeyError, ValueError):
        return None
