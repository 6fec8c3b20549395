"""Peppol PKI checks (pure): certificate facts, chain validation at an instant, revocation hooks.

Why our own small path builder rather than ``cryptography.x509.verification``: that verifier
implements the Web PKI profile for TLS servers/clients (SAN required, strict extensions), which
Peppol SMP/AP certificates are not built for, and its errors do not say *which* certificate failed
*how*. Peppol chains are short (leaf -> SMP CA or AP CA -> root), so a direct check is simple.

Trust is anchored at the *issuing* CA of the role being checked (the SMP CA for SMP signatures,
the AP CA for endpoint certificates), never only at the shared root: an AP certificate must not
pass as an SMP certificate just because both chain to the same root.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, Protocol, TypeVar, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.x509.oid import NameOID

from peppolnet._memory import lru_by_bytes
from peppolnet._x509 import MEMO_BUDGET, decode_errors, memo_bytes, parse_now
from peppolnet.errors import CertificateError, ChainError, InvalidInput, UntrustedCertificate
from peppolnet.i18n import _

__all__ = [
    "SEAT_ID_PATTERN",
    "AsyncRevocationChecker",
    "CertificateFacts",
    "NoRevocationCheck",
    "RevocationAnswer",
    "RevocationChecker",
    "RevocationStatus",
    "arevocation_answer",
    "check_revocation",
    "load_certificate",
    "require_checker",
    "revocation_answer",
    "revocation_soft_fail",
    "validate_chain",
]

#: Peppol Seat ID (service provider id in the certificate CN), OpenPeppol Service Provider (Seat)
#: IDs.
SEAT_ID_PATTERN = re.compile(r"P[A-Z]{2}[0-9]{6}")

_MAX_PATH = 8

_V = TypeVar("_V")


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What a person needs to know about a certificate, as plain values."""

    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    sha256_fingerprint: str
    common_name: str | None
    seat_id: str | None
    organisation: str | None
    country: str | None
    pem: str | None = None
    """The certificate itself as PEM text, for a person to copy into other tools (openssl, a
    ticket to the operator); None when the facts were made without it."""

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> CertificateFacts:
        """Facts of a parsed certificate. ``seat_id`` is the CN if it is a valid Seat ID.

        Memoised by certificate (cryptography hashes and compares certificates by their DER
        bytes): a bulk run meets the same few SMP and AP certificates thousands of times, and
        every ``cert.subject`` access re-builds the Name in Python (~0.1 ms per lookup). The
        same certificate *object* is found first by identity (see :class:`_IdentityMemo`).
        """
        found = _FACTS_BY_IDENTITY.get((cert,))
        if found is None:
            found = _facts(cert)
            _FACTS_BY_IDENTITY.put((cert,), found, _facts_bytes((cert,), found))
        return found

    @classmethod
    def from_der(cls, data: bytes) -> CertificateFacts:
        """Facts of a certificate as DER, PEM or base64 text (see :func:`load_certificate`)."""
        return cls.from_certificate(load_certificate(data))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 UTC strings, serial as an integer)."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": _when(self.not_before),
            "not_after": _when(self.not_after),
            "sha256_fingerprint": self.sha256_fingerprint,
            "common_name": self.common_name,
            "seat_id": self.seat_id,
            "organisation": self.organisation,
            "country": self.country,
            "pem": self.pem,
        }


