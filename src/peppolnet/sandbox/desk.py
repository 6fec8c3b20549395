"""The sandbox operator desk: where add/update-recipient requests arrive and get carried out.

Real operators take onboarding requests by mail or through a portal, a person checks them, and
days later the participant appears in the SML. The desk plays that part for the sandbox, over
HTTP so that :class:`peppolnet.recipients.HttpChannel` is tested against a real socket:

* ``POST /requests`` (the request JSON, an ``Idempotency-Key`` header) -> ``202 {"case_id",
  "status": "received"}``. The desk dedupes on the key, as an operator's API would: the same
  send again (same key, same request) -> ``200`` with the case it already has, never two cases;
  the same key with another request -> ``422``. Without the header the request id is the key.
  A new submission (a corrected request, a move back) comes with a new key: a new case.
* ``GET /requests/{case_id or request_id}`` -> the case (for a request id: its latest case):
  ``received``, then ``registered`` / ``moved``, or ``rejected`` with a reason;
* ``GET /requests`` -> every case.

After ``delay`` seconds (a :class:`threading.Timer`, so the HTTP answer never waits) the desk
calls the sandbox's ``register_participant`` or ``move_participant``; from then on DNS, the SMP
and the Directory show the change. It applies the SML's rules: an add for a participant already
registered elsewhere is refused (the SML's ERR-106), an update must name the operator that holds
the participant now.

Tests and demos that want to see a case *before* the operator acts call :meth:`OperatorDesk.hold`
and later :meth:`OperatorDesk.release`: a held case stays ``received`` for as long as the caller
needs, however slow the machine, instead of for a delay the caller has to outrun.
:meth:`OperatorDesk.settle` waits until every released case has been carried out (so a test can
undo what the desk did without racing its timer).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from peppolnet.errors import InvalidRequest, PeppolnetError
from peppolnet.identifiers import ParticipantId
from peppolnet.recipients.render import from_json
from peppolnet.recipients.request import (
    AddRecipientRequest,
    RequestKind,
    UpdateRecipientRequest,
)
from peppolnet.sandbox.config import ParticipantConfig, SandboxConfig
from peppolnet.sandbox.http import Request, Response

__all__ = ["Case", "DeskSandbox", "OperatorDesk"]

RECEIVED: Final = "received"
REGISTERED: Final = "registered"
MOVED: Final = "moved"
REJECTED: Final = "rejected"


class DeskSandbox(Protocol):
    """What the desk needs from a sandbox (:class:`peppolnet.sandbox.runtime.Sandbox` has it)."""

    @property
    def config(self) -> SandboxConfig: ...

    @property
    def participants(self) -> Mapping[ParticipantId, ParticipantConfig]: ...

    def register_participant(self, participant: ParticipantConfig) -> None: ...

    def move_participant(self, participant: ParticipantId | str, operator: str) -> None: ...


@dataclasses.dataclass
class Case:
    """One request as the desk tracks it."""

    case_id: str
    request_id: str
    kind: str
    participant_id: str
    operator: str
    idempotency_key: str = ""
    status: str = RECEIVED
    reason: str | None = None
    received_at: float = 0.0
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The JSON the desk answers with."""
        return dataclasses.asdict(self)


def _same(
    first: AddRecipientRequest | UpdateRecipientRequest,
    second: AddRecipientRequest | UpdateRecipientRequest,
) -> bool:
    """Whether two documents are the same request (the status field is the sender's business)."""
    return first.model_dump(exclude={"status"}) == second.model_dump(exclude={"status"})


