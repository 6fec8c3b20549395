"""The first steps of a trace: the identifier, its SML name, the DNS question, the SMP URL."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from peppolnet.codelists import scheme_for
from peppolnet.destinations import redact_url
from peppolnet.dnswire import DnsResponse, rcode_text, rdtype_text
from peppolnet.errors import DnssecFailure, NoSmpService
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId, lower
from peppolnet.reachability import Check, CheckStatus, Reachability
from peppolnet.sml import SmlAnswer, naptr_name
from peppolnet.trace.build import Phase, said, worst
from peppolnet.trace.model import TraceStep
from peppolnet.trace.recorder import DnsQuery, DnsReply, Dnssec

if TYPE_CHECKING:
    from peppolnet.lookup import _Context
    from peppolnet.trace.recorder import TraceRecorder

__all__ = ["sml_steps"]

#: How a validator's DNSSEC result reads as a step (RFC 4035 §4.3; ``indeterminate``: the
#: chain of trust could not be fetched - the lookup's ``dnssec`` check then fails the step).
_DNSSEC: Final[Mapping[str, CheckStatus]] = {
    "secure": CheckStatus.PASS,
    "insecure": CheckStatus.WARN,
    "indeterminate": CheckStatus.WARN,
    "bogus": CheckStatus.FAIL,
}
#: The questions a DNSSEC validation asks: shown in its step, not the DNS step's.
_CHAIN_TYPES: Final = frozenset({"DS", "DNSKEY"})


def sml_steps(
    recorder: TraceRecorder,
    cut: Sequence[Phase],
    checks: Mapping[str, list[Check]],
    result: Reachability,
) -> list[TraceStep]:
    """identifier, sml-name, dns and dnssec (where a validator reported), smp-url.

    The dnssec steps follow the DNS step - or come before it when the DNS step ends the
    lookup (a "no such name"), so the trace still shows what DNSSEC said of that denial."""
    participant = result.participant or recorder.ctx.candidates[0]
    asked = [p for p in cut if p.kind == "dns"]
    steps = [
        _identifier(recorder.ctx, participant, checks.get("identifier", [])),
        _sml_name(recorder, participant, asked),
    ]
    if not asked and "dns" not in checks and "dnssec" not in checks:
        return steps
    dns = _dns(recorder, asked, checks.get("dns", []))
    dnssec = _dnssec(recorder, asked, checks.get("dnssec", []))
    if dns.status is CheckStatus.FAIL:
        steps.extend([*dnssec, dns])
    else:
        steps.extend([dns, *dnssec])
    outcome = asked[-1].answered.outcome if asked and asked[-1].answered else None
    if isinstance(outcome, SmlAnswer | NoSmpService):
        steps.append(_smp_url(outcome, _last_answer(asked), checks.get("smp-url", [])))
    return steps


def _identifier(ctx: _Context, participant: ParticipantId, checks: list[Check]) -> TraceStep:
    """The identifier looked up; for a number and a country, every identifier it may be (tried
    in that order until one is registered) in ``candidates``."""
    scheme = scheme_for(participant.icd or "")
    details = {
        "query": ctx.query,
        "candidates": [candidate.uri for candidate in ctx.candidates],
        "participant_id": participant.uri,
        "scheme": participant.scheme,
        "value": participant.value,
        "icd": participant.icd,
        "icd_scheme": scheme.scheme_id if scheme else None,
    }
    if scheme is not None:
        text = _(
            "read as {participant}: ICD {icd} ({scheme})",
            participant=participant.uri,
            icd=participant.icd,
            scheme=scheme.scheme_id,
        )
    else:
        text = _("read as {participant}", participant=participant.uri)
    status = worst(checks)
    return TraceStep(
        "identifier", status, said(status, checks, text), details=details, checks=tuple(checks)
    )


def _sml_name(
    recorder: TraceRecorder, participant: ParticipantId, asked: Sequence[Phase]
) -> TraceStep:
    """The name the resolver asked for (worked out again only when it asked nothing)."""
    network = recorder.network
    asked_for = next(
        (e.exchange.name for p in asked for e in p.events if isinstance(e, DnsQuery)), None
    )
    record_name = getattr(recorder.resolver, "record_name", None)
    if asked_for is not None:
        name = asked_for
    elif callable(record_name):
        name = record_name(participant)
    else:
        name = naptr_name(participant, network.sml_zone)
    legacy = network.legacy_cname
    method = "md5-hex" if legacy else "sha256-base32"
    details = {
        "name": name,
        "label": name.split(".", 1)[0],
        "hash": method,
        "hashed_value": lower(participant.value),
        "scheme": participant.scheme.lower(),
        "zone": getattr(recorder.resolver, "zone", network.sml_zone),
        "record_type": "CNAME" if legacy else "NAPTR",
    }
    value = details["hashed_value"]
    formula = f'"B-" + md5hex("{value}")' if legacy else f'base32(sha256("{value}"))'
    text = _("the SML name is {name}; its first label is {formula}", name=name, formula=formula)
    return TraceStep("sml-name", CheckStatus.PASS, text, details=details)


def _last_answer(asked: Sequence[Phase]) -> DnsResponse | None:
    """The last reply to the participant's own question (not the probe of the zone)."""
    replies = [
        e.response
        for p in asked
        for e in p.events
        if isinstance(e, DnsReply)
        and e.response is not None
        and rdtype_text(e.exchange.rdtype) in ("NAPTR", "CNAME")
    ]
    return replies[-1] if replies else None


