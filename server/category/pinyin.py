"""Pinyin initials of category names and aliases, so an inspector finds 乱停车 by typing ltc."""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, pinyin

INITIALS_MOST = 8  # spellings of one word: a character read several ways multiplies them


@lru_cache(maxsize=4096)  # a taxonomy changes seldom; the category list is served often
def initials(*words: str) -> tuple[str, ...]:
    """The pinyin initials of words, as an inspector types them to search (违章停车 wztc, 乱停车 ltc): every
    reading of a character with several (窨井 xj and yj), at most :data:`INITIALS_MOST` per word; letters
    and digits as they are."""
    found: dict[str, None] = {}
    for word in words:
        spellings = [""]
        for readings in pinyin(word, style=Style.FIRST_LETTER, heteronym=True, errors=lambda s: list(s)):
            letters = dict.fromkeys(r[:1].lower() for r in readings if r[:1].isalnum())
            spellings = [s + letter for s in spellings for letter in letters or ("",)][:INITIALS_MOST]
        found.update(dict.fromkeys(s for s in spellings if s))
    return tuple(found)
