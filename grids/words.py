"""How GridOps reads the words of a place, the same on the server and on the phone (which ships without the
server's code): text normalised for search, a query cut into words, and a point said to be near an
address in words."""

from __future__ import annotations

import re
import unicodedata

MIN_WORD = 2  # characters: a query needs a word of two characters at least (shorter ones are not indexed)
SEPARATORS = re.compile(r"[\s,;:!?、。，；：！？]+")
AT_M = 10.0  # closer than this, a point is at the address


def normalise(value: str) -> str:
    """``value`` as search compares it (the SQL function ``case_search_norm`` too): NFKC (full-width digits
    and letters as ASCII, the ideographic space as a space), lower case, one space for each run of white
    space."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", value).lower()).strip()


def words_of(value: str) -> tuple[str, ...]:
    """The words of a normalised query, split at spaces and punctuation."""
    return tuple(w for w in SEPARATORS.split(value) if w)


def near_words(label: str, distance_m: float) -> str:
    """Where a point is, as people say it: "山大南路27号附近（约 30 米）", or the address itself when the
    point is at it."""
    if distance_m < AT_M:
        return label
    return f"{label}附近（约 {max(10, round(distance_m / 10) * 10):.0f} 米）"
