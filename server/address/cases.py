"""Cases and the register: the cases received before an address near them was registered (a city's first
import of its register, or a new district's) are given the nearest register address afterwards, as the
intake gives it to a new case."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.address.service import nearest_sql

LINK = text(
    f"""
    WITH batch AS (
        SELECT id, location FROM case_file
        WHERE address_id IS NULL AND id > :after ORDER BY id LIMIT :batch
    ), near AS (
        SELECT b.id AS case_id, n.id AS address_id, n.distance
        FROM batch b
        CROSS JOIN LATERAL ({nearest_sql("ST_X(b.location)", "ST_Y(b.location)", ":radius")}) n
    ), linked AS (
        UPDATE case_file c SET address_id = near.address_id, address_distance_m = near.distance
        FROM near WHERE c.id = near.case_id
        RETURNING c.id
    )
    SELECT (SELECT max(id) FROM batch), (SELECT count(*) FROM linked)
    """
)
BATCH = 5000


def link_cases(*, db: Session, radius_m: float) -> Iterator[int]:
    """Give every case without a register address the nearest one within ``radius_m`` metres, in batches
    of cases, each committed; yields how many cases each batch linked."""
    after = 0
    while True:
        last, linked = db.execute(LINK, {"after": after, "batch": BATCH, "radius": radius_m}).one()
        db.commit()
        if last is None:
            return
        after = last
        yield linked
