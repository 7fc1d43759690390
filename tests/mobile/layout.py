"""What a screen must hold at a phone's width, measured on the real widgets: every touch target at least
48 dp each way (Android's guideline), every text whole (not cut by its box or by the window's edge) and no
two texts drawn over each other.

Kivy gives each widget its position and size and each label the size of its rendered text; a label's text is
laid out again here without its box's height to know the height it needs."""

from __future__ import annotations

from kivy.core.text import Label as CoreLabel
from kivy.core.text.markup import MarkupLabel
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

TARGET_DP = 48
SLACK_PX = 1.5  # rounding of texture sizes

Box = tuple[float, float, float, float]  # left, bottom, right, top in window coordinates


def _box(widget: Widget, x: float, y: float, w: float, h: float) -> Box:
    left, bottom = widget.to_window(x, y)
    return left, bottom, left + w, bottom + h


def _meet(a: Box, b: Box) -> Box | None:
    box = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return box if box[0] < box[2] and box[1] < box[3] else None


def _shown(widget: Widget, root: Widget) -> Box | None:
    """The part of ``widget`` one sees: inside the window and every scroll view holding it, None if none
    (hidden: no size, transparent, or scrolled away)."""
    seen: Box | None = (0, 0, Window.width, Window.height)
    node = widget
    while node is not None:
        if node.opacity == 0 or node.width <= 0 or node.height <= 0:
            return None
        if isinstance(node, ScrollView) and node is not widget:
            seen = _meet(seen, _box(node.parent, *node.pos, *node.size)) if seen else None
        if node is root:
            break
        node = node.parent
    box = _box(widget.parent, *widget.pos, *widget.size) if widget.parent else None
    return _meet(seen, box) if seen and box else None


def _words(widget: Widget) -> str:
    return getattr(widget, "text", "") or type(widget).__name__


def needed_size(label: Label) -> tuple[float, float]:
    """The size ``label``'s text takes laid out in its box's width (or on one line when its box sets no
    width), whatever its box's height."""
    options = dict(label._label.options)
    width = label.text_size[0]
    options["text_size"] = (width, None)
    options["shorten"] = False
    core = (MarkupLabel if label.markup else CoreLabel)(**options)
    core.refresh()
    return core.content_size if width is None else (min(core.content_size[0], width), core.content_size[1])


def layout_problems(root: Widget) -> list[str]:
    """What breaks the rules above among the widgets under ``root`` that one can see, in words."""
    problems = []
    drawn: list[tuple[Box, Label]] = []
    for widget in root.walk(restrict=True):
        shown = _shown(widget, root)
        if shown is None:
            continue
        if isinstance(widget, ButtonBehavior | TextInput):
            small = min(widget.width, widget.height)
            if small < dp(TARGET_DP) - SLACK_PX:
                problems.append(
                    f"{type(widget).__name__}「{_words(widget)[:20]}」only {small / dp(1):.0f} dp "
                    f"({widget.width / dp(1):.0f} x {widget.height / dp(1):.0f})"
                )
        if not isinstance(widget, Label) or not widget.text.strip() or widget.texture is None:
            continue
        if getattr(widget, "shorten", False):
            need_w, need_h = widget.texture_size  # shortened on purpose, with an ellipsis
        else:
            need_w, need_h = needed_size(widget)
        if need_w > widget.width + SLACK_PX or need_h > widget.height + SLACK_PX:
            problems.append(
                f"「{widget.text[:30]}」is cut: it needs {need_w / dp(1):.0f} x {need_h / dp(1):.0f} dp, "
                f"its box is {widget.width / dp(1):.0f} x {widget.height / dp(1):.0f}"
            )
        tw, th = widget.texture_size
        text = _box(widget.parent, widget.center_x - tw / 2, widget.center_y - th / 2, tw, th)
        if text[0] < -SLACK_PX or text[2] > Window.width + SLACK_PX:
            problems.append(f"「{widget.text[:30]}」runs over the edge of the screen")
        seen = _meet(text, shown)
        if seen is None:
            continue
        for other_box, other in drawn:
            meet = _meet(seen, other_box)
            if meet and (meet[2] - meet[0]) > SLACK_PX and (meet[3] - meet[1]) > SLACK_PX:
                problems.append(f"「{widget.text[:30]}」is drawn over「{other.text[:30]}」")
        drawn.append((seen, widget))
    return problems
