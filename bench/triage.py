"""What the triage model costs (server/triage/model.py): training on a million reports, the model's size,
and the time to answer one report, each beside scikit-learn's own MultinomialNB on the same features in the
same run (the dense model the sparse one replaces).

The reports are the demo history's colloquial descriptions (server/case/history.py ``describe``) of its 16
categories, in 120 communities, from the four channels. A second run of the fitting splits each category
into 63 classes by community (1,008 classes, as many as a large city's table), where a dense model holds
classes x features numbers whatever the cases say. Figures: seconds to read the features (jieba and the
grams, one pass), to fit (ours: sparse; theirs: ``MultinomialNB.fit``), bytes of the stored model, the
process's peak memory after our training and after theirs, and the median and 95th-percentile milliseconds
to suggest for one report, features included.

    .venv/bin/python bench/triage.py [--cases 1000000] [--seed 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.naive_bayes import MultinomialNB

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import results  # bench/results.py, beside this file

from server.case import history
from server.triage import model as triage_model
from server.triage.model import Doc, Example

COMMUNITIES = 120
CHANNELS = list(history.CHANNEL_SHARE)
ASKED = 2000  # reports answered one at a time for the latency figures
WIDE = 63  # classes per category in the wide run (16 x 63 = 1,008)
SKLEARN_FIT, SKLEARN_ASK = "sklearn MultinomialNB.fit", "sklearn predict_proba"


def reports(n: int, seed: int) -> list[Example]:
    rng = np.random.default_rng(seed)
    codes = np.array(list(history.CATEGORIES))
    shares = np.array([v[0] for v in history.CATEGORIES.values()])
    drawn = codes[rng.choice(len(codes), size=n, p=shares / shares.sum())]
    texts = history.describe(rng, drawn)
    places = rng.integers(0, COMMUNITIES, n)
    channels = rng.choice(len(CHANNELS), size=n, p=list(history.CHANNEL_SHARE.values()))
    return [
        Example(Doc(t, f"37010200{p:04d}", CHANNELS[ch]), str(c))
        for t, c, p, ch in zip(texts, drawn, places, channels, strict=True)
    ]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(suggest, docs: list[Doc]) -> tuple[float, float]:
    times = []
    for doc in docs:
        t = time.perf_counter()
        suggest(doc)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    results.add_argument(parser)
    args = parser.parse_args()

    t = time.perf_counter()
    examples = reports(args.cases, args.seed)
    made = time.perf_counter() - t
    held = reports(ASKED, args.seed + 1)

    t = time.perf_counter()
    model = triage_model.train(examples)
    ours_train = time.perf_counter() - t
    ours_peak = rss_mb()  # the process's peak so far: the reports and our training
    ours_bytes = len(model.to_bytes())

    columns = np.flatnonzero(model.kept)  # theirs gets the same features, in as many columns as ours uses
    x = model.vector([e.doc for e in examples])[:, columns].tocsr()
    labels = [e.category for e in examples]
    t = time.perf_counter()
    theirs = MultinomialNB(alpha=triage_model.ALPHA).fit(x, labels)
    theirs_fit = time.perf_counter() - t
    t = time.perf_counter()
    triage_model.NaiveBayes.fit(x, labels, np.ones(len(labels)), len(columns))
    ours_fit = time.perf_counter() - t
    theirs_bytes = theirs.feature_log_prob_.nbytes + theirs.class_log_prior_.nbytes

    wide = [f"{e.category}-{int(e.doc.place[-4:]) % WIDE}" for e in examples]
    t = time.perf_counter()
    ours_wide = triage_model.NaiveBayes.fit(x, wide, np.ones(len(wide)), len(columns))
    ours_wide_fit = time.perf_counter() - t
    t = time.perf_counter()
    theirs_wide = MultinomialNB(alpha=triage_model.ALPHA).fit(x, wide)
    theirs_wide_fit = time.perf_counter() - t
    theirs_peak = rss_mb()  # and with their fits (a dense one-hot matrix of the classes)
    ours_wide_bytes = sum(a.nbytes for a in ours_wide.arrays("").values())
    theirs_wide_bytes = theirs_wide.feature_log_prob_.nbytes

    docs = [e.doc for e in held]
    ours_median, ours_p95 = latency(lambda d: model.suggest(d, 5), docs)
    theirs_median, theirs_p95 = latency(lambda d: theirs.predict_proba(model.vector([d])[:, columns]), docs)
    agree = np.mean(
        [model.suggest(d, 1)[0].code == theirs.predict(model.vector([d])[:, columns])[0] for d in docs[:500]]
    )

    figures = [
        results.Figure("train on the reports (features, both classifiers)", ours_train, None, "s",
                       goal="minutes for a million on 2 cores", met=ours_train < 600),
        results.Figure("peak memory, training", ours_peak, theirs_peak, "MB", "with sklearn's fits"),
        results.Figure("fit, 16 classes", ours_fit, theirs_fit, "s", SKLEARN_FIT),
        results.Figure("fit, 1,008 classes", ours_wide_fit, theirs_wide_fit, "s", SKLEARN_FIT),
        results.Figure("model size, 16 classes (stored, all of it)", ours_bytes / 2**20, theirs_bytes / 2**20,
                       "MiB", "sklearn dense log-probabilities"),
        results.Figure("classifier size, 1,008 classes", ours_wide_bytes / 2**20, theirs_wide_bytes / 2**20,
                       "MiB", "sklearn dense log-probabilities"),
        results.Figure("suggest one report, median", ours_median, theirs_median, "ms",
                       SKLEARN_ASK, goal="milliseconds", met=ours_median < 5),
        results.Figure("suggest one report, 95th percentile", ours_p95, theirs_p95, "ms", SKLEARN_ASK),
    ]  # fmt: skip
    with results.table() as printed:
        print(f"{args.cases:,} reports made in {made:.1f} s; {model.features:,} features; "
              f"same top-1 as sklearn on {agree:.1%} of 500")  # fmt: skip
        print(f"{'figure':<58}{'ours':>12}{'baseline':>12}{'ratio':>8}")
        for f in figures:
            base = f"{f.baseline:12.3f}" if f.baseline is not None else f"{'':>12}"
            ratio = f"{f.ratio:8.2f}" if f.ratio is not None else ""
            print(f"{f.name + ' (' + f.unit + ')':<58}{f.ours:12.3f}{base}{ratio}")
    results.write(args.json, measures="triage model", parameters=vars(args), figures=figures, table=printed)


if __name__ == "__main__":
    main()
