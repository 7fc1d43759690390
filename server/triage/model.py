"""The triage model itself, with no database: words of a report in, categories, urgency and departments out.

The choice: a multinomial naive Bayes over binary features of the text, with the place and the channel as
two more features. A report is a sentence or two of colloquial Chinese; its features are the words jieba
finds (with the taxonomy's names and aliases added to its dictionary, so 井盖 and 乱停车 stay whole) and the
character bigrams and trigrams (which survive what jieba cuts wrongly), plus the report's community
(社区, where some problems cluster) and its channel (inspectors and callers report different things).

Why naive Bayes rather than a linear model or a network:
- it trains in one pass, a sparse product of the one-hot classes and the features (no iterations): a
  million cases train in about a minute on 2 cores, most of it jieba;
- it answers in well under a millisecond: a report's few dozen features look up their rows;
- it explains itself: a category's score is a sum over the report's words, so the words that weighed most
  are the "why" shown beside the suggestion;
- it is small: only the (feature, category) pairs seen in training are kept (a sparse matrix), so a city
  of a thousand categories costs what its cases say, not features x categories;
- it is what scikit-learn's ``MultinomialNB`` computes (a test checks the scores against it), kept sparse.

The same features give the urgency (its own naive Bayes); the department is the categories' scores times
the share of each category's cases each department finally handled in the district, smoothed toward the
configured department (``Model.departments``). Before a city has closed cases, the model is trained on its
taxonomy alone: each leaf's name, aliases and phrases are a few documents of it (``taxonomy_documents``).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

ALPHA = 0.1  # additive smoothing of the word counts
DEPARTMENT_PRIOR = 2.0  # the configured department counts as this many cases of each category and district
MIN_DF = 2  # a feature seen in fewer training documents is dropped (typos, one-off names)
PLACE, CHANNEL = "@地:", "@渠:"  # the prefixes of the place and channel features (never shown as words)
COLUMNS = 2**20  # features are hashed into this many columns (a city has some 10^5 distinct ones)
CHUNK = 50_000  # documents hashed at once while training (memory stays flat however many)
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[a-z0-9]{2,}")
_jieba_lock = threading.Lock()
_jieba_words: set[str] = set()


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def add_words(words: Iterable[str]) -> None:
    """Teach jieba the taxonomy's words (names, aliases) so that it does not cut them apart; once each."""
    jieba = _jieba()
    with _jieba_lock:
        for word in words:
            if len(word) >= 2 and word not in _jieba_words:
                jieba.add_word(word)
                _jieba_words.add(word)


