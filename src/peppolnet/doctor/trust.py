"""The trust stores: which Peppol CAs a network trusts, and what HTTPS trusts.

Peppol's PKI moved from its second generation of CAs (G2) to the third (G3) in 2025-2026; G2
stopped being valid on 2026-04-01 (Peppol PKI; the G2 certificates themselves run to 2028, so
their dates alone do not show it). A trust store that still holds a G2 CA accepts SMP
signatures and access point certificates that must no longer be trusted; one without the G3
CAs trusts no current answer at all. :mod:`peppolnet.guardrails` knows the G2 CAs and the
date (the lookups' own G2 checks use it too); a G3 CA is told by its fingerprint, compared with
the compiled anchors under ``peppolnet/data/trust`` (``tools/gen_trust_anchors.py``). Judged at
the injected clock's "now", so the rule can be tested on either side of the date.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from peppolnet._tls import context
from peppolnet.doctor.model import Finding
from peppolnet.errors import InvalidInput
from peppolnet.guardrails import G2_END, is_g2_ca
from peppolnet.i18n import _
from peppolnet.network import PRODUCTION_ZONE, TEST_ZONE, TRUST_DIR, Network
from peppolnet.reachability import CheckStatus

__all__ = ["G2_END", "tls_trust", "trust_store"]


@functools.cache
def _g3_fingerprints() -> frozenset[str]:
    """SHA-256 fingerprints (hex) of the compiled Peppol G3 CAs (data/trust/fingerprints.json)."""
    data = json.loads((TRUST_DIR / "fingerprints.json").read_text(encoding="utf-8"))
    return frozenset(entry["sha256"].lower() for name, entry in data.items() if name[:2] == "g3")


def _name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def trust_store(network: Network, now: datetime) -> Finding:
    """The network's SMP and AP CAs: current, G3 for the OpenPeppol zones, and no G2."""
    certificates = list(dict.fromkeys([*network.smp_ca, *network.ap_ca]))
    g2 = [_name(c) for c in certificates if is_g2_ca(c)]
    g3_prints = _g3_fingerprints()
    g3 = [_name(c) for c in certificates if c.fingerprint(hashes.SHA256()).hex() in g3_prints]
    expired = [_name(c) for c in certificates if c.not_valid_after_utc < now]
    if expired:
        return _finding(
            CheckStatus.FAIL,
            _(
                "the trust store holds CA certificates that have expired: {names}",
                names=", ".join(expired),
            ),
            _("update peppolnet (its compiled trust anchors) or the network's CA files"),
        )
    if g2 and now >= G2_END:
        return _finding(
            CheckStatus.FAIL,
            _(
                "the trust store still holds Peppol G2 CAs ({names}); G2 stopped being valid on "
                "2026-04-01, so what they vouch for must no longer be trusted",
                names=", ".join(g2),
            ),
            _("use the production or test network (G3 only), or remove the G2 CAs from its files"),
        )
    if g2:
        return _finding(
            CheckStatus.WARN,
            _(
                "the trust store holds Peppol G2 CAs ({names}); G2 stops being valid on 2026-04-01",
                names=", ".join(g2),
            ),
            _("move to the G3 CAs before then (the production and test networks have them)"),
        )
    official = network.sml_zone.strip().rstrip(".").lower() in (PRODUCTION_ZONE, TEST_ZONE)
    if not g3 and official:
        return _finding(
            CheckStatus.FAIL,
            _(
                "the trust store lacks the Peppol G3 CAs that OpenPeppol's SMPs and access "
                "points are certified by"
            ),
            _("use --network production or test, whose trust stores hold the G3 CAs"),
        )
    mine = [_name(c) for c in certificates]
    if g3:
        message = _(
            "the trust store holds the Peppol G3 CAs ({names}) and no G2", names=", ".join(g3)
        )
    else:
        message = _(
            "the trust store holds the network's own CAs ({names}), no Peppol G2",
            names=", ".join(mine),
        )
    return _finding(CheckStatus.PASS, message)


def _finding(status: CheckStatus, message: str, fix: str | None = None) -> Finding:
    return Finding("trust-store", status, message, fix, "smp_ca, ap_ca")


def tls_trust(network: Network) -> Finding:
    """What HTTPS to SMPs and the Directory trusts (``Network.tls_verify``)."""
    verify = network.tls_verify
    if verify is False:
        return Finding(
            "tls-trust",
            CheckStatus.WARN,
            _("HTTPS certificates of SMPs and the Directory are not checked (tls_verify=False)"),
            _("set the network's tls_verify to True, or to a CA bundle"),
        )
    if verify is True:
        return Finding(
            "tls-trust",
            CheckStatus.PASS,
            _(
                "HTTPS certificates are checked against the system's CAs (certifi, or "
                "SSL_CERT_FILE / SSL_CERT_DIR)"
            ),
        )
    try:
        context(verify)
    except InvalidInput as exc:
        return Finding(
            "tls-trust",
            CheckStatus.FAIL,
            _("the TLS CA bundle cannot be read: {reason}", reason=exc.message),
            _("point the network's tls_verify at a readable PEM bundle"),
            str(verify),
        )
    return Finding(
        "tls-trust",
        CheckStatus.PASS,
        _("HTTPS certificates are checked against the CA bundle {path}", path=str(verify)),
        subject=str(verify),
    )
