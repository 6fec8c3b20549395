"""One exception tree for the whole library.

Every failure a user of peppolnet can meet is a subclass of :class:`PeppolnetError`, named for what
happened, carrying a sentence a person can act on and a ``retryable`` flag saying whether trying
again later can help. Nothing else escapes the public API: not lxml, httpx, dnspython, or KeyError.

The tree separates *answers* from *faults*. "Not registered" is an answer from the network;
"DNS timed out" is a fault. Callers (and the reachability verdict) must never turn a fault into a
negative answer, so faults are all :class:`NetworkFault` and answers are not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from peppolnet.dnssec.validator import DnssecResult

__all__ = [
    "AlgorithmNotAllowed",
    "CertificateError",
    "ChainError",
    "ChannelError",
    "DamagedDatabase",
    "DeadlineExceeded",
    "DestinationRefused",
    "DirectoryError",
    "DirectoryQueryError",
    "DirectoryRateLimited",
    "DnsFailure",
    "DnssecBogus",
    "DnssecFailure",
    "ExportLimitReached",
    "IdentifierMismatch",
    "InvalidDocumentTypeId",
    "InvalidExport",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidParticipantId",
    "InvalidProcessId",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidSmpDocument",
    "InvalidTransportProfile",
    "MissingExtra",
    "NetworkFault",
    "NoSmpService",
    "NotRegistered",
    "PeppolnetError",
    "RedirectError",
    "SandboxError",
    "SendInProgress",
    "SignatureError",
    "SmpError",
    "SmpNotFound",
    "SmpUnavailable",
    "StoreError",
    "TrustError",
    "UnsafeXml",
    "UntrustedCertificate",
    "UntrustedNegative",
]


class PeppolnetError(Exception):
    """Base of every error peppolnet raises.

    ``message`` is one sentence for a person; ``retryable`` says whether the same call may succeed
    later without anything being changed (timeouts, 5xx answers, rate limits).
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


# --- input -------------------------------------------------------------------------------------


class InvalidInput(PeppolnetError, ValueError):
    """Something the caller passed in is not acceptable (bad file, bad option, bad value)."""


class InvalidIdentifier(InvalidInput):
    """An identifier (participant, document type, process, transport profile) is malformed.

    ``value`` is the text that was rejected, so bulk tools can report it next to the row.
    """

    def __init__(self, message: str, *, value: str | None = None) -> None:
        super().__init__(message)
        self.value = value


class InvalidParticipantId(InvalidIdentifier):
    """A participant identifier breaks the Peppol Policy for use of Identifiers."""


class InvalidDocumentTypeId(InvalidIdentifier):
    """A document type identifier breaks the Peppol Policy for use of Identifiers."""


class InvalidProcessId(InvalidIdentifier):
    """A process identifier breaks the Peppol Policy for use of Identifiers."""


class InvalidTransportProfile(InvalidIdentifier):
    """A transport profile identifier breaks the Peppol Policy for use of Identifiers."""


class InvalidRequest(InvalidInput):
    """An add/update-recipient request failed validation.

    ``problems`` lists every problem at once as ``(field, message)`` pairs.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        summary = "; ".join(f"{field}: {msg}" for field, msg in problems) or "invalid request"
        super().__init__(f"the request is not valid: {summary}")
        self.problems = problems


# --- answers from the network (not faults) ------------------------------------------------------


class NotRegistered(PeppolnetError):
    """The SML has no record for the participant (NXDOMAIN or no NAPTR): it is not in Peppol.

    ``dnssec``: what DNSSEC said of the denial, when the resolver validated it (else None).
    """

    dnssec: DnssecResult | None = None


class NoSmpService(PeppolnetError):
    """The SML has NAPTR records for the participant, but none for the ``Meta:SMP`` service.

    ``dnssec``: what DNSSEC said of those records, when the resolver validated them.
    """

    dnssec: DnssecResult | None = None


class SmpNotFound(PeppolnetError):
    """The SMP answered 404: it does not know this participant or document type."""


# --- faults: the question could not be answered --------------------------------------------------


class NetworkFault(PeppolnetError):
    """The network could not answer. A fault means "unknown", never "cannot receive"."""

    retryable = True


class DnsFailure(NetworkFault):
    """DNS did not answer (timeout, SERVFAIL, refused). Never a sign the participant is missing."""


class UntrustedNegative(DnsFailure):
    """A resolver denied the participant's record but could not show it asked the SML zone.

    Captive portals, filtered or offline networks and some corporate or container resolvers
    answer NXDOMAIN for every name. Believed, that would report every customer as "not
    registered"; so a denial counts as an answer only when it carries the SML zone's SOA, or the
    same resolver can show that zone's SOA when asked (see :mod:`peppolnet.sml`). Otherwise it is
    this fault: retryable, never cached. ``nameserver`` is the resolver that answered and
    ``name`` the DNS name it denied.
    """

    def __init__(self, message: str, *, nameserver: str = "", name: str = "") -> None:
        super().__init__(message)
        self.nameserver = nameserver
        self.name = name


class DnssecFailure(DnsFailure):
    """The SML's answer could not be validated with DNSSEC (only asked for with ``dnssec=True``):
    a DNSKEY or DS record on its chain of trust could not be fetched (retryable, as any DNS
    fault), or - :class:`DnssecBogus` - the chain does not validate. Either way the answer is
    not used: the lookup's verdict is ``unknown``. ``result`` is the validation's outcome, when
    there was one."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        result: DnssecResult | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.result = result