def _queries(
    recorder: TraceRecorder, asked: Sequence[Phase], *, chain: bool = False
) -> list[dict[str, Any]]:
    """Every DNS query sent, in order, with its outcome: the lookup's own (NAPTR or CNAME, the
    zone's SOA), or with ``chain`` the DS and DNSKEY questions of a DNSSEC validation."""
    port = getattr(recorder.resolver, "port", recorder.network.dns_port)
    sent: dict[int, DnsQuery] = {}
    rows: list[dict[str, Any]] = []
    for phase in asked:
        for event in phase.events:
            if isinstance(event, DnsQuery):
                sent[id(event.exchange)] = event
            elif isinstance(event, DnsReply):
                exchange = event.exchange
                kind = rdtype_text(exchange.rdtype)
                if (kind in _CHAIN_TYPES) is not chain:
                    continue
                query = sent.get(id(exchange))
                response = event.response
                rows.append(
                    {
                        "server": exchange.server,
                        "port": port,
                        "transport": "tcp" if exchange.tcp else "udp",
                        "name": exchange.name,
                        "type": kind,
                        "rcode": rcode_text(response.rcode) if response else None,
                        "truncated": bool(response and response.truncated),
                        "outcome": "answered" if response else event.reason,
                        "elapsed_ms": None
                        if query is None
                        else round((event.at - query.at) * 1000, 2),
                    }
                )
    return rows


def answer_details(response: DnsResponse) -> dict[str, Any]:
    """What a DNS reply said, for a trace."""
    soa = None
    if response.soa_owner is not None:
        soa = {"zone": response.soa_owner, "negative_ttl": response.negative_ttl}
    return {
        "server": response.server,
        "rcode": rcode_text(response.rcode),
        "ad": response.ad,
        "records": [str(r) for r in response.naptr] + list(response.cname),
        "ttl": response.ttl,
        "aliases": [str(a) for a in response.aliases],
        "authority_soa": soa,
    }


