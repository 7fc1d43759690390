"""Call-backs after closing (回访) and Beijing's three rates: response, resolution and satisfaction per street
and district, from each case's latest call-back, checked against known answers and a direct SQL count."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from server.auth.principal import ADMINISTRATOR
from server.errors import Conflict, Invalid
from server.grid.models import CURRENT, Grid
from server.stats import export as stats_export
from server.stats import request as stats_request
from server.stats import service as stats
from tests.server.case_world import DISTRICT, act, make_user, photo, report, village_point


def villages_of_two_streets(db) -> list[str]:
    streets = db.scalars(
        select(Grid.code).where(CURRENT, Grid.parent_code == DISTRICT).order_by(Grid.code).limit(2)
    ).all()
    return [
        db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code == s).order_by(Grid.code))
        for s in streets
    ]


@pytest.fixture
def world(demo_db):
    db = demo_db
    people = {
        "acceptor": make_user(db, ["acceptor"], grid=DISTRICT),
        "lead": make_user(db, ["shift_lead"], grid=DISTRICT),
        "dispatcher": make_user(db, ["dispatcher"], grid=DISTRICT),
        "department": make_user(db, ["department"], department="sanitation_lx"),
    }
    villages = villages_of_two_streets(db)
    inspectors = [make_user(db, ["inspector"], inspects=v) for v in villages]
    return db, people, villages, inspectors


def closed_call(db, people, village: str, inspector, own_report: bool = False):
    """A citizen's call in ``village`` taken to closing (``own_report``: the inspector's own report)."""
    _, lon, lat = next(
        village_point(db, index=i) for i in range(200) if village_point(db, index=i)[0] == village
    )
    if own_report:  # registered at once: the inspector saw it
        case = report(db, inspector, lon, lat)
    else:
        case = report(db, people["acceptor"], lon, lat, channel="hotline", reporter_name="市民")
        act(db, people["acceptor"], case, "request_verification", inspector_id=inspector.user_id)
        act(db, inspector, case, "reply_verification", result="confirmed")
    act(db, people["lead"], case, "file")
    act(db, people["dispatcher"], case, "dispatch")
    photo(db, people["department"], case, "after")
    act(db, people["department"], case, "report_handling")
    act(db, people["acceptor"], case, "request_check", inspector_id=inspector.user_id)
    photo(db, inspector, case, "check")
    act(db, inspector, case, "reply_check", result="pass")
    act(db, people["lead"], case, "close")
    return case


def test_three_rates_from_the_latest_call_back(world):
    db, people, villages, inspectors = world
    acceptor = people["acceptor"]
    a = [closed_call(db, people, villages[0], inspectors[0]) for _ in range(4)]
    b = closed_call(db, people, villages[1], inspectors[1])
    act(db, acceptor, a[0], "callback", contacted=True, solved=True, satisfaction="satisfied")
    act(db, acceptor, a[1], "callback", contacted=True, solved=False, satisfaction="basically_satisfied")
    act(db, acceptor, a[2], "callback", contacted=False)
    act(db, acceptor, a[3], "callback", contacted=False)  # not reached at first ...
    act(db, acceptor, a[3], "callback", contacted=True, solved=True, satisfaction="not_satisfied")  # ... then
    act(db, acceptor, b, "callback", contacted=True, solved=True, satisfaction="satisfied")

    # refusals: a reached caller's answer is needed; an inspector's own report has nobody to call back
    with pytest.raises(Invalid) as incomplete:
        act(db, acceptor, b, "callback", contacted=True)
    assert incomplete.value.code == "case.callback_incomplete"
    own = closed_call(db, people, villages[0], inspectors[0], own_report=True)
    with pytest.raises(Conflict) as nobody:
        act(db, acceptor, own, "callback", contacted=False)
    assert nobody.value.code == "case.no_caller"

    request = stats_request.resolve(db=db, principal=ADMINISTRATOR, grid=DISTRICT)
    board = stats.dashboard(db=db, request=request)
    streets = {r.code: r for r in board.three_rates_streets}
    first, second = (streets[v[:9]] for v in villages)
    # street A: 4 called back, 3 reached (the latest call of a[3] counts), 2 solved, 1 + 0.9 + 0 pleased
    assert (first.called_back, first.contacted, first.solved) == (4, 3, 2)
    assert (first.satisfied, first.basically_satisfied, first.not_satisfied) == (1, 1, 1)
    assert first.response_rate == pytest.approx(3 / 4)
    assert first.resolution_rate == pytest.approx(2 / 3)
    assert first.satisfaction_rate == pytest.approx(1.9 / 3)
    assert first.score == pytest.approx(100 * (0.1 * 3 / 4 + 0.45 * 2 / 3 + 0.45 * 1.9 / 3))
    assert (second.response_rate, second.resolution_rate, second.satisfaction_rate) == (1, 1, 1)
    assert second.rank == 1 and second.grade == "A" and first.rank == 2
    (district,) = stats.dashboard(
        db=db, request=stats_request.resolve(db=db, principal=ADMINISTRATOR, grid="370100")
    ).three_rates_districts[:1]
    assert district.code == DISTRICT and district.called_back == 5 and district.contacted == 4
    # the same figures straight from the events, for every street of the district
    expected = db.execute(
        text(
            """
            SELECT g.code, count(l.case_id), count(*) FILTER (WHERE l.reached),
                   count(*) FILTER (WHERE l.reached AND l.solved),
                   sum(CASE l.pleased WHEN 'satisfied' THEN 1 WHEN 'basically_satisfied' THEN 0.9 ELSE 0 END)
            FROM grid g LEFT JOIN (
                SELECT c.grid_path, e.case_id, (e.data->>'contacted')::boolean AS reached,
                       (e.data->>'solved')::boolean AS solved, e.data->>'satisfaction' AS pleased
                FROM case_event e JOIN case_file c ON c.id = e.case_id
                WHERE e.action = 'callback'
                  AND e.id = (SELECT max(x.id) FROM case_event x
                              WHERE x.case_id = e.case_id AND x.action = 'callback')
            ) l ON l.grid_path <@ g.path
            WHERE g.valid_to IS NULL AND g.parent_code = :district GROUP BY g.code
            """
        ),
        {"district": DISTRICT},
    ).all()
    for code, called, reached, solved, pleased in expected:
        row = streets[code]
        assert (row.called_back, row.contacted, row.solved) == (called, reached, solved), code
        assert row.response_rate == (pytest.approx(reached / called) if called else None)
        assert row.satisfaction_rate == (pytest.approx(float(pleased) / reached) if reached else None)
    rows, fields = stats_export.table_rows(board, "three_rates_streets")
    assert "satisfaction_rate" in fields and len(rows) == len(board.three_rates_streets)
