"""Triage from the words: training the city's model on its closed cases, keeping its versions, and the
suggestions the desk, the public form, the phone app, Open311 and the dispatcher get (``server.triage.model``
is the model itself).

A case teaches its final category and department: what it was closed under, after any reclassification
(改类) or return (回退). The place a case is suggested for is its community (社区): the grid of the fourth
level above its point."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, cast, delete, exists, func, select, text, update
from sqlalchemy.orm import Session

from gis.crs import CRS
from server.case.models import Case as CaseRow
from server.case.scope import Scope, visible
from server.case.states import STATE_LABELS, State
from server.category import service as category_service
from server.category.models import Category, Department
from server.category.schemas import URGENCY_LABELS
from server.config import get_settings
from server.errors import Invalid, NotFound
from server.grid import lookup
from server.knowledge import service as knowledge_service
from server.tenant import current_cities
from server.triage import model as triage_model
from server.triage.model import Doc, Example, Model
from server.triage.models import TriageModel
from server.triage.schemas import (
    AnswerSuggestion,
    CategorySuggestion,
    DepartmentRef,
    DepartmentSuggestion,
    DuplicateSuggestion,
    PublicCategory,
    PublicSuggestIn,
    SuggestIn,
    SuggestOut,
    UrgencySuggestion,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
COMMUNITY_LEVEL = 4  # the grid level whose code is a case's place in the model (社区/村)
DUPLICATES_READ = 200  # the most nearby recent cases compared with the text
SHOWN = 5  # duplicates shown
SCHEDULE = "定时训练"
ANSWERS_SCORE = 0.1  # a suggested category below the first offers its answers from this probability

# The closed cases a model learns from, oldest first: the words, the community, the channel, the final
# category, urgency and department, the unit grid and district (the baselines' keys) and the two weights'
# inputs (when it came in, whether it was reclassified).
CASES = text(
    f"""
    SELECT c.description, c.channel, c.urgency, c.district_code, c.grid_code, c.received_at,
        CASE WHEN nlevel(c.grid_path) >= {COMMUNITY_LEVEL}
             THEN subpath(c.grid_path, {COMMUNITY_LEVEL - 1}, 1)::text END AS place,
        k.code AS category, d.code AS department, r.case_id IS NOT NULL AS reclassified
    FROM case_file c
    JOIN category k ON k.id = c.category_id
    LEFT JOIN department d ON d.id = c.department_id
    LEFT JOIN (SELECT DISTINCT case_id FROM case_event WHERE action = 'reclassify') r ON r.case_id = c.id
    WHERE c.state = 'closed' AND c.description <> ''
    ORDER BY c.received_at DESC, c.id DESC
    LIMIT :most
    """
)


@dataclass
class ClosedCase:
    """A closed case as training and the evaluation read it."""

    example: Example
    grid: str
    received_at: datetime


def leaves(db: Session) -> dict[str, Category]:
    """The city's active leaf categories (what cases are filed under) with their departments, by code."""
    return {c.code: c for c in category_service.list_categories(db=db) if c.leaf}


def taxonomy_examples(db: Session, categories: dict[str, Category] | None = None) -> list[Example]:
    """The day-one documents of the city's taxonomy, its words taught to the segmenter first."""
    categories = categories if categories is not None else leaves(db)
    triage_model.add_words(w for c in categories.values() for w in [c.name, *c.aliases])
    return triage_model.taxonomy_documents(
        (c.code, c.name, c.trail, c.aliases, c.phrases) for c in categories.values()
    )


def closed_cases(db: Session, *, most: int, progress: Progress | None = None) -> list[ClosedCase]:
    """The newest ``most`` closed cases with a description, oldest first, weighted (see the settings)."""
    settings = get_settings()
    now = datetime.now(UTC)
    half_life = settings.triage_half_life_days
    rows = db.execute(CASES, {"most": most}).all()
    out = []
    for i, r in enumerate(reversed(rows)):
        weight = 0.5 ** (max((now - r.received_at).days, 0) / half_life)
        if r.reclassified:
            weight *= settings.triage_reclassified_weight
        doc = Doc(r.description, r.place, r.channel)
        example = Example(doc, r.category, r.urgency, r.department, r.district_code[:6], weight)
        out.append(ClosedCase(example, r.grid_code, r.received_at))
        if progress and i % 10_000 == 0:
            progress("读取已结案件", i, len(rows))
    return out