class DnssecBogus(DnssecFailure):
    """The SML's answer is *bogus*: a signature on its chain of trust does not verify, has
    expired or is missing where its zone is signed, or a denial lacks its proof (RFC 4035 §5).
    Whether forged or broken, it cannot be used; asking again gives the same answer, so it is
    not retryable."""

    retryable = False


class SmpUnavailable(NetworkFault):
    """The SMP could not be reached or answered 5xx, timed out, or sent a truncated body."""


class SmpError(NetworkFault):
    """The SMP answered, but the answer cannot be used (invalid document, wrong identifiers)."""

    retryable = False


class InvalidSmpDocument(SmpError):
    """The bytes are not a valid SMP document of any supported dialect."""


class UnsafeXml(InvalidSmpDocument):
    """The XML uses a DTD, entities, or exceeds the size or depth limit; it was not processed."""


class IdentifierMismatch(SmpError):
    """The SMP answered for a different participant or document type than was asked for."""


class RedirectError(SmpError):
    """A Redirect could not be followed (a second redirect, or the target's signer is wrong)."""


class TrustError(PeppolnetError):
    """Base of signature and certificate problems: the answer came, and it cannot be trusted.

    Its own branch, not a :class:`NetworkFault`: ``except NetworkFault`` (the network could not
    answer; try later) must never catch "untrusted certificate" or "the signature does not
    verify", which no retry mends. Not retryable.
    """

    retryable = False


class SignatureError(TrustError):
    """Base of XML signature problems. ``step`` names the step that failed."""

    def __init__(self, message: str, *, step: str = "signature") -> None:
        super().__init__(message)
        self.step = step


class InvalidSignature(SignatureError):
    """The XML signature is missing, malformed, wrapped, or does not verify."""


class AlgorithmNotAllowed(SignatureError):
    """The signature uses an algorithm the network's policy does not accept (e.g. RSA-SHA1)."""


class CertificateError(TrustError):
    """Base of certificate problems."""


class UntrustedCertificate(CertificateError):
    """A certificate does not chain to the network's trust anchors."""


class ChainError(UntrustedCertificate):
    """A certificate chain is broken: expired, not yet valid, bad issuer signature, not a CA."""


class DestinationRefused(NetworkFault):
    """A URL leads somewhere the network's destination policy refuses (a loopback, private,
    link-local... address, or credentials in the URL); nothing was sent there.

    A fault of the network's data, not an answer: a forged or careless DNS record must not make
    a participant "cannot receive". ``address_class`` is the refused
    :class:`~peppolnet.destinations.AddressClass` (None for credentials in the URL).
    """

    retryable = False

    def __init__(self, message: str, *, address_class: object | None = None) -> None:
        super().__init__(message)
        self.address_class = address_class


class DeadlineExceeded(NetworkFault):
    """A deadline passed before the answer was complete (a whole lookup's, or one request's)."""


class DirectoryError(NetworkFault):
    """The Peppol Directory could not answer."""


class DirectoryRateLimited(DirectoryError):
    """The Directory answered HTTP 429. ``retry_after`` is the wait it asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DirectoryQueryError(DirectoryError, InvalidInput):
    """The Directory query is not acceptable (too short, beyond the 1000-result cap, ...)."""

    retryable = False


class ExportLimitReached(DirectoryRateLimited):
    """The Directory allows each export file to be downloaded a few times a day (3), and this
    file's downloads for the last 24 hours are used up - counted here or refused by the
    Directory. ``retry_after`` says in how many seconds the next one is allowed."""


class InvalidExport(InvalidInput):
    """A file that is not a Peppol Directory export (or not one this version can read). A
    damaged *part* of an export is not this error: readers report it as a problem and go on."""


class MissingExtra(InvalidInput):
    """An optional part of peppolnet needs a package that is not installed (``pip install
    peppolnet[analytics]``); the sentence names the extra."""


class ChannelError(NetworkFault):
    """A recipient request could not be handed over (SMTP refused, desk unreachable, disk full).

    ``retryable`` says whether sending the same request again may work (it is idempotent).
    """


class SendInProgress(PeppolnetError):
    """Another process (or thread) is sending this request right now; this one did not send it.

    Why an error and not a receipt: nobody knows yet whether that send will succeed. It is
    ``retryable``: asked again later, a send answers with the receipt of the send that went
    (or, if that process was stopped, sends it itself once the claim has expired). Carries the
    ``request_id``, who holds the claim (``claimed_by``) and when it expires (``expires_at``).
    """

    retryable = True

    def __init__(
        self, message: str, *, request_id: str, claimed_by: str, expires_at: datetime
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.claimed_by = claimed_by
        self.expires_at = expires_at


# --- sandbox ------------------------------------------------------------------------------------


class SandboxError(PeppolnetError):
    """The sandbox network could not be built or started (bad config file, port in use, ...)."""


# --- local storage ------------------------------------------------------------------------------


class StoreError(PeppolnetError):
    """The local recipient database cannot be used (unreadable, not ours, newer schema, locked).

    ``retryable`` is set when another process holds the write lock longer than the busy timeout.
    """


class DamagedDatabase(StoreError):
    """The database file opens, but what is stored in it cannot be read back: a page or a value
    is corrupt (a disk or memory fault, a half-copied file, an edit by hand).

    Why a class of its own: it is neither a value the user gave (exit 1) nor something that
    trying again will fix, and it must never be read as an answer ("no requests", "no such
    customer"); the command line reports it as a fault (exit 3). Restore the file from a backup.
    """
