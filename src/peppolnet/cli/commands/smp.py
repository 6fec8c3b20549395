"""``peppolnet smp parse FILE``: read an SMP answer from a file, optionally verify its signature.

Useful for support work ("what does this SMP response actually say, and is it signed right?") and
for checking saved responses in CI. Pure: no network access; ``--at`` fixes the instant used for
the certificate chain check, so old saved answers can be judged as of when they were fetched.

``--trust`` takes every network name ``--network`` takes elsewhere (``sandbox`` included: the
running sandbox's SMP CA, from its state file) or a PEM file.

Exit codes: 0 parsed (and with ``--verify`` verified and chained), 1 verification or chain
failed, 2 usage error (bad option, unreadable file), 3 not a valid SMP document.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peppolnet.cli._language import say
from peppolnet.cli._network import (
    add_state_file_argument,
    network_choice,
    network_names,
    resolve_network,
)
from peppolnet.cli._output import (
    UsageError,
    argparse_type,
    fail,
    iso_time,
    readable_file,
    refused,
    safe_lines,
    standard_input,
)
from peppolnet.i18n import Message, _

if TYPE_CHECKING:
    from lxml import etree

    from peppolnet.smp.model import Endpoint, SmpDocument

DS_NS = "http://www.w3.org/2000/09/xmldsig#"


def register(subparsers: Any) -> None:
    """Add the ``smp`` command and its ``parse`` action."""
    parser = subparsers.add_parser(
        "smp",
        help=_("read and check SMP documents"),
        description=_("Read SMP documents (Peppol SMP 1, OASIS SMP 1 and 2) and check signatures."),
    )
    sub = parser.add_subparsers(dest="smp_command", metavar="ACTION")
    sub.required = True
    parse = sub.add_parser(
        "parse",
        help=_("parse an SMP document from a file"),
        description=_(
            "Parse a ServiceGroup, (Signed)ServiceMetadata or Redirect from FILE ('-' for stdin)."
            " Exit 0 parsed (and verified), 1 verification or chain failed, 2 usage error,"
            " 3 not a valid SMP document."
        ),
    )
    parse.add_argument(
        "file",
        metavar="FILE",
        type=argparse_type(_document_file),
        help=_("the SMP document ('-' reads stdin)"),
    )
    parse.add_argument(
        "--verify",
        action="store_true",
        help=_("verify the XML signature and its certificate chain"),
    )
    parse.add_argument(
        "--trust",
        default="production",
        type=_trust,
        metavar="NETWORK|PEM-FILE",
        help=_(
            "trust anchors: a network (production, test, sandbox, legacy-*) or a PEM file "
            "(default: production)"
        ),
    )
    add_state_file_argument(parse)
    parse.add_argument(
        "--at",
        metavar="ISO-DATETIME",
        help=_("the instant for the chain check (default: now; no zone means UTC)"),
    )
    parse.add_argument(
        "--allow-sha1", action="store_true", help=_("accept RSA-SHA1 signatures (SMP < 1.3.0)")
    )
    parse.add_argument("--json", action="store_true", help=_("print one JSON object"))
    parse.set_defaults(handler=_parse)


def _document_file(text: str) -> str:
    """``-`` (stdin) or a readable file."""
    return text if text == "-" else readable_file(text)


def _trust(text: str) -> str:
    """An argparse type: a network name (the one shared parser) or a PEM file."""
    try:
        return network_choice(text)
    except argparse.ArgumentTypeError:
        if Path(text).is_file():
            return text
    known = ", ".join(network_names())
    raise refused(
        _("{text!r} is neither a network ({known}) nor a PEM file", text=text, known=known)
    )


def _parse(args: argparse.Namespace) -> int:
    from peppolnet.errors import InvalidSmpDocument
    from peppolnet.smp.parse import parse_document
    from peppolnet.xmlsafe import parse_xml

    at = iso_time(args.at, "--at") or datetime.now(UTC)
    try:
        data = standard_input().buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise UsageError(
            _("cannot read {file}: {problem}", file=args.file, problem=problem)
        ) from exc

    try:
        root = parse_xml(data)
        document = parse_document(root)
    except InvalidSmpDocument as exc:
        return fail(_not_smp(args.file, exc), code=3)

    signature = _signature_facts(root)
    ok = True
    if args.verify:
        ok, signed_root = _verify(root, args, at, signature)
        if ok and signed_root is not None:
            try:  # read the data from what was actually signed
                document = parse_document(signed_root)
            except InvalidSmpDocument as exc:
                return fail(_not_smp(args.file, exc), code=3)

    result = _to_json(document, signature)
    if args.json:
        from peppolnet.cli._output import print_json

        print_json(result)
    else:
        _print_text(result)
    return 0 if ok else 1


def _not_smp(file: str, problem: Exception) -> Message:
    return _("{file}: not a valid SMP document: {problem}", file=file, problem=problem)


# --- signature -----------------------------------------------------------------------------------


def _short_algorithm(uri: str | None) -> str | None:
    """``http://www.w3.org/2001/04/xmldsig-more#rsa-sha256`` -> ``rsa-sha256``."""
    if not uri:
        return None
    return uri.rpartition("#")[2] or uri


