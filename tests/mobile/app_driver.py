"""Drive the real app in the test's offscreen window: start it, advance frames, tap widgets with
UnitTestTouch, type, wait for what the background threads bring back, and save screenshots.

One window serves every app of a test session: an app is started on it and stopped (its ``on_stop``
runs, its widgets leave the window) without closing the window or Kivy's event loop."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# isort: off
from mobile.main import DESKTOP_WINDOW, GridOpsApp  # first: it sets the window's size, fixed when it is made
from kivy.base import EventLoop
from kivy.core.window import Window

# isort: on
from kivy.tests.common import UnitTestTouch
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget
from PIL import Image

from tests.mobile.conftest import INSPECTOR, PASSWORD

WAIT_SECONDS = 60.0  # bounds a wait for the network or a thread; reaching it fails the test


class Driver:
    def __init__(self, app: GridOpsApp) -> None:
        self.app = app
        self.running = False

    def start(self) -> Driver:
        assert tuple(Window.size) == DESKTOP_WINDOW, "Kivy made its window before mobile.main set its size"
        self.app._run_prepare()  # what App.run does before it enters the event loop
        EventLoop.start()
        self.running = True
        self.frames(3)
        return self

    def stop(self) -> None:
        """Stop the app as closing it would (on_stop: GPS and sync stopped, store closed)."""
        self.app.dispatch("on_stop")
        self.running = False
        for child in Window.children[:]:
            Window.remove_widget(child)
        self.frames(1)

    def frames(self, n: int = 1) -> None:
        for _ in range(n):
            EventLoop.idle()

    def until(self, condition: Callable[[], object], what: str, seconds: float = WAIT_SECONDS):
        """Advance frames until ``condition()`` is true (and return its value); an AssertionError from it
        counts as not yet (a widget not on the screen yet). Fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if value := condition():
                    return value
                problem = None
            except AssertionError as exc:
                problem = exc
            assert time.monotonic() < deadline, f"gave up waiting for {what}" + (
                f": {problem}" if problem else ""
            )
            EventLoop.idle()
            time.sleep(0.005)  # let the background threads run

    @property
    def screen(self):
        return self.app.manager.current_screen

    def find(self, kind: type | str, root: Widget | None = None, **attrs) -> Widget:
        """The first widget of class ``kind`` (a class or its name) under ``root`` (default: the screen
        shown) whose attributes have the values ``attrs``."""
        for widget in (root or self.screen).walk(restrict=True):
            named = type(widget).__name__ == kind if isinstance(kind, str) else isinstance(widget, kind)
            if named and all(getattr(widget, k, None) == v for k, v in attrs.items()):
                return widget
        raise AssertionError(f"no {kind} with {attrs} on the screen")

    def popup(self, kind: str) -> Widget:
        """The open popup of class ``kind`` (popups sit on the window, above the screens)."""
        return self.until(
            lambda: next((w for w in Window.children if type(w).__name__ == kind), None), f"a {kind}"
        )

    def nav(self, screen: str) -> None:
        """Open a screen with the bottom bar."""
        self.tap(self.find("NavButton", screen=screen))
        self.until(lambda: self.app.current == screen, f"the {screen} screen")

    def tap(self, widget: Widget) -> None:
        """Touch the middle of ``widget`` and let go, as a finger would (scrolling it into view first)."""
        assert widget.get_root_window() is not None, f"{widget} is not on the screen"
        parent = widget.parent
        while parent is not None and parent is not Window:
            # A RecycleView shows the rows in view already (and kv loads it as another module: no isinstance).
            if isinstance(parent, ScrollView) and not hasattr(parent, "layout_manager"):
                parent.scroll_to(widget, padding=10, animate=False)
                self.frames(2)
            parent = parent.parent
        # a screen still sliding in or being laid out can hold it outside the window for a few frames
        self.tap_at(*self.until(lambda: self.on_window(widget), f"{widget} inside the window"))

    @staticmethod
    def on_window(widget: Widget) -> tuple[float, float] | None:
        """The window point of ``widget``'s middle while it lies inside the window, else None."""
        x, y = widget.to_window(*widget.center)
        return (x, y) if 0 <= x < Window.width and 0 <= y < Window.height else None

    def drag(self, widget: Widget, dx: float, dy: float, steps: int = 5) -> None:
        """Put a finger on the middle of ``widget`` and move it by (dx, dy) before letting go."""
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        for step in range(1, steps + 1):
            touch.touch_move(x + dx * step / steps, y + dy * step / steps)
            self.frames(1)
        touch.touch_up()
        self.frames(2)

    def tap_at(self, x: float, y: float) -> None:
        """Touch the window at (x, y) and let go."""
        assert 0 <= x < Window.width and 0 <= y < Window.height, f"{x, y} is off the window"
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.frames(3)

    def type(self, field, text: str) -> None:
        """Focus a text field by tapping it and type ``text`` into it."""
        self.tap(field)
        field.select_all()
        field.delete_selection()
        field.insert_text(text)
        self.frames(1)

    @contextmanager
    def window_width(self, width: float) -> Iterator[None]:
        """Widen (or narrow) the window to ``width`` pixels for a while, laid out again, then back."""
        before = tuple(Window.size)
        Window.size = (width, before[1])
        self.frames(4)
        try:
            yield
        finally:
            Window.size = before
            self.frames(4)

    def screenshot(self, path: Path) -> Path:
        """Save the window as a PNG at ``path`` (after a few frames: the first can be black)."""
        self.frames(4)
        with tempfile.TemporaryDirectory() as folder:
            saved = Window.screenshot(name=str(Path(folder) / "shot.png"))  # Kivy numbers it: shot0001.png
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(saved, path)
        return path


def colours(png: Path) -> int:
    """How many distinct colours a picture has (a blank or black screenshot has one or two)."""
    with Image.open(png) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])


def log_in(d: Driver, server_url: str, login: str = INSPECTOR) -> None:
    """Log in on the login screen shown, and wait for the home screen."""
    screen = d.screen
    assert screen.name == "login"
    d.type(screen.ids.server, server_url)
    d.type(screen.ids.login, login)
    d.type(screen.ids.password, PASSWORD)
    d.tap(screen.ids.submit)
    d.until(lambda: d.app.current == "home", "the home screen after login")


def synced(d: Driver) -> None:
    """Wait for a whole sync run to succeed from now on."""
    seen = d.app.sync_changes
    d.until(
        lambda: d.app.sync_changes > seen and d.app.sync_state == "idle" and d.app.last_sync, "a sync run"
    )
