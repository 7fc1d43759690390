"""Every word the app shows is Chinese, and the server's refusals are shown as the server words them.

The walk drives the real app in the offscreen window through every screen, popup and notice against the
live server (and through a network that fails), and reads every text a widget shows: labels and buttons,
text fields' hints, popups' titles, the copy and paste bubble. The unit tests check the one function that
turns a failure into what a person reads (:func:`mobile.services.errors.explain`): a refusal's ``detail``
as it is, the app's own Chinese sentences for no network, a timeout or a fault of the server."""

from __future__ import annotations

# isort: off
from tests.mobile.app_driver import Driver, log_in, synced  # first: it makes Kivy's window at its size

# isort: on
import json
import re
from contextlib import closing

import pytest
import requests
from kivy.core.window import Window
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from mobile.services import api as api_module
from mobile.services.api import Api, ApiError, LoginRequired, NotOurServer, Offline, refusal
from mobile.services.app import AppServices, LoginFailed
from mobile.services.errors import UNEXPECTED, explain
from mobile.services.store import Store
from server import messages
from tests.mobile.conftest import INSPECTOR, OPERATOR, PASSWORD, act, hotline_case, http_login, user_id

# Latin words a Chinese sentence may hold: names of things people know by them, and units. A word with a
# digit in it is a code (a category like E06010) and needs no listing; numbers and case codes have no
# letters at all.
LATIN_WORDS = {"GPS", "Wi-Fi", "GridOps", "m", "km", "B", "KB", "MB", "GB"}
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
MARKUP = re.compile(r"\[/?(?:b|i|u|s|color|size|font|sub|sup)(?:=[^\]]*)?\]")
CJK = re.compile(r"[\u4e00-\u9fff]")
FILE_ENTRIES = {"FileIconEntry", "FileListEntry"}  # Kivy's file chooser's rows


def foreign(text: str) -> list[str]:
    """The Latin words of ``text`` that are neither codes nor listed, with what gives Python or the web
    away anywhere (an address, a traceback's words)."""
    plain = MARKUP.sub("", text)
    words = [w for w in LATIN.findall(plain) if not re.search(r"\d", w) and w not in LATIN_WORDS]
    if "://" in plain or re.search(r"Error|Exception|Traceback|HTTP ?\d", plain):
        words.append(plain)
    return words


def shown_texts(root: Widget) -> list[tuple[str, str]]:
    """(widget class, text) of every text under ``root``: labels (buttons are labels), hints of text
    fields. The entries of a file chooser (a file's name and size) are the phone's, not the app's words."""
    texts, skip = [], set()
    for widget in root.walk(restrict=True):
        if any(id(parent) in skip for parent in _parents(widget)):
            continue
        if type(widget).__name__ in FILE_ENTRIES:
            skip.add(id(widget))
        elif isinstance(widget, Label) and widget.text:
            texts.append((type(widget).__name__, widget.text))
        elif isinstance(widget, TextInput) and widget.hint_text:
            texts.append((type(widget).__name__, widget.hint_text))
    return texts


def _parents(widget: Widget):
    parent = widget.parent
    while parent is not None and parent is not parent.parent:
        yield parent
        parent = parent.parent


def assert_chinese(d: Driver, where: str) -> None:
    """Everything on the window (the screen, the notice, any popup) speaks Chinese."""
    d.frames(2)
    texts = [t for child in Window.children for t in shown_texts(child)]
    assert texts, f"nothing to read on {where}"
    bad = [(kind, text) for kind, text in texts if foreign(text)]
    assert not bad, f"not Chinese on {where}: {bad}"
    assert any(CJK.search(text) for _, text in texts)


def test_the_checker_finds_english():
    assert foreign("连不上服务器 http://127.0.0.1:8000（ReadTimeout）")
    assert foreign("Invalid refresh token")
    assert foreign("案件 370102-20260101-0001 · Patrol")
    assert not foreign("[b]E06010[/b]  暴露垃圾 · 精度 ±8 m · 2.5 km · 3 MB · 等待GPS定位… · 100%")
    assert not foreign("370102001001-20261204-0007") and not foreign("+")


# -- the walk ----------------------------------------------------------------------------------------------


