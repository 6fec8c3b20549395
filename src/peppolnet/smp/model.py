"""The SMP document model: one shape for Peppol SMP 1.x, OASIS BDXR SMP 1.0 and OASIS SMP 2.0.

Callers ask "which endpoint serves this document type and process?", not "which XML dialect did
the SMP speak", so all three dialects parse into these frozen values; ``dialect`` records where a
value came from for diagnostics.

Times are timezone-aware UTC. An SMP date without a time (``2022-03-01Z``, found in real signed
responses, and the only form OASIS SMP 2 has) is read as the whole day: an activation date means the
*start* of that day and an expiration date its *end* (23:59:59.999999), so a service that "expires
on 2022-03-01" still works on that day. A value without a time zone is taken as UTC.

Transport profiles stay plain strings: removed profiles (``busdox-transport-as2-ver1p0``) and
odd ones still appear in real SMPs and must be shown, not rejected.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from peppolnet.errors import InvalidInput
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId, ProcessId

__all__ = [
    "Dialect",
    "Endpoint",
    "Process",
    "Redirect",
    "ServiceGroup",
    "ServiceMetadata",
    "SmpDocument",
]


class Dialect(enum.StrEnum):
    """The SMP XML dialect a document was written in."""

    PEPPOL_SMP_1 = "peppol-smp-1"
    OASIS_SMP_1 = "oasis-smp-1"
    OASIS_SMP_2 = "oasis-smp-2"


def _check_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            _("a point in time must carry a time zone (e.g. datetime.now(timezone.utc))")
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One access point endpoint for a (document type, process) pair.

    ``certificate`` is the DER of the access point's certificate as published (not yet checked).
    When the published text is not base64 at all, ``certificate`` is ``None`` and
    ``certificate_problem`` says why, so a report can tell "no certificate" from "garbage".
    """

    transport_profile: str
    url: str | None
    certificate: bytes | None = field(default=None, repr=False)
    activation: datetime | None = None
    expiration: datetime | None = None
    description: str | None = None
    technical_contact: str | None = None
    technical_information_url: str | None = None
    require_business_level_signature: bool | None = None
    minimum_authentication_level: str | None = None
    certificate_problem: str | None = None

    def is_active(self, at: datetime) -> bool:
        """Whether the SMP says this endpoint is in service at ``at`` (an aware datetime).

        Both bounds are inclusive; a missing activation means "since forever", a missing
        expiration "until eternity" (SMP 1.2.0 field table).
        """
        _check_aware(at)
        if self.activation is not None and at < self.activation:
            return False
        return self.expiration is None or at <= self.expiration


@dataclass(frozen=True, slots=True)
class Process:
    """A process and the endpoints that serve it (one per transport profile)."""

    process_id: ProcessId
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """What a participant can receive: its document types (and the raw references to them).

    ``references`` are the ``href`` values exactly as published (Peppol/OASIS 1); they are kept for
    diagnostics only - request URLs are built from the SMP base URL, never taken from here.
    """

    participant: ParticipantId
    document_types: tuple[DocumentTypeId, ...]
    references: tuple[str, ...]
    dialect: Dialect


@dataclass(frozen=True, slots=True)
class ServiceMetadata:
    """How a participant receives one document type: processes and their endpoints."""

    participant: ParticipantId
    document_type: DocumentTypeId
    processes: tuple[Process, ...]
    dialect: Dialect

    def endpoints_for(self, process: ProcessId) -> tuple[Endpoint, ...]:
        """All endpoints published for ``process`` (empty when the process is not offered)."""
        found: list[Endpoint] = []
        for p in self.processes:
            if p.process_id == process:
                found.extend(p.endpoints)
        return tuple(found)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every endpoint of every process, in document order."""
        return tuple(e for p in self.processes for e in p.endpoints)


@dataclass(frozen=True, slots=True)
class Redirect:
    """The SMP sends the client to another SMP for this document type.

    ``certificate_uid`` is the expected subject of the target SMP's signing certificate (Peppol and
    OASIS 1); OASIS SMP 2 publishes the certificate itself, kept in ``certificate`` (DER).
    ``participant`` and ``document_type`` are filled when the document or the target URL names
    them, else ``None``.
    """

    target_url: str
    certificate_uid: str | None
    dialect: Dialect
    participant: ParticipantId | None = None
    document_type: DocumentTypeId | None = None
    certificate: bytes | None = field(default=None, repr=False)


SmpDocument = ServiceGroup | ServiceMetadata | Redirect
"""Any document an SMP answers with."""
