"""Login: the server's address, the account and the password. The first login on a phone needs the
network; after it the same account logs in with no network (checked on the phone), and the device keeps
its refresh token so that it rarely has to log in again."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from mobile.screens.widgets import AppScreen, in_background
from mobile.services.errors import explain


class LoginScreen(AppScreen):
    busy = BooleanProperty(False)
    error = StringProperty()

    def refresh(self) -> None:
        if not self.ids.server.text:
            self.ids.server.text = self.app.services.server_url

    def submit(self) -> None:
        server, login, password = (self.ids[name].text.strip() for name in ("server", "login", "password"))
        if not (server and login and password):
            self.error = "请填写服务器地址、账号和密码。"
            return
        self.busy, self.error = True, ""
        services = self.app.services
        in_background(lambda: services.login(server, login, password), self._done, self._failed)

    def _done(self, user: dict) -> None:
        self.busy = False
        self.ids.password.text = ""
        self.app.logged_in()
        if self.app.services.offline:
            self.app.notify("无网络：已离线登录，联网后将自动同步。")

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self.error = explain(exc)
