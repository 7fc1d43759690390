"""The layout rules that every screenshot of the app is checked against (tests/mobile/layout.py) catch what
they are for: a small touch target, a text cut by its box, a text drawn over another, a text past the edge
of the screen; and they pass a screen without these."""

from __future__ import annotations

import pytest


@pytest.fixture
def window():
    from tests.mobile.app_driver import EventLoop, Window  # the window's size is set before it is made

    EventLoop.ensure_window()
    added = []

    def show(widget):
        Window.add_widget(widget)
        added.append(widget)
        for _ in range(3):
            EventLoop.idle()
        return widget

    yield show
    for widget in added:
        Window.remove_widget(widget)


def test_each_kind_of_problem_is_found(window):
    from kivy.metrics import dp
    from kivy.uix.button import Button
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label

    from tests.mobile.layout import layout_problems

    page = FloatLayout()
    page.add_widget(Button(text="删除", size_hint=(None, None), size=(dp(64), dp(32)), pos=(0, 0)))
    page.add_widget(
        Label(
            text="一段很长很长的说明文字，在窄窄的框里放不下，会被截掉一部分" * 2,
            size_hint=(None, None),
            size=(dp(120), dp(24)),
            text_size=(dp(120), None),
            pos=(0, dp(100)),
        )
    )
    page.add_widget(
        Label(
            text="位置 117.02311, 36.66120", size_hint=(None, None), size=(dp(200), dp(30)), pos=(0, dp(300))
        )
    )
    page.add_widget(
        Label(text="网格：第006网格", size_hint=(None, None), size=(dp(200), dp(30)), pos=(0, dp(310)))
    )
    page.add_widget(
        Label(
            text="370102-20261204-0042", size_hint=(None, None), size=(dp(40), dp(30)), pos=(dp(10), dp(400))
        )
    )
    window(page)
    found = layout_problems(page)
    assert any("删除" in p and "32 dp" in p for p in found), found
    assert any(p.startswith("「一段很长") and "is cut" in p for p in found), found
    assert any("drawn over" in p and "网格" in p and "位置" in p for p in found), found
    assert any("370102" in p and "edge of the screen" in p for p in found), found


def test_a_sound_screen_passes(window):
    from kivy.metrics import dp
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    from tests.mobile.layout import layout_problems

    page = BoxLayout(orientation="vertical", padding=dp(10), spacing=dp(6))
    caption = Label(text="一段说明文字，换行后完整显示" * 3, size_hint_y=None)
    caption.bind(width=lambda w, v: setattr(w, "text_size", (v, None)))
    caption.bind(texture_size=lambda w, v: setattr(w, "height", v[1] + dp(4)))
    page.add_widget(caption)
    page.add_widget(Button(text="提交", size_hint_y=None, height=dp(52)))
    page.add_widget(Label(text="370102-20261204-0042", size_hint_y=None, height=dp(30)))
    window(page)
    assert layout_problems(page) == []
