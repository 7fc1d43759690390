"""The case workflow as an explicit state machine (DOMAIN.md section 5): states, and for every action the
states it may start from, the roles allowed to take it, and the state it leads to.

Pure data and checks: the service applies the side effects (clocks, dispatches, events)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    REPORTED = "reported"  # arrived from a citizen, the hotline or another system: to verify
    VERIFYING = "verifying"  # an inspector is confirming it on site (核实)
    REGISTERED = "registered"  # confirmed: the shift lead files or voids it (立案 / 作废)
    FILED = "filed"  # filed: to dispatch (派遣)
    DISPATCHED = "dispatched"  # with the responsible department (处置)
    RETURNED = "returned"  # sent back by the department as not its own (回退): to re-dispatch
    SUSPENDED = "suspended"  # parked, its clock stopped (挂账)
    HANDLED = "handled"  # the department reported the fix: to check (核查)
    CHECKING = "checking"  # an inspector is checking the fix on site
    CHECKED = "checked"  # the fix holds: the shift lead closes it (结案)
    CLOSED = "closed"
    VOIDED = "voided"
    MERGED = "merged"  # a duplicate, joined to its master case


TERMINAL = frozenset({State.CLOSED, State.VOIDED, State.MERGED})
OPEN_STATES = tuple(s.value for s in State if s not in TERMINAL)

STATE_LABELS = {
    State.REPORTED: "待核实派发",
    State.VERIFYING: "核实中",
    State.REGISTERED: "待立案",
    State.FILED: "待派遣",
    State.DISPATCHED: "处置中",
    State.RETURNED: "已回退",
    State.SUSPENDED: "挂账",
    State.HANDLED: "待核查",
    State.CHECKING: "核查中",
    State.CHECKED: "待结案",
    State.CLOSED: "已结案",
    State.VOIDED: "已作废",
    State.MERGED: "已合并",
}


class Step(StrEnum):
    """The clock a state runs on: each has its own working-time limit."""

    ACCEPT = "accept"  # an acceptor acts on a new report (the dispatch limit)
    VERIFY = "verify"  # on-site verification (limit by urgency)
    DISPATCH = "dispatch"  # filing plus dispatch (limit by urgency)
    HANDLE = "handle"  # the department's handling (the category's limit, plus extensions)
    CHECK = "check"  # on-site check (1 h urban, 2 h rural by default)


STEP_OF = {
    State.REPORTED: Step.ACCEPT,
    State.VERIFYING: Step.VERIFY,
    State.REGISTERED: Step.DISPATCH,
    State.FILED: Step.DISPATCH,
    State.RETURNED: Step.DISPATCH,
    State.DISPATCHED: Step.HANDLE,
    State.SUSPENDED: Step.HANDLE,
    State.HANDLED: Step.ACCEPT,
    State.CHECKING: Step.CHECK,
    State.CHECKED: Step.ACCEPT,
}


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: frozenset[State]
    roles: frozenset[str]
    target: State | None  # None: the state stays (or, for reply_check, depends on the result)
    department_only: bool = False  # only the lead department may take it


def _action(name, label, sources, roles, target, **kw) -> Action:
    return Action(name, label, frozenset(sources), frozenset(roles) | {"admin"}, target, **kw)


_NON_TERMINAL = [s for s in State if s not in TERMINAL]
_BEFORE_DISPATCH = [State.REPORTED, State.VERIFYING, State.REGISTERED, State.FILED]

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        _action("request_verification", "派核实", [State.REPORTED], ["acceptor"], State.VERIFYING),
        _action("reply_verification", "回复核实", [State.VERIFYING], ["inspector"], State.REGISTERED),
        _action("file", "立案", [State.REGISTERED], ["shift_lead"], State.FILED),
        _action(
            "void", "作废", [State.REPORTED, State.VERIFYING, State.REGISTERED], ["shift_lead"], State.VOIDED
        ),
        _action("dispatch", "派遣", [State.FILED, State.RETURNED], ["dispatcher"], State.DISPATCHED),
        _action("return", "回退", [State.DISPATCHED], ["department"], State.RETURNED, department_only=True),
        _action(
            "request_extension", "申请延期", [State.DISPATCHED], ["department"], None, department_only=True
        ),
        _action("approve_extension", "批准延期", [State.DISPATCHED], ["dispatcher"], None),
        _action("refuse_extension", "驳回延期", [State.DISPATCHED], ["dispatcher"], None),
        _action("suspend", "挂账", [State.DISPATCHED], ["dispatcher"], State.SUSPENDED),
        _action("resume", "恢复", [State.SUSPENDED], ["dispatcher"], State.DISPATCHED),
        _action(
            "report_handling",
            "处置反馈",
            [State.DISPATCHED],
            ["department"],
            State.HANDLED,
            department_only=True,
        ),
        _action("request_check", "派核查", [State.HANDLED], ["acceptor"], State.CHECKING),
        _action("reply_check", "回复核查", [State.CHECKING], ["inspector"], None),
        _action("close", "结案", [State.CHECKED], ["shift_lead"], State.CLOSED),
        _action("merge", "合并", _BEFORE_DISPATCH, ["acceptor", "shift_lead"], State.MERGED),
        _action("keep_apart", "不合并", _NON_TERMINAL, ["acceptor", "shift_lead"], None),
        _action("tag", "加标签", _NON_TERMINAL, ["acceptor", "shift_lead", "dispatcher"], None),
        _action("untag", "去标签", _NON_TERMINAL, ["acceptor", "shift_lead", "dispatcher"], None),
        _action("callback", "回访", [State.CLOSED], ["acceptor"], None),
    ]
}


def allowed_from(state: State) -> list[str]:
    """The actions that may start from ``state``."""
    return [a.name for a in ACTIONS.values() if state in a.sources]


def state_message(action: Action, state: State) -> str:
    """Why ``action`` cannot be taken now: the current state and what is allowed in it."""
    allowed = allowed_from(state)
    return (
        f"cannot {action.name.replace('_', ' ')} a case that is {state.value} "
        f"({STATE_LABELS[state]}): allowed now: {', '.join(allowed) if allowed else 'nothing (it is over)'}"
    )
