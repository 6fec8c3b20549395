"""The OpenAPI 3.1 document of the JSON API, written next to the routes it describes.

Each path is described once, with hand-written JSON Schema (the API returns the library's own
``to_json()`` dicts, whose keys are documented in docs/lookup.md) and a request/response
example; tests send every example to the app and check the answer against the schema. Other
features (the hand-off's ``/api/v1/requests``) call :func:`describe` when their module loads.
"""

from __future__ import annotations

import copy
from typing import Any

from peppolnet._version import __version__

__all__ = ["describe", "document"]

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {}


def describe(
    path: str, operations: dict[str, Any], schemas: dict[str, dict[str, Any]] | None = None
) -> None:
    """Add ``path`` (its operations by method) and any component ``schemas`` to the document."""
    _PATHS.setdefault(path, {}).update(operations)
    _SCHEMAS.update(schemas or {})


def document(root: str = "") -> dict[str, Any]:
    """The whole OpenAPI document; ``root`` is the prefix the app is mounted under."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "peppolnet support API",
            "version": __version__,
            "description": "Can this customer receive a Peppol e-invoice, and through which "
            "operator? The same answers as the support page, language-neutral.",
        },
        "servers": [{"url": root or "/"}],
        "paths": copy.deepcopy(_PATHS),
        "components": {"schemas": copy.deepcopy(_SCHEMAS)},
    }


def json_response(description: str, schema: str, example: Any = None) -> dict[str, Any]:
    """An OpenAPI response object whose JSON body is the component ``schema``."""
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def errors(*statuses: int) -> dict[str, Any]:
    """The error responses (``{"error": sentence}``) an operation may give."""
    meaning = {
        400: "the value is not valid (the sentence names what was wrong)",
        401: "not authenticated",
        403: "refused: a body that is not application/json, or a request from another site",
        404: "no such resource",
        413: "the request body is larger than the app's max_body_bytes",
        429: "too many lookups from this client; see Retry-After",
    }
    return {str(status): json_response(meaning[status], "Error") for status in statuses}
