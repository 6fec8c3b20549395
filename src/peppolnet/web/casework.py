"""Handing a case on: the prefilled request form, the submission and the follow-up of its case.

Support staff find a customer that is not registered, or that has moved to another operator,
and want the operator to register it. This module is what the page does about it, kept apart
from the routes (``web/cases.py``) so the page and the JSON API decide alike:

* :func:`prefill` - what the form starts with: the company name from the customer directory or
  the Peppol Directory's business card, the organisation number and country from the
  participant id, the operator this desk works for, the customer's e-mail address;
* :meth:`CaseDesk.submit` - validate every field at once (:class:`InvalidRequest`), look the
  customer up and let :func:`peppolnet.recipients.plan_request` decide add, update or nothing,
  store the request (:class:`~peppolnet.recipients.RequestTracker`, in the customer
  directory's SQLite file) and hand it to the configured channel;
* :meth:`CaseDesk.follow_up` - the same follow-up as ``peppolnet request follow-up``: confirm
  when the network shows the change, and mail the confirmation; it runs every
  :attr:`CaseSettings.follow_up_every` seconds while the app runs, and on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from peppolnet._logging import logger
from peppolnet.errors import InvalidInput, InvalidRequest, PeppolnetError
from peppolnet.i18n import Language, Message, _, parse_language
from peppolnet.identifiers import ParticipantId
from peppolnet.recipients import (
    AddRecipientRequest,
    RequestTracker,
    plan_request,
)
from peppolnet.recipients.plan import NetworkState, PlanAction, RequestPlan
from peppolnet.recipients.request import RequestStatus
from peppolnet.recipients.tracking import (
    EmailNotifier,
    FollowUpResult,
    Notifier,
    SeenCheck,
    TrackedRequest,
)
from peppolnet.schemes import validate
from peppolnet.web.security import audit

if TYPE_CHECKING:
    from peppolnet.directory.model import DirectoryMatch
    from peppolnet.operators import OperatorRegistry
    from peppolnet.reachability import Reachability
    from peppolnet.recipients.channels import Channel, Receipt
    from peppolnet.web.state import WebState

__all__ = [
    "CaseDesk",
    "CaseForm",
    "CaseLanguageNotifier",
    "CaseSettings",
    "Submission",
    "case_desk",
    "case_language",
    "open_desk",
    "prefill",
]

log = logger(__name__)

#: The form's fields, in the order the page shows them (hidden ones last).
FIELDS = ("company_name", "organisation_number", "country", "operator", "email", "requester")


@dataclasses.dataclass(frozen=True)
class CaseSettings:
    """How the page hands cases on (``create_app(cases=...)``; see docs/web.md)."""

    operators: OperatorRegistry | None = None
    """The operators the form offers and understands by name; None: the form takes Seat IDs."""
    operator: str | None = None
    """The operator this desk works for (Seat ID or a name the registry knows): preselected."""
    database: Path | None = None
    """The SQLite file of the requests; default the customer directory's (or a private one)."""
    notifier: Notifier | None = None
    """Sends the confirmation mail when a follow-up confirms a request (``EmailNotifier``)."""
    follow_up_every: float = 60.0
    """Seconds between follow-up runs while the app runs (0: only on demand)."""
    refresh_every: int = 10
    """Seconds between reloads of an open case's page (it shows the follow-up's progress)."""
    requires_einvoice: bool = False
    """The advice while a request is pending: hold invoices instead of sending PDF or paper."""


@dataclasses.dataclass(frozen=True)
class CaseForm:
    """What the request form holds: text as typed, so a refused form comes back as it was."""

    company_name: str = ""
    organisation_number: str = ""
    country: str = ""
    operator: str = ""
    email: str = ""
    requester: str = ""
    participant_id: str = ""
    channel: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CaseForm:
        """From a submitted form or a JSON body; anything not text is refused as empty."""
        values = {}
        for field in dataclasses.fields(cls):
            value = data.get(field.name)
            values[field.name] = value.strip()[:500] if isinstance(value, str) else ""
        return cls(**values)

    def build(self, operators: OperatorRegistry | None) -> AddRecipientRequest:
        """The request as asked (an add: the plan turns it into what the network calls for).

        Raises :class:`InvalidRequest` with every problem, each naming its field."""
        return AddRecipientRequest.create(
            company_name=self.company_name,
            organisation_number=self.organisation_number,
            operator=self.operator,
            email=self.email,
            country=self.country or None,
            participant_id=self.participant_id or None,
            requester=self.requester or None,
            registry=operators,
        )


@dataclasses.dataclass(frozen=True)
class Submission:
    """What a submitted form led to: a stored (and, if a channel took it, sent) request, or
    nothing to send (the customer is already reachable through the operator)."""

    plan: RequestPlan
    tracked: TrackedRequest | None = None
    receipt: Receipt | None = None
    send_error: Message | None = None


