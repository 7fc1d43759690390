"""Everything the screens use, built once from the app's data folder: the store, the API client, the
outbox, the cache, the patrol and the sync engine, plus the login that also works offline."""

from __future__ import annotations

import hashlib
import hmac
import os
import platform
import uuid
from pathlib import Path

from mobile.services.api import Api, ApiError, Offline
from mobile.services.cache import Cache
from mobile.services.drafts import Drafts
from mobile.services.errors import AppError
from mobile.services.outbox import Outbox
from mobile.services.patrol import Patrol
from mobile.services.store import Store
from mobile.services.sync import Sync

DEFAULT_SERVER = "http://127.0.0.1:8000"
PBKDF2_ROUNDS = 200_000


class LoginFailed(AppError):
    """The login was refused (the message says why)."""


def _verifier(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS).hex()


class AppServices:
    def __init__(self, data_dir: Path, server_url: str | None = None, **sync_options) -> None:
        self.data_dir = data_dir
        self.store = Store(data_dir / "gridops.sqlite")
        url = server_url or self.store.get("server_url") or os.environ.get("GRIDOPS_SERVER") or DEFAULT_SERVER
        self.api = Api(self.store, url)
        self.outbox = Outbox(self.store, data_dir / "photos")
        self.drafts = Drafts(self.store, data_dir / "draft_photos")
        self.cache = Cache(self.store)
        self.patrol = Patrol(self.store)
        self.sync = Sync(self.api, self.outbox, self.cache, self.patrol, **sync_options)
        self.offline = False  # logged in on the phone only: the server has not seen the password

    @property
    def server_url(self) -> str:
        return self.api.base_url.rstrip("/")

    @property
    def device_id(self) -> str:
        """Made once per installation: the server keeps one session per device."""
        device = self.store.get("device_id")
        if device is None:
            device = str(uuid.uuid4())
            self.store.set("device_id", device)
        return device

    @property
    def user(self) -> dict | None:
        """The logged-in user (as the server described it at the last login on this phone), or None."""
        saved = self.store.get("offline_login")
        return saved["user"] if saved else None

    def login(self, server_url: str, login: str, password: str) -> dict:
        """Log in on the server; with no network, against the last login made on this phone. The phone's
        outbox, shifts and caches are this user's from now on (see mobile/services/store.py)."""
        self.sync.stop()  # a run must not send the last user's items with this user's session
        server_url = server_url.strip().rstrip("/")
        if server_url != self.server_url:
            self.api.base_url = server_url + "/"
        try:
            user = self.api.login(login, password, self.device_id, platform.node() or "phone")
        except Offline as exc:
            return self._login_offline(server_url, login, password, exc)
        except ApiError as exc:
            raise LoginFailed(exc.message) from exc
        salt = os.urandom(16)
        self.store.set("server_url", server_url)
        self.store.set(
            "offline_login",
            {
                "server": server_url,
                "login": login,
                "user": user,
                "salt": salt.hex(),
                "verifier": _verifier(password, salt),
            },
        )
        self.offline = False
        self._take_over(user)
        self.sync.wake()
        return user

    def _login_offline(self, server_url: str, login: str, password: str, problem: Offline) -> dict:
        saved = self.store.get("offline_login")
        if not saved or saved["server"] != server_url or saved["login"] != login:
            raise LoginFailed(
                f"{problem}这部手机第一次登录（或换账号、换服务器后）需要联网：请联网后再登录。"
            ) from problem
        if not hmac.compare_digest(saved["verifier"], _verifier(password, bytes.fromhex(saved["salt"]))):
            raise LoginFailed("密码不对（没有网络，已在手机上核对）：请重新输入。") from problem
        self.offline = True
        self._take_over(saved["user"])
        return saved["user"]

    def _take_over(self, user: dict) -> None:
        """``user`` has the phone: their items are the ones shown and sent, and shifts others left open
        end (a shift is never continued by someone else)."""
        self.store.set_owner(user["id"])
        self.patrol.end_others()

    def logout(self) -> None:
        """Log out: the server session ends, and so does offline login until the next online login. A shift
        still open ends (the screens ask to clock out first); what was not sent stays on the phone, this
        user's, and is sent when they log in again."""
        self.sync.stop()
        self.patrol.clock_out()
        self.api.logout()
        self.store.set("offline_login", None)
        self.store.set_owner(None)

    def close(self) -> None:
        self.sync.stop()
        self.store.close()
