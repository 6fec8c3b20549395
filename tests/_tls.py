"""A self-signed certificate for 127.0.0.1, for tests of the TLS servers and clients (SMTP,
the sandbox's HTTPS) that must not depend on the sandbox's PKI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import ssl
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Tls:
    """A self-signed certificate for 127.0.0.1: the server's context, a client context that
    trusts it, and the certificate's and key's PEM files (``cert_path`` is what a client's CA
    file names)."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    cert_path: Path
    key_path: Path


def self_signed_tls(folder: Path) -> Tls:
    """A fresh key and self-signed certificate for 127.0.0.1, written into ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)  # the TLS stack judges validity by the real time
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return Tls(server, ssl.create_default_context(cafile=str(cert_path)), cert_path, key_path)