def _dns(recorder: TraceRecorder, asked: Sequence[Phase], checks: list[Check]) -> TraceStep:
    queries = _queries(recorder, asked)
    response = _last_answer(asked)
    outcome = asked[-1].answered.outcome if asked and asked[-1].answered else None
    probes = [q for q in queries if q["type"] == "SOA"]
    details: dict[str, Any] = {
        "question": {
            "name": queries[0]["name"] if queries else None,
            "type": "CNAME" if recorder.network.legacy_cname else "NAPTR",
            "class": "IN",
        },
        "resolver": {
            "nameservers": list(getattr(recorder.resolver, "nameservers", ())),
            "port": getattr(recorder.resolver, "port", recorder.network.dns_port),
        },
        "queries": queries,
        "answer": answer_details(response) if response is not None else None,
        "zone_probe": probes[-1] if probes else None,
        "from_cache": bool(isinstance(outcome, SmlAnswer) and outcome.from_cache),
        "attempts": len(asked),
    }
    # an answer DNSSEC rejected was still an answer: the dnssec step says why it is not used
    judged = isinstance(outcome, DnssecFailure) and response is not None
    found = judged or isinstance(outcome, SmlAnswer | NoSmpService)
    status = worst(checks, CheckStatus.PASS if found else CheckStatus.FAIL)
    if response is not None:
        text = _(
            "{server} answered {rcode} with {count} record(s), TTL {ttl} s",
            server=response.server or "the resolver",
            rcode=rcode_text(response.rcode),
            count=len(response.naptr) + len(response.cname),
            ttl=response.ttl if response.ttl is not None else "-",
        )
    else:
        text = _("no DNS server answered")
    elapsed = None
    if asked and asked[-1].answered is not None:
        elapsed = asked[-1].answered.at - asked[0].asked.at
    return TraceStep(
        "dns",
        status,
        said(status, checks, text),
        elapsed=elapsed,
        details=details,
        checks=tuple(checks),
    )


def _dnssec(
    recorder: TraceRecorder, asked: Sequence[Phase], checks: list[Check]
) -> list[TraceStep]:
    """A step for each DNSSEC validation the resolver reported (see peppolnet._observe): its
    outcome, the zones its chain of trust walked and the DS and DNSKEY questions it asked.
    The lookup's ``dnssec`` checks belong to the last; an answer the resolver had cached (so
    nothing was validated now) is a step made of those checks alone."""
    steps: list[TraceStep] = []
    for phase in asked:
        for event in phase.events:
            if isinstance(event, Dnssec):
                steps.append(_validation(recorder, phase, event))
    if not checks:
        return steps
    if not steps:  # from the resolver's cache: what DNSSEC said when the answer was fetched
        status = worst(checks)
        details = {"name": None, "status": None, "from_cache": True}
        step = TraceStep("dnssec", status, checks[-1].message, details=details)
        return [dataclasses.replace(step, checks=tuple(checks))]
    last = steps[-1]
    status = worst(checks, last.status)
    steps[-1] = dataclasses.replace(
        last, status=status, message=said(status, checks, last.message), checks=tuple(checks)
    )
    return steps


def _anchor_zones(anchors: Sequence[str]) -> list[str]:
    """The zones of a network's trust anchors (DS records in presentation form), once each."""
    zones = (anchor.split(None, 1)[0].rstrip(".") or "." for anchor in anchors if anchor.strip())
    return list(dict.fromkeys(zones))


def _validation(recorder: TraceRecorder, phase: Phase, event: Dnssec) -> TraceStep:
    """One validation as a step (see :func:`_dnssec`)."""
    queries = _queries(recorder, [phase], chain=True)
    started = [
        e.at
        for e in phase.events
        if isinstance(e, DnsQuery) and rdtype_text(e.exchange.rdtype) in _CHAIN_TYPES
    ]
    details = {
        "name": event.name,
        "status": event.status,
        "zone": event.zone or None,
        "anchors": _anchor_zones(recorder.network.dnssec_anchors),
        "chain": [link.to_json() for link in event.chain],
        "queries": queries,
        "from_cache": False,
    }
    return TraceStep(
        "dnssec",
        _DNSSEC.get(event.status, CheckStatus.WARN),
        event.detail,
        elapsed=event.at - started[0] if started else None,
        details=details,
    )


def _smp_url(
    outcome: SmlAnswer | NoSmpService, response: DnsResponse | None, checks: list[Check]
) -> TraceStep:
    url = redact_url(outcome.smp_url) if isinstance(outcome, SmlAnswer) else None
    records = [str(r) for r in outcome.records] if isinstance(outcome, SmlAnswer) else []
    if not records and response is not None:
        records = [str(r) for r in response.naptr]
    details = {
        "url": url,
        "records": records,
        "https": bool(url and url.lower().startswith("https://")),
        "ttl": outcome.ttl if isinstance(outcome, SmlAnswer) else None,
    }
    status = worst(checks)
    text = _("the SML's record gives the SMP URL {url}", url=url)
    return TraceStep(
        "smp-url", status, said(status, checks, text), details=details, checks=tuple(checks)
    )