class _IdentityMemo(Generic[_V]):
    """A small memo keyed by the *identity* of the objects a value was computed from.

    Why: hashing a ``cryptography`` certificate hashes its whole DER (~2 us), and the verifier
    hands out the same certificate object for the same signer (``xmldsig._certificate``) while a
    network keeps its anchor objects, so an identity lookup (~0.2 us) nearly always hits before
    the DER-keyed memo behind it is asked. Each entry keeps its objects alive, so no id in a
    stored key can be reused by another object while that entry exists: an id match is an
    identity match. At ``size`` entries, or when the next entry would take it over
    ``max_bytes`` (:func:`peppolnet._x509.memo_bytes`: a certificate may be as large as the
    document that carried it), the memo is emptied: the hit rate stays high, the memory
    bounded. An entry larger than the whole budget is not kept.
    """

    def __init__(self, size: int, max_bytes: int = MEMO_BUDGET) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._nbytes = 0
        self._entries: dict[tuple[int, ...], tuple[tuple[object, ...], _V]] = {}

    def get(self, objects: tuple[object, ...]) -> _V | None:
        entry = self._entries.get(tuple(map(id, objects)))
        return None if entry is None else entry[1]

    def put(self, objects: tuple[object, ...], value: _V, nbytes: int) -> None:
        if nbytes > self._max_bytes:
            return
        if len(self._entries) >= self._size or self._nbytes + nbytes > self._max_bytes:
            self._entries = {}
            self._nbytes = 0
        self._entries[tuple(map(id, objects))] = (objects, value)
        self._nbytes += nbytes


_FACTS_BY_IDENTITY: _IdentityMemo[CertificateFacts] = _IdentityMemo(256)


def _facts_bytes(args: tuple[Any, ...], facts: CertificateFacts) -> int:
    """What a certificate's facts cost a memo: the certificate and the facts' longer texts."""
    return memo_bytes(args, facts.pem or "", facts.subject, facts.issuer)


@lru_by_bytes(MEMO_BUDGET, size=_facts_bytes)
def _facts(cert: x509.Certificate) -> CertificateFacts:
    subject = cert.subject  # read once: each access builds a new Name
    cn = _attr(subject, NameOID.COMMON_NAME)
    der = cert.public_bytes(_der())
    return CertificateFacts(
        subject=subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256_fingerprint=hashlib.sha256(der).hexdigest(),
        common_name=cn,
        seat_id=cn if cn is not None and SEAT_ID_PATTERN.fullmatch(cn) else None,
        organisation=_attr(subject, NameOID.ORGANIZATION_NAME),
        country=_attr(subject, NameOID.COUNTRY_NAME),
        pem=_pem(der),
    )


