"""The desk's search box: one line of text finds a case by its code (whole, or its tail such as ``0042``), by
its caller's phone number (whole, or its last four digits or more), or by words of its address, place name,
description and reporter's name; within the user's scope, ranked.

**What a query is.** A query of digits alone (spaces, dashes and a leading + allowed) with at least four
digits is a number: it is looked up as the tail of a case code and as the tail of a caller's phone number,
never in the text (a phone number written in a description must not answer the phone query of someone who
may not see callers). Anything else is words, split at spaces and punctuation: a case matches when each word
appears in its address or description, in any order, as a substring: "垃圾 山大" finds "山大路北口垃圾堆放".
Letters are compared in lower case and in NFKC form (full-width letters and digits as half-width). The
limits are checked before any work: at most ``MAX_CHARS`` characters and ``MAX_WORDS`` words, and at least
one word of two characters or more.

**Callers.** A phone number, and a word in the reporter's name, find only the cases whose caller this user
may see (``contactable``): who may is decided in ``server.case.callers`` (acceptors and shift leads, and a
department's users for the cases it leads now); for everyone else a phone query finds no case and names are
not searched. The answer never holds the phone number.

**Ranking.** An exact code first, then code tails, then phone numbers, then words; words by relevance (a
word found in the address or the reporter's name counts two, in the description one); the newest first
among equals. Word matches are ranked among the newest ``CANDIDATES`` cases that contain every word: a query
matching more cases than that needs another word, and the newest matter most on the desk.

**The index.** Words are found through character bigrams (``server.textsearch`` says why): the generated
column ``case_file.search_grams`` holds every pair of neighbouring characters of the address and
description, and of the reporter's name marked with a leading @ (SQL functions ``case_search_norm`` and
``case_search_grams``, migration 0017), under a GIN index. Bigrams need no extension (a superuser).
Single characters are not indexed: they only narrow what longer words found. Code and phone tails use
btree indexes on the reversed strings (``text_pattern_ops``: a tail is a prefix of the reversal)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from grids.words import MIN_WORD, SEPARATORS
from server.auth.principal import Principal
from server.case.callers import CONTACT_ROLES, national
from server.case.models import Case, CaseDispatch
from server.case.scope import Scope, visible
from server.errors import Invalid
from server.textsearch import bigrams, rarest

MAX_CHARS = 50
MAX_WORDS = 5
MIN_DIGITS = 4  # a number with fewer digits is searched as a word
CANDIDATES = 200  # word matches ranked, the newest

NUMBER = re.compile(r"\+?[0-9][0-9 -]*")
EXACT, CODE_TAIL, PHONE, WORDS = range(4)  # the tiers of the ranking, best first
NAME_MARK = "@"  # before the bigrams of the reporter's name (case_search_grams)


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...] = ()
    code: str | None = None  # a case code or its tail
    phone: str | None = None  # the digits of a phone number or of its tail


def parse(text: str) -> Query:
    """The query in ``text``, or 422 when it is empty, too long, has too many words or none long enough."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise Invalid("case.search_empty")
    if len(text) > MAX_CHARS:
        raise Invalid("case.search_too_long", most=MAX_CHARS)
    words = tuple(w for w in SEPARATORS.split(text.lower()) if w)
    if len(words) > MAX_WORDS:
        raise Invalid("case.search_too_many_words", most=MAX_WORDS)
    compact = text.replace(" ", "")
    digits = re.sub(r"\D", "", national(compact))  # the number without +86, as stored or as its tail
    if NUMBER.fullmatch(text) and len(digits) >= MIN_DIGITS:
        return Query(code=None if compact.startswith("+") else compact, phone=digits)
    if not words or max(len(w) for w in words) < MIN_WORD:
        raise Invalid("case.search_too_short")
    return Query(words=words)


def search(*, db: Session, principal: Principal, scope: Scope, text: str, limit: int = 20) -> list[Case]:
    """The cases ``scope`` sees that ``text`` finds, best first, at most ``limit``."""
    query = parse(text)
    callers = contactable(principal, scope)
    branches = []
    if query.code:
        branches.append(_code(query.code, scope, limit))
    if query.phone and callers is not None:
        branches.append(_phone(query.phone, scope, callers, limit))
    if query.words:
        branches.append(_words(db, query.words, scope, callers, limit))
    best: dict[int, tuple] = {}
    for branch in branches:
        for case_id, tier, score, received_at in db.execute(branch):
            key = (tier, -score, -received_at.timestamp())
            best[case_id] = min(best.get(case_id, key), key)
    ids = sorted(best, key=best.get)[:limit]
    cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_(ids)))}
    return [cases[i] for i in ids]