def fit(db: Session, cases: list[ClosedCase], categories: dict[str, Category]) -> Model:
    """A model of the taxonomy's documents and ``cases`` (those of active categories)."""
    examples = taxonomy_examples(db, categories)
    examples += [c.example for c in cases if c.example.category in categories]
    return triage_model.train(examples, max_features=get_settings().triage_max_features)


def train(
    *, db: Session, trained_by: str, note: str | None = None, progress: Progress | None = None
) -> TriageModel:
    """Train the city's model on its closed cases, store it as the next version and put it in use; the
    versions beyond the settings' number are deleted (never the one in use)."""
    settings = get_settings()
    started = time.perf_counter()
    categories = leaves(db)
    if not categories:
        raise Invalid("triage.no_categories")
    cases = closed_cases(db, most=settings.triage_max_cases, progress=progress)
    read = time.perf_counter()
    if progress:
        progress("训练", 0, 1)
    model = fit(db, cases, categories)
    blob = model.to_bytes()
    metrics = {
        "read_seconds": round(read - started, 2),
        "train_seconds": round(time.perf_counter() - read, 2),
        "bytes": len(blob),
        "temperature": model.temperature,
    }
    city = cast(func.gridops_city(), Integer)
    db.execute(select(func.pg_advisory_xact_lock(func.hashtext("gridops-triage"), city)))  # one at a time
    version = (db.scalar(select(func.max(TriageModel.version))) or 0) + 1
    db.execute(update(TriageModel).where(TriageModel.active).values(active=False))
    db.flush()
    row = TriageModel(
        version=version,
        trained_by=trained_by,
        cases=model.examples,
        categories=len(model.categories.classes),
        features=model.features,
        metrics=metrics,
        model=blob,
        active=True,
        note=note,
    )
    db.add(row)
    db.flush()
    newest = TriageModel.version.desc()
    kept = select(TriageModel.version).order_by(newest).limit(settings.triage_keep_versions)
    db.execute(delete(TriageModel).where(TriageModel.version.not_in(kept), ~TriageModel.active))
    db.commit()
    if progress:
        progress("训练", 1, 1)
    return row


def versions(*, db: Session) -> list[TriageModel]:
    return list(db.scalars(select(TriageModel).order_by(TriageModel.version.desc())))


def activate(*, db: Session, version: int) -> TriageModel:
    """Put a kept version back in use (a roll-back)."""
    row = db.scalar(select(TriageModel).where(TriageModel.version == version).with_for_update())
    if row is None:
        raise NotFound("triage.no_version", version=version)
    db.execute(update(TriageModel).where(TriageModel.active).values(active=False))
    db.flush()
    row.active = True
    db.commit()
    return row


def roll_back(*, db: Session) -> TriageModel:
    """Put the version before the one in use back in use."""
    current = db.scalar(select(TriageModel.version).where(TriageModel.active))
    before = db.scalar(select(func.max(TriageModel.version)).where(TriageModel.version < (current or 0)))
    if before is None:
        raise NotFound("triage.nothing_before")
    return activate(db=db, version=before)


def retrain_if_due(db: Session) -> TriageModel | None:
    """The day's job: train the city's model when the one in use is ``triage_retrain_days`` old or there is
    none and the city has closed cases."""
    days = get_settings().triage_retrain_days
    if days <= 0:
        return None
    latest = db.scalar(select(func.max(TriageModel.trained_at)))
    if latest is not None and latest > datetime.now(UTC) - timedelta(days=days):
        return None
    if latest is None and not db.scalar(select(exists().where(CaseRow.state == State.CLOSED.value))):
        return None
    row = train(db=db, trained_by=SCHEDULE)
    log.info("triage model version %s trained on %s cases", row.version, row.cases)
    return row


# -- the model in use --------------------------------------------------------------------------------------

_cache: OrderedDict[tuple, Model] = OrderedDict()
_cache_lock = threading.Lock()
CACHED = 8  # models kept in memory (a few cities, and the taxonomy-only ones)