def normalize(text: str) -> str:
    """Full-width forms folded (ＡＢＣ１ to abc1), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> set[str]:
    """The words of a text as jieba cuts it, two characters or more."""
    return {w for w in _jieba().lcut(normalize(text), HMM=False) if len(w) >= 2 and not w.isspace()}


def text_features(text: str) -> set[str]:
    """The words and the character bigrams and trigrams of a text."""
    found = words(text)
    text = normalize(text)
    for run in _CJK.findall(text):
        for n in (2, 3):
            found.update(run[i : i + n] for i in range(len(run) - n + 1))
    found.update(_LATIN.findall(text))
    return found


@dataclass(frozen=True)
class Doc:
    """What the model reads of a report: its words, its place (the community's grid code, or None) and its
    channel (or None)."""

    text: str
    place: str | None = None
    channel: str | None = None


def features(doc: Doc) -> list[str]:
    found = text_features(doc.text)
    if doc.place:
        found.add(PLACE + doc.place)
    if doc.channel:
        found.add(CHANNEL + doc.channel)
    return list(found)


def _fold(doc):
    """The hasher's analyzer: a Doc, or a (text, place, channel) tuple."""
    return features(doc if isinstance(doc, Doc) else Doc(*doc))


_hasher = HashingVectorizer(
    analyzer=_fold, n_features=COLUMNS, alternate_sign=False, norm=None, binary=True, dtype=np.float32
)


def column(feature: str) -> int:
    """The column a feature is hashed to (as the hasher does)."""
    return abs(murmurhash3_32(feature, seed=0)) % COLUMNS


def hashed(docs: Sequence[Doc]) -> sparse.csr_matrix:
    """The binary feature rows of ``docs``, in all the hashed columns, a chunk at a time."""
    chunks = [_hasher.transform(docs[i : i + CHUNK]) for i in range(0, len(docs), CHUNK)]
    return sparse.vstack(chunks, format="csr") if len(chunks) > 1 else chunks[0].tocsr()


@dataclass
class NaiveBayes:
    """A multinomial naive Bayes kept sparse: a class's log score for a document with known features J is
    ``prior[c] + sum_j gain[j, c] + |J| * base[c]``, where ``gain`` holds log(1 + n_jc / alpha) for the
    (feature, class) pairs seen (n_jc: the weighted count) and ``base[c]`` = log(alpha / (n_c + alpha V))."""

    classes: list[str]
    gain: sparse.csr_matrix  # features x classes
    base: np.ndarray
    prior: np.ndarray

    @classmethod
    def fit(
        cls, x: sparse.csr_matrix, labels: Sequence[str], weights: np.ndarray, features: int
    ) -> NaiveBayes:
        """``features``: V, how many of the columns are in use (the smoothing spreads over them)."""
        classes = sorted({str(c) for c in labels})
        index = {c: i for i, c in enumerate(classes)}
        rows = np.fromiter((index[str(c)] for c in labels), dtype=np.int64, count=len(labels))
        shape = (len(labels), len(classes))
        onehot = sparse.csr_matrix((weights, (np.arange(len(labels)), rows)), shape=shape)
        counts = (x.T @ onehot).tocsr()  # features x classes, weighted, only the pairs seen
        totals = np.asarray(counts.sum(axis=0)).ravel()
        counts.data = np.log1p(counts.data / ALPHA)
        base = np.log(ALPHA) - np.log(totals + ALPHA * features)
        mass = np.asarray(onehot.sum(axis=0)).ravel()
        prior = np.log(mass / mass.sum())
        return cls(classes, counts.astype(np.float32), base, prior)

    def log_scores(self, x: sparse.csr_matrix) -> np.ndarray:
        """Documents x classes: each class's joint log likelihood (up to a constant per document)."""
        known = np.diff(x.indptr).astype(np.float64)[:, None]
        return np.asarray((x @ self.gain).todense()) + known * self.base + self.prior

    def probabilities(self, x: sparse.csr_matrix, temperature: float = 1.0) -> np.ndarray:
        scores = self.log_scores(x) / temperature
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}classes": np.array(self.classes),
            f"{prefix}data": self.gain.data,
            f"{prefix}indices": self.gain.indices,
            f"{prefix}indptr": self.gain.indptr,
            f"{prefix}base": self.base,
            f"{prefix}prior": self.prior,
        }

    @classmethod
    def from_arrays(cls, a, prefix: str, n_features: int) -> NaiveBayes:
        classes = [str(c) for c in a[f"{prefix}classes"]]
        parts = (a[f"{prefix}data"], a[f"{prefix}indices"], a[f"{prefix}indptr"])
        gain = sparse.csr_matrix(parts, shape=(n_features, len(classes)))
        return cls(classes, gain, a[f"{prefix}base"], a[f"{prefix}prior"])


@dataclass
class Example:
    """A closed case as training reads it: the words and place, the final category, urgency and department
    (None: never dispatched), the district, and its weight."""

    doc: Doc
    category: str
    urgency: str | None = None
    department: str | None = None
    district: str | None = None
    weight: float = 1.0
    seed: bool = False  # a document of the taxonomy (its words are kept however rare)


@dataclass
class Suggestion:
    code: str
    score: float
    words: list[str] = field(default_factory=list)


