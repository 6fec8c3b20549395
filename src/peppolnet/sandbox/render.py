"""Build SMP documents (Peppol SMP 1, OASIS SMP 1 and 2) and business cards for the sandbox.

Pure functions from values to lxml trees; signing is a separate step (the SMP server signs the
tree with the SMP's key) so that quirks like "signed, then changed" can be produced by editing the
tree after signing. The documents follow the element order of each dialect's XSD, because the
client's parser and any schema validation a user runs must accept them as real SMP answers.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lxml import etree

from peppolnet.businesscard import BusinessCard, BusinessEntity, Contact, Name, render_business_card
from peppolnet.errors import SandboxError
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId, ProcessId
from peppolnet.sandbox.config import BusinessCardData

__all__ = [
    "EndpointData",
    "business_card",
    "redirect",
    "serialise",
    "service_group",
    "service_metadata",
]

NS_SMP: Final = "http://busdox.org/serviceMetadata/publishing/1.0/"
NS_IDS: Final = "http://busdox.org/transport/identifiers/1.0/"
NS_WSA: Final = "http://www.w3.org/2005/08/addressing"
NS_OASIS1: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"
NS_SG2: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceGroup"
NS_SM2: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"
NS_AGG2: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/AggregateComponents"
NS_BASIC2: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents"
B64: Final = "application/base64"


@dataclass(frozen=True)
class EndpointData:
    """One access point endpoint as published in ServiceMetadata."""

    url: str
    transport_profile: str
    certificate_der: bytes
    activation: dt.datetime | None = None
    expiration: dt.datetime | None = None
    description: str = "Sandbox access point"
    contact: str = "mailto:support@sandbox.peppolnet.test"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    child = etree.SubElement(parent, tag, attrib)
    if text is not None:
        child.text = text
    return child


def _new(tag: str, nsmap: dict[str | None, str]) -> etree._Element:
    """A root element; the default namespace (key None) is valid lxml but not in the stubs."""
    return etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(der: bytes) -> str:
    return base64.b64encode(der).decode("ascii")


def _check(dialect: str) -> None:
    if dialect not in ("peppol-smp-1", "oasis-smp-1", "oasis-smp-2"):
        raise SandboxError(_("unknown SMP dialect {dialect}", dialect=repr(dialect)))


def service_group(
    dialect: str, participant: ParticipantId, refs: Sequence[tuple[DocumentTypeId, str]]
) -> etree._Element:
    """A ServiceGroup; ``refs`` pairs each document type with its ServiceMetadata URL."""
    _check(dialect)
    if dialect == "oasis-smp-2":
        root = _new(f"{{{NS_SG2}}}ServiceGroup", {None: NS_SG2, "sma": NS_AGG2, "smb": NS_BASIC2})
        _el(root, f"{{{NS_BASIC2}}}SMPVersionID", "2.0")
        _el(root, f"{{{NS_BASIC2}}}ParticipantID", participant.value, schemeID=participant.scheme)
        for doc, _href in refs:
            ref = _el(root, f"{{{NS_AGG2}}}ServiceReference")
            _el(ref, f"{{{NS_BASIC2}}}ID", doc.value, schemeID=doc.scheme)
        return root
    if dialect == "oasis-smp-1":
        root = _new(f"{{{NS_OASIS1}}}ServiceGroup", {None: NS_OASIS1})
        _el(
            root,
            f"{{{NS_OASIS1}}}ParticipantIdentifier",
            participant.value,
            scheme=participant.scheme,
        )
        coll = _el(root, f"{{{NS_OASIS1}}}ServiceMetadataReferenceCollection")
        for _doc, href in refs:
            _el(coll, f"{{{NS_OASIS1}}}ServiceMetadataReference", href=href)
        return root
    root = _new(f"{{{NS_SMP}}}ServiceGroup", {None: NS_SMP, "id": NS_IDS, "wsa": NS_WSA})
    _el(root, f"{{{NS_IDS}}}ParticipantIdentifier", participant.value, scheme=participant.scheme)
    coll = _el(root, f"{{{NS_SMP}}}ServiceMetadataReferenceCollection")
    for _doc, href in refs:
        _el(coll, f"{{{NS_SMP}}}ServiceMetadataReference", href=href)
    return root


def service_metadata(
    dialect: str,
    participant: ParticipantId,
    document_type: DocumentTypeId,
    process: ProcessId,
    endpoints: Sequence[EndpointData],
) -> etree._Element:
    """Unsigned ServiceMetadata; for the 1.x dialects wrapped in SignedServiceMetadata.

    The returned root is the element a signature must be appended to.
    """
    _check(dialect)
    if dialect == "oasis-smp-2":
        root = _new(
            f"{{{NS_SM2}}}ServiceMetadata", {None: NS_SM2, "sma": NS_AGG2, "smb": NS_BASIC2}
        )
        b, a = f"{{{NS_BASIC2}}}", f"{{{NS_AGG2}}}"
        _el(root, f"{b}SMPVersionID", "2.0")
        _el(root, f"{b}ID", document_type.value, schemeID=document_type.scheme)
        _el(root, f"{b}ParticipantID", participant.value, schemeID=participant.scheme)
        meta = _el(root, f"{a}ProcessMetadata")
        proc = _el(meta, f"{a}Process")
        _el(proc, f"{b}ID", process.value, schemeID=process.scheme)
        for ep in endpoints:
            e = _el(meta, f"{a}Endpoint")
            _el(e, f"{b}TransportProfileID", ep.transport_profile)
            _el(e, f"{b}Description", ep.description)
            _el(e, f"{b}Contact", ep.contact)
            _el(e, f"{b}AddressURI", ep.url)
            if ep.activation is not None:
                _el(e, f"{b}ActivationDate", ep.activation.date().isoformat())
            if ep.expiration is not None:
                _el(e, f"{b}ExpirationDate", ep.expiration.date().isoformat())
            cert = _el(e, f"{a}Certificate")
            _el(
                cert,
                f"{b}ContentBinaryObject",
                _b64(ep.certificate_der),
                mimeCode="application/base64",
            )
        return root
    oasis = dialect == "oasis-smp-1"
    ns = NS_OASIS1 if oasis else NS_SMP
    ids = NS_OASIS1 if oasis else NS_IDS
    nsmap: dict[str | None, str] = {None: ns} if oasis else {None: ns, "id": NS_IDS, "wsa": NS_WSA}
    signed = _new(f"{{{ns}}}SignedServiceMetadata", nsmap)
    info = _el(_el(signed, f"{{{ns}}}ServiceMetadata"), f"{{{ns}}}ServiceInformation")
    _el(info, f"{{{ids}}}ParticipantIdentifier", participant.value, scheme=participant.scheme)
    _el(info, f"{{{ids}}}DocumentIdentifier", document_type.value, scheme=document_type.scheme)
    proc = _el(_el(info, f"{{{ns}}}ProcessList"), f"{{{ns}}}Process")
    _el(proc, f"{{{ids}}}ProcessIdentifier", process.value, scheme=process.scheme)
    eps = _el(proc, f"{{{ns}}}ServiceEndpointList")
    for ep in endpoints:
        e = _el(eps, f"{{{ns}}}Endpoint", transportProfile=ep.transport_profile)
        if oasis:
            _el(e, f"{{{ns}}}EndpointURI", ep.url)
        else:
            _el(_el(e, f"{{{NS_WSA}}}EndpointReference"), f"{{{NS_WSA}}}Address", ep.url)
        _el(e, f"{{{ns}}}RequireBusinessLevelSignature", "false")
        if ep.activation is not None:
            _el(e, f"{{{ns}}}ServiceActivationDate", _stamp(ep.activation))
        if ep.expiration is not None:
            _el(e, f"{{{ns}}}ServiceExpirationDate", _stamp(ep.expiration))
        _el(e, f"{{{ns}}}Certificate", _b64(ep.certificate_der))
        _el(e, f"{{{ns}}}ServiceDescription", ep.description)
        _el(e, f"{{{ns}}}TechnicalContactUrl", ep.contact)
    return signed


def redirect(
    dialect: str,
    participant: ParticipantId,
    document_type: DocumentTypeId,
    target_url: str,
    certificate_uid: str,
    target_certificate_der: bytes,
) -> etree._Element:
    """An unsigned Redirect to ``target_url`` (the full ServiceMetadata URL at the other SMP)."""
    _check(dialect)
    if dialect == "oasis-smp-2":
        root = _new(
            f"{{{NS_SM2}}}ServiceMetadata", {None: NS_SM2, "sma": NS_AGG2, "smb": NS_BASIC2}
        )
        b, a = f"{{{NS_BASIC2}}}", f"{{{NS_AGG2}}}"
        _el(root, f"{b}SMPVersionID", "2.0")
        _el(root, f"{b}ID", document_type.value, schemeID=document_type.scheme)
        _el(root, f"{b}ParticipantID", participant.value, schemeID=participant.scheme)
        red = _el(_el(root, f"{a}ProcessMetadata"), f"{a}Redirect")
        _el(red, f"{b}PublisherURI", target_url)
        cert = _el(red, f"{a}Certificate")
        _el(
            cert,
            f"{b}ContentBinaryObject",
            _b64(target_certificate_der),
            mimeCode="application/base64",
        )
        return root
    ns = NS_OASIS1 if dialect == "oasis-smp-1" else NS_SMP
    nsmap: dict[str | None, str] = (
        {None: ns} if ns == NS_OASIS1 else {None: ns, "id": NS_IDS, "wsa": NS_WSA}
    )
    signed = _new(f"{{{ns}}}SignedServiceMetadata", nsmap)
    red = _el(_el(signed, f"{{{ns}}}ServiceMetadata"), f"{{{ns}}}Redirect", href=target_url)
    _el(red, f"{{{ns}}}CertificateUID", certificate_uid)
    return signed


def serialise(root: etree._Element) -> bytes:
    """UTF-8 with an XML declaration, not pretty-printed (pretty-printing breaks signatures)."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def business_card(
    participant: ParticipantId, name: str, country: str, data: BusinessCardData
) -> bytes:
    """A business card (format v3, as phoss-smp serves) for ``GET /businesscard/{pid}``."""
    entity = BusinessEntity(
        names=(Name(name),),
        country=country,
        geo_info=data.geographical_info or None,
        identifiers=data.identifiers,
        websites=data.websites,
        contacts=tuple(
            Contact(
                type=c.type or None,
                name=c.name or None,
                phone=c.phone or None,
                email=c.email or None,
            )
            for c in data.contacts
        ),
        additional_info=data.additional_info or None,
        registration_date=data.registration_date,
    )
    return render_business_card(BusinessCard(participant, (entity,), 3), 3)
