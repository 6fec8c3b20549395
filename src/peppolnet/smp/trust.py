"""Deciding whether an SMP answer can be trusted (pure: bytes, a network and an instant in).

The order matters and is the point of this module: the XML is parsed safely, the enveloped
signature is verified, the signer is chained to the network's SMP CA, and only then is the SMP
document read - from the tree the verifier returned, so a wrapped or moved element can never be
what the caller sees. A document whose signature fails is still parsed (support staff want to see
what the SMP said) but is marked untrusted, and nothing downstream may use it for a verdict.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from peppolnet.errors import CertificateError, SignatureError
from peppolnet.pki import CertificateFacts, validate_chain
from peppolnet.smp.model import SmpDocument
from peppolnet.smp.parse import parse_document
from peppolnet.xmldsig import find_signature, verify_enveloped
from peppolnet.xmlsafe import parse_xml

if TYPE_CHECKING:
    from cryptography import x509

    from peppolnet.network import Network

__all__ = ["CheckedDocument", "SignatureReport", "algorithm_name", "c14n_name", "check_document"]


def c14n_name(uri: str) -> str:
    """The short name of a canonicalization URI: ``c14n`` (inclusive 1.0), ``exc-c14n``
    (exclusive), ``c14n11`` (1.1); ``#WithComments`` variants get ``-with-comments``."""
    base = uri.split("#WithComments", 1)[0]
    name = {
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": "c14n",
        "http://www.w3.org/2001/10/xml-exc-c14n#": "exc-c14n",
        "http://www.w3.org/2006/12/xml-c14n11": "c14n11",
    }.get(base, base)
    return name + ("-with-comments" if "#WithComments" in uri else "")


def algorithm_name(uri: str | None) -> str | None:
    """The short name of an XMLDSig algorithm URI (``...#rsa-sha256`` -> ``rsa-sha256``)."""
    if not uri:
        return None
    return uri.rsplit("#", 1)[-1] if "#" in uri else uri.rsplit("/", 1)[-1]


@dataclasses.dataclass(frozen=True)
class SignatureReport:
    """What the signature check found, step by step, in words a support person can read."""

    present: bool
    valid: bool | None = None
    algorithm: str | None = None
    signer: CertificateFacts | None = None
    chain_valid: bool | None = None
    problem: str | None = None
    failed_step: str | None = None
    chain_problem: str | None = None
    digest: str | None = None
    c14n: str | None = None
    """The digest and canonicalization algorithms (short names, as ``algorithm``) of a signature
    that verified: what a trace shows beside the signature algorithm."""

    @property
    def trusted(self) -> bool:
        """Signed, verified and chained to the network's SMP CA."""
        return bool(self.present and self.valid and self.chain_valid)

    def to_json(self) -> dict[str, Any]:
        """The ``signature`` object of ``peppolnet smp parse --json`` and lookups."""
        return {
            "present": self.present,
            "valid": self.valid,
            "algorithm": self.algorithm,
            "signer_subject": self.signer.subject if self.signer else None,
            "signer_seat_id": self.signer.seat_id if self.signer else None,
            "chain_valid": self.chain_valid,
            "problem": self.problem or self.chain_problem,
        }


@dataclasses.dataclass(frozen=True)
class CheckedDocument:
    """An SMP document with the verdict on its signature; ``trusted`` says if it may be used."""

    document: SmpDocument
    signature: SignatureReport
    signer_certificate: x509.Certificate | None = None

    @property
    def trusted(self) -> bool:
        """Whether the content may be relied on (signature verified and chained)."""
        return self.signature.trusted


def check_document(
    data: bytes,
    network: Network,
    *,
    at: datetime | None = None,
    max_bytes: int = 2_000_000,
    verify: bool = True,
) -> CheckedDocument:
    """Parse ``data`` safely, verify its signature and chain it to ``network``'s SMP CA.

    Raises :class:`~peppolnet.errors.InvalidSmpDocument` (or :class:`UnsafeXml`) when the bytes
    are not a usable SMP document at all; signature and chain problems are *reported* in the
    result, because callers need to explain them rather than stop at them.
    """
    at = at or datetime.now(UTC)
    root = parse_xml(data, max_bytes=max_bytes)
    signature_element = find_signature(root)
    if signature_element is None:
        return CheckedDocument(parse_document(root), SignatureReport(present=False))
    if not verify:
        return CheckedDocument(parse_document(root), SignatureReport(present=True))
    try:
        # The tree was parsed for this call only: the verifier may cut the signature out of it
        # instead of copying the document (``verified.signed_root is root`` on success).
        verified = verify_enveloped(root, policy=network.signature_policy, in_place=True)
    except SignatureError as exc:
        # Parse the untrusted tree for display only; it must not drive a verdict.
        document = parse_document(root)
        report = SignatureReport(present=True, valid=False, problem=str(exc), failed_step=exc.step)
        return CheckedDocument(document, report)
    facts = CertificateFacts.from_certificate(verified.certificate)
    chain_problem: str | None = None
    try:
        validate_chain(verified.certificate, network.smp_ca, at=at)
    except CertificateError as exc:
        chain_problem = str(exc)
    report = SignatureReport(
        present=True,
        valid=True,
        algorithm=algorithm_name(verified.signature_method),
        digest=algorithm_name(verified.digest_method),
        c14n=c14n_name(verified.c14n_method),
        signer=facts,
        chain_valid=chain_problem is None,
        chain_problem=chain_problem,
        failed_step="certificate" if chain_problem else None,
    )
    return CheckedDocument(parse_document(verified.signed_root), report, verified.certificate)
