"""The verdict: can this participant receive this document type, and through which operator?

A :class:`Reachability` is an immutable value: the verdict, every check that was made (in order,
each with a status and a sentence a support person understands), the usable endpoint and the
operator behind it, the SMP, timings, and the instant the answer is valid for.

The four verdicts keep answers and faults apart - the rule the whole library is built around:

* ``can-receive``: a signed, trusted SMP answer lists a usable AS4 endpoint for the document type
  and process at the lookup time.
* ``cannot-receive``: the participant is registered, but not for this document type or process,
  or none of its endpoints is usable (wrong transport profile, expired, not yet active, untrusted
  access point certificate, http endpoint, SMP not on https).
* ``not-registered``: the SML has no record for any candidate identifier.
* ``unknown``: a fault stopped the lookup (DNS failure, SMP unavailable, an answer that is
  invalid, unsigned, badly signed or about someone else). A fault is never a negative verdict.
"""

from __future__ import annotations

import dataclasses
import enum
import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from peppolnet.i18n import Message, _, render
from peppolnet.identifiers import DocumentTypeId, ParticipantId, ProcessId
from peppolnet.operators import Operator
from peppolnet.pki import CertificateFacts

__all__ = [
    "Check",
    "CheckStatus",
    "EndpointInfo",
    "Reachability",
    "Verdict",
]


class Verdict(enum.StrEnum):
    """The answer to "can this participant receive this document?"."""

    CAN_RECEIVE = "can-receive"
    CANNOT_RECEIVE = "cannot-receive"
    NOT_REGISTERED = "not-registered"
    UNKNOWN = "unknown"

    def label(self, language: str | None = None) -> str:
        """The verdict in words (``"kan ta emot"``), for people; the value is for machines."""
        return render(_VERDICT_LABELS[self], language)


_VERDICT_LABELS = {
    Verdict.CAN_RECEIVE: _("can receive"),
    Verdict.CANNOT_RECEIVE: _("cannot receive"),
    Verdict.NOT_REGISTERED: _("not registered"),
    Verdict.UNKNOWN: _("unknown"),
}


class CheckStatus(enum.StrEnum):
    """How one check went."""

    PASS = "pass"  # noqa: S105 - not a password
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"

    def label(self, language: str | None = None) -> str:
        """The status in words (``"ok"``, ``"varning"``), for people; the value is for machines."""
        return render(CHECK_STATUS_LABELS[self], language)


#: Each check status in words, as a message (rendered in the reader's language).
CHECK_STATUS_LABELS: Mapping[CheckStatus, Message] = {
    CheckStatus.PASS: _("pass"),
    CheckStatus.WARN: _("warn"),
    CheckStatus.FAIL: _("fail"),
    CheckStatus.SKIPPED: _("skipped"),
}

_SYMBOL: Mapping[CheckStatus, str] = {
    CheckStatus.PASS: "✓",
    CheckStatus.WARN: "!",
    CheckStatus.FAIL: "✗",
    CheckStatus.SKIPPED: "-",
}


@dataclasses.dataclass(frozen=True)
class Check:
    """One step of a lookup: ``name`` (stable, machine-readable), status, and one sentence."""

    name: str
    status: CheckStatus
    message: str
    """English; a :class:`peppolnet.i18n.Message` when the check was made by peppolnet, so
    :meth:`text` can give it in Swedish."""

    def text(self, language: str | None = None) -> str:
        """The sentence in ``language`` (``"sv"`` or ``"en"``)."""
        return render(self.message, language)

    def to_json(self) -> dict[str, str]:
        """``{"name", "status", "message"}`` (the message in English: JSON is for machines)."""
        return {"name": self.name, "status": self.status.value, "message": str(self.message)}

    def __str__(self) -> str:
        return self.line()

    def line(self, language: str | None = None) -> str:
        """``"✓ sml: registered in the SML..."`` in ``language``."""
        return f"{_SYMBOL[self.status]} {self.name}: {self.text(language)}"


