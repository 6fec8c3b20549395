"""JSON Schema of the API's answers: the library's ``to_json()`` dicts, key by key.

Kept apart from the routes because they are long; ``api`` registers them with the document.
The keys and their meaning are the ones docs/lookup.md documents for ``Reachability.to_json()``.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["SCHEMAS"]

_TEXT: Final = {"type": "string"}
_MAYBE_TEXT: Final = {"type": ["string", "null"]}
_WHEN: Final = {"type": ["string", "null"], "format": "date-time"}

_CERTIFICATE: Final[dict[str, Any]] = {
    "type": ["object", "null"],
    "required": ["subject", "issuer", "serial", "not_before", "not_after", "sha256_fingerprint"],
    "properties": {
        "subject": _TEXT,
        "issuer": _TEXT,
        "serial": {"type": "integer"},
        "not_before": _TEXT,
        "not_after": _TEXT,
        "sha256_fingerprint": _TEXT,
        "common_name": _MAYBE_TEXT,
        "seat_id": _MAYBE_TEXT,
        "organisation": _MAYBE_TEXT,
        "country": _MAYBE_TEXT,
        "pem": _MAYBE_TEXT,
    },
}

_REACHABILITY: Final[dict[str, Any]] = {
    "type": "object",
    "description": "Reachability.to_json(): one lookup's verdict, every check and what it found.",
    "required": [
        "query", "participant_id", "document_type", "process", "network", "verdict", "reason",
        "operator", "endpoint", "smp_url", "checks", "document_types", "candidates",
        "retryable", "timings_ms", "at",
    ],
    "properties": {
        "query": _TEXT,
        "participant_id": _MAYBE_TEXT,
        "document_type": _TEXT,
        "process": _MAYBE_TEXT,
        "network": _TEXT,
        "verdict": {"enum": ["can-receive", "cannot-receive", "not-registered", "unknown"]},
        "reason": _TEXT,
        "operator": {
            "type": ["object", "null"],
            "required": ["seat_id"],
            "properties": {
                "seat_id": _TEXT,
                "name": _MAYBE_TEXT,
                "country": _MAYBE_TEXT,
                "smp_urls": {"type": "array", "items": _TEXT},
                "ap_urls": {"type": "array", "items": _TEXT},
                "certificate_fingerprints": {"type": "array", "items": _TEXT},
                "aliases": {"type": "array", "items": _TEXT},
            },
        },
        "endpoint": {
            "type": ["object", "null"],
            "required": ["url", "transport_profile"],
            "properties": {
                "url": _MAYBE_TEXT,
                "transport_profile": _TEXT,
                "activation": _WHEN,
                "expiration": _WHEN,
                "certificate": _CERTIFICATE,
                "description": _MAYBE_TEXT,
                "technical_contact": _MAYBE_TEXT,
            },
        },
        "smp_url": _MAYBE_TEXT,
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "status", "message"],
                "properties": {
                    "name": _TEXT,
                    "status": {"enum": ["pass", "warn", "fail", "skipped"]},
                    "message": _TEXT,
                },
            },
        },
        "document_types": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["document_type", "name"],
                "properties": {"document_type": _TEXT, "name": _MAYBE_TEXT},
            },
        },
        "candidates": {"type": "array", "items": _TEXT},
        "retryable": {"type": "boolean"},
        "smp_certificate": _CERTIFICATE,
        "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        "at": {"type": "string", "format": "date-time"},
    },
}  # fmt: skip

_CANDIDATE: Final[dict[str, Any]] = {
    "description": "A search's candidate: where it was found, its name there, and its verdict.",
    "allOf": [
        {"$ref": "#/components/schemas/Reachability"},
        {
            "type": "object",
            "required": ["found_by", "name"],
            "properties": {
                "found_by": {"enum": ["participant", "number", "customers", "directory"]},
                "name": _MAYBE_TEXT,
            },
        },
    ],
}

_SEARCH: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["query", "candidates", "notes"],
    "properties": {
        "query": {
            "type": "object",
            "required": ["text", "kind", "country"],
            "properties": {
                "text": _TEXT,
                "kind": {"enum": ["participant", "number", "name"]},
                "country": _MAYBE_TEXT,
            },
        },
        "candidates": {"type": "array", "items": {"$ref": "#/components/schemas/Candidate"}},
        "notes": {"type": "array", "items": _TEXT},
    },
}

_ERROR: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": _TEXT},
}

SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "Reachability": _REACHABILITY,
    "Candidate": _CANDIDATE,
    "SearchResult": _SEARCH,
    "Error": _ERROR,
}
