"""The knowledge base (知识库): answer templates, found by the words of a caller (character bigrams: Chinese
has no spaces), filled from a case's fields and counted when a case is answered with them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.category.models import Category, RequestType
from server.errors import Conflict, Invalid, NotFound
from server.http_errors import validation_items
from server.knowledge.models import AnswerTemplate
from server.knowledge.schemas import AnswerTemplateIn, AnswerTemplateUpdate

# The most templates one search reads (a city keeps hundreds); the most it answers.
MAX_ROWS = 5000
MAX_LIMIT = 200
OTHERS_RELEVANCE = 0.3  # a template of another category must share this much to be offered (not one word)
NONE = "暂无"  # a placeholder the case has no value for


# The placeholders a body may hold (each filled from the case answered: server/case/replies.py).
PLACEHOLDERS = ("案件编号", "问题类别", "地点", "受理时间", "来电人", "承办部门", "处置时限")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholder_list() -> list[str]:
    return [f"{{{name}}}" for name in PLACEHOLDERS]


def check_body(body: str) -> None:
    """A body names only the known placeholders (422 naming the unknown and the allowed ones)."""
    unknown = sorted({name for name in PLACEHOLDER.findall(body) if name not in PLACEHOLDERS})
    if unknown:
        raise Invalid(
            "knowledge.unknown_placeholder",
            unknown="、".join(f"{{{n}}}" for n in unknown),
            allowed="、".join(placeholder_list()),
        )


def fill(text: str, value: Callable[[str], str | None]) -> str:
    """``text`` with each placeholder replaced by ``value(name)`` (暂无 where it is None), each asked once;
    the text is checked first (422 for an unknown placeholder)."""
    check_body(text)
    values: dict[str, str] = {}

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            values[name] = value(name) or NONE
        return values[name]

    return PLACEHOLDER.sub(sub, text)


# -- words ----------------------------------------------------------------------------------------------


def grams(text: str) -> set[str]:
    """The character bigrams of ``text``'s runs of letters, digits and Chinese characters (half-width,
    lower case); a run of one character is its own gram."""
    runs = re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())
    out: set[str] = set()
    for run in runs:
        out.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return out


def relevance(asked: set[str], template: AnswerTemplate) -> float:
    """0..1: the share of the asked grams found in the template, a gram in its title or question counting
    twice one in its body only."""
    if not asked:
        return 0.0
    head = grams(f"{template.title} {template.question}")
    body = grams(template.body)
    points = sum(2 if g in head else 1 if g in body else 0 for g in asked)
    return points / (2 * len(asked))


# -- reading --------------------------------------------------------------------------------------------


def get_template(*, db: Session, template_id: int) -> AnswerTemplate:
    template = db.get(AnswerTemplate, template_id)
    if template is None:
        raise NotFound("knowledge.no_template", template_id=template_id)
    return template


def usable(*, db: Session, template_id: int) -> AnswerTemplate:
    """A template a case may be answered with now (404 without one, 409 when deactivated)."""
    template = get_template(db=db, template_id=template_id)
    if not template.active:
        raise Conflict("knowledge.template_inactive", title=template.title)
    return template


@dataclass(frozen=True)
class Found:
    template: AnswerTemplate
    score: float | None


def search(
    *,
    db: Session,
    text: str | None = None,
    category: str | None = None,
    request_type: str | None = None,
    include_inactive: bool = False,
    limit: int = 50,
) -> tuple[list[Found], int]:
    """Templates, the best match of ``text`` first (those sharing no word left out), then the most used;
    without ``text`` the most used first. Of one category (its own code, not those under it) or request
    type. At most ``MAX_ROWS`` are read, the most used first."""
    query = select(AnswerTemplate).order_by(AnswerTemplate.use_count.desc(), AnswerTemplate.id)
    if category:
        query = query.where(AnswerTemplate.category_id == _category_id(db, category))
    if request_type:
        query = query.where(AnswerTemplate.request_type == request_type)
    if not include_inactive:
        query = query.where(AnswerTemplate.active)
    rows = list(db.scalars(query.limit(MAX_ROWS)))
    asked = grams(text or "")
    if not asked:
        return [Found(t, None) for t in rows[:limit]], len(rows)
    scored = [Found(t, relevance(asked, t)) for t in rows]
    scored = [f for f in scored if f.score > 0]
    scored.sort(key=lambda f: (-f.score, -f.template.use_count, f.template.id))
    return scored[:limit], len(scored)


def matching(*, db: Session, text: str, category_codes: list[str], limit: int = 3) -> list[AnswerTemplate]:
    """The active templates for a caller's ``text`` whose likely categories are ``category_codes`` (best
    first), best first: those of these categories (or of a class above them) sharing words with the text,
    then the other templates sharing enough words with it (``OTHERS_RELEVANCE``: frequent questions), then
    those of these categories sharing none; within each, more shared words first, then the most used."""
    lineage = db.execute(select(Category.code, Category.lineage).where(Category.code.in_(category_codes)))
    codes = {code for row in lineage for code in [row.code, *row.lineage]}
    ids = set(db.scalars(select(Category.id).where(Category.code.in_(codes)))) if codes else set()
    asked = grams(text)
    found = []
    query = select(AnswerTemplate).where(AnswerTemplate.active).order_by(AnswerTemplate.use_count.desc())
    for template in db.scalars(query.limit(MAX_ROWS)):
        score, own = relevance(asked, template), template.category_id in ids
        group = 0 if own and score else 1 if score >= OTHERS_RELEVANCE else 2 if own else None
        if group is not None:
            found.append((group, -score, -template.use_count, template.id, template))
    found.sort(key=lambda f: f[:4])
    return [f[-1] for f in found[:limit]]


# -- writing --------------------------------------------------------------------------------------------


def _category_id(db: Session, code: str | None) -> int | None:
    if code is None:
        return None
    category_id = db.scalar(select(Category.id).where(Category.code == code))
    if category_id is None:
        raise NotFound("category.no_category", category=code)
    return category_id


def _check_request_type(db: Session, code: str | None) -> None:
    if code is not None and db.get(RequestType, code) is None:
        raise Invalid("case.unknown_request_type", request_type=code)


def create(*, db: Session, data: AnswerTemplateIn) -> AnswerTemplate:
    check_body(data.body)
    _check_request_type(db, data.request_type)
    template = AnswerTemplate(
        title=data.title.strip(),
        question=data.question.strip(),
        body=data.body,
        category_id=_category_id(db, data.category),
        request_type=data.request_type,
    )
    db.add(template)
    db.commit()
    return template


def update(*, db: Session, template_id: int, data: AnswerTemplateUpdate) -> AnswerTemplate:
    template = get_template(db=db, template_id=template_id)
    given = data.model_fields_set
    if data.body is not None:
        check_body(data.body)
        template.body = data.body
    for name in ("title", "question"):
        if getattr(data, name) is not None:
            setattr(template, name, getattr(data, name).strip())
    if "category" in given:
        template.category_id = _category_id(db, data.category)
    if "request_type" in given:
        _check_request_type(db, data.request_type)
        template.request_type = data.request_type
    if data.active is not None:
        template.active = data.active
    template.updated_at = func.now()
    db.commit()
    db.refresh(template)
    return template


def deactivate(*, db: Session, template_id: int) -> AnswerTemplate:
    return update(db=db, template_id=template_id, data=AnswerTemplateUpdate(active=False))


def count_use(*, db: Session, template: AnswerTemplate, now: datetime) -> None:
    """A case was answered with ``template``: counted in the caller's transaction (no commit here)."""
    template.use_count = AnswerTemplate.use_count + 1
    template.last_used_at = now


