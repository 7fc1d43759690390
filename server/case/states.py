"""The case's states (docs/DOMAIN.md section 5), their labels, who works each, and the clock each runs on."""

from __future__ import annotations

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

# The role that works the case in each open state (the case panel says so to everyone else); a closed,
# voided or merged case is nobody's.
HELD_BY = {
    State.REPORTED: "acceptor",
    State.VERIFYING: "inspector",
    State.REGISTERED: "shift_lead",
    State.FILED: "dispatcher",
    State.DISPATCHED: "department",
    State.RETURNED: "dispatcher",
    State.SUSPENDED: "dispatcher",
    State.HANDLED: "acceptor",
    State.CHECKING: "inspector",
    State.CHECKED: "shift_lead",
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
