"""Notifications: news the inspector should see while the app is in the background (a new task, a case
of theirs under supervision).

On Android each is a system notification through plyer. Elsewhere (the desktop and the tests) it goes to
``show``, which the app points at its notice line: the desktop's way of drawing attention. Either way
``sent`` keeps every notification given, oldest first, as (title, message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mobile.platform import on_android, with_permissions

log = logging.getLogger(__name__)

APP_NAME = "GridOps 网格巡查"


class Notifier:
    """Gives notifications; ``notify`` may be called from any thread (``show`` must cope with that)."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self._show = show
        self.sent: list[tuple[str, str]] = []

    def start(self) -> None:
        """Ask Android for leave to notify (since Android 13 notifications without it are dropped
        silently); once given, it is not asked again."""
        if on_android():
            with_permissions(["POST_NOTIFICATIONS"], lambda granted: None)

    def notify(self, title: str, message: str) -> None:
        self.sent.append((title, message))
        if not on_android():
            self._show(message)
            return
        from plyer import notification

        try:
            notification.notify(title=title, message=message, app_name=APP_NAME)
        except Exception:  # a notification refused (no permission, a phone's quirk) must not stop the sync
            log.exception("the notification could not be shown")
