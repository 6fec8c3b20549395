"""The first steps of a trace: the identifier, its SML name, the DNS question, the SMP URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from peppolnet.codelists import scheme_for
from peppolnet.destinations import redact_url
from peppolnet.dnswire import DnsResponse, rcode_text, rdtype_text
from peppolnet.errors import NoSmpService
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId, lower
from peppolnet.reachability import Check, CheckStatus, Reachability
from peppolnet.sml import SmlAnswer, naptr_name
from peppolnet.trace.build import Phase, said, worst
from peppolnet.trace.model import TraceStep
from peppolnet.trace.recorder import DnsQuery, DnsReply, Dnssec

if TYPE_CHECKING:
    from peppolnet.trace.recorder import TraceRecorder

__all__ = ["sml_steps"]

#: How a validator's DNSSEC result reads as a step (RFC 4035 §4.3).
_DNSSEC: Final[Mapping[str, CheckStatus]] = {
    "secure": CheckStatus.PASS,
    "insecure": CheckStatus.WARN,
    "indeterminate": CheckStatus.WARN,
    "bogus": CheckStatus.FAIL,
}


def sml_steps(
    recorder: TraceRecorder,
    cut: Sequence[Phase],
    checks: Mapping[str, list[Check]],
    result: Reachability,
) -> list[TraceStep]:
    """identifier, sml-name, dns (and dnssec where a validator reported), smp-url."""
    participant = result.participant or recorder.ctx.candidates[0]
    asked = [p for p in cut if p.kind == "dns"]
    steps = [
        _identifier(recorder.ctx.query, participant, checks.get("identifier", [])),
        _sml_name(recorder, participant, asked),
    ]
    if not asked and "dns" not in checks:
        return steps
    steps.append(_dns(recorder, asked, checks.get("dns", [])))
    steps.extend(_dnssec(asked))
    outcome = asked[-1].answered.outcome if asked and asked[-1].answered else None
    if isinstance(outcome, SmlAnswer | NoSmpService):
        steps.append(_smp_url(outcome, _last_answer(asked), checks.get("smp-url", [])))
    return steps


def _identifier(query: str, participant: ParticipantId, checks: list[Check]) -> TraceStep:
    scheme = scheme_for(participant.icd or "")
    details = {
        "query": query,
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


def _queries(recorder: TraceRecorder, asked: Sequence[Phase]) -> list[dict[str, Any]]:
    """Every DNS query sent, in order, with its outcome."""
    port = getattr(recorder.resolver, "port", recorder.network.dns_port)
    sent: dict[int, DnsQuery] = {}
    rows: list[dict[str, Any]] = []
    for phase in asked:
        for event in phase.events:
            if isinstance(event, DnsQuery):
                sent[id(event.exchange)] = event
            elif isinstance(event, DnsReply):
                query = sent.get(id(event.exchange))
                exchange = event.exchange
                response = event.response
                rows.append(
                    {
                        "server": exchange.server,
                        "port": port,
                        "transport": "tcp" if exchange.tcp else "udp",
                        "name": exchange.name,
                        "type": rdtype_text(exchange.rdtype),
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
    found = isinstance(outcome, SmlAnswer | NoSmpService)
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


def _dnssec(asked: Sequence[Phase]) -> list[TraceStep]:
    """A step for each DNSSEC result a validator reported (see peppolnet._observe)."""
    return [
        TraceStep(
            "dnssec",
            _DNSSEC.get(e.status, CheckStatus.WARN),
            e.detail,
            details={"name": e.name, "status": e.status},
        )
        for p in asked
        for e in p.events
        if isinstance(e, Dnssec)
    ]


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