def _cached(key: tuple, make: Callable[[], Model]) -> Model:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    made = make()
    with _cache_lock:
        _cache[key] = made
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return made


def in_use(db: Session, categories: dict[str, Category]) -> tuple[int | None, Model]:
    """The city's model in use and its version; with none trained, one of the taxonomy alone (version
    None), made again whenever the taxonomy changes."""
    row = db.execute(select(TriageModel.id, TriageModel.version).where(TriageModel.active)).one_or_none()
    if row is not None:

        def load() -> Model:
            blob = db.scalar(select(TriageModel.model).where(TriageModel.id == row.id))
            return Model.from_bytes(blob)

        model = _cached(("trained", row.id), load)
        triage_model.add_words(w for c in categories.values() for w in [c.name, *c.aliases])
        return row.version, model
    changed = max((c.updated_at for c in categories.values()), default=None)
    key = ("taxonomy", current_cities(db)[1], changed, len(categories))
    return None, _cached(key, lambda: triage_model.train(taxonomy_examples(db, categories)))


# -- suggestions -------------------------------------------------------------------------------------------


@dataclass
class Place:
    lon: float
    lat: float
    community: str | None
    district: str | None


def place_of(db: Session, lon: float | None, lat: float | None, crs) -> Place | None:
    if lon is None or lat is None:
        return None
    x, y, chain = lookup.locate(db=db, lon=lon, lat=lat, crs=crs)
    community = chain[COMMUNITY_LEVEL - 1].code if len(chain) >= COMMUNITY_LEVEL else None
    district = chain[1].code[:6] if len(chain) >= 2 else None
    return Place(x, y, community, district)


def configured_department(db: Session, category: Category, district: str | None) -> Department | None:
    """The department a category's cases go to in the district (its own override first), or anywhere."""
    if district is None:
        return category.department
    return category_service.responsible_department(db=db, category=category, district_code=district)


def suggest(*, db: Session, data: SuggestIn, scope: Scope | None = None) -> SuggestOut:
    """The categories, urgency, departments, nearby duplicates (of the cases ``scope`` sees) and answers
    for a report being written."""
    categories = leaves(db)
    version, model = in_use(db, categories)
    place = place_of(db, data.lon, data.lat, data.crs)
    doc = Doc(data.text, place.community if place else None, data.channel)
    district = place.district if place else None
    found = model.suggest(doc, data.k, allowed=set(categories))
    out = []
    departments: dict[str, float] = {}
    for s in found:
        category = categories[s.code]
        configured = configured_department(db, category, district)
        out.append(
            CategorySuggestion(
                code=s.code,
                name=category.name,
                trail=list(category.trail),
                score=round(s.score, 4),
                urgency=category.urgency,
                urgency_label=URGENCY_LABELS[category.urgency],
                department=DepartmentRef(code=configured.code, name=configured.name) if configured else None,
                words=s.words,
            )
        )
        shares = model.department_shares(s.code, district, configured.code if configured else None)
        for code, share in shares.items():
            departments[code] = departments.get(code, 0.0) + s.score * share
    urgency = model.suggest_urgency(doc) or (out[0].urgency if out else None)
    return SuggestOut(
        model_version=version,
        categories=out,
        urgency=UrgencySuggestion(code=urgency, label=URGENCY_LABELS[urgency]) if urgency else None,
        departments=_departments(db, departments),
        duplicates=_duplicates(db, data.text, place, scope) if place else [],
        answers=[
            AnswerSuggestion(
                id=t.id,
                title=t.title,
                category_code=t.category.code if t.category else None,
                use_count=t.use_count,
            )
            for t in knowledge_service.matching(db=db, text=data.text, category_codes=_likely(out))
        ],
    )


def _likely(found: list[CategorySuggestion]) -> list[str]:
    """The suggested categories worth offering answers for: the first, and those nearly as likely."""
    return [c.code for i, c in enumerate(found) if i == 0 or c.score >= ANSWERS_SCORE]


def _departments(db: Session, scores: dict[str, float], most: int = 3) -> list[DepartmentSuggestion]:
    top = sorted(scores.items(), key=lambda p: -p[1])[:most]
    names = {d.code: d.name for d in category_service.list_departments(db=db)}
    return [DepartmentSuggestion(code=c, name=names[c], score=round(s, 4)) for c, s in top if c in names]


