"""Words in Chinese text found through character bigrams: the one technique behind the desk's case search
(``server.case.search``) and the address register's (``server.address.service``).

Chinese has no spaces and place names are often two characters ("山大", "泉城"), so a table keeps, in a
generated ``text[]`` column under a GIN index, every pair of neighbouring characters of its normalised
text (SQL ``case_search_norm``: NFKC, lower case, one space for each run of white space). A two-character
word is its bigram; a longer one is looked up by its rarest bigram (the planner then knows how common the
word is) and ``strpos`` on the normalised text confirms the word itself (the bigrams of "山大路" are also
in "山大" + "大路"). A trigram index (``pg_trgm``) serves only words of three characters or more, and a
segmenter finds only the words its dictionary cuts, not any substring a caller remembers."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, func, text
from sqlalchemy.orm import Session

from grids.words import MIN_WORD

# How often each bigram occurs, as the planner knows it (the column's most common elements; the others are
# rarer than all of those).
FREQUENCIES = text(
    """
    SELECT m.gram, m.frequency
    FROM pg_stats s, unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs)
        AS m(gram, frequency)
    WHERE s.schemaname = current_schema() AND s.tablename = :table AND s.attname = 'search_grams'
      AND m.gram = ANY(:grams)
    """
)


def bigrams(word: str) -> list[str]:
    return [word[i : i + 2] for i in range(len(word) - 1)]


def rarest(db: Session, table: str, grams: list[str]) -> Callable[[list[str]], str]:
    """A function picking the rarest of some of ``grams`` in ``table``'s ``search_grams``: a word is looked
    up by its rarest bigram alone. With all of them, the planner multiplies their frequencies as if they
    were independent (the bigrams of 电动车 always come together) and, sure the word is rare, reads every
    row holding it; with the rarest alone it knows how common the word is."""
    frequency = dict(db.execute(FREQUENCIES, {"table": table, "grams": grams}).all()) if grams else {}
    return lambda some: min(some, key=lambda gram: frequency.get(gram, 0.0))


def holds(
    grams_column: ColumnElement, doc: ColumnElement[str], word: str, pick: Callable[[list[str]], str]
) -> ColumnElement[bool]:
    """The rows whose normalised ``doc`` holds ``word`` (of ``MIN_WORD`` characters or more), through the
    index: its rarest bigram, confirmed by ``strpos`` for a longer word."""
    gram = grams_column.contains([pick(bigrams(word))])
    return gram if len(word) == MIN_WORD else and_(gram, func.strpos(doc, word) > 0)
