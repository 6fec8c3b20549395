"""SMP request URLs, built by the client from the SMP base URL (never taken from ``href``s).

Peppol SMP 1.x and OASIS SMP 1.0: ``{smp}/{participant}`` and
``{smp}/{participant}/services/{document type}``; OASIS SMP 2.0 puts ``bdxr-smp-2/`` in front of
the participant. Each path segment is percent-encoded on its own (RFC 3986, every reserved
character, so ``::``, ``#`` and ``*`` are encoded); the slashes between segments are not. The base
URL may carry a path and may or may not end with ``/``.

>>> from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
>>> pid = ParticipantId.parse("0007:5567321707")
>>> service_group_url("https://smp.example.com/", pid)
'https://smp.example.com/iso6523-actorid-upis%3A%3A0007%3A5567321707'
>>> service_metadata_url("https://smp.example.com/smp", pid, BIS_BILLING_INVOICE)[:81]
'https://smp.example.com/smp/iso6523-actorid-upis%3A%3A0007%3A5567321707/services/'
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import Final

from peppolnet.errors import InvalidInput
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId, url_segment
from peppolnet.smp.model import Dialect

__all__ = ["OASIS2_PATH", "service_group_url", "service_metadata_url"]

OASIS2_PATH: Final = "bdxr-smp-2"


def _base(smp_base: str, dialect: Dialect) -> str:
    if not isinstance(smp_base, str):
        raise InvalidInput(
            _("the SMP base URL must be text, not {kind}", kind=type(smp_base).__name__)
        )
    return _checked_base(smp_base, dialect)


# A network has a few hundred SMPs and a lookup asks for a handful of document types, while a
# bulk run builds a URL per lookup: parsing the base and percent-encoding the document type's
# ~150 characters once each, not per lookup, was 1/40 of a sequential lookup's CPU (cProfile).
# Both are pure functions of their (hashable, text) arguments; the caches are bounded.


@functools.lru_cache(maxsize=1024)
def _checked_base(smp_base: str, dialect: Dialect) -> str:
    try:
        parts = urllib.parse.urlsplit(smp_base.strip())
    except ValueError:
        raise InvalidInput(
            _("the SMP base URL {smp_base} is not a URL", smp_base=repr(smp_base[:80]))
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            _(
                "the SMP base URL {smp_base} is not an absolute http(s) URL",
                smp_base=repr(smp_base[:80]),
            )
        )
    if parts.query or parts.fragment:
        raise InvalidInput(
            _(
                "the SMP base URL {smp_base} must not have a query or fragment",
                smp_base=repr(smp_base[:80]),
            )
        )
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
    if dialect is Dialect.OASIS_SMP_2:
        base = f"{base}/{OASIS2_PATH}"
    return base


def service_group_url(
    smp_base: str, participant: ParticipantId, *, dialect: Dialect = Dialect.PEPPOL_SMP_1
) -> str:
    """The URL of the participant's ServiceGroup at the SMP ``smp_base``."""
    return f"{_base(smp_base, dialect)}/{participant.url_segment()}"


def service_metadata_url(
    smp_base: str,
    participant: ParticipantId,
    document_type: DocumentTypeId,
    *,
    dialect: Dialect = Dialect.PEPPOL_SMP_1,
) -> str:
    """The URL of the participant's (Signed)ServiceMetadata for ``document_type``."""
    return (
        f"{service_group_url(smp_base, participant, dialect=dialect)}"
        f"/services/{_segment(document_type.uri)}"
    )


# a document type's ~150 characters hold '#', so they take urllib's byte-at-a-time path
_segment: Final = functools.lru_cache(maxsize=512)(url_segment)