def _signature_facts(root: etree._Element) -> dict[str, Any]:
    """What can be said about the signature without verifying it."""
    signature = next(root.iter(f"{{{DS_NS}}}Signature"), None)
    method = None
    if signature is not None:
        el = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}SignatureMethod")
        method = el.get("Algorithm") if el is not None else None
    return {
        "present": signature is not None,
        "valid": None,
        "algorithm": _short_algorithm(method),
        "signer_subject": _claimed_signer(signature),
        "chain_valid": None,
        "problem": None,
    }


def _claimed_signer(signature: etree._Element | None) -> str | None:
    """Subject of the KeyInfo certificate, unverified (shown so a person can see who claims)."""
    if signature is None:
        return None
    from peppolnet.errors import CertificateError
    from peppolnet.pki import load_certificate

    el = signature.find(f".//{{{DS_NS}}}X509Certificate")
    if el is None or not (el.text or "").strip():
        return None
    try:
        return load_certificate(el.text or "").subject.rfc4514_string()
    except CertificateError:
        return None


def _verify(
    root: etree._Element, args: argparse.Namespace, at: datetime, facts: dict[str, Any]
) -> tuple[bool, etree._Element | None]:
    from peppolnet.errors import CertificateError, InvalidInput, SignatureError
    from peppolnet.network import load_pem_bundle
    from peppolnet.pki import validate_chain
    from peppolnet.xmldsig import SignaturePolicy, verify_enveloped

    if args.trust in network_names():
        network = resolve_network(args.trust, args.state_file)
        anchors = network.smp_ca
        policy = network.signature_policy
    else:
        try:
            anchors = load_pem_bundle(args.trust)
        except InvalidInput as exc:
            facts.update(valid=None, chain_valid=False, problem=str(exc))
            return False, None
        policy = SignaturePolicy.strict()
    if args.allow_sha1:
        policy = SignaturePolicy.legacy()

    try:
        verified = verify_enveloped(root, policy=policy)
    except SignatureError as exc:
        facts.update(valid=False, problem=f"{exc.step}: {exc}")
        return False, None
    facts.update(valid=True, signer_subject=verified.certificate.subject.rfc4514_string())
    try:
        validate_chain(
            verified.certificate, anchors, at=at, intermediates=verified.extra_certificates
        )
    except CertificateError as exc:
        facts.update(chain_valid=False, problem=str(exc))
        return False, verified.signed_root
    facts.update(chain_valid=True)
    return True, verified.signed_root


# --- output --------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _certificate_json(endpoint: Endpoint) -> dict[str, Any] | None:
    if endpoint.certificate is None:
        if endpoint.certificate_problem is None:
            return None
        return {
            "subject": None,
            "seat_id": None,
            "not_after": None,
            "problem": endpoint.certificate_problem,
        }
    from peppolnet.errors import CertificateError
    from peppolnet.pki import CertificateFacts

    try:
        facts = CertificateFacts.from_der(endpoint.certificate)
    except CertificateError as exc:
        return {"subject": None, "seat_id": None, "not_after": None, "problem": str(exc)}
    return {
        "subject": facts.subject,
        "seat_id": facts.seat_id,
        "not_after": _iso(facts.not_after),
    }


