"""Certificates the sandbox's PKI does not issue, for the tests of what a hostile SMP may send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from peppolnet.sandbox.pki import TestPki


def padded_certificate(
    pki: TestPki, cn: str, padding: int, public_key: CertificatePublicKeyTypes | None = None
) -> x509.Certificate:
    """A leaf under the test SMP CA carrying ``padding`` bytes in an unrecognised extension: as
    large as a hostile SMP could make one (for ``public_key``, or a fresh EC key)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    public = public_key or ec.generate_private_key(ec.SECP256R1()).public_key()
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)]))
        .issuer_name(pki.smp_ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"x" * padding
            ),
            critical=False,
        )
        .sign(pki._smp_key, hashes.SHA256())
    )
