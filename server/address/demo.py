"""The demo city's address register (示例数据，非真实地址库): generated from the stored grids of 历下区
(``grids.demo_addresses``) and imported as a register file would be."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.demo_addresses import DISTRICT, generate_demo_addresses
from server.address.importer import ImportResult, import_addresses
from server.grid.importer import stored_records
from server.grid.models import CURRENT, Grid


def load_demo_addresses(*, db: Session) -> ImportResult:
    """Generate the register from the district's current grids down to its villages and upsert it (again:
    nothing changes)."""
    codes = db.scalars(
        select(Grid.code).where(CURRENT, Grid.code.startswith(DISTRICT), func.length(Grid.code) <= 12)
    )
    grids = stored_records(db=db, codes=list(codes)).values()
    return import_addresses(db=db, records=generate_demo_addresses(list(grids)))
