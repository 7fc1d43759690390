"""Recording the patrol in the background: on Android a foreground service (mobile/service/patrol.py)
with its notification, so the track goes on with the screen off; on a desktop the app records the fixes
itself while it runs."""

from __future__ import annotations

from pathlib import Path

from mobile.platform import on_android

SERVICE_CLASS = (
    "org.gridops.gridops.ServicePatrol"  # python-for-android: <package.domain>.<name>.Service<Name>
)
# The service's notification (python-for-android's default says the service's name, "Patrol").
NOTIFICATION_TITLE = "城管通正在记录巡查轨迹"
NOTIFICATION_TEXT = "下班时请在首页点“下班打卡”，记录随即停止"


def start_patrol_service(data_dir: Path) -> bool:
    """Start the patrol service on Android and return True; False elsewhere (the app records itself)."""
    if not on_android():
        return False
    from jnius import autoclass

    activity = autoclass("org.kivy.android.PythonActivity").mActivity
    small_icon = ""  # the app's own
    autoclass(SERVICE_CLASS).start(activity, small_icon, NOTIFICATION_TITLE, NOTIFICATION_TEXT, str(data_dir))
    return True


def stop_patrol_service() -> None:
    """Stop the patrol service (it also stops by itself once the shift has ended)."""
    if on_android():
        from jnius import autoclass

        autoclass(SERVICE_CLASS).stop(autoclass("org.kivy.android.PythonActivity").mActivity)
