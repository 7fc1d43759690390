"""The case desk's queues: for each step of the workflow, the cases waiting for it, and the roles that work
the queue. A queue is a condition on ``Case`` at an instant for a user's scope; the desk lists a queue's
cases within the scope, most urgent and soonest due first (``server.case.queries.list_cases``).

A department sees every case ever dispatched to it, but its queues of open work (处置中, 即将超时, 已超时)
hold only the cases it is responsible for now: a case returned and dispatched elsewhere leaves them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select, true

from server.auth.principal import Principal
from server.case import tiers
from server.case.callers import SPECIAL_TAGS
from server.case.clock import awaiting_receipt, due_soon, overdue
from server.case.models import Case, CaseDispatch, CaseSupervision
from server.case.scope import Scope
from server.case.states import OPEN_STATES, State

# The condition for a user's scope at an instant (``now`` in SQL).
Condition = Callable[[ColumnElement, Scope], ColumnElement[bool]]


@dataclass(frozen=True)
class Queue:
    name: str
    label: str
    roles: frozenset[str]  # who works it (administrators see every queue)
    condition: Condition


def _in(*states: State) -> Condition:
    return lambda now, scope: Case.state.in_([s.value for s in states])


def _to_dispatch(state: State) -> Condition:
    """待派遣, 已回退: the cases in ``state`` the user's dispatch center dispatches (server.case.tiers)."""
    return lambda now, scope: and_(Case.state == state.value, tiers.held_by(scope.dispatch_center))


def held_now(scope: Scope) -> ColumnElement[bool]:
    """For a department's user, the cases the department holds now (an open dispatch); else every case."""
    if scope.department_id is None:
        return true()
    holding = select(CaseDispatch.case_id).where(
        CaseDispatch.department_id == scope.department_id, CaseDispatch.ended_at.is_(None)
    )
    return Case.id.in_(holding)


def _handling(now, scope: Scope) -> ColumnElement[bool]:
    return and_(Case.state == State.DISPATCHED, held_now(scope))


def _to_receive(now, scope: Scope) -> ColumnElement[bool]:
    return and_(awaiting_receipt(), held_now(scope))


def _my_tasks(now, scope: Scope) -> ColumnElement[bool]:
    return and_(Case.state.in_([State.VERIFYING, State.CHECKING]), Case.task_assignee_id == scope.user_id)


def _special_callers(now, scope: Scope) -> ColumnElement[bool]:
    """Open cases of special reporters (人大代表, 政协委员, 困难群众): tagged so at intake."""
    return and_(Case.state.in_(OPEN_STATES), Case.tags.overlap(sorted(set(SPECIAL_TAGS.values()))))


def _extension_asked(now, scope: Scope) -> ColumnElement[bool]:
    return and_(Case.state == State.DISPATCHED, Case.extension_request.is_not(None))


def _due_soon(now, scope: Scope) -> ColumnElement[bool]:
    return and_(Case.state.in_(OPEN_STATES), due_soon(now), held_now(scope))


def _overdue(now, scope: Scope) -> ColumnElement[bool]:
    return and_(Case.state.in_(OPEN_STATES), overdue(now), held_now(scope))


def _supervision(now, scope: Scope) -> ColumnElement[bool]:
    """督办: for those who issue it, the cases under an open supervision (answered ones too, until the case
    ends); for a department, the cases it leads now whose supervision it has not answered yet."""
    open_ = select(CaseSupervision.case_id).where(CaseSupervision.closed_at.is_(None))
    if scope.department_id is None:
        return Case.id.in_(open_)
    leading = select(CaseDispatch.case_id).where(
        CaseDispatch.department_id == scope.department_id, CaseDispatch.lead, CaseDispatch.ended_at.is_(None)
    )
    return and_(Case.id.in_(open_.where(CaseSupervision.answered_at.is_(None))), Case.id.in_(leading))


SUPERVISORS = frozenset({"leader", "shift_lead", "dispatcher"})  # who issue 督办 and 催办
WATCHERS = frozenset({"acceptor", "shift_lead", "dispatcher", "department", "leader", "grid_head"})

QUEUES: dict[str, Queue] = {
    q.name: q
    for q in [
        # first: the command center works special reporters' calls before the others
        Queue("special", "重点来电", frozenset({"acceptor", "shift_lead", "dispatcher"}), _special_callers),
        Queue("tasks", "我的任务", frozenset({"inspector"}), _my_tasks),
        Queue("register", "待受理", frozenset({"acceptor"}), _in(State.REPORTED)),
        Queue("verify", "核实中", frozenset({"acceptor", "shift_lead"}), _in(State.VERIFYING)),
        Queue("file", "待立案", frozenset({"shift_lead"}), _in(State.REGISTERED)),
        Queue("dispatch", "待派遣", frozenset({"dispatcher"}), _to_dispatch(State.FILED)),
        Queue("returned", "已回退", frozenset({"dispatcher"}), _to_dispatch(State.RETURNED)),
        Queue("extension", "延期申请", frozenset({"dispatcher"}), _extension_asked),
        Queue("receive", "待签收", frozenset({"dispatcher", "department"}), _to_receive),
        Queue("handle", "处置中", frozenset({"dispatcher", "department"}), _handling),
        Queue("suspended", "挂账", frozenset({"dispatcher"}), _in(State.SUSPENDED)),
        Queue("check", "待核查", frozenset({"acceptor"}), _in(State.HANDLED)),
        Queue("checking", "核查中", frozenset({"acceptor", "shift_lead"}), _in(State.CHECKING)),
        Queue("close", "待结案", frozenset({"shift_lead"}), _in(State.CHECKED)),
        Queue("supervision", "督办", frozenset({*SUPERVISORS, "department"}), _supervision),
        Queue("due_soon", "即将超时", WATCHERS, _due_soon),
        Queue("overdue", "已超时", WATCHERS, _overdue),
    ]
}


def queues_for(principal: Principal) -> list[Queue]:
    """The queues this user works, in the workflow's order."""
    if principal.has("admin"):
        return list(QUEUES.values())
    return [q for q in QUEUES.values() if q.roles & principal.roles]
