"""A case as the server has it: its state, category, grid, place and the timeline of everything done to it
(time, who, what, the state it led to, the note, the photos). Read from the server on a thread; with no
network, the copy kept from the last time it was read.

Also the case photos both this screen and the task screen show: downloaded on a thread (each once, kept
in the app's data folder), labelled by their role, and shown large on a tap."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from kivy.app import App
from kivy.properties import DictProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.popup import Popup

from mobile.screens.widgets import (
    ACTION_LABELS,
    LIGHTS,
    STATE_LABELS,
    AppScreen,
    in_background,
    load_kv,
    local_time,
)
from mobile.services.errors import explain

# The photos' roles as the server names them (server/case/schemas.py, PHOTO_KIND_LABELS).
PHOTO_ROLES = {"before": "处置前", "after": "处置后", "verification": "核实", "check": "核查"}


def load_photos(
    photos: list[dict],
    done: Callable[[list[Path]], None],
    failed: Callable[[Exception], None],
    *,
    full: bool = False,
) -> None:
    """Download ``photos`` (each a photo of a case's detail or task) on a thread: their thumbnails, or
    with ``full`` the photos themselves. Each is downloaded once and kept in the app's data folder, so
    that it shows offline too. Then ``done(paths)`` (in the order of ``photos``) or ``failed(exc)``, on
    Kivy's thread."""
    app = App.get_running_app()
    api, folder = app.services.api, app.data_dir / "case-photos"
    variant = "full" if full else "thumbnail"

    def fetch() -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for photo in photos:
            path = folder / f"{photo['id']}-{variant}.jpg"
            if not path.exists():
                url = photo["url"] if full else photo.get("thumbnail_url") or photo["url"]
                part = path.with_name(f"{uuid.uuid4().hex}.part")  # two screens may fetch the same photo
                part.write_bytes(api.download(url.lstrip("/")))
                part.replace(path)
            paths.append(path)
        return paths

    in_background(fetch, done, failed)


class CasePhoto(ButtonBehavior, BoxLayout):
    """A case's photo: its thumbnail (``source``) labelled with its role; a tap shows it large."""

    photo = DictProperty()
    source = StringProperty()
    label = StringProperty()

    def on_photo(self, *args) -> None:
        self.label = PHOTO_ROLES.get(self.photo.get("role"), "照片")

    def on_release(self) -> None:
        PhotoViewer(photo=self.photo, source=self.source).open()


def add_photos(box, photos: list[dict], paths: list[Path]) -> None:
    """Add a :class:`CasePhoto` to ``box`` for each photo and the path of its thumbnail."""
    for photo, path in zip(photos, paths, strict=True):
        box.add_widget(CasePhoto(photo=photo, source=str(path)))


class PhotoViewer(Popup):
    """A case's photo large, to look at only: the thumbnail at once, the photo itself once downloaded."""

    photo = DictProperty()
    source = StringProperty()
    status = StringProperty("正在加载原图…")

    def on_photo(self, *args) -> None:
        self.title = f"{PHOTO_ROLES.get(self.photo.get('role'), '')}照片"

    def on_open(self) -> None:
        load_photos([self.photo], self._loaded, self._failed, full=True)

    def _loaded(self, paths: list[Path]) -> None:
        self.source, self.status = str(paths[0]), ""

    def _failed(self, exc: Exception) -> None:
        self.status = f"原图没有加载出来，先显示缩略图。{explain(exc)}"


class EventRow(BoxLayout):
    """A step of the timeline: ``text`` says when, what, who and the note; its photos show below."""

    text = StringProperty()


class CaseScreen(AppScreen):
    """``code`` names the case (set before the screen is shown)."""

    code = StringProperty()
    status = StringProperty()

    def refresh(self) -> None:
        code, sync = self.code, self.app.services.sync
        self.status = "正在读取…"
        self.ids.summary.text = ""
        self.ids.timeline.clear_widgets()

        def done(detail: dict | None) -> None:
            if code == self.code:
                self.show_detail(detail)

        def failed(exc: Exception) -> None:
            if code == self.code:
                self.status = explain(exc)

        in_background(lambda: sync.case_detail(code), done, failed)

    def show_detail(self, detail: dict | None) -> None:
        if detail is None:
            self.status = "本机没有此案件的记录，联网后再试。"
            return
        light = LIGHTS[detail.get("light")]
        due = f"\n当前环节截止 {local_time(detail['due_at'])}（{light}）" if detail.get("due_at") else ""
        address = f"\n地址：{detail['address']}" if detail.get("address") else ""
        grid = detail.get("grid_name") or detail["grid_code"]  # a case kept by an older app has no name
        self.ids.summary.text = (
            f"[b]{detail['state_label']}[/b]　{detail['category']['name']}（{detail['category']['code']}）\n"
            f"网格：{grid}{address}\n"
            f"描述：{detail.get('description') or '无'}{due}"
        )
        timeline = detail.get("timeline")
        self.status = "" if timeline is not None else "时间线需联网读取。"
        by_id = {photo["id"]: photo for photo in detail.get("photos", [])}
        # A photo is named by its upload and again by the reply or handling that reports it: it is shown
        # once, with the last event that names it.
        shown: set[int] = set()
        rows: list[tuple[EventRow, list[dict]]] = []
        for event in reversed(timeline or []):
            photos = [by_id[i] for i in event.get("photo_ids", []) if i in by_id and i not in shown]
            shown.update(photo["id"] for photo in photos)
            state = STATE_LABELS.get(event["state_after"], "其他状态")  # a state newer than the app
            note = f"\n{event['note']}" if event.get("note") else ""
            if event.get("data", {}).get("reason"):  # why a case was returned, refused, voided, suspended
                note += f"\n原因：{event['data']['reason']}"
            action = ACTION_LABELS.get(event["action"], "其他办理")
            text = f"[b]{local_time(event['at'])}[/b]　{action}　→ {state}\n"
            rows.append((EventRow(text=f"{text}[color=666666]{event['actor']}[/color]{note}"), photos))
        for row, _ in reversed(rows):
            self.ids.timeline.add_widget(row)
        self._show_photos(rows)

    def _show_photos(self, rows: list[tuple[EventRow, list[dict]]]) -> None:
        """The timeline's thumbnails, all downloaded on one thread, then each under its event."""
        rows = [(row, photos) for row, photos in rows if photos]
        everyone = [photo for _, photos in rows for photo in photos]
        code = self.code

        def done(paths: list[Path]) -> None:
            if code != self.code:
                return
            start = 0
            for row, photos in rows:
                add_photos(row.ids.photos, photos, paths[start : start + len(photos)])
                start += len(photos)

        def failed(exc: Exception) -> None:
            if code == self.code:
                self.status = f"照片没有加载出来。{explain(exc)}"

        if everyone:
            load_photos(everyone, done, failed)


load_kv(__file__)  # the task screen shows case photos too: its module imports this one
