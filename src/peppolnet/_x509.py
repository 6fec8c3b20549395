"""Read every lazily parsed part of a certificate at once, where a failure can be named.

``cryptography`` parses a certificate's outer structure when it is loaded and the rest (subject,
issuer, public key, validity) on first access. A certificate from the network can therefore load
and then raise ``ValueError`` deep inside a check that never expected it, long after the place
where "this certificate cannot be read" would have been the right answer. Every certificate that
comes from an SMP document goes through :func:`parse_now` right after loading. Extensions are
left alone: a leaf's extensions are read only after its issuer's signature verified (see
:mod:`peppolnet.pki`), and a malformed one is a chain error there.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["decode_errors", "parse_now"]


@functools.cache
def decode_errors() -> tuple[type[Exception], ...]:
    """What ``cryptography`` raises for bytes that are not a usable certificate.

    Not only ``ValueError``: an unknown version is ``InvalidVersion`` and a key of an unknown
    type ``UnsupportedAlgorithm`` (both found by the property test of hostile certificates).
    Imported on first use, so that importing the signature module stays cheap.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.x509 import InvalidVersion

    return (ValueError, TypeError, UnsupportedAlgorithm, InvalidVersion)


def parse_now(cert: x509.Certificate) -> None:
    """Raise ``ValueError`` naming the part that does not decode; return quietly otherwise."""
    for part, read in (
        ("subject", lambda: cert.subject.rfc4514_string()),
        ("issuer", lambda: cert.issuer.rfc4514_string()),
        ("public key", cert.public_key),
        ("validity", lambda: (cert.not_valid_before_utc, cert.not_valid_after_utc)),
        ("serial number", lambda: cert.serial_number),
    ):
        try:
            read()
        except decode_errors() as exc:
            raise ValueError(f"its {part} does not decode ({exc})") from exc
