"""What the app says when something fails.

Every failure the app expects is an :class:`AppError` whose text is a Chinese sentence for the inspector:
what happened and what to do next (for a refusal of the server, the answer's ``detail`` as it is). Anything
else is a bug or the phone's own trouble: the inspector reads a general sentence, never Python's text of
the exception (which is logged instead).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

UNEXPECTED = "出了意外的问题，这次操作没有完成：请再试一次；一再出现请联系管理员。"


class AppError(Exception):
    """A failure whose text is a Chinese sentence for the person using the app."""


def explain(exc: BaseException) -> str:
    """The sentence a screen shows for ``exc``."""
    if isinstance(exc, AppError):
        return str(exc)
    log.error("unexpected failure", exc_info=exc)
    return UNEXPECTED
