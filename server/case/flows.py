"""The workflow as an explicit state machine (docs/DOMAIN.md section 5): for every action one spec, next to
the states (``server.case.states``): the states it may start from, the roles allowed to take it, the state
it leads to, its input model, its guard and its effect. Adding an action is adding one spec (and its test);
``server.case.actions`` runs every action through one path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case import effects, supervision, tiers
from server.case.models import Case
from server.case.queues import SUPERVISORS
from server.case.schemas import (
    ActionIn,
    AnswerIn,
    CallbackIn,
    CheckReplyIn,
    CloseIn,
    DispatchIn,
    ExtensionRefusalIn,
    ExtensionRequestIn,
    FileIn,
    HandlingIn,
    MergeIn,
    ReasonIn,
    ReclassifyIn,
    SuperviseIn,
    SupervisionAnswerIn,
    TagIn,
    TaskIn,
    VerificationReplyIn,
)
from server.case.states import STATE_LABELS, TERMINAL, State
from server.errors import Conflict, DomainError

Guard = Callable[[Session, Principal, Case], DomainError | None]


@dataclass(frozen=True)
class ActionSpec:
    """One action of the workflow, whole: the states it may start from, the roles that may take it, the state
    it leads to (None: it stays, or the effect decides), its input model (``form``: its fields, shown in the
    OpenAPI and to the web's forms), what else must hold (``guard``) and what it does (``effect``)."""

    name: str
    label: str
    sources: frozenset[State]
    roles: frozenset[str]
    target: State | None
    form: type[ActionIn]
    effect: Callable[[effects.Context], State | None]
    guard: Guard | None = None
    department_only: bool = False  # only the lead department may take it


def _action(name, label, sources, roles, target, form, effect, **kw) -> ActionSpec:
    roles = frozenset(roles) | {"admin"}
    return ActionSpec(name, label, frozenset(sources), roles, target, form, effect, **kw)


_NON_TERMINAL = [s for s in State if s not in TERMINAL]
_BEFORE_DISPATCH = [State.REPORTED, State.VERIFYING, State.REGISTERED, State.FILED]
_EDITORS = ["acceptor", "shift_lead"]
# The states in which a department may lead a case (an open lead dispatch): from dispatch to closing.
_WITH_DEPARTMENT = [State.DISPATCHED, State.SUSPENDED, State.HANDLED, State.CHECKING, State.CHECKED]

ACTIONS: dict[str, ActionSpec] = {
    a.name: a
    for a in [
        _action(
            "request_verification", "派核实", [State.REPORTED], ["acceptor"], State.VERIFYING, TaskIn,
            effects.request_verification,
        ),
        _action(
            "reply_verification", "回复核实", [State.VERIFYING], ["inspector"], State.REGISTERED,
            VerificationReplyIn, effects.reply_verification, guard=effects.own_task,
        ),
        _action("file", "立案", [State.REGISTERED], ["shift_lead"], State.FILED, FileIn, effects.file),
        _action(
            "void", "作废", [State.REPORTED, State.VERIFYING, State.REGISTERED], ["shift_lead"], State.VOIDED,
            ReasonIn, effects.void,
        ),
        _action(
            "dispatch", "派遣", [State.FILED, State.RETURNED], ["dispatcher"], State.DISPATCHED, DispatchIn,
            effects.dispatch, guard=tiers.dispatches,
        ),
        _action(
            "escalate", "上报上级", [State.FILED, State.RETURNED], ["dispatcher"], None, ReasonIn,
            effects.escalate, guard=tiers.sends_up,
        ),
        _action(
            "receive", "签收", [State.DISPATCHED], ["department"], None, ActionIn, effects.receive,
            guard=effects.not_received, department_only=True,
        ),
        _action(
            "return", "回退", [State.DISPATCHED], ["department"], State.RETURNED, ReasonIn, effects.return_,
            department_only=True,
        ),
        _action(
            "request_extension", "申请延期", [State.DISPATCHED], ["department"], None, ExtensionRequestIn,
            effects.request_extension, guard=effects.no_extension_waiting, department_only=True,
        ),
        _action(
            "approve_extension", "批准延期", [State.DISPATCHED], ["dispatcher"], None, ActionIn,
            effects.approve_extension, guard=effects.extension_waiting,
        ),
        _action(
            "refuse_extension", "驳回延期", [State.DISPATCHED], ["dispatcher"], None, ExtensionRefusalIn,
            effects.refuse_extension, guard=effects.extension_waiting,
        ),
        _action(
            "suspend", "挂账", [State.DISPATCHED], ["dispatcher"], State.SUSPENDED, ReasonIn, effects.suspend
        ),
        _action(
            "resume", "恢复", [State.SUSPENDED], ["dispatcher"], State.DISPATCHED, ActionIn, effects.resume
        ),
        _action(
            "report_handling", "处置反馈", [State.DISPATCHED], ["department"], State.HANDLED, HandlingIn,
            effects.report_handling, guard=effects.received, department_only=True,
        ),
        _action(
            "request_check", "派核查", [State.HANDLED], ["acceptor"], State.CHECKING, TaskIn,
            effects.request_check,
        ),
        _action(
            "reply_check", "回复核查", [State.CHECKING], ["inspector"], None, CheckReplyIn,
            effects.reply_check, guard=effects.own_task,
        ),
        _action(
            "close", "结案", [State.CHECKED], ["shift_lead"], State.CLOSED, CloseIn, effects.close,
            guard=effects.spot_photos,
        ),
        _action(
            "answer", "答复办结", [State.REPORTED], _EDITORS, State.CLOSED, AnswerIn, effects.answer,
            guard=effects.consult,
        ),
        _action("merge", "合并", _BEFORE_DISPATCH, _EDITORS, State.MERGED, MergeIn, effects.merge),
        _action(
            "keep_apart", "不合并", _NON_TERMINAL, _EDITORS, None, ActionIn, effects.keep_apart,
            guard=effects.duplicate_candidate,
        ),
        _action(
            "reclassify", "改类", [*_BEFORE_DISPATCH, State.RETURNED], [*_EDITORS, "dispatcher"], None,
            ReclassifyIn, effects.reclassify,
        ),
        _action("tag", "加标签", _NON_TERMINAL, [*_EDITORS, "dispatcher"], None, TagIn, effects.tag),
        _action("untag", "去标签", _NON_TERMINAL, [*_EDITORS, "dispatcher"], None, TagIn, effects.untag),
        _action(
            "callback", "回访", [State.CLOSED], ["acceptor"], None, CallbackIn, effects.callback,
            guard=effects.has_caller,
        ),
        _action(
            "supervise", "督办", _NON_TERMINAL, SUPERVISORS, None, SuperviseIn, supervision.supervise
        ),
        _action("urge", "催办", _NON_TERMINAL, SUPERVISORS, None, SuperviseIn, supervision.urge),
        _action(
            "acknowledge_supervision", "签收督办", _WITH_DEPARTMENT, ["department"], None, ActionIn,
            supervision.acknowledge, guard=supervision.to_acknowledge, department_only=True,
        ),
        _action(
            "answer_supervision", "答复督办", _WITH_DEPARTMENT, ["department"], None, SupervisionAnswerIn,
            supervision.answer, guard=supervision.to_answer, department_only=True,
        ),
    ]
}  # fmt: skip


def allowed_from(state: State) -> list[str]:
    """The actions that may start from ``state``."""
    return [a.name for a in ACTIONS.values() if state in a.sources]


def state_refusal(action: ActionSpec, state: State, version: int) -> DomainError:
    """Why ``action`` cannot be taken in ``state`` (409): the state, and what may be done in it instead;
    ``state`` and ``version`` are the case's, for programs."""
    allowed = "、".join(ACTIONS[name].label for name in allowed_from(state))
    label = STATE_LABELS[state]
    where = {"state": state.value, "version": version, "state_label": label, "action": action.label}
    if not allowed:
        return Conflict("case.state_over", **where)
    return Conflict("case.state_forbids", allowed=allowed, **where)