def _endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "transport_profile": endpoint.transport_profile,
        "url": endpoint.url,
        "activation": _iso(endpoint.activation),
        "expiration": _iso(endpoint.expiration),
        "certificate": _certificate_json(endpoint),
        "description": endpoint.description,
        "technical_contact": endpoint.technical_contact,
    }


def _to_json(document: SmpDocument, signature: dict[str, Any]) -> dict[str, Any]:
    from peppolnet.smp.model import Redirect, ServiceGroup

    out: dict[str, Any]
    if isinstance(document, ServiceGroup):
        out = {
            "kind": "service-group",
            "dialect": document.dialect.value,
            "participant_id": document.participant.uri,
            "document_types": [d.uri for d in document.document_types],
        }
    elif isinstance(document, Redirect):
        out = {
            "kind": "redirect",
            "dialect": document.dialect.value,
            "participant_id": document.participant.uri if document.participant else None,
            "document_type": document.document_type.uri if document.document_type else None,
            "target_url": document.target_url,
            "certificate_uid": document.certificate_uid,
        }
    else:
        out = {
            "kind": "service-metadata",
            "dialect": document.dialect.value,
            "participant_id": document.participant.uri,
            "document_type": document.document_type.uri,
            "processes": [
                {
                    "process_id": p.process_id.uri,
                    "endpoints": [_endpoint_json(e) for e in p.endpoints],
                }
                for p in document.processes
            ],
        }
    out["signature"] = signature
    return out


#: The labels of the text output, in the command's language; values are aligned after them.
_LABELS = {
    "participant": _("participant:"),
    "document_type": _("document type:"),
    "redirect": _("redirect to:"),
    "certificate": _("certificate:"),
    "signature": _("signature:"),
    "problem": _("problem:"),
}
_VALID = {True: _("valid"), False: _("INVALID"), None: _("not checked")}
_CHAIN = {True: _("trusted"), False: _("NOT TRUSTED"), None: _("not checked")}


def _print_text(result: dict[str, Any]) -> None:
    labels = {key: say(label) for key, label in _LABELS.items()}
    width = max(len(label) for label in labels.values()) + 1

    def field(key: str, value: object) -> str:
        return f"{labels[key]:<{width}}{say(value)}"

    lines = [
        f"{result['kind']} ({result['dialect']})",
        field("participant", result["participant_id"] or "-"),
    ]
    if "document_types" in result:
        count = len(result["document_types"])
        lines.append(say(_("document types ({count}):", count=count)))
        lines.extend(f"  {d}" for d in result["document_types"])
    if result.get("document_type") is not None or result["kind"] == "service-metadata":
        lines.append(field("document_type", result.get("document_type") or "-"))
    if result["kind"] == "redirect":
        lines.append(field("redirect", result["target_url"]))
        lines.append(field("certificate", result["certificate_uid"] or "-"))
    for process in result.get("processes", []):
        lines.append(say(_("process {process}", process=process["process_id"])))
        lines.extend(line for e in process["endpoints"] for line in _endpoint_lines(e))
    lines.append(field("signature", _signature_text(result["signature"])))
    if result["signature"]["problem"]:
        lines.append(field("problem", result["signature"]["problem"]))
    sys.stdout.write(safe_lines(lines) + "\n")  # every value is what the SMP document says


def _endpoint_lines(endpoint: dict[str, Any]) -> list[str]:
    cert = endpoint["certificate"] or {}
    validity = _(
        "active {start} .. {end}; certificate {certificate}",
        start=endpoint["activation"] or _("always"),
        end=endpoint["expiration"] or _("forever"),
        certificate=cert.get("subject") or cert.get("problem") or "-",
    )
    return [f"  {endpoint['transport_profile']}  {endpoint['url'] or '-'}", f"    {say(validity)}"]


def _signature_text(sig: dict[str, Any]) -> Message:
    if not sig["present"]:
        return _("none") if sig["valid"] is None else _("none, INVALID")
    return _(
        "{algorithm}, {valid}, chain {chain}; signer {signer}",
        algorithm=sig["algorithm"] or "?",
        valid=_VALID[sig["valid"]],
        chain=_CHAIN[sig["chain_valid"]],
        signer=sig["signer_subject"] or "-",
    )
