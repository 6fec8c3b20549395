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

The plan's sentences (``message``, ``meanwhile``) are :class:`peppolnet.i18n.Message` values:
English as strings (and in ``to_json()``), Swedish with :meth:`RequestPlan.text` ``("sv")`` or
``peppolnet.i18n.render(line, "sv")``, since the people who read them work in either language.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Protocol

from peppolnet.errors import PeppolnetError
from peppolnet.i18n import Message, _, render
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.reachability import Reachability, Verdict
from peppolnet.recipients.request import (
    AddRecipientRequest,
    OperatorRef,
    RequestKind,
    UpdateRecipientRequest,
)

__all__ = [
    "NetworkState",
    "PlanAction",
    "RequestPlan",
    "check_request",
    "invoice_advice",
    "plan_request",
]

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
    """The decision for one request. ``request`` is what to send (None when nothing is needed).

    ``message`` and each line of ``meanwhile`` are :class:`~peppolnet.i18n.Message` values
    (plain strings in a plan rebuilt from a store). ``language`` is the language of the person
    the plan was made for, when a front end records it (the support page does, so that the
    case's confirmation mail speaks it); it is not part of the decision.
    """

    action: PlanAction
    network_state: NetworkState
    message: str
    request: Request | None
    current_operator: OperatorRef | None = None
    meanwhile: tuple[str, ...] = ()
    reachability: Reachability | None = None
    language: str | None = None

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
            **({"language": self.language} if self.language else {}),
        }

    def text(self, language: str | None = None) -> str:
        """The decision and the advice for a person, in ``language`` (``"sv"`` or ``"en"``)."""
        lines = [render(self.message, language)]
        if self.meanwhile:
            lines.append(render(_("Meanwhile:"), language))
            lines.extend(f"  - {render(line, language)}" for line in self.meanwhile)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


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


def invoice_advice(
    request: Request, current: OperatorRef | None, receiving: bool, requires_einvoice: bool
) -> Message:
    """What to do with the customer's invoices until the network shows the change: keep
    sending through ``current`` while it still ``receiving`` (a move), hold them when the
    customer ``requires_einvoice``, else PDF or paper. The support page's case shows it too."""
    if receiving and current is not None:
        return _(
            "Peppol invoices still reach {company} through {operator} until the move is "
            "done; keep sending them as usual.",
            company=request.company_name,
            operator=str(current),
        )
    if requires_einvoice:
        return _(
            "{company} requires e-invoices: hold the invoices (or agree a temporary channel "
            "with the customer) until the registration shows in the network.",
            company=request.company_name,
        )
    return _(
        "Until the registration shows in the network, send invoices to {company} as PDF by "
        "e-mail ({email}) or on paper.",
        company=request.company_name,
        email=request.email,
    )


def _meanwhile(
    request: Request, current: OperatorRef | None, receiving: bool, requires_einvoice: bool
) -> tuple[str, ...]:
    return (
        invoice_advice(request, current, receiving, requires_einvoice),
        _(
            "Look {participant} up again later: the request is done when it is reachable "
            "through {operator}.",
            participant=request.participant_id.bare,
            operator=str(request.operator),
        ),
    )


def plan_request(
    request: Request,
    reachability: Reachability | None,
    *,
    requires_einvoice: bool = False,
    fault: str | None = None,
) -> RequestPlan:
    """Decide what to send, from what the network said (``None``: the lookup itself failed)."""
    if reachability is None or reachability.verdict is Verdict.UNKNOWN:
        why = fault or (reachability.reason if reachability else _("the lookup failed"))
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
        _(
            "Network state unknown ({why}); the request can still be sent as asked ({kind}).",
            why=why,
            kind=_kind(request.kind),
        ),
        request,
        meanwhile=_meanwhile(request, None, False, requires_einvoice),
        reachability=reachability,
    )


def _plan_not_registered(
    request: Request, reachability: Reachability, requires_einvoice: bool
) -> RequestPlan:
    """Nobody has the participant: an add, whatever was asked."""
    add = _as_add(request)
    values = {"participant": request.participant_id.bare, "operator": str(request.operator)}
    message = (
        _(
            "{participant} is not registered in Peppol: send an add request to {operator} "
            "(asked as an update, but there is nothing to move: it becomes an add).",
            **values,
        )
        if request.kind is RequestKind.UPDATE
        else _(
            "{participant} is not registered in Peppol: send an add request to {operator}.",
            **values,
        )
    )
    return RequestPlan(
        PlanAction.ADD,
        NetworkState.NOT_REGISTERED,
        message,
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
            _(
                "{participant} is already reachable through {operator}: nothing to send.",
                participant=request.participant_id.bare,
                operator=str(current),
            ),
            None,
            current_operator=current,
            reachability=reachability,
        )
    return RequestPlan(
        PlanAction.ADD,
        NetworkState.WITH_OPERATOR,
        _(
            "{participant} is registered with {operator} but cannot receive ({reason}); the "
            "request asks {operator} to fix that.",
            participant=request.participant_id.bare,
            operator=str(current),
            reason=reachability.reason,
        ),
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
    values = {
        "participant": request.participant_id.bare,
        "current": str(current),
        "operator": str(request.operator),
    }
    message = (
        _(
            "{participant} is registered with {current}: send an update to move it to "
            "{operator} (asked as an add, but it is registered elsewhere: it becomes an update).",
            **values,
        )
        if request.kind is RequestKind.ADD
        else _(
            "{participant} is registered with {current}: send an update to move it to {operator}.",
            **values,
        )
    )
    receiving = reachability.verdict is Verdict.CAN_RECEIVE
    return RequestPlan(
        PlanAction.UPDATE,
        NetworkState.ELSEWHERE,
        message,
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
        _(
            "{participant} is registered in Peppol, but its operator could not be identified "
            "({reason}); send the request as asked ({kind}) and ask {operator} to sort out "
            "the move.",
            participant=request.participant_id.bare,
            reason=reachability.reason,
            kind=_kind(request.kind),
            operator=str(request.operator),
        ),
        request,
        meanwhile=_meanwhile(request, None, False, requires_einvoice),
        reachability=reachability,
    )


def _kind(kind: RequestKind) -> Message:
    """The request's kind in words (``add`` and ``update`` as the operator's forms call them)."""
    return _("an add") if kind is RequestKind.ADD else _("an update")


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
        return plan_request(request, None, requires_einvoice=requires_einvoice, fault=exc.message)
    return plan_request(request, reachability, requires_einvoice=requires_einvoice)
