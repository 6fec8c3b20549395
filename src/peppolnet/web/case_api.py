"""The JSON of the hand-off API and its OpenAPI description (``/api/v1/requests``).

The answers are the request model's own JSON - :meth:`TrackedRequest.to_json`,
:meth:`RequestPlan.to_json`, :meth:`Receipt.to_json` - so a program reads the same keys as
``peppolnet request ... --json`` prints; validation problems come back as the CLI's
``{"valid": false, "problems": [{"field", "message"}]}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from peppolnet.web.openapi import describe, errors

if TYPE_CHECKING:
    from peppolnet.web.casework import Submission

__all__ = ["submission_json"]


def submission_json(submission: Submission) -> dict[str, Any]:
    """What ``POST /api/v1/requests`` answers: the plan, the stored request, the receipt."""
    tracked = submission.tracked
    return {
        "plan": submission.plan.to_json(),
        "request": tracked.to_json() if tracked is not None else None,
        "receipt": submission.receipt.to_json() if submission.receipt is not None else None,
        "send_error": str(submission.send_error) if submission.send_error else None,
    }


_NEW_REQUEST: Final = {
    "type": "object",
    "required": ["company_name", "organisation_number", "operator", "email"],
    "properties": {
        "company_name": {"type": "string"},
        "organisation_number": {"type": "string", "description": "in any common format"},
        "country": {"type": "string", "description": "SE, Sverige, Suomi...; default SE"},
        "operator": {"type": "string", "description": "Seat ID, SPID or a known name"},
        "email": {"type": "string", "description": "the recipient's e-mail address"},
        "requester": {"type": "string", "description": "NAME <EMAIL> or EMAIL"},
        "participant_id": {"type": "string", "description": "when the search found one"},
        "channel": {"type": "string", "description": "a configured channel's name"},
    },
}

_TRACKED: Final = {
    "type": "object",
    "required": ["request_id", "status", "summary", "request"],
    "properties": {
        "request_id": {"type": "string", "format": "uuid"},
        "status": {
            "enum": ["draft", "sending", "sent", "confirmed", "rejected", "expired", "cancelled"]
        },
        "summary": {"type": "string"},
        "request": {"type": "object", "description": "schemas/recipient-request.schema.json"},
        "plan": {"type": ["object", "null"]},
        "channel": {"type": ["string", "null"]},
        "reference": {"type": ["string", "null"]},
        "checks": {"type": "array", "items": {"type": "object"}},
    },
}

_SUBMISSION: Final = {
    "type": "object",
    "required": ["plan", "request", "receipt", "send_error"],
    "properties": {
        "plan": {
            "type": "object",
            "required": ["action", "network_state", "message"],
            "properties": {
                "action": {"enum": ["nothing", "add", "update"]},
                "network_state": {"type": "string"},
                "message": {"type": "string"},
            },
        },
        "request": {"oneOf": [{"$ref": "#/components/schemas/TrackedRequest"}, {"type": "null"}]},
        "receipt": {"type": ["object", "null"]},
        "send_error": {"type": ["string", "null"]},
    },
}

_PROBLEMS: Final = {
    "type": "object",
    "required": ["valid", "problems"],
    "properties": {
        "valid": {"const": False},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _json(schema: str, example: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if example is not None:
        content["example"] = example
    return {"content": {"application/json": content}}


describe(
    "/api/v1/requests",
    {
        "post": {
            "summary": "Ask an operator to register a customer (an add or update request)",
            "description": "Every field is checked at once; the customer is looked up and the "
            "plan decides add, update or nothing; the request is stored and handed to the "
            "configured channel.",
            "requestBody": {
                "required": True,
                **_json(
                    "NewRequest",
                    {
                        "company_name": "Ödeshög Snickeri AB",
                        "organisation_number": "559012-3468",
                        "country": "SE",
                        "operator": "PSE000102",
                        "email": "faktura@odeshog.example",
                    },
                ),
            },
            "responses": {
                "201": {"description": "stored (and sent)", **_json("Submission")},
                "200": {"description": "nothing to send: already reachable", **_json("Submission")},
                "422": {
                    "description": "every problem of the request",
                    **_json(
                        "Problems",
                        {
                            "valid": False,
                            "problems": [
                                {"field": "email", "message": "'x@' is not a valid e-mail address"}
                            ],
                        },
                    ),
                },
                **errors(400, 401, 403, 413, 429),
            },
        }
    },
    {
        "NewRequest": _NEW_REQUEST,
        "TrackedRequest": _TRACKED,
        "Submission": _SUBMISSION,
        "Problems": _PROBLEMS,
    },
)

describe(
    "/api/v1/requests/{request_id}",
    {
        "get": {
            "summary": "A request, its state as follow-up runs, and its history",
            "parameters": [
                {
                    "name": "request_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "the request id, or 8 or more of its first characters",
                }
            ],
            "responses": {
                "200": {"description": "the tracked request", **_json("TrackedRequest")},
                **errors(401, 404),
            },
        }
    },
)