def _pem(der: bytes) -> str:
    """A certificate's DER bytes as PEM text (RFC 7468: base64 in lines of 64 characters)."""
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def load_certificate(data: bytes | str) -> x509.Certificate:
    """Read one certificate from PEM, DER, or base64 text (whitespace and ``&#13;`` leftovers ok).

    SMP documents carry certificates as base64 text with line breaks; files carry PEM or DER.
    Raises ``CertificateError`` naming the problem, including parts that load but do not decode.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    unreadable: tuple[type[Exception], ...] = (binascii.Error, *decode_errors())
    try:
        if b"-----BEGIN CERTIFICATE-----" in raw:
            cert = x509.load_pem_x509_certificate(raw)
        elif raw[:1] == b"\x30":
            cert = x509.load_der_x509_certificate(raw)
        else:
            text = b"".join(raw.split())
            cert = x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
        parse_now(cert)
    except unreadable as exc:
        raise CertificateError(_("the certificate cannot be read: {error}", error=exc)) from exc
    return cert


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _check_validity(cert: x509.Certificate, at: datetime) -> None:
    if at < cert.not_valid_before_utc:
        raise ChainError(
            _(
                "certificate {name} is not yet valid at {at} (valid from {valid_from})",
                name=_name(cert),
                at=_when(at),
                valid_from=_when(cert.not_valid_before_utc),
            )
        )
    if at > cert.not_valid_after_utc:
        raise ChainError(
            _(
                "certificate {name} expired at {expired} (checked at {at})",
                name=_name(cert),
                expired=_when(cert.not_valid_after_utc),
                at=_when(at),
            )
        )


_E = TypeVar("_E", bound=x509.ExtensionType)


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    """The extension of ``kind``, None without one; unreadable extensions are a ChainError.

    ``cryptography`` parses extensions lazily: a malformed or repeated one raises ValueError /
    DuplicateExtension on first access, which must not escape a lookup as a raw exception.
    """
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension) as exc:
        raise ChainError(
            _("certificate {name} has unreadable extensions: {error}", name=_name(cert), error=exc)
        ) from None


def _check_ca(issuer: x509.Certificate, cas_below: int) -> None:
    """The issuer must be a CA allowed to sign certificates at this depth."""
    bc = _extension(issuer, x509.BasicConstraints)
    if bc is None:
        raise ChainError(_("issuer {name} is not a CA (no basicConstraints)", name=_name(issuer)))
    if not bc.ca:
        raise ChainError(
            _("issuer {name} is not a CA (basicConstraints CA:FALSE)", name=_name(issuer))
        )
    if bc.path_length is not None and cas_below > bc.path_length:
        raise ChainError(
            _(
                "issuer {name} allows {path_length} CA(s) below it, the path has {cas_below}",
                name=_name(issuer),
                path_length=bc.path_length,
                cas_below=cas_below,
            )
        )
    ku = _extension(issuer, x509.KeyUsage)
    if ku is not None and not ku.key_cert_sign:
        raise ChainError(
            _("issuer {name} may not sign certificates (no keyCertSign)", name=_name(issuer))
        )


def _check_end_entity(leaf: x509.Certificate) -> None:
    """The leaf must be an end-entity certificate whose key may make signatures.

    SMP answers are signed with it and access points sign AS4 messages with theirs; a CA
    certificate, or one whose key usage excludes signing, must not pass for either even when
    it chains to the right CA. Every real Peppol SMP and AP certificate (G1 to G3) has
    digitalSignature; extended key usage is not checked (Peppol's say clientAuth).
    """
    bc = _extension(leaf, x509.BasicConstraints)
    if bc is not None and bc.ca:
        raise ChainError(
            _("certificate {name} is a CA certificate, not an SMP's or AP's", name=_name(leaf))
        )
    ku = _extension(leaf, x509.KeyUsage)
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        raise ChainError(
            _(
                "certificate {name} may not make signatures (its key usage has no "
                "digitalSignature)",
                name=_name(leaf),
            )
        )


@lru_by_bytes(MEMO_BUDGET, size=memo_bytes)
def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if ``issuer``'s name matches and its key made ``cert``'s signature.

    Memoised: the answer depends only on the two certificates (compared by their DER bytes),
    and a bulk run checks the same few SMP and AP certificates thousands of times. Validity
    dates are *not* part of this and are checked on every call by the caller.
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, CryptoInvalidSignature):
        return False
    return True


def validate_chain(
    leaf: x509.Certificate,
    anchors: Sequence[x509.Certificate],
    *,
    at: datetime | None = None,
    intermediates: Sequence[x509.Certificate] = (),
) -> tuple[x509.Certificate, ...]:
    """Check that ``leaf`` chains to one of ``anchors`` at instant ``at`` (default: now).

    Returns the path, leaf first, ending with the anchor. Every certificate on the path must be
    valid at ``at``, every issuer a CA (basicConstraints, pathlen, keyCertSign) whose key made
    the signature below it, and the leaf an end-entity certificate whose key may sign. Raises
    ``ChainError`` (expired, not yet valid, bad issuer signature, issuer is not a CA, leaf is a
    CA or may not sign) or ``UntrustedCertificate`` (issuer not trusted).

    The path itself depends only on the certificates, so it is built once per (leaf, anchors,
    intermediates) and remembered with the window in which every certificate on it is valid
    (the latest notBefore, the earliest notAfter); ``at`` is compared with that window on every
    call, and outside it each certificate is checked again, leaf first, for the error that names
    it. Reading a certificate's two dates builds two datetimes each time (the Rust side), so the
    window saves ~2 us of a ~100 us verification (``benchmarks/bench_verify.py``).
    """
    when = at if at is not None else datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    anchors, intermediates = tuple(anchors), tuple(intermediates)
    key = (leaf, *anchors, _BETWEEN_ANCHORS_AND_INTERMEDIATES, *intermediates)
    known = _PATHS_BY_IDENTITY.get(key)
    if known is None:
        _check_validity(leaf, when)  # before the path: an expired leaf is named as expired
        path = _path(leaf, anchors, intermediates)
        known = (path, _window(path))
        _PATHS_BY_IDENTITY.put(key, known, memo_bytes(leaf, *anchors, *intermediates))
    path, (valid_from, valid_until) = known
    if not valid_from <= when <= valid_until:
        for cert in path:
            _check_validity(cert, when)
    return path


def _window(path: tuple[x509.Certificate, ...]) -> tuple[datetime, datetime]:
    """When every certificate of ``path`` is valid: the latest notBefore, the earliest notAfter
    (an empty window, from after until, when they do not overlap)."""
    return (
        max(cert.not_valid_before_utc for cert in path),
        min(cert.not_valid_after_utc for cert in path),
    )


_PATHS_BY_IDENTITY: _IdentityMemo[
    tuple[tuple[x509.Certificate, ...], tuple[datetime, datetime]]
] = _IdentityMemo(256)
# Separates the two lists in a key, so that an anchor can never pass for an intermediate.
_BETWEEN_ANCHORS_AND_INTERMEDIATES: Final = object()


@lru_by_bytes(MEMO_BUDGET, size=lambda args, path: memo_bytes(args))
def _path(
    leaf: x509.Certificate,
    anchors: tuple[x509.Certificate, ...],
    intermediates: tuple[x509.Certificate, ...],
) -> tuple[x509.Certificate, ...]:
    """The issuer path from ``leaf`` to a trust anchor (structure only, no dates).

    The leaf's own extensions are read only once its issuer's signature on it has verified:
    until then they are whatever the sender wrote.
    """
    path = _issuer_path(leaf, anchors, intermediates)
    _check_end_entity(leaf)
    return path


def _issuer_path(
    leaf: x509.Certificate,
    anchors: tuple[x509.Certificate, ...],
    intermediates: tuple[x509.Certificate, ...],
) -> tuple[x509.Certificate, ...]:
    path: list[x509.Certificate] = [leaf]
    current = leaf
    while len(path) <= _MAX_PATH:
        cas_below = len(path) - 1
        issuer_name = current.issuer
        same_name = [a for a in anchors if a.subject == issuer_name]
        for anchor in same_name:
            if not _issued_by(current, anchor):
                # same name, different key: keep looking (CA re-keys), fail below if none
                continue
            _check_ca(anchor, cas_below)
            path.append(anchor)
            return tuple(path)
        if same_name:
            raise ChainError(
                _(
                    "bad issuer signature: {name} names trusted issuer {issuer_name} but that "
                    "CA's key did not sign it",
                    name=_name(current),
                    issuer_name=issuer_name.rfc4514_string(),
                )
            )
        candidates = [c for c in intermediates if c.subject == issuer_name and c not in path]
        nxt = next((c for c in candidates if _issued_by(current, c)), None)
        if nxt is None:
            if candidates:
                raise ChainError(
                    _(
                        "bad issuer signature: {name} was not signed by {issuer_name}",
                        name=_name(current),
                        issuer_name=issuer_name.rfc4514_string(),
                    )
                )
            raise UntrustedCertificate(
                _(
                    "issuer not trusted: {issuer_name} (of {name}) is not one of the network's "
                    "trust anchors",
                    issuer_name=issuer_name.rfc4514_string(),
                    name=_name(current),
                )
            )
        _check_ca(nxt, cas_below)
        path.append(nxt)
        current = nxt
    raise ChainError(
        _("certificate path for {name} is longer than {limit}", name=_name(leaf), limit=_MAX_PATH)
    )


class RevocationStatus(enum.Enum):
    """Outcome of a revocation check. ``NOT_CHECKED`` is never to be shown as "good"."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True, slots=True)
class RevocationAnswer:
    """A revocation status and the sentence behind it (shown in the verdict's checks).

    Why a reason travels with the status: "unknown" alone tells support staff nothing, while
    "the CRL server answered HTTP 503" tells them whom to call and that trying again may help.
    """

    status: RevocationStatus
    reason: str = ""


@runtime_checkable
class RevocationChecker(Protocol):
    """A CRL or OCSP checker for a blocking :class:`~peppolnet.lookup.Lookup`.

    Implementations do their own I/O; the core only asks. ``answer`` gives the status *with*
    the sentence behind it; ``soft_fail`` says whether an ``unknown`` status only warns instead
    of making the verdict ``unknown`` (see docs/security.md, Revocation). Faults (timeouts,
    unreachable CRL servers) must be answered ``UNKNOWN``, never ``REVOKED``.

    Declared rather than looked up with ``getattr``: a checker whose method is misspelt is
    refused when the lookup is made, instead of silently being asked something else.
    """

    soft_fail: bool

    def answer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer: ...


@runtime_checkable
class AsyncRevocationChecker(Protocol):
    """The same for :class:`~peppolnet.lookup.AsyncLookup`, without blocking its event loop.

    An ``AsyncLookup`` given only a :class:`RevocationChecker` runs ``answer`` in a thread.
    """

    soft_fail: bool

    async def aanswer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer: ...


class NoRevocationCheck:
    """The offline default: says "not checked" for every certificate, never "good"."""

    soft_fail = False
    _ANSWER = RevocationAnswer(RevocationStatus.NOT_CHECKED)

    def answer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer:
        return self._ANSWER

    async def aanswer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer:
        return self._ANSWER


def require_checker(checker: object, *, asynchronous: bool = False) -> None:
    """Refuse, by name, a revocation checker that does not have the declared methods."""
    wanted: tuple[type, ...] = (RevocationChecker,)
    if asynchronous:
        wanted = (AsyncRevocationChecker, RevocationChecker)
    if not isinstance(checker, wanted):
        methods = "answer(cert, issuer, at)" + (" or async aanswer(...)" if asynchronous else "")
        raise InvalidInput(
            _(
                "revocation= needs {methods} and a soft_fail attribute "
                "(peppolnet.pki.RevocationChecker); {kind} has not",
                methods=methods,
                kind=type(checker).__name__,
            )
        )


def revocation_answer(
    checker: RevocationChecker, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
) -> RevocationAnswer:
    """Ask ``checker`` about ``cert``; an answer of another type is the checker's defect."""
    return _checked(checker.answer(cert, issuer, at), checker)


async def arevocation_answer(
    checker: RevocationChecker | AsyncRevocationChecker,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
) -> RevocationAnswer:
    """Ask ``checker`` without blocking the loop: ``aanswer``, else ``answer`` in a thread."""
    if isinstance(checker, AsyncRevocationChecker):
        return _checked(await checker.aanswer(cert, issuer, at), checker)
    return await asyncio.to_thread(revocation_answer, checker, cert, issuer, at)


def _checked(result: object, checker: object) -> RevocationAnswer:
    if not isinstance(result, RevocationAnswer):
        raise InvalidInput(
            _(
                "the revocation checker {kind} answered {result}, not a RevocationAnswer",
                kind=type(checker).__name__,
                result=repr(result),
            )
        )
    return result


def revocation_soft_fail(checker: RevocationChecker | AsyncRevocationChecker) -> bool:
    """Whether ``checker`` asks for "unknown" to be a warning rather than a fault."""
    return checker.soft_fail is True


def check_revocation(
    path: Sequence[x509.Certificate],
    checker: RevocationChecker,
    *,
    at: datetime | None = None,
) -> RevocationStatus:
    """Ask ``checker`` about every non-anchor certificate of ``path`` (leaf first).

    The worst answer wins: revoked > unknown > not-checked > good.
    """
    when = at if at is not None else datetime.now(UTC)
    order = [
        RevocationStatus.GOOD,
        RevocationStatus.NOT_CHECKED,
        RevocationStatus.UNKNOWN,
        RevocationStatus.REVOKED,
    ]
    worst = RevocationStatus.GOOD
    for cert, issuer in itertools.pairwise(path):
        status = revocation_answer(checker, cert, issuer, when).status
        if order.index(status) > order.index(worst):
            worst = status
    return worst
