"""The JSON API under ``/api/v1`` (routes), described by an OpenAPI 3.1 document.

The same data as the page, language-neutral: ``Reachability.to_json()`` per candidate. Lookups
spend the client's rate limit as the page's do. Other features add their endpoints to their own
``routes`` and describe them with :func:`peppolnet.web.openapi.describe`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from peppolnet.errors import InvalidInput
from peppolnet.web import lookups
from peppolnet.web.openapi import describe, errors, json_response
from peppolnet.web.openapi_schemas import SCHEMAS
from peppolnet.web.search import client_key
from peppolnet.web.state import web_state

__all__ = ["limited", "routes"]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def limited(request: Request) -> Response | None:
    """The API's 429 (with Retry-After) when the client has no lookup left, else None (and
    one token spent)."""
    state = web_state(request)
    wait = state.limiter.take(client_key(request))
    if not wait:
        return None
    return _error(429, "too many lookups", {"retry-after": state.limiter.retry_after(wait)})


def _candidate_json(candidate: lookups.Candidate) -> dict[str, Any]:
    return {"found_by": candidate.found_by, "name": candidate.name, **candidate.result.to_json()}


async def api_search(request: Request) -> Response:
    params = request.query_params
    if not params.get("q", "").strip():
        return _error(400, "the query parameter q is required")
    refused = limited(request)
    if refused is not None:
        return refused
    state = web_state(request)
    try:
        query = lookups.classify(
            params.get("q", ""), params.get("country"), state.settings.default_country
        )
        outcome = await lookups.search(state, query, params.get("doctype"))
    except InvalidInput as exc:
        return _error(400, str(exc))
    return JSONResponse(
        {
            "query": {"text": query.text, "kind": query.kind, "country": query.country},
            "candidates": [_candidate_json(c) for c in outcome.candidates],
            "notes": [str(note) for note in outcome.notes],
        }
    )


async def api_participant(request: Request) -> Response:
    refused = limited(request)
    if refused is not None:
        return refused
    try:
        result = await lookups.look_up(
            web_state(request),
            request.path_params["participant"],
            request.query_params.get("doctype"),
        )
    except InvalidInput as exc:
        return _error(400, str(exc))
    return JSONResponse(result.to_json())


async def openapi(request: Request) -> Response:
    from peppolnet.web.openapi import document

    return JSONResponse(document(root=request.scope.get("root_path", "")))


routes: list[BaseRoute] = [
    Route("/api/v1/search", api_search, name="api-search"),
    Route("/api/v1/participants/{participant:path}", api_participant, name="api-participant"),
    Route("/api/v1/openapi.json", openapi, name="api-openapi"),
]


def _parameter(name: str, where: str, description: str, example: str, **more: Any) -> Any:
    return {
        "name": name,
        "in": where,
        "required": where == "path" or more.pop("required", False),
        "description": description,
        "schema": {"type": "string", **more},
        "example": example,
    }


_DOCTYPE = _parameter(
    "doctype",
    "query",
    "the document type: invoice (default), credit-note, or a document type identifier",
    "invoice",
)
# The examples are answers of the built-in sandbox network (`peppolnet serve` shows it);
# tests/test_web_api.py sends each example request and checks the answer against it.
_NORDLYS = "0007:5584821341"
_EXAMPLE_ANSWER = {"participant_id": f"iso6523-actorid-upis::{_NORDLYS}", "verdict": "can-receive"}

describe(
    "/api/v1/search",
    {
        "get": {
            "operationId": "search",
            "summary": "Find candidates by organisation number, VAT number, participant id or "
            "company name, each with its verdict",
            "parameters": [
                _parameter(
                    "q",
                    "query",
                    "what support staff were given: 556732-1707, SE556732170701, "
                    "0007:5567321707 or a company name",
                    "558482-1341",
                    required=True,
                    maxLength=lookups.MAX_QUERY,
                ),
                _parameter(
                    "country",
                    "query",
                    "the country of a number (SE, Sverige, Suomi...); a VAT number names its "
                    "own; default the app's",
                    "SE",
                ),
                _DOCTYPE,
            ],
            "responses": {
                "200": json_response(
                    "the candidates, each with Reachability.to_json()'s keys",
                    "SearchResult",
                    {"query": {"kind": "number"}, "candidates": [_EXAMPLE_ANSWER]},
                ),
                **errors(400, 401, 429),
            },
        }
    },
    SCHEMAS,
)
describe(
    "/api/v1/participants/{participant}",
    {
        "get": {
            "operationId": "lookUpParticipant",
            "summary": "One participant's verdict (the JSON of `peppolnet lookup --json`)",
            "parameters": [
                _parameter("participant", "path", "a participant identifier", _NORDLYS),
                _DOCTYPE,
            ],
            "responses": {
                "200": json_response("Reachability.to_json()", "Reachability", _EXAMPLE_ANSWER),
                **errors(400, 401, 429),
            },
        }
    },
)
describe(
    "/api/v1/openapi.json",
    {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "the OpenAPI 3.1 document"}},
        }
    },
)
