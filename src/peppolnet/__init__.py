"""peppolnet: can this customer receive a Peppol e-invoice, and through which operator?

The public names are re-exported here and loaded lazily, so ``import peppolnet`` stays fast and a
command-line call pays only for the modules it uses.
"""

from peppolnet._version import __version__

# Nothing else is imported at start-up, not even ``typing`` (its import, with ``re`` and
# ``collections`` behind it, cost more than everything else ``import peppolnet`` does): type
# checkers read the block below, where TYPE_CHECKING is true.
TYPE_CHECKING = False

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
    "RetryPolicy": "peppolnet.lookup",
    "AutoLookup": "peppolnet.auto",
    "AsyncAutoLookup": "peppolnet.auto",
    "Reachability": "peppolnet.reachability",
    "Verdict": "peppolnet.reachability",
    "Check": "peppolnet.reachability",
    "CheckStatus": "peppolnet.reachability",
    "Trace": "peppolnet.trace",
    "TraceStep": "peppolnet.trace",
    # networks
    "Network": "peppolnet.network",
    "network_by_name": "peppolnet.network",
    "Networks": "peppolnet.network",
    "PRODUCTION": "peppolnet.network",
    "TEST": "peppolnet.network",
    "DestinationPolicy": "peppolnet.destinations",
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
    "ExportDownloader": "peppolnet.directory.export",
    "read_export": "peppolnet.directory.export",
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
    "UntrustedNegative": "peppolnet.errors",
    "DnssecFailure": "peppolnet.errors",
    "DnssecBogus": "peppolnet.errors",
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
    "DeadlineExceeded": "peppolnet.errors",
    "DestinationRefused": "peppolnet.errors",
    "DirectoryError": "peppolnet.errors",
    "DirectoryRateLimited": "peppolnet.errors",
    "DirectoryQueryError": "peppolnet.errors",
    "ExportLimitReached": "peppolnet.errors",
    "InvalidExport": "peppolnet.errors",
    "MissingExtra": "peppolnet.errors",
    "InvalidRequest": "peppolnet.errors",
    "SandboxError": "peppolnet.errors",
    "StoreError": "peppolnet.errors",
    "TrustError": "peppolnet.errors",
    "DamagedDatabase": "peppolnet.errors",
    "SendInProgress": "peppolnet.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from typing import Any

    # The real types for mypy and IDEs; at run time the names load on first use (below).
    from peppolnet.auto import (
        AsyncAutoLookup as AsyncAutoLookup,
        AutoLookup as AutoLookup,
    )
    from peppolnet.bulk import (
        check_many as check_many,
        check_many_async as check_many_async,
        read_register as read_register,
    )
    from peppolnet.destinations import (
        DestinationPolicy as DestinationPolicy,
    )
    from peppolnet.directory import (
        AsyncDirectoryClient as AsyncDirectoryClient,
        DirectoryClient as DirectoryClient,
    )
    from peppolnet.directory.export import (
        ExportDownloader as ExportDownloader,
        read_export as read_export,
    )
    from peppolnet.errors import (
        AlgorithmNotAllowed as AlgorithmNotAllowed,
        CertificateError as CertificateError,
        ChainError as ChainError,
        ChannelError as ChannelError,
        DeadlineExceeded as DeadlineExceeded,
        DestinationRefused as DestinationRefused,
        DirectoryError as DirectoryError,
        DirectoryQueryError as DirectoryQueryError,
        DirectoryRateLimited as DirectoryRateLimited,
        ExportLimitReached as ExportLimitReached,
        DnsFailure as DnsFailure,
        DnssecBogus as DnssecBogus,
        DnssecFailure as DnssecFailure,
        IdentifierMismatch as IdentifierMismatch,
        InvalidDocumentTypeId as InvalidDocumentTypeId,
        InvalidExport as InvalidExport,
        InvalidIdentifier as InvalidIdentifier,
        InvalidInput as InvalidInput,
        InvalidParticipantId as InvalidParticipantId,
        InvalidProcessId as InvalidProcessId,
        InvalidRequest as InvalidRequest,
        InvalidSignature as InvalidSignature,
        InvalidSmpDocument as InvalidSmpDocument,
        InvalidTransportProfile as InvalidTransportProfile,
        MissingExtra as MissingExtra,
        NetworkFault as NetworkFault,
        NoSmpService as NoSmpService,
        NotRegistered as NotRegistered,
        PeppolnetError as PeppolnetError,
        RedirectError as RedirectError,
        SandboxError as SandboxError,
        SignatureError as SignatureError,
        SmpError as SmpError,
        SmpNotFound as SmpNotFound,
        SmpUnavailable as SmpUnavailable,
        StoreError as StoreError,
        TrustError as TrustError,
        DamagedDatabase as DamagedDatabase,
        SendInProgress as SendInProgress,
        UnsafeXml as UnsafeXml,
        UntrustedCertificate as UntrustedCertificate,
        UntrustedNegative as UntrustedNegative,
    )
    from peppolnet.identifiers import (
        BIS_BILLING_CREDIT_NOTE as BIS_BILLING_CREDIT_NOTE,
        BIS_BILLING_INVOICE as BIS_BILLING_INVOICE,
        BIS_BILLING_PROCESS as BIS_BILLING_PROCESS,
        TRANSPORT_AS4 as TRANSPORT_AS4,
        DocumentTypeId as DocumentTypeId,
        ParticipantId as ParticipantId,
        ProcessId as ProcessId,
        TransportProfile as TransportProfile,
    )
    from peppolnet.lookup import (
        AsyncLookup as AsyncLookup,
        Lookup as Lookup,
        RetryPolicy as RetryPolicy,
    )
    from peppolnet.network import (
        PRODUCTION as PRODUCTION,
        TEST as TEST,
        Network as Network,
        Networks as Networks,
        network_by_name as network_by_name,
    )
    from peppolnet.operators import (
        Operator as Operator,
        OperatorRegistry as OperatorRegistry,
    )
    from peppolnet.reachability import (
        Check as Check,
        CheckStatus as CheckStatus,
        Reachability as Reachability,
        Verdict as Verdict,
    )
    from peppolnet.recipients import (
        AddRecipientRequest as AddRecipientRequest,
        RecipientDirectory as RecipientDirectory,
        UpdateRecipientRequest as UpdateRecipientRequest,
    )
    from peppolnet.sandbox import (
        Sandbox as Sandbox,
    )
    from peppolnet.trace import (
        Trace as Trace,
        TraceStep as TraceStep,
    )
    from peppolnet.schemes import (
        is_valid as is_valid,
        suggest_participant_ids as suggest_participant_ids,
        validate as validate,
    )
    from peppolnet.sml import (
        AsyncSmlResolver as AsyncSmlResolver,
        SmlResolver as SmlResolver,
    )
    from peppolnet.smp.client import (
        AsyncSmpClient as AsyncSmpClient,
        SmpClient as SmpClient,
    )


#: Subpackages and modules reachable as attributes after a bare ``import peppolnet``
#: (``peppolnet.network.TEST``), imported on first use like the names above.
_SUBMODULES: frozenset[str] = frozenset(
    {
        "auto", "bulk", "clock", "codelists", "destinations", "directory", "dnssec", "doctor",
        "errors", "identifiers", "lookup", "network", "operators", "reachability", "recipients",
        "revocation", "sandbox", "schemes", "sml", "smp", "trace",
    }
)  # fmt: skip


def __getattr__(name: str) -> "Any":
    from importlib import import_module  # here, not at start-up (see TYPE_CHECKING above)

    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(import_module(module), name)
    elif name in _SUBMODULES:
        value = import_module(f"peppolnet.{name}")
    else:
        raise AttributeError(f"module 'peppolnet' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
