"""Voice input for a report's description: Android's speech recognizer (through plyer), where the phone
has one. A desktop has none: ``available`` is False there and the app offers no voice button."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from mobile.platform import on_android, with_permissions

LANGUAGE = "zh-CN"
LISTEN_MAX_S = 30.0  # Android ends a recognition by itself after a pause; this bounds a recognizer that hangs


class Speech(Protocol):
    @property
    def available(self) -> bool: ...

    def listen(self, on_text: Callable[[str], None], on_problem: Callable[[str], None]) -> None:
        """Recognise one utterance; ``on_text`` gets its text, ``on_problem`` why there is none (Chinese,
        for the inspector). Either is called once, on a thread that is not Kivy's."""


class AndroidSpeech:
    def __init__(self) -> None:
        from plyer import stt

        self._stt = stt

    @property
    def available(self) -> bool:
        """A recognition service is installed (most phones have one; offline when its language pack is)."""
        try:
            return bool(self._stt.exist())
        except Exception:  # no service, or a plyer without this phone's API: no voice button
            return False

    def listen(self, on_text: Callable[[str], None], on_problem: Callable[[str], None]) -> None:
        def permitted(held: frozenset[str]) -> None:
            if "RECORD_AUDIO" not in held:
                on_problem("没有录音权限，不能语音输入：请在手机设置里允许本应用使用麦克风，或直接打字。")
                return
            # plyer's language setter knows only a few languages; Android's recognizer knows Chinese.
            self._stt._language = LANGUAGE
            self._stt.start()
            threading.Thread(target=self._wait, args=(on_text, on_problem), daemon=True).start()

        with_permissions(["RECORD_AUDIO"], permitted)

    def _wait(self, on_text: Callable[[str], None], on_problem: Callable[[str], None]) -> None:
        deadline = time.monotonic() + LISTEN_MAX_S
        while self._stt.listening and time.monotonic() < deadline:
            time.sleep(0.2)
        if self._stt.listening:
            self._stt.stop()
        if self._stt.results:
            on_text(self._stt.results[0])
        else:
            on_problem("没有听清：请靠近手机再说一遍，或直接打字。")


class NoSpeech:
    """A phone or desktop without a speech recognizer."""

    available = False

    def listen(self, on_text: Callable[[str], None], on_problem: Callable[[str], None]) -> None:
        on_problem("这台设备不支持语音输入：请直接打字。")


def default_speech() -> Speech:
    return AndroidSpeech() if on_android() else NoSpeech()
