"""The phone's hardware behind small interfaces: ``gps`` (position) and ``camera`` (photos).

Each device has a protocol, an Android implementation over plyer and a desktop twin with the same
interface (a simulated walk, generated or picked photos), so the app and its tests run on a desktop.
Android-only modules (plyer's Android back ends, pyjnius, ``android.permissions``) are imported inside the
Android classes only, when they are used. Nothing here imports kivy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


def on_android() -> bool:
    """True inside the Android app: python-for-android's launcher sets ``ANDROID_ARGUMENT``."""
    return "ANDROID_ARGUMENT" in os.environ


def with_permissions(names: Sequence[str], then: Callable[[frozenset[str]], None]) -> None:
    """Make sure the app holds Android's run-time permissions ``names`` (the names after
    ``android.permission.``, e.g. ``"CAMERA"``), asking the person for those it lacks, then call
    ``then`` with the names of those it holds: all of them, or fewer when some are refused or the
    question was interrupted. Android only.

    ``then`` runs at once when nothing needs asking, else later on Android's UI thread (not Kivy's): it
    must not touch widgets itself. A service (python-for-android sets ``PYTHON_SERVICE_ARGUMENT``) cannot
    ask: it gets what the app was granted before starting it."""
    from jnius import autoclass

    if "PYTHON_SERVICE_ARGUMENT" in os.environ:
        service = autoclass("org.kivy.android.PythonService").mService
        then(frozenset(n for n in names if service.checkSelfPermission(_android(n)) == _GRANTED))
        return
    from android.permissions import check_permission, request_permissions

    held = frozenset(name for name in names if check_permission(_android(name)))
    if held == frozenset(names):
        then(held)
        return

    def answered(permissions: list[str], grants: list[bool]) -> None:
        granted = held | {p.rpartition(".")[2] for p, ok in zip(permissions, grants, strict=False) if ok}
        refused = [name for name in names if name not in granted]
        if refused:
            log.warning("Android permissions refused: %s", ", ".join(refused))
        then(frozenset(granted))

    request_permissions([_android(name) for name in names if name not in held], answered)


_GRANTED = 0  # PackageManager.PERMISSION_GRANTED


def _android(name: str) -> str:
    return f"android.permission.{name}"