@pytest.fixture
def verification_task(server, beat) -> str:
    """A citizen's call at the inspector's beat that the operator sent the inspector to verify."""
    (lon, lat), _ = beat
    with closing(http_login(server, OPERATOR)) as operator, closing(http_login(server, INSPECTOR)) as me:
        code = hotline_case(operator, lon, lat, "市民来电：人行道井盖缺失")["code"]
        act(operator, code, "request_verification", inspector_id=user_id(me))
    return code


def test_every_screen_speaks_chinese(drive, netfault, verification_task, tmp_path):
    d = drive()
    login = d.screen
    assert_chinese(d, "the login screen")
    d.tap(login.ids.submit)
    assert login.error
    assert_chinese(d, "the login screen with its error")
    field = login.ids.login
    field.use_bubble = True  # the phone's long press in a text field
    field._show_cut_copy_paste(field.center, Window, mode="paste")
    d.until(lambda: field._bubble is not None and field._bubble.parent, "the copy and paste bubble")
    bubble = field._bubble
    assert_chinese(d, "the copy and paste bubble")
    assert [b.text for b in (bubble.but_cut, bubble.but_copy, bubble.but_paste, bubble.but_selectall)] == [
        "剪切",
        "复制",
        "粘贴",
        "全选",
    ]
    field._hide_cut_copy_paste()
    field.use_bubble = False

    log_in(d, netfault.url)
    synced(d)
    assert_chinese(d, "the home screen")
    d.tap(d.screen.ids.clock)
    assert d.app.notice
    assert_chinese(d, "the home screen on shift, with its notice")

    d.nav("map")
    assert_chinese(d, "the map")

    d.nav("report")
    report = d.screen
    d.until(lambda: report.pin is not None, "the pin at the GPS fix")
    assert_chinese(d, "the empty report form")
    d.tap(report.ids.photos.ids.take)
    d.until(lambda: report.ids.photos.paths, "the photo")
    d.type(report.ids.search, "垃圾")
    d.frames(2)
    d.tap(d.find("ChoiceRow", code="E06010"))
    d.type(report.ids.description, "人行道上有一堆装修垃圾")
    assert report.blocked == "", report.blocked
    assert_chinese(d, "the filled report form")
    d.tap(report.ids.submit)
    d.until(lambda: d.find("OutboxRow").state_text == "已发送", "the report to be sent")
    assert_chinese(d, "the outbox")

    d.nav("tasks")
    assert_chinese(d, "the task list")
    d.tap(d.find("TaskRow", code=verification_task))
    task = d.screen
    assert_chinese(d, "a task")
    d.tap(task.ids.photos.ids.pick)
    popup = d.popup("PickPopup")
    popup.ids.chooser.path = str(tmp_path)
    assert_chinese(d, "the photo picker")
    d.tap(d.find("Button", text="取消", root=popup))
    d.until(lambda: popup.parent is None, "the photo picker to close")
    d.tap(d.find("SmallButton", text="查看案件经过"))
    case = d.screen
    d.until(lambda: case.ids.timeline.children, "the case's timeline")
    assert_chinese(d, "a case's timeline")

    # No network: the app's own sentence, on the outbox row and the home screen.
    netfault.set("down")
    d.nav("tasks")
    d.tap(d.find("TaskRow", code=verification_task))
    d.tap(d.find("ResultButton", code="not_found"))
    d.tap(d.screen.ids.send)
    reply = d.app.services.outbox.items()[0].id
    waiting = f"上次未能发送：{api_module.NO_CONNECTION}"
    row = d.until(lambda: d.find("OutboxRow", item_id=reply, problem=waiting), "the reply to wait")
    assert_chinese(d, "the outbox with a reply waiting for the network")
    d.tap(d.find("SmallButton", text="删除", root=row))
    confirm = d.popup("ChoicePopup")
    assert_chinese(d, "the question before deleting")
    d.tap(d.find("BigButton", text="取消", root=confirm))
    d.until(lambda: confirm.parent is None, "the question to close")
    d.nav("home")
    d.until(lambda: api_module.NO_CONNECTION in d.screen.ids.sync.text, "the home screen offline")
    assert_chinese(d, "the home screen offline")


# -- what a failure says -------------------------------------------------------------------------------------


