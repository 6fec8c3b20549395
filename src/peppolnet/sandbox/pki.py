"""A test PKI shaped like Peppol's: Root -> "SMP CA" and "AP CA" -> leaf certificates.

The shape copies the real G3 hierarchy (Peppol PKI certificate policy, G3 hierarchy) so the same
chain checks run against it:
CAs with basicConstraints (pathlen), keyCertSign/cRLSign and subject/authority key identifiers;
leaves with digitalSignature+keyEncipherment, CN = Seat ID, O = operator name, C = country and an
OU saying what they are. A TLS server certificate for 127.0.0.1/localhost comes from the same root
so HTTPS in the sandbox is real HTTPS.

Revocation: when :attr:`TestPki.crl_base_url` is set (the running sandbox sets it to its CRL
server before issuing anything), every SMP and AP leaf names its CA's CRL there as a CRL
Distribution Point, and :meth:`TestPki.issue_crl` signs the CRLs that server hands out.

Why keys are cached on disk: RSA key generation costs ~50-200 ms per key, and loading a PEM key
normally runs OpenSSL's RSA consistency check (also slow). Keys are written once per directory and
loaded with ``unsafe_skip_rsa_key_validation=True`` - safe here because we wrote them ourselves.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from peppolnet.clock import Clock, as_clock
from peppolnet.errors import SandboxError
from peppolnet.i18n import _

__all__ = ["CRL_KINDS", "IssuedCertificate", "TestPki"]

#: The CAs that publish a CRL: ``smp`` (SMP CA) and ``ap`` (AP CA).
CRL_KINDS = ("smp", "ap")

_SANDBOX_O = "peppolnet sandbox"
_DAY = dt.timedelta(days=1)
_LEAF_LIFETIME = 730 * _DAY


def _covers(cert: x509.Certificate, start: dt.datetime, end: dt.datetime) -> bool:
    """A cached CA is reused only while it outlives the leaves it will sign, on any clock."""
    return cert.not_valid_before_utc <= start and cert.not_valid_after_utc >= end


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate and its private key."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _ca_name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _SANDBOX_O),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "FOR TEST ONLY"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class TestPki:
    """Root, SMP CA and AP CA with their keys, stored as PEM files in ``directory``."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self, directory: Path, *, key_size: int = 2048, clock: Clock | None = None
    ) -> None:
        self.directory = directory
        self.key_size = key_size
        self.directory.mkdir(parents=True, exist_ok=True)
        # "now" of the clock the sandbox was given: a sandbox a year ahead issues its
        # certificates a year ahead, so lookups on the same clock find them valid.
        now = as_clock(clock).now().replace(microsecond=0)
        self._epoch = now - _DAY
        # TLS is checked by OpenSSL against the machine's real time, whatever the clock says:
        # the CAs and the TLS certificate cover both the clock's "now" and the real one.
        real = dt.datetime.now(dt.UTC).replace(microsecond=0) - _DAY
        self._span = (min(self._epoch, real), max(self._epoch, real) + 2 * _LEAF_LIFETIME)
        root = self._load_or_make_ca("root", "peppolnet sandbox Root TEST CA", None, 1)
        self.root: x509.Certificate = root.certificate
        self._root_key = root.private_key
        smp = self._load_or_make_ca(
            "smp-ca", "peppolnet sandbox SERVICE METADATA PUBLISHER TEST CA", root, 0
        )
        ap = self._load_or_make_ca("ap-ca", "peppolnet sandbox ACCESS POINT TEST CA", root, 0)
        self.smp_ca: x509.Certificate = smp.certificate
        self.ap_ca: x509.Certificate = ap.certificate
        self._smp_key = smp.private_key
        self._ap_key = ap.private_key
        #: Where the CRLs are served (``{crl_base_url}/smp-ca.crl``, ``/ap-ca.crl``); None: leaves
        #: are issued without a CRL Distribution Point.
        self.crl_base_url: str | None = None

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def generate(
        cls, directory: Path | None = None, *, key_size: int = 2048, clock: Clock | None = None
    ) -> TestPki:
        """Load the PKI from ``directory`` or create it there (a temporary one if None)."""
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="peppolnet-pki-"))
        return cls(directory, key_size=key_size, clock=clock)

    @classmethod
    def load_or_create(
        cls, directory: Path, *, key_size: int = 2048, clock: Clock | None = None
    ) -> TestPki:
        """Same as :meth:`generate` with a directory: reuse its keys, create what is missing."""
        return cls(directory, key_size=key_size, clock=clock)

    def _key(self, name: str) -> rsa.RSAPrivateKey:
        """The cached key ``name``, generated and written on first use."""
        path = self.directory / f"{name}.key.pem"
        if path.exists():
            try:
                key = serialization.load_pem_private_key(
                    path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
                )
            except ValueError as exc:
                raise SandboxError(
                    _("the sandbox key file {path} cannot be read: {exc}", path=path, exc=str(exc))
                ) from exc
            if not isinstance(key, rsa.RSAPrivateKey):
                raise SandboxError(_("the sandbox key file {path} is not an RSA key", path=path))
            return key
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.key_size)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        return key

    def _load_or_make_ca(
        self, name: str, cn: str, parent: IssuedCertificate | None, pathlen: int
    ) -> IssuedCertificate:
        key = self._key(name)
        cert_path = self.directory / f"{name}.pem"
        if cert_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if (
                cert.public_key() == key.public_key()
                and (parent is None or _signed_by(cert, parent.certificate))
                and _covers(cert, *self._span)
            ):
                return IssuedCertificate(cert, key)
        subject = _ca_name(cn)
        issuer_name = parent.certificate.subject if parent else subject
        issuer_key = parent.private_key if parent else key
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._span[0])
            .not_valid_after(max(self._span[0] + 3650 * _DAY, self._span[1]))
            .add_extension(x509.BasicConstraints(ca=True, path_length=pathlen), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
        )
        if parent is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.private_key.public_key()),
                critical=False,
            )
        cert = builder.sign(issuer_key, hashes.SHA256())
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return IssuedCertificate(cert, key)

    # --- issuing ------------------------------------------------------------------------------

    def _leaf(
        self,
        *,
        key_name: str,
        subject: x509.Name,
        issuer: x509.Certificate,
        issuer_key: rsa.RSAPrivateKey,
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        eku: Sequence[x509.ObjectIdentifier],
        san: Sequence[x509.GeneralName] = (),
        crl_kind: str | None = None,
    ) -> IssuedCertificate:
        key = self._key(key_name)
        start = not_before or self._epoch
        end = not_after or (start + _LEAF_LIFETIME)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
        crl_url = self.crl_url(crl_kind) if crl_kind is not None else None
        if crl_url is not None:
            point = x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(crl_url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        return IssuedCertificate(builder.sign(issuer_key, hashes.SHA256()), key)

    # --- revocation ---------------------------------------------------------------------------

    def crl_url(self, kind: str) -> str | None:
        """The CRL Distribution Point put into ``kind`` (``smp``/``ap``) leaves, if any."""
        if kind not in CRL_KINDS:
            raise SandboxError(
                _(
                    "no CRL for {kind}; use one of {listed}",
                    kind=repr(kind),
                    listed=", ".join(CRL_KINDS),
                )
            )
        if self.crl_base_url is None:
            return None
        return f"{self.crl_base_url.rstrip('/')}/{kind}-ca.crl"

    def ca_for(self, kind: str) -> IssuedCertificate:
        """The CA that issues ``kind`` (``smp``/``ap``) certificates, with its key."""
        if kind == "smp":
            return IssuedCertificate(self.smp_ca, self._smp_key)
        if kind == "ap":
            return IssuedCertificate(self.ap_ca, self._ap_key)
        raise SandboxError(
            _("no CA for {kind}; use one of {listed}", kind=repr(kind), listed=", ".join(CRL_KINDS))
        )

    def issue_crl(
        self,
        kind: str,
        revoked: Iterable[tuple[int, dt.datetime, x509.ReasonFlags | None]] = (),
        *,
        this_update: dt.datetime,
        next_update: dt.datetime,
        number: int = 1,
        signing_key: rsa.RSAPrivateKey | None = None,
    ) -> x509.CertificateRevocationList:
        """The CRL of the ``kind`` CA listing ``revoked`` (serial, date, reason) entries.

        ``signing_key`` signs it instead of the CA's key (a forged CRL for tests: the issuer
        name is right, the signature is not).
        """
        ca = self.ca_for(kind)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.certificate.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
                critical=False,
            )
        )
        for serial, when, reason in revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(signing_key or ca.private_key, hashes.SHA256())

    @staticmethod
    def _leaf_name(seat_id: str, organisation: str, country: str, ou: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                x509.NameAttribute(NameOID.COMMON_NAME, seat_id),
            ]
        )

    def issue_smp_certificate(
        self,
        seat_id: str,
        organisation: str,
        country: str,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> IssuedCertificate:
        """An SMP signing certificate under the SMP CA (pass past dates for an expired one)."""
        return self._leaf(
            key_name=f"smp-{seat_id}",
            subject=self._leaf_name(seat_id, organisation, country, "PEPPOL TEST SMP"),
            issuer=self.smp_ca,
            issuer_key=self._smp_key,
            not_before=not_before,
            not_after=not_after,
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
            crl_kind="smp",
        )

    def issue_ap_certificate(
        self,
        seat_id: str,
        organisation: str,
        country: str,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> IssuedCertificate:
        """An access point certificate under the AP CA (pass future dates: not yet valid)."""
        return self._leaf(
            key_name=f"ap-{seat_id}",
            subject=self._leaf_name(seat_id, organisation, country, "PEPPOL TEST AP"),
            issuer=self.ap_ca,
            issuer_key=self._ap_key,
            not_before=not_before,
            not_after=not_after,
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
            crl_kind="ap",
        )

    def issue_tls_certificate(
        self, hostnames: Sequence[str] = ("127.0.0.1", "localhost")
    ) -> IssuedCertificate:
        """A TLS server certificate from the root, with DNS and IP subject alternative names."""
        san: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _SANDBOX_O),
                x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else "sandbox"),
            ]
        )
        return self._leaf(
            key_name="tls",
            subject=subject,
            issuer=self.root,
            issuer_key=self._root_key,
            not_before=self._span[0],
            not_after=self._span[1],
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
            san=san,
        )

    @property
    def tls_ca_pem_path(self) -> Path:
        """PEM file with the root, for ``httpx``/``ssl`` ``verify=`` against sandbox HTTPS."""
        return self.directory / "root.pem"
