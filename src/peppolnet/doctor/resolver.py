"""The resolver's checks: does it answer what an SML lookup asks, honestly, in full?

Lookups ask the resolver for NAPTR records (many container and home-router resolvers do not
forward that type), believe a "no such name" only with the SML zone's SOA (resolvers behind
captive portals and filters deny everything), need EDNS for answers over 512 bytes and TCP for
those over 1,232, and - with ``--dnssec`` - the DNSSEC records. Each is asked of each nameserver
the lookups would use, with the same question code (:mod:`peppolnet.dnsquery`) and judged with
the same rules (:func:`peppolnet.sml.negative_trust`, :func:`peppolnet.sml.zone_proof`).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import dns.exception
import dns.message

from peppolnet import dnswire
from peppolnet.clock import Clock
from peppolnet.dnsquery import ask
from peppolnet.dnswire import DnsResponse
from peppolnet.doctor.model import Finding
from peppolnet.errors import DnsFailure, DnssecBogus, NotRegistered
from peppolnet.i18n import Message, _
from peppolnet.identifiers import ParticipantId
from peppolnet.network import Network
from peppolnet.reachability import CheckStatus
from peppolnet.sml import NegativeTrust, SmlResolver, negative_trust, zone_proof

__all__ = ["Resolver", "resolver_checks"]

_PASS, _WARN, _FAIL, _SKIPPED = (
    CheckStatus.PASS,
    CheckStatus.WARN,
    CheckStatus.FAIL,
    CheckStatus.SKIPPED,
)


@dataclass(frozen=True)
class Resolver:
    """One nameserver as the lookups of ``network`` use it."""

    server: str
    port: int
    timeout: float
    network: Network
    clock: Clock

    @property
    def zone(self) -> str:
        return self.network.sml_zone.strip().rstrip(".").lower()

    def ask(
        self, name: str, rdtype: int, *, tcp: bool = False, dnssec: bool = False
    ) -> DnsResponse | DnsFailure:
        """The answer of this nameserver alone, or the fault."""
        try:
            return ask(
                name, rdtype, (self.server,), self.port, self.timeout, tcp=tcp, dnssec=dnssec
            )
        except DnsFailure as exc:
            return exc

    def finding(
        self, name: str, status: CheckStatus, message: Message, fix: Message | None = None
    ) -> Finding:
        return Finding(name, status, message, fix, self.server)


def _unknown_name(zone: str) -> str:
    """A name under ``zone`` that no one has registered (random, so no cache holds it)."""
    return f"peppolnet-doctor-{secrets.token_hex(6)}.{zone}"


def naptr(r: Resolver) -> Finding:
    answer = r.ask(r.zone, dnswire.NAPTR)
    if isinstance(answer, DnsFailure):
        return r.finding(
            "resolver-naptr",
            _FAIL,
            _(
                "the resolver {server} does not answer NAPTR questions ({reason})",
                server=r.server,
                reason=answer.message,
            ),
            _(
                "use a resolver that forwards NAPTR questions - the host's own or a public one "
                "(--dns, or the network's nameservers); many container and router resolvers do "
                "not"
            ),
        )
    return r.finding(
        "resolver-naptr", _PASS, _("the resolver {server} answers NAPTR questions", server=r.server)
    )


def nxdomain(r: Resolver) -> Finding:
    """A name nobody registered: denied, and the denial shown to come from the SML zone."""
    answer = r.ask(_unknown_name(r.zone), dnswire.NAPTR)
    if isinstance(answer, DnsFailure):
        return _unasked("resolver-nxdomain", r, answer)
    if answer.rcode == dnswire.NOERROR and answer.ttl is not None:
        return r.finding(
            "resolver-nxdomain",
            _FAIL,
            _(
                "the resolver {server} answers with records for a name that does not exist: it "
                "makes answers up",
                server=r.server,
            ),
            _(
                "use a resolver that passes denials on unchanged (turn off 'NXDOMAIN "
                "redirection' and blocking by rewritten answers)"
            ),
        )
    if negative_trust(answer, r.zone) is NegativeTrust.IN_BAND:
        return r.finding(
            "resolver-nxdomain",
            _PASS,
            _(
                "the resolver {server} says 'no such name' honestly, with the SML zone's SOA",
                server=r.server,
            ),
        )
    soa = r.ask(r.zone, dnswire.SOA)
    proof = zone_proof(r.zone, r.server, None if isinstance(soa, DnsFailure) else soa)
    if proof.shown:
        return r.finding(
            "resolver-nxdomain",
            _WARN,
            _(
                "the resolver {server} drops the SML zone's SOA from denials, but shows the zone "
                "when asked: each 'not registered' costs one more question",
                server=r.server,
            ),
            _(
                "nothing needs mending; a resolver that keeps the SOA in denials saves that "
                "question"
            ),
        )
    return r.finding(
        "resolver-nxdomain",
        _FAIL,
        _(
            "the resolver {server} says 'no such name' without showing the SML zone ({detail}): "
            "lookups behind it are 'unknown', never 'not registered'",
            server=r.server,
            detail=proof.detail or _("it denies the zone too"),
        ),
        _(
            "use another resolver: captive portals, filtered and offline networks answer like "
            "this (--dns, or the network's nameservers, pick one)"
        ),
    )


def edns(r: Resolver) -> Finding:
    """EDNS: answers up to 1,232 bytes come over UDP (a server that refuses it is asked again
    without; its reply then carries no OPT record)."""
    answer = r.ask(r.zone, dnswire.SOA, dnssec=True)
    if isinstance(answer, DnsFailure):
        return _unasked("resolver-edns", r, answer)
    try:
        reply = dns.message.from_wire(answer.wire)
        speaks, payload = reply.edns >= 0, reply.payload
    except (dns.exception.DNSException, ValueError):
        speaks, payload = False, 512
    if speaks:
        return r.finding(
            "resolver-edns",
            _PASS,
            _(
                "the resolver {server} speaks EDNS (answers up to {size} bytes over UDP)",
                server=r.server,
                size=payload,
            ),
        )
    return r.finding(
        "resolver-edns",
        _WARN,
        _(
            "the resolver {server} does not speak EDNS: every answer over 512 bytes must be "
            "asked again over TCP",
            server=r.server,
        ),
        _("use a resolver that supports EDNS (RFC 6891), and keep TCP port 53 open to it"),
    )


def tcp(r: Resolver) -> Finding:
    answer = r.ask(r.zone, dnswire.SOA, tcp=True)
    if isinstance(answer, DnsFailure):
        return r.finding(
            "resolver-tcp",
            _FAIL,
            _(
                "the resolver {server} does not answer over TCP ({reason}): answers too large "
                "for UDP would fail",
                server=r.server,
                reason=answer.message,
            ),
            _("open TCP port 53 to the resolver (firewalls often block it), or use another"),
        )
    return r.finding(
        "resolver-tcp",
        _PASS,
        _("the resolver {server} answers over TCP, as large answers need", server=r.server),
    )


def dnssec(r: Resolver) -> Finding:
    """DNSSEC: a denial from the SML, validated from the network's trust anchors as a lookup
    with ``dnssec=True`` would."""
    if not r.network.dnssec_anchors:
        message = _("the {network} network names no DNSSEC trust anchor", network=r.network.name)
        return r.finding("resolver-dnssec", _SKIPPED, message)
    resolver = SmlResolver(
        r.zone,
        nameservers=(r.server,),
        port=r.port,
        timeout=r.timeout,
        cache=False,
        clock=r.clock,
        dnssec=True,
        dnssec_anchors=r.network.dnssec_anchors,
    )
    probe = ParticipantId.parse(f"9999:peppolnet-doctor-{secrets.token_hex(6)}")
    try:
        answer = resolver.resolve(probe)
        result = answer.dnssec
    except NotRegistered as exc:
        result = exc.dnssec
    except DnssecBogus as exc:
        return r.finding(
            "resolver-dnssec",
            _FAIL,
            _(
                "the SML zone's answers through {server} do not validate: {reason}",
                server=r.server,
                reason=exc.message,
            ),
            _(
                "use a resolver that passes DNSSEC records (the DO bit), or look up without "
                "--dnssec; if every resolver gives this, the zone's signatures are broken"
            ),
        )
    except DnsFailure as exc:  # a DnssecFailure too: the chain could not be fetched
        return _unasked("resolver-dnssec", r, exc)
    if result is not None and result.status == "secure":
        message = _(
            "the resolver {server} passes DNSSEC records, and the SML zone's answers validate: "
            "--dnssec can be used",
            server=r.server,
        )
    else:
        message = _(
            "the resolver {server} answers, but the SML zone is not signed: --dnssec lookups "
            "say 'insecure' ({detail})",
            server=r.server,
            detail=result.detail if result is not None else "",
        )
    return r.finding("resolver-dnssec", _PASS, message)


def _unasked(name: str, r: Resolver, fault: DnsFailure) -> Finding:
    """A check that could not be made: the resolver did not answer the question."""
    return r.finding(
        name,
        _FAIL,
        _(
            "the resolver {server} could not be asked ({reason})",
            server=r.server,
            reason=fault.message,
        ),
        _("check that the resolver is reachable (UDP and TCP port 53), or name another with --dns"),
    )


_CHECKS: Final = (
    ("resolver-naptr", naptr),
    ("resolver-nxdomain", nxdomain),
    ("resolver-edns", edns),
    ("resolver-tcp", tcp),
    ("resolver-dnssec", dnssec),
)


def resolver_checks(resolvers: Sequence[Resolver]) -> list[tuple[str, Callable[[], Finding]]]:
    """Every resolver check of every nameserver, in order, each named (``name server``) and
    ready to run: :func:`peppolnet.doctor.parallel.at_once` runs them together."""
    return [
        (f"{name} {r.server}", functools.partial(check, r))
        for r in resolvers
        for name, check in _CHECKS
    ]
