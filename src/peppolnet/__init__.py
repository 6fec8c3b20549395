"""peppolnet: can this customer receive a Peppol e-invoice, and through which operator?

The public names are re-exported here and loaded lazily, so ``import peppolnet`` stays fast and a
command-line call pays only for the modules it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from peppolnet._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # identifiers
    "ParticipantId": "peppolnet.identifiers",
    "DocumentTypeId": "peppolnet.identifiers",
    "ProcessId": "peppolnet.identifiers",
    "TransportProfile": "peppolnet.identifiers",
    "BIS_BILLING_INVOICE": "peppolnet.identifiers",
    "BIS_BILLING_CREDIT_NOTE": "peppolnet.identifiers",
    "BIS_BILLING_PROCESS": "peppolnet.identifiers",
    "TRANSPORT_AS4": "peppolnet.identifiers",
    # scheme validation (peppolnet.schemes)
    "validate": "peppolnet.schemes",
    "is_valid": "peppolnet.schemes",
    "suggest_participant_ids": "peppolnet.schemes",
    # errors
    "PeppolnetError": "peppolnet.errors",
    "InvalidIdentifier": "peppolnet.errors",
    "InvalidParticipantId": "peppolnet.errors",
    "InvalidDocumentTypeId": "peppolnet.errors",
    "InvalidProcessId": "peppolnet.errors",
    "InvalidTransportProfile": "peppolnet.errors",
    "InvalidInput": "peppolnet.errors",
    "NetworkFault": "peppolnet.errors",
    "NotRegistered": "peppolnet.errors",
    "NoSmpService": "peppolnet.errors",
    "DnsFailure": "peppolnet.errors",
    "SmpNotFound": "peppolnet.errors",
    "SmpUnavailable": "peppolnet.errors",
    "SmpError": "peppolnet.errors",
    "InvalidSmpDocument": "peppolnet.errors",
    "UnsafeXml": "peppolnet.errors",
    "IdentifierMismatch": "peppolnet.errors",
    "RedirectError": "peppolnet.errors",
    "SignatureError": "peppolnet.errors",
    "InvalidSignature": "peppolnet.errors",
    "AlgorithmNotAllowed": "peppolnet.errors",
    "CertificateError": "peppolnet.errors",
    "UntrustedCertificate": "peppolnet.errors",
    "ChainError": "peppolnet.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from peppolnet.errors import *  # noqa: F403
    from peppolnet.identifiers import *  # noqa: F403


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'peppolnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
