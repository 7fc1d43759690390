"""How well the suggester would have done: the most recent closed cases held out, a model trained on the
ones before them, and its top-1 and top-3 accuracy for the category and the department beside two
baselines measured on the same cases in the same run:

- *most frequent of the grid*: the category (department) most frequent among the earlier cases of the
  case's unit grid, else of its community, else of the city;
- *keywords only*: the categories whose name, aliases or phrases occur in the words, longest matches
  first (then the city's most frequent), and their configured departments (the district's own first).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from server.category.models import Category
from server.errors import Invalid
from server.triage import service
from server.triage.model import Model, normalize
from server.triage.service import ClosedCase, Progress

TOP = 3
METHODS = {"model": "本系统模型", "grid": "基线：本网格最常见", "keywords": "基线：仅关键词匹配"}
CHUNK = 5000  # held-out cases scored at once
MIN_CASES = 100  # fewer closed cases say nothing


@dataclass
class Scores:
    """Hits at rank 1 and within the top 3, per method, for categories and departments."""

    held_out: int = 0
    with_department: int = 0
    hits: dict[tuple[str, str, int], int] = field(default_factory=Counter)

    def add(self, method: str, what: str, truth: str | None, ranked: Sequence[str]) -> None:
        if truth is None:
            return
        self.hits[(method, what, 1)] += list(ranked[:1]) == [truth]
        self.hits[(method, what, TOP)] += truth in list(ranked[:TOP])

    def rate(self, method: str, what: str, k: int) -> float:
        total = self.held_out if what == "category" else self.with_department
        return self.hits[(method, what, k)] / total if total else 0.0


@dataclass
class Evaluation:
    trained_on: int
    scores: Scores
    train_seconds: float
    suggest_ms: float  # the model's median time per held-out case, features included
    first_held_out: str
    last_held_out: str

    def rows(self) -> list[tuple[str, float, float, float, float]]:
        s = self.scores
        return [
            (
                label,
                s.rate(m, "category", 1),
                s.rate(m, "category", TOP),
                s.rate(m, "department", 1),
                s.rate(m, "department", TOP),
            )
            for m, label in METHODS.items()
        ]

    def markdown(self) -> str:
        lines = [
            f"留出最近 {self.scores.held_out:,} 件已结案件（{self.first_held_out} 至 {self.last_held_out}），"
            f"用此前的 {self.trained_on:,} 件训练。",
            "",
            "| 方法 | 类别 top-1 | 类别 top-3 | 部门 top-1 | 部门 top-3 |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {m} | {a:.1%} | {b:.1%} | {c:.1%} | {d:.1%} |" for m, a, b, c, d in self.rows()]
        return "\n".join(lines)


class Keywords:
    """The keyword baseline: every name, alias and phrase of the leaves, found in a text by looking up its
    substrings (a dictionary, so a thousand categories cost no more than ten)."""

    def __init__(self, categories: dict[str, Category]) -> None:
        self.words: dict[str, set[str]] = {}
        for c in categories.values():
            for word in (c.name, *c.aliases, *c.phrases):
                if len(word) >= 2:
                    self.words.setdefault(normalize(word), set()).add(c.code)
        self.longest = max((len(w) for w in self.words), default=0)

    def rank(self, text: str, fallback: Sequence[str]) -> list[str]:
        text = normalize(text)
        score: Counter[str] = Counter()
        for n in range(2, self.longest + 1):
            for i in range(len(text) - n + 1):
                for code in self.words.get(text[i : i + n], ()):
                    score[code] += n
        ranked = [c for c, _ in score.most_common()]
        return ranked + [c for c in fallback if c not in score]


def _most_frequent(counts: Counter | None, fallback: Sequence[str]) -> list[str]:
    ranked = [c for c, _ in counts.most_common(TOP)] if counts else []
    return ranked + [c for c in fallback if c not in ranked]


def run(*, db: Session, held_out: float = 0.1, progress: Progress | None = None) -> Evaluation:
    """Hold out the newest ``held_out`` share of the closed cases, train on the rest, and score the model
    and both baselines on the held-out cases."""
    categories = service.leaves(db)
    cases = service.closed_cases(db, most=10**9, progress=progress)
    cases = [c for c in cases if c.example.category in categories]
    split = len(cases) - max(1, int(len(cases) * held_out))
    if split < 1 or len(cases) < MIN_CASES:
        raise Invalid("triage.too_few_cases", count=len(cases))
    train, test = cases[:split], cases[split:]
    started = time.perf_counter()
    model = service.fit(db, train, categories)
    train_seconds = time.perf_counter() - started
    scores = Scores(held_out=len(test), with_department=sum(1 for c in test if c.example.department))
    by_grid, by_place, by_city = _counts(train, lambda e: e.category)
    dep_grid, dep_place, dep_city = _counts(train, lambda e: e.department)
    keywords = Keywords(categories)
    city_top = [c for c, _ in by_city.most_common(TOP)]
    city_departments = [d for d, _ in dep_city.most_common(TOP) if d]
    timings = []
    for start in range(0, len(test), CHUNK):
        chunk = test[start : start + CHUNK]
        t0 = time.perf_counter()
        ranked = _model_ranks(db, model, chunk, categories)
        timings.append((time.perf_counter() - t0) * 1000 / len(chunk))
        for case, (cats, departments) in zip(chunk, ranked, strict=True):
            e = case.example
            scores.add("model", "category", e.category, cats)
            scores.add("model", "department", e.department, departments)
            place = e.doc.place
            grid = by_grid.get(case.grid) or by_place.get(place)
            scores.add("grid", "category", e.category, _most_frequent(grid, city_top))
            grid_departments = dep_grid.get(case.grid) or dep_place.get(place)
            scores.add("grid", "department", e.department, _most_frequent(grid_departments, city_departments))
            words = keywords.rank(e.doc.text, city_top)
            scores.add("keywords", "category", e.category, words)
            scores.add("keywords", "department", e.department, _configured(db, categories, words, e.district))
        if progress:
            progress("评估", start + len(chunk), len(test))
    return Evaluation(
        trained_on=len(train),
        scores=scores,
        train_seconds=train_seconds,
        suggest_ms=float(np.median(timings)),
        first_held_out=test[0].received_at.date().isoformat(),
        last_held_out=test[-1].received_at.date().isoformat(),
    )


def _counts(cases: Sequence[ClosedCase], label) -> tuple[dict, dict, Counter]:
    by_grid: dict[str, Counter] = {}
    by_place: dict[str, Counter] = {}
    city: Counter = Counter()
    for c in cases:
        value = label(c.example)
        if value is None:
            continue
        by_grid.setdefault(c.grid, Counter())[value] += 1
        if c.example.doc.place:
            by_place.setdefault(c.example.doc.place, Counter())[value] += 1
        city[value] += 1
    return by_grid, by_place, city


def _configured(
    db: Session, categories: dict[str, Category], ranked: Sequence[str], district: str | None
) -> list[str]:
    """The configured departments of the ranked categories, in order, each once."""
    out: list[str] = []
    for code in ranked[: TOP * 3]:
        department = service.configured_department(db, categories[code], district)
        if department is not None and department.code not in out:
            out.append(department.code)
    return out


def _model_ranks(
    db: Session, model: Model, cases: Sequence[ClosedCase], categories: dict[str, Category]
) -> list[tuple[list[str], list[str]]]:
    """The model's top categories and departments for each case (the departments: the top categories'
    scores times each one's shares of departments in the district)."""
    x = model.vector([c.example.doc for c in cases])
    probabilities = model.categories.probabilities(x, model.temperature)
    classes = model.categories.classes
    out = []
    for case, p in zip(cases, probabilities, strict=True):
        top = np.argsort(-p)[: TOP * 2]
        cats = [classes[i] for i in top]
        departments: Counter[str] = Counter()
        for i in top:
            district = case.example.district
            configured = service.configured_department(db, categories[classes[i]], district)
            shares = model.department_shares(classes[i], district, configured.code if configured else None)
            for d, share in shares.items():
                departments[d] += p[i] * share
        out.append((cats, [d for d, _ in departments.most_common(TOP)]))
    return out
