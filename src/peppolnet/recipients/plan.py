"""The plan: what the network says before a request is sent, and what to send because of it.

People ask for an "add" when the customer has in fact already been registered by another
operator, and for an "update" when the customer was never in Peppol; operators then bounce the
request (the SML refuses a second registration, ERR-106). So before anything is sent, one lookup
decides:

* reachable through the requested operator  -> nothing to send (and it says so);
* registered with another operator          -> an *update* from that operator;
* not registered                            -> an *add*;
* the lookup failed (a fault, not an answer) -> send the request as asked, marked "network state
  unknown" - a fault is never read as "not registered".

:func:`plan_request` is pure (a request and a :class:`~peppolnet.reachability.Reachability` in, a
:class:`RequestPlan` out); :func:`check_request` is the thin shell that does the lookup.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Protocol

from peppolnet.errors import PeppolnetError
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.reachability import Reachability, Verdict
from peppolnet.recipients.request import (
    AddRecipientRequest,
    OperatorRef,
    RequestKind,
    UpdateRecipientRequest,
)

__all__ = ["NetworkState", "PlanAction", "RequestPlan", "check_request", "plan_request"]

Request = AddRecipientRequest | UpdateRecipientRequest


class PlanAction(enum.StrEnum):
    """What to do: nothing, send an add, or send an update."""

    NOTHING = "nothing"
    ADD = "add"
    UPDATE = "update"


class NetworkState(enum.StrEnum):
    """What the lookup found, seen from the requested operator."""

    WITH_OPERATOR = "registered-with-operator"
    ELSEWHERE = "registered-elsewhere"
    REGISTERED = "registered-operator-unknown"
    NOT_REGISTERED = "not-registered"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class RequestPlan:
    """The decision for one request. ``request`` is what to send (None when nothing is needed)."""

    action: PlanAction
    network_state: NetworkState
    message: str
    request: Request | None
    current_operator: OperatorRef | None = None
    meanwhile: tuple[str, ...] = ()
    reachability: Reachability | None = None

    @property
    def should_send(self) -> bool:
        """Whether a request should go to the operator."""
        return self.request is not None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the request as its id; the store keeps the body)."""
        return {
            "action": self.action.value,
            "network_state": self.network_state.value,
            "message": self.message,
            "request_id": self.request.request_id if self.request else None,
            "current_operator": (
                self.current_operator.model_dump(mode="json") if self.current_operator else None
            ),
            "meanwhile": list(self.meanwhile),
        }

    def __str__(self) -> str:
        lines = [self.message]
        if self.meanwhile:
            lines.append("Meanwhile:")
            lines.extend(f"  - {line}" for line in self.meanwhile)
        return "\n".join(lines)


def _as_update(request: Request, current: OperatorRef) -> UpdateRecipientRequest:
    if isinstance(request, UpdateRecipientRequest):
        if request.current_operator.seat_id == current.seat_id:
            return request
        return request.model_copy(update={"current_operator": current})
    fields = request.model_dump(exclude={"kind"})
    fields["current_operator"] = current.model_dump()
    return UpdateRecipientRequest.model_validate(fields)


def _as_add(request: Request) -> AddRecipientRequest:
    if isinstance(request, AddRecipientRequest):
        return request
    fields = request.model_dump(exclude={"kind", "current_operator", "migration_key"})
    return AddRecipientRequest.model_validate(fields)


def _meanwhile(
    request: Request, current: OperatorRef | None, receiving: bool, requires_einvoice: bool
) -> tuple[str, ...]:
    advice = []
    if receiving and current is not None:
        advice.append(
            f"Peppol invoices still reach {request.company_name} through {current} until the "
            "move is done; keep sending them as usual."
        )
    elif requires_einvoice:
        advice.append(
            f"{request.company_name} requires e-invoices: hold the invoices (or agree a "
            "temporary channel with the customer) until the registration shows in the network."
        )
    else:
        advice.append(
            f"Until the registration shows in the network, send invoices to "
            f"{request.company_name} as PDF by e-mail ({request.email}) or on paper."
        )
    advice.append(
        f"Look {request.participant_id.bare} up again later: the request is done when it is "
        f"reachable through {request.operator}."
    )
    return tuple(advice)


def plan_request(
    request: Request,
    reachability: Reachability | None,
    *,
    requires_einvoice: bool = False,
    fault: str | None = None,
) -> RequestPlan:
    """Decide what to send, from what the network said (``None``: the lookup itself failed)."""
    if reachability is None or reachability.verdict is Verdict.UNKNOWN:
        why = fault or (reachability.reason if reachability else "the lookup failed")
        return _plan_unknown(request, reachability, why, requires_einvoice)
    if reachability.verdict is Verdict.NOT_REGISTERED:
        return _plan_not_registered(request, reachability, requires_einvoice)
    found = reachability.operator
    current = OperatorRef.of(found) if found is not None else None
    if current is None:
        return _plan_operator_unknown(request, reachability, requires_einvoice)
    if current.seat_id == request.operator.seat_id:
        return _plan_with_operator(request, reachability, current, requires_einvoice)
    return _plan_elsewhere(request, reachability, current, requires_einvoice)


