"""A trace for people: a numbered list, a line per step and a few indented facts under some.

The lines are plain text with whatever the network said in them: a front end passes each
through its escaping (the CLI's ``safe_text``) before it shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from peppolnet.i18n import _, decimal, parse_language, render
from peppolnet.reachability import CheckStatus
from peppolnet.trace.model import NetworkStep

if TYPE_CHECKING:
    from peppolnet.reachability import Reachability
    from peppolnet.trace.model import Trace, TraceStep

__all__ = ["lines", "other_network"]

_MARK: Final = {
    CheckStatus.PASS: "✓",
    CheckStatus.WARN: "!",
    CheckStatus.FAIL: "✗",
    CheckStatus.SKIPPED: "-",
}


def lines(trace: Trace, language: str | None = None, *, local_paths: bool = True) -> list[str]:
    """The trace as lines in ``language`` (``"sv"`` or ``"en"``, default English): a heading,
    then ``N. mark step: sentence (time)`` for each step and a few facts under some. In a trace
    across networks, under its ``network`` step, each other network asked with its verdict and
    its own numbered steps, indented.

    ``local_paths=False`` names where the trust store came from instead of its file path: a
    page served to others must not show the server's file system.
    """
    result = trace.reachability
    heading = _(
        "{who} on {network}: {verdict}",
        who=str(result.participant or result.query),
        network=result.network,
        verdict=_verdict(result, language),
    )
    return [render(heading, language), *_steps(trace.steps, language, local_paths)]


def _verdict(result: Reachability, language: str | None) -> str:
    """In English the verdict's own value, as `peppolnet lookup` shows it; in Swedish in words."""
    english = language is None or parse_language(language) == "en"
    return (result.verdict.value if english else result.verdict.label(language)).upper()


def _steps(steps: Sequence[TraceStep], language: str | None, local_paths: bool) -> Iterator[str]:
    width = len(str(len(steps)))
    indent = " " * (width + 4)
    for number, step in enumerate(steps, start=1):
        took = "" if step.elapsed is None else f" ({decimal(step.elapsed * 1000, language)} ms)"
        sentence = render(step.message, language)
        yield f"{number:>{width}}. {_MARK[step.status]} {step.name}: {sentence}{took}"
        facts = _facts(step)
        if not local_paths:
            facts = (fact for fact in facts if not _is_path_fact(fact))
            if step.name == "tls" and step.details.get("trust_store"):
                source = step.details["trust_store"].get("source") or "-"
                yield indent + render(_("trust store: {path}", path=source), language)
        yield from (indent + render(fact, language) for fact in facts)
        if isinstance(step, NetworkStep):
            yield from (indent + line for line in _others(step, language, local_paths))


def _others(step: NetworkStep, language: str | None, local_paths: bool) -> Iterator[str]:
    """Each other network asked: a heading with its verdict, then its steps."""
    for other in step.others:
        yield render(other_network(other.reachability, language), language)
        yield from _steps(other.steps, language, local_paths)


def other_network(result: Reachability, language: str | None = None) -> str:
    """The heading of another network's steps in a trace across networks: it and its verdict."""
    return _(
        "on the {network} network: {verdict}",
        network=result.network,
        verdict=_verdict(result, language),
    )


def _is_path_fact(fact: str) -> bool:
    return getattr(fact, "template", None) == "trust store: {path}"


def _facts(step: TraceStep) -> Iterator[str]:
    """The few facts under a step (the rest are in ``to_json()``)."""
    facts = _FACTS.get(step.name)
    if facts is not None:
        yield from facts(step.details)
    if step.status is CheckStatus.FAIL and step.retryable:
        yield _("(a fault: trying again later may give an answer)")


def _queries(details: Mapping[str, Any]) -> Iterator[str]:
    for query in details.get("queries") or []:
        yield _(
            "{type} {name} to {server}:{port} over {transport}: {outcome}",
            type=query["type"],
            name=query["name"],
            server=query["server"],
            port=query["port"],
            transport=query["transport"].upper(),
            outcome=query["rcode"] or query["outcome"],
        )


def _dns(details: Mapping[str, Any]) -> Iterator[str]:
    yield from _queries(details)
    answer = details.get("answer") or {}
    yield from (_("record: {record}", record=r) for r in answer.get("records") or [])
    yield from (_("alias: {alias}", alias=a) for a in answer.get("aliases") or [])
    soa = answer.get("authority_soa")
    if soa:
        yield _("authority: SOA of {zone}", zone=soa["zone"])
    if answer:
        ad = _("set (the resolver validated it)") if answer.get("ad") else _("not set")
        yield _("AD bit: {ad}", ad=ad)


def _dnssec(details: Mapping[str, Any]) -> Iterator[str]:
    """The zones the chain of trust walked (from the trust anchor down), then its questions."""
    for link in details.get("chain") or []:
        zone, parent = link["zone"], link.get("parent") or "-"
        keys = ", ".join(
            f"{k['key_tag']} ({k['algorithm']}, {str(k['role']).upper()})" for k in link["keys"]
        )
        how = link["vouched_by"]
        if how == "trust-anchor":
            yield _("{zone}: keys {keys}, vouched for by the trust anchor", zone=zone, keys=keys)
        elif how == "ds":
            yield _(
                "{zone}: keys {keys}, vouched for by its DS record in {parent}",
                zone=zone,
                keys=keys,
                parent=parent,
            )
        elif how == "cache":
            yield _(
                "{zone}: keys {keys}, checked by an earlier lookup (kept for their TTL)",
                zone=zone,
                keys=keys or "-",
            )
        elif how == "no-ds":
            yield _(
                "{zone}: not signed ({parent} delegates to it without a DS record)",
                zone=zone,
                parent=parent,
            )
        else:
            yield _("{zone}: its DS records use only algorithms peppolnet cannot check", zone=zone)
    yield from _queries(details)


def _tls(details: Mapping[str, Any]) -> Iterator[str]:
    if details.get("connection_reused") and details.get("handshake_ms") is not None:
        yield _(
            "handshake: {ms} ms, when an earlier request opened the connection",
            ms=format(details["handshake_ms"], ".1f"),
        )
    for subject in details.get("chain") or []:
        yield _("chain: {subject}", subject=subject)
    store = details.get("trust_store") or {}
    if store:
        yield _("trust store: {path}", path=store.get("path") or "-")


def _http(details: Mapping[str, Any]) -> Iterator[str]:
    headers = details.get("headers") or {}
    shown = ", ".join(
        f"{k}: {headers[k]}" for k in ("content-type", "content-length") if k in headers
    )
    if shown:
        yield shown


def _chain(details: Mapping[str, Any]) -> Iterator[str]:
    for subject in (details.get("chain") or [])[1:]:
        yield _("chain: {subject}", subject=subject)


_FACTS: Final[Mapping[str, Callable[[Mapping[str, Any]], Iterator[str]]]] = {
    "dns": _dns,
    "dnssec": _dnssec,
    "tls": _tls,
    "http": _http,
    "smp-certificate": _chain,
}
