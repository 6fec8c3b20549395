"""SMP documents: the model, the parser for all three dialects, wildcard selection, URLs (pure).

The HTTP client lives in :mod:`peppolnet.smp.client`; everything here works on bytes and values.
"""

from __future__ import annotations

from peppolnet.smp.model import (
    Dialect,
    Endpoint,
    Process,
    Redirect,
    ServiceGroup,
    ServiceMetadata,
    SmpDocument,
)
from peppolnet.smp.parse import detect, document_type_from_href, parse_document
from peppolnet.smp.urls import service_group_url, service_metadata_url
from peppolnet.smp.wildcard import candidates, select

__all__ = [
    "Dialect",
    "Endpoint",
    "Process",
    "Redirect",
    "ServiceGroup",
    "ServiceMetadata",
    "SmpDocument",
    "candidates",
    "detect",
    "document_type_from_href",
    "parse_document",
    "select",
    "service_group_url",
    "service_metadata_url",
]
