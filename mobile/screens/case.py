"""A case as the server has it: its state, category, place and the timeline of everything done to it
(time, who, what, the state it led to, the note). Read from the server on a thread; with no network, the
copy kept from the last time it was read."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import StringProperty

from mobile.screens.widgets import ACTION_LABELS, LIGHTS, STATE_LABELS, AppScreen, in_background, local_time
from mobile.services.errors import explain


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
        self.ids.summary.text = (
            f"[b]{detail['state_label']}[/b]　{detail['category']['name']}（{detail['category']['code']}）\n"
            f"网格 {detail['grid_code']}　{detail.get('address') or ''}\n"
            f"描述：{detail.get('description') or '无'}{due}"
        )
        timeline = detail.get("timeline")
        self.status = "" if timeline is not None else "时间线需联网读取。"
        box = self.ids.timeline
        for event in timeline or []:
            state = STATE_LABELS.get(event["state_after"], "其他状态")  # a state newer than the app
            note = f"\n{event['note']}" if event.get("note") else ""
            photos = f"　照片 {len(event['photo_ids'])} 张" if event.get("photo_ids") else ""
            action = ACTION_LABELS.get(event["action"], "其他办理")
            text = f"[b]{local_time(event['at'])}[/b]　{action}　→ {state}\n"
            box.add_widget(
                Factory.EventRow(text=f"{text}[color=666666]{event['actor']}[/color]{photos}{note}")
            )
