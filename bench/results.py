"""The one way a benchmark hands its figures to bench/report.py: ``--json FILE`` on its command line, its
human table recorded while it prints (``table``), and ``write`` at the end with the figures, each beside
the baseline measured in the same run, the goal and whether it was met.

    parser = argparse.ArgumentParser(...); results.add_argument(parser)
    with results.table() as printed:
        print(...)  # the human table, as before
    results.write(args.json, measures="...", parameters=vars(args), figures=[Figure(...)], table=printed)
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Figure:
    """One figure of ours beside its baseline from the same run; ``goal`` says in words what is wanted and
    ``met`` whether this run reached it (None: no goal)."""

    name: str
    ours: float
    baseline: float | None
    unit: str
    baseline_name: str = ""
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.ours / self.baseline if self.baseline else None


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the figures as JSON to this file (bench/report.py)",
    )


class _Tee(io.TextIOBase):
    def __init__(self, out) -> None:
        self.out, self.seen = out, io.StringIO()

    def write(self, text: str) -> int:
        self.seen.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


@contextmanager
def table() -> Iterator[list[str]]:
    """Print as usual, and hand back what was printed (its lines, once the block ends)."""
    printed: list[str] = []
    tee = _Tee(sys.stdout)
    with redirect_stdout(tee):
        yield printed
    printed.extend(tee.seen.getvalue().strip("\n").splitlines())


def command() -> str:
    """The command that reproduces this run (without ``--json``)."""
    args, kept, skip = sys.argv[1:], [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            kept.append(arg)
    return shlex.join([".venv/bin/python", f"bench/{Path(sys.argv[0]).name}", *kept])


def write(
    path: Path | None,
    *,
    measures: str,
    parameters: dict,
    figures: list[Figure],
    table: list[str],
    notes: list[str] = (),
) -> None:
    """Write the run's figures to ``path`` (nothing when None)."""
    if path is None:
        return
    body = {
        "bench": Path(sys.argv[0]).stem,
        "measures": measures,
        "command": command(),
        "parameters": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in parameters.items() if k != "json"
        },
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
        "table": table,
        "notes": list(notes),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
