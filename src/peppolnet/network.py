"""Networks are values: SML zone, trust anchors, Directory URL and policy in one frozen object.

Nothing in peppolnet reads global state: every lookup is given a :class:`Network`. The built-ins
are ``PRODUCTION`` and ``TEST`` (OpenPeppol SML zones, G3 CAs, SHA-256 signatures only). The
retired EC zones and the G2 CAs exist only as explicitly named legacy networks, which also accept
RSA-SHA1 signatures, because old documents were signed that way (OpenPeppol SML service; Peppol SMP
specification 1.2 and W3C XML Signature 1.1; Peppol PKI certificate policy).

The built-in networks are created on first access (module ``__getattr__``), so importing this
module does not load ``cryptography``'s X.509 code or read any PEM file.

SMP signatures are trusted only if they chain to ``smp_ca`` and endpoint certificates only if
they chain to ``ap_ca``: the roots are deliberately not anchors, or an AP certificate would pass
as an SMP certificate.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peppolnet.destinations import DestinationPolicy
from peppolnet.dnssec.anchors import ROOT_ANCHORS
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _
from peppolnet.xmldsig import SignaturePolicy

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "AUTO_NAME",
    "LEGACY_EC_PRODUCTION",
    "LEGACY_EC_TEST",
    "LEGACY_G2_PRODUCTION",
    "LEGACY_G2_TEST",
    "NETWORK_NAMES",
    "PRODUCTION",
    "TEST",
    "Network",
    "Networks",
    "auto_networks",
    "load_pem_bundle",
    "network_by_name",
    "trust_anchor",
]

TRUST_DIR = Path(__file__).resolve().parent / "data" / "trust"

PRODUCTION_ZONE = "participant.sml.prod.tech.peppol.org"
TEST_ZONE = "participant.sml.test.tech.peppol.org"
EC_PRODUCTION_ZONE = "edelivery.tech.ec.europa.eu"
EC_TEST_ZONE = "acc.edelivery.tech.ec.europa.eu"


@dataclass(frozen=True, slots=True)
class Network:
    """Everything a lookup needs to know about one Peppol network.

    ``nameservers`` empty means the system resolver; ``tls_verify`` is what HTTPS to SMPs and the
    Directory trusts (True = system CAs, or a path to a PEM bundle, as for ``httpx``).
    ``destinations`` says which addresses SMP and CRL URLs may lead to: public ones only for
    every built-in network (see :mod:`peppolnet.destinations` and docs/security.md); widen it
    with ``network.replace(destinations=DestinationPolicy.allowing("private"))``.
    ``dnssec_anchors`` are the DS records a DNSSEC chain of trust starts from, when lookups
    validate (``Lookup(dnssec=True)``): the IANA root's for every built-in network, the
    sandbox's own for a sandbox (see :mod:`peppolnet.dnssec.anchors` and docs/dnssec.md).
    """

    name: str
    sml_zone: str
    smp_ca: tuple[x509.Certificate, ...]
    ap_ca: tuple[x509.Certificate, ...]
    directory_url: str | None
    signature_policy: SignaturePolicy = dataclasses.field(default_factory=SignaturePolicy.strict)
    require_https: bool = True
    nameservers: tuple[str, ...] = ()
    dns_port: int = 53
    tls_verify: str | bool = True
    legacy_cname: bool = False
    destinations: DestinationPolicy = dataclasses.field(default_factory=DestinationPolicy)
    dnssec_anchors: tuple[str, ...] = ROOT_ANCHORS

    def replace(self, **changes: Any) -> Network:
        """A copy with some fields changed, e.g. ``TEST.replace(nameservers=("127.0.0.1",))``."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        return f"Network(name={self.name!r}, sml_zone={self.sml_zone!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # cryptography's certificates do not pickle: they travel as DER (a worker process of
        # check_many(processes=N) is sent its network this way)
        from cryptography.hazmat.primitives.serialization import Encoding

        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        for name in _CERTIFICATES:
            values[name] = tuple(cert.public_bytes(Encoding.DER) for cert in values[name])
        return (_unpickled_network, (values,))


_CERTIFICATES = ("smp_ca", "ap_ca")


def _unpickled_network(values: dict[str, Any]) -> Network:
    from cryptography import x509

    for name in _CERTIFICATES:
        values[name] = tuple(x509.load_der_x509_certificate(der) for der in values[name])
    return Network(**values)


@dataclass(frozen=True, slots=True)
class Networks:
    """Networks one lookup tries in order (``--network auto``; :class:`peppolnet.auto.AutoLookup`).

    The first network where the participant is registered answers, and the answer names it
    (``Reachability.network``). Only a believed "not registered" moves on to the next network:
    a fault on one is ``unknown`` - the next is not asked, or a customer missing from a
    production SML that merely timed out would be reported from the test network.
    """

    name: str
    networks: tuple[Network, ...]

    def __post_init__(self) -> None:
        if not self.networks:
            raise InvalidInput(_("the network list {name} names no network", name=repr(self.name)))

    def replace(self, **changes: Any) -> Networks:
        """A copy with every network changed alike, e.g. ``replace(nameservers=(...))``."""
        return Networks(self.name, tuple(n.replace(**changes) for n in self.networks))

    def __iter__(self) -> Iterator[Network]:
        return iter(self.networks)


def load_pem_bundle(path: str | Path) -> tuple[x509.Certificate, ...]:
    """All certificates in a PEM file. Raises ``InvalidInput`` if there are none or it is bad."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
        certs = tuple(x509.load_pem_x509_certificates(data))
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            _("cannot read certificates from {path}: {error}", path=path, error=exc)
        ) from exc
    return certs


@functools.cache
def trust_anchor(name: str) -> x509.Certificate:
    """One compiled CA certificate by file stem, e.g. ``"g3-prod-smp-ca"`` (see data/trust)."""
    return load_pem_bundle(TRUST_DIR / f"{name}.pem")[0]


@functools.cache
def _build(name: str) -> Network:
    anchor = trust_anchor
    if name == "production":
        return Network(
            name,
            PRODUCTION_ZONE,
            (anchor("g3-prod-smp-ca"),),
            (anchor("g3-prod-ap-ca"),),
            "https://directory.peppol.eu",
        )
    if name == "test":
        return Network(
            name,
            TEST_ZONE,
            (anchor("g3-test-smp-ca"),),
            (anchor("g3-test-ap-ca"),),
            "https://test-directory.peppol.eu",
        )
    legacy = SignaturePolicy.legacy()
    if name == "legacy-g2-production":
        return Network(
            name,
            PRODUCTION_ZONE,
            (anchor("g2-prod-smp-ca"),),
            (anchor("g2-prod-ap-ca"),),
            "https://directory.peppol.eu",
            legacy,
        )
    if name == "legacy-g2-test":
        return Network(
            name,
            TEST_ZONE,
            (anchor("g2-test-smp-ca"),),
            (anchor("g2-test-ap-ca"),),
            "https://test-directory.peppol.eu",
            legacy,
        )
    if name == "legacy-ec-production":
        return Network(
            name,
            EC_PRODUCTION_ZONE,
            (anchor("g2-prod-smp-ca"),),
            (anchor("g2-prod-ap-ca"),),
            "https://directory.peppol.eu",
            legacy,
        )
    if name == "legacy-ec-test":
        return Network(
            name,
            EC_TEST_ZONE,
            (anchor("g2-test-smp-ca"),),
            (anchor("g2-test-ap-ca"),),
            "https://test-directory.peppol.eu",
            legacy,
        )
    raise InvalidInput(
        _(
            "unknown network {name}; known networks: {listed}",
            name=repr(name),
            listed=", ".join(NETWORK_NAMES),
        )
    )


AUTO_NAME = "auto"


def auto_networks() -> Networks:
    """``auto``: production first, then test (see :class:`Networks`)."""
    return Networks(AUTO_NAME, (network_by_name("production"), network_by_name("test")))


#: Names accepted by :func:`network_by_name` (and the CLI's ``--network``).
NETWORK_NAMES = (
    "production",
    "test",
    "legacy-g2-production",
    "legacy-g2-test",
    "legacy-ec-production",
    "legacy-ec-test",
)

_ATTRIBUTES = {
    "PRODUCTION": "production",
    "TEST": "test",
    "LEGACY_G2_PRODUCTION": "legacy-g2-production",
    "LEGACY_G2_TEST": "legacy-g2-test",
    "LEGACY_EC_PRODUCTION": "legacy-ec-production",
    "LEGACY_EC_TEST": "legacy-ec-test",
}


def network_by_name(name: str) -> Network:
    """A built-in network by name (case-insensitive, ``_`` and ``-`` alike)."""
    return _build(name.strip().lower().replace("_", "-"))


if TYPE_CHECKING:
    PRODUCTION: Network
    TEST: Network
    LEGACY_G2_PRODUCTION: Network
    LEGACY_G2_TEST: Network
    LEGACY_EC_PRODUCTION: Network
    LEGACY_EC_TEST: Network
else:

    def __getattr__(attribute: str) -> Network:
        if attribute in _ATTRIBUTES:
            return network_by_name(_ATTRIBUTES[attribute])
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
