"""The SML zone: does it resolve, and is it the one OpenPeppol runs?

OpenPeppol took the SML over from the European Commission in 2026: lookups use
``participant.sml.prod.tech.peppol.org`` and ``participant.sml.test.tech.peppol.org``, and the
EC's ``edelivery.tech.ec.europa.eu`` zones are retired (OpenPeppol SML service). A configuration
that still names them keeps working only as long as the old zones are served.
"""

from __future__ import annotations

from collections.abc import Sequence

from peppolnet import dnswire
from peppolnet.dnsquery import ask
from peppolnet.doctor.model import Finding
from peppolnet.errors import DnsFailure
from peppolnet.i18n import _
from peppolnet.network import EC_PRODUCTION_ZONE, EC_TEST_ZONE, PRODUCTION_ZONE, TEST_ZONE
from peppolnet.reachability import CheckStatus
from peppolnet.sml import zone_proof

__all__ = ["operator", "resolves"]

_RETIRED = {EC_PRODUCTION_ZONE: PRODUCTION_ZONE, EC_TEST_ZONE: TEST_ZONE}


def resolves(zone: str, servers: Sequence[str], port: int, timeout: float) -> Finding:
    """The zone's SOA, as the lookups' nameservers show it (in their order)."""
    outcome: dnswire.DnsResponse | DnsFailure
    try:
        outcome = ask(zone, dnswire.SOA, servers, port, timeout, tcp=False)
        server = outcome.server
    except DnsFailure as exc:
        outcome, server = exc, ", ".join(servers)
    proof = zone_proof(zone, server, outcome)
    if proof.shown:
        return Finding(
            "sml-zone",
            CheckStatus.PASS,
            _("the SML zone {zone} resolves (through {server})", zone=zone, server=server),
            subject=zone,
        )
    return Finding(
        "sml-zone",
        CheckStatus.FAIL,
        _(
            "the SML zone {zone} does not resolve through {server}: {detail}",
            zone=zone,
            server=server,
            detail=proof.detail,
        ),
        _("check the zone in the configuration, and that the resolver reaches the internet's DNS"),
        zone,
    )


def operator(zone: str) -> Finding:
    """Whether ``zone`` is OpenPeppol's, a retired EC zone, or a network of its own."""
    if zone == PRODUCTION_ZONE:
        message = _("{zone} is OpenPeppol's production SML zone", zone=zone)
        return Finding("sml-operator", CheckStatus.PASS, message, subject=zone)
    if zone == TEST_ZONE:
        message = _("{zone} is OpenPeppol's test SML zone", zone=zone)
        return Finding("sml-operator", CheckStatus.PASS, message, subject=zone)
    # the longest first: the EC test zone lies under the production one
    ordered = sorted(_RETIRED, key=len, reverse=True)
    retired = next((old for old in ordered if zone == old or zone.endswith("." + old)), None)
    if retired is not None:
        return Finding(
            "sml-operator",
            CheckStatus.WARN,
            _(
                "the configuration names {zone}, a retired SML zone of the European Commission; "
                "OpenPeppol runs the SML since 2026",
                zone=zone,
            ),
            _(
                "use OpenPeppol's zone {replacement} (--network production or test)",
                replacement=_RETIRED[retired],
            ),
            zone,
        )
    message = _(
        "{zone} is not an OpenPeppol SML zone: a network of its own, such as a sandbox", zone=zone
    )
    return Finding("sml-operator", CheckStatus.PASS, message, subject=zone)
