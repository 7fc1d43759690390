"""The outbox: every report and task reply on this phone with its state: waiting (queued), being sent,
sent (with the case code the server gave it) or refused (with the server's reason). A refused item can
be sent again; one that has not reached the server can be deleted. The list follows the sync."""

from __future__ import annotations

from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.screens.widgets import (
    OUTBOX_COLORS,
    OUTBOX_STATES,
    RESULTS,
    TASK_KINDS,
    AppScreen,
    ask,
    local_time,
    text_height,
)
from mobile.services.outbox import REPLY_ACTIONS, OutboxError, OutboxItem

# A row's parts, in dp (outbox.kv reads them): its padding, title and buttons, the case code's line, and
# the size of the server's reason, which wraps and makes the row taller.
ROW_BASE_DP = 6 + 24 + 48 + 6 + 3 * 2
CODE_DP = 22
PROBLEM_SP = 13


class OutboxRow(BoxLayout):
    """One item of the outbox; its buttons call back the screen (``owner``)."""

    item_id = NumericProperty()
    title = StringProperty()
    state_text = StringProperty()
    state_color = ColorProperty()
    code = StringProperty()
    problem = StringProperty()
    can_retry = BooleanProperty(False)
    can_delete = BooleanProperty(False)
    owner = ObjectProperty()


class OutboxScreen(AppScreen):
    follows = ("sync_changes",)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ids.rows.bind(width=lambda *_: self.refresh())  # the rows' heights depend on the width

    def refresh(self) -> None:
        services = self.app.services
        names = {c["code"]: c["name"] for c in services.cache.categories()}
        items = services.outbox.items()
        self.ids.rows.data = [self._row(item, names) for item in items]
        counts = services.outbox.counts()
        waiting = counts["queued"] + counts["sending"]
        summary = f"待发送 {waiting} · 已发送 {counts['sent']} · 发送失败 {counts['failed']}"
        self.ids.summary.text = summary if items else "发件箱是空的。"

    def _row(self, item: OutboxItem, names: dict[str, str]) -> dict:
        if item.kind == "report":
            code = item.payload["category"]
            title = f"上报 {names.get(code, code)}"
        else:
            kind = TASK_KINDS[REPLY_ACTIONS[item.payload["action"]]]
            title = f"{kind}回复：{RESULTS[item.payload['result']]}"
        photos = f" · {len(item.photos)} 张照片" if item.photos else ""
        problem = item.error or ""
        if item.state == "queued" and problem:
            problem = f"上次未能发送：{problem}"
        height = dp(ROW_BASE_DP) + (dp(CODE_DP) if item.case_code else 0)
        if problem:
            height += text_height(problem, self.ids.rows.width - dp(20), PROBLEM_SP)
        return {
            "item_id": item.id,
            "title": f"{local_time(item.created_at)}  {title}{photos}",
            "state_text": OUTBOX_STATES[item.state],
            "state_color": OUTBOX_COLORS[item.state],
            "code": item.case_code or "",
            "problem": problem,
            "can_retry": item.state == "failed",
            # as Outbox.delete allows: not sent, and (for a report) not yet known to the server
            "can_delete": item.state in ("queued", "failed")
            and not (item.kind == "report" and item.case_code),
            "owner": self,
            "row_size": (None, height),
        }

    def retry(self, item_id: int) -> None:
        try:
            self.app.services.outbox.retry(item_id)
        except OutboxError as exc:
            self.app.notify(str(exc))
        self.app.services.sync.wake()
        self.refresh()

    def ask_delete(self, item_id: int) -> None:
        ask(
            "删除",
            "删除后这条记录和它的照片将无法找回。确定删除吗？",
            [("删除", lambda: self.delete(item_id)), ("取消", None)],
        )

    def delete(self, item_id: int) -> None:
        try:
            self.app.services.outbox.delete(item_id)
        except OutboxError as exc:
            self.app.notify(str(exc))
        else:
            self.app.notify("已删除")
        self.refresh()

    def open_case(self, code: str) -> None:
        self.app.show("case", code=code)

    def send_now(self) -> None:
        self.app.services.sync.wake()
        self.app.notify("正在发送…")
