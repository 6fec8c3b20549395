"""The SMP's steps of a trace: its HTTP requests, the service group, the ServiceMetadata, its
signature and certificate, the endpoint and the access point certificate."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peppolnet._tls import trust_store
from peppolnet.codelists import document_type_name
from peppolnet.errors import PeppolnetError
from peppolnet.i18n import _
from peppolnet.pki import CertificateFacts, RevocationAnswer, validate_chain
from peppolnet.reachability import Check, CheckStatus, Reachability
from peppolnet.smp.client import MetadataAnswer
from peppolnet.smp.model import ServiceGroup, ServiceMetadata
from peppolnet.smp.trust import CheckedDocument
from peppolnet.trace.build import Phase, said, worst
from peppolnet.trace.model import TraceStep
from peppolnet.trace.steps_crl import crl_rows, crl_steps
from peppolnet.trace.steps_http import fetch_steps, fetches

if TYPE_CHECKING:
    from cryptography import x509

    from peppolnet.identifiers import DocumentTypeId
    from peppolnet.trace.recorder import TraceRecorder

__all__ = ["smp_steps"]


def smp_steps(
    recorder: TraceRecorder,
    cut: Sequence[Phase],
    checks: Mapping[str, list[Check]],
    result: Reachability,
) -> list[TraceStep]:
    """From the first request to the SMP to the access point certificate."""
    steps: list[TraceStep] = []
    seen: set[tuple[str, str, int | None]] = set()
    store = trust_store(recorder.network.tls_verify)
    metadata: MetadataAnswer | None = None
    for phase in cut:
        kind = phase.kind
        if kind not in ("service-group", "service-metadata"):
            continue
        records = fetches(phase.events)
        steps += fetch_steps(records, failed=phase.failed, seen=seen, trust_store=store)
        outcome = phase.answered.outcome if phase.answered is not None else None
        mine = checks.get(kind, [])
        if kind == "service-group":
            steps.append(_service_group(phase, outcome, mine))
        else:
            metadata = outcome if isinstance(outcome, MetadataAnswer) else None
            steps.append(_service_metadata(phase, outcome, mine, result.document_type))
    asked = _revocation_phases(cut, metadata)
    if metadata is not None and "signature" in checks:
        steps.append(_signature(metadata.checked, checks["signature"]))
    if metadata is not None and "smp-certificate" in checks:
        mine = checks["smp-certificate"]
        smp = asked.get("smp", [])
        steps += crl_steps(smp, _check(mine, "smp-revocation"), "smp")
        steps.append(_smp_certificate(recorder, metadata.checked, mine, _revocations(smp)))
    if metadata is not None and "endpoint" in checks:
        steps.append(_endpoint(metadata, result, checks["endpoint"]))
    if metadata is not None and "ap-certificate" in checks:
        mine = checks["ap-certificate"]
        ap = asked.get("ap", [])
        steps += crl_steps(ap, _check(mine, "revocation"), "ap")
        steps.append(_ap_certificate(metadata, result, mine, _revocations(ap)))
    return steps


def _check(checks: Sequence[Check], name: str) -> Check | None:
    return next((check for check in checks if check.name == name), None)


def _status(phase: Phase, checks: list[Check]) -> CheckStatus:
    return worst(checks, CheckStatus.FAIL if phase.failed else CheckStatus.PASS)


def _service_group(phase: Phase, outcome: Any, checks: list[Check]) -> TraceStep:
    listed: list[str] = []
    if isinstance(outcome, CheckedDocument) and isinstance(outcome.document, ServiceGroup):
        listed = [d.uri for d in outcome.document.document_types]
    status = _status(phase, checks)
    text = _("the SMP lists {count} document types", count=len(listed))
    return TraceStep(
        "service-group",
        status,
        said(status, checks, text),
        elapsed=phase.elapsed,
        details={"document_types": listed},
        checks=tuple(checks),
    )


def _service_metadata(
    phase: Phase, outcome: Any, checks: list[Check], document_type: DocumentTypeId
) -> TraceStep:
    details: dict[str, Any] = {"url": None, "redirect": None, "processes": []}
    label = document_type_name(document_type) or document_type.value
    text = _("the SMP answered with the ServiceMetadata for {document_type}", document_type=label)
    if isinstance(outcome, MetadataAnswer):
        details["url"] = outcome.url
        document = outcome.checked.document
        if isinstance(document, ServiceMetadata):
            details["processes"] = [p.process_id.uri for p in document.processes]
        if outcome.redirect is not None:
            details["redirect"] = {"from": outcome.redirect_url, "to": outcome.url}
            text = _(
                "the SMP redirected to {target}, which answered with the ServiceMetadata for "
                "{document_type}",
                target=outcome.url,
                document_type=label,
            )
    status = _status(phase, checks)
    return TraceStep(
        "service-metadata",
        status,
        said(status, checks, text),
        elapsed=phase.elapsed,
        details=details,
        checks=tuple(checks),
    )


def _revocation_phases(
    cut: Sequence[Phase], metadata: MetadataAnswer | None
) -> dict[str, list[Phase]]:
    """The revocation questions, for the SMP's certificates (``smp``) and the access point's
    (``ap``)."""
    smp_signers = set()
    if metadata is not None:
        for checked in (metadata.checked, metadata.redirect):
            if checked is not None and checked.signer_certificate is not None:
                smp_signers.add(id(checked.signer_certificate))
    found: dict[str, list[Phase]] = {}
    for phase in cut:
        if phase.kind != "revocation":
            continue
        whose = "smp" if id(getattr(phase.request, "certificate", None)) in smp_signers else "ap"
        found.setdefault(whose, []).append(phase)
    return found


def _revocations(phases: Sequence[Phase]) -> list[dict[str, Any]]:
    """What each revocation question answered, and the CRLs it used (``downloads``)."""
    rows = []
    for phase in phases:
        answer = phase.answered.outcome if phase.answered is not None else None
        rows.append(
            {
                "status": answer.status.value if isinstance(answer, RevocationAnswer) else None,
                "reason": answer.reason if isinstance(answer, RevocationAnswer) else None,
                "downloads": crl_rows(phase),
            }
        )
    return rows


def _facts(facts: CertificateFacts | None) -> dict[str, Any] | None:
    """``facts.to_json()``, worked out once per certificate (a copy each time: it is the
    trace's own plain data)."""
    return None if facts is None else dict(_facts_json(facts))


@functools.lru_cache(maxsize=256)
def _facts_json(facts: CertificateFacts) -> dict[str, Any]:
    return facts.to_json()


def _signature(checked: CheckedDocument, checks: list[Check]) -> TraceStep:
    signature = checked.signature
    signer = signature.signer
    details = {
        "present": signature.present,
        "valid": signature.valid,
        "algorithm": signature.algorithm,
        "digest": signature.digest,
        "c14n": signature.c14n,
        "signer": _facts(signer),
        "problem": signature.problem,
    }
    status = worst(checks)
    text = _(
        "signed with {algorithm} (digest {digest}, canonicalization {c14n}) by {signer}",
        algorithm=signature.algorithm or "-",
        digest=signature.digest or "-",
        c14n=signature.c14n or "-",
        signer=signer.subject if signer is not None else "-",
    )
    return TraceStep(
        "signature", status, said(status, checks, text), details=details, checks=tuple(checks)
    )


def _chain(
    certificate: x509.Certificate | None, anchors: Sequence[x509.Certificate], recorder: Any
) -> list[str]:
    """The subjects of ``certificate``'s path to one of ``anchors`` (empty when it has none)."""
    if certificate is None:
        return []
    try:
        path = validate_chain(certificate, anchors, at=recorder.ctx.at)
    except PeppolnetError:
        return []
    return [CertificateFacts.from_certificate(c).subject for c in path]


def _smp_certificate(
    recorder: TraceRecorder,
    checked: CheckedDocument,
    checks: list[Check],
    revocation: list[dict[str, Any]],
) -> TraceStep:
    signer = checked.signature.signer
    chain = _chain(checked.signer_certificate, recorder.network.smp_ca, recorder)
    details = {
        "certificate": _facts(signer),
        "chain": chain,
        "revocation": revocation,
    }
    status = worst(checks)
    until = format(signer.not_after, "%Y-%m-%d") if signer is not None else "-"
    text = _(
        "{subject}, valid until {until}, chains to {anchor}",
        subject=signer.subject if signer is not None else "-",
        until=until,
        anchor=chain[-1] if chain else "-",
    )
    return TraceStep(
        "smp-certificate",
        status,
        said(status, checks, text),
        details=details,
        checks=tuple(checks),
    )


def _endpoint(answer: MetadataAnswer, result: Reachability, checks: list[Check]) -> TraceStep:
    document = answer.checked.document
    listed = []
    if isinstance(document, ServiceMetadata):
        for process in document.processes:
            for e in process.endpoints:
                listed.append(
                    {
                        "process": process.process_id.uri,
                        "transport_profile": e.transport_profile,
                        "url": e.url,
                        "activation": e.activation.isoformat() if e.activation else None,
                        "expiration": e.expiration.isoformat() if e.expiration else None,
                    }
                )
    chosen = result.endpoint
    details = {
        "process": result.process.uri if result.process else None,
        "chosen": chosen.to_json() if chosen is not None else None,
        "endpoints": listed,
    }
    status = worst(checks)
    if chosen is not None:
        text = _(
            "{profile} endpoint at {url} for the process {process}",
            profile=chosen.transport_profile,
            url=chosen.url,
            process=result.process.value if result.process else "-",
        )
    else:
        text = _("the SMP lists {count} endpoint(s)", count=len(listed))
    return TraceStep(
        "endpoint", status, said(status, checks, text), details=details, checks=tuple(checks)
    )


def _ap_facts(answer: MetadataAnswer, result: Reachability) -> CertificateFacts | None:
    """The access point certificate: the chosen endpoint's, else the first one published."""
    if result.endpoint is not None and result.endpoint.certificate is not None:
        return result.endpoint.certificate
    document = answer.checked.document
    if not isinstance(document, ServiceMetadata):
        return None
    for endpoint in document.endpoints:
        if endpoint.certificate is not None:
            try:
                return CertificateFacts.from_der(endpoint.certificate)
            except PeppolnetError:
                return None
    return None


def _ap_certificate(
    answer: MetadataAnswer,
    result: Reachability,
    checks: list[Check],
    revocation: list[dict[str, Any]],
) -> TraceStep:
    facts = _ap_facts(answer, result)
    details = {
        "certificate": _facts(facts),
        "revocation": revocation,
    }
    status = worst(checks)
    until = format(facts.not_after, "%Y-%m-%d") if facts is not None else "-"
    text = _(
        "{subject} (Seat ID {seat}), valid until {until}, issued by {issuer}",
        subject=facts.subject if facts is not None else "-",
        seat=(facts.seat_id if facts is not None else None) or "-",
        until=until,
        issuer=facts.issuer if facts is not None else "-",
    )
    return TraceStep(
        "ap-certificate",
        status,
        said(status, checks, text),
        details=details,
        checks=tuple(checks),
    )
