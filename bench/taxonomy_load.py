"""Loading a Pingshan-shaped three-level taxonomy (17 major classes, 189 middle classes, 1,007 classes by
default, written by ``gridops categories sample``): reading and checking the YAML file, resolving the tree's
inherited values and writing every node into an empty database, as ``gridops categories load`` does; then
loading the same file again (every row compared, nothing changed). Beside it, the baseline: the starter
taxonomy (15 major classes, 90 classes) loaded the same way. Goal: the three-level file loads in under 10 s.

It starts its own throwaway PostGIS cluster in /tmp, migrates one template database and clones it for each
run; the figures are medians over the runs.

    .venv/bin/python bench/taxonomy_load.py [--classes 1007] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import results  # bench/results.py, beside this file
from locate import register_city  # bench/locate.py, beside this file

from server import migrate
from server.category import service
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.sample import write_sample
from server.database import get_engine, new_session
from server.localdb import OWNER_ROLE, Cluster

GOAL_SECONDS = 10.0
TEMPLATE = "bench_taxonomy_template"


def timed_load(url: str, path: Path) -> tuple[float, float, int]:
    """Seconds to read, check and write ``path`` into the database at ``url``, seconds to load it again, and
    how many category rows the first load created."""
    with new_session(url) as db:
        started = time.perf_counter()
        result = service.load(db=db, taxonomy=load_taxonomy(path))
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = service.load(db=db, taxonomy=load_taxonomy(path))
        second = time.perf_counter() - started
    if again.categories.unchanged != result.categories.created:
        raise RuntimeError(f"the second load changed something: {again.summary()}")
    get_engine(url).dispose()
    return first, second, result.categories.created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=1007, help="classes at the third level")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs, each on a fresh database (medians)")
    results.add_argument(parser)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridops-bench-taxonomy-", dir="/tmp"))
    sample = work / "pingshan.yaml"
    shape = write_sample(sample, classes=args.classes, seed=args.seed)
    size_kb = sample.stat().st_size / 1024
    files = {"three levels": sample, "starter": STARTER_TAXONOMY}
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-bench-pg-", dir="/tmp")))
    print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
    cluster.start()
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in files}
    try:
        cluster.ensure_database(TEMPLATE)
        migrate.upgrade(cluster.url(TEMPLATE, user=OWNER_ROLE))
        get_engine(cluster.url(TEMPLATE, user=OWNER_ROLE)).dispose()
        register_city(cluster.url(TEMPLATE))
        get_engine(cluster.url(TEMPLATE)).dispose()
        for run in range(1, args.repeat + 1):
            for name, path in files.items():
                database = f"bench_taxonomy_{run}_{'sample' if path == sample else 'starter'}"
                url = cluster.ensure_database(database, template=TEMPLATE)
                print(f"run {run}: loading {name} ...", file=sys.stderr)
                runs[name].append(timed_load(url, path))
                cluster.drop_database(database)
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)

    median = statistics.median
    with results.table() as printed:
        print(
            f"\ntaxonomy load into an empty database (read + check + tree + write, one transaction), "
            f"{args.repeat} runs; the three-level file: {shape[0]} / {shape[1]} / {shape[2]} classes "
            f"(seed {args.seed}, {size_kb:.0f} KB YAML)"
        )
        header = f"{'file':<14}{'rows':>7}{'first load s':>14}{'again s':>10}{'runs (first load)':>40}"
        print(header)
        print("-" * len(header))
        for name, timings in runs.items():
            each = " ".join(f"{first:.2f}" for first, _, _ in timings)
            print(
                f"{name:<14}{timings[0][2]:>7}{median(t[0] for t in timings):>14.2f}"
                f"{median(t[1] for t in timings):>10.2f}{each:>40}"
            )
        ours = median(t[0] for t in runs["three levels"])
        baseline = median(t[0] for t in runs["starter"])
        print(f"\ngoal: the three-level file loads in under {GOAL_SECONDS:.0f} s; median {ours:.2f} s")
    results.write(
        args.json,
        measures="loading a three-level taxonomy file of about 1,000 classes into an empty database, beside "
        "the starter taxonomy loaded the same way",
        parameters=vars(args),
        figures=[
            results.Figure(
                "three-level taxonomy load",
                ours,
                baseline,
                "s",
                "the starter taxonomy (90 classes, two levels)",
                goal=f"under {GOAL_SECONDS:.0f} s",
                met=ours < GOAL_SECONDS,
            )
        ],
        table=printed,
    )
    if ours >= GOAL_SECONDS:
        sys.exit(f"FAILED: the three-level file took {ours:.2f} s")


if __name__ == "__main__":
    main()