class Http:
    """A stand-in for the client's HTTP session: each request gets the next of ``answers``, a response
    or an exception to raise."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)

    def request(self, method, url, **kwargs) -> requests.Response:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def response(status: int, body, content_type: str = "application/json") -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.headers["content-type"] = content_type
    answer._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return answer


def refused(code: str, status: int, **params) -> requests.Response:
    """An error answer of the server, in its one shape."""
    return response(status, {"detail": messages.text(code, **params), "code": code, "params": params})


@pytest.fixture
def client(tmp_path):
    """A client of a server at an address that must never show, sending through ``client._http``."""
    store = Store(tmp_path / "phone.sqlite")
    api = Api(store, "http://gridops.example:8000", retries=0)
    yield api
    store.close()


def try_login(api: Api, *answers) -> Exception:
    """What logging in fails with when the network gives ``answers``."""
    api._http = Http(*answers)
    with pytest.raises(Exception) as failed:
        api.login(INSPECTOR, PASSWORD, "phone-1", "test phone")
    return failed.value


def test_a_refusal_shows_the_servers_detail_as_it_is(client):
    exc = try_login(client, refused("auth.wrong_login", 401))
    assert isinstance(exc, ApiError) and (exc.status, exc.code) == (401, "auth.wrong_login")
    assert explain(exc) == exc.message == messages.text("auth.wrong_login")

    exc = refusal(refused("auth.password_too_short", 422, min_length=8))
    assert exc.params == {"min_length": 8}
    assert explain(exc) == messages.text("auth.password_too_short", min_length=8)


def test_too_many_attempts_are_told_in_the_servers_words_at_once(client):
    """A locked account is told its wait at the first answer: not retried (the wait would only grow), not
    taken for an unreachable server (which would try the offline login)."""
    client.retries = 3
    locked = refused("auth.too_many_attempts", 429, whose="这个账号", wait="5 分钟")
    exc = try_login(client, locked, locked)
    assert isinstance(exc, ApiError) and (exc.status, exc.code) == (429, "auth.too_many_attempts")
    assert explain(exc) == messages.text("auth.too_many_attempts", whose="这个账号", wait="5 分钟")
    assert len(client._http.answers) == 1  # asked once


@pytest.mark.parametrize(
    ("answer", "kind", "sentence"),
    [
        (
            requests.ConnectionError("Max retries exceeded with url: /api/auth/login"),
            Offline,
            "NO_CONNECTION",
        ),
        (requests.ReadTimeout("HTTPConnectionPool: Read timed out."), Offline, "TIMEOUT"),
        (response(503, {"detail": "数据库暂时无法使用", "code": "http.database_down"}), Offline, "BUSY"),
        (response(502, "<html>Bad Gateway</html>", "text/html"), Offline, "BUSY"),
        (response(500, {"detail": "服务器内部出错", "code": "http.server_error"}), ApiError, "SERVER_FAULT"),
        (response(200, "<html>Welcome to Station Wi-Fi</html>", "text/html"), NotOurServer, "PORTAL"),
        (response(200, "{not json", "application/json"), NotOurServer, "GARBLED"),
        (response(418, {"unexpected": True}), ApiError, "REFUSED"),
    ],
)
def test_no_answer_is_the_apps_own_sentence(client, answer, kind, sentence):
    exc = try_login(client, answer)
    assert isinstance(exc, kind) and explain(exc) == getattr(api_module, sentence)
    assert CJK.search(explain(exc)) and not foreign(explain(exc))


def test_an_ended_login_is_told_in_the_servers_words(client):
    client._keep({"access_token": "a", "expires_in": 0, "refresh_token": "r", "user": {"name": "张伟"}})
    client._http = Http(refused("auth.session_ended", 401))
    with pytest.raises(LoginRequired) as ended:
        client.get("api/sync/tasks")
    assert explain(ended.value) == messages.text("auth.session_ended")


def test_a_first_login_without_network_says_so(tmp_path):
    services = AppServices(tmp_path / "app", "http://gridops.example:8000")
    services.api.retries = 0
    services.api._http = Http(requests.ConnectionError("Failed to establish a new connection"))
    try:
        with pytest.raises(LoginFailed) as failed:
            services.login("http://gridops.example:8000", INSPECTOR, PASSWORD)
    finally:
        services.close()
    said = explain(failed.value)
    assert said.startswith(api_module.NO_CONNECTION) and "第一次登录" in said and not foreign(said)


def test_a_bug_is_not_shown_in_pythons_words():
    assert explain(KeyError("access_token")) == UNEXPECTED
    assert explain(OSError(28, "No space left on device", "/data/app/photos")) == UNEXPECTED
