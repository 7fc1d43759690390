"""The holiday file as an administrator manages it from the web: an upload checked whole by the calendar's
own reader before anything is written, then written atomically where the settings say; what it lists per
year; and the special days of a year as the calendar in use counts them."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from server.errors import Invalid
from server.worktime.calendar import HolidayFileError, load_holiday_file


class _Upload:
    """An uploaded file as ``load_holiday_file`` reads one (``read_text``, named by ``str``): its problems
    name the file as the person uploading it named it, not a path on the server."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self.text = name, text

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.text

    def __str__(self) -> str:
        return self.name


def check_holiday_file(content: bytes, filename: str) -> tuple[frozenset[date], frozenset[date]]:
    """The days off and the make-up working days an uploaded holiday file lists; 422 with its problems."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("worktime.holiday_file_not_utf8") from None
    try:
        return load_holiday_file(_Upload(filename, text))
    except HolidayFileError as exc:
        raise Invalid("worktime.holiday_file_invalid", errors=exc.problems) from None


def save_holiday_file(content: bytes, path: Path) -> None:
    """Replace the file at ``path`` with ``content`` atomically: a reader sees the old file or the new one,
    never part of it (written beside it, flushed to disk, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def listed_years(holidays: frozenset[date], workdays: frozenset[date]) -> list[tuple[int, int, int]]:
    """(year, days off, make-up working days) for each year the file lists a date of, in order."""
    off, on = Counter(d.year for d in holidays), Counter(d.year for d in workdays)
    return [(year, off[year], on[year]) for year in sorted(off.keys() | on.keys())]
