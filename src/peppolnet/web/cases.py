"""The hand-off: a prefilled add/update-recipient form and the case page (routes).

``GET /cases/new?participant=..`` is the form, prefilled from what the network and the customer
directory know (:func:`peppolnet.web.casework.prefill`); ``POST /cases`` checks every field at
once and shows each problem next to its field, or stores and sends the request and goes on to
``GET /cases/{request_id}``, the case page: the request's state as follow-up runs, what the
network showed, the confirmation e-mail once it went, and what to do meanwhile. ``GET /cases``
lists the cases and the customers the directory saw move to another operator.

The JSON API (``POST /api/v1/requests``, ``GET /api/v1/requests/{id}``) does the same for
programs; its answers are the request model's ``to_json()``, language-neutral.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from peppolnet.errors import InvalidInput, InvalidRequest, PeppolnetError
from peppolnet.i18n import Message, _, render
from peppolnet.recipients.plan import invoice_advice
from peppolnet.recipients.request import OperatorRef, RequestStatus
from peppolnet.recipients.tracking import TrackedRequest
from peppolnet.web import case_api
from peppolnet.web.api import limited
from peppolnet.web.cards import card, document_label
from peppolnet.web.casework import (
    FIELDS,
    CaseDesk,
    CaseForm,
    Submission,
    case_desk,
    case_language,
    open_desk,
    prefill,
)
from peppolnet.web.search import client_key
from peppolnet.web.state import web_state

__all__ = ["route_path", "routes", "running"]

running = open_desk
"""The case desk while the app runs (entered by ``create_app``'s lifespan)."""

_OPEN = frozenset({RequestStatus.DRAFT, RequestStatus.SENDING, RequestStatus.SENT})


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    state = web_state(request)
    desk = case_desk(state)
    base = {
        "operators": sorted(desk.operators or (), key=lambda op: op.name or op.seat_id),
        "channels": list(state.channels),
        "nothing": None,
        "verdict": None,
        "problems": {},
    }
    return state.templates.response(request, name, {**base, **context}, status_code=status)


def route_path(request: Request, name: str, **params: str) -> str:
    """The path of route ``name`` under the prefix the app is mounted at: redirects are
    relative, so they work behind any proxy, scheme or host name."""
    root: str = request.scope.get("root_path", "")
    return root + str(request.app.url_path_for(name, **params))


def _problems(exc: InvalidRequest, lang: str) -> dict[str, list[str]]:
    """Every problem by the field it belongs to (fields the form lacks go under ``form``)."""
    shown: dict[str, list[str]] = {}
    for field, message in exc.problems:
        key = field if field in FIELDS else "form"
        shown.setdefault(key, []).append(render(message, lang))
    return shown


async def new_case(request: Request) -> Response:
    """The form, prefilled for ``?participant=``, or empty."""
    state = web_state(request)
    desk = case_desk(state)
    participant = request.query_params.get("participant", "").strip()[:300]
    if not participant:
        form = CaseForm(operator=desk.default_operator())
        return _page(request, "case_form.html", form=form, problems={}, verdict=None)
    wait = state.limiter.take(client_key(request))
    if wait:
        problems = {"form": [render(_("Too many lookups; try again shortly."), request.state.lang)]}
        return _page(
            request, "case_form.html", 429, form=CaseForm(), problems=problems, verdict=None
        )
    try:
        form, result = await prefill(desk, participant)
    except InvalidInput as exc:
        problems = {"form": [render(exc, request.state.lang)]}
        return _page(
            request, "case_form.html", 400, form=CaseForm(), problems=problems, verdict=None
        )
    verdict = card(result, request.state.lang) if result is not None else None
    return _page(request, "case_form.html", form=form, problems={}, verdict=verdict)


async def cases_page(request: Request) -> Response:
    """``GET``: the cases and the customers that moved; ``POST``: submit the form."""
    if request.method == "POST":
        return await _submit(request)
    state = web_state(request)
    desk = case_desk(state)
    tracked = await run_in_threadpool(desk.tracker.list)
    moved = await run_in_threadpool(_moved_customers, state)
    return _page(request, "cases.html", cases=tracked[:100], moved=moved)


def _moved_customers(state: Any) -> list[Any]:
    """Customers the directory saw change operator: candidates for an update request."""
    if state.directory is None:
        return []
    try:
        changes = state.directory.changes()
    except PeppolnetError:
        return []
    return [c for c in changes if c.kind == "changed-operator"][:50]


async def _submit(request: Request) -> Response:
    state = web_state(request)
    desk = case_desk(state)
    async with request.form() as data:
        form = CaseForm.from_mapping(data)
    lang = request.state.lang
    if state.limiter.take(client_key(request)):
        problems = {"form": [render(_("Too many lookups; try again shortly."), lang)]}
        return _page(request, "case_form.html", 429, form=form, problems=problems, verdict=None)
    try:
        submission = await desk.submit(form, language=lang)
    except InvalidRequest as exc:
        return _page(
            request, "case_form.html", 422, form=form, problems=_problems(exc, lang), verdict=None
        )
    except InvalidInput as exc:
        problems = {"form": [render(exc, lang)]}
        return _page(request, "case_form.html", 422, form=form, problems=problems, verdict=None)
    if submission.tracked is None:  # nothing to send: already reachable through the operator
        return _page(
            request, "case_form.html", form=form, problems={}, verdict=None, nothing=submission.plan
        )
    return _to_case(request, submission)


def _to_case(request: Request, submission: Submission) -> Response:
    assert submission.tracked is not None
    path = route_path(request, "case", request_id=submission.tracked.request_id)
    if submission.send_error is not None:
        path += "?failed=1"
    return RedirectResponse(path, status_code=303)


async def case_page(request: Request) -> Response:
    """One case: its state, what the network showed, the confirmation, the advice."""
    desk = case_desk(web_state(request))
    tracked = await _tracked(desk, request.path_params["request_id"])
    if tracked is None:
        message = render(_("There is no such case."), request.state.lang)
        return _page(request, "refused.html", 404, message=message)
    history = await run_in_threadpool(desk.tracker.history, tracked.request_id)
    return _page(
        request,
        "case.html",
        case=tracked,
        history=history,
        open=tracked.status in _OPEN,
        refresh=desk.settings.refresh_every if _changing(desk, tracked) else None,
        checks=_checks(tracked, request.state.lang),
        confirmation=_confirmation(desk, tracked),
        send_failed=request.query_params.get("failed") == "1",
        meanwhile=_meanwhile(desk, tracked),
    )


def _changing(desk: CaseDesk, tracked: TrackedRequest) -> bool:
    """Whether the case page will change by itself (so it reloads): the request waits for the
    network, or it is confirmed and its confirmation mail is still to go (the follow-up marks
    it confirmed first, then mails)."""
    if tracked.status is RequestStatus.SENT:
        return True
    return (
        tracked.status is RequestStatus.CONFIRMED
        and desk.settings.notifier is not None
        and tracked.notified_at is None
    )


def _checks(tracked: TrackedRequest, lang: str) -> list[dict[str, str]]:
    """What the last follow-up saw, per document type, in the page's language."""
    return [
        {
            "document": render(document_label(check.document_type), lang),
            "verdict": check.verdict.value,
            "label": check.verdict.label(lang),
            "operator": str(OperatorRef.of(check.operator)) if check.operator else "",
        }
        for check in tracked.checks
    ]


async def _tracked(desk: CaseDesk, request_id: str) -> TrackedRequest | None:
    if not 8 <= len(request_id) <= 64:
        return None
    try:
        return await run_in_threadpool(desk.tracker.get, request_id)
    except InvalidInput:  # an ambiguous prefix: no case of its own
        return None


def _confirmation(desk: CaseDesk, tracked: TrackedRequest) -> dict[str, str] | None:
    """The confirmation e-mail as it went (re-rendered from the stored request and checks)."""
    notifier = desk.settings.notifier
    if tracked.notified_at is None or notifier is None:
        return None
    from peppolnet.recipients.tracking import render_confirmation

    sender = str(getattr(notifier, "sender", "") or "peppolnet")
    to = getattr(notifier, "to", None)
    language = case_language(tracked) or getattr(notifier, "language", None)
    mail = render_confirmation(
        tracked.request, sender=sender, to=to, checks=tracked.checks, language=language
    )
    body = mail.get_body(("plain",))
    return {
        "to": str(mail["To"]),
        "subject": str(mail["Subject"]),
        "body": body.get_content() if body is not None else "",
    }


def _meanwhile(desk: CaseDesk, tracked: TrackedRequest) -> list[Message]:
    """What to do until the network shows the change (the plan's advice), then how the case
    ends; rendered in the page's language."""
    if tracked.status not in _OPEN:
        return []
    request = tracked.request
    current = getattr(request, "current_operator", None)
    plan = tracked.plan or {}
    # a move planned from the network: the customer was registered, and received, elsewhere
    moving = current is not None and plan.get("network_state") == "registered-elsewhere"
    return [
        invoice_advice(request, current, moving, desk.settings.requires_einvoice),
        _(
            "The case is done when {participant} can receive through {operator}; this page "
            "checks the network again by itself.",
            participant=request.participant_id.bare,
            operator=str(request.operator),
        ),
    ]


async def follow_up_now(request: Request) -> Response:
    """Look the open requests up again now (the page's "Check now" button)."""
    desk = case_desk(web_state(request))
    # on a fault the page shows the request as it is; the next run tries again
    with contextlib.suppress(PeppolnetError):
        await run_in_threadpool(desk.follow_up)
    path = route_path(request, "case", request_id=request.path_params["request_id"])
    return RedirectResponse(path, status_code=303)


async def send_again(request: Request) -> Response:
    """Send a draft again (after a failed send); the same idempotency key goes with it."""
    desk = case_desk(web_state(request))
    tracked = await _tracked(desk, request.path_params["request_id"])
    if tracked is None:
        message = render(_("There is no such case."), request.state.lang)
        return _page(request, "refused.html", 404, message=message)
    async with request.form() as data:
        chosen = desk.channel(str(data.get("channel") or ""))
    if chosen is None or tracked.status is not RequestStatus.DRAFT:
        return RedirectResponse(route_path(request, "case", request_id=tracked.request_id), 303)
    try:
        submission = await desk.send(tracked.request_id, chosen)
    except InvalidRequest as exc:
        form = _form_of(tracked)
        problems = _problems(exc, request.state.lang)
        return _page(request, "case_form.html", 422, form=form, problems=problems, verdict=None)
    return _to_case(request, submission)


def _form_of(tracked: TrackedRequest) -> CaseForm:
    r = tracked.request
    return CaseForm(
        company_name=r.company_name,
        organisation_number=r.organisation_number,
        country=r.country,
        operator=r.operator.seat_id,
        email=r.email,
        requester=str(r.requester.email) if r.requester else "",
        participant_id=r.participant_id.bare,
    )


# --- the JSON API -----------------------------------------------------------------------------


def _json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def api_create(request: Request) -> Response:
    """``POST /api/v1/requests``: validate, plan, store and send one request."""
    state = web_state(request)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _json_error(400, "the body must be a JSON object")
    except RecursionError:  # "[[[[..." nested deeper than Python's parser goes
        return _json_error(400, "the body must be a JSON object, not one nested this deep")
    if not isinstance(body, dict):
        return _json_error(400, "the body must be a JSON object")
    refused = limited(request)
    if refused is not None:
        return refused
    desk = case_desk(state)
    form = CaseForm.from_mapping(body)
    not_text = _not_text(body)
    if not_text:  # every problem at once, before anything is looked up or stored
        typed = {field for field, _message in not_text}
        return _problems_json([*not_text, *_form_problems(form, desk, skip=typed)])
    try:
        submission = await desk.submit(form)
    except InvalidRequest as exc:
        return _problems_json(exc.problems)
    except InvalidInput as exc:
        return JSONResponse(
            {"valid": False, "problems": [{"field": "request", "message": str(exc)}]}, 422
        )
    return JSONResponse(case_api.submission_json(submission), status_code=_created(submission))


_JSON_TYPES = ((bool, "true or false"), ((int, float), "a number"), (list, "an array"))


def _not_text(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The form's fields that the JSON body gives as something other than a string (a null
    is an absent field): ``CaseForm`` reads them as empty, which would be said as "missing"."""
    problems = []
    for field in dataclasses.fields(CaseForm):
        value = body.get(field.name)
        if value is None or isinstance(value, str):
            continue
        kind = next((name for types, name in _JSON_TYPES if isinstance(value, types)), "an object")
        problems.append((field.name, f"must be a string, not {kind}"))
    return problems


def _form_problems(form: CaseForm, desk: CaseDesk, skip: set[str]) -> list[tuple[str, object]]:
    """What validation says of ``form`` (no lookup), but of the fields in ``skip``."""
    try:
        form.build(desk.operators)
    except InvalidRequest as exc:
        return [(field, message) for field, message in exc.problems if field not in skip]
    return []


def _problems_json(problems: Sequence[tuple[str, object]]) -> JSONResponse:
    listed = [{"field": field, "message": str(message)} for field, message in problems]
    return JSONResponse({"valid": False, "problems": listed}, status_code=422)


def _created(submission: Submission) -> int:
    return 200 if submission.tracked is None else 201


async def api_get(request: Request) -> Response:
    """``GET /api/v1/requests/{id}``: the request, its state and its history."""
    desk = case_desk(web_state(request))
    tracked = await _tracked(desk, request.path_params["request_id"])
    if tracked is None:
        return _json_error(404, "no such request")
    history = await run_in_threadpool(desk.tracker.history, tracked.request_id)
    return JSONResponse({**tracked.to_json(), "history": [e.to_json() for e in history]})


routes: list[BaseRoute] = [
    Route("/cases", cases_page, methods=["GET", "POST"], name="cases"),
    Route("/cases/new", new_case, name="new_case"),
    Route("/cases/{request_id}", case_page, name="case"),
    Route("/cases/{request_id}/follow-up", follow_up_now, methods=["POST"], name="case_follow_up"),
    Route("/cases/{request_id}/send", send_again, methods=["POST"], name="case_send"),
    Route("/api/v1/requests", api_create, methods=["POST"], name="api-requests"),
    Route("/api/v1/requests/{request_id}", api_get, name="api-request"),
]