def _duplicates(db: Session, words: str, place: Place, scope: Scope | None) -> list[DuplicateSuggestion]:
    """The recent cases near the place (of those ``scope`` sees) whose descriptions share enough of the
    text's character bigrams (Dice's coefficient), the most alike first."""
    settings = get_settings()
    radius = settings.triage_duplicate_radius_m
    point = func.ST_Point(place.lon, place.lat, 4326)
    distance = func.ST_Distance(func.geography(CaseRow.location), func.geography(point))
    query = (
        select(CaseRow.code, CaseRow.state, CaseRow.description, CaseRow.received_at, Category.name, distance)
        .join(Category, Category.id == CaseRow.category_id)
        .where(
            CaseRow.received_at >= datetime.now(UTC) - timedelta(days=settings.triage_duplicate_days),
            CaseRow.state.not_in((State.VOIDED.value, State.MERGED.value)),
            CaseRow.location.op("&&")(func.ST_Expand(point, 2 * radius / 90_000)),
            func.ST_DWithin(func.geography(CaseRow.location), func.geography(point), radius),
        )
        .order_by(CaseRow.received_at.desc())
        .limit(DUPLICATES_READ)
    )
    if scope is not None:
        query = query.where(visible(scope))
    asked = knowledge_service.grams(words)
    found = []
    for code, state, description, received_at, category_name, distance_m in db.execute(query):
        theirs = knowledge_service.grams(description)
        if asked and theirs:
            similarity = 2 * len(asked & theirs) / (len(asked) + len(theirs))
            if similarity >= settings.triage_duplicate_similarity:
                found.append((similarity, distance_m, code, state, description, received_at, category_name))
    found.sort(key=lambda p: (-p[0], p[1]))
    return [
        DuplicateSuggestion(
            code=code,
            state=state,
            state_label=STATE_LABELS[State(state)],
            category_name=category_name,
            distance_m=round(distance_m, 1),
            similarity=round(similarity, 3),
            received_at=received_at,
            description=description if len(description) <= 60 else description[:59] + "…",
        )
        for similarity, distance_m, code, state, description, received_at, category_name in found[:SHOWN]
    ]


def public_suggest(*, db: Session, data: PublicSuggestIn) -> list[PublicCategory]:
    """The three likeliest of the public form's categories for a citizen's words (and place), by the
    form's own labels: nothing about other cases."""
    labels = {code: label for label, code in get_settings().public_categories.items()}
    categories = leaves(db)
    _, model = in_use(db, categories)
    place = place_of(db, data.lon, data.lat, CRS.WGS84)
    words = data.text[: get_settings().public_max_description]
    doc = Doc(words, place.community if place else None, "citizen")
    return [
        PublicCategory(
            code=s.code, label=labels[s.code], name=categories[s.code].name, score=round(s.score, 4)
        )
        for s in model.suggest(doc, 3, allowed=set(labels) & set(categories))
    ]


def best_category(
    *, db: Session, text: str, lon: float | None = None, lat: float | None = None, channel: str | None = None
) -> tuple[str, float] | None:
    """The likeliest category for a report's words (and place) and its probability; None with no words."""
    if not text.strip():
        return None
    categories = leaves(db)
    _, model = in_use(db, categories)
    place = place_of(db, lon, lat, CRS.WGS84)
    found = model.suggest(Doc(text, place.community if place else None, channel), 1, allowed=set(categories))
    return (found[0].code, found[0].score) if found else None


def likely_departments(*, db: Session, category_id: int, district_code: str) -> list[tuple[str, float]]:
    """The departments that finally handled ``category``'s closed cases in the district (the whole city's
    when the district has none), with their shares, as the model in use learned them; [] with none."""
    row = db.execute(select(TriageModel.id).where(TriageModel.active)).one_or_none()
    code = db.scalar(select(Category.code).where(Category.id == category_id))
    if row is None or code is None:
        return []
    _, model = in_use(db, leaves(db))
    shares = model.department_shares(code, district_code[:6], None)
    return list(shares.items())