def contactable(principal: Principal, scope: Scope) -> ColumnElement[bool] | None:
    """The cases whose caller this user may find by phone or name, as ``server.case.callers`` decides who may
    see a caller (every case for ``CONTACT_ROLES``, the cases its department leads now for a department's
    user), inspectors' own reports left out (they have no caller); None: no case."""
    if principal.has(*CONTACT_ROLES):
        whose = true()
    elif principal.has("department") and scope.department_id is not None:
        whose = exists().where(
            CaseDispatch.case_id == Case.id,
            CaseDispatch.department_id == scope.department_id,
            CaseDispatch.lead,
            CaseDispatch.ended_at.is_(None),
        )
    else:
        return None
    return and_(Case.channel != "inspector", whose)


def _code(code: str, scope: Scope, limit: int) -> Select:
    """Cases whose code is ``code`` or ends with it."""
    tier = case((Case.code == code, EXACT), else_=CODE_TAIL)
    return (
        select(Case.id, tier, literal(0), Case.received_at)
        .where(visible(scope), func.reverse(Case.code).like(code[::-1] + "%"))
        .order_by(tier, Case.received_at.desc())
        .limit(limit)
    )


def _phone(digits: str, scope: Scope, callers: ColumnElement[bool], limit: int) -> Select:
    """Cases whose caller's phone number ends with ``digits``."""
    return (
        select(Case.id, literal(PHONE), literal(0), Case.received_at)
        .where(
            visible(scope),
            callers,
            Case.reporter_phone.is_not(None),
            func.reverse(Case.reporter_phone).like(digits[::-1] + "%"),
        )
        .order_by(Case.received_at.desc())
        .limit(limit)
    )


def _words(
    db: Session, words: tuple[str, ...], scope: Scope, callers: ColumnElement[bool] | None, limit: int
) -> Select:
    """Cases holding every word in their address and description (or their reporter's name, where
    ``callers`` allows), the newest ``CANDIDATES`` of them ranked by relevance."""
    doc = func.case_search_norm(func.coalesce(Case.address, "") + " " + Case.description)
    name = func.case_search_norm(Case.reporter_name)
    grams = {w: bigrams(w) for w in words if len(w) >= MIN_WORD}
    named = {w: [f"{NAME_MARK}{g}" for g in gs] for w, gs in grams.items()}
    pick = rarest(db, "case_file", [g for gs in (*grams.values(), *named.values()) for g in gs])
    conditions = []
    for word in words:
        in_text, in_name = func.strpos(doc, word) > 0, func.strpos(name, word) > 0
        if word in grams:  # the index finds it; a longer word's other bigrams may lie apart: strpos confirms
            text_gram = Case.search_grams.contains([pick(grams[word])])
            name_gram = Case.search_grams.contains([pick(named[word])])
            if len(word) == MIN_WORD:  # its bigram is the word
                in_text, in_name = text_gram, name_gram
            else:
                in_text, in_name = and_(text_gram, in_text), and_(name_gram, in_name)
        conditions.append(in_text if callers is None else or_(in_text, and_(callers, in_name)))
    # the reporter's name only where this user may see it, so that it ranks nothing else
    reporter = case((callers, Case.reporter_name)) if callers is not None else null()
    found = (
        select(Case.id, Case.received_at, Case.address, Case.description, reporter.label("reporter"))
        .where(visible(scope), *conditions)
        .order_by(Case.received_at.desc())
        .limit(CANDIDATES)
        .subquery()
    )
    weights = {found.c.address: 2, found.c.reporter: 2, found.c.description: 1}
    score = sum(
        case((func.strpos(func.case_search_norm(column), word) > 0, weight), else_=0)
        for word in words
        for column, weight in weights.items()
    )
    return (
        select(found.c.id, literal(WORDS), score, found.c.received_at)
        .order_by(score.desc(), found.c.received_at.desc())
        .limit(limit)
    )