def _json(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8"})


class OperatorDesk:
    """An HTTP handler (``desk.handle``) that turns requests into sandbox registrations."""

    def __init__(
        self,
        sandbox: DeskSandbox,
        *,
        delay: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sandbox = sandbox
        self.delay = delay
        self._clock = clock
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._by_request: dict[str, str] = {}  # request id -> its latest case id
        self._by_key: dict[str, str] = {}  # idempotency key -> case id
        self._requests: dict[str, AddRecipientRequest | UpdateRecipientRequest] = {}
        self._timers: list[threading.Timer] = []
        self._done = threading.Condition(self._lock)
        self._holding = False
        # Cases received while holding, waiting for release(): case id -> request.
        self._held: dict[str, AddRecipientRequest | UpdateRecipientRequest] = {}
        # Cases whose timer is running (released or never held): what settle() waits for.
        self._pending: set[str] = set()

    # --- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route one HTTP request (plug into :class:`peppolnet.sandbox.http.HttpServer`)."""
        path = request.path.split("?", 1)[0].rstrip("/")
        if path == "/requests":
            if request.method == "POST":
                key = next(
                    (v for k, v in request.headers.items() if k.lower() == "idempotency-key"),
                    None,
                )
                return self._post(request.body, key)
            if request.method == "GET":
                with self._lock:
                    return _json(200, {"cases": [c.to_json() for c in self._cases.values()]})
            return _json(405, {"error": f"{request.method} is not allowed on /requests"})
        if path.startswith("/requests/") and request.method == "GET":
            case = self.case(path.removeprefix("/requests/"))
            if case is None:
                return _json(404, {"error": "no such case"})
            return _json(200, case)
        return _json(404, {"error": f"nothing at {path or '/'}"})

    def _post(self, body: bytes, key: str | None) -> Response:
        if key is not None and not 0 < len(key.strip()) <= 255:
            return _json(400, {"error": "the Idempotency-Key header must be 1-255 characters"})
        try:
            recipient = from_json(body)
        except InvalidRequest as exc:
            return _json(400, {"error": exc.message, "problems": [list(p) for p in exc.problems]})
        key = key.strip() if key is not None else recipient.request_id
        now = self._clock()
        with self._lock:
            known = self._by_key.get(key)
            if known is not None:
                if not _same(self._requests[known], recipient):
                    return _json(
                        422,
                        {
                            "error": f"the Idempotency-Key {key!r} was used for another request "
                            f"(case {known}); a new request needs a new key"
                        },
                    )
                return _json(200, self._cases[known].to_json())
            case = Case(
                case_id=f"case-{uuid.uuid4().hex[:16]}",
                request_id=recipient.request_id,
                kind=recipient.kind.value,
                participant_id=recipient.participant_id.uri,
                operator=recipient.operator.seat_id,
                idempotency_key=key,
                received_at=now,
                updated_at=now,
            )
            self._cases[case.case_id] = case
            self._by_request[case.request_id] = case.case_id
            self._by_key[key] = case.case_id
            self._requests[case.case_id] = recipient
            if self._holding:
                self._held[case.case_id] = recipient
            else:
                self._schedule(case.case_id, recipient)
            return _json(202, case.to_json())

    def _schedule(
        self, case_id: str, request: AddRecipientRequest | UpdateRecipientRequest
    ) -> None:
        """Carry the case out ``delay`` seconds from now (the caller holds the lock)."""
        self._pending.add(case_id)
        timer = threading.Timer(self.delay, self._process, (case_id, request))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    # --- holding cases back (tests and demos) ----------------------------------------------------

    def hold(self) -> None:
        """Keep every case that arrives from now on in ``received`` until :meth:`release`.

        Why: "what does a follow-up see before the operator acted?" is otherwise a race against
        ``delay`` that a busy machine loses; a held case waits for the caller instead.
        """
        with self._lock:
            self._holding = True

    def release(self, case_or_request_id: str | None = None) -> list[str]:
        """Let held cases go on; each is carried out ``delay`` seconds from now.

        With an id (a case id or a request id), only that case goes and the desk keeps holding
        new ones; without one, every held case goes and the desk stops holding. Returns the ids
        of the cases released (empty when nothing matched: releasing twice is harmless).
        """
        with self._lock:
            if case_or_request_id is None:
                self._holding = False
                chosen = list(self._held)
            else:
                key = self._by_request.get(case_or_request_id, case_or_request_id)
                chosen = [key] if key in self._held else []
            for case_id in chosen:
                self._schedule(case_id, self._held.pop(case_id))
            return chosen

    @property
    def held(self) -> list[str]:
        """The ids of the cases waiting for :meth:`release`."""
        with self._lock:
            return list(self._held)

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every case that is not held has been carried out; False on timeout.

        For clean-up code: after it, the desk will not change the sandbox any more (unless more
        requests arrive or held cases are released), so undoing its changes does not race it.
        """
        deadline = time.monotonic() + timeout
        with self._done:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
            return True

    # --- the work --------------------------------------------------------------------------------

    def case(self, case_or_request_id: str) -> dict[str, Any] | None:
        """A case by its id or by the request id, as JSON."""
        with self._lock:
            key = self._by_request.get(case_or_request_id, case_or_request_id)
            case = self._cases.get(key)
            return None if case is None else case.to_json()

    def wait(self, case_or_request_id: str, timeout: float = 60.0) -> dict[str, Any] | None:
        """Block until the case has left ``received`` (for tests and demos); the case or None.

        ``timeout`` only keeps a broken test from hanging: a case that is held, or on a very
        busy machine, comes back still ``received`` when it runs out.
        """
        deadline = time.monotonic() + timeout
        with self._done:
            while True:
                key = self._by_request.get(case_or_request_id, case_or_request_id)
                case = self._cases.get(key)
                if case is None:
                    return None
                if case.status != RECEIVED:
                    return case.to_json()
                left = deadline - time.monotonic()
                if left <= 0:
                    return case.to_json()
                self._done.wait(left)

    def _process(self, case_id: str, request: AddRecipientRequest | UpdateRecipientRequest) -> None:
        try:
            status, reason = self._carry_out(request)
        except PeppolnetError as exc:
            status, reason = REJECTED, str(exc)
        with self._done:
            case = self._cases[case_id]
            case.status, case.reason, case.updated_at = status, reason, self._clock()
            self._pending.discard(case_id)
            self._done.notify_all()

    def _carry_out(
        self, request: AddRecipientRequest | UpdateRecipientRequest
    ) -> tuple[str, str | None]:
        operators = {op.seat_id: op for op in self.sandbox.config.operators}
        seat_ids = {op.id: op.seat_id for op in self.sandbox.config.operators}
        target = operators.get(request.operator.seat_id)
        if target is None:
            return REJECTED, f"unknown operator Seat ID {request.operator.seat_id} in this network"
        pid = request.participant_id
        existing = self.sandbox.participants.get(pid)
        registered = existing is not None and existing.in_sml
        if request.kind is RequestKind.ADD:
            if existing is not None and registered:
                holder = seat_ids.get(existing.operator, existing.operator)
                if existing.operator == target.id:
                    return REGISTERED, f"{pid.bare} was already registered with {holder}"
                return (
                    REJECTED,
                    f"{pid.bare} is already registered with {holder} (SML ERR-106); "
                    "send an update request to move it",
                )
            self.sandbox.register_participant(
                ParticipantConfig(
                    id=pid,
                    name=request.company_name,
                    country=request.country,
                    operator=target.id,
                    document_types=tuple(request.document_types),
                )
            )
            return REGISTERED, None
        assert isinstance(request, UpdateRecipientRequest)
        if existing is None or not registered:
            return REJECTED, f"{pid.bare} is not registered; send an add request instead"
        holder = seat_ids.get(existing.operator, existing.operator)
        if existing.operator == target.id:
            return MOVED, f"{pid.bare} was already with {holder}"
        if request.current_operator.seat_id != holder:
            return (
                REJECTED,
                f"{pid.bare} is registered with {holder}, not with "
                f"{request.current_operator.seat_id} as the request says",
            )
        self.sandbox.move_participant(pid, target.id)
        return MOVED, None

    # --- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel pending work (cases still ``received`` stay so)."""
        with self._done:
            timers, self._timers = self._timers, []
            self._held.clear()
            self._pending.clear()
            self._done.notify_all()
        for timer in timers:
            timer.cancel()

    def __enter__(self) -> OperatorDesk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
