"""docs/PERFORMANCE.md from the JSON files the benchmarks wrote (bench/results.py): the machine, then per
benchmark what it measures, each figure beside its baseline from the same run with the ratio, the goal and
whether it was met, the command that reproduces it, and the table the benchmark printed.

``make bench`` runs every benchmark with ``--json DIR/NAME.json`` and then this; a benchmark that failed
leaves ``DIR/NAME.failed`` instead, which the report names, and this then exits with status 1.

    .venv/bin/python bench/report.py --scale small var/bench/results [--out docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.config import PROJECT_DIR
from server.localdb import find_bindir

ORDER = ["locate", "intake", "mobile_sync", "tiles", "dashboard", "search", "addresses", "triage", "faults"]
TITLES = {
    "locate": "Point to grid lookups",
    "intake": "Case intake",
    "mobile_sync": "The phone's sync after a reconnect",
    "tiles": "Case tiles",
    "dashboard": "Dashboard",
    "search": "The desk's search",
    "addresses": "The address register: search and reverse geocoding",
    "triage": "The triage model: training and suggesting",
    "faults": "Fault drill",
}


def machine() -> list[tuple[str, str]]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    bindir = find_bindir()
    postgres = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True)
    control = Path("/usr/share/postgresql") / bindir.parent.name / "extension" / "postgis.control"
    postgis = next(
        (line.split("=", 1)[1].strip().strip("'") for line in control.read_text().splitlines()
         if line.startswith("default_version")),
        "unknown",
    )  # fmt: skip
    return [
        ("cores", str(os.cpu_count())),
        ("memory", f"{mem_kb / 1024 / 1024:.1f} GiB"),
        ("CPU", cpu),
        ("PostgreSQL", postgres.stdout.strip().removeprefix("postgres (PostgreSQL) ")),
        ("PostGIS", postgis),
        ("Python", platform.python_version()),
        ("system", f"{platform.system()} {platform.release()}"),
    ]


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[value]


def section(name: str, body: dict | None, failed: bool) -> list[str]:
    lines = [f"## {TITLES.get(name, name)} (`bench/{name}.py`)", ""]
    if body is None:
        return [*lines, "**Did not finish in this run**: its output in `make bench` says why.", ""]
    if failed:
        lines += ["**Exited with an error in this run** (a goal that must hold did not): see below.", ""]
    lines += [
        f"What it measures: {body['measures']}.",
        "",
        f"Reproduce: `{body['command']}` (finished {body['finished_at']})",
        "",
        "| figure | ours | baseline (same run) | ratio | goal | met |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for f in body["figures"]:
        unit = f" {f['unit']}" if f["unit"] else ""
        baseline = (
            f"{number(f['baseline'])}{unit} ({f['baseline_name']})" if f["baseline"] is not None else "-"
        )
        ratio = f"{f['ratio']:.2f}" if f["ratio"] is not None else "-"
        lines.append(
            f"| {f['name']} | {number(f['ours'])}{unit} | {baseline} | {ratio} | {f['goal'] or '-'} | "
            f"{met(f['met'])} |"
        )
    lines += ["", "As printed:", "", "```", *body["table"], "```", ""]
    lines += [f"Note: {note}" for note in body.get("notes", [])]
    return [*lines, ""] if body.get("notes") else lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the folder the benchmarks wrote their JSON files to")
    parser.add_argument("--scale", required=True, help="the scale make bench ran at (BENCH_SCALE)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs" / "PERFORMANCE.md")
    args = parser.parse_args()

    found = {p.stem: json.loads(p.read_text()) for p in args.results.glob("*.json")}
    failed = sorted(p.stem for p in args.results.glob("*.failed"))
    names = [n for n in ORDER if n in found or n in failed] + sorted(set(found) - set(ORDER))
    lines = [
        "# Performance",
        "",
        f"Written by `make bench BENCH_SCALE={args.scale}` (bench/report.py) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; do not edit by hand. Every figure is beside a baseline "
        "measured in the same run on the same machine: the ratios are what to compare across machines. "
        f"Scale: **{args.scale}** (the Makefile's `BENCH_SCALE` sets each benchmark's size; `full` is the "
        "benchmarks' own defaults).",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in machine()),
        "",
        "## Goals",
        "",
        "| benchmark | figure | ours | goal | met |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for name in names:
        for f in (found.get(name) or {}).get("figures", []):
            if f["goal"]:
                unit = f" {f['unit']}" if f["unit"] else ""
                lines.append(
                    f"| {name} | {f['name']} | {number(f['ours'])}{unit} | {f['goal']} | {met(f['met'])} |"
                )
        if name in failed and name not in found:
            lines.append(f"| {name} | did not finish | - | - | **no** |")
    lines.append("")
    for name in names:
        lines += section(name, found.get(name), name in failed)
    args.out.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    if failed:
        sys.exit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
