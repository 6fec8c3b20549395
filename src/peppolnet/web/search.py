"""The search page and the result page (routes): the answer first, the details after.

``GET /`` is the search box; ``GET /search?q=..&country=..&doctype=..`` and
``GET /participant/{id}?doctype=..`` are permalinks that render the same cards (a support
person pastes them into a ticket). Every lookup takes a token of the client's rate limit.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from peppolnet.errors import InvalidInput
from peppolnet.i18n import Message, _, render
from peppolnet.web import lookups
from peppolnet.web.cards import card
from peppolnet.web.state import WebState, web_state

__all__ = ["client_key", "not_found", "refusal", "routes"]

DOCUMENT_TYPES = ("invoice", "credit-note")


def client_key(request: Request) -> str:
    """Whose rate limit a request spends: the authenticated user, else the peer address."""
    user = getattr(request.state, "user", None)
    if user:
        return f"user:{user}"
    return f"addr:{request.client.host if request.client else '-'}"


def _form(request: Request) -> dict[str, str]:
    params = request.query_params
    doctype = params.get("doctype", "invoice")[:300]
    return {
        "q": params.get("q", "")[: lookups.MAX_QUERY * 2],
        "country": params.get("country", "")[:60],
        "doctype": doctype,
        "doctype_option": _doctype_option(doctype),
    }


def _doctype_option(doctype: str) -> str:
    """The form's option for the document type asked: an alias or identifier of one of its
    two types selects that type; anything else keeps an option of its own, as asked, so the
    form shows what the answer is about and sending it again asks the same."""
    from peppolnet.lookup import resolve_document_type

    try:
        asked = resolve_document_type(doctype)
    except InvalidInput:
        return doctype
    for option in DOCUMENT_TYPES:
        if resolve_document_type(option) == asked:
            return option
    return doctype


def _page(
    request: Request,
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    state = web_state(request)
    base = {"form": _form(request), "document_types": DOCUMENT_TYPES}
    return state.templates.response(
        request, name, {**base, **context}, status_code=status, headers=headers
    )


async def index(request: Request) -> Response:
    return _page(request, "search.html", outcome=None, error=None)


def limited(request: Request, state: WebState) -> Response | None:
    """The 429 page when the client has no lookup left, else None (and one token spent)."""
    wait = state.limiter.take(client_key(request))
    if not wait:
        return None
    message = _("Too many lookups; try again in {seconds} seconds.", seconds=int(wait) + 1)
    headers = {"retry-after": state.limiter.retry_after(wait)}
    error = render(message, request.state.lang)
    return _page(request, "search.html", 429, headers, outcome=None, error=error)


async def search_page(request: Request) -> Response:
    state = web_state(request)
    form = _form(request)
    if not form["q"].strip():
        return await index(request)
    refused = limited(request, state)
    if refused is not None:
        return refused
    try:
        query = lookups.classify(form["q"], form["country"], state.settings.default_country)
        outcome = await lookups.search(state, query, form["doctype"])
    except InvalidInput as exc:
        return _error(request, exc)
    return _page(request, "search.html", outcome=_shown(outcome, request), error=None)


async def participant_page(request: Request) -> Response:
    """One participant: its card with every detail, the business card, and with ``?trace=1``
    the trace of a fresh lookup (every step: DNS, TLS, HTTP, signature, certificates)."""
    state = web_state(request)
    refused = limited(request, state)
    if refused is not None:
        return refused
    participant = request.path_params["participant"]
    doctype = _form(request)["doctype"]
    lang = request.state.lang
    trace = None
    try:
        if request.query_params.get("trace") == "1":
            result, trace = await lookups.traced(state, participant, doctype, lang)
        else:
            result = await lookups.look_up(state, participant, doctype)
    except InvalidInput as exc:
        return _error(request, exc)
    item = {
        "candidate": lookups.Candidate(result, "participant"),
        "card": card(result, lang),
        "card_data": await lookups.business_card(state, result),
        "trace": trace,
    }
    return _page(request, "participant.html", cards=[item], result=result)


def _shown(outcome: lookups.SearchOutcome, request: Request) -> dict[str, Any]:
    lang = request.state.lang
    return {
        "query": outcome.query,
        "cards": [{"candidate": c, "card": card(c.result, lang)} for c in outcome.candidates],
        "notes": [render(note, lang) for note in outcome.notes],
    }


def _error(request: Request, exc: InvalidInput) -> Response:
    text = render(exc, request.state.lang)
    return _page(request, "search.html", 400, outcome=None, error=text)


_REFUSALS: dict[int, Message] = {
    400: _("The form could not be read. Fill it in again on the page and send it once more."),
    401: _("Sign in to use the support page."),
    403: _("The form had expired or came from another page. Reload the page and try again."),
    404: _("There is no such page."),
    405: _("There is no such page."),
    413: _("The upload is too large."),
}


def refusal(request: Request, state: WebState) -> Response:
    """The page for a request refused before it reached a route (401, 403, 413), that no
    route takes (404, 405), or whose form could not be parsed (400: too many files or fields,
    a broken multipart body); on the JSON API, ``{"error": sentence}`` in its own words."""
    status: int = request.scope.get("peppolnet.refused", 403)
    headers: dict[str, str] = request.scope.get("peppolnet.challenge", {})
    lang = getattr(request.state, "lang", state.language)
    if request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/"):
        from starlette.responses import JSONResponse

        error = _api_refusal(request, state, status, headers)
        return JSONResponse({"error": error}, status, headers)
    text = render(_REFUSALS.get(status, _REFUSALS[403]), lang)
    html = state.templates.render("refused.html", lang, {"request": request, "message": text})
    from starlette.responses import HTMLResponse

    return HTMLResponse(html, status, headers)


def _api_refusal(request: Request, state: WebState, status: int, headers: dict[str, str]) -> str:
    """What a program is told: the API speaks to integrators, not to someone at a form."""
    if status == 400:
        return "the request body could not be read"
    if status == 401:
        return str(_REFUSALS[401])
    if status == 404:
        return f"there is no such address in the API: {request.url.path[:200]}"
    if status == 405:
        return f"{request.method[:20]} is not allowed here; use {headers.get('allow', 'GET')}"
    if status == 413:
        return f"the request body is larger than {state.settings.max_body_bytes} bytes"
    return (
        "refused: a request to the JSON API needs a JSON body (Content-Type: "
        "application/json) and must not come from another site"
    )


async def not_found(request: Request, exc: Exception) -> Response:
    """The router's and the form parser's refusals (400, 404, 405) as the app's own pages:
    in the page's language, or JSON on the API - never Starlette's English plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    request.scope["peppolnet.refused"] = status
    allow = exc.headers.get("Allow") if isinstance(exc, HTTPException) and exc.headers else None
    if allow:  # a 405 names the methods the address takes (RFC 9110 15.5.6), in a stable order
        methods = sorted(method.strip() for method in allow.split(","))
        request.scope["peppolnet.challenge"] = {"allow": ", ".join(methods)}
    return refusal(request, web_state(request))


routes: list[BaseRoute] = [
    Route("/", index, name="index"),
    Route("/search", search_page, name="search"),
    Route("/participant/{participant:path}", participant_page, name="participant"),
]