class CaseDesk:
    """The cases of one app: the tracker, the channels and the follow-up that runs meanwhile."""

    def __init__(self, state: WebState, settings: CaseSettings) -> None:
        self.state = state
        self.settings = settings
        self.operators = settings.operators
        path = settings.database or _database_of(state)
        self._private: tempfile.TemporaryDirectory[str] | None = None
        if path is None:
            self._private = tempfile.TemporaryDirectory(prefix="peppolnet-cases-")
            path = Path(self._private.name) / "requests.sqlite"
        self.tracker = RequestTracker(path, clock=state.settings.clock)
        self._follow_lock = threading.Lock()

    def close(self) -> None:
        self.tracker.close()
        if self._private is not None:
            self._private.cleanup()

    # --- the form --------------------------------------------------------------------------------

    def default_operator(self) -> str:
        """The Seat ID the form preselects (the operator this desk works for), if known."""
        wanted = self.settings.operator
        if not wanted:
            return ""
        if self.operators is not None:
            match = self.operators.find(wanted)
            if match.operator is not None:
                return match.operator.seat_id
        return wanted

    def channel(self, name: str) -> tuple[str, Channel] | None:
        """The channel named ``name``, or the only/first configured one; None when there is none."""
        channels = self.state.channels
        if name and name in channels:
            return name, channels[name]
        for first in channels.items():
            return first
        return None

    # --- submitting ------------------------------------------------------------------------------

    async def submit(self, form: CaseForm, language: Language | None = None) -> Submission:
        """Validate, plan, store and send. Raises :class:`InvalidRequest` (every problem) or
        :class:`InvalidInput` (a request the store refuses, e.g. an open one asks the same).

        ``language`` is the page's: the case keeps it (in its plan), so its confirmation mail
        is written in the language of the person who asked (the JSON API passes none)."""
        asked = form.build(self.operators)
        reachability = await self._look_up(asked)
        plan = plan_request(asked, reachability, requires_einvoice=self.settings.requires_einvoice)
        if language is not None:
            plan = dataclasses.replace(plan, language=language)
        if plan.request is None or plan.action is PlanAction.NOTHING:
            return Submission(plan)
        tracked = await run_in_threadpool(self.tracker.save, plan.request, plan)
        chosen = self.channel(form.channel)
        if chosen is None:
            return Submission(plan, tracked)
        return await self.send(tracked.request_id, chosen, plan)

    async def send(
        self, request_id: str, chosen: tuple[str, Channel], plan: RequestPlan | None = None
    ) -> Submission:
        """Hand a stored request to a channel; a fault keeps it a draft and says why."""
        name, channel = chosen
        receipt, error = None, None
        try:
            receipt = await run_in_threadpool(self.tracker.send, request_id, channel)
        except InvalidRequest:
            raise
        except PeppolnetError as exc:
            log.warning("sending a request through %s failed: %s", name, type(exc).__name__)
            error = _("{channel} did not take the request: {error}", channel=name, error=exc)
        tracked = await run_in_threadpool(self.tracker.get, request_id)
        if receipt is not None and tracked is not None:
            audit(
                "request-sent",
                case=request_id,
                kind=tracked.request.kind.value,
                channel=name,
                operator=tracked.request.operator.seat_id,
                duplicate=int(receipt.duplicate),
            )
        if plan is None and tracked is not None and tracked.plan is not None:
            plan = _stored_plan(tracked)
        assert plan is not None
        return Submission(plan, tracked, receipt, error)

    async def _look_up(self, request: AddRecipientRequest) -> Reachability | None:
        """The customer's state now; None when the lookup itself failed (the plan says so)."""
        try:
            return await self.state.require_lookup().check(
                request.participant_id, document_type=request.document_types[0]
            )
        except PeppolnetError:
            return None

    # --- following up ----------------------------------------------------------------------------

    def follow_up(self) -> list[FollowUpResult]:
        """Look every sent request up again (one run at a time: a mail is sent once)."""
        notifier = self.settings.notifier
        notify = None if notifier is None else CaseLanguageNotifier(notifier)
        with self._follow_lock:
            return self.tracker.follow_up(
                self.state.network, notify=notify, dnssec=self.state.settings.dnssec
            )

    def open_requests(self) -> bool:
        """Whether any request waits for the network (or for its confirmation mail)."""
        if self.tracker.list(RequestStatus.SENT):
            return True
        return self.settings.notifier is not None and any(
            t.notified_at is None for t in self.tracker.list(RequestStatus.CONFIRMED)
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Follow up in the background while the app runs; close the store when it stops."""
        task = None
        if self.settings.follow_up_every > 0:
            task = asyncio.create_task(self._follow_loop(self.settings.follow_up_every))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.close()

    async def _follow_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if await run_in_threadpool(self.open_requests):
                    await run_in_threadpool(self.follow_up)
            except PeppolnetError as exc:  # a locked or damaged store: try again next time
                log.warning("the follow-up of requests failed: %s", type(exc).__name__)


def case_language(tracked: TrackedRequest) -> Language | None:
    """The language the case was asked in (the page's, kept in its plan), if it was kept."""
    stored = (tracked.plan or {}).get("language")
    if not isinstance(stored, str):
        return None
    try:
        return parse_language(stored)
    except ValueError:
        return None


class CaseLanguageNotifier:
    """Sends each confirmation in the language its case was asked in.

    The follow-up runs in the background, long after the page that asked is gone, so the
    language travels with the case; an :class:`EmailNotifier`'s own ``language`` is used for
    cases that kept none (those made through the JSON API). Other notifiers are called as
    they are."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def notify(self, tracked: TrackedRequest, checks: Sequence[SeenCheck]) -> str:
        language = case_language(tracked)
        if language is not None and isinstance(self.notifier, EmailNotifier):
            return self.notifier.notify(tracked, checks, language=language)
        return self.notifier.notify(tracked, checks)


def _database_of(state: WebState) -> Path | None:
    directory = state.directory
    if directory is None:
        return None
    path: Path = directory.path
    return path


def _stored_plan(tracked: TrackedRequest) -> RequestPlan:
    """A plan rebuilt from what the store kept (for a page shown after the send)."""
    stored = tracked.plan or {}
    return RequestPlan(
        PlanAction(stored.get("action", tracked.request.kind.value)),
        _network_state(stored.get("network_state")),
        str(stored.get("message", "")),
        tracked.request,
        meanwhile=tuple(str(line) for line in stored.get("meanwhile", ())),
        language=case_language(tracked),
    )


def _network_state(value: object) -> NetworkState:
    try:
        return NetworkState(str(value))
    except ValueError:
        return NetworkState.UNKNOWN


@contextlib.asynccontextmanager
async def open_desk(state: WebState) -> AsyncIterator[CaseDesk]:
    """The app's case desk while it runs (``create_app``'s lifespan): made from the
    ``CaseSettings`` given to ``create_app``, following up in the background, closed after."""
    settings = state.extra.get("case_settings")
    desk = CaseDesk(state, settings if isinstance(settings, CaseSettings) else CaseSettings())
    state.extra["cases"] = desk
    try:
        async with desk.running():
            yield desk
    finally:
        state.extra.pop("cases", None)


def case_desk(state: WebState) -> CaseDesk:
    """The app's :class:`CaseDesk` (made by ``create_app``)."""
    desk = state.extra.get("cases")
    if not isinstance(desk, CaseDesk):
        raise RuntimeError("the support page was made without its case desk")
    return desk


async def prefill(desk: CaseDesk, participant: str) -> tuple[CaseForm, Reachability | None]:
    """The form for ``participant`` (a participant id), and its verdict now.

    Raises :class:`InvalidInput` for text that is not a participant id."""
    pid = ParticipantId.parse(participant)
    state = desk.state
    result: Reachability | None
    try:
        result = await state.require_lookup().check(pid)
    except PeppolnetError:
        result = None
    name, country, email, number = await _known(state, pid)
    if not country:
        scheme = validate(pid).scheme
        country = scheme.country_code if scheme is not None else ""
    form = CaseForm(
        company_name=name,
        organisation_number=number or pid.local_id,
        country=country,
        operator=desk.default_operator(),
        email=email,
        participant_id=pid.bare,
    )
    return form, result


async def _known(state: WebState, pid: ParticipantId) -> tuple[str, str, str, str]:
    """(name, country, e-mail, organisation number) from the customer directory, else the
    Peppol Directory's business card; empty strings for what neither knows."""
    if state.directory is not None:
        try:
            known = await run_in_threadpool(state.directory.get, pid.bare)
        except PeppolnetError:
            known = None
        if known is not None:
            return known.name, known.country, known.email, known.org_number
    client = state.peppol_directory
    if client is None:
        return "", "", "", ""
    try:
        page = await client.search(participant=pid)
    except (PeppolnetError, InvalidInput):  # a Directory fault leaves the fields for staff
        return "", "", "", ""
    for match in page.matches:
        if match.name:
            return match.name, match.country or "", _invoicing_address(match), ""
    return "", "", "", ""


def _invoicing_address(match: DirectoryMatch) -> str:
    """The e-mail address of the business card's invoicing contact (else its first one)."""
    contacts = [c for entity in match.entities for c in entity.contacts if c.email]
    for contact in contacts:
        if "invoic" in (contact.type or "").lower():
            return contact.email or ""
    return contacts[0].email or "" if contacts else ""
