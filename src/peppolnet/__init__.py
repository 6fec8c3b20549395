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
    # lookups and their results
    "Lookup": "peppolnet.lookup",
    "AsyncLookup": "peppolnet.lookup",
    "Reachability": "peppolnet.reachability",
    "Verdict": "peppolnet.reachability",
    "Check": "peppolnet.reachability",
    "CheckStatus": "peppolnet.reachability",
    # networks
    "Network": "peppolnet.network",
    "network_by_name": "peppolnet.network",
    "PRODUCTION": "peppolnet.network",
    "TEST": "peppolnet.network",
    # operators
    "Operator": "peppolnet.operators",
    "OperatorRegistry": "peppolnet.operators",
    # SMP and SML
    "SmpClient": "peppolnet.smp.client",
    "AsyncSmpClient": "peppolnet.smp.client",
    "SmlResolver": "peppolnet.sml",
    "AsyncSmlResolver": "peppolnet.sml",
    # Directory
    "DirectoryClient": "peppolnet.directory",
    "AsyncDirectoryClient": "peppolnet.directory",
    # whole registers, customers and requests
    "check_many": "peppolnet.bulk",
    "check_many_async": "peppolnet.bulk",
    "read_register": "peppolnet.bulk",
    "RecipientDirectory": "peppolnet.recipients",
    "AddRecipientRequest": "peppolnet.recipients",
    "UpdateRecipientRequest": "peppolnet.recipients",
    # the sandbox network
    "Sandbox": "peppolnet.sandbox",
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
    "ChannelError": "peppolnet.errors",
    "DirectoryError": "peppolnet.errors",
    "DirectoryRateLimited": "peppolnet.errors",
    "DirectoryQueryError": "peppolnet.errors",
    "InvalidRequest": "peppolnet.errors",
    "SandboxError": "peppolnet.errors",
    "StoreError": "peppolnet.errors",
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