@dataclasses.dataclass(frozen=True)
class EndpointInfo:
    """The usable endpoint: where an access point would deliver the document."""

    url: str | None
    transport_profile: str
    activation: datetime | None = None
    expiration: datetime | None = None
    certificate: CertificateFacts | None = None
    description: str | None = None
    technical_contact: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (dates in ISO 8601)."""
        return {
            "url": self.url,
            "transport_profile": self.transport_profile,
            "activation": self.activation.isoformat() if self.activation else None,
            "expiration": self.expiration.isoformat() if self.expiration else None,
            "certificate": self.certificate.to_json() if self.certificate else None,
            "description": self.description,
            "technical_contact": self.technical_contact,
        }


@dataclasses.dataclass(frozen=True)
class Reachability:
    """The result of one lookup. Serialises to JSON with stable keys (see docs/lookup.md)."""

    query: str
    participant: ParticipantId | None
    document_type: DocumentTypeId
    process: ProcessId | None
    network: str
    verdict: Verdict
    checks: tuple[Check, ...]
    at: datetime
    endpoint: EndpointInfo | None = None
    operator: Operator | None = None
    smp_url: str | None = None
    document_types: tuple[tuple[DocumentTypeId, str | None], ...] = ()
    candidates: tuple[ParticipantId, ...] = ()
    timings: Mapping[str, float] = dataclasses.field(default_factory=dict)
    retryable: bool = False
    """For ``unknown``: whether the fault may go away by itself (timeouts, 5xx, rate limits)."""
    smp_certificate: CertificateFacts | None = None
    """The certificate that signed the SMP's answer, when its signature verified and it chains
    to the network's SMP CA (the ``smp-certificate`` check passed): who vouches for the answer."""

    @property
    def can_receive(self) -> bool:
        """True only for a positive verdict."""
        return self.verdict is Verdict.CAN_RECEIVE

    @property
    def signed(self) -> bool:
        """Whether the verdict rests on an SMP answer whose signature verified and whose
        certificate is the network's.

        Always true for ``can-receive``. A ``cannot-receive`` without it (the SMP answered 404,
        the SML's URL is not https or not usable) and ``not-registered`` rest on DNS, which is
        not signed: one forged reply can make them, so caches keep them only briefly.
        """
        return any(
            c.name == "smp-certificate" and c.status is CheckStatus.PASS for c in self.checks
        )

    @property
    def reason(self) -> str:
        """The sentence that names the deciding fact.

        A "no" or an "unknown" is decided by its first failing check. A "yes" is decided by the
        endpoint the SMP lists, so the sentence names it and its operator rather than whatever
        check came last (which was "revocation was not checked" for nearly every answer).
        """
        for check in self.checks:
            if check.status is CheckStatus.FAIL:
                return check.message
        if self.verdict is Verdict.CAN_RECEIVE and self.endpoint is not None:
            profile = self.endpoint.transport_profile
            if self.operator is not None:
                return _(
                    "the SMP lists an active {profile} endpoint of {operator} for this document "
                    "type at {url}",
                    profile=profile,
                    operator=str(self.operator),
                    url=self.endpoint.url,
                )
            return _(
                "the SMP lists an active {profile} endpoint for this document type at {url}",
                profile=profile,
                url=self.endpoint.url,
            )
        made = [c for c in self.checks if c.status is not CheckStatus.SKIPPED]
        return made[-1].message if made else ""

    def explain(self, language: str | None = None) -> str:
        """:attr:`reason` in ``language`` (``"sv"`` or ``"en"``)."""
        return render(self.reason, language)

    def check(self, name: str) -> Check | None:
        """The check with this name, if it was made."""
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys."""
        return {
            "query": self.query,
            "participant_id": str(self.participant) if self.participant else None,
            "document_type": self.document_type.uri,
            "process": self.process.uri if self.process else None,
            "network": self.network,
            "verdict": self.verdict.value,
            "reason": str(self.reason),
            "operator": self.operator.to_json() if self.operator else None,
            "endpoint": self.endpoint.to_json() if self.endpoint else None,
            "smp_url": self.smp_url,
            "checks": [c.to_json() for c in self.checks],
            "document_types": [
                {"document_type": doc.uri, "name": name} for doc, name in self.document_types
            ],
            "candidates": [str(c) for c in self.candidates],
            "retryable": self.retryable,
            "smp_certificate": self.smp_certificate.to_json() if self.smp_certificate else None,
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
            "at": self.at.isoformat(),
        }

    def summary(self, language: str | None = None) -> str:
        """One line: who, verdict, through whom (in English, or Swedish with ``"sv"``).

        Without a language the verdict is its machine value (``can-receive``), as it always was;
        with one it is the verdict in words.
        """
        who = str(self.participant) if self.participant else self.query
        verdict = self.verdict.value if language is None else self.verdict.label(language)
        line = f"{who}: {verdict}"
        if self.operator is not None:
            line += render(_(" through {operator}", operator=str(self.operator)), language)
        if self.verdict is not Verdict.CAN_RECEIVE:
            line += f" - {self.explain(language)}"
        return line

    def text(self, language: str | None = None) -> str:
        """The summary and every check, one per line, in ``language``."""
        lines = [self.summary(language), *(f"  {c.line(language)}" for c in self.checks)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        """A table for notebooks."""
        esc = html.escape
        rows = "".join(
            f"<tr><td>{_SYMBOL[c.status]}</td><td>{esc(c.name)}</td><td>{esc(c.message)}</td></tr>"
            for c in self.checks
        )
        operator = esc(str(self.operator)) if self.operator else "&ndash;"
        return (
            f"<div><strong>{esc(str(self.participant or self.query))}</strong>: "
            f"<code>{esc(self.verdict.value)}</code> &middot; operator {operator}"
            f"<table><thead><tr><th></th><th>check</th><th>explanation</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