# -- files ----------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    added: list[str]
    changed: list[str]
    unchanged: int
    not_in_file: list[str]  # active templates the file does not hold: left as they are


def entry_of(template: AnswerTemplate, category_code: str | None) -> dict:
    """A template as a file holds it."""
    entry = {"title": template.title, "question": template.question, "body": template.body}
    if category_code:
        entry["category"] = category_code
    if template.request_type:
        entry["request_type"] = template.request_type
    if not template.active:
        entry["active"] = False
    return entry


def export(*, db: Session) -> list[dict]:
    rows = db.execute(
        select(AnswerTemplate, Category.code)
        .outerjoin(Category, Category.id == AnswerTemplate.category_id)
        .order_by(AnswerTemplate.id)
    )
    return [entry_of(template, code) for template, code in rows]


def load(*, db: Session, entries: Iterable[dict]) -> LoadResult:
    """Add or update the templates of a file by title; each entry is checked first (422 naming the first
    wrong one, nothing written). Templates the file does not hold stay as they are."""
    checked: list[tuple[AnswerTemplateIn, bool]] = []
    for i, entry in enumerate(entries, start=1):
        try:
            fields = {k: v for k, v in entry.items() if k != "active"}
            data = AnswerTemplateIn(**fields)
            check_body(data.body)
            _check_request_type(db, data.request_type)
            _category_id(db, data.category)
        except (Invalid, NotFound) as exc:
            raise Invalid(
                "knowledge.file_entry", number=i, title=entry.get("title", ""), problem=exc.message
            ) from None
        except ValidationError as exc:
            problem = "；".join(item.msg for item in validation_items(exc.errors()))
            raise Invalid(
                "knowledge.file_entry", number=i, title=entry.get("title", ""), problem=problem
            ) from None
        checked.append((data, bool(entry.get("active", True))))
    by_title = {t.title: t for t in db.scalars(select(AnswerTemplate).order_by(AnswerTemplate.id.desc()))}
    result = LoadResult([], [], 0, [])
    for data, active in checked:
        values = {
            "title": data.title.strip(),
            "question": data.question.strip(),
            "body": data.body,
            "category_id": _category_id(db, data.category),
            "request_type": data.request_type,
            "active": active,
        }
        template = by_title.pop(values["title"], None)
        if template is None:
            db.add(AnswerTemplate(**values))
            result.added.append(values["title"])
        elif any(getattr(template, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(template, k, v)
            template.updated_at = func.now()
            result.changed.append(values["title"])
        else:
            result.unchanged += 1
    result.not_in_file = sorted(t.title for t in by_title.values() if t.active)
    db.commit()
    return result