@dataclass
class Model:
    """A trained model: the hashed columns in use, the category and urgency classifiers, and the departments
    each category's cases finally went to (by district, and over the whole city)."""

    kept: np.ndarray  # COLUMNS booleans: the columns of the features in use
    categories: NaiveBayes
    urgency: NaiveBayes | None
    # category -> district -> department -> weighted cases, and category -> department -> cases ("" key)
    departments: dict[str, dict[str, dict[str, float]]]
    examples: int = 0
    temperature: float = 1.0  # the category scores' divisor that makes their probabilities honest

    @property
    def features(self) -> int:
        return int(self.kept.sum())

    def vector(self, docs: Sequence[Doc]) -> sparse.csr_matrix:
        """The binary feature rows of ``docs`` (features not in use are left out)."""
        return _only(hashed(docs), self.kept)

    def suggest(self, doc: Doc, k: int = 5, *, allowed: set[str] | None = None) -> list[Suggestion]:
        """The ``k`` likeliest categories (of ``allowed`` when given: the city's active leaves), each with its
        probability among them and the words that weighed most for it."""
        x = self.vector([doc])
        scores = self.categories.log_scores(x)[0] / self.temperature
        classes = self.categories.classes
        keep = np.array([allowed is None or c in allowed for c in classes])
        if not keep.any():
            return []
        scores = np.where(keep, scores, -np.inf)
        top = np.argsort(-scores)[:k]
        top = top[np.isfinite(scores[top])]
        best = scores[keep].max()
        total = np.exp(scores[keep] - best).sum()
        lift, said = self._lift(doc)
        shares = np.exp(scores[top] - best) / total
        why = [self._why(lift, said, i) for i in top]
        return [Suggestion(classes[i], float(p), w) for i, p, w in zip(top, shares, why, strict=True)]

    def _lift(self, doc: Doc) -> tuple[np.ndarray, list[str]]:
        """The words of the report (as jieba cuts them) that the model knows, and for each how much more it
        says for each class than for the average class (words x classes)."""
        known = {c: w for w in words(doc.text) if self.kept[c := column(w)]}
        if not known:
            return np.zeros((0, len(self.categories.classes))), []
        rows = self.categories.gain[list(known)].toarray()
        return rows - rows.mean(axis=1, keepdims=True), list(known.values())

    @staticmethod
    def _why(lift: np.ndarray, said: list[str], column: int, most: int = 4) -> list[str]:
        order = np.argsort(-lift[:, column])[:most] if len(said) else []
        return [said[i] for i in order if lift[i, column] > 0]

    def suggest_urgency(self, doc: Doc) -> str | None:
        if self.urgency is None:
            return None
        probabilities = self.urgency.probabilities(self.vector([doc]))[0]
        return self.urgency.classes[int(np.argmax(probabilities))]

    def department_shares(
        self, category: str, district: str | None, configured: str | None
    ) -> dict[str, float]:
        """The share of ``category``'s cases each department finally handled in ``district`` (the whole city's
        when the district has few), with ``configured`` (the category's department there) counted as
        ``DEPARTMENT_PRIOR`` cases more."""
        seen = self.departments.get(category, {})
        counts = Counter(seen.get(district or "", {}) or seen.get("", {}))
        if configured:
            counts[configured] += DEPARTMENT_PRIOR
        total = sum(counts.values())
        return {d: n / total for d, n in counts.most_common()} if total else {}

    def to_bytes(self) -> bytes:
        arrays = {"kept": np.packbits(self.kept), **self.categories.arrays("c_")}
        if self.urgency is not None:
            arrays.update(self.urgency.arrays("u_"))
        meta = {"departments": self.departments, "examples": self.examples, "temperature": self.temperature}
        arrays["meta"] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8)
        out = io.BytesIO()
        np.savez_compressed(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Model:
        with np.load(io.BytesIO(blob), allow_pickle=False) as a:
            kept = np.unpackbits(a["kept"], count=COLUMNS).astype(bool)
            categories = NaiveBayes.from_arrays(a, "c_", COLUMNS)
            urgency = NaiveBayes.from_arrays(a, "u_", COLUMNS) if "u_classes" in a else None
            meta = json.loads(bytes(a["meta"]).decode())
        model = cls(kept, categories, urgency, meta["departments"])
        model.examples, model.temperature = meta["examples"], meta["temperature"]
        return model


def _only(x: sparse.csr_matrix, kept: np.ndarray) -> sparse.csr_matrix:
    """``x`` without the columns not kept."""
    x.data[~kept[x.indices]] = 0
    x.eliminate_zeros()
    return x


def train(examples: Sequence[Example], *, max_features: int | None = None) -> Model:
    """A model of ``examples`` (at least one): the features in use (those of the taxonomy's documents, and
    those of ``MIN_DF`` cases or more; at most ``max_features``, the most frequent), the two classifiers
    and the departments' shares."""
    x = hashed([e.doc for e in examples])
    seeds = np.array([e.seed for e in examples])
    frequency = np.asarray(x[~seeds].sum(axis=0)).ravel()
    kept = (frequency >= MIN_DF) | (np.asarray(x[seeds].sum(axis=0)).ravel() > 0)
    if max_features is not None and kept.sum() > max_features:
        order = np.argsort(-(frequency + kept * 0.5), kind="stable")  # the kept, most frequent first
        kept = np.zeros(COLUMNS, dtype=bool)
        kept[order[:max_features]] = True
    x = _only(x, kept)
    used = int(kept.sum())
    weights = np.array([e.weight for e in examples], dtype=np.float64)
    categories = NaiveBayes.fit(x, [e.category for e in examples], weights, used)
    rated = [i for i, e in enumerate(examples) if e.urgency]
    urgency = None
    if len({examples[i].urgency for i in rated}) > 1:
        urgency = NaiveBayes.fit(x[rated], [examples[i].urgency for i in rated], weights[rated], used)
    departments: dict[str, dict[str, dict[str, float]]] = {}
    for e in examples:
        if e.department:
            for district in {"", e.district or ""}:
                per = departments.setdefault(e.category, {}).setdefault(district, {})
                per[e.department] = per.get(e.department, 0.0) + e.weight
    model = Model(kept, categories, urgency, departments)
    model.examples = int((~seeds).sum())
    model.temperature = _temperature(x, examples, weights, seeds, used)
    return model


TEMPERATURES = 2.0 ** np.arange(0, 9)  # 1 to 256


def _temperature(x: sparse.csr_matrix, examples: Sequence[Example], weights, seeds, used: int) -> float:
    """Naive Bayes adds up evidence as if every feature were independent, so its raw probabilities are far
    too sure (0.999999 for a plain guess). The temperature that divides the scores is the one with the least
    log loss on the last tenth of the cases (``examples`` come oldest first) for a model of the rest."""
    cases = np.flatnonzero(~seeds)
    if len(cases) < 200:
        return 1.0
    held = cases[-len(cases) // 10 :]
    rest = np.setdiff1d(np.arange(len(examples)), held)
    model = NaiveBayes.fit(x[rest], [examples[i].category for i in rest], weights[rest], used)
    index = {c: i for i, c in enumerate(model.classes)}
    known = [i for i in held if examples[i].category in index]
    if not known:
        return 1.0
    scores = model.log_scores(x[known])
    truth = np.array([index[examples[i].category] for i in known])
    losses = []
    for t in TEMPERATURES:
        z = scores / t
        z -= z.max(axis=1, keepdims=True)
        log_p = z[np.arange(len(known)), truth] - np.log(np.exp(z).sum(axis=1))
        losses.append(-log_p.mean())
    return float(TEMPERATURES[int(np.argmin(losses))])


Leaf = tuple[str, str, Sequence[str], Sequence[str], Sequence[str]]


def taxonomy_documents(leaves: Iterable[Leaf]) -> list[Example]:
    """A city's day-one training: for each leaf (code, name, its ancestors' names, aliases, phrases), its
    name with its trail, each alias and each phrase as a document of it."""
    out = []
    for code, name, trail, aliases, phrases in leaves:
        texts = [" ".join([*trail, name]), name, *aliases, *phrases]
        out.extend(Example(Doc(text), code, seed=True) for text in texts)
    return out
