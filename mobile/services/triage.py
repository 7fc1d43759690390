"""The server's triage suggester as the report screen asks it: the categories an inspector's description
suggests there (POST /api/triage/suggest, channel "inspector"). A suggestion is a help, never a wait: one
try with a short timeout, and any failure is the caller's to drop (the category search works offline)."""

from __future__ import annotations

from mobile.services.api import Api

SUGGEST_TIMEOUT = (3.0, 3.0)  # seconds to connect, to read: past them the inspector picks as before
SUGGESTED = 3  # categories asked for
TEXT_MAX = 2000  # characters: the server's limit of a description


def suggest_categories(api: Api, text: str, pin: tuple[float, float] | None) -> list[dict]:
    """The categories the description suggests at the pin (WGS 84; None: not known yet), best first: each
    with its code, name, trail and score. Raises what the API raises (Offline, ApiError, LoginRequired)."""
    body: dict = {"text": text[:TEXT_MAX], "channel": "inspector", "k": SUGGESTED}
    if pin is not None:
        body["lon"], body["lat"] = pin
    answer = api.post("api/triage/suggest", json=body, retries=0, timeout=SUGGEST_TIMEOUT)
    return answer["categories"]
