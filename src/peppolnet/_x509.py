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
from typing import TYPE_CHECKING, Final

from peppolnet.i18n import _

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["MEMO_BUDGET", "decode_errors", "memo_bytes", "parse_now"]

MEMO_BUDGET: Final = 8 * 1024 * 1024
"""The bytes each memo of certificates (loaded, their facts, their paths) may hold."""


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


# The parts parse_now names, for the sentence only (the loop keeps plain keys: it runs for
# every certificate, the sentence only for a broken one).
_PARTS: Final = {
    "subject": _("subject"),
    "issuer": _("issuer"),
    "public key": _("public key"),
    "validity": _("validity"),
    "serial number": _("serial number"),
}


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
            raise ValueError(
                _("its {part} does not decode ({exc})", part=_PARTS[part], exc=str(exc))
            ) from exc


def memo_bytes(*values: object) -> int:
    """What keeping ``values`` in a memo costs, for its byte budget: each certificate among
    them (also inside tuples) its DER twice (``cryptography`` keeps the bytes and what it has
    parsed of them) plus 1 KB, each string twice its length, anything else 256 bytes.

    ``sys.getsizeof`` does not see the certificate's memory, and a certificate from a hostile
    SMP may be as large as the document that carried it: a memo bounded by its number of
    entries alone could hold gigabytes.
    """
    from cryptography import x509

    total = 0
    for value in values:
        if isinstance(value, x509.Certificate):
            total += 2 * len(value.tbs_certificate_bytes) + 1024
        elif isinstance(value, str):
            total += 2 * len(value) + 64
        elif isinstance(value, tuple):
            total += memo_bytes(*value)
        else:
            total += 256
    return total