def _plan_unknown(
    request: Request, reachability: Reachability | None, why: str, requires_einvoice: bool
) -> RequestPlan:
    """The lookup failed: a fault is never "not registered", so the request goes as asked."""
    return RequestPlan(
        PlanAction(request.kind.value),
        NetworkState.UNKNOWN,
        f"Network state unknown ({why}); the {request.kind.value} request can still be sent.",
        request,
        meanwhile=_meanwhile(request, None, False, requires_einvoice),
        reachability=reachability,
    )


def _plan_not_registered(
    request: Request, reachability: Reachability, requires_einvoice: bool
) -> RequestPlan:
    """Nobody has the participant: an add, whatever was asked."""
    add = _as_add(request)
    note = (
        " (asked as an update, but there is nothing to move: it becomes an add)"
        if request.kind is RequestKind.UPDATE
        else ""
    )
    return RequestPlan(
        PlanAction.ADD,
        NetworkState.NOT_REGISTERED,
        f"{request.participant_id.bare} is not registered in Peppol: send an add request "
        f"to {request.operator}{note}.",
        add,
        meanwhile=_meanwhile(add, None, False, requires_einvoice),
        reachability=reachability,
    )


def _plan_with_operator(
    request: Request, reachability: Reachability, current: OperatorRef, requires_einvoice: bool
) -> RequestPlan:
    """Already with the requested operator: nothing to send, or an add asking it to fix the
    registration that does not receive."""
    if reachability.verdict is Verdict.CAN_RECEIVE:
        return RequestPlan(
            PlanAction.NOTHING,
            NetworkState.WITH_OPERATOR,
            f"{request.participant_id.bare} is already reachable through {current}: "
            "nothing to send.",
            None,
            current_operator=current,
            reachability=reachability,
        )
    return RequestPlan(
        PlanAction.ADD,
        NetworkState.WITH_OPERATOR,
        f"{request.participant_id.bare} is registered with {current} but cannot receive "
        f"({reachability.reason}); the request asks {current} to fix that.",
        _as_add(request),
        current_operator=current,
        meanwhile=_meanwhile(request, None, False, requires_einvoice),
        reachability=reachability,
    )


def _plan_elsewhere(
    request: Request, reachability: Reachability, current: OperatorRef, requires_einvoice: bool
) -> RequestPlan:
    """With another operator: an update moving it from there, whatever was asked."""
    update = _as_update(request, current)
    note = (
        " (asked as an add, but it is registered elsewhere: it becomes an update)"
        if request.kind is RequestKind.ADD
        else ""
    )
    receiving = reachability.verdict is Verdict.CAN_RECEIVE
    return RequestPlan(
        PlanAction.UPDATE,
        NetworkState.ELSEWHERE,
        f"{request.participant_id.bare} is registered with {current}: send an update to "
        f"move it to {request.operator}{note}.",
        update,
        current_operator=current,
        meanwhile=_meanwhile(update, current, receiving, requires_einvoice),
        reachability=reachability,
    )


def _plan_operator_unknown(
    request: Request, reachability: Reachability, requires_einvoice: bool
) -> RequestPlan:
    """Registered, but the operator could not be told: send as asked, the operator sorts it."""
    return RequestPlan(
        PlanAction(request.kind.value),
        NetworkState.REGISTERED,
        f"{request.participant_id.bare} is registered in Peppol, but its operator could not be "
        f"identified ({reachability.reason}); send the {request.kind.value} request and ask "
        f"{request.operator} to sort out the move.",
        request,
        meanwhile=_meanwhile(request, None, False, requires_einvoice),
        reachability=reachability,
    )


class _Checker(Protocol):
    def check(
        self, participant: ParticipantId, *, document_type: DocumentTypeId | str | None = ...
    ) -> Reachability: ...


def check_request(
    request: Request, lookup: _Checker, *, requires_einvoice: bool = False
) -> RequestPlan:
    """Look the request's participant up (first requested document type) and plan.

    ``lookup`` is a :class:`peppolnet.lookup.Lookup` (or anything with its ``check``). A lookup
    that raises is a fault: the plan says "network state unknown", never "not registered".
    """
    try:
        reachability = lookup.check(request.participant_id, document_type=request.document_types[0])
    except PeppolnetError as exc:
        return plan_request(request, None, requires_einvoice=requires_einvoice, fault=str(exc))
    return plan_request(request, reachability, requires_einvoice=requires_einvoice)
