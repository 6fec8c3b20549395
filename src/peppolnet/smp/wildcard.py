"""Document-type selection for ``peppol-doctype-wildcard`` (PFUOI 4.3.0 "best match").

Peppol PINT document types are registered in SMPs with a trailing ``*`` on the customization id
(``urn:peppol:pint:billing-1@jp-1*``) meaning "this and every specialisation of it". A sender asks
for the most specific type it has and walks towards the general one; ``@`` separates
specialisation parts. The order is that of the reference client (``PeppolWildcardSelector``):

1. the exact customization id without ``*``;
2. the same with ``*``;
3. repeatedly drop the last ``@part`` and try with ``*``.

``busdox-docid-qns`` identifiers never use wildcards: only the exact identifier matches.

>>> from peppolnet.identifiers import DocumentTypeId
>>> jp = DocumentTypeId.parse(
...     "peppol-doctype-wildcard::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
...     "##urn:peppol:pint:billing-1@jp-1::2.1"
... )
>>> [c.customization_id for c in candidates(jp)]
['urn:peppol:pint:billing-1@jp-1', 'urn:peppol:pint:billing-1@jp-1*', 'urn:peppol:pint:billing-1*']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from peppolnet.identifiers import DOCTYPE_SCHEME_WILDCARD, DocumentTypeId

__all__ = ["WILDCARD", "candidates", "select"]

WILDCARD: Final = "*"
PART_SEPARATOR: Final = "@"


def candidates(requested: DocumentTypeId) -> list[DocumentTypeId]:
    """The identifiers to look for, most specific first (just ``requested`` for busdox types)."""
    if requested.scheme != DOCTYPE_SCHEME_WILDCARD:
        return [requested]
    root, sep, rest = requested.value.partition("##")
    if not sep:
        return [requested]
    customization, found, version = rest.rpartition("::")
    if not found:
        customization, version = rest, ""
    suffix = f"::{version}" if found else ""
    base = customization.removesuffix(WILDCARD)
    names = [base, base + WILDCARD]
    while PART_SEPARATOR in base:
        base = base.rpartition(PART_SEPARATOR)[0]
        names.append(base + WILDCARD)
    result: dict[DocumentTypeId, None] = {}
    for name in names:
        if not name.removesuffix(WILDCARD):
            continue
        result[DocumentTypeId(requested.scheme, f"{root}##{name}{suffix}", lax=True)] = None
    return list(result)


def select(requested: DocumentTypeId, available: Iterable[DocumentTypeId]) -> DocumentTypeId | None:
    """The first candidate of ``requested`` that the SMP offers (``available``), or ``None``.

    ``available`` is typically ``ServiceGroup.document_types``.
    """
    offered = set(available)
    for candidate in candidates(requested):
        if candidate in offered:
            return candidate
    return None
