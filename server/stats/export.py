"""The dashboard's tables as CSV, as the export route and the CLI give them."""

from __future__ import annotations

import csv
import io

from server.stats.schemas import Dashboard


def cell(name: str, value) -> str:
    """A value as the CSV shows it: floats with 4 decimals (coordinates with 6), lists joined by spaces,
    nulls empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if name in ("lon", "lat") else f"{value:.4f}"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def csv_text(rows: list[dict], fields: list[str]) -> str:
    """A table as CSV with a BOM (Excel then reads the Chinese right) and a header of the field names."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([cell(f, row.get(f)) for f in fields])
    return out.getvalue()


def table_rows(board: Dashboard, table: str) -> tuple[list[dict], list[str]]:
    rows = getattr(board, table)
    model = type(board).model_fields[table].annotation.__args__[0]
    fields = list(model.model_fields)
    return [r.model_dump(mode="json") for r in rows], fields
